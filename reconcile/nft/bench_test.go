package nft

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// syntheticRuleset builds a compiled-like ruleset for n endpoints: a from/to chain pair per
// endpoint (anti-spoof on both families and the MAC, then the profiles), a dozen profiles
// with in/out chains, tag sets of both families with n/4 members each, and the dispatch maps.
func syntheticRuleset(table string, n int) *Ruleset {
	const profiles, tags = 12, 4
	rs := &Ruleset{Table: table}
	tagV4 := make([][]netip.Prefix, tags)
	tagV6 := make([][]netip.Prefix, tags)
	from := &Map{Name: "dispatch-from"}
	to := &Map{Name: "dispatch-to"}
	for i := 0; i < n; i++ {
		ep := fmt.Sprintf("ep-%05d", i)
		iface := fmt.Sprintf("cali%05d", i)
		v4 := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)}), 32)
		v6 := netip.PrefixFrom(netip.AddrFrom16([16]byte{0: 0xfd, 14: byte(i >> 8), 15: byte(i)}), 128)
		tagV4[i%tags] = append(tagV4[i%tags], v4)
		tagV6[i%tags] = append(tagV6[i%tags], v6)
		p1, p2 := fmt.Sprintf("P%02d", i%profiles), fmt.Sprintf("P%02d", (i+1)%profiles)
		rs.Chains = append(rs.Chains,
			&Chain{Name: "from-" + ep, Rules: []*Rule{
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddr, Not: true, Family: IPv4, Prefixes: []netip.Prefix{v4}}}, Verdict: Verdict{Kind: Drop}},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv6}, {Kind: MatchSAddr, Not: true, Family: IPv6, Prefixes: []netip.Prefix{v6}}}, Verdict: Verdict{Kind: Drop}},
				{Matches: []Match{{Kind: MatchEtherSAddr, Not: true, Str: fmt.Sprintf("ee:ee:ee:ee:%02x:%02x", byte(i>>8), byte(i))}}, Verdict: Verdict{Kind: Drop}},
				{Verdict: Verdict{Kind: Jump, Chain: "profile-out-" + p1}},
				{Verdict: Verdict{Kind: Jump, Chain: "profile-out-" + p2}},
				{Verdict: Verdict{Kind: Drop}},
			}},
			&Chain{Name: "to-" + ep, Rules: []*Rule{
				{Verdict: Verdict{Kind: Jump, Chain: "profile-in-" + p1}},
				{Verdict: Verdict{Kind: Jump, Chain: "profile-in-" + p2}},
				{Verdict: Verdict{Kind: Drop}},
			}})
		from.Elements = append(from.Elements, MapElement{Key: iface, Verdict: Verdict{Kind: Goto, Chain: "from-" + ep}})
		to.Elements = append(to.Elements, MapElement{Key: iface, Verdict: Verdict{Kind: Goto, Chain: "to-" + ep}})
	}
	for t := 0; t < tags; t++ {
		rs.Sets = append(rs.Sets,
			&Set{Name: fmt.Sprintf("tag-v4-T%d", t), Type: SetIPv4, Prefixes: tagV4[t]},
			&Set{Name: fmt.Sprintf("tag-v6-T%d", t), Type: SetIPv6, Prefixes: tagV6[t]})
	}
	for p := 0; p < profiles; p++ {
		name := fmt.Sprintf("P%02d", p)
		tag := p % tags
		c := func(dir string, n int) string { return fmt.Sprintf("%s %s %d", name, dir, n) }
		rs.Chains = append(rs.Chains,
			&Chain{Name: "profile-in-" + name, Rules: []*Rule{
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddrSet, Family: IPv4, Str: fmt.Sprintf("tag-v4-T%d", tag)}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: c("inbound", 1)},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv6}, {Kind: MatchSAddrSet, Family: IPv6, Str: fmt.Sprintf("tag-v6-T%d", tag)}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: c("inbound", 1)},
				{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchDPort, Ports: []PortRange{{80, 80}, {443, 443}, {8000, 8080}}}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: c("inbound", 2)},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchL4Proto, Protos: []uint8{1}}, {Kind: MatchICMPType, Family: IPv4, Nums: []uint8{8}}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: c("inbound", 3)},
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddr, Family: IPv4, Prefixes: pfx("198.19.0.0/16")}}, Counter: true, Verdict: Verdict{Kind: Drop}, Comment: c("inbound", 4)},
			}},
			&Chain{Name: "profile-out-" + name, Rules: []*Rule{
				{Counter: true, Log: &Log{Prefix: name + "-out:"}, Comment: c("outbound", 1)},
				{Counter: true, Verdict: Verdict{Kind: Accept}, Comment: c("outbound", 2)},
			}})
	}
	rs.Maps = []*Map{from, {Name: "dispatch-host"}, to}
	rs.Chains = append(rs.Chains,
		&Chain{Name: "forward-from", Base: &BaseChain{Hook: HookForward, Priority: 0, Policy: Accept}, Rules: []*Rule{
			{Matches: []Match{{Kind: MatchCtState, CtState: CtInvalid}}, Verdict: Verdict{Kind: Drop}},
			{Matches: []Match{{Kind: MatchCtState, CtState: CtEstablished | CtRelated}}, Verdict: Verdict{Kind: Accept}},
			{VMap: &VMapLookup{Key: MatchIIFName, Map: "dispatch-from"}},
		}},
		&Chain{Name: "forward-to", Base: &BaseChain{Hook: HookForward, Priority: 10, Policy: Accept}, Rules: []*Rule{
			{Matches: []Match{{Kind: MatchCtState, CtState: CtInvalid}}, Verdict: Verdict{Kind: Drop}},
			{Matches: []Match{{Kind: MatchCtState, CtState: CtEstablished | CtRelated}}, Verdict: Verdict{Kind: Accept}},
			{VMap: &VMapLookup{Key: MatchOIFName, Map: "dispatch-to"}},
		}},
		&Chain{Name: "input-from", Base: &BaseChain{Hook: HookInput, Priority: 0, Policy: Accept}, Rules: []*Rule{
			{Matches: []Match{{Kind: MatchCtState, CtState: CtInvalid}}, Verdict: Verdict{Kind: Drop}},
			{VMap: &VMapLookup{Key: MatchIIFName, Map: "dispatch-host"}},
		}})
	return rs.Canonical()
}

