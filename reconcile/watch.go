package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/trigger"
)

// Heal modes of the watch loop's drift check.
const (
	HealDisabled = "disabled" // drift is not checked
	HealWarn     = "warn"     // drift is reported (log, metric, status) but left alone
	HealEnabled  = "enabled"  // drift is reported and the applied ruleset is re-applied
)

// passOutcome is what one successful reconcile pass did.
type passOutcome struct {
	Result     string // "applied" or "no-change"
	Revision   string
	Source     string
	Duration   time.Duration // of the transaction, zero for no-change
	Mode       string        // how the transaction changed the table (ApplyResult.Mode), "" for no-change
	Endpoints  int           // local endpoints programmed
	Rules      int           // nftables rules programmed
	Interfaces []string      // interface names of this host's endpoints (link events to watch)
	Drift      bool          // the kernel differs from the applied ruleset and was left so (heal off)
}

// driftOutcome is what a drift check found.
type driftOutcome struct {
	Drift   bool
	Summary string // e.g. "Plan: 1 to add, 0 to change, 0 to destroy." or "table deleted"
}

// loopOptions configure the watch loop (runLoop). Pass and Drift are the one-pass reconcile
// and the drift check (Agent.Watch wires them to the pipeline's apply and status steps; tests
// to fakes); the rest says when to call them.
type loopOptions struct {
	Pass  func(ctx context.Context, heal bool) (*passOutcome, error)
	Drift func(ctx context.Context) (*driftOutcome, error)
	// Lock is held around every pass (nil: no locking); it waits for other processes.
	Lock func(ctx context.Context) (release func(), err error)

	Interval      time.Duration // poll the source (default 30s), with 10% jitter
	DriftInterval time.Duration // check drift (0: no periodic drift check)
	Heal          string        // HealDisabled, HealWarn or HealEnabled
	WatchDir      string        // fsnotify root ("" = no file watching)
	Debounce      time.Duration // fsnotify debounce (default 300ms)
	WatchLinks    bool          // subscribe to link events in NetNS
	NetNS         *netns.Handle // the namespace, open while Watch runs (nil: this process's)
	// Signals delivers SIGHUP-style "reconcile now" requests (nil: none).
	Signals <-chan struct{}
	// Sources, when not nil, replace the trigger sources that Interval, DriftInterval,
	// WatchDir, WatchLinks and Signals describe (see TriggerSources); tests pass fakes here.
	Sources []trigger.Source
	// MaxBackoff caps the retry delay after failures (default: Interval).
	MaxBackoff time.Duration

	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// withDefaults fills in the defaults; the error is a bad Heal (o is filled in all the same).
func (o loopOptions) withDefaults() (loopOptions, error) {
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
		return o, fmt.Errorf("watch: --heal must be disabled, warn or enabled, not %q", o.Heal)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// TriggerSources returns the trigger sources the options describe, in this order: the source poll
// (trigger.Interval), the drift timer (when DriftInterval > 0, Heal is not disabled and Drift
// is set), fsnotify under WatchDir (when set), link events in NetNS (when WatchLinks; it follows
// the passes' endpoint interfaces), Signals (when set). When o.Sources is not nil, it is
// returned instead. Defaults are those of Watch.
func (o loopOptions) TriggerSources() []trigger.Source {
	if o.Sources != nil {
		return o.Sources
	}
	o, _ = o.withDefaults() // a bad Heal is Watch's error
	src := []trigger.Source{trigger.Interval(o.Interval)}
	if o.DriftInterval > 0 && o.Heal != HealDisabled && o.Drift != nil {
		src = append(src, trigger.Drift(o.DriftInterval))
	}
	if o.WatchDir != "" {
		src = append(src, &trigger.Dir{Root: o.WatchDir, Debounce: o.Debounce, Log: o.Logger})
	}
	if o.WatchLinks {
		src = append(src, trigger.NewLinks(o.NetNS, o.Logger))
	}
	if o.Signals != nil {
		src = append(src, trigger.Signals(o.Signals))
	}
	return src
}

// runLoop runs reconcile passes until ctx is done: at start, and on every event of its trigger
// sources (loopOptions.TriggerSources: every Interval (jittered), on repository file changes
// under WatchDir, on endpoint interfaces appearing or disappearing, on Signals, on the drift
// timer), and after failures with exponential backoff (1s, doubling, at most MaxBackoff; while
// a retry is due, an interval event runs no pass of its own, and any pass cancels it). The
// sources feed one coalescing trigger.Queue and one goroutine runs the passes, so two passes
// never overlap. A failed pass changes nothing in the kernel (the last good ruleset stays) and
// is retried, except a *ForeignTableError (the table is not reconcile's): it is logged once and
// checked again on the next trigger only. The error is a bad option; a source that stops is
// logged and the others go on.
func runLoop(ctx context.Context, o loopOptions) error {
	if o.Pass == nil {
		return errors.New("watch: no pass function")
	}
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	log := o.Logger
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	q := trigger.NewQueue()
	q.Send(trigger.Event{Reason: "start"})

	sources := o.TriggerSources()
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(ctx, q.Send); err != nil && ctx.Err() == nil {
				log.Error("trigger source stopped", "source", s.Name(), "err", err)
			}
		}()
	}
	// follow tells the sources that depend on the passes what a pass found.
	follow := func(out *passOutcome) {
		var ifaces []string
		if out != nil {
			ifaces = out.Interfaces
		}
		for _, s := range sources {
			if f, ok := s.(trigger.Follower); ok {
				f.Follow(ifaces, out != nil)
			}
		}
	}

	l := &loop{o: o, q: q}
	defer l.stopRetry()
	for {
		tr, merged, err := q.Next(ctx)
		if err != nil {
			return nil
		}
		out, ran := l.handle(ctx, tr, merged)
		if ctx.Err() != nil {
			return nil
		}
		if ran {
			follow(out)
		}
	}
}

