package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// updateGolden is the -update flag: rewrite examples/bad-*/EXPECTED from the current output.
// Another test file of this package may define -update too; share it rather than redefine it.
var updateGolden = func() *bool {
	if f := flag.Lookup("update"); f != nil {
		return nil
	}
	return flag.Bool("update", false, "rewrite the golden files (examples/bad-*/EXPECTED)")
}()

func updating() bool {
	if updateGolden != nil {
		return *updateGolden
	}
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// writeRepo writes a repository (path -> content) into a fresh directory.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

// writeFiles writes files (slash-separated path relative to dir -> content) under dir, making
// the directories they need; it fails t on any error. (The tests that need namespaces, git or
// the built binary are in reconcile/e2e, with testenv's helpers.)
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runCLI runs the CLI in-process (no stdin) and returns stdout, stderr and the exit code.
func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestValidateCommand(t *testing.T) {
	good := map[string]string{
		"profiles/WEB.yaml": "id: WEB\ntags: [WEB]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [80, 443]\noutbound_rules:\n  - action: allow\n",
		"profiles/APP.json": `{"id": "APP", "inbound_rules": [{"action": "allow", "protocol": "tcp", "dst_ports": [7890], "src_tag": "APP_7890"}], "outbound_rules": [{"action": "allow"}]}`,
		"endpoints/e.yaml":  "endpoints:\n  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}\n  - {id: app-1, host: node-1, interface: caliapp1, ipv4_nets: [198.18.2.2/32], profile_ids: [APP]}\n",
		"tests/t.yaml":      "tests:\n  - {from: app-1, to: web-1, protocol: tcp, port: 80, expect: allow}\n",
		"README.md":         "not part of the repository format\n",
	}
	bad := map[string]string{
		"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [70000]\n",
		"endpoints/e.yaml":  "endpoints:\n  - {id: web-1, host: node-1, interface: caliweb1, profile_ids: [NOPE]}\n",
	}
	revRE := regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

	t.Run("valid text", func(t *testing.T) {
		dir := writeRepo(t, good)
		out, errOut, code := runCLI("validate", "--dir", dir)
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		m := regexp.MustCompile(`^Valid: 2 profiles, 2 endpoints, 1 test \((sha256:[0-9a-f]{64})\)\n$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("stdout = %q", out)
		}
	})
	t.Run("valid json", func(t *testing.T) {
		dir := writeRepo(t, good)
		out, _, code := runCLI("validate", "--dir", dir, "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		var v validateOut
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v in %q", err, out)
		}
		if !v.Valid || v.Profiles != 2 || v.Endpoints != 2 || v.Tests != 1 || !revRE.MatchString(v.Revision) ||
			!strings.HasPrefix(v.Source, "dir:") || v.Errors == nil || len(v.Errors) != 0 {
			t.Errorf("json = %+v", v)
		}
		if !strings.Contains(out, `"errors": []`) {
			t.Errorf("errors is not an empty list in %s", out)
		}
	})
	t.Run("invalid text", func(t *testing.T) {
		dir := writeRepo(t, bad)
		out, errOut, code := runCLI("validate", "--dir", dir)
		want := "endpoints/e.yaml:2:66: profile_ids: profile \"NOPE\" does not exist (no profiles/NOPE.yaml or .json)\n" +
			"profiles/WEB.yaml:5:17: dst_ports: 70000 is not a port (0-65535)\n"
		if code != 1 || out != want || errOut != "" {
			t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %q", code, out, want, errOut)
		}
	})
	t.Run("invalid json", func(t *testing.T) {
		dir := writeRepo(t, bad)
		out, _, code := runCLI("validate", "--dir", dir, "-o", "json")
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		var v validateOut
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v in %q", err, out)
		}
		want := []validateError{
			{Path: "endpoints/e.yaml", Line: 2, Column: 66, Message: `profile_ids: profile "NOPE" does not exist (no profiles/NOPE.yaml or .json)`},
			{Path: "profiles/WEB.yaml", Line: 5, Column: 17, Message: "dst_ports: 70000 is not a port (0-65535)"},
		}
		if v.Valid || v.Profiles != 1 || v.Endpoints != 1 || len(v.Errors) != 2 || v.Errors[0] != want[0] || v.Errors[1] != want[1] {
			t.Errorf("json = %+v", v)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		out, errOut, code := runCLI("validate", "--dir", filepath.Join(t.TempDir(), "nope"))
		if code != 1 || out != "" || !strings.Contains(errOut, "no such file or directory") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("bad output format", func(t *testing.T) {
		dir := writeRepo(t, good)
		_, errOut, code := runCLI("validate", "--dir", dir, "-o", "yaml")
		if code != 1 || !strings.Contains(errOut, `unknown output format "yaml"`) {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("arguments", func(t *testing.T) {
		dir := writeRepo(t, good)
		if _, _, code := runCLI("validate", "--dir", dir, "extra"); code != 1 {
			t.Errorf("exit %d for an extra argument", code)
		}
	})
}

// TestBadExamples runs validate on every examples/bad-*/ repository and compares its output with
// the EXPECTED file next to it (go test -run TestBadExamples -update rewrites them).
func TestBadExamples(t *testing.T) {
	dirs, err := filepath.Glob("../../examples/bad-*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 3 {
		t.Fatalf("found %d bad example repositories, want at least 3", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			out, errOut, code := runCLI("validate", "--dir", dir)
			if code != 1 {
				t.Errorf("exit %d, want 1 (stderr %q)", code, errOut)
			}
			golden := filepath.Join(dir, "EXPECTED")
			if updating() {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("validate --dir %s:\n%s\nwant (%s):\n%s", dir, out, golden, want)
			}
		})
	}
}

// Without --dir or --repo the commands read the working directory; one without a single
// policy file is not an empty repository (whose plan would destroy every endpoint chain): plan,
// validate and test fail with one line naming it, status says the source is unknown.
func TestWorkingDirectoryWithoutPolicyFiles(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	want := "the working directory " + dir + " holds no policy files (profiles/, endpoints/, tests/): give --dir PATH or --repo URL"
	for _, args := range [][]string{
		{"validate"},
		{"test"},
		{"plan", "--host", "node-1", "--state-dir", "", "--nft"},
		{"plan", "--all-hosts", "--against", dir, "--state-dir", ""},
	} {
		out, errOut, code := runCLI(args...)
		if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and one line with %q", args, code, out, errOut, want)
		}
	}
	// A directory named with --dir may be empty: an empty repository.
	if out, errOut, code := runCLI("validate", "--dir", dir); code != 0 || !strings.HasPrefix(out, "Valid: 0 profiles") {
		t.Errorf("validate --dir of an empty directory: exit %d\n%s%s", code, out, errOut)
	}
}
