package nft

import (
	"cmp"
	"net/netip"
	"slices"
)

// Canonical returns a deep copy of rs in the canonical form that Observe returns, so that a
// desired model and an observed one can be compared with reflect.DeepEqual (or Digest):
//
//   - sets, maps and chains sorted by name; map elements sorted by key (duplicates: first wins);
//   - set prefixes masked, merged and sorted: the smallest list of prefixes covering the union;
//     set ports sorted and merged (overlapping and adjacent ranges joined); set numbers sorted,
//     each once;
//   - in a match, protocol, ICMP and address lists sorted and deduplicated; a list with a range
//     (port range, non-host prefix) is merged like nft merges an anonymous interval set (a port
//     list into non-overlapping, non-adjacent ranges; a prefix list into its smallest cover);
//   - fields that a match kind does not use are zeroed, empty slices are nil, a base chain's
//     policy defaults to accept.
//
// Apply programs exactly what String renders, so a model's Canonical form is also what the
// kernel holds after `nft -f` of rs.Script(); Canonical is idempotent.
func (rs *Ruleset) Canonical() *Ruleset {
	if rs == nil {
		return nil
	}
	out := &Ruleset{Table: rs.Table}
	for _, s := range rs.Sets {
		out.Sets = append(out.Sets, canonSet(s))
	}
	slices.SortStableFunc(out.Sets, func(a, b *Set) int { return cmp.Compare(a.Name, b.Name) })
	for _, m := range rs.Maps {
		cm := &Map{Name: m.Name, Comment: m.Comment}
		seen := map[string]bool{}
		for _, e := range m.Elements {
			if seen[e.Key] {
				continue
			}
			seen[e.Key] = true
			cm.Elements = append(cm.Elements, MapElement{Key: e.Key, Verdict: canonVerdict(e.Verdict)})
		}
		slices.SortFunc(cm.Elements, func(a, b MapElement) int { return cmp.Compare(a.Key, b.Key) })
		out.Maps = append(out.Maps, cm)
	}
	slices.SortStableFunc(out.Maps, func(a, b *Map) int { return cmp.Compare(a.Name, b.Name) })
	for _, c := range rs.Chains {
		cc := &Chain{Name: c.Name}
		if c.Base != nil {
			b := *c.Base
			if b.Policy == None {
				b.Policy = Accept
			}
			cc.Base = &b
		}
		for _, r := range c.Rules {
			cc.Rules = append(cc.Rules, r.canonical())
		}
		out.Chains = append(out.Chains, cc)
	}
	slices.SortStableFunc(out.Chains, func(a, b *Chain) int { return cmp.Compare(a.Name, b.Name) })
	out.Foreign = canonForeign(rs.Foreign)
	return out
}

// canonSet is s in canonical form: prefixes merged, ports merged, numbers sorted and unique.
func canonSet(s *Set) *Set {
	return &Set{Name: s.Name, Type: s.Type, Prefixes: mergePrefixes(s.Prefixes),
		Ports: mergePorts(s.Ports), Nums: sortedUnique(s.Nums), Comment: s.Comment}
}

