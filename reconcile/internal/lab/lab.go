// Package lab builds a lab of network namespaces from a policy repository's endpoints, wired
// the way Calico wires workloads, and sends real traffic between them.
//
// Every host of the repository becomes a named network namespace (`<prefix>-<host>`), every
// endpoint a workload namespace (`<prefix>-ep-<id>`) joined to its host by a veth pair whose
// host side is named exactly the endpoint's interface and whose workload side is eth0. The host
// routes each workload's addresses to its interface (/32, /128), answers ARP for the workloads'
// on-link gateway (proxy ARP and a local gateway address) and fe80::1 for IPv6, and forwards.
// Hosts are joined pairwise by "uplink" veth pairs with routes to every remote endpoint.
//
// Probes run in Go without moving any unlocked thread between namespaces: a probe's socket is
// created on a locked OS thread switched into the workload's namespace, and the thread is
// switched back before it is unlocked (a socket stays in the namespace it was created in).
package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/reconcile-dev/reconcile/schema"
)

// Gateway addresses the workloads route through (Calico style: an on-link gateway that the
// host answers for). GatewayV4 sits on the host's loopback, so the host answers ARP for it on
// every workload interface; GatewayV6 is set on every host-side veth.
var (
	GatewayV4 = netip.MustParseAddr("198.18.255.1")
	GatewayV6 = netip.MustParseAddr("fe80::1")
	// HostV6 is a global address on every host's loopback, used to warm up neighbour caches.
	HostV6 = netip.MustParseAddr("fd00:ffff:ffff::1")
)

// Options configure a lab.
type Options struct {
	// Prefix starts every namespace name; default "rl<pid>x<n>", unique per process and lab.
	Prefix string
	// TCPPorts and UDPPorts get an echo server in every workload (dual stack).
	TCPPorts []int
	UDPPorts []int
	// HostTCPPorts and HostUDPPorts get an echo server in every host namespace, reachable from
	// the host's workloads at GatewayV4 and HostV6 (Probe.To "host:<name>").
	HostTCPPorts []int
	HostUDPPorts []int
	// Log receives progress messages; nil discards them.
	Log *slog.Logger
}

// Lab is a built lab. Close removes everything it made.
type Lab struct {
	Prefix string
	log    *slog.Logger

	hosts     map[string]*Host
	hostOrder []string
	workloads map[string]*Workload
	wlOrder   []string

	mu         sync.Mutex
	namespaces []string // every namespace name this lab created (or tried to)
	handles    []netns.NsHandle
	closers    []func() error
	closed     bool

	tokens   sync.Map // token string -> chan struct{} (closed when a workload saw it)
	tokenSeq atomic.Uint64
}

// Host is a host namespace.
type Host struct {
	Name  string // the repository's host name
	Netns string // namespace name (in /run/netns)
	// Uplinks lists this host's uplink addresses, one per peer host.
	uplinks map[string]uplink // peer host -> link
	ns      netns.NsHandle
	h       *netlink.Handle
}

type uplink struct {
	ifname         string
	mac            string // this side's MAC
	peerV4, peerV6 netip.Addr
}

// Workload is an endpoint's namespace.
type Workload struct {
	Endpoint *schema.Endpoint
	Host     *Host
	Netns    string
	// V4 and V6 are the addresses set on eth0 (one per net of the endpoint).
	V4, V6 []netip.Addr
	// MAC is eth0's address (the endpoint's mac when it has one).
	MAC string
	// HostMAC is the MAC of the host side of the veth (the endpoint's interface): the
	// link-layer destination of the frames RawSend builds.
	HostMAC string

	ifindex int // eth0's index in the workload's namespace

	ns     netns.NsHandle
	h      *netlink.Handle
	addrMu sync.Mutex
	extra  map[netip.Addr]bool // spoof addresses added to eth0
}

var labSeq atomic.Int64

