package differential

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/evaluate"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/schema"
)

var (
	kernelSeeds    = flag.Int("differential.kernel-seeds", 4, "seeds of TestDifferentialKernel in its short mode (make test)")
	kernelDuration = flag.Duration("differential.kernel-duration", 0, "run TestDifferentialKernel on fresh seeds for this long (make fuzz-kernel)")
)

// kernelSendable reports whether the lab can send p: from an endpoint, to an endpoint or to
// the sender's host (packets from or to addresses outside the model stay with sim vs eval).
func kernelSendable(p evaluate.Packet) bool {
	return p.From != "" && (p.To != "" || p.ToHost != "")
}

// threeWay are the counts of one run of the kernel differential.
type threeWay struct {
	repos                          int
	simKernel, evalKernel, simEval int
	classes                        map[string]int
	examples                       []string
	kernelPackets, simEvalExtra    int
	bin                            string
	kept                           []string // minimised kernel disagreements, as text
}

// TestDifferentialKernel is issue 9's three-way differential: for each seed, the generated
// repository is applied with the built binary on both hosts of a namespace lab, every packet
// the lab can send goes through the kernel as a real frame, and the kernel's verdict is
// compared with the simulator's (explain, over the compiled rulesets) and the evaluator's
// (SPEC §3 from the repository); sim and eval are compared on every packet. A lab self-test
// (no firewall, allow-all, deny-all) runs first on every repository, so a broken lab never
// passes as agreement. Short mode (make test): -differential.kernel-seeds fixed seeds; long
// mode (make fuzz-kernel): -differential.kernel-duration of fresh seeds.
func TestDifferentialKernel(t *testing.T) {
	testenv.RequireKernel(t)
	bin := testenv.BuildReconcile(t)
	start, n, deadline := int64(1000), int64(*kernelSeeds), time.Time{}
	if *kernelDuration > 0 {
		start, n, deadline = *firstSeed, 1<<62, time.Now().Add(*kernelDuration)
		if start == 0 {
			start = time.Now().UnixNano() >> 1
		}
		t.Logf("long mode: seeds from %d for %s", start, *kernelDuration)
	}
	tw := &threeWay{classes: map[string]int{}, bin: bin}
	t0, tick := time.Now(), time.Now()
	for seed := start; seed < start+n; seed++ {
		if !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
		kernelSeed(t, bin, seed, tw)
		if !deadline.IsZero() && time.Since(tick) > time.Minute {
			tick = time.Now()
			t.Log(tw.summary(time.Since(t0)))
		}
	}
	t.Log(tw.summary(time.Since(t0)))
	if d := tw.simKernel + tw.evalKernel + tw.simEval; d > 0 {
		t.Errorf("%d disagreements; by class:\n%s\nfirst ones:\n%s\nminimised and kept:\n%s", d, classText(tw.classes),
			strings.Join(tw.examples, "\n"), strings.Join(tw.kept, "\n"))
	}
}

func (tw *threeWay) summary(el time.Duration) string {
	return fmt.Sprintf("kernel differential: %d repositories, %d packets through the kernel, %d more through sim and eval only (outside the model); disagreements: sim-kernel %d, eval-kernel %d, sim-eval %d (%.1f s, %.0f kernel packets/s)",
		tw.repos, tw.kernelPackets, tw.simEvalExtra, tw.simKernel, tw.evalKernel, tw.simEval, el.Seconds(), float64(tw.kernelPackets)/el.Seconds())
}