// loop is the state Watch keeps between passes.
type loop struct {
	o           loopOptions
	q           *trigger.Queue
	backoff     time.Duration
	foreignSeen string // the foreign-table refusal reported last ("" none since the last other outcome)
	retry       *time.Timer
	retryDue    bool // a failed pass armed retry and no pass ran since
}

func (l *loop) stopRetry() {
	if l.retry != nil {
		l.retry.Stop()
	}
	l.retryDue = false
}

// handle runs what the event tr calls for: a drift check, a pass, or both. ran says whether a
// pass ran; out is its outcome (nil when it failed).
func (l *loop) handle(ctx context.Context, tr trigger.Event, merged int) (out *passOutcome, ran bool) {
	o, log := l.o, l.o.Logger
	if tr.Reason == trigger.DriftReason && (o.Drift == nil || o.Heal == HealDisabled) {
		log.Debug("drift event ignored: no drift check", "heal", o.Heal) // only from o.Sources
		return nil, false
	}
	if tr.Reason == "interval" && merged == 0 && l.retryDue {
		// The retry timer, at most MaxBackoff (--interval) away, polls the source then: a
		// second pass now would double the failed passes (and ERROR lines) of a long outage.
		log.Debug("poll skipped: a retry is due", "retry_in_at_most", l.backoff)
		return nil, false
	}
	o.Metrics.ObserveTrigger(tr.Reason)
	if tr.Reason == trigger.DriftReason {
		d, err := o.Drift(ctx)
		if err != nil {
			log.Warn("drift check failed", "err", err)
			return nil, false
		}
		o.Metrics.ObserveDrift(d.Drift)
		if !d.Drift {
			log.Debug("no drift")
			return nil, false
		}
		if o.Heal != HealEnabled {
			log.Warn("drift: the kernel differs from the applied ruleset (heal=warn leaves it)", "drift", d.Summary)
			return nil, false
		}
		log.Warn("drift: re-applying the applied ruleset", "drift", d.Summary)
	}
	l.stopRetry() // this pass stands for the retry that was due
	log.Info("reconcile", "trigger", tr.Reason, "detail", tr.Detail, "merged", merged)
	out, err := runPass(ctx, o, o.Heal == HealEnabled || tr.Reason == trigger.DriftReason)
	if ctx.Err() != nil {
		return nil, true
	}
	now := o.Now()
	var foreign *ForeignTableError
	if err != nil && errors.As(err, &foreign) {
		// Not a transient failure: retrying cannot help until someone deletes the table
		// or picks another --table. Say so once; later triggers (the interval, file and
		// link events) check again, without a retry timer of their own.
		stage, reason := Classify(err)
		o.Metrics.ObserveFailure(now, stage, reason)
		if msg := foreign.Error(); msg != l.foreignSeen {
			l.foreignSeen = msg
			log.Error("reconcile refused; the table is left alone and checked again on the next trigger", "err", err)
		} else {
			log.Debug("table still not made by reconcile; left alone", "table", foreign.Table)
		}
		return nil, true
	}
	l.foreignSeen = ""
	if err != nil {
		stage, reason := Classify(err)
		o.Metrics.ObserveFailure(now, stage, reason)
		if l.backoff == 0 {
			l.backoff = time.Second
		} else {
			l.backoff = min(l.backoff*2, o.MaxBackoff)
		}
		log.Error("reconcile failed; the last good ruleset stays in the kernel",
			"stage", stage, "reason", reason, "err", err, "retry_in", l.backoff)
		l.retry = time.AfterFunc(l.backoff, func() { l.q.Send(trigger.Event{Reason: "retry"}) })
		l.retryDue = true
		return nil, true
	}
	l.backoff = 0
	o.Metrics.ObserveApplied(now, out.Result, out.Revision, out.Source, out.Mode, out.Duration, out.Endpoints, out.Rules)
	o.Metrics.ObserveDrift(out.Drift) // the pass itself logged the drift it left alone
	log.Debug("pass done", "result", out.Result, "mode", out.Mode, "revision", out.Revision, "endpoints", out.Endpoints, "rules", out.Rules)
	return out, true
}