// TestKernelLargeRuleset applies and reads back a 10k-endpoint ruleset (a batch of tens of
// megabytes: the socket buffers must be big enough) and checks the round trip.
func TestKernelLargeRuleset(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, _ := newKernel(t, "large")
	want := syntheticRuleset("big", 10000)
	if err := k.Apply(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := k.Observe(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip of 10k endpoints differs (%d chains, %d sets observed)", len(got.Chains), len(got.Sets))
	}
}

// BenchmarkKernel reports, per size, the time of Apply, Observe (one rule dump), a chain by
// chain read-back (google/nftables GetRules per chain, for comparison), and `nft -f` of the
// same Script() in a twin namespace.
func BenchmarkKernel(b *testing.B) {
	testenv.RequireKernel(b)
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			ctx := context.Background()
			k, _ := newKernel(b, "bench")
			ns2 := testenv.NewNetns(b, "benchnft")
			rs := syntheticRuleset("bench", n)
			script := filepath.Join(b.TempDir(), "bench.nft")
			if err := os.WriteFile(script, []byte(rs.Script()), 0o644); err != nil {
				b.Fatal(err)
			}
			var apply, observe, perChain, nftF time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := k.Apply(ctx, rs); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				got, err := k.Observe(ctx, "bench")
				if err != nil || len(got.Chains) != len(rs.Chains) {
					b.Fatalf("observe: %v", err)
				}
				t2 := time.Now()
				if err := getRulesPerChain(k, "bench"); err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				if out, err := exec.Command("ip", "netns", "exec", ns2, "nft", "-f", script).CombinedOutput(); err != nil {
					b.Fatalf("nft -f: %v\n%s", err, out)
				}
				t4 := time.Now()
				apply += t1.Sub(t0)
				observe += t2.Sub(t1)
				perChain += t3.Sub(t2)
				nftF += t4.Sub(t3)
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(ms(apply), "ms/apply")
			b.ReportMetric(ms(observe), "ms/observe")
			b.ReportMetric(ms(perChain), "ms/getrules-per-chain")
			b.ReportMetric(ms(nftF), "ms/nft-f")
			b.ReportMetric(float64(apply)/float64(nftF), "apply/nft-f")
		})
	}
}

// getRulesPerChain reads every chain's rules the way google/nftables offers (one dump per
// chain), for the benchmark's comparison with the single dump of Observe.
func getRulesPerChain(k *Kernel, table string) error {
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	chains, err := k.conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return err
	}
	for _, c := range chains {
		if c.Table.Name != table {
			continue
		}
		if _, err := k.conn.GetRules(t, c); err != nil {
			return err
		}
	}
	return nil
}
