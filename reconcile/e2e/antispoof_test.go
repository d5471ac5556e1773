package e2e

import (
	"net/netip"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/lab"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
)

// TestNoAllowanceBypassesAntiSpoofing sends, as hand-built frames from inside the workloads
// (lab.RawSend: any source MAC, source address and port), the DHCP, DHCPv6, DNS, neighbour
// discovery and MLD packets an endpoint might send to its host, and checks SPEC §3 on the
// kernel: a source MAC other than the endpoint's `mac` is dropped before any allowance; DHCP
// and ND may come from the unspecified or link-local address; everything else only from the
// endpoint's own nets; MLD, router advertisements and redirects never. The receivers are the
// host's udp servers (53, 67, 547) and its ICMP sniffer. Each probe is first sent without a
// firewall, to prove that the packet itself reaches the receiver, and every verdict is checked
// against the simulator too (Explain with Query.Src/SrcMAC, and the trace along the lab path).
func TestNoAllowanceBypassesAntiSpoofing(t *testing.T) {
	t.Parallel()
	eps := `endpoints:
  - {id: s1, host: node-1, interface: calis1, mac: "ee:ee:ee:00:00:41", ipv4_nets: [198.18.1.41/32], ipv6_nets: ["fd00:1::41/128"], profile_ids: [OPEN]}
  - {id: s2, host: node-1, interface: calis2, ipv4_nets: [198.18.1.42/32], profile_ids: [OPEN]}
`
	e := newEnvOpts(t, map[string]string{
		"endpoints/all.yaml": eps,
		"profiles/OPEN.yaml": "id: OPEN\ntags: [OPEN]\ninbound_rules: [{action: allow}]\noutbound_rules: [{action: allow}]\n",
	}, eps, lab.Options{UDPPorts: []int{5000}, HostUDPPorts: []int{53, 67, 547}})

	const forgedMAC = "ee:ee:ee:00:00:99"
	a := netip.MustParseAddr
	var (
		forged4 = a("198.18.77.77")
		forged6 = a("fd00:77::77")
		ll1     = a("fe80::41")
		ll2     = a("fe80::42")
		zero4   = netip.IPv4Unspecified()
		zero6   = netip.IPv6Unspecified()
		ll4     = a("169.254.7.7")
		own     = netip.Addr{} // the workload's own address
	)
	// udp to the host from src (own: the endpoint's address) with source port sport; the
	// destination is the host's gateway address, the limited broadcast for 0.0.0.0, HostV6,
	// or fe80::1 for :: and link-local sources (lab.Probe's defaults).
	hostUDP := func(from string, fam int, src netip.Addr, sport, dport int, mac string, allow bool) flow {
		return flow{lab.Probe{From: from, To: "host:node-1", Proto: "udp", Family: fam, Src: src, SrcPort: sport, Port: dport, SrcMAC: mac}, allow}
	}
	hostICMP6 := func(from string, src netip.Addr, typ int, mac string, allow bool) flow {
		code := 0
		return flow{lab.Probe{From: from, To: "host:node-1", Proto: "icmp", Family: 6, Src: src, ICMPType: &typ, ICMPCode: &code, SrcMAC: mac}, allow}
	}
	rawUDP := func(from, to string, mac string, allow bool) flow {
		return flow{lab.Probe{From: from, To: to, Proto: "udp", Port: 5000, SrcPort: 41000, SrcMAC: mac}, allow}
	}
	flows := []flow{
		// DHCP (v4).
		hostUDP("s1", 4, forged4, 68, 67, "", false),
		hostUDP("s1", 4, zero4, 68, 67, "", true),
		hostUDP("s1", 4, ll4, 68, 67, "", true),
		hostUDP("s1", 4, own, 68, 67, "", true),
		hostUDP("s1", 4, a("198.18.1.42"), 68, 67, "", false), // s2's address
		hostUDP("s1", 4, zero4, 68, 67, forgedMAC, false),
		hostUDP("s1", 4, own, 68, 67, forgedMAC, false),
		// DHCPv6.
		hostUDP("s1", 6, forged6, 546, 547, "", false),
		hostUDP("s1", 6, ll1, 546, 547, "", true),
		hostUDP("s1", 6, own, 546, 547, "", true),
		hostUDP("s1", 6, ll1, 546, 547, forgedMAC, false),
		hostUDP("s1", 6, own, 546, 547, forgedMAC, false),
		// DNS: only from the endpoint's own address and MAC.
		hostUDP("s1", 4, forged4, 5353, 53, "", false),
		hostUDP("s1", 4, zero4, 5353, 53, "", false),
		hostUDP("s1", 6, forged6, 5353, 53, "", false),
		hostUDP("s1", 6, ll1, 5353, 53, "", false),
		hostUDP("s1", 4, own, 5353, 53, "", true),
		hostUDP("s1", 4, own, 5353, 53, forgedMAC, false),
		// Neighbour discovery: 133, 135, 136; from ::, link-local or the own address.
		hostICMP6("s1", forged6, 135, "", false),
		hostICMP6("s1", zero6, 135, "", true),
		hostICMP6("s1", ll1, 135, "", true),
		hostICMP6("s1", ll1, 136, "", true),
		hostICMP6("s1", ll1, 133, "", true),
		hostICMP6("s1", own, 136, "", true), // through an ordinary raw IP socket
		hostICMP6("s1", ll1, 135, forgedMAC, false),
		hostICMP6("s1", zero6, 135, forgedMAC, false),
		// MLD (130-132), router advertisements and redirects: never.
		hostICMP6("s1", ll1, 130, "", false),
		hostICMP6("s1", ll1, 131, "", false),
		hostICMP6("s1", ll1, 132, "", false),
		hostICMP6("s1", own, 131, "", false),
		hostICMP6("s1", ll1, 134, "", false),
		hostICMP6("s1", own, 137, "", false),
		// s2 has no mac (any passes) and no IPv6 nets: ND and DHCPv6 from link-local only.
		hostUDP("s2", 4, zero4, 68, 67, forgedMAC, true),
		hostICMP6("s2", ll2, 135, "", true),
		hostICMP6("s2", forged6, 135, "", false),
		hostUDP("s2", 6, ll2, 546, 547, "", true),
		// The forward chain checks the MAC before its profiles accept anything.
		rawUDP("s1", "s2", "", true),
		rawUDP("s1", "s2", forgedMAC, false),
	}
	// Without a firewall every one of these packets reaches its receiver: a drop below is
	// the firewall's doing, not a probe that never worked.
	all := make([]flow, len(flows))
	for i, f := range flows {
		all[i] = flow{f.Probe, true}
	}
	e.checkWith(t, &simulate.Network{}, "no firewall", all...)

	e.apply()
	e.check(t, "anti-spoofing before every allowance", flows...)

	// Conntrack comes after the anti-spoof checks: a packet with a forged MAC, or from
	// another endpoint's address, is dropped even when its tuple matches a flow the host
	// has answered (the udp servers echo, so the flows below are established).
	e.check(t, "established flows",
		hostUDP("s1", 4, own, 68, 67, "", true),
		hostUDP("s2", 4, own, 68, 67, "", true),
	)
	e.check(t, "forged packets inside established flows",
		hostUDP("s1", 4, own, 68, 67, forgedMAC, false),
		hostUDP("s1", 4, a("198.18.1.42"), 68, 67, "", false),
	)
}
