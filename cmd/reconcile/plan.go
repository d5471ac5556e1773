package main

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile"
)

func newPlanCmd(g *globals) *cobra.Command {
	var detailed, script, allHosts bool
	var against string
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change in the kernel",
		Long: `Validate the repository, compile this host's ruleset and compare it with the table in the
kernel: endpoints, profiles, tags and rules to add (+), change (~) or destroy (-). Nothing is
changed. --nft prints the whole desired ruleset as an nft script instead (no kernel needed).
--against DIR|REF compares with the ruleset compiled from another checkout, or from a git
revision (origin/main, a tag, a commit) of the repository --dir is in, instead of the kernel
(no kernel needed): in a policy repository's CI, the plan of a pull request against its base.
--all-hosts (with --against) plans every host an endpoint names in either tree, loading each
tree once, and prints the hosts whose ruleset changes, each with its plan, then a summary line.
With --detailed-exitcode: 0 no changes, 2 changes, 1 error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if allHosts {
				if err := checkAllHosts(cmd, script, against); err != nil {
					return err
				}
				return runPlanAllHosts(cmd.Context(), g, detailed, against)
			}
			return runPlan(cmd.Context(), g, detailed, script, against)
		},
	}
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when nothing would change, 2 when something would, 1 on error")
	cmd.Flags().BoolVar(&script, "nft", false, "print the whole desired ruleset as an nft script (nft -f applies it atomically)")
	cmd.Flags().StringVar(&against, "against", "", "compare with the ruleset compiled from this directory (e.g. the base branch's checkout) or git revision (e.g. origin/main) instead of the kernel")
	cmd.Flags().BoolVar(&allHosts, "all-hosts", false, "plan every host of the repository against --against, and print the hosts that change")
	return cmd
}

func runPlan(ctx context.Context, g *globals, detailed, script bool, against string) error {
	return g.withAgent(ctx, func(ctx context.Context, a *reconcile.Agent) error {
		var pr *reconcile.PlanResult
		var err error
		switch {
		case against != "":
			pr, err = a.PlanAgainst(ctx, against)
		case !script || detailed: // --nft alone needs no kernel; with --detailed-exitcode it still has to compare
			pr, err = a.Plan(ctx)
		default:
			pr, err = a.Desired(ctx)
		}
		if err != nil {
			return g.planFailed(err)
		}
		switch {
		case script:
			if _, err := io.WriteString(g.stdout, pr.Desired.Script()); err != nil {
				return err
			}
		case g.output == "json":
			if err := writeJSON(g.stdout, planJSON(g, pr)); err != nil {
				return err
			}
		default:
			var b strings.Builder
			writePlanHeader(&b, g, pr)
			if err := pr.Plan.WriteText(&b); err != nil {
				return err
			}
			if _, err := io.WriteString(g.stdout, b.String()); err != nil {
				return err
			}
		}
		if detailed && !pr.Plan.Empty() {
			return exitCode(2)
		}
		return nil
	})
}

// planOut is the JSON output of plan (see docs/OPERATIONS.md).
type planOut struct {
	Source        string              `json:"source"`
	Revision      string              `json:"revision"`
	Commit        string              `json:"commit,omitempty"`
	Host          string              `json:"host"`
	Table         string              `json:"table"`
	Netns         string              `json:"netns,omitempty"`
	RulesetDigest string              `json:"ruleset_digest"`
	TableExists   bool                `json:"table_exists"`
	Waiting       []reconcile.Waiting `json:"waiting"`
	Plan          *reconcile.Plan     `json:"plan"`
}

func planJSON(g *globals, pr *reconcile.PlanResult) planOut {
	w := pr.Waiting
	if w == nil {
		w = []reconcile.Waiting{}
	}
	return planOut{
		Source: pr.Snapshot.Source, Revision: pr.Snapshot.Revision, Commit: pr.Snapshot.Commit,
		Host: g.host, Table: g.table, Netns: g.netns, RulesetDigest: "sha256:" + pr.Desired.Digest(),
		TableExists: pr.Observed != nil, Waiting: w, Plan: pr.Plan,
	}
}
