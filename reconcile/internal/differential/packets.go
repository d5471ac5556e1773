package differential

import (
	"math/rand/v2"
	"net/netip"
	"slices"

	"github.com/reconcile-dev/reconcile/reconcile/internal/evaluate"
	"github.com/reconcile-dev/reconcile/schema"
)

// Outside addresses of packets (outside every endpoint net, inside the lab's ranges).
var (
	Outside4 = netip.MustParseAddr("198.19.7.9")
	Outside6 = netip.MustParseAddr("fd00:2::7:9")
	// HostAddr4 and HostAddr6 are the destinations of packets to a host that are not
	// broadcast or multicast (the simulator's stand-in for the host's own address).
	HostAddr4 = netip.MustParseAddr("198.19.255.254")
	HostAddr6 = netip.MustParseAddr("fd00::fffe")
)

// Protocol numbers.
const (
	pICMP    = 1
	pTCP     = 6
	pUDP     = 17
	pICMPv6  = 58
	pSCTP    = 132
	pUDPLite = 136
)

// pg draws the packets of one repository.
type pg struct {
	r      *rand.Rand
	repo   *schema.Repository
	protos []uint8
	ports  []uint16
	types4 []uint8
	types6 []uint8
	codes  []uint8
	out    []evaluate.Packet
}

// Packets returns the packets of seed that probe repo (a repository that validates), each the
// first packet of a flow of the model: between every ordered pair of endpoints (same host and
// across hosts, each family both have) with protocols, ports and ICMP types and codes that hit
// and miss the rules' (port range edges and their neighbours); to each endpoint's host (DHCP,
// DHCPv6, DNS, neighbour discovery, router advertisements and redirects, MLD, other
// services), from the endpoint's address, the unspecified and link-local ones; from forged
// source addresses (another endpoint's, an outside one, unspecified, link-local) and MACs
// (another's, a random one, the endpoint's own in upper case); from and to addresses outside
// the model (Outside4, Outside6).
func Packets(seed int64, repo *schema.Repository) []evaluate.Packet {
	g := &pg{r: rng(seed, 2), repo: repo}
	g.collect()
	for _, a := range repo.Endpoints {
		for _, b := range repo.Endpoints {
			if a != b {
				g.pair(a, b)
			}
		}
		g.toHost(a)
		g.forged(a)
		g.outside(a)
	}
	return g.out
}

// collect gathers the rules' protocols, ports (each range's edges and their neighbours) and
// ICMP types and codes (each and its neighbours), with a few that no rule names.
func (g *pg) collect() {
	addPort := func(p int) {
		if p >= 1 && p <= 65535 && !slices.Contains(g.ports, uint16(p)) {
			g.ports = append(g.ports, uint16(p))
		}
	}
	add8 := func(xs *[]uint8, v int) {
		if v >= 0 && v <= 255 && !slices.Contains(*xs, uint8(v)) {
			*xs = append(*xs, uint8(v))
		}
	}
	for _, v := range []int{pTCP, pUDP, pSCTP, pUDPLite, pICMP, pICMPv6, 47, 2, 253} {
		add8(&g.protos, v)
	}
	for _, v := range []int{22, 80, 5555, 50000, 65535, 1} {
		addPort(v)
	}
	for _, v := range []int{8, 0, 3} {
		add8(&g.types4, v)
	}
	for _, v := range []int{128, 129, 1} {
		add8(&g.types6, v)
	}
	for _, v := range []int{0, 1} {
		add8(&g.codes, v)
	}
	for _, id := range g.repo.ProfileIDs() {
		p := g.repo.Profiles[id]
		for _, r := range slices.Concat(p.Inbound, p.Outbound) {
			for _, pr := range []schema.Protocol{r.Protocol, r.NotProtocol} {
				if n, ok := pr.Number(); ok {
					add8(&g.protos, int(n))
				}
			}
			for _, pr := range slices.Concat(r.SrcPorts, r.DstPorts, r.NotSrcPorts, r.NotDstPorts) {
				for _, d := range []int{-1, 0, 1} {
					addPort(int(pr.First) + d)
					addPort(int(pr.Last) + d)
				}
			}
			types := &g.types4
			if r.Protocol.ICMPFamily() == 6 {
				types = &g.types6
			}
			for _, v := range []*int{r.ICMPType, r.NotICMPType} {
				if v != nil {
					add8(types, *v-1)
					add8(types, *v)
					add8(types, *v+1)
				}
			}
			for _, v := range []*int{r.ICMPCode, r.NotICMPCode} {
				if v != nil {
					add8(&g.codes, *v)
					add8(&g.codes, *v+1)
				}
			}
		}
	}
}

