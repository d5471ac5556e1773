package simulate

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// Helpers that build model matches and rules tersely.

func nfproto(f nft.Family) nft.Match { return nft.Match{Kind: nft.MatchNFProto, Family: f} }
func l4(protos ...uint8) nft.Match   { return nft.Match{Kind: nft.MatchL4Proto, Protos: protos} }
func not(m nft.Match) nft.Match      { m.Not = true; return m }
func iif(s string) nft.Match         { return nft.Match{Kind: nft.MatchIIFName, Str: s} }
func oif(s string) nft.Match         { return nft.Match{Kind: nft.MatchOIFName, Str: s} }
func ct(s nft.CtState) nft.Match     { return nft.Match{Kind: nft.MatchCtState, CtState: s} }
func mac(s string) nft.Match         { return nft.Match{Kind: nft.MatchEtherSAddr, Str: s} }

func pfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func saddr(f nft.Family, ps ...string) nft.Match {
	return nft.Match{Kind: nft.MatchSAddr, Family: f, Prefixes: pfx(ps...)}
}
func daddr(f nft.Family, ps ...string) nft.Match {
	return nft.Match{Kind: nft.MatchDAddr, Family: f, Prefixes: pfx(ps...)}
}
func sset(f nft.Family, name string) nft.Match {
	return nft.Match{Kind: nft.MatchSAddrSet, Family: f, Str: name}
}
func dset(f nft.Family, name string) nft.Match {
	return nft.Match{Kind: nft.MatchDAddrSet, Family: f, Str: name}
}
func ports(kind nft.MatchKind, rs ...[2]uint16) nft.Match {
	m := nft.Match{Kind: kind}
	for _, r := range rs {
		m.Ports = append(m.Ports, nft.PortRange{First: r[0], Last: r[1]})
	}
	return m
}
func pset(kind nft.MatchKind, name string) nft.Match { return nft.Match{Kind: kind, Str: name} }
func tset(f nft.Family, name string) nft.Match {
	return nft.Match{Kind: nft.MatchICMPTypeSet, Family: f, Str: name}
}
func dport(rs ...[2]uint16) nft.Match { return ports(nft.MatchDPort, rs...) }
func sport(rs ...[2]uint16) nft.Match { return ports(nft.MatchSPort, rs...) }
func icmpType(f nft.Family, n ...uint8) nft.Match {
	return nft.Match{Kind: nft.MatchICMPType, Family: f, Nums: n}
}
func icmpCode(f nft.Family, n ...uint8) nft.Match {
	return nft.Match{Kind: nft.MatchICMPCode, Family: f, Nums: n}
}
func icmpTC(f nft.Family, t, c uint8) nft.Match {
	return nft.Match{Kind: nft.MatchICMPTypeCode, Family: f, Type: t, Code: c}
}

func rule(comment string, v nft.Verdict, ms ...nft.Match) *nft.Rule {
	return &nft.Rule{Matches: ms, Counter: true, Verdict: v, Comment: comment}
}

var (
	accept = nft.Verdict{Kind: nft.Accept}
	drop   = nft.Verdict{Kind: nft.Drop}
	ret    = nft.Verdict{Kind: nft.Return}
)

func jump(c string) nft.Verdict { return nft.Verdict{Kind: nft.Jump, Chain: c} }
func goTo(c string) nft.Verdict { return nft.Verdict{Kind: nft.Goto, Chain: c} }
func logRule(prefix, comment string, ms ...nft.Match) *nft.Rule {
	return &nft.Rule{Matches: ms, Counter: true, Log: &nft.Log{Prefix: prefix}, Comment: comment}
}

func base(name string, hook nft.Hook, prio int, policy nft.VerdictKind, rules ...*nft.Rule) *nft.Chain {
	return &nft.Chain{Name: name, Base: &nft.BaseChain{Hook: hook, Priority: prio, Policy: policy}, Rules: rules}
}

func chain(name string, rules ...*nft.Rule) *nft.Chain { return &nft.Chain{Name: name, Rules: rules} }

// matchRuleset has one forward base chain that runs the "probe" chain: every test of a
// match kind puts one rule "hit" accepting there; anything else falls to a final drop.
func matchRuleset(ms ...nft.Match) *nft.Ruleset {
	return &nft.Ruleset{
		Table: "t",
		Sets: []*nft.Set{
			{Name: "v4", Type: nft.SetIPv4, Prefixes: pfx("198.18.1.0/24", "198.18.9.9/32")},
			{Name: "v6", Type: nft.SetIPv6, Prefixes: pfx("fd00:1::/64")},
			{Name: "empty4", Type: nft.SetIPv4},
			{Name: "empty6", Type: nft.SetIPv6},
			{Name: "ports-web", Type: nft.SetPorts, Ports: []nft.PortRange{{First: 80, Last: 80}, {First: 443, Last: 443}, {First: 8000, Last: 8080}}},
			{Name: "icmp-t", Type: nft.SetICMPTypes, Nums: []uint8{0, 8}},
			{Name: "icmpv6-t", Type: nft.SetICMPv6Types, Nums: []uint8{128, 129}},
		},
		Chains: []*nft.Chain{
			base("fwd", nft.HookForward, 0, nft.Accept,
				rule("hit", accept, ms...),
				rule("miss", drop),
			),
		},
	}
}

