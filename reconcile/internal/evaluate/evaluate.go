// Package evaluate is the policy evaluator of the differential tests (issue 9): the verdict of
// a packet computed from the repository (profiles, endpoints, tags) by SPEC §2 and §3 alone,
// sharing no code with reconcile/compile or reconcile/simulate beyond the schema types. It is
// small and plain on purpose: when it, the simulator (over the compiled nft model) and the
// kernel (real packets) disagree, one of the three is wrong.
//
// Where SPEC is ambiguous the evaluator takes the plainest reading of its text; each is
// commented where it is applied (spoofed, isDHCP, isND, toHost, rendered, addrMatches,
// icmpMatches):
//   - to-host traffic crosses no outbound rule; an inactive or profile-less endpoint gets no
//     DHCP, DNS or ND to its host either;
//   - DHCP is a client's request: udp from port 68 to 67 over IPv4, from 546 to 547 over IPv6
//     (Felix's rule; the reading of "udp 67/68, 546/547" the differential settled, see
//     docs/COMPILE.md); DNS udp to 53 in either family; ND is ICMPv6 over IPv6 of type 133,
//     135 or 136, any code, in both sentences;
//   - the unspecified and link-local sources of DHCP and ND pass anti-spoofing on their way to
//     the host only: the kernel never forwards a packet from such a source to another endpoint
//     (a martian or out-of-scope source), so an exemption there would be a verdict no packet
//     can have (settled by the differential);
//   - negated nets count among "all its nets" of the family rule; the ICMP flavour is the
//     positive protocol's, by name or number;
//   - a negated tag that no endpoint carries excludes nothing;
//   - !icmp_code excludes one (type, code) pair, with !icmp_type's type when set, else
//     icmp_type's.
package evaluate

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/reconcile-dev/reconcile/schema"
)

// Packet is the first packet of a new flow, as its sender puts it on the wire.
type Packet struct {
	// From is the sending endpoint's id; "" for a sender outside the model (then Src says
	// who; its traffic crosses no outbound policy).
	From string
	// To is the receiving endpoint's id; "" for the host itself (ToHost) or an address outside
	// the model (Dst; no inbound policy).
	To string
	// ToHost names the host the packet is addressed to (the input hook of that host), when the
	// receiver is a host rather than an endpoint: only From's own host is reachable this way.
	ToHost string
	// Src and Dst are the packet's addresses, of one family. Src need not be one of From's
	// nets (a forged source, or the unspecified or link-local address of a DHCP or ND client).
	Src, Dst netip.Addr
	// SrcMAC is the link-layer source, six colon-separated lower-case hex bytes; "" is the
	// sender's own (its endpoint's mac when set).
	SrcMAC string
	// Proto is the IP protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6, 132 sctp, 136
	// udplite, or any other 1-255).
	Proto uint8
	// SrcPort and DstPort are the transport ports (tcp, udp, sctp, udplite only).
	SrcPort, DstPort uint16
	// ICMPType and ICMPCode are the ICMP message's (Proto 1 with IPv4, 58 with IPv6).
	ICMPType, ICMPCode uint8
}

// Protocol numbers the evaluator names (IANA).
const (
	protoICMP   = 1
	protoUDP    = 17
	protoICMPv6 = 58
)

// Step is one direction's decision: the sender's outbound policy at its host, or the
// receiver's inbound policy (or the host's allowances) at its host.
type Step struct {
	Host      string // the host that decides
	Endpoint  string // the endpoint whose policy applies
	Direction string // "outbound", "inbound" or "to-host"
	Allowed   bool
	// Profile and Rule (1-based, in the profile's rules of Direction) name the deciding rule;
	// "" and 0 when no rule decided (Reason says what did).
	Profile string
	Rule    int
	// Reason says what decided when no rule did: "anti-spoofing: source address",
	// "anti-spoofing: source MAC", "inactive endpoint", "no profiles", "no profile accepted",
	// "host allows DHCP", "host allows DNS", "host allows neighbour discovery", "endpoint to
	// host". Empty when a rule decided.
	Reason string
	// Logged are the profile rules of action log that the packet matched on the way
	// ("WEB inbound 1"), in order.
	Logged []string
}

// Result is the verdict on a packet: Allowed when every step allowed it. Steps are in path
// order (outbound first); a step that denied ends the path.
type Result struct {
	Allowed bool
	Steps   []Step
}

