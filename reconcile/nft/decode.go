package nft

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// This file maps what the kernel holds back to the model: the inverse of encode.go. Whatever
// does not match a shape that encode generates becomes a MatchUnknown describing it, so a rule
// changed by hand never reads back as one of ours.

// setData is a set read back from the kernel with its elements.
type setData struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

type decoder struct {
	sets map[string]*setData // by kernel name, anonymous sets included
}

// ruleState is what a rule established so far while decoding, and its phase: matches, then
// counter, log, verdict (each at most once, in that order).
type ruleState struct {
	family Family
	l4     uint8
	phase  int
}

const (
	phaseMatch = iota
	phaseCounter
	phaseLog
	phaseVerdict
)

// rule decodes one rule. It never fails: unknown expressions become MatchUnknown.
func (d *decoder) rule(exprs []any, ud []byte) *Rule {
	r := &Rule{Comment: comment(ud)}
	var st ruleState
	unknown := func(i int) {
		desc := describe(exprs[i])
		if n := len(r.Matches); n > 0 && r.Matches[n-1].Kind == MatchUnknown {
			r.Matches[n-1].Str += "; " + desc
			return
		}
		r.Matches = append(r.Matches, Match{Kind: MatchUnknown, Str: desc})
	}
	for i := 0; i < len(exprs); {
		if st.phase == phaseMatch {
			if ms, n := d.match(exprs[i:], &st); n > 0 {
				r.Matches = append(r.Matches, ms...)
				i += n
				continue
			}
		}
		n := d.statement(r, exprs[i:], &st)
		if n == 0 {
			unknown(i)
			n = 1
		}
		i += n
	}
	return r
}

// statement decodes counter, log, vmap dispatch or verdict at the head of es.
func (d *decoder) statement(r *Rule, es []any, st *ruleState) int {
	switch e := es[0].(type) {
	case *expr.Counter:
		if st.phase < phaseCounter {
			r.Counter, st.phase = true, phaseCounter
			return 1
		}
	case *expr.Log:
		plain := e.Group == 0 && e.Snaplen == 0 && e.QThreshold == 0 && e.Flags == 0 &&
			e.Key&^(1<<unix.NFTA_LOG_PREFIX|1<<unix.NFTA_LOG_LEVEL) == 0 &&
			(e.Key&(1<<unix.NFTA_LOG_LEVEL) == 0 || e.Level == expr.LogLevelWarning)
		if plain && st.phase < phaseLog {
			r.Log, st.phase = &Log{Prefix: string(e.Data)}, phaseLog
			return 1
		}
	case *expr.Verdict:
		if st.phase < phaseVerdict {
			if v, ok := verdictOf(e.Kind, e.Chain); ok {
				r.Verdict, st.phase = v, phaseVerdict
				return 1
			}
		}
	case *expr.Meta:
		if len(es) >= 2 && st.phase < phaseVerdict && !e.SourceRegister && e.Register == 1 &&
			(e.Key == expr.MetaKeyIIFNAME || e.Key == expr.MetaKeyOIFNAME) {
			if l, ok := es[1].(*expr.Lookup); ok && l.IsDestRegSet && l.DestRegister == 0 && l.SourceRegister == 1 && !l.Invert {
				if s := d.sets[l.SetName]; s != nil && s.set.IsMap && !s.set.Anonymous {
					k := MatchIIFName
					if e.Key == expr.MetaKeyOIFNAME {
						k = MatchOIFName
					}
					r.VMap, st.phase = &VMapLookup{Key: k, Map: l.SetName}, phaseVerdict
					return 2
				}
			}
		}
	}
	return 0
}

func verdictOf(k expr.VerdictKind, chain string) (Verdict, bool) {
	switch k {
	case expr.VerdictAccept:
		return Verdict{Kind: Accept}, true
	case expr.VerdictDrop:
		return Verdict{Kind: Drop}, true
	case expr.VerdictReturn:
		return Verdict{Kind: Return}, true
	case expr.VerdictJump:
		return Verdict{Kind: Jump, Chain: chain}, true
	case expr.VerdictGoto:
		return Verdict{Kind: Goto, Chain: chain}, true
	}
	return Verdict{}, false
}

