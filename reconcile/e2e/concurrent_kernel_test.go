package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/lock"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// Other writers in the namespace (docs/OPERATIONS.md, "Other writers: foreign tables,
// concurrent nft, two reconcile processes"): the tables of others are never changed, a
// concurrent nft writer never makes reconcile apply on a stale basis, and of two reconcile
// processes one wins and the other says so.

var (
	concurrentSeed   = flag.Int64("concurrent.seed", envInt("RECONCILE_CONCURRENT_SEED", 11), "seed of the concurrent-writer and two-process tests ($RECONCILE_CONCURRENT_SEED)")
	concurrentRounds = flag.Int("concurrent.rounds", int(envInt("RECONCILE_CONCURRENT_ROUNDS", 12)), "applies per case of the concurrent tests ($RECONCILE_CONCURRENT_ROUNDS; make stress raises it)")
)

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// seeded returns the random source of a test, logging its seed on failure.
func seeded(t *testing.T) *rand.Rand {
	seed := *concurrentSeed
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (rerun with -concurrent.seed=%d or RECONCILE_CONCURRENT_SEED=%d)", seed, seed, seed)
		}
	})
	return rand.New(rand.NewSource(seed))
}

// othersTables are three tables of others: the operator's inet filter with its own forward
// chain, an ip nat with masquerade, and a table of another agent (kube-proxy's shape: sets,
// a map, a verdict map, counters).
const othersTables = `table inet filter {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related counter accept comment "operator established"
		iifname "eth9" oifname "eth9" counter drop comment "operator hairpin"
	}
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 counter accept comment "operator ssh"
	}
}
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 198.18.200.0/24 oifname "eth9" masquerade
	}
}
table inet kube-proxy {
	set cluster-ips {
		type ipv4_addr
		elements = { 198.18.100.1, 198.18.100.2 }
	}
	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 198.18.100.1 . tcp . 80 : goto service-a, 198.18.100.2 . udp . 53 : goto service-b }
	}
	map endpoint-port {
		type ipv4_addr : inet_service
		elements = { 198.18.101.1 : 8080 }
	}
	chain service-a {
		counter accept
	}
	chain service-b {
		counter accept
	}
	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
	}
	chain filter-forward {
		type filter hook forward priority -110; policy accept;
		ip daddr @cluster-ips counter jump services
	}
}
`

// othersNames are the tables of othersTables (and the flowtable's, when the kernel takes it).
var othersNames = [][2]string{{"inet", "filter"}, {"ip", "nat"}, {"inet", "kube-proxy"}}

// addOthers loads othersTables into ns, and a flowtable into the agent's table when the kernel
// has nf_flow_table.
func addOthers(t *testing.T, ns string) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "others.nft")
	if err := os.WriteFile(script, []byte(othersTables), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.NetnsRun(t, ns, "nft", "-f", script)
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "add", "flowtable", "inet", "kube-proxy", "ft", "{ hook ingress priority 0; devices = { lo }; }").CombinedOutput(); err != nil {
		t.Logf("kernel does not take a flowtable (%v: %s); left out", err, bytes.TrimSpace(out))
	}
}

// othersListing is `nft -a list table` of each table of others, handles included.
func othersListing(t *testing.T, ns string) string {
	t.Helper()
	var b strings.Builder
	for _, ft := range othersNames {
		b.WriteString(testenv.NetnsRun(t, ns, "nft", "-a", "list", "table", ft[0], ft[1]))
	}
	return b.String()
}

// webProfile is profiles/WEB.yaml of pasRepo with its first inbound rule on port.
func webProfile(port int) string {
	return fmt.Sprintf("id: WEB\ntags: [WEB, APP_7890]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [%d, 443]\n  - action: allow\n    protocol: icmp\n    icmp_type: 8\noutbound_rules:\n  - action: allow\n", port)
}

