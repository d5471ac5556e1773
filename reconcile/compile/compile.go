// Package compile turns a policy repository and a host name into the desired nftables ruleset
// of that host: the one `table inet <name>` reconcile owns. It is pure and deterministic: the
// same repository and options give an identical model, in canonical order.
//
// The shape of the ruleset (names, hooks, priorities, the rules of every chain) is described in
// docs/COMPILE.md; the plan, the simulator and the kernel code rely on it.
package compile

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

// Options select what to compile.
type Options struct {
	// Host is the host whose endpoints are enforced (endpoint.host == Host). Required.
	Host string
	// Table is the name of the inet table; default nft.DefaultTable.
	Table string
	// Tags, when not nil, is NewTagIndex of the same repository, shared by the compiles of
	// many hosts (validate compiles every host): without it each Compile scans every endpoint
	// of the repository for the members of its tags. The result is the same either way.
	Tags *TagIndex
}

// TagIndex holds, for every tag of a repository, its members' nets merged per family (SPEC
// §3: a tag stands for every endpoint of the repository, on any host and in any state, that
// has a profile carrying it), computed once for the compiles of many hosts. Read-only once
// built: safe for concurrent Compiles.
type TagIndex struct {
	merged map[tagKey][]netip.Prefix
	errs   map[string]error // the first member of a tag whose net does not parse
}

// NewTagIndex indexes the tags of repo in one pass over its endpoints. The index must not
// outlive a change of repo.
func NewTagIndex(repo *schema.Repository) *TagIndex {
	idx := &TagIndex{merged: map[tagKey][]netip.Prefix{}, errs: map[string]error{}}
	nets := map[tagKey][]netip.Prefix{}
	for t, members := range tagMembers(repo) {
		for _, e := range members {
			if err := addTagNets(nets, t, e, nil); err != nil {
				idx.errs[t] = err
				break
			}
		}
	}
	for k, ps := range nets {
		idx.merged[k] = MergePrefixes(ps)
	}
	return idx
}

// tagMembers maps a tag to the endpoints whose profiles carry it, each once, in repository
// order.
func tagMembers(repo *schema.Repository) map[string][]*schema.Endpoint {
	members := map[string][]*schema.Endpoint{}
	var etags []string
	for _, e := range repo.Endpoints {
		if e == nil {
			continue
		}
		etags = etags[:0]
		for _, pid := range e.ProfileIDs {
			if p := repo.Profiles[pid]; p != nil {
				for _, t := range p.Tags {
					if !slices.Contains(etags, t) {
						etags = append(etags, t)
						members[t] = append(members[t], e)
					}
				}
			}
		}
	}
	return members
}

// DefaultLogPrefix is the log prefix of a log rule without log_prefix (Felix's default). The
// nft prefix is the rule's prefix followed by ": ".
const DefaultLogPrefix = "calico-packet"

// ndTypes are the ICMPv6 neighbour discovery types an endpoint may send to its host (SPEC §3):
// router solicitation (133), neighbour solicitation and advertisement (135, 136). Multicast
// listener discovery (130-132) is not allowed; router advertisements (134) and redirects (137)
// from a workload would let it hijack the host's routing.
var ndTypes = []uint8{133, 135, 136}

// Compile computes the ruleset that opts.Host needs for its local endpoints. It returns an
// error, and no ruleset, when the repository cannot be compiled (an endpoint naming a profile
// that does not exist, two local endpoints on one interface, an unparsable net or MAC, a rule
// whose matches do not fit together); validation normally reports all of those first.
func Compile(repo *schema.Repository, opts Options) (*nft.Ruleset, error) {
	if repo == nil {
		return nil, errors.New("compile: no repository")
	}
	if opts.Host == "" {
		return nil, errors.New("compile: no host name given")
	}
	if opts.Table == "" {
		opts.Table = nft.DefaultTable
	}
	if err := limits.ValidTableName(opts.Table); err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	c := &compiler{
		repo:   repo,
		chains: map[string]*nft.Chain{},
		tags:   map[tagKey]bool{},
		index:  opts.Tags,
	}
	if err := c.run(opts); err != nil {
		return nil, err
	}
	rs := c.ruleset(opts.Table)
	// Nothing is shortened: an id that validation would have refused gives a name or comment
	// beyond the limits, and an error here rather than a ruleset nft cannot load.
	if err := rs.CheckText(); err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	return rs, nil
}

type tagKey struct {
	family nft.Family
	tag    string
}

type compiler struct {
	repo   *schema.Repository
	chains map[string]*nft.Chain
	maps   []*nft.Map
	sets   []*nft.Set
	// tags referenced by rendered rules, per family.
	tags map[tagKey]bool
	// sharedHost is set when a host-<EP> chain jumps to the shared host chains.
	sharedHost bool
	// index is Options.Tags (nil: tagSets scans the endpoints).
	index *TagIndex
}

