package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile"
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
