package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// TestKernelApplyStateNotWritten: a state directory that cannot be written fails apply before
// the transaction (the model file is written first), and apply says nothing was changed. The
// head failing after the commit ("applied but not recorded") is TestHeadNotSavedAfterCommitKernel
// in package reconcile.
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
	// The model file is written before the transaction (decision 4 of issue 11): a state
	// directory that cannot take it fails the pass before the kernel is touched.
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "reconcile").CombinedOutput(); err == nil {
		t.Fatalf("the transaction went in although the state directory cannot be written:\n%s", out)
	}
	last := strings.TrimSpace(errOut)
	if i := strings.LastIndexByte(last, '\n'); i >= 0 {
		last = last[i+1:]
	}
	if !strings.Contains(last, "not applied: its model cannot be written to the state directory") || !strings.HasSuffix(last, "; nothing was changed") {
		t.Errorf("stderr does not end with the model file that cannot be written and nothing was changed:\n%s", errOut)
	}
}
