package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// The last attempt's line ends with one period, also when its error is a sentence of its own
// (a watch pass that left drift alone records the plan's summary, which ends with a period).
func TestStatusTextLastAttemptOnePeriod(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for errText, want := range map[string]string{
		"drift left alone (heal off): Plan: 0 to add, 0 to change, 1 to destroy.": "Last attempt: no-change at 2026-11-25T12:00:00Z, revision sha256:abc: drift left alone (heal off): Plan: 0 to add, 0 to change, 1 to destroy.\n",
		"invalid": "Last attempt: no-change at 2026-11-25T12:00:00Z, revision sha256:abc: invalid.\n",
	} {
		st := &reconcile.StatusResult{Table: "reconcile",
			LastAttempt: &state.Attempt{Revision: "sha256:abc", Time: now, Result: state.NoChange, Error: errText}}
		var out bytes.Buffer
		if err := writeStatusText(&out, &globals{host: "node-1"}, st); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("status text:\n%s\nwant the line %q", out.String(), want)
		}
	}
}

// When the source offers a revision not applied yet, a kernel that differs from the last
// applied ruleset may hold that newer revision (an apply killed, or whose record could not be
// written, after its commit): status does not claim that apply would change it back.
func TestStatusTextDriftWithANewerSourceHead(t *testing.T) {
	applied := &nft.Ruleset{Table: "reconcile", Chains: []*nft.Chain{{Name: "a"}}}
	kernel := &nft.Ruleset{Table: "reconcile", Chains: []*nft.Chain{{Name: "a"}, {Name: "b"}}}
	for head, want := range map[string]string{
		"sha256:abc": "The kernel has drifted from the last applied ruleset; apply would change it back:\n",
		"sha256:new": "The kernel differs from the last applied ruleset (changed by hand, or by an apply of a newer revision that was not recorded):\n",
	} {
		st := &reconcile.StatusResult{Table: "reconcile", TableExists: true, SourceHead: head,
			LastApplied: &state.LastApplied{Revision: "sha256:abc"}, Drift: plan.Drift(applied, kernel)}
		var out bytes.Buffer
		if err := writeStatusText(&out, &globals{host: "node-1"}, st); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("source head %s: status text:\n%s\nwant the line %q", head, out.String(), want)
		}
	}
}