// Evaluate returns the verdict on p in repo (a repository that validates). The error is a
// packet that does not describe a flow of the model (an unknown endpoint, mixed families, To
// and ToHost both set, a host that is not From's own, ToHost without From, neither From nor
// To nor ToHost set, a Dst that is not To's address or, with no To, is an endpoint's, an
// invalid SrcMAC, Proto 0) or a profile id of an endpoint that repo lacks.
func Evaluate(repo *schema.Repository, p Packet) (Result, error) {
	from, to, err := checkPacket(repo, &p)
	if err != nil {
		return Result{}, err
	}
	var res Result
	if invalidFirst(p) {
		// SPEC §3: "Conntrack: ... invalid ones are dropped", at the first host the packet
		// meets: the sender's (outbound or to the host), or the receiver's.
		st := Step{Direction: "outbound", Reason: "conntrack: invalid"}
		switch {
		case from != nil && p.ToHost != "":
			st.Host, st.Endpoint, st.Direction = from.Host, from.ID, "to-host"
		case from != nil:
			st.Host, st.Endpoint = from.Host, from.ID
		default:
			st.Host, st.Endpoint, st.Direction = to.Host, to.ID, "inbound"
		}
		res.Steps = append(res.Steps, st)
		return res, nil
	}
	if from != nil {
		var st Step
		if p.ToHost != "" {
			st = toHost(repo, from, p)
		} else {
			st, err = policy(repo, from, "outbound", p)
			if err != nil {
				return Result{}, err
			}
		}
		res.Steps = append(res.Steps, st)
		if !st.Allowed {
			return res, nil
		}
	}
	if to != nil {
		st, err := policy(repo, to, "inbound", p)
		if err != nil {
			return Result{}, err
		}
		res.Steps = append(res.Steps, st)
		if !st.Allowed {
			return res, nil
		}
	}
	res.Allowed = true
	return res, nil
}

// checkPacket checks that p describes a flow of the model and returns its sending and
// receiving endpoints (nil outside the model or for the host). It drops zones from p's
// addresses.
func checkPacket(repo *schema.Repository, p *Packet) (from, to *schema.Endpoint, err error) {
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		return nil, nil, fmt.Errorf("src, dst: both addresses are required")
	}
	p.Src, p.Dst = p.Src.WithZone(""), p.Dst.WithZone("")
	for _, a := range []struct {
		key  string
		addr netip.Addr
	}{{"src", p.Src}, {"dst", p.Dst}} {
		if a.addr.Is4In6() {
			return nil, nil, fmt.Errorf("%s: %s is an IPv4-mapped IPv6 address: write it as IPv4 (%s)", a.key, a.addr, a.addr.Unmap())
		}
	}
	if p.Src.Is4() != p.Dst.Is4() {
		return nil, nil, fmt.Errorf("dst: %s is not of the family of src %s (mixed families)", p.Dst, p.Src)
	}
	if p.Proto == 0 {
		return nil, nil, fmt.Errorf("proto: 0 is not a protocol (1-255)")
	}
	if p.SrcMAC != "" {
		if hw, err := net.ParseMAC(p.SrcMAC); err != nil || len(hw) != 6 {
			return nil, nil, fmt.Errorf("src_mac: %q is not a 48-bit MAC address (write ee:ee:ee:ee:ee:ee)", p.SrcMAC)
		}
	}
	if p.From != "" {
		if from = repo.Endpoint(p.From); from == nil {
			return nil, nil, fmt.Errorf("from: %q is not an endpoint of the repository", p.From)
		}
	}
	switch {
	case p.To != "" && p.ToHost != "":
		return nil, nil, fmt.Errorf("to_host: %q with to %q: a packet goes to an endpoint or to the host, not both", p.ToHost, p.To)
	case p.ToHost != "" && from == nil:
		return nil, nil, fmt.Errorf("to_host: %q needs from: only an endpoint's own host is reachable this way", p.ToHost)
	case p.ToHost != "" && p.ToHost != from.Host:
		return nil, nil, fmt.Errorf("to_host: %q is not the host of %q (%q): only an endpoint's own host is reachable this way", p.ToHost, from.ID, from.Host)
	case p.To != "":
		if to = repo.Endpoint(p.To); to == nil {
			return nil, nil, fmt.Errorf("to: %q is not an endpoint of the repository", p.To)
		}
		if !inNets(to, p.Dst) {
			return nil, nil, fmt.Errorf("dst: %s is not an address of endpoint %q", p.Dst, to.ID)
		}
	case p.ToHost == "":
		for _, e := range repo.Endpoints {
			if inNets(e, p.Dst) {
				return nil, nil, fmt.Errorf("dst: %s is an address of endpoint %q: set to %q", p.Dst, e.ID, e.ID)
			}
		}
		if from == nil {
			return nil, nil, fmt.Errorf("from, to: neither is an endpoint: the packet crosses no policy of the model")
		}
	}
	return from, to, nil
}

