package evaluate

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/schema"
)

// baseEndpoints is the repository of most cases: a sender a on h1 (with a MAC) and a
// receiver b on h2 (with a /28 and a /124), each with its own profile.
const baseEndpoints = `endpoints:
  - id: a
    host: h1
    interface: calia
    mac: "ee:ee:ee:00:00:0a"
    ipv4_nets: [198.18.1.1/32]
    ipv6_nets: ["fd00::1:1/128"]
    profile_ids: [A]
  - id: b
    host: h2
    interface: calib
    ipv4_nets: [198.18.2.0/28]
    ipv6_nets: ["fd00::2:0/124"]
    profile_ids: [B]
`

// allowAll is the body of a profile that allows everything both ways.
const allowAll = "inbound_rules: [{action: allow}]\noutbound_rules: [{action: allow}]\n"

// load builds a repository from endpoints (baseEndpoints when "") and profile bodies by id
// (each without its id line; A and B allow all unless given); it fails the test when the
// repository does not validate.
func load(t testing.TB, endpoints string, profiles map[string]string) *schema.Repository {
	t.Helper()
	if endpoints == "" {
		endpoints = baseEndpoints
	}
	files := map[string][]byte{"endpoints/eps.yaml": []byte(endpoints)}
	for _, id := range []string{"A", "B"} {
		if _, ok := profiles[id]; !ok {
			files["profiles/"+id+".yaml"] = []byte("id: " + id + "\ntags: [" + id + "]\n" + allowAll)
		}
	}
	for id, body := range profiles {
		if !strings.Contains(body, "tags:") {
			body = "tags: [" + id + "]\n" + body
		}
		files["profiles/"+id+".yaml"] = []byte("id: " + id + "\n" + body)
	}
	repo, errs := schema.LoadFiles(files, nil)
	if errs != nil {
		t.Fatalf("repository does not validate:\n%v", errs)
	}
	return repo
}

// packet parses the tests' notation of a packet: "FROM>TO PROTO SRC>DST [key=value...]" with
// FROM "-" for a sender outside the model, TO "-" for an address outside it or "host:NAME",
// PROTO a name or number, keys sport, dport, type, code and mac.
func packet(t testing.TB, s string) Packet {
	t.Helper()
	f := strings.Fields(s)
	if len(f) < 3 {
		t.Fatalf("packet %q: want FROM>TO PROTO SRC>DST", s)
	}
	var p Packet
	ends := strings.SplitN(f[0], ">", 2)
	addrs := strings.SplitN(f[2], ">", 2)
	if len(ends) != 2 || len(addrs) != 2 {
		t.Fatalf("packet %q: want FROM>TO PROTO SRC>DST", s)
	}
	p.From, p.To = strings.TrimPrefix(ends[0], "-"), strings.TrimPrefix(ends[1], "-")
	if h, ok := strings.CutPrefix(p.To, "host:"); ok {
		p.To, p.ToHost = "", h
	}
	n, ok := schema.Protocol(f[1]).Number()
	if !ok && f[1] != "0" {
		t.Fatalf("packet %q: protocol %q", s, f[1])
	}
	p.Proto = n
	p.Src, _ = netip.ParseAddr(addrs[0]) // invalid stays the zero Addr (an error case)
	p.Dst, _ = netip.ParseAddr(addrs[1])
	for _, kv := range f[3:] {
		k, v, _ := strings.Cut(kv, "=")
		if k == "mac" {
			p.SrcMAC = v
			continue
		}
		x, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			t.Fatalf("packet %q: %s", s, kv)
		}
		switch k {
		case "sport":
			p.SrcPort = uint16(x)
		case "dport":
			p.DstPort = uint16(x)
		case "type":
			p.ICMPType = uint8(x)
		case "code":
			p.ICMPCode = uint8(x)
		default:
			t.Fatalf("packet %q: unknown key %q", s, k)
		}
	}
	return p
}

// describe renders a result as "allow: outbound A 1, inbound B 2" or "deny: outbound
// (anti-spoofing: source MAC)", each step followed by "log[...]" when it logged.
func describe(r Result) string {
	steps := make([]string, len(r.Steps))
	for i, s := range r.Steps {
		if s.Profile != "" {
			steps[i] = fmt.Sprintf("%s %s %d", s.Direction, s.Profile, s.Rule)
		} else {
			steps[i] = fmt.Sprintf("%s (%s)", s.Direction, s.Reason)
		}
		if len(s.Logged) > 0 {
			steps[i] += " log[" + strings.Join(s.Logged, "; ") + "]"
		}
	}
	verdict := "deny"
	if r.Allowed {
		verdict = "allow"
	}
	return verdict + ": " + strings.Join(steps, ", ")
}

// check is a packet of a case and the result it must get, as describe renders it.
type check struct{ pkt, want string }

// sentence is a SPEC sentence with a tiny repository and packets that check it.
type sentence struct {
	spec      string
	endpoints string            // "" for baseEndpoints
	profiles  map[string]string // bodies by id; A and B allow all unless given
	checks    []check
}

func runSentences(t *testing.T, cases []sentence) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			repo := load(t, c.endpoints, c.profiles)
			for _, ch := range c.checks {
				r, err := Evaluate(repo, packet(t, ch.pkt))
				if err != nil {
					t.Errorf("%s: %v", ch.pkt, err)
					continue
				}
				if got := describe(r); got != ch.want {
					t.Errorf("%s:\n got %s\nwant %s", ch.pkt, got, ch.want)
				}
			}
		})
	}
}

// withB is baseEndpoints with b's profile_ids replaced by ids ("B, B2").
func withB(ids string) string {
	return strings.Replace(baseEndpoints, "profile_ids: [B]", "profile_ids: ["+ids+"]", 1)
}

