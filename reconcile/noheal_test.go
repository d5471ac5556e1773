package reconcile

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// With NoHeal, a kernel that drifted from the ruleset applied last is reported and left
// alone; a new desired ruleset is still applied; without NoHeal the drift is healed.
func TestApplyNoHealLeavesDriftAlone(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	applied := e.kernel(t)
	e.editChain(t, "profile-in-WEB", func(c *nft.Chain) {
		c.Rules = append(c.Rules, &nft.Rule{Counter: true, Verdict: nft.Verdict{Kind: nft.Accept}, Comment: "added by hand"})
	})
	drifted := e.kernel(t)
	if drifted == applied {
		t.Fatal("the hand edit did not change the fake kernel")
	}

	o := e.opts()
	res, err := agentOf(t, o).apply(ctx, true, false) // noHeal, as watch --heal=warn
	if err != nil {
		t.Fatal(err)
	}
	if !res.DriftLeft || res.Result != "no-change" {
		t.Fatalf("NoHeal apply: DriftLeft=%v Result=%v, want drift left alone and no-change", res.DriftLeft, res.Result)
	}
	if got := e.kernel(t); got != drifted {
		t.Fatalf("NoHeal apply changed the kernel:\n%s", got)
	}

	// A new commit's ruleset is applied even with NoHeal (and so replaces the drift).
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": "id: WEB\ntags: [WEB]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [8080]\noutbound_rules:\n  - action: allow\n"})
	res, err = agentOf(t, o).apply(ctx, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.DriftLeft || res.Result != "applied" {
		t.Fatalf("new ruleset with NoHeal: DriftLeft=%v Result=%v, want applied", res.DriftLeft, res.Result)
	}
	newApplied := e.kernel(t)

	// Drift again; a plain apply heals it.
	e.editChain(t, "profile-in-WEB", func(c *nft.Chain) { c.Rules = nil })
	res, err = agentOf(t, e.opts()).Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != "applied" || e.kernel(t) != newApplied {
		t.Fatalf("plain apply did not heal the drift: result %v", res.Result)
	}
}

type stagedErr struct{}

func (stagedErr) Error() string                 { return "history rewritten" }
func (stagedErr) Stage() (stage, reason string) { return "history", "rewind" }

func TestStageOfWrappedCause(t *testing.T) {
	err := stageErr("fetch", "error", fmt.Errorf("fetch x: %w", stagedErr{}))
	if stage, reason := Classify(err); stage != "history" || reason != "rewind" {
		t.Fatalf("Classify = %s/%s, want the cause's own stage history/rewind", stage, reason)
	}
	if stage, reason := Classify(stageErr("fetch", "error", errors.New("connection refused"))); stage != "fetch" || reason != "error" {
		t.Fatalf("Classify = %s/%s, want fetch/error", stage, reason)
	}
}

// onlyDataplane hides the fake's Generation: a dataplane that cannot tell its generation.
type onlyDataplane struct{ nft.Dataplane }

// While nothing is committed in the namespace, a pass does not read the table back; any
// commit (a hand edit, the table deleted) makes the next pass read it, find the drift and heal.
func TestApplySkipsReadBackWhileGenerationUnchanged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	apply := func(step string) *ApplyResult {
		t.Helper()
		res, err := agentOf(t, e.opts()).Apply(ctx)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return res
	}
	apply("first apply")
	applied := e.kernel(t)
	before := e.fake.Observes()
	res := apply("second apply")
	if res.Result != "no-change" || !res.ObserveSkipped || e.fake.Observes() != before {
		t.Fatalf("unchanged generation: result %v, skipped %v, observes %d -> %d; want no-change without a read-back",
			res.Result, res.ObserveSkipped, before, e.fake.Observes())
	}

	e.editChain(t, "profile-in-WEB", func(c *nft.Chain) { c.Rules = nil })
	res = apply("apply after a hand edit")
	if res.ObserveSkipped || res.Result != "applied" || e.kernel(t) != applied {
		t.Fatalf("after a hand edit: skipped %v, result %v; want a read-back that heals the drift", res.ObserveSkipped, res.Result)
	}
	if res := apply("apply after healing"); !res.ObserveSkipped {
		t.Fatal("after healing, the next pass read the table back again")
	}

	e.fake.Delete(nft.DefaultTable)
	if res := apply("apply after the table was deleted"); res.ObserveSkipped || res.Result != "applied" {
		t.Fatalf("after a deleted table: skipped %v, result %v; want it recreated", res.ObserveSkipped, res.Result)
	}

	// A dataplane that cannot tell its generation is always read back.
	o := e.opts()
	o.Dataplane = onlyDataplane{e.fake}
	before = e.fake.Observes()
	res, err := agentOf(t, o).Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.ObserveSkipped || e.fake.Observes() == before {
		t.Fatal("a dataplane without a generation was not read back")
	}
}
