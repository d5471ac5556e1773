package main

import (
	"fmt"
	"strings"

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
			args, err := calicoctlArgs(cmd, args, "dir")
			if err != nil {
				return err
			}
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

// calicoctlArgs prepares the unparsed arguments of a calicoctl command. Cobra hands over the
// common flags given before the command name too: those in keep (e.g. --dir) stay for the
// command; --repo/--ref are refused (the commands edit a checkout); the others (--log-level,
// -o, --table, ...) do not apply and are dropped with their values.
func calicoctlArgs(cmd *cobra.Command, args []string, keep ...string) ([]string, error) {
	pf := cmd.Root().PersistentFlags()
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		var name string
		hasVal := false
		switch {
		case strings.HasPrefix(a, "--") && len(a) > 2:
			name, _, hasVal = strings.Cut(a[2:], "=")
		case len(a) == 2 && a[0] == '-' && a[1] != '-':
			if f := pf.ShorthandLookup(a[1:]); f != nil {
				name = f.Name
			}
		}
		f := pf.Lookup(name)
		if f == nil || name == "help" {
			out = append(out, a)
			continue
		}
		for _, k := range keep {
			if k == name {
				f = nil
			}
		}
		if f == nil {
			out = append(out, a)
			continue
		}
		if name == "repo" || name == "ref" {
			return nil, fmt.Errorf("--%s: %s edits the files of a repository checkout; use --dir PATH", name, cmd.Name())
		}
		if !hasVal && f.Value.Type() != "bool" {
			i++ // the flag's value
		}
	}
	return out, nil
}
