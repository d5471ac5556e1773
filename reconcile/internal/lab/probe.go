package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// DefaultTimeout is how long a probe waits before calling a flow blocked.
const DefaultTimeout = 400 * time.Millisecond

// token returns a fresh token and a channel closed when a workload's server or sniffer sees it.
func (l *Lab) token() (string, chan struct{}) {
	t := fmt.Sprintf("rlprobe-%d-%d", os.Getpid(), l.tokenSeq.Add(1))
	ch := make(chan struct{})
	l.tokens.Store(t, ch)
	return t, ch
}

// saw records that a workload received data carrying a token.
func (l *Lab) saw(data []byte) {
	s := string(data)
	i := strings.Index(s, "rlprobe-")
	if i < 0 {
		return
	}
	s = s[i:]
	if j := strings.IndexAny(s, "\n\x00 "); j >= 0 {
		s = s[:j]
	}
	if v, ok := l.tokens.LoadAndDelete(s); ok {
		close(v.(chan struct{}))
	}
}

func (l *Lab) forget(t string) { l.tokens.Delete(t) }

func (l *Lab) workload(id string) (*Workload, error) {
	w := l.workloads[id]
	if w == nil {
		return nil, fmt.Errorf("no workload %q in the lab", id)
	}
	return w, nil
}

// serveTCP runs, in namespace ns (of workload or host `name`), a dual-stack TCP server on port
// that reads one line and echoes it.
func (l *Lab) serveTCP(ns netns.NsHandle, name string, port int) error {
	var ln net.Listener
	err := InNetns(ns, func() (err error) {
		ln, err = net.Listen("tcp", ":"+strconv.Itoa(port))
		return err
	})
	if err != nil {
		return fmt.Errorf("tcp server on %q port %d: %w", name, port, err)
	}
	l.addCloser(ln.Close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				l.saw([]byte(line))
				_, _ = c.Write([]byte(line))
			}()
		}
	}()
	return nil
}

// serveUDP runs, in namespace ns (of workload or host `name`), a dual-stack UDP server on port
// that echoes every datagram.
func (l *Lab) serveUDP(ns netns.NsHandle, name string, port int) error {
	var pc net.PacketConn
	err := InNetns(ns, func() (err error) {
		pc, err = net.ListenPacket("udp", ":"+strconv.Itoa(port))
		return err
	})
	if err != nil {
		return fmt.Errorf("udp server on %q port %d: %w", name, port, err)
	}
	l.addCloser(pc.Close)
	go l.receive(pc, true)
	return nil
}

// receive records the tokens of every datagram pc receives (and echoes it back when echo is
// set) until pc is closed.
func (l *Lab) receive(pc net.PacketConn, echo bool) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.saw(buf[:n])
		if echo {
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}
}

// sniffICMP records the tokens of every ICMP and ICMPv6 message delivered to namespace ns (of
// workload or host `name`): raw sockets get a copy of each, neighbour discovery and MLD
// included, after the input hook and before the kernel's own processing.
func (l *Lab) sniffICMP(ns netns.NsHandle, name string) error {
	for _, nw := range []struct{ network, laddr string }{{"ip4:icmp", "0.0.0.0"}, {"ip6:ipv6-icmp", "::"}} {
		var pc *icmp.PacketConn
		err := InNetns(ns, func() (err error) {
			pc, err = icmp.ListenPacket(nw.network, nw.laddr)
			return err
		})
		if err != nil {
			return fmt.Errorf("icmp sniffer on %q: %w", name, err)
		}
		l.addCloser(pc.Close)
		go l.receive(pc, false)
	}
	return nil
}

