package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
)

// Probe is one flow to try: from a workload to an endpoint (or an address), by one protocol.
type Probe struct {
	From string // endpoint id of the sender
	// To is the endpoint id of the receiver ("" when Dst is given), or "host:<name>" for the
	// sender's own host (GatewayV4 or HostV6).
	To string
	// Dst overrides the destination address (default: To's first address of Family).
	Dst netip.Addr
	// Family is 4 (default) or 6.
	Family int
	// Proto is "tcp", "udp" or "icmp" (ICMPv6 when Family is 6).
	Proto string
	// Port is the destination port of tcp and udp.
	Port int
	// ICMPType and ICMPCode select an ICMP message observed at the receiver; nil ICMPType is an
	// echo request whose reply must come back (ping).
	ICMPType, ICMPCode *int
	// Src forges the source address. A udp probe from an address of the lab's ranges adds
	// it to the sender's eth0 (UDPSend); any other source (the unspecified or a link-local
	// address) and an icmp probe with a source go out as a raw frame (RawSend).
	Src netip.Addr
	// SrcPort is the udp source port (DHCP's 68, DHCPv6's 546); setting it sends a raw frame.
	SrcPort int
	// SrcMAC forges the link-layer source; setting it sends a raw frame (eth0 keeps its MAC).
	SrcMAC string
}

// Raw reports whether the probe goes out as a hand-built frame (RawSend): it forges a MAC, a
// source port, a source no socket could bind, or the source of an icmp message. A raw probe
// is allowed when its receiver saw it (a udp server or an ICMP sniffer), never by a reply.
func (p Probe) Raw() bool {
	return p.SrcMAC != "" || p.SrcPort != 0 || (p.Src.IsValid() && (p.Proto != "udp" || !Allowed(p.Src)))
}

