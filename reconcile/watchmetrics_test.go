package reconcile

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/trigger"
)

// A watch started (or restarted by its supervisor) while its passes fail, the remote down for
// instance, reports the revision recorded as applied and when, from the state record: not
// reconcile_last_applied_timestamp_seconds 0, which makes an alert on
// time() - reconcile_last_applied_timestamp_seconds fire as if the host had never been
// reconciled, and no reconcile_applied_revision_info at all.
func TestWatchMetricsStartFromTheRecord(t *testing.T) {
	e := newEnv(t)
	cfg := e.opts()
	if _, err := agentOf(t, cfg).Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	la := e.record(t).LastApplied
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/BAD.yaml": "id: BAD\ninbound_rules:\n  - action: accept\n"})

	cfg.Metrics = NewMetrics()
	a := agentOf(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Watch(ctx, WatchOptions{Sources: []trigger.Source{}}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	waitFor(t, "the start pass fails", func() bool {
		return testutil.ToFloat64(cfg.Metrics.errors.WithLabelValues("validate", "invalid")) == 1
	})
	if got, want := testutil.ToFloat64(cfg.Metrics.lastApplied), float64(la.Time.Unix()); got != want {
		t.Errorf("reconcile_last_applied_timestamp_seconds = %v, want %v (the record's)", got, want)
	}
	if got := testutil.ToFloat64(cfg.Metrics.revision.WithLabelValues(la.Revision, la.Source)); got != 1 {
		t.Errorf("reconcile_applied_revision_info{revision=%q} = %v, want 1", la.Revision, got)
	}
}
