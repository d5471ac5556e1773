// Package git is the git policy source: a full bare clone of the policy repository kept
// in a cache directory, fetched with explicit refspecs, the files of one commit read from its
// tree (never from a worktree), with history safety (the commit to apply must descend from the
// last applied one) and optional OpenPGP signature verification. See docs/GITOPS.md.
package git

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/reconcile-dev/reconcile/reconcile/lock"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/schema"
)

// Verification modes (Options.Verify).
const (
	VerifyNone = "none" // no signature checks
	VerifyHead = "head" // the commit to apply must be signed by a trusted key
	VerifyAll  = "all"  // every commit after the last applied one, up to the head, must be
)

// remoteName is the one remote of the cache clone.
const remoteName = "origin"

// Options configure a git source.
type Options struct {
	// URL of the repository: https://, ssh:// or scp-like git@host:path, file://, or a local
	// path of a git repository (relative paths are made absolute).
	URL string
	// Ref is a branch, a tag or a commit (full or abbreviated hash, at least 7 digits), or a
	// full ref name (refs/heads/x, refs/tags/x). Empty: the remote's default branch.
	Ref string
	// CacheDir holds the bare clone; CacheDirFor(stateDir, URL) is the conventional place.
	CacheDir string
	// Auth overrides the credentials built from the environment (see AuthFromEnv).
	Auth transport.AuthMethod
	// Getenv reads the environment for credentials; nil means os.Getenv.
	Getenv func(string) string
	// Verify is VerifyNone (or ""), VerifyHead or VerifyAll.
	Verify string
	// TrustedKeys is a file of armored OpenPGP public keys (several blocks may follow each
	// other); required unless Verify is none.
	TrustedKeys string
	// AllowRewind lets Fetch return a commit that does not descend from the last applied one.
	AllowRewind bool
	// Logger receives progress and warnings; nil discards them.
	Logger *slog.Logger
	// Recovered, when not nil, is called with "clone-recloned" when a damaged or deleted
	// clone was removed and cloned again (the metric reconcile_recoveries_total).
	Recovered func(kind string)
}

// Source is a git policy source; it implements source.Source.
type Source struct {
	opts    Options
	url     string // what go-git dials (credentials included, if the URL had them)
	display string // URL without credentials: Snapshot.Source and messages
	auth    transport.AuthMethod
	keys    *keyRing
	log     *slog.Logger

	// afterRemove, when not nil (tests only), is called by reclone once the damaged clone is
	// removed, before it is made again; an error stops reclone there, as a process killed at
	// that moment would (a window no kill test lands in reliably).
	afterRemove func() error
}

var _ source.Header = (*Source)(nil)

