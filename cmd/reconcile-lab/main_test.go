package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// requireKernel is testenv.RequireKernel, which this package may not import (it is internal to
// reconcile/): skip without root, nft or ip, or in -short mode, but fail under CI=true.
func requireKernel(t *testing.T) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "the lab needs root"
	} else if testing.Short() {
		reason = "kernel test skipped in -short mode"
	} else if _, err := exec.LookPath("nft"); err != nil {
		reason = "the lab needs the nft binary"
	} else if _, err := exec.LookPath("ip"); err != nil {
		reason = "the lab needs the ip binary"
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s, and CI=true forbids skipping it", reason)
	}
	t.Skip(reason)
}

func TestNotRootSaysSo(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-bin", "/nonexistent", "-policies", "/nonexistent"}, &out, &errb, 1000)
	if code != 1 || !strings.Contains(errb.String(), notRoot) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, errb.String(), notRoot)
	}
}

func TestBadPoliciesFailWithoutLeftovers(t *testing.T) {
	requireKernel(t)
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
	requireKernel(t)
	bin := filepath.Join(t.TempDir(), "reconcile")
	build := exec.Command("go", "build", "-o", bin, "github.com/reconcile-dev/reconcile/cmd/reconcile")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-bin", bin, "-policies", "../../policies"}, &out, &errb, 0)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	m := regexp.MustCompile(`(?m)^(\d+) probes: (\d+) as expected, 0 unexpected$`).FindStringSubmatch(out.String())
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("no summary line `N probes: N as expected, 0 unexpected` with N > 0")
	}
	if !strings.Contains(out.String(), "FROM  TO") {
		t.Errorf("no table header in the output")
	}
}