// Build creates the lab for every endpoint of repo. On error everything made so far is removed.
func Build(ctx context.Context, repo *schema.Repository, opts Options) (_ *Lab, err error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Prefix == "" {
		opts.Prefix = fmt.Sprintf("rl%dx%d", os.Getpid(), labSeq.Add(1))
	}
	l := &Lab{Prefix: opts.Prefix, log: opts.Log, hosts: map[string]*Host{}, workloads: map[string]*Workload{}}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	for _, ep := range repo.Endpoints {
		if _, ok := l.hosts[ep.Host]; !ok {
			l.hosts[ep.Host] = &Host{Name: ep.Host, Netns: l.nsName(ep.Host), uplinks: map[string]uplink{}}
			l.hostOrder = append(l.hostOrder, ep.Host)
		}
	}
	sort.Strings(l.hostOrder)
	for _, name := range l.hostOrder {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := l.buildHost(l.hosts[name]); err != nil {
			return nil, err
		}
	}
	if err := l.buildUplinks(); err != nil {
		return nil, err
	}
	for _, ep := range repo.Endpoints {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := l.buildWorkload(ep); err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", ep.ID, err)
		}
	}
	if err := l.routeRemote(); err != nil {
		return nil, err
	}
	for _, id := range l.wlOrder {
		w := l.workloads[id]
		for _, p := range opts.TCPPorts {
			if err := l.serveTCP(w.ns, id, p); err != nil {
				return nil, err
			}
		}
		for _, p := range opts.UDPPorts {
			if err := l.serveUDP(w.ns, id, p); err != nil {
				return nil, err
			}
		}
		if err := l.sniffICMP(w.ns, id); err != nil {
			return nil, err
		}
	}
	for _, hn := range l.hostOrder {
		if err := l.sniffICMP(l.hosts[hn].ns, "host "+hn); err != nil {
			return nil, err
		}
		for _, p := range opts.HostTCPPorts {
			if err := l.serveTCP(l.hosts[hn].ns, "host "+hn, p); err != nil {
				return nil, err
			}
		}
		for _, p := range opts.HostUDPPorts {
			if err := l.serveUDP(l.hosts[hn].ns, "host "+hn, p); err != nil {
				return nil, err
			}
		}
	}
	if err := l.prime(ctx); err != nil {
		return nil, err
	}
	l.log.Info("lab built", "prefix", l.Prefix, "hosts", len(l.hosts), "workloads", len(l.workloads))
	return l, nil
}

