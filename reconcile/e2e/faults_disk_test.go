package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// A full state directory (a small tmpfs, filled up): the model file of the new ruleset is
// written before the kernel transaction, so apply fails before the kernel changes; the git
// clone that cannot take the new objects is a failed fetch; watch backs off with reason
// disk-full and applies by itself once space is freed.
func TestDiskFullKernel(t *testing.T) {
	h := newGitopsHost(t, "diskfull")
	h.state = testenv.Tmpfs(t, "4m")
	dir := t.TempDir()
	testenv.WriteFiles(t, dir, gitopsFiles(80))
	h.must("apply", "--dir", dir)
	good := h.ruleset()
	if !strings.Contains(good, "dport 80") {
		t.Fatalf("first apply: no port 80:\n%s", good)
	}

	testenv.WriteFiles(t, dir, gitopsFiles(81))
	free := testenv.FillDisk(t, h.state)
	_, errs, code := h.run("apply", "--dir", dir)
	last := lastLine(errs)
	if code != 1 || !strings.HasPrefix(last, "reconcile: revision sha256:") || !strings.Contains(last, "not applied: its model cannot be written to the state directory") ||
		!strings.Contains(last, "no space left on device") || !strings.HasSuffix(last, "; nothing was changed") {
		t.Fatalf("apply on a full state directory: exit %d, stderr:\n%s\nwant exit 1, one line: not applied, no space left on device, nothing was changed", code, errs)
	}
	if strings.Count(errs, "no space left on device") != 1 {
		t.Errorf("the disk-full error is said more than once:\n%s", errs)
	}
	if got := h.ruleset(); got != good {
		t.Fatalf("the kernel changed although the model could not be recorded:\n%s", got)
	}
	// status only reads: it still tells what the kernel holds (the failed attempt itself
	// could not be recorded on the full disk).
	if st := h.status("--dir", dir); !st.InSync || st.LastApplied == nil {
		t.Errorf("status on a full state directory: %+v, want in sync with the revision applied before", st)
	}

	// watch: failures with growing delays and reason disk-full, then space is freed and the
	// next retry applies without any trigger from outside.
	addr := gitopsFreeAddr(t)
	w := h.watch("--dir", dir, "--interval", "1h", "--metrics-addr", addr)
	var delays []string
	from := 0
	for len(delays) < 2 {
		m := w.waitLog("a failed pass", from, 20*time.Second, gitopsMsg("reconcile failed; the last good ruleset stays in the kernel", "stage", "state", "reason", "disk-full"))
		_, i := w.find(from, gitopsMsg("reconcile failed; the last good ruleset stays in the kernel"))
		from = i + 1
		delays = append(delays, logDuration(m["retry_in"]))
	}
	if strings.Join(delays, ",") != "1s,2s" {
		t.Errorf("retry delays %v, want 1s,2s", delays)
	}
	w.waitMetric(5*time.Second, "reconcile_errors_total", []string{`stage="state"`, `reason="disk-full"`}, func(v float64) bool { return v >= 2 }, "at least 2")
	if got := h.ruleset(); got != good {
		t.Fatalf("the kernel changed while the state directory was full:\n%s", got)
	}
	free()
	h.waitPorts(15*time.Second, 81)
	w.waitLog("the retry that applied", from, 5*time.Second, gitopsMsg("applied"))
	w.waitMetric(5*time.Second, "reconcile_last_attempt_success", nil, func(v float64) bool { return v == 1 }, "1")
	w.stop()
	if st := h.status("--dir", dir); !st.InSync || st.LastAttempt == nil || st.LastAttempt.Result != "applied" {
		t.Errorf("status after the recovery: %+v", st)
	}

	// The git clone on a full disk: the fetch cannot write the new objects.
	gittest.RequireGit(t)
	repo := gittest.NewRepo(t, "main")
	repo.Commit("web 82", gitopsFiles(82), "")
	repo.Push()
	url := "file://" + repo.Remote
	h.must("apply", "--repo", url)
	h.assertPorts("apply from git", 82)
	good = h.ruleset()
	files := gitopsFiles(83)
	files["profiles/BIG.yaml"] = "id: BIG\n# " + strings.Repeat("x", 1<<16) + "\n"
	repo.Commit("web 83", files, "")
	repo.Push()
	free = testenv.FillDisk(t, h.state)
	_, errs, code = h.run("apply", "--repo", url)
	last = lastLine(errs)
	if code != 1 || !strings.HasPrefix(last, "reconcile: fetch "+url+": ") || !strings.Contains(last, "no space left on device") || !strings.HasSuffix(last, "; nothing was changed") {
		t.Errorf("apply with a full clone directory: exit %d, stderr:\n%s\nwant a fetch error, no space left on device, nothing was changed", code, errs)
	}
	if got := h.ruleset(); got != good {
		t.Fatalf("the kernel changed although the fetch failed:\n%s", got)
	}
	free()
	h.must("apply", "--repo", url)
	h.assertPorts("apply once space was freed", 83)
}
