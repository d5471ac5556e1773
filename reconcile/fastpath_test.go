package reconcile

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// stampSource is a directory source that counts its fetches and whose stamp the test sets (a
// source.Stamper: the directory's own stamp needs files older than 2 s).
type stampSource struct {
	source.Dir
	stamp   string
	fetches int
}

func (s *stampSource) Fetch(ctx context.Context, o source.FetchOptions) (*source.Snapshot, error) {
	s.fetches++
	return s.Dir.Fetch(ctx, o)
}

func (s *stampSource) Stamp(context.Context) (string, error) { return s.stamp, nil }

// headSource is a git-like source (a source.Header): Head tells the revision without the
// files; it counts heads and fetches.
type headSource struct {
	source.Dir
	commit         string
	heads, fetches int
}

func (s *headSource) String() string { return "https://example.invalid/policy.git" }

func (s *headSource) revision() string { return "main@sha1:" + s.commit }

func (s *headSource) Head(context.Context, source.FetchOptions) (*source.Head, error) {
	s.heads++
	return &source.Head{Source: s.String(), Revision: s.revision(), Commit: s.commit}, nil
}

func (s *headSource) Fetch(ctx context.Context, o source.FetchOptions) (*source.Snapshot, error) {
	s.fetches++
	snap, err := s.Dir.Fetch(ctx, o)
	if err != nil {
		return nil, err
	}
	snap.Source, snap.Revision, snap.Commit = s.String(), s.revision(), s.commit
	return snap, nil
}

// fresh is the Config of a new process (its own session) with src.
func (e *env) fresh(src source.Source) Config {
	o := e.opts()
	o.Source = src
	o.Session = NewSession()
	return o
}

func withCompilerVersion(t *testing.T, v string) {
	t.Helper()
	old := compilerVersion
	compilerVersion = func() string { return v }
	t.Cleanup(func() { compilerVersion = old })
}

// A fresh process whose source revision, compiler and kernel identity are those recorded finds
// nothing to do without fetching the files, compiling or reading the table, and records the
// attempt only (the model file is not rewritten).
func TestFastNoChange(t *testing.T) {
	withCompilerVersion(t, "v1")
	for _, kind := range []string{"dir", "git"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			var src source.Source
			var fetches func() int
			if kind == "dir" {
				s := &stampSource{Dir: source.Dir{Path: e.repo}, stamp: "stat:1"}
				src, fetches = s, func() int { return s.fetches }
			} else {
				s := &headSource{Dir: source.Dir{Path: e.repo}, commit: strings.Repeat("a", 40)}
				src, fetches = s, func() int { return s.fetches }
			}
			first, err := agentOf(t, e.fresh(src)).Apply(ctx)
			if err != nil || first.Result != state.Applied || first.Fast {
				t.Fatalf("first apply: %v, %+v", err, first)
			}
			la := e.record(t).LastApplied
			if la.CompileKey == "" || la.NetnsCookie == 0 || la.BootID == "" || la.Generation == 0 {
				t.Fatalf("identity or key not recorded: %+v", la)
			}
			modelPath := filepath.Join(e.stateDir, la.ModelFile)
			before, err := os.Stat(modelPath)
			if err != nil {
				t.Fatal(err)
			}
			f, o := fetches(), e.fake.Observes()
			res, err := agentOf(t, e.fresh(src)).Apply(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Fast || res.Result != state.NoChange || !res.AlreadyApplied || res.Snapshot.Revision != la.Revision || res.Digest != la.RulesetDigest || !res.Plan.Empty() {
				t.Fatalf("second apply: fast %v result %v already %v revision %q digest %.12s", res.Fast, res.Result, res.AlreadyApplied, res.Snapshot.Revision, res.Digest)
			}
			if fetches() != f || e.fake.Observes() != o || e.fake.Attempts() != 1 || res.Desired != nil {
				t.Errorf("the fast pass fetched %d times, read the table %d times, sent %d transactions, compiled %v",
					fetches()-f, e.fake.Observes()-o, e.fake.Attempts()-1, res.Desired != nil)
			}
			rec := e.record(t)
			if rec.LastAttempt.Result != state.NoChange || rec.LastAttempt.Time.Equal(la.Time) || rec.LastApplied.ModelFile != la.ModelFile {
				t.Errorf("record after the fast pass: attempt %+v, model %q", rec.LastAttempt, rec.LastApplied.ModelFile)
			}
			if after, err := os.Stat(modelPath); err != nil || !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
				t.Errorf("the model file was rewritten or removed: %v", err)
			}
		})
	}
}

