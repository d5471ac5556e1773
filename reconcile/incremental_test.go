package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/state"
	"github.com/reconcile-dev/reconcile/reconcile/trigger"
)

// updPlane is the fake kernel as an nft.Updater whose Updates and Replaces can be made to fail
// or to find the generation moved. It goes through the fake's own Update and Replace when the
// fake has them; otherwise it does what they promise on top of Apply (the generation guard,
// the base check, the resulting generation).
type updPlane struct {
	*nft.Fake
	calls       []string // "update <gen>" / "replace <gen>", in order
	updateErrs  []error  // returned by the next Updates instead of going through (nil: go through)
	replaceErrs []error  // likewise for Replace
	before      func()   // runs once, at the next Update, before it is checked (another commit)
	zeroGen     bool     // report generation 0 (unknown): the pipeline must read the table back
	ownObserves int      // the fake's Observes made by emulate, not by the pipeline
}

// observes is the number of times the pipeline read the table.
func (p *updPlane) observes() int { return p.Fake.Observes() - p.ownObserves }

func (p *updPlane) Update(ctx context.Context, desired, base *nft.Ruleset, gen uint32) (*nft.UpdateResult, error) {
	p.calls = append(p.calls, fmt.Sprintf("update %d", gen))
	if f := p.before; f != nil {
		p.before = nil
		f()
	}
	if len(p.updateErrs) > 0 {
		err := p.updateErrs[0]
		p.updateErrs = p.updateErrs[1:]
		if err != nil {
			return nil, err
		}
	}
	var ur *nft.UpdateResult
	var err error
	if u, ok := any(p.Fake).(nft.Updater); ok {
		ur, err = u.Update(ctx, desired, base, gen)
	} else {
		ur, err = p.emulate(ctx, desired, base, gen)
	}
	return p.result(ur, err)
}

func (p *updPlane) Replace(ctx context.Context, desired *nft.Ruleset, gen uint32) (*nft.UpdateResult, error) {
	p.calls = append(p.calls, fmt.Sprintf("replace %d", gen))
	if len(p.replaceErrs) > 0 {
		err := p.replaceErrs[0]
		p.replaceErrs = p.replaceErrs[1:]
		if err != nil {
			return nil, err
		}
	}
	var ur *nft.UpdateResult
	var err error
	if u, ok := any(p.Fake).(nft.Updater); ok {
		ur, err = u.Replace(ctx, desired, gen)
	} else {
		ur, err = p.emulate(ctx, desired, nil, gen)
	}
	return p.result(ur, err)
}

func (p *updPlane) result(ur *nft.UpdateResult, err error) (*nft.UpdateResult, error) {
	if err == nil && p.zeroGen {
		ur.Generation = 0
	}
	return ur, err
}

// emulate is Update (base != nil) or Replace on top of the fake's Apply.
func (p *updPlane) emulate(ctx context.Context, desired, base *nft.Ruleset, gen uint32) (*nft.UpdateResult, error) {
	now, err := p.Fake.Generation(ctx)
	if err != nil {
		return nil, err
	}
	if gen != 0 && now != gen {
		return nil, fmt.Errorf("generation %d, now %d: %w", gen, now, nft.ErrStale)
	}
	if base != nil {
		p.ownObserves++
		held, err := p.Fake.Observe(ctx, desired.Table)
		if err != nil {
			return nil, err
		}
		if held == nil || held.String() != base.String() {
			return nil, fmt.Errorf("the table does not hold the base: %w", nft.ErrStale)
		}
	}
	if err := p.Fake.Apply(ctx, desired); err != nil {
		return nil, err
	}
	after, err := p.Fake.Generation(ctx)
	return &nft.UpdateResult{Generation: after}, err
}

// updEnv is newEnv whose dataplane is an updPlane.
func updEnv(t *testing.T) (*env, *updPlane) {
	e := newEnv(t)
	return e, &updPlane{Fake: e.fake}
}

func (e *env) updOpts(p *updPlane) Config {
	o := e.opts()
	o.Dataplane = p
	return o
}

