package main

import "github.com/spf13/cobra"

func newApplyCmd(g *globals) *cobra.Command { return notYet("apply") }
