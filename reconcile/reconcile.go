// Package reconcile wires the pieces into the one-pass reconcile: fetch a snapshot of the
// policy repository, validate it, compile this host's ruleset, compare it with the kernel,
// swap the difference in as one transaction, and record what was applied. Plan, Apply and
// Status are the three passes the CLI (and the watch loop) run.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/state"
	"github.com/reconcile-dev/reconcile/schema"
)

// Options configure one pass.
type Options struct {
	// Source yields the policy repository.
	Source source.Source
	// Host is the host whose endpoints are enforced.
	Host string
	// Table is the inet table reconcile owns (default nft.DefaultTable).
	Table string
	// StateDir holds the state record.
	StateDir string
	// Netns is the key of the network namespace the Dataplane acts in: netns.Handle.Key() ("" for
	// the process's own unnamed one, its /run/netns name, or "inode-N"); with Table it keys the
	// state record, so every spelling of one namespace shares one record.
	Netns string
	// Dataplane applies and observes the table.
	Dataplane nft.Dataplane
	// Links returns the names of the interfaces that exist (in the Dataplane's namespace), to
	// tell which local endpoints are still waiting for their interface. Nil: not checked.
	Links func(ctx context.Context) (map[string]bool, error)
	// Logger receives progress at debug level and warnings; nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NoHeal makes Apply leave drift alone: when the desired ruleset is the one applied last
	// and only the kernel differs from it, nothing is written (ApplyResult.DriftLeft reports
	// it). The watch loop sets it for --heal=warn|disabled; a one-shot apply heals.
	NoHeal bool
	// Session identifies this process (e.g. random, per run). A pass skips reading the table
	// back only when the ruleset generation and the session both match what was recorded
	// (a generation restarts at reboot and when a namespace is recreated, so one recorded by
	// another process proves nothing). Empty: always read the table.
	Session string
}

