package main

import (
	"os"
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
