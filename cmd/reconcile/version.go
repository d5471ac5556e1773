package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the version of reconcile and of what it was built with",
		Long: `Print the module version, the git revision and commit time the binary was built from (and
whether the work tree had uncommitted changes), the Go version, and the versions of
google/nftables and go-git linked in: what ` + "`go version -m`" + ` shows, read from the binary's
own build information (runtime/debug). -o json prints the same fields as JSON.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			v, _ := reconcile.ReadVersion()
			if g.output == "json" {
				return writeJSON(g.stdout, v)
			}
			_, err := io.WriteString(g.stdout, versionText(v))
			return err
		},
	}
}

// versionText is the text of `reconcile version` and `reconcile --version`:
//
//	reconcile (devel)
//	  revision:  8ba1f83c… (2026-11-30T18:40:00Z, modified)
//	  go:        go1.26.8 linux/amd64
//	  nftables:  github.com/google/nftables v0.3.1-…
//	  go-git:    github.com/go-git/go-git/v5 v5.19.3
func versionText(v reconcile.Version) string {
	var b strings.Builder
	mv := v.ModuleVersion
	if mv == "" {
		mv = "(unknown)"
	}
	fmt.Fprintf(&b, "reconcile %s\n", mv)
	rev := "unknown (built without VCS information)"
	if v.Revision != "" {
		rev = v.Revision
		var notes []string
		if v.Time != "" {
			notes = append(notes, v.Time)
		}
		if v.Modified {
			notes = append(notes, "modified")
		}
		if len(notes) > 0 {
			rev += " (" + strings.Join(notes, ", ") + ")"
		}
	}
	fmt.Fprintf(&b, "  revision:  %s\n", rev)
	fmt.Fprintf(&b, "  go:        %s %s\n", v.GoVersion, v.Platform)
	fmt.Fprintf(&b, "  nftables:  %s %s\n", reconcile.NftablesModule, versionOrUnknown(v.Nftables))
	fmt.Fprintf(&b, "  go-git:    %s %s\n", reconcile.GoGitModule, versionOrUnknown(v.GoGit))
	return b.String()
}

func versionOrUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
