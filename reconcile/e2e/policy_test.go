package e2e

import (
	"net/netip"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/lab"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
)

const policyEndpoints = `endpoints:
  - {id: multi, host: node-1, interface: calimulti, ipv4_nets: [198.18.1.10/32], ipv6_nets: ["fd00:1::10/128"], profile_ids: [FIRST, SECOND]}
  - {id: src-a, host: node-1, interface: calisrca, mac: "ee:ee:ee:00:00:0a", ipv4_nets: [198.18.1.11/32], ipv6_nets: ["fd00:1::11/128"], profile_ids: [SRC]}
  - {id: src-b, host: node-2, interface: calisrcb, ipv4_nets: [198.18.2.11/32], ipv6_nets: ["fd00:2::11/128"], profile_ids: [BAD]}
  - {id: ports, host: node-2, interface: caliports, ipv4_nets: [198.18.2.12/32], profile_ids: [PORTS]}
  - {id: noprof, host: node-1, interface: calinoprof, ipv4_nets: [198.18.1.12/32], profile_ids: []}
  - {id: idle, host: node-2, interface: caliidle, ipv4_nets: [198.18.2.13/32], profile_ids: [BAD], state: inactive}
  - {id: neg, host: node-1, interface: calineg, ipv4_nets: [198.18.1.13/32], ipv6_nets: ["fd00:1::13/128"], profile_ids: [NEG]}
  - {id: six, host: node-2, interface: calisix, ipv4_nets: [198.18.2.14/32], ipv6_nets: ["fd00:2::14/128"], profile_ids: [SIX]}
`

var policyProfiles = map[string]string{
	// SRC endpoints send anything; they accept only each other.
	"profiles/SRC.yaml": `id: SRC
tags: [SRC]
inbound_rules:
  - {action: allow, src_tag: SRC}
outbound_rules:
  - {action: allow}
`,
	// BAD endpoints send and accept anything.
	"profiles/BAD.yaml": `id: BAD
tags: [BAD]
inbound_rules:
  - {action: allow}
outbound_rules:
  - {action: allow}
`,
	// FIRST logs tcp 80 and goes on, denies tcp 22 (final), and has a rule that never matches.
	"profiles/FIRST.yaml": `id: FIRST
tags: [FIRST]
inbound_rules:
  - {action: log, log_prefix: "first-80:", protocol: tcp, dst_ports: [80]}
  - {action: deny, protocol: tcp, dst_ports: [22]}
  - {action: allow, protocol: tcp, dst_ports: [8080], src_net: 198.18.200.0/24}
outbound_rules:
  - {action: allow}
`,
	// SECOND allows all tcp: reached only when FIRST did not decide.
	"profiles/SECOND.yaml": `id: SECOND
tags: []
inbound_rules:
  - {action: allow, protocol: tcp}
outbound_rules: []
`,
	"profiles/PORTS.yaml": `id: PORTS
tags: [PORTS]
inbound_rules:
  - {action: allow, protocol: tcp, dst_ports: ["8000:8080"]}
  - {action: allow, protocol: udp, dst_ports: [53]}
  - {action: allow, protocol: icmp, icmp_type: 8, icmp_code: 0}
  - {action: allow, protocol: icmp, icmp_type: 13}
outbound_rules:
  - {action: allow}
`,
	"profiles/NEG.yaml": `id: NEG
tags: [NEG]
inbound_rules:
  - {action: allow, protocol: tcp, dst_ports: [80], "!src_tag": BAD}
  - {action: allow, protocol: tcp, "!dst_ports": [22, 80, "7000:7999"]}
  - {action: allow, "!protocol": tcp, src_tag: BAD}
  - {action: allow, protocol: tcp, dst_ports: [22], "!src_net": 198.18.2.0/24}
outbound_rules:
  - {action: allow}
`,
	"profiles/SIX.yaml": `id: SIX
tags: [SIX]
inbound_rules:
  - {action: allow, protocol: tcp, dst_ports: [80], src_net: "fd00:1::/64"}
  - {action: allow, protocol: icmpv6, icmp_type: 128}
outbound_rules:
  - {action: allow}
`,
}

func policyEnv(t *testing.T) *env {
	files := map[string]string{"endpoints/all.yaml": policyEndpoints}
	for k, v := range policyProfiles {
		files[k] = v
	}
	e := newEnv(t, files, policyEndpoints, []int{22, 80, 443, 7890, 7999, 8000, 8080, 8081}, []int{53})
	e.apply()
	return e
}

