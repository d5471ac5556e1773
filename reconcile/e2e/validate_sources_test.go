package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv/badrepos"
)

// What CI runs (validate --dir on the checkout) and what hosts run (--repo on the commit)
// print the same errors for the same tree and both exit 1: links, misspelled names and text
// encodings are judged by one loader and one decoder. The built binary runs both (git makes
// the commit).
func TestValidateDirAndRepoAgree(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "APP.yaml")
	if err := os.WriteFile(outside, []byte("id: APP\ninbound_rules: []\noutbound_rules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testenv.WriteFiles(t, dir, map[string]string{
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
	badrepos.CommitAll(t, dir)
	want := `endpoints/e.yaml:6:12: state: "on" is not a state (active or inactive)` + "\n" +
		"profiles/APP.yaml: a symbolic link (links are not followed): put the file itself here\n" +
		"profiles/DB.yml: profile files end in .yaml or .json: write profiles/DB.yaml\n" +
		"profiles/U.yaml:1:1: UTF-16 text: save the file as UTF-8\n"
	repo := []string{"--repo", "file://" + dir, "--ref", "main", "--state-dir", t.TempDir()}
	for _, args := range [][]string{{"--dir", dir}, repo} {
		out, errOut, code := runReconcile(t, append([]string{"validate"}, args...)...)
		if code != 1 || out != want || errOut != "" {
			t.Errorf("validate %s: exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %q", args[0], code, out, want, errOut)
		}
		out, _, code = runReconcile(t, append([]string{"validate", "-o", "json"}, args...)...)
		var v validateJSON
		if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || v.Valid || len(v.Errors) != 4 ||
			v.Errors[1].Path != "profiles/APP.yaml" || v.Errors[1].Line != 0 || v.Errors[1].Column != 0 ||
			v.Errors[1].Message != "a symbolic link (links are not followed): put the file itself here" {
			t.Errorf("validate -o json %s: exit %d, %v, %+v", args[0], code, err, v)
		}
		// test (and explain, which loads the same way) refuse the repository with the same errors.
		out, errOut, code = runReconcile(t, append([]string{"test"}, args...)...)
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
	badrepos.CommitAll(t, dir)
	repo = []string{"--repo", "file://" + dir, "--ref", "main", "--state-dir", t.TempDir()}
	for _, args := range [][]string{{"--dir", dir}, repo} {
		out, errOut, code := runReconcile(t, append([]string{"validate"}, args...)...)
		if code != 0 || !strings.HasPrefix(out, "Valid: 1 profile, 1 endpoint, 0 tests (") || errOut != "" {
			t.Errorf("validate %s: exit %d, stdout %q, stderr %q", args[0], code, out, errOut)
		}
	}
}
