package main

import "github.com/spf13/cobra"

func newStatusCmd(g *globals) *cobra.Command { return notYet("status") }
