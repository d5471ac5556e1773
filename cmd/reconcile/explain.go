package main

import "github.com/spf13/cobra"

func newExplainCmd(g *globals) *cobra.Command { return notYet("explain") }
