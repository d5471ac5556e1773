package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/reconcile-dev/reconcile/reconcile/internal/atomicfile"
	"github.com/reconcile-dev/reconcile/reconcile/lock"
	"github.com/reconcile-dev/reconcile/reconcile/source"
)

// A damaged clone and the commit applied last kept in the clone.
//
// The clone is a cache: anything wrong with it is repaired by cloning again. What is wrong
// with it is decided by checking the clone itself (health), never by the error of a fetch
// alone, so that a remote that cannot be reached never costs a good clone.

// AppliedRefPrefix is where the clone keeps the commit applied last of each state record
// (MarkApplied): refs/reconcile/applied/<the state head's file name without .state.json>.
// Fetches never touch it (their refspecs write refs/remotes/origin/* and refs/tags/* only).
const AppliedRefPrefix = "refs/reconcile/applied/"

var refSafe = regexp.MustCompile(`^[A-Za-z0-9_@-][A-Za-z0-9_.@-]*$`)

// appliedRef is the ref of key under AppliedRefPrefix: key itself when git takes it as one
// component of a ref name (no "..", "@{", ".lock" ending or leading '.'), otherwise
// "key-" and 16 hex digits of its sha256.
func appliedRef(key string) plumbing.ReferenceName {
	if !refSafe.MatchString(key) || strings.Contains(key, "..") || strings.Contains(key, "@{") ||
		strings.HasSuffix(key, ".lock") || key == "@" {
		key = "key-" + shortSum(key)
	}
	return plumbing.ReferenceName(AppliedRefPrefix + key)
}

// MarkApplied records commit (40 hex digits) as the commit applied last under key
// (source.FetchOptions.AppliedKey) in the clone: the loose ref AppliedRefPrefix+key, written
// atomically (temporary file, fsync, rename, fsync of the directory; a crash leaves the old
// ref or the new one) under the clone's lock. Nothing is written when the ref already holds
// commit, or when there is no clone (nothing was fetched into CacheDir).
func (s *Source) MarkApplied(ctx context.Context, key, commit string) error {
	if key == "" || !isFullHash(commit) {
		return fmt.Errorf("mark applied: bad key %q or commit %q", key, commit)
	}
	if _, err := os.Stat(filepath.Join(s.opts.CacheDir, "HEAD")); err != nil {
		return nil
	}
	l, err := lock.AcquirePath(ctx, s.opts.CacheDir+".lock", true)
	if err != nil {
		return fmt.Errorf("git cache: %w", err)
	}
	defer l.Release()
	return writeRef(s.opts.CacheDir, appliedRef(key), commit)
}

// writeRef writes the loose ref name = hash in the bare clone dir, atomically; nothing when it
// holds hash already.
func writeRef(dir string, name plumbing.ReferenceName, hash string) error {
	path := filepath.Join(dir, filepath.FromSlash(name.String()))
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == hash {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("git cache: %w", err)
	}
	if err := atomicfile.Write(path, []byte(hash+"\n"), 0o644); err != nil {
		return fmt.Errorf("git cache: record applied commit: %w", err)
	}
	return nil
}

// appliedCommit is the commit the clone keeps under key (MarkApplied); "" when none.
func appliedCommit(repo *gogit.Repository, key string) string {
	if key == "" {
		return ""
	}
	r, err := repo.Reference(appliedRef(key), false)
	if err != nil || r.Type() != plumbing.HashReference || r.Hash().IsZero() {
		return ""
	}
	return r.Hash().String()
}

// markAhead is the commit the clone keeps under key (MarkApplied) when it is neither the
// record's lastApplied (40 hex digits) nor one of its ancestors: a mark newer than the record
// (a state head restored from an old backup; a commit sent to the kernel but not recorded, or
// whose transaction failed: the mark is set before each transaction) or on another line of
// history. "" when
// there is no such mark, when the clone does not hold the mark's commit, or when lastApplied
// is "" (the caller then starts from the mark itself).
func markAhead(repo *gogit.Repository, key, lastApplied string) string {
	mark := appliedCommit(repo, key)
	if mark == "" || lastApplied == "" || mark == lastApplied || !isFullHash(lastApplied) {
		return ""
	}
	m, err := repo.CommitObject(plumbing.NewHash(mark))
	if err != nil {
		return ""
	}
	if l, err := repo.CommitObject(plumbing.NewHash(lastApplied)); err == nil {
		if behind, err := m.IsAncestor(l); err == nil && behind {
			return "" // the record is ahead of the mark (the mark's write failed or lags)
		}
	}
	return mark
}

