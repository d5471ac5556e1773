package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DefaultBatchWait is how long SendBatch waits after the last frame of a round before it reads
// what the receivers got.
const DefaultBatchWait = 400 * time.Millisecond

// recvBuf is each receiver's socket buffer (SO_RCVBUFFORCE): room for some ten thousand
// packets, so that a batch is read once, at its end, without loss.
const recvBuf = 16 << 20

// SendBatch sends every packet of pkts as the first packet of a new flow and reports, per
// packet, whether it was delivered: to the receiving workload's namespace (To), after its
// host forwarded it, or to host ToHost's own stack, after its input hook. Receivers are raw IP
// sockets (socket(AF_INET or AF_INET6, SOCK_RAW, proto)), one per namespace, family and
// protocol of the batch: the kernel gives them a copy of each packet delivered locally, after
// netfilter's input hook (an AF_PACKET sniffer would see packets before any hook). A packet
// counts as delivered only when its token is found in the right receiver at the offset it was
// sent at, so an ICMP error quoting it counts for nothing.
//
// Packets whose conntrack identity (protocol, addresses and ports, both directions) repeats
// go in later rounds; between rounds every host's conntrack table is flushed, so that no
// packet is ever taken for part of an earlier flow. Each round is sent at once and read wait
// (DefaultBatchWait when 0) after its last frame. Errors: a packet the lab cannot send or
// receive (see Packet), or a socket that fails.
func (l *Lab) SendBatch(ctx context.Context, pkts []Packet, wait time.Duration) ([]bool, error) {
	if wait <= 0 {
		wait = DefaultBatchWait
	}
	var nonce [4]byte
	_, _ = rand.Read(nonce[:])
	wires := make([]wire, len(pkts))
	rounds := [][]int{}
	seen := map[string]int{}
	for i, p := range pkts {
		tok := []byte(fmt.Sprintf("RLPK%x%08x", nonce, i))
		wr, err := l.buildWire(p, tok, binary.BigEndian.Uint32(nonce[:])^uint32(i*2654435761))
		if err != nil {
			return nil, fmt.Errorf("packet %d: %w", i, err)
		}
		wires[i] = wr
		r := 0
		if wr.flow != "" {
			r = seen[wr.flow]
			seen[wr.flow] = r + 1
		}
		for len(rounds) <= r {
			rounds = append(rounds, nil)
		}
		rounds[r] = append(rounds[r], i)
	}
	recv, err := l.openReceivers(wires)
	defer func() {
		for _, fd := range recv {
			syscall.Close(fd)
		}
	}()
	if err != nil {
		return nil, err
	}
	delivered := make([]bool, len(pkts))
	for r, idx := range rounds {
		if r > 0 {
			if err := l.FlushConntrack(); err != nil {
				return nil, err
			}
		}
		if err := l.sendRound(wires, idx); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		if err := drain(recv, wires, delivered); err != nil {
			return nil, err
		}
	}
	return delivered, nil
}

// openReceivers opens one non-blocking raw socket per receiver the batch needs.
func (l *Lab) openReceivers(wires []wire) (map[recvKey]int, error) {
	recv := map[recvKey]int{}
	for _, wr := range wires {
		k := wr.recv
		if _, ok := recv[k]; ok {
			continue
		}
		ns, err := l.nsByName(k.ns)
		if err != nil {
			return recv, err
		}
		family := syscall.AF_INET
		if k.v6 {
			family = syscall.AF_INET6
		}
		var fd int
		err = InNetns(ns, func() (err error) {
			fd, err = syscall.Socket(family, syscall.SOCK_RAW|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, int(k.proto))
			return err
		})
		if err != nil {
			return recv, fmt.Errorf("raw socket for protocol %d in %q: %w", k.proto, k.ns, err)
		}
		recv[k] = fd
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, recvBuf); err != nil {
			return recv, fmt.Errorf("receive buffer of the raw socket in %q: %w", k.ns, err)
		}
	}
	return recv, nil
}

// nsByName is the handle of a namespace of the lab.
func (l *Lab) nsByName(name string) (netns.NsHandle, error) {
	for _, h := range l.hosts {
		if h.Netns == name {
			return h.ns, nil
		}
	}
	for _, w := range l.workloads {
		if w.Netns == name {
			return w.ns, nil
		}
	}
	return 0, fmt.Errorf("no namespace %q in the lab", name)
}

