package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A failed pass says "nothing was changed" once: not again after a kernel refusal that says
// it already ("netlink transaction rejected, nothing changed: ...").
func TestPassFailedSaysNothingChangedOnce(t *testing.T) {
	for _, tc := range []struct {
		err  string
		want string
	}{
		{"apply revision r: netlink transaction rejected, nothing changed: EPERM", "reconcile: apply revision r: netlink transaction rejected, nothing changed: EPERM\n"},
		{"fetch x: no such repository", "reconcile: fetch x: no such repository; nothing was changed\n"},
	} {
		var stderr bytes.Buffer
		g := &globals{stderr: &stderr}
		if err := g.passFailed(errors.New(tc.err), true); err == nil {
			t.Errorf("%q: no exit code", tc.err)
		}
		if got := stderr.String(); got != tc.want || strings.Count(got, "nothing") != 1 {
			t.Errorf("%q: printed %q, want %q", tc.err, got, tc.want)
		}
	}
}