// appliedMarks reads the commits kept under AppliedRefPrefix in the (damaged) clone dir from
// the loose ref files themselves: what a clone made again must keep.
func appliedMarks(dir string) map[string]string {
	marks := map[string]string{}
	root := filepath.Join(dir, filepath.FromSlash(AppliedRefPrefix))
	entries, err := os.ReadDir(root)
	if err != nil {
		return marks
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name()))
		if h := strings.TrimSpace(string(b)); err == nil && isFullHash(h) {
			marks[AppliedRefPrefix+e.Name()] = h
		}
	}
	return marks
}

// remoteSide reports whether err says that the remote could not be reached or read (the
// network, the server, credentials, a remote that does not exist or is empty): such an error
// says nothing about the clone, which is then not checked.
func remoteSide(err error) bool {
	var fe *FetchError
	if !errors.As(err, &fe) {
		return false
	}
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.As(err, &ne), errors.As(err, &ue),
		errors.Is(err, transport.ErrRepositoryNotFound), errors.Is(err, transport.ErrEmptyRemoteRepository),
		errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod), errors.Is(err, errEmptyRemote), errors.Is(err, errNoDefaultBranch):
		return true
	}
	return false
}

var (
	errEmptyRemote     = errors.New("the repository is empty")
	errNoDefaultBranch = errors.New("the remote does not say which branch is its default; set --ref")
)

// health checks the clone in dir without the network: it opens, its config and HEAD read,
// and every object reachable from its refs is there and decodes (the commits of the whole
// history; the trees and blobs of each tip). nil: healthy (or absent); otherwise what is
// wrong, for the log.
func health(dir string) error {
	if err := openHealth(dir); err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	repo, err := gogit.PlainOpen(dir)
	if err != nil {
		return err
	}
	refs, err := repo.Storer.IterReferences()
	if err != nil {
		return fmt.Errorf("refs: %w", err)
	}
	var tips []*plumbing.Reference
	err = refs.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference && fetched(r.Name()) {
			tips = append(tips, r)
		}
		return nil
	})
	refs.Close()
	if err != nil {
		return fmt.Errorf("refs: %w", err)
	}
	c := &checker{repo: repo, seen: map[plumbing.Hash]bool{}}
	for _, r := range tips {
		if err := c.object(r.Hash(), true); err != nil {
			return fmt.Errorf("%s: %w", r.Name(), err)
		}
	}
	return nil
}

// openHealth is the part of health that costs nothing: the clone in dir (when it exists)
// opens, and its config and HEAD read. go-git would fetch into a clone without HEAD or with
// a garbled one, but git itself no longer takes it for a repository.
func openHealth(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	repo, err := gogit.PlainOpen(dir)
	if errors.Is(err, gogit.ErrRepositoryNotExists) {
		return errors.New("not a git repository (a clone that was never finished?)")
	}
	if err != nil {
		return err
	}
	if _, err := repo.Config(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	head, err := repo.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return fmt.Errorf("HEAD: %w", err)
	}
	if head.Type() != plumbing.SymbolicReference && head.Hash().IsZero() {
		return errors.New("HEAD: not a ref nor a commit")
	}
	// The tip of every ref is there: a clone whose pack went missing claims commits it no
	// longer holds (a fetch would ask the remote only for what comes after them).
	refs, err := repo.Storer.IterReferences()
	if err != nil {
		return fmt.Errorf("refs: %w", err)
	}
	defer refs.Close()
	return refs.ForEach(func(r *plumbing.Reference) error {
		if r.Type() != plumbing.HashReference || !fetched(r.Name()) {
			return nil
		}
		if r.Hash().IsZero() {
			return fmt.Errorf("%s: not a commit hash", r.Name())
		}
		if _, err := repo.Storer.EncodedObject(plumbing.AnyObject, r.Hash()); err != nil {
			return fmt.Errorf("%s: object %s: %w", r.Name(), short(r.Hash()), err)
		}
		return nil
	})
}

// fetched reports whether the ref is one a fetch writes (refs/remotes/origin/*, refs/tags/*):
// the refs whose objects the clone must hold. A mark under AppliedRefPrefix may name a commit
// the remote dropped and a clone made again does not hold.
func fetched(n plumbing.ReferenceName) bool {
	return n.IsTag() || strings.HasPrefix(n.String(), "refs/remotes/"+remoteName+"/")
}

// checker reads objects of a clone, each once.
type checker struct {
	repo *gogit.Repository
	seen map[plumbing.Hash]bool
}