// comment extracts the comment TLV of rule userdata without trusting its lengths.
func comment(ud []byte) string {
	for len(ud) >= 2 {
		typ, n := userdata.Type(ud[0]), int(ud[1])
		if len(ud) < 2+n {
			return ""
		}
		if typ == userdata.TypeComment {
			return string(bytes.TrimRight(ud[2:2+n], "\x00"))
		}
		ud = ud[2+n:]
	}
	return ""
}

func describe(e any) string {
	switch e := e.(type) {
	case opaqueExpr:
		return fmt.Sprintf("%s %x", e.name, e.data)
	default:
		return strings.TrimPrefix(fmt.Sprintf("%T%+v", e, e), "*expr.")
	}
}

// cmpAt returns es[i] as a Cmp on register 1 with the given data length (0: any).
func cmpAt(es []any, i int, n int) (*expr.Cmp, bool) {
	if i >= len(es) {
		return nil, false
	}
	c, ok := es[i].(*expr.Cmp)
	if !ok || c.Register != 1 || (n > 0 && len(c.Data) != n) {
		return nil, false
	}
	return c, true
}

// eqNeq reports whether a Cmp is == or != and which.
func eqNeq(c *expr.Cmp) (not, ok bool) {
	switch c.Op {
	case expr.CmpOpEq:
		return false, true
	case expr.CmpOpNeq:
		return true, true
	}
	return false, false
}

// lookupAt returns es[i] as a plain (non-map) lookup from register 1.
func lookupAt(es []any, i int) (*expr.Lookup, bool) {
	if i >= len(es) {
		return nil, false
	}
	l, ok := es[i].(*expr.Lookup)
	if !ok || l.SourceRegister != 1 || l.IsDestRegSet {
		return nil, false
	}
	return l, true
}

// match decodes the match(es) at the head of es; it returns how many expressions they took,
// 0 when es does not start with a match we generate.
func (d *decoder) match(es []any, st *ruleState) ([]Match, int) {
	switch e := es[0].(type) {
	case *expr.Meta:
		if e.SourceRegister || e.Register != 1 {
			return nil, 0
		}
		return d.metaMatch(e, es, st)
	case *expr.Ct:
		if e.Key != expr.CtKeySTATE || e.SourceRegister || e.Register != 1 || e.OptDirection {
			return nil, 0
		}
		if b, ok := at[*expr.Bitwise](es, 1); ok && b.SourceRegister == 1 && b.DestRegister == 1 && b.Len == 4 &&
			len(b.Mask) == 4 && bytes.Equal(b.Xor, make([]byte, 4)) {
			if c, ok := cmpAt(es, 2, 4); ok && c.Op == expr.CmpOpNeq && isZero(c.Data) {
				if s := binaryutil.NativeEndian.Uint32(b.Mask); s != 0 && s <= 0xff {
					return []Match{{Kind: MatchCtState, CtState: CtState(s)}}, 3
				}
			}
			return nil, 0
		}
		if c, ok := cmpAt(es, 1, 4); ok && c.Op == expr.CmpOpNeq {
			if s := binaryutil.NativeEndian.Uint32(c.Data); s != 0 && s <= 0xff {
				return []Match{{Kind: MatchCtState, Not: true, CtState: CtState(s)}}, 2
			}
		}
	case *expr.Payload:
		if e.OperationType != expr.PayloadLoad || e.DestRegister != 1 || e.CsumType != 0 {
			return nil, 0
		}
		switch e.Base {
		case expr.PayloadBaseNetworkHeader:
			return d.addrMatch(e, es)
		case expr.PayloadBaseTransportHeader:
			return d.transportMatch(e, es, st)
		}
	}
	return nil, 0
}

