package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile"
	"github.com/reconcile-dev/reconcile/schema"
)

func newApplyCmd(g *globals) *cobra.Command {
	full := false
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Validate the repository and swap this host's ruleset into the kernel in one transaction",
		Long: `Validate the repository, compile this host's ruleset, and, when the kernel differs, change
the table in one nftables transaction: only what differs (rules not changed keep their counters),
or the whole table when it is missing, unknown, or the change cannot be made in place, or with
--full; then record the revision in the state directory.
When the source still holds the revision applied last, this same program compiled it, and the
kernel's ruleset generation, netns cookie and boot id are those recorded, nothing is read and
only the attempt is recorded (--full reads the repository and the table anyway).
Exit 0 when applied or nothing to do, 1 on any error (then nothing changed).`,
		Args: func(cmd *cobra.Command, args []string) error {
			return unchanged(cobra.NoArgs(cmd, args))
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runApply(cmd.Context(), g, full)
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "read the repository and the table even when the state record shows nothing changed, and replace the whole table when it differs (every counter restarts at zero) instead of changing only what differs")
	return cmd
}

func runApply(ctx context.Context, g *globals, full bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := g.checkOutput(); err != nil {
		return unchanged(err)
	}
	if err := g.requireSource("apply"); err != nil {
		return unchanged(err)
	}
	a, err := g.agent(true, func(c *reconcile.Config) { c.Full = full })
	if err != nil {
		return unchanged(err)
	}
	defer a.Close()
	res, err := a.Apply(ctx)
	var failed *reconcile.Error
	if err != nil && !errors.As(err, &failed) && (res == nil || res.Result != reconcile.Applied) {
		return unchanged(err) // the host, the source or the lock: before the pass
	}
	if err != nil {
		// The transaction may have gone in before the state record failed to save: then
		// the kernel did change, and saying otherwise would mislead.
		kernelChanged := res != nil && res.Result == reconcile.Applied
		return g.passFailed(err, !kernelChanged)
	}
	if g.output == "json" {
		return writeJSON(g.stdout, applyJSON(g, res))
	}
	var b strings.Builder
	if res.Fast {
		la := res.Record.LastApplied
		fmt.Fprintf(&b, "No changes. Revision %s already applied.\nThe kernel's ruleset generation %d is unchanged since %s: repository and table not read (--full reads them).\n",
			res.Snapshot.Revision, res.Generation, la.Time.Format(time.RFC3339))
		_, err := io.WriteString(g.stdout, b.String())
		return err
	}
	writePlanHeader(&b, g, res.PlanResult)
	if res.Result == reconcile.NoChange {
		if res.AlreadyApplied {
			fmt.Fprintf(&b, "No changes. Revision %s already applied.\n", res.Snapshot.Revision)
		} else {
			fmt.Fprintf(&b, "No changes. Revision %s applied (the kernel already held its ruleset).\n", res.Snapshot.Revision)
		}
		_, err := io.WriteString(g.stdout, b.String())
		return err
	}
	if err := res.Plan.WriteText(&b); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nApply complete! Revision %s (%s ms, %s).\n", res.Snapshot.Revision, millis(res.Duration), modeText(res.Mode))
	_, err = io.WriteString(g.stdout, b.String())
	return err
}

// modeText says how the transaction changed the table (ApplyResult.Mode), for apply's text.
func modeText(mode string) string {
	switch mode {
	case reconcile.ModeIncremental:
		return "changed in place"
	case reconcile.ModeFullFallback:
		return "table replaced: the change in place was refused"
	}
	return "table replaced"
}

// millis formats a duration in milliseconds, with one decimal under 10 ms.
func millis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return strconv.FormatFloat(ms, 'f', 1, 64)
	}
	return strconv.FormatFloat(ms, 'f', 0, 64)
}

// applyJSON is the JSON output of apply (see docs/OPERATIONS.md).
type applyOut struct {
	Result         string              `json:"result"` // "applied" or "no-change"
	AlreadyApplied bool                `json:"already_applied"`
	Source         string              `json:"source"`
	Revision       string              `json:"revision"`
	Commit         string              `json:"commit,omitempty"`
	Host           string              `json:"host"`
	Table          string              `json:"table"`
	Netns          string              `json:"netns,omitempty"`
	RulesetDigest  string              `json:"ruleset_digest"`
	DurationMS     int64               `json:"duration_ms"`
	Mode           string              `json:"mode,omitempty"` // "incremental", "full", "full-fallback"; absent for no-change
	Waiting        []reconcile.Waiting `json:"waiting"`
	Plan           *reconcile.Plan     `json:"plan"`
	// Fast: the fast no-change path (nothing read; waiting is not computed then).
	Fast bool `json:"fast,omitempty"`
}

func applyJSON(g *globals, res *reconcile.ApplyResult) applyOut {
	w := res.Waiting
	if w == nil {
		w = []reconcile.Waiting{}
	}
	return applyOut{
		Result: string(res.Result), AlreadyApplied: res.AlreadyApplied,
		Source: res.Snapshot.Source, Revision: res.Snapshot.Revision, Commit: res.Snapshot.Commit,
		Host: g.host, Table: g.table, Netns: g.netns, RulesetDigest: "sha256:" + res.Digest,
		DurationMS: res.Duration.Milliseconds(), Mode: res.Mode, Waiting: w, Plan: res.Plan, Fast: res.Fast,
	}
}

