package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// processIn starts `ip netns exec ns sleep 60` and returns its pid once the process is inside
// ns (so that /proc/PID/ns/net is ns); the process is killed when the test ends.
func processIn(t *testing.T, ns string) int {
	t.Helper()
	c := exec.Command("ip", "netns", "exec", ns, "sleep", "60")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	want := testenv.Open(t, netns.Open, ns)
	path := fmt.Sprintf("/proc/%d/ns/net", c.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if h, err := netns.Open(path); err == nil {
			same := h.Same(want)
			_ = h.Close()
			if same {
				return c.Process.Pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not enter network namespace %s", path, ns)
		}
	}
}

// spelled runs the binary with the host's flags but the namespace spelled as netnsArg: a
// name or path for --netns, or "" to run it inside the namespace (`ip netns exec NAME
// reconcile ...`) without --netns.
func (h *gitopsHost) spelled(netnsArg, cmd string, extra ...string) (string, string, int) {
	h.t.Helper()
	args := append([]string{cmd, "--host", "node-1", "--state-dir", h.state}, extra...)
	if netnsArg == "" {
		return h.exec("ip", append([]string{"netns", "exec", h.ns, h.bin}, args...)...)
	}
	return h.exec(h.bin, append(args, "--netns", netnsArg)...)
}

// stateFiles lists the state records (*.state.json) in the state directory.
func (h *gitopsHost) stateFiles() []string {
	h.t.Helper()
	entries, err := os.ReadDir(h.state)
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".state.json") {
			names = append(names, e.Name())
		}
	}
	return names
}

// --netns NAME, --netns /run/netns/NAME, --netns /proc/PID/ns/net (PID inside NAME) and `ip
// netns exec NAME reconcile` without --netns are one namespace: one state record, so each
// sees what another applied (issue 8: the pid spelling used to write a second record, so
// status through it said "never applied").
func TestGitOpsNetnsSpellingsShareOneRecord(t *testing.T) {
	t.Parallel()
	h := newGitopsHost(t, "gspell")
	byPid := fmt.Sprintf("/proc/%d/ns/net", processIn(t, h.ns))
	r := gittest.NewRepo(t, "main")
	first := r.Commit("web: 80", gitopsFiles(80), "")
	r.Push()
	record := "reconcile@" + h.ns + ".state.json"

	if out, errs, code := h.spelled(h.ns, "apply", "--repo", r.Remote); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply --netns %s: exit %d\n%s%s", h.ns, code, out, errs)
	}
	status := func(netnsArg string) gitopsStatus {
		t.Helper()
		out, errs, code := h.spelled(netnsArg, "status", "-o", "json", "--repo", r.Remote)
		var st gitopsStatus
		if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
			t.Fatalf("status --netns %q: exit %d, %v\n%s%s", netnsArg, code, err, out, errs)
		}
		return st
	}
	for _, spelling := range []string{byPid, "/run/netns/" + h.ns, ""} {
		st := status(spelling)
		if !st.InSync || !st.UpToDate || st.LastApplied == nil || st.LastApplied.Commit != first {
			t.Errorf("status through %q after apply --netns %s: %+v, want in sync at commit %s", spelling, h.ns, st, first)
		}
		out, errs, code := h.spelled(spelling, "apply", "--repo", r.Remote)
		if want := "No changes. Revision main@sha1:" + first + " already applied."; code != 0 || !strings.Contains(out, want) {
			t.Errorf("apply through %q: exit %d, want %q:\n%s%s", spelling, code, want, out, errs)
		}
		if got := h.stateFiles(); len(got) != 1 || got[0] != record {
			t.Errorf("after apply through %q the state directory holds %q, want one record %q", spelling, got, record)
		}
	}

	// And the other way round: a revision applied through the pid is in sync by name.
	second := r.Commit("web: 80 443", gitopsFiles(80, 443), "")
	r.Push()
	if out, errs, code := h.spelled(byPid, "apply", "--repo", r.Remote); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply --netns %s: exit %d\n%s%s", byPid, code, out, errs)
	}
	if st := h.status("--repo", r.Remote); !st.InSync || !st.UpToDate || st.LastApplied == nil || st.LastApplied.Commit != second {
		t.Errorf("status --netns %s after apply --netns %s: %+v, want in sync at commit %s", h.ns, byPid, st, second)
	}
	if got := h.stateFiles(); len(got) != 1 || got[0] != record {
		t.Errorf("the state directory holds %q, want one record %q", got, record)
	}
}