// New checks the options and returns the source; it does not touch the network or the cache.
func New(opts Options) (*Source, error) {
	if opts.URL == "" {
		return nil, errors.New("empty repository URL")
	}
	if opts.CacheDir == "" {
		return nil, errors.New("no cache directory for the git clone")
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	s := &Source{opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var err error
	if s.url, err = NormalizeURL(opts.URL); err != nil {
		return nil, err
	}
	s.display = RedactURL(s.url)
	switch opts.Verify {
	case "", VerifyNone:
		s.opts.Verify = VerifyNone
		if opts.TrustedKeys != "" {
			return nil, errors.New("--trusted-keys is set but --verify is none")
		}
	case VerifyHead, VerifyAll:
		if opts.TrustedKeys == "" {
			return nil, fmt.Errorf("--verify=%s needs --trusted-keys", opts.Verify)
		}
		if s.keys, err = loadKeyRing(opts.TrustedKeys); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown verification mode %q (want none, head or all)", opts.Verify)
	}
	s.auth = opts.Auth
	if s.auth == nil {
		if s.auth, err = AuthFromEnv(s.url, opts.Getenv); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Source) String() string {
	if s.opts.Ref == "" {
		return s.display
	}
	return s.display + "@" + s.opts.Ref
}

// NormalizeURL makes a local path absolute and leaves every other URL alone.
func NormalizeURL(u string) (string, error) {
	if isRemoteURL(u) {
		return u, nil
	}
	p := strings.TrimPrefix(u, "file://")
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("repository path %q: %w", u, err)
	}
	if strings.HasPrefix(u, "file://") {
		return "file://" + abs, nil
	}
	return abs, nil
}

// isRemoteURL reports whether u names a network remote (a scheme other than file, or the
// scp-like user@host:path).
func isRemoteURL(u string) bool {
	if i := strings.Index(u, "://"); i > 0 {
		return u[:i] != "file"
	}
	// scp-like: [user@]host:path, where the part before ':' has no '/'.
	if i := strings.IndexByte(u, ':'); i > 0 && !strings.ContainsRune(u[:i], '/') {
		return true
	}
	return false
}

// RedactURL removes a password or token from u.
func RedactURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil || pu.User == nil || pu.Scheme == "" {
		return u
	}
	if _, has := pu.User.Password(); has {
		pu.User = url.User(pu.User.Username())
	}
	return pu.String()
}

// CacheDirFor is the conventional clone directory of url under a state directory:
// <stateDir>/git/<first 16 hex digits of sha256(url without credentials)>.
func CacheDirFor(stateDir, u string) string {
	if n, err := NormalizeURL(u); err == nil {
		u = n
	}
	sum := sha256.Sum256([]byte(RedactURL(u)))
	return filepath.Join(stateDir, "git", hex.EncodeToString(sum[:])[:16])
}

// FetchError is a failure to reach or read the remote; the caller keeps what it applied last.
type FetchError struct {
	URL string
	Err error
}

// Error leaves the URL out: callers name the source when they wrap it (see URL).
func (e *FetchError) Error() string { return fmt.Sprintf("git fetch: %v", e.Err) }
func (e *FetchError) Unwrap() error { return e.Err }

// Stage classifies the error for metrics: ("fetch", "unreachable").
func (e *FetchError) Stage() (stage, reason string) { return "fetch", "unreachable" }

// RefError says that the ref does not name anything in the repository (or is ambiguous).
type RefError struct {
	Ref    string
	Reason string
}

func (e *RefError) Error() string { return fmt.Sprintf("ref %q %s", e.Ref, e.Reason) }

// Stage classifies the error for metrics: ("fetch", "ref").
func (e *RefError) Stage() (stage, reason string) { return "fetch", "ref" }

// Fetch updates the cache clone from the remote, resolves the ref, checks history safety and
// signatures against opts.LastApplied, and returns the repository files of the commit. When
// the commit is opts.LastApplied itself the snapshot is still returned (the caller skips).
func (s *Source) Fetch(ctx context.Context, opts source.FetchOptions) (*source.Snapshot, error) {
	return s.snapshot(ctx, opts, true)
}

// Head is Fetch without reading the files (source.Header): the remote is fetched, the ref
// resolved and the history and signatures checked exactly as Fetch does, and the commit's
// revision returned. Errors are Fetch's.
func (s *Source) Head(ctx context.Context, opts source.FetchOptions) (*source.Head, error) {
	snap, err := s.snapshot(ctx, opts, false)
	if err != nil {
		return nil, err
	}
	return &source.Head{Source: snap.Source, Revision: snap.Revision, Commit: snap.Commit}, nil
}

// snapshot is Fetch; without files, the snapshot has no Files (Head). A clone that cannot be
// opened or read (health: deleted or garbled pack files, a broken HEAD or config, a clone
// killed half-made) is removed and cloned again once, in the same call, under the clone's
// lock; a second failure is the error. An error of the remote side (remoteSide: the network,
// the server, credentials) never removes the clone.
func (s *Source) snapshot(ctx context.Context, opts source.FetchOptions, files bool) (*source.Snapshot, error) {
	if err := os.MkdirAll(filepath.Dir(s.opts.CacheDir), 0o755); err != nil {
		return nil, fmt.Errorf("git cache: %w", err)
	}
	// One fetch at a time per clone, whichever process does it.
	l, err := lock.AcquirePath(ctx, s.opts.CacheDir+".lock", true)
	if err != nil {
		return nil, fmt.Errorf("git cache: %w", err)
	}
	defer l.Release()
	removeKilledTemps(s.opts.CacheDir, s.log)
	// A fetch that failed while the pack arrived (a dropped connection, the deadline, a full
	// disk) leaves its temporary pack too: removed now, under the lock, rather than left taking
	// the space until the next fetch.
	defer removeKilledTemps(s.opts.CacheDir, s.log)

	if _, err := os.Stat(s.opts.CacheDir); errors.Is(err, fs.ErrNotExist) && opts.LastApplied != "" {
		// The record names a commit fetched before: the clone was there and is gone.
		s.log.Warn(fmt.Sprintf("git clone %q is missing; cloning again", s.opts.CacheDir), "dir", s.opts.CacheDir)
		if s.opts.Recovered != nil {
			s.opts.Recovered("clone-recloned")
		}
	}
	if cause := openHealth(s.opts.CacheDir); cause != nil {
		if err := s.reclone(cause); err != nil {
			return nil, err
		}
		return s.snapshotIn(ctx, opts, files)
	}
	snap, err := s.snapshotIn(ctx, opts, files)
	if err == nil || ctx.Err() != nil || remoteSide(err) {
		return snap, err
	}
	cause := health(s.opts.CacheDir)
	if cause == nil {
		return nil, err // the clone is fine: the error is the source's
	}
	if rerr := s.reclone(cause); rerr != nil {
		return nil, rerr
	}
	return s.snapshotIn(ctx, opts, files)
}

// snapshotIn is snapshot in the locked clone, once.
func (s *Source) snapshotIn(ctx context.Context, opts source.FetchOptions, files bool) (*source.Snapshot, error) {
	repo, err := s.openCache()
	if err != nil {
		return nil, err
	}
	ref := s.opts.Ref
	if ref == "" {
		if ref, err = s.defaultBranch(ctx, repo); err != nil {
			return nil, err
		}
	}
	if err := s.fetch(ctx, repo); err != nil {
		return nil, err
	}
	head, name, err := resolve(repo, ref)
	if err != nil {
		return nil, err
	}
	commit, err := repo.CommitObject(head)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", head, err)
	}
	revision := "sha1:" + head.String()
	if name != "" {
		revision = name + "@" + revision
	}
	snap := &source.Snapshot{Source: s.display, Revision: revision, Commit: head.String()}

	lastApplied := opts.LastApplied
	if lastApplied == "" {
		// No usable state record: the clone remembers the commit applied last (MarkApplied).
		if lastApplied = appliedCommit(repo, opts.AppliedKey); lastApplied != "" {
			s.log.Info("the state record names no commit applied last; checking history from the clone's record of it",
				"ref", appliedRef(opts.AppliedKey).String(), "commit", lastApplied)
		}
	}
	var last *object.Commit
	if lastApplied != "" && lastApplied != head.String() {
		if last, err = s.checkHistory(repo, commit, revision, lastApplied); err != nil {
			return nil, err
		}
	}
	if mark := markAhead(repo, opts.AppliedKey, lastApplied); mark != "" && mark != head.String() {
		// The record names an older commit than the clone's mark (a state head restored from
		// a backup): the commit must descend from the newer one too.
		s.log.Warn("the state record names an older commit applied last than the clone's record of it; checking history from both",
			"record", lastApplied, "ref", appliedRef(opts.AppliedKey).String(), "commit", mark)
		if _, err := s.checkHistory(repo, commit, revision, mark); err != nil {
			var re *RewindError
			if errors.As(err, &re) {
				re.Mark, re.Recorded = appliedRef(opts.AppliedKey).String(), lastApplied
			}
			return nil, err
		}
	}
	if s.keys != nil {
		if snap.Verified, err = s.verify(repo, commit, last); err != nil {
			return nil, err
		}
	}
	if !files {
		return snap, nil
	}
	if snap.Files, snap.Refused, snap.FileIDs, snap.Unread, err = readFiles(repo, commit, opts.Known); err != nil {
		return nil, fmt.Errorf("read commit %s: %w", short(head), err)
	}
	if snap.Unread != nil {
		snap.ReadFile = func(p string) ([]byte, error) {
			b, err := readBlob(repo, snap.FileIDs[p])
			if err != nil {
				return nil, fmt.Errorf("read %s of commit %s: %w", p, short(head), err)
			}
			return b, nil
		}
	}
	s.log.Debug("git snapshot", "source", s.display, "revision", revision, "files", len(snap.Files), "unread", len(snap.Unread), "refused", len(snap.Refused), "verified", snap.Verified)
	return snap, nil
}