func (c *compiler) addChain(ch *nft.Chain) error {
	if _, dup := c.chains[ch.Name]; dup {
		return fmt.Errorf("compile: two chains would be named %q", ch.Name)
	}
	c.chains[ch.Name] = ch
	return nil
}

// run builds the host's chains, dispatch maps and sets: the host's endpoints (checked),
// their chains and map elements, the base chains, the chains of the profiles they use, the
// sets of the tags the rules name, and the shared port and ICMP type sets (contentSets).
func (c *compiler) run(opts Options) error {
	local, err := c.localEndpoints(opts.Host)
	if err != nil {
		return err
	}
	usedProfiles, err := c.endpoints(local)
	if err != nil {
		return err
	}
	if c.sharedHost {
		c.chains[ChainSharedHostEarly], c.chains[ChainSharedHostLate] = sharedHostChains()
	}

	// Base chains.
	c.chains[ChainForwardFrom] = baseChain(ChainForwardFrom, nft.HookForward, PriorityForwardFrom, nft.MatchIIFName, MapDispatchFrom)
	c.chains[ChainForwardTo] = baseChain(ChainForwardTo, nft.HookForward, PriorityForwardTo, nft.MatchOIFName, MapDispatchTo)
	c.chains[ChainInputFrom] = baseChain(ChainInputFrom, nft.HookInput, PriorityInputFrom, nft.MatchIIFName, MapDispatchHost)

	if err := c.profiles(usedProfiles); err != nil {
		return err
	}
	if err := c.tagSets(); err != nil {
		return err
	}
	return c.contentSets()
}

// localEndpoints returns the endpoints of host in repository order, each with an interface
// of its own and listed once.
func (c *compiler) localEndpoints(host string) ([]*schema.Endpoint, error) {
	var local []*schema.Endpoint
	byIface := map[string]string{}
	byID := map[string]bool{}
	for _, e := range c.repo.Endpoints {
		if e == nil || e.Host != host {
			continue
		}
		if e.Interface == "" {
			return nil, fmt.Errorf("compile: endpoint %q has no interface", e.ID)
		}
		if other, dup := byIface[e.Interface]; dup {
			return nil, fmt.Errorf("compile: endpoints %q and %q both use interface %q on host %q", other, e.ID, e.Interface, host)
		}
		if byID[e.ID] {
			return nil, fmt.Errorf("compile: endpoint %q is listed twice", e.ID)
		}
		byIface[e.Interface] = e.ID
		byID[e.ID] = true
		local = append(local, e)
	}
	return local, nil
}

// endpoints adds the per-endpoint chains and the three dispatch maps (interface -> goto the
// endpoint's chain, sorted by interface), and returns the profiles that active endpoints use.
func (c *compiler) endpoints(local []*schema.Endpoint) (map[string]bool, error) {
	from := &nft.Map{Name: MapDispatchFrom}
	to := &nft.Map{Name: MapDispatchTo}
	host := &nft.Map{Name: MapDispatchHost}
	usedProfiles := map[string]bool{}
	for _, e := range local {
		chains, err := c.endpointChains(e)
		if err != nil {
			return nil, err
		}
		for _, ch := range chains {
			if err := c.addChain(ch); err != nil {
				return nil, err
			}
		}
		from.Elements = append(from.Elements, nft.MapElement{Key: e.Interface, Verdict: nft.Verdict{Kind: nft.Goto, Chain: Name(PrefixFrom, e.ID)}})
		to.Elements = append(to.Elements, nft.MapElement{Key: e.Interface, Verdict: nft.Verdict{Kind: nft.Goto, Chain: Name(PrefixTo, e.ID)}})
		host.Elements = append(host.Elements, nft.MapElement{Key: e.Interface, Verdict: nft.Verdict{Kind: nft.Goto, Chain: Name(PrefixHost, e.ID)}})
		if e.Active() {
			for _, pid := range e.ProfileIDs {
				usedProfiles[pid] = true
			}
		}
	}
	for _, m := range []*nft.Map{from, to, host} {
		slices.SortFunc(m.Elements, func(a, b nft.MapElement) int { return cmp.Compare(a.Key, b.Key) })
	}
	c.maps = []*nft.Map{from, to, host}
	return usedProfiles, nil
}

