package nft

import (
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// TestKernelRefusesTheMachinesNamespaceInTests: in a test binary NewKernel refuses the
// network namespace the test runs in (the machine's own), whether asked for as nil or through
// a handle of /proc/self/ns/net, before opening any socket; so no test of this project can
// program the machine's own ruleset by mistake. A private namespace is accepted.
func TestKernelRefusesTheMachinesNamespaceInTests(t *testing.T) {
	own, err := netns.Open("")
	if err != nil {
		t.Skipf("no namespace file to check against: %v", err)
	}
	defer own.Close()
	for name, ns := range map[string]*netns.Handle{"handle of /proc/self/ns/net": own, "nil": nil} {
		k, err := NewKernel(ns)
		if err == nil {
			_ = k.Close()
			t.Fatalf("%s: NewKernel succeeded in a test binary", name)
		}
		if !strings.Contains(err.Error(), "the machine's own") {
			t.Errorf("%s: %v", name, err)
		}
	}
	k, _ := newKernel(t, "guard") // a private namespace: accepted (skips without root)
	if _, err := k.Observe(t.Context(), "none"); err != nil {
		t.Fatal(err)
	}
}