// openCache opens the bare clone in CacheDir, creating it (init + remote) the first time, and
// points its remote at the URL with the explicit refspecs.
func (s *Source) openCache() (*gogit.Repository, error) {
	dir := s.opts.CacheDir
	repo, err := gogit.PlainOpen(dir)
	if errors.Is(err, gogit.ErrRepositoryNotExists) {
		if repo, err = gogit.PlainInit(dir, true); err != nil {
			return nil, fmt.Errorf("git cache %q: %w", dir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("git cache %q is unusable: %w", dir, err)
	}
	want := &config.RemoteConfig{
		Name: remoteName,
		URLs: []string{s.url},
		Fetch: []config.RefSpec{
			"+refs/heads/*:refs/remotes/origin/*",
			"+refs/tags/*:refs/tags/*",
		},
	}
	if r, err := repo.Remote(remoteName); err == nil {
		c := r.Config()
		if len(c.URLs) == 1 && c.URLs[0] == s.url && len(c.Fetch) == 2 &&
			c.Fetch[0] == want.Fetch[0] && c.Fetch[1] == want.Fetch[1] {
			return repo, nil
		}
		if err := repo.DeleteRemote(remoteName); err != nil {
			return nil, fmt.Errorf("git cache %q: %w", dir, err)
		}
	}
	if _, err := repo.CreateRemote(want); err != nil {
		return nil, fmt.Errorf("git cache %q: %w", dir, err)
	}
	return repo, nil
}

// removeKilledTemps removes from the clone dir what go-git leaves of a fetch killed (or failed)
// while it saved a pack: the temporary files it writes a fetched pack (and loose objects) to before
// renaming them (objects/pack/tmp_pack_*, tmp_obj_*), never removed by go-git (repeated kills
// would fill the disk); and a pack index without its pack (go-git writes pack-X.idx at its
// final name, then renames the pack to pack-X.pack: a kill in between leaves the index, maybe
// truncated, which a later fetch of the same pack would keep, breaking the clone); and the
// temporary files of a MarkApplied killed before its rename. With the clone's lock held, no
// other process is writing them.
func removeKilledTemps(dir string, log *slog.Logger) {
	packs := filepath.Join(dir, "objects", "pack")
	var gone []string
	for _, pat := range []string{"tmp_pack_*", "tmp_obj_*"} {
		names, _ := filepath.Glob(filepath.Join(packs, pat))
		gone = append(gone, names...)
	}
	// MarkApplied's temporary files (atomicfile: .<name>.tmp-N beside the mark), which go-git
	// would read as refs (an empty one fails the clone's health check).
	marks, _ := filepath.Glob(filepath.Join(dir, filepath.FromSlash(AppliedRefPrefix), ".*.tmp-*"))
	gone = append(gone, marks...)
	idx, _ := filepath.Glob(filepath.Join(packs, "pack-*.idx"))
	for _, n := range idx {
		if _, err := os.Stat(strings.TrimSuffix(n, ".idx") + ".pack"); errors.Is(err, os.ErrNotExist) {
			gone = append(gone, n)
		}
	}
	for _, n := range gone {
		if err := os.Remove(n); err == nil {
			log.Debug("git cache: removed what a killed fetch left", "file", n)
		}
	}
}

// defaultBranch asks the remote which branch its HEAD points to.
func (s *Source) defaultBranch(ctx context.Context, repo *gogit.Repository) (string, error) {
	r, err := repo.Remote(remoteName)
	if err != nil {
		return "", err
	}
	refs, err := r.ListContext(ctx, &gogit.ListOptions{Auth: s.auth})
	if err != nil {
		return "", &FetchError{URL: s.display, Err: err}
	}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD && ref.Type() == plumbing.SymbolicReference && ref.Target().IsBranch() {
			return ref.Target().Short(), nil
		}
	}
	if len(refs) == 0 {
		return "", &FetchError{URL: s.display, Err: errEmptyRemote}
	}
	return "", &FetchError{URL: s.display, Err: errNoDefaultBranch}
}

func (s *Source) fetch(ctx context.Context, repo *gogit.Repository) error {
	err := repo.FetchContext(ctx, &gogit.FetchOptions{
		RemoteName: remoteName,
		RefSpecs: []config.RefSpec{
			"+refs/heads/*:refs/remotes/origin/*",
			"+refs/tags/*:refs/tags/*",
		},
		Auth:  s.auth,
		Tags:  gogit.NoTags, // tags come through the explicit refspec
		Prune: true,         // a deleted branch or tag must not linger
		Force: true,
	})
	switch {
	case err == nil:
		s.log.Debug("git fetch", "source", s.display, "updated", true)
	case errors.Is(err, gogit.NoErrAlreadyUpToDate):
		s.log.Debug("git fetch", "source", s.display, "updated", false)
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return &FetchError{URL: s.display, Err: errEmptyRemote}
	default:
		return &FetchError{URL: s.display, Err: err}
	}
	return nil
}

// resolve turns a ref into a commit hash and the name that goes before "@sha1:" in the
// revision (the branch or tag name; "" for a commit).
func resolve(repo *gogit.Repository, ref string) (plumbing.Hash, string, error) {
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		name := strings.TrimPrefix(ref, "refs/heads/")
		h, err := refCommit(repo, plumbing.NewRemoteReferenceName(remoteName, name))
		if err != nil {
			return h, "", &RefError{Ref: ref, Reason: "is not a branch of the repository"}
		}
		return h, name, nil
	case strings.HasPrefix(ref, "refs/tags/"):
		name := strings.TrimPrefix(ref, "refs/tags/")
		h, err := refCommit(repo, plumbing.ReferenceName(ref))
		if err != nil {
			return h, "", &RefError{Ref: ref, Reason: "is not a tag of the repository"}
		}
		return h, name, nil
	}
	bh, berr := refCommit(repo, plumbing.NewRemoteReferenceName(remoteName, ref))
	th, terr := refCommit(repo, plumbing.NewTagReferenceName(ref))
	switch {
	case berr == nil && terr == nil && bh != th:
		return plumbing.ZeroHash, "", &RefError{Ref: ref, Reason: fmt.Sprintf("is both a branch and a tag; use refs/heads/%s or refs/tags/%s", ref, ref)}
	case berr == nil:
		return bh, ref, nil
	case terr == nil:
		return th, ref, nil
	}
	if h, ok, err := commitByPrefix(repo, ref); err != nil {
		return plumbing.ZeroHash, "", err
	} else if ok {
		// The cache keeps commits that the remote dropped; only what the remote still has counts.
		live, err := reachable(repo, h)
		if err != nil {
			return plumbing.ZeroHash, "", err
		}
		if !live {
			return plumbing.ZeroHash, "", &RefError{Ref: ref, Reason: "is a commit that no branch or tag of the remote contains any more"}
		}
		return h, "", nil
	}
	return plumbing.ZeroHash, "", &RefError{Ref: ref, Reason: "is not a branch, tag or commit of the repository"}
}

