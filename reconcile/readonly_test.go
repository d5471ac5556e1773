package reconcile

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// A state directory on a read-only file system fails the pass wherever it is first written
// (the git clone's lock file, the decode cache, the model file): that is the state directory's
// fault, counted as state/save, not as the remote's (fetch/...) whichever step met it.
func TestReadOnlyStateDirIsAStateError(t *testing.T) {
	ro := &fs.PathError{Op: "open", Path: "/var/lib/reconcile/git/abc.lock", Err: syscall.EROFS}
	for _, err := range []error{
		stageErr("fetch", "error", fmt.Errorf("fetch http://git.example/p.git: git cache: open lock file: %w", ro)),
		stageErr("state", "load", fmt.Errorf("write model: %w", ro)),
	} {
		if stage, reason := Classify(err); stage != "state" || reason != "save" {
			t.Errorf("Classify(%v) = %s/%s, want state/save", err, stage, reason)
		}
	}
}

// A model file that cannot be written because the state directory is read-only says what to
// do about that (make it writable), not "free space there" (the advice for a full disk).
func TestReadOnlyStateDirModelSaysReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a read-only tmpfs")
	}
	e := newEnv(t)
	if _, err := agentOf(t, e.opts()).Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A read-only copy of the state directory: the record of revision 1 is there.
	files, err := os.ReadDir(e.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	saved := map[string][]byte{}
	for _, f := range files {
		if f.Type().IsRegular() {
			if saved[f.Name()], err = os.ReadFile(filepath.Join(e.stateDir, f.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := syscall.Mount("tmpfs", e.stateDir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(e.stateDir, syscall.MNT_DETACH) })
	for name, b := range saved {
		if err := os.WriteFile(filepath.Join(e.stateDir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount("", e.stateDir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": strings.Replace(labRepo["profiles/WEB.yaml"], "443", "8443", 1)})
	before := e.kernel(t)
	_, err = agentOf(t, e.opts()).Apply(context.Background())
	if err == nil {
		t.Fatal("apply on a read-only state directory succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "not applied: its model cannot be written") || !strings.Contains(msg, "it is read-only: make it writable or choose another --state-dir") ||
		strings.Contains(msg, "free space there") {
		t.Errorf("error %q; want the model's failure with the read-only advice, not the full-disk one", msg)
	}
	if stage, reason := Classify(err); stage != "state" || reason != "save" {
		t.Errorf("Classify = %s/%s, want state/save", stage, reason)
	}
	if after := e.kernel(t); after != before {
		t.Errorf("the kernel changed:\n%s\nwant\n%s", after, before)
	}
}
