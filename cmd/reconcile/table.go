package main

import (
	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile"
)

// checkTable validates --table before any command runs (reconcile.CheckTable): the name must
// be one that nft text and the kernel both take as the same name: `--table policy` would make
// `plan --nft` print a script nft cannot load, and a dump of the ruleset that does not restore.
func (g *globals) checkTable(*cobra.Command, []string) error {
	return reconcile.CheckTable(g.table)
}
