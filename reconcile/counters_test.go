package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// countersRepo: WEB with four inbound rules (one that fits both families because of its tag:
// two nft rules), an inactive endpoint and one without profiles on node-1.
var countersRepo = map[string]string{
	"profiles/WEB.yaml": `id: WEB
tags: [WEB]
inbound_rules:
  - action: allow
    protocol: tcp
    dst_ports: [80]
  - action: deny
    protocol: udp
    dst_ports: [53]
  - action: log
    log_prefix: seen
    protocol: udp
  - action: allow
    src_tag: WEB
outbound_rules:
  - action: allow
`,
	"endpoints/lab.yaml": `endpoints:
  - id: web-1
    host: node-1
    interface: caliweb1
    ipv4_nets: [198.18.1.2/32]
    ipv6_nets: ["fd00:1::2/128"]
    profile_ids: [WEB]
  - id: off-1
    host: node-1
    interface: calioff1
    ipv4_nets: [198.18.1.9/32]
    profile_ids: [WEB]
    state: inactive
  - id: bare-1
    host: node-1
    interface: calibare1
    ipv4_nets: [198.18.1.8/32]
    profile_ids: []
`,
}

// hit counts packets and bytes on the first rule of chain whose comment is comment.
func hit(t *testing.T, f *nft.Fake, chain, comment string, nth int, packets, bytes uint64) {
	t.Helper()
	rs, err := f.Observe(context.Background(), nft.DefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rs.Chains {
		if c.Name != chain {
			continue
		}
		for i, r := range c.Rules {
			if r.Comment == comment {
				if nth == 0 {
					f.HitBytes(nft.DefaultTable, chain, i, packets, bytes)
					return
				}
				nth--
			}
		}
	}
	t.Fatalf("no rule %q (#%d) in chain %s", comment, nth, chain)
}

func findHits(t *testing.T, r *CountersResult, ref string) RuleHits {
	t.Helper()
	for _, h := range r.Rules {
		if h.Ref() == ref {
			return h
		}
	}
	t.Fatalf("no rule %s in %+v", ref, r.Rules)
	return RuleHits{}
}

func dropsOf(r *CounterReading) map[string][2]uint64 {
	out := map[string][2]uint64{}
	for _, d := range r.Drops {
		out[d.Reason] = [2]uint64{d.Packets, d.Bytes}
	}
	return out
}

func TestCountersFake(t *testing.T) {
	e := newEnv(t)
	testenv.WriteFiles(t, e.repo, countersRepo)
	_ = os.Remove(e.repo + "/profiles/APP.json")
	ctx := context.Background()
	res, err := agentOf(t, e.opts()).Apply(ctx)
	if err != nil || res.Mode != ModeFull {
		t.Fatalf("apply: %v %+v", err, res)
	}
	t1 := e.record(t).LastApplied.Time

	f := e.fake
	hit(t, f, "profile-in-WEB", "WEB inbound 1", 0, 5, 300)
	hit(t, f, "profile-in-WEB", "WEB inbound 3", 0, 2, 100)
	hit(t, f, "profile-in-WEB", "WEB inbound 4", 0, 1, 60)  // IPv4 variant
	hit(t, f, "profile-in-WEB", "WEB inbound 4", 1, 2, 160) // IPv6 variant
	hit(t, f, "from-web-1", "from web-1: ipv4 source not the endpoint's", 0, 3, 90)
	hit(t, f, "host-web-1", "host web-1: ipv6 source not the endpoint's", 0, 1, 50)
	hit(t, f, "to-web-1", "to web-1: no profile accepted", 0, 4, 200)
	hit(t, f, "to-off-1", "to off-1: endpoint inactive", 0, 1, 84)
	hit(t, f, "host-web-1", "host web-1: not dhcp, dns or neighbour discovery", 0, 1, 60)
	hit(t, f, "host-bare-1", "host bare-1: endpoint has no profiles", 0, 1, 40)
	hit(t, f, "from-bare-1", "from bare-1: endpoint has no profiles", 0, 1, 30)

	r, err := agentOf(t, e.opts()).Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, h := range r.Rules {
		order = append(order, h.Ref())
	}
	if got, want := strings.Join(order, ", "), "WEB inbound 1, WEB inbound 4, WEB inbound 3, WEB inbound 2, WEB outbound 1"; got != want {
		t.Errorf("order:\n got %s\nwant %s", got, want)
	}
	if h := findHits(t, r, "WEB inbound 4"); h.Packets != 3 || h.Bytes != 220 || h.NFTRules != 2 || h.Text != "allow from tag WEB" {
		t.Errorf("inbound 4: %+v", h)
	}
	if h := findHits(t, r, "WEB inbound 1"); h.Packets != 5 || h.Bytes != 300 || h.NFTRules != 1 || h.Text != "allow tcp to ports 80" {
		t.Errorf("inbound 1: %+v", h)
	}
	h2 := findHits(t, r, "WEB inbound 2")
	if h2.Packets != 0 || h2.Since == nil || !h2.Since.Equal(t1) || h2.SinceAtLeast || r.SinceError != "" {
		t.Errorf("inbound 2 since %v (at least %v), want %v; since error %q", h2.Since, h2.SinceAtLeast, t1, r.SinceError)
	}
	want := map[string][2]uint64{
		DropAntiSpoofing: {4, 140}, DropNoProfileAccepted: {5, 230}, DropInactiveEndpoint: {1, 84}, DropEndpointToHost: {2, 100},
	}
	if got := dropsOf(r.CounterReading); len(got) != 4 || got[DropAntiSpoofing] != want[DropAntiSpoofing] ||
		got[DropNoProfileAccepted] != want[DropNoProfileAccepted] || got[DropInactiveEndpoint] != want[DropInactiveEndpoint] ||
		got[DropEndpointToHost] != want[DropEndpointToHost] {
		t.Errorf("drops %v, want %v", got, want)
	}

	// The Prometheus collector gives the same figures.
	m := NewMetrics()
	a := agentOf(t, e.opts())
	if err := m.RegisterRuleCounters(a.ReadCounters, 0, nil); err != nil {
		t.Fatal(err)
	}
	if v := gathered(t, m, "reconcile_rule_packets_total", "profile", "WEB", "direction", "inbound", "rule", "4"); v != 3 {
		t.Errorf("reconcile_rule_packets_total WEB inbound 4 = %v", v)
	}
	for reason, pb := range want {
		if v := gathered(t, m, "reconcile_dropped_bytes_total", "reason", reason); v != float64(pb[1]) {
			t.Errorf("reconcile_dropped_bytes_total{reason=%q} = %v, want %d", reason, v, pb[1])
		}
	}

	// An in-place change of rule 2: the others keep their counters and times, rule 2 starts
	// again at 0 from this apply.
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": strings.Replace(countersRepo["profiles/WEB.yaml"], "dst_ports: [53]", "dst_ports: [54]", 1)})
	hit(t, f, "profile-in-WEB", "WEB inbound 2", 0, 7, 700)
	res, err = agentOf(t, e.opts()).Apply(ctx)
	if err != nil || res.Mode != ModeIncremental {
		t.Fatalf("apply: %v %+v", err, res)
	}
	t2 := e.record(t).LastApplied.Time
	r, err = agentOf(t, e.opts()).Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := findHits(t, r, "WEB inbound 2"); h.Packets != 0 || h.Since == nil || !h.Since.Equal(t2) || h.Text != "deny udp to ports 54" {
		t.Errorf("changed rule: %+v (since want %v)", h, t2)
	}
	if h := findHits(t, r, "WEB inbound 4"); h.Packets != 3 || h.Since == nil || !h.Since.Equal(t1) {
		t.Errorf("kept rule: %+v (since want %v)", h, t1)
	}
	if h := findHits(t, r, "WEB outbound 1"); h.Packets != 0 || h.Since == nil || !h.Since.Equal(t1) || h.SinceAtLeast {
		t.Errorf("kept rule never matched: %+v (since want %v)", h, t1)
	}

	// Drift: the times are not trusted.
	e.editChain(t, "profile-out-WEB", func(c *nft.Chain) { c.Rules = c.Rules[:0] })
	r, err = agentOf(t, e.opts()).Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := findHits(t, r, "WEB inbound 1"); h.Since != nil || !strings.Contains(r.SinceError, "differs") {
		t.Errorf("with drift: since %v, error %q", h.Since, r.SinceError)
	}

	// Healing the drift in place: the rule re-added counts from now; the others keep theirs.
	res, err = agentOf(t, e.opts()).Apply(ctx)
	if err != nil || res.Mode != ModeIncremental {
		t.Fatalf("apply: %v %+v", err, res)
	}
	t3 := e.record(t).LastApplied.Time
	r, err = agentOf(t, e.opts()).Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := findHits(t, r, "WEB outbound 1"); h.Since == nil || !h.Since.Equal(t3) {
		t.Errorf("re-added rule: %+v (since want %v)", h, t3)
	}
	if h := findHits(t, r, "WEB inbound 1"); h.Packets != 5 || h.Since == nil || !h.Since.Equal(t1) {
		t.Errorf("kept rule: %+v (since want %v)", h, t1)
	}

	// A lost install record: unknown, never a wrong time; the next in-place apply says "at
	// least" for the rules it keeps.
	key := e.record(t).Netns
	if err := os.Remove(state.InstalledPath(e.stateDir, nft.DefaultTable, key)); err != nil {
		t.Fatal(err)
	}
	r, err = agentOf(t, e.opts()).Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := findHits(t, r, "WEB inbound 1"); h.Since != nil || r.SinceError == "" {
		t.Errorf("lost record: since %v error %q", h.Since, r.SinceError)
	}
	testenv.WriteFiles(t, e.repo, countersRepo)
	if res, err = agentOf(t, e.opts()).Apply(ctx); err != nil || res.Mode != ModeIncremental {
		t.Fatalf("apply: %v %+v", err, res)
	}
	t4 := e.record(t).LastApplied.Time
	r, err = agentOf(t, e.opts()).Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := findHits(t, r, "WEB inbound 1"); h.Since == nil || !h.Since.Equal(t4) || !h.SinceAtLeast {
		t.Errorf("kept rule after a lost record: %+v (want at least %v)", h, t4)
	}
	if h := findHits(t, r, "WEB inbound 2"); h.Since == nil || !h.Since.Equal(t4) || h.SinceAtLeast {
		t.Errorf("changed rule after a lost record: %+v (want exactly %v)", h, t4)
	}

	// A full replace: every rule from now, every counter 0.
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": strings.Replace(countersRepo["profiles/WEB.yaml"], "dst_ports: [80]", "dst_ports: [81]", 1)})
	e.full = true
	if res, err = agentOf(t, e.opts()).Apply(ctx); err != nil || res.Mode != ModeFull {
		t.Fatalf("apply --full: %v %+v", err, res)
	}
	e.full = false
	t5 := e.record(t).LastApplied.Time
	r, err = agentOf(t, e.opts()).Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range r.Rules {
		if h.Packets != 0 || h.Since == nil || !h.Since.Equal(t5) || h.SinceAtLeast {
			t.Errorf("after a full replace: %+v (want 0 since %v)", h, t5)
		}
	}
	if !t1.Before(t2) || !t2.Before(t3) || !t3.Before(t4) || !t4.Before(t5) {
		t.Errorf("times not increasing: %v %v %v %v %v", t1, t2, t3, t4, t5)
	}
}

// gathered is the value of the counter name with the label pairs of kv in m's registry; it
// fails t when there is none.
func gathered(t *testing.T, m *Metrics, name string, kv ...string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, mt := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range mt.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if labels[kv[i]] != kv[i+1] {
					continue metric
				}
			}
			return mt.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s%v in the registry", name, kv)
	return 0
}