func at[T any](es []any, i int) (T, bool) {
	var zero T
	if i >= len(es) {
		return zero, false
	}
	v, ok := es[i].(T)
	return v, ok
}

func (d *decoder) metaMatch(e *expr.Meta, es []any, st *ruleState) ([]Match, int) {
	switch e.Key {
	case expr.MetaKeyNFPROTO:
		c, ok := cmpAt(es, 1, 1)
		if !ok {
			return nil, 0
		}
		not, ok := eqNeq(c)
		var f Family
		switch c.Data[0] {
		case unix.NFPROTO_IPV4:
			f = IPv4
		case unix.NFPROTO_IPV6:
			f = IPv6
		default:
			return nil, 0
		}
		if !ok {
			return nil, 0
		}
		if !not {
			st.family = f
		}
		return []Match{{Kind: MatchNFProto, Not: not, Family: f}}, 2
	case expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME:
		c, ok := cmpAt(es, 1, ifNameSize)
		if !ok {
			return nil, 0
		}
		not, ok := eqNeq(c)
		name := strings.TrimRight(string(c.Data), "\x00")
		if !ok || strings.ContainsRune(name, 0) || name == "" {
			return nil, 0
		}
		k := MatchIIFName
		if e.Key == expr.MetaKeyOIFNAME {
			k = MatchOIFName
		}
		return []Match{{Kind: k, Not: not, Str: name}}, 2
	case expr.MetaKeyL4PROTO:
		if c, ok := cmpAt(es, 1, 1); ok {
			not, ok := eqNeq(c)
			if !ok {
				return nil, 0
			}
			if !not {
				st.l4 = c.Data[0]
			}
			return []Match{{Kind: MatchL4Proto, Not: not, Protos: []uint8{c.Data[0]}}}, 2
		}
		if l, ok := lookupAt(es, 1); ok {
			if vs, ok := d.byteSet(l.SetName, nftables.TypeInetProto); ok {
				return []Match{{Kind: MatchL4Proto, Not: l.Invert, Protos: vs}}, 2
			}
		}
	case expr.MetaKeyIIFTYPE:
		c, ok := cmpAt(es, 1, 2)
		if !ok || c.Op != expr.CmpOpEq || binaryutil.NativeEndian.Uint16(c.Data) != arphrdEther {
			return nil, 0
		}
		p, ok := at[*expr.Payload](es, 2)
		if !ok || p.OperationType != expr.PayloadLoad || p.DestRegister != 1 || p.Base != expr.PayloadBaseLLHeader || p.Offset != 6 || p.Len != 6 {
			return nil, 0
		}
		c2, ok := cmpAt(es, 3, 6)
		if !ok {
			return nil, 0
		}
		not, ok := eqNeq(c2)
		if !ok {
			return nil, 0
		}
		return []Match{{Kind: MatchEtherSAddr, Not: not, Str: net.HardwareAddr(c2.Data).String()}}, 4
	}
	return nil, 0
}

// addrMatch decodes ip/ip6 saddr/daddr: a (shortened) compare, a masked compare, an address
// range, a named set or an anonymous set.
func (d *decoder) addrMatch(p *expr.Payload, es []any) ([]Match, int) {
	kind, setKind, fam, ok := addrKinds(p.Offset)
	if !ok {
		return nil, 0
	}
	full := uint32(fam.bits() / 8)
	if p.Len == 0 || p.Len > full {
		return nil, 0
	}
	if p.Len < full {
		c, ok := cmpAt(es, 1, int(p.Len))
		if !ok {
			return nil, 0
		}
		not, ok := eqNeq(c)
		if !ok {
			return nil, 0
		}
		b := make([]byte, full)
		copy(b, c.Data)
		a, _ := netip.AddrFromSlice(b)
		return []Match{{Kind: kind, Not: not, Family: fam, Prefixes: []netip.Prefix{netip.PrefixFrom(a, int(p.Len)*8)}}}, 2
	}
	// The range first: its `cmp gte` would otherwise be taken for a (refused) host compare.
	if ms, n, ok := rangeCompare(es, kind, fam, full); ok {
		return ms, n
	}
	if ms, n, ok := prefixCompare(es, kind, fam, full); ok {
		return ms, n
	}
	if l, ok := lookupAt(es, 1); ok {
		return d.addrLookup(l, kind, setKind, fam)
	}
	return nil, 0
}

// addrKinds maps a network-header offset to the address match it loads: 12 and 16 are the
// IPv4 source and destination, 8 and 24 the IPv6 ones.
func addrKinds(off uint32) (kind, setKind MatchKind, fam Family, ok bool) {
	switch off {
	case 12:
		return MatchSAddr, MatchSAddrSet, IPv4, true
	case 16:
		return MatchDAddr, MatchDAddrSet, IPv4, true
	case 8:
		return MatchSAddr, MatchSAddrSet, IPv6, true
	case 24:
		return MatchDAddr, MatchDAddrSet, IPv6, true
	}
	return "", "", 0, false
}

// prefixCompare decodes a whole-address load of full bytes followed by a compare (a host) or
// a bitwise mask and a compare (a prefix). ok is false when es holds neither form; with ok
// true, n 0 means the form is one we do not generate.
func prefixCompare(es []any, kind MatchKind, fam Family, full uint32) (ms []Match, n int, ok bool) {
	if c, ok := cmpAt(es, 1, int(full)); ok {
		not, ok := eqNeq(c)
		if !ok {
			return nil, 0, true
		}
		a, _ := netip.AddrFromSlice(c.Data)
		return []Match{{Kind: kind, Not: not, Family: fam, Prefixes: []netip.Prefix{netip.PrefixFrom(a, fam.bits())}}}, 2, true
	}
	if b, ok := at[*expr.Bitwise](es, 1); ok {
		bits, okMask := maskBits(b.Mask)
		if b.SourceRegister != 1 || b.DestRegister != 1 || b.Len != full || !okMask || !isZero(b.Xor) || len(b.Xor) != int(full) {
			return nil, 0, true
		}
		c, ok := cmpAt(es, 2, int(full))
		if !ok {
			return nil, 0, true
		}
		not, ok := eqNeq(c)
		a, _ := netip.AddrFromSlice(c.Data)
		pfx := netip.PrefixFrom(a, bits)
		if !ok || pfx.Masked() != pfx {
			return nil, 0, true
		}
		return []Match{{Kind: kind, Not: not, Family: fam, Prefixes: []netip.Prefix{pfx}}}, 3, true
	}
	return nil, 0, false
}

// rangeCompare decodes an address range: `nft -f` of a dump writes an anonymous interval set
// whose elements nft listed merged into one range (`ip saddr != { 198.18.6.0-198.18.6.191 }`,
// the union of 198.18.6.0/25 and 198.18.6.128/26) as a `range neq`, or `cmp gte` + `cmp lte`.
// Read back as the same prefixes, a restored backup is the model, not drift. ok and n as for
// prefixCompare.
func rangeCompare(es []any, kind MatchKind, fam Family, full uint32) (ms []Match, n int, ok bool) {
	if r, ok := at[*expr.Range](es, 1); ok && r.Register == 1 && r.Op == expr.CmpOpNeq && len(r.FromData) == int(full) && len(r.ToData) == int(full) {
		if ps := bytesRange(r.FromData, r.ToData); ps != nil {
			return []Match{{Kind: kind, Not: true, Family: fam, Prefixes: ps}}, 2, true
		}
		return nil, 0, true
	}
	if lo, ok := cmpAt(es, 1, int(full)); ok && lo.Op == expr.CmpOpGte {
		if hi, ok := cmpAt(es, 2, int(full)); ok && hi.Op == expr.CmpOpLte {
			if ps := bytesRange(lo.Data, hi.Data); ps != nil {
				return []Match{{Kind: kind, Family: fam, Prefixes: ps}}, 3, true
			}
		}
		return nil, 0, true
	}
	return nil, 0, false
}

// addrLookup decodes an address lookup: in a named set of the family's addresses (setKind),
// or in an anonymous one read back as its prefixes (kind; an interval set's merged).
func (d *decoder) addrLookup(l *expr.Lookup, kind, setKind MatchKind, fam Family) ([]Match, int) {
	s := d.sets[l.SetName]
	kt := nftables.TypeIPAddr
	if fam == IPv6 {
		kt = nftables.TypeIP6Addr
	}
	if s == nil || s.set.IsMap || s.set.KeyType.Name != kt.Name {
		return nil, 0
	}
	if !s.set.Anonymous {
		return []Match{{Kind: setKind, Not: l.Invert, Family: fam, Str: l.SetName}}, 2
	}
	ps, ok := setPrefixes(s, fam)
	if !ok || len(ps) == 0 {
		return nil, 0
	}
	if s.set.Interval {
		ps = mergePrefixes(ps)
	}
	return []Match{{Kind: kind, Not: l.Invert, Family: fam, Prefixes: ps}}, 2
}

// maskBits returns the prefix length of a contiguous leading-ones mask.
func maskBits(m []byte) (int, bool) {
	bits, ended := 0, false
	for _, b := range m {
		for i := 7; i >= 0; i-- {
			one := b&(1<<i) != 0
			switch {
			case one && ended:
				return 0, false
			case one:
				bits++
			default:
				ended = true
			}
		}
	}
	return bits, true
}

// transportMatch decodes th sport/dport and icmp/icmpv6 type/code loads.
func (d *decoder) transportMatch(p *expr.Payload, es []any, st *ruleState) ([]Match, int) {
	icmpFam := Family(0)
	switch st.l4 {
	case unix.IPPROTO_ICMP:
		icmpFam = IPv4
	case unix.IPPROTO_ICMPV6:
		icmpFam = IPv6
	}
	switch {
	case p.Offset == 0 && p.Len == 4:
		c, ok := cmpAt(es, 1, 4)
		if !ok || c.Op != expr.CmpOpEq || icmpFam != 0 {
			return nil, 0
		}
		sp, dp := binary.BigEndian.Uint16(c.Data), binary.BigEndian.Uint16(c.Data[2:])
		return []Match{{Kind: MatchSPort, Ports: []PortRange{{sp, sp}}}, {Kind: MatchDPort, Ports: []PortRange{{dp, dp}}}}, 2
	case p.Offset == 0 && p.Len == 2 && icmpFam != 0:
		c, ok := cmpAt(es, 1, 2)
		if !ok {
			return nil, 0
		}
		not, ok := eqNeq(c)
		if !ok {
			return nil, 0
		}
		if not {
			return []Match{{Kind: MatchICMPTypeCode, Not: true, Family: icmpFam, Type: c.Data[0], Code: c.Data[1]}}, 2
		}
		return []Match{{Kind: MatchICMPType, Family: icmpFam, Nums: []uint8{c.Data[0]}}, {Kind: MatchICMPCode, Family: icmpFam, Nums: []uint8{c.Data[1]}}}, 2
	case (p.Offset == 0 || p.Offset == 2) && p.Len == 2:
		return d.portMatch(p, es)
	case (p.Offset == 0 || p.Offset == 1) && p.Len == 1 && icmpFam != 0:
		kind := MatchICMPType
		kt := map[Family]nftables.SetDatatype{IPv4: nftables.TypeICMPType, IPv6: nftables.TypeICMP6Type}[icmpFam]
		if p.Offset == 1 {
			kind = MatchICMPCode
			kt = map[Family]nftables.SetDatatype{IPv4: nftables.TypeICMPCode, IPv6: nftables.TypeICMPV6Code}[icmpFam]
		}
		if c, ok := cmpAt(es, 1, 1); ok {
			if not, ok := eqNeq(c); ok {
				return []Match{{Kind: kind, Not: not, Family: icmpFam, Nums: []uint8{c.Data[0]}}}, 2
			}
			return nil, 0
		}
		if l, ok := lookupAt(es, 1); ok {
			if kind == MatchICMPType && d.namedSet(l.SetName, kt) {
				return []Match{{Kind: MatchICMPTypeSet, Not: l.Invert, Family: icmpFam, Str: l.SetName}}, 2
			}
			if vs, ok := d.byteSet(l.SetName, kt); ok {
				return []Match{{Kind: kind, Not: l.Invert, Family: icmpFam, Nums: vs}}, 2
			}
		}
	}
	return nil, 0
}

// portMatch decodes th sport (offset 0) or dport (2): a compare, a `cmp gte` + `cmp lte`
// range, a negated range (the encoder's negated single port), or a lookup in an anonymous
// port set.
func (d *decoder) portMatch(p *expr.Payload, es []any) ([]Match, int) {
	kind := MatchSPort
	if p.Offset == 2 {
		kind = MatchDPort
	}
	if c, ok := cmpAt(es, 1, 2); ok {
		if not, ok := eqNeq(c); ok {
			v := binary.BigEndian.Uint16(c.Data)
			return []Match{{Kind: kind, Not: not, Ports: []PortRange{{v, v}}}}, 2
		}
		if c.Op == expr.CmpOpGte {
			if c2, ok := cmpAt(es, 2, 2); ok && c2.Op == expr.CmpOpLte {
				lo, hi := binary.BigEndian.Uint16(c.Data), binary.BigEndian.Uint16(c2.Data)
				if lo < hi {
					return []Match{{Kind: kind, Ports: []PortRange{{lo, hi}}}}, 3
				}
			}
		}
		return nil, 0
	}
	if r, ok := at[*expr.Range](es, 1); ok && r.Register == 1 && r.Op == expr.CmpOpNeq && len(r.FromData) == 2 && len(r.ToData) == 2 {
		lo, hi := binary.BigEndian.Uint16(r.FromData), binary.BigEndian.Uint16(r.ToData)
		if lo <= hi { // lo == hi: a negated single port, as the encoder writes it
			return []Match{{Kind: kind, Not: true, Ports: []PortRange{{lo, hi}}}}, 2
		}
		return nil, 0
	}
	if l, ok := lookupAt(es, 1); ok {
		if d.namedSet(l.SetName, nftables.TypeInetService) {
			setKind := MatchSPortSet
			if kind == MatchDPort {
				setKind = MatchDPortSet
			}
			return []Match{{Kind: setKind, Not: l.Invert, Str: l.SetName}}, 2
		}
		if ports, ok := d.portSet(l.SetName); ok {
			return []Match{{Kind: kind, Not: l.Invert, Ports: ports}}, 2
		}
	}
	return nil, 0
}

// namedSet reports whether name is a named (not anonymous) set, not a map, of key type kt:
// a port or ICMP type set that rules share (whatever its flags and elements, which Observe
// reads into the set itself).
func (d *decoder) namedSet(name string, kt nftables.SetDatatype) bool {
	s := d.sets[name]
	return s != nil && !s.set.Anonymous && !s.set.IsMap && s.set.KeyType.Name == kt.Name
}

// byteSet returns the sorted one-byte values of an anonymous hash set of the given type.
func (d *decoder) byteSet(name string, kt nftables.SetDatatype) ([]uint8, bool) {
	s := d.sets[name]
	if s == nil || !s.set.Anonymous || s.set.IsMap || s.set.Interval || s.set.KeyType.Name != kt.Name || len(s.elems) == 0 {
		return nil, false
	}
	var out []uint8
	for _, e := range s.elems {
		if len(e.Key) != 1 {
			return nil, false
		}
		out = append(out, e.Key[0])
	}
	return sortedUnique(out), true
}

// portSet returns the ports of an anonymous inet_service set: sorted single ports of a hash
// set, or the merged ranges of an interval set.
func (d *decoder) portSet(name string) ([]PortRange, bool) {
	s := d.sets[name]
	if s == nil || !s.set.Anonymous || s.set.IsMap || s.set.KeyType.Name != nftables.TypeInetService.Name || len(s.elems) == 0 {
		return nil, false
	}
	if !s.set.Interval {
		var out []PortRange
		for _, e := range s.elems {
			if len(e.Key) != 2 {
				return nil, false
			}
			v := binary.BigEndian.Uint16(e.Key)
			out = append(out, PortRange{v, v})
		}
		return matchPorts(out), true
	}
	ivs, ok := intervals(s.elems, 2)
	if !ok || len(ivs) == 0 {
		return nil, false
	}
	var out []PortRange
	for _, iv := range ivs {
		out = append(out, PortRange{binary.BigEndian.Uint16(iv[0]), binary.BigEndian.Uint16(iv[1])})
	}
	// Merge adjacent ranges as nft does (and as Canonical does).
	return joinPortRuns(out), true
}

// setPrefixes returns the addresses of an address set: hosts of a hash set, or the smallest
// prefix cover of each interval.
func setPrefixes(s *setData, fam Family) ([]netip.Prefix, bool) {
	n := fam.bits() / 8
	if !s.set.Interval {
		var out []netip.Prefix
		for _, e := range s.elems {
			a, ok := netip.AddrFromSlice(e.Key)
			if !ok || len(e.Key) != n {
				return nil, false
			}
			out = append(out, netip.PrefixFrom(a, fam.bits()))
		}
		slices.SortFunc(out, comparePrefix)
		return slices.Compact(out), true
	}
	ivs, ok := intervals(s.elems, n)
	if !ok {
		return nil, false
	}
	var out []netip.Prefix
	for _, iv := range ivs {
		lo, _ := netip.AddrFromSlice(iv[0])
		hi, _ := netip.AddrFromSlice(iv[1])
		out = append(out, rangePrefixes(lo, hi)...)
	}
	return out, true
}

// intervals decodes interval set elements (start elements, interval-end elements at last+1,
// open starts, a zero sentinel, in any order) into sorted inclusive [first, last] byte keys.
func intervals(elems []nftables.SetElement, n int) ([][2][]byte, bool) {
	es := slices.Clone(elems)
	for _, e := range es {
		if len(e.Key) != n {
			return nil, false
		}
	}
	// Ascending keys; at equal keys an interval end (closing the previous range) first.
	slices.SortStableFunc(es, func(a, b nftables.SetElement) int {
		if c := bytes.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		if a.IntervalEnd == b.IntervalEnd {
			return 0
		}
		if a.IntervalEnd {
			return -1
		}
		return 1
	})
	maxKey := bytes.Repeat([]byte{0xff}, n)
	var out [][2][]byte
	var start []byte
	for _, e := range es {
		if e.IntervalEnd {
			if start != nil {
				out = append(out, [2][]byte{start, decrement(e.Key)})
				start = nil
			}
			continue
		}
		if start != nil {
			// A start without its end: it runs up to the next start.
			out = append(out, [2][]byte{start, decrement(e.Key)})
		}
		start = e.Key
		if e.IntervalOpen {
			out = append(out, [2][]byte{start, maxKey})
			start = nil
		}
	}
	if start != nil {
		out = append(out, [2][]byte{start, maxKey})
	}
	return out, true
}

func decrement(b []byte) []byte {
	out := slices.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]--
		if out[i] != 0xff {
			break
		}
	}
	return out
}

// decodeSet maps a named interval set back to the model.
func decodeSet(s *setData) *Set {
	out := &Set{Name: s.set.Name, Type: SetType(s.set.KeyType.Name), Comment: s.set.Comment}
	var fam Family
	switch s.set.KeyType.Name {
	case nftables.TypeIPAddr.Name:
		fam = IPv4
	case nftables.TypeIP6Addr.Name:
		fam = IPv6
	case nftables.TypeInetService.Name, nftables.TypeICMPType.Name, nftables.TypeICMP6Type.Name:
		return decodeValueSet(s, out)
	}
	if fam == 0 || !s.set.Interval {
		// Not a set we create: keep it visible as a set of another type.
		if !s.set.Interval {
			out.Type += NoIntervalFlag
		}
		if fam == 0 {
			return out
		}
	}
	ps, ok := setPrefixes(s, fam)
	if !ok {
		out.Type += " (undecodable elements)"
		return out
	}
	out.Prefixes = mergePrefixes(ps)
	return out
}

// decodeValueSet reads a port or ICMP type set's elements into out: ports merged (as
// Canonical holds them), ICMP types each once, sorted. A set without the interval flag, or
// with elements of another width, is not one of ours and keeps only its (marked) type.
func decodeValueSet(s *setData, out *Set) *Set {
	if !s.set.Interval {
		out.Type += NoIntervalFlag
		return out
	}
	width := 1
	if s.set.KeyType.Name == nftables.TypeInetService.Name {
		width = 2
	}
	ivs, ok := intervals(s.elems, width)
	if !ok {
		out.Type += " (undecodable elements)"
		return out
	}
	val := func(b []byte) uint16 {
		if width == 1 {
			return uint16(b[0])
		}
		return binary.BigEndian.Uint16(b)
	}
	var rs []PortRange
	for _, iv := range ivs {
		rs = append(rs, PortRange{val(iv[0]), val(iv[1])})
	}
	if width == 2 {
		out.Ports = mergePorts(rs)
		return out
	}
	for _, r := range rs {
		for v := r.First; v <= r.Last; v++ {
			out.Nums = append(out.Nums, uint8(v))
		}
	}
	out.Nums = sortedUnique(out.Nums)
	return out
}

// decodeMap maps a verdict map keyed by interface name back to the model.
func decodeMap(s *setData) *Map {
	out := &Map{Name: s.set.Name, Comment: s.set.Comment}
	for _, e := range s.elems {
		key := strings.TrimRight(string(e.Key), "\x00")
		v, ok := parseVerdictData(e.Val)
		if !ok {
			v = Verdict{Kind: VerdictKind(fmt.Sprintf("undecodable %x", e.Val))}
		}
		out.Elements = append(out.Elements, MapElement{Key: key, Verdict: v})
	}
	slices.SortFunc(out.Elements, func(a, b MapElement) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// parseVerdictData decodes a vmap element's data (GetSetElements leaves VerdictData nil): a
// nested NFTA_DATA_VERDICT with NFTA_VERDICT_CODE and NFTA_VERDICT_CHAIN.
func parseVerdictData(b []byte) (Verdict, bool) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return Verdict{}, false
	}
	ad.ByteOrder = binary.BigEndian
	var code int32
	var chain string
	haveCode := false
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_VERDICT_CODE:
			code, haveCode = int32(ad.Uint32()), true
		case unix.NFTA_VERDICT_CHAIN:
			chain = ad.String()
		}
	}
	if ad.Err() != nil || !haveCode {
		return Verdict{}, false
	}
	return verdictOf(expr.VerdictKind(code), chain)
}

// bytesRange is rangePrefixes of two addresses given as bytes (4 or 16 of each), or nil when
// they are malformed or the range is empty.
func bytesRange(from, to []byte) []netip.Prefix {
	lo, ok1 := netip.AddrFromSlice(from)
	hi, ok2 := netip.AddrFromSlice(to)
	if !ok1 || !ok2 || lo.BitLen() != hi.BitLen() || hi.Less(lo) {
		return nil
	}
	return rangePrefixes(lo, hi)
}
