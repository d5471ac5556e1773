// Package simulate is the packet tracer: an interpreter of the nftables ruleset model
// (reconcile/nft) that evaluates a packet exactly as the kernel would evaluate the table, and
// the reachability questions built on it (`reconcile explain`, `reconcile test`, and the
// oracle of the compiler's tests).
//
// The tracer interprets the nft model, not Calico rules, so that it finds bugs in the
// compiler instead of repeating them. It is strict where the kernel would silently do the
// wrong thing: a reference to a missing chain, set or map, a match whose protocol dependency
// is missing from its rule (the kernel would read unrelated header bytes), or an expression it
// does not know is an error in the Result, never a silent accept.
package simulate

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// Packet is the first packet of a flow as a base chain of the table sees it.
type Packet struct {
	// Hook selects the base chains that run: forward or input.
	Hook nft.Hook
	// IIF and OIF are the input and output interface names. At the input hook there is no
	// output interface: oifname matches never hold there. In the forward hook "" is a device
	// like any other (the uplink, which no endpoint map holds).
	IIF, OIF string
	// Src and Dst are the addresses; both of one family, which is the packet's nfproto.
	Src, Dst netip.Addr
	// SrcMAC is the source MAC of the link-layer header; "" means the packet has none, and
	// then `ether saddr` matches never hold (the kernel breaks the rule), negated or not.
	SrcMAC string
	// Proto is the transport protocol number (meta l4proto).
	Proto uint8
	// SPort and DPort are read only when Proto is tcp, udp, sctp or udplite.
	SPort, DPort uint16
	// ICMPType and ICMPCode are read only when Proto is icmp (IPv4) or icmpv6 (IPv6).
	ICMPType, ICMPCode uint8
	// Ct is the conntrack state; zero means new.
	Ct nft.CtState
}

// Family returns the packet's IP family (from Src), or 0 when Src is not valid.
func (p Packet) Family() nft.Family {
	switch {
	case p.Src.Is4():
		return nft.IPv4
	case p.Src.Is6():
		return nft.IPv6
	}
	return 0
}

func (p Packet) ct() nft.CtState {
	if p.Ct == 0 {
		return nft.CtNew
	}
	return p.Ct
}

// String renders the packet compactly: `forward caliA->caliB 198.18.1.1->198.18.1.2 tcp
// 50000->80`.
func (p Packet) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q->%q %s->%s %s", p.Hook, p.IIF, p.OIF, p.Src, p.Dst, protoName(p.Proto))
	switch {
	case hasPorts(p.Proto):
		fmt.Fprintf(&b, " %d->%d", p.SPort, p.DPort)
	case isICMP(p.Proto, p.Family()):
		fmt.Fprintf(&b, " type %d code %d", p.ICMPType, p.ICMPCode)
	}
	if p.Ct != 0 && p.Ct != nft.CtNew {
		fmt.Fprintf(&b, " ct %s", p.Ct)
	}
	return b.String()
}

// Step is one event of a trace, in order: a chain entered, a rule that matched (with what its
// statement did), or a chain's end.
type Step struct {
	// Chain is the chain the event happened in.
	Chain string `json:"chain"`
	// Index is the 1-based position of the rule in Chain, 0 for events that are not a rule's
	// (entering a chain, falling off its end, a base chain's policy).
	Index int `json:"index,omitempty"`
	// Rule is the nft text of the rule (empty for events that are not a rule's).
	Rule string `json:"rule,omitempty"`
	// Event says what happened: "enter", "log", "accept", "drop", "continue", "jump X",
	// "goto X", "return", "vmap miss", "end (return)", "policy accept", "policy drop".
	Event string `json:"event"`
}

func (s Step) String() string {
	if s.Index == 0 {
		return fmt.Sprintf("%s: %s", s.Chain, s.Event)
	}
	return fmt.Sprintf("%s[%d] %s: %s", s.Chain, s.Index, s.Rule, s.Event)
}

// BaseResult is what one base chain decided.
type BaseResult struct {
	// Chain is the base chain's name; Hook and Priority its hook.
	Chain    string
	Hook     nft.Hook
	Priority int
	// Verdict is Accept or Drop.
	Verdict nft.VerdictKind
	// Rule is the rule that decided (nil when the policy decided), found in RuleChain at the
	// 1-based Index.
	Rule      *nft.Rule
	RuleChain string
	Index     int
	// Dispatched is true when a verdict-map lookup found the packet's interface on the way:
	// the base chain handed the packet to a per-endpoint chain.
	Dispatched bool
}

