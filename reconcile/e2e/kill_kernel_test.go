package e2e

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The kill tests of issue 11: the built binary, applying a large generated policy from a git
// remote to a private namespace, is killed with SIGKILL at random moments; after each kill the
// kernel, the state record and the git clone must be the old or the new ones, and the next
// run must converge. `make test` runs the short version; `make stress` the long one
// (-kill.count, -kill.watch, -kill.seed).
var (
	killCount = flag.Int("kill.count", 40, "kill tests: how many apply runs to kill")
	killWatch = flag.Int("kill.watch", 10, "kill tests: how many watch passes to kill")
	killSeed  = flag.Uint64("kill.seed", 1, "kill tests: the seed of the targets, modes and delays")
	killSize  = flag.Int("kill.size", 800, "kill tests: local endpoints of the generated policy (repogen.Dense)")
)

// killDelay draws the moment of a kill: uniform over [0, 1.2 × d], d the duration of an
// unkilled run of the kind, so that kills land in every phase and some runs end before it.
func killDelay(rng *rand.Rand, d time.Duration) time.Duration {
	return time.Duration(rng.Int64N(int64(d)*12/10 + 1))
}

// ewma folds a duration sample into the running estimate of a kind.
func ewma(old, sample time.Duration) time.Duration {
	if old == 0 {
		return sample
	}
	return (old*3 + sample) / 4
}

// TestKernelKillApply kills `reconcile apply` (the built binary) at random moments, seeded:
// the first apply (clone made, table created), apply (changed in place where it can) and
// apply --full (table replaced), each towards a new commit of a Dense policy. After every kill
// the kernel holds exactly the previous ruleset or the target's (compared as models), the
// state record parses and names the previous revision or the target (lagging the kernel is
// allowed: killed between the commit and the record), the clone passes git fsck and names a
// commit of the remote (or is absent or half-made). A record left lagging the kernel makes
// status say not in sync (exit 2) and the next apply read the table. Every few kills, after
// each lag, and at the end, an unkilled apply converges and status says in sync, with and
// without --full.
func TestKernelKillApply(t *testing.T) {
	t.Parallel()
	seed := *killSeed
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	start := time.Now()
	r, rev := newKillRig(t, "kill", *killSize, seed)
	c := newKillCounts()
	defer func() {
		if t.Failed() {
			t.Logf("rerun with -kill.seed=%d", seed)
		}
	}()

	// Calibration: one unkilled run of each kind.
	dur := map[string]time.Duration{}
	_, dur["first"] = r.must("apply")
	r.inSync("calibration first apply", rev, false)
	rev = r.mutate(rng)
	_, dur["apply"] = r.must("apply")
	r.inSync("calibration apply", rev, false)
	rev = r.mutate(rng)
	_, dur["apply --full"] = r.must("apply", "--full")
	r.inSync("calibration apply --full", rev, false)
	t.Logf("Dense(%d): unkilled runs: first %v, apply %v, apply --full %v", *killSize, dur["first"], dur["apply"], dur["apply --full"])

	kernel, rec, newest := rev, rev, rev
	sinceConverge := 0
	for i := 0; c.tried < *killCount; i++ {
		if i > 4*(*killCount)+20 {
			t.Fatalf("%d iterations without reaching %d kills (%d): the delays miss the runs", i, *killCount, c.tried)
		}
		kind := []string{"first", "apply", "apply", "apply --full", "apply --full"}[rng.IntN(5)]
		target := r.mutate(rng)
		newest = target
		where := killWhere(t.Name(), seed, i, kind, target)
		args := []string{}
		if kind == "first" {
			r.dropTable()
			if err := os.RemoveAll(r.state); err != nil {
				t.Fatal(err)
			}
			kernel, rec = nil, nil
		}
		if kind == "apply --full" {
			args = append(args, "--full")
		}
		k := r.runKill(killDelay(rng, dur[kind]), "apply", args...)
		if k.signaled {
			c.tried++
			c.byKind[kind]++
		} else {
			c.finished++
			if k.code != 0 {
				t.Fatalf("%s: the run ended on its own with exit %d:\n%s", where, k.code, k.out)
			}
			dur[kind] = ewma(dur[kind], k.ran)
		}
		var clone cloneState
		var phase string
		kernel, rec, phase, clone = r.afterKill(where, c, kernel, rec, target)
		if !k.signaled && (kernel != target || rec != target) {
			t.Fatalf("%s: the run exited 0, yet the kernel or the record is not the target's", where)
		}
		lag := phase == phaseLag
		if lag {
			// status reads the table (the generation moved) and reports the kernel as
			// differing from the revision recorded, or never applied: exit 2, not in sync.
			if out, errs, code, _ := r.run("status", "--detailed-exitcode"); code != 2 {
				t.Fatalf("%s: status --detailed-exitcode with the record lagging the kernel: exit %d, want 2\nstdout:\n%s\nstderr:\n%s", where, code, out, errs)
			}
		}
		sinceConverge++
		if clone == cloneBroken || lag || sinceConverge >= 10 {
			r.converge(where, c, target, lag)
			if clone == cloneBroken {
				c.repaired++
			}
			kernel, rec, sinceConverge = target, target, 0
		}
	}
	r.converge(fmt.Sprintf("%s seed %d: the final run", t.Name(), seed), c, newest, false)
	c.log(t, fmt.Sprintf("apply kills, Dense(%d)", *killSize), seed, time.Since(start))
	if c.cacheCorrupt > 0 {
		t.Errorf("a later run found %d damaged decode cache entries (entries must be missing, never torn)", c.cacheCorrupt)
	}
}

