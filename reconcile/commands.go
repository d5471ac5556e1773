package reconcile

import (
	"context"
	"errors"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/state"
	"github.com/reconcile-dev/reconcile/schema"
)

// Plan fetches, validates and compiles the repository, reads the table from the kernel, and
// returns the difference. It changes nothing. An invalid repository is an *Error wrapping
// schema.Errors; a table of that name that reconcile did not make is an *Error wrapping a
// *ForeignTableError (Apply refuses it the same way, so neither ever changes it). Other
// errors: those of Prepare, of the state record, the fetch, the compiler and the kernel.
func (a *Agent) Plan(ctx context.Context) (*PlanResult, error) {
	if err := a.Prepare(); err != nil {
		return nil, err
	}
	rec, err := a.loadState()
	if err != nil {
		return nil, err
	}
	return a.plan(ctx, rec)
}

// Desired fetches, validates and compiles the repository without touching the kernel: the
// result has Snapshot, Repository, Desired and Endpoints (no Plan, no Waiting). Errors as Plan's.
func (a *Agent) Desired(ctx context.Context) (*PlanResult, error) {
	if err := a.Prepare(); err != nil {
		return nil, err
	}
	rec, err := a.loadState()
	if err != nil {
		return nil, err
	}
	src, err := a.Source()
	if err != nil {
		return nil, err
	}
	return a.desired(ctx, src, rec)
}

