package simulate

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

// Names of the compiled ruleset's base chains (the naming contract of reconcile/compile; the
// simulator may not import compile). Explain reads the sender's outbound verdict from
// ChainForwardFrom, the receiver's inbound verdict from ChainForwardTo, and the verdict of
// traffic from an endpoint to its host from ChainInputFrom.
const (
	ChainForwardFrom = "forward-from"
	ChainForwardTo   = "forward-to"
	ChainInputFrom   = "input-from"
)

// DefaultSrcPort is the source port of probes that do not name one (an ephemeral port).
const DefaultSrcPort = 50000

// uplinkMAC is the source MAC of packets that come from outside the model (a router's).
const uplinkMAC = "02:00:00:00:00:01"

// hostPrefix in Query.To names a host itself ("host:node-1"): the packet goes to the host, not
// through it, and the input hook decides.
const hostPrefix = "host:"

// Network is the model of every host: the repository and the compiled ruleset of each host.
type Network struct {
	Repo *schema.Repository
	// Rulesets by host name. A ruleset must not be changed once Explain has used it (it is
	// indexed once); replace the map entry instead.
	Rulesets map[string]*nft.Ruleset
	// Compile, when set, computes the ruleset of a host missing from Rulesets (and Explain
	// stores it there), so callers need compile only the hosts that a question involves.
	Compile func(host string) (*nft.Ruleset, error)

	prepared map[*nft.Ruleset]*Prepared
}

// Query is a reachability question: can From open a flow to To?
type Query struct {
	// From and To are endpoint ids or IP addresses. An IP inside an endpoint's nets is that
	// endpoint; any other IP is outside the model (its traffic crosses no policy of its own).
	// To may also be "host:<name>": the host itself (the input hook; only from an endpoint
	// of that host).
	From, To string
	// Protocol is tcp, udp, icmp, icmpv6, sctp, udplite or a number 1-255.
	Protocol string
	// Port is the destination port, required with tcp, udp, sctp and udplite.
	Port int
	// SrcPort is the source port (default DefaultSrcPort).
	SrcPort int
	// ICMPType and ICMPCode default to an echo request (8 or 128, code 0).
	ICMPType, ICMPCode *int
	// Src, when valid, is the source address the sender writes instead of its own: a forged
	// one, or the unspecified or link-local address of a DHCP or ND client. From must then be
	// an endpoint, and Src sets the probe's IP family (icmp/icmpv6 must agree with it).
	Src netip.Addr
	// SrcMAC, when set, is the link-layer source the sender writes instead of its endpoint's
	// `mac` (a forged MAC; six colon-separated hex bytes). From must then be an endpoint.
	SrcMAC string
}

// Peer is one end of a flow.
type Peer struct {
	// Endpoint is the endpoint id, "" for an address outside the model (or a host).
	Endpoint string `json:"endpoint,omitempty"`
	// Host enforces the endpoint (or is the host itself when To names one).
	Host      string `json:"host,omitempty"`
	Interface string `json:"interface,omitempty"`
	// Addr is the address the probe uses; invalid for a host (it has none in the model).
	Addr netip.Addr `json:"address,omitzero"`

	ep *schema.Endpoint
}

// String renders the peer as `web-1 (198.18.1.2, node-1)`, `198.18.9.9 (outside)` or
// `host node-1`.
func (p Peer) String() string {
	switch {
	case p.Endpoint != "":
		return fmt.Sprintf("%s (%s, %s)", p.Endpoint, p.Addr, p.Host)
	case p.Host != "":
		return "host " + p.Host
	}
	return p.Addr.String() + " (outside the model)"
}