// Each condition of the fast path, broken alone, makes the pass load, compile and read the
// table in full (and, where the kernel is unchanged, still find nothing to do).
func TestFastNoChangeConditions(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		break_  func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent)
		applied bool // the full pass applies (the kernel lost the ruleset)
		reads   bool // the table is read before the plan (else the identity still proves the kernel unchanged)
	}{
		{"apply --full", func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent) { cfg.Full = true }, false, true},
		{"source stamp", func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent) { s.stamp = "stat:2" }, false, false},
		{"no source stamp", func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent) { s.stamp = "" }, false, false},
		{"compiler version", func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent) { withCompilerVersion(t, "v2") }, false, false},
		{"compiler version unknown", func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent) { withCompilerVersion(t, "") }, false, false},
		{"host", func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent) { cfg.Host = "node-2" }, true, false},
		{"generation (a hand edit elsewhere)", func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent) {
			if err := e.fake.Apply(ctx, &nft.Ruleset{Table: "someone-else"}); err != nil {
				t.Fatal(err)
			}
		}, false, true},
		{"boot id", func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent) {
			*a = agentOf(t, *cfg)
			(*a).bootID = func() string { return "another-boot" }
		}, false, true},
		{"netns cookie (namespace made again, same generation and table)", func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent) {
			old := e.fake
			rs, err := old.Observe(ctx, nft.DefaultTable)
			if err != nil {
				t.Fatal(err)
			}
			gen, _ := old.Generation(ctx)
			e.fake = nft.NewFake()
			for {
				g, _ := e.fake.Generation(ctx)
				if g+1 == gen {
					break
				}
				if err := e.fake.Apply(ctx, &nft.Ruleset{Table: "other"}); err != nil {
					t.Fatal(err)
				}
			}
			e.fake.Delete("other")
			if err := e.fake.Apply(ctx, rs); err != nil {
				t.Fatal(err)
			}
			if g, _ := e.fake.Generation(ctx); g != gen {
				t.Fatalf("generation %d, want %d", g, gen)
			}
			cfg.Dataplane = e.fake
		}, false, true},
		{"netns cookie unknown", func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent) { e.fake.WithoutNetnsCookie() }, false, true},
		{"table deleted", func(t *testing.T, e *env, s *stampSource, cfg *Config, a **Agent) { e.fake.Delete(nft.DefaultTable) }, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withCompilerVersion(t, "v1")
			e := newEnv(t)
			s := &stampSource{Dir: source.Dir{Path: e.repo}, stamp: "stat:1"}
			if _, err := agentOf(t, e.fresh(s)).Apply(ctx); err != nil {
				t.Fatal(err)
			}
			cfg := e.fresh(s)
			var a *Agent
			tt.break_(t, e, s, &cfg, &a)
			if a == nil {
				a = agentOf(t, cfg)
			}
			f, o := s.fetches, e.fake.Observes()
			res, err := a.Apply(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Fast || s.fetches != f+1 || res.Desired == nil {
				t.Errorf("fast %v, fetches %d, compiled %v; want the repository loaded and compiled", res.Fast, s.fetches-f, res.Desired != nil)
			}
			if read := !res.ObserveSkipped; read != tt.reads || (read && e.fake.Observes() == o) {
				t.Errorf("table read %v (observes %d), want %v", read, e.fake.Observes()-o, tt.reads)
			}
			if want := map[bool]state.Result{true: state.Applied, false: state.NoChange}[tt.applied]; res.Result != want {
				t.Errorf("result %v, want %v", res.Result, want)
			}
		})
	}
}

// After a full pass that broke a condition, the next fresh process takes the fast path again:
// the full pass records the new identity, stamp and key.
func TestFastNoChangeResumes(t *testing.T) {
	withCompilerVersion(t, "v1")
	e := newEnv(t)
	ctx := context.Background()
	s := &stampSource{Dir: source.Dir{Path: e.repo}, stamp: "stat:1"}
	if _, err := agentOf(t, e.fresh(s)).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	// A hand edit: the generation moves, the full pass sees the drift and heals it.
	e.editChain(t, "forward-from", func(c *nft.Chain) { c.Rules = c.Rules[1:] })
	s.stamp = "stat:2"
	withCompilerVersion(t, "v2")
	res, err := agentOf(t, e.fresh(s)).Apply(ctx)
	if err != nil || res.Fast || res.Result != state.Applied {
		t.Fatalf("after a hand edit: %v, fast %v, result %v", err, res != nil && res.Fast, res.Result)
	}
	res, err = agentOf(t, e.fresh(s)).Apply(ctx)
	if err != nil || !res.Fast {
		t.Fatalf("the next pass: %v, fast %v", err, res != nil && res.Fast)
	}
	// A change of the repository with a new stamp: read, compiled, applied.
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": labRepo["profiles/WEB.yaml"] + "  - action: deny\n    protocol: udp\n"})
	s.stamp = "stat:3"
	if res, err = agentOf(t, e.fresh(s)).Apply(ctx); err != nil || res.Fast || res.Result != state.Applied {
		t.Fatalf("after a change: %v, %+v", err, res)
	}
}

