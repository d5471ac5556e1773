package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

// BenchmarkRuleCountersScrape measures what a /metrics scrape costs the rule counter
// collector on a host with 5,000 local endpoints (repogen.Dense(5000), node-1, in a private
// network namespace): the kernel read (one dump of the table's rules), the sums, and the
// whole Gather of the registry with the collector (TTL 0: every scrape reads the kernel).
//
//	go test -run '^$' -bench RuleCountersScrape -benchtime 10x ./reconcile/
func BenchmarkRuleCountersScrape(b *testing.B) {
	testenv.RequireKernel(b)
	files, err := repogen.Dense(5000).Files(1)
	if err != nil {
		b.Fatal(err)
	}
	repo, errs := schema.Load(files)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	rs, err := compile.Compile(repo, compile.Options{Host: "node-1"})
	if err != nil {
		b.Fatal(err)
	}
	ns := testenv.NewNetns(b, "ctrbench")
	k, err := nft.NewKernel(testenv.Open(b, netns.Open, ns))
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()
	if err := k.Apply(ctx, rs); err != nil {
		b.Fatal(err)
	}
	a := agentOf(b, Config{Host: "node-1", Dataplane: k, StateDir: b.TempDir(), Session: "bench"})
	m := NewMetrics()
	if err := m.RegisterRuleCounters(a.ReadCounters, 0, nil); err != nil {
		b.Fatal(err)
	}
	var read, sum, gather time.Duration
	var rules, counters int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		cs, err := k.RuleCounters(ctx, rs.Table)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		r := SumCounters(cs)
		t2 := time.Now()
		if _, err := m.Registry.Gather(); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		read, sum, gather = read+t1.Sub(t0), sum+t2.Sub(t1), gather+t3.Sub(t2)
		rules, counters = len(r.Rules), len(cs)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(read), "ms/read")
	b.ReportMetric(ms(sum), "ms/sum")
	b.ReportMetric(ms(gather), "ms/scrape")
	b.ReportMetric(float64(counters), "counters")
	b.ReportMetric(float64(rules), "profile-rules")
}