// TestKernelKillWatch kills `reconcile watch` (the built binary, --interval 1s) during its
// passes: a new commit is pushed, SIGHUP starts a pass, and SIGKILL lands at a random moment
// of it; one time in five the watch is started afresh (no state directory, no clone, no
// table) and its first pass is killed. After every kill the checks are the apply kills' (kernel, record, clone); then the
// watch is started again and must converge by itself: its pass applies the newest commit, and
// status (with and without --full) says in sync.
func TestKernelKillWatch(t *testing.T) {
	t.Parallel()
	seed := *killSeed
	rng := rand.New(rand.NewPCG(seed, 0x77617463))
	start := time.Now()
	r, rev := newKillRig(t, "killw", *killSize, seed+1)
	c := newKillCounts()
	defer func() {
		if t.Failed() {
			t.Logf("rerun with -kill.seed=%d", seed)
		}
	}()
	h := &gitopsHost{t: t, bin: r.bin, ns: r.ns, state: r.state}
	startWatch := func(where string, want *killRev) *gitopsWatch {
		t.Helper()
		w := h.watch("--repo", r.url, "--interval", "1s", "--log-level", "debug")
		w.waitLog(where+": the pass of revision "+want.commit[:7], 0, 60*time.Second, passDone(want))
		r.inSync(where, want, true)
		c.converged++
		return w
	}
	kill := func(w *gitopsWatch) {
		_ = w.cmd.Process.Signal(syscall.SIGKILL)
		<-w.done
		_ = w.cmd.Wait()
	}

	// Calibration: the first pass (clone made, table created), then one started by SIGHUP.
	w := startWatch("calibration start", rev)
	first := passTime(t, w, 0, rev)
	from := w.mark()
	rev = r.mutate(rng)
	_ = w.cmd.Process.Signal(syscall.SIGHUP)
	w.waitLog("calibration: the pass of "+rev.commit[:7], from, 60*time.Second, passDone(rev))
	pass := passTime(t, w, from, rev)
	r.inSync("calibration pass", rev, true)
	t.Logf("Dense(%d): unkilled watch passes: first %v, then %v", *killSize, first, pass)

	kernel, rec := rev, rev
	for i := 0; c.tried < *killWatch; i++ {
		if i > 4*(*killWatch)+20 {
			t.Fatalf("%d iterations without reaching %d kills (%d)", i, *killWatch, c.tried)
		}
		kind, from, dur := "watch", 0, pass
		var target *killRev
		if rng.IntN(5) == 0 {
			// The first pass of a new host: no state directory, no clone, no table.
			kind, dur = "watch, first pass", first
			kill(w) // idle: not counted
			r.dropTable()
			if err := os.RemoveAll(r.state); err != nil {
				t.Fatal(err)
			}
			kernel, rec = nil, nil
			target = r.mutate(rng)
			w = h.watch("--repo", r.url, "--interval", "1s", "--log-level", "debug")
		} else {
			from = w.mark() // before the push: a pass of the interval may start as soon as it is there
			target = r.mutate(rng)
			_ = w.cmd.Process.Signal(syscall.SIGHUP)
		}
		where := killWhere(t.Name(), seed, i, kind, target)
		w.waitLog(where+": a pass", from, 30*time.Second, gitopsMsg("reconcile"))
		time.Sleep(killDelay(rng, dur))
		if m, _ := w.find(from, passDone(target)); m != nil {
			c.finished++
			if kind == "watch" {
				pass = ewma(pass, passTime(t, w, from, target))
			} else {
				first = ewma(first, passTime(t, w, from, target))
			}
		} else {
			c.tried++
			c.byKind[kind]++
		}
		kill(w)
		var clone cloneState
		var phase string
		_, _, phase, clone = r.afterKill(where, c, kernel, rec, target)
		if clone == cloneBroken {
			c.repaired++ // the restart below must converge over it
		}
		if phase == phaseLag {
			if out, errs, code, _ := r.run("status", "--detailed-exitcode"); code != 2 {
				t.Fatalf("%s: status --detailed-exitcode with the record lagging the kernel: exit %d, want 2\nstdout:\n%s\nstderr:\n%s", where, code, out, errs)
			}
		}
		w = startWatch(where+": restarted", target)
		if m, _ := w.find(0, gitopsMsg("observed nftables table")); phase == phaseLag && m == nil {
			t.Fatalf("%s: the record lagged the kernel, yet the restarted watch did not read the table:\n%s", where, w.log())
		}
		kernel, rec = target, target
	}
	w.stop() // SIGTERM: its passes are over; what the kills left must be gone
	r.noLeftovers(fmt.Sprintf("%s seed %d: the watch stopped", t.Name(), seed))
	c.log(t, fmt.Sprintf("watch kills, Dense(%d)", *killSize), seed, time.Since(start))
}