// status with the kernel unchanged since the last apply reports in sync without reading the
// table; with Full, or after a commit in the namespace, it reads it.
func TestStatusFast(t *testing.T) {
	withCompilerVersion(t, "v1")
	e := newEnv(t)
	ctx := context.Background()
	s := &stampSource{Dir: source.Dir{Path: e.repo}, stamp: "stat:1"}
	if _, err := agentOf(t, e.fresh(s)).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	la := e.record(t).LastApplied
	o, f := e.fake.Observes(), s.fetches
	st, err := agentOf(t, e.fresh(s)).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ObserveSkipped || !st.InSync() || !st.TableExists || st.Generation != la.Generation || e.fake.Observes() != o {
		t.Errorf("status: skipped %v, in sync %v, exists %v, generation %d (recorded %d), observes %d -> %d",
			st.ObserveSkipped, st.InSync(), st.TableExists, st.Generation, la.Generation, o, e.fake.Observes())
	}
	if st.SourceHead != la.Revision || !st.UpToDate() || s.fetches != f {
		t.Errorf("source head %q (applied %q) read with %d fetches; want it from the stamp", st.SourceHead, la.Revision, s.fetches-f)
	}

	full := e.fresh(s)
	full.Full = true
	if st, err = agentOf(t, full).Status(ctx); err != nil || st.ObserveSkipped || !st.InSync() || e.fake.Observes() != o+1 {
		t.Fatalf("status --full: %v, skipped %v, in sync %v, observes %d", err, st.ObserveSkipped, st.InSync(), e.fake.Observes()-o)
	}

	e.editChain(t, "forward-from", func(c *nft.Chain) { c.Rules = c.Rules[1:] })
	if st, err = agentOf(t, e.fresh(s)).Status(ctx); err != nil || st.ObserveSkipped || st.InSync() || st.Drift.Empty() {
		t.Fatalf("status after a hand edit: %v, skipped %v, in sync %v", err, st.ObserveSkipped, st.InSync())
	}
}

// The plan and drift a pass reports without comparing are those the comparison gives.
func TestEmptyPlanIsDiffOfEqual(t *testing.T) {
	e := newEnv(t)
	pr, err := agentOf(t, e.opts()).Desired(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		kind string
		want *plan.Plan
	}{{"plan", plan.Diff(pr.Desired, pr.Desired)}, {"drift", plan.Drift(pr.Desired, pr.Desired)}} {
		got, _ := json.Marshal(emptyPlan(tt.kind, nft.DefaultTable))
		want, _ := json.Marshal(tt.want)
		if string(got) != string(want) {
			t.Errorf("emptyPlan(%q) = %s, want %s", tt.kind, got, want)
		}
	}
}

// A lost model file is written again by the next full pass that finds the kernel in sync.
func TestLostModelFileRestored(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	la := e.record(t).LastApplied
	path := filepath.Join(e.stateDir, la.ModelFile)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	full := e.fresh(e.opts().Source)
	full.Full = true
	if res, err := agentOf(t, full).Apply(ctx); err != nil || res.Result != state.NoChange {
		t.Fatalf("%v, %+v", err, res)
	}
	if m, err := e.record(t).LastApplied.LoadModel(); err != nil || m.Digest() != la.RulesetDigest {
		t.Fatalf("model after the pass: %v, %v", m, err)
	}
}

// A lost model file is not left lost by the fast no-change pass (status needs it for drift):
// a fresh process takes the full pass instead, which finds nothing to change and writes the
// model file again; the pass after that is fast again.
func TestLostModelFileNotFast(t *testing.T) {
	withCompilerVersion(t, "v1")
	e := newEnv(t)
	ctx := context.Background()
	src := &stampSource{Dir: source.Dir{Path: e.repo}, stamp: "stat:1"}
	if _, err := agentOf(t, e.fresh(src)).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	la := e.record(t).LastApplied
	if !la.ModelPresent() {
		t.Fatalf("model file %q not present after the apply", la.ModelFile)
	}
	path := filepath.Join(e.stateDir, la.ModelFile)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if e.record(t).LastApplied.ModelPresent() {
		t.Fatal("ModelPresent is true with the model file removed")
	}
	res, err := agentOf(t, e.fresh(src)).Apply(ctx)
	if err != nil || res.Result != state.NoChange || res.Fast {
		t.Fatalf("pass after the model file was lost: %v, result %v fast %v", err, res.Result, res.Fast)
	}
	if m, err := e.record(t).LastApplied.LoadModel(); err != nil || m.Digest() != la.RulesetDigest {
		t.Fatalf("model after the pass: %v, %v", m, err)
	}
	if res, err := agentOf(t, e.fresh(src)).Apply(ctx); err != nil || !res.Fast {
		t.Fatalf("pass with the model file back: %v, %+v", err, res)
	}
}
