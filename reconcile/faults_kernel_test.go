package reconcile

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// kernelTable lists table inet reconcile in the namespace ns ("" when there is none).
func kernelTable(t *testing.T, ns string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "reconcile").CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

// The state head cannot be written after the commit (the state directory fills up exactly
// between: the afterCommit hook, as no filesystem can be made to fail at that moment on
// demand): the pass says the revision was applied but not recorded (stage state, reason
// disk-full); the next pass, with space again, reads the kernel in full (the recorded
// generation no longer matches), finds it holding the desired ruleset and records it without
// changing the kernel.
func TestHeadNotSavedAfterCommitKernel(t *testing.T) {
	ns := testenv.NewNetns(t, "headfull")
	stateDir := testenv.Tmpfs(t, "2m")
	repo := t.TempDir()
	testenv.WriteFiles(t, repo, labRepo)
	cfg := Config{Source: source.Dir{Path: repo}, Host: "node-1", Netns: ns, StateDir: stateDir, Session: "s"}
	ctx := context.Background()
	if res, err := agentOf(t, cfg).Apply(ctx); err != nil || res.Result != Applied {
		t.Fatalf("first apply: %v", err)
	}
	before := kernelTable(t, ns)
	testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": strings.Replace(labRepo["profiles/WEB.yaml"], "443", "8443", 1)})

	a := agentOf(t, cfg)
	var free func()
	a.afterCommit = func() { free = testenv.FillDisk(t, stateDir) }
	res, err := a.Apply(ctx)
	if free == nil {
		t.Fatalf("the hook did not run: %v", err)
	}
	stage, reason := Classify(err)
	if err == nil || !strings.HasPrefix(err.Error(), "revision "+res.Snapshot.Revision+" was applied but not recorded: ") ||
		!strings.Contains(err.Error(), "no space left on device") || stage != "state" || reason != "disk-full" {
		t.Fatalf("apply with the head unwritable: %v (%s/%s), want applied but not recorded, state/disk-full", err, stage, reason)
	}
	if res.Result != Applied || strings.Contains(err.Error(), "\n") {
		t.Errorf("result %v, error on one line: %q", res.Result, err)
	}
	applied := kernelTable(t, ns)
	if applied == before || !strings.Contains(applied, "8443") {
		t.Fatalf("the kernel does not hold the new ruleset:\n%s", applied)
	}
	rec, lerr := state.Load(stateDir, "reconcile", ns)
	if lerr != nil || rec.LastApplied == nil || rec.LastApplied.Revision == res.Snapshot.Revision {
		t.Fatalf("the record after the failed save: %v %+v, want the revision before", lerr, rec)
	}

	free()
	b := agentOf(t, cfg)
	gen := b.generation(ctx)
	res2, err := b.Apply(ctx)
	if err != nil || res2.Result != NoChange || res2.AlreadyApplied || res2.ObserveSkipped || res2.Fast {
		t.Fatalf("the next pass: %v, result %v already %v skipped %v fast %v; want the table read in full and recorded, no change", err, res2 != nil && res2.Result != "", res2.AlreadyApplied, res2.ObserveSkipped, res2.Fast)
	}
	if g := b.generation(ctx); g != gen || kernelTable(t, ns) != applied {
		t.Errorf("the recording pass changed the kernel: generation %d -> %d", gen, g)
	}
	rec, lerr = state.Load(stateDir, "reconcile", ns)
	if lerr != nil || rec.LastApplied == nil || rec.LastApplied.Revision != res.Snapshot.Revision || rec.LastApplied.Generation != gen {
		t.Fatalf("the record after the next pass: %v %+v, want revision %s at generation %d", lerr, rec.LastApplied, res.Snapshot.Revision, gen)
	}
	if st, err := agentOf(t, cfg).Status(ctx); err != nil || !st.InSync() {
		t.Errorf("status: %v in sync %v", err, st != nil && st.InSync())
	}
}
