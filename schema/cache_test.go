package schema_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

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

// testRepo is a repository of n profiles and n endpoints files, some files broken.
func testRepo(n int) map[string][]byte {
	files := map[string][]byte{}
	for i := range n {
		files[fmt.Sprintf("profiles/P%02d.yaml", i)] = []byte(fmt.Sprintf("id: P%02d\ntags: [T%d]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [80, \"8000:8080\"]\n    src_tag: T%d\n  - action: allow\n    icmp_type: 8\n    protocol: icmp\noutbound_rules: []\n", i, i%3, (i+1)%3))
		files[fmt.Sprintf("endpoints/e%02d.json", i)] = []byte(fmt.Sprintf(`{"endpoints": [{"id": "e%d", "host": "h%d", "interface": "cali0", "ipv4_nets": ["198.18.%d.1/32"], "ipv6_nets": [], "profile_ids": ["P%02d"]}]}`, i, i, i, i))
	}
	files["profiles/BAD.yaml"] = []byte("id: BAD\ntags: [a b]\ninbound_rules:\n  - action: allow\n    dst_ports: [99999]\n")
	files["endpoints/bad.yaml"] = []byte("endpoints:\n  - {id: x, host: h0, interface: cali0, ipv4_nets: [198.18.0.1/32], profile_ids: [nope]}\n  - [\n")
	return files
}

