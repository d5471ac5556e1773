package git

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/source"
)

// damages are the ways a clone goes bad on disk; each is applied to a good clone of a
// repository with two commits.
var damages = []struct {
	name   string
	damage func(t *testing.T, dir string)
}{
	{"clone dir deleted", func(t *testing.T, dir string) { mustRemoveAll(t, dir) }},
	{"pack deleted", func(t *testing.T, dir string) {
		for _, p := range packFiles(t, dir, ".pack") {
			mustRemoveAll(t, p)
		}
	}},
	{"pack and index deleted", func(t *testing.T, dir string) {
		for _, p := range append(packFiles(t, dir, ".pack"), packFiles(t, dir, ".idx")...) {
			mustRemoveAll(t, p)
		}
	}},
	{"objects garbled", func(t *testing.T, dir string) {
		for _, p := range packFiles(t, dir, ".pack") {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for i := 12; i < len(b)-20; i++ { // keep the header and the trailer
				b[i] ^= 0x5a
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}},
	{"HEAD garbled", func(t *testing.T, dir string) { mustWrite(t, filepath.Join(dir, "HEAD"), "\x00garbage\n") }},
	{"HEAD missing", func(t *testing.T, dir string) { mustRemoveAll(t, filepath.Join(dir, "HEAD")) }},
	{"config garbled", func(t *testing.T, dir string) { mustWrite(t, filepath.Join(dir, "config"), "[core\n\x00\x01") }},
	{"branch ref garbled", func(t *testing.T, dir string) {
		mustWrite(t, filepath.Join(dir, "refs", "remotes", "origin", "main"), "not a hash\n")
	}},
	{"half-made clone", func(t *testing.T, dir string) {
		// A first clone killed after it made the directories and began the pack, before
		// HEAD, config or any ref.
		mustRemoveAll(t, dir)
		if err := os.MkdirAll(filepath.Join(dir, "objects", "pack"), 0o755); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(dir, "objects", "pack", "tmp_pack_123"), "PACK\x00\x00\x00\x02\x00\x00")
	}},
}

func packFiles(t *testing.T, dir, ext string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "*"+ext))
	if err != nil || len(m) == 0 {
		t.Fatalf("no %s file in %s (%v)", ext, dir, err)
	}
	return m
}

func mustRemoveAll(t *testing.T, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A damaged or deleted clone is removed and cloned again once, in the same Fetch, with one
// warning naming it and the recovery counted; the commit applied last kept in the clone
// (MarkApplied) survives.
func TestDamagedCloneIsClonedAgain(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			f := newFixture(t, "main")
			c1 := f.Commit("first", map[string]string{"profiles/WEB.yaml": webProfile, "endpoints/nodes.yaml": endpoints}, "")
			f.Push()
			var logs bytes.Buffer
			var kinds []string
			s := newSource(t, f.Remote, func(o *Options) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				o.Recovered = func(kind string) { kinds = append(kinds, kind) }
			})
			fetch(t, s, "")
			if err := s.MarkApplied(context.Background(), "reconcile@x", c1); err != nil {
				t.Fatal(err)
			}
			c2 := f.Commit("second", map[string]string{"profiles/WEB.yaml": webProfile + "  - action: deny\n"}, "")
			f.Push()
			fetch(t, s, c1)

			d.damage(t, s.opts.CacheDir)
			// The remote moves on: the fetch asks only for what the clone claims not to
			// have, and the history check walks back to c2.
			c3 := f.Commit("third", map[string]string{"profiles/WEB.yaml": webProfile + "  - action: log\n"}, "")
			f.Push()
			logs.Reset()
			snap, err := s.Fetch(context.Background(), source.FetchOptions{LastApplied: c2})
			if err != nil {
				t.Fatalf("Fetch after %s: %v\nlog:\n%s", d.name, err, logs.String())
			}
			if snap.Commit != c3 || len(snap.Files) != 2 {
				t.Errorf("Fetch after %s: commit %s with %d files, want %s with 2", d.name, snap.Commit, len(snap.Files), c3)
			}
			if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), s.opts.CacheDir) {
				t.Errorf("after %s: %d warnings, want 1 naming %s:\n%s", d.name, n, s.opts.CacheDir, logs.String())
			}
			if len(kinds) != 1 || kinds[0] != "clone-recloned" {
				t.Errorf("after %s: recoveries %v, want [clone-recloned]", d.name, kinds)
			}
			if err := health(s.opts.CacheDir); err != nil {
				t.Errorf("the clone made again is not healthy: %v", err)
			}
			// A second fetch is a normal one: no warning.
			logs.Reset()
			fetch(t, s, c3)
			if strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("second fetch after %s warned:\n%s", d.name, logs.String())
			}
			if d.name != "clone dir deleted" && d.name != "half-made clone" {
				// The mark survived the re-clone (read from the damaged clone's ref file).
				f.Git("reset", "-q", "--hard", c1)
				f.Git("commit", "-q", "--allow-empty", "-m", "elsewhere")
				f.Push()
				// Marked c1 and the remote's history still holds it: no rewind.
				if _, err := s.Fetch(context.Background(), source.FetchOptions{AppliedKey: "reconcile@x"}); err != nil {
					t.Errorf("Fetch from the kept mark %s: %v", c1[:7], err)
				}
			}
		})
	}
}

