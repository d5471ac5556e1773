package reconcile

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// kernelPlane is a faultPlane over the real kernel in a private namespace, with the Config of
// an Agent using it on labRepo.
func kernelPlane(t *testing.T) (p *faultPlane, cfg Config, ns, repo string) {
	t.Helper()
	testenv.RequireKernel(t)
	ns = testenv.NewNetns(t, "underneath")
	k, err := nft.NewKernel(testenv.Open(t, netns.Open, ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	repo = t.TempDir()
	testenv.WriteFiles(t, repo, labRepo)
	p = &faultPlane{dp: k}
	cfg = Config{Source: source.Dir{Path: repo}, Host: "node-1", StateDir: filepath.Join(t.TempDir(), "state"), Netns: ns, Dataplane: p, Session: "test"}
	return p, cfg, ns, repo
}

// tableOf reads table inet reconcile from the kernel of p.
func tableOf(t *testing.T, p *faultPlane) *nft.Ruleset {
	t.Helper()
	rs, err := p.dp.Observe(context.Background(), nft.DefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestKernelTableChangedUnderneath: our own table edited by `nft` exactly between the pass's
// read and its transaction (a rule added to one of our chains, then an element deleted from
// one of our sets), for a change in place and for a replace (--full): the kernel refuses the
// guarded batch, the pass reads the table again and sends the change guarded by the new
// generation; the kernel then holds exactly the desired ruleset (the hand edits gone) at the
// generation recorded.
func TestKernelTableChangedUnderneath(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("full=%v", full), func(t *testing.T) {
			p, cfg, ns, repo := kernelPlane(t)
			ctx := context.Background()
			if _, err := agentOf(t, cfg).Apply(ctx); err != nil {
				t.Fatal(err)
			}
			testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": strings.Replace(labRepo["profiles/WEB.yaml"], "dst_ports: [80, 443]", "dst_ports: [8080, 443]", 1)})
			edits := [][]string{
				{"add", "rule", "inet", "reconcile", "profile-in-WEB", "tcp", "dport", "9", "drop"},
				{"delete", "element", "inet", "reconcile", "tag-v4-APP_7890", "{ 198.18.1.2/31 }"},
			}
			p.calls = nil
			p.commit = func(n int) {
				if n <= len(edits) {
					testenv.NetnsRun(t, ns, "nft", edits[n-1]...)
				}
			}
			cfg.Full = full
			res, err := agentOf(t, cfg).Apply(ctx)
			if err != nil {
				t.Fatalf("apply: %v (calls %q)", err, p.calls)
			}
			p.guarded(t)
			if len(p.calls) != 3 {
				t.Errorf("calls %q, want two refused by the edits in between, then one through", p.calls)
			}
			got := tableOf(t, p)
			if d := plan.Diff(res.Desired, got); !d.Empty() {
				t.Errorf("the kernel does not hold the desired ruleset: %s", d.Summary())
			}
			rec, err := state.Load(cfg.StateDir, nft.DefaultTable, ns)
			if err != nil {
				t.Fatal(err)
			}
			gen, _ := p.dp.Generation(ctx)
			if rec.LastApplied == nil || rec.LastApplied.Generation != gen || rec.LastApplied.RulesetDigest != res.Digest {
				t.Errorf("recorded %+v, want the desired ruleset at generation %d", rec.LastApplied, gen)
			}
		})
	}
}

// TestKernelOutcomeUnknownResolved: the answer to a batch the kernel committed is lost
// (ENOBUFS after it went out): the pass reads the table back, finds the desired ruleset, and
// records it as applied. The answer to a batch the kernel refused (a commit of someone else in
// between: our table left alone, or edited by that someone) is lost: the pass fails with
// reason netlink and says what the read-back found; nothing is recorded as applied.
func TestKernelOutcomeUnknownResolved(t *testing.T) {
	for _, tc := range []struct {
		name  string
		other []string // the commit in between (nil: none, the batch is committed)
		found string
	}{
		{"committed", nil, ""},
		{"refused", []string{"add", "table", "inet", "racer"}, "; read back, the table still holds what it held before"},
		{"refused, our table edited", []string{"add", "rule", "inet", "reconcile", "profile-in-WEB", "tcp", "dport", "9", "drop"},
			"; read back, the table holds neither the desired ruleset nor the one it held before (another writer changed it)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, cfg, ns, repo := kernelPlane(t)
			cfg.Metrics = NewMetrics()
			ctx := context.Background()
			if _, err := agentOf(t, cfg).Apply(ctx); err != nil {
				t.Fatal(err)
			}
			prev, err := state.Load(cfg.StateDir, nft.DefaultTable, ns)
			if err != nil {
				t.Fatal(err)
			}
			testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": strings.Replace(labRepo["profiles/WEB.yaml"], "dst_ports: [80, 443]", "dst_ports: [8080, 443]", 1)})
			p.calls = nil
			p.unknown = func(int) bool { return true }
			if tc.other != nil {
				p.commit = func(int) { testenv.NetnsRun(t, ns, "nft", tc.other...) }
			}
			res, err := agentOf(t, cfg).Apply(ctx)
			rec, lerr := state.Load(cfg.StateDir, nft.DefaultTable, ns)
			if lerr != nil {
				t.Fatal(lerr)
			}
			recovered := metricValue(t, cfg.Metrics, "reconcile_recoveries_total", "kind", RecoveryOutcomeUnknownResolved)
			if tc.other == nil {
				if err != nil || res.Result != state.Applied || recovered != 1 {
					t.Fatalf("apply: %v, result %v, recoveries %v", err, res.Result, recovered)
				}
				gen, _ := p.dp.Generation(ctx)
				if d := plan.Diff(res.Desired, tableOf(t, p)); !d.Empty() || rec.LastApplied.Generation != gen || rec.LastApplied.RulesetDigest != res.Digest {
					t.Errorf("drift %s; recorded %+v at generation %d", d.Summary(), rec.LastApplied, gen)
				}
				return
			}
			stage, reason := Classify(err)
			if err == nil || stage != "apply" || reason != "netlink" || !strings.HasSuffix(err.Error(), tc.found) || recovered != 0 {
				t.Fatalf("apply: %v (%s/%s), recoveries %v; want apply/netlink ending %q", err, stage, reason, recovered, tc.found)
			}
			if rec.LastApplied.RulesetDigest != prev.LastApplied.RulesetDigest || rec.LastApplied.Generation != prev.LastApplied.Generation || rec.LastAttempt.Result != state.Failed {
				t.Errorf("recorded %+v / %+v, want the previous revision and a failed attempt", rec.LastApplied, rec.LastAttempt)
			}
		})
	}
}