func TestDropReason(t *testing.T) {
	for _, c := range []struct{ chain, comment, want string }{
		{"from-a", "from a: source mac not the endpoint's", DropAntiSpoofing},
		{"host-a", "host a: ipv4 source not the endpoint's", DropAntiSpoofing},
		{"from-a", "from a: ipv6 source not the endpoint's", DropAntiSpoofing},
		{"host-a", "host a: no ipv4 nets", DropAntiSpoofing},
		{"from-a", "from a: no ipv6 nets", DropAntiSpoofing},
		{"from-a", "from a: no profile accepted", DropNoProfileAccepted},
		{"to-a", "to a: no profile accepted", DropNoProfileAccepted},
		{"to-a", "to a: endpoint has no profiles", DropNoProfileAccepted},
		{"host-a", "host a: endpoint has no profiles", DropEndpointToHost},
		{"host-a", "host a: endpoint inactive", DropInactiveEndpoint},
		{"to-a", "to a: endpoint inactive", DropInactiveEndpoint},
		{"host-a", "host a: not dhcp, dns or neighbour discovery", DropEndpointToHost},
		{"shared-host-late", "endpoint to host: dns from own address", ""},
		{"profile-in-WEB", "WEB inbound 1", ""},
		{"to-a", "from a: no profile accepted", ""}, // the comment of another chain kind
		{"from-a", "from a: something else", ""},
	} {
		got, ok := DropReason(c.chain, c.comment)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("DropReason(%q, %q) = %q %v, want %q", c.chain, c.comment, got, ok, c.want)
		}
	}
}

