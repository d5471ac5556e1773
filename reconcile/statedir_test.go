package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"
)

// An empty StateDir is refused by Apply and Watch before the dataplane is touched: the
// transaction must not go in when its record cannot be written ("applied but not recorded").
func TestEmptyStateDirRefusedBeforeApply(t *testing.T) {
	e := newEnv(t)
	cfg := e.opts()
	cfg.StateDir = ""
	const want = "--state-dir: empty: "
	if _, err := agentOf(t, cfg).Apply(context.Background()); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Apply with no StateDir: %v, want %q...", err, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := agentOf(t, cfg).Watch(ctx, WatchOptions{Interval: time.Hour}); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Watch with no StateDir: %v, want %q...", err, want)
	}
	if rs, err := e.fake.Observe(context.Background(), "reconcile"); err != nil || rs != nil {
		t.Fatalf("the dataplane was changed: table %v, %v", rs, err)
	}
	// Plan and Status need no record to write.
	if _, err := agentOf(t, cfg).Plan(context.Background()); err != nil {
		t.Errorf("Plan with no StateDir: %v", err)
	}
}

// A namespace that cannot be opened is reported once, by netns.Open's error, not wrapped in
// an echo of the same namespace ("open nftables in network namespace X: open network
// namespace X: ...").
func TestMissingNamespaceReportedOnce(t *testing.T) {
	e := newEnv(t)
	cfg := e.opts()
	cfg.Dataplane = nil
	cfg.Links = nil
	cfg.Netns = "reconcile-test-no-such-netns"
	_, err := agentOf(t, cfg).Status(context.Background())
	if err == nil {
		t.Fatal("Status in a namespace that does not exist succeeded")
	}
	msg := err.Error()
	if n := strings.Count(msg, cfg.Netns); n != 1 || !strings.Contains(msg, `open network namespace "reconcile-test-no-such-netns": no such file or directory`) {
		t.Errorf("Status: %q: want the namespace named once, as netns.Open says it", msg)
	}
}