// blocked tells whether a dial or read error means "the packet did not get through" (timeout,
// unreachable) rather than a fault of the probe.
func blocked(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

func hostPort(a netip.Addr, port int) string {
	return net.JoinHostPort(a.String(), strconv.Itoa(port))
}

// TCPConnect connects from workload `from` to addr:port, sends a line and expects it echoed.
// It returns true when the echo came back, false when the connection was blocked (no answer
// within timeout, or unreachable); an error means the probe itself failed (for example the
// connection was refused: no server listens on that port).
func (l *Lab) TCPConnect(ctx context.Context, from string, to netip.Addr, port int, timeout time.Duration) (bool, error) {
	w, err := l.workload(from)
	if err != nil {
		return false, err
	}
	tok, _ := l.token()
	defer l.forget(tok)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var c net.Conn
	err = InNetns(w.ns, func() (err error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: w.own(to).AsSlice()}}
		c, err = d.DialContext(ctx, "tcp", hostPort(to, port))
		return err
	})
	if err != nil {
		if blocked(err) {
			return false, nil
		}
		return false, fmt.Errorf("tcp %s -> %s: %w", from, hostPort(to, port), err)
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	_ = c.SetDeadline(dl.Add(200 * time.Millisecond))
	if _, err := c.Write([]byte(tok + "\n")); err != nil {
		return false, fmt.Errorf("tcp %s -> %s: write: %w", from, hostPort(to, port), err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		if blocked(err) {
			return false, nil
		}
		return false, fmt.Errorf("tcp %s -> %s: read: %w", from, hostPort(to, port), err)
	}
	if strings.TrimSpace(line) != tok {
		return false, fmt.Errorf("tcp %s -> %s: echoed %q, want %q", from, hostPort(to, port), line, tok)
	}
	return true, nil
}

// UDPEcho sends a datagram from workload `from` to addr:port and expects it echoed back.
func (l *Lab) UDPEcho(ctx context.Context, from string, to netip.Addr, port int, timeout time.Duration) (bool, error) {
	w, err := l.workload(from)
	if err != nil {
		return false, err
	}
	tok, _ := l.token()
	defer l.forget(tok)
	var c net.Conn
	err = InNetns(w.ns, func() (err error) {
		d := net.Dialer{LocalAddr: &net.UDPAddr{IP: w.own(to).AsSlice()}}
		c, err = d.Dial("udp", hostPort(to, port))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("udp %s -> %s: %w", from, hostPort(to, port), err)
	}
	defer c.Close()
	_ = c.SetDeadline(deadline(ctx, timeout))
	if _, err := c.Write([]byte(tok)); err != nil {
		if blocked(err) {
			return false, nil
		}
		return false, fmt.Errorf("udp %s -> %s: %w", from, hostPort(to, port), err)
	}
	buf := make([]byte, 1500)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if blocked(err) {
				return false, nil
			}
			// ECONNREFUSED (an ICMP port unreachable) means the datagram arrived where no
			// server listens: a fault of the probe, like a refused tcp connection.
			return false, fmt.Errorf("udp %s -> %s: %w", from, hostPort(to, port), err)
		}
		if string(buf[:n]) == tok {
			return true, nil
		}
	}
}