// String names the probe the way the demo's table shows it: "tcp/80", "udp/53", "ping",
// "ping6", "icmp 13/0", "udp/53 src 198.18.9.9", with " v6" for IPv6 tcp/udp.
func (p Probe) String() string {
	var s string
	switch p.Proto {
	case "icmp":
		switch {
		case p.ICMPType == nil && p.family() == 6:
			s = "ping6"
		case p.ICMPType == nil:
			s = "ping"
		default:
			s = fmt.Sprintf("icmp %d/%d", *p.ICMPType, deref(p.ICMPCode))
			if p.family() == 6 {
				s = "icmpv6 " + s[len("icmp "):]
			}
		}
	default:
		s = fmt.Sprintf("%s/%d", p.Proto, p.Port)
		if p.family() == 6 {
			s += " v6"
		}
	}
	if p.Src.IsValid() {
		s += " src " + p.Src.String()
	}
	if p.SrcPort != 0 {
		s += fmt.Sprintf(" sport %d", p.SrcPort)
	}
	if p.SrcMAC != "" {
		s += " mac " + p.SrcMAC
	}
	return s
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func (p Probe) family() int {
	if p.Src.IsValid() {
		if p.Src.Is6() {
			return 6
		}
		return 4
	}
	if p.Dst.IsValid() {
		if p.Dst.Is6() {
			return 6
		}
		return 4
	}
	if p.Family == 6 {
		return 6
	}
	return 4
}

// HostPrefix in Probe.To names a host itself: "host:node-1".
const HostPrefix = "host:"

// dst returns the destination address of p.
func (l *Lab) dst(p Probe) (netip.Addr, error) {
	if p.Dst.IsValid() {
		return p.Dst, nil
	}
	if h, ok := strings.CutPrefix(p.To, HostPrefix); ok {
		w := l.workloads[p.From]
		if w == nil || w.Host.Name != h {
			return netip.Addr{}, fmt.Errorf("only a workload of host %q can reach it (its gateway address)", h)
		}
		// A client without an address talks to the host the way DHCP and ND do: from
		// 0.0.0.0 to the limited broadcast, from :: or a link-local address to the host's
		// link-local address.
		switch {
		case p.family() == 6 && p.Src.IsValid() && (p.Src.IsUnspecified() || p.Src.IsLinkLocalUnicast()):
			return GatewayV6, nil
		case p.family() == 6:
			return HostV6, nil
		case p.Src.IsValid() && p.Src.IsUnspecified():
			return netip.AddrFrom4([4]byte{255, 255, 255, 255}), nil
		}
		return GatewayV4, nil
	}
	a := l.Addr(p.To, p.family())
	if !a.IsValid() {
		return a, fmt.Errorf("endpoint %q has no IPv%d address in the lab", p.To, p.family())
	}
	return a, nil
}

// Run sends the probe's traffic and reports whether it got through.
func (l *Lab) Run(ctx context.Context, p Probe, timeout time.Duration) (bool, error) {
	to, err := l.dst(p)
	if err != nil {
		return false, err
	}
	if p.Raw() {
		if p.Proto != "udp" && p.Proto != "icmp" {
			return false, fmt.Errorf("a raw probe (forged mac, source port or source) is udp or icmp, not %s", p.Proto)
		}
		pk := RawPacket{SrcMAC: p.SrcMAC, Src: p.Src, Dst: to, Proto: p.Proto, SPort: p.SrcPort, DPort: p.Port}
		if pk.SPort == 0 {
			pk.SPort = rawSrcPort
		}
		if p.Proto == "icmp" {
			pk.ICMPType, pk.ICMPCode = 8, deref(p.ICMPCode)
			if to.Is6() {
				pk.ICMPType = 128
			}
			if p.ICMPType != nil {
				pk.ICMPType = *p.ICMPType
			}
		}
		return l.RawSend(ctx, p.From, pk, timeout)
	}
	switch p.Proto {
	case "tcp":
		if p.Src.IsValid() {
			return false, errors.New("a forged source is only supported for udp and icmp probes")
		}
		return l.TCPConnect(ctx, p.From, to, p.Port, timeout)
	case "udp":
		if p.Src.IsValid() {
			return l.UDPSend(ctx, p.From, p.Src, to, p.Port, timeout)
		}
		return l.UDPEcho(ctx, p.From, to, p.Port, timeout)
	case "icmp":
		if p.ICMPType == nil {
			return l.Ping(ctx, p.From, to, timeout)
		}
		return l.ICMPSend(ctx, p.From, to, *p.ICMPType, deref(p.ICMPCode), timeout)
	}
	return false, fmt.Errorf("unknown probe protocol %q", p.Proto)
}

// rawSrcPort is the udp source port of raw probes that name none; the simulator traces the
// same one.
const rawSrcPort = 40000

// Outcome is a probe with what the simulator expected and what the packet did.
type Outcome struct {
	Probe    Probe
	Expected Expectation
	Observed bool
	Err      error // the probe itself failed
}

// OK reports whether the real packet did what the simulator said.
func (o Outcome) OK() bool {
	return o.Err == nil && o.Expected.Err == nil && o.Observed == o.Expected.Allow
}

// RunAll runs the probes, at most `parallel` at a time, and returns their outcomes in order;
// the blocked ones are confirmed by a second try with twice the timeout.
// Expected comes from Expect(sim, probe); sim may be nil (then Expected is zero).
func (l *Lab) RunAll(ctx context.Context, sim *simulate.Network, probes []Probe, timeout time.Duration, parallel int) []Outcome {
	if parallel < 1 {
		parallel = 1
	}
	out := make([]Outcome, len(probes))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, p := range probes {
		out[i].Probe = p
		if sim != nil {
			out[i].Expected = l.Expect(sim, p)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i].Observed, out[i].Err = l.Run(ctx, p, timeout)
		}()
	}
	wg.Wait()
	// A blocked probe is tried once more with twice the time, so that a loaded machine does
	// not pass for a firewall (a packet that gets through is proof; one that does not is not).
	for i := range out {
		if out[i].Observed || out[i].Err != nil || ctx.Err() != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i].Observed, out[i].Err = l.Run(ctx, out[i].Probe, 2*timeout)
		}()
	}
	wg.Wait()
	return out
}

// Expectation is the simulator's verdict for a probe's first packet.
type Expectation struct {
	Allow bool
	// Why names the deciding rules: the comment of the rule that dropped the packet, or the
	// comments of the rules that accepted it on its way (sender's side, then receiver's).
	Why string
	Err error
}

