package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// Every ruleset digest in status -o json has the same form, so that the last attempt's and
// the history's digests can be compared with last_applied's.
func TestStatusJSONDigestsAgree(t *testing.T) {
	const hex = "5f8c443e83ab0ae9bf775de520545f34a0aaa1f2baa277109fb7494565aa325b"
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	a := state.Attempt{Revision: "sha256:abc", RulesetDigest: hex, Time: now, Result: state.Applied}
	st := &reconcile.StatusResult{
		Table:       "reconcile",
		LastApplied: &state.LastApplied{Revision: "sha256:abc", RulesetDigest: hex, Time: now},
		LastAttempt: &a,
		History:     []state.Attempt{a, {Revision: "sha256:def", Time: now, Result: state.Failed, Error: "invalid"}},
	}
	out := statusJSON(&globals{stdout: &bytes.Buffer{}}, st)
	want := "sha256:" + hex
	if out.LastApplied.RulesetDigest != want {
		t.Errorf("last_applied.ruleset_digest = %q, want %q", out.LastApplied.RulesetDigest, want)
	}
	if out.LastAttempt.RulesetDigest != want {
		t.Errorf("last_attempt.ruleset_digest = %q, want %q", out.LastAttempt.RulesetDigest, want)
	}
	if len(out.History) != 2 || out.History[0].RulesetDigest != want || out.History[1].RulesetDigest != "" {
		t.Errorf("history = %+v, want the first digest %q and none on the failed attempt", out.History, want)
	}
	if st.LastAttempt.RulesetDigest != hex || st.History[0].RulesetDigest != hex {
		t.Error("statusJSON modified the status result it was given")
	}
}
