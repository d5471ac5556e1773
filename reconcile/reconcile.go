// Package reconcile is the agent: an Agent, built from one Config, runs the one pipeline of a
// pass (pipeline.go): fetch a snapshot of the policy repository, load and validate it, compile
// this host's ruleset, compare it with the kernel (plan), swap the difference in as one
// transaction (apply), and record what was applied. Its methods Validate, Plan, Apply, Status,
// Explain and Test are the commands of the CLI, and Watch (watch.go) runs Apply on every
// trigger. The result types (and the aliases below) are all a program using the Agent needs.
package reconcile

import (
	"errors"
	"syscall"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/state"
	"github.com/reconcile-dev/reconcile/schema"
)

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
	// A full disk (or quota) is one condition whatever step hit it: the state record, the
	// model file or the git clone in the state directory (SPEC: state/disk-full).
	if diskFull(err) {
		return &Error{StageName: "state", Reason: "disk-full", Err: err}
	}
	// So is a read-only file system: only the state directory is written (the clone's lock
	// and objects, the decode cache, the record), so it is the state directory that cannot
	// be saved to, whichever step met it first (not the remote's fault: stage fetch).
	if errors.Is(err, syscall.EROFS) {
		return &Error{StageName: "state", Reason: "save", Err: err}
	}
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
	// Fast says the pass found nothing to do from the state record alone (Apply's fast
	// no-change path, docs/OPERATIONS.md): the source still holds the revision applied last,
	// compiled by this same program, and the kernel's identity shows nothing was committed
	// since it held that ruleset. The repository was not read: Snapshot has no files and
	// Repository, Desired, Observed, Endpoints and Waiting are not set.
	Fast bool

	bootID string // the identity Generation was read under (see identity)
	cookie uint64
	stamp  string // the source's stamp taken before the fetch (source.Stamper; "": none)
	digest string // Desired.Digest(), computed once (see desiredDigest)
}

// desiredDigest returns Desired.Digest(), rendering the ruleset only the first time.
func (r *PlanResult) desiredDigest() string {
	if r.digest == "" {
		r.digest = r.Desired.Digest()
	}
	return r.digest
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
	// Mode says how the transaction changed the table (ModeIncremental, ModeFull or
	// ModeFullFallback; "" when nothing was written); Stats counts what it touched (zero for a
	// dataplane that is not an nft.Updater).
	Mode  string
	Stats nft.DeltaStats
}

// Modes of a transaction (ApplyResult.Mode, the state record's Attempt.Mode and the mode label
// of the metric reconcile_apply_duration_seconds).
const (
	// ModeIncremental: only what differs was changed, in one transaction (nft.Updater.Update);
	// untouched rules kept their handles and counters.
	ModeIncremental = "incremental"
	// ModeFull: the whole table was replaced in one transaction: no table yet, a table whose
	// content was unknown or holds objects the model does not, Config.Full (apply --full), or
	// a dataplane that cannot change a table in place.
	ModeFull = "full"
	// ModeFullFallback: the change in place was refused (it cannot be made in place, or the
	// kernel refused the batch, which changed nothing), or the table read again after a moved
	// generation was gone or held objects the model does not, and the whole table was
	// replaced in the same pass (guarded by the generation, as every transaction).
	ModeFullFallback = "full-fallback"
)

// StatusResult is the state of the table: what was applied last, what the source holds now,
// and how the kernel has drifted from what was applied.
type StatusResult struct {
	Table string
	Netns string
	// Host is the host status was asked about (Config.Host); when the last apply was for
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
	// Generation is the ruleset generation read (0: unknown). ObserveSkipped says the table
	// was not read: the boot id, netns cookie and generation are those recorded with the
	// ruleset applied last, so the kernel still holds it exactly (Drift is empty).
	Generation     uint32
	ObserveSkipped bool
	// StateError says that the state head could not be read (one line naming the file and
	// the reason; "" when it could): status went on as if nothing were recorded (LastApplied
	// is nil), read the table, and is not in sync.
	StateError string
	// ModelError says that the model file of LastApplied is missing or damaged (one line
	// naming the file; "" when it is fine): the table was read but there is nothing to
	// measure drift against (Drift is nil), so status is not in sync; apply records it again.
	ModelError string

	modelFile string // the model file LastApplied named when read (status's retry)
}

// InSync reports whether a ruleset was applied and the kernel still holds exactly it (false
// when the state head or its model file is unreadable: then nothing says what was applied).
func (s *StatusResult) InSync() bool {
	return s.LastApplied != nil && s.Drift != nil && s.Drift.Empty() && !s.OtherHost() &&
		s.StateError == "" && s.ModelError == ""
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

// Aliases of the types the results hold, so that a program using the Agent (cmd/reconcile)
// needs no other package of ours for them.
type (
	// Plan is the difference between two rulesets (plan.Plan): what apply would change.
	Plan = plan.Plan
	// Ruleset is a table's ruleset (nft.Ruleset).
	Ruleset = nft.Ruleset
	// Snapshot is one revision of the policy source (source.Snapshot).
	Snapshot = source.Snapshot
	// Result is the outcome of an attempt recorded in the state (state.Result).
	Result = state.Result
	// LastApplied is the state record's last applied revision (state.LastApplied).
	LastApplied = state.LastApplied
	// Attempt is one pass recorded in the state (state.Attempt).
	Attempt = state.Attempt
	// Query is the flow Explain traces (simulate.Query).
	Query = simulate.Query
	// Explanation is what Explain found (simulate.Explanation).
	Explanation = simulate.Explanation
	// CheckResult is the outcome of one expectation of tests/*.yaml (simulate.CheckResult).
	CheckResult = simulate.CheckResult
)

// Results of an attempt (state.Result).
const (
	Applied  = state.Applied
	NoChange = state.NoChange
	Failed   = state.Failed
)

// DefaultSrcPort is the source port of an explained probe when Query.SrcPort is 0.
const DefaultSrcPort = simulate.DefaultSrcPort