// Several profiles, rule semantics, families, ports, ICMP and negations on one two-host lab.
func TestPolicySemantics(t *testing.T) {
	t.Parallel()
	e := policyEnv(t)
	t.Run("multi-profile", func(t *testing.T) {
		e.check(t, "multi-profile",
			tcp("src-a", "multi", 80, true),   // FIRST logs and goes on; SECOND allows
			tcp("src-b", "multi", 8080, true), // FIRST's 8080 rule does not match: fall through
			tcp("src-b", "multi", 22, false),  // FIRST denies: SECOND never sees it
			tcp("src-a", "multi", 22, false),  // (same host)
			ping("src-a", "multi", false),     // no profile accepts icmp
			tcp6("src-b", "multi", 443, true), // SECOND has no nets: both families
			tcp6("src-b", "multi", 22, false), // FIRST's deny has no nets: both families
			udp("src-a", "multi", 53, false),  // nothing accepts udp
		)
	})
	t.Run("ports-and-icmp", func(t *testing.T) {
		e.check(t, "ports and icmp",
			tcp("src-a", "ports", 7999, false),
			tcp("src-a", "ports", 8000, true),
			tcp("src-a", "ports", 8080, true),
			tcp("src-a", "ports", 8081, false),
			udp("src-a", "ports", 53, true),
			ping("src-a", "ports", true),               // type 8 code 0
			icmpMsg("src-b", "ports", 4, 8, 1, false),  // type 8 code 1
			icmpMsg("src-b", "ports", 4, 13, 0, true),  // type 13, any code
			icmpMsg("src-b", "ports", 4, 15, 0, false), // type 15 is not allowed
		)
	})
	t.Run("negations", func(t *testing.T) {
		e.check(t, "negations",
			tcp("src-a", "neg", 80, true),    // !src_tag BAD: src-a is not BAD
			tcp("src-b", "neg", 80, false),   // src-b is BAD (and 80 is in rule 2's !dst_ports)
			tcp("src-b", "neg", 443, true),   // !dst_ports [22, 80, 7000:7999]
			tcp("src-b", "neg", 7890, false), // inside the negated range
			tcp("src-b", "neg", 22, false),   // !src_net 198.18.2.0/24 excludes src-b
			tcp("src-a", "neg", 22, true),    // src-a is outside 198.18.2.0/24
			tcp6("src-a", "neg", 22, false),  // the !src_net rule is IPv4 only: not widened
			tcp6("src-b", "neg", 443, true),  // rule 2 has no nets: both families
			ping("src-b", "neg", true),       // !protocol tcp from BAD
			udp("src-b", "neg", 53, true),    // !protocol tcp from BAD
			ping("src-a", "neg", false),      // not BAD
		)
	})
	t.Run("ipv6", func(t *testing.T) {
		e.check(t, "ipv6",
			tcp6("src-a", "six", 80, true),  // fd00:1::11 is in fd00:1::/64, across hosts
			tcp6("src-b", "six", 80, false), // fd00:2::11 is not
			tcp("src-a", "six", 80, false),  // the rule is IPv6 only
			ping6("src-b", "six", true),     // icmpv6 type 128
			ping("src-b", "six", false),     // icmpv6 rule does not cover icmp
			tcp6("multi", "six", 80, true),  // multi sends (FIRST allows outbound)
		)
	})
	t.Run("no-profiles-and-inactive", func(t *testing.T) {
		e.check(t, "no profiles, inactive",
			tcp("src-a", "src-b", 80, true), // control: BAD accepts anything
			tcp("noprof", "src-b", 80, false),
			udp("noprof", "src-b", 53, false),
			tcp("src-b", "noprof", 80, false),
			ping("src-a", "noprof", false),
			tcp("idle", "src-b", 80, false),
			tcp("src-b", "idle", 80, false), // same host
			ping("src-a", "idle", false),
			tcp("src-a", "idle", 80, false),
		)
	})
}

const spoofEndpoints = `endpoints:
  - {id: s1, host: node-1, interface: calis1, mac: "ee:ee:ee:00:00:11", ipv4_nets: [198.18.1.21/32], ipv6_nets: ["fd00:1::21/128"], profile_ids: [OPEN]}
  - {id: s2, host: node-2, interface: calis2, ipv4_nets: [198.18.2.21/32], ipv6_nets: ["fd00:2::21/128"], profile_ids: [OPEN]}
  - {id: srv, host: node-2, interface: calisrv, ipv4_nets: [198.18.2.22/32], profile_ids: [SERVER]}
  - {id: cl, host: node-2, interface: calicl, ipv4_nets: [198.18.2.23/32], profile_ids: [QUIET]}
`

