package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The CI example runs: its base-fetch and plan steps, run with bash as GitHub Actions runs
// them (bash -e), with the built reconcile first in PATH, in a checkout made as
// actions/checkout makes it (depth 1) of the fleet pull request, post the plan of exactly the
// two hosts it changes; a pull request that breaks the head fails the step.
func TestExampleCIPlanRuns(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not installed")
	}
	var script []string
	for _, run := range ciExampleSteps(t) {
		if strings.Contains(run, "git fetch") || strings.Contains(run, "reconcile plan") {
			script = append(script, run)
		}
	}
	if len(script) != 2 || !strings.Contains(script[1], "plan --all-hosts") || strings.Contains(script[1], "sed") {
		t.Fatalf("the example should fetch the base, then run plan --all-hosts once (no sed): %q", script)
	}
	bin := t.TempDir()
	build := exec.Command(goBin, "build", "-o", filepath.Join(bin, "reconcile"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	r, _ := fleetRepo(t, "")
	r.Git("push", "-q", "origin", "pr")
	ci := shallowCheckout(t, r.Remote)
	step := func(i int) (string, error) {
		c := exec.Command(bash, "-e", "-c", script[i])
		c.Dir = ci
		c.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := c.CombinedOutput()
		return string(out), err
	}
	if out, err := step(0); err != nil {
		t.Fatalf("fetch step: %v\n%s", err, out)
	}
	out, err := step(1)
	if err != nil {
		t.Fatalf("plan step failed: %v\n%s", err, out)
	}
	md, err := os.ReadFile(filepath.Join(ci, "plan.md"))
	if err != nil {
		t.Fatal(err)
	}
	summary := "2 of 20 hosts change: node-3 (+1 ~1), node-12 (~1)."
	if !strings.HasPrefix(string(md), summary+"\n\n```diff\n") || !strings.HasSuffix(string(md), summary+"\n```\n") ||
		!strings.Contains(string(md), "\nHost node-3:\n~ profile ADMIN inbound\n") {
		t.Errorf("plan.md:\n%s", md)
	}

	// A head that does not validate: the step fails, and plan.md says why.
	writeFiles(t, ci, map[string]string{"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: accept\n"})
	if out, err := step(1); err == nil {
		t.Fatalf("plan step passed with an invalid head:\n%s", out)
	}
	if md, _ := os.ReadFile(filepath.Join(ci, "plan.md")); !strings.Contains(string(md), "profiles/WEB.yaml:3:") {
		t.Errorf("plan.md of the failed step:\n%s", md)
	}
}

// ciExampleSteps are the run scripts of the steps of examples/ci/policy-repo-ci.yml's job
// "check", in order, with the base branch main for ${{ github.base_ref }}.
func ciExampleSteps(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../examples/ci/policy-repo-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	var runs []string
	for _, s := range wf.Jobs["check"].Steps {
		runs = append(runs, strings.ReplaceAll(s.Run, "${{ github.base_ref }}", "main"))
	}
	return runs
}

// shallowCheckout checks out the branch pr of the git remote at remote as actions/checkout
// does for a pull request (init, the remote, a depth-1 fetch of the merge ref, a detached
// checkout) in a new directory, and returns the directory.
func shallowCheckout(t *testing.T, remote string) string {
	t.Helper()
	ci := t.TempDir()
	gitIn(t, ci, "init", "-q")
	gitIn(t, ci, "remote", "add", "origin", "file://"+remote)
	gitIn(t, ci, "fetch", "-q", "--depth=1", "origin", "+refs/heads/pr:refs/remotes/pull/1/merge")
	gitIn(t, ci, "checkout", "-q", "--detach", "refs/remotes/pull/1/merge")
	return ci
}

// The example's base fetch names its destination: in a single-branch clone (git clone
// --depth=1 -b pr, as other CI systems check out), a bare `git fetch origin main` would update
// FETCH_HEAD only, and --against origin/main would not resolve.
func TestExampleCIFetchInSingleBranchClone(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	var fetch string
	for _, run := range ciExampleSteps(t) {
		if strings.Contains(run, "git fetch") {
			fetch = run
		}
	}
	r, mainCommit := fleetRepo(t, "")
	r.Git("push", "-q", "origin", "pr")
	ci := filepath.Join(t.TempDir(), "c")
	gitIn(t, filepath.Dir(ci), "clone", "-q", "--depth=1", "-b", "pr", "file://"+r.Remote, ci)
	c := exec.Command(bash, "-e", "-c", fetch)
	c.Dir = ci
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", fetch, err, out)
	}
	if got := gitIn(t, ci, "rev-parse", "origin/main"); got != mainCommit {
		t.Errorf("origin/main after the example's fetch: %q, want %s", got, mainCommit)
	}
}