// Close stops the servers and deletes every namespace the lab made (with their links). It is
// safe to call more than once; it returns the first error.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	closers, handles, names := l.closers, l.handles, l.namespaces
	l.mu.Unlock()
	var first error
	for _, c := range closers {
		_ = c()
	}
	for _, h := range l.hosts {
		if h.h != nil {
			h.h.Close()
		}
	}
	for _, w := range l.workloads {
		if w.h != nil {
			w.h.Close()
		}
	}
	for _, h := range handles {
		_ = h.Close()
	}
	for i := len(names) - 1; i >= 0; i-- {
		if err := deleteNetns(names[i]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Hosts returns the host names, sorted.
func (l *Lab) Hosts() []string { return slices.Clone(l.hostOrder) }

// Host returns the host with that name, or nil.
func (l *Lab) Host(name string) *Host { return l.hosts[name] }

// Workloads returns the endpoint ids in repository order.
func (l *Lab) Workloads() []string { return slices.Clone(l.wlOrder) }

// Workload returns the workload of an endpoint id, or nil.
func (l *Lab) Workload(id string) *Workload { return l.workloads[id] }

// Addr returns the first address of endpoint id in family 4 or 6 (invalid if it has none).
func (l *Lab) Addr(id string, family int) netip.Addr {
	w := l.workloads[id]
	if w == nil {
		return netip.Addr{}
	}
	if family == 6 {
		if len(w.V6) > 0 {
			return w.V6[0]
		}
		return netip.Addr{}
	}
	if len(w.V4) > 0 {
		return w.V4[0]
	}
	return netip.Addr{}
}

func (l *Lab) nsName(parts ...string) string {
	name := l.Prefix + "-" + strings.Join(parts, "-")
	if len(name) > 64 {
		sum := sha256.Sum256([]byte(name))
		name = name[:55] + "-" + hex.EncodeToString(sum[:4])
	}
	return name
}

func (l *Lab) addCloser(f func() error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closers = append(l.closers, f)
}

// newNetns creates a named namespace (registered for deletion first) and opens it.
func (l *Lab) newNetns(name string) (netns.NsHandle, *netlink.Handle, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, nil, errors.New("lab is closed")
	}
	l.namespaces = append(l.namespaces, name)
	l.mu.Unlock()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return 0, nil, fmt.Errorf("create network namespace %q: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	ns, err := netns.GetFromName(name)
	if err != nil {
		return 0, nil, fmt.Errorf("open network namespace %q: %w", name, err)
	}
	l.mu.Lock()
	l.handles = append(l.handles, ns)
	l.mu.Unlock()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return 0, nil, fmt.Errorf("netlink in %q: %w", name, err)
	}
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		h.Close()
		return 0, nil, fmt.Errorf("loopback up in %q: %w", name, err)
	}
	// No duplicate address detection: addresses must work at once.
	if err := sysctls(ns, map[string]string{
		"net/ipv6/conf/all/accept_dad":     "0",
		"net/ipv6/conf/default/accept_dad": "0",
	}); err != nil {
		h.Close()
		return 0, nil, fmt.Errorf("sysctl in %q: %w", name, err)
	}
	return ns, h, nil
}

func deleteNetns(name string) error {
	if _, err := os.Stat("/run/netns/" + name); os.IsNotExist(err) {
		return nil
	}
	if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
		return fmt.Errorf("delete network namespace %q: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (l *Lab) buildHost(h *Host) error {
	ns, nh, err := l.newNetns(h.Netns)
	if err != nil {
		return err
	}
	h.ns, h.h = ns, nh
	if err := sysctls(ns, map[string]string{
		"net/ipv4/ip_forward":              "1",
		"net/ipv4/conf/all/forwarding":     "1",
		"net/ipv6/conf/all/forwarding":     "1",
		"net/ipv4/conf/all/rp_filter":      "0",
		"net/ipv4/conf/default/rp_filter":  "0",
		"net/ipv4/conf/default/proxy_arp":  "1",
		"net/ipv6/conf/default/forwarding": "1",
	}); err != nil {
		return fmt.Errorf("host %q: %w", h.Name, err)
	}
	lo, err := nh.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("host %q: %w", h.Name, err)
	}
	if err := nh.AddrAdd(lo, addr(netip.PrefixFrom(GatewayV4, 32))); err != nil {
		return fmt.Errorf("host %q: gateway address: %w", h.Name, err)
	}
	if err := nh.AddrAdd(lo, addr(netip.PrefixFrom(HostV6, 128))); err != nil {
		return fmt.Errorf("host %q: host address: %w", h.Name, err)
	}
	return nil
}

