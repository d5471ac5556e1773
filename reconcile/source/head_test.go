package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDirHeadStamp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("profiles/WEB.yaml", "a: 1\n")
	write("endpoints/h.yaml", "b: 2\n")
	write(".git/index", "x")
	stamp := func() string {
		t.Helper()
		s, err := Dir{Path: dir}.Stamp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Files just written are racily clean: no stamp.
	if s := stamp(); s != "" {
		t.Fatalf("stamp %q of files written just now; want none", s)
	}
	old := racyMargin
	t.Cleanup(func() { racyMargin = old })
	racyMargin = 0
	s0 := stamp()
	if s0 == "" || stamp() != s0 {
		t.Fatalf("stamp %q not stable", s0)
	}
	// The repository's own .git is not looked into.
	write(".git/index", "yy")
	if s := stamp(); s != s0 {
		t.Errorf("a change inside .git changed the stamp")
	}
	steps := []struct {
		name string
		edit func()
	}{
		{"same size, new content", func() { write("profiles/WEB.yaml", "a: 9\n") }},
		{"times set back", func() {
			p := filepath.Join(dir, "profiles/WEB.yaml")
			mt := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
			if err := os.Chtimes(p, mt, mt); err != nil {
				t.Fatal(err)
			}
		}},
		{"new file", func() { write("tests/t.yaml", "") }},
		{"file replaced by rename", func() {
			write("x.tmp", "b: 2\n")
			if err := os.Rename(filepath.Join(dir, "x.tmp"), filepath.Join(dir, "endpoints/h.yaml")); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed", func() { _ = os.Remove(filepath.Join(dir, "tests/t.yaml")) }},
	}
	prev := s0
	for _, st := range steps {
		time.Sleep(20 * time.Millisecond) // past the kernel's coarse clock tick
		st.edit()
		s := stamp()
		if s == "" || s == prev {
			t.Errorf("%s: stamp %q, before %q; want a new one", st.name, s, prev)
		}
		prev = s
	}
}

// The working directory taken by default (Implicit) must hold a repository file: an empty one
// is an error, not an empty repository; a named directory may be empty.
func TestImplicitDirWithoutPolicyFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := Dir{Path: dir, Implicit: true}.Fetch(context.Background(), FetchOptions{})
	var np *NoPolicyError
	if !errors.As(err, &np) || np.Path != dir || !strings.Contains(err.Error(), "give --dir PATH or --repo URL") {
		t.Fatalf("implicit empty directory: %v", err)
	}
	if snap, err := (Dir{Path: dir}).Fetch(context.Background(), FetchOptions{}); err != nil || len(snap.Files) != 0 {
		t.Fatalf("named empty directory: %v, %+v", err, snap)
	}
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles", "WEB.yaml"), []byte("id: WEB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if snap, err := (Dir{Path: dir, Implicit: true}).Fetch(context.Background(), FetchOptions{}); err != nil || len(snap.Files) != 1 {
		t.Fatalf("implicit directory with a profile: %v, %+v", err, snap)
	}
}