// canonForeign returns the foreign objects sorted by kind, then name, without duplicates; nil
// when there are none.
func canonForeign(fs []ForeignObject) []ForeignObject {
	if len(fs) == 0 {
		return nil
	}
	out := slices.Clone(fs)
	slices.SortFunc(out, func(a, b ForeignObject) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return slices.Compact(out)
}

func canonVerdict(v Verdict) Verdict {
	if v.Kind != Jump && v.Kind != Goto {
		v.Chain = ""
	}
	return v
}

func (r *Rule) canonical() *Rule {
	out := &Rule{Counter: r.Counter, Verdict: canonVerdict(r.Verdict), Comment: r.Comment}
	if r.Log != nil {
		out.Log = &Log{Prefix: r.Log.Prefix}
	}
	if r.VMap != nil {
		v := *r.VMap
		out.VMap = &v
		out.Verdict = Verdict{}
	}
	for i := range r.Matches {
		m := &r.Matches[i]
		if m.Kind == MatchICMPTypeCode && !m.Not {
			// Positive type and code compile to the very same bytecode as `icmp type T icmp
			// code C`, which is how Observe reads it back.
			out.Matches = append(out.Matches,
				Match{Kind: MatchICMPType, Family: m.Family, Nums: []uint8{m.Type}},
				Match{Kind: MatchICMPCode, Family: m.Family, Nums: []uint8{m.Code}})
			continue
		}
		out.Matches = append(out.Matches, m.canonical())
	}
	return out
}

// canonical zeroes the fields the kind does not use and normalises its lists.
func (m *Match) canonical() Match {
	out := Match{Kind: m.Kind, Not: m.Not}
	switch m.Kind {
	case MatchNFProto:
		out.Family = m.Family
	case MatchIIFName, MatchOIFName, MatchEtherSAddr, MatchUnknown:
		out.Str = m.Str
	case MatchCtState:
		out.CtState = m.CtState
	case MatchL4Proto:
		out.Protos = sortedUnique(m.Protos)
	case MatchSAddr, MatchDAddr:
		out.Family = m.Family
		out.Prefixes = matchPrefixes(m.Prefixes)
	case MatchSAddrSet, MatchDAddrSet, MatchICMPTypeSet:
		out.Family = m.Family
		out.Str = m.Str
	case MatchSPortSet, MatchDPortSet:
		out.Str = m.Str
	case MatchSPort, MatchDPort:
		out.Ports = matchPorts(m.Ports)
	case MatchICMPType, MatchICMPCode:
		out.Family = m.Family
		out.Nums = sortedUnique(m.Nums)
	case MatchICMPTypeCode:
		out.Family, out.Type, out.Code = m.Family, m.Type, m.Code
	default:
		return *m
	}
	return out
}

func sortedUnique[T cmp.Ordered](in []T) []T {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// matchPorts: a list of single ports stays a list of ports (an nft hash set); a list with a
// range becomes non-overlapping, non-adjacent sorted ranges (an nft interval set, which nft
// merges).
func matchPorts(in []PortRange) []PortRange {
	if len(in) == 0 {
		return nil
	}
	out := make([]PortRange, 0, len(in))
	interval := false
	for _, p := range in {
		if p.Last < p.First {
			p.First, p.Last = p.Last, p.First
		}
		interval = interval || p.First != p.Last
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b PortRange) int {
		return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.Last, b.Last))
	})
	out = slices.Compact(out)
	if !interval || len(out) == 1 {
		return out
	}
	return joinPortRuns(out)
}

// mergePorts returns the ports sorted, with overlapping and adjacent ranges joined: the
// ranges a named interval set of ports reads back as. nil for none.
func mergePorts(in []PortRange) []PortRange {
	if len(in) == 0 {
		return nil
	}
	out := make([]PortRange, 0, len(in))
	for _, p := range in {
		if p.Last < p.First {
			p.First, p.Last = p.Last, p.First
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b PortRange) int {
		return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.Last, b.Last))
	})
	return joinPortRuns(out)
}

// joinPortRuns joins overlapping and adjacent ranges of sorted (by First, then Last; not
// empty), in place, as a kernel interval set holds them.
func joinPortRuns(sorted []PortRange) []PortRange {
	merged := sorted[:1]
	for _, p := range sorted[1:] {
		last := &merged[len(merged)-1]
		if uint32(p.First) <= uint32(last.Last)+1 {
			last.Last = max(last.Last, p.Last)
			continue
		}
		merged = append(merged, p)
	}
	return slices.Clip(merged)
}

// MergePorts is mergePorts for the compiler: the canonical content of a port set.
func MergePorts(in []PortRange) []PortRange { return mergePorts(in) }