// TestKernelOthersTablesNeverChanged: beside the tables of others (othersTables), a first
// apply, an incremental one, apply --full, a heal of drift, the table deleted and made again,
// and a change that cannot be made in place (full-fallback) leave each of them byte-identical
// (`nft -a list table`, handles and counters included: no packet passes), and the ruleset
// generation moves by exactly one commit per apply that changed the table (none by reconcile
// elsewhere, none when nothing changed).
func TestKernelOthersTablesNeverChanged(t *testing.T) {
	t.Parallel()
	testenv.RequireKernel(t)
	ns, repo, run := foreignFixture(t, "others")
	addOthers(t, ns)
	others := othersListing(t, ns)
	for _, want := range []string{"masquerade", "vmap @service-ips", `counter packets 0 bytes 0 accept comment "operator ssh"`} {
		if !strings.Contains(others, want) {
			t.Fatalf("the tables of others lack %q:\n%s", want, others)
		}
	}
	nftIn := func(args ...string) { t.Helper(); testenv.NetnsRun(t, ns, "nft", args...) }
	steps := []struct {
		name    string
		prepare func() // a change by the test (its own commits are not counted)
		args    []string
		mode    string // "" for no change
	}{
		{"first apply", nil, nil, "table replaced"},
		{"no change", nil, nil, ""},
		{"incremental", func() { testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": webProfile(8080)}) }, nil, "changed in place"},
		{"full", func() { testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": webProfile(8081)}) }, []string{"--full"}, "table replaced"},
		{"heal a hand-added rule", func() { nftIn("add", "rule", "inet", "reconcile", "profile-in-WEB", "tcp", "dport", "9", "drop") }, nil, "changed in place"},
		{"heal a deleted element", func() {
			nftIn("delete", "element", "inet", "reconcile", "tag-v4-APP_7890", "{ 198.18.1.2/31 }")
		}, nil, "changed in place"},
		{"table deleted", func() { nftIn("delete", "table", "inet", "reconcile") }, nil, "table replaced"},
		{"full-fallback (a base chain's policy)", func() {
			nftIn("add", "chain", "inet", "reconcile", "input-from", "{ policy drop; }")
		}, nil, "table replaced: the change in place was refused"},
	}
	for _, s := range steps {
		if s.prepare != nil {
			s.prepare()
		}
		g0 := kernelGeneration(t, ns)
		out, errOut, code := run(append([]string{"apply"}, s.args...)...)
		g1 := kernelGeneration(t, ns)
		if code != 0 {
			t.Fatalf("%s: apply: exit %d\n%s%s", s.name, code, out, errOut)
		}
		switch {
		case s.mode == "" && (!strings.Contains(out, "No changes.") || g1 != g0):
			t.Errorf("%s: generation %d -> %d, want unchanged and no changes:\n%s", s.name, g0, g1, out)
		case s.mode != "" && (!strings.Contains(out, "ms, "+s.mode+").") || g1 != g0+1):
			t.Errorf("%s: generation %d -> %d, want one commit, %q:\n%s", s.name, g0, g1, s.mode, out)
		}
		if got := othersListing(t, ns); got != others {
			t.Fatalf("%s: the tables of others changed:\n%s\nwere:\n%s", s.name, got, others)
		}
		if out, errOut, code := run("status", "--full", "--detailed-exitcode"); code != 0 {
			t.Errorf("%s: status --full: exit %d\n%s%s", s.name, code, out, errOut)
		}
	}
}

// writer is a concurrent nftables writer: goroutines running real `nft` commands in the
// namespace in a tight loop, each command picked at random from cmds. Paused (the mutex held by
// the checker) it commits nothing.
type writer struct {
	t       *testing.T
	ns      string
	cmds    [][]string
	mu      sync.Mutex
	sent    atomic.Int64
	ok      atomic.Int64
	stop    chan struct{}
	done    sync.WaitGroup
	running atomic.Bool
}

func startWriter(t *testing.T, ns string, rnd *rand.Rand, goroutines int, cmds [][]string) *writer {
	w := &writer{t: t, ns: ns, cmds: cmds, stop: make(chan struct{})}
	for i := 0; i < goroutines; i++ {
		r := rand.New(rand.NewSource(rnd.Int63()))
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			for {
				select {
				case <-w.stop:
					return
				default:
				}
				if !w.running.Load() {
					time.Sleep(time.Millisecond)
					continue
				}
				c := w.cmds[r.Intn(len(w.cmds))]
				w.mu.Lock()
				err := exec.Command("nsenter", append([]string{"--net=/run/netns/" + w.ns, "nft"}, c...)...).Run()
				w.mu.Unlock()
				w.sent.Add(1)
				if err == nil {
					w.ok.Add(1) // an element already gone, a rule already deleted: refused
				}
			}
		}()
	}
	t.Cleanup(w.close)
	return w
}

func (w *writer) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.done.Wait()
}

// TestKernelConcurrentWriter: real `nft` commands run in the namespace in a tight loop while
// the built binary applies, again and again, revisions that change the table in place and
// --full. Writer 1 edits only the tables of others (rules and elements); writer 2 edits our
// table too (a rule added to one of our chains, an element deleted from one of our sets).
// Every apply either succeeds, and then the kernel, read back at the generation it recorded
// (the writer paused), holds exactly the recorded model; or fails with the one-line
// contention reason and leaves LastApplied as it was. An apply computed on a stale base
// would leave the table differing from the model at the generation recorded.
func TestKernelConcurrentWriter(t *testing.T) {
	t.Parallel()
	testenv.RequireKernel(t)
	rnd := seeded(t)
	others := [][]string{
		{"add", "rule", "inet", "filter", "forward", "tcp", "dport", "7", "counter", "drop"},
		{"flush", "chain", "inet", "filter", "input"},
		{"add", "element", "inet", "kube-proxy", "cluster-ips", "{ 198.18.100.9 }"},
		{"delete", "element", "inet", "kube-proxy", "cluster-ips", "{ 198.18.100.9 }"},
		{"add", "table", "inet", "racer"},
		{"delete", "table", "inet", "racer"},
	}
	ours := append(others[:4:4],
		[]string{"add", "rule", "inet", "reconcile", "profile-in-WEB", "tcp", "dport", "9", "drop"},
		[]string{"delete", "element", "inet", "reconcile", "tag-v4-APP_7890", "{ 198.18.1.2/31 }"})
	for _, tc := range []struct {
		name string
		cmds [][]string
		// endpoints are added to pasRepo (a larger table takes longer to read: a wider
		// window for the writer); stopMax bounds when the writer stops during an apply
		// (0: it runs through every apply).
		endpoints, rounds int
		stopMax           time.Duration
	}{
		{"others' tables", others, 0, *concurrentRounds, 30 * time.Millisecond},
		{"our table", ours, 0, *concurrentRounds, 30 * time.Millisecond},
		{"our table, large", ours, 150, *concurrentRounds / 2, 600 * time.Millisecond},
		{"others' tables, large, writer never stops", others, 300, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := testenv.NewNetns(t, "writer")
			repo, stateDir := t.TempDir(), filepath.Join(t.TempDir(), "state")
			testenv.WriteFiles(t, repo, pasRepo)
			testenv.WriteFiles(t, repo, map[string]string{"endpoints/many.yaml": manyEndpoints(tc.endpoints)})
			run := func(args ...string) (string, string, int) {
				t.Helper()
				return runReconcile(t, append(args, "--dir", repo, "--host", "node-1", "--netns", ns, "--state-dir", stateDir)...)
			}
			addOthers(t, ns)
			if out, errOut, code := run("apply"); code != 0 {
				t.Fatalf("first apply: exit %d\n%s%s", code, out, errOut)
			}
			w := startWriter(t, ns, rnd, 3, tc.cmds)
			var applied, contention, staleRetries, checked, checkedAfterRetry int
			g0 := kernelGeneration(t, ns)
			for i := 0; i < tc.rounds; i++ {
				testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": webProfile(8000 + rnd.Intn(50))})
				args := []string{"apply", "--log-level", "info"}
				if rnd.Intn(3) == 0 {
					args = append(args, "--full")
				}
				// The writer runs from the start of the apply until a random moment of it (or
				// after it): when it stops before the apply's last read, the apply's result can
				// be checked at the generation it recorded.
				// Every fourth round of a writer that stops runs without it, so that the
				// read-back at the recorded generation is checked in every run: when the
				// writer's last commit lands after the apply's in all rounds (a fast machine,
				// a slow writer), nothing could be checked.
				quiet := tc.stopMax != 0 && i%4 == 3
				w.running.Store(!quiet)
				stop := time.AfterFunc(time.Duration(rnd.Int63n(int64(tc.stopMax)+1)), func() { w.running.Store(false) })
				if tc.stopMax == 0 || quiet {
					stop.Stop()
				}
				out, errOut, code := run(args...)
				stop.Stop()
				w.running.Store(false)
				retries := strings.Count(errOut, `msg="the ruleset generation moved before the change; reading the table again"`)
				staleRetries += retries
				switch {
				case code == 0:
					applied++
				case code == 1 && strings.HasSuffix(lastLine(errOut), "the ruleset generation kept moving (another nftables writer is busy; 3 tries); nothing was changed"):
					contention++
					continue
				default:
					t.Fatalf("round %d: %s: exit %d\n%s%s", i, strings.Join(args, " "), code, out, errOut)
				}
				// Read back with the writer paused: at the generation recorded, the table is
				// exactly the recorded model.
				w.mu.Lock()
				ok, err := atRecorded(t, ns, stateDir)
				w.mu.Unlock()
				if err != nil {
					t.Fatalf("round %d (%s): %v\n%s", i, strings.Join(args, " "), err, errOut)
				}
				if ok {
					checked++
					if retries > 0 {
						checkedAfterRetry++
					}
				}
			}
			w.close()
			commits := kernelGeneration(t, ns) - g0
			t.Logf("%s: %d applies (%d succeeded, %d contention failures, %d stale retries), %d read back at the recorded generation (%d after a retry); writer: %d nft commands, %d accepted; generation moved by %d",
				tc.name, tc.rounds, applied, contention, staleRetries, checked, checkedAfterRetry, w.sent.Load(), w.ok.Load(), commits)
			switch {
			case w.ok.Load() == 0:
				t.Errorf("the writer committed nothing")
			case tc.stopMax == 0 && contention+staleRetries == 0:
				// Whether its commits land in the window between a read and the
				// transaction three times in a row (contention) is timing; that they land
				// in it at all is near certain with a commit every few tens of ms.
				t.Errorf("a writer that never stopped made no transaction stale in %d applies", tc.rounds)
			case tc.stopMax != 0 && (applied == 0 || checked == 0):
				t.Errorf("no apply succeeded (%d), or none was checked at its generation (%d)", applied, checked)
			case tc.endpoints > 0 && staleRetries == 0:
				t.Errorf("no stale retry with a large table")
			}
			// The writer stopped: one more apply converges, and is then proven at its generation.
			if out, errOut, code := run("apply"); code != 0 {
				t.Fatalf("apply after the writer stopped: exit %d\n%s%s", code, out, errOut)
			}
			if ok, err := atRecorded(t, ns, stateDir); err != nil || !ok {
				t.Fatalf("after the writer stopped: at the recorded generation %v, %v", ok, err)
			}
		})
	}
}

// manyEndpoints is an endpoints file of n endpoints of profile WEB on node-1.
func manyEndpoints(n int) string {
	var b strings.Builder
	b.WriteString("endpoints:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {id: many-%d, host: node-1, interface: calim%d, ipv4_nets: [198.18.%d.%d/32], profile_ids: [WEB]}\n", i, i, 10+i/200, 1+i%200)
	}
	if n == 0 {
		b.WriteString("  []\n")
	}
	return b.String()
}