// buildUplinks joins every pair of hosts with a veth pair: pair k gets 198.18.254.4k+1/30 and
// .4k+2/30, fd00:ffff:0:k::1/126 and ::2/126.
func (l *Lab) buildUplinks() error {
	k := 0
	for i, a := range l.hostOrder {
		for j := i + 1; j < len(l.hostOrder); j++ {
			b := l.hostOrder[j]
			if k >= 63 {
				return errors.New("too many hosts for the uplink address plan (at most 11)")
			}
			ha, hb := l.hosts[a], l.hosts[b]
			ifa, ifb := fmt.Sprintf("rlup%d", j), fmt.Sprintf("rlup%d", i)
			v4a := netip.AddrFrom4([4]byte{198, 18, 254, byte(4*k + 1)})
			v4b := netip.AddrFrom4([4]byte{198, 18, 254, byte(4*k + 2)})
			v6a := netip.MustParseAddr(fmt.Sprintf("fd00:ffff:0:%x::1", k))
			v6b := netip.MustParseAddr(fmt.Sprintf("fd00:ffff:0:%x::2", k))
			veth := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: ifb, PeerNamespace: netlink.NsFd(int(hb.ns)), PeerTxQLen: -1}
			veth.Name = ifa
			if err := ha.h.LinkAdd(veth); err != nil {
				return fmt.Errorf("uplink %s-%s: %w", a, b, err)
			}
			for _, side := range []struct {
				h        *Host
				ifname   string
				v4, v6   netip.Addr
				peer     string
				pv4, pv6 netip.Addr
			}{{ha, ifa, v4a, v6a, b, v4b, v6b}, {hb, ifb, v4b, v6b, a, v4a, v6a}} {
				link, err := side.h.h.LinkByName(side.ifname)
				if err != nil {
					return fmt.Errorf("uplink %q on %q: %w", side.ifname, side.h.Name, err)
				}
				if err := side.h.h.AddrAdd(link, addr(netip.PrefixFrom(side.v4, 30))); err != nil {
					return fmt.Errorf("uplink %q on %q: %w", side.ifname, side.h.Name, err)
				}
				if err := side.h.h.AddrAdd(link, addr(netip.PrefixFrom(side.v6, 126))); err != nil {
					return fmt.Errorf("uplink %q on %q: %w", side.ifname, side.h.Name, err)
				}
				if err := side.h.h.LinkSetUp(link); err != nil {
					return fmt.Errorf("uplink %q on %q: %w", side.ifname, side.h.Name, err)
				}
				side.h.uplinks[side.peer] = uplink{ifname: side.ifname, mac: link.Attrs().HardwareAddr.String(), peerV4: side.pv4, peerV6: side.pv6}
			}
			k++
		}
	}
	return nil
}

// buildWorkload makes the endpoint's namespace and joins it to its host: a veth pair (the
// endpoint's interface on the host, eth0 in the workload), the endpoint's addresses on eth0,
// a link route to each on the host and default routes to the host's gateways.
func (l *Lab) buildWorkload(ep *schema.Endpoint) error {
	if _, dup := l.workloads[ep.ID]; dup {
		return errors.New("duplicate endpoint id")
	}
	if len(ep.Interface) == 0 || len(ep.Interface) > 15 {
		return fmt.Errorf("interface name %q must be 1-15 bytes", ep.Interface)
	}
	nets, err := workloadNets(ep)
	if err != nil {
		return err
	}
	host := l.hosts[ep.Host]
	w := &Workload{Endpoint: ep, Host: host, Netns: l.nsName("ep", ep.ID), extra: map[netip.Addr]bool{}}
	ns, nh, err := l.newNetns(w.Netns)
	if err != nil {
		return err
	}
	w.ns, w.h = ns, nh
	l.workloads[ep.ID] = w
	l.wlOrder = append(l.wlOrder, ep.ID)

	hl, err := w.addVeth()
	if err != nil {
		return err
	}
	wl, err := nh.LinkByName("eth0")
	if err != nil {
		return err
	}
	w.MAC = wl.Attrs().HardwareAddr.String()
	w.HostMAC = hl.Attrs().HardwareAddr.String()
	w.ifindex = wl.Attrs().Index
	if err := w.addNets(nets, hl, wl); err != nil {
		return err
	}
	if err := nh.LinkSetUp(wl); err != nil {
		return err
	}
	return w.addDefaultRoutes(wl)
}

