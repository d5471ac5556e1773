package testenv

import (
	"io"
	"testing"
)

// Open calls open(name), fails the test when it fails, and closes the result when the test
// ends: testenv.Open(t, netns.Open, name) is a namespace handle for the test (netns itself is
// not imported here: its tests use testenv). Cleanups run last-registered first, so what is
// opened on the result afterwards (a Kernel closed in t.Cleanup) is closed before it.
func Open[T io.Closer](t testing.TB, open func(string) (T, error), name string) T {
	t.Helper()
	c, err := open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
