package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile"
)

func newStatusCmd(g *globals) *cobra.Command {
	var detailed, full, counters bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the last applied revision, the source head, and the drift of the kernel from it",
		Long: `Show the revision applied last and when, the last attempt, the revision the source offers
now, and whether the kernel still holds the applied ruleset: rules, chains, sets or the table
changed by hand are listed like a plan (what apply would change back). Nothing is changed.
When the kernel's ruleset generation, netns cookie and boot id are those recorded with the last
apply, nothing was committed since and the table is not read; --full reads it anyway.
With --detailed-exitcode: 0 in sync, 2 drift (or never applied, or the state record or its
model file unreadable), 1 error.
` + countersHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if counters {
				if detailed {
					return fmt.Errorf("--detailed-exitcode: not with --counters (which reports no sync state); run status without --counters for it")
				}
				return runCounters(cmd.Context(), g, full)
			}
			return runStatus(cmd.Context(), g, detailed, full)
		},
	}
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when in sync, 2 on drift or when never applied, 1 on error")
	cmd.Flags().BoolVar(&full, "full", false, "read the table back even when the ruleset generation shows nothing changed")
	cmd.Flags().BoolVar(&counters, "counters", false, "show the hit counters of the profile rules and the drops by reason instead")
	return cmd
}

func runStatus(ctx context.Context, g *globals, detailed, full bool) error {
	return g.withAgent(ctx, func(ctx context.Context, a *reconcile.Agent) error {
		st, err := a.Status(ctx)
		if err != nil {
			return g.passFailed(err, false)
		}
		if g.output == "json" {
			err = writeJSON(g.stdout, statusJSON(g, st))
		} else {
			err = writeStatusText(g.stdout, g, st)
		}
		if err != nil {
			return err
		}
		if detailed && !st.InSync() {
			return exitCode(2)
		}
		return nil
	}, fullRead(full))
}

