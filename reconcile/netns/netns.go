// Package netns is the one handle on a network namespace that reconcile acts in. A namespace
// is named on the command line (--netns) as nothing (the namespace of this process), a name in
// /run/netns (as `ip netns add` makes) or a path to a namespace file (/proc/PID/ns/net, a bind
// mount); Open turns any of those into a Handle: an open file descriptor of the namespace, which
// keeps it reachable while reconcile works in it, and its identity (the nsfs device and inode).
//
// Everything that acts in a namespace takes the Handle, not the string: the kernel dataplane
// (nft.NewKernel) and the link watcher use its Fd, the lock is keyed by its Inode, and the state
// record by its identity and Names (state.Locate), so the different spellings of one namespace
// share one lock and one record.
package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// RunDir is where `ip netns` keeps the bind mounts of named namespaces (iproute2's NETNS_RUN_DIR).
const RunDir = "/run/netns"

// selfPath is the namespace file of this process (the thread group leader's namespace: Go may
// move a locked OS thread into another namespace, the process stays where it was started).
const selfPath = "/proc/self/ns/net"

// Handle is an open network namespace. The zero value is not usable; Open makes one. A Handle
// is safe for concurrent use; Close it when done.
type Handle struct {
	name string // as given to Open
	path string // the file that was opened
	fd   int
	dev  uint64
	ino  uint64
}

// Open opens the network namespace name: "" is the namespace of this process, a name without
// a '/' is RunDir/name, anything with a '/' is a path to a namespace file. The error says which
// name could not be opened and why (it does not exist, it is not a namespace file).
func Open(name string) (*Handle, error) {
	path := selfPath
	switch {
	case strings.ContainsRune(name, '/'):
		path = name
	case name == "." || name == "..":
		return nil, fmt.Errorf("network namespace %q: not a namespace name", name)
	case name != "":
		path = filepath.Join(RunDir, name)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %q: %w", displayName(name), err)
	}
	h := &Handle{name: name, path: path, fd: fd}
	if err := h.identify(); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("open network namespace %q: %w", displayName(name), err)
	}
	return h, nil
}

func displayName(name string) string {
	if name == "" {
		return selfPath
	}
	return name
}

// identify checks that fd is a network namespace and records its device and inode.
func (h *Handle) identify() error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(h.fd, &sfs); err != nil {
		return err
	}
	// nsfs since Linux 3.19; procfs before (and for /proc/PID/ns/net opened on old kernels).
	if sfs.Type != unix.NSFS_MAGIC && sfs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not a namespace file", h.path)
	}
	// The namespace type, where the kernel can tell (NS_GET_NSTYPE, Linux 4.11).
	if t, err := unix.IoctlRetInt(h.fd, unix.NS_GET_NSTYPE); err == nil && t != unix.CLONE_NEWNET {
		return fmt.Errorf("%s is a namespace but not a network namespace", h.path)
	}
	var st unix.Stat_t
	if err := unix.Fstat(h.fd, &st); err != nil {
		return err
	}
	h.dev, h.ino = st.Dev, st.Ino
	return nil
}

// sameFile reports whether path is this namespace.
func (h *Handle) sameFile(path string) bool {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false
	}
	return st.Dev == h.dev && st.Ino == h.ino
}

// runNames are the names under RunDir that are bind mounts of this namespace, sorted.
func (h *Handle) runNames() []string {
	entries, err := os.ReadDir(RunDir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if h.sameFile(filepath.Join(RunDir, e.Name())) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// Name is the namespace as it was given to Open ("" for this process's), for messages.
func (h *Handle) Name() string { return h.name }

// String is the namespace for messages: the name given, or "this process's network namespace".
func (h *Handle) String() string {
	if h.name == "" {
		return "this process's network namespace"
	}
	return "network namespace " + h.name
}

// Fd is the open file descriptor of the namespace, valid until Close. Pass it to
// nftables.WithNetNSFd, netlink.Config.NetNS or netlink.NewHandleAt; do not close it.
func (h *Handle) Fd() int { return h.fd }

// Inode is the namespace's inode number: the same for every path that reaches the namespace,
// for as long as the namespace lives (the kernel may reuse it afterwards). Locks use it.
func (h *Handle) Inode() uint64 { return h.ino }

// Same reports whether o is the same namespace as h.
func (h *Handle) Same(o *Handle) bool {
	return h != nil && o != nil && h.dev == o.dev && h.ino == o.ino
}

// Close releases the file descriptor. Closing twice is an error.
func (h *Handle) Close() error {
	if h == nil || h.fd < 0 {
		return errors.New("network namespace handle already closed")
	}
	err := unix.Close(h.fd)
	h.fd = -1
	return err
}

// IsOwn reports whether h is the network namespace of this process (nil is). The thread group
// leader's namespace is meant: Go may move a locked thread elsewhere, the process stays.
func IsOwn(h *Handle) bool {
	if h == nil {
		return true
	}
	var st unix.Stat_t
	if unix.Stat(selfPath, &st) != nil {
		return false
	}
	return st.Dev == h.dev && st.Ino == h.ino
}

// Names are the names under RunDir that reach this namespace, sorted (none for an unnamed
// namespace). They change when `ip netns add|attach|delete` runs; the namespace's identity
// (Dev, Inode) does not.
func (h *Handle) Names() []string { return h.runNames() }

// Dev is the device of the nsfs file system the namespace's inode lives on; with Inode, it
// identifies the namespace within one boot.
func (h *Handle) Dev() uint64 { return h.dev }

// BootID is the kernel's boot id (/proc/sys/kernel/random/boot_id), "" when it cannot be
// read. Namespace inodes restart at boot: an identity is only meaningful with the boot id.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
