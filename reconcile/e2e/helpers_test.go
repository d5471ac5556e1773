// Package e2e holds the end-to-end kernel tests: a lab of network namespaces built from a
// policy repository, the real `reconcile` binary applying it host by host, and real packets
// whose fate must match both the test's own expectation and the simulator's verdict.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/internal/lab"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
	"github.com/reconcile-dev/reconcile/schema"
)

// probeTimeout is how long a probe waits before calling a flow blocked.
const probeTimeout = lab.DefaultTimeout

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// reconcileBin builds cmd/reconcile once per test binary and returns its path
// ($RECONCILE_E2E_BIN, when set, names an already built binary to test instead).
func reconcileBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("RECONCILE_E2E_BIN"); p != "" {
			binPath = p
			return
		}
		binDir, binErr = os.MkdirTemp("", "reconcile-e2e-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "reconcile")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/reconcile-dev/reconcile/cmd/reconcile").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./cmd/reconcile: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// runReconcile runs the reconcile binary with args (no standard input, in the test's working
// directory) and returns its stdout, stderr and exit code; it fails t when the binary cannot
// be built or started.
func runReconcile(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin := reconcileBin(t)
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("reconcile %s: %v", strings.Join(args, " "), err)
		}
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// env is one scenario: a repository directory, its lab, and a state directory per host.
type env struct {
	t     *testing.T
	dir   string
	state string
	lab   *lab.Lab
	bin   string
}

// newEnv writes files (repository-relative path -> content) into a fresh directory, builds a
// lab from the endpoints of allEndpoints (YAML of an endpoints file: the lab's workloads exist
// from the start, even before the repository lists them) and serves tcp and udp ports.
func newEnv(t *testing.T, files map[string]string, allEndpoints string, tcp, udp []int) *env {
	t.Helper()
	return newEnvOpts(t, files, allEndpoints, lab.Options{TCPPorts: tcp, UDPPorts: udp})
}