func TestPath(t *testing.T) {
	runSentences(t, []sentence{{
		spec: "traffic between two endpoints passes the sender's outbound rules and then the receiver's inbound rules",
		profiles: map[string]string{
			"A": "outbound_rules:\n  - {action: deny, protocol: tcp, dst_ports: [22]}\n  - {action: allow}\n",
			"B": "inbound_rules:\n  - {action: allow, protocol: tcp, dst_ports: [80]}\n",
		},
		checks: []check{
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=80", "allow: outbound A 2, inbound B 1"},
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=22", "deny: outbound A 1"},
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=81", "deny: outbound A 2, inbound (no profile accepted)"},
			// B's outbound rules are its own: none, so b sends nothing.
			{"b>a tcp 198.18.2.1>198.18.1.1 dport=80", "deny: outbound (no profile accepted)"},
		},
	}, {
		spec: "a sender outside the model crosses no outbound policy, a receiver outside none inbound",
		profiles: map[string]string{
			"A": "outbound_rules:\n  - {action: deny, protocol: tcp, dst_ports: [22]}\n  - {action: allow}\n",
			"B": "inbound_rules:\n  - {action: allow, protocol: tcp, dst_ports: [80]}\n",
		},
		checks: []check{
			{"->b tcp 198.18.100.1>198.18.2.1 dport=80", "allow: inbound B 1"},
			{"->b tcp 198.18.100.1>198.18.2.1 dport=81", "deny: inbound (no profile accepted)"},
			{"a>- tcp 198.18.1.1>198.18.100.1 dport=81", "allow: outbound A 2"},
			{"a>- tcp 198.18.1.1>198.18.100.1 dport=22", "deny: outbound A 1"},
			{"a>- udp fd00::1:1>fd00::100:1 dport=22", "allow: outbound A 2"},
		},
	}})
}

func TestProfiles(t *testing.T) {
	runSentences(t, []sentence{{
		spec:      "inside a profile the first matching rule decides: allow accepts, deny drops at once, log logs and goes on",
		endpoints: withB("B, B2"),
		profiles: map[string]string{
			"B": "inbound_rules:\n  - {action: log}\n  - {action: deny, protocol: tcp, dst_ports: [22]}\n" +
				"  - {action: log, protocol: tcp, log_prefix: web}\n  - {action: allow, protocol: tcp}\n  - {action: deny}\n",
			"B2": allowAll,
		},
		checks: []check{
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=22", "deny: outbound A 1, inbound B 2 log[B inbound 1]"},
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=80", "allow: outbound A 1, inbound B 4 log[B inbound 1; B inbound 3]"},
			// deny drops at once: B2 would allow, it is never reached.
			{"a>b udp 198.18.1.1>198.18.2.1 dport=53", "deny: outbound A 1, inbound B 5 log[B inbound 1]"},
		},
	}, {
		spec:      "no match falls through to the next profile; when no profile accepts, the packet is dropped",
		endpoints: withB("B, B2, B3"),
		profiles: map[string]string{
			"B":  "inbound_rules:\n  - {action: allow, protocol: tcp, dst_ports: [80]}\n",
			"B2": "inbound_rules:\n  - {action: log, protocol: udp}\n  - {action: deny, protocol: udp, dst_ports: [53]}\n",
			"B3": "inbound_rules:\n  - {action: allow, protocol: udp}\n",
		},
		checks: []check{
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=80", "allow: outbound A 1, inbound B 1"},
			{"a>b udp 198.18.1.1>198.18.2.1 dport=53", "deny: outbound A 1, inbound B2 2 log[B2 inbound 1]"},
			{"a>b udp 198.18.1.1>198.18.2.1 dport=54", "allow: outbound A 1, inbound B3 1 log[B2 inbound 1]"},
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=81", "deny: outbound A 1, inbound (no profile accepted)"},
			{"a>b icmp 198.18.1.1>198.18.2.1 type=8", "deny: outbound A 1, inbound (no profile accepted)"},
		},
	}, {
		spec: "an endpoint with no profiles, or state: inactive, has all its traffic dropped",
		endpoints: strings.Replace(baseEndpoints, "profile_ids: [B]", "profile_ids: [B]\n    state: inactive", 1) + `  - id: c
    host: h1
    interface: calic
    ipv4_nets: [198.18.1.3/32]
    ipv6_nets: []
    profile_ids: []
    state: active
`,
		checks: []check{
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=80", "deny: outbound A 1, inbound (inactive endpoint)"},
			{"b>a tcp 198.18.2.1>198.18.1.1 dport=80", "deny: outbound (inactive endpoint)"},
			{"->b udp fd00::9>fd00::2:1 dport=80", "deny: inbound (inactive endpoint)"},
			{"a>c tcp 198.18.1.1>198.18.1.3 dport=80", "deny: outbound A 1, inbound (no profiles)"},
			{"c>a tcp 198.18.1.3>198.18.1.1 dport=80", "deny: outbound (no profiles)"},
			{"c>- tcp 198.18.1.3>198.18.100.1 dport=80", "deny: outbound (no profiles)"},
		},
	}})
}

// tagEndpoints adds to baseEndpoints t1 on h2 (profiles X then T, T carrying tag WEB), t2 on
// h1, inactive, with a /30 (profile T), and o on h1 with profile A only.
const tagEndpoints = baseEndpoints + `  - id: t1
    host: h2
    interface: calit1
    ipv4_nets: [198.18.3.1/32]
    ipv6_nets: ["fd00::3:1/128"]
    profile_ids: [X, T]
  - id: t2
    host: h1
    interface: calit2
    ipv4_nets: [198.18.4.0/30]
    ipv6_nets: ["fd00::4:0/126"]
    profile_ids: [T]
    state: inactive
  - id: o
    host: h1
    interface: calio
    ipv4_nets: [198.18.5.1/32]
    ipv6_nets: ["fd00::5:1/128"]
    profile_ids: [A]
`

