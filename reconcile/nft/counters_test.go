package nft

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// TestKernelRuleCounters loads rules with preset counter values (`counter packets P bytes B`)
// by `nft -f` and checks that RuleCounters reads every counted rule, with its chain, comment,
// values and the handle `nft -a list` shows, and leaves out the rules without a counter, the
// other tables, and a table that does not exist.
func TestKernelRuleCounters(t *testing.T) {
	testenv.RequireKernel(t)
	k, ns := newKernel(t, "counters")
	nftFile(t, ns, `table inet t {
	chain profile-in-WEB {
		meta l4proto 6 th dport 80 counter packets 5 bytes 300 accept comment "WEB inbound 1"
		meta nfproto ipv4 meta l4proto 17 counter packets 0 bytes 0 drop comment "WEB inbound 2"
		meta nfproto ipv6 meta l4proto 17 counter packets 18446744073709551615 bytes 12345678901234 drop comment "WEB inbound 2"
		meta l4proto 1 accept comment "no counter"
	}
	chain to-web-1 {
		ct state established,related accept
		jump profile-in-WEB
		counter packets 7 bytes 420 drop comment "to web-1: no profile accepted"
	}
}
table inet other {
	chain c { counter packets 99 bytes 99 drop comment "WEB inbound 1"; }
}
`)
	ctx := context.Background()
	got, err := k.RuleCounters(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	listing := testenv.NetnsRun(t, ns, "nft", "-a", "list", "table", "inet", "t")
	handles := map[string]uint64{} // "chain comment#n" -> handle, from nft -a
	re := regexp.MustCompile(`comment "([^"]*)" # handle (\d+)`)
	chain, seen := "", map[string]int{}
	for _, l := range strings.Split(listing, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "chain" {
			chain = f[1]
		}
		if m := re.FindStringSubmatch(l); m != nil && strings.Contains(l, "counter") {
			h, _ := strconv.ParseUint(m[2], 10, 64)
			key := fmt.Sprintf("%s %s#%d", chain, m[1], seen[chain+m[1]])
			seen[chain+m[1]]++
			handles[key] = h
		}
	}
	want := []RuleCounter{
		{Chain: "profile-in-WEB", Comment: "WEB inbound 1", Packets: 5, Bytes: 300},
		{Chain: "profile-in-WEB", Comment: "WEB inbound 2", Packets: 0, Bytes: 0},
		{Chain: "profile-in-WEB", Comment: "WEB inbound 2", Packets: 1<<64 - 1, Bytes: 12345678901234},
		{Chain: "to-web-1", Comment: "to web-1: no profile accepted", Packets: 7, Bytes: 420},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d counters %+v, want %d", len(got), got, len(want))
	}
	nth := map[string]int{}
	for i, w := range want {
		key := fmt.Sprintf("%s %s#%d", w.Chain, w.Comment, nth[w.Chain+w.Comment])
		nth[w.Chain+w.Comment]++
		w.Handle = handles[key]
		if w.Handle == 0 || got[i] != w {
			t.Errorf("counter %d: %+v, want %+v\n%s", i, got[i], w, listing)
		}
	}
	if cs, err := k.RuleCounters(ctx, "absent"); cs != nil || err != nil {
		t.Errorf("a table that does not exist: %v %v", cs, err)
	}
}

// TestKeptRules: a chain unchanged keeps all, a new chain none, an edited chain the rules the
// alignment keeps, and a chain flushed (more than half changed) none.
func TestKeptRules(t *testing.T) {
	r := func(port uint16, c string) *Rule {
		return &Rule{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchDPort, Ports: []PortRange{{port, port}}}},
			Counter: true, Verdict: Verdict{Kind: Accept}, Comment: c}
	}
	chain := func(name string, rules ...*Rule) *Chain { return &Chain{Name: name, Rules: rules} }
	base := &Ruleset{Table: "t", Chains: []*Chain{
		chain("same", r(1, "A inbound 1"), r(2, "A inbound 2")),
		chain("edited", r(1, "B inbound 1"), r(2, "B inbound 2"), r(3, "B inbound 3"), r(4, "B inbound 4")),
		chain("flushed", r(1, "C inbound 1"), r(2, "C inbound 2"), r(3, "C inbound 3")),
	}}
	desired := &Ruleset{Table: "t", Chains: []*Chain{
		chain("edited", r(1, "B inbound 1"), r(9, "B inbound 2"), r(3, "B inbound 3"), r(4, "B inbound 4"), r(5, "B inbound 5")),
		chain("flushed", r(7, "C inbound 1"), r(8, "C inbound 2"), r(3, "C inbound 3")),
		chain("new", r(1, "D inbound 1")),
		chain("same", r(1, "A inbound 1"), r(2, "A inbound 2")),
	}}
	kept, err := KeptRules(desired, base)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"same": "[true true]", "edited": "[true false true true false]", "flushed": "[false false false]", "new": "[false]"}
	for c, w := range want {
		if got := fmt.Sprint(kept[c]); got != w {
			t.Errorf("%s: kept %s, want %s", c, got, w)
		}
	}
	// The fake agrees: Update keeps the counters of exactly those rules (a replaced rule keeps
	// its handle but starts again at 0).
	f := NewFake()
	ctx := context.Background()
	if err := f.Apply(ctx, base); err != nil {
		t.Fatal(err)
	}
	for _, c := range base.Chains {
		for i := range c.Rules {
			f.Hit("t", c.Name, i, 1)
		}
	}
	if _, err := f.Update(ctx, desired, base, 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range desired.Chains {
		for i, n := range f.Counters("t", c.Name) {
			if k := kept[c.Name][i]; k != (n == 1) {
				t.Errorf("%s rule %d: kept %v, but the fake's counter is %d", c.Name, i, k, n)
			}
		}
	}
}

