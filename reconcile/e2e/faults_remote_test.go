package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// Faults of the policy source (issue 11, point 3): a remote that accepts the connection and
// never answers (bounded by --fetch-timeout, reason timeout), and one that refuses it (reason
// unreachable). The kernel keeps the last good ruleset, apply says why in one line, status
// says the last attempt failed, and watch backs off and recovers once the remote answers.

// switchRemote is a git smart-HTTP remote on one fixed 127.0.0.1 port whose behaviour the test
// switches: serving the bare repository (git-http-backend), or silent (every connection is
// accepted and never answered).
type switchRemote struct {
	URL string

	mu     sync.Mutex
	silent bool
	held   []net.Conn
	served []net.Conn // closed by down: the client's keep-alive connections too
	conns  chan net.Conn
	done   chan struct{}
	ln     net.Listener
}

func newSwitchRemote(t *testing.T, bare string) *switchRemote {
	t.Helper()
	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		testenv.SkipUnlessCI(t, "no git-http-backend: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &switchRemote{URL: "http://" + ln.Addr().String() + "/" + filepath.Base(bare), conns: make(chan net.Conn), done: make(chan struct{}), ln: ln}
	h := &cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + filepath.Dir(bare), "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(chanListener{r}) }()
	go r.accept(ln)
	t.Cleanup(func() {
		close(r.done)
		r.mu.Lock()
		r.ln.Close()
		r.mu.Unlock()
		srv.Close()
		r.mu.Lock()
		for _, c := range r.held {
			c.Close()
		}
		r.mu.Unlock()
	})
	return r
}

// accept hands the connections of ln to the server, or holds them unanswered when silent.
func (r *switchRemote) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		silent := r.silent
		if silent {
			r.held = append(r.held, c) // accepted, never answered
		} else {
			r.served = append(r.served, c)
		}
		r.mu.Unlock()
		if !silent {
			select {
			case r.conns <- c:
			case <-r.done:
				c.Close()
				return
			}
		}
	}
}

// down closes the port (connections are refused) and the connections open on it; up listens
// on it again.
func (r *switchRemote) down() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ln.Close()
	for _, c := range r.served {
		c.Close()
	}
	r.served = nil
}

func (r *switchRemote) up(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	ln, err := net.Listen("tcp", r.ln.Addr().String())
	if err != nil {
		t.Fatalf("listen again on %s: %v", r.ln.Addr(), err)
	}
	r.ln = ln
	go r.accept(ln)
}

// setSilent makes new connections go unanswered (true) or be served (false).
func (r *switchRemote) setSilent(silent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.silent = silent
}

// chanListener hands the connections the switch serves to the http.Server.
type chanListener struct{ r *switchRemote }

