package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// The load step takes unchanged files from the decode cache under the state directory, across
// Agents (processes), and gives the repository and errors of a load without one.
func TestLoadUsesDecodeCache(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	nocache := e.opts()
	nocache.StateDir = ""
	validate := func(cfg Config) *ValidateResult {
		t.Helper()
		res, err := agentOf(t, cfg).Validate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	stats := func(a *Agent) [2]int {
		s := a.dcache.Stats()
		return [2]int{s.Hits, s.Misses}
	}
	want := validate(nocache)
	if !want.Valid() {
		t.Fatalf("lab repository: %v", want.Errors)
	}
	files := len(want.Snapshot.Files)

	// No state directory yet: the load leaves none behind.
	a0 := agentOf(t, e.opts())
	if _, err := a0.Validate(ctx); err != nil || a0.dcache != nil {
		t.Fatalf("without a state directory: %v, cache %v", err, a0.dcache)
	}
	if _, err := os.Stat(e.stateDir); !os.IsNotExist(err) {
		t.Fatalf("validate made the state directory: %v", err)
	}
	if err := os.MkdirAll(e.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}

	a := agentOf(t, e.opts())
	got, err := a.Validate(ctx)
	if err != nil || !reflect.DeepEqual(got.Repository, want.Repository) || got.Errors != nil {
		t.Fatalf("first load with a state directory: %v %v", err, got.Errors)
	}
	if s := stats(a); s != [2]int{0, files} {
		t.Errorf("first load: hits, misses = %v, want 0, %d", s, files)
	}
	if _, err := os.Stat(DecodeCacheDir(e.stateDir)); err != nil {
		t.Fatal(err)
	}
	a = agentOf(t, e.opts()) // a new process
	got, err = a.Validate(ctx)
	if err != nil || !reflect.DeepEqual(got.Repository, want.Repository) {
		t.Fatalf("second load: %v", err)
	}
	if s := stats(a); s != [2]int{files, 0} {
		t.Errorf("second load: hits, misses = %v, want %d, 0", s, files)
	}

	// One file broken: only it is decoded, and its errors are those of a load without cache.
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/BAD.yaml": "id: BAD\ninbound_rules:\n  - action: accept\n    dst_ports: [70000]\n"})
	want = validate(nocache)
	if want.Valid() {
		t.Fatal("BAD.yaml validates")
	}
	got, err = a.Validate(ctx)
	if err != nil || !reflect.DeepEqual(got.Errors, want.Errors) || !reflect.DeepEqual(got.Repository, want.Repository) {
		t.Fatalf("with BAD.yaml: %v\n%v\nwant\n%v", err, got.Errors, want.Errors)
	}
	if s := stats(a); s != [2]int{files, 1} {
		t.Errorf("after adding a file: hits, misses = %v, want %d, 1", s, files)
	}
	// Plan compiles the cached repository into the same ruleset.
	if err := os.Remove(filepath.Join(e.repo, "profiles/BAD.yaml")); err != nil {
		t.Fatal(err)
	}
	p1, err := agentOf(t, nocache).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := agentOf(t, e.opts()).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Desired.String() != p2.Desired.String() {
		t.Error("Plan through the decode cache compiles another ruleset")
	}
}

// Without a usable state directory the load decodes every file, and says nothing.
func TestLoadWithoutDecodeCache(t *testing.T) {
	e := newEnv(t)
	cfg := e.opts()
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = blocker // a file: the cache directory cannot be made
	a := agentOf(t, cfg)
	res, err := a.Validate(context.Background())
	if err != nil || !res.Valid() || a.dcache != nil {
		t.Fatalf("%v %v cache %v", err, res.Errors, a.dcache)
	}
}

// The decode cache entries of a first load are written in the background; Close waits for
// them: after it every file has its entry, and a new process takes every file from them.
func TestCloseWaitsForDecodeCacheEntries(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := os.MkdirAll(e.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	a, err := New(e.opts())
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Validate(ctx)
	if err != nil || !res.Valid() {
		t.Fatalf("%v %v", err, res.Errors)
	}
	files := len(res.Snapshot.Files)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := filepath.Glob(filepath.Join(DecodeCacheDir(e.stateDir), "*.entry"))
	if err != nil || len(entries) != files {
		t.Fatalf("after Close: %d entries for %d files (%v)", len(entries), files, err)
	}
	b := agentOf(t, e.opts())
	if _, err := b.Validate(ctx); err != nil {
		t.Fatal(err)
	}
	if s := b.dcache.Counts(); s.Hits != files || s.Misses != 0 {
		t.Fatalf("a new process after Close: %+v, want %d hits", s, files)
	}
}
