package schema

import (
	"os"
	"testing"
)

// BenchmarkLoadRepo loads the repository directory named by $RECONCILE_BENCH_REPO (e.g. a
// fleet repository of repogen or genrepo.py); skipped without it.
func BenchmarkLoadRepo(b *testing.B) {
	dir := os.Getenv("RECONCILE_BENCH_REPO")
	if dir == "" {
		b.Skip("RECONCILE_BENCH_REPO is not set")
	}
	files, refused, err := ReadRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, f := range files {
		size += len(f)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := LoadFiles(files, refused); errs != nil {
			b.Fatal(errs[0])
		}
	}
}
