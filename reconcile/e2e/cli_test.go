package e2e

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

const cliEndpoints = `endpoints:
  - {id: web-1, host: node-1, interface: caliweb1, mac: "ee:ee:ee:00:02:01", ipv4_nets: [198.18.1.2/32], ipv6_nets: ["fd00:1::2/128"], profile_ids: [WEB]}
  - {id: client-1, host: node-1, interface: caliclient1, ipv4_nets: [198.18.1.3/32], profile_ids: [CLIENT]}
  - {id: web-2, host: node-2, interface: caliweb2, ipv4_nets: [198.18.2.2/32], ipv6_nets: ["fd00:2::2/128"], profile_ids: [WEB, CLIENT]}
`

var cliFiles = map[string]string{
	"endpoints/all.yaml": cliEndpoints,
	"profiles/WEB.yaml": `id: WEB
tags: [WEB]
inbound_rules:
  - {action: allow, protocol: tcp, dst_ports: [80, 443]}
  - {action: allow, protocol: icmp, icmp_type: 8}
  - {action: log, log_prefix: "web-drop:"}
outbound_rules:
  - {action: allow}
`,
	"profiles/CLIENT.yaml": `id: CLIENT
tags: [CLIENT]
inbound_rules:
  - {action: allow, src_tag: WEB}
outbound_rules:
  - {action: allow}
`,
}

var (
	handleRE  = regexp.MustCompile(` # handle \d+`)
	counterRE = regexp.MustCompile(`counter packets \d+ bytes \d+`)
)

// normalise drops handles and counter values from nft list output.
func normalise(s string) string {
	s = handleRE.ReplaceAllString(s, "")
	s = counterRE.ReplaceAllString(s, "counter")
	return strings.TrimSpace(s)
}

