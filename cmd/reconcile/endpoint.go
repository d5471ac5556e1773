package main

import (
	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile/calicoctl"
)

// newEndpointCmd wires calicoctl's `endpoint` commands (reconcile/calicoctl) on the repository
// checkout at --dir (default "."). The arguments are passed through unparsed (see profile); --host is
// calicoctl's endpoint filter.
func newEndpointCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:                "endpoint",
		Short:              "calicoctl's endpoint commands on the repository files (show, profile append|remove|set|show)",
		Long:               "calicoctl's endpoint commands on the repository files.\n\n" + calicoctl.EndpointUsage,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := calicoctlArgs(cmd, args, "dir", "host")
			if err != nil {
				return err
			}
			if code := calicoctl.Endpoint(cmd.Context(), g.calicoctlEnv(), args); code != 0 {
				return exitCode(code)
			}
			return nil
		},
	}
}