// matchPrefixes: host addresses only stay a sorted list of hosts (an nft hash set); a list with
// a shorter prefix becomes the smallest cover of the union (an nft interval set, merged).
func matchPrefixes(in []netip.Prefix) []netip.Prefix {
	if len(in) == 0 {
		return nil
	}
	if !allHosts(in) {
		return mergePrefixes(in)
	}
	out := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		out = append(out, p.Masked())
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out)
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// addrRange is an inclusive range of addresses of one family.
type addrRange struct{ lo, hi netip.Addr }

// mergePrefixes returns the smallest sorted list of prefixes whose union is the union of in.
func mergePrefixes(in []netip.Prefix) []netip.Prefix {
	if len(in) == 0 {
		return nil
	}
	if canonicalPrefixes(in) {
		// Already the smallest sorted list (a compiled or canonical set): no sort, no rebuild.
		return slices.Clone(in)
	}
	return mergeSorted(in)
}

// mergeSorted is mergePrefixes without the check for an input that is already canonical.
func mergeSorted(in []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range mergeRanges(in) {
		out = append(out, rangePrefixes(r.lo, r.hi)...)
	}
	return out
}

// mergeRanges sorts the prefixes and merges overlapping and adjacent ones into ranges.
func mergeRanges(in []netip.Prefix) []addrRange {
	ps := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		if p.IsValid() {
			ps = append(ps, p.Masked())
		}
	}
	slices.SortFunc(ps, comparePrefix)
	var out []addrRange
	for _, p := range ps {
		lo, hi := p.Addr(), lastAddr(p)
		if n := len(out); n > 0 && out[n-1].lo.BitLen() == lo.BitLen() {
			last := &out[n-1]
			next := last.hi.Next()
			if lo.Compare(last.hi) <= 0 || (next.IsValid() && next == lo) {
				if hi.Compare(last.hi) > 0 {
					last.hi = hi
				}
				continue
			}
		}
		out = append(out, addrRange{lo, hi})
	}
	return out
}

// canonicalPrefixes reports, in one pass, whether in is its own mergePrefixes: valid masked
// prefixes in comparePrefix order (IPv4 before IPv6), none overlapping, and within each run of
// adjacent prefixes each the largest aligned block that starts at its address and ends within
// the run (the cover rangePrefixes gives).
func canonicalPrefixes(in []netip.Prefix) bool {
	for i := 0; i < len(in); {
		j := i // the run in[i..j]: each prefix starts right after the previous one ends
		for {
			p := in[j]
			if !p.IsValid() || p.Masked() != p {
				return false
			}
			if j+1 == len(in) {
				break
			}
			q := in[j+1]
			if q.Addr().BitLen() != p.Addr().BitLen() {
				if q.Addr().BitLen() < p.Addr().BitLen() {
					return false
				}
				break
			}
			last := lastAddr(p)
			if q.Addr().Compare(last) <= 0 {
				return false // overlapping, or out of order
			}
			if last.Next() != q.Addr() {
				break // a gap ends the run
			}
			j++
		}
		hi := lastAddr(in[j])
		for _, p := range in[i : j+1] {
			if b := p.Bits(); b > 0 {
				parent := netip.PrefixFrom(p.Addr(), b-1)
				if parent.Masked().Addr() == p.Addr() && lastAddr(parent).Compare(hi) <= 0 {
					return false // a larger block fits: the run has a smaller cover
				}
			}
		}
		i = j + 1
	}
	return true
}

// lastAddr is the last address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangePrefixes returns the smallest list of prefixes covering exactly [lo, hi].
func rangePrefixes(lo, hi netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for lo.IsValid() && lo.Compare(hi) <= 0 {
		bits := lo.BitLen()
		// Grow the block while it stays aligned and within hi.
		for bits > 0 {
			p := netip.PrefixFrom(lo, bits-1)
			if p.Masked().Addr() != lo || lastAddr(p).Compare(hi) > 0 {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(lo, bits)
		out = append(out, p)
		last := lastAddr(p)
		if last == hi {
			break
		}
		lo = last.Next()
	}
	return out
}