// profiles adds the inbound and outbound chains of each used profile, in profile id order.
func (c *compiler) profiles(used map[string]bool) error {
	pids := make([]string, 0, len(used))
	for pid := range used {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	for _, pid := range pids {
		p := c.repo.Profiles[pid]
		if p == nil {
			return fmt.Errorf("compile: profile %q does not exist", pid)
		}
		in, err := c.profileChain(pid, Inbound, p.Inbound)
		if err != nil {
			return err
		}
		out, err := c.profileChain(pid, Outbound, p.Outbound)
		if err != nil {
			return err
		}
		if err := c.addChain(in); err != nil {
			return err
		}
		if err := c.addChain(out); err != nil {
			return err
		}
	}
	return nil
}

func baseChain(name string, hook nft.Hook, prio int, key nft.MatchKind, vmap string) *nft.Chain {
	return &nft.Chain{
		Name: name,
		Base: &nft.BaseChain{Hook: hook, Priority: prio, Policy: nft.Accept},
		Rules: []*nft.Rule{
			{VMap: &nft.VMapLookup{Key: key, Map: vmap}},
		},
	}
}

// conntrackRules start every chain of an active endpoint: invalid packets are dropped and
// packets of established or related flows accepted before policy. They live in the
// endpoint's chains, not in the base chains, so that the host's other traffic is left alone.
func conntrackRules() []*nft.Rule {
	return []*nft.Rule{
		{Matches: []nft.Match{{Kind: nft.MatchCtState, CtState: nft.CtInvalid}}, Verdict: nft.Verdict{Kind: nft.Drop}},
		{Matches: []nft.Match{{Kind: nft.MatchCtState, CtState: nft.CtEstablished | nft.CtRelated}}, Verdict: nft.Verdict{Kind: nft.Accept}},
	}
}

// dropRule is a counted drop with a comment.
func dropRule(comment string, ms ...nft.Match) *nft.Rule {
	return &nft.Rule{Matches: ms, Counter: true, Verdict: nft.Verdict{Kind: nft.Drop}, Comment: comment}
}

func acceptRule(comment string, ms ...nft.Match) *nft.Rule {
	return &nft.Rule{Matches: ms, Counter: true, Verdict: nft.Verdict{Kind: nft.Accept}, Comment: comment}
}

// endpointChains returns the from-, to- and host- chains of a local endpoint.
func (c *compiler) endpointChains(e *schema.Endpoint) ([]*nft.Chain, error) {
	fromName, toName, hostName := Name(PrefixFrom, e.ID), Name(PrefixTo, e.ID), Name(PrefixHost, e.ID)
	fromC := &nft.Chain{Name: fromName}
	toC := &nft.Chain{Name: toName}
	hostC := &nft.Chain{Name: hostName}
	chains := []*nft.Chain{fromC, toC, hostC}

	why := ""
	switch {
	case !e.Active():
		why = "endpoint inactive"
	case len(e.ProfileIDs) == 0:
		why = "endpoint has no profiles"
	}
	if why != "" {
		fromC.Rules = []*nft.Rule{dropRule("from " + e.ID + ": " + why)}
		toC.Rules = []*nft.Rule{dropRule("to " + e.ID + ": " + why)}
		hostC.Rules = []*nft.Rule{dropRule("host " + e.ID + ": " + why)}
		return chains, nil
	}
	for _, pid := range e.ProfileIDs {
		if c.repo.Profiles[pid] == nil {
			return nil, fmt.Errorf("compile: endpoint %q: profile %q does not exist", e.ID, pid)
		}
	}

	mac, spoof, err := antiSpoof(e)
	if err != nil {
		return nil, err
	}

	// Every chain starts with `ct state invalid drop`. In the from- and host- chains the
	// anti-spoof checks come next, before `ct state established,related accept` and before
	// any allowance (SPEC §3: anti-spoofing applies to every packet from an endpoint, and a
	// forged source must not slip into another flow's conntrack entry); the to- chain has no
	// anti-spoof check.
	f, h := "from "+e.ID+": ", "host "+e.ID+": "

	// from-<EP>: MAC, source addresses, conntrack, each profile's outbound rules, drop.
	fromC.Rules = conntrackRules()[:1]
	if mac != nil {
		fromC.Rules = append(fromC.Rules, dropRule(f+mac.why, mac.matches...))
	}
	for _, r := range spoof {
		fromC.Rules = append(fromC.Rules, dropRule(f+r.why, r.matches...))
	}
	fromC.Rules = append(fromC.Rules, conntrackRules()[1])
	for _, pid := range e.ProfileIDs {
		fromC.Rules = append(fromC.Rules, &nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: Name(PrefixProfileOut, pid)}})
	}
	fromC.Rules = append(fromC.Rules, dropRule(f+"no profile accepted"))

	// to-<EP>: conntrack, each profile's inbound rules, drop.
	toC.Rules = conntrackRules()
	for _, pid := range e.ProfileIDs {
		toC.Rules = append(toC.Rules, &nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: Name(PrefixProfileIn, pid)}})
	}
	toC.Rules = append(toC.Rules, dropRule("to "+e.ID+": no profile accepted"))

	// host-<EP>: MAC; DHCP, DHCPv6 and ND from the unspecified or link-local address (a
	// client without an address yet); source addresses; conntrack; DHCP, DHCPv6, ND and DNS
	// from the endpoint's own addresses; drop. The allowances are the same for every endpoint:
	// they live in two shared chains (see ChainSharedHostEarly), so that no per-endpoint
	// chain holds an anonymous set.
	hostC.Rules = conntrackRules()[:1]
	if mac != nil {
		hostC.Rules = append(hostC.Rules, dropRule(h+mac.why, mac.matches...))
	}
	hostC.Rules = append(hostC.Rules, &nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: ChainSharedHostEarly}})
	for _, r := range spoof {
		hostC.Rules = append(hostC.Rules, dropRule(h+r.why, r.matches...))
	}
	hostC.Rules = append(hostC.Rules,
		conntrackRules()[1],
		&nft.Rule{Verdict: nft.Verdict{Kind: nft.Jump, Chain: ChainSharedHostLate}},
		dropRule(h+"not dhcp, dns or neighbour discovery"),
	)
	c.sharedHost = true
	return chains, nil
}