// editWEB commits a change of profile WEB's first inbound rule (port 80 becomes 8080).
func (e *env) editWEB(t *testing.T) {
	t.Helper()
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": strings.Replace(labRepo["profiles/WEB.yaml"],
		"dst_ports: [80, 443]", "dst_ports: [8080, 443]", 1)})
}

// applyUpd runs Apply and checks that the kernel holds the desired ruleset afterwards. reads
// is the number of times the pass read the table (p nil: not counted).
func (e *env) applyUpd(t *testing.T, cfg Config, p *updPlane) (res *ApplyResult, reads int) {
	t.Helper()
	obs := func() int {
		if p == nil {
			return e.fake.Observes()
		}
		return p.observes()
	}
	before := obs()
	res, err := agentOf(t, cfg).Apply(context.Background())
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	reads = obs() - before
	if res.Result != state.Applied {
		t.Fatalf("result %q, want applied", res.Result)
	}
	if got := e.kernel(t); got != res.Desired.String() {
		t.Fatalf("the kernel does not hold the desired ruleset:\n%s\nwant:\n%s", got, res.Desired.String())
	}
	return res, reads
}

// checkRecorded checks the state record after a successful pass of mode: the attempt names
// the mode, and LastApplied holds the desired ruleset at the fake's generation now.
func (e *env) checkRecorded(t *testing.T, res *ApplyResult, mode string) {
	t.Helper()
	if res.Mode != mode {
		t.Errorf("mode %q, want %q", res.Mode, mode)
	}
	rec := e.record(t)
	if at := rec.LastAttempt; at == nil || at.Mode != mode || at.Result != state.Applied {
		t.Errorf("last attempt %+v, want applied with mode %q", at, mode)
	}
	gen, err := e.fake.Generation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	la := rec.LastApplied
	if la == nil || la.RulesetDigest != res.Digest || la.Generation != gen || la.Session != "test" {
		t.Errorf("last applied %+v, want digest %s at generation %d, session test", la, res.Digest, gen)
	}
}

func TestApplyModes(t *testing.T) {
	e, p := updEnv(t)
	// No table yet: the whole table, and no read-back (one Observe: the plan's).
	res, reads := e.applyUpd(t, e.updOpts(p), p)
	e.checkRecorded(t, res, ModeFull)
	if strings.Join(p.calls, ",") != "replace 0" || reads != 1 {
		t.Errorf("calls %q, reads %d; want one replace guarded by generation 0 and no read-back", p.calls, reads)
	}

	// A profile rule changed: changed in place, from the table read at its generation.
	e.editWEB(t)
	p.calls = nil
	gen, _ := e.fake.Generation(context.Background())
	res, reads = e.applyUpd(t, e.updOpts(p), p)
	e.checkRecorded(t, res, ModeIncremental)
	// The base is the recorded model, proven by the identity (boot id, cookie, generation):
	// the table is not read at all.
	if want := fmt.Sprintf("update %d", gen); strings.Join(p.calls, ",") != want || reads != 0 {
		t.Errorf("calls %q, reads %d; want %q, the base proven without a read and no read-back", p.calls, reads, want)
	}

	// --full replaces the whole table even though the change could be made in place.
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": labRepo["profiles/WEB.yaml"]})
	p.calls = nil
	full := e.updOpts(p)
	full.Full = true
	gen, _ = e.fake.Generation(context.Background())
	res, _ = e.applyUpd(t, full, p)
	e.checkRecorded(t, res, ModeFull)
	if want := fmt.Sprintf("replace %d", gen); strings.Join(p.calls, ",") != want {
		t.Errorf("--full: calls %q, want %q", p.calls, want)
	}

	// Nothing changed: no transaction, no mode.
	p.calls = nil
	res, err := agentOf(t, e.updOpts(p)).Apply(context.Background())
	if err != nil || res.Result != state.NoChange || res.Mode != "" || len(p.calls) != 0 || e.record(t).LastAttempt.Mode != "" {
		t.Errorf("no change: %v, result %q, mode %q, calls %q", err, res.Result, res.Mode, p.calls)
	}
}