// TestRuleCounterCollectorCache: a reading serves the scrapes within the TTL, a later scrape
// reads again; a failed read yields no series (the scrape still succeeds) and is warned once.
func TestRuleCounterCollectorCache(t *testing.T) {
	reads, fail := 0, false
	read := func(context.Context) (*CounterReading, error) {
		reads++
		if fail {
			return nil, errors.New("netlink: boom")
		}
		return SumCounters([]nft.RuleCounter{{Chain: "profile-in-WEB", Comment: "WEB inbound 1", Packets: uint64(reads), Bytes: 10}}), nil
	}
	var logged strings.Builder
	c := newRuleCounterCollector(read, 15*time.Second, slog.New(slog.NewTextHandler(&logged, nil)))
	now := time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	m := NewMetrics()
	m.Registry.MustRegister(c)
	value := func() float64 { return gathered(t, m, "reconcile_rule_packets_total", "profile", "WEB", "rule", "1") }
	if v := value(); v != 1 || reads != 1 {
		t.Fatalf("first scrape: %v, %d reads", v, reads)
	}
	now = now.Add(14 * time.Second)
	if v := value(); v != 1 || reads != 1 {
		t.Errorf("within the TTL: %v, %d reads", v, reads)
	}
	now = now.Add(2 * time.Second)
	if v := value(); v != 2 || reads != 2 {
		t.Errorf("after the TTL: %v, %d reads", v, reads)
	}
	fail = true
	for i := 0; i < 3; i++ {
		now = now.Add(time.Minute)
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "reconcile_rule_") || strings.HasPrefix(mf.GetName(), "reconcile_dropped_") {
				t.Errorf("a failed read served %s", mf.GetName())
			}
		}
	}
	if n := strings.Count(logged.String(), "cannot read the rule counters"); n != 1 {
		t.Errorf("warned %d times:\n%s", n, logged.String())
	}
}

