package nft

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// NetnsCookier is implemented by dataplanes that can tell the cookie of their network
// namespace: the kernel's SO_NETNS_COOKIE (Linux 5.14), a 64-bit number given to a namespace
// when it is made and never given to another one until reboot (unlike the namespace's inode,
// which is reused, and its ruleset generation, which restarts in every new namespace). With
// the boot id it tells whether a ruleset generation recorded earlier, by another process,
// still speaks of the same namespace.
type NetnsCookier interface {
	// NetnsCookie returns the cookie; an error when the kernel cannot tell (older than 5.14:
	// ENOPROTOOPT) or the dataplane is closed. Never 0 without an error.
	NetnsCookie(ctx context.Context) (uint64, error)
}

var (
	_ NetnsCookier = (*Kernel)(nil)
	_ NetnsCookier = (*Fake)(nil)
)

// NetnsCookie reads SO_NETNS_COOKIE on the Kernel's netlink socket, which was created inside
// the namespace: one getsockopt, no thread switches namespace. Errors: the dataplane is closed,
// or the kernel does not know the option (Linux < 5.14: ENOPROTOOPT, wrapped).
func (k *Kernel) NetnsCookie(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.nl == nil {
		return 0, errors.New("netns cookie: dataplane is closed")
	}
	rc, err := k.nl.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("netns cookie: %w", err)
	}
	var cookie uint64
	var serr error
	if err := rc.Control(func(fd uintptr) {
		cookie, serr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	}); err != nil {
		return 0, fmt.Errorf("netns cookie: %w", err)
	}
	if serr != nil {
		return 0, fmt.Errorf("netns cookie (SO_NETNS_COOKIE, Linux 5.14): %w", serr)
	}
	if cookie == 0 {
		return 0, errors.New("netns cookie: the kernel returned 0")
	}
	return cookie, nil
}

// fakeCookies hands out the cookies of fake namespaces: like the kernel's, never the same twice
// in one run of the program.
var fakeCookies atomic.Uint64

// NetnsCookie returns the cookie of the fake's namespace: each Fake is a namespace of its own,
// with a cookie no other Fake of this process has. An error after WithoutNetnsCookie.
func (f *Fake) NetnsCookie(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cookie == 0 {
		f.cookie = 1<<32 + fakeCookies.Add(1)
	}
	if f.cookie == noCookie {
		return 0, fmt.Errorf("netns cookie (SO_NETNS_COOKIE, Linux 5.14): %w", unix.ENOPROTOOPT)
	}
	return f.cookie, nil
}

// noCookie marks a Fake whose kernel cannot tell its cookie.
const noCookie = ^uint64(0)

// WithoutNetnsCookie makes the fake a kernel older than Linux 5.14: NetnsCookie fails with
// ENOPROTOOPT from now on.
func (f *Fake) WithoutNetnsCookie() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cookie = noCookie
}
