package differential

import (
	"net/netip"
	"strconv"

	"github.com/reconcile-dev/reconcile/schema"
)

// protoPool are the protocols rules name: every name, numbers for named protocols and others
// (47 gre, 253 experimental, 2 igmp).
var protoPool = []string{"tcp", "udp", "icmp", "icmpv6", "sctp", "udplite", "6", "17", "1", "58", "132", "47", "253", "2"}

// portPool are the ports and ranges rules name (0 and 65535 are the edges of the field).
var portPool = []schema.PortRange{
	{First: 22, Last: 22}, {First: 53, Last: 53}, {First: 67, Last: 67}, {First: 80, Last: 80},
	{First: 443, Last: 443}, {First: 8080, Last: 8080}, {First: 0, Last: 0}, {First: 65535, Last: 65535},
	{First: 1000, Last: 2000}, {First: 8000, Last: 8010}, {First: 60000, Last: 65535},
	{First: 0, Last: 1023}, {First: 79, Last: 81},
}

// icmp4Types and icmp6Types are the ICMP types rules name; icmpCodes their codes.
var (
	icmp4Types = []int{0, 3, 8, 11, 13, 254}
	icmp6Types = []int{1, 128, 129, 133, 134, 135, 136, 254}
	icmpCodes  = []int{0, 1, 3, 4}
)

// outside4 and outside6 are addresses outside every endpoint net (198.19.0.0/16, fd00:2::/64:
// in the lab's ranges, beside the endpoints').
var (
	outside4 = []string{"198.19.0.1", "198.19.7.9", "198.19.200.0/24"}
	outside6 = []string{"fd00:2::1", "fd00:2::7:9", "fd00:2::/112"}
	wide4    = []string{"0.0.0.0/0", "198.18.0.0/15", "198.18.1.0/24", "198.18.0.0/16", "198.19.0.0/16"}
	wide6    = []string{"::/0", "fd00::/8", "fd00:1::/64", "fd00:1::/96", "fd00:2::/32"}
)

// rule draws one rule; it may be invalid (validRule redraws).
func (g *gen) rule() schema.Rule {
	r := schema.Rule{Action: pick(g, []string{schema.ActionAllow, schema.ActionAllow, schema.ActionDeny, schema.ActionDeny, schema.ActionLog})}
	if r.Action == schema.ActionLog && g.chance(2) {
		r.LogPrefix = pick(g, []string{"drop-me", "A:b_c", "x", "LOG-27-characters-long-abcd"})
	}
	fam := pick(g, []int{0, 0, 4, 6})
	if fam != 0 && g.chance(2) {
		r.IPVersion = fam
	}
	g.ruleProto(&r, fam)
	g.ruleNets(&r, fam)
	g.ruleTags(&r)
	if r.Protocol.HasPorts() {
		r.SrcPorts = g.ports(5)
		r.DstPorts = g.ports(2)
		r.NotSrcPorts = g.ports(6)
		r.NotDstPorts = g.ports(5)
	}
	if f := r.Protocol.ICMPFamily(); f != 0 {
		g.ruleICMP(&r, f)
	}
	return r
}

func (g *gen) ruleProto(r *schema.Rule, fam int) {
	if !g.chance(4) {
		r.Protocol = schema.Protocol(pick(g, protoPool))
		switch {
		case fam == 4 && r.Protocol.ICMPFamily() == 6:
			r.Protocol = "icmp"
		case fam == 6 && r.Protocol.ICMPFamily() == 4:
			r.Protocol = "icmpv6"
		}
	}
	if g.chance(5) {
		r.NotProtocol = schema.Protocol(pick(g, protoPool))
	}
}

// ruleNets draws src_net, dst_net and their negations in the rule's family (any family when
// fam is 0: the first net fixes it): endpoint nets and addresses in them, outside addresses
// and wide nets, sometimes with host bits.
func (g *gen) ruleNets(r *schema.Rule, fam int) {
	if f := r.Protocol.ICMPFamily(); f != 0 {
		fam = f
	}
	for _, p := range []*string{&r.SrcNet, &r.DstNet, &r.NotSrcNet, &r.NotDstNet} {
		if !g.chance(5) {
			continue
		}
		if fam == 0 {
			fam = pick(g, []int{4, 6})
		}
		*p = g.net(fam)
	}
}

func (g *gen) net(fam int) string {
	eps, outside, wide := g.nets4, outside4, wide4
	if fam == 6 {
		eps, outside, wide = g.nets6, outside6, wide6
	}
	switch g.n(4) {
	case 0:
		return pick(g, outside)
	case 1:
		s := pick(g, wide)
		if g.chance(4) {
			// Host bits: 198.18.1.17/24 is 198.18.1.0/24 in a rule.
			p := netip.MustParsePrefix(s)
			s = netip.PrefixFrom(p.Addr().Next(), p.Bits()).String()
		}
		return s
	}
	if len(eps) == 0 {
		return pick(g, wide)
	}
	p := pick(g, eps)
	switch g.n(3) {
	case 0:
		return p.Addr().String() // a bare address
	case 1:
		return netip.PrefixFrom(p.Addr(), max(p.Bits()-g.n(9), 0)).Masked().String()
	}
	return p.String()
}

func (g *gen) ruleTags(r *schema.Rule) {
	for _, p := range []*string{&r.SrcTag, &r.DstTag, &r.NotSrcTag, &r.NotDstTag} {
		if g.chance(5) {
			*p = pick(g, tagPool)
		}
	}
}

// ports draws a port list with probability 1/k: one to three entries of portPool.
func (g *gen) ports(k int) []schema.PortRange {
	if !g.chance(k) {
		return nil
	}
	n := 1 + g.n(3)
	out := make([]schema.PortRange, n)
	for i := range out {
		out[i] = pick(g, portPool)
	}
	return out
}

func (g *gen) ruleICMP(r *schema.Rule, fam int) {
	types := icmp4Types
	if fam == 6 {
		types = icmp6Types
	}
	ptr := func(v int) *int { return &v }
	if g.chance(2) {
		r.ICMPType = ptr(pick(g, types))
		if g.chance(2) {
			r.ICMPCode = ptr(pick(g, icmpCodes))
		}
	}
	if g.chance(3) {
		r.NotICMPType = ptr(pick(g, types))
	}
	// The negated pair (!icmp_type with !icmp_code) is one compare of type and code together;
	// drawn often, so that a compiler splitting it into two compares is caught.
	k := 4
	if r.NotICMPType != nil {
		k = 2
	}
	if (r.ICMPType != nil || r.NotICMPType != nil) && g.chance(k) {
		r.NotICMPCode = ptr(pick(g, icmpCodes))
	}
}

// itoa is strconv.Itoa for the renderer.
func itoa(n int) string { return strconv.Itoa(n) }
