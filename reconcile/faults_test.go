package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/source"
)

// slowSource is a source whose Fetch waits for release; honour says whether it also returns
// when its context ends (go-git does, except in a git:// dial).
type slowSource struct {
	release chan struct{}
	honour  bool
}

func (s *slowSource) String() string { return "http://git.invalid/policy.git@main" }
func (s *slowSource) Fetch(ctx context.Context, _ source.FetchOptions) (*source.Snapshot, error) {
	done := ctx.Done()
	if !s.honour {
		done = nil
	}
	select {
	case <-s.release:
		return &source.Snapshot{Source: s.String(), Revision: "main@sha1:1"}, nil
	case <-done:
		return nil, ctx.Err()
	}
}

func TestFetchTimeout(t *testing.T) {
	for _, honour := range []bool{true, false} {
		src := &slowSource{release: make(chan struct{}), honour: honour}
		a := agentOf(t, Config{Source: src, FetchTimeout: 200 * time.Millisecond})
		start := time.Now()
		_, err := a.fetch(context.Background(), src, nil)
		took := time.Since(start)
		close(src.release)
		stage, reason := Classify(err)
		want := "fetch http://git.invalid/policy.git@main: no answer within 200ms (--fetch-timeout)"
		if err == nil || err.Error() != want || stage != "fetch" || reason != "timeout" || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("honour %v: %v (%s/%s), want %q, fetch/timeout", honour, err, stage, reason, want)
		}
		if limit := 200*time.Millisecond + fetchGrace + 200*time.Millisecond; took > limit || took < 200*time.Millisecond {
			t.Errorf("honour %v: the fetch returned after %v, want between the timeout and %v", honour, took, limit)
		}
	}

	// A fetch that answers in time is not touched; the caller's own cancellation is not a timeout.
	src := &slowSource{release: make(chan struct{}), honour: true}
	close(src.release)
	if snap, err := agentOf(t, Config{Source: src, FetchTimeout: time.Second}).fetch(context.Background(), src, nil); err != nil || snap.Revision != "main@sha1:1" {
		t.Errorf("fast fetch: %v", err)
	}
	src = &slowSource{release: make(chan struct{}), honour: true}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := agentOf(t, Config{Source: src}).fetch(ctx, src, nil); err == nil || strings.Contains(err.Error(), "--fetch-timeout") {
		t.Errorf("cancelled: %v, want the cancellation, not a timeout", err)
	}
}
