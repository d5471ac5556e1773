package testenv

import (
	"os"
	"testing"
)

// Damaging files on purpose (the tests of damaged state records and clones): each fails t on
// any error.

// Overwrite replaces the content of the file at path (created when missing, mode 0644).
func Overwrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TruncateHalf cuts the file at path to half its size, as a write killed midway leaves it.
func TruncateHalf(t testing.TB, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// Remove removes path and everything under it.
func Remove(t testing.TB, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
}
