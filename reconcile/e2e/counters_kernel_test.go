package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/lab"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// countersOut is the part of `status --counters -o json` the test reads (docs/OPERATIONS.md,
// Rule counters).
type countersOut struct {
	Time       time.Time `json:"time"`
	SinceError string    `json:"since_error"`
	Rules      []struct {
		Profile      string     `json:"profile"`
		Direction    string     `json:"direction"`
		Rule         int        `json:"rule"`
		Text         string     `json:"text"`
		Packets      uint64     `json:"packets"`
		Bytes        uint64     `json:"bytes"`
		NFTRules     int        `json:"nft_rules"`
		Since        *time.Time `json:"since"`
		SinceAtLeast bool       `json:"since_at_least"`
	} `json:"rules"`
	Drops []struct {
		Reason  string `json:"reason"`
		Packets uint64 `json:"packets"`
		Bytes   uint64 `json:"bytes"`
	} `json:"drops"`
}

// rule returns the packets, bytes and since of profile rule ref ("WEB inbound 2").
func (c *countersOut) rule(t *testing.T, ref string) (uint64, uint64, *time.Time) {
	t.Helper()
	for _, r := range c.Rules {
		if fmt.Sprintf("%s %s %d", r.Profile, r.Direction, r.Rule) == ref {
			return r.Packets, r.Bytes, r.Since
		}
	}
	t.Fatalf("no rule %s in %+v", ref, c.Rules)
	return 0, 0, nil
}

func (c *countersOut) drop(reason string) [2]uint64 {
	for _, d := range c.Drops {
		if d.Reason == reason {
			return [2]uint64{d.Packets, d.Bytes}
		}
	}
	return [2]uint64{^uint64(0), 0}
}

const countersEndpoints = `endpoints:
  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], ipv6_nets: ["fd00:1::2/128"], profile_ids: [WEB]}
  - {id: cli-1, host: node-1, interface: calicli1, ipv4_nets: [198.18.2.2/32], profile_ids: [CLIENT]}
  - {id: off-1, host: node-1, interface: calioff1, ipv4_nets: [198.18.1.9/32], profile_ids: [WEB], state: inactive}
  - {id: cli-2, host: node-2, interface: calicli2, ipv4_nets: [198.18.2.3/32], profile_ids: [CLIENT]}
`

const countersWEB = `id: WEB
tags: [WEB]
inbound_rules:
  - action: allow
    protocol: udp
    dst_ports: [5000]
  - action: deny
    protocol: udp
    dst_ports: [5001]
  - action: log
    log_prefix: seen
    protocol: udp
    dst_ports: [5002]
  - action: allow
    protocol: tcp
    dst_ports: [9999]
outbound_rules:
  - action: allow
`

