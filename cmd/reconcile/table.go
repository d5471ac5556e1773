package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile"
)

// checkTable validates --table before any command runs (reconcile.CheckTable): the name must
// be one that nft text and the kernel both take as the same name: `--table policy` would make
// `plan --nft` print a script nft cannot load, and a dump of the ruleset that does not restore.
func (g *globals) checkTable(*cobra.Command, []string) error {
	return reconcile.CheckTable(g.table)
}

// checkGlobals checks the global flags before any command runs: --table (checkTable), and
// --fetch-timeout, which must be positive: reconcile.Config reads 0 as its default (60s) and
// a negative value as no bound at all, neither of which "the longest one fetch may take" says.
// Like a flag that does not parse, either stops apply before it reads or writes anything, and
// apply says so.
func (g *globals) checkGlobals(cmd *cobra.Command, args []string) error {
	err := g.checkTable(cmd, args)
	if g.git.fetchTimeout <= 0 {
		err = fmt.Errorf("--fetch-timeout must be positive (such as 60s), not %v", g.git.fetchTimeout)
	}
	if err != nil && cmd.Name() == "apply" {
		return fmt.Errorf("%w; nothing was changed", err)
	}
	return err
}