func (l chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.r.conns:
		return c, nil
	case <-l.r.done:
		return nil, errors.New("closed")
	}
}
func (l chanListener) Close() error   { return nil }
func (l chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// silentListener accepts TCP connections on 127.0.0.1 and never answers; it returns the
// address.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// ruleset is the table as nft lists it in h's namespace ("" when there is none).
func (h *gitopsHost) ruleset() string {
	h.t.Helper()
	out, _, code := h.exec("ip", "netns", "exec", h.ns, "nft", "list", "table", "inet", "reconcile")
	if code != 0 {
		return ""
	}
	return out
}

// applyTimed runs apply with extra flags and returns stderr, the exit code and how long it took.
func (h *gitopsHost) applyTimed(extra ...string) (string, int, time.Duration) {
	h.t.Helper()
	start := time.Now()
	_, errs, code := h.run("apply", extra...)
	return errs, code, time.Since(start)
}

// logDuration reads a duration attribute of the JSON log (slog writes nanoseconds).
func logDuration(v any) string {
	switch v := v.(type) {
	case float64:
		return time.Duration(v).String()
	case string:
		return v
	}
	return fmt.Sprint(v)
}

func TestFetchTimeoutAndUnreachableKernel(t *testing.T) {
	h := newGitopsHost(t, "fetchto")
	gittest.RequireGit(t)
	repo := gittest.NewRepo(t, "main")
	repo.Commit("web 80", gitopsFiles(80), "")
	repo.Push()
	remote := newSwitchRemote(t, repo.Remote)

	h.must("apply", "--repo", remote.URL, "--fetch-timeout", "5s")
	good := h.ruleset()
	if !strings.Contains(good, "dport 80") {
		t.Fatalf("first apply: the table does not allow port 80:\n%s", good)
	}
	repo.Commit("web 81", gitopsFiles(81), "")
	repo.Push()

	// The remote goes silent: apply gives up after --fetch-timeout, changes nothing.
	remote.setSilent(true)
	errs, code, took := h.applyTimed("--repo", remote.URL, "--fetch-timeout", "2s")
	want := "reconcile: fetch " + remote.URL + ": no answer within 2s (--fetch-timeout); nothing was changed"
	if code != 1 || lastLine(errs) != want {
		t.Fatalf("apply against a silent remote: exit %d, stderr:\n%s\nwant exit 1 and last line %q", code, errs, want)
	}
	if took < 2*time.Second || took > 4*time.Second {
		t.Errorf("apply against a silent remote took %v, want about the 2s of --fetch-timeout", took)
	}
	if got := h.ruleset(); got != good {
		t.Fatalf("the kernel changed after a failed fetch:\n%s\nwant:\n%s", got, good)
	}
	start := time.Now()
	st := h.status("--repo", remote.URL, "--fetch-timeout", "2s")
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("status against a silent remote took %v, want at most about --fetch-timeout", took)
	}
	if st.LastAttempt == nil || st.LastAttempt.Result != "failed" || !strings.Contains(st.LastAttempt.Error, "no answer within 2s (--fetch-timeout)") {
		t.Errorf("status: last attempt %+v, want failed with the timeout", st.LastAttempt)
	}
	if !strings.Contains(st.SourceError, "no answer within 2s") || st.SourceHead != "" || !st.InSync {
		t.Errorf("status: source head %q, error %q, in sync %v; want unknown with the timeout, in sync", st.SourceHead, st.SourceError, st.InSync)
	}
	text := h.must("status", "--repo", remote.URL, "--fetch-timeout", "2s")
	if !strings.Contains(text, "Source head:  unknown (fetch "+remote.URL+": no answer within 2s (--fetch-timeout)).") ||
		!strings.Contains(text, "Last attempt: failed at") {
		t.Errorf("status text:\n%s\nwant the source head unknown with the timeout and the last attempt failed", text)
	}

	// plan and validate fetch too: the same bound, the same line.
	for _, cmd := range []string{"plan", "validate"} {
		start := time.Now()
		var errs string
		var code int
		if cmd == "validate" {
			_, errs, code = runReconcile(t, "validate", "--repo", remote.URL, "--fetch-timeout", "1s", "--state-dir", h.state)
		} else {
			_, errs, code = h.run(cmd, "--repo", remote.URL, "--fetch-timeout", "1s")
		}
		if took := time.Since(start); code != 1 || !strings.Contains(lastLine(errs), "fetch "+remote.URL+": no answer within 1s (--fetch-timeout)") || took > 3*time.Second {
			t.Errorf("%s against a silent remote: exit %d after %v, stderr:\n%s", cmd, code, took, errs)
		}
	}

	// git:// to a listener that never answers: the same bound.
	gitURL := "git://" + silentListener(t) + "/remote.git"
	errs, code, took = h.applyTimed("--repo", gitURL, "--fetch-timeout", "2s")
	if want := "reconcile: fetch " + gitURL + ": no answer within 2s (--fetch-timeout); nothing was changed"; code != 1 || lastLine(errs) != want || took > 4*time.Second {
		t.Errorf("apply against a silent git:// remote: exit %d after %v, stderr:\n%s\nwant exit 1 within ~2s, last line %q", code, took, errs, want)
	}

	// A closed port: unreachable at once.
	closed := "http://" + gitopsFreeAddr(t) + "/remote.git"
	errs, code, took = h.applyTimed("--repo", closed, "--fetch-timeout", "2s")
	if code != 1 || !strings.HasPrefix(lastLine(errs), "reconcile: fetch "+closed+": ") || !strings.Contains(lastLine(errs), "connection refused") ||
		!strings.HasSuffix(errs, "; nothing was changed\n") || took > 2*time.Second {
		t.Errorf("apply against a closed port: exit %d after %v, stderr:\n%s\nwant exit 1 at once, connection refused, nothing was changed", code, took, errs)
	}
	st = h.status("--repo", closed)
	if !strings.Contains(st.SourceError, "connection refused") || st.LastAttempt == nil || !strings.Contains(st.LastAttempt.Error, "connection refused") {
		t.Errorf("status against a closed port: source error %q, last attempt %+v", st.SourceError, st.LastAttempt)
	}
	if got := h.ruleset(); got != good {
		t.Fatalf("the kernel changed after failed fetches:\n%s", got)
	}

	// watch: one failure line per pass with stage/reason/retry_in, growing delays, the
	// metric; then the remote answers again and the next retry applies by itself.
	addr := gitopsFreeAddr(t)
	w := h.watch("--repo", remote.URL, "--fetch-timeout", "1s", "--interval", "1h", "--metrics-addr", addr)
	var delays []string
	from := 0
	for len(delays) < 2 {
		m := w.waitLog("a failed pass", from, 20*time.Second, gitopsMsg("reconcile failed; the last good ruleset stays in the kernel", "stage", "fetch", "reason", "timeout"))
		_, i := w.find(from, gitopsMsg("reconcile failed; the last good ruleset stays in the kernel"))
		from = i + 1
		delays = append(delays, logDuration(m["retry_in"]))
		if e, _ := m["err"].(string); e != "fetch "+remote.URL+": no answer within 1s (--fetch-timeout)" {
			t.Errorf("watch failure err %q", e)
		}
	}
	if strings.Join(delays, ",") != "1s,2s" {
		t.Errorf("retry delays %v, want 1s,2s", delays)
	}
	w.waitMetric(5*time.Second, "reconcile_errors_total", []string{`stage="fetch"`, `reason="timeout"`}, func(v float64) bool { return v >= 2 }, "at least 2")
	if got := h.ruleset(); got != good {
		t.Fatalf("the kernel changed while the remote was silent:\n%s", got)
	}
	remote.setSilent(false)
	h.waitPorts(30*time.Second, 81)
	w.waitLog("the pass that applied once the remote answered", from, 10*time.Second, gitopsMsg("applied"))
	w.waitMetric(5*time.Second, "reconcile_last_attempt_success", nil, func(v float64) bool { return v == 1 }, "1")

	// The remote's port closes (connections refused): reason unreachable, the same back-off
	// from 1 s; the port opens again and the next retry applies the new commit by itself.
	repo.Commit("web 82", gitopsFiles(82), "")
	repo.Push()
	remote.down()
	mark := w.mark()
	if err := w.cmd.Process.Signal(syscall.SIGHUP); err != nil { // a pass now, not in an hour
		t.Fatal(err)
	}
	delays = nil
	from = mark
	for len(delays) < 2 {
		m := w.waitLog("a failed pass", from, 20*time.Second, gitopsMsg("reconcile failed; the last good ruleset stays in the kernel", "stage", "fetch", "reason", "unreachable"))
		_, i := w.find(from, gitopsMsg("reconcile failed; the last good ruleset stays in the kernel"))
		from = i + 1
		delays = append(delays, logDuration(m["retry_in"]))
		if e, _ := m["err"].(string); !strings.Contains(e, "connection refused") {
			t.Errorf("watch failure err %q, want connection refused", e)
		}
	}
	if strings.Join(delays, ",") != "1s,2s" {
		t.Errorf("retry delays after the port closed %v, want 1s,2s (the back-off restarts after a success)", delays)
	}
	w.waitMetric(5*time.Second, "reconcile_errors_total", []string{`stage="fetch"`, `reason="unreachable"`}, func(v float64) bool { return v >= 2 }, "at least 2")
	h.assertPorts("while the remote is down", 81)
	remote.up(t)
	h.waitPorts(15*time.Second, 82)
}