// TestCountersNoChangeRecordsLowerBounds: a pass that finds the kernel already holding the
// ruleset applied last but no install record of it (a process killed between its commit and
// the record, a record lost) records every rule as installed at least then, rather than
// leaving the times unknown until the next change; a record of that ruleset is left alone.
func TestCountersNoChangeRecordsLowerBounds(t *testing.T) {
	e := newEnv(t)
	testenv.WriteFiles(t, e.repo, countersRepo)
	_ = os.Remove(e.repo + "/profiles/APP.json")
	ctx := context.Background()
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	t1 := e.record(t).LastApplied.Time

	// A no-change pass keeps the exact times of the record it finds.
	e.full = true
	if res, err := agentOf(t, e.opts()).Apply(ctx); err != nil || res.Result != state.NoChange {
		t.Fatalf("apply: %v %+v", err, res)
	}
	r, err := agentOf(t, e.opts()).Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := findHits(t, r, "WEB inbound 2"); h.Since == nil || !h.Since.Equal(t1) || h.SinceAtLeast {
		t.Errorf("after a no-change pass: %+v (want exactly %v)", h, t1)
	}

	// The record lost: unknown; the next no-change pass records lower bounds.
	key := e.record(t).Netns
	if err := os.Remove(state.InstalledPath(e.stateDir, nft.DefaultTable, key)); err != nil {
		t.Fatal(err)
	}
	if r, err = agentOf(t, e.opts()).Counters(ctx); err != nil || r.SinceError == "" || !strings.Contains(r.SinceError, "apply --full") {
		t.Fatalf("lost record: %v %q", err, r.SinceError)
	}
	res, err := agentOf(t, e.opts()).Apply(ctx)
	if err != nil || res.Result != state.NoChange {
		t.Fatalf("apply: %v %+v", err, res)
	}
	t2 := e.record(t).LastAttempt.Time
	if r, err = agentOf(t, e.opts()).Counters(ctx); err != nil || r.SinceError != "" {
		t.Fatalf("after the no-change pass: %v %q", err, r.SinceError)
	}
	for _, h := range r.Rules {
		if h.Since == nil || !h.Since.Equal(t2) || !h.SinceAtLeast {
			t.Errorf("%s: since %v (at least %v), want at least %v", h.Ref(), h.Since, h.SinceAtLeast, t2)
		}
	}
	e.full = false

	// The lower bounds carry over an in-place change to the rules it keeps.
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": strings.Replace(countersRepo["profiles/WEB.yaml"], "dst_ports: [53]", "dst_ports: [54]", 1)})
	if res, err = agentOf(t, e.opts()).Apply(ctx); err != nil || res.Mode != ModeIncremental {
		t.Fatalf("apply: %v %+v", err, res)
	}
	t3 := e.record(t).LastApplied.Time
	if r, err = agentOf(t, e.opts()).Counters(ctx); err != nil || r.SinceError != "" {
		t.Fatalf("after the change: %v %q", err, r.SinceError)
	}
	if h := findHits(t, r, "WEB inbound 1"); h.Since == nil || !h.Since.Equal(t2) || !h.SinceAtLeast {
		t.Errorf("kept rule: %+v (want at least %v)", h, t2)
	}
	if h := findHits(t, r, "WEB inbound 2"); h.Since == nil || !h.Since.Equal(t3) || h.SinceAtLeast {
		t.Errorf("changed rule: %+v (want exactly %v)", h, t3)
	}
}

