package main

import (
	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile/calicoctl"
)

// newProfileCmd wires calicoctl's `profile` commands (reconcile/calicoctl) on the repository
// checkout at --dir (default "."). The arguments are passed through unparsed: calicoctl's
// grammar has positional options (--at=N, --no-check, --detailed) and --dir may appear anywhere.
func newProfileCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:                "profile",
		Short:              "calicoctl's profile commands on the repository files (add, remove, show, tag, rule)",
		Long:               "calicoctl's profile commands on the repository files.\n\n" + calicoctl.ProfileUsage,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := calicoctl.Profile(cmd.Context(), g.calicoctlEnv(), args); code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
}

// calicoctlEnv is the environment of the calicoctl commands: the --dir checkout (a --dir among
// the command's own arguments overrides it) and the standard streams.
func (g *globals) calicoctlEnv() calicoctl.Env {
	return calicoctl.Env{Dir: g.dir, Stdin: g.stdin, Stdout: g.stdout, Stderr: g.stderr}
}
