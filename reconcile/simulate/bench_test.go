package simulate_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
)

// benchRepo is the seed's two profiles with n endpoints on node-1, alternating WEB and APP.
func benchRepo(b *testing.B, n int) map[string]string {
	b.Helper()
	var eps strings.Builder
	eps.WriteString("endpoints:\n")
	for i := range n {
		p := "WEB"
		if i%2 == 1 {
			p = "APP"
		}
		fmt.Fprintf(&eps, "  - {id: ep-%d, host: node-1, interface: cali%d, ipv4_nets: [198.18.%d.%d/32], profile_ids: [%s]}\n", i, i, i/250, i%250+1, p)
	}
	return map[string]string{"profiles/WEB.yaml": seedWEB, "profiles/APP.json": seedAPP, "endpoints/eps.yaml": eps.String()}
}

// BenchmarkTrace traces one allowed packet between two endpoints of a host with 10 and 1000
// local endpoints, over a prepared ruleset (simulate.Trace would index it on every call).
func BenchmarkTrace(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			files := map[string][]byte{}
			for k, v := range benchRepo(b, n) {
				files[k] = []byte(v)
			}
			repo := loadRepoB(b, files)
			rs, err := compile.Compile(repo, compile.Options{Host: "node-1"})
			if err != nil {
				b.Fatal(err)
			}
			p := simulate.Packet{Hook: nft.HookForward, IIF: "cali0", OIF: "cali1", Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2"), Proto: 6, SPort: 50000, DPort: 7890}
			if res := simulate.Trace(rs, p); res.Verdict != nft.Accept || res.Err != nil {
				b.Fatalf("verdict %s, err %v", res.Verdict, res.Err)
			}
			pr := simulate.Prepare(rs)
			b.ResetTimer()
			for range b.N {
				pr.Trace(p)
			}
		})
	}
}
