package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/state"
	"github.com/reconcile-dev/reconcile/schema"
)

// The one pipeline of a pass, as steps every method of the Agent uses:
//
//	loadState -> fetch -> load (validate) -> compileFor -> desired
//	          -> plan (observe, diff, waiting interfaces)
//	          -> apply (state.SaveModel, then the transaction) -> record (state.Save: the head)
//
// Each step returns an *Error naming its stage (fetch, validate, compile, observe, apply,
// state) for the metrics (Classify).

// fetch takes a snapshot of src; rec, when not nil, names the commit applied last (the git
// source refuses a history that does not descend from it).
func (a *Agent) fetch(ctx context.Context, src source.Source, rec *state.Record) (*source.Snapshot, error) {
	fo := fetchOptions(rec)
	if c := a.decodeCache(); c != nil {
		// The files the decode cache holds (by path and git blob id) need not be read: load
		// takes them from the cache (LoadCachedReading reads one whose entry went bad).
		fo.Known = c.Has
	}
	snap, err := a.fetchSource(ctx, src, fo)
	if err != nil {
		return nil, fetchErr(src, err)
	}
	return snap, nil
}

// fetchErr is the *Error of a failed fetch of src: a *FetchTimeoutError as it is (it names
// the source), any other cause prefixed "fetch <src>: ".
func fetchErr(src source.Source, err error) error {
	var te *FetchTimeoutError
	if errors.As(err, &te) {
		return stageErr("fetch", "timeout", err)
	}
	return stageErr("fetch", "error", fmt.Errorf("fetch %s: %w", src, err))
}

// fetchOptions names the commit applied last, from rec (nil: none), and the key under which
// the source keeps its own mark of it (state.Stem of rec; see markApplied).
func fetchOptions(rec *state.Record) source.FetchOptions {
	fo := source.FetchOptions{}
	if rec != nil && rec.LastApplied != nil {
		fo.LastApplied = rec.LastApplied.Commit
	}
	if rec != nil && rec.Table != "" {
		fo.AppliedKey = state.Stem(rec.Table, rec.Netns)
	}
	return fo
}

// load decodes and validates the snapshot's files: the repository, or every problem found.
// With a state directory, a file unchanged since an earlier load (same path, same git blob id
// or content hash, same decoder) is taken from the decode cache instead of decoded again
// (schema.LoadCached, the cache in DecodeCacheDir); the result is the same either way. The
// entries of the files decoded are written in the background while the pass goes on; Close
// waits for them.
func (a *Agent) load(snap *source.Snapshot) (*schema.Repository, schema.Errors) {
	c := a.decodeCache()
	repo, errs := schema.LoadCachedReading(snap.Files, snap.Refused, snap.FileIDs, c, snap.ReadFile)
	if c != nil {
		// Counts, not Stats: the entries of the misses are still being written (Close waits).
		s := c.Counts()
		a.log.Debug("loaded", "files", len(snap.Files), "cached", s.Hits, "decoded", s.Misses, "corrupt_entries", s.Corrupt)
	}
	return repo, errs
}

// DecodeCacheDir is the decode cache of the repository files under the state directory
// stateDir: <state-dir>/cache/decode.
func DecodeCacheDir(stateDir string) string { return filepath.Join(stateDir, "cache", "decode") }

