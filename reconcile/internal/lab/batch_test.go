package lab

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/netip"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// batchKinds is one packet of every kind SendBatch builds, from a1 (node-1) to a2 (same host),
// b1 (other host) and node-1 itself, v4 and v6; names say what each is.
func batchKinds(l *Lab) (names []string, pkts []Packet) {
	a := netip.MustParseAddr
	add := func(name string, p Packet) {
		names = append(names, name)
		pkts = append(pkts, p)
	}
	for _, to := range []string{"a2", "b1"} {
		for _, fam := range []int{4, 6} {
			src, dst := l.Addr("a1", fam), l.Addr(to, fam)
			base := Packet{From: "a1", To: to, Src: src, Dst: dst}
			for _, pr := range []uint8{6, 17, 132, 136} {
				p := base
				p.Proto, p.SrcPort, p.DstPort = pr, 40000, 80
				add(fmt.Sprintf("%s v%d proto %d", to, fam, pr), p)
			}
			for _, pr := range []uint8{47, 253, 99} {
				p := base
				p.Proto = pr
				add(fmt.Sprintf("%s v%d proto %d", to, fam, pr), p)
			}
			icmp, types := uint8(1), []uint8{8, 13, 3, 0}
			if fam == 6 {
				icmp, types = 58, []uint8{128, 135, 1, 129}
			}
			for _, ty := range types {
				p := base
				p.Proto, p.ICMPType, p.ICMPCode = icmp, ty, 0
				add(fmt.Sprintf("%s v%d icmp type %d", to, fam, ty), p)
			}
			p := base
			p.Src = a("198.18.77.77")
			if fam == 6 {
				p.Src = a("fd00:77::77")
			}
			p.Proto, p.SrcPort, p.DstPort = 17, 1234, 53
			add(fmt.Sprintf("%s v%d forged source", to, fam), p)
			p = base
			p.SrcMAC, p.Proto, p.SrcPort, p.DstPort = "02:00:00:00:00:99", 6, 40001, 80
			add(fmt.Sprintf("%s v%d forged mac", to, fam), p)
		}
	}
	host := Packet{From: "a1", ToHost: "node-1"}
	for _, p := range []Packet{
		{Src: a("0.0.0.0"), Dst: a("255.255.255.255"), Proto: 17, SrcPort: 68, DstPort: 67},
		{Src: l.Addr("a1", 4), Dst: GatewayV4, Proto: 6, SrcPort: 40000, DstPort: 22},
		{Src: l.Addr("a1", 4), Dst: GatewayV4, Proto: 1, ICMPType: 8},
		{Src: a("fe80::41"), Dst: GatewayV6, Proto: 17, SrcPort: 546, DstPort: 547},
		{Src: a("::"), Dst: GatewayV6, Proto: 58, ICMPType: 135},
		{Src: l.Addr("a1", 6), Dst: HostV6, Proto: 6, SrcPort: 40000, DstPort: 22},
		{Src: l.Addr("a1", 6), Dst: HostV6, Proto: 132, SrcPort: 40000, DstPort: 22},
	} {
		p.From, p.ToHost = host.From, host.ToHost
		add(fmt.Sprintf("host %s proto %d -> %s", p.Src, p.Proto, p.Dst), p)
	}
	return names, pkts
}

