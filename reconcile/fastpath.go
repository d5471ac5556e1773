package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/buildinfo"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// What a pass may trust without reading the kernel or the repository (docs/OPERATIONS.md,
// "When a pass reads less"):
//
//   - the kernel: the state record says the kernel held exactly LastApplied.Model at ruleset
//     generation G, in the namespace of cookie C, in the boot B. When the kernel now reports
//     the same B, C and G, nothing was committed in that namespace since (the generation moves
//     on every commit of any table; a namespace made again under the same name has a new
//     cookie and a generation that starts over; a reboot has a new boot id). So the kernel
//     still holds exactly that model, whichever process recorded it.
//   - the repository: the source holds the revision applied last (git: the ref resolves to
//     LastApplied.Commit after the fetch; a directory: the stamp of its files' metadata equals
//     the one taken before the fetch that read that revision), and that revision, compiled by
//     this very program for this host and table (the compile key), gave LastApplied's digest.

// identity is what the kernel says of the namespace now.
type identity struct {
	BootID     string // netns.BootID ("" unknown)
	Cookie     uint64 // SO_NETNS_COOKIE (0: unknown, e.g. Linux < 5.14)
	Generation uint32 // the ruleset generation (0: unknown)
}

// identity reads the boot id, the namespace's cookie and then its ruleset generation.
func (a *Agent) identity(ctx context.Context) identity {
	id := identity{BootID: a.bootID()}
	if dp, err := a.dataplane(); err == nil {
		if c, ok := dp.(nft.NetnsCookier); ok {
			if v, err := c.NetnsCookie(ctx); err == nil {
				id.Cookie = v
			} else {
				a.log.Debug("netns cookie unknown; a ruleset generation recorded by another process is not trusted", "err", err)
			}
		}
	}
	id.Generation = a.generation(ctx)
	return id
}

// proves reports whether id shows that nothing was committed in the namespace since the kernel
// was recorded (la) holding exactly la.Model: the same generation, under the same boot id and
// netns cookie; or, when a cookie is unknown on either side (an old kernel, a record of an
// older version), within the same Session (this process holds the namespace open).
func (a *Agent) proves(la *state.LastApplied, id identity) bool {
	if la == nil || la.Generation == 0 || la.Generation != id.Generation {
		return false
	}
	if la.NetnsCookie != 0 && id.Cookie != 0 {
		return la.NetnsCookie == id.Cookie && id.BootID != "" && la.BootID == id.BootID
	}
	return a.cfg.Session != "" && la.Session == a.cfg.Session
}

// proven records in la that the kernel held exactly la.Model at generation gen, in the
// namespace and boot of pr's identity (read before the table or the transaction).
func (a *Agent) proven(la *state.LastApplied, pr *PlanResult, gen uint32) {
	la.Generation, la.Session = gen, a.cfg.Session
	la.BootID, la.NetnsCookie = pr.bootID, pr.cookie
	if gen == 0 {
		la.BootID, la.NetnsCookie = "", 0
	}
}

// keyed records in la what its ruleset was compiled from (the compile key of pr's revision)
// and the source stamp taken before pr's fetch, for the fast no-change pass.
func (a *Agent) keyed(la *state.LastApplied, pr *PlanResult) {
	la.CompileKey = a.compileKey(pr.Snapshot.Revision)
	la.SourceStamp = pr.stamp
}

// compileFormat is bumped with any change of the compiler's output that the build identity
// below would not show (none today: it is part of the key for safety).
const compileFormat = "1"

// compilerVersion identifies the code that compiles and canonicalises a ruleset
// (buildinfo.ID; "": unknown, never skip a compile). A variable for the tests.
var compilerVersion = buildinfo.ID

// compileKey is the key of what compiling revision gives for the Agent's host and table: a hex
// sha256 of the compiler version, the revision, the host and the table; "" when the compiler
// version is unknown (then no pass skips the compile).
func (a *Agent) compileKey(revision string) string {
	v := compilerVersion()
	if v == "" || revision == "" {
		return ""
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "reconcile compile %s\x00%s\x00%s\x00%s\x00%s", compileFormat, v, revision, a.cfg.Host, a.cfg.Table))
	return hex.EncodeToString(sum[:])
}

// sourceStamp is the stamp of a Stamper source ("" for others, or when it cannot tell).
func (a *Agent) sourceStamp(ctx context.Context, src source.Source) string {
	st, ok := src.(source.Stamper)
	if !ok {
		return ""
	}
	s, err := st.Stamp(ctx)
	if err != nil {
		a.log.Debug("source stamp unknown", "source", src.String(), "err", err)
		return ""
	}
	return s
}