// Result is the outcome of a trace.
type Result struct {
	// Verdict is Accept or Drop (Drop also when Err is set: never a silent accept).
	Verdict nft.VerdictKind
	// Rule is the rule that decided the final verdict, nil when a base chain's policy did (or
	// no base chain exists for the hook: the kernel then accepts).
	Rule *nft.Rule
	// Chain is the chain the deciding rule is in, or the base chain whose policy decided.
	Chain string
	// Logged are the prefixes of the log statements the packet hit, in order.
	Logged []string
	// Steps are the events of the trace in order.
	Steps []Step
	// Bases are the base chains that ran, in order, with what each decided.
	Bases []BaseResult
	// Err is set when the ruleset cannot be evaluated (a missing chain, set or map, a match
	// without its protocol dependency, an unknown expression, a jump loop).
	Err error
}

// Base returns the result of the base chain with the given name, or nil when it did not run.
func (r *Result) Base(name string) *BaseResult {
	for i := range r.Bases {
		if r.Bases[i].Chain == name {
			return &r.Bases[i]
		}
	}
	return nil
}

// maxJumpDepth is the kernel's NFT_JUMP_STACK_SIZE.
const maxJumpDepth = 16

// maxRules bounds the rules one trace evaluates, against loops the kernel would have refused.
const maxRules = 1 << 16

// Trace runs packet p through the base chains of rs hooked at p.Hook, in priority order (ties
// by name). An accept ends only the current base chain and the packet moves on to the next;
// a drop is final; a base chain that ends without a verdict applies its policy.
func Trace(rs *nft.Ruleset, p Packet) Result { return Prepare(rs).Trace(p) }

// Prepared is a ruleset indexed for tracing many packets (chains, sets and maps by name, base
// chains by hook in priority order). It must not be used after rs changes.
type Prepared struct {
	rs     *nft.Ruleset
	chains map[string]*nft.Chain
	sets   map[string]*nft.Set
	maps   map[string]*nft.Map
	bases  map[nft.Hook][]*nft.Chain
}

// Prepare indexes rs for Trace; rs may be nil (every trace then fails).
func Prepare(rs *nft.Ruleset) *Prepared {
	pr := &Prepared{rs: rs, chains: map[string]*nft.Chain{}, sets: map[string]*nft.Set{}, maps: map[string]*nft.Map{}, bases: map[nft.Hook][]*nft.Chain{}}
	if rs == nil {
		return pr
	}
	for _, c := range rs.Chains {
		pr.chains[c.Name] = c
		if c.Base != nil {
			pr.bases[c.Base.Hook] = append(pr.bases[c.Base.Hook], c)
		}
	}
	for _, s := range rs.Sets {
		pr.sets[s.Name] = s
	}
	for _, m := range rs.Maps {
		pr.maps[m.Name] = m
	}
	for _, bs := range pr.bases {
		slices.SortStableFunc(bs, func(a, b *nft.Chain) int {
			return cmp.Or(cmp.Compare(a.Base.Priority, b.Base.Priority), cmp.Compare(a.Name, b.Name))
		})
	}
	return pr
}

// Trace is Trace over the prepared ruleset.
func (pr *Prepared) Trace(p Packet) Result {
	t := &tracer{p: p, chains: pr.chains, sets: pr.sets, maps: pr.maps}
	res := Result{Verdict: nft.Drop}
	if pr.rs == nil {
		res.Err = errors.New("no ruleset")
		return res
	}
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		res.Err = errors.New("packet needs a source and a destination address")
		return res
	}
	if p.Src.Is4() != p.Dst.Is4() {
		res.Err = fmt.Errorf("source %s and destination %s are of different families", p.Src, p.Dst)
		return res
	}
	res.Verdict = nft.Accept
	for _, b := range pr.bases[p.Hook] {
		br, err := t.runBase(b)
		res.Steps = t.steps
		res.Logged = t.logged
		if err != nil {
			res.Verdict, res.Rule, res.Chain, res.Err = nft.Drop, nil, "", err
			return res
		}
		res.Bases = append(res.Bases, br)
		res.Verdict, res.Rule = br.Verdict, br.Rule
		res.Chain = br.RuleChain
		if br.Rule == nil {
			res.Chain = br.Chain
		}
		if br.Verdict == nft.Drop {
			break
		}
	}
	return res
}

