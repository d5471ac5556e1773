package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

func TestNotRootSaysSo(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-bin", "/nonexistent", "-policies", "/nonexistent"}, &out, &errb, 1000)
	if code != 1 || !strings.Contains(errb.String(), notRoot) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, errb.String(), notRoot)
	}
}

func TestBadPoliciesFailWithoutLeftovers(t *testing.T) {
	testenv.RequireKernel(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles", "WEB.yaml"), []byte("id: NOTWEB\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "reconcile")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-bin", bin, "-policies", dir}, &out, &errb, 0)
	if code != 1 || !strings.Contains(errb.String(), "profiles/WEB.yaml:") {
		t.Errorf("exit %d, stderr %q; want 1 and the file's errors", code, errb.String())
	}
}

// The demo against the bundled policies/: every probe agrees with the simulator.
func TestDemoOnBundledPolicies(t *testing.T) {
	testenv.RequireKernel(t)
	policies := filepath.Join(moduleRoot(t), "policies")
	out := demoOK(t, testenv.BuildReconcile(t), policies)
	if _, err := os.Stat(filepath.Join(policies, "tests")); err == nil && !strings.Contains(out, "reachability tests (tests/*.yaml) with real packets") {
		t.Errorf("the policies have tests, but the demo did not send them")
	}
}

// The demo against a small two-host repository written here (independent of policies/).
func TestDemoOnSmallRepository(t *testing.T) {
	testenv.RequireKernel(t)
	dir := t.TempDir()
	testenv.WriteFiles(t, dir, map[string]string{
		"profiles/WEB.yaml":    "id: WEB\ntags: [WEB]\ninbound_rules:\n  - {action: allow, protocol: tcp, dst_ports: [80]}\n  - {action: allow, protocol: icmp, icmp_type: 8}\noutbound_rules: [{action: allow}]\n",
		"profiles/CLIENT.yaml": "id: CLIENT\ntags: [CLIENT]\ninbound_rules: [{action: allow, src_tag: CLIENT}]\noutbound_rules: [{action: allow}]\n",
		"endpoints/eps.yaml": `endpoints:
  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], ipv6_nets: ["fd00:1::2/128"], profile_ids: [WEB]}
  - {id: client-1, host: node-2, interface: caliclient1, ipv4_nets: [198.18.2.2/32], ipv6_nets: ["fd00:2::2/128"], profile_ids: [CLIENT]}
  - {id: client-2, host: node-1, interface: caliclient2, ipv4_nets: [198.18.1.3/32], profile_ids: [CLIENT]}
`,
	})
	out := demoOK(t, testenv.BuildReconcile(t), dir)
	// 6 ordered pairs x (tcp/80 + ping) + ping6 for the 2 pairs with IPv6 on both ends.
	if !strings.Contains(out, "14 probes: 14 as expected, 0 unexpected") {
		t.Errorf("want 14 probes")
	}
	for _, row := range []string{
		`(?m)^client-1\s+web-1\s+tcp/80\s+allow \(WEB inbound 1\)\s+allow\s+ok$`,
		`(?m)^web-1\s+client-1\s+tcp/80\s+deny \(to client-1: no profile accepted\)\s+deny\s+ok$`,
		`(?m)^client-2\s+client-1\s+ping\s+allow \(CLIENT inbound 1\)\s+allow\s+ok$`,
		`(?m)^client-1\s+web-1\s+ping6\s+deny `,
	} {
		if !regexp.MustCompile(row).MatchString(out) {
			t.Errorf("no row matching %s", row)
		}
	}
}

// demoOK runs the demo on policies and checks exit 0 and the summary line; it returns stdout.
func demoOK(t *testing.T, bin, policies string) string {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-bin", bin, "-policies", policies}, &out, &errb, 0)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	m := regexp.MustCompile(`(?m)^(\d+) probes: (\d+) as expected, 0 unexpected$`).FindStringSubmatch(out.String())
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("no summary line `N probes: N as expected, 0 unexpected` with N > 0")
	}
	if !regexp.MustCompile(`(?m)^FROM\s+TO\s+PROBE\s+EXPECTED\s+OBSERVED\s+RESULT$`).MatchString(out.String()) {
		t.Errorf("no table header in the output")
	}
	return out.String()
}

// moduleRoot is the nearest directory above the test's working directory (the package) that
// holds go.mod: the module root, where policies/ is.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
