package compile

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
	"github.com/reconcile-dev/reconcile/schema"
)

// BenchmarkHostKeysFleet: the keys of the fleet shape (repogen.Fleet: 400 hosts × 250 local
// endpoints, 2,000 profiles, 2,000 tags) against what they replace, compiling every host (with
// one shared TagIndex, on every core, as validate does; -digest: and the canonical ruleset's
// digest, as the first HostKeys did), and against loading the repository (schema.LoadFiles of
// its 2,400 files) that all of them need first.
//
//	go test -run '^$' -bench HostKeysFleet -benchtime 3x ./reconcile/compile/
func BenchmarkHostKeysFleet(b *testing.B) {
	files, err := repogen.Fleet().Files(1)
	if err != nil {
		b.Fatal(err)
	}
	repo, errs := schema.LoadFiles(files, nil)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	b.Run("keys", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hosts, keys := HostKeys(repo, Options{})
			if len(hosts) != 400 || len(keys) != 400 {
				b.Fatalf("%d hosts, %d keys", len(hosts), len(keys))
			}
		}
	})
	// Compiling every host (validate), and with the canonical digest too (the first HostKeys).
	for _, digest := range []bool{false, true} {
		name := "compile-all"
		if digest {
			name += "-digest"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			hosts, _ := HostKeys(repo, Options{})
			for b.Loop() {
				idx := NewTagIndex(repo)
				var next atomic.Int64
				var wg sync.WaitGroup
				for range runtime.GOMAXPROCS(0) {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := int(next.Add(1) - 1); i < len(hosts); i = int(next.Add(1) - 1) {
							rs, err := Compile(repo, Options{Host: hosts[i], Tags: idx})
							if err != nil {
								b.Error(err)
								return
							}
							if digest {
								_ = rs.Canonical().Digest()
							}
						}
					}()
				}
				wg.Wait()
			}
		})
	}
	b.Run("load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, errs := schema.LoadFiles(files, nil); len(errs) > 0 {
				b.Fatal(errs)
			}
		}
	})
}
