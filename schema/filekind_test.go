package schema

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFileKind(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"profiles/WEB.yaml", KindProfile},
		{"profiles/WEB.json", KindProfile},
		{"endpoints/lab.yaml", KindEndpoints},
		{"tests/reach.yaml", KindTests},
		{"tests/reach.json", ""},
		{"profiles/WEB.yml", ""},
		{"profiles/sub/WEB.yaml", ""},
		{"README.md", ""},
		{"profiles/.#WEB.yaml", ""}, // emacs lock file
		{"endpoints/.#lab.yaml", ""},
		{"tests/.#reach.yaml", ""},
	} {
		if got := FileKind(tc.path); got != tc.want {
			t.Errorf("FileKind(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// An editor's lock file (emacs: a dangling symbolic link .#<name>) next to a repository file
// must not make the repository unreadable while a person edits it.
func TestReadDirIgnoresEditorLockFiles(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	web := []byte("id: WEB\ntags: [WEB]\ninbound_rules: []\noutbound_rules: []\n")
	if err := os.WriteFile(filepath.Join(root, "profiles", "WEB.yaml"), web, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("someone@host.1234:1700000000", filepath.Join(root, "profiles", ".#WEB.yaml")); err != nil {
		t.Fatal(err)
	}
	files, err := ReadDir(root)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	if len(files) != 1 || string(files["profiles/WEB.yaml"]) != string(web) {
		t.Errorf("ReadDir = %v, want only profiles/WEB.yaml", keys(files))
	}
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
