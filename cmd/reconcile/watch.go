package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile"
)

type watchFlags struct {
	interval      time.Duration
	driftInterval time.Duration
	heal          string
	metricsAddr   string
	debounce      time.Duration
}

func newWatchCmd(g *globals) *cobra.Command {
	f := &watchFlags{}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Keep the kernel at the policy repository's newest good revision, unattended",
		Long: `Run until stopped (SIGINT/SIGTERM), reconciling:
  - every --interval (with 10% jitter): fetch the source, apply when it changed;
  - on file changes under --dir (fsnotify, recursive, debounced);
  - when an interface of one of this host's endpoints appears or disappears (netlink);
  - on SIGHUP;
  - every --drift-interval: compare the kernel with the applied ruleset; --heal=warn reports
    drift, --heal=enabled (or plain --heal) re-applies, --heal=disabled does not check.
Passes never overlap, failures back off exponentially, and a failed pass (remote unreachable,
invalid commit, refused history or signature) leaves the last good ruleset in the kernel.
--metrics-addr serves Prometheus metrics on /metrics.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				switch args[0] {
				case reconcile.HealDisabled, reconcile.HealWarn, reconcile.HealEnabled:
					return fmt.Errorf("unexpected argument %q: write --heal=%s (with '=': a bare --heal means enabled)", args[0], args[0])
				}
			}
			return cobra.NoArgs(cmd, args)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runWatch(ctx, g, f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.interval, "interval", 30*time.Second, "how often to fetch the source")
	fl.DurationVar(&f.driftInterval, "drift-interval", time.Minute, "how often to compare the kernel with the applied ruleset")
	fl.StringVar(&f.heal, "heal", reconcile.HealWarn, "on drift: disabled (no check), warn (report) or enabled (re-apply)")
	fl.Lookup("heal").NoOptDefVal = reconcile.HealEnabled
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (e.g. 127.0.0.1:9742)")
	fl.DurationVar(&f.debounce, "debounce", 300*time.Millisecond, "wait this long after the last file change under --dir")
	return cmd
}

func runWatch(ctx context.Context, g *globals, f *watchFlags) error {
	if f.interval <= 0 {
		return fmt.Errorf("--interval must be positive, not %v", f.interval)
	}
	if err := g.requireSource("watch"); err != nil {
		return err
	}
	a, err := g.agent(true, func(c *reconcile.Config) {
		c.Heal = f.heal
		c.Metrics = reconcile.NewMetrics()
	})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Prepare(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.metricsAddr != "" {
		stopMetrics, err := serveMetrics(f.metricsAddr, a)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	return a.Watch(ctx, reconcile.WatchOptions{
		Interval: f.interval, DriftInterval: f.driftInterval, Debounce: f.debounce,
		Signals: sighup(ctx),
	})
}

// serveMetrics serves the Agent's Prometheus metrics on /metrics (and "ok" on /healthz) at
// addr until the returned function is called.
func serveMetrics(addr string, a *reconcile.Agent) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	log := a.Logger()
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.Metrics().Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// sighup turns SIGHUP into "reconcile now" requests until ctx is done.
func sighup(ctx context.Context) <-chan struct{} {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	sig := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case sig <- struct{}{}:
				default:
				}
			}
		}
	}()
	return sig
}