// TestFakeRuleCounters: HitBytes counts on the fake, RuleCounters reads it back for the
// counted rules only, and a rule replaced by Update starts again at zero.
func TestFakeRuleCounters(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	rs := &Ruleset{Table: "t", Chains: []*Chain{{Name: "c", Rules: []*Rule{
		{Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "A inbound 1"},
		{Verdict: Verdict{Kind: Drop}, Comment: "no counter"},
		{Matches: []Match{{Kind: MatchSAddr, Family: IPv4, Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/16")}}, {Kind: MatchNFProto, Family: IPv4}}, Counter: true, Verdict: Verdict{Kind: Drop}, Comment: "A inbound 2"},
	}}}}
	if err := f.Apply(ctx, rs.Canonical()); err != nil {
		t.Fatal(err)
	}
	f.HitBytes("t", "c", 0, 2, 120)
	f.HitBytes("t", "c", 2, 1, 60)
	got, err := f.RuleCounters(ctx, "t")
	if err != nil || len(got) != 2 || got[0].Packets != 2 || got[0].Bytes != 120 || got[1].Comment != "A inbound 2" || got[1].Bytes != 60 {
		t.Fatalf("%+v %v", got, err)
	}
	next := rs.Canonical()
	next.Chains[0].Rules[2] = &Rule{Counter: true, Verdict: Verdict{Kind: Drop}, Comment: "A inbound 2"}
	if _, err := f.Update(ctx, next, rs.Canonical(), 0); err != nil {
		t.Fatal(err)
	}
	got, _ = f.RuleCounters(ctx, "t")
	if len(got) != 2 || got[0].Bytes != 120 || got[1].Packets != 0 || got[1].Bytes != 0 {
		t.Errorf("after the update: %+v", got)
	}
	if cs, err := f.RuleCounters(ctx, "absent"); cs != nil || err != nil {
		t.Errorf("missing table: %v %v", cs, err)
	}
}
