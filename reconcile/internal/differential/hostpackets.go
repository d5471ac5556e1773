package differential

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/internal/evaluate"
	"github.com/reconcile-dev/reconcile/schema"
)

var (
	unspec4   = netip.IPv4Unspecified()
	unspec6   = netip.IPv6Unspecified()
	linkLocal = netip.MustParseAddr("fe80::ecee:eeff:feee:eeee")
	// linkLocal4 is an IPv4 link-local address (169.254.0.0/16, RFC 3927).
	linkLocal4 = netip.MustParseAddr("169.254.7.7")
	bcast4     = netip.MustParseAddr("255.255.255.255")
	// allDHCP6 is All_DHCP_Relay_Agents_and_Servers, allRouters the all-routers group.
	allDHCP6   = netip.MustParseAddr("ff02::1:2")
	allRouters = netip.MustParseAddr("ff02::2")
)

// hostProbe is a packet to the host: a protocol part, and the sources it is sent from.
type hostProbe struct {
	fam              int
	proto            uint8
	sport, dport     uint16
	icmpType, icmpCd uint8
	dst              netip.Addr
	// srcs: "own" (the endpoint's address), "unspec", "ll" (link-local: fe80::/10,
	// 169.254.0.0/16).
	srcs []string
}

// hostProbes are the packets to the host every endpoint sends: the allowances of SPEC §3
// (DHCP udp 67/68, DHCPv6 546/547, DNS udp 53, neighbour discovery 133/135/136) and their
// near misses (swapped ports, tcp 53, router advertisements, redirects, MLD, echo, ssh, ntp).
var hostProbes = []hostProbe{
	{fam: 4, proto: pUDP, sport: 68, dport: 67, dst: bcast4, srcs: []string{"unspec", "own", "ll"}},
	{fam: 4, proto: pUDP, sport: 67, dport: 68, dst: bcast4, srcs: []string{"unspec", "own"}},
	{fam: 4, proto: pUDP, sport: 50000, dport: 67, dst: HostAddr4, srcs: []string{"own"}},
	{fam: 4, proto: pUDP, sport: 68, dport: 68, dst: HostAddr4, srcs: []string{"own"}},
	{fam: 4, proto: pUDP, sport: 50000, dport: 53, dst: HostAddr4, srcs: []string{"own", "unspec", "ll"}},
	{fam: 4, proto: pTCP, sport: 50000, dport: 53, dst: HostAddr4, srcs: []string{"own"}},
	{fam: 4, proto: pTCP, sport: 50000, dport: 22, dst: HostAddr4, srcs: []string{"own"}},
	{fam: 4, proto: pUDP, sport: 123, dport: 123, dst: HostAddr4, srcs: []string{"own"}},
	{fam: 4, proto: pICMP, icmpType: 8, dst: HostAddr4, srcs: []string{"own"}},
	{fam: 6, proto: pUDP, sport: 546, dport: 547, dst: allDHCP6, srcs: []string{"ll", "unspec", "own"}},
	{fam: 6, proto: pUDP, sport: 547, dport: 546, dst: allDHCP6, srcs: []string{"ll", "own"}},
	{fam: 6, proto: pUDP, sport: 50000, dport: 547, dst: HostAddr6, srcs: []string{"own"}},
	{fam: 6, proto: pUDP, sport: 50000, dport: 53, dst: HostAddr6, srcs: []string{"own", "ll"}},
	{fam: 6, proto: pTCP, sport: 50000, dport: 53, dst: HostAddr6, srcs: []string{"own"}},
	{fam: 6, proto: pTCP, sport: 50000, dport: 22, dst: HostAddr6, srcs: []string{"own"}},
	{fam: 6, proto: pICMPv6, icmpType: 133, dst: allRouters, srcs: []string{"ll", "unspec", "own"}},
	{fam: 6, proto: pICMPv6, icmpType: 135, dst: HostAddr6, srcs: []string{"ll", "unspec", "own"}},
	{fam: 6, proto: pICMPv6, icmpType: 136, dst: HostAddr6, srcs: []string{"ll", "own"}},
	{fam: 6, proto: pICMPv6, icmpType: 134, dst: HostAddr6, srcs: []string{"ll", "own"}},
	{fam: 6, proto: pICMPv6, icmpType: 137, dst: HostAddr6, srcs: []string{"ll"}},
	{fam: 6, proto: pICMPv6, icmpType: 143, dst: HostAddr6, srcs: []string{"ll", "unspec"}},
	{fam: 6, proto: pICMPv6, icmpType: 130, dst: HostAddr6, srcs: []string{"ll"}},
	{fam: 6, proto: pICMPv6, icmpType: 135, icmpCd: 1, dst: HostAddr6, srcs: []string{"ll"}},
	{fam: 6, proto: pICMPv6, icmpType: 128, dst: HostAddr6, srcs: []string{"own"}},
}

