package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The per-rule and per-drop-reason counters as Prometheus metrics, read from the kernel at
// scrape time (Agent.ReadCounters: one netlink dump of the table's rules) and exposed as const
// metrics of type counter:
//
//	reconcile_rule_packets_total{profile,direction,rule}   packets a profile rule matched
//	reconcile_rule_bytes_total{profile,direction,rule}     bytes (IP header and payload)
//	reconcile_dropped_packets_total{reason}                drops by DropReasons
//	reconcile_dropped_bytes_total{reason}
//
// A rule's series restarts at 0 when the rule is replaced (an edit of the rule, or a full
// replace of the table): a counter reset, which rate() and increase() handle. A read costs
// about a second at 5,000 local endpoints (0.74 s measured on a 2-core VM at a load of 2, 1.0 s
// at 4-5: BenchmarkRuleCountersScrape; most of it the kernel's dump of 50,000 rules), far
// above what a scrape should cost, and the kernel cannot dump the counters alone: a reading is
// reused for RuleCountersCacheTTL, so that several scrapers, or scrapes more frequent than
// that, cost one dump per TTL.

// RuleCountersCacheTTL is how long a reading of the kernel's counters serves scrapes.
const RuleCountersCacheTTL = 15 * time.Second

// ruleCounterCollector is the prometheus.Collector of the counters (see above).
type ruleCounterCollector struct {
	read func(context.Context) (*CounterReading, error)
	ttl  time.Duration
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex
	reading *CounterReading
	at      time.Time
	lastErr string // the last read error warned about ("": none since the last reading)

	rulePackets, ruleBytes, dropPackets, dropBytes *prometheus.Desc
}

func newRuleCounterCollector(read func(context.Context) (*CounterReading, error), ttl time.Duration, log *slog.Logger) *ruleCounterCollector {
	ruleLabels := []string{"profile", "direction", "rule"}
	return &ruleCounterCollector{
		read: read, ttl: ttl, log: log, now: time.Now,
		rulePackets: prometheus.NewDesc("reconcile_rule_packets_total",
			"Packets matched by a profile rule on this host (its IPv4 and IPv6 nft rules, summed over the local endpoints using the profile), since the rule was installed.", ruleLabels, nil),
		ruleBytes: prometheus.NewDesc("reconcile_rule_bytes_total",
			"Bytes (IP header and payload) matched by a profile rule on this host, since the rule was installed.", ruleLabels, nil),
		dropPackets: prometheus.NewDesc("reconcile_dropped_packets_total",
			"Packets dropped by the endpoint chains' final and anti-spoofing rules, by reason (anti-spoofing, no-profile-accepted, inactive-endpoint, endpoint-to-host), summed over the local endpoints.", []string{"reason"}, nil),
		dropBytes: prometheus.NewDesc("reconcile_dropped_bytes_total",
			"Bytes (IP header and payload) dropped by the endpoint chains, by reason.", []string{"reason"}, nil),
	}
}

// Describe sends the four descriptors.
func (c *ruleCounterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.rulePackets
	ch <- c.ruleBytes
	ch <- c.dropPackets
	ch <- c.dropBytes
}

// Collect reads the counters (or reuses a reading younger than the TTL) and sends them. A table
// that does not exist sends nothing; a read that fails is logged and sends nothing (the other
// metrics of the scrape are served).
func (c *ruleCounterCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.get()
	if r == nil {
		return
	}
	for _, h := range r.Rules {
		lv := []string{h.Profile, h.Direction, strconv.Itoa(h.Rule)}
		ch <- prometheus.MustNewConstMetric(c.rulePackets, prometheus.CounterValue, float64(h.Packets), lv...)
		ch <- prometheus.MustNewConstMetric(c.ruleBytes, prometheus.CounterValue, float64(h.Bytes), lv...)
	}
	for _, d := range r.Drops {
		ch <- prometheus.MustNewConstMetric(c.dropPackets, prometheus.CounterValue, float64(d.Packets), d.Reason)
		ch <- prometheus.MustNewConstMetric(c.dropBytes, prometheus.CounterValue, float64(d.Bytes), d.Reason)
	}
}

// invalidate drops the cached reading (a transaction changed the rules): the next scrape reads
// the kernel. Nil-safe.
func (c *ruleCounterCollector) invalidate() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.reading = nil
	c.mu.Unlock()
}

func (c *ruleCounterCollector) get() *CounterReading {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.reading != nil && now.Sub(c.at) < c.ttl {
		return c.reading
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.read(ctx)
	if err != nil {
		// Warned once per distinct error (a scrape every few seconds would repeat it).
		if msg := err.Error(); !errors.Is(err, ErrNoTable) && msg != c.lastErr {
			c.log.Warn("cannot read the rule counters for /metrics", "err", err)
			c.lastErr = msg
		}
		c.reading = nil
		return nil
	}
	c.reading, c.at, c.lastErr = r, now, ""
	return r
}
