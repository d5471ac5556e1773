// Package trigger holds what makes the watch loop run a reconcile pass: sources of events
// (a jittered timer for the source poll and for drift checks, fsnotify under a directory,
// netlink link events, signals) behind one interface, and the coalescing queue they feed.
package trigger

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Event names why a reconcile pass should run.
type Event struct {
	Reason string // interval, fsnotify, link, sighup, drift, retry, start
	Detail string // e.g. the file or interface that changed; "" when there is nothing to add
}

// DriftReason is the Reason of the drift timer's events: a drift check, not a pass.
const DriftReason = "drift"

// Source emits events until ctx is done. Run returns nil when ctx is done, or an error when
// the source cannot work (e.g. the directory cannot be watched). emit (the watch loop's
// Queue.Send) never blocks and may be called from any goroutine.
type Source interface {
	// Name names the source in logs ("interval", "drift", "fsnotify", "netlink", "signal").
	Name() string
	Run(ctx context.Context, emit func(Event)) error
}

// Follower is a Source that depends on what the passes found. The watch loop calls Follow after
// every pass: interfaces are the interface names of this host's endpoints after a successful
// pass (ok true); after a failed pass ok is false and the source keeps what it knew.
type Follower interface {
	Follow(interfaces []string, ok bool)
}

// Queue is a coalescing queue of pending events: any number of Send calls before the consumer
// gets to Next result in one pass (the first event is kept, the rest are counted). A drift
// event asks only for a drift check, every other one for a pass: when a pass-asking event
// merges into a pending drift event it takes its place, so that the pass runs (the drift
// timer checks again on its next tick); a drift event merging into any pending event is only
// counted.
type Queue struct {
	mu      sync.Mutex
	pending *Event
	merged  int
	ch      chan struct{}
}

// NewQueue returns an empty queue.
func NewQueue() *Queue { return &Queue{ch: make(chan struct{}, 1)} }

// Send queues e unless an event is already pending (then it is merged into it). It never blocks.
func (q *Queue) Send(e Event) {
	q.mu.Lock()
	switch {
	case q.pending == nil:
		q.pending = &e
	case q.pending.Reason == DriftReason && e.Reason != DriftReason:
		q.pending = &e
		q.merged++
	default:
		q.merged++
	}
	q.mu.Unlock()
	select {
	case q.ch <- struct{}{}:
	default:
	}
}

// Next waits for a pending event and returns it with the number of events merged into it. The
// error is ctx's when ctx is done first.
func (q *Queue) Next(ctx context.Context) (Event, int, error) {
	for {
		q.mu.Lock()
		if q.pending != nil {
			e, n := *q.pending, q.merged
			q.pending, q.merged = nil, 0
			q.mu.Unlock()
			return e, n, nil
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return Event{}, 0, ctx.Err()
		case <-q.ch:
		}
	}
}

// Jitter returns d changed by a random amount of at most frac*d either way, so that a fleet of
// hosts polling the same remote spreads out. d <= 0 or frac <= 0 return d unchanged.
func Jitter(d time.Duration, frac float64) time.Duration {
	if d <= 0 || frac <= 0 {
		return d
	}
	delta := (rand.Float64()*2 - 1) * frac * float64(d)
	return d + time.Duration(delta)
}

// Timer emits Event{Reason: Reason} every Every, each wait changed by Jitter(Every, Frac).
// Every must be positive.
type Timer struct {
	Reason string
	Every  time.Duration
	Frac   float64
}

// Interval is the poll of the source: "interval" every d with 10% jitter.
func Interval(d time.Duration) *Timer { return &Timer{Reason: "interval", Every: d, Frac: 0.1} }

// Drift is the drift check: "drift" every d with 10% jitter.
func Drift(d time.Duration) *Timer { return &Timer{Reason: DriftReason, Every: d, Frac: 0.1} }

// Name is the timer's reason.
func (t *Timer) Name() string { return t.Reason }

// Run emits an event after each jittered wait until ctx is done.
func (t *Timer) Run(ctx context.Context, emit func(Event)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(Jitter(t.Every, t.Frac)):
			emit(Event{Reason: t.Reason})
		}
	}
}

// Chan emits Event{Reason: Reason} for every value received on C (e.g. SIGHUP relayed by the
// program). It returns when ctx is done or C is closed.
type Chan struct {
	Reason string
	C      <-chan struct{}
}

// Signals is the "reconcile now" request: "sighup" for every value received on c.
func Signals(c <-chan struct{}) *Chan { return &Chan{Reason: "sighup", C: c} }

// Name is "signal".
func (c *Chan) Name() string { return "signal" }

// Run relays C until ctx is done or C is closed.
func (c *Chan) Run(ctx context.Context, emit func(Event)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-c.C:
			if !ok {
				return nil
			}
			emit(Event{Reason: c.Reason})
		}
	}
}