// spoofed returns why the anti-spoofing check drops p from endpoint e, or "" when it passes.
// SPEC §3: "a packet whose source MAC differs from `mac` (when set) is dropped before any
// allowance; DHCP and ND may also come from the unspecified or link-local address; everything
// else only from the endpoint's nets."
func spoofed(e *schema.Endpoint, p Packet, toHost bool) string {
	if e.MAC != "" && p.SrcMAC != "" {
		want, err1 := net.ParseMAC(e.MAC)
		got, err2 := net.ParseMAC(p.SrcMAC)
		if err1 != nil || err2 != nil || !bytes.Equal(want, got) {
			return "anti-spoofing: source MAC"
		}
	}
	if inNets(e, p.Src) {
		return ""
	}
	// Reading: the unspecified and link-local addresses of either family (0.0.0.0, ::,
	// 169.254.0.0/16, fe80::/10) are allowed for DHCP and ND alike, to the host only: the
	// kernel does not forward a packet with such a source (see the package doc).
	if toHost && (isDHCP(p) || isND(p)) && (p.Src.IsUnspecified() || p.Src.IsLinkLocalUnicast()) {
		return ""
	}
	return "anti-spoofing: source address"
}

// isDHCP reports whether p is DHCP by SPEC §3's "(udp 67/68, 546/547 ...)". Reading: a
// client's request, udp from port 68 to 67 over IPv4 and from 546 to 547 over IPv6, as Felix
// allowed it (the plainer "any of these ports, either way" let a workload reach a DHCP client
// port of the host; the differential settled it).
func isDHCP(p Packet) bool {
	if p.Proto != protoUDP {
		return false
	}
	if p.Src.Is4() {
		return p.SrcPort == 68 && p.DstPort == 67
	}
	return p.SrcPort == 546 && p.DstPort == 547
}

// isDNS reports whether p is DNS by SPEC §3's "udp ... 53": udp to destination port 53 (not
// tcp).
func isDNS(p Packet) bool { return p.Proto == protoUDP && p.DstPort == 53 }

// isND reports whether p is the neighbour discovery of SPEC §3: ICMPv6 over IPv6, types 133
// (router solicitation), 135 and 136 (neighbour solicitation and advertisement), any code;
// not 134 (router advertisement), 137 (redirect) or MLD. Reading: the anti-spoofing
// sentence's "ND" is this same list.
func isND(p Packet) bool {
	return p.Src.Is6() && p.Proto == protoICMPv6 && (p.ICMPType == 133 || p.ICMPType == 135 || p.ICMPType == 136)
}

// toHost is the step of a packet from endpoint e to its own host: anti-spoofing, then the
// endpoint's state, then the host's allowances (SPEC §3: "Traffic from an endpoint to the
// host itself is dropped except DHCP and DNS (udp 67/68, 546/547, 53), and ICMPv6 neighbour
// discovery"). It crosses no outbound profile rule (the sentence names no policy).
func toHost(repo *schema.Repository, e *schema.Endpoint, p Packet) Step {
	st := Step{Host: e.Host, Endpoint: e.ID, Direction: "to-host"}
	st.Reason = spoofed(e, p, true)
	if st.Reason == "" {
		// Reading: "An endpoint with no profiles, or state: inactive, has all its traffic
		// dropped": all, so its DHCP, DNS and ND to the host too.
		st.Reason = unusable(repo, e)
	}
	if st.Reason != "" {
		return st
	}
	switch {
	case isDHCP(p):
		st.Allowed, st.Reason = true, "host allows DHCP"
	case isDNS(p):
		st.Allowed, st.Reason = true, "host allows DNS"
	case isND(p):
		st.Allowed, st.Reason = true, "host allows neighbour discovery"
	default:
		st.Reason = "endpoint to host"
	}
	return st
}

