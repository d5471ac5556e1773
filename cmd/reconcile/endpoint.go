package main

import "github.com/spf13/cobra"

func newEndpointCmd(g *globals) *cobra.Command { return notYet("endpoint") }