// atRecorded reads the generation, the table and the generation again; when both are the
// generation the state record in stateDir recorded with the ruleset applied last, the table
// must be exactly its model (an error otherwise). ok says the check was made (false: the
// generation moved since, nothing to compare).
func atRecorded(t *testing.T, ns, stateDir string) (ok bool, err error) {
	t.Helper()
	rec, err := state.Load(stateDir, nft.DefaultTable, ns)
	if err != nil {
		return false, err
	}
	la := rec.LastApplied
	if la == nil || la.Generation == 0 {
		return false, fmt.Errorf("no generation recorded: %+v", la)
	}
	h, err := netns.Open(ns)
	if err != nil {
		return false, err
	}
	defer h.Close()
	k, err := nft.NewKernel(h)
	if err != nil {
		return false, err
	}
	defer k.Close()
	ctx := context.Background()
	before, err := k.Generation(ctx)
	if err != nil || before != la.Generation {
		return false, err
	}
	observed, err := k.Observe(ctx, nft.DefaultTable)
	if err != nil {
		return false, err
	}
	if after, err := k.Generation(ctx); err != nil || after != before {
		return false, err
	}
	model, err := la.LoadModel()
	if err != nil {
		return false, err
	}
	if d := plan.Diff(model, observed); !d.Empty() {
		return false, fmt.Errorf("at the recorded generation %d the table differs from the recorded model: %s", before, d.Summary())
	}
	return true, nil
}