// SendBatch's receivers see what is delivered after netfilter, not what is on the wire: with
// no firewall every kind of packet (any protocol, ICMP type, forged source or MAC, to a
// workload on the same or the other host or to the host) is delivered; then a table in each
// host drops some of them at the forward hook and others at the input hook, and exactly those
// are no longer reported. A packet sent twice (the same flow) is delivered twice, in two
// rounds with conntrack flushed between them.
func TestSendBatchSeesOnlyWhatNetfilterDelivers(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	l, err := Build(ctx, twoHosts(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	names, pkts := batchKinds(l)
	pkts = append(pkts, pkts[0]) // the same tcp flow again
	names = append(names, names[0]+" again")
	start := time.Now()
	got, err := l.SendBatch(ctx, pkts, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d packets in %v", len(pkts), time.Since(start))
	for i, ok := range got {
		if !ok {
			t.Errorf("%s: not delivered without a firewall", names[i])
		}
	}
	// Drop at node-2's forward hook everything udp and proto 253, at node-1's forward hook
	// sctp, at node-1's input hook tcp and ICMPv6 neighbour solicitation.
	for host, rules := range map[string]string{
		"node-1": `table inet t { chain f { type filter hook forward priority 0; meta l4proto sctp drop; }
			chain i { type filter hook input priority 0; meta l4proto tcp drop; icmpv6 type nd-neighbor-solicit drop; }
		}`,
		"node-2": `table inet t { chain f { type filter hook forward priority 0; meta l4proto { udp, 253 } drop; }
		}`,
	} {
		if _, err := l.NFT(ctx, host, rules, "-f", "-"); err != nil {
			t.Fatal(err)
		}
	}
	got, err = l.SendBatch(ctx, pkts, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pkts {
		want := true
		switch {
		case p.To == "b1" && (p.Proto == 17 || p.Proto == 253):
			want = false
		case p.To != "" && p.Proto == 132:
			want = false
		case p.ToHost != "" && (p.Proto == 6 || p.Proto == 58 && p.ICMPType == 135):
			want = false
		}
		if got[i] != want {
			t.Errorf("%s: delivered %v, want %v", names[i], got[i], want)
		}
	}
}

// The frames SendBatch builds verify the way a receiver checks them: IPv4 header checksum,
// the transport checksum over its pseudo-header (tcp, udp, udplite, icmpv6), the SCTP CRC32c,
// the token where the receiver looks for it, and the conntrack identity that makes a repeated
// flow wait for a later round.
func TestBatchFrames(t *testing.T) {
	w := &Workload{Endpoint: nil, MAC: "02:00:00:00:00:01", HostMAC: "02:00:00:00:00:02"}
	l := &Lab{workloads: map[string]*Workload{"a": w, "b": {Netns: "nsb"}}}
	a := netip.MustParseAddr
	tok := []byte("RLPK0102030400000007")
	for _, p := range []Packet{
		{Src: a("198.18.1.2"), Dst: a("198.18.2.2"), Proto: 6, SrcPort: 1, DstPort: 2},
		{Src: a("fd00:1::2"), Dst: a("fd00:2::2"), Proto: 17, SrcPort: 1, DstPort: 2},
		{Src: a("198.18.1.2"), Dst: a("198.18.2.2"), Proto: 136, SrcPort: 1, DstPort: 2},
		{Src: a("fd00:1::2"), Dst: a("fd00:2::2"), Proto: 132, SrcPort: 1, DstPort: 2},
		{Src: a("198.18.1.2"), Dst: a("198.18.2.2"), Proto: 1, ICMPType: 8},
		{Src: a("fd00:1::2"), Dst: a("fd00:2::2"), Proto: 58, ICMPType: 135},
		{Src: a("fd00:1::2"), Dst: a("fd00:2::2"), Proto: 58, ICMPType: 128},
		{Src: a("198.18.1.2"), Dst: a("198.18.2.2"), Proto: 47},
	} {
		p.From, p.To = "a", "b"
		wr, err := l.buildWire(p, tok, 0x01020304)
		if err != nil {
			t.Fatal(err)
		}
		ip := wr.frame[14:]
		var l4, pseudo []byte
		ph := p.Proto
		if ph == 136 {
			ph = 17 // udplite as Linux conntrack checks it (csProto)
		}
		if p.Dst.Is4() {
			if checksum(ip[:20]) != 0 || ip[9] != p.Proto {
				t.Fatalf("proto %d: bad IPv4 header % x", p.Proto, ip[:20])
			}
			l4 = ip[20:]
			pseudo = append(append([]byte{}, ip[12:20]...), 0, ph, byte(len(l4)>>8), byte(len(l4)))
		} else {
			l4 = ip[40:]
			pseudo = append(append([]byte{}, ip[8:40]...), 0, 0, byte(len(l4)>>8), byte(len(l4)), 0, 0, 0, ph)
		}
		switch p.Proto {
		case 6, 17, 136, 58:
			if checksum(append(pseudo, l4...)) != 0 {
				t.Errorf("proto %d: checksum does not verify: % x", p.Proto, l4)
			}
		case 1:
			if checksum(l4) != 0 {
				t.Errorf("icmp: checksum does not verify")
			}
		case 132:
			c := append([]byte{}, l4...)
			sum := binary.LittleEndian.Uint32(c[8:])
			binary.LittleEndian.PutUint32(c[8:], 0)
			if sum != crc32.Checksum(c, crc32.MakeTable(crc32.Castagnoli)) || c[12] != 1 {
				t.Errorf("sctp: crc32c or chunk wrong: % x", l4)
			}
		}
		if string(l4[wr.tokOff:wr.tokOff+tokenLen]) != string(tok) {
			t.Errorf("proto %d: token not at offset %d: % x", p.Proto, wr.tokOff, l4)
		}
		rev := p
		rev.Src, rev.Dst, rev.SrcPort, rev.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
		if k := flowKey(rev, p.Dst.Is6()); k != wr.flow {
			t.Errorf("proto %d: the reverse flow has key %q, not %q", p.Proto, k, wr.flow)
		}
	}
	if _, err := l.buildWire(Packet{From: "a", To: "b", Src: a("fd00:1::2"), Dst: a("fd00:2::2"), Proto: 44}, tok, 1); err == nil {
		t.Error("an IPv6 fragment header as protocol was accepted")
	}
	if _, err := l.buildWire(Packet{From: "a", Src: a("fd00:1::2"), Dst: a("fd00:2::2"), Proto: 6}, tok, 1); err == nil {
		t.Error("a packet without a receiver was accepted")
	}
}
