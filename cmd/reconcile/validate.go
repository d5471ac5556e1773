package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the policy repository; print every error as path:line:col: message",
		Long: `Decode and validate every profile, endpoint and test file of the repository (--dir, default
".", or --repo/--ref), compile the ruleset of every host its endpoints name, and print every
problem, one per line, as path:line:col: message.
The firewall is not touched. Exit 0 when the repository is valid, 1 when it is not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runValidate(cmd.Context(), g)
		},
	}
}

// validateOut is the JSON output of validate.
type validateOut struct {
	Valid     bool            `json:"valid"`
	Source    string          `json:"source"`
	Revision  string          `json:"revision"`
	Commit    string          `json:"commit,omitempty"`
	Verified  string          `json:"verified,omitempty"`
	Profiles  int             `json:"profiles"`
	Endpoints int             `json:"endpoints"`
	Tests     int             `json:"tests"`
	Errors    []validateError `json:"errors"`
}

type validateError struct {
	Path    string `json:"path"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

func runValidate(ctx context.Context, g *globals) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := g.checkOutput(); err != nil {
		return err
	}
	a, err := g.agent(false)
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.Validate(ctx)
	if err != nil {
		return err
	}
	snap, errs := res.Snapshot, res.Errors
	out := validateOut{
		Valid: res.Valid(), Source: snap.Source, Revision: snap.Revision, Commit: snap.Commit,
		Verified: snap.Verified, Errors: []validateError{},
	}
	if repo := res.Repository; repo != nil {
		out.Profiles, out.Endpoints, out.Tests = len(repo.Profiles), len(repo.Endpoints), len(repo.Tests)
	}
	for _, e := range errs {
		out.Errors = append(out.Errors, validateError{Path: e.Path, Line: e.Line, Column: e.Col, Message: e.Msg})
	}

	if g.output == "json" {
		if err := writeJSON(g.stdout, out); err != nil {
			return err
		}
	} else {
		var b strings.Builder
		for _, e := range errs {
			b.WriteString(e.Error())
			b.WriteByte('\n')
		}
		if out.Valid {
			fmt.Fprintf(&b, "Valid: %s, %s, %s (%s)\n", countNoun(out.Profiles, "profile"),
				countNoun(out.Endpoints, "endpoint"), countNoun(out.Tests, "test"), snap.Revision)
		}
		if _, err := fmt.Fprint(g.stdout, b.String()); err != nil {
			return err
		}
	}
	if !out.Valid {
		return exitCode(1)
	}
	return nil
}

// countNoun writes "1 profile" or "3 profiles".
func countNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
