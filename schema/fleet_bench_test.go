package schema

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
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
	before := cpuTime()
	var repo *Repository
	for b.Loop() {
		var errs Errors
		if repo, errs = LoadFiles(files, refused); errs != nil {
			b.Fatal(errs[0])
		}
	}
	// CPU time (user + system) per load: on a shared machine, a steadier figure than the time.
	b.ReportMetric((cpuTime()-before).Seconds()/float64(b.N), "cpu-s/op")
	// The heap the repository (and the files) hold after a load.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	runtime.KeepAlive(repo)
	runtime.KeepAlive(files)
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoadRepoCache loads $RECONCILE_BENCH_REPO through a decode cache: cold (an empty
// cache, every entry written) and warm after a one-file change (one file decoded).
func BenchmarkLoadRepoCache(b *testing.B) {
	dir := os.Getenv("RECONCILE_BENCH_REPO")
	if dir == "" {
		b.Skip("RECONCILE_BENCH_REPO is not set")
	}
	files, refused, err := ReadRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	var one string
	for p := range files {
		if FileKind(p) == KindEndpoints && (one == "" || p < one) {
			one = p
		}
	}
	b.Run("cold", func(b *testing.B) {
		before := cpuTime()
		for b.Loop() {
			c, err := OpenDecodeCache(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			if _, errs := LoadCached(files, refused, nil, c); errs != nil {
				b.Fatal(errs[0])
			}
			c.Wait() // the entries, written in the background, are part of a cold load
		}
		b.ReportMetric((cpuTime()-before).Seconds()/float64(b.N), "cpu-s/op")
	})
	b.Run("warm-one-file-changed", func(b *testing.B) {
		c, err := OpenDecodeCache(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		LoadCached(files, refused, nil, c)
		orig := files[one]
		i := 0
		before := cpuTime()
		for b.Loop() {
			i++
			files[one] = append(append([]byte(nil), orig...), fmt.Sprintf("# edit %d\n", i)...)
			if _, errs := LoadCached(files, refused, nil, c); errs != nil {
				b.Fatal(errs[0])
			}
			if s := c.Stats(); s.Misses != 1 {
				b.Fatalf("%+v", s)
			}
		}
		b.ReportMetric((cpuTime()-before).Seconds()/float64(b.N), "cpu-s/op")
		files[one] = orig
	})
}
