package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/testenv"
)

// gitCommitAll commits every file of dir (a new repository on main) with the git CLI; without
// git it skips t, except under CI=true where it fails t (testenv.SkipUnlessCI).
func gitCommitAll(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		testenv.SkipUnlessCI(t, "git is not installed")
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "policy"}} {
		c := exec.Command("git", args...)
		c.Dir = dir
		c.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.invalid",
			"GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.invalid")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// What CI runs (validate --dir on the checkout) and what hosts run (--repo on the commit)
// print the same errors for the same tree and both exit 1: links, misspelled names and text
// encodings are judged by one loader and one decoder.
func TestValidateDirAndRepoAgree(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "APP.yaml")
	if err := os.WriteFile(outside, []byte("id: APP\ninbound_rules: []\noutbound_rules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := writeRepo(t, map[string]string{
		// A UTF-8 byte-order mark in JSON and CRLF line endings are accepted.
		"profiles/WEB.json": "\ufeff{\"id\": \"WEB\", \"tags\": [\"WEB\"],\r\n \"inbound_rules\": [{\"action\": \"allow\"}],\r\n \"outbound_rules\": []}\r\n",
		// An error after a BOM and CRLF lines is where an editor shows it.
		"endpoints/e.yaml": "\ufeffendpoints:\r\n  - id: web-1\r\n    host: node-1\r\n    interface: caliweb1\r\n    profile_ids: [WEB]\r\n    state: on\r\n",
		"profiles/DB.yml":  "id: DB\n",
		"profiles/U.yaml":  "\xff\xfei\x00d\x00",
		"README.md":        "# policy\n",
	})
	if err := os.Symlink(outside, filepath.Join(dir, "profiles", "APP.yaml")); err != nil {
		t.Fatal(err)
	}
	gitCommitAll(t, dir)
	want := `endpoints/e.yaml:6:12: state: "on" is not a state (active or inactive)` + "\n" +
		"profiles/APP.yaml: a symbolic link (links are not followed): put the file itself here\n" +
		"profiles/DB.yml: profile files end in .yaml or .json: write profiles/DB.yaml\n" +
		"profiles/U.yaml:1:1: UTF-16 text: save the file as UTF-8\n"
	repo := []string{"--repo", "file://" + dir, "--ref", "main", "--state-dir", t.TempDir()}
	for _, args := range [][]string{{"--dir", dir}, repo} {
		out, errOut, code := runCLI(append([]string{"validate"}, args...)...)
		if code != 1 || out != want || errOut != "" {
			t.Errorf("validate %s: exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %q", args[0], code, out, want, errOut)
		}
		out, _, code = runCLI(append([]string{"validate", "-o", "json"}, args...)...)
		var v validateOut
		if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || v.Valid || len(v.Errors) != 4 ||
			v.Errors[1] != (validateError{Path: "profiles/APP.yaml", Message: "a symbolic link (links are not followed): put the file itself here"}) {
			t.Errorf("validate -o json %s: exit %d, %v, %+v", args[0], code, err, v)
		}
		// test (and explain, which loads the same way) refuse the repository with the same errors.
		out, errOut, code = runCLI(append([]string{"test"}, args...)...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, want) {
			t.Errorf("test %s: exit %d, stdout %q, stderr:\n%s", args[0], code, out, errOut)
		}
	}

	// Without the refused entries and with the error fixed, both accept the BOM and CRLF files.
	for _, p := range []string{"profiles/APP.yaml", "profiles/DB.yml", "profiles/U.yaml"} {
		if err := os.Remove(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "endpoints/e.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "endpoints/e.yaml"), []byte(strings.Replace(string(b), "state: on", "state: active", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
		t.Fatal(err)
	}
	gitCommitAll(t, dir)
	repo = []string{"--repo", "file://" + dir, "--ref", "main", "--state-dir", t.TempDir()}
	for _, args := range [][]string{{"--dir", dir}, repo} {
		out, errOut, code := runCLI(append([]string{"validate"}, args...)...)
		if code != 0 || !strings.HasPrefix(out, "Valid: 1 profile, 1 endpoint, 0 tests (") || errOut != "" {
			t.Errorf("validate %s: exit %d, stdout %q, stderr %q", args[0], code, out, errOut)
		}
	}
}