// unusable returns why endpoint e has all its traffic dropped ("inactive endpoint", "no
// profiles"), or "".
func unusable(repo *schema.Repository, e *schema.Endpoint) string {
	switch {
	case !e.Active():
		return "inactive endpoint"
	case len(e.ProfileIDs) == 0:
		return "no profiles"
	}
	return ""
}

// policy is the step of endpoint e's profiles in direction dir ("outbound": p comes from e,
// after anti-spoofing; "inbound": p goes to e). SPEC §3: "The profiles of an endpoint are
// evaluated in profile_ids order. Inside a profile the first matching rule decides ... No
// match falls through to the next profile; when no profile accepts, the packet is dropped."
// The error is a profile id that repo lacks.
func policy(repo *schema.Repository, e *schema.Endpoint, dir string, p Packet) (Step, error) {
	st := Step{Host: e.Host, Endpoint: e.ID, Direction: dir}
	if dir == "outbound" {
		st.Reason = spoofed(e, p, false)
	}
	if st.Reason == "" {
		st.Reason = unusable(repo, e)
	}
	if st.Reason != "" {
		return st, nil
	}
	for _, id := range e.ProfileIDs {
		prof := repo.Profiles[id]
		if prof == nil {
			return Step{}, fmt.Errorf("profile_ids: endpoint %q names profile %q, which the repository lacks", e.ID, id)
		}
		rules := prof.Inbound
		if dir == "outbound" {
			rules = prof.Outbound
		}
		for i := range rules {
			r := &rules[i]
			if !rendered(r, p) || !matches(repo, r, p) {
				continue
			}
			switch r.Action {
			case schema.ActionLog:
				st.Logged = append(st.Logged, fmt.Sprintf("%s %s %d", id, dir, i+1))
				continue
			case schema.ActionAllow:
				st.Allowed = true
			}
			// allow accepts for this direction, deny drops at once.
			st.Profile, st.Rule = id, i+1
			return st, nil
		}
	}
	st.Reason = "no profile accepted"
	return st, nil
}

// rendered reports whether rule r exists in p's IP family. SPEC §3: "A rule is rendered for an
// IP family only if all its nets belong to that family and its ICMP flavour (icmp = v4, icmpv6
// = v6) and ip_version fit; otherwise it is skipped in that family, never widened." Readings:
// "all its nets" includes the negated ones (!src_net, !dst_net); the ICMP flavour is the
// positive protocol's, by name or number (schema.Protocol.ICMPFamily: "1" is icmp), never
// !protocol's; tags are not nets (a tag stands for addresses of both families).
func rendered(r *schema.Rule, p Packet) bool {
	fam := 6
	if p.Src.Is4() {
		fam = 4
	}
	for _, n := range []string{r.SrcNet, r.DstNet, r.NotSrcNet, r.NotDstNet} {
		if n != "" && schema.NetFamily(n) != fam {
			return false
		}
	}
	if f := r.Protocol.ICMPFamily(); f != 0 && f != fam {
		return false
	}
	return r.IPVersion == 0 || r.IPVersion == fam
}

// matches reports whether every match of rule r holds for p (SPEC §2's rule fields; an absent
// field matches anything). src_* are matched against p's source and dst_* against its
// destination, in either direction.
func matches(repo *schema.Repository, r *schema.Rule, p Packet) bool {
	if r.Protocol != "" {
		if n, ok := r.Protocol.Number(); !ok || n != p.Proto {
			return false
		}
	}
	if r.NotProtocol != "" {
		if n, ok := r.NotProtocol.Number(); !ok || n == p.Proto {
			return false
		}
	}
	return addrMatches(repo, r.SrcTag, r.SrcNet, r.NotSrcTag, r.NotSrcNet, p.Src) &&
		addrMatches(repo, r.DstTag, r.DstNet, r.NotDstTag, r.NotDstNet, p.Dst) &&
		portsMatch(r.SrcPorts, r.NotSrcPorts, p.SrcPort) &&
		portsMatch(r.DstPorts, r.NotDstPorts, p.DstPort) &&
		icmpMatches(r, p)
}

// addrMatches reports whether a is in tag and net (when set) and in neither notTag nor notNet
// (when set). Reading: "A tag that no endpoint carries matches nothing": its set of addresses
// is empty, so a negated tag that no endpoint carries excludes nothing (the parenthetical "an
// allow never fires, a deny never fires" is read as about the positive key).
func addrMatches(repo *schema.Repository, tag, netw, notTag, notNet string, a netip.Addr) bool {
	return (tag == "" || inTag(repo, tag, a)) &&
		(netw == "" || inNet(netw, a)) &&
		(notTag == "" || !inTag(repo, notTag, a)) &&
		(notNet == "" || !inNet(notNet, a))
}

