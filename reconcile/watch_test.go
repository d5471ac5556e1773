package reconcile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeAgent records the passes Watch runs.
type fakeAgent struct {
	mu     sync.Mutex
	passes []bool // heal flag of each pass
	fail   int    // fail this many passes first
	drift  bool
	calls  chan string
}

func newFakeAgent() *fakeAgent { return &fakeAgent{calls: make(chan string, 100)} }

func (f *fakeAgent) pass(ctx context.Context, heal bool) (*PassOutcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.passes = append(f.passes, heal)
	if f.fail > 0 {
		f.fail--
		f.calls <- "fail"
		return nil, errors.New("remote unreachable")
	}
	if heal {
		f.drift = false
	}
	f.calls <- "pass"
	return &PassOutcome{Result: "no-change", Revision: "main@sha1:abc", Source: "test", Drift: f.drift}, nil
}

func (f *fakeAgent) driftCheck(ctx context.Context) (*DriftOutcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls <- "drift"
	return &DriftOutcome{Drift: f.drift, Summary: "1 rule added by hand"}, nil
}

func waitCall(t *testing.T, f *fakeAgent, want string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case got := <-f.calls:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q call within %v", want, d)
		}
	}
}

func startWatch(t *testing.T, o WatchOptions) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Watch did not return after cancel")
		}
	})
	return cancel
}

func TestWatchRunsAtStartAndOnInterval(t *testing.T) {
	f := newFakeAgent()
	m := NewMetrics()
	startWatch(t, WatchOptions{Pass: f.pass, Interval: 100 * time.Millisecond, Metrics: m, Logger: discard()})
	waitCall(t, f, "pass", time.Second) // start
	waitCall(t, f, "pass", time.Second) // interval
	if got := testutil.ToFloat64(m.triggers.WithLabelValues("start")); got != 1 {
		t.Fatalf("start triggers = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.lastSuccess); got != 1 {
		t.Fatalf("last attempt success = %v, want 1", got)
	}
}

func TestWatchRetriesWithBackoffAfterFailure(t *testing.T) {
	f := newFakeAgent()
	f.fail = 2
	m := NewMetrics()
	startWatch(t, WatchOptions{Pass: f.pass, Interval: time.Hour, Metrics: m, Logger: discard()})
	waitCall(t, f, "fail", time.Second)
	start := time.Now()
	waitCall(t, f, "fail", 3*time.Second) // retry after 1s
	waitCall(t, f, "pass", 4*time.Second) // retry after 2s
	if el := time.Since(start); el < 2500*time.Millisecond {
		t.Fatalf("retries came after %v; want a growing backoff (1s then 2s)", el)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("unknown", "error")); got != 2 {
		t.Fatalf("errors counted = %v, want 2", got)
	}
}

func TestWatchSignalAndFileTriggers(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFakeAgent()
	sig := make(chan struct{}, 1)
	startWatch(t, WatchOptions{Pass: f.pass, Interval: time.Hour, WatchDir: dir, Debounce: 50 * time.Millisecond,
		Signals: sig, Logger: discard()})
	waitCall(t, f, "pass", time.Second)
	sig <- struct{}{}
	waitCall(t, f, "pass", time.Second)
	time.Sleep(100 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(dir, "profiles", "WEB.yaml"), []byte("id: WEB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitCall(t, f, "pass", time.Second)
}

func TestWatchHealModes(t *testing.T) {
	for _, mode := range []string{HealWarn, HealEnabled} {
		t.Run(mode, func(t *testing.T) {
			f := newFakeAgent()
			f.drift = true
			m := NewMetrics()
			startWatch(t, WatchOptions{Pass: f.pass, Drift: f.driftCheck, Interval: time.Hour,
				DriftInterval: 100 * time.Millisecond, Heal: mode, Metrics: m, Logger: discard()})
			waitCall(t, f, "pass", time.Second)
			waitCall(t, f, "drift", time.Second)
			f.mu.Lock()
			first := f.passes[0]
			f.mu.Unlock()
			if first != (mode == HealEnabled) {
				t.Fatalf("start pass heal=%v, want %v", first, mode == HealEnabled)
			}
			if mode == HealWarn {
				// Drift is reported and left alone: no further pass.
				time.Sleep(300 * time.Millisecond)
				f.mu.Lock()
				n := len(f.passes)
				f.mu.Unlock()
				if n != 1 {
					t.Fatalf("heal=warn ran %d passes, want 1", n)
				}
				if got := testutil.ToFloat64(m.drift); got != 1 {
					t.Fatalf("drift metric = %v, want 1", got)
				}
			}
		})
	}
}

func TestWatchRejectsBadHeal(t *testing.T) {
	err := Watch(context.Background(), WatchOptions{Pass: newFakeAgent().pass, Heal: "sometimes"})
	if err == nil || !strings.Contains(err.Error(), "sometimes") {
		t.Fatalf("want an error naming the bad mode, got %v", err)
	}
}

func TestWatchLockSerialisesPasses(t *testing.T) {
	f := newFakeAgent()
	var mu sync.Mutex
	held := false
	overlap := false
	lock := func(ctx context.Context) (func(), error) {
		mu.Lock()
		if held {
			overlap = true
		}
		held = true
		mu.Unlock()
		return func() { mu.Lock(); held = false; mu.Unlock() }, nil
	}
	startWatch(t, WatchOptions{Pass: f.pass, Lock: lock, Interval: 20 * time.Millisecond, Logger: discard()})
	for i := 0; i < 5; i++ {
		waitCall(t, f, "pass", time.Second)
	}
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Fatal("two passes held the lock at once")
	}
}
