package reconcile

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/lock"
	"github.com/reconcile-dev/reconcile/reconcile/source"
)

// DefaultFetchTimeout is Config.FetchTimeout's default (--fetch-timeout): Flux's default
// timeout of a GitRepository fetch.
const DefaultFetchTimeout = 60 * time.Second

// fetchGrace is how long a fetch may take past its deadline to return by itself before the
// pass stops waiting for it: go-git honours the context everywhere except in the TCP dial of
// a git:// URL (net.Dial, bounded only by the kernel's connect timeout of about two minutes).
const fetchGrace = 500 * time.Millisecond

// FetchTimeoutError is a fetch of the source that did not finish within Config.FetchTimeout
// (--fetch-timeout): the remote accepted the connection but did not answer, or answered too
// slowly, or another process held the clone's lock that long. Its stage is fetch, its
// reason timeout.
type FetchTimeoutError struct {
	Source  string        // the source as named in messages (URL@ref)
	Timeout time.Duration // the bound that was exceeded
	Err     error         // what the fetch returned when it was cut short (nil: it never returned)
}

func (e *FetchTimeoutError) Error() string {
	var held *lock.LockedError
	if errors.As(e.Err, &held) {
		// Not the remote: another process kept the clone locked (a stopped or hung fetch).
		return fmt.Sprintf("fetch %s: the git clone stayed locked for %s (--fetch-timeout): %v", e.Source, e.Timeout, held)
	}
	return fmt.Sprintf("fetch %s: no answer within %s (--fetch-timeout)", e.Source, e.Timeout)
}

// Unwrap returns context.DeadlineExceeded (and the fetch's own error, when it returned one).
func (e *FetchTimeoutError) Unwrap() []error {
	if e.Err == nil {
		return []error{context.DeadlineExceeded}
	}
	return []error{context.DeadlineExceeded, e.Err}
}

// Stage classifies the error for metrics: ("fetch", "timeout").
func (e *FetchTimeoutError) Stage() (stage, reason string) { return "fetch", "timeout" }

// fetchTimeout is Config.FetchTimeout with its default (0: none).
func (a *Agent) fetchTimeout() time.Duration {
	switch d := a.cfg.FetchTimeout; {
	case d == 0:
		return DefaultFetchTimeout
	case d < 0:
		return 0
	default:
		return d
	}
}

// bounded runs fn, one fetch (or head) of src, under the Agent's fetch timeout. When the
// deadline passes, fn gets fetchGrace to return by itself; after that the pass stops waiting
// for it (fn goes on in the background until its own I/O ends; its result is dropped). A fetch
// cut short by the deadline (not by ctx) is a *FetchTimeoutError.
func bounded[T any](ctx context.Context, a *Agent, src source.Source, fn func(context.Context) (T, error)) (T, error) {
	d := a.fetchTimeout()
	if d == 0 {
		return fn(ctx)
	}
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned fn does not block on it
	go func() {
		v, err := fn(tctx)
		done <- result{v, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-tctx.Done():
		select {
		case r = <-done:
		case <-time.After(fetchGrace):
			r.err = tctx.Err()
		}
	}
	if r.err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		var zero T
		if !errors.Is(r.err, lock.ErrLocked) && (errors.Is(r.err, context.DeadlineExceeded) || errors.Is(r.err, context.Canceled)) {
			r.err = nil // the deadline itself, said by FetchTimeoutError
		}
		return zero, &FetchTimeoutError{Source: src.String(), Timeout: d, Err: r.err}
	}
	return r.v, r.err
}

// fetchSource is src.Fetch under the fetch timeout (bounded).
func (a *Agent) fetchSource(ctx context.Context, src source.Source, fo source.FetchOptions) (*source.Snapshot, error) {
	return bounded(ctx, a, src, func(ctx context.Context) (*source.Snapshot, error) { return src.Fetch(ctx, fo) })
}

// headSource is h.Head under the fetch timeout (bounded).
func (a *Agent) headSource(ctx context.Context, src source.Source, h source.Header, fo source.FetchOptions) (*source.Head, error) {
	return bounded(ctx, a, src, func(ctx context.Context) (*source.Head, error) { return h.Head(ctx, fo) })
}

// diskFull reports whether err is a full disk or an exceeded quota (ENOSPC, EDQUOT): in the
// state directory (the record, the model file, the git clone) it is reported as stage state,
// reason disk-full, whatever step hit it.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
