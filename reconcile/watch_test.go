package reconcile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/trigger"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeAgent records the passes Watch runs.
type fakeAgent struct {
	mu     sync.Mutex
	passes []bool // heal flag of each pass
	fail   int    // fail this many passes first
	drift  bool
	ifaces []string // interfaces a successful pass reports
	calls  chan string
}

func newFakeAgent() *fakeAgent { return &fakeAgent{calls: make(chan string, 100)} }

func (f *fakeAgent) pass(ctx context.Context, heal bool) (*passOutcome, error) {
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
	return &passOutcome{Result: "no-change", Revision: "main@sha1:abc", Source: "test", Drift: f.drift, Interfaces: f.ifaces}, nil
}

func (f *fakeAgent) driftCheck(ctx context.Context) (*driftOutcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls <- "drift"
	return &driftOutcome{Drift: f.drift, Summary: "1 rule added by hand"}, nil
}

func (f *fakeAgent) healFlags() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bool(nil), f.passes...)
}

// waitCall waits for the next call of the agent and fails unless it is want.
func waitCall(t *testing.T, f *fakeAgent, want string, d time.Duration) {
	t.Helper()
	select {
	case got := <-f.calls:
		if got != want {
			t.Fatalf("call %q, want %q", got, want)
		}
	case <-time.After(d):
		t.Fatalf("no %q call within %v", want, d)
	}
}

// fakeSource is a trigger source that emits when the test says so (fire).
type fakeSource struct {
	c       chan fired
	mu      sync.Mutex
	follows []string // what Follow was told, as "ok:iface,iface"
}

// fired is one event the test makes the source emit; done is closed once it is emitted.
type fired struct {
	e    trigger.Event
	done chan struct{}
}

func newFakeSource() *fakeSource { return &fakeSource{c: make(chan fired)} }

func (s *fakeSource) Name() string { return "fake" }

func (s *fakeSource) Run(ctx context.Context, emit func(trigger.Event)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case f := <-s.c:
			emit(f.e)
			close(f.done)
		}
	}
}

func (s *fakeSource) Follow(ifaces []string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.follows = append(s.follows, "ok:"+strings.Join(ifaces, ","))
	} else {
		s.follows = append(s.follows, "failed")
	}
}

func (s *fakeSource) followed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.follows...)
}

// fire makes the source emit e; it returns once the event is in Watch's queue.
func (s *fakeSource) fire(t *testing.T, reason, detail string) {
	t.Helper()
	f := fired{e: trigger.Event{Reason: reason, Detail: detail}, done: make(chan struct{})}
	select {
	case s.c <- f:
		<-f.done
	case <-time.After(5 * time.Second):
		t.Fatal("the fake source is not running")
	}
}

func startWatch(t *testing.T, o loopOptions) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runLoop(ctx, o) }()
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

