package main

import (
	"bytes"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// A boolean flag takes no value, so its help line must not show one. pflag turns the first
// back-quoted word of a usage string into the value's name ("--nft nft -f" for a usage that
// quotes `nft -f`), which tells a person that the flag wants an argument.
func TestBoolFlagsShowNoValue(t *testing.T) {
	root := newRootCmd(&globals{stdin: &bytes.Buffer{}, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	var visit func(c *cobra.Command)
	checked := 0
	visit = func(c *cobra.Command) {
		check := func(f *pflag.Flag) {
			if f.Value.Type() != "bool" {
				return
			}
			checked++
			if name, _ := pflag.UnquoteUsage(f); name != "" {
				t.Errorf("%s --%s: help shows a value %q for a boolean flag (usage %q)", c.CommandPath(), f.Name, name, f.Usage)
			}
		}
		c.LocalFlags().VisitAll(check)
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(root)
	if checked == 0 {
		t.Fatal("no boolean flags found: the command tree was not walked")
	}
}