// passDone matches the watch's debug line of a pass that ended at rev's commit.
func passDone(rev *killRev) func(map[string]any) bool {
	return func(m map[string]any) bool {
		s, _ := m["revision"].(string)
		return m["msg"] == "pass done" && strings.HasSuffix(s, rev.commit)
	}
}

// passTime is the duration of the watch's pass that ended at rev's commit (after log line
// from): from its "reconcile" line to its "pass done" line, by the log's own time stamps.
func passTime(t *testing.T, w *gitopsWatch, from int, rev *killRev) time.Duration {
	t.Helper()
	done, i := w.find(from, passDone(rev))
	if done == nil {
		t.Fatalf("no pass of %s in the watch log", rev.commit[:7])
	}
	var began map[string]any
	for j := from; j < i; j++ {
		if m, _ := w.find(j, gitopsMsg("reconcile")); m != nil {
			if _, k := w.find(j, gitopsMsg("reconcile")); k < i {
				began, j = m, k
				continue
			}
		}
		break
	}
	if began == nil {
		t.Fatalf("no start of the pass of %s in the watch log", rev.commit[:7])
	}
	t0, err0 := time.Parse(time.RFC3339Nano, fmt.Sprint(began["time"]))
	t1, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(done["time"]))
	if err0 != nil || err1 != nil {
		t.Fatalf("watch log times: %v, %v", err0, err1)
	}
	return t1.Sub(t0)
}
