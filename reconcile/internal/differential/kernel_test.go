package differential

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/evaluate"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// kernelFiles: cli-1 (with a mac) and srv-1 on node-1, srv-2 on node-2, dual stack. SRV lets
// in tcp 80, sctp, protocol 47, ping and ping6 and udplite 5001, and denies udp 53; CLI lets nothing in; both
// let everything out.
var kernelFiles = map[string]string{
	"profiles/SRV.yaml": `id: SRV
tags: [SRV]
inbound_rules:
  - action: allow
    protocol: tcp
    dst_ports: [80]
  - action: allow
    protocol: sctp
  - action: allow
    protocol: 47
  - action: allow
    protocol: icmp
    icmp_type: 8
  - action: allow
    protocol: icmpv6
    icmp_type: 128
  - action: deny
    protocol: udp
    dst_ports: [53]
  - action: allow
    protocol: udplite
    dst_ports: [5001]
outbound_rules:
  - action: allow
`,
	"profiles/CLI.yaml": `id: CLI
outbound_rules:
  - action: allow
`,
	"endpoints/lab.yaml": `endpoints:
  - id: cli-1
    host: node-1
    interface: calicli1
    mac: "ee:ee:ee:00:00:01"
    ipv4_nets: [198.18.1.2/32]
    ipv6_nets: ["fd00:1::2/128"]
    profile_ids: [CLI]
  - id: srv-1
    host: node-1
    interface: calisrv1
    ipv4_nets: [198.18.1.3/32]
    ipv6_nets: ["fd00:1::3/128"]
    profile_ids: [SRV]
  - id: srv-2
    host: node-2
    interface: calisrv2
    ipv4_nets: [198.18.2.2/32]
    ipv6_nets: ["fd00:2::2/128"]
    profile_ids: [SRV]
`,
}

// kernelCase is a packet with the verdict SPEC §3 gives it in kernelFiles.
type kernelCase struct {
	name string
	p    evaluate.Packet
	want bool
}

func kernelCases() []kernelCase {
	a := netip.MustParseAddr
	cli4, cli6 := a("198.18.1.2"), a("fd00:1::2")
	to := func(id string, src, dst netip.Addr, proto uint8, sport, dport uint16) evaluate.Packet {
		return evaluate.Packet{From: "cli-1", To: id, Src: src, Dst: dst, Proto: proto, SrcPort: sport, DstPort: dport}
	}
	icmp := func(id string, src, dst netip.Addr, proto, typ uint8) evaluate.Packet {
		return evaluate.Packet{From: "cli-1", To: id, Src: src, Dst: dst, Proto: proto, ICMPType: typ}
	}
	host := func(src, dst netip.Addr, proto uint8, sport, dport uint16) evaluate.Packet {
		return evaluate.Packet{From: "cli-1", ToHost: "node-1", Src: src, Dst: dst, Proto: proto, SrcPort: sport, DstPort: dport}
	}
	macForged := to("srv-2", cli4, a("198.18.2.2"), 6, 40010, 80)
	macForged.SrcMAC = "02:00:00:00:00:99"
	macOwn := to("srv-2", cli4, a("198.18.2.2"), 6, 40011, 80)
	macOwn.SrcMAC = "EE:EE:EE:00:00:01"
	return []kernelCase{
		{"tcp 80 to the other host", to("srv-2", cli4, a("198.18.2.2"), 6, 40000, 80), true},
		{"tcp 81 to the other host", to("srv-2", cli4, a("198.18.2.2"), 6, 40000, 81), false},
		{"tcp 80 v6 on the same host", to("srv-1", cli6, a("fd00:1::3"), 6, 40000, 80), true},
		{"tcp 80 v6 to the other host", to("srv-2", cli6, a("fd00:2::2"), 6, 40001, 80), true},
		{"sctp v4", to("srv-2", cli4, a("198.18.2.2"), 132, 40000, 5000), true},
		{"sctp v6 same host", to("srv-1", cli6, a("fd00:1::3"), 132, 40000, 5000), true},
		{"udplite 5001", to("srv-1", cli6, a("fd00:1::3"), 136, 40000, 5001), true},
		{"udplite 5001 v4", to("srv-2", cli4, a("198.18.2.2"), 136, 40000, 5001), true},
		{"udplite: no rule", to("srv-2", cli4, a("198.18.2.2"), 136, 40000, 5000), false},
		{"udp 53 denied", to("srv-2", cli4, a("198.18.2.2"), 17, 40000, 53), false},
		{"udp 54: no rule", to("srv-1", cli6, a("fd00:1::3"), 17, 40000, 54), false},
		{"protocol 47", to("srv-2", cli4, a("198.18.2.2"), 47, 0, 0), true},
		{"protocol 47 v6", to("srv-1", cli6, a("fd00:1::3"), 47, 0, 0), true},
		{"protocol 253", to("srv-2", cli4, a("198.18.2.2"), 253, 0, 0), false},
		{"icmp echo", icmp("srv-2", cli4, a("198.18.2.2"), 1, 8), true},
		{"icmp timestamp", icmp("srv-1", cli4, a("198.18.1.3"), 1, 13), false},
		{"icmpv6 echo", icmp("srv-2", cli6, a("fd00:2::2"), 58, 128), true},
		{"icmpv6 node information", icmp("srv-2", cli6, a("fd00:2::2"), 58, 139), false},
		{"forged outside source", to("srv-2", a("198.18.77.77"), a("198.18.2.2"), 6, 40002, 80), false},
		{"forged source of srv-1", to("srv-2", a("198.18.1.3"), a("198.18.2.2"), 6, 40003, 80), false},
		{"forged v6 source", to("srv-1", a("fd00:1::77"), a("fd00:1::3"), 6, 40004, 80), false},
		{"forged mac", macForged, false},
		{"own mac written in capitals", macOwn, true},
		{"to cli-1: CLI lets nothing in", evaluate.Packet{From: "srv-1", To: "cli-1", Src: a("198.18.1.3"), Dst: cli4, Proto: 6, SrcPort: 40000, DstPort: 80}, false},
		{"dhcp to the host", host(a("0.0.0.0"), a("255.255.255.255"), 17, 68, 67), true},
		{"dns to the host", host(cli4, a("198.18.255.1"), 17, 40000, 53), true},
		{"dhcpv6 to the host", host(a("fe80::41"), a("fe80::1"), 17, 546, 547), true},
		{"tcp 22 to the host", host(cli4, a("198.18.255.1"), 6, 40000, 22), false},
		{"tcp 22 v6 to the host", host(cli6, a("fd00:ffff:ffff::1"), 6, 40000, 22), false},
		{"dns from a forged source to the host", host(a("198.18.77.77"), a("198.18.255.1"), 17, 40001, 53), false},
		{"neighbour solicitation to the host", evaluate.Packet{From: "cli-1", ToHost: "node-1", Src: a("::"), Dst: a("fe80::1"), Proto: 58, ICMPType: 135}, true},
		{"router advertisement to the host", evaluate.Packet{From: "cli-1", ToHost: "node-1", Src: a("fe80::41"), Dst: a("fe80::1"), Proto: 58, ICMPType: 134}, false},
	}
}

