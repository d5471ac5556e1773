package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/source/git"
	"github.com/reconcile-dev/reconcile/reconcile/state"
	"github.com/reconcile-dev/reconcile/schema"
)

// The rig of the kill tests (kill_kernel_test.go): a git repository of a large generated
// policy served as a file:// remote, one private namespace and state directory, the built
// binary started and killed with SIGKILL, and the checks of what a kill may leave.

// killTable is the table the rig's runs own.
const killTable = "reconcile"

// killHost is the host whose endpoints the runs enforce.
const killHost = "node-1"

// killRev is one commit of the rig's repository and the ruleset it compiles to for killHost.
type killRev struct {
	commit string
	what   string // the mutation that made it
	model  *nft.Ruleset
	digest string
}

// killRig is one repository, namespace and state directory.
type killRig struct {
	t     *testing.T
	bin   string
	ns    string
	state string
	repo  *gittest.Repo
	url   string
	files map[string][]byte
	shape repogen.Shape
	added int    // AddRemoteEndpoint numbers used
	last  string // the digest of the newest commit's ruleset

	kern *nft.Kernel
}

// newKillRig makes the namespace, the state directory and the repository of Dense(n) (seed),
// committed and pushed: the returned revision is its first commit.
func newKillRig(t *testing.T, hint string, n int, seed uint64) (*killRig, *killRev) {
	t.Helper()
	testenv.RequireKernel(t)
	gittest.RequireGit(t)
	r := &killRig{t: t, bin: reconcileBin(t), ns: testenv.NewNetns(t, hint), state: filepath.Join(t.TempDir(), "state"), shape: repogen.Dense(n)}
	files, err := r.shape.Files(seed)
	if err != nil {
		t.Fatal(err)
	}
	r.files = files
	r.repo = gittest.NewRepo(t, "main")
	r.url = "file://" + r.repo.Remote
	r.kern = openKernel(t, r.ns)
	all := make(map[string]string, len(files))
	for p, b := range files {
		all[p] = string(b)
	}
	rev := r.commit("generated Dense", all)
	r.last = rev.digest
	return r, rev
}

// commit commits the changed files, pushes, and compiles the new revision.
func (r *killRig) commit(what string, changed map[string]string) *killRev {
	r.t.Helper()
	c := r.repo.Commit(what, changed, "")
	r.repo.Push()
	m := r.model()
	return &killRev{commit: c, what: what, model: m, digest: m.Digest()}
}

// model compiles the rig's files for killHost, in canonical form (what the agent records).
func (r *killRig) model() *nft.Ruleset {
	r.t.Helper()
	repo, errs := schema.Load(r.files)
	if len(errs) > 0 {
		r.t.Fatalf("generated repository is invalid: %v", errs)
	}
	rs, err := compile.Compile(repo, compile.Options{Host: killHost, Table: killTable})
	if err != nil {
		r.t.Fatal(err)
	}
	return rs.Canonical()
}

// mutate commits one seeded change of the repository: a local endpoint moving to other
// profiles, a profile rule's port, a remote endpoint joining a tag (each one file, applied in
// place), or every local endpoint regenerated (a large change). The new commit's ruleset
// always differs from the previous commit's.
func (r *killRig) mutate(rng *rand.Rand) *killRev {
	r.t.Helper()
	var (
		path, what string
		err        error
	)
	switch k := rng.IntN(8); {
	case k < 3:
		what = "local endpoint moves"
		path, err = repogen.ChangeLocalEndpoint(r.files, killHost)
	case k < 5:
		what = "profile rule changes"
		path, err = repogen.ChangeProfileRule(r.files, killHost)
	case k < 7 && r.added < 1024:
		what = "remote endpoint joins a tag"
		path, err = repogen.AddRemoteEndpoint(r.files, killHost, "node-2", r.added)
		r.added++
	default:
		what = "every local endpoint regenerated"
		var all map[string][]byte
		all, err = r.shape.Files(rng.Uint64())
		path = "endpoints/" + killHost + ".yaml"
		if err == nil {
			r.files[path] = all[path]
		}
	}
	if err != nil {
		r.t.Fatal(err)
	}
	rev := r.commit(what, map[string]string{path: string(r.files[path])})
	if rev.digest == r.last {
		// The same ruleset for this host: no way to tell the old from the new in the
		// kernel. Change more (never with the mutations above; kept as a guard).
		return r.mutate(rng)
	}
	r.last = rev.digest
	return rev
}