// TestCacheCorrupt: a damaged, truncated or foreign entry is ignored and rewritten: the load
// is LoadFiles' all the same.
func TestCacheCorrupt(t *testing.T) {
	g := struct{ Files map[string][]byte }{testRepo(12)}
	want, wantErrs := schema.LoadFiles(g.Files, nil)
	c, err := schema.OpenDecodeCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	schema.LoadCached(g.Files, nil, nil, c)
	if s := c.Counts(); s.Misses != len(g.Files) || s.Hits != 0 {
		t.Fatalf("counts right after the load: %+v", s)
	}
	c.Wait() // the entries are written in the background
	entries, err := filepath.Glob(filepath.Join(schema.DecodeCacheDir(c), "*.entry"))
	if err != nil || len(entries) != len(g.Files) {
		t.Fatalf("%d entries for %d files (%v)", len(entries), len(g.Files), err)
	}
	damage := []func([]byte) []byte{
		func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b },        // a bit flip
		func(b []byte) []byte { return b[:len(b)/2] },                  // truncated
		func(b []byte) []byte { return nil },                           // empty
		func(b []byte) []byte { return []byte("RCDC1\nnot an entry") }, // a foreign one
	}
	for i, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(e, damage[i%len(damage)](b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, gotErrs := schema.LoadCached(g.Files, nil, nil, c)
	sameLoad(t, "corrupt entries", want, wantErrs, got, gotErrs)
	if s := c.Stats(); s.Corrupt != len(entries) || s.Hits != 0 {
		t.Errorf("corrupt entries: %+v, want %d corrupt", s, len(entries))
	}
	// Rewritten: the next load reads them all.
	got, gotErrs = schema.LoadCached(g.Files, nil, nil, c)
	sameLoad(t, "rewritten entries", want, wantErrs, got, gotErrs)
	if s := c.Stats(); s.Hits != len(g.Files) {
		t.Errorf("after rewriting: %+v, want %d hits", s, len(g.Files))
	}
}

// TestCacheVersion: a decoder of another version never reads the entries of this one.
func TestCacheVersion(t *testing.T) {
	g := struct{ Files map[string][]byte }{testRepo(9)}
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := schema.OpenDecodeCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	schema.LoadCached(g.Files, nil, nil, c)
	if s := c.Stats(); s.Misses != len(g.Files) {
		t.Fatalf("first load: %+v", s)
	}
	c2, err := schema.OpenDecodeCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	schema.LoadCached(g.Files, nil, nil, c2)
	if s := c2.Stats(); s.Hits != len(g.Files) {
		t.Fatalf("same version, new process: %+v, want %d hits", s, len(g.Files))
	}
	schema.SetCacheVersion(c2, "schema-decode/test-next")
	want, wantErrs := schema.LoadFiles(g.Files, nil)
	got, gotErrs := schema.LoadCached(g.Files, nil, nil, c2)
	sameLoad(t, "new version", want, wantErrs, got, gotErrs)
	if s := c2.Stats(); s.Hits != 0 || s.Misses != len(g.Files) {
		t.Errorf("another version: %+v, want every file decoded", s)
	}
}

// TestCacheIDs: a content id given by the source (a git blob id) keys the entry instead of the
// content: the same id is a hit, another id a miss.
func TestCacheIDs(t *testing.T) {
	files := map[string][]byte{"profiles/WEB.yaml": []byte("id: WEB\n")}
	c, err := schema.OpenDecodeCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{"profiles/WEB.yaml": "sha1:1111111111111111111111111111111111111111"}
	schema.LoadCached(files, nil, ids, c)
	schema.LoadCached(files, nil, ids, c)
	if s := c.Stats(); s.Hits != 1 {
		t.Errorf("same blob id: %+v, want a hit", s)
	}
	ids["profiles/WEB.yaml"] = "sha1:2222222222222222222222222222222222222222"
	schema.LoadCached(files, nil, ids, c)
	if s := c.Stats(); s.Misses != 1 {
		t.Errorf("another blob id: %+v, want a miss", s)
	}
}

// TestCacheBound: the cache keeps at most MaxEntries entries, never evicting those of the
// current load.
func TestCacheBound(t *testing.T) {
	c, err := schema.OpenDecodeCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	c.MaxEntries = 5
	for rev := range 4 {
		files := map[string][]byte{}
		for i := range 4 {
			files[fmt.Sprintf("profiles/P%d.yaml", i)] = []byte(fmt.Sprintf("id: P%d\ntags: [r%d]\n", i, rev))
		}
		schema.LoadCached(files, nil, nil, c)
		n, _ := filepath.Glob(filepath.Join(schema.DecodeCacheDir(c), "*.entry"))
		if len(n) > 5 && rev > 0 {
			t.Errorf("revision %d: %d entries, bound 5", rev, len(n))
		}
		schema.LoadCached(files, nil, nil, c)
		if s := c.Stats(); s.Hits != 4 {
			t.Errorf("revision %d: the current load's entries were evicted: %+v", rev, s)
		}
	}
}

// TestParallelDeterministic: the errors of a repository with many broken files come out in
// the same order whatever the number of goroutines decoding them.
func TestParallelDeterministic(t *testing.T) {
	files := map[string][]byte{}
	for i := range 64 {
		files[fmt.Sprintf("profiles/P%02d.yaml", i)] = []byte(fmt.Sprintf("id: P%02d\ntags: [bad tag %d]\ninbound_rules:\n  - action: allow\n    dst_ports: [99999]\n", i, i))
		files[fmt.Sprintf("endpoints/e%02d.yaml", i)] = []byte(fmt.Sprintf("endpoints:\n  - {id: e%d, host: h, interface: cali0, ipv4_nets: [198.18.0.%d/32], profile_ids: [P%02d, nope]}\n", i, i%3, i))
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(1)
	want, wantErrs := schema.LoadFiles(files, nil)
	if len(wantErrs) < 3*64 {
		t.Fatalf("only %d errors", len(wantErrs))
	}
	for _, procs := range []int{2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		for range 5 {
			got, gotErrs := schema.LoadFiles(files, nil)
			sameLoad(t, fmt.Sprintf("GOMAXPROCS %d", procs), want, wantErrs, got, gotErrs)
		}
	}
}

// TestCacheUnread: files whose content was left out because the cache has their entries
// (Has; ReadFSSkipping) load as LoadFiles does; read is asked only for a file whose entry went
// missing or bad, and a read error is an error of the load at that file.
func TestCacheUnread(t *testing.T) {
	files := testRepo(8)
	want, wantErrs := schema.LoadFiles(files, nil)
	c, err := schema.OpenDecodeCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for p := range files {
		ids[p] = fmt.Sprintf("sha1:%040x", len(ids))
	}
	if c.Has("profiles/P00.yaml", ids["profiles/P00.yaml"]) {
		t.Fatal("Has before any load")
	}
	schema.LoadCached(files, nil, ids, c)
	unread := map[string][]byte{}
	for p := range files {
		if !c.Has(p, ids[p]) {
			t.Fatalf("Has(%s) false after the load", p)
		}
		unread[p] = nil
	}
	if c.Has("profiles/P00.yaml", "sha1:ffffffffffffffffffffffffffffffffffffffff") || c.Has("profiles/P00.yaml", "") {
		t.Error("Has of another id, or of no id")
	}
	var reads []string
	read := func(p string) ([]byte, error) {
		reads = append(reads, p)
		if p == "profiles/P03.yaml" {
			return nil, fmt.Errorf("object gone")
		}
		return files[p], nil
	}
	got, gotErrs := schema.LoadCachedReading(unread, nil, ids, c, read)
	sameLoad(t, "unread, all cached", want, wantErrs, got, gotErrs)
	if len(reads) != 0 {
		t.Errorf("read %v, want nothing read", reads)
	}
	// An entry removed since Has: its file is read and decoded. (The load's own entries are
	// written in the background: wait for them, or one written after the removal is found.)
	c.Wait()
	entries, _ := filepath.Glob(filepath.Join(schema.DecodeCacheDir(c), "*.entry"))
	for _, e := range entries {
		os.Remove(e)
	}
	delete(unread, "profiles/P03.yaml")
	delete(ids, "profiles/P03.yaml")
	got, gotErrs = schema.LoadCachedReading(unread, nil, ids, c, read)
	if len(reads) != len(unread) {
		t.Errorf("read %d files, want %d", len(reads), len(unread))
	}
	wantLess, wantLessErrs := schema.LoadFiles(func() map[string][]byte {
		m := map[string][]byte{}
		for p := range unread {
			m[p] = files[p]
		}
		return m
	}(), nil)
	sameLoad(t, "unread, entries gone", wantLess, wantLessErrs, got, gotErrs)
	// A read that fails.
	unread["profiles/P03.yaml"] = nil
	ids["profiles/P03.yaml"] = "sha1:3333333333333333333333333333333333333333"
	_, gotErrs = schema.LoadCachedReading(unread, nil, ids, c, read)
	found := false
	for _, e := range gotErrs {
		found = found || e.Error() == "profiles/P03.yaml: cannot be read: object gone"
	}
	if !found {
		t.Errorf("read error not reported:\n%v", gotErrs)
	}
}