// Direction is the verdict of one direction of a flow: outbound at the sender's host, or
// inbound at the receiver's (or at the host, for traffic to the host).
type Direction struct {
	// Name is "outbound", "inbound" or "to host".
	Name     string `json:"direction"`
	Host     string `json:"host"`
	Endpoint string `json:"endpoint,omitempty"`
	// Reached is false when the packet was dropped before (the rest is then empty).
	Reached bool `json:"reached"`
	// Verdict is "allow" or "deny".
	Verdict string `json:"verdict,omitempty"`
	// Chain and Index (1-based) locate the deciding rule; Index is 0 when a base chain's
	// policy decided.
	Chain string `json:"chain,omitempty"`
	Index int    `json:"index,omitempty"`
	// Comment is the deciding rule's comment ("WEB inbound 2", "to web-1: no profile accepted").
	Comment string `json:"comment,omitempty"`
	// Rule is the calicoctl text of the profile rule that decided, when a profile rule did.
	Rule string `json:"rule,omitempty"`
	// NFT is the nft text of the deciding rule.
	NFT string `json:"nft,omitempty"`
}

// Decider names what decided: the comment, or the chain and rule, or the chain's policy.
func (d *Direction) Decider() string {
	switch {
	case !d.Reached:
		return "not reached"
	case d.Comment != "":
		return d.Comment
	case d.Index == 0:
		return "policy of " + d.Chain
	}
	return fmt.Sprintf("%s rule %d", d.Chain, d.Index)
}

// Describe renders the verdict and the deciding rule: `allow by WEB inbound 1: allow tcp to
// ports 80,443`, `deny by to web-1: no profile accepted`, `not reached`.
func (d *Direction) Describe() string {
	if !d.Reached {
		return "not reached"
	}
	s := d.Verdict + " by " + d.Decider()
	switch {
	case d.Rule != "":
		s += ": " + d.Rule
	case d.Comment == "" && d.NFT != "":
		s += ": " + d.NFT
	}
	return s
}

// HostTrace is one trace of the flow through one host's ruleset.
type HostTrace struct {
	Host   string `json:"host"`
	Packet Packet `json:"-"`
	Result Result `json:"-"`
}

// Explanation answers a Query.
type Explanation struct {
	From Peer `json:"from"`
	To   Peer `json:"to"`
	// Probe is the protocol part: `tcp/80`, `icmp type 8 code 0`, `47`.
	Probe string `json:"probe"`
	// Outbound is nil when the sender is outside the model; Inbound when the receiver is.
	Outbound *Direction `json:"outbound,omitempty"`
	Inbound  *Direction `json:"inbound,omitempty"`
	// Verdict is "allow" when every host on the path accepts the packet, else "deny".
	Verdict string `json:"verdict"`
	// Extra lists drops on the path that are neither direction's (should not happen with a
	// compiled ruleset; shown so that nothing is hidden).
	Extra []Direction `json:"extra,omitempty"`
	// Logged are the log prefixes the packet hit, over the whole path.
	Logged []string    `json:"logged,omitempty"`
	Traces []HostTrace `json:"-"`
}

// Allowed reports whether the flow is allowed.
func (e *Explanation) Allowed() bool { return e.Verdict == "allow" }

// Header renders `client-1 (198.18.2.10, node-2) -> web-1 (198.18.1.2, node-1): tcp/80`.
func (e *Explanation) Header() string {
	return fmt.Sprintf("%s -> %s: %s", e.From, e.To, e.Probe)
}

// Decider names what decided the overall verdict: for a deny the first direction that
// denied, for an allow the last direction that allowed.
func (e *Explanation) Decider() string {
	dirs := e.directions()
	if e.Verdict == "deny" {
		for _, d := range dirs {
			if d.Reached && d.Verdict == "deny" {
				return d.Decider()
			}
		}
		return "no direction denied"
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if dirs[i].Reached {
			return dirs[i].Decider()
		}
	}
	return "no policy on the path"
}

func (e *Explanation) directions() []*Direction {
	var out []*Direction
	if e.Outbound != nil {
		out = append(out, e.Outbound)
	}
	if e.Inbound != nil {
		out = append(out, e.Inbound)
	}
	for i := range e.Extra {
		out = append(out, &e.Extra[i])
	}
	return out
}