// args are the flags of a run against the rig, after cmd and before extra.
func (r *killRig) args(cmd string, extra ...string) []string {
	return append([]string{cmd, "--repo", r.url, "--host", killHost, "--netns", r.ns, "--state-dir", r.state}, extra...)
}

// run runs the binary to its end (no kill) and returns stdout, stderr, exit code and duration.
func (r *killRig) run(cmd string, extra ...string) (string, string, int, time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, r.bin, r.args(cmd, extra...)...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	start := time.Now()
	err := c.Run()
	d := time.Since(start)
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || ctx.Err() != nil) {
		r.t.Fatalf("reconcile %s: %v\n%s", cmd, err, errb.String())
	}
	return out.String(), errb.String(), c.ProcessState.ExitCode(), d
}

// must runs the binary and fails unless it exits 0.
func (r *killRig) must(cmd string, extra ...string) (string, time.Duration) {
	r.t.Helper()
	out, errs, code, d := r.run(cmd, extra...)
	if code != 0 {
		r.t.Fatalf("reconcile %s %s: exit %d\nstdout:\n%s\nstderr:\n%s", cmd, strings.Join(extra, " "), code, out, errs)
	}
	return out, d
}

// killed is how a run that the rig tried to kill ended.
type killed struct {
	signaled bool          // SIGKILL ended it
	code     int           // its exit code when it ended on its own
	ran      time.Duration // from start to end
	out      string        // stdout and stderr
}

// runKill starts the binary and sends SIGKILL after delay; it waits for the process.
func (r *killRig) runKill(delay time.Duration, cmd string, extra ...string) killed {
	r.t.Helper()
	c := exec.Command(r.bin, r.args(cmd, extra...)...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	start := time.Now()
	if err := c.Start(); err != nil {
		r.t.Fatal(err)
	}
	timer := time.AfterFunc(delay, func() { _ = c.Process.Signal(syscall.SIGKILL) })
	err := c.Wait()
	timer.Stop()
	k := killed{ran: time.Since(start), out: out.String()}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		r.t.Fatalf("reconcile %s: %v", cmd, err)
	}
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		k.signaled = true
	} else {
		k.code = c.ProcessState.ExitCode()
	}
	return k
}

// observe reads the table from the namespace (nil: there is none).
func (r *killRig) observe() *nft.Ruleset {
	r.t.Helper()
	rs, err := r.kern.Observe(context.Background(), killTable)
	if err != nil {
		r.t.Fatalf("observe table inet %s in %s: %v", killTable, r.ns, err)
	}
	return rs
}

// holds reports whether the kernel's table obs is exactly rev's ruleset (rev nil: no table).
func holds(obs *nft.Ruleset, rev *killRev) bool {
	if rev == nil || obs == nil {
		return rev == nil && obs == nil
	}
	return plan.Diff(rev.model, obs).Empty()
}

// dropTable deletes the table in the rig's namespace, if there is one.
func (r *killRig) dropTable() {
	r.t.Helper()
	if r.observe() == nil {
		return
	}
	testenv.NetnsRun(r.t, r.ns, "nft", "delete", "table", "inet", killTable)
}

// clone is the rig's git clone directory.
func (r *killRig) clone() string { return git.CacheDirFor(r.state, r.url) }

// cloneState is what a kill left of the clone.
type cloneState int

const (
	cloneAbsent cloneState = iota // no clone directory
	cloneHalf                     // opens and checks, but has no origin/main yet (first fetch cut)
	cloneOK                       // fsck passes and origin/main resolves
	cloneBroken                   // fsck fails or origin/main does not resolve to a commit
)