// kernelSeed runs one seed through the three parties and adds to tw.
func kernelSeed(t *testing.T, bin string, seed int64, tw *threeWay) {
	t.Helper()
	c, err := Generate(seed)
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string]string, len(c.Files))
	for k, v := range c.Files {
		files[k] = string(v)
	}
	var pkts, rest []evaluate.Packet
	for _, p := range Packets(seed, c.Repo) {
		if kernelSendable(p) {
			pkts = append(pkts, p)
		} else {
			rest = append(rest, p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := SelfTest(ctx, bin, files, pkts); err != nil {
		t.Fatalf("seed %d: lab self-test: %v", seed, err)
	}
	got, err := Kernel(ctx, bin, files, pkts)
	if err != nil {
		t.Fatalf("seed %d: kernel: %v", seed, err)
	}
	sim, err := Simulator.Open(c.Repo)
	if err != nil {
		t.Fatal(err)
	}
	eval, err := Evaluator.Open(c.Repo)
	if err != nil {
		t.Fatal(err)
	}
	tw.repos++
	tw.kernelPackets += len(pkts)
	tw.simEvalExtra += len(rest)
	for i, p := range pkts {
		s, e := sim(p), eval(p)
		tw.note(seed, c, p, s, e, &got[i])
	}
	for _, p := range rest {
		s, e := sim(p), eval(p)
		tw.note(seed, c, p, s, e, nil)
	}
}

// note compares the verdicts on one packet (kernel nil: not sent) and records disagreements.
func (tw *threeWay) note(seed int64, c Case, p evaluate.Packet, s, e Verdict, kernel *bool) {
	var kinds []string
	if kernel != nil && s.Allowed != *kernel {
		tw.simKernel++
		kinds = append(kinds, "sim-kernel")
	}
	if kernel != nil && e.Allowed != *kernel {
		tw.evalKernel++
		kinds = append(kinds, "eval-kernel")
	}
	if k := Disagree(s, e); k != "" {
		tw.simEval++
		kinds = append(kinds, "sim-eval "+k)
	}
	if len(kinds) == 0 {
		return
	}
	d := Disagreement{Packet: p, Kind: strings.Join(kinds, "+")}
	cls := Class(c.Repo, d)
	tw.classes[cls]++
	if tw.classes[cls] == 1 && kernel != nil && len(tw.kept) < 3 && (kinds[0] == "sim-kernel" || kinds[0] == "eval-kernel") {
		tw.kept = append(tw.kept, keepKernelDisagreement(tw.bin, c, p, kinds[0], s, e, *kernel))
	}
	if tw.classes[cls] == 1 && len(tw.examples) < 20 {
		k := "-"
		if kernel != nil {
			k = fmt.Sprint(*kernel)
		}
		tw.examples = append(tw.examples, fmt.Sprintf("seed %d: %s: kernel %s, sim %v %v, eval %v %v", seed, FormatPacket(p), k, s.Allowed, s.Steps, e.Allowed, e.Steps))
	}
	_ = sort.Strings
}

// TestKeptCasesKernel replays every kept case (testdata/differential) the lab can send through
// the kernel: its verdict must be the case's expected one, as the simulator's and the
// evaluator's are (TestKeptCases). The cases hold both verdicts, so a lab that delivers
// nothing, or everything, fails here too.
func TestKeptCasesKernel(t *testing.T) {
	testenv.RequireKernel(t)
	bin := testenv.BuildReconcile(t)
	cases, err := ReadCases(CasesDir)
	if err != nil {
		t.Fatal(err)
	}
	allows := 0
	for _, k := range cases {
		if !kernelSendable(k.Packet) || k.Record.Expect == "" {
			continue
		}
		t.Run(k.Name, func(t *testing.T) {
			raw, err := schema.ReadDir(k.Dir)
			if err != nil {
				t.Fatal(err)
			}
			files := map[string]string{}
			for p, b := range raw {
				files[p] = string(b)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			got, err := Kernel(ctx, bin, files, []evaluate.Packet{k.Packet})
			if err != nil {
				t.Fatal(err)
			}
			if want := k.Record.Expect == "allow"; got[0] != want {
				t.Errorf("%s: kernel delivered=%v, expect %s", FormatPacket(k.Packet), got[0], k.Record.Expect)
			}
		})
		if k.Record.Expect == "allow" {
			allows++
		}
	}
	if allows == 0 {
		t.Error("no kept case the kernel must deliver: the replay could not tell a lab that delivers nothing")
	}
}

// kernelParty is the kernel as a Party of the minimiser: every packet judged on a lab of its
// own (Kernel), so about half a second a packet. Its verdicts have no steps: compare it by
// verdict only (Disagree's KindVerdict).
func kernelParty(bin string) Party {
	return Party{Name: "kernel", Open: func(repo *schema.Repository) (Judge, error) {
		files := map[string]string{}
		for p, b := range Render(repo) {
			files[p] = string(b)
		}
		return func(p evaluate.Packet) Verdict {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			got, err := Kernel(ctx, bin, files, []evaluate.Packet{p})
			if err != nil {
				return Verdict{Err: err.Error()}
			}
			return Verdict{Allowed: got[0]}
		}, nil
	}}
}

// keepKernelDisagreement minimises a disagreement of the kernel with the simulator or the
// evaluator (which says kind: "sim-kernel" or "eval-kernel"), keeps it under the cases
// directory (its record's expect to be decided by hand) and returns it as text.
func keepKernelDisagreement(bin string, c Case, p evaluate.Packet, kind string, s, e Verdict, kernel bool) string {
	other, ov := Simulator, s
	if kind == "eval-kernel" {
		other, ov = Evaluator, e
	}
	d := Disagreement{Seed: c.Seed, Kind: KindVerdict, Packet: p, Names: [2]string{"kernel", other.Name},
		A: Verdict{Allowed: kernel}, B: ov}
	d.Class = Class(c.Repo, d)
	m := Minimize(d, c.Repo, kernelParty(bin), other)
	dir, err := WriteCase(*keepDir, CaseName(m), m)
	if err != nil {
		return fmt.Sprintf("%s (not kept: %v)", m.Disagreement, err)
	}
	return fmt.Sprintf("%s\nminimised (%d tries), kept in %s:\n%s", m.Disagreement, m.Tries, dir, filesText(m.Files))
}
