package reconcile

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/reconcile-dev/reconcile/reconcile/plan"
)

// Faults of the netlink transaction and of other writers (docs/OPERATIONS.md, "Other writers:
// foreign tables, concurrent nft, two reconcile processes").

// maxStaleTries bounds the guarded transactions of one pass that the kernel refuses because
// the ruleset generation moved (nft.ErrStale): after that many the pass fails with stage
// apply, reason contention, and the next pass tries again.
const maxStaleTries = 3

// needsCapNetAdmin is said after an EPERM or EACCES from netlink (or from the lock file).
const needsCapNetAdmin = "reconcile needs CAP_NET_ADMIN in the network namespace (run as root)"

// isPermission reports whether err is the kernel's or the file system's refusal for lack of a
// privilege (EPERM, EACCES).
func isPermission(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)
}

// observeErr is the error of reading the table: stage observe, reason permission (saying what
// reconcile needs) or error.
func observeErr(err error) error {
	if isPermission(err) {
		return stageErr("observe", "permission", fmt.Errorf("%w: %s", err, needsCapNetAdmin))
	}
	return stageErr("observe", "error", err)
}

// netlinkErr is a refused transaction: stage apply, reason permission (saying what reconcile
// needs) or transaction (nil stays nil).
func netlinkErr(err error) error {
	switch {
	case err == nil:
		return nil
	case isPermission(err):
		return stageErr("apply", "permission", fmt.Errorf("%w: %s", err, needsCapNetAdmin))
	}
	return stageErr("apply", "transaction", err)
}

// resolveOutcome decides a transaction whose outcome the kernel did not tell (sent wraps
// nft.ErrOutcomeUnknown: the batch went out, then reading the answer failed at the socket) by
// reading the generation and the table: when the table is the desired ruleset, the pass goes
// on as applied at that generation (a warning, and reconcile_recoveries_total{kind=
// "outcome-unknown-resolved"}); otherwise it fails with stage apply, reason netlink, saying
// what the read-back found (normally the table as it was before: nothing was changed). Never
// recorded as applied without that proof.
func (a *Agent) resolveOutcome(ctx context.Context, res *ApplyResult, sent error) (uint32, error) {
	before := res.Observed
	gen := a.generation(ctx)
	observed, err := a.observe(ctx)
	if err != nil {
		return 0, stageErr("apply", "netlink", fmt.Errorf("%w; the table cannot be read back to tell whether it went in: %v", sent, err))
	}
	if plan.Diff(res.Desired, observed).Empty() {
		a.log.Warn("the kernel did not confirm the transaction; read back, the table holds the desired ruleset", "err", sent, "generation", gen)
		a.cfg.Metrics.ObserveRecovery(RecoveryOutcomeUnknownResolved)
		res.Observed = observed
		return gen, nil
	}
	found := "the table holds neither the desired ruleset nor the one it held before (another writer changed it)"
	switch {
	case before == nil && observed == nil:
		found = "the table still does not exist"
	case before != nil && observed != nil && plan.Diff(before, observed).Empty():
		found = "the table still holds what it held before"
	}
	return 0, stageErr("apply", "netlink", fmt.Errorf("%w; read back, %s", sent, found))
}