// A table holding an object the model does not (a flag set by hand) is replaced whole: the
// difference cannot be made in place from a model that does not describe the table.
func TestApplyForeignObjectsReplace(t *testing.T) {
	e, p := updEnv(t)
	e.applyUpd(t, e.updOpts(p), p)
	if err := e.fake.Edit(nft.DefaultTable, func(rs *nft.Ruleset) {
		rs.Foreign = append(rs.Foreign, nft.ForeignObject{Kind: nft.TableFlagKind, Name: "dormant"})
	}); err != nil {
		t.Fatal(err)
	}
	e.editWEB(t)
	p.calls = nil
	res, _ := e.applyUpd(t, e.updOpts(p), p)
	e.checkRecorded(t, res, ModeFull)
	if len(p.calls) != 1 || !strings.HasPrefix(p.calls[0], "replace ") {
		t.Errorf("calls %q, want one replace", p.calls)
	}
}

// Another commit between the read and the change (the generation moved): the table is read
// again and changed in place from what it holds now, once.
func TestApplyStaleRetriesOnce(t *testing.T) {
	e, p := updEnv(t)
	e.applyUpd(t, e.updOpts(p), p)
	e.editWEB(t)
	ctx := context.Background()
	g0, _ := e.fake.Generation(ctx)
	p.calls = nil
	p.before = func() {
		// Somebody else's table: the generation is global to the namespace.
		if err := e.fake.Apply(ctx, &nft.Ruleset{Table: "other"}); err != nil {
			t.Fatal(err)
		}
	}
	res, reads := e.applyUpd(t, e.updOpts(p), p)
	e.checkRecorded(t, res, ModeIncremental)
	if want := fmt.Sprintf("update %d,update %d", g0, g0+1); strings.Join(p.calls, ",") != want {
		t.Errorf("calls %q, want %q", p.calls, want)
	}
	if res.Generation != g0+1 || reads != 1 { // the base was proven without a read; one read after ErrStale
		t.Errorf("generation %d, reads %d; want the table read again at %d", res.Generation, reads, g0+1)
	}
	if got := e.kernel(t); !strings.Contains(got, "8080") {
		t.Errorf("the change is not in the kernel:\n%s", got)
	}
}

// The generation moved, and the kernel already holds the desired ruleset when read again
// (another process applied it): nothing more is written.
func TestApplyStaleAlreadyDone(t *testing.T) {
	e, p := updEnv(t)
	e.applyUpd(t, e.updOpts(p), p)
	e.editWEB(t)
	ctx := context.Background()
	p.calls = nil
	p.before = func() {
		pr, err := agentOf(t, e.opts()).Desired(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.fake.Apply(ctx, pr.Desired); err != nil {
			t.Fatal(err)
		}
	}
	res, _ := e.applyUpd(t, e.updOpts(p), p)
	e.checkRecorded(t, res, ModeIncremental)
	if len(p.calls) != 1 || !res.Plan.Empty() {
		t.Errorf("calls %q, plan %s; want one update and the plan recomputed empty", p.calls, res.Plan.Summary())
	}
}

// What makes the pass replace the whole table in the same pass (full-fallback).
func TestApplyFallback(t *testing.T) {
	stale := fmt.Errorf("generation 7, now 8: %w", nft.ErrStale)
	tests := []struct {
		name  string
		errs  []error
		calls int // Updates before the Replace
	}{
		{"kernel refusal", []error{fmt.Errorf("receive: NFT_MSG_DELCHAIN: %w", syscall.EBUSY)}, 1},
		{"cannot be made in place", []error{fmt.Errorf("base chain input: hook changed: %w", nft.ErrNeedsFull)}, 1},
		{"stale, then refused", []error{stale, fmt.Errorf("receive: NFT_MSG_NEWRULE: %w", syscall.ENOENT)}, 2},
		{"stale twice, then refused", []error{stale, stale, fmt.Errorf("receive: NFT_MSG_NEWRULE: %w", syscall.ENOENT)}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, p := updEnv(t)
			e.applyUpd(t, e.updOpts(p), p)
			e.editWEB(t)
			p.calls, p.updateErrs = nil, tt.errs
			res, _ := e.applyUpd(t, e.updOpts(p), p)
			e.checkRecorded(t, res, ModeFullFallback)
			if len(p.calls) != tt.calls+1 || !strings.HasPrefix(p.calls[tt.calls], "replace ") {
				t.Errorf("calls %q, want %d updates then a replace", p.calls, tt.calls)
			}
			for _, c := range p.calls[:len(p.calls)-1] {
				if !strings.HasPrefix(c, "update ") {
					t.Errorf("calls %q, want %d updates then a replace", p.calls, tt.calls)
				}
			}
		})
	}
}