// The CLI against the kernel: plan --nft is a script nft accepts; what apply leaves in the
// kernel is exactly what nft makes of that script; a second apply changes nothing; tables
// that are not ours are left alone.
func TestCLIAgainstKernel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cliFiles, cliEndpoints, []int{80, 443}, nil)
	ctx := context.Background()
	const foreign = `table inet other {
	chain other_fwd {
		type filter hook forward priority -5; policy accept;
		ip saddr 198.18.99.0/24 counter drop
	}
}
table ip legacy {
	chain legacy_in {
		type filter hook input priority 5; policy accept;
		tcp dport 9 counter accept
	}
}
`
	before := map[string]string{}
	for _, h := range e.lab.Hosts() {
		if _, err := e.lab.NFT(ctx, h, foreign, "-f", "-"); err != nil {
			t.Fatal(err)
		}
		out, err := e.lab.NFT(ctx, h, "", "list", "ruleset")
		if err != nil {
			t.Fatal(err)
		}
		before[h] = normalise(out)
	}

	for _, h := range e.lab.Hosts() {
		script := e.must("", append([]string{"plan", "--nft"}, e.hostArgs(h)...)...)
		if !strings.Contains(script, "table inet reconcile") {
			t.Fatalf("plan --nft for %s has no table inet reconcile:\n%s", h, script)
		}
		if out, err := e.lab.NFT(ctx, h, script, "-c", "-f", "-"); err != nil {
			t.Errorf("nft -c -f of plan --nft for %s: %v\n%s\nscript:\n%s", h, err, out, script)
		}
		// plan with --detailed-exitcode says there are changes before the first apply.
		if _, _, code := e.cli("", append([]string{"plan", "--detailed-exitcode"}, e.hostArgs(h)...)...); code != 2 {
			t.Errorf("plan --detailed-exitcode before apply on %s: exit %d, want 2", h, code)
		}

		e.must("", append([]string{"apply"}, e.hostArgs(h)...)...)
		applied, err := e.lab.NFT(ctx, h, "", "list", "table", "inet", "reconcile")
		if err != nil {
			t.Fatal(err)
		}
		fresh := testenv.NewNetns(t, "fresh")
		load := exec.Command("ip", "netns", "exec", fresh, "nft", "-f", "-")
		load.Stdin = strings.NewReader(script)
		if out, err := load.CombinedOutput(); err != nil {
			t.Fatalf("nft -f of plan --nft in a fresh namespace: %v\n%s", err, out)
		}
		want := testenv.NetnsRun(t, fresh, "nft", "list", "table", "inet", "reconcile")
		if normalise(applied) != normalise(want) {
			t.Errorf("%s: the kernel after apply differs from nft -f of plan --nft\napplied:\n%s\nnft -f:\n%s", h, normalise(applied), normalise(want))
		}

		out := e.must("", append([]string{"apply"}, e.hostArgs(h)...)...)
		if !strings.Contains(out, "No changes") {
			t.Errorf("second apply on %s printed %q, want No changes", h, out)
		}
		if _, _, code := e.cli("", append([]string{"plan", "--detailed-exitcode"}, e.hostArgs(h)...)...); code != 0 {
			t.Errorf("plan --detailed-exitcode after apply on %s: exit %d, want 0", h, code)
		}
		if _, _, code := e.cli("", append([]string{"status", "--detailed-exitcode"}, e.hostArgs(h)...)...); code != 0 {
			t.Errorf("status --detailed-exitcode after apply on %s: exit %d, want 0", h, code)
		}
	}

	for _, h := range e.lab.Hosts() {
		out, err := e.lab.NFT(ctx, h, "", "list", "ruleset")
		if err != nil {
			t.Fatal(err)
		}
		got := normalise(out)
		for _, table := range []string{"table inet other", "table ip legacy"} {
			if tableText(got, table) != tableText(before[h], table) || tableText(got, table) == "" {
				t.Errorf("%s: %s changed by apply:\nbefore:\n%s\nafter:\n%s", h, table, tableText(before[h], table), tableText(got, table))
			}
		}
	}

	e.check(t, "after apply",
		tcp("client-1", "web-1", 80, true),
		tcp("client-1", "web-2", 443, true),
		tcp6("web-1", "web-2", 80, true),
		ping("client-1", "web-2", true),
		tcp("web-1", "client-1", 443, true), // CLIENT allows from tag WEB
		tcp("web-2", "client-1", 80, true),  // across hosts
	)

	// A drift: someone deletes our table on node-1. status reports it; apply heals it.
	if _, err := e.lab.NFT(ctx, "node-1", "", "delete", "table", "inet", "reconcile"); err != nil {
		t.Fatal(err)
	}
	if _, _, code := e.cli("", append([]string{"status", "--detailed-exitcode"}, e.hostArgs("node-1")...)...); code != 2 {
		t.Errorf("status --detailed-exitcode after the table was deleted: exit %d, want 2", code)
	}
	e.must("", append([]string{"apply"}, e.hostArgs("node-1")...)...)
	e.check(t, "healed", tcp("client-1", "web-1", 80, true), tcp("client-1", "web-1", 22, false))

	// Bad input: a clear error with the file's position, and nothing changes in the kernel.
	before1, err := e.lab.NFT(ctx, "node-1", "", "list", "table", "inet", "reconcile")
	if err != nil {
		t.Fatal(err)
	}
	e.write("profiles/WEB.yaml", "id: WEB\ntags: [WEB]\ninbound_rules:\n  - {action: allow, protocol: tcp, dst_ports: [99999]}\noutbound_rules: []\n")
	_, errs, code := e.cli("", append([]string{"apply"}, e.hostArgs("node-1")...)...)
	if code != 1 || !strings.Contains(errs, "profiles/WEB.yaml:4:") {
		t.Errorf("apply of an invalid repository: exit %d, stderr %q; want 1 and profiles/WEB.yaml:4:...", code, errs)
	}
	after1, err := e.lab.NFT(ctx, "node-1", "", "list", "table", "inet", "reconcile")
	if err != nil {
		t.Fatal(err)
	}
	if normalise(after1) != normalise(before1) {
		t.Errorf("a failed apply changed the kernel:\nbefore:\n%s\nafter:\n%s", before1, after1)
	}
	e.write("profiles/WEB.yaml", cliFiles["profiles/WEB.yaml"])
	// A real change: plan says so (exit 2), apply makes it, and the traffic follows.
	e.write("profiles/WEB.yaml", strings.Replace(cliFiles["profiles/WEB.yaml"], "dst_ports: [80, 443]", "dst_ports: [443]", 1))
	if _, _, code := e.cli("", append([]string{"plan", "--detailed-exitcode"}, e.hostArgs("node-1")...)...); code != 2 {
		t.Errorf("plan --detailed-exitcode after an edit: exit %d, want 2", code)
	}
	e.apply()
	e.check(t, "edited", tcp("client-1", "web-1", 80, false), tcp("client-1", "web-1", 443, true), tcp("client-1", "web-2", 80, false))
}

// tableText returns the block of `nft list ruleset` output that starts with header.
func tableText(ruleset, header string) string {
	i := strings.Index(ruleset, header+" {")
	if i < 0 {
		return ""
	}
	rest := ruleset[i:]
	if j := strings.Index(rest, "\n}"); j >= 0 {
		return rest[:j+2]
	}
	return rest
}