// object reads the object h (a commit: its history, and with tip its tree; a tag: its
// target; a tree or blob: all of it).
func (c *checker) object(h plumbing.Hash, tip bool) error {
	o, err := c.repo.Storer.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return fmt.Errorf("object %s: %w", short(h), err)
	}
	switch o.Type() {
	case plumbing.TagObject:
		t, err := object.DecodeTag(c.repo.Storer, o)
		if err != nil {
			return fmt.Errorf("tag %s: %w", short(h), err)
		}
		return c.object(t.Target, tip)
	case plumbing.CommitObject:
		cm, err := object.DecodeCommit(c.repo.Storer, o)
		if err != nil {
			return fmt.Errorf("commit %s: %w", short(h), err)
		}
		if tip {
			if err := c.tree(cm.TreeHash); err != nil {
				return err
			}
		}
		return c.history(cm)
	case plumbing.TreeObject:
		return c.tree(h)
	default:
		return c.blob(o)
	}
}

// history reads every ancestor commit of cm.
func (c *checker) history(cm *object.Commit) error {
	queue := []*object.Commit{cm}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, p := range x.ParentHashes {
			if c.seen[p] {
				continue
			}
			c.seen[p] = true
			pc, err := c.repo.CommitObject(p)
			if err != nil {
				return fmt.Errorf("commit %s: %w", short(p), err)
			}
			queue = append(queue, pc)
		}
	}
	return nil
}

// tree reads the tree h and everything in it.
func (c *checker) tree(h plumbing.Hash) error {
	if c.seen[h] {
		return nil
	}
	c.seen[h] = true
	t, err := c.repo.TreeObject(h)
	if err != nil {
		return fmt.Errorf("tree %s: %w", short(h), err)
	}
	for _, e := range t.Entries {
		switch {
		case e.Mode == filemode.Submodule:
		case e.Mode == filemode.Dir:
			if err := c.tree(e.Hash); err != nil {
				return err
			}
		case !c.seen[e.Hash]:
			c.seen[e.Hash] = true
			o, err := c.repo.Storer.EncodedObject(plumbing.BlobObject, e.Hash)
			if err != nil {
				return fmt.Errorf("blob %s (%s): %w", short(e.Hash), e.Name, err)
			}
			if err := c.blob(o); err != nil {
				return fmt.Errorf("%s: %w", e.Name, err)
			}
		}
	}
	return nil
}

// blob reads the object's content to the end.
func (c *checker) blob(o plumbing.EncodedObject) error {
	r, err := o.Reader()
	if err != nil {
		return fmt.Errorf("object %s: %w", short(o.Hash()), err)
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("object %s: %w", short(o.Hash()), err)
	}
	return nil
}

// reclone removes the damaged clone (keeping its AppliedRefPrefix marks) and makes an empty
// one with the marks, ready to be fetched into; the caller holds the clone's lock. The marks
// stay on disk throughout (removeExceptMarks): a process killed while the clone is removed or
// made again leaves them, and the next pass, finding the clone incomplete, makes it again
// around them. Removing the whole clone first lost them to such a kill, and with them the
// commit applied last of a record lost later.
func (s *Source) reclone(cause error) error {
	dir := s.opts.CacheDir
	marks := appliedMarks(dir)
	s.log.Warn(fmt.Sprintf("git clone %q is damaged (%v); removing it and cloning again", dir, cause), "dir", dir, "cause", cause.Error())
	if s.opts.Recovered != nil {
		s.opts.Recovered("clone-recloned")
	}
	if err := removeExceptMarks(dir, marks); err != nil {
		return fmt.Errorf("git cache %q is damaged (%v) and cannot be removed: %w", dir, cause, err)
	}
	if s.afterRemove != nil {
		if err := s.afterRemove(); err != nil {
			return err
		}
	}
	if _, err := gogit.PlainInit(dir, true); err != nil {
		return fmt.Errorf("git cache %q: %w", dir, err)
	}
	for name, h := range marks {
		if err := writeRef(dir, plumbing.ReferenceName(name), h); err != nil {
			return err
		}
	}
	return nil
}

// removeExceptMarks removes everything in the clone dir but the loose ref files of marks
// (appliedMarks: name under AppliedRefPrefix → commit) and the directories that hold them.
func removeExceptMarks(dir string, marks map[string]string) error {
	path := []string{"refs", "reconcile", "applied"}
	d := dir
	for i := 0; i <= len(path); i++ {
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			keep := i < len(path) && e.Name() == path[i] && e.IsDir() ||
				i == len(path) && e.Type().IsRegular() && marks[AppliedRefPrefix+e.Name()] != ""
			if !keep {
				if err := os.RemoveAll(filepath.Join(d, e.Name())); err != nil {
					return err
				}
			}
		}
		if i < len(path) {
			d = filepath.Join(d, path[i])
		}
	}
	return nil
}

var _ source.AppliedMarker = (*Source)(nil)
