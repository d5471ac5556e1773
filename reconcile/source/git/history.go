package git

import (
	"errors"
	"fmt"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Reasons a commit does not descend from the last applied one (RewindError.Kind).
const (
	RewindBackwards = "backwards" // the commit is an ancestor of the last applied one
	RewindDiverged  = "rewritten" // they share history but the last applied one was dropped
	RewindUnrelated = "unrelated" // no common history, or the last applied commit is unknown
)

// RewindError refuses a commit that does not descend from the last applied one: a force-push
// backwards, a rewrite, a ref moved to another history. Options.AllowRewind lets it through.
type RewindError struct {
	Commit      string // the commit that would be applied (full hash)
	Revision    string // its revision, e.g. "main@sha1:<hash>"
	LastApplied string // the last applied commit (full hash)
	Kind        string // RewindBackwards, RewindDiverged or RewindUnrelated
	Reason      string // the human explanation
	// Mark, when not "", is the clone's ref LastApplied was read from while the state record
	// names Recorded, an older commit (markAhead): the ref is set before each transaction, so
	// LastApplied may be a commit whose transaction failed.
	Mark, Recorded string
}

func (e *RewindError) Error() string {
	from := abbrev(e.LastApplied)
	if e.Mark != "" {
		from += fmt.Sprintf(" (the clone's %s, set before its transaction, which may have failed; the state record names %s)", e.Mark, abbrev(e.Recorded))
	}
	return fmt.Sprintf("refusing to apply %s (%s): it does not descend from the last applied commit %s; %s; use --allow-rewind to apply it anyway",
		abbrev(e.Commit), e.Revision, from, e.Reason)
}

// Stage classifies the error for metrics: ("history", Kind).
func (e *RewindError) Stage() (stage, reason string) { return "history", e.Kind }

func abbrev(h string) string {
	if len(h) > 7 {
		return h[:7]
	}
	return h
}

func isFullHash(s string) bool {
	return len(s) == 40 && strings.Trim(s, "0123456789abcdef") == ""
}

// checkHistory returns the last applied commit (nil when the repository does not hold it) when
// head descends from it, or when AllowRewind is set; otherwise a *RewindError.
func (s *Source) checkHistory(repo *gogit.Repository, head *object.Commit, revision, lastApplied string) (*object.Commit, error) {
	if !isFullHash(lastApplied) {
		return nil, fmt.Errorf("the last applied commit %q is not a full sha1 commit hash", lastApplied)
	}
	rewind := &RewindError{Commit: head.Hash.String(), Revision: revision, LastApplied: lastApplied}
	last, err := repo.CommitObject(plumbing.NewHash(lastApplied))
	switch {
	case errors.Is(err, plumbing.ErrObjectNotFound):
		rewind.Kind = RewindUnrelated
		rewind.Reason = "the last applied commit is not in the history of the repository (history was rewritten, or this is another repository)"
	case err != nil:
		return nil, fmt.Errorf("last applied commit %s: %w", abbrev(lastApplied), err)
	default:
		ok, err := last.IsAncestor(head)
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", abbrev(head.Hash.String()), err)
		}
		if ok {
			return last, nil
		}
		back, err := head.IsAncestor(last)
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", abbrev(lastApplied), err)
		}
		if back {
			rewind.Kind = RewindBackwards
			rewind.Reason = "the ref moved backwards (it is an ancestor of the last applied commit)"
			break
		}
		bases, err := head.MergeBase(last)
		if err != nil {
			return nil, fmt.Errorf("merge base of %s and %s: %w", abbrev(head.Hash.String()), abbrev(lastApplied), err)
		}
		if len(bases) == 0 {
			rewind.Kind = RewindUnrelated
			rewind.Reason = "the two commits have no history in common"
		} else {
			rewind.Kind = RewindDiverged
			rewind.Reason = fmt.Sprintf("history was rewritten (the two diverged after %s)", abbrev(bases[0].Hash.String()))
		}
	}
	if !s.opts.AllowRewind {
		return nil, rewind
	}
	s.log.Warn("applying a commit that does not descend from the last applied one (--allow-rewind)",
		"revision", revision, "last_applied", lastApplied, "reason", rewind.Reason)
	return last, nil // nil when the repository does not hold it
}

// commitRange lists the commits reachable from head but not from last (git rev-list
// head ^last), newest first; with last nil, just head. It never returns an empty list.
func commitRange(repo *gogit.Repository, head, last *object.Commit) ([]*object.Commit, error) {
	if last == nil {
		return []*object.Commit{head}, nil
	}
	exclude := map[plumbing.Hash]bool{}
	if err := walk(repo, last, func(c *object.Commit) bool { exclude[c.Hash] = true; return true }); err != nil {
		return nil, err
	}
	var out []*object.Commit
	err := walk(repo, head, func(c *object.Commit) bool {
		if exclude[c.Hash] {
			return false
		}
		out = append(out, c)
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 || out[0].Hash != head.Hash { // head is an ancestor of last (a rewind)
		out = append([]*object.Commit{head}, out...)
	}
	return out, nil
}

// walk visits start and its ancestors breadth-first, each once; visit returns false to not go
// past a commit.
func walk(repo *gogit.Repository, start *object.Commit, visit func(*object.Commit) bool) error {
	seen := map[plumbing.Hash]bool{start.Hash: true}
	queue := []*object.Commit{start}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if !visit(c) {
			continue
		}
		for _, p := range c.ParentHashes {
			if seen[p] {
				continue
			}
			seen[p] = true
			pc, err := repo.CommitObject(p)
			if err != nil {
				return fmt.Errorf("commit %s: %w", abbrev(p.String()), err)
			}
			queue = append(queue, pc)
		}
	}
	return nil
}
