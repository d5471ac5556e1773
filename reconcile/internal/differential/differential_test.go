package differential

import (
	"flag"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/evaluate"
	"github.com/reconcile-dev/reconcile/schema"
)

var (
	duration  = flag.Duration("differential.duration", 0, "run TestDifferentialSimEval on fresh seeds for this long (long mode), instead of the fixed seeds")
	firstSeed = flag.Int64("differential.seed", 0, "first seed of the long mode (default: from the clock)")
	keepDir   = flag.String("differential.keep", CasesDir, "where minimised disagreements are written")
)

// fixedSeeds are the seeds of `make test`: some 20 000 packets.
const fixedSeeds = 40

// evaluatorReady reports whether evaluate.Evaluate is implemented (it panicked "not
// implemented" until issue 9's evaluator landed).
func evaluatorReady() bool {
	c, err := Generate(0)
	if err != nil {
		return false
	}
	j, _ := Evaluator.Open(c.Repo)
	v := j(Packets(0, c.Repo)[0])
	return !strings.Contains(v.Err, "not implemented")
}

// TestDifferentialSimEval compares the simulator and the evaluator on every packet of the
// fixed seeds (or, with -differential.duration, of fresh seeds for that long); each
// disagreement is minimised, printed and kept under -differential.keep.
func TestDifferentialSimEval(t *testing.T) {
	if !evaluatorReady() {
		t.Skip("evaluate.Evaluate is not implemented yet: the harness is tested with injected parties (TestHarness*)")
	}
	runDifferential(t, Simulator, Evaluator, *keepDir)
}

// maxKept bounds the disagreements one run minimises and keeps: the first of each Class, for
// the first maxKept classes, and the first of each kind; the rest are counted.
const maxKept = 10

// runDifferential compares a and b over the seeds of the mode and fails on disagreements,
// minimising and keeping the first of each class (at most maxKept) under keep, and listing
// them all by class at the end. The long mode logs its counts every minute.
func runDifferential(t *testing.T, a, b Party, keep string) Stats {
	t.Helper()
	var total Stats
	start, n, deadline := int64(0), int64(fixedSeeds), time.Time{}
	if *duration > 0 {
		start, n, deadline = *firstSeed, 1<<62, time.Now().Add(*duration)
		if start == 0 {
			start = time.Now().UnixNano() >> 1
		}
		t.Logf("long mode: seeds from %d for %s", start, *duration)
	}
	t0, tick := time.Now(), time.Now()
	kinds, classes, kept := map[string]int{}, map[string]int{}, 0
	summary := func() string {
		el := time.Since(t0).Seconds()
		return fmt.Sprintf("%s vs %s: %d repositories × %d packets (%.0f repos/s, %.0f packets/s), %d refused by both, %d disagreements %v",
			a.Name, b.Name, total.Repos, total.Packets, float64(total.Repos)/el, float64(total.Packets)/el, total.Refused, total.Disagreements, kinds)
	}
	for seed := start; seed < start+n; seed++ {
		if !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
		c, ds, st, err := CompareSeed(seed, a, b)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		total.Add(st)
		for _, d := range ds {
			kinds[d.Kind]++
			classes[d.Class]++
			// The first of each class, while there is room; the first of a kind always.
			if classes[d.Class] == 1 && (kept < maxKept || kinds[d.Kind] == 1) {
				kept++
				keepDisagreement(t, c, d, a, b, keep)
			}
		}
		if !deadline.IsZero() && time.Since(tick) > time.Minute {
			tick = time.Now()
			t.Log(summary())
		}
	}
	t.Log(summary())
	if len(classes) > 0 {
		t.Logf("disagreements by class:\n%s", classText(classes))
	}
	if total.Refused > 0 {
		t.Errorf("%d packets refused by both parties: the generator made packets that are no flow of the model", total.Refused)
	}
	return total
}

// keepDisagreement minimises d, prints it and keeps it under keep (failing the test).
func keepDisagreement(t *testing.T, c Case, d Disagreement, a, b Party, keep string) {
	t.Helper()
	m := Minimize(d, c.Repo, a, b)
	dir, err := WriteCase(keep, CaseName(m), m)
	if err != nil {
		t.Errorf("keep: %v", err)
	}
	t.Errorf("%s\nminimised (%d tries), kept in %s:\n%s\n%s", d, m.Tries, dir, m.Disagreement, filesText(m.Files))
}

