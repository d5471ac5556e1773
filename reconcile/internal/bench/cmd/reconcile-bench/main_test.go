package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-scaled", "500,x"}, {"-fleet", "400/2000"}, {"-shapes", "dense,huge"}, {"-source", "svn"}, {"-nope"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb, 0); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
	var errb bytes.Buffer
	if code := run(context.Background(), nil, &bytes.Buffer{}, &errb, 1000); code != 1 || !strings.Contains(errb.String(), notRoot) {
		t.Errorf("not root: exit %d, %q", code, errb.String())
	}
	s, err := parseFleet("40x25/200")
	if err != nil || s != (repogen.Shape{Hosts: 40, PerHost: 25, Profiles: 200, Tags: 200}) {
		t.Errorf("parseFleet: %+v %v", s, err)
	}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestMedianAndCells(t *testing.T) {
	m := median([]sample{{wall: ms(30), maxRSSKiB: 10}, {wall: ms(10), maxRSSKiB: 50}, {wall: ms(20), maxRSSKiB: 20}})
	if m.wall != ms(20) || m.maxRSSKiB != 50 || m.runs != 3 {
		t.Fatalf("median: %+v", m)
	}
	first := &measured{sample: sample{wall: 10 * time.Second}, runs: 1}
	for _, c := range []struct {
		got    time.Duration
		target float64
		ratio  string
		met    string
	}{
		{ms(400), 0.05, "0.040×", "met"},
		{ms(600), 0.05, "0.060×", "**not met**"},
		{ms(10000), 1, "1.00×", "met"},
		{ms(15100), 1.5, "1.51×", "**not met**"},
		{ms(3000), 0, "0.30×", "—"},
	} {
		w := row{step: "x", got: &measured{sample: sample{wall: c.got}, runs: 1}, refName: "first apply", ref: first, target: c.target}
		cells := w.cells()
		if cells[6] != c.ratio || cells[8] != c.met {
			t.Errorf("%v vs 10 s, target %g: %v", c.got, c.target, cells)
		}
	}
	cpu := row{step: "x", got: &measured{sample: sample{wall: ms(100), user: ms(30), sys: ms(10)}}, refName: "r",
		ref: &measured{sample: sample{wall: ms(50), user: ms(5), sys: ms(15)}}}
	if got := cpu.cells(); got[6] != "2.00×" || got[9] != "40 ms" || got[10] != "20 ms" || got[11] != "2.00×" {
		t.Errorf("CPU cells: %v", got)
	}
	if got := (row{step: "x", got: m}).cells(); got[4] != "—" || got[6] != "—" || got[1] != "20 ms" || got[11] != "—" {
		t.Errorf("no reference: %v", got)
	}
	if targetText(0.05) != "≤ 5%" || targetText(1.5) != "≤ 1.5×" {
		t.Errorf("targetText: %q %q", targetText(0.05), targetText(1.5))
	}
}

func TestLinearity(t *testing.T) {
	pt := func(n, msKernel int) scaledRow {
		return scaledRow{endpoints: n, nft: &measured{sample: sample{wall: 2 * ms(msKernel), sys: ms(msKernel)}}}
	}
	if _, _, ok := linearity([]scaledRow{pt(500, 300), pt(1000, 600), pt(2000, 1300), pt(5000, 2800)}); !ok {
		t.Error("0.6/0.6/0.65/0.56 ms per endpoint: not linear, want linear")
	}
	per, spread, ok := linearity([]scaledRow{pt(500, 300), pt(1000, 680), pt(2000, 1380), pt(5000, 5840)})
	if ok || spread < 0.5 || len(per) != 4 {
		t.Errorf("main's anonymous sets (0.6 → 1.17 ms per endpoint): ok %v spread %.2f", ok, spread)
	}
}