func tcp4(src, dst string, sp, dp uint16) Packet {
	return Packet{Hook: nft.HookForward, IIF: "a", OIF: "b", Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcMAC: "ee:ee:ee:ee:ee:01", Proto: 6, SPort: sp, DPort: dp}
}

func with(p Packet, f func(*Packet)) Packet { f(&p); return p }

func TestTraceMatchKinds(t *testing.T) {
	v4 := tcp4("198.18.1.5", "198.18.2.7", 50000, 80)
	v6 := with(v4, func(p *Packet) { p.Src, p.Dst = netip.MustParseAddr("fd00:1::5"), netip.MustParseAddr("fd00:2::7") })
	udp := with(v4, func(p *Packet) { p.Proto = 17 })
	sctp := with(v4, func(p *Packet) { p.Proto = 132 })
	ping4 := with(v4, func(p *Packet) { p.Proto, p.SPort, p.DPort, p.ICMPType, p.ICMPCode = 1, 0, 0, 8, 0 })
	unreach4 := with(ping4, func(p *Packet) { p.ICMPType, p.ICMPCode = 3, 1 })
	ping6 := with(v6, func(p *Packet) { p.Proto, p.SPort, p.DPort, p.ICMPType = 58, 0, 0, 128 })
	gre := with(v4, func(p *Packet) { p.Proto, p.SPort, p.DPort = 47, 0, 0 })
	est := with(v4, func(p *Packet) { p.Ct = nft.CtEstablished })
	inv := with(v4, func(p *Packet) { p.Ct = nft.CtInvalid })
	noMAC := with(v4, func(p *Packet) { p.SrcMAC = "" })
	input := with(v4, func(p *Packet) { p.Hook, p.OIF = nft.HookInput, "" })
	// The probe rules live in a forward base chain; input packets need their own ruleset.

	tcp := l4(6)
	tests := []struct {
		name    string
		matches []nft.Match
		pkt     Packet
		hit     bool
		err     string
	}{
		{"no matches", nil, v4, true, ""},
		{"nfproto ipv4 on v4", []nft.Match{nfproto(4)}, v4, true, ""},
		{"nfproto ipv4 on v6", []nft.Match{nfproto(4)}, v6, false, ""},
		{"nfproto != ipv4 on v6", []nft.Match{not(nfproto(4))}, v6, true, ""},
		{"nfproto ipv6 on v6", []nft.Match{nfproto(6)}, v6, true, ""},
		{"iifname", []nft.Match{iif("a")}, v4, true, ""},
		{"iifname other", []nft.Match{iif("b")}, v4, false, ""},
		{"iifname !=", []nft.Match{not(iif("b"))}, v4, true, ""},
		{"oifname", []nft.Match{oif("b")}, v4, true, ""},
		{"oifname != other", []nft.Match{not(oif("a"))}, v4, true, ""},
		{"oifname uplink", []nft.Match{oif("b")}, with(v4, func(p *Packet) { p.OIF = "" }), false, ""},
		{"oifname != on uplink", []nft.Match{not(oif("b"))}, with(v4, func(p *Packet) { p.OIF = "" }), true, ""},
		{"ct new default", []nft.Match{ct(nft.CtNew)}, v4, true, ""},
		{"ct est,rel on new", []nft.Match{ct(nft.CtEstablished | nft.CtRelated)}, v4, false, ""},
		{"ct est,rel on est", []nft.Match{ct(nft.CtEstablished | nft.CtRelated)}, est, true, ""},
		{"ct invalid on invalid", []nft.Match{ct(nft.CtInvalid)}, inv, true, ""},
		{"ct != invalid on new", []nft.Match{not(ct(nft.CtInvalid))}, v4, true, ""},
		{"l4proto tcp", []nft.Match{tcp}, v4, true, ""},
		{"l4proto tcp on udp", []nft.Match{tcp}, udp, false, ""},
		{"l4proto set", []nft.Match{l4(6, 17)}, udp, true, ""},
		{"l4proto != tcp on udp", []nft.Match{not(tcp)}, udp, true, ""},
		{"l4proto != tcp on tcp", []nft.Match{not(tcp)}, v4, false, ""},
		{"l4proto number", []nft.Match{l4(47)}, gre, true, ""},
		{"saddr in prefix", []nft.Match{nfproto(4), saddr(4, "198.18.1.0/24")}, v4, true, ""},
		{"saddr exact", []nft.Match{nfproto(4), saddr(4, "198.18.1.5/32")}, v4, true, ""},
		{"saddr outside", []nft.Match{nfproto(4), saddr(4, "198.18.2.0/24")}, v4, false, ""},
		{"saddr one of several", []nft.Match{nfproto(4), saddr(4, "198.18.0.0/15", "198.18.1.4/30")}, v4, true, ""},
		{"saddr != outside", []nft.Match{nfproto(4), not(saddr(4, "198.18.2.0/24"))}, v4, true, ""},
		{"saddr != inside", []nft.Match{nfproto(4), not(saddr(4, "198.18.0.0/15"))}, v4, false, ""},
		{"daddr", []nft.Match{nfproto(4), daddr(4, "198.18.2.0/24")}, v4, true, ""},
		{"daddr v6", []nft.Match{nfproto(6), daddr(6, "fd00:2::/64")}, v6, true, ""},
		{"daddr v6 other", []nft.Match{nfproto(6), daddr(6, "fd00:3::/64")}, v6, false, ""},
		{"ip saddr never matches v6 even negated", []nft.Match{not(nfproto(6)), nfproto(4), not(saddr(4, "198.18.0.0/15"))}, v6, false, ""},
		{"saddr set member", []nft.Match{nfproto(4), sset(4, "v4")}, v4, true, ""},
		{"saddr set host member", []nft.Match{nfproto(4), sset(4, "v4")}, with(v4, func(p *Packet) { p.Src = netip.MustParseAddr("198.18.9.9") }), true, ""},
		{"saddr set non member", []nft.Match{nfproto(4), dset(4, "v4")}, v4, false, ""},
		{"saddr != set member", []nft.Match{nfproto(4), not(sset(4, "v4"))}, v4, false, ""},
		{"daddr != set non member", []nft.Match{nfproto(4), not(dset(4, "v4"))}, v4, true, ""},
		{"empty set never matches", []nft.Match{nfproto(4), sset(4, "empty4")}, v4, false, ""},
		{"!= empty set always matches", []nft.Match{nfproto(4), not(sset(4, "empty4"))}, v4, true, ""},
		{"v6 set", []nft.Match{nfproto(6), sset(6, "v6")}, v6, true, ""},
		{"v6 set on v4 packet", []nft.Match{nfproto(6), sset(6, "v6")}, v4, false, ""},
		{"missing set", []nft.Match{nfproto(4), sset(4, "nope")}, v4, false, `set "nope" does not exist`},
		{"set of the wrong family", []nft.Match{nfproto(4), sset(4, "v6")}, v4, false, "type ipv6_addr"},
		{"dport single", []nft.Match{tcp, dport([2]uint16{80, 80})}, v4, true, ""},
		{"dport list", []nft.Match{tcp, dport([2]uint16{443, 443}, [2]uint16{80, 80})}, v4, true, ""},
		{"dport range", []nft.Match{tcp, dport([2]uint16{1, 1024})}, v4, true, ""},
		{"dport range edge", []nft.Match{tcp, dport([2]uint16{80, 90})}, v4, true, ""},
		{"dport range miss", []nft.Match{tcp, dport([2]uint16{81, 90})}, v4, false, ""},
		{"dport !=", []nft.Match{tcp, not(dport([2]uint16{443, 443}))}, v4, true, ""},
		{"dport != hit", []nft.Match{tcp, not(dport([2]uint16{80, 80}))}, v4, false, ""},
		{"sport", []nft.Match{tcp, sport([2]uint16{49152, 65535})}, v4, true, ""},
		{"sport !=", []nft.Match{tcp, not(sport([2]uint16{49152, 65535}))}, v4, false, ""},
		{"ports of udp", []nft.Match{l4(6, 17), dport([2]uint16{80, 80})}, udp, true, ""},
		{"ports of sctp", []nft.Match{l4(132), dport([2]uint16{80, 80})}, sctp, true, ""},
		{"ports without l4proto", []nft.Match{dport([2]uint16{80, 80})}, v4, false, "not preceded by a meta l4proto"},
		{"ports after l4proto icmp", []nft.Match{l4(1), dport([2]uint16{80, 80})}, ping4, false, "not preceded by a meta l4proto"},
		{"ports after negated l4proto", []nft.Match{not(l4(1)), dport([2]uint16{80, 80})}, v4, false, "not preceded by a meta l4proto"},
		{"saddr without nfproto", []nft.Match{saddr(4, "198.18.0.0/15")}, v4, false, "not preceded by meta nfproto ipv4"},
		{"saddr after nfproto of the other family", []nft.Match{nfproto(6), saddr(4, "198.18.0.0/15")}, v4, false, "not preceded by meta nfproto ipv4"},
		{"icmp type", []nft.Match{nfproto(4), l4(1), icmpType(4, 8)}, ping4, true, ""},
		{"icmp type miss", []nft.Match{nfproto(4), l4(1), icmpType(4, 0)}, ping4, false, ""},
		{"icmp type list", []nft.Match{nfproto(4), l4(1), icmpType(4, 0, 8)}, ping4, true, ""},
		{"icmp type !=", []nft.Match{nfproto(4), l4(1), not(icmpType(4, 8))}, unreach4, true, ""},
		{"icmp type != hit", []nft.Match{nfproto(4), l4(1), not(icmpType(4, 8))}, ping4, false, ""},
		{"icmp code", []nft.Match{nfproto(4), l4(1), icmpType(4, 3), icmpCode(4, 1)}, unreach4, true, ""},
		{"icmp code miss", []nft.Match{nfproto(4), l4(1), icmpType(4, 3), icmpCode(4, 0)}, unreach4, false, ""},
		{"icmp code !=", []nft.Match{nfproto(4), l4(1), icmpType(4, 3), not(icmpCode(4, 0))}, unreach4, true, ""},
		{"icmp type+code", []nft.Match{nfproto(4), l4(1), icmpTC(4, 3, 1)}, unreach4, true, ""},
		{"icmp type+code != same", []nft.Match{nfproto(4), l4(1), not(icmpTC(4, 3, 1))}, unreach4, false, ""},
		{"icmp type+code != other code", []nft.Match{nfproto(4), l4(1), not(icmpTC(4, 3, 0))}, unreach4, true, ""},
		{"icmp type+code != other type", []nft.Match{nfproto(4), l4(1), not(icmpTC(4, 8, 1))}, unreach4, true, ""},
		{"icmpv6 type", []nft.Match{nfproto(6), l4(58), icmpType(6, 128)}, ping6, true, ""},
		{"icmpv6 type miss", []nft.Match{nfproto(6), l4(58), icmpType(6, 129)}, ping6, false, ""},
		{"icmp type without l4proto", []nft.Match{nfproto(4), icmpType(4, 8)}, ping4, false, "not preceded by meta nfproto ipv4 and meta l4proto 1"},
		{"icmp type without nfproto", []nft.Match{l4(1), icmpType(4, 8)}, ping4, false, "not preceded"},
		{"icmpv6 type after l4proto icmp", []nft.Match{nfproto(6), l4(1), icmpType(6, 128)}, ping6, false, "meta l4proto 58"},
		{"dport set", []nft.Match{tcp, pset(nft.MatchDPortSet, "ports-web")}, v4, true, ""},
		{"dport set range", []nft.Match{tcp, pset(nft.MatchDPortSet, "ports-web")}, with(v4, func(p *Packet) { p.DPort = 8080 }), true, ""},
		{"dport set miss", []nft.Match{tcp, pset(nft.MatchDPortSet, "ports-web")}, with(v4, func(p *Packet) { p.DPort = 81 }), false, ""},
		{"dport != set member", []nft.Match{tcp, not(pset(nft.MatchDPortSet, "ports-web"))}, v4, false, ""},
		{"dport != set non member", []nft.Match{tcp, not(pset(nft.MatchDPortSet, "ports-web"))}, with(v4, func(p *Packet) { p.DPort = 22 }), true, ""},
		{"sport set", []nft.Match{tcp, pset(nft.MatchSPortSet, "ports-web")}, v4, false, ""},
		{"sport set member", []nft.Match{tcp, pset(nft.MatchSPortSet, "ports-web")}, with(v4, func(p *Packet) { p.SPort = 443 }), true, ""},
		{"port set of udp", []nft.Match{l4(17), pset(nft.MatchDPortSet, "ports-web")}, udp, true, ""},
		{"port set without l4proto", []nft.Match{pset(nft.MatchDPortSet, "ports-web")}, v4, false, "not preceded by a meta l4proto"},
		{"missing port set", []nft.Match{tcp, pset(nft.MatchDPortSet, "nope")}, v4, false, `set "nope" does not exist`},
		{"port lookup in an address set", []nft.Match{tcp, pset(nft.MatchDPortSet, "v4")}, v4, false, "is of type ipv4_addr, the match needs inet_service"},
		{"icmp type set", []nft.Match{nfproto(4), l4(1), tset(4, "icmp-t")}, ping4, true, ""},
		{"icmp type set miss", []nft.Match{nfproto(4), l4(1), tset(4, "icmp-t")}, unreach4, false, ""},
		{"icmp type != set", []nft.Match{nfproto(4), l4(1), not(tset(4, "icmp-t"))}, unreach4, true, ""},
		{"icmpv6 type set", []nft.Match{nfproto(6), l4(58), tset(6, "icmpv6-t")}, ping6, true, ""},
		{"icmpv6 lookup in an icmp set", []nft.Match{nfproto(6), l4(58), tset(6, "icmp-t")}, ping6, false, "the match needs icmpv6_type"},
		{"icmp type set without l4proto", []nft.Match{nfproto(4), tset(4, "icmp-t")}, ping4, false, "not preceded by meta nfproto ipv4 and meta l4proto 1"},
		{"ether saddr", []nft.Match{mac("ee:ee:ee:ee:ee:01")}, v4, true, ""},
		{"ether saddr case", []nft.Match{mac("EE:EE:EE:EE:EE:01")}, v4, true, ""},
		{"ether saddr other", []nft.Match{mac("ee:ee:ee:ee:ee:02")}, v4, false, ""},
		{"ether saddr !=", []nft.Match{not(mac("ee:ee:ee:ee:ee:02"))}, v4, true, ""},
		{"ether saddr != without link header", []nft.Match{not(mac("ee:ee:ee:ee:ee:02"))}, noMAC, false, ""},
		{"all must hold", []nft.Match{iif("a"), tcp, dport([2]uint16{22, 22})}, v4, false, ""},
		{"unknown expression", []nft.Match{{Kind: nft.MatchUnknown, Str: "meta mark 0x1"}}, v4, false, "unknown expression"},
		{"invalid kind", []nft.Match{{Kind: "bogus"}}, v4, false, `unknown match kind "bogus"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Trace(matchRuleset(tc.matches...), tc.pkt)
			if tc.err != "" {
				if res.Err == nil || !strings.Contains(res.Err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", res.Err, tc.err)
				}
				if res.Verdict != nft.Drop {
					t.Fatalf("verdict with an error = %s, want drop", res.Verdict)
				}
				return
			}
			if res.Err != nil {
				t.Fatalf("unexpected error: %v", res.Err)
			}
			got := res.Rule != nil && res.Rule.Comment == "hit"
			if got != tc.hit {
				t.Fatalf("hit = %v, want %v (verdict %s, rule %v)\nsteps:\n%s", got, tc.hit, res.Verdict, res.Rule, stepsText(res))
			}
			want := nft.Drop
			if tc.hit {
				want = nft.Accept
			}
			if res.Verdict != want {
				t.Fatalf("verdict = %s, want %s", res.Verdict, want)
			}
		})
	}
	t.Run("a step names the ports of a set", func(t *testing.T) {
		res := Trace(matchRuleset(tcp, not(pset(nft.MatchDPortSet, "ports-web"))), with(v4, func(p *Packet) { p.DPort = 22 }))
		want := `meta l4proto 6 th dport != @ports-web { 80, 443, 8000-8080 } counter accept comment "hit"`
		if len(res.Steps) < 2 || res.Steps[1].Rule != want {
			t.Fatalf("steps:\n%s\nwant the rule as %s", stepsText(res), want)
		}
	})
	t.Run("oifname at input never holds", func(t *testing.T) {
		rs := &nft.Ruleset{Table: "t", Chains: []*nft.Chain{
			base("in", nft.HookInput, 0, nft.Accept, rule("hit", drop, not(oif("x")))),
		}}
		if res := Trace(rs, input); res.Verdict != nft.Accept || res.Rule != nil {
			t.Fatalf("got %s by %v, want the policy's accept", res.Verdict, res.Rule)
		}
	})
}

func stepsText(r Result) string {
	var b strings.Builder
	for _, s := range r.Steps {
		b.WriteString("  " + s.String() + "\n")
	}
	return b.String()
}

// flowRuleset mirrors the compiled layout: two forward base chains dispatching through
// verdict maps to per-endpoint chains, which jump to profile chains.
func flowRuleset() *nft.Ruleset {
	return &nft.Ruleset{
		Table: "reconcile",
		Sets: []*nft.Set{
			{Name: "tag-v4-A", Type: nft.SetIPv4, Prefixes: pfx("198.18.1.1/32")},
		},
		Maps: []*nft.Map{
			{Name: "dispatch-from", Elements: []nft.MapElement{{Key: "cali-a", Verdict: goTo("from-a")}, {Key: "cali-dead", Verdict: drop}}},
			{Name: "dispatch-to", Elements: []nft.MapElement{{Key: "cali-b", Verdict: goTo("to-b")}}},
			{Name: "dispatch-host", Elements: []nft.MapElement{{Key: "cali-a", Verdict: goTo("host-a")}}},
		},
		Chains: []*nft.Chain{
			// Deliberately out of priority order: Trace sorts by priority.
			base("forward-to", nft.HookForward, 10, nft.Accept,
				rule("", drop, ct(nft.CtInvalid)),
				rule("", accept, ct(nft.CtEstablished|nft.CtRelated)),
				&nft.Rule{VMap: &nft.VMapLookup{Key: nft.MatchOIFName, Map: "dispatch-to"}},
			),
			base("forward-from", nft.HookForward, 0, nft.Accept,
				rule("", drop, ct(nft.CtInvalid)),
				rule("", accept, ct(nft.CtEstablished|nft.CtRelated)),
				&nft.Rule{VMap: &nft.VMapLookup{Key: nft.MatchIIFName, Map: "dispatch-from"}},
			),
			base("input-from", nft.HookInput, 0, nft.Accept,
				&nft.Rule{VMap: &nft.VMapLookup{Key: nft.MatchIIFName, Map: "dispatch-host"}},
			),
			chain("from-a",
				rule("anti-spoof", drop, nfproto(4), not(saddr(4, "198.18.1.1/32"))),
				rule("mac", drop, not(mac("ee:ee:ee:ee:ee:01"))),
				rule("", jump("profile-out-A")),
				rule("", jump("profile-out-B")),
				rule("no profile accepted", drop),
			),
			chain("to-b",
				rule("", jump("profile-in-B")),
				rule("no profile accepted", drop),
			),
			chain("host-a",
				rule("dns", accept, l4(17), dport([2]uint16{53, 53})),
				rule("host default", drop),
			),
			chain("profile-out-A",
				logRule("A-LOG", "A outbound 1", l4(6)),
				rule("A outbound 2", drop, l4(6), dport([2]uint16{25, 25})),
				rule("A outbound 3", ret, l4(6), dport([2]uint16{23, 23})),
				rule("A outbound 4", goTo("helper"), l4(6), dport([2]uint16{8080, 8080})),
				rule("A outbound 5", accept, l4(6), dport([2]uint16{80, 80})),
			),
			chain("helper",
				rule("helper 1", accept, l4(6), sport([2]uint16{50000, 50000})),
			),
			chain("profile-out-B",
				rule("B outbound 1", accept, l4(17)),
			),
			chain("profile-in-B",
				rule("B inbound 1", accept, nfproto(4), sset(4, "tag-v4-A"), l4(6), dport([2]uint16{80, 80}, [2]uint16{8080, 8080})),
				rule("B inbound 2", accept, l4(17)),
			),
		},
	}
}

func TestTraceFlow(t *testing.T) {
	ab := Packet{Hook: nft.HookForward, IIF: "cali-a", OIF: "cali-b", Src: netip.MustParseAddr("198.18.1.1"), Dst: netip.MustParseAddr("198.18.1.2"), SrcMAC: "ee:ee:ee:ee:ee:01", Proto: 6, SPort: 50000, DPort: 80}
	tcpTo := func(dp uint16) Packet { return with(ab, func(p *Packet) { p.DPort = dp }) }
	tests := []struct {
		name    string
		pkt     Packet
		verdict nft.VerdictKind
		rule    string // comment of the deciding rule; "policy" for a policy
		chain   string
		logged  int
		bases   []string // "chain:verdict" per base chain that ran
	}{
		{"allowed both ways", tcpTo(80), nft.Accept, "B inbound 1", "profile-in-B", 1, []string{"forward-from:accept", "forward-to:accept"}},
		{"deny in profile is final", tcpTo(25), nft.Drop, "A outbound 2", "profile-out-A", 1, []string{"forward-from:drop"}},
		{"return falls through to the next profile", with(ab, func(p *Packet) { p.Proto, p.DPort = 17, 23 }), nft.Accept, "B inbound 2", "profile-in-B", 0, []string{"forward-from:accept", "forward-to:accept"}},
		{"return from a profile chain", tcpTo(23), nft.Drop, "no profile accepted", "from-a", 1, []string{"forward-from:drop"}},
		{"goto then end returns to the caller of the caller", with(tcpTo(8080), func(p *Packet) { p.SPort = 50001 }), nft.Drop, "no profile accepted", "from-a", 1, []string{"forward-from:drop"}},
		{"goto then accept", tcpTo(8080), nft.Accept, "B inbound 1", "profile-in-B", 1, []string{"forward-from:accept", "forward-to:accept"}},
		{"no rule accepts", tcpTo(22), nft.Drop, "no profile accepted", "from-a", 1, []string{"forward-from:drop"}},
		{"forged source", with(ab, func(p *Packet) { p.Src = netip.MustParseAddr("198.18.1.9") }), nft.Drop, "anti-spoof", "from-a", 0, []string{"forward-from:drop"}},
		{"forged mac", with(ab, func(p *Packet) { p.SrcMAC = "ee:ee:ee:ee:ee:99" }), nft.Drop, "mac", "from-a", 0, []string{"forward-from:drop"}},
		{"established bypasses policy", with(tcpTo(22), func(p *Packet) { p.Ct = nft.CtEstablished }), nft.Accept, "", "forward-to", 0, []string{"forward-from:accept", "forward-to:accept"}},
		{"invalid dropped", with(tcpTo(80), func(p *Packet) { p.Ct = nft.CtInvalid }), nft.Drop, "", "forward-from", 0, []string{"forward-from:drop"}},
		{"unknown interfaces: both policies", with(tcpTo(22), func(p *Packet) { p.IIF, p.OIF = "eth0", "eth1" }), nft.Accept, "policy", "forward-to", 0, []string{"forward-from:accept", "forward-to:accept"}},
		{"uplink to b: only inbound", with(tcpTo(80), func(p *Packet) { p.IIF, p.Src = "", netip.MustParseAddr("198.18.1.1") }), nft.Accept, "B inbound 1", "profile-in-B", 0, []string{"forward-from:accept", "forward-to:accept"}},
		{"uplink to b from a non-member", with(tcpTo(80), func(p *Packet) { p.IIF, p.Src = "", netip.MustParseAddr("198.18.7.7") }), nft.Drop, "no profile accepted", "to-b", 0, []string{"forward-from:accept", "forward-to:drop"}},
		{"vmap element verdict drop", with(tcpTo(80), func(p *Packet) { p.IIF = "cali-dead" }), nft.Drop, "", "forward-from", 0, []string{"forward-from:drop"}},
		{"input hook runs only input chains", with(ab, func(p *Packet) { p.Hook, p.OIF, p.Proto, p.DPort = nft.HookInput, "", 17, 53 }), nft.Accept, "dns", "host-a", 0, []string{"input-from:accept"}},
		{"input hook default drop", with(ab, func(p *Packet) { p.Hook, p.OIF = nft.HookInput, "" }), nft.Drop, "host default", "host-a", 0, []string{"input-from:drop"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Trace(flowRuleset(), tc.pkt)
			if res.Err != nil {
				t.Fatalf("error: %v", res.Err)
			}
			if res.Verdict != tc.verdict {
				t.Fatalf("verdict = %s, want %s\n%s", res.Verdict, tc.verdict, stepsText(res))
			}
			switch {
			case tc.rule == "policy":
				if res.Rule != nil {
					t.Fatalf("decided by rule %q, want the policy", res.Rule.String())
				}
			case res.Rule == nil:
				t.Fatalf("decided by the policy, want rule %q\n%s", tc.rule, stepsText(res))
			case res.Rule.Comment != tc.rule:
				t.Fatalf("decided by %q, want %q\n%s", res.Rule.String(), tc.rule, stepsText(res))
			}
			if res.Chain != tc.chain {
				t.Fatalf("chain = %q, want %q", res.Chain, tc.chain)
			}
			if len(res.Logged) != tc.logged {
				t.Fatalf("logged = %q, want %d entries", res.Logged, tc.logged)
			}
			if tc.logged > 0 && res.Logged[0] != "A-LOG" {
				t.Fatalf("logged = %q", res.Logged)
			}
			var bases []string
			for _, b := range res.Bases {
				bases = append(bases, b.Chain+":"+string(b.Verdict))
			}
			if strings.Join(bases, " ") != strings.Join(tc.bases, " ") {
				t.Fatalf("bases = %v, want %v", bases, tc.bases)
			}
		})
	}
}

func TestTraceErrors(t *testing.T) {
	ab := Packet{Hook: nft.HookForward, IIF: "a", OIF: "b", Src: netip.MustParseAddr("198.18.1.1"), Dst: netip.MustParseAddr("198.18.1.2"), Proto: 6, DPort: 80}
	loop := func(v nft.Verdict) *nft.Ruleset {
		return &nft.Ruleset{Table: "t", Chains: []*nft.Chain{
			base("fwd", nft.HookForward, 0, nft.Accept, rule("", jump("c1"))),
			chain("c1", rule("", v)),
		}}
	}
	tests := []struct {
		name string
		rs   *nft.Ruleset
		pkt  Packet
		err  string
	}{
		{"nil ruleset", nil, ab, "no ruleset"},
		{"missing jump target", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{base("fwd", nft.HookForward, 0, nft.Accept, rule("", jump("nope")))}}, ab, `jump to chain "nope", which does not exist`},
		{"missing goto target", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{base("fwd", nft.HookForward, 0, nft.Accept, rule("", goTo("nope")))}}, ab, `goto to chain "nope"`},
		{"jump to a base chain", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{base("fwd", nft.HookForward, 0, nft.Accept, rule("", jump("in"))), base("in", nft.HookInput, 0, nft.Accept)}}, ab, `jump to base chain "in"`},
		{"missing map", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{base("fwd", nft.HookForward, 0, nft.Accept, &nft.Rule{VMap: &nft.VMapLookup{Key: nft.MatchIIFName, Map: "m"}})}}, ab, `map "m" does not exist`},
		{"missing chain in a map", &nft.Ruleset{Table: "t",
			Maps:   []*nft.Map{{Name: "m", Elements: []nft.MapElement{{Key: "a", Verdict: goTo("gone")}}}},
			Chains: []*nft.Chain{base("fwd", nft.HookForward, 0, nft.Accept, &nft.Rule{VMap: &nft.VMapLookup{Key: nft.MatchIIFName, Map: "m"}})}}, ab, `chain "gone", which does not exist`},
		{"jump loop", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{base("fwd", nft.HookForward, 0, nft.Accept, rule("", jump("c1"))), chain("c1", rule("", jump("c1")))}}, ab, "jump stack deeper than 16"},
		{"goto loop", loop(goTo("c1")), ab, "a loop"},
		{"mixed families", matchRuleset(), with(ab, func(p *Packet) { p.Dst = netip.MustParseAddr("fd00::1") }), "different families"},
		{"no address", matchRuleset(), with(ab, func(p *Packet) { p.Src = netip.Addr{} }), "needs a source"},
		{"error in a later base chain", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{
			base("a", nft.HookForward, 0, nft.Accept, rule("", accept)),
			base("b", nft.HookForward, 5, nft.Accept, rule("", jump("nope"))),
		}}, ab, `"nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Trace(tc.rs, tc.pkt)
			if res.Err == nil || !strings.Contains(res.Err.Error(), tc.err) {
				t.Fatalf("err = %v, want one containing %q", res.Err, tc.err)
			}
			if res.Verdict != nft.Drop {
				t.Fatalf("verdict = %s, want drop with an error", res.Verdict)
			}
		})
	}
}

