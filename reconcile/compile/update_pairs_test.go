package compile_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

// deltaPair is one (base, desired) pair of compiled rulesets.
type deltaPair struct {
	name          string
	base, desired *nft.Ruleset
}

// repogenPairs compiles generated repositories (fixed seeds) into pairs of rulesets of one
// table: two hosts of a repository (both ways), the same host of two repositories, and a host
// of a repository before and after one of its files is removed (both ways).
func repogenPairs(t *testing.T, seeds int) []deltaPair {
	const table = "rg"
	compileAll := func(files map[string][]byte, hosts []string) map[string]*nft.Ruleset {
		repo, errs := schema.Load(files)
		if errs != nil {
			return nil
		}
		out := map[string]*nft.Ruleset{}
		for _, h := range hosts {
			rs, err := compile.Compile(repo, compile.Options{Host: h, Table: table})
			if err != nil {
				t.Fatalf("compile %q: %v", h, err)
			}
			out[h] = rs
		}
		return out
	}
	var pairs []deltaPair
	var prev *nft.Ruleset
	for seed := range uint64(seeds) {
		r := repogen.Generate(repogen.FromSeed(seed))
		if len(r.Hosts) == 0 {
			continue
		}
		byHost := compileAll(r.Files, r.Hosts)
		if byHost == nil {
			continue
		}
		h0 := r.Hosts[0]
		for i := 0; i+1 < len(r.Hosts); i++ {
			a, b := byHost[r.Hosts[i]], byHost[r.Hosts[i+1]]
			pairs = append(pairs,
				deltaPair{fmt.Sprintf("seed %d host %s to %s", seed, r.Hosts[i], r.Hosts[i+1]), a, b},
				deltaPair{fmt.Sprintf("seed %d host %s to %s", seed, r.Hosts[i+1], r.Hosts[i]), b, a})
		}
		if prev != nil {
			pairs = append(pairs, deltaPair{fmt.Sprintf("seed %d to %d", seed-1, seed), prev, byHost[h0]})
		}
		prev = byHost[h0]
		// One file removed: the first whose removal still validates.
		paths := slices.Sorted(maps.Keys(r.Files))
		for i := range paths {
			p := paths[(int(seed)+i)%len(paths)]
			files := maps.Clone(r.Files)
			delete(files, p)
			if after := compileAll(files, []string{h0}); after != nil {
				pairs = append(pairs,
					deltaPair{fmt.Sprintf("seed %d host %s without %s", seed, h0, p), byHost[h0], after[h0]},
					deltaPair{fmt.Sprintf("seed %d host %s with %s back", seed, h0, p), after[h0], byHost[h0]})
				break
			}
		}
	}
	return pairs
}

type deltaDataplane interface {
	nft.Dataplane
	nft.Updater
	nft.Generationer
}

// runRepogenPairs applies each pair as Replace(base) then Update(desired, base, gen) and
// checks that the table reads back as desired. It returns the Delta statistics summed.
func runRepogenPairs(t *testing.T, dp deltaDataplane, pairs []deltaPair) (nft.DeltaStats, int) {
	ctx := context.Background()
	var sum nft.DeltaStats
	full := 0
	for _, p := range pairs {
		if _, err := dp.Replace(ctx, p.base, 0); err != nil {
			t.Fatalf("%s: Replace: %v", p.name, err)
		}
		gen, err := dp.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res, err := dp.Update(ctx, p.desired, p.base, gen)
		if errors.Is(err, nft.ErrNeedsFull) {
			full++
			continue
		}
		if err != nil {
			t.Fatalf("%s: Update: %v\nbase:\n%s\ndesired:\n%s", p.name, err, p.base, p.desired)
		}
		got, err := dp.Observe(ctx, p.desired.Table)
		if err != nil {
			t.Fatal(err)
		}
		if want := p.desired.Canonical(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: after Update the table is not desired:\n%s\n--- want\n%s\n--- base\n%s", p.name, got, want, p.base)
		}
		st := res.Stats
		sum.RulesAdded += st.RulesAdded
		sum.RulesDeleted += st.RulesDeleted
		sum.RulesReplaced += st.RulesReplaced
		sum.ChainsAdded += st.ChainsAdded
		sum.ChainsDeleted += st.ChainsDeleted
		sum.ChainsFlushed += st.ChainsFlushed
		sum.ElementsAdded += st.ElementsAdded
		sum.ElementsDeleted += st.ElementsDeleted
		sum.SetsAdded += st.SetsAdded
		sum.SetsDeleted += st.SetsDeleted
	}
	return sum, full
}

// TestUpdateRepogenPairs runs pairs of rulesets compiled from generated repositories through
// Update on the fake and on the kernel: every pair that can be made in place must read back
// as desired, and the pairs must exercise every kind of edit.
func TestUpdateRepogenPairs(t *testing.T) {
	pairs := repogenPairs(t, 24)
	check := func(t *testing.T, sum nft.DeltaStats, full int) {
		t.Logf("%d pairs, %d need a full replace; summed stats %+v", len(pairs), full, sum)
		if len(pairs) < 20 || full > len(pairs)/2 {
			t.Errorf("%d pairs, %d of them not in place: the test is too weak", len(pairs), full)
		}
		if sum.RulesReplaced == 0 || sum.RulesDeleted == 0 || sum.ChainsAdded == 0 || sum.ChainsDeleted == 0 ||
			sum.ElementsAdded == 0 || sum.ElementsDeleted == 0 || sum.ChainsFlushed == 0 {
			t.Errorf("the pairs miss a kind of edit: %+v", sum)
		}
	}
	t.Run("fake", func(t *testing.T) {
		sum, full := runRepogenPairs(t, nft.NewFake(), pairs)
		check(t, sum, full)
	})
	t.Run("kernel", func(t *testing.T) {
		testenv.RequireKernel(t)
		ns := testenv.NewNetns(t, "rgdelta")
		k, err := nft.NewKernel(testenv.Open(t, netns.Open, ns))
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		sum, full := runRepogenPairs(t, k, pairs)
		check(t, sum, full)
	})
}