// --- shared by plan, apply and status --------------------------------------------------------

func (g *globals) checkOutput() error {
	switch g.output {
	case "text", "json":
		return nil
	}
	return fmt.Errorf("unknown output format %q: use text or json", g.output)
}

// withAgent runs f with the Agent of a read-only command (plan, status): it checks -o, makes
// the Agent (edit changes its Config) and closes it after f; a nil ctx is Background.
func (g *globals) withAgent(ctx context.Context, f func(context.Context, *reconcile.Agent) error, edit ...func(*reconcile.Config)) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := g.checkOutput(); err != nil {
		return err
	}
	a, err := g.agent(true, edit...)
	if err != nil {
		return err
	}
	defer a.Close()
	return f(ctx, a)
}

// fullRead is the Config edit of --full: read the table (and the repository) in full.
func fullRead(full bool) func(*reconcile.Config) {
	return func(c *reconcile.Config) { c.Full = full }
}

// cmdLogger is the slog logger of --log-format and --log-level, writing to stderr.
func (g *globals) cmdLogger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("unknown log level %q: use debug, info, warn or error", g.logLevel)
	}
	ho := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, ho)), nil
	}
	return nil, fmt.Errorf("unknown log format %q: use text or json", g.logFormat)
}

// agent builds the Agent of the common flags. strictLog: --log-format and --log-level must
// be valid (plan, apply, status, watch); otherwise (validate, explain, test) a bad level logs
// at info.
// edit, when given, adjusts the Config (watch's heal and metrics).
func (g *globals) agent(strictLog bool, edit ...func(*reconcile.Config)) (*reconcile.Agent, error) {
	log := g.sourceLogger()
	if strictLog {
		var err error
		if log, err = g.cmdLogger(); err != nil {
			return nil, err
		}
	}
	cfg := reconcile.Config{
		Repo: g.repo, Ref: g.ref, Dir: g.dir,
		Verify: g.git.verify, TrustedKeys: g.git.trustedKeys, AllowRewind: g.git.allowRewind,
		FetchTimeout: g.git.fetchTimeout,
		Host:         g.host, Netns: g.netns, Table: g.table, StateDir: g.stateDir,
		Logger: log, Session: reconcile.NewSession(),
	}
	for _, e := range edit {
		e(&cfg)
	}
	return reconcile.New(cfg)
}

// unchanged is err (nil: nil) of apply stopped before it touched the kernel (a flag value it
// refuses, the namespace, the source, the lock), ending "; nothing was changed" as every
// failure of apply but "applied but not recorded" does (docs/OPERATIONS.md, "Exit codes and
// messages"); once.
func unchanged(err error) error {
	if err == nil || strings.Contains(err.Error(), "nothing was changed") {
		return err
	}
	return fmt.Errorf("%w; nothing was changed", err)
}

// passFailed reports a failed pass: every validation error as path:line:col: message, or the
// error; it returns exitCode(1).
func (g *globals) passFailed(err error, changing bool) error {
	suffix := ""
	if changing && !strings.Contains(err.Error(), "nothing changed") { // said once (nft's refusals say it)
		suffix = "; nothing was changed"
	}
	var errs schema.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(g.stderr, e.Error())
		}
		noun := "errors"
		if len(errs) == 1 {
			noun = "error"
		}
		fmt.Fprintf(g.stderr, "reconcile: the repository is invalid (%d %s)%s\n", len(errs), noun, suffix)
		return exitCode(1)
	}
	fmt.Fprintf(g.stderr, "reconcile: %v%s\n", err, suffix)
	return exitCode(1)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writePlanHeader says what was planned: the revision, the host, the table, and the
// endpoints still waiting for their interface.
func writePlanHeader(b *strings.Builder, g *globals, pr *reconcile.PlanResult) {
	where := "table inet " + g.table
	if g.netns != "" {
		where += " in netns " + g.netns
	}
	fmt.Fprintf(b, "Revision %s from %s, host %s, %s.\n", pr.Snapshot.Revision, pr.Snapshot.Source, g.host, where)
	if len(pr.Endpoints) == 0 {
		fmt.Fprintf(b, "Note: no endpoint of the repository is on host %q (check --host); the table holds only the base chains.\n", g.host)
	}
	for _, w := range pr.Waiting {
		fmt.Fprintf(b, "Waiting: endpoint %s: interface %s does not exist yet (its chains are installed anyway).\n", w.Endpoint, w.Interface)
	}
	if pr.LinksError != "" {
		fmt.Fprintf(b, "Note: cannot list interfaces: %s\n", pr.LinksError)
	}
	b.WriteString("\n")
}

// requireSource refuses a command that programs the kernel (apply, watch) without --repo or
// --dir: the other commands read the working directory by default, but a unit file or cron
// line that forgot the flag would otherwise apply whatever directory it runs in — one without
// policy files is an empty repository, whose ruleset filters nothing.
func (g *globals) requireSource(cmd string) error {
	if g.repo == "" && g.dir == "" {
		return fmt.Errorf("%s needs the policy repository: give --repo URL or --dir PATH (it does not default to the working directory)", cmd)
	}
	return nil
}
