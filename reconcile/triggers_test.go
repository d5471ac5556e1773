package reconcile

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/testenv"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// next waits up to d for a trigger; ok is false on timeout.
func next(t *testing.T, q *Triggers, d time.Duration) (Trigger, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tr, _, err := q.Next(ctx)
	return tr, err == nil
}

func TestTriggersCoalesce(t *testing.T) {
	q := NewTriggers()
	q.Send(Trigger{Reason: "interval"})
	q.Send(Trigger{Reason: "fsnotify"})
	q.Send(Trigger{Reason: "link"})
	tr, merged, err := q.Next(context.Background())
	if err != nil || tr.Reason != "interval" || merged != 2 {
		t.Fatalf("got %+v merged=%d err=%v, want the first trigger with 2 merged", tr, merged, err)
	}
	if tr, ok := next(t, q, 50*time.Millisecond); ok {
		t.Fatalf("queue should be empty after Next, got %+v", tr)
	}
}

func TestJitterBounds(t *testing.T) {
	for i := 0; i < 1000; i++ {
		d := Jitter(30*time.Second, 0.1)
		if d < 27*time.Second || d > 33*time.Second {
			t.Fatalf("Jitter(30s, 0.1) = %v, outside [27s, 33s]", d)
		}
	}
	if Jitter(time.Second, 0) != time.Second {
		t.Fatal("no jitter requested, but the interval changed")
	}
}

func TestWatchDirTriggersOnRepositoryChanges(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := NewTriggers()
	errc := make(chan error, 1)
	go func() { errc <- WatchDir(ctx, root, 50*time.Millisecond, q, discard()) }()
	time.Sleep(100 * time.Millisecond) // let the watches be added

	// Editor leftovers and unrelated files do not trigger.
	for _, name := range []string{"profiles/.WEB.yaml.swp", "profiles/WEB.yaml~", "README.md", "profiles/4913"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if tr, ok := next(t, q, 300*time.Millisecond); ok {
		t.Fatalf("irrelevant files triggered a pass: %+v", tr)
	}

	// A profile written in place triggers once, after the debounce.
	if err := os.WriteFile(filepath.Join(root, "profiles", "WEB.yaml"), []byte("id: WEB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, ok := next(t, q, 2*time.Second)
	if !ok || tr.Reason != "fsnotify" || tr.Detail != "profiles/WEB.yaml" {
		t.Fatalf("want an fsnotify trigger for profiles/WEB.yaml, got %+v ok=%v", tr, ok)
	}

	// Atomic save (temp file + rename), as editors and `reconcile profile` do.
	tmp := filepath.Join(root, "profiles", ".tmp-123")
	if err := os.WriteFile(tmp, []byte("id: WEB\ntags: [WEB]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "profiles", "WEB.yaml")); err != nil {
		t.Fatal(err)
	}
	if tr, ok := next(t, q, 2*time.Second); !ok || tr.Reason != "fsnotify" {
		t.Fatalf("atomic rename did not trigger: %+v ok=%v", tr, ok)
	}

	// A new directory is watched too: a file written into it afterwards triggers.
	if err := os.MkdirAll(filepath.Join(root, "endpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	if tr, ok := next(t, q, 2*time.Second); !ok || tr.Detail != "endpoints" {
		t.Fatalf("new directory did not trigger: %+v ok=%v", tr, ok)
	}
	if err := os.WriteFile(filepath.Join(root, "endpoints", "lab.yaml"), []byte("endpoints: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if tr, ok := next(t, q, 2*time.Second); !ok || tr.Detail != "endpoints/lab.yaml" {
		t.Fatalf("file in new directory did not trigger: %+v ok=%v", tr, ok)
	}

	// Removal triggers.
	if err := os.Remove(filepath.Join(root, "profiles", "WEB.yaml")); err != nil {
		t.Fatal(err)
	}
	if tr, ok := next(t, q, 2*time.Second); !ok || tr.Detail != "profiles/WEB.yaml" {
		t.Fatalf("removal did not trigger: %+v ok=%v", tr, ok)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("WatchDir: %v", err)
	}
}

func TestWatchLinksSeesEndpointInterfaces(t *testing.T) {
	ns := testenv.NewNetns(t, "links")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := NewTriggers()
	interesting := func(name string) bool { return strings.HasPrefix(name, "caliep") }
	errc := make(chan error, 1)
	go func() { errc <- WatchLinks(ctx, ns, interesting, q, discard()) }()
	time.Sleep(400 * time.Millisecond) // subscription and initial listing

	testenv.Run(t, "ip", "-n", ns, "link", "add", "other0", "type", "veth", "peer", "name", "other1")
	if tr, ok := next(t, q, 300*time.Millisecond); ok {
		t.Fatalf("an uninteresting link triggered a pass: %+v", tr)
	}
	testenv.Run(t, "ip", "-n", ns, "link", "add", "caliep1", "type", "veth", "peer", "name", "wl1")
	tr, ok := next(t, q, 2*time.Second)
	if !ok || tr.Reason != "link" || tr.Detail != "caliep1 appeared" {
		t.Fatalf("want 'caliep1 appeared', got %+v ok=%v", tr, ok)
	}
	// Bringing it up is a change of an existing link, not an appearance.
	testenv.Run(t, "ip", "-n", ns, "link", "set", "caliep1", "up")
	if tr, ok := next(t, q, 300*time.Millisecond); ok {
		t.Fatalf("link up triggered a pass: %+v", tr)
	}
	testenv.Run(t, "ip", "-n", ns, "link", "del", "caliep1")
	tr, ok = next(t, q, 2*time.Second)
	if !ok || tr.Detail != "caliep1 disappeared" {
		t.Fatalf("want 'caliep1 disappeared', got %+v ok=%v", tr, ok)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("WatchLinks: %v", err)
	}
}

func TestRelevantPathAndGitDirs(t *testing.T) {
	for rel, want := range map[string]bool{
		"profiles/WEB.yaml": true, "endpoints/a.json": true, "tests/t.yaml": true, "profiles": true,
		"profiles/.WEB.yaml.swp": false, "README.md": false, ".git/index": false, ".github/workflows/ci.yml": false,
	} {
		if got := relevantPath(rel); got != want {
			t.Errorf("relevantPath(%q) = %v, want %v", rel, got, want)
		}
	}
}
