package state

import (
	"testing"
	"time"
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

func TestFileNameSameNamespaceSpelledTwoWays(t *testing.T) {
	for _, p := range []string{"/run/netns/lab-a", "/var/run/netns/lab-a"} {
		if a, b := FileName("reconcile", "lab-a"), FileName("reconcile", p); a != b {
			t.Errorf("FileName(%q) = %q, FileName(%q) = %q; want one record", "lab-a", a, p, b)
		}
	}
	if a, b := FileName("reconcile", "lab-a"), FileName("reconcile", "/proc/1/ns/net"); a == b {
		t.Errorf("a different namespace shares the record %q", a)
	}
}
