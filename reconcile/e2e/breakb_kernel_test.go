package e2e

import (
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// A full state directory with nothing to change: the pass has nothing to apply but cannot
// record itself either. It fails (the next pass that has a change could not record it either)
// with one line that says where and what to do, as the model file's case does, not the bare
// write error; the kernel is left alone.
func TestDiskFullNoChangeSaysWhatToDoKernel(t *testing.T) {
	h := newGitopsHost(t, "fullnochg")
	h.state = testenv.Tmpfs(t, "4m")
	dir := t.TempDir()
	testenv.WriteFiles(t, dir, gitopsFiles(80))
	h.must("apply", "--dir", dir)
	good := h.ruleset()
	free := testenv.FillDisk(t, h.state)
	defer free()
	_, errs, code := h.run("apply", "--dir", dir)
	last := lastLine(errs)
	want := `reconcile: the record of this pass cannot be written to the state directory "` + h.state + `" (free space there or choose another --state-dir): `
	if code != 1 || !strings.HasPrefix(last, want) || !strings.Contains(last, "no space left on device") || !strings.HasSuffix(last, "; nothing was changed") {
		t.Fatalf("no-change apply on a full state directory: exit %d, stderr:\n%s\nwant exit 1 and a last line %q…no space left on device…; nothing was changed", code, errs, want)
	}
	if got := h.ruleset(); got != good {
		t.Fatalf("the kernel changed:\n%s", got)
	}
}
