// Package testenv holds what tests share: the root check that fails instead of skipping
// under CI=true, private network namespaces that the test creates and deletes, and writing a
// repository's files into a directory.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where kernel tests must not skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireKernel skips t when kernel tests cannot run here (not root, -short, or no nft
// binary), except under CI=true where it fails the test instead.
func RequireKernel(t testing.TB) {
	t.Helper()
	reason := ""
	switch {
	case os.Geteuid() != 0:
		reason = "kernel test needs root"
	case testing.Short():
		reason = "kernel test skipped in -short mode"
	default:
		if _, err := exec.LookPath("nft"); err != nil {
			reason = "kernel test needs the nft binary"
		} else if _, err := exec.LookPath("ip"); err != nil {
			reason = "kernel test needs the ip binary (iproute2)"
		}
	}
	if reason == "" {
		return
	}
	if InCI() {
		t.Fatalf("%s, and CI=true forbids skipping it", reason)
	}
	t.Skip(reason)
}

// SkipUnlessCI skips t because something it needs (a tool, a privilege) is missing, except
// under CI=true, where every such thing is installed and it fails t instead: a missing tool
// must not hide tests.
func SkipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format+", and CI=true forbids skipping", args...)
	}
	t.Skipf(format, args...)
}

// WriteFiles writes files (slash-separated path relative to dir -> content) under dir,
// making the directories they need; it fails t on any error.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BuildReconcile builds the reconcile command (cmd/reconcile) into a temporary directory of t
// and returns the binary's path.
func BuildReconcile(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "reconcile")
	build := exec.Command("go", "build", "-o", bin, "github.com/reconcile-dev/reconcile/cmd/reconcile")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var seq atomic.Int64

// NewNetns creates a named network namespace ("rt<pid>-<n>-<hint>", at most 30 chars) with
// its loopback up, deletes it when the test ends, and returns its name; its path is
// /run/netns/<name>.
func NewNetns(t testing.TB, hint string) string {
	t.Helper()
	RequireKernel(t)
	name := fmt.Sprintf("rt%d-%d-%s", os.Getpid(), seq.Add(1), hint)
	if len(name) > 30 {
		name = name[:30]
	}
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	Run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// Run runs a command and fails the test with its output if it fails; it returns stdout.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// NetnsRun runs a command inside the named namespace (ip netns exec) and returns its output.
func NetnsRun(t testing.TB, ns string, name string, args ...string) string {
	t.Helper()
	return Run(t, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}
