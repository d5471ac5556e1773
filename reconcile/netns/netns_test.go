package netns_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// TestSpellingsShareOneIdentity: --netns NAME, --netns /run/netns/NAME and --netns
// /proc/PID/ns/net of a process inside NAME are one namespace: one inode, one key.
func TestSpellingsShareOneIdentity(t *testing.T) {
	testenv.RequireKernel(t)
	name := testenv.NewNetns(t, "nsh")
	cmd := exec.Command("ip", "netns", "exec", name, "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	procPath := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net"
	// ip netns exec switches namespace before exec'ing sleep: wait until it has.
	byName := open(t, name)
	deadline := time.Now().Add(5 * time.Second)
	for {
		h := open(t, procPath)
		if h.Same(byName) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, spelling := range []string{name, filepath.Join(netns.RunDir, name), procPath} {
		h := open(t, spelling)
		if !h.Same(byName) || h.Inode() != byName.Inode() {
			t.Errorf("%q: not the same namespace as %q (inode %d, want %d)", spelling, name, h.Inode(), byName.Inode())
		}
		if got := h.Names(); len(got) != 1 || got[0] != name {
			t.Errorf("%q: Names() = %q, want [%q]", spelling, got, name)
		}
		if h.Name() != spelling {
			t.Errorf("Name() = %q, want %q as given", h.Name(), spelling)
		}
	}
	self := open(t, "")
	if self.Same(byName) {
		t.Fatal("this process's namespace is the same as the test namespace")
	}
	if !netns.IsOwn(self) || netns.IsOwn(byName) {
		t.Errorf("IsOwn: own namespace %v, test namespace %v", netns.IsOwn(self), netns.IsOwn(byName))
	}
	viaProc := open(t, "/proc/"+strconv.Itoa(os.Getpid())+"/ns/net")
	if !viaProc.Same(self) || !netns.IsOwn(viaProc) || viaProc.Inode() != self.Inode() {
		t.Errorf("/proc/%d/ns/net is not the own namespace (inode %d, want %d)", os.Getpid(), viaProc.Inode(), self.Inode())
	}
}

// TestUnnamedNamespace: a namespace with no name under /run/netns is keyed by its inode.
func TestUnnamedNamespace(t *testing.T) {
	testenv.RequireKernel(t)
	cmd := exec.Command("unshare", "--net", "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	procPath := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net"
	self := open(t, "")
	var h *netns.Handle
	for deadline := time.Now().Add(5 * time.Second); ; {
		h = open(t, procPath)
		if !h.Same(self) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if names := h.Names(); len(names) != 0 || netns.IsOwn(h) {
		t.Errorf("an unnamed namespace: Names() = %q, IsOwn %v", names, netns.IsOwn(h))
	}
}

func TestOpenRefuses(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		t.Skip("no /proc")
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "file")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for spelling, want := range map[string]string{
		plain:                          "is not a namespace file",
		"/proc/self/ns/mnt":            "not a network namespace",
		"reconcile-no-such-namespace-": "no such file",
		"..":                           "not a namespace name",
	} {
		h, err := netns.Open(spelling)
		if err == nil {
			_ = h.Close()
			t.Errorf("Open(%q) succeeded", spelling)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), spelling) {
			t.Errorf("Open(%q) = %v, want it to name the namespace and say %q", spelling, err, want)
		}
	}
	h, err := netns.Open("")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err == nil {
		t.Error("a second Close succeeded")
	}
}

func open(t *testing.T, name string) *netns.Handle {
	t.Helper()
	h, err := netns.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}