// decodeCache opens the decode cache of the Agent's state directory on first use; nil
// without a state directory, while it does not exist (the cache never creates it: plan and
// validate leave no state directory behind; the first apply makes it), or when the cache
// cannot be created in it (a load then decodes every file: validate as a user without write
// access to the default /var/lib/reconcile).
func (a *Agent) decodeCache() *schema.DecodeCache {
	if a.cfg.StateDir == "" {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dcache == nil && !a.dcacheFailed {
		if fi, err := os.Stat(a.cfg.StateDir); err != nil || !fi.IsDir() {
			return nil
		}
		c, err := schema.OpenDecodeCache(DecodeCacheDir(a.cfg.StateDir))
		if err != nil {
			a.log.Debug("no decode cache", "error", err)
			a.dcacheFailed = true
			return nil
		}
		a.dcache = c
	}
	return a.dcache
}

// invalid is the error of a repository that did not load.
func invalid(snap *source.Snapshot, errs schema.Errors) error {
	return stageErr("validate", "invalid", fmt.Errorf("repository %s (%s) is invalid: %w", snap.Source, snap.Revision, errs))
}

// compileFor compiles host's ruleset of repo for the Agent's table. tags, when not nil, is
// compile.NewTagIndex(repo), shared by the compiles of many hosts.
func (a *Agent) compileFor(repo *schema.Repository, host string, tags *compile.TagIndex) (*nft.Ruleset, error) {
	return compile.Compile(repo, compile.Options{Host: host, Table: a.cfg.Table, Tags: tags})
}

// desired fetches src, loads it and compiles the Agent's host: the result has Snapshot,
// Repository, Desired (in canonical form) and Endpoints. On an error after the fetch the result
// holds what was found so far.
func (a *Agent) desired(ctx context.Context, src source.Source, rec *state.Record) (*PlanResult, error) {
	// The stamp is taken before the fetch: it then vouches for what the fetch read at the
	// earliest (a change in between makes the next stamp differ).
	stamp := a.sourceStamp(ctx, src)
	snap, err := a.fetch(ctx, src, rec)
	if err != nil {
		return nil, err
	}
	a.log.Debug("fetched", "source", snap.Source, "revision", snap.Revision, "files", len(snap.Files))
	res := &PlanResult{Snapshot: snap, stamp: stamp}
	repo, errs := a.load(snap)
	if len(errs) > 0 {
		return res, invalid(snap, errs)
	}
	res.Repository = repo
	host := a.cfg.Host
	desired, err := a.compileFor(repo, host, nil)
	if err != nil {
		return res, stageErr("compile", "error", fmt.Errorf("compile revision %s for host %q: %w", snap.Revision, host, err))
	}
	// The canonical form is what the kernel reads back: the model recorded as applied, its
	// digest and the --nft script are those of the canonical form.
	res.Desired = desired.Canonical()
	for _, e := range repo.Endpoints {
		if e.Host == host {
			res.Endpoints = append(res.Endpoints, e)
		}
	}
	if len(res.Endpoints) == 0 {
		a.log.Warn("no endpoint of the repository is on this host; the table holds only the base chains (check --host)", "host", host)
	}
	return res, nil
}

// generation reads the dataplane's ruleset generation, or 0 when it cannot tell.
func (a *Agent) generation(ctx context.Context) uint32 {
	dp, err := a.dataplane()
	if err != nil {
		return 0
	}
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

// observe reads the table from the dataplane (nil: it does not exist).
func (a *Agent) observe(ctx context.Context) (*nft.Ruleset, error) {
	dp, err := a.dataplane()
	if err == nil {
		var rs *nft.Ruleset
		if rs, err = dp.Observe(ctx, a.cfg.Table); err == nil {
			return rs, nil
		}
	}
	return nil, observeErr(fmt.Errorf("read table inet %q: %w", a.cfg.Table, err))
}

// plan is desired, then the table the kernel holds, the difference, and the endpoints whose
// interface does not exist yet. A table of that name that reconcile did not make is an *Error
// wrapping a *ForeignTableError.
func (a *Agent) plan(ctx context.Context, rec *state.Record) (*PlanResult, error) {
	src, err := a.Source()
	if err != nil {
		return nil, err
	}
	res, err := a.desired(ctx, src, rec)
	if err != nil {
		return res, err
	}
	if err := a.observeFor(ctx, res, rec); err != nil {
		return res, err
	}
	if res.ObserveSkipped && res.Observed == res.Desired {
		res.Plan = emptyPlan("plan", a.cfg.Table) // proven equal (observeFor): nothing to compare
	} else if res.ObserveSkipped {
		// Both canonical: res.Desired is, and so is the model recorded as applied (it was
		// the Desired of that pass).
		res.Plan = plan.DiffCanonical(res.Desired, res.Observed)
	} else {
		res.Plan = plan.Diff(res.Desired, res.Observed)
	}
	a.findWaiting(ctx, res)
	c := res.Plan.Changes()
	a.log.Debug("planned", "revision", res.Snapshot.Revision, "add", c.Add, "change", c.Change, "destroy", c.Destroy, "waiting", len(res.Waiting))
	return res, nil
}

// observeFor sets res.Observed: the table read from the kernel, or the model applied last when
// the kernel's identity (boot id, netns cookie, ruleset generation; see proves) shows nothing
// was committed since the kernel held exactly it.
func (a *Agent) observeFor(ctx context.Context, res *PlanResult, rec *state.Record) error {
	// The generation is read before the table: if the table then equals the desired ruleset,
	// it did so at this generation (a later change moves the generation on).
	id := a.identity(ctx)
	res.Generation, res.bootID, res.cookie = id.Generation, id.BootID, id.Cookie
	if la := rec.LastApplied; !a.cfg.Full && a.proves(la, id) {
		// Nothing was committed in this namespace since the kernel was seen to hold exactly
		// la's ruleset: no need to read it back (Flux: the applied revision, in sync). When it
		// is the desired one too (equal digests), its model file need not even be read.
		observed := res.Desired
		if la.RulesetDigest != res.desiredDigest() {
			m, err := la.LoadModelUnder(a.compileKey(la.Revision))
			if err != nil && !errors.Is(err, state.ErrNoModel) {
				// Its file passed checkModel but does not decode to its digest (another
				// version of reconcile wrote it): unknown; this pass records a new one.
				a.log.Warn(fmt.Sprintf("the recorded model is unreadable (%v); reading the kernel in full", err))
				a.cfg.Metrics.ObserveRecovery(RecoveryModelUnreadable)
			}
			observed = m
		}
		if observed != nil {
			res.Observed = observed
			res.ObserveSkipped = true
			a.log.Debug("ruleset generation unchanged since the kernel matched; not reading it back", "generation", res.Generation)
			return nil
		}
	}
	observed, err := a.observe(ctx)
	if err != nil {
		return err
	}
	res.Observed = observed
	// A table of this name that reconcile did not make (an operator's inet filter) is never
	// replaced: the pass stops here, before anything could write to it.
	if err := foreignTable(a.cfg.Table, observed, rec); err != nil {
		return stageErr("observe", "foreign-table", err)
	}
	return nil
}

// findWaiting sets res.Waiting (or res.LinksError) from the interfaces that exist.
func (a *Agent) findWaiting(ctx context.Context, res *PlanResult) {
	list := a.linkLister()
	if list == nil || len(res.Endpoints) == 0 {
		return
	}
	links, err := list(ctx)
	if err != nil {
		// Not fatal: the ruleset does not depend on which interfaces exist.
		res.LinksError = err.Error()
		a.log.Warn("cannot list interfaces; waiting endpoints unknown", "err", err)
		return
	}
	for _, e := range res.Endpoints {
		if !links[e.Interface] {
			res.Waiting = append(res.Waiting, Waiting{Endpoint: e.ID, Interface: e.Interface})
		}
	}
	sort.Slice(res.Waiting, func(i, j int) bool { return res.Waiting[i].Endpoint < res.Waiting[j].Endpoint })
}

// apply is the pass: plan, then, when the kernel differs, the transaction, then the record.
// With full (apply --full), a change replaces the whole table (see write).
// With noHeal, a kernel that drifted from the ruleset applied last (and still desired) is left
// alone and reported (ApplyResult.DriftLeft). On any error the kernel is unchanged (unless the
// record failed to save after the transaction), LastApplied is unchanged and LastAttempt
// records the failure.
func (a *Agent) apply(ctx context.Context, noHeal, full bool) (*ApplyResult, error) {
	rec, err := a.recoverState()
	if err != nil {
		// Without a usable state directory we cannot record the attempt either; change nothing.
		return nil, err
	}
	return a.applyWith(ctx, rec, noHeal, full)
}

// applyWith is apply with the record read (recoverState).
func (a *Agent) applyWith(ctx context.Context, rec *state.Record, noHeal, full bool) (*ApplyResult, error) {
	pr, err := a.plan(ctx, rec)
	if err != nil {
		at := state.Attempt{Time: a.cfg.Now().UTC(), Result: state.Failed, Error: err.Error()}
		if pr != nil && pr.Snapshot != nil {
			at.Revision = pr.Snapshot.Revision
		}
		return &ApplyResult{PlanResult: pr, Record: rec}, a.failAttempt(rec, at, err)
	}
	res := &ApplyResult{PlanResult: pr, Digest: pr.desiredDigest(), Record: rec}
	// A table that is gone (reboot, another tool's `nft flush ruleset`) is not drift to leave
	// alone: the kernel would enforce nothing while the state claims the ruleset applied.
	if la := rec.LastApplied; la != nil && la.Model == nil && la.RulesetDigest == res.Digest && !la.ModelPresent() {
		// The model file of the ruleset applied last, which is the desired one, was lost
		// (recoverState): whatever this pass does, its record writes it again.
		la.Model = res.Desired
	}
	switch {
	case !pr.Plan.Empty() && noHeal && pr.Observed != nil && rec.LastApplied != nil && rec.LastApplied.RulesetDigest == res.Digest:
		err = a.leaveDrift(res)
	case pr.Plan.Empty():
		err = a.noChange(res)
	default:
		err = a.transact(ctx, res, full)
	}
	if err == nil {
		a.markApplied(ctx, rec)
	}
	return res, err
}

// applied records res's revision as the one applied at now.
func (a *Agent) applied(res *ApplyResult, now time.Time) {
	res.Record.LastApplied = a.lastApplied(res, now)
}

// lastApplied is the record of res's revision applied at now.
func (a *Agent) lastApplied(res *ApplyResult, now time.Time) *state.LastApplied {
	snap := res.Snapshot
	la := &state.LastApplied{
		Source: snap.Source, Revision: snap.Revision, Commit: snap.Commit,
		RulesetDigest: res.Digest, Model: res.Desired, Time: now, Host: a.cfg.Host,
	}
	a.keyed(la, res.PlanResult)
	return la
}

// record saves the state record. wrap, when not "", goes before the error; otherwise (a pass
// that changed nothing) a state directory that is full or read-only is named with what to do.
func (a *Agent) record(rec *state.Record, wrap string) error {
	if err := state.Save(a.cfg.StateDir, rec); err != nil {
		switch {
		case wrap != "":
			err = fmt.Errorf("%s: %w", wrap, err)
		case diskFull(err):
			err = fmt.Errorf("the record of this pass cannot be written to the state directory %q (free space there or choose another --state-dir): %w", a.cfg.StateDir, err)
		case errors.Is(err, syscall.EROFS):
			err = fmt.Errorf("the record of this pass cannot be written to the state directory %q (it is read-only: make it writable or choose another --state-dir): %w", a.cfg.StateDir, err)
		}
		return stageErr("state", "save", err)
	}
	return nil
}

// leaveDrift records a pass that left drift alone: only the kernel changed since this
// ruleset was applied (heal off).
func (a *Agent) leaveDrift(res *ApplyResult) error {
	now, rev, rec := a.cfg.Now().UTC(), res.Snapshot.Revision, res.Record
	res.Result = state.NoChange
	res.AlreadyApplied = rec.LastApplied.Revision == rev
	res.DriftLeft = true
	rec.AddAttempt(state.Attempt{Revision: rev, RulesetDigest: res.Digest, Time: now, Result: state.NoChange,
		Error: "drift left alone (heal off): " + res.Plan.Summary()})
	if err := a.record(rec, ""); err != nil {
		return err
	}
	a.log.Warn("drift left alone (heal off)", "revision", rev, "drift", res.Plan.Summary())
	return nil
}

// noChange records a pass that found the kernel holding the desired ruleset.
func (a *Agent) noChange(res *ApplyResult) error {
	now, rev, rec := a.cfg.Now().UTC(), res.Snapshot.Revision, res.Record
	res.Result = state.NoChange
	la := rec.LastApplied
	res.AlreadyApplied = la != nil && la.Revision == rev && la.RulesetDigest == res.Digest
	if !res.AlreadyApplied {
		// The kernel already holds this revision's ruleset (a commit that changed nothing
		// for this host, or a lost state record): record it as the applied one.
		a.applied(res, now)
	}
	if rec.LastApplied.Model == nil {
		// The same digest: Save only checks that its model file is there (and writes it again
		// if it was lost).
		rec.LastApplied.Model = res.Desired
	}
	a.proven(rec.LastApplied, res.PlanResult, res.Generation)
	a.keyed(rec.LastApplied, res.PlanResult)
	rec.AddAttempt(state.Attempt{Revision: rev, RulesetDigest: res.Digest, Time: now, Result: state.NoChange})
	if err := a.record(rec, ""); err != nil {
		return err
	}
	a.installedNoChange(res, rec, now) // rule install times (counters.go): lower bounds if none
	a.log.Info("no changes", "revision", rev, "waiting", len(res.Waiting))
	return nil
}

// transact writes the model file of the desired ruleset to the state directory, then the
// ruleset in one transaction (see write: in place or by replacing the table), records the pass
// (the small state head) and, only when the dataplane could not tell the generation the commit
// produced, reads the table back. A model file that cannot be written (a full disk) fails the
// pass before the kernel is touched; a head that cannot be written after the commit is the
// error "revision X was applied but not recorded" (the next pass reads the table in full: the
// recorded generation no longer matches, and records it).
func (a *Agent) transact(ctx context.Context, res *ApplyResult, full bool) error {
	rev, rec := res.Snapshot.Revision, res.Record
	la := a.lastApplied(res, time.Time{}) // its Time is the commit's
	if old := rec.LastApplied; old != nil && old.RulesetDigest == res.Digest && old.ModelFile != "" {
		la.ModelFile = old.ModelFile // healing drift: its model file is there (SaveModel checks)
	}
	if err := state.SaveModel(a.cfg.StateDir, rec.Table, rec.Netns, la); err != nil {
		advice := "free space there or choose another --state-dir"
		if errors.Is(err, syscall.EROFS) {
			advice = "it is read-only: make it writable or choose another --state-dir"
		}
		err = stageErr("state", "save", fmt.Errorf("revision %s not applied: its model cannot be written to the state directory %q (%s): %w", rev, a.cfg.StateDir, advice, err))
		at := state.Attempt{Revision: rev, RulesetDigest: res.Digest, Time: a.cfg.Now().UTC(), Result: state.Failed, Error: err.Error()}
		return a.failAttempt(rec, at, err)
	}
	a.mark(ctx, rec, res.Snapshot.Commit) // before the kernel may hold it (see mark)
	installed := a.takeInstalled(rec)     // rule install times (counters.go): none while unsure
	dp, err := a.dataplane()
	start := time.Now()
	var gen uint32
	if err == nil {
		gen, err = a.write(ctx, dp, res, full)
	}
	if err != nil {
		err = stageErr("apply", "transaction", fmt.Errorf("apply revision %s to table inet %q: %w", rev, a.cfg.Table, err))
		at := state.Attempt{Revision: rev, RulesetDigest: res.Digest, Time: a.cfg.Now().UTC(), Result: state.Failed, Error: err.Error(), Mode: res.Mode}
		a.putInstalled(installed) // nothing changed
		return a.failAttempt(rec, at, err)
	}
	res.Duration = time.Since(start)
	res.Result = state.Applied
	if a.afterCommit != nil {
		a.afterCommit()
	}
	now := a.cfg.Now().UTC()
	a.putInstalled(a.installedAfter(res, rec, installed, now))
	la.Time = now
	rec.LastApplied = la
	rec.AddAttempt(state.Attempt{Revision: rev, RulesetDigest: res.Digest, Time: now, Result: state.Applied, Mode: res.Mode})
	c, st := res.Plan.Changes(), res.Stats
	a.log.Info("applied", "revision", rev, "mode", res.Mode, "add", c.Add, "change", c.Change, "destroy", c.Destroy,
		"duration", res.Duration, "waiting", len(res.Waiting),
		"rules_added", st.RulesAdded, "rules_deleted", st.RulesDeleted, "rules_replaced", st.RulesReplaced,
		"elements_added", st.ElementsAdded, "elements_deleted", st.ElementsDeleted)

	if gen != 0 {
		// The commit was atomic and guarded by the generation: the kernel held exactly the
		// desired ruleset at gen. Reading the table back would cost seconds at scale; the
		// encoder's round trip is proven by the kernel tests instead.
		a.proven(rec.LastApplied, res.PlanResult, gen)
		return a.record(rec, fmt.Sprintf("revision %s was applied but not recorded", rev))
	}
	// Read back: a kernel that does not hold what was applied would show as drift forever.
	// When it does hold it, the generation read before the read-back is the one at which the
	// kernel matched, and later passes need not read the table while it stays the same.
	gen = a.generation(ctx)
	if back, err := dp.Observe(ctx, a.cfg.Table); err != nil {
		a.log.Warn("cannot read the table back after apply", "err", err)
	} else if d := plan.Diff(res.Desired, back); !d.Empty() {
		a.log.Warn("the kernel reads back differently from what was applied", "summary", d.Summary())
	} else {
		a.proven(rec.LastApplied, res.PlanResult, gen)
	}
	return a.record(rec, fmt.Sprintf("revision %s was applied but not recorded", rev))
}

// write sends res.Desired to dp in one transaction and sets res.Mode and res.Stats. It returns
// the generation the commit produced (0: unknown). With a dataplane that can change the table
// in place (nft.Updater), a table whose content is known (res.Observed, read or proven by the
// generation res.Generation) is changed in place (ModeIncremental); any refusal of that change
// other than a moved generation replaces the table in the same pass (ModeFullFallback). A
// missing table, one with objects the model does not hold, an unknown generation, full (apply
// --full) and any other dataplane replace the whole table (ModeFull).
//
// Every transaction is guarded by the generation last read (a commit of anybody else since
// then makes the kernel refuse it, nft.ErrStale): the table is then read again (replan, with
// the check for a table reconcile did not make) and the change is made from what it holds
// now, guarded by the new generation; after maxStaleTries refusals the pass fails with reason
// contention. A batch whose outcome the kernel did not tell (nft.ErrOutcomeUnknown) is decided
// by reading the table back (resolveOutcome). On error the kernel is unchanged (every
// transaction is atomic, and an unknown outcome is failed only when the read-back shows the
// change did not go in).
func (a *Agent) write(ctx context.Context, dp nft.Dataplane, res *ApplyResult, full bool) (uint32, error) {
	res.Mode = ModeFull
	up, ok := dp.(nft.Updater)
	if !ok {
		return 0, netlinkErr(dp.Apply(ctx, res.Desired))
	}
	replace := full || res.Observed == nil || len(res.Observed.Foreign) > 0 || res.Generation == 0
	if !replace {
		res.Mode = ModeIncremental
	}
	var refused error // the change in place, refused before the table was replaced
	for stale := 0; ; {
		var ur *nft.UpdateResult
		var err error
		if replace {
			ur, err = up.Replace(ctx, res.Desired, res.Generation)
		} else {
			ur, err = up.Update(ctx, res.Desired, res.Observed, res.Generation)
		}
		switch {
		case err == nil:
			res.Stats = ur.Stats
			return ur.Generation, nil
		case errors.Is(err, nft.ErrOutcomeUnknown):
			return a.resolveOutcome(ctx, res, err)
		case errors.Is(err, nft.ErrStale):
			// Something was committed since the table was read (or the recorded model
			// proven): read it again and make the change from what it holds now.
			if stale++; stale == maxStaleTries {
				return 0, stageErr("apply", "contention", fmt.Errorf("the ruleset generation kept moving (another nftables writer is busy; %d tries)", stale))
			}
			a.log.Info("the ruleset generation moved before the change; reading the table again", "generation", res.Generation, "try", stale, "err", err)
			done, err := a.replan(ctx, res)
			if err != nil {
				return 0, err
			}
			if done {
				return res.Generation, nil
			}
			if !replace && (res.Observed == nil || len(res.Observed.Foreign) > 0) {
				replace, res.Mode = true, ModeFullFallback // the table went, or is no longer ours alone
			}
		case replace:
			if refused != nil {
				return 0, netlinkErr(fmt.Errorf("%w (the change in place was refused before: %v)", err, refused))
			}
			return 0, netlinkErr(err)
		case isPermission(err):
			return 0, netlinkErr(err) // the replace would be refused alike
		default:
			// The refused batch changed nothing: replace the whole table instead, now.
			if errors.Is(err, nft.ErrNeedsFull) {
				a.log.Info("the change cannot be made in place; replacing the table", "reason", err)
			} else {
				a.log.Warn("the change in place was refused; replacing the table", "err", err)
			}
			refused, replace, res.Mode = err, true, ModeFullFallback
		}
	}
}

// replan reads the generation and the table again (after ErrStale) and recomputes res.Plan;
// done says the kernel holds the desired ruleset already (nothing left to write). A table that
// reconcile did not make is an *Error wrapping a *ForeignTableError, as in plan; a generation
// that cannot be read is an error too (the next transaction could not be guarded).
func (a *Agent) replan(ctx context.Context, res *ApplyResult) (done bool, err error) {
	res.Generation = a.generation(ctx)
	observed, err := a.observe(ctx)
	if err != nil {
		return false, err
	}
	if err := foreignTable(a.cfg.Table, observed, res.Record); err != nil {
		return false, stageErr("observe", "foreign-table", err)
	}
	res.Observed, res.ObserveSkipped = observed, false
	res.Plan = plan.Diff(res.Desired, observed)
	if res.Plan.Empty() {
		return true, nil
	}
	if res.Generation == 0 {
		return false, stageErr("apply", "contention", errors.New("the ruleset generation moved and cannot be read again (a change without it could overwrite another writer's)"))
	}
	return false, nil
}

// failAttempt records a failed attempt (keeping LastApplied) and returns err. When the record
// cannot be saved either, that is said in parentheses on the same line (err's stage is kept
// for Classify), except when both are a full disk (the cause is said once).
func (a *Agent) failAttempt(rec *state.Record, at state.Attempt, err error) error {
	// Debug, not Warn: the caller reports err (the CLI on stderr, the watch loop in its log);
	// a warning here would print the same problem twice.
	a.log.Debug("apply failed; the kernel is unchanged", "revision", at.Revision, "err", err)
	rec.AddAttempt(at)
	if serr := a.record(rec, ""); serr != nil {
		if diskFull(err) && diskFull(serr) {
			a.log.Debug("the failed attempt is not recorded either", "err", serr)
			return err
		}
		// One line: the failure, then why it is not in the record either.
		return fmt.Errorf("%w (the failed attempt was not recorded either: %v)", err, serr)
	}
	return err
}

// status reads the state record and the kernel: the drift of the kernel from the ruleset
// applied last, and (withSource) the revision the source offers now. When the kernel's
// identity shows nothing was committed since it held the ruleset applied last, the table is
// not read (statusFast; not with Config.Full).
func (a *Agent) status(ctx context.Context, withSource bool) (*StatusResult, error) {
	res, err := a.statusOnce(ctx, withSource)
	// The model file the record named was replaced by an apply meanwhile (status takes no
	// lock): read again while the record names another file each time, a few times at most.
	for try := 0; try < 5 && err == nil && res.ModelError != "" && a.modelFileMoved(res); try++ {
		res, err = a.statusOnce(ctx, withSource)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// modelFileMoved reports whether the state record now names another model file than the one
// res was read with (a lost model file keeps its name: no retry).
func (a *Agent) modelFileMoved(res *StatusResult) bool {
	rec, _, err := a.loadStateNotes(false, false)
	if err != nil || rec.LastApplied == nil || res == nil || res.LastApplied == nil {
		return false
	}
	return res.modelFile != rec.LastApplied.ModelFile && rec.LastApplied.ModelFile != ""
}

func (a *Agent) statusOnce(ctx context.Context, withSource bool) (*StatusResult, error) {
	rec, notes, err := a.loadStateNotes(false, false)
	if err != nil {
		return nil, err
	}
	var modelFile string
	if rec.LastApplied != nil {
		modelFile = rec.LastApplied.ModelFile
	}
	c := a.cfg
	res := &StatusResult{Table: c.Table, Netns: c.Netns, Host: c.Host, LastApplied: rec.LastApplied, LastAttempt: rec.LastAttempt, History: rec.History,
		StateError: notes.State, ModelError: notes.Model, modelFile: modelFile}
	if !withSource {
		res.SourceError = "no source given"
	} else if err := a.sourceHead(ctx, rec, res); err != nil {
		return nil, err
	}
	if a.statusFast(ctx, rec, res) {
		return res, nil
	}
	res.Generation = a.generation(ctx)
	observed, err := a.observe(ctx)
	if err != nil {
		return nil, err
	}
	res.TableExists = observed != nil
	var fe *ForeignTableError
	if errors.As(foreignTable(c.Table, observed, rec), &fe) {
		res.Foreign = fe
	}
	if rec.LastApplied != nil && res.ModelError == "" {
		model, err := rec.LastApplied.LoadModel()
		switch {
		case err == nil:
			res.Drift = plan.Drift(model, observed)
		case !errors.Is(err, state.ErrNoModel):
			// Unknown: nothing to measure drift against (not in sync; apply records it again).
			res.ModelError = fmt.Sprintf("the recorded model is unreadable (%v)", err)
		}
	}
	return res, nil
}

// sourceHead sets res.SourceHead, or res.SourceError when the source cannot be fetched (not
// an error of status); the error is ctx's.
func (a *Agent) sourceHead(ctx context.Context, rec *state.Record, res *StatusResult) error {
	src, err := a.Source()
	if err != nil {
		return err
	}
	// Without reading the files when the source can tell: a git ref resolved after the fetch,
	// or a directory whose stamp is the one recorded with the revision applied last.
	if h, ok := src.(source.Header); ok {
		head, err := a.headSource(ctx, src, h, fetchOptions(rec))
		if err == nil {
			res.SourceHead = head.Revision
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		res.SourceError = err.Error()
		a.log.Debug("source head unknown", "source", src.String(), "err", err)
		return nil
	}
	if la := rec.LastApplied; la != nil && la.SourceStamp != "" && a.sourceStamp(ctx, src) == la.SourceStamp {
		res.SourceHead = la.Revision
		return nil
	}
	snap, err := a.fetchSource(ctx, src, fetchOptions(rec))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		res.SourceError = err.Error()
		a.log.Debug("source head unknown", "source", src.String(), "err", err)
		return nil
	}
	res.SourceHead = snap.Revision
	return nil
}
