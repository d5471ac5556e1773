package git

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRevRefusesIgnoredSyntax: go-git's ResolveRevision silently drops the parts of a
// revision it does not implement (main:path, main^{tree}, main@{1}) and resolves the rest, so
// `plan --against main@{1}` planned against main. OpenRev refuses those forms; the ones go-git
// implements still resolve to the commit git gives.
func TestOpenRevRefusesIgnoredSyntax(t *testing.T) {
	dir := t.TempDir()
	gitRun(t, dir, "init", "-q", "-b", "main")
	for i, msg := range []string{"one", "two: second"} {
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(msg), 0o644); err != nil {
			t.Fatal(err)
		}
		gitRun(t, dir, "add", "f")
		gitRun(t, dir, "commit", "-q", "-m", msg)
		if i == 0 {
			gitRun(t, dir, "tag", "v1")
		}
	}
	// The reflog of main has two entries: main@{1} is the first commit in git.
	for _, rev := range []string{"main:f", "main:", "main^{tree}", "main^{blob}", "main@{1}", "@{u}", "main@{0}"} {
		if _, err := OpenRev(dir, rev); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("OpenRev(%q): %v, want an error saying the form is not supported", rev, err)
		}
	}
	for rev, want := range map[string]string{"main": "main", "HEAD~1": "v1", "main^": "v1",
		"main^{commit}": "main", "main^{/two: sec}": "main", "v1": "v1", "v1^{}": "v1", "@": "main"} {
		r, err := OpenRev(dir, rev)
		if err != nil {
			t.Errorf("OpenRev(%q): %v", rev, err)
			continue
		}
		repo, done, err := r.open()
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := r.resolve(repo)
		done()
		if got := strings.TrimSpace(gitRun(t, dir, "rev-parse", want+"^{commit}")); err != nil || h.String() != got {
			t.Errorf("OpenRev(%q) resolves to %s (%v), want %s (%s)", rev, h, err, got, want)
		}
	}
}
