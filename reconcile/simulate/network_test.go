package simulate_test

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
	"github.com/reconcile-dev/reconcile/schema"
)

// The semantic spec: verdict tables over repositories compiled by reconcile/compile and
// traced by the simulator. Every expectation here follows from SPEC §3, not from the
// compiler's output.

// The seed's worked example's profiles, the files of testenv.WorkedExample: WEB, and APP
// (the seed's APP-rules.json plus tags).
var (
	seedWEB = testenv.WorkedExample()["profiles/WEB.yaml"]
	seedAPP = testenv.WorkedExample()["profiles/APP.json"]
)

func profile(id, tags, inbound, outbound string) string {
	return "id: " + id + "\ntags: " + tags + "\ninbound_rules:\n" + inbound + "outbound_rules:\n" + outbound
}

const allowAll = "  - {action: allow}\n"

// semanticRepo has two hosts. node-1: web-1, app-1 and one receiver per negation; node-2:
// client-1, web-2, app-2 and the special endpoints.
var semanticRepo = map[string]string{
	"profiles/WEB.yaml":    seedWEB,
	"profiles/APP.json":    seedAPP,
	"profiles/CLIENT.yaml": profile("CLIENT", "[CLIENT]", "", allowAll),
	"profiles/OPEN.yaml":   profile("OPEN", "[OPEN]", allowAll, allowAll),
	"profiles/DENYSSH.yaml": profile("DENYSSH", "[]",
		"  - {action: deny, protocol: tcp, dst_ports: [22]}\n  - {action: allow, protocol: tcp, dst_ports: [8080]}\n", ""),
	"profiles/LOGGER.yaml": profile("LOGGER", "[]", "  - {action: log, log_prefix: SEEN}\n", ""),
	"profiles/GHOST.yaml": profile("GHOST", "[GHOST]",
		"  - {action: deny, src_tag: NOBODY}\n  - {action: allow, protocol: tcp, dst_ports: [81], src_tag: NOBODY}\n  - {action: allow, protocol: tcp, dst_ports: [80]}\n", allowAll),
	"profiles/RANGE.yaml": profile("RANGE", "[]", "  - {action: allow, protocol: tcp, dst_ports: [\"8000:8080\", 9000]}\n  - {action: allow, protocol: udp, src_ports: [\"1000:2000\"]}\n", ""),
	"profiles/ICMPX.yaml": profile("ICMPX", "[]", "  - {action: allow, protocol: icmp, icmp_type: 13, icmp_code: 1}\n  - {action: allow, protocol: icmpv6, icmp_type: 128}\n", ""),
	"profiles/V6ONLY.yaml": profile("V6ONLY", "[]",
		"  - {action: allow, src_net: \"fd00:2::/64\"}\n  - {action: allow, protocol: tcp, ip_version: 4, dst_ports: [25]}\n", ""),
	"profiles/NPROTO.yaml":    profile("NPROTO", "[]", "  - {action: allow, \"!protocol\": tcp}\n", ""),
	"profiles/NSRCNET.yaml":   profile("NSRCNET", "[]", "  - {action: allow, \"!src_net\": 198.18.2.0/24}\n", ""),
	"profiles/NSRCTAG.yaml":   profile("NSRCTAG", "[]", "  - {action: allow, \"!src_tag\": CLIENT}\n", ""),
	"profiles/NSRCPORTS.yaml": profile("NSRCPORTS", "[]", "  - {action: allow, protocol: tcp, \"!src_ports\": [50000]}\n", ""),
	"profiles/NDSTPORTS.yaml": profile("NDSTPORTS", "[]", "  - {action: allow, protocol: tcp, \"!dst_ports\": [22, \"6000:6010\"]}\n", ""),
	"profiles/NDSTNET.yaml":   profile("NDSTNET", "[]", "  - {action: allow, \"!dst_net\": 198.18.7.0/24}\n", ""),
	"profiles/NDSTTAG.yaml": profile("NDSTTAG", "[NDSTTAG]",
		"  - {action: allow, protocol: tcp, \"!dst_tag\": NDSTTAG}\n  - {action: allow, protocol: udp, \"!dst_tag\": CLIENT}\n", ""),
	"profiles/NICMPTYPE.yaml": profile("NICMPTYPE", "[]", "  - {action: allow, protocol: icmp, \"!icmp_type\": 8}\n", ""),
	"profiles/NICMPTC.yaml":   profile("NICMPTC", "[]", "  - {action: allow, protocol: icmp, \"!icmp_type\": 13, \"!icmp_code\": 1}\n", ""),
	"profiles/NICMPCODE.yaml": profile("NICMPCODE", "[]", "  - {action: allow, protocol: icmp, icmp_type: 13, \"!icmp_code\": 1}\n", ""),
	"profiles/DENYFIRST.yaml": profile("DENYFIRST", "[]", "  - {action: deny, protocol: tcp, dst_ports: [80]}\n  - {action: allow, protocol: tcp, dst_ports: [81]}\n", ""),
	"endpoints/node-1.yaml": `endpoints:
  - {id: web-1, host: node-1, interface: caliweb1, mac: "EE:EE:EE:00:00:01", ipv4_nets: [198.18.1.2/32], ipv6_nets: ["fd00:1::2/128"], profile_ids: [WEB]}
  - {id: app-1, host: node-1, interface: caliapp1, ipv4_nets: [198.18.1.3/32], profile_ids: [APP]}
  - {id: multi-1, host: node-1, interface: calimulti1, ipv4_nets: [198.18.1.4/32], profile_ids: [DENYSSH, OPEN]}
  - {id: log-1, host: node-1, interface: calilog1, ipv4_nets: [198.18.1.5/32], profile_ids: [LOGGER, OPEN]}
  - {id: ghost-1, host: node-1, interface: calighost1, ipv4_nets: [198.18.1.6/32], profile_ids: [GHOST]}
  - {id: range-1, host: node-1, interface: calirange1, ipv4_nets: [198.18.1.7/32], profile_ids: [RANGE]}
  - {id: icmp-1, host: node-1, interface: caliicmp1, ipv4_nets: [198.18.1.8/32], ipv6_nets: ["fd00:1::8/128"], profile_ids: [ICMPX]}
  - {id: v6-1, host: node-1, interface: caliv61, ipv4_nets: [198.18.1.9/32], ipv6_nets: ["fd00:1::9/128"], profile_ids: [V6ONLY]}
  - {id: deny-1, host: node-1, interface: calideny1, ipv4_nets: [198.18.1.10/32], profile_ids: [DENYFIRST, OPEN]}
  - {id: n-proto, host: node-1, interface: calinproto, ipv4_nets: [198.18.1.20/32], profile_ids: [NPROTO]}
  - {id: n-srcnet, host: node-1, interface: calinsrcnet, ipv4_nets: [198.18.1.21/32], ipv6_nets: ["fd00:1::21/128"], profile_ids: [NSRCNET]}
  - {id: n-srctag, host: node-1, interface: calinsrctag, ipv4_nets: [198.18.1.22/32], profile_ids: [NSRCTAG]}
  - {id: n-srcports, host: node-1, interface: calinsrcports, ipv4_nets: [198.18.1.23/32], profile_ids: [NSRCPORTS]}
  - {id: n-dstports, host: node-1, interface: calindstports, ipv4_nets: [198.18.1.24/32], profile_ids: [NDSTPORTS]}
  - {id: n-dstnet, host: node-1, interface: calindstnet, ipv4_nets: [198.18.1.25/32], ipv6_nets: ["fd00:1::25/128"], profile_ids: [NDSTNET]}
  - {id: n-dsttag, host: node-1, interface: calindsttag, ipv4_nets: [198.18.1.26/32], profile_ids: [NDSTTAG]}
  - {id: n-icmptype, host: node-1, interface: calinicmptype, ipv4_nets: [198.18.1.27/32], profile_ids: [NICMPTYPE]}
  - {id: n-icmptc, host: node-1, interface: calinicmptc, ipv4_nets: [198.18.1.28/32], profile_ids: [NICMPTC]}
  - {id: n-icmpcode, host: node-1, interface: calinicmpcode, ipv4_nets: [198.18.1.29/32], profile_ids: [NICMPCODE]}
`,
	"endpoints/node-2.yaml": `endpoints:
  - {id: client-1, host: node-2, interface: caliclient1, mac: "ee:ee:ee:00:00:10", ipv4_nets: [198.18.2.10/32], ipv6_nets: ["fd00:2::10/128"], profile_ids: [CLIENT]}
  - {id: web-2, host: node-2, interface: caliweb2, ipv4_nets: [198.18.2.2/32], profile_ids: [WEB]}
  - {id: app-2, host: node-2, interface: caliapp2, ipv4_nets: [198.18.2.3/32], profile_ids: [APP]}
  - {id: inactive-1, host: node-2, interface: caliinact1, ipv4_nets: [198.18.2.20/32], profile_ids: [WEB], state: inactive}
  - {id: bare-1, host: node-2, interface: calibare1, ipv4_nets: [198.18.2.21/32], profile_ids: []}
  - {id: v6only-1, host: node-2, interface: caliv6only1, ipv6_nets: ["fd00:2::30/128"], profile_ids: [OPEN]}
`,
}