// Expect is the simulator's verdict for the probe's first packet, found twice:
//
//   - by tracing the packet exactly as the lab carries it through sim.Rulesets (a host without
//     a ruleset has no firewall): on the sender's host from its interface to the receiver's
//     interface or the uplink, then on the receiver's host from the uplink, with the sender's
//     real MAC and, for a forged source, that source;
//   - by sim.Explain (what `reconcile explain` answers), for probes with the endpoint's own
//     source address and MAC, which Explain models.
//
// When both apply and disagree, the Expectation carries an error: a simulator bug.
func (l *Lab) Expect(sim *simulate.Network, p Probe) Expectation {
	trace := l.trace(sim, p)
	if trace.Err != nil {
		return trace
	}
	w := l.workloads[p.From]
	if sim.Repo == nil {
		return trace
	}
	if sim.Repo.Endpoint(p.From) == nil {
		// Not in the repository (yet): Explain would see an address outside the model.
		return trace
	}
	dst, _ := l.dst(p)
	to := dst.String()
	if strings.HasPrefix(p.To, HostPrefix) {
		to = p.To
	}
	// Explain models the forged source, port and MAC too (Query.Src, SrcPort, SrcMAC).
	q := simulate.Query{From: l.Addr(p.From, p.family()).String(), To: to, Protocol: p.Proto, Port: p.Port, ICMPType: p.ICMPType, ICMPCode: p.ICMPCode,
		Src: p.Src, SrcPort: p.SrcPort, SrcMAC: w.MAC}
	if p.SrcMAC != "" {
		q.SrcMAC = p.SrcMAC
	}
	if p.Src.IsValid() {
		q.From = p.From
	}
	if q.SrcPort == 0 {
		q.SrcPort = rawSrcPort
	}
	if p.Proto == "icmp" && p.family() == 6 {
		q.Protocol = "icmpv6"
	}
	if p.Proto == "icmp" {
		q.Port = 0
	}
	ex, err := sim.Explain(q)
	if err != nil {
		return Expectation{Err: fmt.Errorf("explain: %w", err)}
	}
	if ex.Allowed() != trace.Allow {
		return Expectation{Err: fmt.Errorf("the simulator disagrees with itself: explain says %s by %s, the trace along the lab's path %s by %s",
			ex.Verdict, ex.Decider(), verdictWord(trace.Allow), trace.Why)}
	}
	trace.Why = ex.Decider()
	return trace
}

func verdictWord(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}

// trace follows the probe's first packet along the lab's path through sim's rulesets.
func (l *Lab) trace(sim *simulate.Network, p Probe) Expectation {
	rulesets, err := l.rulesets(sim)
	if err != nil {
		return Expectation{Err: err}
	}
	w := l.workloads[p.From]
	if w == nil {
		return Expectation{Err: fmt.Errorf("no workload %q in the lab", p.From)}
	}
	pkt, err := l.firstPacket(w, p)
	if err != nil {
		return Expectation{Err: err}
	}
	if strings.HasPrefix(p.To, HostPrefix) {
		pkt.Hook = nft.HookInput
		return traceLegs(rulesets, []leg{{w.Host.Name, pkt}})
	}
	recv := l.owner(pkt.Dst)
	if recv == nil {
		return Expectation{Err: fmt.Errorf("no workload has address %s", pkt.Dst)}
	}
	var legs []leg
	if recv.Host == w.Host {
		pkt.OIF = recv.Endpoint.Interface
		legs = append(legs, leg{w.Host.Name, pkt})
	} else {
		up := w.Host.uplinks[recv.Host.Name]
		first := pkt
		first.OIF = up.ifname
		second := pkt
		back := recv.Host.uplinks[w.Host.Name]
		second.IIF, second.OIF, second.SrcMAC = back.ifname, recv.Endpoint.Interface, up.mac
		legs = append(legs, leg{w.Host.Name, first}, leg{recv.Host.Name, second})
	}
	return traceLegs(rulesets, legs)
}