func pickR[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// addrs returns the endpoint's nets of a family (4 or 6).
func addrs(e *schema.Endpoint, fam int) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range e.Prefixes() {
		if p.Addr().Is4() == (fam == 4) {
			out = append(out, p)
		}
	}
	return out
}

// addrIn picks an address of the endpoint in the family: of a net of more than one address,
// its first, its last or one inside. ok is false when the endpoint has no net of the family.
func (g *pg) addrIn(e *schema.Endpoint, fam int) (netip.Addr, bool) {
	nets := addrs(e, fam)
	if len(nets) == 0 {
		return netip.Addr{}, false
	}
	p := pickR(g.r, nets).Masked()
	a := p.Addr()
	if p.IsSingleIP() {
		return a, true
	}
	switch g.r.IntN(3) {
	case 1:
		a = a.Next()
	case 2:
		for n := a.Next(); p.Contains(n); n = n.Next() {
			a = n
		}
	}
	return a, true
}

// flow fills in a random protocol part for the family: a protocol of the rules or another,
// ports of the rules or their neighbours, ICMP types and codes of the family's.
func (g *pg) flow(p *evaluate.Packet, fam int) {
	p.Proto = pickR(g.r, g.protos)
	switch {
	case p.Proto == pICMP && fam == 6:
		p.Proto = pICMPv6
	case p.Proto == pICMPv6 && fam == 4:
		p.Proto = pICMP
	}
	switch p.Proto {
	case pTCP, pUDP, pSCTP, pUDPLite:
		p.DstPort = pickR(g.r, g.ports)
		p.SrcPort = 50000
		if g.r.IntN(3) == 0 {
			p.SrcPort = pickR(g.r, g.ports)
		}
	case pICMP:
		p.ICMPType, p.ICMPCode = pickR(g.r, g.types4), pickR(g.r, g.codes)
	case pICMPv6:
		p.ICMPType, p.ICMPCode = pickR(g.r, g.types6), pickR(g.r, g.codes)
	}
}

// families returns the families both endpoints have nets of.
func families(a, b *schema.Endpoint) []int {
	var out []int
	for _, f := range []int{4, 6} {
		if len(addrs(a, f)) > 0 && len(addrs(b, f)) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// pair draws the flows from a to b: six per family both have, and one ICMP request.
func (g *pg) pair(a, b *schema.Endpoint) {
	for _, fam := range families(a, b) {
		for i := range 7 {
			src, _ := g.addrIn(a, fam)
			dst, _ := g.addrIn(b, fam)
			p := evaluate.Packet{From: a.ID, To: b.ID, Src: src, Dst: dst}
			if i < 6 {
				g.flow(&p, fam)
			} else {
				g.icmpRequest(&p, fam)
			}
			g.out = append(g.out, p)
		}
	}
}

// icmpRequest fills in an ICMP request of the family (echo or timestamp; ICMPv6 echo) with a
// code of the rules' or their neighbours: conntrack drops most other first ICMP packets
// before policy, so the rules' icmp_code and their negated (type, code) pairs are decided on
// requests alone, and random flows rarely draw one with the code that matters.
func (g *pg) icmpRequest(p *evaluate.Packet, fam int) {
	p.Proto, p.ICMPType = pICMP, pickR(g.r, []uint8{8, 13})
	if fam == 6 {
		p.Proto, p.ICMPType = pICMPv6, 128
	}
	p.ICMPCode = pickR(g.r, g.codes)
}
