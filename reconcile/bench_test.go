package reconcile

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/source"
)

// writeScaleRepo writes a policy repository with n endpoints on host node-1 (and as many on
// node-2, so tags span hosts), 12 profiles of 6 rules each (ports, tags, icmp, a v4 and a v6
// net, a deny) and 8 tags.
func writeScaleRepo(tb testing.TB, dir string, n int) {
	tb.Helper()
	const profiles, tags = 12, 8
	for _, d := range []string{"profiles", "endpoints"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for p := 0; p < profiles; p++ {
		id := fmt.Sprintf("P%02d", p)
		body := fmt.Sprintf(`id: %s
tags: [T%d, T%d]
inbound_rules:
  - {action: allow, protocol: tcp, dst_ports: [80, 443, "8000:8080"], src_tag: T%d}
  - {action: deny, protocol: tcp, dst_ports: [22]}
  - {action: allow, protocol: udp, dst_ports: [53], src_net: 198.18.0.0/16}
  - {action: allow, protocol: icmp, icmp_type: 8}
  - {action: allow, protocol: icmpv6, icmp_type: 128}
  - {action: allow, protocol: tcp, dst_ports: [%d], src_net: "fd00::/16"}
outbound_rules:
  - {action: deny, dst_tag: T%d, protocol: tcp, dst_ports: [25]}
  - {action: allow}
`, id, p%tags, (p+3)%tags, (p+1)%tags, 9000+p, (p+2)%tags)
		if err := os.WriteFile(filepath.Join(dir, "profiles", id+".yaml"), []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	var b strings.Builder
	b.WriteString("endpoints:\n")
	for h := 1; h <= 2; h++ {
		for i := 0; i < n; i++ {
			k := (h-1)*n + i
			fmt.Fprintf(&b, "  - id: ep-%d-%d\n    host: node-%d\n    interface: cali%d\n", h, i, h, i)
			fmt.Fprintf(&b, "    ipv4_nets: [198.%d.%d.%d/32]\n", 18+k>>16, (k>>8)&255, k&255)
			fmt.Fprintf(&b, "    ipv6_nets: [\"fd00:%x::%x/128\"]\n", h, i+1)
			fmt.Fprintf(&b, "    profile_ids: [P%02d, P%02d]\n", i%profiles, (i+5)%profiles)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "endpoints", "scale.yaml"), []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkApplyRepository measures the whole job on repositories of 100, 1k and 10k local
// endpoints, against the kernel in a private network namespace: a full apply pass (read,
// validate, compile, read the table back, diff, one transaction), its transaction alone, a
// no-change pass, reading the table back, and `nft -f` of the same `plan --nft` script into
// a fresh namespace. The ratios are against `nft -f`.
func BenchmarkApplyRepository(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			testenv.RequireKernel(b)
			repo := b.TempDir()
			writeScaleRepo(b, repo, n)
			ctx := context.Background()
			var pass, txn, noop, observe, nftf time.Duration
			var rules int
			for i := 0; i < b.N; i++ {
				ns := testenv.NewNetns(b, "bench")
				k, err := nft.NewKernel(testenv.Open(b, netns.Open, ns))
				if err != nil {
					b.Fatal(err)
				}
				o := Config{Source: source.Dir{Path: repo}, Host: "node-1", StateDir: b.TempDir(), Netns: ns, Dataplane: k, Session: "bench"}
				start := time.Now()
				res, err := agentOf(b, o).Apply(ctx)
				if err != nil {
					b.Fatal(err)
				}
				pass += time.Since(start)
				txn += res.Duration
				rules = res.Rules()
				start = time.Now()
				res2, err := agentOf(b, o).Apply(ctx)
				if err != nil || res2.Result != "no-change" {
					b.Fatalf("second pass: %v %v", res2.Result, err)
				}
				noop += time.Since(start)
				start = time.Now()
				if _, err := k.Observe(ctx, nft.DefaultTable); err != nil {
					b.Fatal(err)
				}
				observe += time.Since(start)
				_ = k.Close()

				script := filepath.Join(b.TempDir(), "ruleset.nft")
				if err := os.WriteFile(script, []byte(res.Desired.Script()), 0o644); err != nil {
					b.Fatal(err)
				}
				ns2 := testenv.NewNetns(b, "benchnft")
				start = time.Now()
				if out, err := exec.Command("ip", "netns", "exec", ns2, "nft", "-f", script).CombinedOutput(); err != nil {
					b.Fatalf("nft -f: %v\n%s", err, out)
				}
				nftf += time.Since(start)
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(b.N) / 1e6 }
			b.ReportMetric(ms(pass), "ms/apply-pass")
			b.ReportMetric(ms(txn), "ms/transaction")
			b.ReportMetric(ms(noop), "ms/noop-pass")
			b.ReportMetric(ms(observe), "ms/read-back")
			b.ReportMetric(ms(nftf), "ms/nft-f")
			b.ReportMetric(float64(txn)/float64(nftf), "transaction/nft-f")
			b.ReportMetric(float64(pass)/float64(nftf), "pass/nft-f")
			b.ReportMetric(float64(rules), "rules")
			b.ReportMetric(0, "ns/op")
		})
	}
}