func (c cloneState) String() string {
	return [...]string{"absent", "half-made", "ok", "broken"}[c]
}

// checkClone runs the real git on the clone: fsck, then origin/main. head is the commit
// origin/main names when the state is cloneOK; detail says why when it is not.
func (r *killRig) checkClone() (st cloneState, head, detail string) {
	dir := r.clone()
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return cloneAbsent, "", ""
	}
	gitc := func(args ...string) (string, error) {
		c := exec.Command("git", append([]string{"--git-dir", dir}, args...)...)
		c.Env = gittest.Env("")
		out, err := c.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := gitc("fsck", "--no-progress", "--no-dangling"); err != nil {
		return cloneBroken, "", "git fsck: " + err.Error() + ": " + out
	}
	out, err := gitc("rev-parse", "-q", "--verify", "refs/remotes/origin/main^{commit}")
	if err != nil {
		if refs, _ := gitc("for-each-ref"); refs == "" {
			return cloneHalf, "", "no refs"
		}
		return cloneBroken, "", "rev-parse origin/main: " + err.Error() + ": " + out
	}
	return cloneOK, out, ""
}

// stateTemps lists the temporary files of the state directory (atomicfile's ".<name>.tmp-*").
func (r *killRig) stateTemps() []string {
	left, _ := filepath.Glob(filepath.Join(r.state, ".*.tmp-*"))
	return left
}

// cloneTemps lists what killed fetches left in the clone: go-git's temporary files (tmp_pack_*,
// tmp_obj_*) and pack indexes without their pack.
func (r *killRig) cloneTemps() []string {
	packs := filepath.Join(r.clone(), "objects", "pack")
	left, _ := filepath.Glob(filepath.Join(packs, "tmp_*"))
	idx, _ := filepath.Glob(filepath.Join(packs, "pack-*.idx"))
	for _, n := range idx {
		if _, err := os.Stat(strings.TrimSuffix(n, ".idx") + ".pack"); err != nil {
			left = append(left, n)
		}
	}
	return left
}

