package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/lock"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/trigger"
	"github.com/reconcile-dev/reconcile/schema"
)

// New refuses a table name nft would read differently, with the --table message.
func TestNewChecksTable(t *testing.T) {
	_, err := New(Config{Table: "policy"})
	if err == nil || !strings.HasPrefix(err.Error(), "--table: ") || !strings.Contains(err.Error(), `the default is "reconcile"`) {
		t.Fatalf("New(--table policy): %v", err)
	}
	// The host is checked before anything is fetched or touched (a fake dataplane all the same).
	e := newEnv(t)
	for host, want := range map[string]string{"": "no host name: give --host", "node 1": "--host: "} {
		cfg := e.opts()
		cfg.Host = host
		if _, err := agentOf(t, cfg).Plan(context.Background()); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Plan with host %q: %v, want %q", host, err, want)
		}
		if _, err := agentOf(t, cfg).Apply(context.Background()); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Apply with host %q: %v, want %q", host, err, want)
		}
	}
	if n := e.fake.Observes(); n != 0 {
		t.Fatalf("a bad host touched the dataplane: %d observes", n)
	}
	// validate needs no host.
	cfg := e.opts()
	cfg.Host = ""
	if res, err := agentOf(t, cfg).Validate(context.Background()); err != nil || !res.Valid() {
		t.Fatalf("Validate without a host: %v %+v", err, res)
	}
}

// Validate compiles every host the endpoints name, and reports a compile failure shared by
// several hosts once, as an error of the repository.
func TestValidateCompilesEveryHost(t *testing.T) {
	e := newEnv(t)
	a := agentOf(t, e.opts())
	res, err := a.Validate(context.Background())
	if err != nil || !res.Valid() || len(res.Repository.Endpoints) == 0 {
		t.Fatalf("worked example: %v %+v", err, res)
	}
	hosts := map[string]bool{}
	for _, ep := range res.Repository.Endpoints {
		hosts[ep.Host] = true
	}
	if len(hosts) < 2 {
		t.Fatalf("the worked example should name two hosts, names %v", hosts)
	}
	// A rule the loader would refuse, slipped past it: every host using WEB fails to compile
	// the same way.
	repo := res.Repository
	web := repo.Profiles["WEB"]
	web.Inbound = append([]schema.Rule{{Action: "bogus"}}, web.Inbound...)
	errs := a.compileAll(repo)
	if len(errs) != 1 || errs[0].Path != "" || !strings.Contains(errs[0].Msg, `unknown action "bogus"`) {
		t.Fatalf("compile errors: %q", errs.Error())
	}
	// An invalid repository is reported by the loader only.
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/BAD.yaml": "id: BAD\ninbound_rules:\n  - action: accept\n"})
	res, err = a.Validate(context.Background())
	if err != nil || res.Valid() || res.Errors[0].Path != "profiles/BAD.yaml" {
		t.Fatalf("invalid repository: %v %+v", err, res)
	}
}

