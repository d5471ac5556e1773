package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// workedExampleDir holds the repository in the shape of the seed's worked example (WEB and
// APP, tags), with endpoints web-1 and app-1 on node-1 and web-2 on node-2: the files of
// testenv.WorkedExample, which the kernel tests in reconcile/e2e apply (cmd/reconcile may not
// import reconcile/internal/testenv, so it reads them here).
var workedExampleDir = filepath.Join("..", "..", "reconcile", "internal", "testenv", "testdata", "worked")

// workedExample returns the files below workedExampleDir (slash-separated path -> content).
func workedExample(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(workedExampleDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(workedExampleDir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("reading the worked example in %s: %v (%d files)", workedExampleDir, err, len(files))
	}
	return files
}

// pasBadFiles make the worked example invalid in two files.
var pasBadFiles = map[string]string{
	"profiles/BAD.yaml":   "id: BAD\ninbound_rules:\n  - action: permit\n",
	"endpoints/more.yaml": "endpoints:\n  - id: x\n    host: node-1\n    interface: calix\n    ipv4_nets: [198.18.5.5/32]\n    profile_ids: [NOPE]\n",
}

var posLine = regexp.MustCompile(`^[a-z]+/[A-Za-z0-9_.-]+:\d+:\d+: .+$`)

func TestPlanNFTNeedsNoKernel(t *testing.T) {
	repo := t.TempDir()
	writeFiles(t, repo, workedExample(t))
	state := filepath.Join(t.TempDir(), "state")
	out, errOut, code := runCLI("plan", "--nft", "--dir", repo, "--host", "node-1", "--state-dir", state, "--table", "pas")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"table inet pas {}\ndelete table inet pas\ntable inet pas {\n", "chain profile-in-WEB {", `comment "WEB inbound 2"`, "set tag-v4-APP_7890 {", `"caliapp1" : goto from-app-1`} {
		if !strings.Contains(out, want) {
			t.Errorf("script lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "caliweb2") {
		t.Errorf("script holds node-2's endpoint")
	}
	if _, err := os.Stat(state); err == nil {
		t.Errorf("plan --nft wrote the state directory")
	}
}

func TestPlanInvalidRepository(t *testing.T) {
	repo := t.TempDir()
	writeFiles(t, repo, workedExample(t))
	writeFiles(t, repo, pasBadFiles)
	for _, args := range [][]string{
		{"plan", "--nft"},
		{"plan", "--nft", "--detailed-exitcode", "-o", "json"},
	} {
		out, errOut, code := runCLI(append(args, "--dir", repo, "--host", "node-1", "--state-dir", t.TempDir())...)
		if code != 1 || out != "" {
			t.Fatalf("%v: exit %d, stdout %q", args, code, out)
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if len(lines) < 3 {
			t.Fatalf("want every error and a summary on stderr, got:\n%s", errOut)
		}
		seen := map[string]bool{}
		for _, l := range lines[:len(lines)-1] {
			if !posLine.MatchString(l) {
				t.Errorf("not path:line:col: message: %q", l)
			}
			seen[strings.SplitN(l, ":", 2)[0]] = true
		}
		if !seen["profiles/BAD.yaml"] || !seen["endpoints/more.yaml"] {
			t.Errorf("errors of both files expected:\n%s", errOut)
		}
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "reconcile: the repository is invalid (") {
			t.Errorf("summary line = %q", last)
		}
	}
}

func TestPlanApplyStatusBadFlags(t *testing.T) {
	repo := t.TempDir()
	writeFiles(t, repo, workedExample(t))
	for _, args := range [][]string{
		{"plan", "--nft", "-o", "yaml"},
		{"apply", "-o", "yaml"},
		{"status", "-o", "xml"},
		{"plan", "--nft", "--log-level", "loud"},
		{"plan", "extra-arg"},
	} {
		_, errOut, code := runCLI(append(args, "--dir", repo, "--host", "node-1", "--state-dir", t.TempDir())...)
		if code != 1 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