func loadRepo(t *testing.T, files map[string]string) *schema.Repository {
	t.Helper()
	bs := map[string][]byte{}
	for p, s := range files {
		bs[p] = []byte(s)
	}
	repo, errs := schema.Load(bs)
	if errs != nil {
		t.Fatalf("schema.Load: %v", errs)
	}
	return repo
}

func network(t *testing.T, repo *schema.Repository) *simulate.Network {
	t.Helper()
	n := &simulate.Network{Repo: repo, Rulesets: map[string]*nft.Ruleset{}}
	n.Compile = func(host string) (*nft.Ruleset, error) {
		rs, err := compile.Compile(repo, compile.Options{Host: host})
		if err != nil {
			return nil, err
		}
		// Every compiled ruleset must be one the kernel accepts.
		if err := nft.ValidateFake(rs); err != nil {
			t.Errorf("host %s: the fake kernel refuses the compiled ruleset: %v", host, err)
		}
		return rs, nil
	}
	return n
}

func ip(n int) *int { return &n }

func TestSemantics(t *testing.T) {
	n := network(t, loadRepo(t, semanticRepo))
	type q = simulate.Query
	tests := []struct {
		name    string
		q       q
		verdict string
		decider string // Explanation.Decider(): the comment of what decided
	}{
		// The seed's worked example: WEB takes tcp 80/443 and ping from anyone.
		{"seed: client reaches web 80 across hosts", q{From: "client-1", To: "web-1", Protocol: "tcp", Port: 80}, "allow", "WEB inbound 1"},
		{"seed: client reaches web 443", q{From: "client-1", To: "web-1", Protocol: "tcp", Port: 443}, "allow", "WEB inbound 1"},
		{"seed: web refuses 22", q{From: "client-1", To: "web-1", Protocol: "tcp", Port: 22}, "deny", "to web-1: no profile accepted"},
		{"seed: web refuses udp 80", q{From: "client-1", To: "web-1", Protocol: "udp", Port: 80}, "deny", "to web-1: no profile accepted"},
		{"seed: ping web", q{From: "client-1", To: "web-1", Protocol: "icmp"}, "allow", "WEB inbound 2"},
		// An echo reply that starts no flow is invalid to conntrack: dropped before any policy.
		{"seed: echo reply is not ping", q{From: "client-1", To: "web-1", Protocol: "icmp", ICMPType: ip(0)}, "deny", "from-client-1 rule 1"},
		{"seed: web reaches web on one host? none on node-1; across hosts", q{From: "web-2", To: "web-1", Protocol: "tcp", Port: 80}, "allow", "WEB inbound 1"},
		{"seed: from outside to web 80", q{From: "198.18.9.9", To: "web-1", Protocol: "tcp", Port: 80}, "allow", "WEB inbound 1"},
		{"seed: from outside to web 8080", q{From: "198.18.9.9", To: "web-1", Protocol: "tcp", Port: 8080}, "deny", "to web-1: no profile accepted"},
		// APP: tcp 7890 only from APP_7890-tagged endpoints (WEB carries it), ping from anyone.
		{"seed: web reaches app 7890 on one host", q{From: "web-1", To: "app-1", Protocol: "tcp", Port: 7890}, "allow", "APP inbound 1"},
		{"seed: tag spans hosts: web-2 reaches app-1", q{From: "web-2", To: "app-1", Protocol: "tcp", Port: 7890}, "allow", "APP inbound 1"},
		{"seed: web-1 reaches app-2 across hosts", q{From: "web-1", To: "app-2", Protocol: "tcp", Port: 7890}, "allow", "APP inbound 1"},
		{"seed: client cannot reach app 7890", q{From: "client-1", To: "app-1", Protocol: "tcp", Port: 7890}, "deny", "to app-1: no profile accepted"},
		{"seed: app does not carry APP_7890", q{From: "app-2", To: "app-1", Protocol: "tcp", Port: 7890}, "deny", "to app-1: no profile accepted"},
		{"seed: outside cannot reach app 7890", q{From: "198.18.9.9", To: "app-1", Protocol: "tcp", Port: 7890}, "deny", "to app-1: no profile accepted"},
		{"seed: web reaches app only on 7890", q{From: "web-1", To: "app-1", Protocol: "tcp", Port: 7891}, "deny", "to app-1: no profile accepted"},
		{"seed: anyone pings app", q{From: "client-1", To: "app-1", Protocol: "icmp"}, "allow", "APP inbound 2"},
		{"seed: outbound allowed to the outside", q{From: "web-1", To: "198.18.9.9", Protocol: "tcp", Port: 22}, "allow", "WEB outbound 1"},
		{"seed: an IP of an endpoint is the endpoint", q{From: "198.18.1.2", To: "198.18.1.3", Protocol: "tcp", Port: 7890}, "allow", "APP inbound 1"},
		// Several profiles: first match wins, no match falls through, deny is final.
		{"multi: deny in the first profile stops", q{From: "client-1", To: "multi-1", Protocol: "tcp", Port: 22}, "deny", "DENYSSH inbound 1"},
		{"multi: allow in the first profile", q{From: "client-1", To: "multi-1", Protocol: "tcp", Port: 8080}, "allow", "DENYSSH inbound 2"},
		{"multi: no match falls through to the next", q{From: "client-1", To: "multi-1", Protocol: "tcp", Port: 80}, "allow", "OPEN inbound 1"},
		{"deny before a later allow", q{From: "client-1", To: "deny-1", Protocol: "tcp", Port: 80}, "deny", "DENYFIRST inbound 1"},
		{"allow after a deny that does not match", q{From: "client-1", To: "deny-1", Protocol: "tcp", Port: 81}, "allow", "DENYFIRST inbound 2"},
		{"log continues", q{From: "client-1", To: "log-1", Protocol: "udp", Port: 53}, "allow", "OPEN inbound 1"},
		// Inactive endpoints and endpoints without profiles drop everything.
		{"inactive: nothing reaches it", q{From: "client-1", To: "inactive-1", Protocol: "icmp"}, "deny", "to inactive-1: endpoint inactive"},
		{"inactive: it reaches nothing", q{From: "inactive-1", To: "web-1", Protocol: "tcp", Port: 80}, "deny", "from inactive-1: endpoint inactive"},
		{"no profiles: nothing reaches it", q{From: "client-1", To: "bare-1", Protocol: "tcp", Port: 80}, "deny", "to bare-1: endpoint has no profiles"},
		{"no profiles: it reaches nothing", q{From: "bare-1", To: "web-1", Protocol: "tcp", Port: 80}, "deny", "from bare-1: endpoint has no profiles"},
		// A tag nobody carries: its deny never fires, its allow never fires.
		{"ghost tag: deny never fires", q{From: "client-1", To: "ghost-1", Protocol: "tcp", Port: 80}, "allow", "GHOST inbound 3"},
		{"ghost tag: allow never fires", q{From: "client-1", To: "ghost-1", Protocol: "tcp", Port: 81}, "deny", "to ghost-1: no profile accepted"},
		// Port ranges.
		{"range: first port", q{From: "client-1", To: "range-1", Protocol: "tcp", Port: 8000}, "allow", "RANGE inbound 1"},
		{"range: last port", q{From: "client-1", To: "range-1", Protocol: "tcp", Port: 8080}, "allow", "RANGE inbound 1"},
		{"range: single port after a range", q{From: "client-1", To: "range-1", Protocol: "tcp", Port: 9000}, "allow", "RANGE inbound 1"},
		{"range: below", q{From: "client-1", To: "range-1", Protocol: "tcp", Port: 7999}, "deny", "to range-1: no profile accepted"},
		{"range: above", q{From: "client-1", To: "range-1", Protocol: "tcp", Port: 8081}, "deny", "to range-1: no profile accepted"},
		{"range: source ports outside", q{From: "client-1", To: "range-1", Protocol: "udp", Port: 53}, "deny", "to range-1: no profile accepted"},
		{"range: source ports inside", q{From: "client-1", To: "range-1", Protocol: "udp", Port: 53, SrcPort: 1500}, "allow", "RANGE inbound 2"},
		// ICMP type and code.
		{"icmp: type and code", q{From: "client-1", To: "icmp-1", Protocol: "icmp", ICMPType: ip(13), ICMPCode: ip(1)}, "allow", "ICMPX inbound 1"},
		{"icmp: other code", q{From: "client-1", To: "icmp-1", Protocol: "icmp", ICMPType: ip(13), ICMPCode: ip(0)}, "deny", "to icmp-1: no profile accepted"},
		{"icmp: other type", q{From: "client-1", To: "icmp-1", Protocol: "icmp"}, "deny", "to icmp-1: no profile accepted"},
		{"icmpv6 echo", q{From: "client-1", To: "icmp-1", Protocol: "icmpv6"}, "allow", "ICMPX inbound 2"},
		{"icmpv6 other type", q{From: "client-1", To: "icmp-1", Protocol: "icmpv6", ICMPType: ip(139)}, "deny", "to icmp-1: no profile accepted"},
		{"icmpv6 echo reply: invalid to conntrack", q{From: "client-1", To: "icmp-1", Protocol: "icmpv6", ICMPType: ip(129)}, "deny", "from-client-1 rule 1"},
		{"seed: WEB's icmp rule is IPv4 only", q{From: "client-1", To: "web-1", Protocol: "icmpv6"}, "deny", "to web-1: no profile accepted"},
		// IPv6.
		{"ipv6: web 80 over v6", q{From: "fd00:2::10", To: "web-1", Protocol: "tcp", Port: 80}, "allow", "WEB inbound 1"},
		{"ipv6: a v6 net rule fires for v6", q{From: "fd00:2::10", To: "v6-1", Protocol: "udp", Port: 53}, "allow", "V6ONLY inbound 1"},
		{"ipv6: a v6 net rule never fires for v4", q{From: "client-1", To: "v6-1", Protocol: "udp", Port: 53}, "deny", "to v6-1: no profile accepted"},
		{"ipv6: ip_version 4 rule fires for v4", q{From: "client-1", To: "v6-1", Protocol: "tcp", Port: 25}, "allow", "V6ONLY inbound 2"},
		{"ipv6: ip_version 4 rule from outside over v4", q{From: "198.18.9.9", To: "v6-1", Protocol: "tcp", Port: 25}, "allow", "V6ONLY inbound 2"},
		{"ipv6: ip_version 4 rule, v6 packet", q{From: "fd00:9::9", To: "v6-1", Protocol: "tcp", Port: 25}, "deny", "to v6-1: no profile accepted"},
		{"ipv6: v6-only endpoint talks v6", q{From: "client-1", To: "v6only-1", Protocol: "tcp", Port: 80}, "allow", "OPEN inbound 1"},
		// Negations.
		{"!protocol: other protocol", q{From: "client-1", To: "n-proto", Protocol: "udp", Port: 53}, "allow", "NPROTO inbound 1"},
		{"!protocol: that protocol", q{From: "client-1", To: "n-proto", Protocol: "tcp", Port: 53}, "deny", "to n-proto: no profile accepted"},
		{"!protocol: a number", q{From: "client-1", To: "n-proto", Protocol: "47"}, "allow", "NPROTO inbound 1"},
		{"!src_net: from inside the net", q{From: "client-1", To: "n-srcnet", Protocol: "tcp", Port: 80}, "deny", "to n-srcnet: no profile accepted"},
		{"!src_net: from outside the net", q{From: "web-1", To: "n-srcnet", Protocol: "tcp", Port: 80}, "allow", "NSRCNET inbound 1"},
		{"!src_net: a v4 net is not widened to v6", q{From: "fd00:1::2", To: "n-srcnet", Protocol: "tcp", Port: 80}, "deny", "to n-srcnet: no profile accepted"},
		{"!src_tag: from a member", q{From: "client-1", To: "n-srctag", Protocol: "tcp", Port: 80}, "deny", "to n-srctag: no profile accepted"},
		{"!src_tag: from a non-member", q{From: "web-1", To: "n-srctag", Protocol: "tcp", Port: 80}, "allow", "NSRCTAG inbound 1"},
		{"!src_tag: from outside", q{From: "198.18.9.9", To: "n-srctag", Protocol: "tcp", Port: 80}, "allow", "NSRCTAG inbound 1"},
		{"!src_ports: that port", q{From: "client-1", To: "n-srcports", Protocol: "tcp", Port: 80}, "deny", "to n-srcports: no profile accepted"},
		{"!src_ports: another port", q{From: "client-1", To: "n-srcports", Protocol: "tcp", Port: 80, SrcPort: 40000}, "allow", "NSRCPORTS inbound 1"},
		{"!src_ports: needs the protocol", q{From: "client-1", To: "n-srcports", Protocol: "udp", Port: 80, SrcPort: 40000}, "deny", "to n-srcports: no profile accepted"},
		{"!dst_ports: listed port", q{From: "client-1", To: "n-dstports", Protocol: "tcp", Port: 22}, "deny", "to n-dstports: no profile accepted"},
		{"!dst_ports: in the range", q{From: "client-1", To: "n-dstports", Protocol: "tcp", Port: 6005}, "deny", "to n-dstports: no profile accepted"},
		{"!dst_ports: other port", q{From: "client-1", To: "n-dstports", Protocol: "tcp", Port: 80}, "allow", "NDSTPORTS inbound 1"},
		{"!dst_net: outside the net", q{From: "client-1", To: "n-dstnet", Protocol: "tcp", Port: 80}, "allow", "NDSTNET inbound 1"},
		{"!dst_net: a v4 net is not widened to v6", q{From: "fd00:2::10", To: "n-dstnet", Protocol: "tcp", Port: 80}, "deny", "to n-dstnet: no profile accepted"},
		{"!dst_tag: to a member", q{From: "client-1", To: "n-dsttag", Protocol: "tcp", Port: 80}, "deny", "to n-dsttag: no profile accepted"},
		{"!dst_tag: to a non-member", q{From: "client-1", To: "n-dsttag", Protocol: "udp", Port: 80}, "allow", "NDSTTAG inbound 2"},
		{"!icmp_type: that type", q{From: "client-1", To: "n-icmptype", Protocol: "icmp"}, "deny", "to n-icmptype: no profile accepted"},
		{"!icmp_type: another type", q{From: "client-1", To: "n-icmptype", Protocol: "icmp", ICMPType: ip(13)}, "allow", "NICMPTYPE inbound 1"},
		{"!icmp_type: not another protocol", q{From: "client-1", To: "n-icmptype", Protocol: "udp", Port: 1}, "deny", "to n-icmptype: no profile accepted"},
		{"!icmp_type+!icmp_code: the pair", q{From: "client-1", To: "n-icmptc", Protocol: "icmp", ICMPType: ip(13), ICMPCode: ip(1)}, "deny", "to n-icmptc: no profile accepted"},
		{"!icmp_type+!icmp_code: same type, other code", q{From: "client-1", To: "n-icmptc", Protocol: "icmp", ICMPType: ip(13), ICMPCode: ip(0)}, "allow", "NICMPTC inbound 1"},
		{"!icmp_type+!icmp_code: other type, same code", q{From: "client-1", To: "n-icmptc", Protocol: "icmp", ICMPType: ip(15), ICMPCode: ip(1)}, "allow", "NICMPTC inbound 1"},
		{"!icmp_code: that code", q{From: "client-1", To: "n-icmpcode", Protocol: "icmp", ICMPType: ip(13), ICMPCode: ip(1)}, "deny", "to n-icmpcode: no profile accepted"},
		{"!icmp_code: other code", q{From: "client-1", To: "n-icmpcode", Protocol: "icmp", ICMPType: ip(13), ICMPCode: ip(2)}, "allow", "NICMPCODE inbound 1"},
		{"!icmp_code: other type", q{From: "client-1", To: "n-icmpcode", Protocol: "icmp", ICMPType: ip(17), ICMPCode: ip(2)}, "deny", "to n-icmpcode: no profile accepted"},
		// Traffic to the host itself.
		{"host: dns allowed", q{From: "client-1", To: "host:node-2", Protocol: "udp", Port: 53}, "allow", "endpoint to host: dns from own address"},
		{"host: ssh dropped", q{From: "client-1", To: "host:node-2", Protocol: "tcp", Port: 22}, "deny", "host client-1: not dhcp, dns or neighbour discovery"},
		{"host: neighbour solicitation", q{From: "client-1", To: "host:node-2", Protocol: "icmpv6", ICMPType: ip(135)}, "allow", "endpoint to host: neighbour discovery from own address"},
		{"host: router advertisement from a workload", q{From: "client-1", To: "host:node-2", Protocol: "icmpv6", ICMPType: ip(134)}, "deny", "host client-1: not dhcp, dns or neighbour discovery"},
		{"host: redirect from a workload", q{From: "client-1", To: "host:node-2", Protocol: "icmpv6", ICMPType: ip(137)}, "deny", "host-client-1 rule 1"},
		{"host: MLD from a workload", q{From: "client-1", To: "host:node-2", Protocol: "icmpv6", ICMPType: ip(143)}, "deny", "host client-1: not dhcp, dns or neighbour discovery"},
		{"host: dns over tcp", q{From: "client-1", To: "host:node-2", Protocol: "tcp", Port: 53}, "deny", "host client-1: not dhcp, dns or neighbour discovery"},
		{"host: inactive endpoint", q{From: "inactive-1", To: "host:node-2", Protocol: "udp", Port: 53}, "deny", "host inactive-1: endpoint inactive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := n.Explain(tc.q)
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			if ex.Verdict != tc.verdict || ex.Decider() != tc.decider {
				t.Fatalf("got %s by %q, want %s by %q\n%s\n%s", ex.Verdict, ex.Decider(), tc.verdict, tc.decider, ex.Header(), strings.Join(ex.Lines(), "\n"))
			}
			if len(ex.Extra) != 0 {
				t.Fatalf("drops outside the two directions: %+v", ex.Extra)
			}
		})
	}
}

