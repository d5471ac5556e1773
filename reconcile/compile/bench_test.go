package compile

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/reconcile-dev/reconcile/schema"
)

// syntheticRepo builds a repository of n endpoints spread over 100 hosts, 40 profiles and 24
// tags. Every endpoint has an IPv4 /32 (from 198.18.0.0/15), every other one an IPv6 /128, and
// one to three profiles.
func syntheticRepo(n int) *schema.Repository {
	const nProfiles, nTags, nHosts = 40, 24, 100
	r := &schema.Repository{Profiles: map[string]*schema.Profile{}}
	for p := 0; p < nProfiles; p++ {
		id := fmt.Sprintf("PROF_%02d", p)
		t1, t2 := fmt.Sprintf("TAG_%02d", p%nTags), fmt.Sprintf("TAG_%02d", (p*7+3)%nTags)
		r.Profiles[id] = &schema.Profile{
			ID:   id,
			Tags: []string{t1, t2},
			Inbound: []schema.Rule{
				{Action: "allow", Protocol: "tcp", DstPorts: pr(80, 443, [2]int{8000, 8080}), SrcTag: t2},
				{Action: "deny", SrcNet: "198.19.255.0/24"},
				{Action: "allow", Protocol: "icmp", ICMPType: ip(8)},
				{Action: "allow", Protocol: "icmpv6", ICMPType: ip(128)},
				{Action: "log", LogPrefix: "in", NotSrcTag: t1},
				{Action: "allow", Protocol: "udp", DstPorts: pr(53), SrcTag: t1},
			},
			Outbound: []schema.Rule{
				{Action: "deny", Protocol: "tcp", DstPorts: pr(25)},
				{Action: "allow", DstTag: t1},
				{Action: "allow"},
			},
		}
	}
	base := netip.MustParseAddr("198.18.0.0").As4()
	for i := 0; i < n; i++ {
		if i >= 1<<17 {
			panic("more endpoints than 198.18.0.0/15 has addresses")
		}
		a := base
		a[1] += byte(i >> 16)
		a[2] = byte(i >> 8)
		a[3] = byte(i)
		e := &schema.Endpoint{
			ID:        fmt.Sprintf("ep-%05d", i),
			Host:      fmt.Sprintf("node-%02d", i%nHosts),
			Interface: fmt.Sprintf("cali%05d", i),
			IPv4Nets:  []string{netip.AddrFrom4(a).String() + "/32"},
			State:     schema.StateActive,
		}
		if i%2 == 0 {
			e.IPv6Nets = []string{fmt.Sprintf("fd00::%x/128", i)}
		}
		for k := 0; k <= i%3; k++ {
			e.ProfileIDs = append(e.ProfileIDs, fmt.Sprintf("PROF_%02d", (i+k*13)%nProfiles))
		}
		r.Endpoints = append(r.Endpoints, e)
	}
	return r
}

func TestSyntheticRepoCompiles(t *testing.T) {
	r := syntheticRepo(1000)
	rs, err := Compile(r, Options{Host: "node-07"})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, r, rs)
	// 10 local endpoints (3 chains each), the base chains, and two chains per used profile.
	if len(rs.Maps[0].Elements) != 10 {
		t.Errorf("%d local endpoints dispatched, want 10", len(rs.Maps[0].Elements))
	}
	if len(rs.Sets) == 0 {
		t.Error("no tag sets")
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		r := syntheticRepo(n)
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(r, Options{Host: "node-07"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
