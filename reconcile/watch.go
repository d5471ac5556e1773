package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Heal modes of the watch loop's drift check.
const (
	HealDisabled = "disabled" // drift is not checked
	HealWarn     = "warn"     // drift is reported (log, metric, status) but left alone
	HealEnabled  = "enabled"  // drift is reported and the applied ruleset is re-applied
)

// PassOutcome is what one successful reconcile pass did.
type PassOutcome struct {
	Result     string // "applied" or "no-change"
	Revision   string
	Source     string
	Duration   time.Duration // of the transaction, zero for no-change
	Endpoints  int           // local endpoints programmed
	Rules      int           // nftables rules programmed
	Interfaces []string      // interface names of this host's endpoints (link events to watch)
	Drift      bool          // the kernel differs from the applied ruleset and was left so (heal off)
}

// DriftOutcome is what a drift check found.
type DriftOutcome struct {
	Drift   bool
	Summary string // e.g. "Plan: 1 to add, 0 to change, 0 to destroy." or "table deleted"
}

// WatchOptions configure Watch. Pass and Drift are the one-pass reconcile and the drift
// check (the CLI wires them to Apply and Status); the rest says when to call them.
type WatchOptions struct {
	Pass  func(ctx context.Context, heal bool) (*PassOutcome, error)
	Drift func(ctx context.Context) (*DriftOutcome, error)
	// Lock is held around every pass (nil: no locking); it waits for other processes.
	Lock func(ctx context.Context) (release func(), err error)

	Interval      time.Duration // poll the source (default 30s), with 10% jitter
	DriftInterval time.Duration // check drift (0: no periodic drift check)
	Heal          string        // HealDisabled, HealWarn or HealEnabled
	WatchDir      string        // fsnotify root ("" = no file watching)
	Debounce      time.Duration // fsnotify debounce (default 300ms)
	WatchLinks    bool          // subscribe to link events in NetNS
	NetNS         string
	// Signals delivers SIGHUP-style "reconcile now" requests (nil: none).
	Signals <-chan struct{}
	// MaxBackoff caps the retry delay after failures (default: Interval).
	MaxBackoff time.Duration

	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Watch runs reconcile passes until ctx is done: at start, on every Interval (jittered), on
// repository file changes under WatchDir, on endpoint interfaces appearing or disappearing,
// on Signals, and after failures with exponential backoff. Triggers coalesce and one
// goroutine runs the passes, so two passes never overlap. A failed pass changes nothing in
// the kernel (the last good ruleset stays) and is retried, except a *ForeignTableError (the
// table is not reconcile's): it is logged once and checked again on the next trigger only.
func Watch(ctx context.Context, o WatchOptions) error {
	if o.Pass == nil {
		return errors.New("watch: no pass function")
	}
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.Debounce <= 0 {
		o.Debounce = 300 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = o.Interval
	}
	if o.Heal == "" {
		o.Heal = HealWarn
	}
	switch o.Heal {
	case HealDisabled, HealWarn, HealEnabled:
	default:
		return fmt.Errorf("watch: --heal must be disabled, warn or enabled, not %q", o.Heal)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	q := NewTriggers()
	q.Send(Trigger{Reason: "start"})

	var wg sync.WaitGroup
	defer wg.Wait()
	spawn := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && ctx.Err() == nil {
				log.Error("trigger source stopped", "source", name, "err", err)
			}
		}()
	}

	// Poll interval with jitter.
	spawn("interval", func() error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(Jitter(o.Interval, 0.1)):
				q.Send(Trigger{Reason: "interval"})
			}
		}
	})
	// Drift checks.
	if o.DriftInterval > 0 && o.Heal != HealDisabled && o.Drift != nil {
		spawn("drift", func() error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(Jitter(o.DriftInterval, 0.1)):
					q.Send(Trigger{Reason: "drift"})
				}
			}
		})
	}
	if o.WatchDir != "" {
		spawn("fsnotify", func() error { return WatchDir(ctx, o.WatchDir, o.Debounce, q, log) })
	}
	// Interfaces of this host's endpoints, updated after each successful pass.
	var ifMu sync.Mutex
	ifaces := map[string]bool{}
	interesting := func(name string) bool {
		ifMu.Lock()
		defer ifMu.Unlock()
		return ifaces[name]
	}
	linksStarted := false
	startLinks := func() {
		if !o.WatchLinks || linksStarted {
			return
		}
		linksStarted = true
		spawn("netlink", func() error { return WatchLinks(ctx, o.NetNS, interesting, q, log) })
	}
	if o.Signals != nil {
		spawn("signal", func() error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case _, ok := <-o.Signals:
					if !ok {
						return nil
					}
					q.Send(Trigger{Reason: "sighup"})
				}
			}
		})
	}

	backoff := time.Duration(0)
	foreignSeen := "" // the foreign-table refusal reported last ("" none since the last other outcome)
	var retry *time.Timer
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		tr, merged, err := q.Next(ctx)
		if err != nil {
			return nil
		}
		o.Metrics.ObserveTrigger(tr.Reason)
		if tr.Reason == "drift" {
			d, err := o.Drift(ctx)
			if err != nil {
				log.Warn("drift check failed", "err", err)
				continue
			}
			o.Metrics.ObserveDrift(d.Drift)
			if !d.Drift {
				log.Debug("no drift")
				continue
			}
			if o.Heal != HealEnabled {
				log.Warn("drift: the kernel differs from the applied ruleset (heal=warn leaves it)", "drift", d.Summary)
				continue
			}
			log.Warn("drift: re-applying the applied ruleset", "drift", d.Summary)
		}
		log.Info("reconcile", "trigger", tr.Reason, "detail", tr.Detail, "merged", merged)
		out, err := runPass(ctx, o, o.Heal == HealEnabled || tr.Reason == "drift")
		if ctx.Err() != nil {
			return nil
		}
		now := o.Now()
		var foreign *ForeignTableError
		if err != nil && errors.As(err, &foreign) {
			// Not a transient failure: retrying cannot help until someone deletes the table
			// or picks another --table. Say so once; later triggers (the interval, file and
			// link events) check again, without a retry timer of their own.
			stage, reason := Classify(err)
			o.Metrics.ObserveFailure(now, stage, reason)
			if msg := foreign.Error(); msg != foreignSeen {
				foreignSeen = msg
				log.Error("reconcile refused; the table is left alone and checked again on the next trigger", "err", err)
			} else {
				log.Debug("table still not made by reconcile; left alone", "table", foreign.Table)
			}
			startLinks()
			continue
		}
		foreignSeen = ""
		if err != nil {
			stage, reason := Classify(err)
			o.Metrics.ObserveFailure(now, stage, reason)
			if backoff == 0 {
				backoff = time.Second
			} else {
				backoff = min(backoff*2, o.MaxBackoff)
			}
			log.Error("reconcile failed; the last good ruleset stays in the kernel",
				"stage", stage, "reason", reason, "err", err, "retry_in", backoff)
			if retry != nil {
				retry.Stop()
			}
			retry = time.AfterFunc(backoff, func() { q.Send(Trigger{Reason: "retry"}) })
			startLinks()
			continue
		}
		backoff = 0
		o.Metrics.ObserveApplied(now, out.Result, out.Revision, out.Source, out.Duration, out.Endpoints, out.Rules)
		o.Metrics.ObserveDrift(out.Drift) // the pass itself logged the drift it left alone
		ifMu.Lock()
		ifaces = map[string]bool{}
		for _, n := range out.Interfaces {
			ifaces[n] = true
		}
		ifMu.Unlock()
		startLinks()
		log.Debug("pass done", "result", out.Result, "revision", out.Revision, "endpoints", out.Endpoints, "rules", out.Rules)
	}
}

func runPass(ctx context.Context, o WatchOptions, heal bool) (*PassOutcome, error) {
	if o.Lock != nil {
		release, err := o.Lock(ctx)
		if err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		defer release()
	}
	return o.Pass(ctx, heal)
}