func TestTracePolicies(t *testing.T) {
	ab := Packet{Hook: nft.HookForward, IIF: "a", OIF: "b", Src: netip.MustParseAddr("198.18.1.1"), Dst: netip.MustParseAddr("198.18.1.2"), Proto: 6, DPort: 80}
	tests := []struct {
		name    string
		chains  []*nft.Chain
		verdict nft.VerdictKind
		chain   string
		bases   int
	}{
		{"no base chain: the kernel accepts", nil, nft.Accept, "", 0},
		{"policy drop", []*nft.Chain{base("a", nft.HookForward, 0, nft.Drop)}, nft.Drop, "a", 1},
		{"accept in the first, policy drop in the second", []*nft.Chain{
			base("a", nft.HookForward, 0, nft.Accept, rule("", accept)),
			base("b", nft.HookForward, 1, nft.Drop),
		}, nft.Drop, "b", 2},
		{"drop in the first stops", []*nft.Chain{
			base("b", nft.HookForward, 1, nft.Accept),
			base("a", nft.HookForward, -5, nft.Accept, rule("x", drop)),
		}, nft.Drop, "a", 1},
		{"return in a base chain applies the policy", []*nft.Chain{
			base("a", nft.HookForward, 0, nft.Drop, rule("", ret), rule("", accept)),
		}, nft.Drop, "a", 1},
		{"end of a goto target applies the base policy", []*nft.Chain{
			base("a", nft.HookForward, 0, nft.Drop, rule("", goTo("c")), rule("", accept)),
			chain("c"),
		}, nft.Drop, "a", 1},
		{"end of a jump target returns", []*nft.Chain{
			base("a", nft.HookForward, 0, nft.Drop, rule("", jump("c")), rule("y", accept)),
			chain("c"),
		}, nft.Accept, "a", 1},
		{"other hooks do not run", []*nft.Chain{base("in", nft.HookInput, 0, nft.Drop)}, nft.Accept, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Trace(&nft.Ruleset{Table: "t", Chains: tc.chains}, ab)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.Verdict != tc.verdict || res.Chain != tc.chain || len(res.Bases) != tc.bases {
				t.Fatalf("got %s in %q after %d base chains, want %s in %q after %d\n%s", res.Verdict, res.Chain, len(res.Bases), tc.verdict, tc.chain, tc.bases, stepsText(res))
			}
		})
	}
}
