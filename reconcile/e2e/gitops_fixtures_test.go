package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// Fixtures of the GitOps end-to-end tests (the work repository pushing to a bare remote and
// the gpg keys are gittest's): the reconcile binary run as `apply`/`status` or as a `watch`
// process, and polling of the kernel in the test's namespace.

// gitopsEndpoints is the one local endpoint of every GitOps scenario (its interface need not
// exist: its chains are installed anyway).
const gitopsEndpoints = `endpoints:
  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], ipv6_nets: ["fd00:1::2/128"], profile_ids: [WEB]}
`

// gitopsWeb is profiles/WEB.yaml allowing tcp to each port, one rule per port, in order
// (rule N is "WEB inbound N").
func gitopsWeb(ports ...int) string {
	var b strings.Builder
	b.WriteString("id: WEB\ntags: [WEB]\ninbound_rules:\n")
	for _, p := range ports {
		fmt.Fprintf(&b, "  - {action: allow, protocol: tcp, dst_ports: [%d]}\n", p)
	}
	b.WriteString("outbound_rules:\n  - {action: allow}\n")
	return b.String()
}

// gitopsFiles is a whole repository whose WEB profile allows ports.
func gitopsFiles(ports ...int) map[string]string {
	return map[string]string{"endpoints/all.yaml": gitopsEndpoints, "profiles/WEB.yaml": gitopsWeb(ports...)}
}

// gitopsHost is one scenario's host: a fresh namespace and state directory, host node-1.
type gitopsHost struct {
	t     *testing.T
	bin   string
	ns    string
	state string
}

func newGitopsHost(t *testing.T, hint string) *gitopsHost {
	t.Helper()
	testenv.RequireKernel(t)
	return &gitopsHost{t: t, bin: reconcileBin(t), ns: testenv.NewNetns(t, hint), state: t.TempDir()}
}

// args are the flags pointing a command at this host, followed by extra.
func (h *gitopsHost) args(cmd string, extra ...string) []string {
	return append([]string{cmd, "--host", "node-1", "--netns", h.ns, "--state-dir", h.state}, extra...)
}

// run runs `reconcile <cmd> <host flags> extra...` and returns stdout, stderr and exit code.
func (h *gitopsHost) run(cmd string, extra ...string) (string, string, int) {
	h.t.Helper()
	return h.exec(h.bin, h.args(cmd, extra...)...)
}

// exec runs the program name (the binary, or ip to run it in the namespace) with args and
// returns stdout, stderr and exit code.
func (h *gitopsHost) exec(name string, args ...string) (string, string, int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			h.t.Fatalf("%s %s: %v (stderr: %s)", filepath.Base(name), strings.Join(args, " "), err, errb.String())
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// must runs the command and fails unless it exits 0; it returns stdout.
func (h *gitopsHost) must(cmd string, extra ...string) string {
	h.t.Helper()
	out, errs, code := h.run(cmd, extra...)
	if code != 0 {
		h.t.Fatalf("reconcile %s %s: exit %d\nstdout:\n%s\nstderr:\n%s", cmd, strings.Join(extra, " "), code, out, errs)
	}
	return out
}

// gitopsStatus is the part of `status -o json` the tests read.
type gitopsStatus struct {
	InSync      bool `json:"in_sync"`
	LastApplied *struct {
		Revision string `json:"revision"`
		Commit   string `json:"commit"`
	} `json:"last_applied"`
	LastAttempt *struct {
		Revision string `json:"revision"`
		Result   string `json:"result"`
		Error    string `json:"error"`
	} `json:"last_attempt"`
	SourceHead  string `json:"source_head"`
	SourceError string `json:"source_error"`
	UpToDate    bool   `json:"up_to_date"`
}

func (h *gitopsHost) status(extra ...string) gitopsStatus {
	h.t.Helper()
	out := h.must("status", append([]string{"-o", "json"}, extra...)...)
	var st gitopsStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		h.t.Fatalf("status -o json: %v\n%s", err, out)
	}
	return st
}

// chain lists a chain of table inet reconcile in the namespace ("" and the error when nft
// cannot list it, e.g. before the first apply).
func (h *gitopsHost) chain(name string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", h.ns, "nft", "list", "chain", "inet", "reconcile", name).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("nft list chain inet reconcile %s: %w: %s", name, err, out)
	}
	return string(out), nil
}

// webPorts returns the tcp ports that profile-in-WEB accepts in the kernel, in rule order
// (nil when the chain is not there).
func (h *gitopsHost) webPorts() []int {
	out, err := h.chain("profile-in-WEB")
	if err != nil {
		return nil
	}
	return gitopsPorts(out)
}

var gitopsPortRE = regexp.MustCompile(`dport (\d+) counter[^\n]*? accept comment "WEB inbound (\d+)"`)

// gitopsPorts parses the "WEB inbound N" accept rules of a listed profile-in-WEB chain; rule
// N must be the N-th such rule.
func gitopsPorts(chain string) []int {
	var ports []int
	for _, m := range gitopsPortRE.FindAllStringSubmatch(chain, -1) {
		p, _ := strconv.Atoi(m[1])
		ports = append(ports, p)
	}
	return ports
}

