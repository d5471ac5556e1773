// Command reconcile-bench is `make bench` (issue 10, point 5): it generates the two benchmark
// shapes of reconcile/internal/repogen (dense: Dense(5000), fleet: Fleet()), and, as root, in
// throwaway network namespaces that it creates and deletes, runs the BUILT reconcile binary as
// separate processes (as a timer runs it) through the steps of a host's life: validate,
// plan --nft, first apply, no-change pass, status, one local endpoint moved, one remote endpoint
// added, one profile rule changed, status after a hand edit. Every figure is printed next to
// its reference measured in the same run (`nft -f` of the binary's own `plan --nft` script in
// a fresh namespace, `nft list table` in the namespace, or the first apply), with the ratio and
// the target of issue 10; then the `nft -f` time of the script at several sizes of the dense
// shape (does the kernel's cost grow linearly?). The table goes to standard output and to
// BENCHMARKS.md.
//
//	go run ./reconcile/internal/bench/cmd/reconcile-bench -bin bin/reconcile -out BENCHMARKS.md
//
// Steps that take less than -short are run 3 times and the median is reported; the others run
// once (the whole run fits in about 10 minutes on 2 cores). It only ever runs nft inside the
// namespaces it made. It exits 1 on any error (a step failing is an error: a benchmark of a
// broken apply is no benchmark), 2 on bad flags; it removes its namespaces also on SIGINT and
// SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Geteuid())
	stop()
	os.Exit(code)
}

// config is what the flags say.
type config struct {
	bin, out, work, source, table string
	seed                          uint64
	denseN                        int
	fleet                         repogen.Shape
	scaled                        []int
	shapes                        []string
	short                         time.Duration
	// planAllHostsOnly runs, per shape, only validate, plan --nft and the plan --all-hosts
	// rows (no namespace, no apply).
	planAllHostsOnly bool
}

// notRoot is what the benchmark says when it cannot create namespaces.
const notRoot = "make bench needs root (it creates network namespaces): run sudo make bench"

