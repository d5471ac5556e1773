package lab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// RawPacket is one packet a workload sends as a hand-built Ethernet frame, so that any field
// can be forged: the source MAC, the source address (also the unspecified or a link-local one,
// which no socket of the workload could bind) and the source port.
type RawPacket struct {
	// SrcMAC is the link-layer source; "" is the workload's eth0 MAC.
	SrcMAC string
	// Src and Dst are the addresses, of one family. An invalid Src is the workload's own
	// first address of Dst's family.
	Src, Dst netip.Addr
	// Proto is "udp" or "icmp" (ICMPv6 when Dst is IPv6).
	Proto string
	// SPort and DPort are the udp ports.
	SPort, DPort int
	// ICMPType and ICMPCode are the message's type and code. The body is an echo-shaped
	// identifier and sequence number for ICMPv4; for ICMPv6 four zero bytes and a target
	// address (GatewayV6), the shape of neighbour solicitation and advertisement, followed
	// by the token as an option of type 253 (RFC 4727's experimental type, ignored).
	ICMPType, ICMPCode int
}

// RawSend sends pk from workload `from` through an AF_PACKET socket on its eth0 (nothing of
// the workload's configuration changes) and reports whether a receiver of the lab saw it
// within timeout: the udp server of the receiving workload or host (Options.UDPPorts,
// HostUDPPorts) or the ICMP sniffer of the namespace the packet is delivered to. The frame
// goes to the host side of the veth (its MAC), or to the broadcast or multicast MAC when Dst
// is the limited broadcast or a multicast address.
func (l *Lab) RawSend(ctx context.Context, from string, pk RawPacket, timeout time.Duration) (bool, error) {
	w, err := l.workload(from)
	if err != nil {
		return false, err
	}
	if !pk.Src.IsValid() {
		pk.Src = w.own(pk.Dst)
	}
	srcMAC := w.MAC
	if pk.SrcMAC != "" {
		srcMAC = pk.SrcMAC
	}
	src, err := net.ParseMAC(srcMAC)
	if err != nil || len(src) != 6 {
		return false, fmt.Errorf("source mac %q is not a MAC address", srcMAC)
	}
	dst, err := dstMAC(pk.Dst, w.HostMAC)
	if err != nil {
		return false, err
	}
	tok, seen := l.token()
	defer l.forget(tok)
	ip, err := rawIP(pk, tok)
	if err != nil {
		return false, err
	}
	etype := uint16(syscall.ETH_P_IP)
	if pk.Dst.Is6() {
		etype = syscall.ETH_P_IPV6
	}
	frame := make([]byte, 0, 14+len(ip))
	frame = append(frame, dst...)
	frame = append(frame, src...)
	frame = binary.BigEndian.AppendUint16(frame, etype)
	frame = append(frame, ip...)
	err = InNetns(w.ns, func() error {
		// Protocol 0: the socket sends only, it receives nothing.
		fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		sa := &syscall.SockaddrLinklayer{Protocol: htons(etype), Ifindex: w.ifindex, Halen: 6}
		copy(sa.Addr[:], dst)
		return syscall.Sendto(fd, frame, 0, sa)
	})
	if err != nil {
		return false, fmt.Errorf("raw %s %s -> %s from %q: %w", pk.Proto, pk.Src, pk.Dst, from, err)
	}
	return awaitSeen(ctx, seen, time.Until(deadline(ctx, timeout)))
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// dstMAC is the link-layer destination of a frame to dst: broadcast, the multicast MAC of a
// multicast group (RFC 1112, RFC 2464), or the host side of the veth.
func dstMAC(dst netip.Addr, host string) (net.HardwareAddr, error) {
	switch {
	case dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil
	case dst.Is4() && dst.IsMulticast():
		b := dst.As4()
		return net.HardwareAddr{0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]}, nil
	case dst.Is6() && dst.IsMulticast():
		b := dst.As16()
		return net.HardwareAddr{0x33, 0x33, b[12], b[13], b[14], b[15]}, nil
	}
	hw, err := net.ParseMAC(host)
	if err != nil {
		return nil, fmt.Errorf("host side mac %q: %w", host, err)
	}
	return hw, nil
}

