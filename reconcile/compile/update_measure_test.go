package compile_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

// BenchmarkUpdateMeasure times, on the table compiled from a large repository for node-1, an
// Update of one tag element plus one profile chain refilled against a Replace of the same
// table, in a private namespace, and logs the numbers (no timed assertion: the machine is
// shared). It proves the result too: the table reads back as desired. Opt-in:
//
//	RECONCILE_DELTA_REPO=/tmp/i10/dn5000 go test -run ^$ -bench BenchmarkUpdateMeasure -benchtime 1x -v ./reconcile/compile/
func BenchmarkUpdateMeasure(t *testing.B) {
	dir := os.Getenv("RECONCILE_DELTA_REPO")
	if dir == "" {
		t.Skip("set RECONCILE_DELTA_REPO=<repository directory> to measure Update against Replace")
	}
	testenv.RequireKernel(t)
	ctx := context.Background()
	files, refused, err := schema.ReadRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	repo, errs := schema.LoadFiles(files, refused)
	if len(errs) > 0 {
		t.Fatalf("%d errors, first: %v", len(errs), errs[0])
	}
	host := os.Getenv("RECONCILE_DELTA_HOST")
	if host == "" {
		host = "node-1"
	}
	compiled, err := compile.Compile(repo, compile.Options{Host: host, Table: "measure"})
	if err != nil {
		t.Fatal(err)
	}
	base := compiled.Canonical()
	desired := base.Canonical()
	// One more member of the first v4 tag set, at an address no member covers.
	var tagged string
	for _, s := range desired.Sets {
		if s.Type != nft.SetIPv4 || len(s.Prefixes) == 0 {
			continue
		}
		for a := netip.MustParseAddr("198.19.255.254"); ; a = a.Prev() {
			p := netip.PrefixFrom(a, 32)
			if !slices.ContainsFunc(s.Prefixes, p.Overlaps) {
				s.Prefixes = append(s.Prefixes, p)
				break
			}
		}
		tagged = s.Name
		break
	}
	// One profile chain rewritten (every comment changed: a flush and refill).
	var refilled string
	for _, c := range desired.Chains {
		if strings.HasPrefix(c.Name, "profile-") && len(c.Rules) >= 4 {
			for i, r := range c.Rules {
				r.Comment = fmt.Sprintf("rewritten %d", i)
			}
			refilled = c.Name
			break
		}
	}
	desired = desired.Canonical()
	rules := 0
	for _, c := range base.Chains {
		rules += len(c.Rules)
	}
	t.Logf("table: %d chains, %d rules, %d sets, %d maps; edit: set %q +1 address, chain %q refilled",
		len(base.Chains), rules, len(base.Sets), len(base.Maps), tagged, refilled)

	ns := testenv.NewNetns(t, "measure")
	k, err := nft.NewKernel(testenv.Open(t, netns.Open, ns))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	gen := func() uint32 {
		g, err := k.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	var replaces, updates, diffs []time.Duration
	start := time.Now()
	if _, err := k.Replace(ctx, base, gen()); err != nil {
		t.Fatal(err)
	}
	replaces = append(replaces, time.Since(start))
	from, to := base, desired
	var stats nft.DeltaStats
	for i := 0; i < 6; i++ {
		start := time.Now()
		dl, err := nft.Diff(to, from)
		if err != nil {
			t.Fatal(err)
		}
		diffs = append(diffs, time.Since(start))
		g := gen()
		start = time.Now()
		res, err := k.Update(ctx, to, from, g)
		if err != nil {
			t.Fatal(err)
		}
		updates = append(updates, time.Since(start))
		if res.Generation != g+1 || res.Stats != dl.Stats {
			t.Fatalf("Update result %+v, want generation %d and the Delta's stats %+v", res, g+1, dl.Stats)
		}
		stats = res.Stats
		from, to = to, from
	}
	got, err := k.Observe(ctx, "measure")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, from) {
		t.Fatalf("after the Updates the table is not the last desired model")
	}
	for i := 0; i < 2; i++ {
		start := time.Now()
		if _, err := k.Replace(ctx, desired, gen()); err != nil {
			t.Fatal(err)
		}
		replaces = append(replaces, time.Since(start))
	}
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	t.Logf("stats of one Update: %+v", stats)
	t.Logf("Replace: median %v of %v", med(replaces), replaces)
	t.Logf("Update (Diff included): median %v of %v", med(updates), updates)
	t.Logf("Diff alone: median %v of %v", med(diffs), diffs)
	t.Logf("Replace / Update = %.0f", float64(med(replaces))/float64(med(updates)))
}

// BenchmarkDiff is Diff of the measured edit (see BenchmarkUpdateMeasure), without the kernel.
func BenchmarkDiff(b *testing.B) {
	dir := os.Getenv("RECONCILE_DELTA_REPO")
	if dir == "" {
		b.Skip("set RECONCILE_DELTA_REPO=<repository directory>")
	}
	files, refused, err := schema.ReadRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	repo, _ := schema.LoadFiles(files, refused)
	compiled, err := compile.Compile(repo, compile.Options{Host: "node-1", Table: "measure"})
	if err != nil {
		b.Fatal(err)
	}
	base := compiled.Canonical()
	desired := base.Canonical()
	desired.Sets[0].Prefixes = append(desired.Sets[0].Prefixes, netip.MustParsePrefix("198.19.255.254/32"))
	b.ResetTimer()
	for range b.N {
		if _, err := nft.Diff(desired, base); err != nil {
			b.Fatal(err)
		}
	}
}