// lastLine is the last line of s (without its newline).
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// lockedLine is the one line of an apply that found the lock held.
var lockedLine = regexp.MustCompile(`^reconcile: another reconcile \(pid (\d+)\) is applying to table inet reconcile in this namespace; try again later; nothing was changed$`)

// TestKernelTwoApplies: two `reconcile apply` processes started together on the same table and
// namespace, many times (seeded), with the same state directory, with two state directories,
// and with the namespace spelled by name and by its /run/netns path: each time either both
// succeed (one after the other) or one wins and the other exits 1 with one line naming the
// winner's pid and saying nothing was changed; the kernel then holds the revision applied.
func TestKernelTwoApplies(t *testing.T) {
	t.Parallel()
	testenv.RequireKernel(t)
	rnd := seeded(t)
	bin := reconcileBin(t)
	ns := testenv.NewNetns(t, "two")
	repo := t.TempDir()
	testenv.WriteFiles(t, repo, pasRepo)
	stateA, stateB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	variants := []struct {
		name         string
		state, netns [2]string
	}{
		{"same state dir", [2]string{stateA, stateA}, [2]string{ns, ns}},
		{"two state dirs", [2]string{stateA, stateB}, [2]string{ns, ns}},
		{"name and path", [2]string{stateA, stateB}, [2]string{ns, "/run/netns/" + ns}},
	}
	lost, both := 0, 0
	for i := 0; i < *concurrentRounds*len(variants); i++ {
		v := variants[i%len(variants)]
		testenv.WriteFiles(t, repo, map[string]string{"profiles/WEB.yaml": webProfile(8000 + i)})
		var cmds [2]*exec.Cmd
		var outs, errs [2]bytes.Buffer
		for j := range cmds {
			args := []string{"apply", "--dir", repo, "--host", "node-1", "--netns", v.netns[j], "--state-dir", v.state[j], "--log-level", "error"}
			if rnd.Intn(2) == 0 {
				args = append(args, "--full")
			}
			cmds[j] = exec.Command(bin, args...)
			cmds[j].Stdout, cmds[j].Stderr = &outs[j], &errs[j]
		}
		first := rnd.Intn(2)
		for _, j := range []int{first, 1 - first} {
			if err := cmds[j].Start(); err != nil {
				t.Fatal(err)
			}
		}
		var codes [2]int
		for j := range cmds {
			_ = cmds[j].Wait()
			codes[j] = cmds[j].ProcessState.ExitCode()
		}
		switch {
		case codes == [2]int{0, 0}:
			both++
		case codes[0]+codes[1] == 1:
			lost++
			loser := 0
			if codes[1] == 1 {
				loser = 1
			}
			m := lockedLine.FindStringSubmatch(strings.TrimSuffix(errs[loser].String(), "\n"))
			if m == nil || strings.Count(errs[loser].String(), "\n") != 1 || m[1] != strconv.Itoa(cmds[1-loser].Process.Pid) {
				t.Errorf("round %d (%s): the loser (pid %d) said %q, want one line naming the winner's pid %d", i, v.name, cmds[loser].Process.Pid, errs[loser].String(), cmds[1-loser].Process.Pid)
			}
		default:
			t.Fatalf("round %d (%s): exits %v\n%s%s\n%s%s", i, v.name, codes, outs[0].String(), errs[0].String(), outs[1].String(), errs[1].String())
		}
		// The kernel holds the revision applied: in sync and up to date for the winner's
		// record (read in full).
		winner := 0
		if codes[0] != 0 {
			winner = 1
		}
		if out, errOut, code := runReconcile(t, "status", "--full", "--detailed-exitcode", "--dir", repo, "--host", "node-1", "--netns", ns, "--state-dir", v.state[winner]); code != 0 {
			t.Errorf("round %d (%s): status --full of the winner's record: exit %d\n%s%s", i, v.name, code, out, errOut)
		}
	}
	t.Logf("two applies started together %d times: %d times one lost the lock, %d times both succeeded one after the other", *concurrentRounds*len(variants), lost, both)
	if lost == 0 {
		t.Errorf("the two processes never collided in %d rounds", *concurrentRounds*len(variants))
	}
}