// workloadNets parses the endpoint's nets, which must lie in the lab's ranges (Allowed).
func workloadNets(ep *schema.Endpoint) ([]netip.Prefix, error) {
	var nets []netip.Prefix
	for _, s := range append(slices.Clone(ep.IPv4Nets), ep.IPv6Nets...) {
		p, err := schema.ParseNet(s)
		if err != nil {
			return nil, err
		}
		if !Allowed(p.Addr()) {
			return nil, fmt.Errorf("address %s is outside 198.18.0.0/15 and fd00::/8 (the lab uses no other)", p)
		}
		nets = append(nets, p)
	}
	return nets, nil
}

// addVeth creates the veth pair (the endpoint's interface in the host's namespace, eth0 with
// the endpoint's mac in the workload's), sets the host side up as Calico does (proxy ARP, no
// reverse-path filter, forwarding, no DAD, the IPv6 gateway address) and returns it.
func (w *Workload) addVeth() (netlink.Link, error) {
	ep, host := w.Endpoint, w.Host
	veth := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: "eth0", PeerNamespace: netlink.NsFd(int(w.ns)), PeerTxQLen: -1}
	veth.Name = ep.Interface
	if ep.MAC != "" {
		mac, err := net.ParseMAC(ep.MAC)
		if err != nil {
			return nil, fmt.Errorf("mac %q: %w", ep.MAC, err)
		}
		veth.PeerHardwareAddr = mac
	}
	if err := host.h.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth %q on host %q: %w", ep.Interface, host.Name, err)
	}
	hl, err := host.h.LinkByName(ep.Interface)
	if err != nil {
		return nil, err
	}
	if err := sysctls(host.ns, map[string]string{
		"net/ipv4/conf/" + ep.Interface + "/proxy_arp":    "1",
		"net/ipv4/conf/" + ep.Interface + "/rp_filter":    "0",
		"net/ipv4/conf/" + ep.Interface + "/forwarding":   "1",
		"net/ipv4/neigh/" + ep.Interface + "/proxy_delay": "0",
		"net/ipv6/conf/" + ep.Interface + "/accept_dad":   "0",
	}); err != nil {
		return nil, err
	}
	if err := host.h.AddrAdd(hl, addr(netip.PrefixFrom(GatewayV6, 64))); err != nil {
		return nil, fmt.Errorf("gateway on %q: %w", ep.Interface, err)
	}
	if err := host.h.LinkSetUp(hl); err != nil {
		return nil, err
	}
	return hl, nil
}

// addNets puts each net's address on eth0 (wl; a /32 or /128, recorded in V4 or V6) and a
// link route to the net on the host side (hl).
func (w *Workload) addNets(nets []netip.Prefix, hl, wl netlink.Link) error {
	for _, p := range nets {
		bits := 32
		if p.Addr().Is6() {
			bits = 128
			w.V6 = append(w.V6, p.Addr())
		} else {
			w.V4 = append(w.V4, p.Addr())
		}
		if err := w.h.AddrAdd(wl, addr(netip.PrefixFrom(p.Addr(), bits))); err != nil {
			return fmt.Errorf("address %s: %w", p.Addr(), err)
		}
		if err := w.Host.h.RouteAdd(&netlink.Route{LinkIndex: hl.Attrs().Index, Dst: ipnet(p.Masked()), Scope: netlink.SCOPE_LINK}); err != nil {
			return fmt.Errorf("route %s on host %q: %w", p.Masked(), w.Host.Name, err)
		}
	}
	return nil
}

// addDefaultRoutes routes the workload's traffic of each family it has addresses of to the
// host's gateway (GatewayV4 on link, GatewayV6) through eth0 (wl).
func (w *Workload) addDefaultRoutes(wl netlink.Link) error {
	if len(w.V4) > 0 {
		if err := w.h.RouteAdd(&netlink.Route{LinkIndex: wl.Attrs().Index, Gw: GatewayV4.AsSlice(), Flags: int(netlink.FLAG_ONLINK)}); err != nil {
			return fmt.Errorf("default route: %w", err)
		}
	}
	if len(w.V6) > 0 {
		_, def6, _ := net.ParseCIDR("::/0")
		if err := w.h.RouteAdd(&netlink.Route{LinkIndex: wl.Attrs().Index, Dst: def6, Gw: GatewayV6.AsSlice()}); err != nil {
			return fmt.Errorf("default route v6: %w", err)
		}
	}
	return nil
}