// rulesets returns the ruleset of every host of the lab in sim (nil for a host sim has none
// for; none at all when sim is nil), compiling and keeping in sim.Rulesets those it lacks when
// sim.Compile is set.
func (l *Lab) rulesets(sim *simulate.Network) (map[string]*nft.Ruleset, error) {
	rulesets := map[string]*nft.Ruleset{}
	if sim == nil {
		return rulesets, nil
	}
	for _, h := range l.hostOrder {
		rs := sim.Rulesets[h]
		if rs == nil && sim.Compile != nil {
			var err error
			if rs, err = sim.Compile(h); err != nil {
				return nil, fmt.Errorf("compile %q: %w", h, err)
			}
			if sim.Rulesets == nil {
				sim.Rulesets = map[string]*nft.Ruleset{}
			}
			sim.Rulesets[h] = rs
		}
		rulesets[h] = rs
	}
	return rulesets, nil
}

// firstPacket is the probe's first packet as it leaves workload w, on the forward hook of w's
// host: the probe's forged source address, port and MAC where it has them, an echo request
// (or the probe's ICMP type and code) for icmp.
func (l *Lab) firstPacket(w *Workload, p Probe) (simulate.Packet, error) {
	dst, err := l.dst(p)
	if err != nil {
		return simulate.Packet{}, err
	}
	src := l.Addr(p.From, p.family())
	if p.Src.IsValid() {
		src = p.Src
	}
	if !src.IsValid() {
		return simulate.Packet{}, fmt.Errorf("endpoint %q has no IPv%d address", p.From, p.family())
	}
	mac := w.MAC
	if p.SrcMAC != "" {
		mac = strings.ToLower(p.SrcMAC)
	}
	sport := uint16(rawSrcPort)
	if p.SrcPort != 0 {
		sport = uint16(p.SrcPort)
	}
	pkt := simulate.Packet{Hook: nft.HookForward, IIF: w.Endpoint.Interface, Src: src, Dst: dst, SrcMAC: mac, SPort: sport, DPort: uint16(p.Port)}
	switch p.Proto {
	case "tcp":
		pkt.Proto = 6
	case "udp":
		pkt.Proto = 17
	case "icmp":
		pkt.Proto = 1
		pkt.ICMPType = 8
		if dst.Is6() {
			pkt.Proto, pkt.ICMPType = 58, 128
		}
		if p.ICMPType != nil {
			pkt.ICMPType = uint8(*p.ICMPType)
			pkt.ICMPCode = uint8(deref(p.ICMPCode))
		}
		pkt.SPort, pkt.DPort = 0, 0
	default:
		return simulate.Packet{}, fmt.Errorf("unknown probe protocol %q", p.Proto)
	}
	return pkt, nil
}

// leg is the packet as one host's ruleset sees it.
type leg struct {
	host string
	pkt  simulate.Packet
}

// traceLegs traces the legs in order: the first drop decides; else the packet is allowed.
func traceLegs(rulesets map[string]*nft.Ruleset, legs []leg) Expectation {
	var why []string
	for _, leg := range legs {
		rs := rulesets[leg.host]
		if rs == nil {
			continue
		}
		res := simulate.Trace(rs, leg.pkt)
		if res.Err != nil {
			return Expectation{Err: fmt.Errorf("simulate on %q: %w", leg.host, res.Err)}
		}
		if res.Verdict != nft.Accept {
			return Expectation{Allow: false, Why: comment(res.Rule, res.Chain)}
		}
		for _, b := range res.Bases {
			if b.Dispatched && b.Rule != nil && b.Rule.Comment != "" {
				why = append(why, b.Rule.Comment)
			}
		}
	}
	if len(why) == 0 {
		why = append(why, "no firewall")
	}
	return Expectation{Allow: true, Why: strings.Join(why, ", ")}
}

func comment(r *nft.Rule, chain string) string {
	switch {
	case r == nil:
		return "policy of " + chain
	case r.Comment != "":
		return r.Comment
	}
	return chain + ": " + r.String()
}

// owner returns the workload that holds address a, or nil.
func (l *Lab) owner(a netip.Addr) *Workload {
	for _, id := range l.wlOrder {
		w := l.workloads[id]
		if containsAddr(w.V4, a) || containsAddr(w.V6, a) {
			return w
		}
	}
	return nil
}