// Sources an endpoint without an address of its own yet may send DHCP, DHCPv6 and neighbour
// discovery from (SPEC §3): the unspecified and the link-local addresses of each family.
var (
	unspecOrLinkLocalV4 = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32"), netip.MustParsePrefix("169.254.0.0/16")}
	unspecOrLinkLocalV6 = []netip.Prefix{netip.MustParsePrefix("::/128"), netip.MustParsePrefix("fe80::/10")}
)

// hostAllowances are the DHCP, DHCPv6 and ICMPv6 neighbour discovery accept rules, each limited
// to source addresses in v4 and v6 when those are given (nil: any source).
func hostAllowances(comment string, v4, v6 []netip.Prefix) []*nft.Rule {
	saddr := func(f nft.Family, ps []netip.Prefix) []nft.Match {
		if len(ps) == 0 {
			return nil
		}
		return []nft.Match{{Kind: nft.MatchSAddr, Family: f, Prefixes: MergePrefixes(ps)}}
	}
	// Match order as the compiler's rules have it (nfproto, addresses, protocol, ports or ICMP):
	// the order in which `nft list` prints them, so that a dump restores to the same model.
	udp := nft.Match{Kind: nft.MatchL4Proto, Protos: []uint8{17}}
	icmpv6 := nft.Match{Kind: nft.MatchL4Proto, Protos: []uint8{58}}
	ms := [][]nft.Match{
		slices.Concat([]nft.Match{{Kind: nft.MatchNFProto, Family: nft.IPv4}}, saddr(nft.IPv4, v4),
			[]nft.Match{udp, {Kind: nft.MatchSPort, Ports: []nft.PortRange{{First: 68, Last: 68}}}, {Kind: nft.MatchDPort, Ports: []nft.PortRange{{First: 67, Last: 67}}}}),
		slices.Concat([]nft.Match{{Kind: nft.MatchNFProto, Family: nft.IPv6}}, saddr(nft.IPv6, v6),
			[]nft.Match{udp, {Kind: nft.MatchSPort, Ports: []nft.PortRange{{First: 546, Last: 546}}}, {Kind: nft.MatchDPort, Ports: []nft.PortRange{{First: 547, Last: 547}}}}),
		slices.Concat([]nft.Match{{Kind: nft.MatchNFProto, Family: nft.IPv6}}, saddr(nft.IPv6, v6),
			[]nft.Match{icmpv6, {Kind: nft.MatchICMPType, Family: nft.IPv6, Nums: slices.Clone(ndTypes)}}),
	}
	return []*nft.Rule{
		acceptRule("endpoint to host: dhcp"+comment, ms[0]...),
		acceptRule("endpoint to host: dhcpv6"+comment, ms[1]...),
		acceptRule("endpoint to host: neighbour discovery"+comment, ms[2]...),
	}
}

// sharedHostChains are what any endpoint may send to the host (SPEC §3). Early, jumped to
// after the MAC check and before the address anti-spoof check: DHCP, DHCPv6 and ICMPv6
// neighbour discovery (133, 135, 136) from the unspecified or link-local address. Late, after
// the anti-spoof check (so from the endpoint's own nets): the same, and DNS over udp.
func sharedHostChains() (early, late *nft.Chain) {
	early = &nft.Chain{Name: ChainSharedHostEarly, Rules: hostAllowances(" from unspecified or link-local", unspecOrLinkLocalV4, unspecOrLinkLocalV6)}
	late = &nft.Chain{Name: ChainSharedHostLate, Rules: append(hostAllowances(" from own address", nil, nil),
		acceptRule("endpoint to host: dns from own address",
			nft.Match{Kind: nft.MatchL4Proto, Protos: []uint8{17}},
			nft.Match{Kind: nft.MatchDPort, Ports: []nft.PortRange{{First: 53, Last: 53}}}))}
	return early, late
}

