package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of size (mount's -o size=, e.g. "1m") on a new temporary directory of t
// and returns it; it is unmounted when the test ends. It needs root (RequireKernel).
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	RequireKernel(t)
	dir := t.TempDir()
	Run(t, "mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir)
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// FillDisk writes a file in dir until its filesystem has no space left (ENOSPC) and returns a
// function that removes the file again. Any other write error fails t.
func FillDisk(t testing.TB, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	f.Close()
	return func() {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Error(err)
		}
	}
}
