package main

import "github.com/spf13/cobra"

func newTestCmd(g *globals) *cobra.Command { return notYet("test") }
