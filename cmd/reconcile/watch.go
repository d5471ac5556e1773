package main

import "github.com/spf13/cobra"

func newWatchCmd(g *globals) *cobra.Command { return notYet("watch") }
