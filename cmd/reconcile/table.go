package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

// checkTable validates --table before any command runs: the name must be one that nft text and
// the kernel both take as the same name (limits.ValidTableName): `--table policy` would make
// `plan --nft` print a script nft cannot load, and a dump of the ruleset that does not restore.
func (g *globals) checkTable(*cobra.Command, []string) error {
	if err := limits.ValidTableName(g.table); err != nil {
		return fmt.Errorf("--table: %w; choose another name (a letter, then letters, digits, '_', '.' and '-', at most %d bytes; the default is %q)", err, limits.MaxTableName, "reconcile")
	}
	return nil
}

// checkHostFlag checks the value of --host (plan, apply, status, watch): a host name as
// endpoints' host must be (limits.CheckHostName, RFC 1123). The default is the kernel
// hostname; when that is empty or not such a name, --host must be given.
func checkHostFlag(host string) error {
	if host == "" {
		return errors.New("no host name: give --host")
	}
	if err := limits.CheckHostName(host); err != nil {
		return fmt.Errorf("--host: %w", err)
	}
	return nil
}