// Lines renders the per-direction lines of the explanation (without the header and verdict).
func (e *Explanation) Lines() []string {
	type row struct{ left, right string }
	var rows []row
	add := func(label string, d *Direction) {
		left := fmt.Sprintf("%s at %s", label, d.Host)
		if d.Endpoint != "" {
			left += " (" + d.Endpoint + ")"
		}
		rows = append(rows, row{left + ":", d.Describe()})
	}
	toHost := e.Inbound != nil && e.Inbound.Name == "to host"
	switch {
	case e.Outbound != nil:
		add("outbound", e.Outbound)
	case toHost:
	default:
		rows = append(rows, row{"outbound:", e.From.Addr.String() + " is outside the model (no policy)"})
	}
	switch {
	case toHost:
		add("to host ", e.Inbound)
	case e.Inbound != nil:
		add("inbound ", e.Inbound)
	default:
		rows = append(rows, row{"inbound: ", e.To.Addr.String() + " is outside the model (no policy)"})
	}
	for i := range e.Extra {
		add("also    ", &e.Extra[i])
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.left))
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("  %-*s %s", width, r.left, r.right)
	}
	return out
}

func (n *Network) ruleset(host string) (*nft.Ruleset, error) {
	if rs := n.Rulesets[host]; rs != nil {
		return rs, nil
	}
	if n.Compile == nil {
		return nil, fmt.Errorf("no ruleset for host %q", host)
	}
	rs, err := n.Compile(host)
	if err != nil {
		return nil, fmt.Errorf("compile host %q: %w", host, err)
	}
	if n.Rulesets == nil {
		n.Rulesets = map[string]*nft.Ruleset{}
	}
	n.Rulesets[host] = rs
	return rs, nil
}

// resolve finds the endpoint or address a query side names.
func (n *Network) resolve(s, side string) (Peer, error) {
	if s == "" {
		return Peer{}, fmt.Errorf("%s is required (an endpoint id or an IP address)", side)
	}
	if e := n.Repo.Endpoint(s); e != nil {
		return Peer{Endpoint: e.ID, Host: e.Host, Interface: e.Interface, ep: e}, nil
	}
	if h, ok := strings.CutPrefix(s, hostPrefix); ok && side == "to" {
		for _, e := range n.Repo.Endpoints {
			if e.Host == h {
				return Peer{Host: h}, nil
			}
		}
		return Peer{}, fmt.Errorf("to: no endpoint lives on host %q", h)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return Peer{}, fmt.Errorf("%s: %q is neither an endpoint nor an IP address", side, s)
	}
	if a.Is4In6() {
		// As in the repository's files (tests' from and to, nets): an IPv6 packet from
		// ::ffff:a.b.c.d is not the IPv4 endpoint's, and anti-spoofing drops it.
		return Peer{}, errors.New(schema.MappedAddrMessage(side, s, a))
	}
	for _, e := range n.Repo.Endpoints {
		for _, p := range e.Prefixes() {
			if p.Contains(a) {
				return Peer{Endpoint: e.ID, Host: e.Host, Interface: e.Interface, Addr: a, ep: e}, nil
			}
		}
	}
	return Peer{Addr: a}, nil
}