type spoofRule struct {
	why     string
	matches []nft.Match
}

// antiSpoof returns the endpoint's anti-spoof drops: mac (nil when the endpoint has no `mac`)
// drops a packet whose source MAC is not the endpoint's; addrs, one per family, drop a packet
// whose source address is not in the endpoint's nets of that family (every packet of a family
// in which it has none).
func antiSpoof(e *schema.Endpoint) (mac *spoofRule, addrs []spoofRule, err error) {
	var v4, v6 []netip.Prefix
	for _, s := range append(slices.Clone(e.IPv4Nets), e.IPv6Nets...) {
		p, err := schema.ParseNet(s)
		if err != nil {
			return nil, nil, fmt.Errorf("compile: endpoint %q: %w", e.ID, err)
		}
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	for _, f := range []struct {
		fam  nft.Family
		nets []netip.Prefix
		name string
	}{{nft.IPv4, v4, "ipv4"}, {nft.IPv6, v6, "ipv6"}} {
		ms := []nft.Match{{Kind: nft.MatchNFProto, Family: f.fam}}
		why := "no " + f.name + " nets"
		if len(f.nets) > 0 {
			ms = append(ms, nft.Match{Kind: nft.MatchSAddr, Not: true, Family: f.fam, Prefixes: MergePrefixes(f.nets)})
			why = f.name + " source not the endpoint's"
		}
		addrs = append(addrs, spoofRule{why: why, matches: ms})
	}
	if e.MAC != "" {
		hw, err := net.ParseMAC(e.MAC)
		if err != nil || len(hw) != 6 {
			return nil, nil, fmt.Errorf("compile: endpoint %q: %q is not a MAC address", e.ID, e.MAC)
		}
		mac = &spoofRule{why: "source mac not the endpoint's", matches: []nft.Match{{Kind: nft.MatchEtherSAddr, Not: true, Str: hw.String()}}}
	}
	return mac, addrs, nil
}

// profileChain compiles the rules of one direction of a profile.
func (c *compiler) profileChain(pid string, dir Direction, rules []schema.Rule) (*nft.Chain, error) {
	prefix := PrefixProfileIn
	if dir == Outbound {
		prefix = PrefixProfileOut
	}
	ch := &nft.Chain{Name: Name(prefix, pid)}
	for i := range rules {
		ref := RuleRef{Profile: pid, Direction: dir, Index: i + 1}
		rs, err := c.rule(&rules[i], ref)
		if err != nil {
			return nil, fmt.Errorf("compile: profile %q %s rule %d: %w", pid, dir, i+1, err)
		}
		ch.Rules = append(ch.Rules, rs...)
	}
	return ch, nil
}

// families works out in which IP families a rule is rendered and whether it needs an nfproto
// match at all (it does when it has a net, a tag, an ICMP flavour or an ip_version).
func families(r *schema.Rule) (fams []nft.Family, needsFamily bool, err error) {
	ok4, ok6 := true, true
	restrict := func(f int) {
		needsFamily = true
		switch f {
		case 4:
			ok6 = false
		case 6:
			ok4 = false
		}
	}
	switch r.IPVersion {
	case 0:
	case 4, 6:
		restrict(r.IPVersion)
	default:
		return nil, false, fmt.Errorf("ip_version %d is not 4 or 6", r.IPVersion)
	}
	if f := r.Protocol.ICMPFamily(); f != 0 {
		restrict(f)
	}
	for _, s := range []string{r.SrcNet, r.DstNet, r.NotSrcNet, r.NotDstNet} {
		if s == "" {
			continue
		}
		f := schema.NetFamily(s)
		if f == 0 {
			return nil, false, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		restrict(f)
	}
	if r.SrcTag != "" || r.DstTag != "" || r.NotSrcTag != "" || r.NotDstTag != "" {
		needsFamily = true
	}
	if ok4 {
		fams = append(fams, nft.IPv4)
	}
	if ok6 {
		fams = append(fams, nft.IPv6)
	}
	return fams, needsFamily, nil
}

// rule compiles one profile rule into one nft rule per IP family it fits (or one rule without
// an nfproto match when it has nothing family-specific).
func (c *compiler) rule(r *schema.Rule, ref RuleRef) ([]*nft.Rule, error) {
	tail, err := ruleTail(r, ref)
	if err != nil {
		return nil, err
	}
	proto, notProto, err := ruleProtocols(r)
	if err != nil {
		return nil, err
	}
	icmpFam := r.Protocol.ICMPFamily()
	if (r.ICMPType != nil || r.ICMPCode != nil || r.NotICMPType != nil || r.NotICMPCode != nil) && icmpFam == 0 {
		return nil, errors.New("icmp_type and icmp_code need protocol icmp or icmpv6")
	}
	for _, v := range []*int{r.ICMPType, r.ICMPCode, r.NotICMPType, r.NotICMPCode} {
		if v != nil && (*v < 0 || *v > 254) {
			return nil, fmt.Errorf("icmp type or code %d is not in 0-254", *v)
		}
	}

	fams, needsFamily, err := families(r)
	if err != nil {
		return nil, err
	}
	if !needsFamily {
		fams = []nft.Family{0}
	}
	var out []*nft.Rule
	for _, f := range fams {
		ms, err := c.addrMatches(r, f)
		if err != nil {
			return nil, err
		}
		hasAddr := len(ms) > 1 || (len(ms) == 1 && f == 0)
		ms = protoMatches(ms, r, proto, notProto, nft.Family(icmpFam))
		// nft lists `meta nfproto ipv4 meta l4proto 1` as `meta l4proto icmp` (it takes the family
		// for a dependency of the protocol), and `nft -f` of that dump would match IPv6 packets
		// with next header 1 too. When nothing after the protocol carries the family (no ICMP
		// type or code) and no address does, the family match goes last, where nft keeps it.
		if f != 0 && icmpFam != 0 && !hasAddr && ms[len(ms)-1].Kind == nft.MatchL4Proto {
			ms = append(ms[1:], ms[0])
		}
		nr := tail
		nr.Matches = ms
		if tail.Log != nil {
			nr.Log = &nft.Log{Prefix: tail.Log.Prefix}
		}
		out = append(out, &nr)
	}
	return out, nil
}

// ruleTail is what a rule does once it matches: a counter, the rule's comment, and accept,
// drop or a log statement (prefix `<log_prefix>: `, DefaultLogPrefix when none).
func ruleTail(r *schema.Rule, ref RuleRef) (nft.Rule, error) {
	var tail nft.Rule
	tail.Counter = true
	tail.Comment = ref.Comment()
	switch r.Action {
	case schema.ActionAllow:
		tail.Verdict = nft.Verdict{Kind: nft.Accept}
	case schema.ActionDeny:
		tail.Verdict = nft.Verdict{Kind: nft.Drop}
	case schema.ActionLog:
		p := r.LogPrefix
		if p == "" {
			p = DefaultLogPrefix
		}
		tail.Log = &nft.Log{Prefix: p + ": "}
	default:
		return tail, fmt.Errorf("unknown action %q", r.Action)
	}
	return tail, nil
}

// ruleProtocols returns the protocol numbers of protocol and !protocol (0 when absent or
// left out) and checks that ports come with a protocol that has them.
func ruleProtocols(r *schema.Rule) (proto, notProto uint8, err error) {
	if r.Protocol != "" {
		n, ok := r.Protocol.Number()
		if !ok {
			return 0, 0, fmt.Errorf("unknown protocol %q", r.Protocol)
		}
		proto = n
	}
	if r.NotProtocol != "" {
		n, ok := r.NotProtocol.Number()
		if !ok {
			return 0, 0, fmt.Errorf("unknown protocol %q", r.NotProtocol)
		}
		notProto = n
	}
	// Beside a positive protocol P, `!protocol Q` (Q != P; validation refuses Q == P, a rule
	// that could never match) always holds: it is left out. Kept, nft would list it before the
	// family and protocol that an ICMP or port match implies, and a restored dump would hold the
	// matches in another order (drift).
	if proto != 0 && notProto != 0 && notProto != proto {
		notProto = 0
	}
	if (len(r.SrcPorts) > 0 || len(r.DstPorts) > 0 || len(r.NotSrcPorts) > 0 || len(r.NotDstPorts) > 0) && !r.Protocol.HasPorts() {
		return 0, 0, errors.New("ports need protocol tcp, udp, sctp or udplite")
	}
	return proto, notProto, nil
}

// addrMatches returns the family match (f != 0) and the address matches of family f:
// source then destination, each net, !net, tag (a set, recorded in c.tags), !tag.
func (c *compiler) addrMatches(r *schema.Rule, f nft.Family) ([]nft.Match, error) {
	var ms []nft.Match
	if f != 0 {
		ms = append(ms, nft.Match{Kind: nft.MatchNFProto, Family: f})
	}
	for _, a := range []struct {
		net, notNet, tag, notTag string
		kind, setKind            nft.MatchKind
	}{
		{r.SrcNet, r.NotSrcNet, r.SrcTag, r.NotSrcTag, nft.MatchSAddr, nft.MatchSAddrSet},
		{r.DstNet, r.NotDstNet, r.DstTag, r.NotDstTag, nft.MatchDAddr, nft.MatchDAddrSet},
	} {
		for _, n := range []struct {
			s   string
			not bool
		}{{a.net, false}, {a.notNet, true}} {
			if n.s == "" {
				continue
			}
			p, err := schema.ParseNet(n.s)
			if err != nil {
				return nil, err
			}
			ms = append(ms, nft.Match{Kind: a.kind, Not: n.not, Family: f, Prefixes: []netip.Prefix{p.Masked()}})
		}
		for _, t := range []struct {
			s   string
			not bool
		}{{a.tag, false}, {a.notTag, true}} {
			if t.s == "" {
				continue
			}
			c.tags[tagKey{f, t.s}] = true
			ms = append(ms, nft.Match{Kind: a.setKind, Not: t.not, Family: f, Str: tagSetName(f, t.s)})
		}
	}
	return ms, nil
}

// protoMatches appends the protocol, port and ICMP matches to ms. They come after the
// addresses, the positive protocol right before the port and ICMP matches that depend on it:
// `nft list` prints it as their implicit dependency (`ip saddr @tag-v4-T tcp dport 80`) and
// the family as the addresses' (`meta nfproto ipv4` dropped), and `nft -f` of that listing
// puts each back right before what depends on it; in this order a ruleset restored from a
// dump (`nft list ruleset > f; nft -f f`) reads back as the same model. ifam is the ICMP
// matches' family (0 when the protocol is not icmp or icmpv6).
func protoMatches(ms []nft.Match, r *schema.Rule, proto, notProto uint8, ifam nft.Family) []nft.Match {
	if notProto != 0 {
		ms = append(ms, nft.Match{Kind: nft.MatchL4Proto, Not: true, Protos: []uint8{notProto}})
	}
	if proto != 0 {
		ms = append(ms, nft.Match{Kind: nft.MatchL4Proto, Protos: []uint8{proto}})
	}
	for _, pm := range []struct {
		ports []schema.PortRange
		not   bool
		kind  nft.MatchKind
	}{
		// Positive ports first: a single source and destination port side by side are one
		// 4-byte compare in the kernel, and nft -f of a dump merges them so; negated ports
		// after them (one-port ranges, never merged; see the encoder).
		{r.SrcPorts, false, nft.MatchSPort}, {r.DstPorts, false, nft.MatchDPort},
		{r.NotSrcPorts, true, nft.MatchSPort}, {r.NotDstPorts, true, nft.MatchDPort},
	} {
		if len(pm.ports) > 0 {
			ms = append(ms, nft.Match{Kind: pm.kind, Not: pm.not, Ports: ports(pm.ports)})
		}
	}
	if r.ICMPType != nil {
		ms = append(ms, nft.Match{Kind: nft.MatchICMPType, Family: ifam, Nums: []uint8{uint8(*r.ICMPType)}})
	}
	if r.ICMPCode != nil {
		ms = append(ms, nft.Match{Kind: nft.MatchICMPCode, Family: ifam, Nums: []uint8{uint8(*r.ICMPCode)}})
	}
	notType, notCode := negatedICMP(r)
	switch {
	case notType != nil && notCode != nil:
		ms = append(ms, nft.Match{Kind: nft.MatchICMPTypeCode, Not: true, Family: ifam, Type: uint8(*notType), Code: uint8(*notCode)})
	case notType != nil:
		ms = append(ms, nft.Match{Kind: nft.MatchICMPType, Not: true, Family: ifam, Nums: []uint8{uint8(*notType)}})
	case notCode != nil:
		ms = append(ms, nft.Match{Kind: nft.MatchICMPCode, Not: true, Family: ifam, Nums: []uint8{uint8(*notCode)}})
	}
	return ms
}

// negatedICMP returns the negated ICMP type and code a rule compiles to. The negated pair
// (`!icmp_type: A` with `!icmp_code: B`, one 16-bit `!=`) is kept only when no positive ICMP
// type or code stands beside it: nft lists the pair as `icmp type != A icmp code != B`, and
// next to other ICMP matches `nft -f` of that dump rebuilds it as two separate compares (type
// != A AND code != B), another meaning. Beside a positive type X the pair is always true when
// A != X and means `icmp code != B` when A == X; beside a positive code Y, likewise with
// `icmp type != A`. That simpler form has the same meaning and restores as itself.
func negatedICMP(r *schema.Rule) (notType, notCode *int) {
	notType, notCode = r.NotICMPType, r.NotICMPCode
	if notType == nil || notCode == nil {
		return notType, notCode
	}
	switch {
	case r.ICMPType != nil && *r.ICMPType != *notType, r.ICMPCode != nil && *r.ICMPCode != *notCode:
		return nil, nil // the packet's pair can never be (A, B): the match always holds
	case r.ICMPType != nil:
		return nil, notCode
	case r.ICMPCode != nil:
		return notType, nil
	}
	return notType, notCode
}

func tagSetName(f nft.Family, tag string) string {
	if f == nft.IPv6 {
		return Name(PrefixTagV6, tag)
	}
	return Name(PrefixTagV4, tag)
}

// ports converts a port list, keeping its order, unless two entries overlap (then sorted and
// merged). The shared-list pass (contentsets.go) then sorts and merges every list of two or
// more entries into the content of its named set.
func ports(ps []schema.PortRange) []nft.PortRange {
	out := make([]nft.PortRange, len(ps))
	for i, p := range ps {
		out[i] = nft.PortRange{First: p.First, Last: p.Last}
	}
	overlap := false
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[i].First <= out[j].Last && out[j].First <= out[i].Last {
				overlap = true
			}
		}
	}
	if !overlap {
		return out
	}
	slices.SortFunc(out, func(a, b nft.PortRange) int {
		return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.Last, b.Last))
	})
	merged := out[:1]
	for _, p := range out[1:] {
		last := &merged[len(merged)-1]
		if p.First <= last.Last {
			last.Last = max(last.Last, p.Last)
			continue
		}
		merged = append(merged, p)
	}
	return merged
}