// The kernel, after `reconcile apply` on both hosts, delivers exactly the packets SPEC §3
// allows in kernelFiles: per protocol (tcp, udp, sctp, udplite, numeric 47 and 253), ICMP
// type, forged source address and MAC, and to the host (DHCP, DHCPv6, DNS and ND allowed; tcp,
// RA and forged DNS not). Then the lab self-test passes on the same packets, and fails with a
// "binary" that applies nothing (so a lab without a firewall never passes as agreement).
func TestKernel(t *testing.T) {
	testenv.RequireKernel(t)
	bin := testenv.BuildReconcile(t)
	ctx := context.Background()
	cases := kernelCases()
	pkts := make([]evaluate.Packet, len(cases))
	for i, c := range cases {
		pkts[i] = c.p
	}
	t.Run("verdicts", func(t *testing.T) {
		start := time.Now()
		got, err := Kernel(ctx, bin, kernelFiles, pkts)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d packets in %v (lab, apply on 2 hosts, batch)", len(pkts), time.Since(start))
		for i, c := range cases {
			if got[i] != c.want {
				t.Errorf("%s (%s): delivered %v, want %v", c.name, FormatPacket(c.p), got[i], c.want)
			}
		}
	})
	t.Run("2000 packets", func(t *testing.T) {
		// The cases again and again, each time from another source port (no rule of
		// kernelFiles looks at it) or, for ICMP, with another identifier (SendBatch's own):
		// every copy a new flow with its case's verdict.
		var many []evaluate.Packet
		var want []bool
		for n := 0; len(many) < 2000; n++ {
			for _, c := range cases {
				p := c.p
				switch {
				case p.Proto == 47 || p.Proto == 253 || p.SrcPort == 68 || p.SrcPort == 546:
					if n > 0 {
						continue // no ports, or DHCP's: a copy would be the same flow
					}
				case p.Proto == 6 || p.Proto == 17 || p.Proto == 132 || p.Proto == 136:
					p.SrcPort += uint16(100 * n)
				}
				many, want = append(many, p), append(want, c.want)
			}
		}
		start := time.Now()
		got, err := Kernel(ctx, bin, kernelFiles, many)
		if err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		t.Logf("%d packets in %v with lab and apply: %.0f packets/s", len(many), d, float64(len(many))/d.Seconds())
		bad := 0
		for i := range many {
			if got[i] != want[i] {
				bad++
				if bad <= 10 {
					t.Errorf("packet %d (%s): delivered %v, want %v", i, FormatPacket(many[i]), got[i], want[i])
				}
			}
		}
	})
	t.Run("self-test", func(t *testing.T) {
		if err := SelfTest(ctx, bin, kernelFiles, pkts); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("self-test: every protocol and ICMP type", func(t *testing.T) {
		if err := SelfTest(ctx, bin, kernelFiles, everyKind()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("self-test without a firewall fails", func(t *testing.T) {
		err := SelfTest(ctx, "/bin/true", kernelFiles, pkts)
		if err == nil || !strings.Contains(err.Error(), "delivered with deny-all") {
			t.Fatalf("self-test with no firewall: %v, want packets delivered with deny-all", err)
		}
	})
}

// Forged is anti-spoofing as SPEC §3 says it: a source outside the sender's nets (also
// unspecified and link-local) or a MAC other than its mac; the MAC is compared as an address.
func TestForged(t *testing.T) {
	repo, err := load(kernelFiles)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	for _, tc := range []struct {
		from, src, mac string
		want           bool
	}{
		{"cli-1", "198.18.1.2", "", false},
		{"cli-1", "fd00:1::2", "ee:ee:ee:00:00:01", false},
		{"cli-1", "198.18.1.2", "EE-EE-EE-00-00-01", false},
		{"cli-1", "198.18.1.2", "ee:ee:ee:00:00:02", true},
		{"cli-1", "198.18.1.3", "", true},
		{"cli-1", "0.0.0.0", "", true},
		{"cli-1", "fe80::2", "", true},
		{"srv-1", "198.18.1.3", "02:00:00:00:00:01", false}, // no mac: not checked
		{"nobody", "198.18.1.3", "", true},
	} {
		p := evaluate.Packet{From: tc.from, Src: a(tc.src), SrcMAC: tc.mac}
		if got := Forged(repo, p); got != tc.want {
			t.Errorf("Forged(%s from %s mac %q) = %v, want %v", tc.from, tc.src, tc.mac, got, tc.want)
		}
	}
}

// AllowAllFiles and DenyAllFiles keep the endpoints (made active) and every profile id, with
// one allow rule each way or none, and they load.
func TestSelfTestFiles(t *testing.T) {
	files := map[string]string{}
	for p, c := range kernelFiles {
		files[p] = c
	}
	files["endpoints/lab.yaml"] = strings.Replace(kernelFiles["endpoints/lab.yaml"], "profile_ids: [CLI]", "profile_ids: [CLI]\n    state: inactive", 1)
	allow, err := AllowAllFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	deny, err := DenyAllFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	for name, fs := range map[string]map[string]string{"allow": allow, "deny": deny} {
		repo, err := load(fs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(repo.Endpoints) != 3 || !repo.Endpoints[0].Active() || repo.Endpoints[0].MAC != "ee:ee:ee:00:00:01" {
			t.Errorf("%s: endpoints %+v", name, repo.Endpoints[0])
		}
		for _, id := range []string{"SRV", "CLI"} {
			p := repo.Profiles[id]
			if p == nil {
				t.Fatalf("%s: profile %s missing", name, id)
			}
			n := 0
			if name == "allow" {
				n = 1
			}
			if len(p.Inbound) != n || len(p.Outbound) != n || len(p.Tags) != 0 {
				t.Errorf("%s: profile %s = %s", name, id, fmt.Sprint(p.Inbound, p.Outbound, p.Tags))
			}
		}
	}
}

// everyKind is a packet of every IP protocol number the lab sends (v4 and v6), and of every
// ICMP and ICMPv6 type to a workload on the other host, to the host and from a forged source.
func everyKind() []evaluate.Packet {
	a := netip.MustParseAddr
	var pkts []evaluate.Packet
	for pr := 1; pr <= 254; pr++ {
		pkts = append(pkts, evaluate.Packet{From: "cli-1", To: "srv-2", Src: a("198.18.1.2"), Dst: a("198.18.2.2"), Proto: uint8(pr), SrcPort: 1000, DstPort: 2000, ICMPType: 8})
		if pr != 43 && pr != 44 && pr != 59 && pr != 60 && pr != 135 { // extension headers
			pkts = append(pkts, evaluate.Packet{From: "cli-1", To: "srv-1", Src: a("fd00:1::2"), Dst: a("fd00:1::3"), Proto: uint8(pr), SrcPort: 1000, DstPort: 2000, ICMPType: 128})
		}
	}
	for ty := 0; ty <= 255; ty++ {
		pkts = append(pkts,
			evaluate.Packet{From: "cli-1", To: "srv-2", Src: a("198.18.1.2"), Dst: a("198.18.2.2"), Proto: 1, ICMPType: uint8(ty), ICMPCode: uint8(ty % 3)},
			evaluate.Packet{From: "cli-1", To: "srv-2", Src: a("fd00:1::2"), Dst: a("fd00:2::2"), Proto: 58, ICMPType: uint8(ty), ICMPCode: uint8(ty % 3)},
			evaluate.Packet{From: "cli-1", ToHost: "node-1", Src: a("198.18.1.2"), Dst: a("198.18.255.1"), Proto: 1, ICMPType: uint8(ty)},
			evaluate.Packet{From: "cli-1", ToHost: "node-1", Src: a("fe80::2"), Dst: a("fe80::1"), Proto: 58, ICMPType: uint8(ty)},
			evaluate.Packet{From: "cli-1", To: "srv-1", Src: a("198.18.9.9"), Dst: a("198.18.1.3"), Proto: 1, ICMPType: uint8(ty)})
	}
	return pkts
}
