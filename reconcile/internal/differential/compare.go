package differential

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/reconcile-dev/reconcile/reconcile/internal/evaluate"
	"github.com/reconcile-dev/reconcile/schema"
)

// Kinds of disagreement, from the strongest.
const (
	// KindError: one party answered and the other refused the packet.
	KindError = "error"
	// KindVerdict: one allowed and the other denied.
	KindVerdict = "verdict"
	// KindSteps: both allowed or both denied, but along different directions or by
	// different rules.
	KindSteps = "steps"
	// KindLogged: the same verdict and steps, but different log rules matched.
	KindLogged = "logged"
)

// Disagree returns the kind of disagreement between a and b, "" when they agree (two
// refusals agree).
func Disagree(a, b Verdict) string {
	switch {
	case (a.Err == "") != (b.Err == ""):
		return KindError
	case a.Err != "":
		return ""
	case a.Allowed != b.Allowed:
		return KindVerdict
	case !slices.Equal(a.Steps, b.Steps):
		return KindSteps
	case !slices.Equal(a.Logged, b.Logged):
		return KindLogged
	}
	return ""
}

// Disagreement is one packet on which two parties disagree.
type Disagreement struct {
	Seed int64
	// Index is the packet's in the list compared (Packets(Seed, ...)).
	Index int
	Kind  string
	// Class is Class(repo, d) of the repository it was found on.
	Class  string
	Packet evaluate.Packet
	// A and B are the verdicts of the two parties (Names[0], Names[1]).
	Names [2]string
	A, B  Verdict
}

func (d Disagreement) String() string {
	return fmt.Sprintf("seed %d packet %d: %s disagreement on %s\n  %s: %s\n  %s: %s", d.Seed, d.Index, d.Kind, FormatPacket(d.Packet), d.Names[0], d.A, d.Names[1], d.B)
}

// FormatPacket renders p on one line: `ep0 -> ep1 198.18.1.1 -> 198.18.1.17 proto 6 50000->80`.
func FormatPacket(p evaluate.Packet) string {
	from, to := p.From, p.To
	if from == "" {
		from = "(outside)"
	}
	switch {
	case p.ToHost != "":
		to = "host:" + p.ToHost
	case to == "":
		to = "(outside)"
	}
	s := fmt.Sprintf("%s -> %s %s -> %s proto %d", from, to, p.Src, p.Dst, p.Proto)
	switch p.Proto {
	case pTCP, pUDP, pSCTP, pUDPLite:
		s += fmt.Sprintf(" %d->%d", p.SrcPort, p.DstPort)
	case pICMP, pICMPv6:
		s += fmt.Sprintf(" type %d code %d", p.ICMPType, p.ICMPCode)
	}
	if p.SrcMAC != "" {
		s += " mac " + p.SrcMAC
	}
	return s
}

// Stats count what a comparison tried.
type Stats struct {
	Repos, Packets int
	// Refused counts packets both parties refused (a generator bug when non-zero).
	Refused       int
	Disagreements int
}

func (s *Stats) Add(o Stats) {
	s.Repos += o.Repos
	s.Packets += o.Packets
	s.Refused += o.Refused
	s.Disagreements += o.Disagreements
}

// CompareRepo sends every packet through both parties on repo and returns the disagreements.
func CompareRepo(seed int64, repo *schema.Repository, pkts []evaluate.Packet, a, b Party) ([]Disagreement, Stats, error) {
	st := Stats{Repos: 1, Packets: len(pkts)}
	ja, err := a.Open(repo)
	if err != nil {
		return nil, st, fmt.Errorf("%s: %w", a.Name, err)
	}
	jb, err := b.Open(repo)
	if err != nil {
		return nil, st, fmt.Errorf("%s: %w", b.Name, err)
	}
	var out []Disagreement
	for i, p := range pkts {
		va, vb := ja(p), jb(p)
		if va.Err != "" && vb.Err != "" {
			st.Refused++
		}
		if k := Disagree(va, vb); k != "" {
			d := Disagreement{Seed: seed, Index: i, Kind: k, Packet: p, Names: [2]string{a.Name, b.Name}, A: va, B: vb}
			d.Class = Class(repo, d)
			out = append(out, d)
		}
	}
	st.Disagreements = len(out)
	return out, st, nil
}

// CompareSeed generates the repository and packets of seed and compares a and b on them.
func CompareSeed(seed int64, a, b Party) (Case, []Disagreement, Stats, error) {
	c, err := Generate(seed)
	if err != nil {
		return c, nil, Stats{}, err
	}
	ds, st, err := CompareRepo(seed, c.Repo, Packets(seed, c.Repo), a, b)
	return c, ds, st, err
}