// routeRemote adds, on every host, a route to each remote endpoint's nets via the uplink.
func (l *Lab) routeRemote() error {
	for _, id := range l.wlOrder {
		w := l.workloads[id]
		for _, hn := range l.hostOrder {
			h := l.hosts[hn]
			if h == w.Host {
				continue
			}
			up := h.uplinks[w.Host.Name]
			link, err := h.h.LinkByName(up.ifname)
			if err != nil {
				return err
			}
			for _, s := range append(slices.Clone(w.Endpoint.IPv4Nets), w.Endpoint.IPv6Nets...) {
				p, _ := schema.ParseNet(s)
				gw := up.peerV4
				if p.Addr().Is6() {
					gw = up.peerV6
				}
				if err := h.h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipnet(p.Masked()), Gw: gw.AsSlice()}); err != nil {
					return fmt.Errorf("route %s on host %q: %w", p.Masked(), h.Name, err)
				}
			}
		}
	}
	return nil
}

// Allowed reports whether a lab may use the address: 198.18.0.0/15 or fd00::/8 only.
func Allowed(a netip.Addr) bool {
	return netip.MustParsePrefix("198.18.0.0/15").Contains(a) || netip.MustParsePrefix("fd00::/8").Contains(a)
}

func addr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: ipnet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// InNetns runs fn on a locked OS thread switched into ns, and switches the thread back before
// unlocking it. fn runs on its own goroutine; if the thread cannot be switched back it is left
// locked, so the runtime discards it.
func InNetns(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- errors.Join(ferr, fmt.Errorf("return to the original network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// sysctls writes /proc/sys/<key> values inside ns.
func sysctls(ns netns.NsHandle, kv map[string]string) error {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return InNetns(ns, func() error {
		for _, k := range keys {
			if err := os.WriteFile("/proc/sys/"+k, []byte(kv[k]), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(k, "/", "."), kv[k], err)
			}
		}
		return nil
	})
}

// NFT runs the nft binary inside host's namespace with args (and stdin, when not empty) and
// returns its combined output.
func (l *Lab) NFT(ctx context.Context, host, stdin string, args ...string) (string, error) {
	h := l.hosts[host]
	if h == nil {
		return "", fmt.Errorf("no host %q in the lab", host)
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Netns, "nft"}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("nft %s in %q: %w: %s", strings.Join(args, " "), h.Netns, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// SetMAC changes the MAC address of the workload's eth0 (to forge the link-layer source) and
// w.MAC with it. Do not call it while probes from w are in flight.
func (w *Workload) SetMAC(mac string) error {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("mac %q: %w", mac, err)
	}
	link, err := w.h.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := w.h.LinkSetHardwareAddr(link, hw); err != nil {
		return fmt.Errorf("set %q eth0 mac %s: %w", w.Endpoint.ID, mac, err)
	}
	w.MAC = hw.String()
	return nil
}

// staleRE matches the namespace names of labs with the default prefix: rl<pid>x<n>-...
var staleRE = regexp.MustCompile(`^rl([0-9]+)x[0-9]+-`)

// CleanStale deletes the namespaces left by labs (default prefix) of processes that no longer
// run, for example a demo killed with SIGKILL. It returns the names it deleted.
func CleanStale() ([]string, error) {
	entries, err := os.ReadDir("/run/netns")
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var deleted []string
	var errs []error
	for _, e := range entries {
		m := staleRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		if _, err := os.Stat("/proc/" + m[1]); err == nil {
			continue // its process still runs
		}
		if err := deleteNetns(e.Name()); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, e.Name())
	}
	return deleted, errors.Join(errs...)
}
