package reconcile

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// jumpClock is a Config.Now whose wall time the test moves by a year forward or back.
type jumpClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *jumpClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *jumpClock) jump(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

const year = 365 * 24 * time.Hour

// The clock jumping a year forward and a year back between passes (Config.Now, in process,
// real kernel namespace): nothing that decides what to apply depends on the wall clock. Every
// pass converges, the fast no-change pass still rests on the kernel's identity only, the
// history keeps the order of the passes whatever their times say, and files whose times are
// in the future make the directory stamp unusable (the files are read) instead of trusted.
func TestClockJumpsBetweenPassesKernel(t *testing.T) {
	ns := testenv.NewNetns(t, "clock")
	repo, stateDir := t.TempDir(), t.TempDir()
	testenv.WriteFiles(t, repo, labRepo)
	clock := &jumpClock{}
	cfg := Config{Source: source.Dir{Path: repo}, Host: "node-1", Netns: ns, StateDir: stateDir, Now: clock.now}
	ctx := context.Background()
	var times []time.Time
	pass := func(step string, want Result) *ApplyResult {
		t.Helper()
		res, err := agentOf(t, cfg).Apply(ctx)
		if err != nil || res.Result != want {
			t.Fatalf("%s: %v, result %v, want %v", step, err, res != nil && res.Result == want, want)
		}
		rec, err := state.Load(stateDir, "reconcile", ns)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, rec.LastAttempt.Time)
		return res
	}
	pass("first apply", Applied)
	before := kernelDigest(t, cfg)
	// Let the files age past the racily-clean margin (their change time is the real clock's):
	// the stamp then vouches for them.
	time.Sleep(2100 * time.Millisecond)
	pass("no change, stamp recorded", NoChange)

	clock.jump(year)
	if res := pass("clock a year ahead", NoChange); !res.Fast {
		t.Errorf("a year ahead: the fast no-change pass was not taken (it rests on the kernel's identity, not on time)")
	}
	testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": strings.Replace(labRepo["profiles/WEB.yaml"], "443", "8443", 1)})
	pass("a change, a year ahead", Applied)
	clock.jump(-2 * year)
	if res := pass("clock a year behind", NoChange); res.Fast {
		t.Errorf("a year behind: the fast pass trusted a directory changed less than 2 s ago")
	}
	testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": labRepo["profiles/WEB.yaml"]})
	pass("back to the first ruleset, a year behind", Applied)
	if got := kernelDigest(t, cfg); got != before {
		t.Errorf("the kernel after the jumps holds ruleset %.12s, want the first one, %.12s", got, before)
	}

	// A file dated a year in the future (written while the clock was ahead): the stamp is
	// never trusted while it is, so a change of the same size and times would not be missed.
	future := time.Now().Add(year)
	if err := os.Chtimes(filepath.Join(repo, "profiles", "WEB.yaml"), future, future); err != nil {
		t.Fatal(err)
	}
	if s, err := (source.Dir{Path: repo}).Stamp(ctx); err != nil || s != "" {
		t.Errorf("stamp with a file in the future: %q %v, want none", s, err)
	}
	if res := pass("a file in the future", NoChange); res.Fast {
		t.Errorf("the fast pass trusted a directory with a file dated in the future")
	}

	rec, err := state.Load(stateDir, "reconcile", ns)
	if err != nil {
		t.Fatal(err)
	}
	// The history is in the order of the passes, not of their times: the last two
	// applies, a year ahead then a year behind, stay in that order.
	var applied []time.Time
	for _, a := range rec.History {
		if a.Result == Applied {
			applied = append(applied, a.Time)
		}
	}
	if n := len(applied); n != 3 || applied[n-2].Sub(applied[n-1]) < year {
		t.Errorf("applies recorded at %v, want 3, the last two in the order of the passes (a year ahead, then behind)", applied)
	}
	if last := rec.History[len(rec.History)-1].Time; !last.Equal(times[len(times)-1]) {
		t.Errorf("last history entry at %v, want the last pass's %v", last, times[len(times)-1])
	}
	if la := rec.LastApplied; la == nil || la.Time.Year() != time.Now().Year()-1 {
		t.Errorf("last applied %+v, want the time of the clock a year behind", la)
	}
	st, err := agentOf(t, cfg).Status(ctx)
	if err != nil || !st.InSync() {
		t.Errorf("status after the jumps: %v, in sync %v", err, st != nil && st.InSync())
	}
}

// Watch's retry and poll timers run on the monotonic clock: a wall clock that jumps a year
// forward and back between passes neither fires a retry early nor delays it.
func TestWatchTimersIgnoreClockJumpsKernel(t *testing.T) {
	ns := testenv.NewNetns(t, "clockw")
	repo := t.TempDir()
	testenv.WriteFiles(t, repo, labRepo)
	testenv.WriteFiles(t, repo, map[string]string{"profiles/BAD.yaml": "id: BAD\ninbound_rules: [{action: maybe}]\n"})
	clock := &jumpClock{}
	var mu sync.Mutex
	var failedAt []time.Time // monotonic
	h := &recordHandler{on: func(r slog.Record) {
		if r.Message == "reconcile failed; the last good ruleset stays in the kernel" {
			mu.Lock()
			failedAt = append(failedAt, time.Now())
			n := len(failedAt)
			mu.Unlock()
			// Jump the wall clock right after each failure: a year ahead, then back.
			if n%2 == 1 {
				clock.jump(year)
			} else {
				clock.jump(-year)
			}
		}
	}}
	m := NewMetrics()
	cfg := Config{Source: source.Dir{Path: repo}, Host: "node-1", Netns: ns, StateDir: t.TempDir(), Now: clock.now,
		Logger: slog.New(h), Metrics: m}
	a := agentOf(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Watch(ctx, WatchOptions{Interval: time.Hour}) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(failedAt)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failedAt) < 3 {
		t.Fatalf("%d failed passes within 15 s, want 3 (retries after 1 s and 2 s)", len(failedAt))
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second} {
		got := failedAt[i+1].Sub(failedAt[i])
		if got < want || got > want+time.Second {
			t.Errorf("retry %d came after %v, want %v (the wall clock jumped a year in between)", i+1, got, want)
		}
	}
}

// kernelDigest is the digest of the canonical form of the table the kernel holds.
func kernelDigest(t *testing.T, cfg Config) string {
	t.Helper()
	rs, err := agentOf(t, cfg).observe(context.Background())
	if err != nil || rs == nil {
		t.Fatalf("read the table: %v", err)
	}
	return rs.Canonical().Digest()
}

// recordHandler calls on for every log record.
type recordHandler struct{ on func(slog.Record) }

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.on(r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }
