package nft

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

// This file turns the model into google/nftables objects and expressions: the same bytecode
// that nft 1.0.6 generates for the text String() renders (checked by the kernel tests, which
// compare `nft --debug=netlink list table` of both), so that `nft list` shows our rules as
// their text, and Observe can map the bytecode back to the model.

const (
	ifNameSize  = limits.MaxIfname + 1 // IFNAMSIZ: the bytes of an ifname key, NUL-padded
	arphrdEther = 1
)

// encodedSet is a set (named or anonymous) with its elements.
type encodedSet struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

// encodedRule is a rule's expressions; anon are the anonymous sets it looks up, which must be
// added right before it (AddSet fills in their name and transaction ID, lookups patched then).
type encodedRule struct {
	chain    string
	exprs    []expr.Any
	anon     []encodedSet
	lookups  []*expr.Lookup // lookups[i] refers to anon[i]
	userData []byte
}

// encoded is a whole ruleset ready to be queued on a connection: nothing in it can fail.
type encoded struct {
	table  *nftables.Table
	chains []*nftables.Chain // in model order, like nft -f of String() creates them
	sets   []encodedSet      // named sets, then maps
	rules  []encodedRule
}

// encoder holds what a rule's expressions refer to.
type encoder struct {
	table *nftables.Table
	named map[string]*nftables.Set
	maps  map[string]bool
}

// encode validates rs and builds its netlink objects. It returns an error, naming the
// offending object, for anything the kernel would reject or that nft could not render back:
// every name and string first goes through rs.CheckText (the limits of package limits).
func encode(rs *Ruleset) (*encoded, error) {
	if len(rs.Foreign) > 0 {
		return nil, fmt.Errorf("%s: the model cannot apply objects it only observes", rs.Foreign[0])
	}
	if err := rs.CheckText(); err != nil {
		return nil, err
	}
	t := &nftables.Table{Name: rs.Table, Family: nftables.TableFamilyINet}
	enc := &encoder{table: t, named: map[string]*nftables.Set{}, maps: map[string]bool{}}
	out := &encoded{table: t}

	var err error
	chainNames := map[string]bool{}
	if out.chains, err = encodeChains(t, rs.Chains, chainNames); err != nil {
		return nil, err
	}
	if out.sets, err = enc.encodeSets(rs.Sets); err != nil {
		return nil, err
	}
	if out.sets, err = enc.encodeMaps(out.sets, rs.Maps, chainNames); err != nil {
		return nil, err
	}
	for _, c := range rs.Chains {
		for i, r := range c.Rules {
			er, err := enc.rule(r, chainNames)
			if err != nil {
				return nil, fmt.Errorf("chain %q rule %d (%s): %w", c.Name, i+1, r.String(), err)
			}
			er.chain = c.Name
			out.rules = append(out.rules, er)
		}
	}
	return out, nil
}

// encodeChains builds the chains of table t (a base chain with its hook, priority and
// policy) and records their names in chainNames; a name declared twice, a hook other than
// forward or input and a policy other than accept or drop are errors.
func encodeChains(t *nftables.Table, chains []*Chain, chainNames map[string]bool) ([]*nftables.Chain, error) {
	var out []*nftables.Chain
	for _, c := range chains {
		if chainNames[c.Name] {
			return nil, fmt.Errorf("chain %q is declared twice", c.Name)
		}
		chainNames[c.Name] = true
		nc := &nftables.Chain{Name: c.Name, Table: t}
		out = append(out, nc)
		if c.Base == nil {
			continue
		}
		switch c.Base.Hook {
		case HookForward:
			nc.Hooknum = nftables.ChainHookForward
		case HookInput:
			nc.Hooknum = nftables.ChainHookInput
		default:
			return nil, fmt.Errorf("chain %q: unsupported hook %q", c.Name, c.Base.Hook)
		}
		nc.Type = nftables.ChainTypeFilter
		nc.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(c.Base.Priority))
		var policy nftables.ChainPolicy
		switch c.Base.Policy {
		case Accept, None:
			policy = nftables.ChainPolicyAccept
		case Drop:
			policy = nftables.ChainPolicyDrop
		default:
			return nil, fmt.Errorf("chain %q: policy %q is neither accept nor drop", c.Name, c.Base.Policy)
		}
		nc.Policy = &policy
	}
	return out, nil
}

// encodeSets builds the named interval sets and records them in enc.named: address sets
// (IPv4 or IPv6, their prefixes of the set's family and disjoint), port sets (ranges not
// reversed and disjoint) and ICMP or ICMPv6 type sets (each type once).
func (enc *encoder) encodeSets(sets []*Set) ([]encodedSet, error) {
	var out []encodedSet
	for _, s := range sets {
		if enc.named[s.Name] != nil || enc.maps[s.Name] {
			return nil, fmt.Errorf("set %q is declared twice", s.Name)
		}
		var fam Family
		ns := &nftables.Set{Table: enc.table, Name: s.Name, Interval: true, Comment: s.Comment}
		switch s.Type {
		case SetIPv4:
			ns.KeyType, fam = nftables.TypeIPAddr, IPv4
		case SetIPv6:
			ns.KeyType, fam = nftables.TypeIP6Addr, IPv6
		case SetPorts, SetICMPTypes, SetICMPv6Types:
			elems, err := valueSetElements(s)
			if err != nil {
				return nil, fmt.Errorf("set %q: %w", s.Name, err)
			}
			ns.KeyType = map[SetType]nftables.SetDatatype{SetPorts: nftables.TypeInetService,
				SetICMPTypes: nftables.TypeICMPType, SetICMPv6Types: nftables.TypeICMP6Type}[s.Type]
			enc.named[s.Name] = ns
			out = append(out, encodedSet{set: ns, elems: elems})
			continue
		default:
			return nil, fmt.Errorf("set %q: unsupported type %q", s.Name, s.Type)
		}
		if len(s.Ports) > 0 || len(s.Nums) > 0 {
			return nil, fmt.Errorf("set %q: an address set holds prefixes only", s.Name)
		}
		if err := checkPrefixes(fam, s.Prefixes); err != nil {
			return nil, fmt.Errorf("set %q: %w", s.Name, err)
		}
		ranges, err := disjointRanges(s.Prefixes)
		if err != nil {
			return nil, fmt.Errorf("set %q: %w", s.Name, err)
		}
		enc.named[s.Name] = ns
		out = append(out, encodedSet{set: ns, elems: intervalElements(ranges, addrBytes, fam.bits())})
	}
	return out, nil
}

// valueSetElements checks the elements of a port or ICMP type set and encodes them as
// intervals, as nft encodes the text Set.Elements renders: ports (2 bytes, big endian) in the
// model's order, not reversed, not overlapping (the kernel refuses overlapping intervals with
// EEXIST); ICMP types (1 byte) each once, runs of consecutive types as one interval. An empty
// set is valid (it matches nothing; the compiler never makes one).
func valueSetElements(s *Set) ([]nftables.SetElement, error) {
	if len(s.Prefixes) > 0 {
		return nil, fmt.Errorf("a %s set holds no prefixes", s.Type)
	}
	if s.Type == SetPorts {
		if len(s.Nums) > 0 {
			return nil, fmt.Errorf("a port set holds ports only")
		}
		for _, p := range s.Ports {
			if p.Last < p.First {
				return nil, fmt.Errorf("port range %d-%d is reversed", p.First, p.Last)
			}
		}
		sorted := slices.Clone(s.Ports)
		slices.SortFunc(sorted, func(a, b PortRange) int { return int(a.First) - int(b.First) })
		for i := 1; i < len(sorted); i++ {
			if sorted[i].First <= sorted[i-1].Last {
				return nil, fmt.Errorf("ports %s and %s overlap", sorted[i-1], sorted[i])
			}
		}
		return valueElements(sorted, 2), nil
	}
	if len(s.Ports) > 0 {
		return nil, fmt.Errorf("an ICMP type set holds types only")
	}
	if err := noDuplicates(s.Nums); err != nil {
		return nil, err
	}
	return valueElements(numRuns(sortedUnique(s.Nums)), 1), nil
}

// valueElements encodes sorted disjoint ranges of width-byte big-endian values like
// intervalElements: a zero sentinel unless the first range starts at zero, then each range's
// start and an interval end at last+1, or its start flagged open when last is the maximum.
func valueElements(rs []PortRange, width int) []nftables.SetElement {
	key := func(v uint32) []byte {
		if width == 1 {
			return []byte{byte(v)}
		}
		return be16(uint16(v))
	}
	maxV := uint32(1)<<(8*width) - 1
	var out []nftables.SetElement
	if len(rs) > 0 && rs[0].First != 0 {
		out = append(out, nftables.SetElement{Key: key(0), IntervalEnd: true})
	}
	for _, r := range rs {
		if uint32(r.Last) >= maxV {
			out = append(out, nftables.SetElement{Key: key(uint32(r.First)), IntervalOpen: true})
			continue
		}
		out = append(out, nftables.SetElement{Key: key(uint32(r.First))}, nftables.SetElement{Key: key(uint32(r.Last) + 1), IntervalEnd: true})
	}
	return out
}

// encodeMaps appends the verdict maps (interface name -> verdict; each key once, each
// verdict's chain in chainNames) to out and records them in enc.maps.
func (enc *encoder) encodeMaps(out []encodedSet, maps []*Map, chainNames map[string]bool) ([]encodedSet, error) {
	for _, m := range maps {
		if enc.named[m.Name] != nil || enc.maps[m.Name] {
			return nil, fmt.Errorf("map %q is declared twice", m.Name)
		}
		enc.maps[m.Name] = true
		ns := &nftables.Set{Table: enc.table, Name: m.Name, IsMap: true, KeyType: nftables.TypeIFName,
			DataType: nftables.TypeVerdict, KeyByteOrder: binaryutil.NativeEndian, Comment: m.Comment}
		keys := map[string]bool{}
		var elems []nftables.SetElement
		for _, e := range m.Elements {
			if keys[e.Key] {
				return nil, fmt.Errorf("map %q: key %q appears twice", m.Name, e.Key)
			}
			keys[e.Key] = true
			v, err := verdictExpr(e.Verdict, chainNames)
			if err != nil {
				return nil, fmt.Errorf("map %q: element %q: %w", m.Name, e.Key, err)
			}
			elems = append(elems, nftables.SetElement{Key: ifname(e.Key), VerdictData: v})
		}
		out = append(out, encodedSet{set: ns, elems: elems})
	}
	return out, nil
}

// queue adds the whole table replacement to the connection's batch: add, delete and add the
// table (so it works whether the table exists or not), chains, sets with elements, rules.
func (e *encoded) queue(c *nftables.Conn) error {
	c.AddTable(e.table)
	c.DelTable(e.table)
	c.AddTable(e.table)
	chains := map[string]*nftables.Chain{}
	for _, ch := range e.chains {
		chains[ch.Name] = c.AddChain(ch)
	}
	for _, s := range e.sets {
		if err := c.AddSet(s.set, s.elems); err != nil {
			return fmt.Errorf("set %q: %w", s.set.Name, err)
		}
	}
	for i := range e.rules {
		r := &e.rules[i]
		for j, s := range r.anon {
			if err := c.AddSet(s.set, s.elems); err != nil {
				return fmt.Errorf("anonymous set of chain %q: %w", r.chain, err)
			}
			r.lookups[j].SetName = s.set.Name
			r.lookups[j].SetID = s.set.ID
		}
		c.AddRule(&nftables.Rule{Table: e.table, Chain: chains[r.chain], Exprs: r.exprs, UserData: r.userData})
	}
	return nil
}

// checkName is limits.CheckName: the table, chain, set and map names nft text and the
// kernel both take.
func checkName(what, name string) error { return limits.CheckName(what, name) }

// checkIfName is limits.CheckIfname: the interface names nft text writes literally.
func checkIfName(name string) error { return limits.CheckIfname(name) }

func checkPrefixes(fam Family, ps []netip.Prefix) error {
	for _, p := range ps {
		if !p.IsValid() {
			return fmt.Errorf("invalid prefix %v", p)
		}
		if p.Addr().Is4In6() || p.Addr().Zone() != "" || familyOf(p.Addr()) != fam {
			return fmt.Errorf("prefix %s is not an IPv%d prefix", p, fam)
		}
	}
	return nil
}

func familyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

func (f Family) bits() int {
	if f == IPv6 {
		return 128
	}
	return 32
}

// disjointRanges returns the prefixes of a named set as sorted inclusive ranges, one per
// prefix (nft does not merge adjacent elements of a named set), rejecting overlaps, which the
// kernel would reject with EEXIST.
func disjointRanges(ps []netip.Prefix) ([]addrRange, error) {
	sorted := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		sorted[i] = p.Masked()
	}
	slices.SortFunc(sorted, comparePrefix)
	var out []addrRange
	for i, p := range sorted {
		if i > 0 && sorted[i-1].Overlaps(p) {
			return nil, fmt.Errorf("prefixes %s and %s overlap", sorted[i-1], p)
		}
		out = append(out, addrRange{p.Addr(), lastAddr(p)})
	}
	return out, nil
}

func addrBytes(a netip.Addr) []byte { return a.AsSlice() }

// intervalElements encodes inclusive ranges as nft does: a leading interval-end sentinel at
// zero when the first range does not start at zero, then for each range its start and an
// interval end at last+1, or, when last+1 wraps around, the start flagged as open.
func intervalElements(ranges []addrRange, key func(netip.Addr) []byte, bits int) []nftables.SetElement {
	if len(ranges) == 0 {
		return nil
	}
	var out []nftables.SetElement
	zero := make([]byte, bits/8)
	if !isZero(key(ranges[0].lo)) {
		out = append(out, nftables.SetElement{Key: zero, IntervalEnd: true})
	}
	for _, r := range ranges {
		next := r.hi.Next()
		if !next.IsValid() {
			out = append(out, nftables.SetElement{Key: key(r.lo), IntervalOpen: true})
			continue
		}
		out = append(out, nftables.SetElement{Key: key(r.lo)}, nftables.SetElement{Key: key(next), IntervalEnd: true})
	}
	return out
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// portElements encodes port ranges like intervalElements (merged: nft merges the elements
// of an anonymous interval set).
func portElements(ports []PortRange) []nftables.SetElement {
	var out []nftables.SetElement
	if ports[0].First != 0 {
		out = append(out, nftables.SetElement{Key: []byte{0, 0}, IntervalEnd: true})
	}
	for _, p := range ports {
		if p.Last == 0xffff {
			out = append(out, nftables.SetElement{Key: be16(p.First), IntervalOpen: true})
			continue
		}
		out = append(out, nftables.SetElement{Key: be16(p.First)}, nftables.SetElement{Key: be16(p.Last + 1), IntervalEnd: true})
	}
	return out
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func ifname(s string) []byte {
	b := make([]byte, ifNameSize)
	copy(b, s)
	return b
}

func verdictExpr(v Verdict, chains map[string]bool) (*expr.Verdict, error) {
	switch v.Kind {
	case Accept:
		return &expr.Verdict{Kind: expr.VerdictAccept}, nil
	case Drop:
		return &expr.Verdict{Kind: expr.VerdictDrop}, nil
	case Return:
		return &expr.Verdict{Kind: expr.VerdictReturn}, nil
	case Jump, Goto:
		if !chains[v.Chain] {
			return nil, fmt.Errorf("%s to chain %q, which the table does not declare", v.Kind, v.Chain)
		}
		k := expr.VerdictJump
		if v.Kind == Goto {
			k = expr.VerdictGoto
		}
		return &expr.Verdict{Kind: k, Chain: v.Chain}, nil
	default:
		return nil, fmt.Errorf("unknown verdict %q", v.Kind)
	}
}

// ruleCtx tracks the dependencies a rule has established so far (nft inserts them implicitly
// in text; we require them explicitly so that text and bytecode stay the same).
type ruleCtx struct {
	family Family // from a positive meta nfproto
	l4     uint8  // from a positive single meta l4proto
}

func (enc *encoder) rule(r *Rule, chains map[string]bool) (encodedRule, error) {
	var er encodedRule
	if r.VMap != nil && r.Verdict.Kind != None {
		return er, fmt.Errorf("a rule has a verdict map dispatch or a verdict, not both")
	}
	if err := r.checkText(); err != nil {
		return er, err
	}
	var ctx ruleCtx
	ms := r.Matches
	for i := 0; i < len(ms); i++ {
		m := &ms[i]
		if err := enc.checkMatch(m, &ctx); err != nil {
			return er, fmt.Errorf("match %d (%s): %w", i+1, m.String(), err)
		}
		// nft merges two adjacent equality matches on contiguous transport header bytes
		// into one load: `th sport 80 th dport 443`, `icmp type 8 icmp code 0`.
		if i+1 < len(ms) && mergeable(m, &ms[i+1]) {
			n := &ms[i+1]
			if err := enc.checkMatch(n, &ctx); err != nil {
				return er, fmt.Errorf("match %d (%s): %w", i+2, n.String(), err)
			}
			var data []byte
			if m.Kind == MatchSPort {
				data = append(be16(m.Ports[0].First), be16(n.Ports[0].First)...)
			} else {
				data = []byte{m.Nums[0], n.Nums[0]}
			}
			er.exprs = append(er.exprs, transport(0, uint32(len(data))), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data})
			i++
			continue
		}
		if err := enc.match(&er, m); err != nil {
			return er, fmt.Errorf("match %d (%s): %w", i+1, m.String(), err)
		}
	}
	if r.Counter {
		er.exprs = append(er.exprs, &expr.Counter{})
	}
	if r.Log != nil {
		l := &expr.Log{}
		if r.Log.Prefix != "" {
			l.Key = 1 << unix.NFTA_LOG_PREFIX
			l.Data = []byte(r.Log.Prefix)
		}
		er.exprs = append(er.exprs, l)
	}
	switch {
	case r.VMap != nil:
		key, err := ifKey(r.VMap.Key)
		if err != nil {
			return er, err
		}
		if !enc.maps[r.VMap.Map] {
			return er, fmt.Errorf("verdict map %q is not declared", r.VMap.Map)
		}
		er.exprs = append(er.exprs, &expr.Meta{Key: key, Register: 1},
			&expr.Lookup{SourceRegister: 1, SetName: r.VMap.Map, DestRegister: 0, IsDestRegSet: true})
	case r.Verdict.Kind != None:
		v, err := verdictExpr(r.Verdict, chains)
		if err != nil {
			return er, err
		}
		er.exprs = append(er.exprs, v)
	}
	if len(er.exprs) == 0 {
		return er, fmt.Errorf("rule has no match, statement or verdict")
	}
	if r.Comment != "" {
		er.userData = userdata.AppendString(nil, userdata.TypeComment, r.Comment)
	}
	return er, nil
}

func ifKey(k MatchKind) (expr.MetaKey, error) {
	switch k {
	case MatchIIFName:
		return expr.MetaKeyIIFNAME, nil
	case MatchOIFName:
		return expr.MetaKeyOIFNAME, nil
	}
	return 0, fmt.Errorf("verdict map key %q is neither iifname nor oifname", k)
}

func mergeable(a, b *Match) bool {
	if a.Not || b.Not {
		return false
	}
	switch {
	case a.Kind == MatchSPort && b.Kind == MatchDPort:
		return len(a.Ports) == 1 && len(b.Ports) == 1 && a.Ports[0].First == a.Ports[0].Last && b.Ports[0].First == b.Ports[0].Last
	case a.Kind == MatchICMPType && b.Kind == MatchICMPCode:
		return len(a.Nums) == 1 && len(b.Nums) == 1 && a.Family == b.Family
	}
	return false
}

// checkMatch validates a match and its dependencies, and records what it establishes.
func (enc *encoder) checkMatch(m *Match, ctx *ruleCtx) error {
	switch m.Kind {
	case MatchNFProto:
		if m.Family != IPv4 && m.Family != IPv6 {
			return fmt.Errorf("family %d is neither 4 nor 6", m.Family)
		}
		if !m.Not {
			ctx.family = m.Family
		}
	case MatchIIFName, MatchOIFName:
		return checkIfName(m.Str)
	case MatchCtState:
		return checkCtState(m)
	case MatchL4Proto:
		if len(m.Protos) == 0 {
			return fmt.Errorf("no protocol")
		}
		if err := noDuplicates(m.Protos); err != nil {
			return err
		}
		if !m.Not && len(m.Protos) == 1 {
			ctx.l4 = m.Protos[0]
		}
	case MatchSAddr, MatchDAddr:
		if err := needFamily(m, ctx); err != nil {
			return err
		}
		if len(m.Prefixes) == 0 {
			return fmt.Errorf("no prefix")
		}
		if err := checkPrefixes(m.Family, m.Prefixes); err != nil {
			return err
		}
	case MatchSAddrSet, MatchDAddrSet:
		if err := needFamily(m, ctx); err != nil {
			return err
		}
		s := enc.named[m.Str]
		if s == nil {
			return fmt.Errorf("set %q is not declared", m.Str)
		}
		if (m.Family == IPv4) != (s.KeyType.Name == nftables.TypeIPAddr.Name) {
			return fmt.Errorf("set %q does not hold IPv%d addresses", m.Str, m.Family)
		}
	case MatchSPort, MatchDPort:
		if len(m.Ports) == 0 {
			return fmt.Errorf("no port")
		}
		for _, p := range m.Ports {
			if p.Last < p.First {
				return fmt.Errorf("port range %d-%d is reversed", p.First, p.Last)
			}
		}
	case MatchSPortSet, MatchDPortSet:
		return enc.checkSetLookup(m, nftables.TypeInetService)
	case MatchICMPType, MatchICMPCode, MatchICMPTypeCode, MatchICMPTypeSet:
		if err := checkICMP(m, ctx); err != nil {
			return err
		}
		if m.Kind == MatchICMPTypeSet {
			kt := nftables.TypeICMPType
			if m.Family == IPv6 {
				kt = nftables.TypeICMP6Type
			}
			return enc.checkSetLookup(m, kt)
		}
	case MatchEtherSAddr:
		if _, err := parseMAC(m.Str); err != nil {
			return err
		}
	case MatchUnknown:
		return fmt.Errorf("an unknown match (read back from the kernel) cannot be applied")
	default:
		return fmt.Errorf("unknown match kind %q", m.Kind)
	}
	return nil
}

// checkSetLookup checks that the set a port or ICMP type set match names is declared with
// key type kt.
func (enc *encoder) checkSetLookup(m *Match, kt nftables.SetDatatype) error {
	s := enc.named[m.Str]
	if s == nil {
		return fmt.Errorf("set %q is not declared", m.Str)
	}
	if s.KeyType.Name != kt.Name {
		return fmt.Errorf("set %q is of type %s, the match needs %s", m.Str, s.KeyType.Name, kt.Name)
	}
	return nil
}

// needFamily checks that an address or ICMP match has a family (4 or 6) and that an earlier
// `meta nfproto` of the rule established it.
func needFamily(m *Match, ctx *ruleCtx) error {
	if m.Family != IPv4 && m.Family != IPv6 {
		return fmt.Errorf("family %d is neither 4 nor 6", m.Family)
	}
	if ctx.family != m.Family {
		return fmt.Errorf("needs a preceding `meta nfproto %s` in the rule", familyName(m.Family))
	}
	return nil
}

// checkCtState checks a conntrack state match: a non-empty subset of the four states, one
// state when negated.
func checkCtState(m *Match) error {
	if m.CtState == 0 || m.CtState&^(CtInvalid|CtEstablished|CtRelated|CtNew) != 0 {
		return fmt.Errorf("conntrack states %#x are not a non-empty subset of invalid,established,related,new", uint8(m.CtState))
	}
	if m.Not && m.CtState&(m.CtState-1) != 0 {
		// nft compiles `ct state != a,b` to "state != a|b", which is true for every
		// packet (a packet has one state), not to "state is neither a nor b".
		return fmt.Errorf("a negated conntrack state match must name exactly one state")
	}
	return nil
}

// checkICMP checks an ICMP type, code or type-and-code match: its family and the matching
// `meta l4proto` (1 or 58) established earlier in the rule, and values given once each.
func checkICMP(m *Match, ctx *ruleCtx) error {
	if err := needFamily(m, ctx); err != nil {
		return err
	}
	want := uint8(unix.IPPROTO_ICMP)
	if m.Family == IPv6 {
		want = unix.IPPROTO_ICMPV6
	}
	if ctx.l4 != want {
		return fmt.Errorf("needs a preceding `meta l4proto %d` in the rule", want)
	}
	if m.Kind != MatchICMPTypeCode && m.Kind != MatchICMPTypeSet {
		if len(m.Nums) == 0 {
			return fmt.Errorf("no value")
		}
		if err := noDuplicates(m.Nums); err != nil {
			return err
		}
	}
	return nil
}

func noDuplicates[T comparable](vs []T) error {
	seen := map[T]bool{}
	for _, v := range vs {
		if seen[v] {
			return fmt.Errorf("value %v appears twice", v)
		}
		seen[v] = true
	}
	return nil
}

func parseMAC(s string) ([]byte, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return nil, fmt.Errorf("%q is not an Ethernet MAC address", s)
	}
	return hw, nil
}

func cmpOp(not bool) expr.CmpOp {
	if not {
		return expr.CmpOpNeq
	}
	return expr.CmpOpEq
}

func transport(off, n uint32) *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: n}
}

func native32(v uint32) []byte { return binaryutil.NativeEndian.PutUint32(v) }

// match appends the expressions of one (validated) match.
func (enc *encoder) match(er *encodedRule, m *Match) error {
	op := cmpOp(m.Not)
	switch m.Kind {
	case MatchNFProto:
		v := byte(unix.NFPROTO_IPV4)
		if m.Family == IPv6 {
			v = unix.NFPROTO_IPV6
		}
		er.exprs = append(er.exprs, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: []byte{v}})
	case MatchIIFName, MatchOIFName:
		key, _ := ifKey(m.Kind)
		er.exprs = append(er.exprs, &expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: ifname(m.Str)})
	case MatchCtState:
		er.exprs = append(er.exprs, &expr.Ct{Register: 1, Key: expr.CtKeySTATE})
		if m.Not {
			// nft: `ct state != x` compares the whole value.
			er.exprs = append(er.exprs, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: native32(uint32(m.CtState))})
		} else {
			er.exprs = append(er.exprs,
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(uint32(m.CtState)), Xor: native32(0)},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: native32(0)})
		}
	case MatchL4Proto:
		er.exprs = append(er.exprs, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1})
		if len(m.Protos) == 1 {
			er.exprs = append(er.exprs, &expr.Cmp{Op: op, Register: 1, Data: []byte{m.Protos[0]}})
			return nil
		}
		enc.anonSet(er, nftables.TypeInetProto, false, byteElements(sortedUnique(m.Protos)), m.Not)
	case MatchSAddr, MatchDAddr:
		enc.addrMatch(er, m)
	case MatchSAddrSet, MatchDAddrSet:
		off, n := addrOffset(m.Kind, m.Family)
		s := enc.named[m.Str]
		er.exprs = append(er.exprs, network(off, n), &expr.Lookup{SourceRegister: 1, SetName: s.Name, Invert: m.Not})
	case MatchSPort, MatchDPort:
		enc.portMatch(er, m)
	case MatchSPortSet, MatchDPortSet:
		off := uint32(0)
		if m.Kind == MatchDPortSet {
			off = 2
		}
		er.exprs = append(er.exprs, transport(off, 2), &expr.Lookup{SourceRegister: 1, SetName: m.Str, Invert: m.Not})
	case MatchICMPTypeSet:
		er.exprs = append(er.exprs, transport(0, 1), &expr.Lookup{SourceRegister: 1, SetName: m.Str, Invert: m.Not})
	case MatchICMPType, MatchICMPCode:
		off := uint32(0)
		kt := nftables.TypeICMPType
		if m.Family == IPv6 {
			kt = nftables.TypeICMP6Type
		}
		if m.Kind == MatchICMPCode {
			off = 1
			kt = nftables.TypeICMPCode
			if m.Family == IPv6 {
				kt = nftables.TypeICMPV6Code
			}
		}
		er.exprs = append(er.exprs, transport(off, 1))
		if len(m.Nums) == 1 {
			er.exprs = append(er.exprs, &expr.Cmp{Op: op, Register: 1, Data: []byte{m.Nums[0]}})
			return nil
		}
		enc.anonSet(er, kt, false, byteElements(sortedUnique(m.Nums)), m.Not)
	case MatchICMPTypeCode:
		er.exprs = append(er.exprs, transport(0, 2), &expr.Cmp{Op: op, Register: 1, Data: []byte{m.Type, m.Code}})
	case MatchEtherSAddr:
		mac, _ := parseMAC(m.Str)
		er.exprs = append(er.exprs,
			&expr.Meta{Key: expr.MetaKeyIIFTYPE, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint16(arphrdEther)},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
			&expr.Cmp{Op: op, Register: 1, Data: mac})
	}
	return nil
}

// addrMatch appends an address match: one prefix as a compare of the whole address, of its
// whole bytes or under a mask; several as a lookup in an anonymous set (of addresses when all
// are hosts, else of intervals).
func (enc *encoder) addrMatch(er *encodedRule, m *Match) {
	op := cmpOp(m.Not)
	off, n := addrOffset(m.Kind, m.Family)
	if len(m.Prefixes) == 1 {
		p := m.Prefixes[0].Masked()
		a := p.Addr().AsSlice()
		switch {
		case p.Bits() == len(a)*8:
			er.exprs = append(er.exprs, network(off, n), &expr.Cmp{Op: op, Register: 1, Data: a})
		case p.Bits()%8 == 0 && p.Bits() > 0:
			er.exprs = append(er.exprs, network(off, uint32(p.Bits()/8)), &expr.Cmp{Op: op, Register: 1, Data: a[:p.Bits()/8]})
		default:
			er.exprs = append(er.exprs, network(off, n),
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: prefixMask(p.Bits(), len(a)), Xor: make([]byte, len(a))},
				&expr.Cmp{Op: op, Register: 1, Data: a})
		}
		return
	}
	er.exprs = append(er.exprs, network(off, n))
	kt := nftables.TypeIPAddr
	if m.Family == IPv6 {
		kt = nftables.TypeIP6Addr
	}
	if allHosts(m.Prefixes) {
		var elems []nftables.SetElement
		for _, p := range matchPrefixes(m.Prefixes) {
			elems = append(elems, nftables.SetElement{Key: p.Addr().AsSlice()})
		}
		enc.anonSet(er, kt, false, elems, m.Not)
		return
	}
	enc.anonSet(er, kt, true, intervalElements(mergeRanges(m.Prefixes), addrBytes, m.Family.bits()), m.Not)
}

// portMatch appends a port match: one port or range as compares (a negated port as a
// one-port range); several as a lookup in an anonymous set (of ports, or of intervals when
// a range is among them).
func (enc *encoder) portMatch(er *encodedRule, m *Match) {
	op := cmpOp(m.Not)
	off := uint32(0)
	if m.Kind == MatchDPort {
		off = 2
	}
	er.exprs = append(er.exprs, transport(off, 2))
	if len(m.Ports) == 1 {
		p := m.Ports[0]
		switch {
		case p.First == p.Last && !m.Not:
			er.exprs = append(er.exprs, &expr.Cmp{Op: op, Register: 1, Data: be16(p.First)})
		case m.Not:
			// A negated single port is a one-port range too: nft lists two adjacent
			// `cmp neq` port matches as `th sport != 1 th dport != 2`, and `nft -f` of that
			// merges them into one 4-byte `!=`, which means "sport != 1 OR dport != 2".
			// `!= 1-1` lists and restores as itself.
			er.exprs = append(er.exprs, &expr.Range{Op: expr.CmpOpNeq, Register: 1, FromData: be16(p.First), ToData: be16(p.Last)})
		default:
			er.exprs = append(er.exprs, &expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: be16(p.First)},
				&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: be16(p.Last)})
		}
		return
	}
	ports := matchPorts(m.Ports)
	interval := false
	for _, p := range ports {
		interval = interval || p.First != p.Last
	}
	if !interval {
		var elems []nftables.SetElement
		for _, p := range ports {
			elems = append(elems, nftables.SetElement{Key: be16(p.First)})
		}
		enc.anonSet(er, nftables.TypeInetService, false, elems, m.Not)
		return
	}
	enc.anonSet(er, nftables.TypeInetService, true, portElements(ports), m.Not)
}

func allHosts(ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Bits() != p.Addr().BitLen() {
			return false
		}
	}
	return true
}

func byteElements(vs []uint8) []nftables.SetElement {
	out := make([]nftables.SetElement, len(vs))
	for i, v := range vs {
		out[i] = nftables.SetElement{Key: []byte{v}}
	}
	return out
}

func network(off, n uint32) *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}
}

// addrOffset is the offset and length of the address a match loads.
func addrOffset(k MatchKind, f Family) (uint32, uint32) {
	src := k == MatchSAddr || k == MatchSAddrSet
	switch {
	case f == IPv6 && src:
		return 8, 16
	case f == IPv6:
		return 24, 16
	case src:
		return 12, 4
	default:
		return 16, 4
	}
}

func prefixMask(bits, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < bits; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return b
}

// anonSet adds an anonymous constant set for a match with several values, and its lookup.
func (enc *encoder) anonSet(er *encodedRule, kt nftables.SetDatatype, interval bool, elems []nftables.SetElement, invert bool) {
	s := &nftables.Set{Table: enc.table, Anonymous: true, Constant: true, Interval: interval, AutoMerge: interval, KeyType: kt}
	l := &expr.Lookup{SourceRegister: 1, Invert: invert}
	er.anon = append(er.anon, encodedSet{set: s, elems: elems})
	er.lookups = append(er.lookups, l)
	er.exprs = append(er.exprs, l)
}
