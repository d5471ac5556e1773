package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/lab"
)

// incEndpoints are the lab's workloads: web-1, cli-1 and db-1 on node-1 (the host whose table
// the test applies), cli-2 and cli-3 on node-2. cli-3 is in the lab from the start but joins
// the repository only at step (b).
const incEndpoints = `endpoints:
  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}
  - {id: cli-1, host: node-1, interface: calicli1, ipv4_nets: [198.18.2.2/32], profile_ids: [CLIENT]}
  - {id: db-1, host: node-1, interface: calidb1, ipv4_nets: [198.18.3.2/32], profile_ids: [DB]}
  - {id: cli-2, host: node-2, interface: calicli2, ipv4_nets: [198.18.2.3/32], profile_ids: [CLIENT]}
  - {id: cli-3, host: node-2, interface: calicli3, ipv4_nets: [198.18.2.9/32], profile_ids: [CLIENT]}
`

// incRepo is the repository before the changes: every endpoint but cli-3.
var incRepo = map[string]string{
	"profiles/WEB.yaml": `id: WEB
tags: [WEB]
inbound_rules:
  - {action: allow, protocol: tcp, dst_ports: [80], src_tag: CLIENT}
outbound_rules:
  - {action: allow}
`,
	"profiles/CLIENT.yaml": `id: CLIENT
tags: [CLIENT]
inbound_rules: []
outbound_rules:
  - {action: allow}
`,
	"profiles/DB.yaml": `id: DB
tags: [DB]
inbound_rules:
  - {action: allow, protocol: tcp, dst_ports: [5432], src_tag: CLIENT}
outbound_rules:
  - {action: allow}
`,
	"profiles/OTHER.yaml": `id: OTHER
tags: [OTHER]
inbound_rules:
  - {action: allow, protocol: tcp, dst_ports: [9000]}
outbound_rules: []
`,
	"endpoints/node-1.yaml": `endpoints:
  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}
  - {id: cli-1, host: node-1, interface: calicli1, ipv4_nets: [198.18.2.2/32], profile_ids: [CLIENT]}
  - {id: db-1, host: node-1, interface: calidb1, ipv4_nets: [198.18.3.2/32], profile_ids: [DB]}
`,
	"endpoints/node-2.yaml": `endpoints:
  - {id: cli-2, host: node-2, interface: calicli2, ipv4_nets: [198.18.2.3/32], profile_ids: [CLIENT]}
`,
}

// kRule is one rule of the kernel's table as `nft -j` lists it.
type kRule struct {
	Handle          uint64
	Text            string // the rule without its counter's values (its identity across applies)
	Packets, Bytes  uint64
	HasCounter      bool
	Comment, Source string
}

// kTable is the table's chains, each its rules in order.
type kTable map[string][]kRule

// listRules reads the rules of table inet reconcile in host's namespace with `nft -j`.
func listRules(t *testing.T, l *lab.Lab, host string) kTable {
	t.Helper()
	out, err := l.NFT(context.Background(), host, "", "-j", "list", "table", "inet", "reconcile")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("nft -j: %v\n%s", err, out)
	}
	tab := kTable{}
	for _, o := range doc.Nftables {
		if raw, ok := o["chain"]; ok {
			var c struct{ Name string }
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			tab[c.Name] = []kRule{}
		}
		raw, ok := o["rule"]
		if !ok {
			continue
		}
		var r struct {
			Chain   string
			Handle  uint64
			Comment string
			Expr    []map[string]json.RawMessage
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		kr := kRule{Handle: r.Handle, Comment: r.Comment, Source: string(raw)}
		var text []string
		for _, e := range r.Expr {
			if c, ok := e["counter"]; ok {
				var n struct{ Packets, Bytes uint64 }
				if err := json.Unmarshal(c, &n); err != nil {
					t.Fatal(err)
				}
				kr.Packets, kr.Bytes, kr.HasCounter = n.Packets, n.Bytes, true
				text = append(text, "counter")
				continue
			}
			b, _ := json.Marshal(e)
			text = append(text, string(b))
		}
		kr.Text = strings.Join(text, " ") + " comment " + r.Comment
		tab[r.Chain] = append(tab[r.Chain], kr)
	}
	return tab
}

// rule returns the rule of chain whose comment is comment.
func (k kTable) rule(t *testing.T, chain, comment string) kRule {
	t.Helper()
	for _, r := range k[chain] {
		if r.Comment == comment {
			return r
		}
	}
	t.Fatalf("no rule %q in chain %s: %v", comment, chain, k[chain])
	return kRule{}
}