// refCommit resolves a reference (following symbolic refs and annotated tags) to a commit.
func refCommit(repo *gogit.Repository, name plumbing.ReferenceName) (plumbing.Hash, error) {
	r, err := repo.Reference(name, true)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	h := r.Hash()
	for range 10 { // tags of tags, bounded
		tag, err := repo.TagObject(h)
		if err != nil {
			break
		}
		if tag.TargetType != plumbing.CommitObject && tag.TargetType != plumbing.TagObject {
			return plumbing.ZeroHash, fmt.Errorf("tag %s points to a %s, not a commit", name.Short(), tag.TargetType)
		}
		h = tag.Target
	}
	if _, err := repo.CommitObject(h); err != nil {
		return plumbing.ZeroHash, err
	}
	return h, nil
}

// reachable reports whether commit h is on a remote branch or tag (the tip or an ancestor).
func reachable(repo *gogit.Repository, h plumbing.Hash) (bool, error) {
	target, err := repo.CommitObject(h)
	if err != nil {
		return false, err
	}
	refs, err := repo.References()
	if err != nil {
		return false, err
	}
	defer refs.Close()
	var tips []plumbing.ReferenceName
	_ = refs.ForEach(func(r *plumbing.Reference) error {
		if n := r.Name(); n.IsTag() || n.IsRemote() && strings.HasPrefix(n.String(), "refs/remotes/"+remoteName+"/") {
			tips = append(tips, n)
		}
		return nil
	})
	for _, n := range tips {
		tip, err := refCommit(repo, n)
		if err != nil {
			continue // a tag of a tree or blob
		}
		if tip == h {
			return true, nil
		}
		c, err := repo.CommitObject(tip)
		if err != nil {
			return false, err
		}
		if ok, err := target.IsAncestor(c); err != nil {
			return false, err
		} else if ok {
			return true, nil
		}
	}
	return false, nil
}

