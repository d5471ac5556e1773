package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// TestKernelApplyStateNotWritten: when the transaction went in but the state record could not
// be written, apply exits 1 and says so; it must not claim that nothing was changed (the
// kernel holds the new ruleset).
func TestKernelApplyStateNotWritten(t *testing.T) {
	t.Parallel()
	ns := testenv.NewNetns(t, "stw")
	repo := t.TempDir()
	testenv.WriteFiles(t, repo, pasRepo)
	// A dangling symbolic link: loading finds no record (a first apply), saving cannot create
	// the directory.
	stateDir := filepath.Join(t.TempDir(), "state")
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone", "state"), stateDir); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runReconcile(t, "apply", "--dir", repo, "--host", "node-1", "--netns", ns, "--state-dir", stateDir)
	if code != 1 {
		t.Fatalf("apply with an unwritable state directory: exit %d, want 1\n%s%s", code, out, errOut)
	}
	table := testenv.Run(t, "ip", "netns", "exec", ns, "nft", "list", "table", "inet", "reconcile")
	if !strings.Contains(table, `comment "WEB inbound 1"`) {
		t.Fatalf("the transaction did not go in, so this test checks nothing:\n%s", table)
	}
	if !strings.Contains(errOut, "was applied but not recorded") {
		t.Errorf("stderr does not say the revision was applied but not recorded:\n%s", errOut)
	}
	if strings.Contains(errOut, "nothing was changed") {
		t.Errorf("stderr claims nothing was changed, but the kernel holds the new ruleset:\n%s", errOut)
	}
}