// Both the change in place and the replace refused: nothing changed in the kernel, LastApplied
// is the previous revision's, and the failed attempt names the mode and both refusals.
func TestApplyDoubleFailureChangesNothing(t *testing.T) {
	e, p := updEnv(t)
	e.applyUpd(t, e.updOpts(p), p)
	before, prev := e.kernel(t), e.record(t).LastApplied
	e.editWEB(t)
	p.updateErrs = []error{fmt.Errorf("receive: NFT_MSG_NEWRULE: %w", syscall.EINVAL)}
	p.replaceErrs = []error{fmt.Errorf("receive: NFT_MSG_NEWTABLE: %w", syscall.ENOMEM)}
	res, err := agentOf(t, e.updOpts(p)).Apply(context.Background())
	if err == nil {
		t.Fatal("apply succeeded")
	}
	var re *Error
	if !errors.As(err, &re) || re.StageName != "apply" || !errors.Is(err, syscall.ENOMEM) ||
		!strings.Contains(err.Error(), "invalid argument") {
		t.Errorf("error %v (%#v); want an apply error with the replace's cause and the update's refusal", err, re)
	}
	if res.Result == state.Applied || e.kernel(t) != before {
		t.Errorf("result %q; the kernel changed:\n%s", res.Result, e.kernel(t))
	}
	rec := e.record(t)
	if rec.LastApplied.Revision != prev.Revision || rec.LastApplied.RulesetDigest != prev.RulesetDigest || rec.LastApplied.Generation != prev.Generation {
		t.Errorf("last applied changed: %+v, was %+v", rec.LastApplied, prev)
	}
	if at := rec.LastAttempt; at.Result != state.Failed || at.Mode != ModeFullFallback || at.Error != err.Error() {
		t.Errorf("last attempt %+v, want failed, full-fallback, %q", at, err)
	}
}

// A dataplane that cannot tell the generation its commit produced: the table is read back and
// the generation read before the read-back is recorded.
func TestApplyUnknownGenerationReadsBack(t *testing.T) {
	e, p := updEnv(t)
	p.zeroGen = true
	res, reads := e.applyUpd(t, e.updOpts(p), p)
	e.checkRecorded(t, res, ModeFull)
	if reads != 2 {
		t.Errorf("reads %d, want the plan's and the read-back", reads)
	}
}

// A dataplane that is no nft.Updater applies the whole table as before, and reads it back.
func TestApplyPlainDataplane(t *testing.T) {
	e := newEnv(t)
	o := e.opts()
	o.Dataplane = struct{ nft.Dataplane }{e.fake}
	e.applyUpd(t, o, nil)
	e.editWEB(t)
	res, reads := e.applyUpd(t, o, nil)
	if res.Mode != ModeFull || e.record(t).LastAttempt.Mode != ModeFull || e.fake.Applies() != 2 || reads != 2 {
		t.Errorf("mode %q, applies %d, reads %d; want full, 2 applies, the pass planned and read back", res.Mode, e.fake.Applies(), reads)
	}
}

