package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/schema"
)

// twoHosts is a repository of three workloads on two hosts, dual stack, one with a MAC.
func twoHosts() *schema.Repository {
	return &schema.Repository{
		Profiles: map[string]*schema.Profile{},
		Endpoints: []*schema.Endpoint{
			{ID: "a1", Host: "node-1", Interface: "cali-a1", MAC: "ee:ee:ee:00:00:01",
				IPv4Nets: []string{"198.18.1.2/32"}, IPv6Nets: []string{"fd00:1::2/128"}},
			{ID: "a2", Host: "node-1", Interface: "cali-a2",
				IPv4Nets: []string{"198.18.1.3/32"}, IPv6Nets: []string{"fd00:1::3/128"}},
			{ID: "b1", Host: "node-2", Interface: "cali-b1",
				IPv4Nets: []string{"198.18.2.2/32"}, IPv6Nets: []string{"fd00:2::2/128"}},
		},
	}
}

// With no firewall at all, every workload reaches every other one, v4 and v6, on both hosts,
// by TCP, UDP and ICMP, and a forged source gets through too (nothing filters yet).
func TestLabReachesEverythingWithoutFirewall(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	repo := twoHosts()
	l, err := Build(ctx, repo, Options{TCPPorts: []int{80, 7890}, UDPPorts: []int{53}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	if got := l.Host("node-1").Netns; got != l.Prefix+"-node-1" {
		t.Errorf("host namespace = %q", got)
	}
	out, err := exec.Command("ip", "-n", l.Host("node-1").Netns, "-br", "link").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "cali-a1") || !strings.Contains(string(out), "cali-a2") {
		t.Errorf("host links: %v\n%s", err, out)
	}
	out, err = exec.Command("ip", "-n", l.Workload("a1").Netns, "link", "show", "eth0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ee:ee:ee:00:00:01") {
		t.Errorf("a1 eth0 has not the endpoint's mac: %v\n%s", err, out)
	}

	type probe struct {
		name string
		run  func() (bool, error)
	}
	var probes []probe
	for _, from := range l.Workloads() {
		for _, to := range l.Workloads() {
			if from == to {
				continue
			}
			for _, fam := range []int{4, 6} {
				dst := l.Addr(to, fam)
				probes = append(probes,
					probe{fmt.Sprintf("%s->%s tcp80 v%d", from, to, fam), func() (bool, error) { return l.TCPConnect(ctx, from, dst, 80, 2*time.Second) }},
					probe{fmt.Sprintf("%s->%s tcp7890 v%d", from, to, fam), func() (bool, error) { return l.TCPConnect(ctx, from, dst, 7890, 2*time.Second) }},
					probe{fmt.Sprintf("%s->%s udp53 v%d", from, to, fam), func() (bool, error) { return l.UDPEcho(ctx, from, dst, 53, 2*time.Second) }},
					probe{fmt.Sprintf("%s->%s udpsend v%d", from, to, fam), func() (bool, error) {
						return l.UDPSend(ctx, from, netip.Addr{}, dst, 53, 2*time.Second)
					}},
					probe{fmt.Sprintf("%s->%s ping v%d", from, to, fam), func() (bool, error) { return l.Ping(ctx, from, dst, 2*time.Second) }},
					probe{fmt.Sprintf("%s->%s icmp13 v%d", from, to, fam), func() (bool, error) {
						typ := 13
						if fam == 6 {
							typ = 128
						}
						return l.ICMPSend(ctx, from, dst, typ, 0, 2*time.Second)
					}},
				)
			}
		}
	}
	probes = append(probes,
		probe{"a1 spoofed v4 -> b1", func() (bool, error) {
			return l.UDPSend(ctx, "a1", netip.MustParseAddr("198.18.9.9"), l.Addr("b1", 4), 53, 2*time.Second)
		}},
		probe{"a1 spoofed v6 -> a2", func() (bool, error) {
			return l.UDPSend(ctx, "a1", netip.MustParseAddr("fd00:9::9"), l.Addr("a2", 6), 53, 2*time.Second)
		}},
	)
	var wg sync.WaitGroup
	for _, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := p.run()
			if err != nil || !ok {
				t.Errorf("%s: reached=%v err=%v, want reached", p.name, ok, err)
			}
		}()
	}
	wg.Wait()

	// A port with no server is refused: an error, not a silent "blocked".
	if ok, err := l.TCPConnect(ctx, "a1", l.Addr("b1", 4), 81, time.Second); err == nil || ok {
		t.Errorf("tcp to a closed port: reached=%v err=%v, want a refusal error", ok, err)
	}
	// An address nobody has is not reached (and is not an error).
	if ok, err := l.TCPConnect(ctx, "a1", netip.MustParseAddr("198.18.7.7"), 80, 300*time.Millisecond); err != nil || ok {
		t.Errorf("tcp to nowhere: reached=%v err=%v, want blocked", ok, err)
	}
}

// Close removes every namespace, also when Build fails half way.
func TestLabCloseRemovesEverything(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	repo := twoHosts()
	l, err := Build(ctx, repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	prefix := l.Prefix
	if n := countNetns(t, prefix); n != 5 {
		t.Errorf("%d namespaces with prefix %q, want 5", n, prefix)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countNetns(t, prefix); n != 0 {
		t.Errorf("%d namespaces left after Close", n)
	}

	bad := twoHosts()
	bad.Endpoints = append(bad.Endpoints, &schema.Endpoint{ID: "c1", Host: "node-2", Interface: "cali-b1",
		IPv4Nets: []string{"198.18.2.9/32"}}) // interface clash: the second veth cannot be made
	l2, err := Build(ctx, bad, Options{Prefix: fmt.Sprintf("rlt%d", os.Getpid())})
	if err == nil {
		l2.Close()
		t.Fatal("Build succeeded with two endpoints on one interface")
	}
	if n := countNetns(t, fmt.Sprintf("rlt%d", os.Getpid())); n != 0 {
		t.Errorf("%d namespaces left after a failed Build (%v)", n, err)
	}

	outside := twoHosts()
	outside.Endpoints[0].IPv4Nets = []string{"203.0.113.1/32"}
	if _, err := Build(ctx, outside, Options{}); err == nil || !strings.Contains(err.Error(), "outside 198.18.0.0/15") {
		t.Errorf("Build with 203.0.113.1: err=%v, want an address-range error", err)
	}
}

// CleanStale removes the namespaces of a lab whose process is gone, and only those.
func TestCleanStale(t *testing.T) {
	testenv.RequireKernel(t)
	// pid 0x7ffffff0 cannot run (above pid_max's ceiling of 2^22).
	dead := "rl2147483632x1-node-1"
	live := fmt.Sprintf("rl%dx999-node-1", os.Getpid())
	for _, n := range []string{dead, live} {
		testenv.Run(t, "ip", "netns", "add", n)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", n).Run() })
	}
	gone, err := CleanStale()
	if err != nil {
		t.Fatal(err)
	}
	// (A demo running at the same time may have removed the dead one first.)
	if _, err := os.Stat("/run/netns/" + dead); err == nil || slices.Contains(gone, live) {
		t.Errorf("CleanStale removed %v; want %q gone and %q kept", gone, dead, live)
	}
	if _, err := os.Stat("/run/netns/" + live); err != nil {
		t.Errorf("the live lab's namespace is gone: %v", err)
	}
}

func countNetns(t *testing.T, prefix string) int {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			n++
		}
	}
	return n
}
