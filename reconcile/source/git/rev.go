package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/reconcile-dev/reconcile/reconcile/lock"
	"github.com/reconcile-dev/reconcile/reconcile/source"
)

// Rev is a source.Source of the files of one commit of a local git repository, read from the
// commit's tree (never from a work tree) with the rules a git source reads a commit with
// (schema.ReadFS: schema.FileKind, refused entries). It is the base of `plan --against REF`
// in a policy repository's CI: the pull request is the checkout, the base a revision of it.
// Make one with OpenRev or (*Source).At.
type Rev struct {
	display string // Snapshot.Source
	rev     string // as given
	subdir  string // slash path of the policy directory inside the tree; "" for the root
	open    func() (*gogit.Repository, func(), error)
	resolve func(repo *gogit.Repository) (plumbing.Hash, string, error)
}

var _ source.Source = (*Rev)(nil)

// OpenRev resolves rev in the git repository whose work tree contains dir (found as git
// does: dir or a parent holds .git; a linked work tree of `git worktree add` too) and returns
// the source of that commit's files under the subdirectory dir is at within the work tree.
// rev is a git revision as `git rev-parse` takes it: a branch (main), a remote-tracking
// branch (origin/main), a tag, a full or abbreviated commit hash, HEAD~1. A shallow clone (as
// CI checkouts are) resolves what it holds: a base fetched with `git fetch --depth=1 origin
// main` is origin/main (or FETCH_HEAD). Errors: dir is in no git repository, or rev does not
// resolve to a commit there (the caller names both).
func OpenRev(dir, rev string) (*Rev, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	repo, err := gogit.PlainOpenWithOptions(abs, &gogit.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("%s is in no git repository (%v)", dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("the git repository of %s has no work tree (%v)", dir, err)
	}
	root := wt.Filesystem.Root()
	sub, err := subdirOf(root, abs)
	if err != nil {
		return nil, err
	}
	r := &Rev{display: "git:" + root, rev: rev, subdir: sub,
		open: func() (*gogit.Repository, func(), error) { return repo, func() {}, nil },
		resolve: func(repo *gogit.Repository) (plumbing.Hash, string, error) {
			return resolveRevision(repo, rev)
		},
	}
	if _, _, err := r.resolve(repo); err != nil {
		return nil, err
	}
	return r, nil
}

// subdirOf is the slash path of dir inside the work tree root ("" for the root itself), with
// symbolic links resolved on both sides.
func subdirOf(root, dir string) (string, error) {
	rr, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	rd, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(rr, rd)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%q is not inside the work tree %q of its git repository", dir, root)
	}
	if rel == "." {
		return "", nil
	}
	return filepath.ToSlash(rel), nil
}

// resolveRevision resolves rev as `git rev-parse` does (go-git's ResolveRevision) to a
// commit; the name is rev itself for what is not a hash.
func resolveRevision(repo *gogit.Repository, rev string) (plumbing.Hash, string, error) {
	if err := checkRevisionSyntax(rev); err != nil {
		return plumbing.ZeroHash, "", err
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil && rev == "FETCH_HEAD" {
		h, err = fetchHead(repo)
	}
	if err != nil {
		return plumbing.ZeroHash, "", fmt.Errorf("%v (give a branch such as origin/main, a tag or a commit the repository holds; a shallow clone holds only what was fetched: git fetch --depth=1 origin main, then --against FETCH_HEAD, or git fetch --depth=1 origin main:refs/remotes/origin/main, then --against origin/main)", err)
	}
	if _, err := repo.CommitObject(*h); err != nil {
		return plumbing.ZeroHash, "", fmt.Errorf("revision %q: commit %s: %w", rev, h, err)
	}
	name := rev
	if strings.HasPrefix(h.String(), strings.ToLower(rev)) {
		name = ""
	}
	return *h, name, nil
}

// checkRevisionSyntax refuses the forms of a git revision that go-git's ResolveRevision parses
// but silently drops, resolving the rest (main:path, main^{tree} and main@{1} would all be
// main): a path in a commit (":"), a peel to another type than a commit ("^{tree}"), and the
// reflog, date and upstream forms ("@{...}"). Branches, tags, hashes, "~N", "^N", "^{}",
// "^{commit}" and "^{/message}" pass. A ref name cannot hold ":", "@{" or "^" (git
// check-ref-format), so no name is refused.
func checkRevisionSyntax(rev string) error {
	s := rev
	if i := strings.Index(s, "^{/"); i >= 0 {
		s = s[:i] // the message regexp may hold anything
	}
	for rest := s; ; {
		i := strings.Index(rest, "^{")
		if i < 0 {
			break
		}
		rest = rest[i+2:]
		if !strings.HasPrefix(rest, "}") && !strings.HasPrefix(rest, "commit}") {
			return errors.New("a peel to another type than a commit (^{tree}, ^{blob}) is not supported: give the commit (a branch, tag or hash), and --dir the policy subdirectory")
		}
	}
	switch {
	case strings.Contains(s, ":"):
		return errors.New("a path in a commit (REV:PATH) is not supported: give the commit alone (a branch, tag or hash); the base is read at the subdirectory --dir is at")
	case strings.Contains(s, "@{"):
		return errors.New("the reflog, date and upstream forms (@{...}) are not supported: give a branch (origin/main), a tag or a commit hash")
	}
	return nil
}

// fetchHead reads the commit of .git/FETCH_HEAD (what the last `git fetch` brought, its first
// line: "<hash>\t…"), which go-git does not resolve as a reference.
func fetchHead(repo *gogit.Repository) (*plumbing.Hash, error) {
	fs, ok := repo.Storer.(*filesystem.Storage)
	if !ok {
		return nil, plumbing.ErrReferenceNotFound
	}
	f, err := fs.Filesystem().Open("FETCH_HEAD")
	if err != nil {
		return nil, plumbing.ErrReferenceNotFound
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 128))
	if err != nil || len(b) < 40 || !plumbing.IsHash(string(b[:40])) {
		return nil, fmt.Errorf("FETCH_HEAD does not start with a commit hash")
	}
	h := plumbing.NewHash(string(b[:40]))
	return &h, nil
}