func (o *Options) defaults() error {
	if o.Source == nil {
		return errors.New("no policy source")
	}
	if o.Dataplane == nil {
		return errors.New("no dataplane")
	}
	if o.Host == "" {
		return errors.New("no host name")
	}
	if o.Table == "" {
		o.Table = nft.DefaultTable
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Error is a failed pass: the stage it failed in (fetch, validate, compile, observe, apply,
// state), a short reason, and the cause. errors.As(err, &schema.Errors{}) finds every
// validation error of an invalid repository.
type Error struct {
	StageName string
	Reason    string
	Err       error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Stage names the stage and reason, for metrics (see Classify).
func (e *Error) Stage() (stage, reason string) { return e.StageName, e.Reason }

func stageErr(stage, reason string, err error) error {
	// A cause that knows its own stage (the git source's history, verify and fetch errors)
	// names it better than the caller can.
	var st stager
	if errors.As(err, &st) {
		stage, reason = st.Stage()
	}
	return &Error{StageName: stage, Reason: reason, Err: err}
}

// Waiting is a local endpoint whose interface does not exist yet. Its chains and dispatch
// elements are installed anyway, so it is enforced from the moment the interface appears.
type Waiting struct {
	Endpoint  string `json:"endpoint"`
	Interface string `json:"interface"`
}

// PlanResult is what Plan found.
type PlanResult struct {
	Snapshot   *source.Snapshot
	Repository *schema.Repository
	// Desired is the compiled ruleset; Observed what the kernel holds (nil: no table).
	Desired, Observed *nft.Ruleset
	// Plan is the difference: what Apply would change.
	Plan *plan.Plan
	// Endpoints are this host's endpoints, in repository order.
	Endpoints []*schema.Endpoint
	// Waiting are this host's endpoints whose interface does not exist yet.
	Waiting []Waiting
	// LinksError says why the interfaces could not be listed ("" when they were).
	LinksError string
	// Generation is the nftables ruleset generation read just before the table (0: the
	// dataplane cannot tell); ObserveSkipped says the table was not read back because the
	// generation showed nothing changed since the kernel held the desired ruleset.
	Generation     uint32
	ObserveSkipped bool
}

// generation reads the dataplane's ruleset generation, or 0 when it cannot tell.
func generation(ctx context.Context, dp nft.Dataplane) uint32 {
	g, ok := dp.(nft.Generationer)
	if !ok {
		return 0
	}
	id, err := g.Generation(ctx)
	if err != nil {
		return 0
	}
	return id
}

// Rules counts the rules of the desired ruleset.
func (r *PlanResult) Rules() int {
	n := 0
	if r != nil && r.Desired != nil {
		for _, c := range r.Desired.Chains {
			n += len(c.Rules)
		}
	}
	return n
}

// Plan fetches, validates and compiles the repository, reads the table from the kernel, and
// returns the difference. It changes nothing. An invalid repository is an *Error wrapping
// schema.Errors; a table of that name that reconcile did not make is an *Error wrapping a
// *ForeignTableError (Apply refuses it the same way, so neither ever changes it).
func Plan(ctx context.Context, o Options) (*PlanResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	rec, err := state.Load(o.StateDir, o.Table, o.Netns)
	if err != nil {
		return nil, stageErr("state", "load", err)
	}
	return planWith(ctx, o, rec)
}

// Desired fetches, validates and compiles the repository without reading the kernel: the
// result has Snapshot, Repository, Desired and Endpoints (no Plan, no Waiting).
func Desired(ctx context.Context, o Options) (*PlanResult, error) {
	if o.Dataplane == nil {
		o.Dataplane = noDataplane{}
	}
	if err := o.defaults(); err != nil {
		return nil, err
	}
	rec, err := state.Load(o.StateDir, o.Table, o.Netns)
	if err != nil {
		return nil, stageErr("state", "load", err)
	}
	return desiredWith(ctx, o, rec)
}

// noDataplane stands in when only the desired ruleset is wanted.
type noDataplane struct{}

func (noDataplane) Apply(context.Context, *nft.Ruleset) error { return errors.New("no dataplane") }
func (noDataplane) Observe(context.Context, string) (*nft.Ruleset, error) {
	return nil, errors.New("no dataplane")
}

func desiredWith(ctx context.Context, o Options, rec *state.Record) (*PlanResult, error) {
	log := o.Logger
	fo := source.FetchOptions{}
	if rec.LastApplied != nil {
		fo.LastApplied = rec.LastApplied.Commit
	}
	snap, err := o.Source.Fetch(ctx, fo)
	if err != nil {
		return nil, stageErr("fetch", "error", fmt.Errorf("fetch %s: %w", o.Source, err))
	}
	log.Debug("fetched", "source", snap.Source, "revision", snap.Revision, "files", len(snap.Files))
	res := &PlanResult{Snapshot: snap}

	repo, errs := schema.LoadFiles(snap.Files, snap.Refused)
	if len(errs) > 0 {
		return res, stageErr("validate", "invalid", fmt.Errorf("repository %s (%s) is invalid: %w", snap.Source, snap.Revision, errs))
	}
	res.Repository = repo
	desired, err := compile.Compile(repo, compile.Options{Host: o.Host, Table: o.Table})
	if err != nil {
		return res, stageErr("compile", "error", fmt.Errorf("compile revision %s for host %q: %w", snap.Revision, o.Host, err))
	}
	// The canonical form is what the kernel reads back: the model recorded as applied, its
	// digest and the --nft script are those of the canonical form.
	res.Desired = desired.Canonical()
	for _, e := range repo.Endpoints {
		if e.Host == o.Host {
			res.Endpoints = append(res.Endpoints, e)
		}
	}
	if len(res.Endpoints) == 0 {
		log.Warn("no endpoint of the repository is on this host; the table holds only the base chains (check --host)", "host", o.Host)
	}
	return res, nil
}

func planWith(ctx context.Context, o Options, rec *state.Record) (*PlanResult, error) {
	log := o.Logger
	res, err := desiredWith(ctx, o, rec)
	if err != nil {
		return res, err
	}
	snap, desired := res.Snapshot, res.Desired
	// The generation is read before the table: if the table then equals the desired ruleset,
	// it did so at this generation (a later change moves the generation on).
	res.Generation = generation(ctx, o.Dataplane)
	if la := rec.LastApplied; la != nil && la.Model != nil && la.Generation != 0 &&
		o.Session != "" && la.Session == o.Session &&
		la.Generation == res.Generation && la.RulesetDigest == desired.Digest() {
		// Nothing was committed in this namespace since the kernel was seen to hold exactly
		// this ruleset: no need to read it back (Flux: the applied revision, in sync).
		res.Observed = la.Model
		res.ObserveSkipped = true
		log.Debug("ruleset generation unchanged since the kernel matched; not reading it back", "generation", res.Generation)
	} else {
		observed, err := o.Dataplane.Observe(ctx, o.Table)
		if err != nil {
			return res, stageErr("observe", "error", fmt.Errorf("read table inet %q: %w", o.Table, err))
		}
		res.Observed = observed
		// A table of this name that reconcile did not make (an operator's inet filter) is
		// never replaced: the pass stops here, before anything could write to it.
		if err := foreignTable(o.Table, observed, rec); err != nil {
			return res, stageErr("observe", "foreign-table", err)
		}
	}
	res.Plan = plan.Diff(desired, res.Observed)

	if o.Links != nil && len(res.Endpoints) > 0 {
		links, err := o.Links(ctx)
		if err != nil {
			// Not fatal: the ruleset does not depend on which interfaces exist.
			res.LinksError = err.Error()
			log.Warn("cannot list interfaces; waiting endpoints unknown", "err", err)
		} else {
			for _, e := range res.Endpoints {
				if !links[e.Interface] {
					res.Waiting = append(res.Waiting, Waiting{Endpoint: e.ID, Interface: e.Interface})
				}
			}
			sort.Slice(res.Waiting, func(i, j int) bool { return res.Waiting[i].Endpoint < res.Waiting[j].Endpoint })
		}
	}
	c := res.Plan.Changes()
	log.Debug("planned", "revision", snap.Revision, "add", c.Add, "change", c.Change, "destroy", c.Destroy, "waiting", len(res.Waiting))
	return res, nil
}

// ApplyResult is what Apply did.
type ApplyResult struct {
	*PlanResult
	// Result is state.Applied (the ruleset was written) or state.NoChange.
	Result state.Result
	// AlreadyApplied is true for a no-change pass when the state already recorded this
	// revision as applied.
	AlreadyApplied bool
	// Duration is how long the transaction took (zero for no-change).
	Duration time.Duration
	// Digest is the digest of the desired ruleset.
	Digest string
	// Record is the state record as written.
	Record *state.Record
	// DriftLeft is true when NoHeal left a drifted kernel alone.
	DriftLeft bool
}

// Apply validates and compiles the repository and, when the kernel differs from the desired
// ruleset, replaces the table in one transaction; then it records the pass in the state.
// When nothing differs nothing is written to the kernel (a "no-change" attempt is recorded).
// A table of that name that reconcile did not make is never replaced: Apply returns an *Error
// wrapping a *ForeignTableError (see Plan). On any error the kernel is unchanged, LastApplied
// is unchanged, and LastAttempt records the failure.
func Apply(ctx context.Context, o Options) (*ApplyResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	log := o.Logger
	rec, err := state.Load(o.StateDir, o.Table, o.Netns)
	if err != nil {
		// Without a readable record we cannot record the attempt either; change nothing.
		return nil, stageErr("state", "load", err)
	}
	pr, err := planWith(ctx, o, rec)
	if err != nil {
		a := state.Attempt{Time: o.Now().UTC(), Result: state.Failed, Error: err.Error()}
		if pr != nil && pr.Snapshot != nil {
			a.Revision = pr.Snapshot.Revision
		}
		return &ApplyResult{PlanResult: pr, Record: rec}, failAttempt(o, rec, a, err)
	}
	snap := pr.Snapshot
	res := &ApplyResult{PlanResult: pr, Digest: pr.Desired.Digest(), Record: rec}
	applied := func(now time.Time) {
		rec.LastApplied = &state.LastApplied{
			Source: snap.Source, Revision: snap.Revision, Commit: snap.Commit,
			RulesetDigest: res.Digest, Model: pr.Desired, Time: now, Host: o.Host,
		}
	}

	// A table that is gone (reboot, another tool's `nft flush ruleset`) is not drift to leave
	// alone: the kernel would enforce nothing while the state claims the ruleset applied.
	if !pr.Plan.Empty() && o.NoHeal && pr.Observed != nil && rec.LastApplied != nil && rec.LastApplied.RulesetDigest == res.Digest {
		// Only the kernel changed since this ruleset was applied: report, do not heal.
		now := o.Now().UTC()
		res.Result = state.NoChange
		res.AlreadyApplied = rec.LastApplied.Revision == snap.Revision
		res.DriftLeft = true
		rec.AddAttempt(state.Attempt{Revision: snap.Revision, RulesetDigest: res.Digest, Time: now, Result: state.NoChange,
			Error: "drift left alone (heal off): " + pr.Plan.Summary()})
		if err := state.Save(o.StateDir, rec); err != nil {
			return res, stageErr("state", "save", err)
		}
		log.Warn("drift left alone (heal off)", "revision", snap.Revision, "drift", pr.Plan.Summary())
		return res, nil
	}

	if pr.Plan.Empty() {
		now := o.Now().UTC()
		res.Result = state.NoChange
		la := rec.LastApplied
		res.AlreadyApplied = la != nil && la.Revision == snap.Revision && la.RulesetDigest == res.Digest
		if !res.AlreadyApplied {
			// The kernel already holds this revision's ruleset (a commit that changed nothing
			// for this host, or a lost state record): record it as the applied one.
			applied(now)
		}
		rec.LastApplied.Generation, rec.LastApplied.Session = pr.Generation, o.Session
		rec.AddAttempt(state.Attempt{Revision: snap.Revision, RulesetDigest: res.Digest, Time: now, Result: state.NoChange})
		if err := state.Save(o.StateDir, rec); err != nil {
			return res, stageErr("state", "save", err)
		}
		log.Info("no changes", "revision", snap.Revision, "waiting", len(pr.Waiting))
		return res, nil
	}

	start := time.Now()
	if err := o.Dataplane.Apply(ctx, pr.Desired); err != nil {
		err = stageErr("apply", "transaction", fmt.Errorf("apply revision %s to table inet %q: %w", snap.Revision, o.Table, err))
		a := state.Attempt{Revision: snap.Revision, RulesetDigest: res.Digest, Time: o.Now().UTC(), Result: state.Failed, Error: err.Error()}
		return res, failAttempt(o, rec, a, err)
	}
	res.Duration = time.Since(start)
	res.Result = state.Applied
	now := o.Now().UTC()
	applied(now)
	rec.AddAttempt(state.Attempt{Revision: snap.Revision, RulesetDigest: res.Digest, Time: now, Result: state.Applied})
	c := pr.Plan.Changes()
	log.Info("applied", "revision", snap.Revision, "add", c.Add, "change", c.Change, "destroy", c.Destroy,
		"duration", res.Duration, "waiting", len(pr.Waiting))

	// Read back: a kernel that does not hold what was applied would show as drift forever.
	// When it does hold it, the generation read before the read-back is the one at which the
	// kernel matched, and later passes need not read the table while it stays the same.
	gen := generation(ctx, o.Dataplane)
	if back, err := o.Dataplane.Observe(ctx, o.Table); err != nil {
		log.Warn("cannot read the table back after apply", "err", err)
	} else if d := plan.Diff(pr.Desired, back); !d.Empty() {
		log.Warn("the kernel reads back differently from what was applied", "summary", d.Summary())
	} else {
		rec.LastApplied.Generation, rec.LastApplied.Session = gen, o.Session
	}
	if err := state.Save(o.StateDir, rec); err != nil {
		return res, stageErr("state", "save", fmt.Errorf("revision %s was applied but not recorded: %w", snap.Revision, err))
	}
	return res, nil
}

// failAttempt records a failed attempt (keeping LastApplied) and returns err, joined with
// the error of saving the record if that failed too.
func failAttempt(o Options, rec *state.Record, a state.Attempt, err error) error {
	// Debug, not Warn: the caller reports err (the CLI on stderr, the watch loop in its log);
	// a warning here would print the same problem twice.
	o.Logger.Debug("apply failed; the kernel is unchanged", "revision", a.Revision, "err", err)
	rec.AddAttempt(a)
	if serr := state.Save(o.StateDir, rec); serr != nil {
		return errors.Join(err, stageErr("state", "save", serr))
	}
	return err
}

// StatusResult is the state of the table: what was applied last, what the source holds now,
// and how the kernel has drifted from what was applied.
type StatusResult struct {
	Table string
	Netns string
	// Host is the host status was asked about (Options.Host); when the last apply was for
	// another host (a renamed host, a unit with the wrong --host), the kernel holds that
	// host's ruleset: not in sync and not up to date for this one.
	Host string
	// LastApplied and LastAttempt come from the state record (nil: never).
	LastApplied *state.LastApplied
	LastAttempt *state.Attempt
	History     []state.Attempt
	// SourceHead is the revision the source offers now; SourceError says why it could not
	// be fetched ("" when it was).
	SourceHead  string
	SourceError string
	// TableExists tells whether the kernel has the table.
	TableExists bool
	// Drift is the kernel's difference from the last applied ruleset (nil: never applied).
	Drift *plan.Plan
	// Foreign is set when the table exists and reconcile did not make it: apply would refuse
	// it (nil: the table is reconcile's, or absent).
	Foreign *ForeignTableError
}

// InSync reports whether a ruleset was applied and the kernel still holds exactly it.
func (s *StatusResult) InSync() bool {
	return s.LastApplied != nil && s.Drift != nil && s.Drift.Empty() && !s.OtherHost()
}

// OtherHost reports whether the last apply compiled the ruleset for another host than Host.
func (s *StatusResult) OtherHost() bool {
	return s.LastApplied != nil && s.Host != "" && s.LastApplied.Host != "" && s.LastApplied.Host != s.Host
}

// UpToDate reports whether the source head is the revision applied last (false when either
// is unknown).
func (s *StatusResult) UpToDate() bool {
	return s.LastApplied != nil && s.SourceHead != "" && s.SourceHead == s.LastApplied.Revision && !s.OtherHost()
}

// Status reads the state record and the kernel and reports the drift of the kernel from the
// ruleset applied last. A source that cannot be fetched is noted, not an error. Status changes
// nothing.
func Status(ctx context.Context, o Options) (*StatusResult, error) {
	if o.Table == "" {
		o.Table = nft.DefaultTable
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Dataplane == nil {
		return nil, errors.New("no dataplane")
	}
	rec, err := state.Load(o.StateDir, o.Table, o.Netns)
	if err != nil {
		return nil, stageErr("state", "load", err)
	}
	res := &StatusResult{Table: o.Table, Netns: o.Netns, Host: o.Host, LastApplied: rec.LastApplied, LastAttempt: rec.LastAttempt, History: rec.History}
	if o.Source != nil {
		fo := source.FetchOptions{}
		if rec.LastApplied != nil {
			fo.LastApplied = rec.LastApplied.Commit
		}
		if snap, err := o.Source.Fetch(ctx, fo); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.SourceError = err.Error()
			o.Logger.Debug("source head unknown", "source", o.Source.String(), "err", err)
		} else {
			res.SourceHead = snap.Revision
		}
	} else {
		res.SourceError = "no source given"
	}
	observed, err := o.Dataplane.Observe(ctx, o.Table)
	if err != nil {
		return nil, stageErr("observe", "error", fmt.Errorf("read table inet %q: %w", o.Table, err))
	}
	res.TableExists = observed != nil
	var fe *ForeignTableError
	if errors.As(foreignTable(o.Table, observed, rec), &fe) {
		res.Foreign = fe
	}
	if rec.LastApplied != nil && rec.LastApplied.Model != nil {
		res.Drift = plan.Drift(rec.LastApplied.Model, observed)
	}
	return res, nil
}
