package main

import "github.com/spf13/cobra"

func newPlanCmd(g *globals) *cobra.Command { return notYet("plan") }
