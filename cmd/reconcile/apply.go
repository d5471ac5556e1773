package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/reconcile-dev/reconcile/reconcile"
	"github.com/reconcile-dev/reconcile/reconcile/lock"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/state"
	"github.com/reconcile-dev/reconcile/schema"
)

func newApplyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "apply",
		Short: "Validate the repository and swap this host's ruleset into the kernel in one transaction",
		Long: `Validate the repository, compile this host's ruleset, and, when the kernel differs, replace
the table in one nftables transaction; then record the revision in the state directory.
Exit 0 when applied or nothing to do, 1 on any error (then nothing changed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runApply(cmd.Context(), g)
		},
	}
}

func runApply(ctx context.Context, g *globals) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := g.checkOutput(); err != nil {
		return err
	}
	o, done, err := g.reconcileOptions(ctx, true)
	if err != nil {
		return err
	}
	defer done()
	lk, err := g.lockTable(ctx)
	if err != nil {
		return err
	}
	defer lk.Release()
	res, err := reconcile.Apply(ctx, o)
	if err != nil {
		// The transaction may have gone in before the state record failed to save: then
		// the kernel did change, and saying otherwise would mislead.
		kernelChanged := res != nil && res.Result == state.Applied
		return g.passFailed(err, !kernelChanged)
	}
	if g.output == "json" {
		return writeJSON(g.stdout, applyJSON(g, res))
	}
	var b strings.Builder
	writePlanHeader(&b, g, res.PlanResult)
	if res.Result == state.NoChange {
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
	fmt.Fprintf(&b, "\nApply complete! Revision %s (%s ms).\n", res.Snapshot.Revision, millis(res.Duration))
	_, err = io.WriteString(g.stdout, b.String())
	return err
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
	Waiting        []reconcile.Waiting `json:"waiting"`
	Plan           *plan.Plan          `json:"plan"`
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
		DurationMS: res.Duration.Milliseconds(), Waiting: w, Plan: res.Plan,
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

// reconcileOptions builds the options of a pass from the common flags: the source, the
// kernel dataplane in --netns (when withKernel) and the interface lister. done releases what
// was opened.
func (g *globals) reconcileOptions(ctx context.Context, withKernel bool) (reconcile.Options, func(), error) {
	var o reconcile.Options
	log, err := g.cmdLogger()
	if err != nil {
		return o, nil, err
	}
	if err := checkHostFlag(g.host); err != nil {
		return o, nil, err
	}
	src, err := g.openSource()
	if err != nil {
		return o, nil, err
	}
	// One handle for the pass; a namespace that cannot be opened is reported where it is used.
	ns, nsErr := netns.Open(g.netns)
	key := g.netns
	if nsErr == nil {
		key = ns.Key() // every spelling of the namespace: one state record
	}
	o = reconcile.Options{
		Source: src, Host: g.host, Table: g.table, StateDir: g.stateDir, Netns: key,
		Logger: log, Now: time.Now, Links: linkLister(ns, nsErr), Session: newSession(),
	}
	done := func() {
		if ns != nil {
			_ = ns.Close()
		}
	}
	if withKernel {
		lk := &lazyKernel{ns: ns, nsErr: nsErr, log: log}
		o.Dataplane = lk
		closeNs := done
		done = func() { lk.close(); closeNs() }
	}
	return o, done, nil
}

// newSession names this run for reconcile.Options.Session: a ruleset generation recorded by
// another process (before a reboot, in a namespace since recreated) is never trusted.
func newSession() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%d-%x", os.Getpid(), b)
}

// lazyKernel opens the kernel dataplane on first use, so that an invalid repository is
// reported before (and without) touching netlink.
type lazyKernel struct {
	ns    *netns.Handle
	nsErr error // why ns could not be opened
	log   *slog.Logger
	dp    nft.Dataplane
	done  func()
}

func (l *lazyKernel) open() (nft.Dataplane, error) {
	if l.nsErr != nil {
		return nil, l.nsErr
	}
	if l.dp == nil {
		dp, done, err := openKernel(l.ns, l.log)
		if err != nil {
			return nil, err
		}
		l.dp, l.done = dp, done
	}
	return l.dp, nil
}

func (l *lazyKernel) Apply(ctx context.Context, desired *nft.Ruleset) error {
	dp, err := l.open()
	if err != nil {
		return err
	}
	return dp.Apply(ctx, desired)
}

func (l *lazyKernel) Observe(ctx context.Context, table string) (*nft.Ruleset, error) {
	dp, err := l.open()
	if err != nil {
		return nil, err
	}
	return dp.Observe(ctx, table)
}

// Generation forwards the kernel's ruleset generation (see nft.Generationer).
func (l *lazyKernel) Generation(ctx context.Context) (uint32, error) {
	dp, err := l.open()
	if err != nil {
		return 0, err
	}
	g, ok := dp.(nft.Generationer)
	if !ok {
		return 0, errors.New("the dataplane cannot tell its generation")
	}
	return g.Generation(ctx)
}

func (l *lazyKernel) close() {
	if l.done != nil {
		l.done()
	}
}

// lockTable serialises the processes that program this table in this namespace. It does not
// wait: when another process (a watch pass, another apply) holds the lock, apply says so and
// exits 1, changing nothing.
func (g *globals) lockTable(ctx context.Context) (*lock.Lock, error) {
	ns, err := netns.Open(g.netns)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	key, err := lock.Key(g.table, ns)
	if err != nil {
		return nil, err
	}
	lk, err := lock.Acquire(ctx, key, false)
	var le *lock.LockedError
	if errors.As(err, &le) {
		holder := "another reconcile"
		if le.PID > 0 {
			holder = fmt.Sprintf("another reconcile (pid %d)", le.PID)
		}
		return nil, fmt.Errorf("%s is applying to table inet %s in this namespace; try again later", holder, g.table)
	}
	if err != nil {
		return nil, fmt.Errorf("lock table inet %q: %w", g.table, err)
	}
	return lk, nil
}

// passFailed reports a failed pass: every validation error as path:line:col: message, or the
// error; it returns exitCode(1).
func (g *globals) passFailed(err error, changing bool) error {
	suffix := ""
	if changing {
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

// linkLister lists the interface names in the namespace ns (openErr: why it could not be
// opened), with a netlink handle bound to it, retrying interrupted dumps.
func linkLister(ns *netns.Handle, openErr error) func(ctx context.Context) (map[string]bool, error) {
	return func(ctx context.Context) (map[string]bool, error) {
		if openErr != nil {
			return nil, openErr
		}
		h, err := netlinkHandle(ns)
		if err != nil {
			return nil, err
		}
		defer h.Close()
		for attempt := 0; ; attempt++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			links, err := h.LinkList()
			if errors.Is(err, netlink.ErrDumpInterrupted) && attempt < 10 {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("list interfaces: %w", err)
			}
			names := make(map[string]bool, len(links))
			for _, l := range links {
				names[l.Attrs().Name] = true
			}
			return names, nil
		}
	}
}

// netlinkHandle opens a netlink handle in ns ("" name: this process's namespace); it does not
// close ns.
func netlinkHandle(ns *netns.Handle) (*netlink.Handle, error) {
	if ns.Name() == "" {
		return netlink.NewHandle()
	}
	h, err := netlink.NewHandleAt(vnetns.NsHandle(ns.Fd()))
	if err != nil {
		return nil, fmt.Errorf("netlink in network namespace %q: %w", ns.Name(), err)
	}
	return h, nil
}

// openKernel opens the kernel dataplane in the namespace ns.
func openKernel(ns *netns.Handle, log *slog.Logger) (nft.Dataplane, func(), error) {
	if ns.Name() == "" {
		ns = nil // this process's namespace, as before: no namespace descriptor
	}
	k, err := nft.NewKernel(ns, nft.WithLogger(log))
	if err != nil {
		return nil, nil, err // it names the namespace
	}
	return k, func() { _ = k.Close() }, nil
}