// TestCountersTextsOfInvalidRepository: the rule texts are not taken from a repository that
// does not validate (an entry of inbound_rules that is not a rule is dropped, and the texts of
// the rules after it would be those of the next rule in the kernel).
func TestCountersTextsOfInvalidRepository(t *testing.T) {
	e := newEnv(t)
	testenv.WriteFiles(t, e.repo, countersRepo)
	_ = os.Remove(e.repo + "/profiles/APP.json")
	ctx := context.Background()
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(countersRepo["profiles/WEB.yaml"], "inbound_rules:\n", "inbound_rules:\n  - junk\n", 1)
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": bad})
	r, err := agentOf(t, e.opts()).Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.TextError, "is invalid (1 error, reconcile validate lists them)") || r.TextRevision != "" {
		t.Errorf("text error %q, text revision %q", r.TextError, r.TextRevision)
	}
	for _, h := range r.Rules {
		if h.Text != "" {
			t.Errorf("%s: text %q from an invalid repository", h.Ref(), h.Text)
		}
	}
}

// A transaction drops the cached reading: /metrics never serves the rules of the ruleset
// before an apply (a removed rule for up to the TTL); a no-change pass keeps it.
func TestRuleCounterCacheDroppedByApply(t *testing.T) {
	reads := 0
	read := func(context.Context) (*CounterReading, error) {
		reads++
		return SumCounters([]nft.RuleCounter{{Chain: "profile-in-WEB", Comment: "WEB inbound 1", Packets: uint64(reads), Bytes: 10}}), nil
	}
	m := NewMetrics()
	if err := m.RegisterRuleCounters(read, time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	value := func() float64 { return gathered(t, m, "reconcile_rule_packets_total", "profile", "WEB", "rule", "1") }
	now := time.Now()
	if v := value(); v != 1 {
		t.Fatalf("first scrape: %v", v)
	}
	m.ObserveApplied(now, "no-change", "r1", "dir:x", "", 0, 1, 1)
	if v := value(); v != 1 || reads != 1 {
		t.Errorf("after a no-change pass: %v, %d reads; want the cached reading", v, reads)
	}
	m.ObserveApplied(now, "applied", "r2", "dir:x", ModeIncremental, time.Millisecond, 1, 1)
	if v := value(); v != 2 || reads != 2 {
		t.Errorf("after a transaction: %v, %d reads; want a new reading", v, reads)
	}
}
