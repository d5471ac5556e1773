package lab

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
)

// TestRawIPChecksums builds the frames RawSend sends and checks them the way a receiver does:
// the IPv4 header and every transport checksum (with its pseudo-header) sum to zero, lengths
// and hop limits are right, and the token is where the lab's receivers look for it.
func TestRawIPChecksums(t *testing.T) {
	a := netip.MustParseAddr
	const tok = "rlprobe-1-23"
	tests := []struct {
		name  string
		pk    RawPacket
		proto uint8
		hop   byte // IPv6 hop limit; 0 for IPv4
	}{
		{"dhcp from 0.0.0.0", RawPacket{Src: a("0.0.0.0"), Dst: a("255.255.255.255"), Proto: "udp", SPort: 68, DPort: 67}, 17, 0},
		{"dhcpv6 from link-local", RawPacket{Src: a("fe80::41"), Dst: a("fe80::1"), Proto: "udp", SPort: 546, DPort: 547}, 17, 64},
		{"ns from ::", RawPacket{Src: a("::"), Dst: a("fe80::1"), Proto: "icmp", ICMPType: 135}, 58, 255},
		{"mld report", RawPacket{Src: a("fe80::41"), Dst: a("fe80::1"), Proto: "icmp", ICMPType: 131}, 58, 1},
		{"icmp echo", RawPacket{Src: a("198.18.1.41"), Dst: a("198.18.1.42"), Proto: "icmp", ICMPType: 8}, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := rawIP(tc.pk, tok)
			if err != nil {
				t.Fatal(err)
			}
			var l4, pseudo []byte
			src, dst := tc.pk.Src.AsSlice(), tc.pk.Dst.AsSlice()
			if tc.pk.Dst.Is4() {
				if checksum(b[:20]) != 0 || b[9] != tc.proto || int(binary.BigEndian.Uint16(b[2:])) != len(b) {
					t.Fatalf("bad IPv4 header % x", b[:20])
				}
				l4 = b[20:]
				if tc.proto == 17 {
					pseudo = append(append(append([]byte{}, src...), dst...), 0, 17, byte(len(l4)>>8), byte(len(l4)))
				}
			} else {
				if b[6] != tc.proto || b[7] != tc.hop || int(binary.BigEndian.Uint16(b[4:])) != len(b)-40 {
					t.Fatalf("bad IPv6 header % x", b[:40])
				}
				l4 = b[40:]
				pseudo = append(append(append([]byte{}, src...), dst...), 0, 0, byte(len(l4)>>8), byte(len(l4)), 0, 0, 0, tc.proto)
			}
			if checksum(append(pseudo, l4...)) != 0 {
				t.Errorf("transport checksum does not verify: % x", l4)
			}
			if !strings.Contains(string(l4), tok) {
				t.Errorf("token missing from % x", l4)
			}
			if tc.proto == 58 && (l4[0] != byte(tc.pk.ICMPType) || (len(l4)-8)%8 != 0) {
				t.Errorf("icmpv6 type %d, body of %d bytes (options must fill 8-byte units)", l4[0], len(l4)-8)
			}
		})
	}
	if _, err := rawIP(RawPacket{Src: a("198.18.1.1"), Dst: a("fd00::1"), Proto: "udp", SPort: 1, DPort: 2}, tok); err == nil {
		t.Error("mixed families accepted")
	}
	if _, err := rawIP(RawPacket{Src: a("198.18.1.1"), Dst: a("198.18.1.2"), Proto: "tcp"}, tok); err == nil {
		t.Error("tcp accepted")
	}
}

// TestRawProbeDestinations: which probes are raw, and where a raw probe to the host goes.
func TestRawProbeDestinations(t *testing.T) {
	a := netip.MustParseAddr
	l := &Lab{workloads: map[string]*Workload{"w": {Host: &Host{Name: "node-1"}}}}
	tests := []struct {
		p   Probe
		raw bool
		dst netip.Addr
	}{
		{Probe{From: "w", To: "host:node-1", Proto: "udp", Port: 67, SrcPort: 68, Src: a("0.0.0.0")}, true, a("255.255.255.255")},
		{Probe{From: "w", To: "host:node-1", Proto: "udp", Port: 67, SrcPort: 68}, true, GatewayV4},
		{Probe{From: "w", To: "host:node-1", Proto: "udp", Port: 547, Src: a("fe80::2")}, true, GatewayV6},
		{Probe{From: "w", To: "host:node-1", Proto: "icmp", Src: a("::")}, true, GatewayV6},
		{Probe{From: "w", To: "host:node-1", Proto: "icmp", Src: a("fd00:77::77")}, true, HostV6},
		{Probe{From: "w", To: "host:node-1", Proto: "udp", Port: 53, Src: a("198.18.77.77")}, false, GatewayV4},
		{Probe{From: "w", To: "host:node-1", Proto: "udp", Port: 53, Family: 6, SrcMAC: "ee:ee:ee:00:00:99"}, true, HostV6},
	}
	for _, tc := range tests {
		if got := tc.p.Raw(); got != tc.raw {
			t.Errorf("%s: Raw() = %v, want %v", tc.p, got, tc.raw)
		}
		if got, err := l.dst(tc.p); err != nil || got != tc.dst {
			t.Errorf("%s: dst = %v, %v; want %v", tc.p, got, err, tc.dst)
		}
	}
	if mac, _ := dstMAC(a("ff02::1:2"), ""); mac.String() != "33:33:00:01:00:02" {
		t.Errorf("multicast mac %s", mac)
	}
}