// CheckPacket reports why p is not a flow of repo's model, nil when it is: From and To name
// endpoints of repo (or are empty), To's nets hold Dst, an outside sender's Src and an outside
// receiver's Dst are in no endpoint's net, a forged MAC comes from an endpoint, ToHost is
// From's host, Src and Dst are of one
// family, ports go with tcp, udp, sctp and udplite only, ICMP types with icmp over IPv4 and
// icmpv6 over IPv6.
func CheckPacket(repo *schema.Repository, p evaluate.Packet) error {
	owned := func(a netip.Addr) *schema.Endpoint {
		for _, e := range repo.Endpoints {
			for _, n := range e.Prefixes() {
				if n.Contains(a) {
					return e
				}
			}
		}
		return nil
	}
	from, to := repo.Endpoint(p.From), repo.Endpoint(p.To)
	switch {
	case !p.Src.IsValid() || !p.Dst.IsValid() || p.Src.Is4() != p.Dst.Is4():
		return fmt.Errorf("src %s and dst %s are not of one family", p.Src, p.Dst)
	case p.From != "" && from == nil:
		return fmt.Errorf("from: no endpoint %q", p.From)
	case p.From == "" && owned(p.Src) != nil:
		return fmt.Errorf("src %s of an outside sender is endpoint %q's", p.Src, owned(p.Src).ID)
	case p.To != "" && p.ToHost != "":
		return fmt.Errorf("to and to_host both set")
	case p.ToHost != "" && (from == nil || from.Host != p.ToHost):
		return fmt.Errorf("to_host %q is not the sender's host", p.ToHost)
	case p.To != "" && (to == nil || owned(p.Dst) != to):
		return fmt.Errorf("to: dst %s is not an address of endpoint %q", p.Dst, p.To)
	case p.To == "" && p.ToHost == "" && owned(p.Dst) != nil:
		return fmt.Errorf("dst %s of an outside receiver is endpoint %q's", p.Dst, owned(p.Dst).ID)
	case p.From == "" && p.SrcMAC != "":
		return fmt.Errorf("src_mac %q needs an endpoint sender", p.SrcMAC)
	case p.From == "" && p.To == "":
		return fmt.Errorf("neither end is an endpoint")
	case p.From != "" && p.From == p.To:
		return fmt.Errorf("from and to are the same endpoint")
	}
	switch p.Proto {
	case pTCP, pUDP, pSCTP, pUDPLite:
		if p.DstPort == 0 || p.SrcPort == 0 {
			return fmt.Errorf("proto %d needs ports 1-65535", p.Proto)
		}
		return nil
	case pICMP, pICMPv6:
		if (p.Proto == pICMP) != p.Src.Is4() {
			return fmt.Errorf("proto %d over IPv%d", p.Proto, map[bool]int{true: 4, false: 6}[p.Src.Is4()])
		}
		if p.SrcPort != 0 || p.DstPort != 0 {
			return fmt.Errorf("ports with proto %d", p.Proto)
		}
		return nil
	}
	if p.SrcPort != 0 || p.DstPort != 0 || p.ICMPType != 0 || p.ICMPCode != 0 {
		return fmt.Errorf("ports or icmp type with proto %d", p.Proto)
	}
	return nil
}

// Class is a coarse signature of a disagreement, to count disagreements by cause: the kind,
// where the packet goes (pair, host, from-outside, to-outside), its protocol, ports or ICMP
// type, its source (own, other: another endpoint's, outside, unspecified, link-local), a
// forged MAC, and the two verdicts: `verdict host udp 67->68 src=unspecified sim=deny
// eval=allow`.
func Class(repo *schema.Repository, d Disagreement) string {
	p := d.Packet
	where := "pair"
	switch {
	case p.ToHost != "":
		where = "host"
	case p.From == "":
		where = "from-outside"
	case p.To == "":
		where = "to-outside"
	}
	s := fmt.Sprintf("%s %s proto %d", d.Kind, where, p.Proto)
	switch p.Proto {
	case pTCP, pUDP, pSCTP, pUDPLite:
		s += fmt.Sprintf(" %d->%d", p.SrcPort, p.DstPort)
	case pICMP, pICMPv6:
		s += fmt.Sprintf(" type %d", p.ICMPType)
	}
	src := "own"
	switch e := repo.Endpoint(p.From); {
	case p.Src.IsUnspecified():
		src = "unspecified"
	case p.Src.IsLinkLocalUnicast():
		src = "link-local"
	case e == nil:
		src = "outside"
	case !slices.ContainsFunc(e.Prefixes(), func(n netip.Prefix) bool { return n.Contains(p.Src) }):
		src = "forged"
	}
	s += " src=" + src
	if p.SrcMAC != "" {
		s += " mac=" + p.SrcMAC
	}
	v := func(x Verdict) string {
		switch {
		case x.Err != "":
			return "error"
		case x.Allowed:
			return "allow"
		}
		return "deny"
	}
	return fmt.Sprintf("%s %s=%s %s=%s", s, d.Names[0], v(d.A), d.Names[1], v(d.B))
}
