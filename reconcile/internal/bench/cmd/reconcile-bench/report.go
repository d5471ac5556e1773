package main

import (
	"fmt"

	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is everything BENCHMARKS.md says.
type report struct {
	date                        time.Time
	nproc                       int
	kernel, nft, commit, source string
	binary                      string
	seed                        uint64
	sections                    []section
	scaled                      []scaledRow
	total                       time.Duration
	machineErr                  []string
	// loadStart and loadEnd are /proc/loadavg's 1-minute figure before and after the run.
	loadStart, loadEnd string
}

// loadAvg returns the 1-minute load average of /proc/loadavg ("?" when unreadable).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// section is one shape's rows.
type section struct {
	name, label string
	rows        []row
	ref         []refRow
}

// row is one step: its measurement, the reference it is compared with (nil: none) and the
// target of issue 10 for got/ref (0: none).
type row struct {
	step    string
	got     *measured
	refName string
	ref     *measured
	target  float64
	note    string
}

// refRow is a reference measurement, listed with its own peak RSS.
type refRow struct {
	name string
	m    *measured
}

// scaledRow is one point of the nft -f series.
type scaledRow struct {
	endpoints int
	nft       *measured
}

// machine fills in the date, the machine and the commit.
func (r *report) machine() {
	r.date = time.Now().UTC()
	r.loadStart = loadAvg()
	r.nproc = runtime.NumCPU()
	cmd := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).Output()
		if err != nil {
			r.machineErr = append(r.machineErr, fmt.Sprintf("%s %s: %v", name, strings.Join(args, " "), err))
			return "?"
		}
		return strings.TrimSpace(string(out))
	}
	r.kernel = cmd("uname", "-r")
	r.nft = cmd("nft", "--version")
	r.commit = cmd("git", "rev-parse", "--short=12", "HEAD")
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(st)), "\n") {
			if l != "" && !strings.HasSuffix(l, "BENCHMARKS.md") {
				r.commit += " with uncommitted changes"
				break
			}
		}
	}
	if b, err := exec.Command("git", "rev-parse", "--abbrev-ref", "HEAD").Output(); err == nil {
		r.commit += " (" + strings.TrimSpace(string(b)) + ")"
	}
}

// dur formats a duration for the table: ms below 10 s, else seconds.
func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

// rss formats KiB as MB.
func rss(kib int64) string {
	if kib <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MB", float64(kib)*1024/1e6)
}