// A remote that cannot be reached is not a damaged clone: the clone stays as it was, and
// the error is the fetch's.
func TestUnreachableRemoteKeepsClone(t *testing.T) {
	f := newFixture(t, "main")
	c1 := f.Commit("first", map[string]string{"profiles/WEB.yaml": webProfile, "endpoints/nodes.yaml": endpoints}, "")
	f.Push()
	var logs bytes.Buffer
	var kinds []string
	s := newSource(t, f.Remote, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.Recovered = func(kind string) { kinds = append(kinds, kind) }
	})
	fetch(t, s, "")
	packs := packFiles(t, s.opts.CacheDir, ".pack")
	if err := os.Rename(f.Remote, f.Remote+".away"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Fetch(context.Background(), source.FetchOptions{LastApplied: c1})
	if err == nil {
		t.Fatal("Fetch of a remote that is gone succeeded")
	}
	if len(kinds) != 0 || strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("an unreachable remote re-cloned (recoveries %v):\n%s", kinds, logs.String())
	}
	if got := packFiles(t, s.opts.CacheDir, ".pack"); got[0] != packs[0] {
		t.Errorf("the clone's pack changed: %v, was %v", got, packs)
	}
	if err := health(s.opts.CacheDir); err != nil {
		t.Errorf("the clone is not healthy after the failed fetch: %v", err)
	}
	// The remote back: the same clone fetches again.
	if err := os.Rename(f.Remote+".away", f.Remote); err != nil {
		t.Fatal(err)
	}
	if snap := fetch(t, s, c1); snap.Commit != c1 {
		t.Errorf("fetch after the remote came back: %s, want %s", snap.Commit, c1)
	}
}