func TestWatchRunsAtStartAndOnEachEvent(t *testing.T) {
	f := newFakeAgent()
	src := newFakeSource()
	m := NewMetrics()
	logs := &syncWriter{w: &bytes.Buffer{}}
	startWatch(t, loopOptions{Pass: f.pass, Sources: []trigger.Source{src}, Metrics: m,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	waitCall(t, f, "pass", 5*time.Second) // start
	for _, e := range []trigger.Event{{Reason: "interval"}, {Reason: "fsnotify", Detail: "profiles/WEB.yaml"},
		{Reason: "link", Detail: "caliep1 appeared"}, {Reason: "sighup"}} {
		src.fire(t, e.Reason, e.Detail)
		waitCall(t, f, "pass", 5*time.Second)
	}
	for reason, want := range map[string]float64{"start": 1, "interval": 1, "fsnotify": 1, "link": 1, "sighup": 1} {
		if got := testutil.ToFloat64(m.triggers.WithLabelValues(reason)); got != want {
			t.Errorf("%s triggers = %v, want %v", reason, got, want)
		}
	}
	if got := testutil.ToFloat64(m.lastSuccess); got != 1 {
		t.Fatalf("last attempt success = %v, want 1", got)
	}
	for _, want := range []string{"trigger=start detail=\"\" merged=0", "trigger=fsnotify detail=profiles/WEB.yaml merged=0",
		"trigger=link detail=\"caliep1 appeared\" merged=0"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// Events that arrive while a pass runs make one pass, with the first event's reason.
func TestWatchCoalescesEventsDuringAPass(t *testing.T) {
	src := newFakeSource()
	m := NewMetrics()
	logs := &syncWriter{w: &bytes.Buffer{}}
	started := make(chan int, 10)
	release := make(chan struct{})
	n := 0
	pass := func(context.Context, bool) (*passOutcome, error) {
		n++
		started <- n
		if n == 1 {
			<-release
		}
		return &passOutcome{Result: "no-change"}, nil
	}
	startWatch(t, loopOptions{Pass: pass, Sources: []trigger.Source{src}, Metrics: m,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if got := <-started; got != 1 {
		t.Fatalf("pass %d, want the start pass", got)
	}
	src.fire(t, "fsnotify", "profiles/A.yaml")
	src.fire(t, "link", "caliep1 appeared")
	src.fire(t, "interval", "")
	close(release)
	if got := <-started; got != 2 {
		t.Fatalf("pass %d, want 2", got)
	}
	// A later event is a pass of its own: had the three made more than one pass, this one
	// would be the fourth, not the third.
	src.fire(t, "sighup", "")
	if got := <-started; got != 3 {
		t.Fatalf("pass %d after a later event, want 3", got)
	}
	for reason, want := range map[string]float64{"fsnotify": 1, "link": 0, "interval": 0, "sighup": 1} {
		if got := testutil.ToFloat64(m.triggers.WithLabelValues(reason)); got != want {
			t.Errorf("%s triggers = %v, want %v", reason, got, want)
		}
	}
	if want := "trigger=fsnotify detail=profiles/A.yaml merged=2"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}

func TestWatchRetriesWithBackoffAfterFailure(t *testing.T) {
	f := newFakeAgent()
	f.fail = 2
	m := NewMetrics()
	startWatch(t, loopOptions{Pass: f.pass, Sources: []trigger.Source{}, Interval: time.Hour, Metrics: m, Logger: discard()})
	waitCall(t, f, "fail", 5*time.Second)
	start := time.Now()
	waitCall(t, f, "fail", 3*time.Second) // retry after 1s
	waitCall(t, f, "pass", 4*time.Second) // retry after 2s
	if el := time.Since(start); el < 2500*time.Millisecond {
		t.Fatalf("retries came after %v; want a growing backoff (1s then 2s)", el)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("unknown", "error")); got != 2 {
		t.Fatalf("errors counted = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.triggers.WithLabelValues("retry")); got != 2 {
		t.Fatalf("retry triggers = %v, want 2", got)
	}
}

// Sources that follow the passes learn the interfaces of each successful pass, and that a
// pass failed; drift checks that run no pass tell them nothing.
func TestWatchTellsFollowersWhatPassesFound(t *testing.T) {
	f := newFakeAgent()
	f.fail = 1
	f.ifaces = []string{"caliep1", "caliep2"}
	src := newFakeSource()
	startWatch(t, loopOptions{Pass: f.pass, Drift: f.driftCheck, Heal: HealWarn, Sources: []trigger.Source{src},
		MaxBackoff: time.Hour, Logger: discard()})
	waitCall(t, f, "fail", 5*time.Second)
	src.fire(t, "interval", "")
	waitCall(t, f, "pass", 5*time.Second)
	src.fire(t, "drift", "")
	waitCall(t, f, "drift", 5*time.Second)
	src.fire(t, "sighup", "")
	waitCall(t, f, "pass", 5*time.Second)
	// The last Follow happens after the pass returned; the next event's pass orders it.
	src.fire(t, "sighup", "")
	waitCall(t, f, "pass", 5*time.Second)
	want := []string{"failed", "ok:caliep1,caliep2", "ok:caliep1,caliep2"}
	if got := src.followed(); !reflect.DeepEqual(got[:min(len(got), 3)], want) {
		t.Fatalf("follows = %q, want %q first", got, want)
	}
}

// The options describe the sources: which exist, their reasons and their periods.
func TestWatchTriggerSourcesFromOptions(t *testing.T) {
	names := func(src []trigger.Source) []string {
		var out []string
		for _, s := range src {
			out = append(out, s.Name())
		}
		return out
	}
	drift := func(context.Context) (*driftOutcome, error) { return &driftOutcome{}, nil }
	sig := make(chan struct{})
	ns, err := netns.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	all := loopOptions{Pass: newFakeAgent().pass, Drift: drift, Interval: 7 * time.Second, DriftInterval: time.Minute,
		WatchDir: "/repo", WatchLinks: true, NetNS: ns, Signals: sig}
	src := all.TriggerSources()
	if got, want := names(src), []string{"interval", "drift", "fsnotify", "netlink", "signal"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("sources %q, want %q", got, want)
	}
	if tm := src[0].(*trigger.Timer); tm.Every != 7*time.Second || tm.Frac != 0.1 {
		t.Errorf("interval timer %+v, want every 7s with 10%% jitter", tm)
	}
	if tm := src[1].(*trigger.Timer); tm.Every != time.Minute || tm.Frac != 0.1 {
		t.Errorf("drift timer %+v, want every 1m with 10%% jitter", tm)
	}
	if d := src[2].(*trigger.Dir); d.Root != "/repo" || d.Debounce != 300*time.Millisecond {
		t.Errorf("dir %+v, want /repo with the default debounce 300ms", d)
	}
	if l := src[3].(*trigger.Links); l.NetNS != ns {
		t.Errorf("links in %v, want %v", l.NetNS, ns)
	}
	if _, ok := src[3].(trigger.Follower); !ok {
		t.Error("the link source does not follow the passes")
	}
	if c := src[4].(*trigger.Chan); c.C != (<-chan struct{})(sig) || c.Reason != "sighup" {
		t.Errorf("signal source %+v, want sighup from the Signals channel", c)
	}

	for _, c := range []struct {
		name string
		edit func(*loopOptions)
		want []string
	}{
		{"heal disabled: no drift timer", func(o *loopOptions) { o.Heal = HealDisabled }, []string{"interval", "fsnotify", "netlink", "signal"}},
		{"no drift function", func(o *loopOptions) { o.Drift = nil }, []string{"interval", "fsnotify", "netlink", "signal"}},
		{"no drift interval", func(o *loopOptions) { o.DriftInterval = 0 }, []string{"interval", "fsnotify", "netlink", "signal"}},
		{"git source: no dir", func(o *loopOptions) { o.WatchDir = "" }, []string{"interval", "drift", "netlink", "signal"}},
		{"bare", func(o *loopOptions) { *o = loopOptions{Pass: o.Pass} }, []string{"interval"}},
		{"fakes replace them", func(o *loopOptions) { o.Sources = []trigger.Source{newFakeSource()} }, []string{"fake"}},
	} {
		o := all
		c.edit(&o)
		if got := names(o.TriggerSources()); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: sources %q, want %q", c.name, got, c.want)
		}
	}
	if tm := (loopOptions{}).TriggerSources()[0].(*trigger.Timer); tm.Every != 30*time.Second {
		t.Errorf("default interval %v, want 30s", tm.Every)
	}
}

func TestWatchHealModes(t *testing.T) {
	for _, mode := range []string{HealWarn, HealEnabled} {
		t.Run(mode, func(t *testing.T) {
			f := newFakeAgent()
			f.drift = true
			src := newFakeSource()
			m := NewMetrics()
			startWatch(t, loopOptions{Pass: f.pass, Drift: f.driftCheck, Sources: []trigger.Source{src},
				Heal: mode, Metrics: m, Logger: discard()})
			waitCall(t, f, "pass", 5*time.Second)
			if first := f.healFlags()[0]; first != (mode == HealEnabled) {
				t.Fatalf("start pass heal=%v, want %v", first, mode == HealEnabled)
			}
			f.mu.Lock()
			f.drift = true // the start pass with heal healed it; drift again
			f.mu.Unlock()
			src.fire(t, "drift", "")
			waitCall(t, f, "drift", 5*time.Second)
			if mode == HealWarn {
				// Drift is reported and left alone: no pass; the next call is the next event's pass.
				src.fire(t, "sighup", "")
				waitCall(t, f, "pass", 5*time.Second)
				if got := f.healFlags(); !reflect.DeepEqual(got, []bool{false, false}) {
					t.Fatalf("heal=warn passes (heal flags) %v, want [false false]", got)
				}
				if got := testutil.ToFloat64(m.drift); got != 1 {
					t.Fatalf("drift metric = %v, want 1", got)
				}
				return
			}
			waitCall(t, f, "pass", 5*time.Second)
			if got := f.healFlags(); !reflect.DeepEqual(got, []bool{true, true}) {
				t.Fatalf("heal=enabled passes (heal flags) %v, want [true true]", got)
			}
			// The re-apply healed it: the next check finds none.
			src.fire(t, "drift", "")
			waitCall(t, f, "drift", 5*time.Second)
			src.fire(t, "sighup", "")
			waitCall(t, f, "pass", 5*time.Second)
			if got := testutil.ToFloat64(m.drift); got != 0 {
				t.Fatalf("drift metric = %v after healing, want 0", got)
			}
		})
	}
}

// msgHandler sends the message of every log record to c.
type msgHandler struct{ c chan string }

func (h msgHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h msgHandler) Handle(_ context.Context, r slog.Record) error {
	h.c <- r.Message
	return nil
}
func (h msgHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h msgHandler) WithGroup(string) slog.Handler      { return h }

// With heal disabled there is no drift check, even when a source says "drift".
func TestWatchHealDisabledChecksNoDrift(t *testing.T) {
	f := newFakeAgent()
	src := newFakeSource()
	msgs := make(chan string, 100)
	startWatch(t, loopOptions{Pass: f.pass, Drift: f.driftCheck, Sources: []trigger.Source{src},
		Heal: HealDisabled, Logger: slog.New(msgHandler{msgs})})
	waitCall(t, f, "pass", 5*time.Second)
	src.fire(t, "drift", "")
	for ignored := false; !ignored; {
		select {
		case msg := <-msgs:
			ignored = strings.HasPrefix(msg, "drift event ignored")
		case <-time.After(5 * time.Second):
			t.Fatal("the drift event was not ignored")
		}
	}
	src.fire(t, "sighup", "")
	waitCall(t, f, "pass", 5*time.Second) // not "drift"
}

func TestWatchRejectsBadHeal(t *testing.T) {
	err := runLoop(context.Background(), loopOptions{Pass: newFakeAgent().pass, Heal: "sometimes"})
	if err == nil || !strings.Contains(err.Error(), "sometimes") {
		t.Fatalf("want an error naming the bad mode, got %v", err)
	}
}

func TestWatchLockSerialisesPasses(t *testing.T) {
	f := newFakeAgent()
	src := newFakeSource()
	var mu sync.Mutex
	held := false
	overlap := false
	locks := 0
	lock := func(ctx context.Context) (func(), error) {
		mu.Lock()
		if held {
			overlap = true
		}
		held = true
		locks++
		mu.Unlock()
		return func() { mu.Lock(); held = false; mu.Unlock() }, nil
	}
	startWatch(t, loopOptions{Pass: f.pass, Lock: lock, Sources: []trigger.Source{src}, Logger: discard()})
	waitCall(t, f, "pass", 5*time.Second)
	for i := 0; i < 5; i++ {
		src.fire(t, "interval", "")
		waitCall(t, f, "pass", 5*time.Second)
	}
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Fatal("two passes held the lock at once")
	}
	if locks != 6 {
		t.Fatalf("lock taken %d times for 6 passes", locks)
	}
}

// noCall fails if the agent is called within d.
func noCall(t *testing.T, f *fakeAgent, d time.Duration, why string) {
	t.Helper()
	select {
	case got := <-f.calls:
		t.Fatalf("call %q within %v: %s", got, d, why)
	case <-time.After(d):
	}
}

// While a retry is due, the poll of the source does not run a pass of its own: the retry
// timer is the poll then (at most --interval away), so a remote that stays down costs one
// failed pass (one ERROR line) per back-off step, not two per interval. Any other event still
// runs a pass, and a successful pass cancels the retry that was due.
func TestWatchPollWaitsForTheRetryDue(t *testing.T) {
	f := newFakeAgent()
	f.fail = 2
	src := newFakeSource()
	startWatch(t, loopOptions{Pass: f.pass, Sources: []trigger.Source{src}, Interval: time.Hour, Logger: discard()})
	waitCall(t, f, "fail", 5*time.Second) // the start pass; a retry is due in 1s
	src.fire(t, "interval", "")
	noCall(t, f, 700*time.Millisecond, "an interval poll ran a pass while a retry was due")
	waitCall(t, f, "fail", 2*time.Second) // the retry; the next is due in 2s
	src.fire(t, "sighup", "")
	waitCall(t, f, "pass", 2*time.Second) // a signal is not a poll: it runs at once
	noCall(t, f, 2500*time.Millisecond, "the retry due before the successful pass ran anyway")
	src.fire(t, "interval", "")
	waitCall(t, f, "pass", 2*time.Second) // no retry due: the poll runs
}
