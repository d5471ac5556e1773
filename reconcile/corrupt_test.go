package reconcile

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// stateDamages are the ways the state record goes bad after a first apply; kind is the
// recovery apply counts ("" for none: a record that is simply gone).
var stateDamages = []struct {
	name string
	kind string
	// damage breaks the record of dir whose head is head and model file model.
	damage func(t *testing.T, dir, head, model string)
}{
	{"head truncated", RecoveryStateUnreadable, func(t *testing.T, dir, head, model string) { testenv.TruncateHalf(t, head) }},
	{"head empty", RecoveryStateUnreadable, func(t *testing.T, dir, head, model string) { testenv.Overwrite(t, head, "") }},
	{"head garbage", RecoveryStateUnreadable, func(t *testing.T, dir, head, model string) { testenv.Overwrite(t, head, "\x00\x01garbage\xff") }},
	{"head of a future version", RecoveryStateUnreadable, func(t *testing.T, dir, head, model string) {
		testenv.Overwrite(t, head, `{"version": 7, "table": "reconcile", "history": []}`)
	}},
	{"head of another table", RecoveryStateUnreadable, func(t *testing.T, dir, head, model string) {
		testenv.Overwrite(t, head, `{"version": 2, "table": "other", "history": []}`)
	}},
	{"head deleted", "", func(t *testing.T, dir, head, model string) { testenv.Remove(t, head) }},
	{"state dir deleted", "", func(t *testing.T, dir, head, model string) { testenv.Remove(t, dir) }},
	{"model deleted", RecoveryModelUnreadable, func(t *testing.T, dir, head, model string) { testenv.Remove(t, model) }},
	{"model truncated", RecoveryModelUnreadable, func(t *testing.T, dir, head, model string) { testenv.TruncateHalf(t, model) }},
	{"model bit-flipped", RecoveryModelUnreadable, func(t *testing.T, dir, head, model string) {
		b, err := os.ReadFile(model)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-40] ^= 0x10 // inside the encoded model: the checksum no longer matches
		testenv.Overwrite(t, model, string(b))
	}},
	{"model of another digest", RecoveryModelUnreadable, func(t *testing.T, dir, head, model string) {
		b, err := os.ReadFile(head)
		if err != nil {
			t.Fatal(err)
		}
		rec := string(b)
		i := strings.Index(rec, `"ruleset_digest": "`) + len(`"ruleset_digest": "`)
		testenv.Overwrite(t, head, rec[:i]+"00"+rec[i+2:]) // the head names another digest
	}},
}