// commitByPrefix finds the one commit whose hash starts with the hex prefix (7 to 40 digits).
func commitByPrefix(repo *gogit.Repository, prefix string) (plumbing.Hash, bool, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) < 7 || len(prefix) > 40 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return plumbing.ZeroHash, false, nil
	}
	if len(prefix) == 40 {
		h := plumbing.NewHash(prefix)
		if _, err := repo.CommitObject(h); err != nil {
			return plumbing.ZeroHash, false, nil
		}
		return h, true, nil
	}
	iter, err := repo.CommitObjects()
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	defer iter.Close()
	var found []plumbing.Hash
	err = iter.ForEach(func(c *object.Commit) error {
		if strings.HasPrefix(c.Hash.String(), prefix) {
			found = append(found, c.Hash)
		}
		return nil
	})
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	switch len(found) {
	case 0:
		return plumbing.ZeroHash, false, nil
	case 1:
		return found[0], true, nil
	}
	return plumbing.ZeroHash, false, &RefError{Ref: prefix, Reason: fmt.Sprintf("is ambiguous: %d commits start with it", len(found))}
}

// readFiles reads the repository files of the commit's tree with schema.ReadFS, the rules a
// directory is read with: refused holds the entries it would not read (links, special files,
// oversize files, misspelled names). ids maps each file to its git blob id ("sha1:<hex>"),
// which the tree gives for free (Snapshot.FileIDs). A file for which known (when not nil)
// says its content is not needed is checked like the others but its blob is not inflated:
// it is in unread, with a nil content (schema.ReadFSSkipping).
func readFiles(repo *gogit.Repository, c *object.Commit, known func(path, id string) bool) (files map[string][]byte, refused schema.Errors, ids map[string]string, unread map[string]bool, err error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return readTree(repo, tree, known)
}