func runPass(ctx context.Context, o loopOptions, heal bool) (*passOutcome, error) {
	if o.Lock != nil {
		release, err := o.Lock(ctx)
		if err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		defer release()
	}
	return o.Pass(ctx, heal)
}

// WatchOptions say when Agent.Watch runs a pass (Config.Heal says what it does about drift).
type WatchOptions struct {
	// Interval is how often the source is fetched (default 30s), with 10% jitter.
	Interval time.Duration
	// DriftInterval is how often the kernel is compared with the applied ruleset (0: never;
	// nor with Config.Heal HealDisabled).
	DriftInterval time.Duration
	// Debounce is the wait after the last file change under Config.Dir (default 300ms).
	Debounce time.Duration
	// MaxBackoff caps the retry delay after failures (default: Interval).
	MaxBackoff time.Duration
	// Signals delivers SIGHUP-style "reconcile now" requests (nil: none).
	Signals <-chan struct{}
	// Sources, when not nil, replace the trigger sources the fields above and the Config
	// describe (the poll, the drift timer, fsnotify under Dir, link events in Netns, Signals);
	// tests pass fakes here.
	Sources []trigger.Source
}

// Watch runs Apply's pass until ctx is done: at start and on every trigger (every Interval,
// on file changes under Config.Dir when the source is a directory, when an interface of one
// of the host's endpoints appears or disappears in Config.Netns, on Signals, and every
// DriftInterval a drift check that, with Config.Heal HealEnabled, re-applies). Every pass
// takes the table's lock, waiting for another holder. Passes never overlap; failures back off
// exponentially up to MaxBackoff and leave the last good ruleset in the kernel (see runLoop).
// The error is one of Prepare, an empty Config.StateDir, of the namespace, or a bad
// Config.Heal; it is nil when ctx ends.
func (a *Agent) Watch(ctx context.Context, wo WatchOptions) error {
	if err := a.Prepare(); err != nil {
		return err
	}
	if err := a.checkStateDir(); err != nil {
		return err
	}
	var h *netns.Handle // link events of this process's namespace with a Config.Dataplane
	if a.cfg.Dataplane == nil {
		var err error
		if h, err = a.namespace(); err != nil {
			return err
		}
	}
	c := a.cfg
	o := loopOptions{
		Pass: a.watchPass, Drift: a.driftCheck,
		Lock:     func(ctx context.Context) (func(), error) { return a.lock(ctx, true) },
		Interval: wo.Interval, DriftInterval: wo.DriftInterval, Heal: c.Heal,
		WatchDir: a.watchDir(), Debounce: wo.Debounce, WatchLinks: c.Dataplane == nil, NetNS: h,
		Signals: wo.Signals, Sources: wo.Sources, MaxBackoff: wo.MaxBackoff,
		Metrics: c.Metrics, Logger: a.log,
	}
	// Per-rule and per-drop-reason counters, read from the kernel at scrape time.
	if err := c.Metrics.RegisterRuleCounters(a.ReadCounters, RuleCountersCacheTTL, a.log); err != nil {
		a.log.Debug("rule counters already registered", "err", err)
	}
	// The gauges of the last apply start from the record (read only: the first pass recovers
	// an unreadable one); a record that cannot be read leaves them at zero.
	if rec, _, err := a.loadStateNotes(false, false); err == nil && rec.LastApplied != nil {
		c.Metrics.ObserveRecorded(rec.LastApplied.Time, rec.LastApplied.Revision, rec.LastApplied.Source)
	}
	a.log.Info("watching", "source", a.src.String(), "host", c.Host, "table", c.Table, "netns", c.Netns,
		"interval", wo.Interval, "drift_interval", wo.DriftInterval, "heal", c.Heal)
	if err := runLoop(ctx, o); err != nil {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// watchDir is the directory whose file changes trigger a pass: Config.Dir (default ".") when
// the source is a directory, "" for a git repository or a Config.Source.
func (a *Agent) watchDir() string {
	if a.cfg.Repo != "" || a.cfg.Source != nil {
		return ""
	}
	if a.cfg.Dir == "" {
		return "."
	}
	return a.cfg.Dir
}

// watchPass is the watch loop's pass: the pipeline's apply (as Apply's, without taking the
// lock: the loop holds it), healing drift only when heal is set.
func (a *Agent) watchPass(ctx context.Context, heal bool) (*passOutcome, error) {
	res, err := a.apply(ctx, !heal, false) // incremental: Config.Full is Apply's only
	if err != nil {
		return nil, err
	}
	out := &passOutcome{
		Result: string(res.Result), Duration: res.Duration, Mode: res.Mode, Drift: res.DriftLeft,
		Revision: res.Snapshot.Revision, Source: res.Snapshot.Source,
		Endpoints: len(res.Endpoints), Rules: res.Rules(),
	}
	for _, e := range res.Endpoints {
		out.Interfaces = append(out.Interfaces, e.Interface)
	}
	return out, nil
}

// driftCheck is the watch loop's drift check: Status's step without the source (drift needs
// only the state record and the kernel).
func (a *Agent) driftCheck(ctx context.Context) (*driftOutcome, error) {
	st, err := a.status(ctx, false)
	if err != nil {
		return nil, err
	}
	if st.LastApplied == nil || st.Drift == nil {
		return &driftOutcome{}, nil
	}
	return &driftOutcome{Drift: !st.Drift.Empty(), Summary: st.Drift.Summary()}, nil
}
