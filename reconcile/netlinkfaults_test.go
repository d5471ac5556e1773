package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// faultPlane is a dataplane (the fake kernel, or in the kernel tests the real one) whose
// transactions can be raced or made to fail the way the kernel's netlink does.
type faultPlane struct {
	dp interface {
		nft.Dataplane
		nft.Updater
		nft.Generationer
	}
	calls []string // "update <gen>" / "replace <gen>", in order
	// commit, when set, runs before every transaction (n counts them from 1): a commit of
	// another writer between the pass's read and its transaction.
	commit func(n int)
	// unknown, when set, decides per transaction whether its answer is lost after the batch
	// (really sent, or refused) went out: the error then wraps nft.ErrOutcomeUnknown and ENOBUFS.
	unknown func(n int) bool
	// observeErr and txErr replace the answer of Observe and of every transaction.
	observeErr, txErr error
}

func (p *faultPlane) Apply(ctx context.Context, rs *nft.Ruleset) error { return p.dp.Apply(ctx, rs) }
func (p *faultPlane) Generation(ctx context.Context) (uint32, error) {
	return p.dp.Generation(ctx)
}

func (p *faultPlane) Observe(ctx context.Context, table string) (*nft.Ruleset, error) {
	if p.observeErr != nil {
		return nil, p.observeErr
	}
	return p.dp.Observe(ctx, table)
}

func (p *faultPlane) Update(ctx context.Context, desired, base *nft.Ruleset, gen uint32) (*nft.UpdateResult, error) {
	return p.tx(fmt.Sprintf("update %d", gen), func() (*nft.UpdateResult, error) { return p.dp.Update(ctx, desired, base, gen) })
}

func (p *faultPlane) Replace(ctx context.Context, desired *nft.Ruleset, gen uint32) (*nft.UpdateResult, error) {
	return p.tx(fmt.Sprintf("replace %d", gen), func() (*nft.UpdateResult, error) { return p.dp.Replace(ctx, desired, gen) })
}

func (p *faultPlane) tx(call string, do func() (*nft.UpdateResult, error)) (*nft.UpdateResult, error) {
	p.calls = append(p.calls, call)
	n := len(p.calls)
	if p.txErr != nil {
		return nil, p.txErr
	}
	if p.commit != nil {
		p.commit(n)
	}
	ur, err := do()
	if p.unknown != nil && p.unknown(n) {
		// As nft.Kernel words a socket error after the batch went out.
		lost := &netlink.OpError{Op: "receive", Err: os.NewSyscallError("recvmsg", unix.ENOBUFS)}
		return nil, fmt.Errorf("update table: netlink: %w: receive: %w (the batch's own answer: %v)", nft.ErrOutcomeUnknown, lost, err)
	}
	return ur, err
}

func (p *faultPlane) String() string { return "faultPlane" }

// guarded checks that every transaction after the first was guarded by a generation.
func (p *faultPlane) guarded(t *testing.T) {
	t.Helper()
	for _, c := range p.calls {
		if strings.HasSuffix(c, " 0") {
			t.Errorf("calls %q: a transaction without the generation guard", p.calls)
		}
	}
}

// otherWriter commits a table of another agent in the fake: the generation moves.
func otherWriter(t *testing.T, f *nft.Fake, n int) {
	t.Helper()
	if err := f.Apply(context.Background(), &nft.Ruleset{Table: fmt.Sprintf("other%d", n)}); err != nil {
		t.Fatal(err)
	}
}

// A generation that moves before every transaction: three guarded tries (each after reading
// the table again), then the pass fails with stage apply, reason contention, and the one-line
// reason; the kernel and LastApplied are unchanged. Incremental and --full alike: never a
// transaction without the guard.
func TestApplyContention(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("full=%v", full), func(t *testing.T) {
			e := newEnv(t)
			p := &faultPlane{dp: e.fake}
			cfg := e.opts()
			cfg.Dataplane = p
			if _, err := agentOf(t, cfg).Apply(context.Background()); err != nil {
				t.Fatal(err)
			}
			before, prev := e.kernel(t), e.record(t).LastApplied
			e.editWEB(t)
			p.calls = nil
			p.commit = func(n int) { otherWriter(t, e.fake, n) }
			cfg.Full = full
			res, err := agentOf(t, cfg).Apply(context.Background())
			stage, reason := Classify(err)
			if err == nil || stage != "apply" || reason != "contention" {
				t.Fatalf("apply: %v (%s/%s), want apply/contention", err, stage, reason)
			}
			want := `table inet "reconcile": the ruleset generation kept moving (another nftables writer is busy; 3 tries)`
			if !strings.HasSuffix(err.Error(), want) {
				t.Errorf("error %q, want it to end %q", err, want)
			}
			if len(p.calls) != maxStaleTries {
				t.Errorf("calls %q, want %d guarded tries", p.calls, maxStaleTries)
			}
			p.guarded(t)
			if res.Result == state.Applied || e.kernel(t) != before {
				t.Errorf("result %q; the kernel changed", res.Result)
			}
			if la := e.record(t).LastApplied; la.RulesetDigest != prev.RulesetDigest || la.Generation != prev.Generation {
				t.Errorf("last applied changed: %+v", la)
			}
			// The writer is gone: the next pass applies.
			p.commit, p.calls = nil, nil
			if res, err := agentOf(t, cfg).Apply(context.Background()); err != nil || res.Result != state.Applied {
				t.Fatalf("apply after the writer stopped: %v", err)
			}
		})
	}
}

