package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// ep describes one endpoint of a hand-built ruleset.
type ep struct {
	id, iface string
	net       string
	profiles  []string
}

// prof describes one profile chain pair of a hand-built ruleset.
type prof struct {
	id       string
	inbound  []*nft.Rule
	outbound []*nft.Rule
}

func allow(profile, dir string, n int, ms ...nft.Match) *nft.Rule {
	return &nft.Rule{Matches: ms, Counter: true, Verdict: nft.Verdict{Kind: nft.Accept}, Comment: profile + " " + dir + " " + itoa(n)}
}

func itoa(n int) string { return string(rune('0' + n)) }

func dport(p uint16) []nft.Match {
	return []nft.Match{
		{Kind: nft.MatchL4Proto, Protos: []uint8{6}},
		{Kind: nft.MatchDPort, Ports: []nft.PortRange{{First: p, Last: p}}},
	}
}

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

// build makes a ruleset shaped like compile's output (naming contract) for eps and profiles.
func build(eps []ep, profs []prof, tags map[string][]string) *nft.Ruleset {
	rs := &nft.Ruleset{Table: "reconcile"}
	for _, t := range sortedKeysS(tags) {
		rs.Sets = append(rs.Sets, &nft.Set{Name: "tag-v4-" + t, Type: nft.SetIPv4, Prefixes: pfx(tags[t]...)})
	}
	from := &nft.Map{Name: "dispatch-from"}
	to := &nft.Map{Name: "dispatch-to"}
	host := &nft.Map{Name: "dispatch-host"}
	base := func(name string, hook nft.Hook, prio int, key nft.MatchKind, m string) *nft.Chain {
		return &nft.Chain{Name: name, Base: &nft.BaseChain{Hook: hook, Priority: prio, Policy: nft.Accept}, Rules: []*nft.Rule{
			{Matches: []nft.Match{{Kind: nft.MatchCtState, CtState: nft.CtInvalid}}, Verdict: nft.Verdict{Kind: nft.Drop}},
			{Matches: []nft.Match{{Kind: nft.MatchCtState, CtState: nft.CtEstablished | nft.CtRelated}}, Verdict: nft.Verdict{Kind: nft.Accept}},
			{VMap: &nft.VMapLookup{Key: key, Map: m}},
		}}
	}
	rs.Chains = append(rs.Chains,
		base("forward-from", nft.HookForward, 0, nft.MatchIIFName, "dispatch-from"),
		base("forward-to", nft.HookForward, 10, nft.MatchOIFName, "dispatch-to"),
		base("input-from", nft.HookInput, 0, nft.MatchIIFName, "dispatch-host"))
	for _, e := range eps {
		from.Elements = append(from.Elements, nft.MapElement{Key: e.iface, Verdict: nft.Verdict{Kind: nft.Goto, Chain: "from-" + e.id}})
		to.Elements = append(to.Elements, nft.MapElement{Key: e.iface, Verdict: nft.Verdict{Kind: nft.Goto, Chain: "to-" + e.id}})
		host.Elements = append(host.Elements, nft.MapElement{Key: e.iface, Verdict: nft.Verdict{Kind: nft.Goto, Chain: "host-" + e.id}})
		fc := &nft.Chain{Name: "from-" + e.id, Rules: []*nft.Rule{
			{Matches: []nft.Match{{Kind: nft.MatchSAddr, Not: true, Family: nft.IPv4, Prefixes: pfx(e.net)}}, Verdict: nft.Verdict{Kind: nft.Drop}},
		}}
		tc := &nft.Chain{Name: "to-" + e.id}
		for _, p := range e.profiles {
			fc.Rules = append(fc.Rules, &nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: "profile-out-" + p}})
			tc.Rules = append(tc.Rules, &nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: "profile-in-" + p}})
		}
		fc.Rules = append(fc.Rules, &nft.Rule{Verdict: nft.Verdict{Kind: nft.Drop}})
		tc.Rules = append(tc.Rules, &nft.Rule{Verdict: nft.Verdict{Kind: nft.Drop}})
		hc := &nft.Chain{Name: "host-" + e.id, Rules: []*nft.Rule{
			{Matches: []nft.Match{{Kind: nft.MatchL4Proto, Protos: []uint8{17}}, {Kind: nft.MatchDPort, Ports: []nft.PortRange{{First: 53, Last: 53}}}}, Verdict: nft.Verdict{Kind: nft.Accept}},
			{Verdict: nft.Verdict{Kind: nft.Drop}},
		}}
		rs.Chains = append(rs.Chains, fc, tc, hc)
	}
	for _, p := range profs {
		rs.Chains = append(rs.Chains,
			&nft.Chain{Name: "profile-in-" + p.id, Rules: p.inbound},
			&nft.Chain{Name: "profile-out-" + p.id, Rules: p.outbound})
	}
	rs.Maps = []*nft.Map{from, host, to}
	sortRuleset(rs)
	return rs
}