// run is main without the process: it parses args, checks the machine, runs the benchmark
// and writes the report. It returns the exit code: 0 done, 1 any error, 2 bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, euid int) int {
	c, ok := parseFlags(args, stderr)
	if !ok {
		return 2
	}
	if !checkHost(&c, stderr, euid) {
		return 1
	}
	if c.work == "" {
		dir, err := os.MkdirTemp("", "reconcile-bench-")
		if err != nil {
			fmt.Fprintf(stderr, "reconcile-bench: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		c.work = dir
	}
	r := &runner{ctx: ctx}
	b := &bench{cfg: c, r: r, ns: &netnsSet{r: r, prefix: fmt.Sprintf("rbench-%d", os.Getpid())}, log: stderr}
	defer b.ns.delAll()
	rep, err := b.all()
	if err != nil {
		fmt.Fprintf(stderr, "reconcile-bench: %v\n", err)
		return 1
	}
	text := rep.markdown()
	fmt.Fprint(stdout, text)
	if c.out != "" {
		if err := os.WriteFile(c.out, []byte(text), 0o644); err != nil {
			fmt.Fprintf(stderr, "reconcile-bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "reconcile-bench: wrote %s\n", c.out)
	}
	return 0
}

// parseFlags parses the command line into a config. On a bad flag it prints the problem to
// stderr and returns false.
func parseFlags(args []string, stderr io.Writer) (config, bool) {
	fs := flag.NewFlagSet("reconcile-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	var scaled, shapes, fleet string
	fs.StringVar(&c.bin, "bin", "bin/reconcile", "the built reconcile binary to measure")
	fs.StringVar(&c.out, "out", "BENCHMARKS.md", "markdown file to write the results to (empty: none)")
	fs.StringVar(&c.work, "work", "", "scratch directory for repositories and state (default: a new temporary directory, removed after)")
	fs.StringVar(&c.source, "source", "git", "how reconcile reads the repository in apply and status: git (a file:// repository, one commit per change) or dir (--dir)")
	fs.StringVar(&c.table, "table", "reconcile", "the table name reconcile owns")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the generated repositories")
	fs.IntVar(&c.denseN, "dense", 5000, "local endpoints of the dense shape (repogen.Dense)")
	fs.StringVar(&fleet, "fleet", "400x250/2000", "fleet shape: HOSTSxPER_HOST/PROFILES (as many tags as profiles)")
	fs.StringVar(&scaled, "scaled", "500,1000,2000,5000", "local endpoint counts of the nft -f series of the dense shape (empty: none)")
	fs.StringVar(&shapes, "shapes", "dense,fleet", "shapes to run the steps on")
	fs.DurationVar(&c.short, "short", 1500*time.Millisecond, "steps faster than this run 3 times (median)")
	fs.BoolVar(&c.planAllHostsOnly, "plan-all-hosts-only", false, "per shape, run only validate, plan --nft and plan --all-hosts (no namespace, no apply); with -scaled \"\"")
	if err := fs.Parse(args); err != nil {
		return c, false
	}
	var err error
	if c.scaled, err = intList(scaled); err != nil {
		fmt.Fprintf(stderr, "reconcile-bench: -scaled: %v\n", err)
		return c, false
	}
	if c.fleet, err = parseFleet(fleet); err != nil {
		fmt.Fprintf(stderr, "reconcile-bench: -fleet: %v\n", err)
		return c, false
	}
	for _, s := range strings.Split(shapes, ",") {
		if s = strings.TrimSpace(s); s != "" && s != "dense" && s != "fleet" {
			fmt.Fprintf(stderr, "reconcile-bench: -shapes: %q: write dense, fleet or both\n", s)
			return c, false
		} else if s != "" {
			c.shapes = append(c.shapes, s)
		}
	}
	if c.source != "git" && c.source != "dir" {
		fmt.Fprintf(stderr, "reconcile-bench: -source: %q: write git or dir\n", c.source)
		return c, false
	}
	return c, true
}

// checkHost checks what the benchmark needs of the machine: root (euid 0), the tools ip, nft
// and git, and the reconcile binary c.bin, which it makes absolute. On a problem it prints it
// to stderr and returns false.
func checkHost(c *config, stderr io.Writer, euid int) bool {
	if euid != 0 {
		fmt.Fprintln(stderr, "reconcile-bench: "+notRoot)
		return false
	}
	for _, tool := range []string{"ip", "nft", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(stderr, "reconcile-bench: %s: not found (make deps installs it)\n", tool)
			return false
		}
	}
	var err error
	if c.bin, err = filepath.Abs(c.bin); err == nil {
		_, err = os.Stat(c.bin)
	}
	if err != nil {
		fmt.Fprintf(stderr, "reconcile-bench: -bin: %v (make build first)\n", err)
		return false
	}
	return true
}

// intList parses "500,1000" (empty: none).
func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 2 {
			return nil, fmt.Errorf("%q: want a number of endpoints, at least 2", f)
		}
		out = append(out, n)
	}
	return out, nil
}

var fleetRe = regexp.MustCompile(`^(\d+)x(\d+)/(\d+)$`)

// parseFleet parses HOSTSxPER_HOST/PROFILES.
func parseFleet(s string) (repogen.Shape, error) {
	m := fleetRe.FindStringSubmatch(s)
	if m == nil {
		return repogen.Shape{}, fmt.Errorf("%q: write HOSTSxPER_HOST/PROFILES, e.g. 400x250/2000", s)
	}
	h, _ := strconv.Atoi(m[1])
	p, _ := strconv.Atoi(m[2])
	n, _ := strconv.Atoi(m[3])
	if h < 2 || p < 1 || n < 2 {
		return repogen.Shape{}, fmt.Errorf("%q: at least 2 hosts, 1 endpoint each and 2 profiles", s)
	}
	return repogen.Shape{Hosts: h, PerHost: p, Profiles: n, Tags: n}, nil
}

// bench runs the steps and collects the report.
type bench struct {
	cfg config
	r   *runner
	ns  *netnsSet
	log io.Writer
	rep report
	// denseNft is the nft -f sample of the dense shape's script, reused by the scaled series
	// when it has the same size.
	denseNft *measured
}

// measured is a step's result: the median wall time of its runs, the CPU time and peak RSS
// of the median run, and how many runs.
type measured struct {
	sample
	runs int
}

// repeat runs once, and twice more when the first run was shorter than cfg.short; it returns
// the run of median wall time, with the peak RSS over all runs.
func (b *bench) repeat(once func() (sample, error)) (*measured, error) {
	return b.repeatShort(once, b.cfg.short)
}

// repeatShort is repeat with short as the threshold (0: always 3 runs).
func (b *bench) repeatShort(once func() (sample, error), short time.Duration) (*measured, error) {
	var got []sample
	for len(got) < 3 {
		s, err := once()
		if err != nil {
			return nil, err
		}
		got = append(got, s)
		if short > 0 && got[0].wall >= short {
			break
		}
	}
	return median(got), nil
}

// median returns the sample of median wall time of got (the lower middle of an even count),
// with maxRSSKiB the peak over all of them.
func median(got []sample) *measured {
	s := slices.Clone(got)
	slices.SortFunc(s, func(a, b sample) int { return int(a.wall - b.wall) })
	m := &measured{sample: s[(len(s)-1)/2], runs: len(s)}
	for _, x := range s {
		m.maxRSSKiB = max(m.maxRSSKiB, x.maxRSSKiB)
	}
	return m
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "reconcile-bench: "+format+"\n", args...)
}

