package main

import "github.com/spf13/cobra"

func newValidateCmd(g *globals) *cobra.Command { return notYet("validate") }
