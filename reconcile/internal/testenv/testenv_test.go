package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"profiles/WEB.yaml":     "id: WEB\n",
		"endpoints/a/b/ep.yaml": "endpoints: []\n",
		"README.md":             "",
	}
	WriteFiles(t, dir, files)
	WriteFiles(t, dir, map[string]string{"profiles/WEB.yaml": "id: WEB\ntags: [WEB]\n"})
	files["profiles/WEB.yaml"] = "id: WEB\ntags: [WEB]\n"
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", p, got, err, want)
		}
	}
}