// UDPSend sends one datagram from workload `from` to addr:port, from source address src (the
// workload's own address when src is invalid; otherwise src is added to the workload's eth0
// first, which is how a workload forges its source) and reports whether the receiving
// workload's server got it. It is the anti-spoofing probe.
func (l *Lab) UDPSend(ctx context.Context, from string, src, to netip.Addr, port int, timeout time.Duration) (bool, error) {
	w, err := l.workload(from)
	if err != nil {
		return false, err
	}
	if src.IsValid() {
		if err := w.AddAddr(src); err != nil {
			return false, err
		}
	}
	tok, seen := l.token()
	defer l.forget(tok)
	var c net.Conn
	err = InNetns(w.ns, func() (err error) {
		d := net.Dialer{LocalAddr: &net.UDPAddr{IP: w.own(to).AsSlice()}}
		if src.IsValid() {
			d.LocalAddr = &net.UDPAddr{IP: src.AsSlice()}
		}
		c, err = d.Dial("udp", hostPort(to, port))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("udp %s -> %s: %w", from, hostPort(to, port), err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(tok)); err != nil && !blocked(err) {
		return false, fmt.Errorf("udp %s -> %s: %w", from, hostPort(to, port), err)
	}
	return awaitSeen(ctx, seen, timeout)
}

// awaitSeen waits for a receiver to report the probe's token on seen: true when it did
// within timeout, false when the time ran out, and ctx's error when ctx ended first.
func awaitSeen(ctx context.Context, seen <-chan struct{}, timeout time.Duration) (bool, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-seen:
		return true, nil
	case <-t.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// AddAddr adds address a (/32 or /128, no DAD) to the workload's eth0, once.
func (w *Workload) AddAddr(a netip.Addr) error {
	if !Allowed(a) {
		return fmt.Errorf("address %s is outside 198.18.0.0/15 and fd00::/8", a)
	}
	w.addrMu.Lock()
	defer w.addrMu.Unlock()
	if w.extra[a] || containsAddr(w.V4, a) || containsAddr(w.V6, a) {
		return nil
	}
	link, err := w.h.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := w.h.AddrAdd(link, addr(netip.PrefixFrom(a, a.BitLen()))); err != nil {
		return fmt.Errorf("add %s to %q eth0: %w", a, w.Endpoint.ID, err)
	}
	w.extra[a] = true
	return nil
}

// own returns the workload's first address of to's family (the unspecified address when it
// has none): probes bind to it so that a forged address added to eth0 is never picked.
func (w *Workload) own(to netip.Addr) netip.Addr {
	if to.Is6() {
		if len(w.V6) > 0 {
			return w.V6[0]
		}
		return netip.IPv6Unspecified()
	}
	if len(w.V4) > 0 {
		return w.V4[0]
	}
	return netip.IPv4Unspecified()
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

func deadline(ctx context.Context, timeout time.Duration) time.Time {
	dl := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		return d
	}
	return dl
}

// Ping sends an ICMP (v4) or ICMPv6 echo request from workload `from` to addr and reports
// whether the echo reply came back.
func (l *Lab) Ping(ctx context.Context, from string, to netip.Addr, timeout time.Duration) (bool, error) {
	typ := icmp.Type(ipv4.ICMPTypeEcho)
	if to.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
	}
	return l.icmp(ctx, from, to, typ, 0, true, timeout)
}

// ICMPSend sends one ICMP message of the given type and code (an echo-shaped body carrying a
// token) from workload `from` to addr and reports whether the receiving workload got it.
// Use request types (echo 8/128, timestamp 13): conntrack calls unsolicited replies and errors
// invalid.
func (l *Lab) ICMPSend(ctx context.Context, from string, to netip.Addr, typ, code int, timeout time.Duration) (bool, error) {
	var t icmp.Type = ipv4.ICMPType(typ)
	if to.Is6() {
		t = ipv6.ICMPType(typ)
	}
	return l.icmp(ctx, from, to, t, code, false, timeout)
}

func (l *Lab) icmp(ctx context.Context, from string, to netip.Addr, typ icmp.Type, code int, wantReply bool, timeout time.Duration) (bool, error) {
	w, err := l.workload(from)
	if err != nil {
		return false, err
	}
	return l.icmpFrom(ctx, w.ns, from, w.own(to), to, typ, code, wantReply, timeout)
}

// prime warms up every neighbour cache of the lab before any firewall exists (a packet that
// waits for neighbour discovery can miss a probe's short timeout): each workload pings its host
// (whose reply resolves the workload's address on the host), each host its uplink peers.
func (l *Lab) prime(ctx context.Context) error {
	type job struct {
		ns       netns.NsHandle
		name     string
		src, dst netip.Addr
	}
	var jobs []job
	for _, id := range l.wlOrder {
		w := l.workloads[id]
		for _, a := range w.V4 {
			jobs = append(jobs, job{w.ns, id, a, GatewayV4})
		}
		for _, a := range w.V6 {
			jobs = append(jobs, job{w.ns, id, a, HostV6})
		}
	}
	for _, hn := range l.hostOrder {
		h := l.hosts[hn]
		for _, up := range h.uplinks {
			jobs = append(jobs, job{h.ns, hn, netip.Addr{}, up.peerV4}, job{h.ns, hn, netip.Addr{}, up.peerV6})
		}
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			typ := icmp.Type(ipv4.ICMPTypeEcho)
			if j.dst.Is6() {
				typ = ipv6.ICMPTypeEchoRequest
			}
			src := j.src
			if !src.IsValid() {
				src = netip.IPv4Unspecified()
				if j.dst.Is6() {
					src = netip.IPv6Unspecified()
				}
			}
			ok, err := l.icmpFrom(ctx, j.ns, j.name, src, j.dst, typ, 0, true, 3*time.Second)
			if err == nil && !ok {
				err = fmt.Errorf("%s cannot ping %s from %s: the lab's wiring is broken", j.name, j.dst, src)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (l *Lab) icmpFrom(ctx context.Context, ns netns.NsHandle, from string, src, to netip.Addr, typ icmp.Type, code int, wantReply bool, timeout time.Duration) (bool, error) {
	network, proto := "ip4:icmp", 1
	if to.Is6() {
		network, proto = "ip6:ipv6-icmp", 58
	}
	laddr := src.String()
	var pc *icmp.PacketConn
	if err := InNetns(ns, func() (err error) {
		pc, err = icmp.ListenPacket(network, laddr)
		return err
	}); err != nil {
		return false, fmt.Errorf("icmp %s -> %s: %w", from, to, err)
	}
	defer pc.Close()
	tok, seen := l.token()
	defer l.forget(tok)
	seq := int(l.tokenSeq.Load() & 0xffff)
	id := (os.Getpid() + seq) & 0xffff
	msg := icmp.Message{Type: typ, Code: code, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte(tok)}}
	b, err := msg.Marshal(nil) // the kernel computes the ICMPv6 checksum
	if err != nil {
		return false, err
	}
	if _, err := pc.WriteTo(b, &net.IPAddr{IP: to.AsSlice()}); err != nil {
		if blocked(err) {
			return false, nil
		}
		return false, fmt.Errorf("icmp %s -> %s: %w", from, to, err)
	}
	dl := deadline(ctx, timeout)
	if !wantReply {
		t := time.NewTimer(time.Until(dl))
		defer t.Stop()
		select {
		case <-seen:
			return true, nil
		case <-t.C:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	_ = pc.SetReadDeadline(dl)
	buf := make([]byte, 1500)
	for {
		n, peer, err := pc.ReadFrom(buf)
		if err != nil {
			if blocked(err) {
				return false, nil
			}
			return false, fmt.Errorf("icmp %s -> %s: %w", from, to, err)
		}
		rm, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil {
			continue
		}
		if rm.Type != ipv4.ICMPTypeEchoReply && rm.Type != ipv6.ICMPTypeEchoReply {
			continue
		}
		e, ok := rm.Body.(*icmp.Echo)
		if !ok || string(e.Data) != tok {
			continue
		}
		if pa, ok := peer.(*net.IPAddr); ok {
			if a, ok := netip.AddrFromSlice(pa.IP); ok && a.Unmap() != to {
				continue
			}
		}
		return true, nil
	}
}
