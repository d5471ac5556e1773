package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
)

// With no state directory, a git source is cloned into a temporary directory that Close
// removes: nothing lands in the working directory (validate --repo URL --state-dir "").
func TestNoStateDirClonesToATemporaryDirectory(t *testing.T) {
	gittest.RequireGit(t)
	r := gittest.NewRepo(t, "main")
	r.Commit("policy", labRepo, "")
	r.Push()
	wd := t.TempDir()
	t.Chdir(wd)
	a, err := New(Config{Repo: "file://" + r.Remote, Host: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	clone := a.tmpClone
	if clone == "" {
		t.Fatal("no temporary clone directory")
	}
	if _, err := os.Stat(filepath.Join(clone, "clone")); err != nil {
		t.Fatalf("the clone is not in the temporary directory: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(clone); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", clone, err)
	}
	if ents, _ := os.ReadDir(wd); len(ents) != 0 {
		t.Errorf("the working directory got %d entries (%s…)", len(ents), ents[0].Name())
	}
}
