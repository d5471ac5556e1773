package lab

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"net/netip"
	"syscall"
)

// Packet is the first packet of a new flow, sent by SendBatch as a hand-built Ethernet frame
// from workload From's eth0, with any IP protocol and any forged field.
type Packet struct {
	// From is the sending workload (an endpoint id of the lab); required.
	From string
	// To is the receiving workload, or "" when the packet is for host ToHost (its input hook).
	// Exactly one of To and ToHost is set: the lab has no receiver for any other address.
	To, ToHost string
	// SrcMAC is the link-layer source; "" is the workload's eth0 MAC.
	SrcMAC string
	// Src and Dst are the addresses, of one family; any source (forged, unspecified,
	// link-local) is sent as it is.
	Src, Dst netip.Addr
	// Proto is the IP protocol number, 1-254 (255 is IPPROTO_RAW, which no raw socket can
	// receive; with IPv6 not 0, 43, 44, 59, 60 or 135, which the kernel parses as extension
	// headers).
	Proto uint8
	// SrcPort and DstPort are the ports of tcp (6), udp (17), sctp (132) and udplite (136).
	SrcPort, DstPort uint16
	// ICMPType and ICMPCode are the message's for ICMP (1 with IPv4) and ICMPv6 (58 with IPv6).
	ICMPType, ICMPCode uint8
}

// Transport protocols SendBatch builds a real first packet for (anything else carries the
// token alone after the IP header).
const (
	protoICMP    = 1
	protoTCP     = 6
	protoUDP     = 17
	protoICMPv6  = 58
	protoSCTP    = 132
	protoUDPLite = 136
)

// tokenLen is the length of a packet's token: "RLPK", 8 hex digits of the batch, 8 of the
// packet's index (a multiple of 4, so that it is a whole SCTP parameter).
const tokenLen = 20

// wire is one packet of a batch as built: the frame, where its receiver finds the token, and
// which receiver that is.
type wire struct {
	from   *Workload
	frame  []byte
	tok    []byte
	tokOff int // offset of the token in the transport message (after the IP header)
	recv   recvKey
	flow   string // conntrack identity ("" when the packet cannot collide with another)
}

// recvKey names one raw-socket receiver: a namespace, a family, a protocol.
type recvKey struct {
	ns    string // namespace name (in /run/netns)
	v6    bool
	proto uint8
}

// buildWire checks p and builds its frame carrying token tok; id is a per-batch unique number
// used where a protocol has an identifier (ICMP id, TCP sequence, SCTP tag).
func (l *Lab) buildWire(p Packet, tok []byte, id uint32) (wire, error) {
	w, err := l.workload(p.From)
	if err != nil {
		return wire{}, err
	}
	wr := wire{from: w, tok: tok}
	switch {
	case p.To != "" && p.ToHost != "":
		return wire{}, fmt.Errorf("to %q and to_host %q are both set", p.To, p.ToHost)
	case p.To != "":
		r, err := l.workload(p.To)
		if err != nil {
			return wire{}, err
		}
		wr.recv.ns = r.Netns
	case p.ToHost != "":
		h := l.hosts[p.ToHost]
		if h == nil {
			return wire{}, fmt.Errorf("no host %q in the lab", p.ToHost)
		}
		wr.recv.ns = h.Netns
	default:
		return wire{}, fmt.Errorf("%s -> %s: neither to nor to_host: the lab has no receiver for it", p.Src, p.Dst)
	}
	if !p.Src.IsValid() || !p.Dst.IsValid() || p.Src.Is4() != p.Dst.Is4() {
		return wire{}, fmt.Errorf("%s -> %s: the addresses must be of one family", p.Src, p.Dst)
	}
	v6 := p.Dst.Is6()
	if err := checkProto(p.Proto, v6); err != nil {
		return wire{}, err
	}
	wr.recv.v6, wr.recv.proto = v6, p.Proto
	l4, off := transport(p, tok, id, v6)
	wr.tokOff = off
	putChecksum(l4, p, v6)
	wr.flow = flowKey(p, v6)
	wr.frame, err = frame(w, p, l4, id)
	return wr, err
}

// checkProto refuses the protocol numbers a raw socket cannot receive (255, IPPROTO_RAW) or
// that IPv6 parses as extension headers rather than a transport (RFC 8200 §4).
func checkProto(proto uint8, v6 bool) error {
	if proto == 0 || proto == 255 {
		return fmt.Errorf("protocol %d: a raw socket cannot receive it; use 1-254", proto)
	}
	if v6 && (proto == 43 || proto == 44 || proto == 59 || proto == 60 || proto == 135) {
		return fmt.Errorf("protocol %d: IPv6 parses it as an extension header, not a transport", proto)
	}
	return nil
}

