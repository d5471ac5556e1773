package testenv

import (
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// OpenNetns opens a handle on the network namespace name (a name under /run/netns, a path, or
// "" for this process's) and closes it when the test ends; it fails the test when the namespace
// cannot be opened. Cleanups run last-registered first, so a Kernel opened on the handle after
// this call and closed in t.Cleanup is closed before the handle.
func OpenNetns(t testing.TB, name string) *netns.Handle {
	t.Helper()
	h, err := netns.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}
