package schema

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FINDINGS2 N9: the repository is read as YAML 1.2, so a "%YAML 1.2" header (then "---") is
// accepted in every kind of file, with every position as in the file; other versions are refused
// at the directive; %TAG directives are read as before.

// policyFiles reads the example repository (../policies).
func policyFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, dir := range []string{"profiles", "endpoints", "tests"} {
		ents, err := os.ReadDir(filepath.Join("..", "policies", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("..", "policies", dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[dir+"/"+e.Name()] = b
		}
	}
	return files
}

// withHeader puts head before every YAML file.
func withHeader(files map[string][]byte, head string, crlf, bom bool) map[string][]byte {
	out := map[string][]byte{}
	for p, b := range files {
		s := string(b)
		if strings.HasSuffix(p, ".yaml") {
			s = head + s
		}
		if crlf {
			s = strings.ReplaceAll(s, "\n", "\r\n")
		}
		if bom {
			s = "\ufeff" + s
		}
		out[p] = []byte(s)
	}
	return out
}

func TestYAMLDirective12(t *testing.T) {
	files := policyFiles(t)
	for _, tt := range []struct {
		name, head, same string // same: lines of the same lengths without a directive
		crlf, bom        bool
	}{
		{"plain", "%YAML 1.2\n---\n", "# YAML 1\n---\n", false, false},
		{"comments, CRLF, byte-order mark", "%YAML 1.2  # the version\n--- # the profile\n", "#                      \n--- # the profile\n", true, true},
		{"blank and comment lines around, %TAG kept", "# head\n\n%YAML\t1.2\n%TAG !e! tag:example.com,2000:\n---\n", "# head\n\n#\n#\n---\n", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := Load(withHeader(files, tt.head, tt.crlf, tt.bom))
			if errs != nil {
				t.Fatal(errs)
			}
			want, errs := Load(withHeader(files, tt.same, tt.crlf, tt.bom))
			if errs != nil {
				t.Fatal(errs)
			}
			if len(got.Profiles) == 0 || len(got.Endpoints) == 0 || len(got.Tests) == 0 {
				t.Fatalf("profiles %d, endpoints %d, tests %d", len(got.Profiles), len(got.Endpoints), len(got.Tests))
			}
			// Everything, positions included, is as in the file without the directive.
			if !reflect.DeepEqual(got, want) {
				t.Fatal("the repository read with the directive differs from the one without")
			}
		})
	}
}

// The errors of a file with the header are those of the same file with comment lines in its
// place: the same lines and columns.
func TestYAMLDirectiveKeepsPositions(t *testing.T) {
	const body = "id: WEB\ntags: [WEB]\ninbound_rules:\n  - {action: allow, protocol: tcp, dst_ports: [70000, 010]}\n  - action: alow\noutbound_rules: []\n"
	const ep = "endpoints:\n  - id: web-1\n    host: node-1\n    interface: caliweb1\n    ipv4_nets: [198.18.1.2/33]\n    profile_ids: [WEB]\n"
	const tests = "tests:\n  - name: t\n    from: web-1\n    to: web-1\n    protocol: tcp\n    port: 0x50\n    expect: allow\n"
	head, same := "%YAML 1.2 # v\n---\n", "# YAML 1.2 # v\n---\n"
	errsOf := func(h string) string {
		_, errs := Load(map[string][]byte{
			"profiles/WEB.yaml":  []byte(h + body),
			"endpoints/lab.yaml": []byte(h + ep),
			"tests/t.yaml":       []byte(h + tests),
		})
		return errs.Error()
	}
	got, want := errsOf(head), errsOf(same)
	if got != want {
		t.Fatalf("with the directive:\n%s\nwith comment lines:\n%s", got, want)
	}
	for _, e := range []string{
		"profiles/WEB.yaml:6:48: dst_ports: 70000 is not a port",
		"profiles/WEB.yaml:6:55: dst_ports: 010 has a leading zero",
		"profiles/WEB.yaml:7:13:",
		"endpoints/lab.yaml:7:17:",
		"tests/t.yaml:8:11:",
	} {
		if !strings.Contains(got, e) {
			t.Errorf("no error %q in\n%s", e, got)
		}
	}
}

func TestYAMLDirectiveRefused(t *testing.T) {
	const body = "id: WEB\n"
	for _, tt := range []struct{ in, want string }{
		{"%YAML 1.1\n---\n" + body, "profiles/WEB.yaml:1:1: %YAML 1.1: the repository is read as YAML 1.2 (numbers are plain decimal, never octal 010 or sexagesimal 1:30): write %YAML 1.2 or remove the line"},
		{"# v\n%YAML 2.0 # next\n---\n" + body, "profiles/WEB.yaml:2:1: %YAML 2.0: the repository is read as YAML 1.2 (numbers are plain decimal, never octal 010 or sexagesimal 1:30): write %YAML 1.2 or remove the line"},
		{"%YAML 1.3\r\n---\r\n" + body, "profiles/WEB.yaml:1:1: %YAML 1.3: the repository is read as YAML 1.2"},
		{"%YAML 1.2\n%YAML 1.2\n---\n" + body, "profiles/WEB.yaml:2:1: %YAML: a second %YAML directive for one document (line 1 has the first); remove it"},
		{"%YAML 1.2\n" + body, `profiles/WEB.yaml:1:1: %YAML 1.2: the directives of a document end with a line "---": write it before the document`},
		// A second document is refused as one, whatever its directives.
		{"---\n" + body + "...\n%YAML 1.2\n---\nid: APP\n", "profiles/WEB.yaml:6:1: a second YAML document: a file holds one document"},
		// What the parser does not read as a version stays its error.
		{"%YAML\n---\n" + body, "profiles/WEB.yaml:1:6: syntax error: did not find expected version number"},
		// A "%YAML 1.2" line inside the document is not a directive.
		{"id: WEB\ntags: [\n%YAML 1.2]\n", "profiles/WEB.yaml:3:10: syntax error: did not find expected comment or line break"},
	} {
		_, errs := DecodeProfile("profiles/WEB.yaml", []byte(tt.in))
		if len(errs) != 1 || !strings.HasPrefix(errs.Error(), tt.want) {
			t.Errorf("%q:\n%v\nwant one error starting\n%s", tt.in, errs, tt.want)
		}
	}
	// Endpoints and tests files (the refusal of the edit layer: reconcile/calicoctl
	// TestEditRefusesYAMLDirective).
	_, errs := Load(map[string][]byte{
		"endpoints/lab.yaml": []byte("%YAML 1.1\n---\nendpoints: []\n"),
		"tests/t.yaml":       []byte("\n%YAML 1.1\n---\ntests: []\n"),
	})
	for _, w := range []string{"endpoints/lab.yaml:1:1: %YAML 1.1: the repository is read as YAML 1.2", "tests/t.yaml:2:1: %YAML 1.1: the repository is read as YAML 1.2"} {
		if !strings.Contains(errs.Error(), w) {
			t.Errorf("no %q in\n%v", w, errs)
		}
	}
}