// sourceUnchanged reports whether src still holds the revision applied last (la), without
// reading its files: a Header's ref resolves to la's commit, or a Stamper's stamp equals the
// one recorded with la. It returns what the source holds (nil when it cannot tell cheaply).
// The error is a Header's that could not be fetched (fetchErr's: the pass fails with it rather
// than fetch again, which would double a --fetch-timeout).
func (a *Agent) sourceUnchanged(ctx context.Context, src source.Source, rec *state.Record) (*source.Head, bool, error) {
	la := rec.LastApplied
	if h, ok := src.(source.Header); ok {
		head, err := a.headSource(ctx, src, h, fetchOptions(rec))
		if err != nil {
			a.log.Debug("source head unknown", "source", src.String(), "err", err)
			return nil, false, fetchErr(src, err)
		}
		return head, head.Commit != "" && head.Commit == la.Commit && head.Revision == la.Revision && head.Source == la.Source, nil
	}
	stamp := a.sourceStamp(ctx, src)
	if stamp == "" || stamp != la.SourceStamp {
		return nil, false, nil
	}
	return &source.Head{Source: la.Source, Revision: la.Revision, Commit: la.Commit}, true, nil
}

// fastNoChange is the pass from a fresh process that finds nothing to do without loading the
// repository or reading the table, when all hold: not Config.Full; the record's model file is
// there (LastApplied.ModelPresent); the kernel's identity
// proves the recorded generation (proves); the source still holds the revision applied last
// (sourceUnchanged); and that revision's compile key is the recorded one. It then records
// only the attempt (one small write of the state head) and returns a NoChange result with
// PlanResult.Fast set. ok false: take the full pass (nothing was written), unless err is set:
// the source could not be fetched (sourceUnchanged), a failed pass.
func (a *Agent) fastNoChange(ctx context.Context, rec *state.Record) (res *ApplyResult, ok bool, err error) {
	la := rec.LastApplied
	if a.cfg.Full || la == nil || la.CompileKey == "" || la.RulesetDigest == "" || la.Host != a.cfg.Host {
		return nil, false, nil
	}
	if !la.ModelPresent() {
		// A lost model file: the full no-change pass writes it again (status needs it).
		return nil, false, nil
	}
	id := a.identity(ctx)
	if la.NetnsCookie == 0 || !a.proves(la, id) {
		// Only the identity proves anything to a fresh process (a Session is this one's).
		return nil, false, nil
	}
	src, err := a.Source()
	if err != nil {
		return nil, false, nil
	}
	head, same, err := a.sourceUnchanged(ctx, src, rec)
	if err != nil {
		return nil, false, err
	}
	if !same || a.compileKey(head.Revision) != la.CompileKey {
		return nil, false, nil
	}
	now := a.cfg.Now().UTC()
	pr := &PlanResult{
		Snapshot:       &source.Snapshot{Source: head.Source, Revision: head.Revision, Commit: head.Commit},
		Plan:           emptyPlan("plan", a.cfg.Table),
		Generation:     id.Generation,
		ObserveSkipped: true,
		Fast:           true,
	}
	res = &ApplyResult{PlanResult: pr, Result: state.NoChange, AlreadyApplied: true, Digest: la.RulesetDigest, Record: rec}
	rec.AddAttempt(state.Attempt{Revision: la.Revision, RulesetDigest: la.RulesetDigest, Time: now, Result: state.NoChange})
	if err := a.record(rec, ""); err != nil {
		return res, true, err
	}
	a.log.Info("no changes (source, compiler and ruleset generation unchanged; repository and table not read)",
		"revision", la.Revision, "generation", id.Generation, "since", la.Time.Format(time.RFC3339))
	return res, true, nil
}

// statusFast sets res's drift from the identity alone: when it proves the recorded generation
// (and not Config.Full), the kernel still holds exactly the model applied last; ok false when
// the table must be read.
func (a *Agent) statusFast(ctx context.Context, rec *state.Record, res *StatusResult) bool {
	la := rec.LastApplied
	if a.cfg.Full || la == nil || la.RulesetDigest == "" {
		return false
	}
	id := a.identity(ctx)
	if !a.proves(la, id) {
		return false
	}
	res.TableExists = true // the model applied last has the table
	res.Drift = emptyPlan("drift", a.cfg.Table)
	res.Generation, res.ObserveSkipped = id.Generation, true
	return true
}

// emptyPlan is the plan (kind "plan") or drift (kind "drift") of no difference in table, as
// plan.Diff and plan.Drift give for equal rulesets.
func emptyPlan(kind, table string) *plan.Plan {
	return &plan.Plan{Kind: kind, Table: table, Objects: []*plan.Object{}}
}