// firstAddr is the endpoint's first address of the family (the address of its first net).
func firstAddr(e *schema.Endpoint, f nft.Family) (netip.Addr, bool) {
	for _, p := range e.Prefixes() {
		if p.Addr().Is4() == (f == nft.IPv4) {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// peerFamilies says which families a peer can use.
func peerFamilies(p Peer) (v4, v6 bool) {
	switch {
	case p.Addr.IsValid():
		return p.Addr.Is4(), p.Addr.Is6()
	case p.ep != nil:
		_, v4 = firstAddr(p.ep, nft.IPv4)
		_, v6 = firstAddr(p.ep, nft.IPv6)
		return v4, v6
	}
	return true, true // a host: any family
}

// Explain traces the first packet of the flow along its path and says, per direction, what
// decided. The path: the sender's host ruleset (forward hook, IIF the sender's interface, OIF
// the receiver's when both live on that host, else "" for the uplink); then, when the
// receiver is an endpoint of another host and the sender's host accepted, the receiver's host
// ruleset (IIF "", OIF the receiver's interface). A sender outside the model is traced only
// at the receiver's host. To "host:<name>" traces the input hook of that host.
func (n *Network) Explain(q Query) (Explanation, error) {
	var ex Explanation
	if n == nil || n.Repo == nil {
		return ex, errors.New("no repository")
	}
	e, err := n.resolveEnds(q)
	if err != nil {
		return ex, err
	}
	pkt, probe, icmpFam, err := explainProbe(q)
	if err != nil {
		return ex, err
	}
	ex.Probe = probe
	fam, err := explainFamily(q, e.from, e.to, icmpFam)
	if err != nil {
		return ex, err
	}
	if err := e.addresses(q, fam); err != nil {
		return ex, err
	}
	e.address(&pkt, q, fam)
	ex.From, ex.To = e.from, e.to

	x := &explainer{n: n, ex: &ex, used: map[string]bool{}}
	allowed, err := x.path(pkt, e)
	if err != nil {
		return ex, err
	}
	x.extraDrops()
	ex.Verdict = "deny"
	if allowed {
		ex.Verdict = "allow"
	}
	return ex, nil
}

// queryEnds are the two peers of a query, checked against each other.
type queryEnds struct {
	from, to Peer
	// toHost is true when To names a host ("host:<name>").
	toHost bool
	// srcMAC is the query's source MAC in canonical form, "" for the sender's own.
	srcMAC string
}

// resolveEnds resolves From and To and checks that the query can be asked of them: a
// source address or MAC needs an endpoint sender, at least one end is an endpoint (or To a
// host reached from one of its endpoints), and the two ends differ.
func (n *Network) resolveEnds(q Query) (queryEnds, error) {
	var e queryEnds
	var err error
	if e.from, err = n.resolve(q.From, "from"); err != nil {
		return e, err
	}
	if e.to, err = n.resolve(q.To, "to"); err != nil {
		return e, err
	}
	from, to := e.from, e.to
	e.toHost = to.Endpoint == "" && to.Host != ""
	if q.SrcMAC != "" {
		hw, err := net.ParseMAC(q.SrcMAC)
		if err != nil || len(hw) != 6 {
			return e, fmt.Errorf("source mac %q is not a MAC address (write six hex bytes: 02:00:00:00:00:02)", q.SrcMAC)
		}
		e.srcMAC = hw.String()
	}
	if (q.Src.IsValid() || e.srcMAC != "") && from.ep == nil {
		return e, fmt.Errorf("a source address or MAC of its own needs from to be an endpoint, not %q", q.From)
	}
	if q.Src.IsValid() && q.Src.Zone() != "" {
		return e, fmt.Errorf("source address %s has a zone: write it without %%%s", q.Src, q.Src.Zone())
	}
	switch {
	case from.Endpoint == "" && to.Endpoint == "" && !e.toHost:
		return e, fmt.Errorf("neither %q nor %q is an endpoint of the repository", q.From, q.To)
	case from.Endpoint != "" && from.Endpoint == to.Endpoint:
		return e, fmt.Errorf("from and to are the same endpoint %q", from.Endpoint)
	case e.toHost && from.Endpoint == "":
		return e, fmt.Errorf("traffic to host %q can only be explained from one of its endpoints", to.Host)
	case e.toHost && from.Host != to.Host:
		return e, fmt.Errorf("endpoint %q lives on host %q, not %q", from.Endpoint, from.Host, to.Host)
	}
	return e, nil
}

// explainProbe builds the probe packet's protocol part (forward hook, the first packet's ct
// state (FirstPacketCt), protocol,
// ports, icmp type and code) and its text (`tcp/80`, `icmp type 8 code 0`). icmpFam is 4 or 6
// for icmp and icmpv6, else 0.
func explainProbe(q Query) (pkt Packet, probe string, icmpFam int, err error) {
	pkt = Packet{Hook: nft.HookForward, Ct: nft.CtNew}
	proto := schema.Protocol(q.Protocol)
	pn, ok := proto.Number()
	if !ok {
		return pkt, "", 0, fmt.Errorf("protocol %q is not tcp, udp, icmp, icmpv6, sctp, udplite or 1-255", q.Protocol)
	}
	pkt.Proto = pn
	probe = q.Protocol
	icmpFam = proto.ICMPFamily()
	switch {
	case proto.HasPorts():
		if q.Port < 1 || q.Port > 65535 {
			return pkt, probe, icmpFam, fmt.Errorf("protocol %s needs a port (1-65535)", q.Protocol)
		}
		sp := q.SrcPort
		if sp == 0 {
			sp = DefaultSrcPort
		}
		if sp < 1 || sp > 65535 {
			return pkt, probe, icmpFam, fmt.Errorf("source port %d is not 1-65535", sp)
		}
		pkt.SPort, pkt.DPort = uint16(sp), uint16(q.Port)
		probe += "/" + strconv.Itoa(q.Port)
	case q.Port != 0:
		return pkt, probe, icmpFam, fmt.Errorf("a port needs protocol tcp, udp, sctp or udplite, not %s", q.Protocol)
	}
	switch {
	case icmpFam != 0:
		t, c := 8, 0
		if icmpFam == 6 {
			t = 128
		}
		if q.ICMPType != nil {
			t = *q.ICMPType
		}
		if q.ICMPCode != nil {
			if q.ICMPType == nil {
				return pkt, probe, icmpFam, errors.New("an icmp code needs an icmp type")
			}
			c = *q.ICMPCode
		}
		if t < 0 || t > 255 || c < 0 || c > 255 {
			return pkt, probe, icmpFam, fmt.Errorf("icmp type %d code %d: not 0-255", t, c)
		}
		pkt.ICMPType, pkt.ICMPCode = uint8(t), uint8(c)
		probe += fmt.Sprintf(" type %d code %d", t, c)
	case q.ICMPType != nil || q.ICMPCode != nil:
		return pkt, probe, icmpFam, fmt.Errorf("an icmp type or code needs protocol icmp or icmpv6, not %s", q.Protocol)
	}
	pkt.Ct = FirstPacketCt(pkt.Proto, pkt.ICMPType)
	return pkt, probe, icmpFam, nil
}

// explainFamily picks the probe's IP family: fixed by the source address or icmp/icmpv6,
// else v4 when both ends have v4, else v6 when both have v6.
func explainFamily(q Query, from, to Peer, icmpFam int) (nft.Family, error) {
	f4, f6 := peerFamilies(from)
	t4, t6 := peerFamilies(to)
	switch {
	case q.Src.IsValid() && q.Src.Unmap().Is4() != (icmpFam != 6) && icmpFam != 0:
		return 0, fmt.Errorf("source address %s is not an IPv%d address (the probe is %s)", q.Src, icmpFam, q.Protocol)
	case q.Src.IsValid() && q.Src.Unmap().Is4():
		return nft.IPv4, nil
	case q.Src.IsValid():
		return nft.IPv6, nil
	case icmpFam == 4:
		return nft.IPv4, nil
	case icmpFam == 6:
		return nft.IPv6, nil
	case f4 && t4:
		return nft.IPv4, nil
	case f6 && t6:
		return nft.IPv6, nil
	}
	return 0, fmt.Errorf("%s and %s have no IP family in common", q.From, q.To)
}

// addresses gives each endpoint end its first address of the family (a sender without one
// takes the query's source address) and checks that an address end is of the family.
func (e *queryEnds) addresses(q Query, fam nft.Family) error {
	for _, p := range []*Peer{&e.from, &e.to} {
		if p.Addr.IsValid() {
			if p.Addr.Is4() != (fam == nft.IPv4) {
				return fmt.Errorf("%s is not an IPv%d address (the probe is %s)", p.Addr, fam, q.Protocol)
			}
			continue
		}
		if p.ep == nil {
			continue // the host
		}
		a, ok := firstAddr(p.ep, fam)
		if !ok && p == &e.from && q.Src.IsValid() {
			a, ok = q.Src.Unmap(), true // a client without an address of the family yet
		}
		if !ok {
			return fmt.Errorf("endpoint %q has no IPv%d address", p.Endpoint, fam)
		}
		p.Addr = a
	}
	return nil
}

// address sets the probe's source and destination addresses and source MAC: the ends'
// addresses (the query's source address instead of the sender's when given; a stand-in for a
// host), the query's MAC, else the sender's, else the uplink's.
func (e *queryEnds) address(pkt *Packet, q Query, fam nft.Family) {
	pkt.Src, pkt.Dst = e.from.Addr, e.to.Addr
	if q.Src.IsValid() {
		pkt.Src = q.Src.Unmap()
	}
	if e.toHost {
		// The host has no address in the model: any address of the family that no
		// endpoint uses stands for it.
		pkt.Dst = hostAddr(fam)
	}
	pkt.SrcMAC = uplinkMAC
	if e.from.ep != nil && e.from.ep.MAC != "" {
		pkt.SrcMAC = strings.ToLower(e.from.ep.MAC)
	}
	if e.srcMAC != "" {
		pkt.SrcMAC = e.srcMAC
	}
}

// explainer traces a probe host by host into one Explanation.
type explainer struct {
	n  *Network
	ex *Explanation
	// used holds "host/base chain" for each base chain read as a direction.
	used map[string]bool
}

// trace runs the probe through the host's ruleset (prepared once per ruleset) and appends
// the trace and its log prefixes to the explanation.
func (x *explainer) trace(host string, p Packet) (*HostTrace, error) {
	n, ex := x.n, x.ex
	rs, err := n.ruleset(host)
	if err != nil {
		return nil, err
	}
	if n.prepared == nil {
		n.prepared = map[*nft.Ruleset]*Prepared{}
	}
	pr := n.prepared[rs]
	if pr == nil {
		pr = Prepare(rs)
		n.prepared[rs] = pr
	}
	res := pr.Trace(p)
	if res.Err != nil {
		return nil, fmt.Errorf("host %q: %w", host, res.Err)
	}
	ex.Traces = append(ex.Traces, HostTrace{Host: host, Packet: p, Result: res})
	ex.Logged = append(ex.Logged, res.Logged...)
	return &ex.Traces[len(ex.Traces)-1], nil
}

// direction reads the base chain of a host trace as one direction; ht nil is a direction
// the packet did not reach.
func (x *explainer) direction(name, base string, ht *HostTrace, ep string) *Direction {
	d := &Direction{Name: name, Endpoint: ep}
	if ht == nil {
		return d
	}
	d.Host = ht.Host
	x.used[ht.Host+"/"+base] = true
	if br := ht.Result.Base(base); br != nil {
		x.n.fill(d, br)
	}
	return d
}

// path traces the probe along its path (see Explain) and fills the directions; allowed is
// true when every host on the path accepted.
func (x *explainer) path(pkt Packet, e queryEnds) (allowed bool, err error) {
	ex, from, to := x.ex, e.from, e.to
	switch {
	case e.toHost:
		p := pkt
		p.Hook, p.IIF = nft.HookInput, from.Interface
		ht, err := x.trace(from.Host, p)
		if err != nil {
			return false, err
		}
		allowed = ht.Result.Verdict == nft.Accept
		// The sender's outbound rules do not apply to traffic to its host (SPEC §3): the
		// input chain is the one direction.
		ex.Inbound = x.direction("to host", ChainInputFrom, ht, from.Endpoint)
	case from.Endpoint != "":
		p := pkt
		p.IIF = from.Interface
		sameHost := to.Endpoint != "" && to.Host == from.Host
		if sameHost {
			p.OIF = to.Interface
		}
		ht, err := x.trace(from.Host, p)
		if err != nil {
			return false, err
		}
		allowed = ht.Result.Verdict == nft.Accept
		ex.Outbound = x.direction("outbound", ChainForwardFrom, ht, from.Endpoint)
		if to.Endpoint != "" {
			var rt *HostTrace
			if sameHost {
				rt = ht
			} else if allowed {
				p := pkt
				p.IIF, p.OIF = "", to.Interface
				if rt, err = x.trace(to.Host, p); err != nil {
					return false, err
				}
				allowed = rt.Result.Verdict == nft.Accept
			}
			ex.Inbound = x.direction("inbound", ChainForwardTo, rt, to.Endpoint)
			if rt == nil {
				ex.Inbound.Host = to.Host
			}
		}
	default: // from outside the model to an endpoint
		p := pkt
		p.IIF, p.OIF = "", to.Interface
		ht, err := x.trace(to.Host, p)
		if err != nil {
			return false, err
		}
		allowed = ht.Result.Verdict == nft.Accept
		ex.Inbound = x.direction("inbound", ChainForwardTo, ht, to.Endpoint)
	}
	return allowed, nil
}

// extraDrops lists the drops elsewhere on the path: base chains that dropped and were not
// read as a direction.
func (x *explainer) extraDrops() {
	ex := x.ex
	for _, ht := range ex.Traces {
		for i := range ht.Result.Bases {
			br := &ht.Result.Bases[i]
			if br.Verdict == nft.Drop && !x.used[ht.Host+"/"+br.Chain] {
				d := Direction{Name: "other", Host: ht.Host}
				x.n.fill(&d, br)
				ex.Extra = append(ex.Extra, d)
			}
		}
	}
}

// fill copies a base chain's decision into d, with the profile rule's text when a profile
// rule decided.
func (n *Network) fill(d *Direction, br *BaseResult) {
	d.Reached = true
	d.Verdict = "deny"
	if br.Verdict == nft.Accept {
		d.Verdict = "allow"
	}
	if br.Rule == nil {
		d.Chain = br.Chain
		return
	}
	d.Chain, d.Index = br.RuleChain, br.Index
	d.Comment = br.Rule.Comment
	d.NFT = br.Rule.String()
	if r := n.profileRule(br.Rule.Comment); r != nil {
		d.Rule = r.String()
	}
}

// profileRule finds the profile rule a comment `<P> inbound|outbound <N>` names.
func (n *Network) profileRule(comment string) *schema.Rule {
	f := strings.Fields(comment)
	if len(f) != 3 {
		return nil
	}
	p := n.Repo.Profiles[f[0]]
	i, err := strconv.Atoi(f[2])
	if p == nil || err != nil || i < 1 {
		return nil
	}
	var rules []schema.Rule
	switch f[1] {
	case "inbound":
		rules = p.Inbound
	case "outbound":
		rules = p.Outbound
	default:
		return nil
	}
	if i > len(rules) {
		return nil
	}
	return &rules[i-1]
}

// hostAddr stands for the host's own address: the last address of the benchmarking ranges.
func hostAddr(f nft.Family) netip.Addr {
	if f == nft.IPv6 {
		return netip.MustParseAddr("fd00::fffe")
	}
	return netip.MustParseAddr("198.19.255.254")
}

// CheckResult is the outcome of one expectation.
type CheckResult struct {
	Expectation *schema.Expectation `json:"expectation"`
	// Explanation is nil when the question could not be asked (Err).
	Explanation *Explanation `json:"explanation,omitempty"`
	// Got is "allow" or "deny" ("" on error).
	Got  string `json:"got,omitempty"`
	Pass bool   `json:"pass"`
	Err  error  `json:"-"`
}

// Check answers every expectation. An expectation that cannot be asked (an unknown endpoint,
// a missing port, a host that does not compile) fails with Err set.
func (n *Network) Check(tests []*schema.Expectation) []CheckResult {
	out := make([]CheckResult, 0, len(tests))
	for _, x := range tests {
		r := CheckResult{Expectation: x}
		ex, err := n.Explain(Query{From: x.From, To: x.To, Protocol: x.Protocol, Port: x.Port, ICMPType: x.ICMPType, ICMPCode: x.ICMPCode})
		if err != nil {
			r.Err = err
		} else {
			r.Explanation = &ex
			r.Got = ex.Verdict
			r.Pass = ex.Verdict == x.Expect
		}
		out = append(out, r)
	}
	return out
}