// sameText reports whether chain holds the same rules (without counters) in both tables.
func sameText(a, b []kRule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Text != b[i].Text {
			return false
		}
	}
	return true
}

// inputChain says whether chain sees traffic to the host itself (neighbour discovery, which the
// workloads send on their own): its counters may grow between two readings without a probe.
func inputChain(name string) bool {
	return strings.HasPrefix(name, "host-") || strings.HasPrefix(name, "shared-host") || strings.HasPrefix(name, "input")
}

// untouched checks that every chain holding the same rules before and after kept its rules:
// the same handles and (outside the input path) the same counters. It returns the names of
// those chains.
func untouched(t *testing.T, step string, before, after kTable) []string {
	t.Helper()
	var names []string
	for name, br := range before {
		ar, ok := after[name]
		if !ok || !sameText(br, ar) {
			continue
		}
		names = append(names, name)
		for i := range br {
			b, a := br[i], ar[i]
			if a.Handle != b.Handle {
				t.Errorf("%s: chain %s rule %d %q: handle %d, was %d", step, name, i+1, b.Comment, a.Handle, b.Handle)
			}
			if inputChain(name) {
				if a.Packets < b.Packets || a.Bytes < b.Bytes {
					t.Errorf("%s: chain %s rule %d %q: counter went back from %d packets %d bytes to %d/%d", step, name, i+1, b.Comment, b.Packets, b.Bytes, a.Packets, a.Bytes)
				}
			} else if a.Packets != b.Packets || a.Bytes != b.Bytes {
				t.Errorf("%s: chain %s rule %d %q: counter %d packets %d bytes, was %d/%d", step, name, i+1, b.Comment, a.Packets, a.Bytes, b.Packets, b.Bytes)
			}
		}
	}
	sort.Strings(names)
	return names
}

// send sends the flows and checks each packet's fate against what the step expects (no
// simulator: cli-3 is in the lab before the repository knows it, and node-2 has no table).
func send(t *testing.T, l *lab.Lab, step string, flows ...flow) {
	t.Helper()
	probes := make([]lab.Probe, len(flows))
	for i, f := range flows {
		probes[i] = f.Probe
	}
	for i, o := range l.RunAll(context.Background(), nil, probes, probeTimeout, 8) {
		name := fmt.Sprintf("%s: %s -> %s %s", step, o.Probe.From, o.Probe.To, o.Probe)
		if o.Err != nil {
			t.Errorf("%s: probe failed: %v", name, o.Err)
		} else if o.Observed != flows[i].allow {
			t.Errorf("%s: packet %s, want %s", name, verdict(o.Observed), verdict(flows[i].allow))
		}
	}
}

// applyMode applies node-1's table with the built binary (-o json, extra flags) and returns the
// mode it reports.
func (e *env) applyMode(t *testing.T, extra ...string) string {
	t.Helper()
	out := e.must("", append(append([]string{"apply", "-o", "json"}, extra...), e.hostArgs("node-1")...)...)
	var res struct{ Result, Mode string }
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("apply -o json: %v\n%s", err, out)
	}
	if res.Result != "applied" {
		t.Fatalf("apply: result %q, want applied\n%s", res.Result, out)
	}
	return res.Mode
}