// classText lists the classes, most frequent first, one a line with its count.
func classText(classes map[string]int) string {
	keys := make([]string, 0, len(classes))
	for k := range classes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if classes[keys[i]] != classes[keys[j]] {
			return classes[keys[i]] > classes[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%7d  %s\n", classes[k], k)
	}
	return b.String()
}

func filesText(files map[string][]byte) string {
	var b strings.Builder
	for _, p := range sortedKeys(files) {
		fmt.Fprintf(&b, "--- %s\n%s", p, files[p])
	}
	return b.String()
}

// TestKeptCases replays every case kept under testdata/differential: the simulator and the
// evaluator must agree on its packet, and give the record's expect when it is set (the
// kernel joins with the lab).
func TestKeptCases(t *testing.T) {
	cases, err := ReadCases(CasesDir)
	if err != nil {
		t.Fatal(err)
	}
	ready := evaluatorReady()
	for _, k := range cases {
		t.Run(k.Name, func(t *testing.T) {
			js, err := Simulator.Open(k.Repo)
			if err != nil {
				t.Fatal(err)
			}
			vs := js(k.Packet)
			if vs.Err != "" {
				t.Fatalf("sim refuses %s: %s", FormatPacket(k.Packet), vs.Err)
			}
			if want := k.Record.Expect; want != "" && (want == "allow") != vs.Allowed {
				t.Errorf("%s: sim says %s, expect %s", FormatPacket(k.Packet), vs, want)
			}
			if !ready {
				t.Skip("evaluate.Evaluate is not implemented yet")
			}
			je, _ := Evaluator.Open(k.Repo)
			ve := je(k.Packet)
			if want := k.Record.Expect; want != "" && ve.Err == "" && (want == "allow") != ve.Allowed {
				t.Errorf("%s: eval says %s, expect %s", FormatPacket(k.Packet), ve, want)
			}
			if Disagree(vs, ve) != "" {
				t.Errorf("%s (seed %d, kept as %s):\n  sim:  %s\n  eval: %s", FormatPacket(k.Packet), k.Record.Seed, k.Record.Kind, vs, ve)
			}
		})
	}
}

// TestHarnessSelf runs the simulator against itself over the fixed seeds: no disagreement,
// no refused packet (every generated packet is a flow the simulator can trace).
func TestHarnessSelf(t *testing.T) {
	st := runDifferential(t, Simulator, Party{Name: "sim2", Open: Simulator.Open}, t.TempDir())
	if st.Packets < 15000 {
		t.Errorf("only %d packets over %d seeds; want some 20 000", st.Packets, fixedSeeds)
	}
}

// denyAll is a party that denies everything, without a step.
var denyAll = Party{Name: "deny-all", Open: func(*schema.Repository) (Judge, error) {
	return func(evaluate.Packet) Verdict { return Verdict{Steps: []string{}} }, nil
}}

// TestHarnessCatches proves that the comparison finds a disagreement and that the minimizer
// shrinks it: the simulator against a party that denies everything disagrees on every allowed
// packet; the minimised case is one or two endpoints, at most one profile each, one rule per
// direction at most and no rule field, it still disagrees, and it round-trips through
// WriteCase and ReadCase.
func TestHarnessCatches(t *testing.T) {
	var c Case
	var ds []Disagreement
	var st Stats
	seed := int64(0)
	for ; seed < 20 && len(ds) == 0; seed++ {
		var all []Disagreement
		var err error
		c, all, st, err = CompareSeed(seed, Simulator, denyAll)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range all {
			if d.Kind == KindVerdict && d.Packet.From != "" && d.Packet.To != "" {
				ds = append(ds, d)
			}
		}
	}
	if len(ds) == 0 || len(ds) == st.Packets {
		t.Fatalf("%d disagreements between endpoints of %d packets: want some, not all", len(ds), st.Packets)
	}
	d := ds[0]
	if d.Kind != KindVerdict || !d.A.Allowed || d.B.Allowed {
		t.Fatalf("first disagreement %s: want sim allow, deny-all deny", d)
	}
	if cl := Class(c.Repo, d); !strings.HasPrefix(cl, "verdict pair proto ") || !strings.HasSuffix(cl, " sim=allow deny-all=deny") {
		t.Errorf("class %q: want verdict pair ... sim=allow deny-all=deny", cl)
	}
	m := Minimize(d, c.Repo, Simulator, denyAll)
	t.Logf("%s\n%d tries\n%s", m.Disagreement, m.Tries, filesText(m.Files))
	checkMinimal(t, m)
	dir := t.TempDir()
	if _, err := WriteCase(dir, CaseName(m), m); err != nil {
		t.Fatal(err)
	}
	kept, err := ReadCases(dir)
	if err != nil || len(kept) != 1 {
		t.Fatalf("read back: %v, %d cases", err, len(kept))
	}
	k := kept[0]
	if k.Packet != m.Packet || k.Record.Seed != c.Seed || k.Record.Kind != KindVerdict {
		t.Errorf("read back %+v %+v, want packet %+v seed %d", k.Packet, k.Record, m.Packet, c.Seed)
	}
	js, _ := Simulator.Open(k.Repo)
	jd, _ := denyAll.Open(k.Repo)
	if Disagree(js(k.Packet), jd(k.Packet)) != KindVerdict {
		t.Errorf("kept case no longer disagrees")
	}
}

func checkMinimal(t *testing.T, m Minimized) {
	t.Helper()
	nrules, nfields := 0, 0
	for _, p := range m.Repo.Profiles {
		for _, r := range append(append([]schema.Rule(nil), p.Inbound...), p.Outbound...) {
			nrules++
			if r.Action != schema.ActionAllow {
				t.Errorf("rule %s left: only an allow is needed", r)
			}
			if s := r.String(); s != "allow" {
				nfields++
			}
		}
	}
	switch {
	case len(m.Repo.Endpoints) > 2 || len(m.Repo.Endpoints) == 0:
		t.Errorf("%d endpoints left, want 1 or 2", len(m.Repo.Endpoints))
	case len(m.Repo.Profiles) > len(m.Repo.Endpoints):
		// The minimizer removes, it does not merge: a packet allowed by the sender's outbound
		// rule of one profile and the receiver's inbound rule of another keeps both.
		t.Errorf("%d profiles left for %d endpoints, want at most one each", len(m.Repo.Profiles), len(m.Repo.Endpoints))
	case nrules > 2:
		t.Errorf("%d rules left, want at most 2", nrules)
	case nfields > 0:
		t.Errorf("%d rules with fields left", nfields)
	}
	if m.Packet.SrcMAC != "" {
		t.Errorf("packet keeps mac %q", m.Packet.SrcMAC)
	}
}

// TestMinimizeField proves the minimizer keeps the one field a disagreement hangs on: a party
// that is the simulator on the repository with every dst_ports dropped disagrees only where a
// rule's ports decide; the minimised rule keeps its protocol and ports.
func TestMinimizeField(t *testing.T) {
	noPorts := Party{Name: "sim-no-dst-ports", Open: func(repo *schema.Repository) (Judge, error) {
		c := cloneRepo(repo)
		for _, p := range c.Profiles {
			for _, l := range ruleLists(p) {
				for i := range *l {
					(*l)[i].DstPorts = nil
				}
			}
		}
		loaded, errs := schema.LoadFiles(Render(c), nil)
		if len(errs) > 0 {
			return nil, errs
		}
		return Simulator.Open(loaded)
	}}
	for seed := int64(0); seed < 20; seed++ {
		c, ds, _, err := CompareSeed(seed, Simulator, noPorts)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			continue
		}
		m := Minimize(ds[0], c.Repo, Simulator, noPorts)
		t.Logf("%s\n%s", m.Disagreement, filesText(m.Files))
		n := 0
		for _, p := range m.Repo.Profiles {
			for _, r := range append(append([]schema.Rule(nil), p.Inbound...), p.Outbound...) {
				if len(r.DstPorts) > 0 && r.Protocol != "" {
					n++
				}
			}
		}
		if n != 1 {
			t.Errorf("minimised repository has %d rules with dst_ports, want 1", n)
		}
		for _, p := range m.Repo.Profiles {
			for _, r := range append(append([]schema.Rule(nil), p.Inbound...), p.Outbound...) {
				if len(r.DstPorts) > 1 {
					t.Errorf("rule %s: more than the one port that decides", r)
				}
			}
		}
		return
	}
	t.Fatal("no seed of 0-19 has a rule whose dst_ports decide")
}

func sortedKeys(m map[string][]byte) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
