package nft

import (
	"context"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// The kernel's ruleset generation moves on every committed change in the namespace (ours or
// anybody's) and stays put otherwise; reconcile relies on that to skip read-backs.
func TestKernelGeneration(t *testing.T) {
	ns := testenv.NewNetns(t, "gen")
	k, err := NewKernel(testenv.Open(t, netns.Open, ns))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()
	gen := func() uint32 {
		t.Helper()
		g, err := k.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g0 := gen()
	rs := &Ruleset{Table: "rtgen", Chains: []*Chain{{Name: "c", Rules: []*Rule{{Counter: true, Verdict: Verdict{Kind: Accept}}}}}}
	if err := k.Apply(ctx, rs); err != nil {
		t.Fatal(err)
	}
	g1 := gen()
	if g1 == g0 {
		t.Fatalf("generation %d did not move on after an apply", g1)
	}
	if _, err := k.Observe(ctx, "rtgen"); err != nil {
		t.Fatal(err)
	}
	if g := gen(); g != g1 {
		t.Fatalf("reading the table moved the generation from %d to %d", g1, g)
	}
	testenv.NetnsRun(t, ns, "nft", "add", "table", "inet", "someone-else")
	if g := gen(); g == g1 {
		t.Fatalf("a foreign table did not move the generation (%d)", g)
	}
	var _ Generationer = k
	var _ Generationer = NewFake()
}
