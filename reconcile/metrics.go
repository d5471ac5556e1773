package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/reconcile-dev/reconcile/schema"
)

// Metrics are the Prometheus metrics of a reconcile agent, in their own registry (no globals).
type Metrics struct {
	Registry *prometheus.Registry

	lastApplied   prometheus.Gauge
	lastAttempt   prometheus.Gauge
	lastSuccess   prometheus.Gauge
	revision      *prometheus.GaugeVec
	drift         prometheus.Gauge
	applyDuration *prometheus.HistogramVec
	errors        *prometheus.CounterVec
	applies       *prometheus.CounterVec
	endpoints     prometheus.Gauge
	rules         prometheus.Gauge
	// ruleCounters is the collector of RegisterRuleCounters (nil before): a transaction drops
	// its cached reading, so that /metrics does not serve removed rules for up to its TTL.
	ruleCounters    *ruleCounterCollector
	triggers        *prometheus.CounterVec
	recoveries      *prometheus.CounterVec
	currentRevision string
}

// NewMetrics registers reconcile's metrics (and the Go and process collectors) in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.lastApplied = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "reconcile_last_applied_timestamp_seconds",
		Help: "Unix time of the last successful apply (a transaction or a verified no-change).",
	})
	m.lastAttempt = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "reconcile_last_attempt_timestamp_seconds",
		Help: "Unix time of the last reconcile attempt, successful or not.",
	})
	m.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "reconcile_last_attempt_success",
		Help: "1 if the last reconcile attempt succeeded, 0 if it failed.",
	})
	m.revision = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "reconcile_applied_revision_info",
		Help: "The revision whose ruleset is in the kernel (value is always 1).",
	}, []string{"revision", "source"})
	m.drift = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "reconcile_drift",
		Help: "1 when the kernel's table differs from the applied ruleset, else 0.",
	})
	m.applyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "reconcile_apply_duration_seconds",
		Help:    "Duration of nftables transactions (apply of a changed ruleset) by mode (incremental, full, full-fallback).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	}, []string{"mode"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reconcile_errors_total",
		Help: "Failed reconcile attempts by stage (fetch, verify, history, validate, compile, apply, observe, state) and reason.",
	}, []string{"stage", "reason"})
	m.applies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reconcile_attempts_total",
		Help: "Reconcile attempts by result (applied, no-change, failed).",
	}, []string{"result"})
	m.endpoints = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "reconcile_endpoints_programmed",
		Help: "Local endpoints in the applied ruleset.",
	})
	m.rules = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "reconcile_rules_programmed",
		Help: "nftables rules in the applied ruleset.",
	})
	m.triggers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reconcile_triggers_total",
		Help: "Reconcile passes by what triggered them (interval, fsnotify, link, sighup, drift, retry, start).",
	}, []string{"trigger"})
	m.recoveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reconcile_recoveries_total",
		Help: "Faults a pass recovered from and went on (not errors), by kind (state-unreadable, model-unreadable, clone-recloned, outcome-unknown-resolved).",
	}, []string{"kind"})
	m.Registry.MustRegister(m.lastApplied, m.lastAttempt, m.lastSuccess, m.revision, m.drift,
		m.applyDuration, m.errors, m.applies, m.endpoints, m.rules, m.triggers, m.recoveries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveTrigger counts a pass started by trigger.
func (m *Metrics) ObserveTrigger(trigger string) {
	if m == nil {
		return
	}
	m.triggers.WithLabelValues(trigger).Inc()
}

// Recovery kinds (the kind label of reconcile_recoveries_total, ObserveRecovery).
const (
	// RecoveryStateUnreadable: the state head could not be read; it was moved aside and the
	// pass went on as unknown (the table read in full).
	RecoveryStateUnreadable = "state-unreadable"
	// RecoveryModelUnreadable: the model file the head names is missing or damaged; the pass
	// read the table in full and wrote the model file again.
	RecoveryModelUnreadable = "model-unreadable"
	// RecoveryCloneRecloned: the git clone was damaged or gone; it was removed and cloned again.
	RecoveryCloneRecloned = "clone-recloned"
	// RecoveryOutcomeUnknownResolved: a transaction whose outcome netlink did not tell was
	// resolved by reading the kernel.
	RecoveryOutcomeUnknownResolved = "outcome-unknown-resolved"
)

// ObserveRecovery counts a fault of kind (RecoveryStateUnreadable, ...) that a pass recovered
// from and went on; nil-safe.
func (m *Metrics) ObserveRecovery(kind string) {
	if m == nil {
		return
	}
	m.recoveries.WithLabelValues(kind).Inc()
}

// ObserveApplied records a successful pass: result is "applied" or "no-change"; dur is the
// transaction time (zero for no-change) and mode how it changed the table (ApplyResult.Mode:
// incremental, full or full-fallback; ignored for no-change).
func (m *Metrics) ObserveApplied(now time.Time, result, revision, source, mode string, dur time.Duration, endpoints, rules int) {
	if m == nil {
		return
	}
	m.lastAttempt.Set(float64(now.Unix()))
	m.lastSuccess.Set(1)
	m.lastApplied.Set(float64(now.Unix()))
	m.applies.WithLabelValues(result).Inc()
	if result == "applied" {
		m.applyDuration.WithLabelValues(mode).Observe(dur.Seconds())
		m.ruleCounters.invalidate()
	}
	if revision != m.currentRevision {
		m.revision.Reset()
		m.currentRevision = revision
	}
	m.revision.WithLabelValues(revision, source).Set(1)
	m.endpoints.Set(float64(endpoints))
	m.rules.Set(float64(rules))
	m.drift.Set(0)
}

// ObserveRecorded starts the applied gauges (reconcile_last_applied_timestamp_seconds,
// reconcile_applied_revision_info) from the state record of an earlier process: the revision
// it names as applied at t from source. Watch calls it once before its first pass, so that a
// watch restarted while its passes fail does not report "never applied" (0). Nil-safe.
func (m *Metrics) ObserveRecorded(t time.Time, revision, source string) {
	if m == nil || revision == "" {
		return
	}
	m.lastApplied.Set(float64(t.Unix()))
	m.revision.Reset()
	m.currentRevision = revision
	m.revision.WithLabelValues(revision, source).Set(1)
}

// ObserveFailure records a failed pass at stage with a short reason.
func (m *Metrics) ObserveFailure(now time.Time, stage, reason string) {
	if m == nil {
		return
	}
	m.lastAttempt.Set(float64(now.Unix()))
	m.lastSuccess.Set(0)
	m.applies.WithLabelValues("failed").Inc()
	m.errors.WithLabelValues(stage, reason).Inc()
}

// ObserveLockWait counts a watch pass still waiting for the table's lock after
// lockWaitWarn, as reconcile_errors_total{stage="lock",reason="held"} (nil-safe).
func (m *Metrics) ObserveLockWait() {
	if m == nil {
		return
	}
	m.errors.WithLabelValues("lock", "held").Inc()
}

// ObserveDrift records whether the kernel drifted from the applied ruleset.
func (m *Metrics) ObserveDrift(drift bool) {
	if m == nil {
		return
	}
	if drift {
		m.drift.Set(1)
	} else {
		m.drift.Set(0)
	}
}

// stager is implemented by errors that know which stage of a pass they belong to.
type stager interface {
	Stage() (stage, reason string)
}

// Classify names the stage of a pass an error came from, and a short reason, for metrics
// and logs: fetch, verify, history, validate, compile, apply, observe, state or lock.
func Classify(err error) (stage, reason string) {
	var st stager
	if errors.As(err, &st) {
		return st.Stage()
	}
	var serr schema.Errors
	if errors.As(err, &serr) {
		return "validate", "invalid"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "fetch", "timeout"
	}
	return "unknown", "error"
}

// RegisterRuleCounters adds the per-rule and per-drop-reason counters read by read at scrape
// time (reconcile_rule_packets_total, …; see metrics_counters.go), a reading serving scrapes
// for ttl (RuleCountersCacheTTL; 0: read at every scrape) or until ObserveApplied reports a
// transaction. Once per registry: a second call
// is an error. Nil-safe.
func (m *Metrics) RegisterRuleCounters(read func(context.Context) (*CounterReading, error), ttl time.Duration, log *slog.Logger) error {
	if m == nil {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := newRuleCounterCollector(read, ttl, log)
	if err := m.Registry.Register(c); err != nil {
		return err
	}
	m.ruleCounters = c
	return nil
}