// ratio formats got/ref.
func ratio(x float64) string {
	if x < 0.1 {
		return fmt.Sprintf("%.3f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

// targetText formats a target ratio: "≤ 1.0×" or "≤ 5%".
func targetText(t float64) string {
	if t < 1 {
		return fmt.Sprintf("≤ %g%%", t*100)
	}
	return fmt.Sprintf("≤ %.1f×", t)
}

// cells returns the row's table cells: step, time, runs, peak RSS, reference, reference time,
// ratio, target, met, CPU time (user + sys) of reconcile and of the reference, CPU ratio.
func (w row) cells() []string {
	runs := fmt.Sprint(w.got.runs)
	cpu := w.got.user + w.got.sys
	c := []string{w.step, dur(w.got.wall), runs, rss(w.got.maxRSSKiB), "—", "—", "—", "—", "—", dur(cpu), "—", "—"}
	if w.ref != nil {
		x := float64(w.got.wall) / float64(w.ref.wall)
		c[4], c[5], c[6], c[10] = w.refName, dur(w.ref.wall), ratio(x), dur(w.ref.user+w.ref.sys)
		if refCPU := w.ref.user + w.ref.sys; refCPU > 0 && cpu > 0 {
			c[11] = ratio(float64(cpu) / float64(refCPU))
		}
		if w.target > 0 {
			c[7] = targetText(w.target)
			c[8] = "**not met**"
			if x <= w.target {
				c[8] = "met"
			}
		}
	}
	return c
}

// line is the row as a progress line.
func (w row) line() string {
	c := w.cells()
	s := fmt.Sprintf("%s: %s (CPU %s, %s runs, peak %s)", c[0], c[1], c[9], c[2], c[3])
	if w.ref != nil {
		s += fmt.Sprintf(" vs %s %s = %s", c[4], c[5], c[6])
	}
	if w.target > 0 {
		s += fmt.Sprintf(", target %s: %s", c[7], c[8])
	}
	return s
}

// mdRow renders cells as a markdown table row (| in cells escaped).
func mdRow(cells ...string) string {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	return "| " + strings.Join(cells, " | ") + " |\n"
}

// linearity returns the kernel (system CPU) ms per endpoint of the series, the spread of the
// points around their median (max |x/median - 1|) and whether all are within ±30% of it. The
// kernel time is what point 2 of issue 10 asks to grow linearly, and it is less disturbed by
// other load than the elapsed time.
func linearity(rows []scaledRow) (per []float64, spread float64, ok bool) {
	for _, s := range rows {
		per = append(per, float64(s.nft.sys)/float64(time.Millisecond)/float64(s.endpoints))
	}
	if len(per) == 0 {
		return nil, 0, false
	}
	sorted := slices.Sorted(slices.Values(per))
	med := sorted[(len(sorted)-1)/2]
	for _, p := range per {
		spread = max(spread, abs(p/med-1))
	}
	return per, spread, spread <= 0.30
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// markdown is BENCHMARKS.md (and what is printed).
func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (reconcile/internal/bench/cmd/reconcile-bench); rerun it rather than editing this file.\n\n")
	fmt.Fprintf(&b, "- date: %s\n", r.date.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- machine: %d CPUs, kernel %s, %s, %s; load average %s at the start, %s at the end\n", r.nproc, r.kernel, r.nft, goVersion, r.loadStart, r.loadEnd)
	fmt.Fprintf(&b, "- commit: %s\n", r.commit)
	src := "git: a file:// repository, one commit per change (`apply --repo file://…`; the first apply clones it)"
	if r.source == "dir" {
		src = "a plain directory (`apply --dir`), files edited in place"
	}
	fmt.Fprintf(&b, "- source of apply and status: %s; seed %d; whole run %s\n", src, r.seed, dur(r.total))
	for _, e := range r.machineErr {
		fmt.Fprintf(&b, "- note: %s\n", e)
	}
	for _, s := range r.sections {
		fmt.Fprintf(&b, "\n## %s\n\n", s.label)
		b.WriteString(mdRow("step", "reconcile", "CPU", "runs", "peak RSS", "reference", "reference time", "reference CPU", "ratio", "CPU ratio", "target", "met"))
		b.WriteString(mdRow("---", "---:", "---:", "---:", "---:", "---", "---:", "---:", "---:", "---:", "---", "---"))
		for _, w := range s.rows {
			c := w.cells()
			b.WriteString(mdRow(c[0], c[1], c[9], c[2], c[3], c[4], c[5], c[10], c[6], c[11], c[7], c[8]))
		}
		b.WriteString("\n")
		var refs []string
		for _, x := range s.ref {
			refs = append(refs, fmt.Sprintf("%s %s (%d runs, kernel %s, peak RSS %s)", x.name, dur(x.m.wall), x.m.runs, dur(x.m.sys), rss(x.m.maxRSSKiB)))
		}
		if len(refs) > 0 { // none with -plan-all-hosts-only
			b.WriteString("References: " + strings.Join(refs, "; ") + ".")
		}
		for _, w := range s.rows {
			if w.note != "" {
				fmt.Fprintf(&b, " %s: %s.", w.step, w.note)
			}
		}
		b.WriteString("\n")
	}
	if len(r.scaled) > 0 {
		b.WriteString("\n## `nft -f` of node-1's script by size (dense shape, N/10 profiles and tags)\n\n")
		b.WriteString(mdRow("local endpoints", "nft -f", "runs", "kernel (sys)", "ms per endpoint", "kernel ms per endpoint"))
		b.WriteString(mdRow("---:", "---:", "---:", "---:", "---:", "---:"))
		per, spread, ok := linearity(r.scaled)
		for i, s := range r.scaled {
			b.WriteString(mdRow(fmt.Sprint(s.endpoints), dur(s.nft.wall), fmt.Sprint(s.nft.runs), dur(s.nft.sys),
				fmt.Sprintf("%.2f", float64(s.nft.wall)/float64(time.Millisecond)/float64(s.endpoints)), fmt.Sprintf("%.2f", per[i])))
		}
		verdict := "met"
		if !ok {
			verdict = "**not met**"
		}
		fmt.Fprintf(&b, "\nLinear growth of the kernel time (target: kernel ms per endpoint within ±30%% of their median at every size): %s (largest deviation %.0f%%).\n", verdict, spread*100)
	}
	b.WriteString(`
## Notes

- Every figure is the wall time of one separate process of the built binary (as a timer runs it),
  in a throwaway network namespace; steps shorter than 1.5 s are run 3 times and the median is
  shown ("runs"), the others once. Each run of a change step is a new one-file change (the
  generators' mutations in reconcile/internal/repogen/shapes.go), committed, then applied.
- Peak RSS is the child's ru_maxrss from wait4 (the largest over the runs); CPU is the child's
  user + system time from wait4 (of the median run): less disturbed than the wall time when
  other work shares the machine (the load average is above). "met" judges the wall-time ratio,
  as issue 10 states its targets; the CPU ratio is there to tell load noise from a real change.
- References are measured in the same run: ` + "`nft -f`" + ` of the binary's own ` + "`plan --nft`" + ` script into a
  fresh namespace; ` + "`nft list table`" + ` in the applied namespace; the first apply for the passes
  that follow it. Ratios are what count; absolute times are noisy (±20% on a shared 2-core VM).
- Targets are issue 10's: first apply ≤ 1.0× ` + "`nft -f`" + ` (dense), ≤ 1.5× (fleet, reading included);
  one-endpoint change and no-change pass ≤ 5% of a first apply; one remote endpoint added ≤ 10%;
  status with the kernel unchanged ≤ 10% of ` + "`nft list table`" + `. Steps without a target show —.
- validate and plan --nft read the repository as a directory (--dir); status exits 0 (in sync)
  where it must and 2 (drift) after the hand edit, or the run fails.
- plan --all-hosts (issue 12; fleet shape): a pull request (a copy of the repository with one
  change) against the generated repository as its base, both directories, compared with
  validate of the same repository; "old CI" is one ` + "`plan --against --host H`" + ` process per host, as
  the CI example ran before, the mean of three sample hosts times the number of hosts.
`)
	return b.String()
}
