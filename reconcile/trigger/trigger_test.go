package trigger

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// next waits up to d for an event; ok is false on timeout.
func next(t *testing.T, q *Queue, d time.Duration) (Event, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tr, _, err := q.Next(ctx)
	return tr, err == nil
}

func TestQueueCoalesces(t *testing.T) {
	q := NewQueue()
	q.Send(Event{Reason: "interval"})
	q.Send(Event{Reason: "fsnotify"})
	q.Send(Event{Reason: "link"})
	tr, merged, err := q.Next(context.Background())
	if err != nil || tr.Reason != "interval" || merged != 2 {
		t.Fatalf("got %+v merged=%d err=%v, want the first trigger with 2 merged", tr, merged, err)
	}
	if tr, ok := next(t, q, 50*time.Millisecond); ok {
		t.Fatalf("queue should be empty after Next, got %+v", tr)
	}
}

// A drift event asks only for a drift check: an event that asks for a pass and arrives while
// a drift event is pending takes its place (before, a new interface's link event merged into a
// pending drift check was lost until the next interval); a drift event merged into a pending
// pass is only counted.
func TestQueueDriftGivesWayToAPass(t *testing.T) {
	q := NewQueue()
	q.Send(Event{Reason: DriftReason})
	q.Send(Event{Reason: "link", Detail: "cali1 appeared"})
	q.Send(Event{Reason: "fsnotify"})
	tr, merged, err := q.Next(context.Background())
	if err != nil || tr.Reason != "link" || tr.Detail != "cali1 appeared" || merged != 2 {
		t.Fatalf("got %+v merged=%d err=%v, want the link event with 2 merged", tr, merged, err)
	}
	q.Send(Event{Reason: "interval"})
	q.Send(Event{Reason: DriftReason})
	if tr, merged, err = q.Next(context.Background()); err != nil || tr.Reason != "interval" || merged != 1 {
		t.Fatalf("got %+v merged=%d err=%v, want the interval event with 1 merged", tr, merged, err)
	}
	q.Send(Event{Reason: DriftReason})
	q.Send(Event{Reason: DriftReason})
	if tr, merged, err = q.Next(context.Background()); err != nil || tr.Reason != DriftReason || merged != 1 {
		t.Fatalf("got %+v merged=%d err=%v, want one drift check with 1 merged", tr, merged, err)
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

func TestDirEmitsOnRepositoryChanges(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := NewQueue()
	errc := make(chan error, 1)
	d := &Dir{Root: root, Debounce: 50 * time.Millisecond, Log: discard(), ready: make(chan struct{})}
	go func() { errc <- d.Run(ctx, q.Send) }()
	select {
	case <-d.ready:
	case err := <-errc:
		t.Fatalf("Dir.Run: %v", err)
	}

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
		t.Fatalf("Dir.Run: %v", err)
	}
}

func TestLinksSeesEndpointInterfaces(t *testing.T) {
	ns := testenv.NewNetns(t, "links")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := NewQueue()
	l := NewLinks(testenv.Open(t, netns.Open, ns), discard())
	errc := make(chan error, 1)
	go func() { errc <- l.Run(ctx, q.Send) }()
	// The source subscribes after the first pass only, so its listing of the existing links
	// knows the endpoints' interfaces: caliep0, there before, is reported as a resync (had it
	// subscribed at once, caliep0 would have been listed as uninteresting and never reported).
	testenv.Run(t, "ip", "-n", ns, "link", "add", "caliep0", "type", "veth", "peer", "name", "wl0")
	l.Follow([]string{"caliep0"}, true)
	l.Follow(nil, false) // a failed pass keeps the interfaces
	l.Follow([]string{"caliep0", "caliep1"}, true)
	if tr, ok := next(t, q, 2*time.Second); !ok || tr.Reason != "link" || tr.Detail != "resync" {
		t.Fatalf("want a 'resync' link event after the listing, got %+v ok=%v", tr, ok)
	}

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
	testenv.Run(t, "ip", "-n", ns, "link", "del", "caliep0")
	tr, ok = next(t, q, 2*time.Second)
	if !ok || tr.Detail != "caliep0 disappeared" {
		t.Fatalf("want 'caliep0 disappeared', got %+v ok=%v", tr, ok)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Links.Run: %v", err)
	}
}

// Links watches the namespace its caller holds open; a handle closed before it subscribes is
// an error naming the namespace, not a silent watch of another namespace.
func TestLinksClosedHandle(t *testing.T) {
	h, err := netns.Open("/proc/self/ns/net")
	if err != nil {
		t.Skip(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	l := NewLinks(h, discard())
	l.Follow(nil, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = l.Run(ctx, func(Event) {})
	if err == nil || !strings.Contains(err.Error(), "closed") || !strings.Contains(err.Error(), "/proc/self/ns/net") {
		t.Fatalf("Run on a closed handle = %v, want an error naming the namespace", err)
	}
}

func TestTimerEmitsItsReason(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tm := range []*Timer{Interval(10 * time.Millisecond), Drift(10 * time.Millisecond)} {
		q := NewQueue()
		errc := make(chan error, 1)
		go func() { errc <- tm.Run(ctx, q.Send) }()
		for i := 0; i < 2; i++ {
			if tr, ok := next(t, q, 2*time.Second); !ok || tr != (Event{Reason: tm.Name()}) {
				t.Fatalf("%s: got %+v ok=%v", tm.Name(), tr, ok)
			}
		}
		if tm.Frac != 0.1 {
			t.Errorf("%s: jitter %v, want 0.1", tm.Name(), tm.Frac)
		}
		defer func() {
			if err := <-errc; err != nil {
				t.Errorf("%s: %v", tm.Name(), err)
			}
		}()
	}
	cancel()
}

func TestChanRelaysUntilClosed(t *testing.T) {
	c := make(chan struct{})
	q := NewQueue()
	errc := make(chan error, 1)
	s := Signals(c)
	go func() { errc <- s.Run(context.Background(), q.Send) }()
	c <- struct{}{}
	if tr, ok := next(t, q, 2*time.Second); !ok || tr != (Event{Reason: "sighup"}) || s.Name() != "signal" {
		t.Fatalf("got %+v ok=%v name %q, want a sighup event from the signal source", tr, ok, s.Name())
	}
	close(c)
	if err := <-errc; err != nil {
		t.Fatalf("Run after close: %v", err)
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

// Two link sources in one namespace (two watches on the same host, or another program that
// subscribes to link events): each one's listing request goes to the link multicast group too,
// so the other's subscription receives a message from a user process. That message is not a
// broken subscription: it must not make a source resubscribe (whose listing would reach the
// other source again: a ping-pong of resubscriptions, thousands of log lines a second) nor
// emit resync events; link changes are still reported to both.
func TestLinksTwoSourcesInOneNamespace(t *testing.T) {
	ns := testenv.NewNetns(t, "links2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var qs [2]*Queue
	errc := make(chan error, 2)
	for i := range qs {
		qs[i] = NewQueue()
		l := NewLinks(testenv.Open(t, netns.Open, ns), discard())
		l.Follow([]string{"caliep0"}, true)
		go func() { errc <- l.Run(ctx, qs[i].Send) }()
	}
	for i, q := range qs {
		if tr, ok := next(t, q, 1500*time.Millisecond); ok {
			t.Fatalf("source %d: an event with no link change: %+v (the other source's listing broke its subscription)", i, tr)
		}
	}
	testenv.Run(t, "ip", "-n", ns, "link", "add", "caliep0", "type", "veth", "peer", "name", "wl0")
	for i, q := range qs {
		if tr, ok := next(t, q, 2*time.Second); !ok || tr.Detail != "caliep0 appeared" {
			t.Fatalf("source %d: want 'caliep0 appeared', got %+v ok=%v", i, tr, ok)
		}
	}
	cancel()
	for range qs {
		if err := <-errc; err != nil {
			t.Fatalf("Links.Run: %v", err)
		}
	}
}

// An endpoint's interface renamed is gone under its name, as if deleted: the kernel sends no
// RTM_DELLINK for a rename, only an RTM_NEWLINK with the new name, and the ruleset dispatches
// by name, so the endpoint's traffic is no longer filtered and the pass must list it as
// waiting. Renamed back, it appears again.
func TestLinksSeesARenameAsDisappearance(t *testing.T) {
	ns := testenv.NewNetns(t, "linksmv")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := NewQueue()
	l := NewLinks(testenv.Open(t, netns.Open, ns), discard())
	testenv.Run(t, "ip", "-n", ns, "link", "add", "caliep0", "type", "veth", "peer", "name", "wl0")
	l.Follow([]string{"caliep0"}, true)
	errc := make(chan error, 1)
	go func() { errc <- l.Run(ctx, q.Send) }()
	if tr, ok := next(t, q, 2*time.Second); !ok || tr.Detail != "resync" {
		t.Fatalf("want the listing's resync, got %+v ok=%v", tr, ok)
	}
	testenv.Run(t, "ip", "-n", ns, "link", "set", "caliep0", "name", "renamed0")
	if tr, ok := next(t, q, 2*time.Second); !ok || tr.Reason != "link" || tr.Detail != "caliep0 disappeared" {
		t.Fatalf("renamed away: want 'caliep0 disappeared', got %+v ok=%v", tr, ok)
	}
	testenv.Run(t, "ip", "-n", ns, "link", "set", "renamed0", "name", "caliep0")
	if tr, ok := next(t, q, 2*time.Second); !ok || tr.Detail != "caliep0 appeared" {
		t.Fatalf("renamed back: want 'caliep0 appeared', got %+v ok=%v", tr, ok)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Links.Run: %v", err)
	}
}