// The watch loop's pass (watchPass, in the loop) carries the mode to the metric's label.
func TestApplyModeMetric(t *testing.T) {
	e, p := updEnv(t)
	e.applyUpd(t, e.updOpts(p), p)
	e.editWEB(t)
	m := NewMetrics()
	a := agentOf(t, e.updOpts(p))
	passed := make(chan *passOutcome, 1)
	pass := func(ctx context.Context, heal bool) (*passOutcome, error) {
		out, err := a.watchPass(ctx, heal)
		if err != nil {
			t.Error(err)
		}
		passed <- out
		return out, err
	}
	startWatch(t, loopOptions{Pass: pass, Sources: []trigger.Source{}, Interval: time.Hour, Metrics: m, Logger: discard()})
	var out *passOutcome
	select {
	case out = <-passed:
	case <-time.After(5 * time.Second):
		t.Fatal("no pass")
	}
	if out == nil || out.Mode != ModeIncremental {
		t.Fatalf("pass %+v, want mode incremental", out)
	}
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the loop records the metrics after the pass returns
		fams, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() != "reconcile_apply_duration_seconds" {
				continue
			}
			for _, s := range f.GetMetric() {
				for _, l := range s.GetLabel() {
					got = append(got, fmt.Sprintf("%s=%s:%d", l.GetName(), l.GetValue(), s.GetHistogram().GetSampleCount()))
				}
			}
		}
	}
	if want := "mode=incremental:1"; strings.Join(got, ",") != want {
		t.Errorf("reconcile_apply_duration_seconds series %q, want %q", got, want)
	}
}

// The fake kernel refuses the change in place (FailNext): the table is replaced in the same
// pass, and the rules of the chains the change did not touch lose their counters (a full
// replace), while those of an incremental apply keep them.
func TestApplyFakeRefusalFallsBack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if !e.fake.Hit(nft.DefaultTable, "profile-in-APP", 0, 3) {
		t.Fatal("no rule 1 in chain profile-in-APP to count on")
	}
	e.editWEB(t)
	res, err := agentOf(t, e.opts()).Apply(ctx)
	if err != nil || res.Mode != ModeIncremental {
		t.Fatalf("apply: %v, mode %q", err, res.Mode)
	}
	if c := e.fake.Counters(nft.DefaultTable, "profile-in-APP"); len(c) == 0 || c[0] != 3 {
		t.Errorf("incremental: counters of the untouched chain %v, want 3 first", c)
	}
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": labRepo["profiles/WEB.yaml"]})
	e.fake.FailNext(&nft.FakeError{Msg: "NFT_MSG_NEWRULE", Errno: syscall.ENOBUFS, Detail: "test"})
	res, err = agentOf(t, e.opts()).Apply(ctx)
	if err != nil || res.Mode != ModeFullFallback || e.record(t).LastAttempt.Mode != ModeFullFallback {
		t.Fatalf("apply: %v, mode %q", err, res.Mode)
	}
	if got := e.kernel(t); got != res.Desired.String() {
		t.Errorf("the kernel does not hold the desired ruleset:\n%s", got)
	}
	if c := e.fake.Counters(nft.DefaultTable, "profile-in-APP"); len(c) == 0 || c[0] != 0 {
		t.Errorf("full-fallback: counters of the untouched chain %v, want 0 first (replaced)", c)
	}
}

// The table was deleted between the read and the change: read again, it is missing, and the
// table is made whole in the same pass.
func TestApplyStaleTableGone(t *testing.T) {
	e, p := updEnv(t)
	e.applyUpd(t, e.updOpts(p), p)
	e.editWEB(t)
	p.calls = nil
	p.before = func() { e.fake.Delete(nft.DefaultTable) }
	res, reads := e.applyUpd(t, e.updOpts(p), p)
	e.checkRecorded(t, res, ModeFullFallback)
	if len(p.calls) != 2 || !strings.HasPrefix(p.calls[0], "update ") || p.calls[1] != fmt.Sprintf("replace %d", res.Generation) || reads != 1 {
		t.Errorf("calls %q, reads %d; want an update, the table read again, a replace guarded by the new generation", p.calls, reads)
	}
}