// waitPorts polls the kernel until profile-in-WEB accepts exactly ports, failing after
// timeout; it returns when it first saw them.
func (h *gitopsHost) waitPorts(timeout time.Duration, ports ...int) time.Time {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := h.webPorts()
		if slices.Equal(got, ports) {
			return time.Now()
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("after %v profile-in-WEB accepts ports %v, want %v", timeout, got, ports)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertPorts fails unless profile-in-WEB accepts exactly ports now.
func (h *gitopsHost) assertPorts(step string, ports ...int) {
	h.t.Helper()
	if got := h.webPorts(); !slices.Equal(got, ports) {
		h.t.Errorf("%s: profile-in-WEB accepts ports %v, want %v", step, got, ports)
	}
}

// gitopsFreeAddr picks a free loopback port by listening on :0 and closing again.
func gitopsFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// gitopsWatch is a running `reconcile watch` process with its JSON log.
type gitopsWatch struct {
	t       *testing.T
	cmd     *exec.Cmd
	metrics string // --metrics-addr, "" when none

	mu    sync.Mutex
	lines []map[string]any
	raw   []string
	done  chan struct{}
}

// watch starts `reconcile watch --log-format json` with the host flags and extra, and stops it
// (SIGTERM, then kill) when the test ends, logging its output when the test failed.
func (h *gitopsHost) watch(extra ...string) *gitopsWatch {
	h.t.Helper()
	w := &gitopsWatch{t: h.t, done: make(chan struct{})}
	for i, a := range extra {
		if a == "--metrics-addr" && i+1 < len(extra) {
			w.metrics = extra[i+1]
		}
	}
	args := h.args("watch", append([]string{"--log-format", "json"}, extra...)...)
	w.cmd = exec.Command(h.bin, args...)
	stderr, err := w.cmd.StderrPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	w.cmd.Stdout = io.Discard
	if err := w.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				m = map[string]any{"msg": line, "level": "RAW"}
			}
			w.mu.Lock()
			w.raw = append(w.raw, line)
			w.lines = append(w.lines, m)
			w.mu.Unlock()
		}
	}()
	h.t.Cleanup(func() {
		w.stop()
		if h.t.Failed() {
			h.t.Logf("watch log:\n%s", w.log())
		}
	})
	return w
}

// stop ends the process (SIGTERM, kill after 10 s) and waits for its log to end.
func (w *gitopsWatch) stop() {
	if w.cmd.ProcessState != nil {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
	_ = w.cmd.Wait()
}

// log returns the raw log so far.
func (w *gitopsWatch) log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.raw, "\n")
}

// find returns the first log line at or after index from for which match is true, and its
// index (-1 when none).
func (w *gitopsWatch) find(from int, match func(map[string]any) bool) (map[string]any, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := from; i < len(w.lines); i++ {
		if match(w.lines[i]) {
			return w.lines[i], i
		}
	}
	return nil, -1
}

// mark is the number of log lines so far (to look only at what comes after).
func (w *gitopsWatch) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.lines)
}

// waitLog waits until a log line at or after index from matches, failing after timeout.
func (w *gitopsWatch) waitLog(what string, from int, timeout time.Duration, match func(map[string]any) bool) map[string]any {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m, _ := w.find(from, match); m != nil {
			return m
		}
		select {
		case <-w.done:
			w.t.Fatalf("watch exited before the log showed %s:\n%s", what, w.log())
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("after %v the watch log shows no %s:\n%s", timeout, what, w.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gitopsMsg matches log lines with message msg whose string attributes have the given values.
func gitopsMsg(msg string, attrs ...string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		if m["msg"] != msg {
			return false
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if s, _ := m[attrs[i]].(string); s != attrs[i+1] {
				return false
			}
		}
		return true
	}
}

// scrape returns the watch's /metrics text.
func (w *gitopsWatch) scrape() string {
	w.t.Helper()
	if w.metrics == "" {
		w.t.Fatal("watch has no --metrics-addr")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.metrics+"/metrics", nil)
	if err != nil {
		w.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("scrape metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

// gitopsMetric returns the value of the sample of metric name whose labels include every
// `k="v"` in labels; ok is false when there is none.
func gitopsMetric(text, name string, labels ...string) (float64, bool) {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		sp := strings.LastIndexByte(l, ' ')
		if sp < 0 {
			continue
		}
		series, val := l[:sp], l[sp+1:]
		n, lbl, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		all := true
		for _, want := range labels {
			if !strings.Contains(lbl, want) {
				all = false
			}
		}
		if !all {
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		return f, true
	}
	return 0, false
}

// waitMetric polls /metrics until cond holds for the metric's value, failing after timeout.
func (w *gitopsWatch) waitMetric(timeout time.Duration, name string, labels []string, cond func(float64) bool, what string) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		text := w.scrape()
		if v, ok := gitopsMetric(text, name, labels...); ok && cond(v) {
			return
		}
		if time.Now().After(deadline) {
			var got []string
			for _, l := range strings.Split(text, "\n") {
				if strings.HasPrefix(l, "reconcile_") {
					got = append(got, l)
				}
			}
			w.t.Fatalf("after %v metric %s%v is not %s; reconcile metrics:\n%s", timeout, name, labels, what, strings.Join(got, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