// newEnvOpts is newEnv with every lab option.
func newEnvOpts(t *testing.T, files map[string]string, allEndpoints string, opts lab.Options) *env {
	t.Helper()
	testenv.RequireKernel(t)
	e := &env{t: t, dir: t.TempDir(), state: t.TempDir(), bin: reconcileBin(t)}
	testenv.WriteFiles(t, e.dir, files)
	repo, _ := schema.Load(map[string][]byte{"endpoints/all.yaml": []byte(allEndpoints)})
	if repo == nil || len(repo.Endpoints) == 0 {
		t.Fatalf("no endpoints in %q", allEndpoints)
	}
	l, err := lab.Build(context.Background(), repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	e.lab = l
	return e
}

// write writes the repository file rel.
func (e *env) write(rel, content string) {
	e.t.Helper()
	testenv.WriteFiles(e.t, e.dir, map[string]string{rel: content})
}

// cli runs the reconcile binary with args (in the repository directory) and returns stdout,
// stderr and the exit code.
func (e *env) cli(stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = e.dir
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("reconcile %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// must runs the CLI and fails the test unless it exits 0; it returns stdout.
func (e *env) must(stdin string, args ...string) string {
	e.t.Helper()
	out, errs, code := e.cli(stdin, args...)
	if code != 0 {
		e.t.Fatalf("reconcile %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// hostArgs are the flags that point a command at host h's namespace and state.
func (e *env) hostArgs(h string) []string {
	return []string{"--dir", e.dir, "--host", h, "--netns", e.lab.Host(h).Netns, "--state-dir", filepath.Join(e.state, h)}
}

// apply runs `reconcile apply` for every host of the lab.
func (e *env) apply() {
	e.t.Helper()
	for _, h := range e.lab.Hosts() {
		e.must("", append([]string{"apply"}, e.hostArgs(h)...)...)
	}
}

// sim is the simulator over the repository directory as it is now, every host compiled; it
// fails t (the caller's test or subtest) when the repository does not load or compile.
func (e *env) sim(t testing.TB) *simulate.Network {
	t.Helper()
	files, err := schema.ReadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	repo, errs := schema.Load(files)
	if len(errs) > 0 {
		t.Fatalf("repository is invalid:\n%v", errs)
	}
	out := map[string]*nft.Ruleset{}
	for _, h := range e.lab.Hosts() {
		rs, err := compile.Compile(repo, compile.Options{Host: h})
		if err != nil {
			t.Fatal(err)
		}
		out[h] = rs
	}
	return &simulate.Network{Repo: repo, Rulesets: out}
}

// flow is one probe and what the test expects of it.
type flow struct {
	lab.Probe
	allow bool
}

func tcp(from, to string, port int, allow bool) flow {
	return flow{lab.Probe{From: from, To: to, Proto: "tcp", Port: port}, allow}
}

func tcp6(from, to string, port int, allow bool) flow {
	return flow{lab.Probe{From: from, To: to, Proto: "tcp", Port: port, Family: 6}, allow}
}

func udp(from, to string, port int, allow bool) flow {
	return flow{lab.Probe{From: from, To: to, Proto: "udp", Port: port}, allow}
}

func ping(from, to string, allow bool) flow {
	return flow{lab.Probe{From: from, To: to, Proto: "icmp"}, allow}
}

func ping6(from, to string, allow bool) flow {
	return flow{lab.Probe{From: from, To: to, Proto: "icmp", Family: 6}, allow}
}

func icmpMsg(from, to string, family, typ, code int, allow bool) flow {
	return flow{lab.Probe{From: from, To: to, Proto: "icmp", Family: family, ICMPType: &typ, ICMPCode: &code}, allow}
}

// check sends every flow (concurrently) and asserts, for each, both the test's expectation
// and agreement with the simulator's verdict on the repository as it is now. Failures are
// reported on t, the test or subtest that calls check (not e.t, the test that built the env),
// so a subtest fails on its own and t.Fatal runs in the goroutine of that subtest.
func (e *env) check(t testing.TB, step string, flows ...flow) {
	t.Helper()
	e.checkWith(t, e.sim(t), step, flows...)
}

// checkWith is check against a given simulator (an empty Network: no firewall anywhere).
func (e *env) checkWith(t testing.TB, sim *simulate.Network, step string, flows ...flow) {
	t.Helper()
	probes := make([]lab.Probe, len(flows))
	for i, f := range flows {
		probes[i] = f.Probe
	}
	for i, o := range e.lab.RunAll(context.Background(), sim, probes, probeTimeout, 32) {
		name := fmt.Sprintf("%s: %s -> %s %s", step, o.Probe.From, o.Probe.To, o.Probe)
		if o.Err != nil {
			t.Errorf("%s: probe failed: %v", name, o.Err)
			continue
		}
		if o.Expected.Err != nil {
			t.Errorf("%s: simulator failed: %v", name, o.Expected.Err)
			continue
		}
		want := flows[i].allow
		if o.Observed != want {
			t.Errorf("%s: packet %s, want %s (simulator: %s by %s)", name, verdict(o.Observed), verdict(want), verdict(o.Expected.Allow), o.Expected.Why)
		}
		if o.Expected.Allow != want {
			t.Errorf("%s: simulator says %s by %s, want %s", name, verdict(o.Expected.Allow), o.Expected.Why, verdict(want))
		}
	}
}

func verdict(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}

// eventually runs the flows until every packet does what the flow wants (the kernel has caught
// up with a change that a watcher applies on its own), failing the test after a generous
// deadline; then it checks them once more against the simulator too. Failures go to t.
func (e *env) eventually(t testing.TB, step string, flows ...flow) {
	t.Helper()
	probes := make([]lab.Probe, len(flows))
	for i, f := range flows {
		probes[i] = f.Probe
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		var last string
		for i, o := range e.lab.RunAll(context.Background(), nil, probes, probeTimeout, 32) {
			if o.Err != nil || o.Observed != flows[i].allow {
				ok = false
				last = fmt.Sprintf("%s -> %s %s: packet %s (err %v), want %s", o.Probe.From, o.Probe.To, o.Probe, verdict(o.Observed), o.Err, verdict(flows[i].allow))
				break
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the kernel did not catch up: %s", step, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.check(t, step, flows...)
}

// start runs the reconcile binary in the background until the test ends (SIGTERM, then wait).
func (e *env) start(args ...string) {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = e.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if e.t.Failed() {
			e.t.Logf("reconcile %s:\n%s", strings.Join(args, " "), out.String())
		}
	})
}

// openKernel opens the nftables dataplane of the network namespace ns (a name in /run/netns)
// for the test to read; both are closed when the test ends.
func openKernel(t testing.TB, ns string) *nft.Kernel {
	t.Helper()
	h, err := netns.Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	k, err := nft.NewKernel(h)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close(); h.Close() })
	return k
}