// rawIP builds the IP packet (header and transport) of pk carrying token tok.
func rawIP(pk RawPacket, tok string) ([]byte, error) {
	if !pk.Src.IsValid() || !pk.Dst.IsValid() || pk.Src.Is4() != pk.Dst.Is4() {
		return nil, fmt.Errorf("raw packet %s -> %s: the addresses must be of one family", pk.Src, pk.Dst)
	}
	v6 := pk.Dst.Is6()
	proto, l4, err := rawTransport(pk, tok, v6)
	if err != nil {
		return nil, err
	}
	if len(l4) > 1400 {
		return nil, errors.New("raw packet: too long")
	}
	src, dst := pk.Src.AsSlice(), pk.Dst.AsSlice()
	putTransportChecksum(l4, proto, src, dst, v6)
	if v6 {
		hop := byte(64)
		switch {
		case proto == syscall.IPPROTO_ICMPV6 && pk.ICMPType >= 130 && pk.ICMPType <= 132:
			hop = 1 // MLD
		case proto == syscall.IPPROTO_ICMPV6:
			hop = 255 // neighbour discovery must come with 255 (RFC 4861)
		}
		h := []byte{0x60, 0, 0, 0}
		h = binary.BigEndian.AppendUint16(h, uint16(len(l4)))
		h = append(h, proto, hop)
		h = append(h, src...)
		h = append(h, dst...)
		return append(h, l4...), nil
	}
	h := []byte{0x45, 0}
	h = binary.BigEndian.AppendUint16(h, uint16(20+len(l4)))
	h = append(h, 0x72, 0x6c, 0, 0, 64, proto, 0, 0)
	h = append(h, src...)
	h = append(h, dst...)
	binary.BigEndian.PutUint16(h[10:], checksum(h))
	return append(h, l4...), nil
}

// rawTransport builds the transport message of pk carrying token tok, its checksum left 0,
// and returns its IP protocol number: a udp datagram (the token as payload), an ICMPv4 message
// (identifier "rl", sequence 1, the token as payload) or an ICMPv6 message (a target address,
// GatewayV6, and the token in an option of type 253, padded to 8 bytes).
func rawTransport(pk RawPacket, tok string, v6 bool) (uint8, []byte, error) {
	switch pk.Proto {
	case "udp":
		if pk.SPort < 1 || pk.SPort > 65535 || pk.DPort < 1 || pk.DPort > 65535 {
			return 0, nil, fmt.Errorf("raw udp: ports %d -> %d are not 1-65535", pk.SPort, pk.DPort)
		}
		l4 := binary.BigEndian.AppendUint16(nil, uint16(pk.SPort))
		l4 = binary.BigEndian.AppendUint16(l4, uint16(pk.DPort))
		l4 = binary.BigEndian.AppendUint16(l4, uint16(8+len(tok)))
		l4 = append(l4, 0, 0)
		return syscall.IPPROTO_UDP, append(l4, tok...), nil
	case "icmp":
		if pk.ICMPType < 0 || pk.ICMPType > 255 || pk.ICMPCode < 0 || pk.ICMPCode > 255 {
			return 0, nil, fmt.Errorf("raw icmp: type %d code %d are not 0-255", pk.ICMPType, pk.ICMPCode)
		}
		l4 := []byte{byte(pk.ICMPType), byte(pk.ICMPCode), 0, 0}
		if !v6 {
			l4 = append(l4, 0x72, 0x6c, 0, 1) // identifier "rl", sequence 1
			return syscall.IPPROTO_ICMP, append(l4, tok...), nil
		}
		l4 = append(l4, 0, 0, 0, 0)
		l4 = append(l4, GatewayV6.AsSlice()...)
		opt := append([]byte{253, 0}, tok...)
		for len(opt)%8 != 0 {
			opt = append(opt, 0)
		}
		opt[1] = byte(len(opt) / 8)
		return syscall.IPPROTO_ICMPV6, append(l4, opt...), nil
	}
	return 0, nil, fmt.Errorf("raw packet: protocol %q is not udp or icmp", pk.Proto)
}

// putTransportChecksum writes the checksum of the transport message l4 (of IP protocol proto
// from src to dst) into it: over the pseudo-header for udp and ICMPv6, the message alone for
// ICMPv4; a udp checksum of 0 is sent as 0xffff (RFC 768).
func putTransportChecksum(l4 []byte, proto uint8, src, dst []byte, v6 bool) {
	var pseudo []byte
	if v6 {
		pseudo = append(append(append([]byte{}, src...), dst...), 0, 0)
		pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(l4)))
		pseudo = append(pseudo, 0, 0, 0, proto)
	} else if proto == syscall.IPPROTO_UDP {
		pseudo = append(append(append([]byte{}, src...), dst...), 0, proto)
		pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(l4)))
	}
	sum := checksum(append(pseudo, l4...))
	off := 2
	if proto == syscall.IPPROTO_UDP {
		off = 6
		if sum == 0 {
			sum = 0xffff
		}
	}
	binary.BigEndian.PutUint16(l4[off:], sum)
}

// checksum is the Internet checksum (RFC 1071) of b.
func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