// readTree is readFiles of a tree (a commit's, or a subtree of it).
func readTree(repo *gogit.Repository, tree *object.Tree, known func(path, id string) bool) (files map[string][]byte, refused schema.Errors, ids map[string]string, unread map[string]bool, err error) {
	t := newTreeFS(repo.Storer, tree)
	var skip func(string) bool
	if known != nil {
		skip = func(p string) bool {
			h, ok := t.blobs[p] // recorded when the file was opened
			return ok && known(p, "sha1:"+h.String())
		}
	}
	if files, refused, unread, err = schema.ReadFSSkipping(t, skip); err != nil {
		return nil, nil, nil, nil, err
	}
	ids = make(map[string]string, len(files))
	for p := range files {
		if h, ok := t.blobs[p]; ok {
			ids[p] = "sha1:" + h.String()
		}
	}
	return files, refused, ids, unread, nil
}

// readBlob returns the content of the blob of id ("sha1:<hex>").
func readBlob(repo *gogit.Repository, id string) ([]byte, error) {
	hex, ok := strings.CutPrefix(id, "sha1:")
	if !ok {
		return nil, fmt.Errorf("no blob id")
	}
	b, err := object.GetBlob(repo.Storer, plumbing.NewHash(hex))
	if err != nil {
		return nil, err
	}
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, schema.MaxFileSize+1))
}

func short(h plumbing.Hash) string { return h.String()[:7] }

// shortSum is 16 hex digits of the sha256 of s.
func shortSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}