func TestTags(t *testing.T) {
	runSentences(t, []sentence{{
		spec:      "a tag stands for the addresses of every endpoint, on any host and in any state, that has a profile carrying the tag",
		endpoints: tagEndpoints,
		profiles: map[string]string{
			"T": "tags: [WEB]\n" + allowAll,
			"X": "tags: [X]\n",
			"B": "inbound_rules:\n  - {action: allow, src_tag: WEB}\noutbound_rules:\n  - {action: allow, dst_tag: WEB}\n",
		},
		checks: []check{
			// t1 carries WEB through its second profile, on the other host than b... and the same.
			{"t1>b tcp 198.18.3.1>198.18.2.1 dport=80", "allow: outbound T 1, inbound B 1"},
			{"t1>b tcp fd00::3:1>fd00::2:1 dport=80", "allow: outbound T 1, inbound B 1"},
			// t2 is inactive and on h1: its whole /30 still counts for WEB.
			{"->b tcp 198.18.4.2>198.18.2.1 dport=80", "allow: inbound B 1"},
			{"->b tcp fd00::4:3>fd00::2:1 dport=80", "allow: inbound B 1"},
			{"->b tcp 198.18.4.4>198.18.2.1 dport=80", "deny: inbound (no profile accepted)"},
			{"o>b tcp 198.18.5.1>198.18.2.1 dport=80", "deny: outbound A 1, inbound (no profile accepted)"},
			// dst_tag in b's outbound rules.
			{"b>t1 tcp 198.18.2.1>198.18.3.1 dport=80", "allow: outbound B 1, inbound T 1"},
			{"b>t2 tcp 198.18.2.1>198.18.4.3 dport=80", "deny: outbound B 1, inbound (inactive endpoint)"},
			{"b>o tcp 198.18.2.1>198.18.5.1 dport=80", "deny: outbound (no profile accepted)"},
		},
	}, {
		spec: "a tag that no endpoint carries matches nothing (an allow never fires, a deny never fires)",
		profiles: map[string]string{
			// EMPTY is carried by a profile that no endpoint has; NOBODY by no profile.
			"P": "tags: [EMPTY]\n",
			"B": "inbound_rules:\n  - {action: deny, src_tag: NOBODY}\n  - {action: deny, src_tag: EMPTY}\n" +
				"  - {action: allow, protocol: udp, src_tag: NOBODY}\n  - {action: allow, protocol: tcp, '!src_tag': EMPTY}\n" +
				"  - {action: allow, protocol: udp, '!src_tag': NOBODY, dst_ports: [53]}\n",
		},
		checks: []check{
			// Reading: the negated empty tag excludes no address.
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=80", "allow: outbound A 1, inbound B 4"},
			{"a>b udp 198.18.1.1>198.18.2.1 dport=80", "deny: outbound A 1, inbound (no profile accepted)"},
			{"a>b udp 198.18.1.1>198.18.2.1 dport=53", "allow: outbound A 1, inbound B 5"},
			{"->b tcp fd00::77>fd00::2:1 dport=80", "allow: inbound B 4"},
		},
	}, {
		spec:      "!src_tag and !dst_tag exclude the tag's addresses",
		endpoints: tagEndpoints,
		profiles: map[string]string{
			"T": "tags: [WEB]\n" + allowAll,
			"X": "tags: [X]\n",
			"B": "inbound_rules:\n  - {action: allow, '!src_tag': WEB}\noutbound_rules:\n  - {action: allow, '!dst_tag': WEB, dst_tag: A}\n",
		},
		checks: []check{
			{"t1>b tcp 198.18.3.1>198.18.2.1 dport=80", "deny: outbound T 1, inbound (no profile accepted)"},
			{"->b tcp 198.18.4.1>198.18.2.1 dport=80", "deny: inbound (no profile accepted)"},
			{"o>b tcp 198.18.5.1>198.18.2.1 dport=80", "allow: outbound A 1, inbound B 1"},
			{"b>o tcp 198.18.2.1>198.18.5.1 dport=80", "allow: outbound B 1, inbound A 1"},
			{"b>t1 tcp 198.18.2.1>198.18.3.1 dport=80", "deny: outbound (no profile accepted)"},
		},
	}})
}

func TestFamilyRule(t *testing.T) {
	runSentences(t, []sentence{{
		spec: "a rule is rendered for an IP family only if all its nets, its ICMP flavour and ip_version fit; otherwise it is skipped, never widened",
		profiles: map[string]string{"B": `inbound_rules:
  - {action: deny, src_net: 198.18.1.0/24}
  - {action: allow, protocol: tcp, dst_net: "fd00::2:0/124"}
  - {action: allow, protocol: udp, ip_version: 4}
  - {action: log, protocol: icmp}
  - {action: allow, protocol: icmpv6}
  - {action: allow, protocol: 1}
  - {action: deny, '!src_net': 198.18.9.0/24}
  - {action: allow}
`},
		checks: []check{
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=80", "deny: outbound A 1, inbound B 1"},
			// The IPv4 deny is skipped in IPv6, not widened to every source.
			{"a>b tcp fd00::1:1>fd00::2:1 dport=80", "allow: outbound A 1, inbound B 2"},
			// ip_version 4 skipped in IPv6; the negated IPv4 net (rule 7) too (reading).
			{"a>b udp fd00::1:1>fd00::2:1 dport=80", "allow: outbound A 1, inbound B 8"},
			{"->b udp 198.18.9.5>198.18.2.1 dport=80", "allow: inbound B 3"},
			// icmp (and protocol 1) are IPv4: skipped for protocol 1 over IPv6, the log too.
			{"a>b icmp fd00::1:1>fd00::2:1 type=8", "allow: outbound A 1, inbound B 8"},
			{"->b icmp 198.18.9.5>198.18.2.1 type=8", "allow: inbound B 6 log[B inbound 4]"},
			{"a>b icmpv6 fd00::1:1>fd00::2:1 type=128", "allow: outbound A 1, inbound B 5"},
			// icmpv6 is IPv6: skipped for protocol 58 over IPv4.
			{"->b icmpv6 198.18.9.5>198.18.2.1 type=128", "allow: inbound B 8"},
			{"->b icmpv6 198.18.7.1>198.18.2.1 type=128", "deny: inbound B 7"},
		},
	}})
}