// At returns the source of the commit ref of the clone of s (a branch or tag of the remote,
// or a commit hash, as Options.Ref takes it), read at the directory root, without fetching:
// call it after a Fetch of s, which brings every branch and tag of the remote into the clone.
// It is the base of `plan --repo URL --against REF`.
func (s *Source) At(ref string) *Rev {
	return &Rev{display: s.display, rev: ref,
		open: func() (*gogit.Repository, func(), error) {
			l, err := lock.AcquirePath(context.Background(), s.opts.CacheDir+".lock", true)
			if err != nil {
				return nil, nil, fmt.Errorf("git cache: %w", err)
			}
			repo, err := gogit.PlainOpen(s.opts.CacheDir)
			if err != nil {
				_ = l.Release()
				return nil, nil, fmt.Errorf("git cache %q: %w", s.opts.CacheDir, err)
			}
			return repo, func() { _ = l.Release() }, nil
		},
		resolve: func(repo *gogit.Repository) (plumbing.Hash, string, error) {
			h, name, err := resolve(repo, ref)
			if b, ok := strings.CutPrefix(ref, remoteName+"/"); ok && err != nil {
				// origin/main, as a CI checkout names the base: the clone's branch main.
				if h2, name2, err2 := resolve(repo, b); err2 == nil {
					return h2, name2, nil
				}
			}
			return h, name, err
		},
	}
}

func (r *Rev) String() string {
	if r.subdir == "" {
		return r.display + "@" + r.rev
	}
	return r.display + "@" + r.rev + ":" + r.subdir
}

// Fetch reads the files of the commit (under the subdirectory, if any). The revision is
// "<rev>@sha1:<hash>" ("sha1:<hash>" when rev is a hash). Errors: the revision no longer
// resolves, the subdirectory does not exist in the commit, or its objects cannot be read.
func (r *Rev) Fetch(ctx context.Context, opts source.FetchOptions) (*source.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	repo, release, err := r.open()
	if err != nil {
		return nil, err
	}
	defer release()
	h, name, err := r.resolve(repo)
	if err != nil {
		return nil, err
	}
	c, err := repo.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", h, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", short(h), err)
	}
	if r.subdir != "" {
		sub, err := tree.Tree(r.subdir)
		if errors.Is(err, object.ErrDirectoryNotFound) {
			return nil, fmt.Errorf("directory %q does not exist in commit %s (%s)", r.subdir, short(h), r.rev)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s of commit %s: %w", r.subdir, short(h), err)
		}
		tree = sub
	}
	revision := "sha1:" + h.String()
	if name != "" {
		revision = name + "@" + revision
	}
	src := r.display
	if r.subdir != "" {
		src += ":" + r.subdir // the policy directory inside the tree, as git names a path in a commit
	}
	snap := &source.Snapshot{Source: src, Revision: revision, Commit: h.String()}
	if snap.Files, snap.Refused, snap.FileIDs, snap.Unread, err = readTree(repo, tree, opts.Known); err != nil {
		return nil, fmt.Errorf("read commit %s: %w", short(h), err)
	}
	if snap.Unread != nil {
		snap.ReadFile = func(p string) ([]byte, error) {
			b, err := readBlob(repo, snap.FileIDs[p])
			if err != nil {
				return nil, fmt.Errorf("read %s of commit %s: %w", p, short(h), err)
			}
			return b, nil
		}
	}
	return snap, nil
}