// A damaged or lost state record is "unknown": plan and status go on and say so without
// touching the file, apply moves a bad head aside (or writes the model again), says it once,
// counts it, brings the kernel to the desired ruleset and records afresh; the next apply is a
// normal pass and status is in sync.
func TestDamagedStateRecovered(t *testing.T) {
	ctx := context.Background()
	for _, d := range stateDamages {
		t.Run(d.name, func(t *testing.T) {
			e := newEnv(t)
			var logs bytes.Buffer
			opts := func() Config {
				o := e.opts()
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				return o
			}
			first, err := agentOf(t, opts()).Apply(ctx)
			if err != nil {
				t.Fatal(err)
			}
			desired := e.kernel(t)
			head := state.Path(e.stateDir, nft.DefaultTable, "")
			model := filepath.Join(e.stateDir, first.Record.LastApplied.ModelFile)
			d.damage(t, e.stateDir, head, model)
			before, _ := os.ReadFile(head)
			// The kernel drifted meanwhile: whatever the record says, apply must restore it.
			if err := e.fake.Apply(ctx, &nft.Ruleset{Table: nft.DefaultTable}); err != nil {
				t.Fatal(err)
			}
			logs.Reset()

			// plan: goes on, reads the kernel, leaves the file alone.
			pr, err := agentOf(t, opts()).Plan(ctx)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if pr.Plan.Empty() || pr.ObserveSkipped {
				t.Errorf("plan after %s: empty %v, observe skipped %v; want the drift, the table read", d.name, pr.Plan.Empty(), pr.ObserveSkipped)
			}
			if after, _ := os.ReadFile(head); !bytes.Equal(after, before) {
				t.Errorf("plan changed the state head")
			}
			// status: not in sync, says why.
			st, err := agentOf(t, opts()).Status(ctx)
			if err != nil {
				t.Fatalf("status: %v", err)
			}
			if st.InSync() || st.ObserveSkipped {
				t.Errorf("status after %s: in sync %v, observe skipped %v", d.name, st.InSync(), st.ObserveSkipped)
			}
			switch d.kind {
			case RecoveryStateUnreadable:
				if !strings.Contains(st.StateError, head) || !strings.Contains(logs.String(), "is unreadable") {
					t.Errorf("status state_error = %q, want it to name %s", st.StateError, head)
				}
			case RecoveryModelUnreadable:
				if !strings.Contains(st.ModelError, model) {
					t.Errorf("status model_error = %q, want it to name %s", st.ModelError, model)
				}
			}
			if after, _ := os.ReadFile(head); !bytes.Equal(after, before) {
				t.Errorf("status changed the state head")
			}

			// apply: recovers, once.
			logs.Reset()
			m := NewMetrics()
			o := opts()
			o.Metrics = m
			res, err := agentOf(t, o).Apply(ctx)
			if err != nil {
				t.Fatalf("apply after %s: %v\nlog:\n%s", d.name, err, logs.String())
			}
			if res.Result != Applied || e.kernel(t) != desired {
				t.Errorf("apply after %s: result %s; the kernel holds the desired ruleset: %v", d.name, res.Result, e.kernel(t) == desired)
			}
			warns := strings.Count(logs.String(), "level=WARN")
			want := 0
			if d.kind != "" {
				want = 1
				if v := testutil.ToFloat64(m.recoveries.WithLabelValues(d.kind)); v != 1 {
					t.Errorf("reconcile_recoveries_total{kind=%q} = %v, want 1", d.kind, v)
				}
			}
			if warns != want {
				t.Errorf("apply after %s logged %d warnings, want %d:\n%s", d.name, warns, want, logs.String())
			}
			moved, _ := filepath.Glob(head + ".unreadable-*")
			if d.kind == RecoveryStateUnreadable {
				if len(moved) != 1 {
					t.Fatalf("moved aside: %v, want one file", moved)
				}
				if b, _ := os.ReadFile(moved[0]); !bytes.Equal(b, before) {
					t.Errorf("the file moved aside does not hold the bad head")
				}
				if !strings.Contains(logs.String(), "moved to") || !strings.Contains(logs.String(), filepath.Base(moved[0])) {
					t.Errorf("the warning does not name where the head went:\n%s", logs.String())
				}
			} else if len(moved) != 0 {
				t.Errorf("moved aside: %v, want none", moved)
			}
			rec, err := state.Load(e.stateDir, nft.DefaultTable, "")
			if err != nil || rec.LastApplied == nil || rec.LastApplied.CheckModel() != nil {
				t.Fatalf("the record after apply: %+v, %v", rec, err)
			}

			// A second apply is a normal pass; status is in sync.
			logs.Reset()
			res, err = agentOf(t, opts()).Apply(ctx)
			if err != nil || res.Result != NoChange || strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("second apply: %v, %v; log:\n%s", res.Result, err, logs.String())
			}
			if st, err := agentOf(t, opts()).Status(ctx); err != nil || !st.InSync() || st.StateError != "" || st.ModelError != "" {
				t.Errorf("status after the recovery: in sync %v, %v", st.InSync(), err)
			}
		})
	}
}