// TestKernelIncrementalKeepsCounters applies a repository to a lab host, sends real packets
// that count on profile WEB's allow rule, and then commits three changes that do not touch
// WEB: (a) a local endpoint (db-1) gains a profile, (b) a remote endpoint joins a tag that WEB
// allows, (c) profile DB's rule changes port. Each apply must be incremental: every chain the
// change did not edit keeps its rules' handles and counters (read from the kernel with
// `nft -j`), and the policy still does what the repository says, packet by packet. Last,
// `apply --full` replaces the table, and the counters are back at zero: the check can fail.
func TestKernelIncrementalKeepsCounters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, incRepo, incEndpoints, []int{80, 5432, 5433, 9000}, nil)
	l := e.lab
	if mode := e.applyMode(t); mode != "full" {
		t.Errorf("first apply: mode %q, want full (no table yet)", mode)
	}
	web := func(from string, allow bool) flow { return tcp(from, "web-1", 80, allow) }
	send(t, l, "first apply", web("cli-1", true), web("cli-2", true), web("cli-3", false),
		tcp("cli-1", "db-1", 5432, true), tcp("cli-1", "db-1", 9000, false))

	before := listRules(t, l, "node-1")
	webRule := before.rule(t, "profile-in-WEB", "WEB inbound 1")
	if webRule.Packets == 0 || webRule.Bytes == 0 {
		t.Fatalf("WEB inbound 1 counted no packet after the probes: %s", webRule.Source)
	}

	steps := []struct {
		name   string
		files  map[string]string
		edited []string // chains the change must edit (so they are not among the untouched)
		flows  []flow
	}{
		{"(a) local endpoint db-1 gains profile OTHER", map[string]string{
			"endpoints/node-1.yaml": strings.Replace(incRepo["endpoints/node-1.yaml"], "profile_ids: [DB]", "profile_ids: [DB, OTHER]", 1),
		}, []string{"to-db-1"}, []flow{
			tcp("cli-1", "db-1", 9000, true), tcp("cli-1", "db-1", 5432, true), web("cli-1", true), web("cli-3", false),
		}},
		{"(b) remote endpoint cli-3 joins tag CLIENT", map[string]string{
			"endpoints/node-2.yaml": incRepo["endpoints/node-2.yaml"] + "  - {id: cli-3, host: node-2, interface: calicli3, ipv4_nets: [198.18.2.9/32], profile_ids: [CLIENT]}\n",
		}, nil, []flow{
			web("cli-3", true), web("cli-2", true), tcp("cli-3", "db-1", 5432, true),
		}},
		{"(c) profile DB's rule moves to port 5433", map[string]string{
			"profiles/DB.yaml": strings.Replace(incRepo["profiles/DB.yaml"], "[5432]", "[5433]", 1),
		}, []string{"profile-in-DB"}, []flow{
			tcp("cli-1", "db-1", 5433, true), tcp("cli-1", "db-1", 5432, false), web("cli-1", true), tcp("cli-1", "db-1", 9000, true),
		}},
	}
	for _, s := range steps {
		for rel, content := range s.files {
			e.write(rel, content)
		}
		if mode := e.applyMode(t); mode != "incremental" {
			t.Errorf("%s: mode %q, want incremental", s.name, mode)
		}
		after := listRules(t, l, "node-1")
		kept := untouched(t, s.name, before, after)
		if !slices.Contains(kept, "profile-in-WEB") || !slices.Contains(kept, "to-web-1") {
			t.Errorf("%s: chains of WEB not among the untouched %v", s.name, kept)
		}
		for _, c := range s.edited {
			if slices.Contains(kept, c) {
				t.Errorf("%s: chain %s unchanged, yet the change edits it:\n%v", s.name, c, after[c])
			}
		}
		if got := after.rule(t, "profile-in-WEB", "WEB inbound 1"); got.Handle != webRule.Handle || got.Packets != webRule.Packets {
			t.Errorf("%s: WEB inbound 1 is %s, was %s", s.name, got.Source, webRule.Source)
		}
		send(t, l, s.name, s.flows...)
		before = listRules(t, l, "node-1")
		webRule = before.rule(t, "profile-in-WEB", "WEB inbound 1")
	}

	// --full replaces the whole table: new handles, counters from zero.
	e.write("profiles/DB.yaml", incRepo["profiles/DB.yaml"])
	if mode := e.applyMode(t, "--full"); mode != "full" {
		t.Errorf("apply --full: mode %q, want full", mode)
	}
	after := listRules(t, l, "node-1")
	if got := after.rule(t, "profile-in-WEB", "WEB inbound 1"); got.Packets != 0 || got.Bytes != 0 {
		t.Errorf("apply --full: WEB inbound 1 kept its counter: %s", got.Source)
	}
	// (Handles cannot tell here: a new table numbers its rules from 1 again, in the same order.)
	send(t, l, "apply --full", tcp("cli-1", "db-1", 5432, true), tcp("cli-1", "db-1", 5433, false), web("cli-3", true))

	// The text output says how the table was changed.
	e.write("endpoints/node-1.yaml", incRepo["endpoints/node-1.yaml"])
	if out := e.must("", append([]string{"apply"}, e.hostArgs("node-1")...)...); !strings.Contains(out, " ms, changed in place).\n") {
		t.Errorf("apply's text does not say the table was changed in place:\n%s", out)
	}
	send(t, l, "db-1 without OTHER", tcp("cli-1", "db-1", 9000, false), tcp("cli-1", "db-1", 5432, true))
}