func TestProtocols(t *testing.T) {
	runSentences(t, []sentence{{
		spec: "protocol: tcp, udp, icmp, icmpv6, sctp, udplite, or a number 1-255; !protocol",
		profiles: map[string]string{"B": `inbound_rules:
  - {action: allow, protocol: tcp, dst_ports: [80]}
  - {action: allow, protocol: udp, dst_ports: [53]}
  - {action: allow, protocol: sctp, dst_ports: [9]}
  - {action: allow, protocol: udplite, dst_ports: [10]}
  - {action: allow, protocol: 47}
  - {action: allow, protocol: 6, dst_ports: [8080]}
  - {action: deny, '!protocol': tcp}
  - {action: allow, '!protocol': 17}
`},
		checks: []check{
			{"->b tcp 198.18.9.1>198.18.2.1 sport=1 dport=80", "allow: inbound B 1"},
			{"->b udp 198.18.9.1>198.18.2.1 sport=1 dport=53", "allow: inbound B 2"},
			{"->b sctp 198.18.9.1>198.18.2.1 sport=1 dport=9", "allow: inbound B 3"},
			{"->b udplite 198.18.9.1>198.18.2.1 sport=1 dport=10", "allow: inbound B 4"},
			{"->b 47 198.18.9.1>198.18.2.1", "allow: inbound B 5"},
			{"->b 6 fd00::9:1>fd00::2:1 sport=1 dport=8080", "allow: inbound B 6"},
			// A port of one protocol does not open it for another.
			{"->b udp 198.18.9.1>198.18.2.1 sport=1 dport=80", "deny: inbound B 7"},
			{"->b sctp 198.18.9.1>198.18.2.1 sport=1 dport=10", "deny: inbound B 7"},
			{"->b udplite 198.18.9.1>198.18.2.1 sport=1 dport=53", "deny: inbound B 7"},
			{"->b icmp 198.18.9.1>198.18.2.1 type=8", "deny: inbound B 7"},
			{"->b 48 198.18.9.1>198.18.2.1", "deny: inbound B 7"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=1 dport=81", "allow: inbound B 8"},
		},
	}})
}

func TestPorts(t *testing.T) {
	runSentences(t, []sentence{{
		spec: "src_ports, dst_ports: integers and a:b ranges (inclusive); !src_ports, !dst_ports",
		profiles: map[string]string{"B": `inbound_rules:
  - {action: allow, protocol: tcp, dst_ports: [80, "8000:8080"]}
  - {action: deny, protocol: tcp, src_ports: ["1000:1999"]}
  - {action: allow, protocol: tcp, src_ports: [5000], '!dst_ports': [22, "100:200"]}
  - {action: allow, protocol: udp, '!src_ports': [53], dst_ports: ["3000:3001"]}
  - {action: allow, protocol: sctp, '!src_ports': [2], '!dst_ports': [1]}
`},
		checks: []check{
			{"->b tcp 198.18.9.1>198.18.2.1 sport=1500 dport=80", "allow: inbound B 1"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=1 dport=7999", "deny: inbound (no profile accepted)"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=1 dport=8000", "allow: inbound B 1"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=1 dport=8080", "allow: inbound B 1"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=1000 dport=8081", "deny: inbound B 2"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=1999 dport=8081", "deny: inbound B 2"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=2000 dport=8081", "deny: inbound (no profile accepted)"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=5000 dport=8081", "allow: inbound B 3"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=5000 dport=22", "deny: inbound (no profile accepted)"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=5000 dport=100", "deny: inbound (no profile accepted)"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=5000 dport=200", "deny: inbound (no profile accepted)"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=5000 dport=201", "allow: inbound B 3"},
			{"->b tcp 198.18.9.1>198.18.2.1 sport=5001 dport=201", "deny: inbound (no profile accepted)"},
			{"->b udp 198.18.9.1>198.18.2.1 sport=53 dport=3000", "deny: inbound (no profile accepted)"},
			{"->b udp 198.18.9.1>198.18.2.1 sport=54 dport=3001", "allow: inbound B 4"},
			{"->b udp 198.18.9.1>198.18.2.1 sport=54 dport=3002", "deny: inbound (no profile accepted)"},
			{"->b sctp 198.18.9.1>198.18.2.1 sport=2 dport=5", "deny: inbound (no profile accepted)"},
			{"->b sctp 198.18.9.1>198.18.2.1 sport=3 dport=1", "deny: inbound (no profile accepted)"},
			{"->b sctp 198.18.9.1>198.18.2.1 sport=3 dport=5", "allow: inbound B 5"},
		},
	}})
}

func TestICMP(t *testing.T) {
	runSentences(t, []sentence{{
		spec: "icmp_type, icmp_code, !icmp_type, !icmp_code (a negated code excludes one type and code pair)",
		// Types that start a conntrack flow (requests): any other first packet is invalid.
		profiles: map[string]string{"B": `inbound_rules:
  - {action: allow, protocol: icmp, icmp_type: 8, icmp_code: 0}
  - {action: deny, protocol: icmp, icmp_type: 15, '!icmp_code': 1}
  - {action: allow, protocol: icmp, icmp_type: 15}
  - {action: log, protocol: icmp, '!icmp_type': 13, '!icmp_code': 0}
  - {action: deny, protocol: icmp, '!icmp_type': 17}
  - {action: allow, protocol: icmp}
  - {action: allow, protocol: icmpv6, icmp_type: 128}
`},
		checks: []check{
			{"->b icmp 198.18.9.1>198.18.2.1 type=8 code=0", "allow: inbound B 1"},
			{"->b icmp 198.18.9.1>198.18.2.1 type=8 code=1", "deny: inbound B 5 log[B inbound 4]"},
			{"->b icmp 198.18.9.1>198.18.2.1 type=15 code=0", "deny: inbound B 2"},
			{"->b icmp 198.18.9.1>198.18.2.1 type=15 code=1", "allow: inbound B 3"},
			{"->b icmp 198.18.9.1>198.18.2.1 type=17 code=0", "allow: inbound B 6 log[B inbound 4]"},
			// The pair (13, 0) is excluded from the log, not type 13 nor code 0 alone.
			{"->b icmp 198.18.9.1>198.18.2.1 type=13 code=0", "deny: inbound B 5"},
			{"->b icmp 198.18.9.1>198.18.2.1 type=13 code=1", "deny: inbound B 5 log[B inbound 4]"},
			{"->b icmpv6 fd00::9:1>fd00::2:1 type=128 code=0", "allow: inbound B 7"},
			{"->b icmpv6 fd00::9:1>fd00::2:1 type=139 code=0", "deny: inbound (no profile accepted)"},
		},
	}, {
		spec:     "Conntrack: invalid packets are dropped (a first ICMP packet that is no request, an error quoting no flow: before any policy)",
		profiles: map[string]string{"B": "inbound_rules:\n  - {action: allow}\n"},
		checks: []check{
			{"->b icmp 198.18.9.1>198.18.2.1 type=0 code=0", "deny: inbound (conntrack: invalid)"},
			{"->b icmp 198.18.9.1>198.18.2.1 type=3 code=1", "deny: inbound (conntrack: invalid)"},
			{"->b icmp 198.18.9.1>198.18.2.1 type=11 code=0", "deny: inbound (conntrack: invalid)"},
			{"->b icmp 198.18.9.1>198.18.2.1 type=14 code=0", "deny: inbound (conntrack: invalid)"},
			{"->b icmp 198.18.9.1>198.18.2.1 type=8 code=0", "allow: inbound B 1"},
			{"->b icmp 198.18.9.1>198.18.2.1 type=17 code=3", "allow: inbound B 1"},
			{"->b icmpv6 fd00::9:1>fd00::2:1 type=129 code=0", "deny: inbound (conntrack: invalid)"},
			{"->b icmpv6 fd00::9:1>fd00::2:1 type=1 code=0", "deny: inbound (conntrack: invalid)"},
			{"->b icmpv6 fd00::9:1>fd00::2:1 type=137 code=0", "deny: inbound (conntrack: invalid)"},
			{"->b icmpv6 fd00::9:1>fd00::2:1 type=135 code=0", "allow: inbound B 1"},
			{"->b icmpv6 fd00::9:1>fd00::2:1 type=143 code=0", "allow: inbound B 1"},
			{"->b icmpv6 fd00::9:1>fd00::2:1 type=139 code=0", "allow: inbound B 1"},
			{"->b tcp 198.18.9.1>198.18.2.1 dport=80", "allow: inbound B 1"},
		},
	}})
}

func TestNets(t *testing.T) {
	runSentences(t, []sentence{{
		spec: "src_net, dst_net: an IPv4 or IPv6 address or CIDR; !src_net, !dst_net",
		profiles: map[string]string{
			"A": "outbound_rules:\n  - {action: deny, dst_net: 198.18.2.3}\n  - {action: allow, '!dst_net': 198.18.2.4}\n",
			"B": `inbound_rules:
  - {action: deny, src_net: 198.18.1.1}
  - {action: allow, src_net: 198.18.1.0/24, dst_net: 198.18.2.1/32}
  - {action: allow, protocol: udp, src_net: 198.18.9.77/24}
  - {action: allow, protocol: tcp, '!src_net': 198.18.8.0/24, '!dst_net': 198.18.2.2}
  - {action: allow, src_net: "fd00::1:0/112", '!dst_net': "fd00::2:2"}
`},
		checks: []check{
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=80", "deny: outbound A 2, inbound B 1"},
			{"->b tcp 198.18.1.7>198.18.2.1 dport=80", "allow: inbound B 2"},
			{"->b tcp 198.18.1.7>198.18.2.2 dport=80", "deny: inbound (no profile accepted)"},
			// A CIDR with host bits stands for its network.
			{"->b udp 198.18.9.200>198.18.2.5 dport=80", "allow: inbound B 3"},
			{"->b udp 198.18.10.1>198.18.2.5 dport=80", "deny: inbound (no profile accepted)"},
			{"->b tcp 198.18.8.1>198.18.2.5 dport=80", "deny: inbound (no profile accepted)"},
			{"->b tcp 198.18.7.1>198.18.2.5 dport=80", "allow: inbound B 4"},
			{"a>b tcp 198.18.1.1>198.18.2.3 dport=80", "deny: outbound A 1"},
			{"a>b tcp 198.18.1.1>198.18.2.4 dport=80", "deny: outbound (no profile accepted)"},
			// A's rules have IPv4 nets only: a sends no IPv6 at all.
			{"a>b tcp fd00::1:1>fd00::2:1 dport=80", "deny: outbound (no profile accepted)"},
			{"->b tcp fd00::1:5>fd00::2:1 dport=80", "allow: inbound B 5"},
			{"->b tcp fd00::1:5>fd00::2:2 dport=80", "deny: inbound (no profile accepted)"},
			{"->b tcp fd00::9:1>fd00::2:1 dport=80", "deny: inbound (no profile accepted)"},
		},
	}})
}

func TestAntiSpoofing(t *testing.T) {
	runSentences(t, []sentence{{
		spec: "a packet from an endpoint whose source address is not in its nets, or whose source MAC differs from mac, is dropped",
		checks: []check{
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=80", "allow: outbound A 1, inbound B 1"},
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=80 mac=ee:ee:ee:00:00:0a", "allow: outbound A 1, inbound B 1"},
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=80 mac=EE:EE:EE:00:00:0A", "allow: outbound A 1, inbound B 1"},
			{"a>b tcp 198.18.1.1>198.18.2.1 dport=80 mac=ee:ee:ee:00:00:0b", "deny: outbound (anti-spoofing: source MAC)"},
			{"a>b tcp 198.18.1.2>198.18.2.1 dport=80", "deny: outbound (anti-spoofing: source address)"},
			{"a>b tcp 198.18.2.5>198.18.2.1 dport=80", "deny: outbound (anti-spoofing: source address)"},
			{"a>b tcp fd00::1:2>fd00::2:1 dport=80", "deny: outbound (anti-spoofing: source address)"},
			{"a>- tcp 198.18.1.2>198.18.100.1 dport=80", "deny: outbound (anti-spoofing: source address)"},
			// b has no mac: any MAC; its /28 and /124 are its nets.
			{"b>a tcp 198.18.2.15>198.18.1.1 dport=80 mac=02:00:00:00:00:01", "allow: outbound B 1, inbound A 1"},
			{"b>a tcp fd00::2:f>fd00::1:1 dport=80", "allow: outbound B 1, inbound A 1"},
			{"b>a tcp 198.18.2.16>198.18.1.1 dport=80", "deny: outbound (anti-spoofing: source address)"},
			// A sender outside the model is not checked (it forges a's address here).
			{"->b tcp 198.18.1.1>198.18.2.1 dport=80", "allow: inbound B 1"},
		},
	}})
}

func TestAntiSpoofingExemptions(t *testing.T) {
	runSentences(t, []sentence{{
		spec: "DHCP and ND may also come from the unspecified or link-local address (to the host: the kernel forwards no such source); everything else only from the endpoint's nets",
		checks: []check{
			{"a>b udp 0.0.0.0>198.18.2.1 sport=68 dport=67", "deny: outbound (anti-spoofing: source address)"},
			{"a>b udp 169.254.1.1>198.18.2.1 sport=68 dport=67", "deny: outbound (anti-spoofing: source address)"},
			{"a>b udp ::>fd00::2:1 sport=546 dport=547", "deny: outbound (anti-spoofing: source address)"},
			{"a>b udp fe80::1>fd00::2:1 sport=546 dport=547", "deny: outbound (anti-spoofing: source address)"},
			{"a>b udp 0.0.0.0>198.18.2.1 dport=53", "deny: outbound (anti-spoofing: source address)"},
			{"a>b udp 0.0.0.0>198.18.2.1 dport=69", "deny: outbound (anti-spoofing: source address)"},
			{"a>b tcp 0.0.0.0>198.18.2.1 dport=67", "deny: outbound (anti-spoofing: source address)"},
			{"a>b udp 198.18.1.9>198.18.2.1 dport=67", "deny: outbound (anti-spoofing: source address)"},
			{"a>b udp 0.0.0.0>198.18.2.1 dport=67 mac=ee:ee:ee:00:00:0b", "deny: outbound (anti-spoofing: source MAC)"},
			{"a>b icmpv6 fe80::1>fd00::2:1 type=133", "deny: outbound (anti-spoofing: source address)"},
			{"a>b icmpv6 fe80::1>fd00::2:1 type=135", "deny: outbound (anti-spoofing: source address)"},
			{"a>b icmpv6 ::>fd00::2:1 type=136", "deny: outbound (anti-spoofing: source address)"},
			{"a>b icmpv6 fe80::1>fd00::2:1 type=134", "deny: outbound (anti-spoofing: source address)"},
			{"a>b icmpv6 fe80::1>fd00::2:1 type=143", "deny: outbound (anti-spoofing: source address)"},
			{"a>b icmpv6 fe80::1>fd00::2:1 type=128", "deny: outbound (anti-spoofing: source address)"},
			{"a>b icmpv6 fd00::1:9>fd00::2:1 type=135", "deny: outbound (anti-spoofing: source address)"},
			{"a>b icmp 0.0.0.0>198.18.2.1 type=13", "deny: outbound (anti-spoofing: source address)"},
		},
	}})
}

// hostEndpoints is baseEndpoints plus c (inactive) and d (no profiles), both on h1.
const hostEndpoints = baseEndpoints + `  - id: c
    host: h1
    interface: calic
    ipv4_nets: [198.18.1.3/32]
    ipv6_nets: []
    profile_ids: [A]
    state: inactive
  - id: d
    host: h1
    interface: calid
    ipv4_nets: [198.18.1.4/32]
    ipv6_nets: []
    profile_ids: []
`

func TestToHost(t *testing.T) {
	const (
		dhcp = "allow: to-host (host allows DHCP)"
		dns  = "allow: to-host (host allows DNS)"
		nd   = "allow: to-host (host allows neighbour discovery)"
		drop = "deny: to-host (endpoint to host)"
	)
	runSentences(t, []sentence{{
		spec:      "traffic from an endpoint to the host itself is dropped except DHCP and DNS (udp 67/68, 546/547, 53) and ND (133, 135, 136)",
		endpoints: hostEndpoints,
		// Reading: a's outbound rules do not apply to the host (they would deny all here).
		profiles: map[string]string{"A": "inbound_rules: [{action: allow}]\noutbound_rules: [{action: deny}]\n"},
		checks: []check{
			{"a>host:h1 udp 198.18.1.1>198.18.0.1 sport=68 dport=67", dhcp},
			{"a>host:h1 udp 198.18.1.1>198.18.0.1 sport=67 dport=68", drop},
			{"a>host:h1 udp 198.18.1.1>198.18.0.1 sport=50000 dport=67", drop},
			{"a>host:h1 udp 198.18.1.1>198.18.0.1 sport=546 dport=547", drop},
			{"a>host:h1 udp fd00::1:1>fd00::1 sport=547 dport=546", drop},
			{"a>host:h1 udp fd00::1:1>fd00::1 sport=68 dport=67", drop},
			{"a>host:h1 udp fd00::1:1>fd00::1 sport=546 dport=547", dhcp},
			{"a>host:h1 udp 198.18.1.1>198.18.0.1 dport=53", dns},
			{"a>host:h1 udp fd00::1:1>fd00::1 dport=53", dns},
			{"a>host:h1 tcp 198.18.1.1>198.18.0.1 dport=53", drop},
			{"a>host:h1 tcp 198.18.1.1>198.18.0.1 dport=67", drop},
			{"a>host:h1 udp 198.18.1.1>198.18.0.1 dport=54", drop},
			{"a>host:h1 udp 198.18.1.1>198.18.0.1 sport=67 dport=1000", drop},
			{"a>host:h1 tcp 198.18.1.1>198.18.0.1 dport=22", drop},
			{"a>host:h1 icmp 198.18.1.1>198.18.0.1 type=8", drop},
			{"a>host:h1 icmpv6 fd00::1:1>fd00::1 type=133", nd},
			{"a>host:h1 icmpv6 fd00::1:1>ff02::2 type=133", nd},
			{"a>host:h1 icmpv6 fd00::1:1>fd00::1 type=135", nd},
			{"a>host:h1 icmpv6 fd00::1:1>fd00::1 type=136", nd},
			{"a>host:h1 icmpv6 fd00::1:1>fd00::1 type=134", drop},
			{"a>host:h1 icmpv6 fd00::1:1>fd00::1 type=137", "deny: to-host (conntrack: invalid)"},
			{"a>host:h1 icmpv6 fd00::1:1>ff02::16 type=143", drop},
			{"a>host:h1 icmpv6 fd00::1:1>ff02::1 type=130", drop},
			{"a>host:h1 icmpv6 fd00::1:1>fd00::1 type=128", drop},
		},
	}, {
		spec:      "anti-spoofing applies to every packet from an endpoint, including those to the host",
		endpoints: hostEndpoints,
		checks: []check{
			{"a>host:h1 udp 0.0.0.0>255.255.255.255 sport=68 dport=67", dhcp},
			{"a>host:h1 udp 169.254.7.7>198.18.0.1 sport=68 dport=67", dhcp},
			{"a>host:h1 icmpv6 ::>ff02::1:ff00:1 type=135", nd},
			{"a>host:h1 icmpv6 fe80::1>ff02::2 type=133", nd},
			{"a>host:h1 icmpv6 fe80::1>fd00::1 type=134", "deny: to-host (anti-spoofing: source address)"},
			{"a>host:h1 udp 0.0.0.0>198.18.0.1 dport=53", "deny: to-host (anti-spoofing: source address)"},
			{"a>host:h1 udp 198.18.1.2>198.18.0.1 dport=53", "deny: to-host (anti-spoofing: source address)"},
			{"a>host:h1 udp 198.18.1.1>198.18.0.1 dport=67 mac=ee:ee:ee:00:00:0b", "deny: to-host (anti-spoofing: source MAC)"},
			{"a>host:h1 icmpv6 fe80::1>fd00::1 type=135 mac=ee:ee:ee:00:00:0b", "deny: to-host (anti-spoofing: source MAC)"},
		},
	}, {
		spec:      "an endpoint with no profiles, or state: inactive, has all its traffic dropped (to the host too)",
		endpoints: hostEndpoints,
		checks: []check{
			{"c>host:h1 udp 198.18.1.3>198.18.0.1 dport=67", "deny: to-host (inactive endpoint)"},
			{"c>host:h1 udp 0.0.0.0>198.18.0.1 sport=68 dport=67", "deny: to-host (inactive endpoint)"},
			{"d>host:h1 udp 198.18.1.4>198.18.0.1 dport=53", "deny: to-host (no profiles)"},
			{"c>host:h1 udp 198.18.1.9>198.18.0.1 dport=53", "deny: to-host (anti-spoofing: source address)"},
		},
	}})
}

func TestStepFields(t *testing.T) {
	repo := load(t, hostEndpoints, map[string]string{"B": "inbound_rules:\n  - {action: log}\n  - {action: deny}\n"})
	r, err := Evaluate(repo, packet(t, "a>b tcp 198.18.1.1>198.18.2.1 dport=80"))
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Steps: []Step{
		{Host: "h1", Endpoint: "a", Direction: "outbound", Allowed: true, Profile: "A", Rule: 1},
		{Host: "h2", Endpoint: "b", Direction: "inbound", Profile: "B", Rule: 2, Logged: []string{"B inbound 1"}},
	}}
	if got, w := fmt.Sprintf("%+v", r), fmt.Sprintf("%+v", want); got != w {
		t.Errorf("a>b:\n got %s\nwant %s", got, w)
	}
	r, err = Evaluate(repo, packet(t, "a>host:h1 udp 198.18.1.1>198.18.0.1 dport=53"))
	if err != nil {
		t.Fatal(err)
	}
	want = Result{Allowed: true, Steps: []Step{{Host: "h1", Endpoint: "a", Direction: "to-host", Allowed: true, Reason: "host allows DNS"}}}
	if got, w := fmt.Sprintf("%+v", r), fmt.Sprintf("%+v", want); got != w {
		t.Errorf("a>host:\n got %s\nwant %s", got, w)
	}
}

func TestErrors(t *testing.T) {
	repo := load(t, "", nil)
	for _, c := range []struct {
		p    Packet
		want string
	}{
		{packet(t, "x>b tcp 198.18.1.1>198.18.2.1"), `from: "x" is not an endpoint of the repository`},
		{packet(t, "a>x tcp 198.18.1.1>198.18.2.1"), `to: "x" is not an endpoint of the repository`},
		{packet(t, "a>b tcp 198.18.1.1>fd00::2:1"), "dst: fd00::2:1 is not of the family of src 198.18.1.1 (mixed families)"},
		{packet(t, "a>b tcp ::ffff:198.18.1.1>::ffff:198.18.2.1"), "src: ::ffff:198.18.1.1 is an IPv4-mapped IPv6 address: write it as IPv4 (198.18.1.1)"},
		{packet(t, "a>b tcp nowhere>198.18.2.1"), "src, dst: both addresses are required"},
		{packet(t, "a>b 0 198.18.1.1>198.18.2.1"), "proto: 0 is not a protocol (1-255)"},
		{packet(t, "a>b tcp 198.18.1.1>198.18.2.1 mac=ee:ee"), `src_mac: "ee:ee" is not a 48-bit MAC address (write ee:ee:ee:ee:ee:ee)`},
		{Packet{From: "a", To: "b", ToHost: "h1", Src: netip.MustParseAddr("198.18.1.1"), Dst: netip.MustParseAddr("198.18.2.1"), Proto: 6},
			`to_host: "h1" with to "b": a packet goes to an endpoint or to the host, not both`},
		{packet(t, "a>host:h2 udp 198.18.1.1>198.18.0.1 dport=67"), `to_host: "h2" is not the host of "a" ("h1"): only an endpoint's own host is reachable this way`},
		{packet(t, "->host:h1 udp 198.18.9.1>198.18.0.1 dport=67"), `to_host: "h1" needs from: only an endpoint's own host is reachable this way`},
		{packet(t, "->- tcp 198.18.9.1>198.18.9.2"), "from, to: neither is an endpoint: the packet crosses no policy of the model"},
		{packet(t, "a>b tcp 198.18.1.1>198.18.2.16"), `dst: 198.18.2.16 is not an address of endpoint "b"`},
		{packet(t, "a>- tcp 198.18.1.1>198.18.2.3"), `dst: 198.18.2.3 is an address of endpoint "b": set to "b"`},
		{packet(t, "->- tcp fd00::9>fd00::2:f"), `dst: fd00::2:f is an address of endpoint "b": set to "b"`},
	} {
		if _, err := Evaluate(repo, c.p); err == nil || err.Error() != c.want {
			t.Errorf("%+v:\n got error %v\nwant %s", c.p, err, c.want)
		}
	}
	// A repository that does not validate: a profile id without its profile.
	delete(repo.Profiles, "B")
	_, err := Evaluate(repo, packet(t, "a>b tcp 198.18.1.1>198.18.2.1"))
	if want := `profile_ids: endpoint "b" names profile "B", which the repository lacks`; err == nil || err.Error() != want {
		t.Errorf("missing profile: got error %v, want %s", err, want)
	}
}

// benchRepo is a repository of 20 endpoints over two hosts, both families, with three
// profiles from a pool of five each, rules with tags, nets, ports, ICMP and negations.
func benchRepo(b *testing.B) (*schema.Repository, []Packet) {
	var eps strings.Builder
	eps.WriteString("endpoints:\n")
	profiles := map[string]string{}
	for i := range 5 {
		profiles[fmt.Sprintf("P%d", i)] = fmt.Sprintf(`tags: [T%d, T%d]
inbound_rules:
  - {action: log, protocol: tcp, dst_ports: [22]}
  - {action: deny, src_tag: T%d, protocol: udp, '!dst_ports': ["1000:2000"]}
  - {action: allow, protocol: tcp, dst_ports: [80, "8000:8100"], src_tag: T%d}
  - {action: allow, protocol: icmp, icmp_type: 8, '!src_net': 198.18.3%d.0/24}
  - {action: allow, protocol: icmpv6, '!icmp_type': 1}
  - {action: deny, src_net: "fd00::%d:0/112"}
outbound_rules:
  - {action: deny, dst_tag: T%d, '!protocol': tcp}
  - {action: allow}
`, i, (i+1)%5, (i+2)%5, (i+3)%5, i, i, (i+4)%5)
	}
	var pkts []Packet
	for i := range 20 {
		fmt.Fprintf(&eps, "  - {id: e%d, host: h%d, interface: cali%d, ipv4_nets: [198.18.%d.1/32], ipv6_nets: [\"fd00::%d:1/128\"], profile_ids: [P%d, P%d, P%d]}\n",
			i, i%2, i, 10+i, 10+i, i%5, (i+2)%5, (i+4)%5)
	}
	repo := load(b, eps.String(), profiles)
	protos := []string{"tcp dport=80", "tcp dport=22", "udp dport=1500", "udp dport=53", "icmp type=8", "icmpv6 type=128", "sctp dport=9"}
	for i := range 20 {
		for j := range 20 {
			pr := protos[(i+j)%len(protos)]
			src, dst := fmt.Sprintf("198.18.%d.1", 10+i), fmt.Sprintf("198.18.%d.1", 10+j)
			if (i+j)%2 == 1 || strings.HasPrefix(pr, "icmpv6") {
				src, dst = fmt.Sprintf("fd00::%d:1", 10+i), fmt.Sprintf("fd00::%d:1", 10+j)
			}
			f := strings.Fields(pr)
			pkts = append(pkts, packet(b, fmt.Sprintf("e%d>e%d %s %s>%s %s", i, j, f[0], src, dst, f[1])))
		}
	}
	return repo, pkts
}

// BenchmarkEvaluate measures packets per second on a 20-endpoint repository (the differential
// needs about 10k a second).
func BenchmarkEvaluate(b *testing.B) {
	repo, pkts := benchRepo(b)
	// The packets must get both verdicts (checked once, so that -benchtime 1x works too).
	allowed := 0
	for _, p := range pkts {
		r, err := Evaluate(repo, p)
		if err != nil {
			b.Fatal(err)
		}
		if r.Allowed {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(pkts) {
		b.Fatalf("benchmark packets all got one verdict (%d allowed of %d): not a mix", allowed, len(pkts))
	}
	n := 0
	for ; b.Loop(); n++ {
		if _, err := Evaluate(repo, pkts[n%len(pkts)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
}