// The generation moves before the first and the second transaction only: the third, guarded by
// the generation read last, goes in, at the generation it produced; a replace (--full) too.
func TestApplyStaleRetriesGuarded(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("full=%v", full), func(t *testing.T) {
			e := newEnv(t)
			p := &faultPlane{dp: e.fake}
			cfg := e.opts()
			cfg.Dataplane = p
			if _, err := agentOf(t, cfg).Apply(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.editWEB(t)
			p.calls = nil
			p.commit = func(n int) {
				if n < maxStaleTries {
					otherWriter(t, e.fake, n)
				}
			}
			cfg.Full = full
			res, err := agentOf(t, cfg).Apply(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			p.guarded(t)
			if len(p.calls) != maxStaleTries {
				t.Errorf("calls %q, want %d", p.calls, maxStaleTries)
			}
			wantMode := ModeIncremental
			if full {
				wantMode = ModeFull
			}
			e.checkRecorded(t, res, wantMode)
			if got := e.kernel(t); got != res.Desired.String() {
				t.Errorf("the kernel does not hold the desired ruleset:\n%s", got)
			}
		})
	}
}

// A lost answer (ENOBUFS after the batch went out): the table is read back. Committed: the
// pass is applied (recorded at the generation read, with a warning and the recovery counted).
// Refused: the pass fails with stage apply, reason netlink, and the kernel (verified) still
// holds the previous ruleset.
func TestApplyOutcomeUnknown(t *testing.T) {
	for _, commit := range []bool{true, false} {
		t.Run(fmt.Sprintf("committed=%v", commit), func(t *testing.T) {
			e := newEnv(t)
			p := &faultPlane{dp: e.fake}
			var logs bytes.Buffer
			cfg := e.opts()
			cfg.Dataplane = p
			cfg.Metrics = NewMetrics()
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			if _, err := agentOf(t, cfg).Apply(context.Background()); err != nil {
				t.Fatal(err)
			}
			before, prev := e.kernel(t), e.record(t).LastApplied
			e.editWEB(t)
			p.calls = nil
			p.unknown = func(int) bool { return true }
			if !commit {
				p.commit = func(n int) { otherWriter(t, e.fake, n) } // the batch is refused (stale)
			}
			res, err := agentOf(t, cfg).Apply(context.Background())
			recovered := metricValue(t, cfg.Metrics, "reconcile_recoveries_total", "kind", RecoveryOutcomeUnknownResolved)
			if len(p.calls) != 1 {
				t.Errorf("calls %q, want one transaction (a lost answer is not retried)", p.calls)
			}
			if commit {
				if err != nil {
					t.Fatalf("apply: %v", err)
				}
				e.checkRecorded(t, res, ModeIncremental)
				if recovered != 1 || !strings.Contains(logs.String(), "level=WARN msg=\"the kernel did not confirm the transaction; read back, the table holds the desired ruleset\"") {
					t.Errorf("recoveries %v; log:\n%s", recovered, logs.String())
				}
				return
			}
			stage, reason := Classify(err)
			if err == nil || stage != "apply" || reason != "netlink" || !strings.HasSuffix(err.Error(), "; read back, the table still holds what it held before") ||
				!errors.Is(err, nft.ErrOutcomeUnknown) || !errors.Is(err, syscall.ENOBUFS) {
				t.Fatalf("apply: %v (%s/%s), want apply/netlink, the table as before", err, stage, reason)
			}
			if res.Result == state.Applied || e.kernel(t) != before || recovered != 0 {
				t.Errorf("result %q, recoveries %v; the kernel changed:\n%s", res.Result, recovered, e.kernel(t))
			}
			if la := e.record(t).LastApplied; la.RulesetDigest != prev.RulesetDigest || la.Generation != prev.Generation {
				t.Errorf("last applied changed: %+v", la)
			}
		})
	}
}

// EPERM from netlink: reading the table is observe/permission, a transaction apply/permission
// (no fallback replace: it would be refused alike); both say what reconcile needs.
func TestApplyPermission(t *testing.T) {
	eperm := fmt.Errorf("read: %w", &netlink.OpError{Op: "receive", Err: unix.EPERM})
	e := newEnv(t)
	p := &faultPlane{dp: e.fake}
	cfg := e.opts()
	cfg.Dataplane = p
	if _, err := agentOf(t, cfg).Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.editWEB(t)
	for _, tt := range []struct {
		name, stage string
		set         func()
	}{
		{"observe", "observe", func() { p.observeErr, p.txErr = eperm, nil }},
		{"transaction", "apply", func() { p.observeErr, p.txErr = nil, eperm }},
	} {
		tt.set()
		p.calls = nil
		cfg.Full = true // read the table
		_, err := agentOf(t, cfg).Apply(context.Background())
		stage, reason := Classify(err)
		if err == nil || stage != tt.stage || reason != "permission" ||
			!strings.HasSuffix(err.Error(), "operation not permitted: reconcile needs CAP_NET_ADMIN in the network namespace (run as root)") {
			t.Errorf("%s: %v (%s/%s)", tt.name, err, stage, reason)
		}
		if tt.stage == "apply" && len(p.calls) != 1 {
			t.Errorf("%s: calls %q, want one", tt.name, p.calls)
		}
	}
}

// metricValue is the value of the series of counter name with label=value (0 when absent).
func metricValue(t *testing.T, m *Metrics, name, label, value string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