// With no commit applied last in the record, the history check starts from the clone's mark:
// a remote force-pushed to an older commit is refused.
func TestAppliedMarkRefusesRewind(t *testing.T) {
	f := newFixture(t, "main")
	c1 := f.Commit("first", map[string]string{"profiles/WEB.yaml": webProfile, "endpoints/nodes.yaml": endpoints}, "")
	f.Push()
	c2 := f.Commit("second", map[string]string{"profiles/WEB.yaml": webProfile + "  - action: deny\n"}, "")
	f.Push()
	s := newSource(t, f.Remote, nil)
	fetch(t, s, "")
	if err := s.MarkApplied(context.Background(), "reconcile@lab", c2); err != nil {
		t.Fatal(err)
	}
	if got := gitRun(t, s.opts.CacheDir, "rev-parse", AppliedRefPrefix+"reconcile@lab"); got != c2 {
		t.Errorf("git rev-parse of the mark = %s, want %s", got, c2)
	}
	f.Git("reset", "-q", "--hard", c1)
	f.Push()
	_, err := s.Fetch(context.Background(), source.FetchOptions{AppliedKey: "reconcile@lab"})
	var re *RewindError
	if !errorsAs(err, &re) || re.Kind != RewindBackwards || re.LastApplied != c2 {
		t.Fatalf("Fetch of a rewound remote with the mark at %s: %v, want a backwards RewindError", c2[:7], err)
	}
	// Another record's key has no mark: a first apply.
	if snap, err := s.Fetch(context.Background(), source.FetchOptions{AppliedKey: "other"}); err != nil || snap.Commit != c1 {
		t.Errorf("Fetch under another key: %v, %v", snap, err)
	}
	// A mark naming a commit the clone does not hold (the remote dropped it before a
	// re-clone) is not damage: no re-clone, the history check refuses it as unrelated.
	gone := strings.Repeat("ab", 20)
	if err := s.MarkApplied(context.Background(), "gone", gone); err != nil {
		t.Fatal(err)
	}
	if cause := openHealth(s.opts.CacheDir); cause != nil {
		t.Errorf("a mark of a commit not in the clone is taken for damage: %v", cause)
	}
	_, err = s.Fetch(context.Background(), source.FetchOptions{AppliedKey: "gone"})
	if !errorsAs(err, &re) || re.Kind != RewindUnrelated {
		t.Errorf("Fetch from a mark not in the history: %v, want an unrelated RewindError", err)
	}
	if n := appliedRef("a..b"); !strings.HasPrefix(n.String(), AppliedRefPrefix+"key-") {
		t.Errorf("appliedRef(a..b) = %s, want a hashed name", n)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// A state record restored from an old backup names an older commit than the clone's mark: a
// remote force-pushed back to that older commit is still refused (the history check starts
// from the mark too), while a mark that lags the record (a kill between the record's save and
// the mark's) changes nothing.
func TestAppliedMarkAheadOfRecordRefusesRewind(t *testing.T) {
	f := newFixture(t, "main")
	c1 := f.Commit("first", map[string]string{"profiles/WEB.yaml": webProfile, "endpoints/nodes.yaml": endpoints}, "")
	f.Push()
	c2 := f.Commit("second", map[string]string{"profiles/WEB.yaml": webProfile + "  - action: deny\n"}, "")
	f.Push()
	s := newSource(t, f.Remote, nil)
	fetch(t, s, c1)
	if err := s.MarkApplied(context.Background(), "reconcile@lab", c2); err != nil {
		t.Fatal(err)
	}
	// The remote moves forward from c2: descends from both, fetched.
	c3 := f.Commit("third", map[string]string{"profiles/WEB.yaml": webProfile + "  - action: deny\n  - action: allow\n"}, "")
	f.Push()
	if snap, err := s.Fetch(context.Background(), source.FetchOptions{LastApplied: c1, AppliedKey: "reconcile@lab"}); err != nil || snap.Commit != c3 {
		t.Fatalf("Fetch of a descendant of the record and the mark: %v, %v", snap, err)
	}
	// Rewound to c1, the record's (restored) commit: refused from the mark.
	f.Git("reset", "-q", "--hard", c1)
	f.Push()
	_, err := s.Fetch(context.Background(), source.FetchOptions{LastApplied: c1, AppliedKey: "reconcile@lab"})
	var re *RewindError
	if !errorsAs(err, &re) || re.Kind != RewindBackwards || re.LastApplied != c2 {
		t.Fatalf("Fetch of %s with the record at %s and the mark at %s: %v, want a backwards RewindError from the mark", c1[:7], c1[:7], c2[:7], err)
	}
	// The mark's commit may never have been applied (its transaction failed): the message
	// says where it comes from and what the record names, not just "the last applied commit".
	if msg := err.Error(); !strings.Contains(msg, "refs/reconcile/applied/reconcile@lab") || !strings.Contains(msg, "the state record names "+c1[:7]) {
		t.Errorf("refusal from the mark %q: want it to name the clone's ref and the record's commit %s", msg, c1[:7])
	}
	// A mark behind the record: only the record counts.
	if err := s.MarkApplied(context.Background(), "lagging", c1); err != nil {
		t.Fatal(err)
	}
	f.Git("reset", "-q", "--hard", c3)
	f.Push()
	if snap, err := s.Fetch(context.Background(), source.FetchOptions{LastApplied: c2, AppliedKey: "lagging"}); err != nil || snap.Commit != c3 {
		t.Errorf("Fetch with a mark behind the record: %v, %v", snap, err)
	}
	// --allow-rewind lets the rewind through.
	f.Git("reset", "-q", "--hard", c1)
	f.Push()
	ar := newSource(t, f.Remote, func(o *Options) { o.AllowRewind = true; o.CacheDir = s.opts.CacheDir })
	if snap, err := ar.Fetch(context.Background(), source.FetchOptions{LastApplied: c1, AppliedKey: "reconcile@lab"}); err != nil || snap.Commit != c1 {
		t.Errorf("Fetch with --allow-rewind: %v, %v", snap, err)
	}
}

// A process killed while it makes a damaged clone again (after removing it, before cloning)
// keeps the clone's marks: with the state record lost too, the next fetch still refuses a
// remote rewound behind the commit applied last.
func TestKilledRecloneKeepsMarks(t *testing.T) {
	f := newFixture(t, "main")
	c1 := f.Commit("first", map[string]string{"profiles/WEB.yaml": webProfile, "endpoints/nodes.yaml": endpoints}, "")
	f.Push()
	c2 := f.Commit("second", map[string]string{"profiles/WEB.yaml": webProfile + "  - action: deny\n"}, "")
	f.Push()
	s := newSource(t, f.Remote, nil)
	fetch(t, s, "")
	if err := s.MarkApplied(context.Background(), "reconcile@lab", c2); err != nil {
		t.Fatal(err)
	}
	// A garbage object file beside the mark is not kept.
	junk := filepath.Join(s.opts.CacheDir, filepath.FromSlash(AppliedRefPrefix), "junk")
	if err := os.WriteFile(junk, []byte("not a hash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(s.opts.CacheDir, "objects")); err != nil {
		t.Fatal(err)
	}
	killed := errors.New("killed")
	s.afterRemove = func() error { return killed }
	if _, err := s.Fetch(context.Background(), source.FetchOptions{AppliedKey: "reconcile@lab"}); !errors.Is(err, killed) {
		t.Fatalf("Fetch of a damaged clone, killed while making it again: %v", err)
	}
	mark := filepath.Join(s.opts.CacheDir, filepath.FromSlash(AppliedRefPrefix), "reconcile@lab")
	if b, err := os.ReadFile(mark); err != nil || strings.TrimSpace(string(b)) != c2 {
		t.Fatalf("the mark after the killed re-clone: %q, %v; want %s", b, err, c2)
	}
	if _, err := os.Stat(junk); !os.IsNotExist(err) {
		t.Errorf("a file that is not a mark survived the re-clone: %v", err)
	}
	s.afterRemove = nil
	f.Git("reset", "-q", "--hard", c1)
	f.Push()
	_, err := s.Fetch(context.Background(), source.FetchOptions{AppliedKey: "reconcile@lab"})
	var re *RewindError
	if !errorsAs(err, &re) || re.LastApplied != c2 {
		// unrelated: the clone made again never fetched c2 (the remote dropped it)
		t.Fatalf("Fetch of a rewound remote after the killed re-clone: %v, want a RewindError from %s", err, c2[:7])
	}
	if cause := health(s.opts.CacheDir); cause != nil {
		t.Errorf("the clone made again is not healthy: %v", cause)
	}
}
