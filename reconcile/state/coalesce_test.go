package state

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// Repeated no-change passes refresh one history entry instead of pushing the rest out.
func TestAddAttemptCoalescesRepeatedNoChange(t *testing.T) {
	r := &Record{}
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	r.AddAttempt(Attempt{Revision: "r1", RulesetDigest: "d1", Time: t0, Result: Applied})
	for i := 1; i <= 50; i++ {
		r.AddAttempt(Attempt{Revision: "r1", RulesetDigest: "d1", Time: t0.Add(time.Duration(i) * time.Minute), Result: NoChange})
	}
	if len(r.History) != 2 {
		t.Fatalf("history has %d entries, want 2 (the apply and one refreshed no-change)", len(r.History))
	}
	if got := r.History[1].Time; !got.Equal(t0.Add(50 * time.Minute)) {
		t.Fatalf("the no-change entry was not refreshed: %v", got)
	}
	if r.LastAttempt == nil || !r.LastAttempt.Time.Equal(t0.Add(50*time.Minute)) {
		t.Fatalf("last attempt %+v", r.LastAttempt)
	}
	// A failure, a new revision, or a no-change with a note are entries of their own.
	r.AddAttempt(Attempt{Revision: "r1", Time: t0.Add(51 * time.Minute), Result: Failed, Error: "boom"})
	r.AddAttempt(Attempt{Revision: "r1", RulesetDigest: "d1", Time: t0.Add(52 * time.Minute), Result: NoChange})
	r.AddAttempt(Attempt{Revision: "r2", RulesetDigest: "d1", Time: t0.Add(53 * time.Minute), Result: NoChange})
	r.AddAttempt(Attempt{Revision: "r2", RulesetDigest: "d1", Time: t0.Add(54 * time.Minute), Result: NoChange, Error: "drift left alone"})
	if len(r.History) != 6 {
		t.Fatalf("history has %d entries, want 6: %+v", len(r.History), r.History)
	}
}

// Every spelling of one namespace locates one record file (state.Locate over the handle's
// identity and names); another namespace has another (needs root to create the namespace).
func TestFileNameOneRecordPerNamespace(t *testing.T) {
	name := testenv.NewNetns(t, "state")
	want := FileName("reconcile", name)
	if want != "reconcile@"+name+".state.json" {
		t.Fatalf("FileName of the name %q = %q", name, want)
	}
	dir := t.TempDir()
	locate := func(spelling string) string {
		t.Helper()
		h := testenv.Open(t, netns.Open, spelling)
		key, err := Locate(dir, "reconcile", NetnsID{BootID: netns.BootID(), Dev: h.Dev(), Ino: h.Inode()}, h.Names(), netns.IsOwn(h))
		if err != nil {
			t.Fatal(err)
		}
		return FileName("reconcile", key)
	}
	for _, spelling := range []string{name, "/run/netns/" + name} {
		if got := locate(spelling); got != want {
			t.Errorf("--netns %q writes %q, want %q (one record per namespace)", spelling, got, want)
		}
	}
	for _, spelling := range []string{"", "/proc/self/ns/net", fmt.Sprintf("/proc/%d/ns/net", os.Getpid())} {
		if got := locate(spelling); got != "reconcile.state.json" {
			t.Errorf("our own namespace spelled %q writes %q, want reconcile.state.json", spelling, got)
		}
	}
}