// toHost adds a's packets to its host: every hostProbe from each of its sources (an "own"
// source only when a has an address of the family), one of them with a forged source (another
// endpoint's or an outside address), one with a forged MAC.
func (g *pg) toHost(a *schema.Endpoint) {
	for _, hp := range hostProbes {
		for _, s := range hp.srcs {
			if src, ok := g.hostSrc(a, hp.fam, s); ok {
				g.out = append(g.out, hp.packet(a, src))
			}
		}
	}
	hp := pickR(g.r, hostProbes)
	p := hp.packet(a, g.forgedSrc(a, hp.fam))
	g.out = append(g.out, p)
	hp = pickR(g.r, hostProbes)
	if src, ok := g.addrIn(a, hp.fam); ok {
		p = hp.packet(a, src)
		p.SrcMAC = g.forgedMAC(a)
		g.out = append(g.out, p)
	}
	// The MAC check comes before every allowance, those to DHCP and ND clients from the
	// unspecified or link-local address too (SPEC §3): one forged MAC from such a source.
	var early []hostProbe
	for _, hp := range hostProbes {
		if slices.Contains(hp.srcs, "unspec") || slices.Contains(hp.srcs, "ll") {
			early = append(early, hp)
		}
	}
	hp = pickR(g.r, early)
	s := pickR(g.r, slices.DeleteFunc(slices.Clone(hp.srcs), func(s string) bool { return s == "own" }))
	src, _ := g.hostSrc(a, hp.fam, s)
	p = hp.packet(a, src)
	p.SrcMAC = g.forgedMAC(a)
	g.out = append(g.out, p)
}

// hostSrc is the source of a hostProbe from a: "own" (an address of a in the family; ok is
// false when a has none), "unspec" or "ll" (the family's unspecified or link-local address).
func (g *pg) hostSrc(a *schema.Endpoint, fam int, s string) (netip.Addr, bool) {
	switch s {
	case "own":
		return g.addrIn(a, fam)
	case "unspec":
		if fam == 6 {
			return unspec6, true
		}
		return unspec4, true
	}
	if fam == 4 {
		return linkLocal4, true
	}
	return linkLocal, true
}

func (hp hostProbe) packet(a *schema.Endpoint, src netip.Addr) evaluate.Packet {
	return evaluate.Packet{
		From: a.ID, ToHost: a.Host, Src: src, Dst: hp.dst, Proto: hp.proto,
		SrcPort: hp.sport, DstPort: hp.dport, ICMPType: hp.icmpType, ICMPCode: hp.icmpCd,
	}
}

// forgedSrc is a source address of the family that is not a's: another endpoint's, an
// outside one, the unspecified or the link-local one, or the address next to one of a's nets.
func (g *pg) forgedSrc(a *schema.Endpoint, fam int) netip.Addr {
	switch g.r.IntN(5) {
	case 0:
		for range 4 {
			b := pickR(g.r, g.repo.Endpoints)
			if addr, ok := g.addrIn(b, fam); ok && b != a {
				return addr
			}
		}
	case 1:
		if fam == 4 {
			return unspec4
		}
		return unspec6
	case 2:
		if fam == 6 {
			return linkLocal
		}
		return linkLocal4
	case 3:
		if nets := addrs(a, fam); len(nets) > 0 {
			p := pickR(g.r, nets).Masked()
			last := p.Addr()
			for n := last.Next(); p.Contains(n); n = n.Next() {
				last = n
			}
			if n := last.Next(); n.IsValid() && !g.owned(n) {
				return n
			}
		}
	}
	if fam == 4 {
		return Outside4
	}
	return Outside6
}

// owned reports whether some endpoint's net holds a.
func (g *pg) owned(a netip.Addr) bool {
	for _, e := range g.repo.Endpoints {
		for _, p := range e.Prefixes() {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

// forgedMAC is a source MAC for a's packets: a random unicast one, another endpoint's, or a's
// own in upper case (the same MAC: not forged).
func (g *pg) forgedMAC(a *schema.Endpoint) string {
	switch g.r.IntN(3) {
	case 0:
		for _, b := range g.repo.Endpoints {
			if b != a && b.MAC != "" && !strings.EqualFold(b.MAC, a.MAC) {
				return strings.ToLower(b.MAC)
			}
		}
	case 1:
		if a.MAC != "" {
			return strings.ToUpper(a.MAC)
		}
	}
	return "02:de:ad:be:ef:01"
}

// forged adds a's packets to the other endpoints with a forged source address or MAC.
func (g *pg) forged(a *schema.Endpoint) {
	for _, b := range g.repo.Endpoints {
		if b == a {
			continue
		}
		fam := pickR(g.r, []int{4, 6})
		dst, ok := g.addrIn(b, fam)
		if !ok {
			continue
		}
		p := evaluate.Packet{From: a.ID, To: b.ID, Src: g.forgedSrc(a, fam), Dst: dst}
		g.flow(&p, fam)
		g.out = append(g.out, p)
		if src, ok := g.addrIn(a, fam); ok {
			p := evaluate.Packet{From: a.ID, To: b.ID, Src: src, Dst: dst, SrcMAC: g.forgedMAC(a)}
			g.flow(&p, fam)
			g.out = append(g.out, p)
		}
	}
}

// outside adds the flows between a and addresses outside the model, both ways, three per
// family a has.
func (g *pg) outside(a *schema.Endpoint) {
	for _, fam := range []int{4, 6} {
		out := Outside4
		if fam == 6 {
			out = Outside6
		}
		for range 3 {
			addr, ok := g.addrIn(a, fam)
			if !ok {
				break
			}
			p := evaluate.Packet{To: a.ID, Src: out, Dst: addr}
			g.flow(&p, fam)
			q := evaluate.Packet{From: a.ID, Src: addr, Dst: out}
			g.flow(&q, fam)
			g.out = append(g.out, p, q)
		}
	}
}
