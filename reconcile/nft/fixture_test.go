package nft

import "net/netip"

func pfx(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, x := range s {
		out[i] = netip.MustParsePrefix(x)
	}
	return out
}

// sampleRuleset covers every match kind (positive and negated, one value and several), every
// verdict, counters, log, comments, interval sets of both families (including an empty one
// and a /0), port sets (an open range to 65535, port 0) and ICMP and ICMPv6 type sets (type
// 0, 255, runs of consecutive types) looked up positive and negated, both vmaps and base
// chains of both hooks, in canonical form.
func sampleRuleset(table string) *Ruleset {
	return &Ruleset{
		Table: table,
		Sets: []*Set{
			{Name: "all-v4", Type: SetIPv4, Prefixes: pfx("0.0.0.0/0")},
			{Name: "empty-v6", Type: SetIPv6, Comment: "no members"},
			{Name: "tag-v4-WEB", Type: SetIPv4, Prefixes: pfx("198.18.1.2/32", "198.18.3.0/24", "198.19.0.0/16"), Comment: "tag WEB"},
			{Name: "tag-v6-WEB", Type: SetIPv6, Prefixes: pfx("fd00::2/128", "fd00:1::/48")},
			{Name: "v-icmp-types", Type: SetICMPTypes, Nums: []uint8{0, 3, 8, 255}},
			{Name: "v-icmpv6-types", Type: SetICMPv6Types, Nums: []uint8{128, 129, 133, 135, 136}},
			{Name: "v-ports-high", Type: SetPorts, Ports: []PortRange{{0, 0}, {1024, 65535}}},
			{Name: "v-ports-web", Type: SetPorts, Ports: []PortRange{{80, 80}, {443, 443}, {8000, 8080}}},
		},
		Maps: []*Map{
			{Name: "dispatch-from", Elements: []MapElement{
				{Key: "caliapp1", Verdict: Verdict{Kind: Goto, Chain: "from-app-1"}},
				{Key: "caliweb1", Verdict: Verdict{Kind: Goto, Chain: "from-web-1"}},
			}},
			{Name: "dispatch-host", Elements: []MapElement{
				{Key: "caliweb1", Verdict: Verdict{Kind: Jump, Chain: "host-web-1"}},
			}},
			{Name: "dispatch-to", Comment: "to endpoints"},
		},
		Chains: []*Chain{
			{Name: "forward-from", Base: &BaseChain{Hook: HookForward, Priority: 0, Policy: Accept}, Rules: []*Rule{
				{Matches: []Match{{Kind: MatchCtState, CtState: CtInvalid}}, Verdict: Verdict{Kind: Drop}},
				{Matches: []Match{{Kind: MatchCtState, CtState: CtEstablished | CtRelated}}, Verdict: Verdict{Kind: Accept}},
				{VMap: &VMapLookup{Key: MatchIIFName, Map: "dispatch-from"}},
			}},
			{Name: "forward-to", Base: &BaseChain{Hook: HookForward, Priority: 10, Policy: Accept}, Rules: []*Rule{
				{Counter: true, VMap: &VMapLookup{Key: MatchOIFName, Map: "dispatch-to"}, Comment: "dispatch"},
			}},
			{Name: "from-app-1", Rules: []*Rule{{Verdict: Verdict{Kind: Drop}}}},
			{Name: "from-web-1", Rules: []*Rule{
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddr, Not: true, Family: IPv4, Prefixes: pfx("198.18.1.2/32")}}, Verdict: Verdict{Kind: Drop}},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv6}, {Kind: MatchSAddr, Not: true, Family: IPv6, Prefixes: pfx("fd00::2/128", "fd00:1::/48")}}, Verdict: Verdict{Kind: Drop}},
				{Matches: []Match{{Kind: MatchEtherSAddr, Not: true, Str: "ee:ee:ee:ee:ee:ee"}}, Verdict: Verdict{Kind: Drop}},
				{Verdict: Verdict{Kind: Jump, Chain: "profile-out-WEB"}},
				{Verdict: Verdict{Kind: Drop}},
			}},
			{Name: "host-web-1", Rules: []*Rule{
				{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{17}}, {Kind: MatchDPort, Ports: []PortRange{{53, 53}, {67, 68}, {546, 547}}}}, Verdict: Verdict{Kind: Accept}},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv6}, {Kind: MatchL4Proto, Protos: []uint8{58}}, {Kind: MatchICMPType, Family: IPv6, Nums: []uint8{133, 134, 135, 136, 137}}}, Verdict: Verdict{Kind: Accept}},
				{Verdict: Verdict{Kind: Drop}},
			}},
			{Name: "input-from", Base: &BaseChain{Hook: HookInput, Priority: 0, Policy: Accept}, Rules: []*Rule{
				{VMap: &VMapLookup{Key: MatchIIFName, Map: "dispatch-host"}},
			}},
			{Name: "profile-in-WEB", Rules: []*Rule{
				{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchDPort, Ports: []PortRange{{80, 80}, {443, 443}, {8000, 8080}}}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB inbound 1"},
				{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchSPort, Ports: []PortRange{{1024, 65535}}}, {Kind: MatchDPort, Not: true, Ports: []PortRange{{22, 22}}}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB inbound 2"},
				{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{17}}, {Kind: MatchSPort, Ports: []PortRange{{53, 53}}}, {Kind: MatchDPort, Ports: []PortRange{{5353, 5353}}}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB inbound 3"},
				{Matches: []Match{{Kind: MatchL4Proto, Not: true, Protos: []uint8{6, 17}}}, Counter: true, Log: &Log{Prefix: "WEB-in:"}, Comment: "WEB inbound 4"},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddrSet, Family: IPv4, Str: "tag-v4-WEB"}, {Kind: MatchDAddrSet, Not: true, Family: IPv4, Str: "all-v4"}}, Counter: true, Verdict: Verdict{Kind: Drop}, Comment: "WEB inbound 5"},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv6}, {Kind: MatchSAddrSet, Not: true, Family: IPv6, Str: "tag-v6-WEB"}, {Kind: MatchDAddrSet, Family: IPv6, Str: "empty-v6"}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB inbound 6"},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchL4Proto, Protos: []uint8{1}}, {Kind: MatchICMPType, Family: IPv4, Nums: []uint8{8}}, {Kind: MatchICMPCode, Family: IPv4, Nums: []uint8{0}}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB inbound 7"},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchL4Proto, Protos: []uint8{1}}, {Kind: MatchICMPTypeCode, Not: true, Family: IPv4, Type: 3, Code: 4}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB inbound 8"},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv6}, {Kind: MatchL4Proto, Protos: []uint8{58}}, {Kind: MatchICMPType, Not: true, Family: IPv6, Nums: []uint8{128, 129}}, {Kind: MatchICMPCode, Family: IPv6, Nums: []uint8{0, 1}}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB inbound 9"},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchL4Proto, Protos: []uint8{1}}, {Kind: MatchICMPType, Family: IPv4, Nums: []uint8{3}}, {Kind: MatchICMPCode, Not: true, Family: IPv4, Nums: []uint8{1}}}, Counter: true, Verdict: Verdict{Kind: Drop}, Comment: "WEB inbound 10"},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddr, Family: IPv4, Prefixes: pfx("198.18.0.0/15")}, {Kind: MatchDAddr, Family: IPv4, Prefixes: pfx("198.18.3.0/24", "198.18.7.7/32")}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB inbound 11"},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddr, Family: IPv4, Prefixes: pfx("198.18.0.1/32", "198.18.0.9/32")}, {Kind: MatchDAddr, Not: true, Family: IPv4, Prefixes: pfx("0.0.0.0/0")}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB inbound 12"},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv6}, {Kind: MatchSAddr, Family: IPv6, Prefixes: pfx("fd00::/60")}, {Kind: MatchDAddr, Not: true, Family: IPv6, Prefixes: pfx("fd00::1/128")}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB inbound 13"},
				{Matches: []Match{{Kind: MatchNFProto, Not: true, Family: IPv6}, {Kind: MatchIIFName, Str: "caliweb1"}, {Kind: MatchOIFName, Not: true, Str: "lo"}, {Kind: MatchCtState, Not: true, CtState: CtEstablished}}, Counter: true, Verdict: Verdict{Kind: Return}, Comment: "WEB inbound 14"},
				{Matches: []Match{{Kind: MatchCtState, CtState: CtNew}, {Kind: MatchEtherSAddr, Str: "02:00:00:00:00:01"}}, Counter: true, Verdict: Verdict{Kind: Goto, Chain: "to-web-1"}, Comment: "WEB inbound 15"},
			}},
			{Name: "profile-out-WEB", Rules: []*Rule{
				{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchDPortSet, Str: "v-ports-web"}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB outbound 1"},
				{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{17}}, {Kind: MatchSPortSet, Str: "v-ports-high"}, {Kind: MatchDPortSet, Not: true, Str: "v-ports-web"}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB outbound 2"},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchL4Proto, Protos: []uint8{1}}, {Kind: MatchICMPTypeSet, Family: IPv4, Str: "v-icmp-types"}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB outbound 3"},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv6}, {Kind: MatchL4Proto, Protos: []uint8{58}}, {Kind: MatchICMPTypeSet, Not: true, Family: IPv6, Str: "v-icmpv6-types"}}, Counter: true, Verdict: Verdict{Kind: Drop}, Comment: "WEB outbound 4"},
				{Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB outbound 5"},
			}},
			{Name: "to-web-1", Rules: []*Rule{
				{Verdict: Verdict{Kind: Jump, Chain: "profile-in-WEB"}},
				{Verdict: Verdict{Kind: Drop}},
			}},
		},
	}
}