// Watch runs the pipeline's apply on its triggers, heals drift with HealEnabled, and counts
// in Config.Metrics.
func TestAgentWatchAppliesAndHeals(t *testing.T) {
	e := newEnv(t)
	cfg := e.opts()
	cfg.Heal = HealEnabled
	cfg.Metrics = NewMetrics()
	src := newFakeSource()
	a := agentOf(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Watch(ctx, WatchOptions{Sources: []trigger.Source{src}}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	waitFor(t, "the start pass applies", func() bool { return e.kernel(t) != "<no table>" })
	applied := e.kernel(t)
	e.fake.Delete(nft.DefaultTable)
	src.fire(t, trigger.DriftReason, "")
	waitFor(t, "the drift pass re-applies", func() bool { return e.kernel(t) == applied })
	waitFor(t, "two applies counted", func() bool {
		return testutil.ToFloat64(cfg.Metrics.applies.WithLabelValues("applied")) == 2
	})
	if got := testutil.ToFloat64(cfg.Metrics.triggers.WithLabelValues(trigger.DriftReason)); got != 1 {
		t.Errorf("drift triggers %v, want 1", got)
	}
}

// Apply takes the lock of the table in the namespace and fails at once when another holds it.
func TestApplyTakesTheLock(t *testing.T) {
	e := newEnv(t)
	cfg := e.opts()
	cfg.LockDir = t.TempDir()
	key, err := lock.Key(nft.DefaultTable, nil)
	if err != nil {
		t.Fatal(err)
	}
	held, err := lock.AcquireIn(context.Background(), cfg.LockDir, key, false)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("another reconcile (pid %d) is applying to table inet reconcile in this namespace; try again later", os.Getpid())
	_, err = agentOf(t, cfg).Apply(context.Background())
	if err == nil || err.Error() != want {
		t.Fatalf("Apply while locked: %v, want %q", err, want)
	}
	if stage, reason := Classify(err); stage != "lock" || reason != "held" {
		t.Errorf("Apply while locked: classified %s/%s, want lock/held", stage, reason)
	}
	if got := e.kernel(t); got != "<no table>" {
		t.Fatalf("Apply while locked changed the kernel:\n%s", got)
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if res, err := agentOf(t, cfg).Apply(context.Background()); err != nil || res.Result != Applied {
		t.Fatalf("Apply after release: %v", err)
	}
}

// --netns NAME and --netns /proc/PID/ns/net of a process in that namespace share one state
// record (the namespace handle's Key), so the second spelling finds the revision applied.
func TestNetnsSpellingsShareOneRecord(t *testing.T) {
	ns := testenv.NewNetns(t, "agentkey")
	sleep := exec.Command("ip", "netns", "exec", ns, "sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	proc := fmt.Sprintf("/proc/%d/ns/net", sleep.Process.Pid)
	waitFor(t, "sleep enters the namespace", func() bool {
		a, b := netnsInode(proc), netnsInode(filepath.Join("/run/netns", ns))
		return a != 0 && a == b
	})
	repo, stateDir := t.TempDir(), t.TempDir()
	testenv.WriteFiles(t, repo, labRepo)
	cfg := func(netns string) Config {
		return Config{Source: source.Dir{Path: repo}, Host: "node-1", Netns: netns, StateDir: stateDir, Session: "s"}
	}
	ctx := context.Background()
	if res, err := agentOf(t, cfg(ns)).Apply(ctx); err != nil || res.Result != Applied {
		t.Fatalf("apply --netns %s: %v", ns, err)
	}
	res, err := agentOf(t, cfg(proc)).Apply(ctx)
	if err != nil || res.Result != NoChange || !res.AlreadyApplied {
		t.Fatalf("apply --netns %s: %v %+v, want no change, already applied", proc, err, res)
	}
	st, err := agentOf(t, cfg(proc)).Status(ctx)
	if err != nil || !st.InSync() || st.Netns != proc {
		t.Fatalf("status --netns %s: %v %+v", proc, err, st)
	}
	files, _ := filepath.Glob(filepath.Join(stateDir, "*.state.json"))
	if len(files) != 1 || filepath.Base(files[0]) != "reconcile@"+ns+".state.json" {
		t.Fatalf("state records %v, want one, reconcile@%s.state.json", files, ns)
	}
}

func netnsInode(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	return st.Ino
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A watch pass waits for a table lock held by another process, and says so again, as a
// warning and as reconcile_errors_total{stage="lock",reason="held"}, every lockWaitWarn: a
// holder that is stopped (SIGSTOP) or hung would otherwise keep the watch silent for ever.
// Once the lock is released the pass goes on and applies.
func TestWatchPassWarnsWhileWaitingForTheLock(t *testing.T) {
	old := lockWaitWarn
	lockWaitWarn = 100 * time.Millisecond
	t.Cleanup(func() { lockWaitWarn = old })
	e := newEnv(t)
	cfg := e.opts()
	cfg.LockDir = t.TempDir()
	cfg.Metrics = NewMetrics()
	var logs syncBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	key, err := lock.Key(nft.DefaultTable, nil)
	if err != nil {
		t.Fatal(err)
	}
	held, err := lock.AcquireIn(context.Background(), cfg.LockDir, key, false)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	a := agentOf(t, cfg)
	go func() {
		// As runLoop takes it for every pass of Watch.
		release, err := a.lock(context.Background(), true)
		if err == nil {
			_, err = a.watchPass(context.Background(), false)
			release()
		}
		done <- err
	}()
	warned := func() float64 { return testutil.ToFloat64(cfg.Metrics.errors.WithLabelValues("lock", "held")) }
	waitFor(t, "two warnings while the lock is held", func() bool { return warned() >= 2 })
	select {
	case err := <-done:
		t.Fatalf("the pass ended while the lock was held: %v", err)
	default:
	}
	want := fmt.Sprintf("another reconcile (pid %d) has held table inet reconcile for", os.Getpid())
	if n := strings.Count(logs.String(), want); n < 2 {
		t.Errorf("%d warnings %q, want at least 2:\n%s", n, want, logs.String())
	}
	if got := e.kernel(t); got != "<no table>" {
		t.Fatalf("the kernel changed while the lock was held:\n%s", got)
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the pass after the release: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pass did not go on after the release")
	}
	if got := e.kernel(t); got == "<no table>" {
		t.Error("the pass after the release did not apply")
	}
}

// syncBuffer is a bytes.Buffer safe for a logger writing from one goroutine while the test
// reads it from another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