func TestExplainDirections(t *testing.T) {
	n := network(t, loadRepo(t, semanticRepo))

	// Across hosts: two traces, outbound at the sender's host, inbound at the receiver's.
	ex, err := n.Explain(simulate.Query{From: "client-1", To: "web-1", Protocol: "tcp", Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"client-1 (198.18.2.10, node-2) -> web-1 (198.18.1.2, node-1): tcp/80",
		"  outbound at node-2 (client-1): allow by CLIENT outbound 1: allow",
		"  inbound  at node-1 (web-1):    allow by WEB inbound 1: allow tcp to ports 80,443",
	}
	got := append([]string{ex.Header()}, ex.Lines()...)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(ex.Traces) != 2 || ex.Traces[0].Host != "node-2" || ex.Traces[1].Host != "node-1" {
		t.Fatalf("traces: %+v", ex.Traces)
	}
	p := ex.Traces[1].Packet
	if p.IIF != "" || p.OIF != "caliweb1" || p.Src.String() != "198.18.2.10" || p.DPort != 80 || p.SPort != simulate.DefaultSrcPort {
		t.Fatalf("receiver's packet: %s", p)
	}
	if p := ex.Traces[0].Packet; p.IIF != "caliclient1" || p.OIF != "" || p.SrcMAC != "ee:ee:ee:00:00:10" {
		t.Fatalf("sender's packet: %s", p)
	}

	// Same host: one trace covers both directions.
	ex, err = n.Explain(simulate.Query{From: "web-1", To: "app-1", Protocol: "tcp", Port: 7890})
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Traces) != 1 || ex.Outbound.Comment != "WEB outbound 1" || ex.Inbound.Comment != "APP inbound 1" || ex.Inbound.Rule != "allow tcp from tag APP_7890 to ports 7890" {
		t.Fatalf("same host: %d traces, %+v, %+v", len(ex.Traces), ex.Outbound, ex.Inbound)
	}
	if !strings.Contains(ex.Inbound.NFT, "@tag-v4-APP_7890") {
		t.Fatalf("nft text %q", ex.Inbound.NFT)
	}

	// Dropped at the sender: the receiver is not reached.
	ex, err = n.Explain(simulate.Query{From: "bare-1", To: "web-1", Protocol: "tcp", Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Inbound.Reached || len(ex.Traces) != 1 || !strings.HasSuffix(ex.Lines()[1], "not reached") {
		t.Fatalf("inbound after a drop at the sender: %+v\n%s", ex.Inbound, strings.Join(ex.Lines(), "\n"))
	}

	// From outside: only the receiver's host; the line says so.
	ex, err = n.Explain(simulate.Query{From: "198.18.9.9", To: "web-1", Protocol: "tcp", Port: 443})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Outbound != nil || ex.From.String() != "198.18.9.9 (outside the model)" || !strings.Contains(ex.Lines()[0], "outside the model") {
		t.Fatalf("from outside: %+v\n%s", ex.Outbound, strings.Join(ex.Lines(), "\n"))
	}

	// A log rule on the path is reported.
	ex, _ = n.Explain(simulate.Query{From: "client-1", To: "log-1", Protocol: "tcp", Port: 1})
	if !slices.Equal(ex.Logged, []string{"SEEN: "}) {
		t.Fatalf("logged = %q", ex.Logged)
	}
}

func TestExplainErrors(t *testing.T) {
	n := network(t, loadRepo(t, semanticRepo))
	tests := []struct {
		q   simulate.Query
		err string
	}{
		{simulate.Query{From: "nope", To: "web-1", Protocol: "tcp", Port: 80}, `"nope" is neither an endpoint nor an IP address`},
		{simulate.Query{From: "198.18.9.9", To: "198.18.9.8", Protocol: "tcp", Port: 80}, "neither"},
		{simulate.Query{From: "web-1", To: "web-1", Protocol: "tcp", Port: 80}, "same endpoint"},
		{simulate.Query{From: "client-1", To: "web-1", Protocol: "tcp"}, "needs a port"},
		{simulate.Query{From: "client-1", To: "web-1", Protocol: "icmp", Port: 80}, "a port needs protocol"},
		{simulate.Query{From: "client-1", To: "web-1", Protocol: "tcp", Port: 80, ICMPType: ip(8)}, "needs protocol icmp"},
		{simulate.Query{From: "client-1", To: "web-1", Protocol: "gre"}, `protocol "gre"`},
		{simulate.Query{From: "client-1", To: "app-1", Protocol: "icmpv6"}, `endpoint "app-1" has no IPv6 address`},
		{simulate.Query{From: "v6only-1", To: "app-1", Protocol: "tcp", Port: 80}, "no IP family in common"},
		{simulate.Query{From: "fd00:2::10", To: "198.18.1.2", Protocol: "tcp", Port: 80}, "no IP family in common"},
		{simulate.Query{From: "fd00:2::10", To: "web-1", Protocol: "icmp"}, "not an IPv4 address"},
		{simulate.Query{From: "web-1", To: "host:node-2", Protocol: "udp", Port: 53}, `lives on host "node-1"`},
		{simulate.Query{From: "client-1", To: "host:node-9", Protocol: "udp", Port: 53}, `no endpoint lives on host "node-9"`},
		{simulate.Query{From: "198.18.9.9", To: "web-1", Protocol: "udp", Port: 53, Src: netip.MustParseAddr("198.18.9.8")}, "needs from to be an endpoint"},
		{simulate.Query{From: "198.18.9.9", To: "web-1", Protocol: "udp", Port: 53, SrcMAC: "02:00:00:00:00:09"}, "needs from to be an endpoint"},
		{simulate.Query{From: "client-1", To: "host:node-2", Protocol: "udp", Port: 53, SrcMAC: "02:00:00:00:00"}, `source mac "02:00:00:00:00" is not a MAC address`},
		{simulate.Query{From: "client-1", To: "host:node-2", Protocol: "icmpv6", ICMPType: ip(135), Src: netip.MustParseAddr("198.18.2.10")}, "not an IPv6 address"},
		{simulate.Query{From: "client-1", To: "host:node-2", Protocol: "icmpv6", ICMPType: ip(135), Src: netip.MustParseAddr("fe80::2%eth0")}, "has a zone"},
	}
	for _, tc := range tests {
		if _, err := n.Explain(tc.q); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: err = %v, want %q", tc.q, err, tc.err)
		}
	}
	// Without a way to compile, a missing host is an error, not an accept.
	bare := &simulate.Network{Repo: n.Repo}
	if _, err := bare.Explain(simulate.Query{From: "client-1", To: "web-1", Protocol: "tcp", Port: 80}); err == nil || !strings.Contains(err.Error(), `no ruleset for host "node-2"`) {
		t.Fatalf("err = %v", err)
	}
	// A broken ruleset is an error too.
	broken := &simulate.Network{Repo: n.Repo, Rulesets: map[string]*nft.Ruleset{"node-2": {Table: "reconcile", Chains: []*nft.Chain{
		{Name: "forward-from", Base: &nft.BaseChain{Hook: nft.HookForward}, Rules: []*nft.Rule{{Verdict: nft.Verdict{Kind: nft.Jump, Chain: "gone"}}}},
	}}}}
	if _, err := broken.Explain(simulate.Query{From: "client-1", To: "web-1", Protocol: "tcp", Port: 80}); err == nil || !strings.Contains(err.Error(), `"gone"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestAntiSpoofing traces forged packets through a compiled ruleset: the explain queries
// always use the endpoint's own addresses, so forgery is tested on the packet level.
func TestAntiSpoofing(t *testing.T) {
	repo := loadRepo(t, semanticRepo)
	rs, err := compile.Compile(repo, compile.Options{Host: "node-2"})
	if err != nil {
		t.Fatal(err)
	}
	good := simulate.Packet{Hook: nft.HookForward, IIF: "caliclient1", OIF: "caliweb2", Src: netip.MustParseAddr("198.18.2.10"), Dst: netip.MustParseAddr("198.18.2.2"), SrcMAC: "ee:ee:ee:00:00:10", Proto: 6, SPort: 40000, DPort: 80}
	tests := []struct {
		name    string
		edit    func(*simulate.Packet)
		verdict nft.VerdictKind
		comment string
	}{
		{"genuine", func(*simulate.Packet) {}, nft.Accept, "WEB inbound 1"},
		{"forged v4 source", func(p *simulate.Packet) { p.Src = netip.MustParseAddr("198.18.2.11") }, nft.Drop, "from client-1: ipv4 source not the endpoint's"},
		{"another endpoint's address", func(p *simulate.Packet) { p.Src = netip.MustParseAddr("198.18.1.2") }, nft.Drop, "from client-1: ipv4 source not the endpoint's"},
		{"forged v6 source", func(p *simulate.Packet) {
			p.Src, p.Dst = netip.MustParseAddr("fd00:2::11"), netip.MustParseAddr("fd00:1::2")
			p.OIF = ""
		}, nft.Drop, "from client-1: ipv6 source not the endpoint's"},
		{"forged mac", func(p *simulate.Packet) { p.SrcMAC = "ee:ee:ee:00:00:11" }, nft.Drop, "from client-1: source mac not the endpoint's"},
		{"v6 from an endpoint without v6 nets", func(p *simulate.Packet) {
			p.IIF, p.SrcMAC = "caliweb2", ""
			p.Src, p.Dst, p.OIF = netip.MustParseAddr("fd00:2::2"), netip.MustParseAddr("fd00:1::2"), ""
		}, nft.Drop, "from web-2: no ipv6 nets"},
		{"forged source to the host", func(p *simulate.Packet) {
			p.Hook, p.OIF, p.Proto, p.DPort = nft.HookInput, "", 17, 53
			p.Src = netip.MustParseAddr("198.18.2.99")
		}, nft.Drop, "host client-1: ipv4 source not the endpoint's"},
		// An inactive endpoint's address still counts for its tags (APP_7890 via WEB).
		{"inactive endpoint's address is in the tag", func(p *simulate.Packet) {
			p.IIF, p.OIF, p.SrcMAC = "eth0", "caliapp2", "02:00:00:00:00:01"
			p.Src, p.Dst, p.DPort = netip.MustParseAddr("198.18.2.20"), netip.MustParseAddr("198.18.2.3"), 7890
		}, nft.Accept, "APP inbound 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.edit(&p)
			res := simulate.Trace(rs, p)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			got := ""
			if res.Rule != nil {
				got = res.Rule.Comment
			}
			if res.Verdict != tc.verdict || got != tc.comment {
				t.Fatalf("got %s by %q, want %s by %q", res.Verdict, got, tc.verdict, tc.comment)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	files := map[string]string{}
	for k, v := range semanticRepo {
		files[k] = v
	}
	files["tests/reach.yaml"] = `tests:
  - {name: client reaches web on 80, from: client-1, to: web-1, protocol: tcp, port: 80, expect: allow}
  - {name: wrong expectation, from: client-1, to: web-1, protocol: tcp, port: 22, expect: allow}
  - {from: client-1, to: app-1, protocol: tcp, port: 7890, expect: deny}
  - {name: no port, from: client-1, to: web-1, protocol: tcp, expect: deny}
`
	repo := loadRepo(t, files)
	// Validation refuses unknown endpoints; Check must still not accept one.
	repo.Tests = append(repo.Tests, &schema.Expectation{Name: "unknown endpoint", From: "ghost-9", To: "web-1", Protocol: "icmp", Expect: "deny"})
	n := network(t, repo)
	res := n.Check(repo.Tests)
	if len(res) != 5 {
		t.Fatalf("%d results", len(res))
	}
	type want struct {
		pass bool
		got  string
		err  string
	}
	wants := []want{{true, "allow", ""}, {false, "deny", ""}, {true, "deny", ""}, {false, "", "needs a port"}, {false, "", "ghost-9"}}
	for i, w := range wants {
		r := res[i]
		if r.Pass != w.pass || r.Got != w.got || (w.err == "") != (r.Err == nil) || (r.Err != nil && !strings.Contains(r.Err.Error(), w.err)) {
			t.Errorf("test %d (%s): pass %v got %q err %v; want %+v", i, r.Expectation.Name, r.Pass, r.Got, r.Err, w)
		}
	}
	if d := res[1].Explanation.Decider(); d != "to web-1: no profile accepted" {
		t.Errorf("decider = %q", d)
	}
}

func loadRepoB(b *testing.B, files map[string][]byte) *schema.Repository {
	b.Helper()
	repo, errs := schema.Load(files)
	if errs != nil {
		b.Fatalf("schema.Load: %v", errs)
	}
	return repo
}

// TestCompiledRulesetsAlwaysEvaluate traces many pseudo-random packets (fixed seed) through
// every host's compiled ruleset of the semantic repository: a compiled ruleset must never make
// the tracer fail (a missing chain or set, a match without its protocol dependency).
func TestCompiledRulesetsAlwaysEvaluate(t *testing.T) {
	repo := loadRepo(t, semanticRepo)
	var ifaces []string
	var addrs4, addrs6 []netip.Addr
	for _, e := range repo.Endpoints {
		ifaces = append(ifaces, e.Interface)
		for _, p := range e.Prefixes() {
			if p.Addr().Is4() {
				addrs4 = append(addrs4, p.Addr())
			} else {
				addrs6 = append(addrs6, p.Addr())
			}
		}
	}
	ifaces = append(ifaces, "", "eth0")
	addrs4 = append(addrs4, netip.MustParseAddr("198.18.9.9"))
	addrs6 = append(addrs6, netip.MustParseAddr("fd00:9::9"))
	protos := []uint8{1, 6, 17, 47, 58, 132, 136}
	cts := []nft.CtState{nft.CtNew, nft.CtEstablished, nft.CtRelated, nft.CtInvalid}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) int { return r.IntN(n) }
	for _, host := range []string{"node-1", "node-2"} {
		rs, err := compile.Compile(repo, compile.Options{Host: host})
		if err != nil {
			t.Fatal(err)
		}
		pr := simulate.Prepare(rs)
		verdicts := map[nft.VerdictKind]int{}
		for range 5000 {
			p := simulate.Packet{Hook: nft.HookForward, IIF: ifaces[pick(len(ifaces))], OIF: ifaces[pick(len(ifaces))],
				Proto: protos[pick(len(protos))], SPort: uint16(r.IntN(65536)), DPort: uint16(r.IntN(65536)),
				ICMPType: uint8(r.IntN(256)), ICMPCode: uint8(r.IntN(4)), Ct: cts[pick(len(cts))]}
			if pick(2) == 0 {
				p.Src, p.Dst = addrs4[pick(len(addrs4))], addrs4[pick(len(addrs4))]
			} else {
				p.Src, p.Dst = addrs6[pick(len(addrs6))], addrs6[pick(len(addrs6))]
			}
			if pick(4) == 0 {
				p.Hook, p.OIF = nft.HookInput, ""
			}
			if pick(3) > 0 {
				p.SrcMAC = "ee:ee:ee:00:00:10"
			}
			res := pr.Trace(p)
			if res.Err != nil {
				t.Fatalf("%s: %s: %v", host, p, res.Err)
			}
			verdicts[res.Verdict]++
		}
		if verdicts[nft.Accept] == 0 || verdicts[nft.Drop] == 0 {
			t.Fatalf("%s: verdicts %v: the packets do not exercise both outcomes", host, verdicts)
		}
	}
}

// TestExplainToHostSources answers, with Query.Src and Query.SrcMAC, what SPEC §3 says an
// endpoint may send to its host: a source MAC other than its `mac` is dropped before any
// allowance; DHCP, DHCPv6 and ND (133, 135, 136, not MLD, RA or redirects) also from the
// unspecified or link-local address; everything else only from its own nets.
func TestExplainToHostSources(t *testing.T) {
	n := network(t, loadRepo(t, semanticRepo))
	a := netip.MustParseAddr
	const forgedMAC = "02:00:00:00:00:99"
	type q = simulate.Query
	udp := func(from string, src netip.Addr, sport, dport int) q {
		return q{From: from, To: "host:node-2", Protocol: "udp", Src: src, SrcPort: sport, Port: dport}
	}
	icmp6 := func(from string, src netip.Addr, typ int) q {
		return q{From: from, To: "host:node-2", Protocol: "icmpv6", Src: src, ICMPType: ip(typ)}
	}
	mac := func(x q) q { x.SrcMAC = forgedMAC; return x }
	tests := []struct {
		name   string
		q      q
		allow  bool
		reason string // in the deciding rule's comment
	}{
		{"dhcp from 0.0.0.0", udp("client-1", a("0.0.0.0"), 68, 67), true, "dhcp from unspecified or link-local"},
		{"dhcp from 169.254/16", udp("client-1", a("169.254.1.1"), 68, 67), true, "dhcp from unspecified or link-local"},
		{"dhcp from its own address", udp("client-1", netip.Addr{}, 68, 67), true, "dhcp from own address"},
		{"dhcp from a forged source", udp("client-1", a("198.18.77.77"), 68, 67), false, "ipv4 source not the endpoint's"},
		{"dhcp from another endpoint's address", udp("client-1", a("198.18.2.2"), 68, 67), false, "ipv4 source not the endpoint's"},
		{"dhcp from 0.0.0.0, forged mac", mac(udp("client-1", a("0.0.0.0"), 68, 67)), false, "source mac not the endpoint's"},
		{"dhcp from its own address, forged mac", mac(udp("client-1", netip.Addr{}, 68, 67)), false, "source mac not the endpoint's"},
		{"dhcpv6 from link-local", udp("client-1", a("fe80::2"), 546, 547), true, "dhcpv6 from unspecified or link-local"},
		{"dhcpv6 from its own address", udp("client-1", a("fd00:2::10"), 546, 547), true, "dhcpv6 from own address"},
		{"dhcpv6 from a forged source", udp("client-1", a("fd00:77::77"), 546, 547), false, "ipv6 source not the endpoint's"},
		{"dhcpv6 from link-local, forged mac", mac(udp("client-1", a("fe80::2"), 546, 547)), false, "source mac not the endpoint's"},
		{"dns from a forged source", udp("client-1", a("198.18.77.77"), 5353, 53), false, "ipv4 source not the endpoint's"},
		{"dns from 0.0.0.0", udp("client-1", a("0.0.0.0"), 5353, 53), false, "ipv4 source not the endpoint's"},
		{"dns from link-local", udp("client-1", a("fe80::2"), 5353, 53), false, "ipv6 source not the endpoint's"},
		{"dns from its own address", udp("client-1", netip.Addr{}, 5353, 53), true, "dns from own address"},
		{"ns from ::", icmp6("client-1", a("::"), 135), true, "neighbour discovery from unspecified or link-local"},
		{"na from link-local", icmp6("client-1", a("fe80::2"), 136), true, "neighbour discovery from unspecified or link-local"},
		{"rs from its own address", icmp6("client-1", netip.Addr{}, 133), true, "neighbour discovery from own address"},
		{"ns from a forged source", icmp6("client-1", a("fd00:77::77"), 135), false, "ipv6 source not the endpoint's"},
		{"ns from link-local, forged mac", mac(icmp6("client-1", a("fe80::2"), 135)), false, "source mac not the endpoint's"},
		{"mld query from link-local", icmp6("client-1", a("fe80::2"), 130), false, "ipv6 source not the endpoint's"},
		{"mld report from its own address", icmp6("client-1", netip.Addr{}, 131), false, "not dhcp, dns or neighbour discovery"},
		{"mld done from its own address", icmp6("client-1", netip.Addr{}, 132), false, "not dhcp, dns or neighbour discovery"},
		{"router advertisement from link-local", icmp6("client-1", a("fe80::2"), 134), false, "ipv6 source not the endpoint's"},
		{"redirect from its own address", icmp6("client-1", netip.Addr{}, 137), false, "host-client-1 rule 1"},
		{"mld v2 report from its own address", icmp6("client-1", netip.Addr{}, 143), false, "not dhcp, dns or neighbour discovery"},
		// web-2 has no mac (any MAC passes) and no IPv6 nets: ND from link-local still works.
		{"no mac: any mac passes", mac(udp("web-2", a("0.0.0.0"), 68, 67)), true, "dhcp from unspecified or link-local"},
		{"no v6 nets: ns from link-local", icmp6("web-2", a("fe80::3"), 135), true, "neighbour discovery from unspecified or link-local"},
		{"no v6 nets: ns from a global source", icmp6("web-2", a("fd00:2::2"), 135), false, "no ipv6 nets"},
		{"inactive: dhcp from 0.0.0.0", udp("inactive-1", a("0.0.0.0"), 68, 67), false, "endpoint inactive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := n.Explain(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Allowed() != tc.allow || !strings.Contains(ex.Decider(), tc.reason) {
				t.Fatalf("%s by %q, want allow=%v by %q\n%s", ex.Verdict, ex.Decider(), tc.allow, tc.reason, strings.Join(ex.Lines(), "\n"))
			}
			p := ex.Traces[0].Packet
			if tc.q.Src.IsValid() && p.Src != tc.q.Src {
				t.Errorf("traced source %s, want %s", p.Src, tc.q.Src)
			}
			if tc.q.SrcMAC != "" && p.SrcMAC != tc.q.SrcMAC {
				t.Errorf("traced mac %s, want %s", p.SrcMAC, tc.q.SrcMAC)
			}
		})
	}
}
