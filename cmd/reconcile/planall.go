package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile"
	"github.com/reconcile-dev/reconcile/schema"
)

// checkAllHosts refuses the flags plan --all-hosts cannot take.
func checkAllHosts(cmd *cobra.Command, script bool, against string) error {
	switch {
	case against == "":
		return errors.New("--all-hosts needs --against DIR|REF: the base every host is compared with (a checkout of the base branch, or a git revision such as origin/main); the kernel holds one host's table only")
	case script:
		return errors.New("--all-hosts and --nft are exclusive: --nft prints one host's ruleset (give --host instead of --all-hosts)")
	case cmd.Flags().Changed("host"):
		return errors.New("--all-hosts and --host are exclusive: --all-hosts plans every host the repository names (drop --host, or drop --all-hosts to plan one host)")
	}
	return nil
}

func runPlanAllHosts(ctx context.Context, g *globals, detailed bool, against string) error {
	return g.withAgent(ctx, func(ctx context.Context, a *reconcile.Agent) error {
		res, err := a.PlanAllHosts(ctx, against, reconcile.PlanAllHostsOptions{Digests: g.output == "json"})
		if err != nil {
			return g.planFailed(err)
		}
		if g.output == "json" {
			err = writeJSON(g.stdout, fleetPlanJSON(g, res))
		} else {
			err = writeFleetPlanText(g.stdout, g, res)
		}
		if err != nil {
			return err
		}
		if detailed && len(res.Hosts) > 0 {
			return exitCode(2)
		}
		return nil
	})
}

// planFailed reports a failed plan as passFailed does, except that an invalid base (--against)
// says so on its last line: `reconcile: --against "X": the repository is invalid (1 error)`
// after the problems (whose paths are those of the base).
func (g *globals) planFailed(err error) error {
	var ae *reconcile.AgainstError
	var errs schema.Errors
	if errors.As(err, &ae) && errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(g.stderr, e.Error())
		}
		fmt.Fprintf(g.stderr, "reconcile: --against %q: the repository is invalid (%s)\n", ae.Against, countNoun(len(errs), "error"))
		return exitCode(1)
	}
	return g.passFailed(err, false)
}

// writeFleetPlanText writes the text of plan --all-hosts: what was compared, then per host
// that changes a "Host NAME:" line and its plan (plan's text), then the summary line.
func writeFleetPlanText(w io.Writer, g *globals, res *reconcile.FleetPlanResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Revision %s from %s against %s from %s, table inet %s, %s compared.\n\n",
		res.Head.Revision, res.Head.Source, res.Base.Revision, res.Base.Source, g.table, countNoun(res.HostsCompared, "host"))
	for _, h := range res.Hosts {
		fmt.Fprintf(&b, "Host %s:\n", h.Host)
		if err := h.Plan.WriteText(&b); err != nil {
			return err
		}
		b.WriteString("\n")
	}
	b.WriteString(fleetSummary(res))
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// fleetSummary is the last line of plan --all-hosts: "2 of 20 hosts change: node-3 (~1),
// node-12 (+2 ~1 -1)." (objects to add, change, destroy; zero counts left out), or "No host
// changes (20 hosts compared)."
func fleetSummary(res *reconcile.FleetPlanResult) string {
	if len(res.Hosts) == 0 {
		return fmt.Sprintf("No host changes (%s compared).", countNoun(res.HostsCompared, "host"))
	}
	parts := make([]string, len(res.Hosts))
	for i, h := range res.Hosts {
		parts[i] = fmt.Sprintf("%s (%s)", h.Host, countsText(h.Plan.Changes()))
	}
	verb := "change"
	if len(res.Hosts) == 1 {
		verb = "changes"
	}
	return fmt.Sprintf("%d of %s %s: %s.", len(res.Hosts), countNoun(res.HostsCompared, "host"), verb, strings.Join(parts, ", "))
}

// countsText is "+2 ~1 -1" without the zero counts.
func countsText(c reconcile.PlanCounts) string {
	var p []string
	if c.Add > 0 {
		p = append(p, fmt.Sprintf("+%d", c.Add))
	}
	if c.Change > 0 {
		p = append(p, fmt.Sprintf("~%d", c.Change))
	}
	if c.Destroy > 0 {
		p = append(p, fmt.Sprintf("-%d", c.Destroy))
	}
	return strings.Join(p, " ")
}

// fleetPlanOut is the JSON output of plan --all-hosts (see docs/OPERATIONS.md).
type fleetPlanOut struct {
	FormatVersion string          `json:"format_version"`
	Head          revisionOut     `json:"head"`
	Base          revisionOut     `json:"base"`
	Table         string          `json:"table"`
	HostsCompared int             `json:"hosts_compared"`
	HostsChanged  int             `json:"hosts_changed"`
	Hosts         []fleetHostPlan `json:"hosts"`
}

type revisionOut struct {
	Source   string `json:"source"`
	Revision string `json:"revision"`
	Commit   string `json:"commit,omitempty"`
}

type fleetHostPlan struct {
	Host              string               `json:"host"`
	Changes           reconcile.PlanCounts `json:"changes"`
	HeadRulesetDigest string               `json:"head_ruleset_digest"`
	BaseRulesetDigest string               `json:"base_ruleset_digest"`
	Plan              *reconcile.Plan      `json:"plan"`
}

func fleetPlanJSON(g *globals, res *reconcile.FleetPlanResult) fleetPlanOut {
	out := fleetPlanOut{
		FormatVersion: reconcile.PlanFormatVersion,
		Head:          revisionOut{Source: res.Head.Source, Revision: res.Head.Revision, Commit: res.Head.Commit},
		Base:          revisionOut{Source: res.Base.Source, Revision: res.Base.Revision, Commit: res.Base.Commit},
		Table:         g.table, HostsCompared: res.HostsCompared, HostsChanged: len(res.Hosts),
		Hosts: make([]fleetHostPlan, 0, len(res.Hosts)),
	}
	for _, h := range res.Hosts {
		out.Hosts = append(out.Hosts, fleetHostPlan{Host: h.Host, Changes: h.Plan.Changes(),
			HeadRulesetDigest: h.HeadDigest, BaseRulesetDigest: h.BaseDigest, Plan: h.Plan})
	}
	return out
}
