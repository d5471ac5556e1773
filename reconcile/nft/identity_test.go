package nft

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// cookieBySetns is the other way to read a namespace's cookie: a socket made inside the
// namespace by a thread moved into it (setns), as a program without a socket there would.
func cookieBySetns(t testing.TB, h *netns.Handle) uint64 {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(self)
	if err := unix.Setns(h.Fd(), unix.CLONE_NEWNET); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			panic(err) // the thread would stay in the test namespace
		}
	}()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The Kernel's cookie is its namespace's (the same a socket made there by setns reads), is the
// same for every handle on that namespace, and is new for a namespace deleted and made again
// under the same name, whose ruleset generation starts over.
func TestKernelNetnsCookie(t *testing.T) {
	ctx := context.Background()
	name := testenv.NewNetns(t, "cookie")
	open := func() (*Kernel, *netns.Handle) {
		h := testenv.Open(t, netns.Open, name)
		k, err := NewKernel(h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k.Close() })
		return k, h
	}
	cookie := func(k *Kernel) uint64 {
		t.Helper()
		c, err := k.NetnsCookie(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	k1, h1 := open()
	c1 := cookie(k1)
	if c1 == 0 || cookie(k1) != c1 {
		t.Fatalf("cookie %d, then %d", c1, cookie(k1))
	}
	if c := cookieBySetns(t, h1); c != c1 {
		t.Fatalf("netlink socket reads cookie %d, a socket made in the namespace by setns %d", c1, c)
	}
	k2, _ := open()
	if c := cookie(k2); c != c1 {
		t.Fatalf("a second handle on the namespace reads cookie %d, want %d", c, c1)
	}
	other := testenv.NewNetns(t, "cookie2")
	k3, err := NewKernel(testenv.Open(t, netns.Open, other))
	if err != nil {
		t.Fatal(err)
	}
	defer k3.Close()
	if c := cookie(k3); c == c1 {
		t.Fatalf("two namespaces share cookie %d", c)
	}

	// Deleted and made again under the same name: a new cookie.
	_ = k1.Close()
	_ = k2.Close()
	_ = h1.Close()
	testenv.Run(t, "ip", "netns", "delete", name)
	testenv.Run(t, "ip", "netns", "add", name)
	k4, _ := open()
	if c := cookie(k4); c == c1 {
		t.Fatalf("a namespace made again under the name %s has the old cookie %d", name, c)
	}
	if _, err := k1.NetnsCookie(ctx); err == nil {
		t.Error("a closed Kernel read a cookie")
	}
}

// The cost of the two ways to read the cookie (see NetnsCookie): the Kernel's socket is one
// getsockopt; setns is two namespace switches, a socket and a close.
func TestKernelNetnsCookieCost(t *testing.T) {
	name := testenv.NewNetns(t, "cookiecost")
	h := testenv.Open(t, netns.Open, name)
	k, err := NewKernel(h)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()
	const n = 2000
	start := time.Now()
	for range n {
		if _, err := k.NetnsCookie(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sock := time.Since(start) / n
	start = time.Now()
	for range n {
		cookieBySetns(t, h)
	}
	setns := time.Since(start) / n
	t.Logf("netns cookie: netlink socket %v, setns + socket %v per read", sock, setns)
}

func TestFakeNetnsCookie(t *testing.T) {
	ctx := context.Background()
	a, b := NewFake(), NewFake()
	ca, err := a.NetnsCookie(ctx)
	if err != nil || ca == 0 {
		t.Fatal(ca, err)
	}
	if c, _ := a.NetnsCookie(ctx); c != ca {
		t.Errorf("cookie changed: %d, %d", ca, c)
	}
	if cb, _ := b.NetnsCookie(ctx); cb == ca {
		t.Errorf("two fakes share cookie %d", ca)
	}
	a.WithoutNetnsCookie()
	if _, err := a.NetnsCookie(ctx); !errors.Is(err, unix.ENOPROTOOPT) {
		t.Errorf("old kernel: %v", err)
	}
}