// Anti-spoofing (address and MAC) and conntrack.
func TestSpoofingAndConntrack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{
		"endpoints/all.yaml": spoofEndpoints,
		"profiles/OPEN.yaml": "id: OPEN\ntags: [OPEN]\ninbound_rules: [{action: allow}]\noutbound_rules: [{action: allow}]\n",
		// SERVER accepts tcp 80 and may send nothing of its own.
		"profiles/SERVER.yaml": "id: SERVER\ntags: [SERVER]\ninbound_rules: [{action: allow, protocol: tcp, dst_ports: [80]}]\noutbound_rules: [{action: deny}]\n",
		// QUIET accepts nothing and may send anything.
		"profiles/QUIET.yaml": "id: QUIET\ntags: [QUIET]\ninbound_rules: []\noutbound_rules: [{action: allow}]\n",
	}, spoofEndpoints, []int{80}, []int{53})
	e.apply()
	forged := func(from, to string, src string, allow bool) flow {
		a := netip.MustParseAddr(src)
		fam := 4
		if a.Is6() {
			fam = 6
		}
		return flow{lab.Probe{From: from, To: to, Proto: "udp", Port: 53, Family: fam, Src: a}, allow}
	}
	e.check(t, "spoofing and conntrack",
		udp("s1", "s2", 53, true),                 // real source
		forged("s1", "s2", "198.18.1.99", false),  // forged v4 source, across hosts
		forged("s2", "srv", "198.18.2.99", false), // forged v4 source, same host
		forged("s1", "s2", "fd00:1::99", false),   // forged v6 source
		flow{lab.Probe{From: "s1", To: "s2", Proto: "udp", Port: 53, Family: 6}, true},
		tcp("cl", "srv", 80, true),  // replies pass although SERVER may send nothing
		tcp("s1", "srv", 80, true),  // across hosts
		tcp("srv", "cl", 80, false), // a new connection from SERVER is denied
		tcp("srv", "s2", 80, false),
		tcp("s2", "cl", 80, false), // QUIET accepts nothing new...
		tcp("cl", "s2", 80, true),  // ...but its own connections' replies come back
	)
	// A forged MAC on s1 (whose endpoint has a mac): everything it sends is dropped.
	if err := e.lab.Workload("s1").SetMAC("ee:ee:ee:00:00:99"); err != nil {
		t.Fatal(err)
	}
	e.check(t, "forged mac",
		udp("s1", "s2", 53, false),
		tcp("s1", "srv", 80, false),
	)
	if err := e.lab.Workload("s1").SetMAC("ee:ee:ee:00:00:11"); err != nil {
		t.Fatal(err)
	}
	e.check(t, "real mac again", udp("s1", "s2", 53, true))
}

// Traffic from an endpoint to its own host: DNS (udp 53, SPEC §3) passes, anything else (DNS
// over tcp too) is
// dropped, and so is DNS from a forged source; an inactive endpoint gets nothing through.
func TestEndpointToHost(t *testing.T) {
	t.Parallel()
	eps := `endpoints:
  - {id: h1, host: node-1, interface: calih1, ipv4_nets: [198.18.1.31/32], ipv6_nets: ["fd00:1::31/128"], profile_ids: [OPEN]}
  - {id: h2, host: node-1, interface: calih2, ipv4_nets: [198.18.1.32/32], profile_ids: [OPEN], state: inactive}
  - {id: h3, host: node-2, interface: calih3, ipv4_nets: [198.18.2.31/32], profile_ids: [OPEN]}
`
	e := newEnvOpts(t, map[string]string{
		"endpoints/all.yaml": eps,
		"profiles/OPEN.yaml": "id: OPEN\ntags: [OPEN]\ninbound_rules: [{action: allow}]\noutbound_rules: [{action: allow}]\n",
	}, eps, lab.Options{TCPPorts: []int{80}, HostTCPPorts: []int{22, 53}, HostUDPPorts: []int{53}})
	// Without the firewall the host answers everything.
	hostFlow := func(from, proto string, port, fam int, allow bool) flow {
		return flow{lab.Probe{From: from, To: "host:" + e.lab.Workload(from).Host.Name, Proto: proto, Port: port, Family: fam}, allow}
	}
	e.checkWith(t, &simulate.Network{}, "no firewall",
		hostFlow("h1", "tcp", 22, 4, true),
		hostFlow("h1", "udp", 53, 4, true),
		hostFlow("h2", "tcp", 53, 4, true),
	)
	e.apply()
	forgedDNS := hostFlow("h1", "udp", 53, 4, false)
	forgedDNS.Src = netip.MustParseAddr("198.18.1.99")
	e.check(t, "to the host",
		hostFlow("h1", "udp", 53, 4, true),
		hostFlow("h1", "tcp", 53, 4, false),
		hostFlow("h1", "udp", 53, 6, true),
		hostFlow("h3", "udp", 53, 4, true),
		hostFlow("h1", "tcp", 22, 4, false),
		hostFlow("h1", "tcp", 22, 6, false),
		hostFlow("h1", "icmp", 0, 4, false),
		forgedDNS,
		hostFlow("h2", "udp", 53, 4, false), // inactive
		hostFlow("h2", "tcp", 22, 4, false),
		tcp("h1", "h3", 80, true), // control: workloads still talk
	)
}