// record loads the rig's state record (nil when there is no file); its key is the namespace's
// name (state.Locate).
func (r *killRig) record() (*state.Record, error) {
	rec, err := state.Load(r.state, killTable, r.ns)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(state.Path(r.state, killTable, r.ns)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return rec, nil
}

var modelFileRE = regexp.MustCompile(`\.model-[0-9a-f]+\.gob$`)

// modelFiles counts the model files of the state directory.
func (r *killRig) modelFiles() int {
	entries, _ := os.ReadDir(r.state)
	n := 0
	for _, e := range entries {
		if modelFileRE.MatchString(e.Name()) {
			n++
		}
	}
	return n
}

var corruptEntriesRE = regexp.MustCompile(`corrupt_entries=(\d+)`)

// corruptEntries is the decode cache's count of damaged entries in a run's debug log (-1: the
// run did not load the repository).
func corruptEntries(stderr string) int {
	m := corruptEntriesRE.FindStringSubmatch(stderr)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// phaseLag is the phase of a kill after the commit and before the record was saved.
const phaseLag = "after the commit, before the record"

// killCounts are the tallies the kill tests print.
type killCounts struct {
	tried, finished       int // SIGKILL delivered while running; runs that ended before it
	byKind                map[string]int
	byPhase               map[string]int
	torn                  int // must stay 0 (the test fails at the first)
	lags                  int // kills that left the record older than the kernel (after the commit)
	extraModels           int // a model file beyond the one the head names
	stateTemps            int // kills that left a temporary file of a save in the state directory
	cloneHalf, cloneAbs   int // clone half-made or absent after a kill
	cloneBroken, repaired int // clone broken after a kill; next run converged over it
	cloneTemps            int // kills that left temporary files of a fetch in the clone
	converged             int // unkilled runs that converged
	cacheCorrupt          int // damaged decode cache entries found by a later run
}

func newKillCounts() *killCounts {
	return &killCounts{byKind: map[string]int{}, byPhase: map[string]int{}}
}

func (c *killCounts) log(t *testing.T, what string, seed uint64, wall time.Duration) {
	t.Helper()
	t.Logf("%s (seed %d, %v): kills %d (runs ended before the signal: %d), by kind %v, by phase %v; torn %d; record lagging kernel %d; extra model files %d; temporary files of a save %d; clone absent %d, half-made %d, broken %d (next run converged %d), with temporary files of the fetch %d; converging runs %d; damaged decode cache entries %d",
		what, seed, wall.Round(time.Millisecond), c.tried, c.finished, c.byKind, c.byPhase, c.torn, c.lags, c.extraModels, c.stateTemps, c.cloneAbs, c.cloneHalf, c.cloneBroken, c.repaired, c.cloneTemps, c.converged, c.cacheCorrupt)
}

// afterKill checks what a kill left, given the kernel's ruleset and the record's revision
// before the run (nil: none) and the run's target: the kernel holds exactly prevKernel's or
// target's ruleset (no table only when prevKernel is nil); the record parses, names prevRec's
// or target's commit, never target's while the kernel holds the previous one, and its model
// file reads back as the digest it names; the clone checks with git or is absent or half-made.
// It returns what the kernel and the record hold now, and the phase the kill landed in. where
// names the seed and iteration for every failure.
func (r *killRig) afterKill(where string, c *killCounts, prevKernel, prevRec, target *killRev) (kernel, rec *killRev, phase string, clone cloneState) {
	r.t.Helper()
	obs := r.observe()
	switch {
	case holds(obs, target):
		kernel = target
	case holds(obs, prevKernel):
		kernel = prevKernel
	default:
		c.torn++
		want := "no table"
		if prevKernel != nil {
			want = "revision " + prevKernel.commit[:7]
		}
		got := "no table"
		if obs != nil {
			got = "a table: " + plan.Diff(target.model, obs).Summary()
		}
		r.t.Fatalf("%s: TORN: the kernel holds neither %s nor the target %s: %s", where, want, target.commit[:7], got)
	}

	record, err := r.record()
	if err != nil {
		c.torn++
		r.t.Fatalf("%s: TORN: the state record does not load: %v", where, err)
	}
	switch {
	case record == nil || record.LastApplied == nil:
		if prevRec != nil {
			c.torn++
			r.t.Fatalf("%s: TORN: the state record lost revision %s (record %v)", where, prevRec.commit[:7], record)
		}
	case record.LastApplied.Commit == target.commit:
		rec = target
	case prevRec != nil && record.LastApplied.Commit == prevRec.commit:
		rec = prevRec
	default:
		c.torn++
		r.t.Fatalf("%s: TORN: the state record names commit %s, neither the previous record's nor the target %s", where, record.LastApplied.Commit, target.commit[:7])
	}
	if rec != nil {
		la := record.LastApplied
		if la.RulesetDigest != rec.digest {
			c.torn++
			r.t.Fatalf("%s: TORN: the record names commit %s with digest %s, its ruleset's is %s", where, rec.commit[:7], la.RulesetDigest, rec.digest)
		}
		if _, err := la.LoadModel(); err != nil && !errors.Is(err, state.ErrNoModel) {
			c.torn++
			r.t.Fatalf("%s: TORN: the model file of the record does not read back: %v", where, err)
		}
		if rec == target && kernel != target {
			c.torn++
			r.t.Fatalf("%s: TORN: the record says %s was applied, the kernel holds the previous ruleset", where, target.commit[:7])
		}
	}
	if r.modelFiles() > 1 {
		c.extraModels++
	}
	if len(r.stateTemps()) > 0 {
		c.stateTemps++
	}

	if len(r.cloneTemps()) > 0 {
		c.cloneTemps++
	}
	clone, head, detail := r.checkClone()
	switch clone {
	case cloneAbsent:
		c.cloneAbs++
	case cloneHalf:
		c.cloneHalf++
	case cloneBroken:
		c.cloneBroken++
		r.t.Logf("%s: FINDING: the clone is broken after the kill: %s", where, detail)
	}

	switch {
	case kernel == target && rec == target:
		phase = "after the record"
	case kernel == target:
		phase = phaseLag
		c.lags++
	case clone != cloneOK || head != target.commit:
		phase = "before the fetch ended"
	default:
		phase = "after the fetch, before the commit"
	}
	c.byPhase[phase]++
	return kernel, rec, phase, clone
}

// converge runs apply unkilled and checks that it converges to target: exit 0, status
// --detailed-exitcode 0, the kernel holds exactly target's ruleset, status --full
// --detailed-exitcode 0, the record names target with one model file, the clone checks.
// With readTable (the record lagged the kernel: its generation is not the kernel's) the apply
// must read the table from the kernel, not trust the record.
func (r *killRig) converge(where string, c *killCounts, target *killRev, readTable bool) time.Duration {
	r.t.Helper()
	out, errs, code, d := r.run("apply", "--log-level", "debug")
	if code != 0 {
		r.t.Fatalf("%s: apply after the kill: exit %d\nstdout:\n%s\nstderr:\n%s", where, code, out, errs)
	}
	if _, observed := read(errs); readTable && !observed {
		r.t.Fatalf("%s: the record lagged the kernel, yet the next apply did not read the table:\n%s", where, errs)
	}
	if n := corruptEntries(errs); n > 0 {
		c.cacheCorrupt += n
	}
	r.inSync(where, target, false)
	c.converged++
	return d
}

// noLeftovers checks that no temporary file of a killed save or fetch is left in the state
// directory or the clone (once no reconcile process runs: a live one makes its own).
func (r *killRig) noLeftovers(where string) {
	r.t.Helper()
	if left := r.stateTemps(); len(left) > 0 {
		r.t.Fatalf("%s: temporary files of a killed save are left in the state directory after converging: %v", where, left)
	}
	if left := r.cloneTemps(); len(left) > 0 {
		r.t.Fatalf("%s: what killed fetches left is still in the clone after converging: %v", where, left)
	}
}

// inSync checks that status and the kernel say target is applied and in sync, and, unless a
// reconcile process is live (a watch: its passes write temporary files of their own), that
// nothing a kill left is still there.
func (r *killRig) inSync(where string, target *killRev, live bool) {
	r.t.Helper()
	for _, full := range []bool{false, true} {
		extra := []string{"--detailed-exitcode"}
		if full {
			extra = append(extra, "--full")
		}
		out, errs, code, _ := r.run("status", extra...)
		if code != 0 {
			r.t.Fatalf("%s: status %s: exit %d, want 0 (in sync)\nstdout:\n%s\nstderr:\n%s", where, strings.Join(extra, " "), code, out, errs)
		}
	}
	if obs := r.observe(); !holds(obs, target) {
		got := "no table"
		if obs != nil {
			got = plan.Diff(target.model, obs).Summary()
		}
		r.t.Fatalf("%s: status says in sync, the kernel does not hold revision %s: %s", where, target.commit[:7], got)
	}
	rec, err := r.record()
	if err != nil || rec == nil || rec.LastApplied == nil || rec.LastApplied.Commit != target.commit {
		r.t.Fatalf("%s: the record does not name %s after converging: %+v, %v", where, target.commit[:7], rec, err)
	}
	if n := r.modelFiles(); n != 1 {
		r.t.Fatalf("%s: %d model files in the state directory after converging, want 1", where, n)
	}
	if !live {
		r.noLeftovers(where)
	}
	if st, head, detail := r.checkClone(); st != cloneOK || head != target.commit {
		r.t.Fatalf("%s: after converging the clone is %s (origin/main %q, want %s): %s", where, st, head, target.commit, detail)
	}
}

// killWhere names the failing iteration and how to reproduce it.
func killWhere(test string, seed uint64, i int, kind string, rev *killRev) string {
	return fmt.Sprintf("%s seed %d iteration %d (%s, %s %s; rerun with -kill.seed=%d)", test, seed, i, kind, rev.what, rev.commit[:7], seed)
}
