package git

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/source"
)

// Head tells what Fetch would return (after fetching the remote) without the files, and
// refuses what Fetch refuses.
func TestHead(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "main")
	a := f.Commit("a", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
	f.Push()
	s, err := New(Options{URL: f.Remote, CacheDir: filepath.Join(t.TempDir(), "cache")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Head(ctx, source.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Fetch(ctx, source.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Commit != a || h.Revision != snap.Revision || h.Source != snap.Source || h.Revision != "main@sha1:"+a {
		t.Fatalf("head %+v, fetch %s %s %s", h, snap.Source, snap.Revision, snap.Commit)
	}
	// A new commit on the remote: Head fetches it.
	b := f.Commit("b", map[string]string{"profiles/B.yaml": "id: B\n"}, "")
	f.Push()
	if h, err = s.Head(ctx, source.FetchOptions{LastApplied: a}); err != nil || h.Commit != b {
		t.Fatalf("after a push: %+v, %v; want %s", h, err, b)
	}
	// Backwards from the last applied commit: refused as Fetch refuses it.
	gitRun(t, f.Work, "reset", "-q", "--hard", a)
	f.Push()
	_, err = s.Head(ctx, source.FetchOptions{LastApplied: b})
	var re *RewindError
	if !errors.As(err, &re) || re.Kind != RewindBackwards {
		t.Fatalf("rewind: %v", err)
	}
}
