package differential

import (
	"fmt"
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
	}
	return ""
}

// Disagreement is one packet on which two parties disagree.
type Disagreement struct {
	Seed   int64
	Kind   string
	Packet evaluate.Packet
	// A and B are the verdicts of the two parties (Names[0], Names[1]).
	Names [2]string
	A, B  Verdict
}

func (d Disagreement) String() string {
	return fmt.Sprintf("seed %d: %s disagreement on %s\n  %s: %s\n  %s: %s", d.Seed, d.Kind, FormatPacket(d.Packet), d.Names[0], d.A, d.Names[1], d.B)
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
	for _, p := range pkts {
		va, vb := ja(p), jb(p)
		if va.Err != "" && vb.Err != "" {
			st.Refused++
		}
		if k := Disagree(va, vb); k != "" {
			out = append(out, Disagreement{Seed: seed, Kind: k, Packet: p, Names: [2]string{a.Name, b.Name}, A: va, B: vb})
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