func writeStatusText(w io.Writer, g *globals, st *reconcile.StatusResult) error {
	var b strings.Builder
	where := "Table inet " + st.Table
	if g.netns != "" { // as given: st.Netns is the state record's key
		where += " in netns " + g.netns
	}
	fmt.Fprintf(&b, "%s, host %s.\n", where, g.host)
	if la := st.LastApplied; la != nil {
		fmt.Fprintf(&b, "Last applied: %s from %s at %s (ruleset sha256:%s).\n", la.Revision, la.Source, la.Time.Format(time.RFC3339), short(la.RulesetDigest))
	} else {
		b.WriteString("Last applied: never.\n")
	}
	if a := st.LastAttempt; a != nil {
		fmt.Fprintf(&b, "Last attempt: %s at %s", a.Result, a.Time.Format(time.RFC3339))
		if a.Revision != "" {
			fmt.Fprintf(&b, ", revision %s", a.Revision)
		}
		if a.Error != "" {
			// the error may end a sentence of its own ("... 1 to destroy."): one period
			fmt.Fprintf(&b, ": %s", strings.TrimSuffix(a.Error, "."))
		}
		b.WriteString(".\n")
	}
	switch {
	case st.SourceError != "":
		fmt.Fprintf(&b, "Source head:  unknown (%s).\n", st.SourceError)
	case st.UpToDate():
		fmt.Fprintf(&b, "Source head:  %s (applied).\n", st.SourceHead)
	case st.LastApplied != nil:
		fmt.Fprintf(&b, "Source head:  %s (not applied yet: run reconcile apply).\n", st.SourceHead)
	default:
		fmt.Fprintf(&b, "Source head:  %s.\n", st.SourceHead)
	}
	b.WriteString("\n")
	switch {
	case st.StateError != "":
		fmt.Fprintf(&b, "Not in sync (unknown): %s; run reconcile apply to record it afresh.\n", strings.TrimSuffix(st.StateError, "; reading the kernel in full"))
	case st.ModelError != "":
		fmt.Fprintf(&b, "Not in sync (unknown): %s; run reconcile apply to record it again.\n", st.ModelError)
	case st.Foreign != nil:
		fmt.Fprintf(&b, "Not in sync: %s.\n", st.Foreign)
	case st.OtherHost():
		fmt.Fprintf(&b, "Not in sync: the last apply compiled the ruleset for host %s, not %s (run reconcile apply --host %s).\n",
			st.LastApplied.Host, st.Host, st.Host)
	case st.LastApplied == nil && st.TableExists:
		b.WriteString("Not in sync: reconcile has not applied this table here, but it exists.\n")
	case st.LastApplied == nil:
		b.WriteString("Not in sync: nothing applied yet (run reconcile apply).\n")
	case st.InSync() && st.ObserveSkipped:
		fmt.Fprintf(&b, "In sync: the kernel holds the last applied ruleset (ruleset generation %d unchanged since %s; table not read, --full reads it).\n",
			st.Generation, st.LastApplied.Time.Format(time.RFC3339))
	case st.InSync():
		b.WriteString("In sync: the kernel holds the last applied ruleset.\n")
	default:
		if !st.TableExists {
			fmt.Fprintf(&b, "The table inet %s was deleted from the kernel.\n", st.Table)
		} else if st.SourceError == "" && st.SourceHead != "" && !st.UpToDate() {
			// The kernel may hold the newer revision (an apply killed, or whose record could
			// not be written, after its commit): apply would not change it back then.
			b.WriteString("The kernel differs from the last applied ruleset (changed by hand, or by an apply of a newer revision that was not recorded):\n")
		} else {
			b.WriteString("The kernel has drifted from the last applied ruleset; apply would change it back:\n")
		}
		b.WriteString("\n")
		if err := st.Drift.WriteText(&b); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

// statusOut is the JSON output of status (see docs/OPERATIONS.md).
type statusOut struct {
	Table       string              `json:"table"`
	Netns       string              `json:"netns,omitempty"`
	Host        string              `json:"host"`
	InSync      bool                `json:"in_sync"`
	TableExists bool                `json:"table_exists"`
	LastApplied *appliedOut         `json:"last_applied"`
	LastAttempt *reconcile.Attempt  `json:"last_attempt"`
	History     []reconcile.Attempt `json:"history"`
	SourceHead  string              `json:"source_head,omitempty"`
	SourceError string              `json:"source_error,omitempty"`
	UpToDate    bool                `json:"up_to_date"`
	Drift       *reconcile.Plan     `json:"drift"`
	// Foreign says why the table is not reconcile's (absent when it is, or does not exist).
	Foreign string `json:"foreign,omitempty"`
	// Generation is the ruleset generation read (absent: unknown); TableRead is false when
	// the table was not read because the generation, netns cookie and boot id are those
	// recorded with the last apply (drift is then empty by proof).
	Generation uint32 `json:"generation,omitempty"`
	TableRead  bool   `json:"table_read"`
	// StateError says the state head is unreadable (status went on as if nothing were
	// recorded); ModelError that the recorded model file is (nothing to measure drift
	// against). Either makes in_sync false.
	StateError string `json:"state_error,omitempty"`
	ModelError string `json:"model_error,omitempty"`
}

// appliedOut is state.LastApplied without the model.
type appliedOut struct {
	Source        string    `json:"source"`
	Revision      string    `json:"revision"`
	Commit        string    `json:"commit,omitempty"`
	RulesetDigest string    `json:"ruleset_digest"`
	Time          time.Time `json:"time"`
	Host          string    `json:"host"`
}

func statusJSON(g *globals, st *reconcile.StatusResult) statusOut {
	out := statusOut{
		Table: st.Table, Netns: g.netns, Host: g.host, InSync: st.InSync(), TableExists: st.TableExists,
		SourceHead:  st.SourceHead,
		SourceError: st.SourceError, UpToDate: st.UpToDate(), Drift: st.Drift,
		Generation: st.Generation, TableRead: !st.ObserveSkipped,
		StateError: st.StateError, ModelError: st.ModelError,
	}
	if st.Foreign != nil {
		out.Foreign = st.Foreign.Error()
	}
	// Digests read "sha256:<hex>" everywhere in the JSON (as in apply's and in last_applied),
	// so that a machine can compare an attempt's digest with the applied one.
	prefixed := func(a reconcile.Attempt) reconcile.Attempt {
		if a.RulesetDigest != "" && !strings.HasPrefix(a.RulesetDigest, "sha256:") {
			a.RulesetDigest = "sha256:" + a.RulesetDigest
		}
		return a
	}
	if a := st.LastAttempt; a != nil {
		pa := prefixed(*a)
		out.LastAttempt = &pa
	}
	out.History = make([]reconcile.Attempt, 0, len(st.History))
	for _, a := range st.History {
		out.History = append(out.History, prefixed(a))
	}
	if la := st.LastApplied; la != nil {
		out.LastApplied = &appliedOut{Source: la.Source, Revision: la.Revision, Commit: la.Commit,
			RulesetDigest: "sha256:" + la.RulesetDigest, Time: la.Time, Host: la.Host}
	}
	return out
}