// tagSets builds the set of every (family, tag) that a rendered rule references, from the
// nets of every endpoint of the repository (any host, any state) with a profile carrying it.
// addTagNets adds endpoint e's nets to the sets of tag t, in the families of used (nil: all).
func addTagNets(nets map[tagKey][]netip.Prefix, t string, e *schema.Endpoint, used map[tagKey]bool) error {
	for _, list := range [2][]string{e.IPv4Nets, e.IPv6Nets} { // no copy: one call per member
		for _, s := range list {
			p, err := schema.ParseNet(s)
			if err != nil {
				return fmt.Errorf("compile: endpoint %q: %w", e.ID, err)
			}
			f := nft.IPv4
			if !p.Addr().Is4() {
				f = nft.IPv6
			}
			if k := (tagKey{f, t}); used == nil || used[k] {
				nets[k] = append(nets[k], p)
			}
		}
	}
	return nil
}

func (c *compiler) tagSets() error {
	if len(c.tags) == 0 {
		return nil
	}
	wanted := map[string]bool{}
	for k := range c.tags {
		wanted[k.tag] = true
	}
	var nets map[tagKey][]netip.Prefix
	if c.index == nil {
		nets = map[tagKey][]netip.Prefix{}
		members := tagMembers(c.repo)
		// Tags in name order, members in repository order: an error names the same endpoint
		// every time.
		for _, t := range slices.Sorted(maps.Keys(wanted)) {
			for _, e := range members[t] {
				if err := addTagNets(nets, t, e, c.tags); err != nil {
					return err
				}
			}
		}
		for k, ps := range nets {
			nets[k] = MergePrefixes(ps)
		}
	} else {
		for _, t := range slices.Sorted(maps.Keys(wanted)) {
			if err := c.index.errs[t]; err != nil {
				return err
			}
		}
		nets = c.index.merged
	}
	for k := range c.tags {
		s := &nft.Set{Name: tagSetName(k.family, k.tag), Type: nft.SetIPv4, Comment: "tag " + k.tag}
		if k.family == nft.IPv6 {
			s.Type = nft.SetIPv6
		}
		s.Prefixes = slices.Clone(nets[k])
		c.sets = append(c.sets, s)
	}
	slices.SortFunc(c.sets, func(a, b *nft.Set) int { return cmp.Compare(a.Name, b.Name) })
	for i := 1; i < len(c.sets); i++ {
		if c.sets[i].Name == c.sets[i-1].Name {
			return fmt.Errorf("compile: two sets would be named %q", c.sets[i].Name)
		}
	}
	return nil
}

func (c *compiler) ruleset(table string) *nft.Ruleset {
	rs := &nft.Ruleset{Table: table, Sets: c.sets, Maps: c.maps}
	slices.SortFunc(rs.Maps, func(a, b *nft.Map) int { return cmp.Compare(a.Name, b.Name) })
	for _, ch := range c.chains {
		rs.Chains = append(rs.Chains, ch)
	}
	slices.SortFunc(rs.Chains, func(a, b *nft.Chain) int { return cmp.Compare(a.Name, b.Name) })
	return rs
}