type tracer struct {
	p      Packet
	chains map[string]*nft.Chain
	sets   map[string]*nft.Set
	maps   map[string]*nft.Map
	steps  []Step
	logged []string
	count  int
}

type frame struct {
	chain *nft.Chain
	next  int
}

func (t *tracer) step(c *nft.Chain, i int, r *nft.Rule, event string) {
	s := Step{Chain: c.Name, Event: event}
	if r != nil {
		s.Index = i + 1
		s.Rule = r.Explain(t.sets)
	}
	t.steps = append(t.steps, s)
}

// runBase evaluates one base chain and returns its decision.
func (t *tracer) runBase(base *nft.Chain) (BaseResult, error) {
	br := BaseResult{Chain: base.Name, Hook: base.Base.Hook, Priority: base.Base.Priority}
	cur, i := base, 0
	var stack []frame
	t.step(cur, 0, nil, "enter")
	for {
		if i >= len(cur.Rules) {
			if len(stack) == 0 {
				return t.policy(base, br)
			}
			t.step(cur, 0, nil, "end (return)")
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			cur, i = top.chain, top.next
			continue
		}
		t.count++
		if t.count > maxRules {
			return br, fmt.Errorf("more than %d rules evaluated: a loop", maxRules)
		}
		idx := i
		r := cur.Rules[i]
		i++
		v, hit, err := t.evalRule(cur, idx, r, &br)
		if err != nil {
			return br, err
		}
		if !hit {
			continue
		}
		switch v.Kind {
		case nft.None:
			if r.Log == nil {
				t.step(cur, idx, r, "continue")
			}
		case nft.Accept, nft.Drop:
			t.step(cur, idx, r, string(v.Kind))
			br.Verdict, br.Rule, br.RuleChain, br.Index = v.Kind, r, cur.Name, idx+1
			return br, nil
		case nft.Return:
			t.step(cur, idx, r, "return")
			if len(stack) == 0 {
				return t.policy(base, br)
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			cur, i = top.chain, top.next
		case nft.Jump, nft.Goto:
			target := t.chains[v.Chain]
			if target == nil {
				return br, fmt.Errorf("chain %q rule %d: %s to chain %q, which does not exist", cur.Name, idx+1, v.Kind, v.Chain)
			}
			if target.Base != nil {
				return br, fmt.Errorf("chain %q rule %d: %s to base chain %q", cur.Name, idx+1, v.Kind, v.Chain)
			}
			t.step(cur, idx, r, v.String())
			if v.Kind == nft.Jump {
				if len(stack) >= maxJumpDepth {
					return br, fmt.Errorf("chain %q rule %d: jump stack deeper than %d", cur.Name, idx+1, maxJumpDepth)
				}
				stack = append(stack, frame{cur, i})
			}
			cur, i = target, 0
			t.step(cur, 0, nil, "enter")
		default:
			return br, fmt.Errorf("chain %q rule %d: unknown verdict %q", cur.Name, idx+1, v.Kind)
		}
	}
}

// policy ends the base chain with its policy (none reads as accept; anything but accept or
// drop is an error).
func (t *tracer) policy(base *nft.Chain, br BaseResult) (BaseResult, error) {
	pol := base.Base.Policy
	if pol == nft.None {
		pol = nft.Accept
	}
	if pol != nft.Accept && pol != nft.Drop {
		return br, fmt.Errorf("base chain %q: invalid policy %q", base.Name, pol)
	}
	br.Verdict = pol
	t.step(base, 0, nil, "policy "+string(pol))
	return br, nil
}

// evalRule evaluates rule idx (0-based) of chain c: its matches, its log, and its verdict
// or vmap lookup. hit is false when the rule does not apply (a match or the vmap lookup
// missed); a vmap hit sets br.Dispatched.
func (t *tracer) evalRule(c *nft.Chain, idx int, r *nft.Rule, br *BaseResult) (v nft.Verdict, hit bool, err error) {
	if r == nil {
		return v, false, fmt.Errorf("chain %q rule %d: nil rule", c.Name, idx+1)
	}
	ok, err := t.matchRule(r)
	if err != nil {
		return v, false, fmt.Errorf("chain %q rule %d (%s): %w", c.Name, idx+1, r.String(), err)
	}
	if !ok {
		return v, false, nil
	}
	if r.Log != nil {
		t.logged = append(t.logged, r.Log.Prefix)
		t.step(c, idx, r, "log")
	}
	v = r.Verdict
	if r.VMap == nil {
		return v, true, nil
	}
	if v.Kind != nft.None {
		return v, false, fmt.Errorf("chain %q rule %d: both a vmap and a verdict", c.Name, idx+1)
	}
	if v, hit, err = t.vmap(c, idx, r); hit {
		br.Dispatched = true
	}
	return v, hit, err
}

// vmap looks the packet's interface up in the rule's verdict map; hit is false on a miss
// (or an oifname key at the input hook, which has no output interface).
func (t *tracer) vmap(c *nft.Chain, idx int, r *nft.Rule) (nft.Verdict, bool, error) {
	m := t.maps[r.VMap.Map]
	if m == nil {
		return nft.Verdict{}, false, fmt.Errorf("chain %q rule %d: map %q does not exist", c.Name, idx+1, r.VMap.Map)
	}
	var key string
	switch r.VMap.Key {
	case nft.MatchIIFName:
		key = t.p.IIF
	case nft.MatchOIFName:
		if t.p.Hook == nft.HookInput {
			t.step(c, idx, r, "vmap miss (no output interface)")
			return nft.Verdict{}, false, nil
		}
		key = t.p.OIF
	default:
		return nft.Verdict{}, false, fmt.Errorf("chain %q rule %d: vmap key %q is not iifname or oifname", c.Name, idx+1, r.VMap.Key)
	}
	for _, e := range m.Elements {
		if e.Key == key {
			return e.Verdict, true, nil
		}
	}
	t.step(c, idx, r, fmt.Sprintf("vmap miss (%q)", key))
	return nft.Verdict{}, false, nil
}

// matchRule checks the rule's protocol dependencies and evaluates its matches in order.
func (t *tracer) matchRule(r *nft.Rule) (bool, error) {
	if err := checkDeps(r.Matches); err != nil {
		return false, err
	}
	for i := range r.Matches {
		ok, err := t.match(&r.Matches[i])
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// checkDeps verifies the model's rule: ports need an earlier positive l4proto match of
// protocols with ports; addresses need an earlier positive nfproto match of their family; icmp
// matches need both (l4proto icmp for IPv4, icmpv6 for IPv6). Without them the kernel would
// read whatever bytes sit at those offsets.
func checkDeps(ms []nft.Match) error {
	for i, m := range ms {
		hasNF := func(f nft.Family) bool {
			for _, d := range ms[:i] {
				if d.Kind == nft.MatchNFProto && !d.Not && d.Family == f {
					return true
				}
			}
			return false
		}
		hasL4 := func(ok func(uint8) bool) bool {
			for _, d := range ms[:i] {
				if d.Kind == nft.MatchL4Proto && !d.Not && len(d.Protos) > 0 && !slices.ContainsFunc(d.Protos, func(p uint8) bool { return !ok(p) }) {
					return true
				}
			}
			return false
		}
		switch m.Kind {
		case nft.MatchSAddr, nft.MatchDAddr, nft.MatchSAddrSet, nft.MatchDAddrSet:
			if m.Family != nft.IPv4 && m.Family != nft.IPv6 {
				return fmt.Errorf("%s match has no family", m.Kind)
			}
			if !hasNF(m.Family) {
				return fmt.Errorf("%q is not preceded by meta nfproto %s", m.String(), familyWord(m.Family))
			}
		case nft.MatchSPort, nft.MatchDPort, nft.MatchSPortSet, nft.MatchDPortSet:
			if !hasL4(hasPorts) {
				return fmt.Errorf("%q is not preceded by a meta l4proto match of protocols with ports", m.String())
			}
		case nft.MatchICMPType, nft.MatchICMPCode, nft.MatchICMPTypeCode, nft.MatchICMPTypeSet:
			if m.Family != nft.IPv4 && m.Family != nft.IPv6 {
				return fmt.Errorf("%s match has no family", m.Kind)
			}
			want := icmpProto(m.Family)
			if !hasNF(m.Family) || !hasL4(func(p uint8) bool { return p == want }) {
				return fmt.Errorf("%q is not preceded by meta nfproto %s and meta l4proto %d", m.String(), familyWord(m.Family), want)
			}
		}
	}
	return nil
}

// match evaluates one match against the packet. A match on a field the packet does not have
// (another family, no ports, no output device, no link-layer header) is false even when
// negated: the kernel breaks the rule there.
func (t *tracer) match(m *nft.Match) (bool, error) {
	switch m.Kind {
	case nft.MatchNFProto, nft.MatchIIFName, nft.MatchOIFName, nft.MatchCtState, nft.MatchL4Proto, nft.MatchEtherSAddr:
		return t.matchMeta(m)
	case nft.MatchSAddr, nft.MatchDAddr, nft.MatchSAddrSet, nft.MatchDAddrSet:
		return t.matchAddr(m)
	case nft.MatchSPort, nft.MatchDPort, nft.MatchSPortSet, nft.MatchDPortSet:
		return t.matchPort(m)
	case nft.MatchICMPType, nft.MatchICMPCode, nft.MatchICMPTypeSet, nft.MatchICMPTypeCode:
		return t.matchICMP(m)
	case nft.MatchUnknown:
		return false, fmt.Errorf("cannot evaluate an unknown expression (%s)", m.Str)
	default:
		return false, fmt.Errorf("unknown match kind %q", m.Kind)
	}
}

// matchMeta evaluates a match of packet metadata: nfproto, interface names, conntrack state,
// l4proto and the source MAC address.
func (t *tracer) matchMeta(m *nft.Match) (bool, error) {
	p := t.p
	var ok bool
	switch m.Kind {
	case nft.MatchNFProto:
		if m.Family != nft.IPv4 && m.Family != nft.IPv6 {
			return false, fmt.Errorf("nfproto match with family %d", m.Family)
		}
		ok = p.Family() == m.Family
	case nft.MatchIIFName:
		ok = p.IIF == m.Str
	case nft.MatchOIFName:
		if p.Hook == nft.HookInput {
			return false, nil // no output device: the kernel breaks the rule
		}
		ok = p.OIF == m.Str
	case nft.MatchCtState:
		ok = p.ct()&m.CtState != 0
	case nft.MatchL4Proto:
		if len(m.Protos) == 0 {
			return false, errors.New("l4proto match without protocols")
		}
		ok = slices.Contains(m.Protos, p.Proto)
	case nft.MatchEtherSAddr:
		if p.SrcMAC == "" {
			return false, nil // no link-layer header: the kernel breaks the rule
		}
		ok = strings.EqualFold(p.SrcMAC, m.Str)
	default:
		return false, fmt.Errorf("unknown match kind %q", m.Kind)
	}
	return ok != m.Not, nil
}

// matchAddr evaluates a source or destination address match, of prefixes or of a named
// address set; a packet of the other family does not match.
func (t *tracer) matchAddr(m *nft.Match) (bool, error) {
	var prefixes []netip.Prefix
	switch m.Kind {
	case nft.MatchSAddr, nft.MatchDAddr:
		if len(m.Prefixes) == 0 {
			return false, fmt.Errorf("%s match without prefixes", m.Kind)
		}
		prefixes = m.Prefixes
	case nft.MatchSAddrSet, nft.MatchDAddrSet:
		s, err := t.set(m)
		if err != nil {
			return false, err
		}
		prefixes = s.Prefixes
	default:
		return false, fmt.Errorf("unknown match kind %q", m.Kind)
	}
	if t.p.Family() != m.Family {
		return false, nil
	}
	a := t.p.addr(m.Kind == nft.MatchDAddr || m.Kind == nft.MatchDAddrSet)
	ok := slices.ContainsFunc(prefixes, func(pf netip.Prefix) bool { return pf.Contains(a) })
	return ok != m.Not, nil
}

// matchPort evaluates a source or destination port match, of ranges or of a named port set;
// a packet of a protocol without ports does not match.
func (t *tracer) matchPort(m *nft.Match) (bool, error) {
	var ports []nft.PortRange
	switch m.Kind {
	case nft.MatchSPort, nft.MatchDPort:
		if len(m.Ports) == 0 {
			return false, fmt.Errorf("%s match without ports", m.Kind)
		}
		ports = m.Ports
	case nft.MatchSPortSet, nft.MatchDPortSet:
		s, err := t.valueSet(m.Str, nft.SetPorts)
		if err != nil {
			return false, err
		}
		ports = s.Ports
	default:
		return false, fmt.Errorf("unknown match kind %q", m.Kind)
	}
	if !hasPorts(t.p.Proto) {
		return false, nil
	}
	port := t.p.port(m.Kind == nft.MatchDPort || m.Kind == nft.MatchDPortSet)
	ok := slices.ContainsFunc(ports, func(r nft.PortRange) bool { return r.First <= port && port <= r.Last })
	return ok != m.Not, nil
}

// matchICMP evaluates an ICMP or ICMPv6 type or code match (values, a named type set, or one
// type/code pair); a packet of another family or protocol does not match.
func (t *tracer) matchICMP(m *nft.Match) (bool, error) {
	p := t.p
	var nums []uint8
	switch m.Kind {
	case nft.MatchICMPType, nft.MatchICMPCode:
		if len(m.Nums) == 0 {
			return false, fmt.Errorf("%s match without values", m.Kind)
		}
		nums = m.Nums
	case nft.MatchICMPTypeSet:
		want := nft.SetICMPTypes
		if m.Family == nft.IPv6 {
			want = nft.SetICMPv6Types
		}
		s, err := t.valueSet(m.Str, want)
		if err != nil {
			return false, err
		}
		nums = s.Nums
	case nft.MatchICMPTypeCode:
	default:
		return false, fmt.Errorf("unknown match kind %q", m.Kind)
	}
	if fam := p.Family(); fam != m.Family || !isICMP(p.Proto, fam) {
		return false, nil
	}
	var ok bool
	switch m.Kind {
	case nft.MatchICMPTypeCode:
		ok = p.ICMPType == m.Type && p.ICMPCode == m.Code
	case nft.MatchICMPTypeSet:
		ok = slices.Contains(nums, p.ICMPType)
	default:
		ok = slices.Contains(nums, p.icmp(m.Kind == nft.MatchICMPCode))
	}
	return ok != m.Not, nil
}

// set is the set an address-set match names, checked to exist and to hold addresses of the
// match's family.
func (t *tracer) set(m *nft.Match) (*nft.Set, error) {
	s := t.sets[m.Str]
	if s == nil {
		return nil, fmt.Errorf("set %q does not exist", m.Str)
	}
	if want := setType(m.Family); s.Type != want {
		return nil, fmt.Errorf("set %q is of type %s, the match needs %s", m.Str, s.Type, want)
	}
	return s, nil
}

// valueSet is the port or ICMP type set a lookup names, checked to exist with the key type
// the lookup loads.
func (t *tracer) valueSet(name string, want nft.SetType) (*nft.Set, error) {
	s := t.sets[name]
	if s == nil {
		return nil, fmt.Errorf("set %q does not exist", name)
	}
	if s.Type != want {
		return nil, fmt.Errorf("set %q is of type %s, the match needs %s", name, s.Type, want)
	}
	return s, nil
}

// addr is the packet's source address, or its destination when dst.
func (p Packet) addr(dst bool) netip.Addr {
	if dst {
		return p.Dst
	}
	return p.Src
}

// port is the packet's source port, or its destination port when dst.
func (p Packet) port(dst bool) uint16 {
	if dst {
		return p.DPort
	}
	return p.SPort
}

// icmp is the packet's icmp type, or its code when code.
func (p Packet) icmp(code bool) uint8 {
	if code {
		return p.ICMPCode
	}
	return p.ICMPType
}

func hasPorts(p uint8) bool { return p == 6 || p == 17 || p == 132 || p == 136 }

func icmpProto(f nft.Family) uint8 {
	if f == nft.IPv6 {
		return 58
	}
	return 1
}

func isICMP(p uint8, f nft.Family) bool { return f != 0 && p == icmpProto(f) }

func setType(f nft.Family) nft.SetType {
	if f == nft.IPv6 {
		return nft.SetIPv6
	}
	return nft.SetIPv4
}

func familyWord(f nft.Family) string {
	if f == nft.IPv6 {
		return "ipv6"
	}
	return "ipv4"
}

var protoNames = map[uint8]string{1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp", 136: "udplite"}

func protoName(p uint8) string {
	if n, ok := protoNames[p]; ok {
		return n
	}
	return fmt.Sprintf("proto %d", p)
}