// TestBenchSmall runs the whole benchmark on tiny shapes (root: it makes namespaces) and checks
// that every step has a row, the status exit codes held, and that no namespace is left.
func TestBenchSmall(t *testing.T) {
	testenv.RequireKernel(t)
	if testing.Short() {
		t.Skip("runs the built binary some 60 times")
	}
	bin := testenv.BuildReconcile(t)
	out := filepath.Join(t.TempDir(), "B.md")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-bin", bin, "-out", out, "-dense", "30", "-fleet", "4x10/6",
		"-scaled", "20,30", "-short", "1ns"}, &stdout, &stderr, os.Geteuid())
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	md, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(md, stdout.Bytes()) {
		t.Fatalf("BENCHMARKS.md differs from what was printed (%v)", err)
	}
	text := string(md)
	for _, want := range []string{"## dense (30 local endpoints", "## fleet (40 endpoints over 4 hosts",
		"| first apply (new namespace, new state) |", "| no-change pass", "| status, kernel unchanged |",
		"| one local endpoint moved", "| one remote endpoint added", "| one profile rule changed |",
		"| status after a hand edit", "| 20 | ", "| 30 | ", "Linear growth", "nft list table inet reconcile",
		"| plan --all-hosts, PR renaming 2 interfaces | ", "PR renaming 2 interfaces: 2 of 4 hosts change.",
		"| plan --all-hosts, PR adding 1 endpoint to a widely used tag | ", "| old CI: plan --against per host, × 4 (extrapolated) | "} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// -short 1ns: every step of reconcile ran once; nft -f (the first apply's reference and the
	// size series) always 3 times.
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "| ") && strings.Contains(line, "| 3 |") && !strings.HasPrefix(line, "| 20 |") && !strings.HasPrefix(line, "| 30 |") &&
			!strings.HasPrefix(line, "| old CI: ") { // three sample hosts, once each
			t.Errorf("a step ran 3 times although none was shorter than 1ns: %s", line)
		}
	}
	for _, want := range []string{"| 20 | ", "| 30 | "} {
		if i := strings.Index(text, want); i < 0 || !strings.Contains(strings.SplitN(text[i:], "\n", 2)[0], "| 3 |") {
			t.Errorf("the size series point %q is not the median of 3 runs", want)
		}
	}
	b := &bench{cfg: config{bin: bin}, r: &runner{ctx: context.Background()}}
	if !b.hasFlag("status", "--detailed-exitcode") || b.hasFlag("status", "--detailed") || b.hasFlag("status", "--no-such-flag") {
		t.Error("hasFlag: wrong answer on status --help")
	}
	// Only this process's namespaces: other tests and other runs of the harness may have
	// theirs meanwhile.
	nsList, _ := exec.Command("ip", "netns", "list").Output()
	if mine := fmt.Sprintf("rbench-%d-", os.Getpid()); strings.Contains(string(nsList), mine) {
		t.Errorf("namespaces %s* left behind:\n%s", mine, nsList)
	}
}

// TestBenchDetectsStatusFull: a binary whose status has --full (a wrapper around today's that
// lists the flag and drops it) gets a "status --full" row, without the harness knowing more.
func TestBenchDetectsStatusFull(t *testing.T) {
	testenv.RequireKernel(t)
	if testing.Short() {
		t.Skip("runs the built binary some 30 times")
	}
	bin := testenv.BuildReconcile(t)
	wrapper := filepath.Join(t.TempDir(), "reconcile-with-full")
	script := `#!/bin/sh
if [ "$1" = status ] && [ "$2" = --help ]; then "` + bin + `" "$@"; echo "      --full    read the table back"; exit 0; fi
args=""
for a in "$@"; do [ "$a" = --full ] && touch "` + wrapper + `.used" && continue; args="$args '$a'"; done
eval exec "` + bin + `" $args
`
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-bin", wrapper, "-out", "", "-shapes", "dense", "-dense", "20",
		"-scaled", "", "-short", "1ns"}, &stdout, &stderr, os.Geteuid())
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "| status --full, kernel unchanged |") {
		t.Errorf("no status --full row:\n%s", stdout.String())
	}
	if _, err := os.Stat(wrapper + ".used"); err != nil {
		t.Error("--full was never passed to the binary")
	}
}
