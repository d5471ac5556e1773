package lab

import (
	"context"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// BenchmarkBuild measures building and removing the two-host, three-workload lab.
func BenchmarkBuild(b *testing.B) {
	testenv.RequireKernel(b)
	ctx := context.Background()
	for b.Loop() {
		l, err := Build(ctx, twoHosts(), Options{TCPPorts: []int{80}})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProbes measures one allowed probe of each kind across hosts (no firewall).
func BenchmarkProbes(b *testing.B) {
	testenv.RequireKernel(b)
	ctx := context.Background()
	l, err := Build(ctx, twoHosts(), Options{TCPPorts: []int{80}, UDPPorts: []int{53}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	for _, p := range []Probe{
		{From: "a1", To: "b1", Proto: "tcp", Port: 80},
		{From: "a1", To: "b1", Proto: "tcp", Port: 80, Family: 6},
		{From: "a1", To: "b1", Proto: "udp", Port: 53},
		{From: "a1", To: "b1", Proto: "icmp"},
		{From: "a1", To: "b1", Proto: "icmp", Family: 6},
	} {
		b.Run(p.String(), func(b *testing.B) {
			for b.Loop() {
				ok, err := l.Run(ctx, p, DefaultTimeout)
				if err != nil || !ok {
					b.Fatalf("%s: reached=%v err=%v", p, ok, err)
				}
			}
		})
	}
}

// BenchmarkSendBatch measures SendBatch with batches of 2000 first packets (tcp, udp, sctp,
// ping; v4 and v6; to the same host, the other host and the host itself; no firewall), each a
// new flow, all of which must be delivered; it reports packets per second, the wait included.
func BenchmarkSendBatch(b *testing.B) {
	testenv.RequireKernel(b)
	ctx := context.Background()
	l, err := Build(ctx, twoHosts(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	var pkts []Packet
	for i := 0; len(pkts) < 2000; i++ {
		fam := 4 + 2*(i%2)
		to := []string{"a2", "b1", ""}[i%3]
		p := Packet{From: "a1", To: to, Src: l.Addr("a1", fam), Proto: []uint8{6, 17, 132, 1}[i/2%4],
			SrcPort: uint16(10000 + i), DstPort: 80}
		if to == "" {
			p.ToHost, p.Dst = "node-1", GatewayV4
			if fam == 6 {
				p.Dst = HostV6
			}
		} else {
			p.Dst = l.Addr(to, fam)
		}
		if p.Proto == 1 {
			p.SrcPort, p.DstPort, p.ICMPType = 0, 0, 8
			if fam == 6 {
				p.Proto, p.ICMPType = 58, 128
			}
		}
		pkts = append(pkts, p)
	}
	n := 0
	for b.Loop() {
		got, err := l.SendBatch(ctx, pkts, 0)
		if err != nil {
			b.Fatal(err)
		}
		for i, ok := range got {
			if !ok {
				b.Fatalf("packet %d %+v not delivered", i, pkts[i])
			}
		}
		n += len(pkts)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
}