// PlanAgainst plans the repository's ruleset against the one compiled from base (for the same
// host and table) instead of the kernel's: in a policy repository's CI, the plan of a pull
// request. base is a directory (a checkout of the base branch) or a git revision of the
// source's repository (a branch, origin/main, a tag, a commit; see againstSource). The kernel
// is not touched. An error of base's repository is prefixed with `--against "base": `.
func (a *Agent) PlanAgainst(ctx context.Context, base string) (*PlanResult, error) {
	pr, err := a.Desired(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := a.loadState()
	if err != nil {
		return nil, err
	}
	bsrc, err := a.againstSource(base)
	if err != nil {
		return nil, err
	}
	br, err := a.desired(ctx, bsrc, rec)
	if err != nil {
		return nil, againstErr(base, err)
	}
	pr.Observed = br.Desired
	pr.Plan = plan.Diff(pr.Desired, br.Desired)
	return pr, nil
}

// Apply takes the lock of the table in the namespace (failing at once when another process
// holds it: "another reconcile (pid N) is applying to table inet T in this namespace; try
// again later"), validates and compiles the repository and, when the kernel differs from the
// desired ruleset, changes the table in one transaction (only what differs, when the
// dataplane can: see ApplyResult.Mode; the whole table with Config.Full); then it records the
// pass in the state. When nothing differs nothing is written to the kernel (a "no-change" attempt is
// recorded), and drift is healed. A table that reconcile did not make is never replaced (see
// Plan). On any error the kernel is unchanged, LastApplied is unchanged, and LastAttempt
// records the failure; the result, when not nil, says how far the pass got (Result is Applied
// when the transaction went in and only the record failed).
func (a *Agent) Apply(ctx context.Context) (*ApplyResult, error) {
	if err := a.Prepare(); err != nil {
		return nil, err
	}
	if err := a.checkStateDir(); err != nil {
		return nil, err
	}
	release, err := a.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer release()
	// A process run by a timer finds nothing to do most of the time: when the state record
	// shows it cheaply, neither the repository nor the table is read (fastNoChange).
	rec, err := a.recoverState()
	if err != nil {
		return nil, err
	}
	res, ok, err := a.fastNoChange(ctx, rec)
	switch {
	case ok:
		if err == nil {
			a.markApplied(ctx, rec)
		}
		return res, err
	case err != nil:
		// The source could not be fetched: fetching again in the full pass would only
		// double the wait (--fetch-timeout).
		at := state.Attempt{Time: a.cfg.Now().UTC(), Result: state.Failed, Error: err.Error()}
		return &ApplyResult{Record: rec}, a.failAttempt(rec, at, err)
	}
	return a.applyWith(ctx, rec, false, a.cfg.Full)
}

// Status reads the state record and the kernel and reports the drift of the kernel from the
// ruleset applied last. A source that cannot be fetched is noted (SourceError), not an error.
// Status changes nothing.
func (a *Agent) Status(ctx context.Context) (*StatusResult, error) {
	if err := a.Prepare(); err != nil {
		return nil, err
	}
	return a.status(ctx, true)
}

// ValidateResult is what Validate found.
type ValidateResult struct {
	Snapshot *Snapshot
	// Repository is the loaded repository (nil when it could not be loaded).
	Repository *schema.Repository
	// Errors are every problem, sorted, each once: those of loading, or, for a repository
	// that loaded, those of compiling the ruleset of each host its endpoints name.
	Errors schema.Errors
}

// Valid reports whether the repository loaded and compiles for every host.
func (r *ValidateResult) Valid() bool { return len(r.Errors) == 0 }

// Validate fetches and loads the repository and compiles the ruleset of every host its
// endpoints name, so that a repository that validates is one every host can apply. The
// problems are in the result; the error is one of the source (it could not be opened or
// fetched). The kernel and the state record are not touched.
func (a *Agent) Validate(ctx context.Context) (*ValidateResult, error) {
	snap, repo, errs, err := a.fetchLoad(ctx)
	if err != nil {
		return nil, err
	}
	res := &ValidateResult{Snapshot: snap, Repository: repo, Errors: errs}
	if len(errs) == 0 && repo != nil {
		res.Errors = a.compileAll(repo)
	}
	return res, nil
}

// fetchLoad fetches the repository (without the state record: the commands that do not
// touch the kernel do not read it) and loads it.
func (a *Agent) fetchLoad(ctx context.Context) (*source.Snapshot, *schema.Repository, schema.Errors, error) {
	src, err := a.Source()
	if err != nil {
		return nil, nil, nil, err
	}
	snap, err := a.fetch(ctx, src, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	repo, errs := a.load(snap)
	return snap, repo, errs, nil
}

// compileAll compiles every host the endpoints of repo name, in name order, and returns the
// failures as errors of the repository, each message once.
func (a *Agent) compileAll(repo *schema.Repository) schema.Errors {
	hosts := map[string]bool{}
	for _, e := range repo.Endpoints {
		hosts[e.Host] = true
	}
	names := make([]string, 0, len(hosts))
	for h := range hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	// Compile is pure and reads repo only: the hosts are compiled on every core, sharing one
	// index of the tags' members.
	tags := compile.NewTagIndex(repo)
	failures := make([]error, len(names))
	onEveryCore(len(names), func(i int) bool {
		_, failures[i] = a.compileFor(repo, names[i], tags)
		return true
	})
	var errs schema.Errors
	seen := map[string]bool{}
	for _, err := range failures {
		if err == nil {
			continue
		}
		var se schema.Errors
		if !errors.As(err, &se) {
			se = schema.Errors{{Msg: err.Error()}}
		}
		for _, e := range se {
			if !seen[e.Error()] {
				seen[e.Error()] = true
				errs = append(errs, e)
			}
		}
	}
	errs.Sort()
	return errs
}

// onEveryCore calls f(i) for every i in [0, n), on GOMAXPROCS goroutines taking the next index
// in turn, and returns when all calls have returned. Once a call returns false no index is
// handed out any more (the calls under way finish).
func onEveryCore(n int, f func(i int) (more bool)) {
	next := atomic.Int64{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n && !stop.Load(); i = int(next.Add(1) - 1) {
				if !f(i) {
					stop.Store(true)
				}
			}
		}()
	}
	wg.Wait()
}

// network fetches and loads the repository and returns the model of every host, compiling a
// host's ruleset (for the Agent's table) only when a question involves it. An invalid
// repository is an *Error wrapping schema.Errors, with the snapshot.
func (a *Agent) network(ctx context.Context) (*simulate.Network, *source.Snapshot, error) {
	snap, repo, errs, err := a.fetchLoad(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(errs) > 0 {
		return nil, snap, invalid(snap, errs)
	}
	if repo == nil {
		return nil, snap, errors.New("the repository could not be loaded")
	}
	n := &simulate.Network{Repo: repo, Rulesets: map[string]*nft.Ruleset{}}
	n.Compile = func(host string) (*nft.Ruleset, error) { return a.compileFor(repo, host, nil) }
	return n, snap, nil
}

// ExplainResult is what Explain found, and the revision it was asked of.
type ExplainResult struct {
	Snapshot    *Snapshot
	Explanation Explanation
}

// Explain traces the first packet of the flow q through the compiled rulesets of the hosts it
// crosses (simulate.Network.Explain). An invalid repository is an *Error wrapping
// schema.Errors; the result then holds the Snapshot only. Nothing is changed.
func (a *Agent) Explain(ctx context.Context, q Query) (*ExplainResult, error) {
	n, snap, err := a.network(ctx)
	if err != nil {
		return &ExplainResult{Snapshot: snap}, err
	}
	ex, err := n.Explain(q)
	if err != nil {
		return &ExplainResult{Snapshot: snap}, err
	}
	return &ExplainResult{Snapshot: snap, Explanation: ex}, nil
}

// TestResult is the outcome of the expectations of tests/*.yaml.
type TestResult struct {
	Snapshot *Snapshot
	// Results are one per expectation, in repository order.
	Results []CheckResult
}

// Test checks every expectation of the repository's tests/*.yaml against the model, as
// Explain traces a flow. An invalid repository is an *Error wrapping schema.Errors; the
// result then holds the Snapshot only. Nothing is changed.
func (a *Agent) Test(ctx context.Context) (*TestResult, error) {
	n, snap, err := a.network(ctx)
	if err != nil {
		return &TestResult{Snapshot: snap}, err
	}
	return &TestResult{Snapshot: snap, Results: n.Check(n.Repo.Tests)}, nil
}
