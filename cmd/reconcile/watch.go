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
	"github.com/reconcile-dev/reconcile/reconcile/lock"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
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
	o, done, err := g.reconcileOptions(ctx, true)
	if err != nil {
		return err
	}
	defer done()
	log := o.Logger
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	metrics := reconcile.NewMetrics()
	if f.metricsAddr != "" {
		ln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler())
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		}()
		defer srv.Close()
		log.Info("serving metrics", "addr", ln.Addr().String())
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	sig := make(chan struct{}, 1)
	go func() {
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

	ns, err := netns.Open(g.netns)
	if err != nil {
		return err
	}
	defer ns.Close()
	key, err := lock.Key(g.table, ns)
	if err != nil {
		return err
	}
	watchDir := ""
	if g.repo == "" {
		watchDir = g.dir
		if watchDir == "" {
			watchDir = "."
		}
	}
	statusOpts := o
	statusOpts.Source = nil // drift needs only the state record and the kernel

	wo := reconcile.WatchOptions{
		Pass: func(ctx context.Context, heal bool) (*reconcile.PassOutcome, error) {
			po := o
			po.NoHeal = !heal
			res, err := reconcile.Apply(ctx, po)
			if err != nil {
				return nil, err
			}
			out := &reconcile.PassOutcome{
				Result: string(res.Result), Duration: res.Duration, Drift: res.DriftLeft,
				Revision: res.Snapshot.Revision, Source: res.Snapshot.Source,
				Endpoints: len(res.Endpoints), Rules: res.Rules(),
			}
			for _, e := range res.Endpoints {
				out.Interfaces = append(out.Interfaces, e.Interface)
			}
			return out, nil
		},
		Drift: func(ctx context.Context) (*reconcile.DriftOutcome, error) {
			st, err := reconcile.Status(ctx, statusOpts)
			if err != nil {
				return nil, err
			}
			if st.LastApplied == nil || st.Drift == nil {
				return &reconcile.DriftOutcome{}, nil
			}
			return &reconcile.DriftOutcome{Drift: !st.Drift.Empty(), Summary: st.Drift.Summary()}, nil
		},
		Lock: func(ctx context.Context) (func(), error) {
			lk, err := lock.Acquire(ctx, key, false)
			if errors.Is(err, lock.ErrLocked) {
				log.Info("another reconcile holds the table; waiting", "err", err)
				lk, err = lock.Acquire(ctx, key, true)
			}
			if err != nil {
				return nil, err
			}
			return func() { _ = lk.Release() }, nil
		},
		Interval:      f.interval,
		DriftInterval: f.driftInterval,
		Heal:          f.heal,
		WatchDir:      watchDir,
		Debounce:      f.debounce,
		WatchLinks:    true,
		NetNS:         ns,
		Signals:       sig,
		Metrics:       metrics,
		Logger:        log,
	}
	log.Info("watching", "source", o.Source.String(), "host", o.Host, "table", g.table, "netns", g.netns,
		"interval", f.interval, "drift_interval", f.driftInterval, "heal", f.heal)
	if err := reconcile.Watch(ctx, wo); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
