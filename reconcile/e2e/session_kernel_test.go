package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// TestKernelApplyAfterNamespaceRecreated: the state record outlives the namespace (as it
// outlives a reboot) and a fresh namespace's ruleset generation starts again from zero. When
// other commits bring it to the generation the record holds, apply must still find our table
// missing and install it, not report "already applied".
func TestKernelApplyAfterNamespaceRecreated(t *testing.T) {
	t.Parallel()
	ns := testenv.NewNetns(t, "regen")
	repo := t.TempDir()
	testenv.WriteFiles(t, repo, pasRepo)
	stateDir := filepath.Join(t.TempDir(), "state")
	apply := func(step string) string {
		t.Helper()
		out, errOut, code := runReconcile(t, "apply", "--dir", repo, "--host", "node-1", "--netns", ns, "--state-dir", stateDir)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", step, code, out, errOut)
		}
		return out
	}
	apply("first apply")
	b, err := os.ReadFile(filepath.Join(stateDir, "reconcile@"+ns+".state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		LastApplied struct {
			Generation uint32 `json:"generation"`
		} `json:"last_applied"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	want := rec.LastApplied.Generation
	if want == 0 {
		t.Fatal("no generation recorded, so this test checks nothing")
	}

	testenv.Run(t, "ip", "netns", "del", ns)
	testenv.Run(t, "ip", "netns", "add", ns)
	for i := 0; kernelGeneration(t, ns) < want; i++ {
		testenv.Run(t, "ip", "netns", "exec", ns, "nft", "add", "table", "inet", fmt.Sprintf("other%d", i))
	}
	if g := kernelGeneration(t, ns); g != want {
		t.Fatalf("the new namespace is at generation %d, past the recorded %d: cannot set the test up", g, want)
	}

	out := apply("apply in the recreated namespace")
	tables := testenv.Run(t, "ip", "netns", "exec", ns, "nft", "list", "tables")
	if !strings.Contains(tables, "table inet reconcile") {
		t.Fatalf("apply did not install the table in the recreated namespace:\n%s\ntables:\n%s", out, tables)
	}
}
