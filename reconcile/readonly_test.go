package reconcile

import (
	"fmt"
	"io/fs"
	"syscall"
	"testing"
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
