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