// all runs everything: the shapes' steps, then the scaled series.
func (b *bench) all() (*report, error) {
	start := time.Now()
	b.rep = report{source: b.cfg.source, seed: b.cfg.seed, binary: b.cfg.bin}
	b.rep.machine()
	for _, name := range b.cfg.shapes {
		s, label := repogen.Dense(b.cfg.denseN), fmt.Sprintf("dense (%d local endpoints, %d profiles, %d tags)", b.cfg.denseN, repogen.Dense(b.cfg.denseN).Profiles, repogen.Dense(b.cfg.denseN).Tags)
		if name == "fleet" {
			s = b.cfg.fleet
			label = fmt.Sprintf("fleet (%d endpoints over %d hosts, %d local, %d profiles/tags)", s.Hosts*s.PerHost, s.Hosts, s.PerHost, s.Profiles)
		}
		if err := b.shape(name, label, s); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, n := range b.cfg.scaled {
		if err := b.scaledPoint(n); err != nil {
			return nil, fmt.Errorf("scaled %d: %w", n, err)
		}
	}
	b.rep.total = time.Since(start)
	b.rep.loadEnd = loadAvg()
	return &b.rep, nil
}

// git runs git in dir with a fixed identity and no signing.
func (b *bench) git(dir string, args ...string) error {
	_, err := b.r.run(false, nil, "git", append([]string{"-C", dir, "-c", "user.name=reconcile-bench",
		"-c", "user.email=bench@reconcile.invalid", "-c", "commit.gpgsign=false"}, args...)...)
	return err
}

// chainRe finds the first chain of a `plan --nft` script.
var chainRe = regexp.MustCompile(`(?m)^\s*chain (\S+) \{`)

// shape runs the steps of one shape and adds its section to the report.
func (b *bench) shape(name, label string, s repogen.Shape) error {
	dir := filepath.Join(b.cfg.work, name)
	sr := &shapeRun{
		b: b, name: name, s: s, dir: dir, repo: filepath.Join(dir, "repo"),
		sec:     section{name: name, label: label},
		scratch: filepath.Join(dir, "scratch-state"),
		local:   []string{"--host", "node-1", "--table", b.cfg.table},
	}
	sr.src = []string{"--dir", sr.repo}
	if b.cfg.source == "git" {
		sr.src = []string{"--repo", "file://" + sr.repo}
	}
	if err := sr.generate(label); err != nil {
		return err
	}
	if err := sr.compile(); err != nil {
		return err
	}
	// plan --all-hosts (issue 12): at the fleet shape, where the old CI ran one plan per host.
	if (name == "fleet" || b.cfg.planAllHostsOnly) && b.hasFlag("plan", "--all-hosts") {
		if err := sr.planAllHosts(sr.validate); err != nil {
			return err
		}
	}
	if b.cfg.planAllHostsOnly {
		b.rep.sections = append(b.rep.sections, sr.sec)
		return nil
	}
	for _, step := range []func() error{sr.firstApply, sr.unchanged, sr.changes, sr.handEdit} {
		if err := step(); err != nil {
			return err
		}
	}
	b.ns.del(sr.ns)
	sr.sec.ref = append(sr.sec.ref, refRow{"nft -f of `plan --nft`, fresh namespace", sr.nftF}, refRow{"nft list table inet " + b.cfg.table, sr.list})
	b.rep.sections = append(b.rep.sections, sr.sec)
	return nil
}

// shapeRun is one shape going through the steps: its generated repository, the references
// measured, the namespace and state directory of the first apply (kept for the steps after
// it), and the section its rows go to.
type shapeRun struct {
	b        *bench
	name     string
	s        repogen.Shape
	dir      string            // the shape's scratch directory
	repo     string            // the generated repository in dir
	files    map[string][]byte // the repository's files by slash path, edited by the changes
	sec      section
	scratch  string    // state directory of the commands that need no record
	local    []string  // --host node-1 --table: the host the steps act as
	src      []string  // how apply and status read the repository (--dir or --repo file://)
	script   []byte    // node-1's `plan --nft` script
	nftF     *measured // nft -f of script in a fresh namespace
	first    *measured // the first apply
	list     *measured // nft list table in ns
	ns       string    // the namespace of the first apply
	state    string    // the state directory of the first apply
	full     bool      // status has --full
	validate *measured // validate of the repository (every host compiled)
}

// add appends a row to the section and logs it; ref (nil: none) is the reference refName
// measured in the same run, target the ratio issue 10 asks for (0: none).
func (sr *shapeRun) add(step string, m *measured, refName string, ref *measured, target float64, note string) {
	row := row{step: step, got: m, refName: refName, ref: ref, target: target, note: note}
	sr.sec.rows = append(sr.sec.rows, row)
	sr.b.logf("%s: %s", sr.name, row.line())
}

// generate writes the shape's files to repo, and with -source git makes them its first commit.
func (sr *shapeRun) generate(label string) error {
	b := sr.b
	var err error
	if sr.files, err = sr.s.Files(b.cfg.seed); err != nil {
		return err
	}
	if err := repogen.WriteFiles(sr.repo, sr.files); err != nil {
		return err
	}
	if b.cfg.source == "git" {
		if err := b.git(sr.repo, "init", "-q", "-b", "main"); err != nil {
			return err
		}
		if err := b.git(sr.repo, "add", "-A"); err != nil {
			return err
		}
		if err := b.git(sr.repo, "commit", "-q", "-m", "generated "+sr.name); err != nil {
			return err
		}
	}
	b.logf("%s: generated %s in %s", sr.name, label, sr.repo)
	return nil
}

// compile measures validate (every host compiled) and plan --nft (node-1: load + compile +
// render), and keeps the script, also written to node-1.nft in dir.
func (sr *shapeRun) compile() error {
	b, bin := sr.b, sr.b.cfg.bin
	m, err := b.repeat(func() (sample, error) {
		return b.r.run(false, nil, bin, "validate", "--dir", sr.repo, "--state-dir", sr.scratch)
	})
	if err != nil {
		return err
	}
	sr.add(fmt.Sprintf("validate (all %d hosts compiled)", sr.s.Hosts), m, "", nil, 0, "")
	sr.validate = m
	m, err = b.repeat(func() (sample, error) {
		out, err := b.r.run(true, nil, bin, append([]string{"plan", "--nft", "--dir", sr.repo, "--state-dir", sr.scratch}, sr.local...)...)
		sr.script = out.stdout
		return out, err
	})
	if err != nil {
		return err
	}
	sr.add("plan --nft (load + compile node-1)", m, "", nil, 0, fmt.Sprintf("script %.1f MB", float64(len(sr.script))/1e6))
	return os.WriteFile(sr.scriptPath(), sr.script, 0o644)
}

// scriptPath is the file compile writes the plan --nft script to.
func (sr *shapeRun) scriptPath() string { return filepath.Join(sr.dir, "node-1.nft") }

// firstApply measures its reference, nft -f of the script, each run in a fresh namespace;
// then the first apply, each run in a fresh namespace with a fresh state directory, and keeps
// the last of these for the steps that follow.
func (sr *shapeRun) firstApply() error {
	b := sr.b
	var err error
	if sr.nftF, err = b.nftF(sr.scriptPath()); err != nil {
		return err
	}
	if sr.name == "dense" && b.cfg.denseN > 0 {
		b.denseNft = sr.nftF
	}
	sr.first, err = b.repeat(func() (sample, error) {
		if sr.ns != "" {
			b.ns.del(sr.ns)
		}
		ns, err := b.ns.add()
		if err != nil {
			return sample{}, err
		}
		sr.ns, sr.state = ns, filepath.Join(sr.dir, "state-"+ns)
		return sr.apply()
	})
	if err != nil {
		return err
	}
	target := 1.0
	if sr.name == "fleet" {
		target = 1.5
	}
	sr.add("first apply (new namespace, new state)", sr.first, "nft -f of the same script", sr.nftF, target, "")
	return nil
}

// apply runs reconcile apply in the first apply's namespace and state directory.
func (sr *shapeRun) apply() (sample, error) {
	return sr.b.r.run(false, nil, sr.b.cfg.bin, sr.b.args("apply", sr.src, sr.local, sr.ns, sr.state)...)
}

// status is a run of reconcile status --detailed-exitcode (plus extra) in the first apply's
// namespace and state directory that must exit want (0: in sync, 2: drift).
func (sr *shapeRun) status(want int, extra ...string) func() (sample, error) {
	return func() (sample, error) {
		args := append(sr.b.args("status", sr.src, sr.local, sr.ns, sr.state), "--detailed-exitcode")
		return sr.b.r.run(false, []int{want}, sr.b.cfg.bin, append(args, extra...)...)
	}
}

// unchanged measures what runs when nothing changed: nft list table (the reference of
// status), an apply with nothing to do, and status (and status --full where it exists), which
// must say in sync.
func (sr *shapeRun) unchanged() error {
	b := sr.b
	var err error
	sr.list, err = b.repeat(func() (sample, error) { return b.r.nft(false, sr.ns, "list", "table", "inet", b.cfg.table) })
	if err != nil {
		return err
	}
	m, err := b.repeat(sr.apply)
	if err != nil {
		return err
	}
	sr.add("no-change pass (apply, nothing changed)", m, "first apply", sr.first, 0.05, "")
	if m, err = b.repeat(sr.status(0)); err != nil {
		return fmt.Errorf("status with the kernel unchanged must say in sync (exit 0): %w", err)
	}
	sr.add("status, kernel unchanged", m, "nft list table", sr.list, 0.10, "")
	sr.full = b.hasFlag("status", "--full")
	if sr.full {
		if m, err = b.repeat(sr.status(0, "--full")); err != nil {
			return err
		}
		sr.add("status --full, kernel unchanged", m, "nft list table", sr.list, 0, "")
	}
	return nil
}

// changes measures the apply of each change (one local endpoint moved, one remote endpoint
// added, one profile rule changed), each run a new commit (or file edit) of one file; then
// status must say in sync, reading the table back (--full) where status has a fast path.
func (sr *shapeRun) changes() error {
	n := 0
	if err := sr.change("one local endpoint moved to other profiles", func() (string, error) {
		return repogen.ChangeLocalEndpoint(sr.files, "node-1")
	}, 0.05); err != nil {
		return err
	}
	if err := sr.change("one remote endpoint added (a tag set gains it)", func() (string, error) {
		n++
		return repogen.AddRemoteEndpoint(sr.files, "node-1", "node-2", n-1)
	}, 0.10); err != nil {
		return err
	}
	if err := sr.change("one profile rule changed", func() (string, error) {
		return repogen.ChangeProfileRule(sr.files, "node-1")
	}, 0); err != nil {
		return err
	}
	var check []string
	if sr.full {
		check = []string{"--full"}
	}
	if _, err := sr.status(0, check...)(); err != nil {
		return fmt.Errorf("status after the changes must say in sync: %w", err)
	}
	return nil
}

// change measures one kind of change: each run, mutate edits files and returns the slash
// path it changed, which is written to the repository (and committed with -source git), then
// apply runs. target is the ratio to the first apply issue 10 asks for (0: none).
func (sr *shapeRun) change(step string, mutate func() (string, error), target float64) error {
	b := sr.b
	m, err := b.repeat(func() (sample, error) {
		path, err := mutate()
		if err != nil {
			return sample{}, err
		}
		if err := os.WriteFile(filepath.Join(sr.repo, filepath.FromSlash(path)), sr.files[path], 0o644); err != nil {
			return sample{}, err
		}
		if b.cfg.source == "git" {
			if err := b.git(sr.repo, "commit", "-q", "-a", "-m", step); err != nil {
				return sample{}, err
			}
		}
		return sr.apply()
	})
	if err != nil {
		return err
	}
	sr.add(step, m, "first apply", sr.first, target, "")
	return nil
}

// handEdit adds a rule by hand to the first chain of the script, then measures status, which
// must report drift (exit 2).
func (sr *shapeRun) handEdit() error {
	b, table := sr.b, sr.b.cfg.table
	ch := chainRe.FindSubmatch(sr.script)
	if ch == nil {
		return errors.New("plan --nft: no chain in the script")
	}
	if _, err := b.r.nft(false, sr.ns, "add", "rule", "inet", table, string(ch[1]), "counter"); err != nil {
		return err
	}
	m, err := b.repeat(sr.status(2))
	if err != nil {
		return fmt.Errorf("status after a hand edit must report drift (exit 2): %w", err)
	}
	sr.add("status after a hand edit (drift seen)", m, "nft list table", sr.list, 0, fmt.Sprintf("`nft add rule inet %s %s counter`", table, ch[1]))
	return nil
}

// args is a reconcile command line in namespace ns with state directory state.
func (b *bench) args(cmd string, src, local []string, ns, state string) []string {
	return slices.Concat([]string{cmd}, src, local, []string{"--netns", ns, "--state-dir", state})
}

// nftF measures nft -f of script, each run in a fresh namespace deleted after it.
func (b *bench) nftF(script string) (*measured, error) {
	// Always the median of 3: the reference of the first apply and the points of the size
	// series, whose growth is the finding, must not hang on one noisy run.
	return b.repeatShort(func() (sample, error) {
		ns, err := b.ns.add()
		if err != nil {
			return sample{}, err
		}
		defer b.ns.del(ns)
		return b.r.nft(false, ns, "-f", script)
	}, 0)
}

// hasFlag says whether `reconcile cmd --help` lists flag (features of later versions, such as
// status --full, are measured when present).
func (b *bench) hasFlag(cmd, flag string) bool {
	out, err := b.r.run(true, nil, b.cfg.bin, cmd, "--help")
	return err == nil && regexp.MustCompile(`(?m)^\s+(-\w, )?`+regexp.QuoteMeta(flag)+`(\s|$)`).Match(out.stdout)
}

// scaledPoint measures nft -f of node-1's script of the dense shape at n local endpoints.
func (b *bench) scaledPoint(n int) error {
	var m *measured
	if n == b.cfg.denseN && b.denseNft != nil {
		m = b.denseNft
	} else {
		dir := filepath.Join(b.cfg.work, fmt.Sprintf("scaled-%d", n))
		repo := filepath.Join(dir, "repo")
		if err := repogen.Dense(n).Write(repo, b.cfg.seed); err != nil {
			return err
		}
		out, err := b.r.run(true, nil, b.cfg.bin, "plan", "--nft", "--dir", repo, "--host", "node-1",
			"--table", b.cfg.table, "--state-dir", filepath.Join(dir, "state"))
		if err != nil {
			return err
		}
		script := filepath.Join(dir, "node-1.nft")
		if err := os.WriteFile(script, out.stdout, 0o644); err != nil {
			return err
		}
		if m, err = b.nftF(script); err != nil {
			return err
		}
	}
	b.rep.scaled = append(b.rep.scaled, scaledRow{endpoints: n, nft: m})
	b.logf("scaled %d: nft -f %s (kernel %s)", n, dur(m.wall), dur(m.sys))
	return nil
}

// goVersion is for the report's machine line.
var goVersion = runtime.Version()