func sortedKeysS(m map[string][]string) []string {
	b := map[string]bool{}
	for k := range m {
		b[k] = true
	}
	return sortedKeys(b)
}

func sortRuleset(rs *nft.Ruleset) {
	sortBy(rs.Chains, func(c *nft.Chain) string { return c.Name })
	sortBy(rs.Sets, func(s *nft.Set) string { return s.Name })
	sortBy(rs.Maps, func(m *nft.Map) string { return m.Name })
	for _, m := range rs.Maps {
		sortBy(m.Elements, func(e nft.MapElement) string { return e.Key })
	}
}

func sortBy[T any](s []T, key func(T) string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && key(s[j]) < key(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func web() prof {
	return prof{id: "WEB",
		inbound: []*nft.Rule{
			allow("WEB", "inbound", 1, dport(80)...),
			allow("WEB", "inbound", 2, dport(443)...),
			allow("WEB", "inbound", 3, dport(8080)...),
		},
		outbound: []*nft.Rule{allow("WEB", "outbound", 1)},
	}
}

func app() prof {
	return prof{id: "APP",
		inbound: []*nft.Rule{allow("APP", "inbound", 1, append(dport(7890),
			nft.Match{Kind: nft.MatchSAddrSet, Family: nft.IPv4, Str: "tag-v4-APP_7890"})...)},
		outbound: []*nft.Rule{allow("APP", "outbound", 1)},
	}
}

func baseEPs() []ep {
	return []ep{
		{id: "web-1", iface: "caliweb1", net: "198.18.1.2/32", profiles: []string{"WEB"}},
		{id: "app-1", iface: "caliapp1", net: "198.18.2.2/32", profiles: []string{"APP"}},
	}
}

func baseTags() map[string][]string {
	return map[string][]string{"WEB": {"198.18.1.2/32"}, "APP_7890": {"198.18.1.2/32"}}
}

func baseline() *nft.Ruleset { return build(baseEPs(), []prof{web(), app()}, baseTags()) }

// summary is a compact, order-preserving description of a plan for table tests.
func summary(p *Plan) []string {
	var out []string
	for _, o := range p.Objects {
		out = append(out, o.Action.Symbol()+" "+o.Title())
	}
	return out
}

func lines(p *Plan, title string) []string {
	var out []string
	for _, o := range p.Objects {
		if o.Title() != title {
			continue
		}
		for _, l := range o.Changes {
			out = append(out, l.Op+" "+l.Text)
		}
	}
	return out
}

func TestDiff(t *testing.T) {
	withRule := func(mut func(rs *nft.Ruleset)) *nft.Ruleset {
		rs := baseline()
		mut(rs)
		return rs
	}
	chain := func(rs *nft.Ruleset, name string) *nft.Chain {
		for _, c := range rs.Chains {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no chain %q", name)
		return nil
	}
	inserted := allow("WEB", "inbound", 2, dport(22)...)
	handAdded := &nft.Rule{Matches: dport(22), Verdict: nft.Verdict{Kind: nft.Accept}}

	tests := []struct {
		name              string
		desired, observed *nft.Ruleset
		want              []string // objects
		wantLines         map[string][]string
		counts            Counts
	}{
		{
			name: "equal", desired: baseline(), observed: baseline(),
			want: nil, counts: Counts{},
		},
		{
			name:     "endpoint added",
			desired:  build(append(baseEPs(), ep{id: "web-2", iface: "caliweb2", net: "198.18.1.3/32", profiles: []string{"WEB"}}), []prof{web(), app()}, map[string][]string{"WEB": {"198.18.1.2/31"}, "APP_7890": {"198.18.1.2/32"}}),
			observed: baseline(),
			want:     []string{"+ endpoint web-2 (caliweb2)", "~ tag WEB (v4)"},
			wantLines: map[string][]string{
				"tag WEB (v4)": {"+ 198.18.1.2/31", "- 198.18.1.2/32"},
			},
			counts: Counts{Add: 1, Change: 1},
		},
		{
			name:     "endpoint removed",
			desired:  build(baseEPs()[:1], []prof{web(), app()}, baseTags()),
			observed: baseline(),
			want:     []string{"- endpoint app-1 (caliapp1)"},
			counts:   Counts{Destroy: 1},
		},
		{
			name:     "endpoint changed: profile appended",
			desired:  build([]ep{{id: "web-1", iface: "caliweb1", net: "198.18.1.2/32", profiles: []string{"WEB", "APP"}}, baseEPs()[1]}, []prof{web(), app()}, baseTags()),
			observed: baseline(),
			want:     []string{"~ endpoint web-1 (caliweb1)"},
			wantLines: map[string][]string{
				"endpoint web-1 (caliweb1)": {"+ jump profile-out-APP", "+ jump profile-in-APP"},
			},
			counts: Counts{Change: 1},
		},
		{
			name:     "endpoint interface renamed",
			desired:  build([]ep{{id: "web-1", iface: "caliweb9", net: "198.18.1.2/32", profiles: []string{"WEB"}}, baseEPs()[1]}, []prof{web(), app()}, baseTags()),
			observed: baseline(),
			want:     []string{"~ endpoint web-1 (caliweb9)"},
			counts:   Counts{Change: 1},
		},
		{
			name:     "profile added and removed",
			desired:  build(baseEPs()[:1], []prof{web()}, map[string][]string{"WEB": {"198.18.1.2/32"}}),
			observed: build(baseEPs()[:1], []prof{app()}, map[string][]string{"WEB": {"198.18.1.2/32"}}),
			want:     []string{"- profile APP inbound", "- profile APP outbound", "+ profile WEB inbound", "+ profile WEB outbound"},
			counts:   Counts{Add: 2, Destroy: 2},
		},
		{
			name: "rule inserted in the middle is one +",
			desired: withRule(func(rs *nft.Ruleset) {
				c := chain(rs, "profile-in-WEB")
				c.Rules = append([]*nft.Rule{c.Rules[0], inserted}, c.Rules[1:]...)
			}),
			observed: baseline(),
			want:     []string{"~ profile WEB inbound"},
			wantLines: map[string][]string{
				"profile WEB inbound": {"+ " + ruleText(inserted)},
			},
			counts: Counts{Change: 1},
		},
		{
			name: "rule removed",
			desired: withRule(func(rs *nft.Ruleset) {
				c := chain(rs, "profile-in-WEB")
				c.Rules = c.Rules[1:]
			}),
			observed: baseline(),
			want:     []string{"~ profile WEB inbound"},
			wantLines: map[string][]string{
				"profile WEB inbound": {"- " + ruleText(allow("WEB", "inbound", 1, dport(80)...))},
			},
			counts: Counts{Change: 1},
		},
		{
			name: "rule changed",
			desired: withRule(func(rs *nft.Ruleset) {
				chain(rs, "profile-in-WEB").Rules[1] = allow("WEB", "inbound", 2, dport(8443)...)
			}),
			observed: baseline(),
			want:     []string{"~ profile WEB inbound"},
			wantLines: map[string][]string{
				"profile WEB inbound": {"- " + ruleText(allow("WEB", "inbound", 2, dport(443)...)), "+ " + ruleText(allow("WEB", "inbound", 2, dport(8443)...))},
			},
			counts: Counts{Change: 1},
		},
		{
			name:     "set members",
			desired:  build(baseEPs(), []prof{web(), app()}, map[string][]string{"WEB": {"198.18.1.2/32"}, "APP_7890": {"198.18.1.2/32", "198.18.9.0/24"}}),
			observed: baseline(),
			want:     []string{"~ tag APP_7890 (v4)"},
			wantLines: map[string][]string{
				"tag APP_7890 (v4)": {"+ 198.18.9.0/24"},
			},
			counts: Counts{Change: 1},
		},
		{
			name:     "table deleted",
			desired:  baseline(),
			observed: nil,
			want: []string{"+ table inet reconcile", "+ endpoint app-1 (caliapp1)", "+ endpoint web-1 (caliweb1)",
				"+ profile APP inbound", "+ profile APP outbound", "+ profile WEB inbound", "+ profile WEB outbound",
				"+ tag APP_7890 (v4)", "+ tag WEB (v4)",
				"+ chain forward-from", "+ chain forward-to", "+ chain input-from",
				"+ map dispatch-from", "+ map dispatch-host", "+ map dispatch-to"},
			counts: Counts{Add: 15},
		},
		{
			name:    "rule added by hand to a base chain",
			desired: baseline(),
			observed: withRule(func(rs *nft.Ruleset) {
				c := chain(rs, "forward-from")
				c.Rules = append([]*nft.Rule{handAdded}, c.Rules...)
			}),
			want: []string{"~ chain forward-from"},
			wantLines: map[string][]string{
				"chain forward-from": {"- " + ruleText(handAdded)},
			},
			counts: Counts{Change: 1},
		},
		{
			name:    "base chain policy changed by hand",
			desired: baseline(),
			observed: withRule(func(rs *nft.Ruleset) {
				chain(rs, "input-from").Base.Policy = nft.Drop
			}),
			want: []string{"~ chain input-from"},
			wantLines: map[string][]string{
				"chain input-from": {
					"- chain input-from { type filter hook input priority 0; policy drop; }",
					"+ chain input-from { type filter hook input priority 0; policy accept; }"},
			},
			counts: Counts{Change: 1},
		},
		{
			name:    "foreign chain and set added by hand",
			desired: baseline(),
			observed: withRule(func(rs *nft.Ruleset) {
				rs.Chains = append(rs.Chains, &nft.Chain{Name: "mine", Rules: []*nft.Rule{handAdded}})
				rs.Sets = append(rs.Sets, &nft.Set{Name: "blocked", Type: nft.SetIPv4, Prefixes: pfx("198.18.7.0/24")})
			}),
			want:   []string{"- chain mine", "- set blocked"},
			counts: Counts{Destroy: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Diff(tt.desired, tt.observed)
			if got := summary(p); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if got := p.Changes(); got != tt.counts {
				t.Errorf("Changes() = %+v, want %+v", got, tt.counts)
			}
			for title, want := range tt.wantLines {
				if got := lines(p, title); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("lines of %q:\n%s\nwant:\n%s", title, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			if tt.counts.Total() == 0 != p.Empty() {
				t.Errorf("Empty() = %v with counts %+v", p.Empty(), tt.counts)
			}
			// DiffCanonical of the canonical forms is the same plan.
			want, _ := json.Marshal(p)
			got, _ := json.Marshal(DiffCanonical(tt.desired.Canonical(), tt.observed.Canonical()))
			if !bytes.Equal(got, want) {
				t.Errorf("DiffCanonical:\n%s\nDiff:\n%s", got, want)
			}
		})
	}
}

// TestSetMembersUnchanged: a set whose members are the same on both sides shows no line, one
// whose members differ only in order or by a port or an ICMP type does.
func TestSetMembersUnchanged(t *testing.T) {
	set := func(name string, ps []nft.PortRange, nums []uint8, prefixes ...string) *nft.Set {
		typ := nft.SetIPv4
		if len(prefixes) == 0 {
			typ = nft.SetType("inet_service")
		}
		return &nft.Set{Name: name, Type: typ, Prefixes: pfx(prefixes...), Ports: ps, Nums: nums}
	}
	rs := func(sets ...*nft.Set) *nft.Ruleset { return &nft.Ruleset{Table: "reconcile", Sets: sets} }
	same := rs(set("tag-v4-A", nil, nil, "198.18.0.1/32", "198.18.0.4/31"), set("s", []nft.PortRange{{First: 80, Last: 80}}, nil), set("t", nil, []uint8{1, 3}))
	if p := DiffCanonical(same, rs(set("tag-v4-A", nil, nil, "198.18.0.1/32", "198.18.0.4/31"), set("s", []nft.PortRange{{First: 80, Last: 80}}, nil), set("t", nil, []uint8{1, 3}))); !p.Empty() {
		t.Errorf("same members: %v", summary(p))
	}
	other := rs(set("tag-v4-A", nil, nil, "198.18.0.1/32", "198.18.0.6/31"), set("s", []nft.PortRange{{First: 81, Last: 81}}, nil), set("t", nil, []uint8{1, 4}))
	p := DiffCanonical(other, same)
	if got := strings.Join(summary(p), "\n"); got != "~ tag A (v4)\n~ set s\n~ set t" {
		t.Errorf("changed members: %s", got)
	}
	if got := strings.Join(lines(p, "tag A (v4)"), "\n"); got != "- 198.18.0.4/31\n+ 198.18.0.6/31" {
		t.Errorf("tag lines: %s", got)
	}
}

func TestDiffPositions(t *testing.T) {
	d := baseline()
	var c *nft.Chain
	for _, x := range d.Chains {
		if x.Name == "profile-in-WEB" {
			c = x
		}
	}
	ins := allow("WEB", "inbound", 2, dport(22)...)
	c.Rules = append([]*nft.Rule{c.Rules[0], ins}, c.Rules[1:]...)
	p := Diff(d, baseline())
	if len(p.Objects) != 1 || len(p.Objects[0].Changes) != 1 {
		t.Fatalf("want one change, got %+v", p.Objects)
	}
	if l := p.Objects[0].Changes[0]; l.Position != 2 || l.In != "chain profile-in-WEB" || l.Op != "+" {
		t.Errorf("change = %+v, want + at position 2 in chain profile-in-WEB", l)
	}
}

func TestDriftIsDiffFromApplied(t *testing.T) {
	applied := baseline()
	if p := Drift(applied, baseline()); !p.Empty() || p.Kind != "drift" {
		t.Fatalf("no drift expected, got %v", summary(p))
	}
	p := Drift(applied, nil)
	if p.Changes().Add == 0 || p.Objects[0].Kind != KindTable {
		t.Errorf("deleted table: want the table to be added first, got %v", summary(p))
	}
	if !strings.HasPrefix(p.Summary(), "Drift: ") {
		t.Errorf("summary = %q", p.Summary())
	}
}

// TestText checks the human output against golden files (go test -update rewrites them).
func TestText(t *testing.T) {
	mid := baseline()
	for _, c := range mid.Chains {
		if c.Name == "profile-in-WEB" {
			c.Rules = append([]*nft.Rule{c.Rules[0], allow("WEB", "inbound", 2, dport(22)...)}, c.Rules[1:]...)
		}
	}
	cases := []struct {
		name string
		p    *Plan
	}{
		{"no-changes", Diff(baseline(), baseline())},
		{"no-drift", Drift(baseline(), baseline())},
		{"mixed", Diff(
			build(append(baseEPs()[:1], ep{id: "db-1", iface: "calidb1", net: "198.18.3.2/32"}), []prof{web()}, map[string][]string{"WEB": {"198.18.1.2/32", "198.18.3.2/32"}}),
			mid)},
		{"table-absent", Diff(build(baseEPs()[:1], []prof{web()}, map[string][]string{"WEB": {"198.18.1.2/32"}}), nil)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := c.p.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, c.name+".txt", b.Bytes())
			b.Reset()
			if err := c.p.WriteJSON(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, c.name+".json", b.Bytes())
			var back Plan
			if err := json.Unmarshal(b.Bytes(), &back); err != nil {
				t.Fatalf("JSON does not read back: %v", err)
			}
			if back.Changes() != c.p.Changes() || back.Summary() != c.p.Summary() {
				t.Errorf("JSON round trip changed the plan: %+v vs %+v", back.Changes(), c.p.Changes())
			}
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// Named stateful objects and flowtables in the kernel (nft.Ruleset.Foreign) are drift and
// plan changes, one object each, that apply destroys; the same objects on both sides are no
// change.
func TestForeignObjects(t *testing.T) {
	observed := baseline()
	observed.Foreign = []nft.ForeignObject{{Kind: "quota", Name: "q1"}, {Kind: "counter", Name: "c1"}, {Kind: "flowtable", Name: "f"}}
	for _, p := range []*Plan{Drift(baseline(), observed), Diff(baseline(), observed)} {
		want := []string{
			"- counter c1 (not reconcile's, removed by apply)",
			"- flowtable f (not reconcile's, removed by apply)",
			"- quota q1 (not reconcile's, removed by apply)",
		}
		if got := summary(p); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %q, want %q", p.Kind, got, want)
		}
		for _, o := range p.Objects {
			if o.Kind != KindObject || o.Action != Destroy || len(o.Changes) != 1 || !o.Changes[0].Header || o.Changes[0].In != o.ID {
				t.Errorf("%s: object %+v", p.Kind, o)
			}
		}
		var b bytes.Buffer
		if err := p.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), want[0]+"\n"+want[1]+"\n") || !strings.HasSuffix(b.String(), "0 to add, 0 to change, 3 to destroy.\n") {
			t.Errorf("%s text:\n%s", p.Kind, b.String())
		}
	}
	both := baseline()
	both.Foreign = observed.Foreign
	if p := Diff(both, observed); !p.Empty() {
		t.Errorf("the same objects on both sides: %q", summary(p))
	}
}

// A set read back without the interval flag shows as it is, without `flags interval`.
func TestSetWithoutIntervalFlag(t *testing.T) {
	observed := baseline()
	observed.Sets = append(observed.Sets,
		&nft.Set{Name: "hands", Type: nft.SetIPv4 + nft.NoIntervalFlag, Prefixes: pfx("198.18.7.1/32")},
		&nft.Set{Name: "odd", Type: nft.SetIPv4 + nft.NoIntervalFlag + " (undecodable elements)"})
	p := Drift(baseline(), observed)
	if got, want := lines(p, "set hands"), []string{"- set hands { type ipv4_addr; }", "- 198.18.7.1/32"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("set hands: %q, want %q", got, want)
	}
	if got, want := lines(p, "set odd"), []string{"- set odd { type ipv4_addr (undecodable elements); }"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("set odd: %q, want %q", got, want)
	}
	if s := observed.String(); !strings.Contains(s, "set hands {\n\t\ttype ipv4_addr\n\t\telements") {
		t.Errorf("rendered set without flags:\n%s", s)
	}
}

// A shared port list is an object of its own (kind list); a port added to it by hand is drift
// of the list, and every rule line that uses it shows the list's elements on each side.
func TestSharedList(t *testing.T) {
	withList := func(ports ...uint16) *nft.Ruleset {
		rs := baseline()
		s := &nft.Set{Name: "ports-x", Type: nft.SetPorts}
		for _, p := range ports {
			s.Ports = append(s.Ports, nft.PortRange{First: p, Last: p})
		}
		rs.Sets = append(rs.Sets, s)
		for _, c := range rs.Chains {
			if c.Name == "profile-in-WEB" {
				c.Rules = append(c.Rules, allow("WEB", "inbound", 9, nft.Match{Kind: nft.MatchL4Proto, Protos: []uint8{6}}, nft.Match{Kind: nft.MatchDPortSet, Str: "ports-x"}))
			}
		}
		return rs
	}
	applied := withList(80, 443)
	if got, want := summary(Diff(applied, baseline())), []string{"~ profile WEB inbound", "+ list ports-x"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("new list: %q, want %q", got, want)
	}
	p := Drift(applied, withList(22, 80, 443))
	if got, want := lines(p, "list ports-x"), []string{"- 22"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("list edited by hand: %q, want %q", got, want)
	}
	want := []string{
		`- meta l4proto 6 th dport @ports-x { 22, 80, 443 } counter accept comment "WEB inbound 9"`,
		`+ meta l4proto 6 th dport @ports-x { 80, 443 } counter accept comment "WEB inbound 9"`,
	}
	if got := lines(p, "profile WEB inbound"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("rule using the edited list: %q, want %q", got, want)
	}
	// Elements in numeric order, not as text.
	p = Diff(withList(8080, 443, 80), baseline())
	if got, want := lines(p, "list ports-x"), []string{"+ set ports-x { type inet_service; flags interval; }", "+ 80", "+ 443", "+ 8080"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("new list: %q, want %q", got, want)
	}
}