// echoLike tells whether an ICMP message of this type has an identifier that conntrack keys
// the flow by (echo, timestamp, information, address mask; ICMPv6 echo and node information).
func echoLike(typ uint8, v6 bool) bool {
	if v6 {
		return typ == 128 || typ == 129 || typ == 139 || typ == 140
	}
	switch typ {
	case 0, 8, 13, 14, 15, 16, 17, 18:
		return true
	}
	return false
}

// transport builds the transport message of p (checksum 0) with tok after its header, and
// returns it with the token's offset in it:
//   - tcp: a SYN (sequence id) with the token as data;
//   - udp and udplite: the header (udplite: checksum coverage 0, the whole datagram);
//   - sctp: a lone INIT chunk (verification tag 0, initiate tag id) whose one parameter (type
//     0xc0de: skip and report, RFC 9260 §3.2.1) is the token;
//   - ICMP (1) and ICMPv6 (58), whatever the family (conntrack reads them by protocol number
//     alone): type, code and for echo-like types identifier id (low 16 bits) and sequence 1;
//     ICMPv6 of any other type the shape of neighbour solicitation (reserved, target
//     GatewayV6) with the token as an option of type 253 (RFC 4727, experimental);
//   - any other protocol: the token alone.
func transport(p Packet, tok []byte, id uint32, v6 bool) ([]byte, int) {
	var h []byte
	switch {
	case p.Proto == protoTCP:
		h = binary.BigEndian.AppendUint16(nil, p.SrcPort)
		h = binary.BigEndian.AppendUint16(h, p.DstPort)
		h = binary.BigEndian.AppendUint32(h, id)
		h = append(h, 0, 0, 0, 0, 5<<4, 0x02, 0xfa, 0xf0, 0, 0, 0, 0) // ack 0, SYN, window 64240
	case p.Proto == protoUDP || p.Proto == protoUDPLite:
		h = binary.BigEndian.AppendUint16(nil, p.SrcPort)
		h = binary.BigEndian.AppendUint16(h, p.DstPort)
		n := uint16(8 + len(tok))
		if p.Proto == protoUDPLite {
			n = 0 // coverage: all
		}
		h = binary.BigEndian.AppendUint16(h, n)
		h = append(h, 0, 0)
	case p.Proto == protoSCTP:
		h = binary.BigEndian.AppendUint16(nil, p.SrcPort)
		h = binary.BigEndian.AppendUint16(h, p.DstPort)
		h = append(h, 0, 0, 0, 0, 0, 0, 0, 0) // verification tag 0 (INIT), checksum
		h = append(h, 1, 0)                   // INIT, no flags
		h = binary.BigEndian.AppendUint16(h, uint16(20+4+len(tok)))
		h = binary.BigEndian.AppendUint32(h, id|1)               // initiate tag, never 0
		h = append(h, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1)        // a_rwnd 65536, 1 stream each way, TSN 1
		h = append(h, 0xc0, 0xde)                                // parameter type
		h = binary.BigEndian.AppendUint16(h, uint16(4+len(tok))) // parameter length
	case p.Proto == protoICMP || (p.Proto == protoICMPv6 && echoLike(p.ICMPType, true)):
		h = []byte{p.ICMPType, p.ICMPCode, 0, 0}
		if echoLike(p.ICMPType, p.Proto == protoICMPv6) {
			h = binary.BigEndian.AppendUint16(h, uint16(id))
			h = append(h, 0, 1)
		} else {
			h = append(h, 0, 0, 0, 0)
		}
	case p.Proto == protoICMPv6:
		h = []byte{p.ICMPType, p.ICMPCode, 0, 0, 0, 0, 0, 0}
		h = append(h, GatewayV6.AsSlice()...)
		off := len(h) + 2
		opt := append([]byte{253, 0}, tok...)
		for len(opt)%8 != 0 {
			opt = append(opt, 0)
		}
		opt[1] = byte(len(opt) / 8)
		return append(h, opt...), off
	}
	return append(h, tok...), len(h)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// putChecksum writes the transport checksum of l4: tcp, udp, udplite and ICMPv6 over the
// pseudo-header (RFC 793, 768, 3828, 4443; udplite's as conntrack checks it, see csProto), ICMPv4 over the message alone, sctp the CRC32c
// (RFC 9260 appendix A, stored little-endian as Linux does). Other protocols have none.
func putChecksum(l4 []byte, p Packet, v6 bool) {
	off := -1
	pseudo := true
	switch {
	case p.Proto == protoTCP:
		off = 16
	case p.Proto == protoUDP || p.Proto == protoUDPLite:
		off = 6
	case p.Proto == protoICMP:
		off, pseudo = 2, false
	case p.Proto == protoICMPv6:
		off = 2
	case p.Proto == protoSCTP:
		binary.LittleEndian.PutUint32(l4[8:], crc32.Checksum(l4, castagnoli))
		return
	}
	if off < 0 {
		return
	}
	var ph []byte
	if pseudo {
		src, dst := p.Src.AsSlice(), p.Dst.AsSlice()
		ph = append(append([]byte{}, src...), dst...)
		if v6 {
			ph = binary.BigEndian.AppendUint32(ph, uint32(len(l4)))
			ph = append(ph, 0, 0, 0, csProto(p.Proto))
		} else {
			ph = append(ph, 0, csProto(p.Proto))
			ph = binary.BigEndian.AppendUint16(ph, uint16(len(l4)))
		}
	}
	sum := checksum(append(ph, l4...))
	if sum == 0 && off == 6 {
		sum = 0xffff // RFC 768: a computed 0 is sent as all ones
	}
	binary.BigEndian.PutUint16(l4[off:], sum)
}

// flowKey is the conntrack identity of p's flow, the same for both directions; "" when p
// cannot be mistaken for another packet of the batch (ICMP: echo-like types carry a unique
// identifier, the others never start a flow).
func flowKey(p Packet, v6 bool) string {
	a, b := p.Src.String(), p.Dst.String()
	switch {
	case p.Proto == protoTCP || p.Proto == protoUDP || p.Proto == protoUDPLite || p.Proto == protoSCTP:
		a = fmt.Sprintf("%s/%d", a, p.SrcPort)
		b = fmt.Sprintf("%s/%d", b, p.DstPort)
	case p.Proto == protoICMP || p.Proto == protoICMPv6:
		return ""
	}
	if b < a {
		a, b = b, a
	}
	return fmt.Sprintf("%d %s %s", p.Proto, a, b)
}

// frame wraps the transport message l4 of p in its IP header (IPv4 identification id, TTL or
// hop limit 64; ICMPv6 hop limit 255, MLD to the host 1, as neighbour discovery and MLD
// require: an MLD message to a workload gets 255 too, or the host could not forward it) and
// Ethernet header (p's source MAC or the workload's; destination as dstMAC says).
func frame(w *Workload, p Packet, l4 []byte, id uint32) ([]byte, error) {
	srcMAC := w.MAC
	if p.SrcMAC != "" {
		srcMAC = p.SrcMAC
	}
	src, err := net.ParseMAC(srcMAC)
	if err != nil || len(src) != 6 {
		return nil, fmt.Errorf("source mac %q is not a MAC address", srcMAC)
	}
	dst, err := dstMAC(p.Dst, w.HostMAC)
	if err != nil {
		return nil, err
	}
	b := append(append(append([]byte{}, dst...), src...), 0, 0)
	if p.Dst.Is6() {
		binary.BigEndian.PutUint16(b[12:], syscall.ETH_P_IPV6)
		hop := byte(64)
		if p.Proto == protoICMPv6 {
			hop = 255
			if p.ToHost != "" && (p.ICMPType >= 130 && p.ICMPType <= 132 || p.ICMPType == 143) {
				hop = 1
			}
		}
		b = append(b, 0x60, 0, 0, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(len(l4)))
		b = append(b, p.Proto, hop)
		b = append(append(b, p.Src.AsSlice()...), p.Dst.AsSlice()...)
		return append(b, l4...), nil
	}
	binary.BigEndian.PutUint16(b[12:], syscall.ETH_P_IP)
	h := []byte{0x45, 0}
	h = binary.BigEndian.AppendUint16(h, uint16(20+len(l4)))
	h = binary.BigEndian.AppendUint16(h, uint16(id))
	h = append(h, 0, 0, 64, p.Proto, 0, 0)
	h = append(append(h, p.Src.AsSlice()...), p.Dst.AsSlice()...)
	binary.BigEndian.PutUint16(h[10:], checksum(h))
	return append(append(b, h...), l4...), nil
}

// csProto is the protocol number in the pseudo-header of p's checksum: p's own, except for
// udplite, whose checksum Linux conntrack verifies (at prerouting, with
// net.netfilter.nf_conntrack_checksum=1, the default) with IPPROTO_UDP in the pseudo-header
// (nf_conntrack_proto_udp.c, udplite_error): a checksum by RFC 3828 (136) makes the packet
// invalid, and dropped before any policy. The lab sends what conntrack accepts, so that udplite
// reaches the policy; the raw receivers do not check transport checksums.
func csProto(p uint8) uint8 {
	if p == protoUDPLite {
		return protoUDP
	}
	return p
}
