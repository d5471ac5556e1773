package git

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/source"
)

// What a process killed while go-git writes the clone can leave, made by hand (the windows are
// too short for the kill tests of reconcile/e2e to land in reliably), and the next fetch must
// work over it: go-git writes a ref by truncating its file and then writing the hash
// (dotgit.setRefRwfs), so a kill in between leaves an empty ref file; it writes a pack's index
// at its final name before renaming the pack into place (dotgit.PackWriter.save), so a kill
// leaves a truncated index and the pack still a temporary file, and no ref yet: fetched again
// as it was, the same pack would find the truncated index in place and keep it. The next fetch
// removes what the killed one left.
func TestFetchAfterKilledWrite(t *testing.T) {
	const tmpPack = "tmp_pack_killed"

	truncatedIndex := func(t *testing.T, cache string) {
		idx, _ := filepath.Glob(filepath.Join(cache, "objects", "pack", "pack-*.idx"))
		if len(idx) != 1 {
			t.Fatalf("packs: %v", idx)
		}
		b, err := os.ReadFile(idx[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(idx[0], b[:len(b)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		pack := idx[0][:len(idx[0])-len(".idx")] + ".pack"
		if err := os.Rename(pack, filepath.Join(filepath.Dir(pack), tmpPack)); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(cache, "refs", "remotes")); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(cache, "refs", "tags")); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, cache string)
		same   bool // no new commit before the next fetch
	}{
		{"empty ref file", func(t *testing.T, cache string) {
			if err := os.WriteFile(filepath.Join(cache, "refs", "remotes", "origin", "main"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"truncated index of the first pack", truncatedIndex, false},
		{"truncated index of the first pack, fetched again as it was", truncatedIndex, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "main")
			c1 := f.Commit("one", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
			f.Push()
			cache := filepath.Join(t.TempDir(), "clone")
			s, err := New(Options{URL: f.Remote, CacheDir: cache})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Fetch(context.Background(), source.FetchOptions{}); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, cache)
			want, files := c1, 1
			if !tc.same {
				want, files = f.Commit("two", map[string]string{"profiles/B.yaml": "id: B\n"}, ""), 2
				f.Push()
			}
			snap, err := s.Fetch(context.Background(), source.FetchOptions{})
			if err != nil {
				t.Fatalf("fetch after the killed write: %v", err)
			}
			if snap.Commit != want || len(snap.Files) != files {
				t.Fatalf("fetch after the killed write: commit %s with %d files, want %s with %d", snap.Commit, len(snap.Files), want, files)
			}
			if left, _ := filepath.Glob(filepath.Join(cache, "objects", "pack", "tmp_*")); len(left) > 0 {
				t.Errorf("temporary files of the killed fetch are left in the clone: %v", left)
			}
			c := exec.Command("git", "--git-dir", cache, "fsck", "--no-dangling")
			c.Env = gittest.Env("")
			if out, err := c.CombinedOutput(); err != nil {
				t.Fatalf("git fsck of the clone after the fetch: %v\n%s", err, out)
			}
		})
	}
}

// MarkApplied writes the mark through a temporary file beside it (.<key>.tmp-N in
// refs/reconcile/applied/): a process killed before the rename leaves it, empty when killed
// before the write. go-git reads it as a ref: an empty one failed the next fetch's health check
// and cost a whole re-clone; a full one stayed for ever, one more per kill. The next fetch
// removes both, under the clone's lock, without cloning again.
func TestFetchAfterKilledMark(t *testing.T) {
	f := newFixture(t, "main")
	c1 := f.Commit("first", map[string]string{"profiles/WEB.yaml": webProfile, "endpoints/nodes.yaml": endpoints}, "")
	f.Push()
	var kinds []string
	s := newSource(t, f.Remote, func(o *Options) { o.Recovered = func(kind string) { kinds = append(kinds, kind) } })
	fetch(t, s, "")
	if err := s.MarkApplied(context.Background(), "reconcile@lab", c1); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.opts.CacheDir, filepath.FromSlash(AppliedRefPrefix))
	empty := filepath.Join(dir, ".reconcile@lab.tmp-1")
	full := filepath.Join(dir, ".reconcile@lab.tmp-2")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(c1+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c2 := f.Commit("second", map[string]string{"profiles/WEB.yaml": webProfile + "  - action: deny\n"}, "")
	f.Push()
	if snap := fetch(t, s, c1); snap.Commit != c2 {
		t.Errorf("fetch after a killed mark: %s, want %s", snap.Commit, c2)
	}
	if len(kinds) != 0 {
		t.Errorf("recoveries %v: the clone was made again for a mark's temporary file", kinds)
	}
	for _, p := range []string{empty, full} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left after the fetch: %v", filepath.Base(p), err)
		}
	}
	if got := gitRun(t, s.opts.CacheDir, "rev-parse", AppliedRefPrefix+"reconcile@lab"); got != c1 {
		t.Errorf("the mark after the fetch: %s, want %s", got, c1)
	}
}