// TestRuleCountersRealPackets sends known packets through a two-host lab and checks the
// counters per profile rule and per drop reason, exactly, through `status --counters -o json`
// and a watch's /metrics; then an in-place apply changing one rule: the kept rules keep their
// counts and since-times, the changed one starts again at 0 with the apply's time.
func TestRuleCountersRealPackets(t *testing.T) {
	e := newEnvOpts(t, map[string]string{
		"endpoints/all.yaml":   countersEndpoints,
		"profiles/WEB.yaml":    countersWEB,
		"profiles/CLIENT.yaml": "id: CLIENT\ntags: [CLIENT]\noutbound_rules: [{action: allow}]\n",
	}, countersEndpoints, lab.Options{})
	// Quiet workloads: IPv6 off where the endpoint has no IPv6 nets, and no router
	// solicitations (the kernel repeats them with a backoff, and an inactive endpoint's would
	// count as drops while the test sends). What is left (MLD reports when addresses are added)
	// happens only while the lab comes up; the wait below lets it pass.
	for _, id := range []string{"cli-1", "cli-2", "off-1", "web-1"} {
		sh := "echo 0 > /proc/sys/net/ipv6/conf/eth0/router_solicitations"
		if !e.lab.Addr(id, 6).IsValid() {
			sh = "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6"
		}
		testenv.NetnsRun(t, e.lab.Workload(id).Netns, "sh", "-c", sh)
	}
	e.apply()
	args := append([]string{"status", "--counters", "-o", "json"}, e.hostArgs("node-1")...)
	read := func() *countersOut {
		t.Helper()
		var c countersOut
		if err := json.Unmarshal([]byte(e.must("", args...)), &c); err != nil {
			t.Fatal(err)
		}
		return &c
	}
	// Workloads that just came up send MLD reports and router solicitations for some seconds
	// (anti-spoofing drops and host allowances): wait until the drops are still for 3 s.
	before := read()
	for still, deadline := time.Now(), time.Now().Add(30*time.Second); time.Since(still) < 3*time.Second; {
		if time.Now().After(deadline) {
			t.Fatalf("the drop counters keep moving: %+v", before.Drops)
		}
		time.Sleep(500 * time.Millisecond)
		if now := read(); fmt.Sprint(now.Drops) != fmt.Sprint(before.Drops) {
			before, still = now, time.Now()
		}
	}
	installed := before.Rules[0].Since
	if installed == nil || before.SinceError != "" {
		t.Fatalf("no install time after the first apply: %+v", before)
	}

	a := func(id string) netip.Addr { return e.lab.Addr(id, 4) }
	const (
		udp4 = 20 + 8 + 20  // IPv4 header, udp header, the lab's 20-byte token
		tcp4 = 20 + 20 + 20 // IPv4 header, tcp header (a SYN), token
	)
	var pkts []lab.Packet
	var want []bool
	add := func(p lab.Packet, n int, delivered bool) {
		for i := 0; i < n; i++ {
			p.SrcPort = uint16(40000 + len(pkts)) // every packet its own flow
			pkts = append(pkts, p)
			want = append(want, delivered)
		}
	}
	const N, M, K, S = 3, 2, 2, 2
	web := func(from string, port uint16) lab.Packet {
		return lab.Packet{From: from, To: "web-1", Src: a(from), Dst: a("web-1"), Proto: syscall.IPPROTO_UDP, DstPort: port}
	}
	add(web("cli-1", 5000), N, true)  // WEB inbound 1 (and CLIENT outbound 1)
	add(web("cli-2", 5000), 1, true)  // from the other host: WEB inbound 1 on node-1
	add(web("cli-1", 5001), M, false) // WEB inbound 2, deny
	add(web("cli-1", 5002), K, false) // WEB inbound 3, log; then no profile accepted
	add(web("cli-1", 5003), 1, false) // no profile accepted
	spoofed := web("cli-1", 5000)     // anti-spoofing in from-cli-1
	spoofed.Src = netip.MustParseAddr("198.18.77.77")
	add(spoofed, S, false)
	off := lab.Packet{From: "cli-1", To: "off-1", Src: a("cli-1"), Dst: a("off-1"), Proto: syscall.IPPROTO_UDP, DstPort: 5000}
	add(off, 1, false) // inactive endpoint, in to-off-1
	dnsTCP := lab.Packet{From: "cli-1", ToHost: "node-1", Src: a("cli-1"), Dst: lab.GatewayV4, Proto: syscall.IPPROTO_TCP, DstPort: 53}
	add(dnsTCP, 1, false) // endpoint to host: DNS over TCP
	got, err := e.lab.SendBatch(context.Background(), pkts, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pkts {
		if got[i] != want[i] {
			t.Errorf("packet %d %+v: delivered %v, want %v", i, pkts[i], got[i], want[i])
		}
	}

	after := read()
	check := func(c *countersOut, ref string, packets, bytes uint64) {
		t.Helper()
		if p, b, _ := c.rule(t, ref); p != packets || b != bytes {
			t.Errorf("%s: %d packets %d bytes, want %d and %d", ref, p, b, packets, bytes)
		}
	}
	check(after, "WEB inbound 1", N+1, (N+1)*udp4)
	check(after, "WEB inbound 2", M, M*udp4)
	check(after, "WEB inbound 3", K, K*udp4)
	check(after, "WEB inbound 4", 0, 0)
	// CLIENT outbound 1 on node-1: every packet from cli-1 that passed its anti-spoofing.
	fromCli1 := uint64(N + M + K + 1 + 1)
	check(after, "CLIENT outbound 1", fromCli1, fromCli1*udp4)
	if _, _, since := after.rule(t, "WEB inbound 4"); since == nil || !since.Equal(*installed) {
		t.Errorf("WEB inbound 4 never matched since %v, want %v", since, installed)
	}
	wantDrops := map[string][2]uint64{
		"anti-spoofing":       {S, S * udp4},
		"no-profile-accepted": {K + 1, (K + 1) * udp4},
		"inactive-endpoint":   {1, udp4},
		"endpoint-to-host":    {1, tcp4},
	}
	for reason, w := range wantDrops {
		b := before.drop(reason)
		if d := after.drop(reason); d[0]-b[0] != w[0] || d[1]-b[1] != w[1] {
			t.Errorf("drops %s: +%d packets +%d bytes, want +%d and +%d", reason, d[0]-b[0], d[1]-b[1], w[0], w[1])
		}
	}
	if rules := after.Rules; len(rules) != 6 || rules[0].Profile != "CLIENT" || rules[1].Rule != 1 || rules[1].Text != "allow udp to ports 5000" {
		t.Errorf("rules not sorted by packets, or texts missing: %+v", rules)
	}

	// Counter values are not drift: the table read back in full is in sync.
	var st struct {
		InSync    bool `json:"in_sync"`
		TableRead bool `json:"table_read"`
	}
	if err := json.Unmarshal([]byte(e.must("", append([]string{"status", "--full", "-o", "json"}, e.hostArgs("node-1")...)...)), &st); err != nil || !st.InSync || !st.TableRead {
		t.Errorf("status --full after the traffic: %+v %v", st, err)
	}

	// The text form: the same figures, and the rule that never matched says since when.
	text := e.must("", append([]string{"status", "--counters"}, e.hostArgs("node-1")...)...)
	var lines []string // each line with its runs of spaces made one
	for _, l := range strings.Split(text, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	for _, want := range []string{
		fmt.Sprintf("WEB inbound 1 %d %d B allow udp to ports 5000", N+1, (N+1)*udp4),
		"WEB inbound 4 0 0 B allow tcp to ports 9999 never matched since " + installed.UTC().Format("2006-01-02 15:04 UTC"),
		fmt.Sprintf("inactive endpoint %d %d B", after.drop("inactive-endpoint")[0], after.drop("inactive-endpoint")[1]),
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("status --counters:\n%s\nwant the line %q", text, want)
		}
	}
	t.Logf("status --counters:\n%s", text)

	// The same figures on /metrics of a watch on node-1 (its reading is taken at scrape time).
	metrics := scrapeWatch(t, e, "node-1")
	for _, ref := range []string{"WEB inbound 1", "WEB inbound 2", "WEB inbound 3", "CLIENT outbound 1"} {
		f := strings.Fields(ref)
		p, b, _ := after.rule(t, ref)
		labels := fmt.Sprintf(`{direction=%q,profile=%q,rule=%q}`, f[1], f[0], f[2])
		if m := metrics["reconcile_rule_packets_total"+labels]; m != float64(p) {
			t.Errorf("reconcile_rule_packets_total%s = %v, want %d", labels, m, p)
		}
		if m := metrics["reconcile_rule_bytes_total"+labels]; m != float64(b) {
			t.Errorf("reconcile_rule_bytes_total%s = %v, want %d", labels, m, b)
		}
	}
	for reason := range wantDrops {
		d := after.drop(reason)
		labels := fmt.Sprintf(`{reason=%q}`, reason)
		if m := metrics["reconcile_dropped_packets_total"+labels]; m != float64(d[0]) {
			t.Errorf("reconcile_dropped_packets_total%s = %v, want %d", labels, m, d[0])
		}
		if m := metrics["reconcile_dropped_bytes_total"+labels]; m != float64(d[1]) {
			t.Errorf("reconcile_dropped_bytes_total%s = %v, want %d", labels, m, d[1])
		}
	}

	// An in-place apply changing WEB inbound 2: the others keep their counts and times.
	e.write("profiles/WEB.yaml", strings.Replace(countersWEB, "dst_ports: [5001]", "dst_ports: [5004]", 1))
	out := e.must("", append([]string{"apply", "-o", "json"}, e.hostArgs("node-1")...)...)
	if !strings.Contains(out, `"mode": "incremental"`) {
		t.Fatalf("the apply was not in place:\n%s", out)
	}
	changed := read()
	t.Logf("status --counters -o json after the in-place apply:\n%s", e.must("", args...))
	check(changed, "WEB inbound 1", N+1, (N+1)*udp4)
	check(changed, "WEB inbound 3", K, K*udp4)
	check(changed, "WEB inbound 2", 0, 0)
	if _, _, since := changed.rule(t, "WEB inbound 2"); since == nil || !since.After(*installed) {
		t.Errorf("the changed rule counts since %v, want after %v", since, installed)
	}
	for _, ref := range []string{"WEB inbound 1", "WEB inbound 4", "CLIENT outbound 1"} {
		if _, _, since := changed.rule(t, ref); since == nil || !since.Equal(*installed) {
			t.Errorf("%s counts since %v, want %v (kept)", ref, since, installed)
		}
	}
}

// scrapeWatch runs `reconcile watch --metrics-addr` for host h until its /metrics answers with
// the rule counters, and returns the samples by name and labels as the exposition writes them.
func scrapeWatch(t *testing.T, e *env, h string) map[string]float64 {
	t.Helper()
	addr := gitopsFreeAddr(t)
	cmd := exec.Command(e.bin, append([]string{"watch", "--interval", "1h", "--metrics-addr", addr}, e.hostArgs(h)...)...)
	cmd.Dir = e.dir
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("watch log:\n%s", log.String())
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			samples := map[string]float64{}
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				line := sc.Text()
				if strings.HasPrefix(line, "#") {
					continue
				}
				if i := strings.LastIndexByte(line, ' '); i > 0 {
					if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
						samples[line[:i]] = v
					}
				}
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if _, ok := samples[`reconcile_dropped_packets_total{reason="anti-spoofing"}`]; ok {
				return samples
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rule counters on http://%s/metrics (err %v)", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
