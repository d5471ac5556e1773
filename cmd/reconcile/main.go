// Command reconcile turns a git repository of Calico-style network-policy profiles into the
// nftables firewall of this host, the GitOps way. See the README and SPEC for the contract.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// exitCode is returned by a command to end the process with that code without printing
// anything more (the command already said what it had to say).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// globals holds the common flags (SPEC §5) and the process's standard streams.
type globals struct {
	repo     string
	ref      string
	dir      string
	host     string
	netns    string
	stateDir string
	table    string
	output   string

	logFormat string
	logLevel  string

	git gitFlags // --verify, --trusted-keys, --allow-rewind (gitflags.go)

	stdin          io.Reader
	stdout, stderr io.Writer
}

// run executes the command line args and returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ec exitCode
	if errors.As(err, &ec) {
		return int(ec)
	}
	fmt.Fprintf(stderr, "reconcile: %v\n", err)
	return 1
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "reconcile",
		Short:         "Turn a git repository of network-policy profiles into this host's nftables firewall",
		SilenceErrors: true,
		SilenceUsage:  true,
		// Every command takes --table (a persistent flag); it is checked before any runs.
		PersistentPreRunE: g.checkGlobals,
	}
	// A flag that does not parse stops apply before it reads or writes anything: it says so
	// as every other failure of apply does (docs/OPERATIONS.md, "Exit codes and messages").
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if c.Name() == "apply" {
			return fmt.Errorf("%w; nothing was changed", err)
		}
		return err
	})
	hostname, _ := os.Hostname()
	pf := root.PersistentFlags()
	pf.StringVar(&g.repo, "repo", "", "policy repository: a git URL (https, ssh, file://) or a local git repository path")
	pf.StringVar(&g.ref, "ref", "", "branch, tag or commit of --repo (default: the remote's default branch)")
	pf.StringVar(&g.dir, "dir", "", "policy repository as a plain directory (no git)")
	pf.StringVar(&g.host, "host", hostname, "host whose endpoints to enforce")
	pf.StringVar(&g.netns, "netns", "", "act inside this network namespace (name in /run/netns, or a path)")
	pf.StringVar(&g.stateDir, "state-dir", "/var/lib/reconcile", "directory for the state record and the git clone")
	pf.StringVar(&g.table, "table", "reconcile", "name of the inet nftables table reconcile owns")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	addGitFlags(pf, &g.git)

	root.AddCommand(
		newValidateCmd(g),
		newProfileCmd(g),
		newEndpointCmd(g),
		newPlanCmd(g),
		newApplyCmd(g),
		newStatusCmd(g),
		newWatchCmd(g),
		newExplainCmd(g),
		newTestCmd(g),
		newVersionCmd(g),
	)
	// --version prints what `reconcile version` prints (text only).
	if v, ok := reconcile.ReadVersion(); ok {
		root.Version = v.ModuleVersion
		root.SetVersionTemplate(versionText(v))
	} else {
		root.Version = "(unknown)"
	}
	return root
}