// sendRound sends the frames of wires[idx...] through one AF_PACKET socket per sender.
func (l *Lab) sendRound(wires []wire, idx []int) error {
	bySender := map[*Workload][]int{}
	var order []*Workload
	for _, i := range idx {
		w := wires[i].from
		if bySender[w] == nil {
			order = append(order, w)
		}
		bySender[w] = append(bySender[w], i)
	}
	for _, w := range order {
		err := InNetns(w.ns, func() error {
			// Protocol 0: the socket sends only, it receives nothing.
			fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer syscall.Close(fd)
			for _, i := range bySender[w] {
				f := wires[i].frame
				sa := &syscall.SockaddrLinklayer{Protocol: htons(binary.BigEndian.Uint16(f[12:])), Ifindex: w.ifindex, Halen: 6}
				copy(sa.Addr[:], f[:6])
				if err := syscall.Sendto(fd, f, 0, sa); err != nil {
					return fmt.Errorf("packet %d: %w", i, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("send from %q: %w", w.Endpoint.ID, err)
		}
	}
	return nil
}

// drain reads every receiver until it is empty and marks the packets whose token it finds,
// at the offset they were sent at, in the receiver they were sent to.
func drain(recv map[recvKey]int, wires []wire, delivered []bool) error {
	if len(wires) == 0 {
		return nil
	}
	// The index of a token is its last 8 hex digits; the first 12 bytes are the batch's.
	prefix := wires[0].tok[:tokenLen-8]
	buf := make([]byte, 65536)
	for k, fd := range recv {
		for {
			n, _, err := syscall.Recvfrom(fd, buf, 0)
			if errors.Is(err, syscall.EAGAIN) {
				break
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read the raw socket for protocol %d in %q: %w", k.proto, k.ns, err)
			}
			match(buf[:n], k, prefix, wires, delivered)
		}
		d, err := drops(fd)
		if err != nil {
			return fmt.Errorf("raw socket for protocol %d in %q: drop counter: %w", k.proto, k.ns, err)
		}
		if d > 0 {
			return fmt.Errorf("raw socket for protocol %d in %q: %d packets dropped (socket buffer full): send smaller batches", k.proto, k.ns, d)
		}
	}
	return nil
}

// drops is the number of packets the kernel dropped on socket fd (SO_MEMINFO's
// SK_MEMINFO_DROPS, linux/sock_diag.h), so that a full buffer is an error, never a silent
// "not delivered".
func drops(fd int) (uint32, error) {
	var mem [9]uint32 // SK_MEMINFO_VARS; DROPS is the last
	n := uint32(unsafe.Sizeof(mem))
	_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		return 0, e
	}
	return mem[8], nil
}

// match marks the packet whose token msg (as a raw socket of k got it: with the IPv4 header,
// without the IPv6 one) carries at its sent offset.
func match(msg []byte, k recvKey, prefix []byte, wires []wire, delivered []bool) {
	base := 0
	if !k.v6 {
		if len(msg) < 20 {
			return
		}
		base = int(msg[0]&0x0f) * 4
	}
	for from := 0; ; {
		j := bytes.Index(msg[from:], prefix)
		if j < 0 {
			return
		}
		j += from
		from = j + 1
		if j+tokenLen > len(msg) {
			return
		}
		var i uint32
		if _, err := fmt.Sscanf(string(msg[j+len(prefix):j+tokenLen]), "%08x", &i); err != nil || int(i) >= len(wires) {
			continue
		}
		wr := wires[i]
		if wr.recv == k && j == base+wr.tokOff && bytes.Equal(msg[j:j+tokenLen], wr.tok) {
			delivered[i] = true
		}
	}
}

// FlushConntrack empties the conntrack table (IPv4 and IPv6) of every host of the lab, so that
// the next packets all start new flows.
func (l *Lab) FlushConntrack() error {
	for _, hn := range l.hostOrder {
		if err := l.hosts[hn].h.ConntrackTableFlush(netlink.ConntrackTable); err != nil {
			return fmt.Errorf("flush conntrack of host %q: %w", hn, err)
		}
	}
	return nil
}