// inTag reports whether a is an address of an endpoint of repo (any host, any state) with a
// profile that carries tag (SPEC §3).
func inTag(repo *schema.Repository, tag string, a netip.Addr) bool {
	for _, e := range repo.Endpoints {
		carries := false
		for _, id := range e.ProfileIDs {
			if prof := repo.Profiles[id]; prof != nil && slices.Contains(prof.Tags, tag) {
				carries = true
			}
		}
		if carries && inNets(e, a) {
			return true
		}
	}
	return false
}

// inNets reports whether a is in one of e's ipv4_nets or ipv6_nets.
func inNets(e *schema.Endpoint, a netip.Addr) bool {
	for _, n := range e.IPv4Nets {
		if inNet(n, a) {
			return true
		}
	}
	for _, n := range e.IPv6Nets {
		if inNet(n, a) {
			return true
		}
	}
	return false
}

// inNet reports whether a is in the address or CIDR s (host bits beyond the prefix ignored).
func inNet(s string, a netip.Addr) bool {
	n, err := schema.ParseNet(s)
	return err == nil && n.Masked().Contains(a)
}

// portsMatch reports whether port is in one of ports (when set) and in none of notPorts.
// Ports need a positive tcp, udp, sctp or udplite protocol (SPEC §2), checked by matches.
func portsMatch(ports, notPorts []schema.PortRange, port uint16) bool {
	in := func(rs []schema.PortRange) bool {
		for _, r := range rs {
			if r.First <= port && port <= r.Last {
				return true
			}
		}
		return false
	}
	return (len(ports) == 0 || in(ports)) && !in(notPorts)
}

// icmpMatches reports whether p's ICMP type and code fit r's (SPEC §2: icmp_type, icmp_code
// and their negations; only with protocol icmp or icmpv6, which matches checks). Reading:
// icmp_code only means something with a type ("icmp_code needs icmp_type, !icmp_code needs
// icmp_type or !icmp_type"), so !icmp_code excludes one (type, code) pair: with !icmp_type U,
// "not type U code C" (a packet of type U and another code matches, so !icmp_type alone is
// "not type U" but with !icmp_code it is only the pair); without !icmp_type, the pair of
// icmp_type T, i.e. "type T, code not C".
func icmpMatches(r *schema.Rule, p Packet) bool {
	t, c := int(p.ICMPType), int(p.ICMPCode)
	if r.ICMPType != nil && t != *r.ICMPType {
		return false
	}
	if r.ICMPCode != nil && c != *r.ICMPCode {
		return false
	}
	switch {
	case r.NotICMPCode != nil && r.NotICMPType != nil:
		return !(t == *r.NotICMPType && c == *r.NotICMPCode)
	case r.NotICMPCode != nil:
		return c != *r.NotICMPCode // icmp_type already holds (validation: it is set)
	case r.NotICMPType != nil:
		return t != *r.NotICMPType
	}
	return true
}

// invalidFirst reports whether conntrack takes p, the first packet of a new flow, for an
// invalid one (SPEC §3: "invalid ones are dropped"). Which first packets those are is the
// kernel's rule, not the policy's: an ICMP packet (protocol 1) starts a flow only as a request
// (echo 8, timestamp 13, information 15, address mask 17), and an ICMPv6 one (58) only as
// echo request (128) or node information query (139), while neighbour discovery and MLD
// (130 to 136, 143) are not tracked at all; every other ICMP message (a reply, or an error
// quoting a packet of no flow) is invalid. Other protocols always start a flow. The
// protocol number picks the rule, whatever the family (Linux nf_conntrack_proto_icmp.c,
// nf_conntrack_proto_icmpv6.c). Found by the kernel differential (issue 9).
func invalidFirst(p Packet) bool {
	switch p.Proto {
	case protoICMP:
		return !slices.Contains([]uint8{8, 13, 15, 17}, p.ICMPType)
	case protoICMPv6:
		untracked := (p.ICMPType >= 130 && p.ICMPType <= 136) || p.ICMPType == 143
		return !untracked && p.ICMPType != 128 && p.ICMPType != 139
	}
	return false
}
