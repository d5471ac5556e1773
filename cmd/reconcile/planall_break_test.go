package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A directory in the current directory named like a revision (main/ beside --against main) is
// ambiguous: refused, as git refuses it, instead of silently planning against the directory
// (an empty main/ made every host look new). ./main is the directory; refs/heads/main, the
// commit hash and a name that is only a revision are the revision.
func TestPlanAgainstDirectoryNamedLikeRevision(t *testing.T) {
	r, mainCommit := fleetRepo(t, "")
	cwd := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cwd, "main"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)
	for _, args := range [][]string{{"--all-hosts"}, {"--host", "node-3"}} {
		a := append([]string{"plan", "--dir", r.Work, "--state-dir", "", "--against", "main"}, args...)
		out, errs, code := runCLI(a...)
		if code != 1 || out != "" || !strings.Contains(errs, `--against "main": both a directory and a revision of the git repository at `+r.Work+": write ./main for the directory") {
			t.Errorf("%v: exit %d, stdout %.200q, stderr %q; want the ambiguity refused", a, code, out, errs)
		}
	}
	// The directory spelled as a path: an empty base, every host is new.
	out, errs, code := runCLI("plan", "--all-hosts", "--dir", r.Work, "--state-dir", "", "--against", "./main")
	if code != 0 || !strings.Contains(out, "20 of 20 hosts change") {
		t.Errorf("--against ./main: exit %d\n%s%s", code, out, errs)
	}
	for _, rev := range []string{"refs/heads/main", mainCommit} {
		out, errs, code := runCLI("plan", "--all-hosts", "--dir", r.Work, "--state-dir", "", "--against", rev)
		if code != 0 || !strings.Contains(out, "2 of 20 hosts change: node-3 (+1 ~1), node-12 (~1).") {
			t.Errorf("--against %s: exit %d\n%s%s", rev, code, out, errs)
		}
	}
	// A directory that is no revision stays a directory.
	if err := os.Rename(filepath.Join(cwd, "main"), filepath.Join(cwd, "base")); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := runCLI("plan", "--all-hosts", "--dir", r.Work, "--state-dir", "", "--against", "base"); code != 0 || !strings.Contains(out, "20 of 20 hosts change") {
		t.Errorf("--against base (a directory only): exit %d\n%s%s", code, out, errs)
	}
}

// The CI example's plan step fails when reconcile does not run at all (exit 127: not
// installed; 126: not executable) or exits with another code than 0, 1 and 2, not only on 1.
func TestExampleCIPlanStepFailsUnlessZeroOrTwo(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	step := examplePlanStep(t)
	for code, wantOK := range map[int]bool{0: true, 2: true, 1: false, 3: false, 127: false} {
		bin, work := t.TempDir(), t.TempDir()
		// A reconcile that only exits with code: the step's handling of the exit code is tested.
		if err := os.WriteFile(filepath.Join(bin, "reconcile"), []byte(fmt.Sprintf("#!/bin/sh\necho 'summary line'\nexit %d\n", code)), 0o755); err != nil {
			t.Fatal(err)
		}
		c := exec.Command(bash, "-e", "-c", step)
		c.Dir = work
		c.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := c.CombinedOutput()
		if (err == nil) != wantOK {
			t.Errorf("reconcile exiting %d: step error %v, want success %v\n%s", code, err, wantOK, out)
		}
	}
}

// A plan longer than a PR comment can hold (GitHub: 65,536 characters) is cut in plan.md, which
// still starts with the summary and closes its diff block.
func TestExampleCIPlanCutForTheComment(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	step := examplePlanStep(t)
	bin, work := t.TempDir(), t.TempDir()
	script := "#!/bin/sh\ni=0\nwhile [ $i -lt 3000 ]; do echo \"Host node-$i: + a line of the plan of this host\"; i=$((i+1)); done\necho '400 of 400 hosts change: …'\nexit 2\n"
	if err := os.WriteFile(filepath.Join(bin, "reconcile"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := exec.Command("bash", "-e", "-c", step)
	c.Dir = work
	c.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("step: %v\n%.500s", err, out)
	}
	md, err := os.ReadFile(filepath.Join(work, "plan.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(md) > 65536 || !strings.HasPrefix(string(md), "400 of 400 hosts change: …\n\n```diff\nHost node-0:") ||
		!strings.HasSuffix(string(md), "the whole plan is in the job log\n```\n") {
		t.Errorf("plan.md (%d bytes): %.100q … %q", len(md), md, md[max(0, len(md)-100):])
	}
}

// examplePlanStep is the run script of the plan --all-hosts step of the CI example, for the
// base branch main.
func examplePlanStep(t *testing.T) string {
	t.Helper()
	for _, run := range ciExampleSteps(t) {
		if strings.Contains(run, "plan --all-hosts") {
			return run
		}
	}
	t.Fatal("no plan --all-hosts step in the example")
	return ""
}
