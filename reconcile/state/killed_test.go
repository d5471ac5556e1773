package state

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A process killed while writing a record leaves atomicfile's temporary files (".<name>.tmp-N",
// a head or a model half written) in the state directory; the next save of that record removes
// them, and leaves those of other records (other namespaces: other locks) alone.
func TestSaveRemovesTheTemporaryFilesOfAKilledSave(t *testing.T) {
	dir := t.TempDir()
	m := sampleModel()
	r := &Record{Table: "reconcile", Netns: "lab-a"}
	r.LastApplied = &LastApplied{Revision: "r1", RulesetDigest: m.Digest(), Model: m}
	left := []string{
		".reconcile@lab-a.state.json.tmp-123456",
		".reconcile@lab-a.model-0123456789ab.gob.tmp-42",
		".reconcile@lab-a.installed.json.tmp-77", // SaveInstalled's (rule install times)
	}
	kept := []string{
		".reconcile@lab-b.state.json.tmp-123456",      // another namespace's record
		".reconcile@lab-b.installed.json.tmp-77",      // and its install times
		".other@lab-a.model-0123456789ab.gob.tmp-42",  // another table's
		"reconcile@lab-a.state.json.tmp-1",            // not atomicfile's name
		".reconcile@lab-a.state.json.tmp-1.keep-mine", // nor this
	}
	for _, n := range append(slices.Clone(left), kept...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Save(dir, r); err != nil {
		t.Fatal(err)
	}
	for _, n := range left {
		if _, err := os.Stat(filepath.Join(dir, n)); !os.IsNotExist(err) {
			t.Errorf("%s: still there after the save (%v)", n, err)
		}
	}
	for _, n := range kept {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: removed by the save of another record: %v", n, err)
		}
	}
}
