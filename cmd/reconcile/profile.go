package main

import "github.com/spf13/cobra"

func newProfileCmd(g *globals) *cobra.Command { return notYet("profile") }