// TestKernelApplyWhileWatching: `apply` started while a `watch` of the same table and namespace
// runs its passes (a larger table, the repository edited right before each apply, so the
// watch's pass and the apply overlap): each apply either succeeds or exits 1 with one line
// naming the watch's pid; the watch waits for an apply that holds the lock; in the end the
// kernel holds the last revision (status --full in sync and up to date).
func TestKernelApplyWhileWatching(t *testing.T) {
	t.Parallel()
	h := newGitopsHost(t, "watchlock")
	rnd := seeded(t)
	repo := t.TempDir()
	testenv.WriteFiles(t, repo, pasRepo)
	testenv.WriteFiles(t, repo, map[string]string{"endpoints/many.yaml": manyEndpoints(250)})
	h.must("apply", "--dir", repo)
	w := h.watch("--dir", repo, "--debounce", "1ms", "--interval", "1h")
	scratch := t.TempDir()
	key, err := lock.Key(nft.DefaultTable, testenv.Open(t, netns.Open, h.ns))
	if err != nil {
		t.Fatal(err)
	}
	// quiet waits until no pass holds the lock (twice, for a pass the last one triggered).
	quiet := func() {
		for range 2 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			l, err := lock.Acquire(ctx, key, true)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			_ = l.Release()
			time.Sleep(20 * time.Millisecond)
		}
	}
	lost, won := 0, 0
	for i := 0; i < *concurrentRounds; i++ {
		quiet()
		// Half the rounds edit the repository first (the watch's pass starts, the apply
		// meets it), half start the apply first (the watch's pass meets it, and waits).
		// The edit is a rename: a reader sees the old file or the new one (an apply reading
		// a half-written file would fail validation, which is not what this test is about).
		edit := func() {
			tmp := filepath.Join(scratch, "WEB.yaml") // the same file system as repo (both test temp dirs)
			if err := os.WriteFile(tmp, []byte(webProfile(8000+i)), 0o644); err != nil {
				t.Error(err)
			}
			if err := os.Rename(tmp, filepath.Join(repo, "profiles", "WEB.yaml")); err != nil {
				t.Error(err)
			}
		}
		pause := time.Duration(rnd.Intn(20+40*(i%2))) * time.Millisecond
		var out, errOut string
		var code int
		if i%2 == 0 {
			edit()
			time.Sleep(pause)
			out, errOut, code = h.run("apply", "--dir", repo, "--log-level", "error")
		} else {
			done := make(chan struct{})
			go func() {
				defer close(done)
				out, errOut, code = h.exec(h.bin, h.args("apply", "--dir", repo, "--log-level", "error")...)
			}()
			time.Sleep(pause)
			edit()
			<-done
		}
		switch {
		case code == 0:
			won++
		case code == 1:
			lost++
			m := lockedLine.FindStringSubmatch(strings.TrimSuffix(errOut, "\n"))
			if m == nil || strings.Count(errOut, "\n") != 1 || m[1] != strconv.Itoa(w.cmd.Process.Pid) {
				t.Errorf("round %d: apply said %q, want one line naming the watch's pid %d", i, errOut, w.cmd.Process.Pid)
			}
		default:
			t.Fatalf("round %d: apply: exit %d\n%s%s", i, code, out, errOut)
		}
	}
	waited := 0
	for from := 0; ; from++ {
		if _, from = w.find(from, gitopsMsg("another reconcile holds the table; waiting")); from < 0 {
			break
		}
		waited++
	}
	t.Logf("%d applies beside a watch: %d found its pass holding the lock, %d went through; the watch waited for an apply %d times", *concurrentRounds, lost, won, waited)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, _, code := h.run("status", "--dir", repo, "--full", "--detailed-exitcode")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kernel did not converge to the last revision: status exit %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lost == 0 {
		t.Errorf("no apply met the watch's pass in %d rounds", *concurrentRounds)
	}
}