// The state record of a namespace does not move when the namespace gains or loses a name: it
// holds the commit applied last, and a record that moved would let an older commit through
// the rewind check (found by a hostile pass: with a second name sorting first, `apply --ref
// <older>` said "No changes ... applied" instead of refusing the rewind).
func TestGitOpsRecordSurvivesNamesComingAndGoing(t *testing.T) {
	t.Parallel()
	h := newGitopsHost(t, "gnames")
	pid := processIn(t, h.ns)
	r := gittest.NewRepo(t, "main")
	older := r.Commit("web: 80", gitopsFiles(80), "")
	newer := r.Commit("web: 80 443", gitopsFiles(80, 443), "")
	r.Push()
	if out, errs, code := h.spelled(h.ns, "apply", "--repo", r.Remote); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	rewindRefused := func(step, netnsArg string) {
		t.Helper()
		out, errs, code := h.spelled(netnsArg, "apply", "--repo", r.Remote, "--ref", older)
		if code != 1 || !strings.Contains(errs, "--allow-rewind") {
			t.Errorf("%s: apply --ref %s (older than the applied %s) through %q: exit %d, want the rewind refused:\n%s%s", step, older[:7], newer[:7], netnsArg, code, out, errs)
		}
	}
	rewindRefused("one name", h.ns)

	// A second name that sorts before the first.
	first := "a" + h.ns
	testenv.Run(t, "ip", "netns", "attach", first, fmt.Sprint(pid))
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", first).Run() })
	rewindRefused("a second name", first)
	rewindRefused("a second name", h.ns)

	// The name the record was written under goes away.
	testenv.Run(t, "ip", "netns", "delete", h.ns)
	rewindRefused("the first name gone", first)
	out, errs, code := h.exec(h.bin, "status", "--host", "node-1", "--state-dir", h.state, "--netns", first, "--repo", r.Remote)
	if code != 0 || !strings.Contains(out, "In sync") {
		t.Errorf("status --netns %s after the name %s was deleted: exit %d, want in sync:\n%s%s", first, h.ns, code, out, errs)
	}
	if got := h.stateFiles(); len(got) != 1 {
		t.Errorf("the state directory holds %q, want the one record", got)
	}
}

// A process's own namespace (no --netns), unnamed when its record was written and named
// later (`ip netns attach`), keeps its record.
func TestOwnNamespaceNamedLaterKeepsItsRecord(t *testing.T) {
	t.Parallel()
	testenv.RequireKernel(t)
	bin, state := reconcileBin(t), t.TempDir()
	c := exec.Command("unshare", "--net", "sleep", "60")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	nsPath := fmt.Sprintf("/proc/%d/ns/net", c.Process.Pid)
	own := testenv.Open(t, netns.Open, "")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if h, err := netns.Open(nsPath); err == nil {
			differs := !h.Same(own)
			_ = h.Close()
			if differs {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("unshare did not enter a new network namespace")
		}
	}
	repo := t.TempDir()
	testenv.WriteFiles(t, repo, gitopsFiles(80))
	inside := func(args ...string) (string, string, int) {
		t.Helper()
		full := append([]string{"--net=" + nsPath, bin}, append(args, "--host", "node-1", "--state-dir", state, "--dir", repo)...)
		cmd := exec.Command("nsenter", full...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	if out, errs, code := inside("apply"); code != 0 || !strings.Contains(out, "Apply complete!") {
		t.Fatalf("apply inside the unnamed namespace: exit %d\n%s%s", code, out, errs)
	}
	name := fmt.Sprintf("rt%d-later", os.Getpid())
	testenv.Run(t, "ip", "netns", "attach", name, fmt.Sprint(c.Process.Pid))
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	if out, errs, code := inside("status"); code != 0 || !strings.Contains(out, "In sync") {
		t.Errorf("status inside the namespace after it was named %s: exit %d, want in sync:\n%s%s", name, code, out, errs)
	}
	out, errs, code := runReconcile(t, "status", "--host", "node-1", "--state-dir", state, "--dir", repo, "--netns", name)
	if code != 0 || !strings.Contains(out, "In sync") {
		t.Errorf("status --netns %s: exit %d, want in sync:\n%s%s", name, code, out, errs)
	}
}
