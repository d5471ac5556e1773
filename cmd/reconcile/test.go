package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile"
	"github.com/reconcile-dev/reconcile/schema"
)

func newTestCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "test",
		Short: "Check the reachability expectations of tests/*.yaml against the model",
		Long: `Load the repository (--dir, default ".", or --repo/--ref), compile the rulesets of the hosts
the expectations involve, and trace each expectation of tests/*.yaml through them as
'reconcile explain' does. Print one PASS or FAIL line per expectation and a summary.
Nothing is changed. Exit 0 when every expectation holds, 1 when one does not (or on an error).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTest(cmd.Context(), g)
		},
	}
}

// testOut is the JSON output of test.
type testOut struct {
	Source   string       `json:"source"`
	Revision string       `json:"revision"`
	Passed   int          `json:"passed"`
	Failed   int          `json:"failed"`
	Results  []testResult `json:"results"`
}

type testResult struct {
	Name        string                 `json:"name"`
	Path        string                 `json:"path,omitempty"`
	Line        int                    `json:"line,omitempty"`
	From        string                 `json:"from"`
	To          string                 `json:"to"`
	Probe       string                 `json:"probe"`
	Expect      string                 `json:"expect"`
	Got         string                 `json:"got,omitempty"`
	Pass        bool                   `json:"pass"`
	DecidedBy   string                 `json:"decided_by,omitempty"`
	Error       string                 `json:"error,omitempty"`
	Explanation *reconcile.Explanation `json:"explanation,omitempty"`
}

func runTest(ctx context.Context, g *globals) error {
	if err := g.checkOutput(); err != nil {
		return err
	}
	a, err := g.agent(false)
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.Test(ctx)
	if err != nil {
		return g.modelFailed(err, res.Snapshot)
	}
	snap := res.Snapshot
	out := testOut{Source: snap.Source, Revision: snap.Revision, Results: []testResult{}}
	for _, r := range res.Results {
		x := r.Expectation
		tr := testResult{Name: testName(x), Path: x.Path, Line: x.Pos.Line, From: x.From, To: x.To,
			Probe: probeText(x), Expect: x.Expect, Got: r.Got, Pass: r.Pass, Explanation: r.Explanation}
		if r.Explanation != nil {
			tr.Probe = r.Explanation.Probe
			tr.DecidedBy = r.Explanation.Decider()
		}
		if r.Err != nil {
			tr.Error = r.Err.Error()
		}
		if r.Pass {
			out.Passed++
		} else {
			out.Failed++
		}
		out.Results = append(out.Results, tr)
	}
	if g.output == "json" {
		if err := writeJSON(g.stdout, out); err != nil {
			return err
		}
	} else {
		var b strings.Builder
		for _, r := range out.Results {
			flow := fmt.Sprintf("%s -> %s %s", r.From, r.To, r.Probe)
			switch {
			case r.Pass:
				fmt.Fprintf(&b, "PASS %s: %s %s\n", r.Name, flow, r.Got)
			case r.Error != "":
				fmt.Fprintf(&b, "FAIL %s: %s: %s\n", r.Name, flow, r.Error)
			default:
				fmt.Fprintf(&b, "FAIL %s: %s: expected %s, got %s (%s)\n", r.Name, flow, r.Expect, r.Got, r.DecidedBy)
			}
		}
		fmt.Fprintf(&b, "%d passed, %d failed\n", out.Passed, out.Failed)
		if _, err := fmt.Fprint(g.stdout, b.String()); err != nil {
			return err
		}
	}
	if out.Failed > 0 {
		return exitCode(1)
	}
	return nil
}

// testName is the expectation's name, or where it is ("tests/reach.yaml:12") when it has none.
func testName(x *schema.Expectation) string {
	if x.Name != "" {
		return x.Name
	}
	if x.Pos.Line > 0 {
		return x.Path + ":" + strconv.Itoa(x.Pos.Line)
	}
	return x.Path
}

// probeText renders an expectation's probe when it could not be explained.
func probeText(x *schema.Expectation) string {
	s := x.Protocol
	if x.Port != 0 {
		s += "/" + strconv.Itoa(x.Port)
	}
	if x.ICMPType != nil {
		s += " type " + strconv.Itoa(*x.ICMPType)
	}
	if x.ICMPCode != nil {
		s += " code " + strconv.Itoa(*x.ICMPCode)
	}
	return s
}
