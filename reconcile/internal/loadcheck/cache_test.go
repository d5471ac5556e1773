// Package loadcheck holds no code: its tests check schema's load paths against each other over
// the corpus of broken repositories (testenv/badrepos) and generated ones (repogen), which
// schema's own tests cannot import.
package loadcheck_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv/badrepos"
	"github.com/reconcile-dev/reconcile/schema"
)

// sameLoad checks that a load through the cache gives exactly LoadFiles' repository and
// errors (field by field, positions, paths, nil versus empty lists included).
func sameLoad(t *testing.T, name string, want *schema.Repository, wantErrs schema.Errors, got *schema.Repository, gotErrs schema.Errors) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: the repository differs from LoadFiles'", name)
	}
	if !reflect.DeepEqual(gotErrs, wantErrs) {
		t.Errorf("%s: errors differ:\n%v\nwant (LoadFiles):\n%v", name, gotErrs, wantErrs)
	}
}

// loadTwice loads files through a fresh cache (every file a miss, stored), then again (every
// file a hit, read back), and checks both against LoadFiles.
func loadTwice(t *testing.T, name string, files map[string][]byte, refused schema.Errors) {
	t.Helper()
	want, wantErrs := schema.LoadFiles(files, refused)
	c, err := schema.OpenDecodeCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	got, gotErrs := schema.LoadCached(files, refused, nil, c)
	sameLoad(t, name+" (cold)", want, wantErrs, got, gotErrs)
	if s := c.Stats(); s.Hits != 0 || s.Misses != len(files) {
		t.Errorf("%s: cold load: %+v, want %d misses", name, s, len(files))
	}
	got, gotErrs = schema.LoadCached(files, refused, nil, c)
	sameLoad(t, name+" (warm)", want, wantErrs, got, gotErrs)
	if s := c.Stats(); s.Hits != len(files) || s.Misses != 0 || s.Corrupt != 0 {
		t.Errorf("%s: warm load: %+v, want %d hits", name, s, len(files))
	}
}

// TestCacheCorpus: every broken repository of the corpus loads to the same repository and the
// same errors through the cache, cold and warm.
func TestCacheCorpus(t *testing.T) {
	cases, err := badrepos.Cases()
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 50 {
		t.Fatalf("only %d corpus cases", len(cases))
	}
	withErrs := 0
	for _, c := range cases {
		repo := filepath.Join(t.TempDir(), "repo")
		if err := os.Mkdir(repo, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := c.Materialize(repo, t.TempDir()); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		files, refused, err := schema.ReadRoot(repo)
		if err != nil {
			continue // an unreadable tree (the I/O error cases): nothing to load
		}
		if _, errs := schema.LoadFiles(files, refused); len(errs) > 0 {
			withErrs++
		}
		loadTwice(t, c.Name, files, refused)
	}
	if withErrs < len(cases)/2 {
		t.Errorf("only %d of %d corpus cases have errors", withErrs, len(cases))
	}
}

// TestCacheGenerated: generated repositories (repogen, YAML and JSON, some damaged) load the
// same through the cache; then one file changes and only it is decoded again.
func TestCacheGenerated(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 30
	}
	for seed := range uint64(seeds) {
		g := repogen.Generate(repogen.FromSeed(seed))
		name := fmt.Sprintf("seed %d", seed)
		loadTwice(t, name, g.Files, nil)

		// One file changes: one miss, the others hit, and the result is LoadFiles' again.
		c, err := schema.OpenDecodeCache(filepath.Join(t.TempDir(), "cache"))
		if err != nil {
			t.Fatal(err)
		}
		schema.LoadCached(g.Files, nil, nil, c)
		changed := map[string][]byte{}
		var edited string
		for p, b := range g.Files {
			changed[p] = b
			if edited == "" || p < edited {
				edited = p
			}
		}
		changed[edited] = append(append([]byte(nil), changed[edited]...), "\n# edited\n"...)
		if strings.HasSuffix(edited, ".json") {
			changed[edited] = append(append([]byte(nil), g.Files[edited]...), " \n"...)
		}
		want, wantErrs := schema.LoadFiles(changed, nil)
		got, gotErrs := schema.LoadCached(changed, nil, nil, c)
		sameLoad(t, name+" (one file changed)", want, wantErrs, got, gotErrs)
		if s := c.Stats(); s.Misses != 1 || s.Hits != len(g.Files)-1 {
			t.Errorf("%s: after changing %s: %+v, want 1 miss", name, edited, s)
		}
	}
}