// A state directory that is a file is an error (stage state, reason load) before anything
// touches the kernel.
func TestStateDirNotADirectory(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(filepath.Dir(e.stateDir), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.Overwrite(t, e.stateDir, "not a directory")
	for name, f := range map[string]func() error{
		"plan":   func() error { _, err := agentOf(t, e.opts()).Plan(context.Background()); return err },
		"apply":  func() error { _, err := agentOf(t, e.opts()).Apply(context.Background()); return err },
		"status": func() error { _, err := agentOf(t, e.opts()).Status(context.Background()); return err },
	} {
		err := f()
		var pe *Error
		if !errors.As(err, &pe) || pe.StageName != "state" || pe.Reason != "load" || !strings.Contains(err.Error(), e.stateDir) || !strings.Contains(err.Error(), "is not a directory") {
			t.Errorf("%s: error %v, want stage state/load naming %s", name, err, e.stateDir)
		}
	}
	if e.fake.Attempts() != 0 {
		t.Errorf("apply with a state directory that is a file touched the kernel")
	}
}

// A damaged model file under a watch that leaves drift alone (heal off) is written again by
// that pass; under passes that fail before they record, it is reported once per process.
func TestDamagedModelUnderWatch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	var logs bytes.Buffer
	o := e.opts()
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	o.Metrics = NewMetrics()
	first, err := agentOf(t, o).Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(e.stateDir, first.Record.LastApplied.ModelFile)
	good, _ := os.ReadFile(model)
	flip := func() {
		b := append([]byte(nil), good...)
		b[len(b)-40] ^= 0x10
		testenv.Overwrite(t, model, string(b))
	}

	// Passes that fail (the source is unreachable): one warning, one count, however many.
	flip()
	fo := o
	fo.Source = failingSource{}
	a := agentOf(t, fo)
	for range 3 {
		if _, err := a.watchPass(ctx, false); err == nil {
			t.Fatal("a pass with an unreachable source succeeded")
		}
	}
	if n := strings.Count(logs.String(), "the recorded model is unreadable"); n != 1 {
		t.Errorf("three failing passes warned %d times about the model, want 1:\n%s", n, logs.String())
	}
	if v := testutil.ToFloat64(o.Metrics.recoveries.WithLabelValues(RecoveryModelUnreadable)); v != 1 {
		t.Errorf("model-unreadable counted %v times, want 1", v)
	}
	if moved, _ := filepath.Glob(model + ".unreadable-*"); len(moved) != 1 {
		t.Errorf("the damaged model moved aside: %v, want one file", moved)
	}

	// Drift left alone (heal off): the pass writes the model again all the same.
	kern, err := e.fake.Observe(ctx, nft.DefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kern.Chains {
		if len(c.Rules) > 0 {
			c.Rules = c.Rules[:len(c.Rules)-1]
			break
		}
	}
	if err := e.fake.Apply(ctx, kern); err != nil {
		t.Fatal(err)
	}
	out, err := agentOf(t, o).watchPass(ctx, false)
	if err != nil || !out.Drift {
		t.Fatalf("heal-off pass: %+v, %v; want drift left", out, err)
	}
	if b, err := os.ReadFile(model); err != nil || !bytes.Equal(b, good) {
		t.Errorf("the pass that left drift did not write the model again (%v)", err)
	}
	st, err := agentOf(t, o).Status(ctx)
	if err != nil || st.ModelError != "" || st.Drift == nil || st.Drift.Empty() {
		t.Errorf("status after: model error %q, drift %v, %v; want the drift measured", st.ModelError, st.Drift, err)
	}
}

// A head whose model_file names something that is not a model file of its record (a path out
// of the state directory, the head itself, another table's head, the git clone) is an
// unreadable model like any other, but apply moves nothing aside: it would rename whatever
// the name points at (with "../../etc/passwd" under /var/lib/reconcile, /etc/passwd).
func TestModelFileNameNotMoved(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"../victim", "reconcile.state.json", "other.state.json", "git", "reconcile.model-xyz.gob", "other.model-0123456789ab.gob"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			var logs bytes.Buffer
			o := e.opts()
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			first, err := agentOf(t, o).Apply(ctx)
			if err != nil {
				t.Fatal(err)
			}
			desired := e.kernel(t)
			head := state.Path(e.stateDir, nft.DefaultTable, "")
			target := filepath.Join(e.stateDir, name)
			if name == "git" {
				if err := os.MkdirAll(filepath.Join(target, "objects"), 0o755); err != nil {
					t.Fatal(err)
				}
			} else if name != "reconcile.state.json" {
				testenv.Overwrite(t, target, "precious")
			}
			b, err := os.ReadFile(head)
			if err != nil {
				t.Fatal(err)
			}
			rec := strings.Replace(string(b), strconv.Quote(first.Record.LastApplied.ModelFile), strconv.Quote(name), 1)
			if rec == string(b) {
				t.Fatalf("the head does not name %s", first.Record.LastApplied.ModelFile)
			}
			testenv.Overwrite(t, head, rec)
			if err := e.fake.Apply(ctx, &nft.Ruleset{Table: nft.DefaultTable}); err != nil {
				t.Fatal(err)
			}
			res, err := agentOf(t, o).Apply(ctx)
			if err != nil {
				t.Fatalf("apply: %v\n%s", err, logs.String())
			}
			if res.Result != Applied || e.kernel(t) != desired {
				t.Errorf("apply: result %s; the kernel holds the desired ruleset: %v", res.Result, e.kernel(t) == desired)
			}
			if !strings.Contains(logs.String(), "the recorded model is unreadable") {
				t.Errorf("no warning about the model:\n%s", logs.String())
			}
			if moved, _ := filepath.Glob(filepath.Join(filepath.Dir(target), "*.unreadable-*")); len(moved) != 0 {
				t.Errorf("moved aside: %v, want nothing (the head names %q)", moved, name)
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if r, err := state.Load(e.stateDir, nft.DefaultTable, ""); err != nil || r.LastApplied.CheckModel() != nil {
				t.Errorf("the record after apply: %v", err)
			}
		})
	}
}
