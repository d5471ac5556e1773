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
}

// notRoot is what the benchmark says when it cannot create namespaces.
const notRoot = "make bench needs root (it creates network namespaces): run sudo make bench"

func run(ctx context.Context, args []string, stdout, stderr io.Writer, euid int) int {
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
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if c.scaled, err = intList(scaled); err != nil {
		fmt.Fprintf(stderr, "reconcile-bench: -scaled: %v\n", err)
		return 2
	}
	if c.fleet, err = parseFleet(fleet); err != nil {
		fmt.Fprintf(stderr, "reconcile-bench: -fleet: %v\n", err)
		return 2
	}
	for _, s := range strings.Split(shapes, ",") {
		if s = strings.TrimSpace(s); s != "" && s != "dense" && s != "fleet" {
			fmt.Fprintf(stderr, "reconcile-bench: -shapes: %q: write dense, fleet or both\n", s)
			return 2
		} else if s != "" {
			c.shapes = append(c.shapes, s)
		}
	}
	if c.source != "git" && c.source != "dir" {
		fmt.Fprintf(stderr, "reconcile-bench: -source: %q: write git or dir\n", c.source)
		return 2
	}
	if euid != 0 {
		fmt.Fprintln(stderr, "reconcile-bench: "+notRoot)
		return 1
	}
	for _, tool := range []string{"ip", "nft", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(stderr, "reconcile-bench: %s: not found (make deps installs it)\n", tool)
			return 1
		}
	}
	if c.bin, err = filepath.Abs(c.bin); err == nil {
		_, err = os.Stat(c.bin)
	}
	if err != nil {
		fmt.Fprintf(stderr, "reconcile-bench: -bin: %v (make build first)\n", err)
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

// shape runs the steps of one shape.
func (b *bench) shape(name, label string, s repogen.Shape) error {
	c := b.cfg
	dir := filepath.Join(c.work, name)
	repo := filepath.Join(dir, "repo")
	files, err := s.Files(c.seed)
	if err != nil {
		return err
	}
	if err := repogen.WriteFiles(repo, files); err != nil {
		return err
	}
	if c.source == "git" {
		if err := b.git(repo, "init", "-q", "-b", "main"); err != nil {
			return err
		}
		if err := b.git(repo, "add", "-A"); err != nil {
			return err
		}
		if err := b.git(repo, "commit", "-q", "-m", "generated "+name); err != nil {
			return err
		}
	}
	b.logf("%s: generated %s in %s", name, label, repo)
	sec := section{name: name, label: label}
	add := func(step string, m *measured, refName string, ref *measured, target float64, note string) {
		row := row{step: step, got: m, refName: refName, ref: ref, target: target, note: note}
		sec.rows = append(sec.rows, row)
		b.logf("%s: %s", name, row.line())
	}
	bin := c.bin
	scratch := filepath.Join(dir, "scratch-state") // for commands that need no record
	local := []string{"--host", "node-1", "--table", c.table}

	// validate (every host compiled) and plan --nft (node-1: load + compile + render).
	m, err := b.repeat(func() (sample, error) {
		return b.r.run(false, nil, bin, "validate", "--dir", repo, "--state-dir", scratch)
	})
	if err != nil {
		return err
	}
	add(fmt.Sprintf("validate (all %d hosts compiled)", s.Hosts), m, "", nil, 0, "")
	var script []byte
	m, err = b.repeat(func() (sample, error) {
		out, err := b.r.run(true, nil, bin, append([]string{"plan", "--nft", "--dir", repo, "--state-dir", scratch}, local...)...)
		script = out.stdout
		return out, err
	})
	if err != nil {
		return err
	}
	add("plan --nft (load + compile node-1)", m, "", nil, 0, fmt.Sprintf("script %.1f MB", float64(len(script))/1e6))
	scriptPath := filepath.Join(dir, "node-1.nft")
	if err := os.WriteFile(scriptPath, script, 0o644); err != nil {
		return err
	}

	// The reference: nft -f of that script, each run in a fresh namespace.
	nftF, err := b.nftF(scriptPath)
	if err != nil {
		return err
	}
	if name == "dense" && c.denseN > 0 {
		b.denseNft = nftF
	}

	// First apply, in a fresh namespace with a fresh state directory (kept for what follows).
	src := []string{"--dir", repo}
	if c.source == "git" {
		src = []string{"--repo", "file://" + repo}
	}
	var ns, state string
	first, err := b.repeat(func() (sample, error) {
		if ns != "" {
			b.ns.del(ns)
		}
		if ns, err = b.ns.add(); err != nil {
			return sample{}, err
		}
		state = filepath.Join(dir, "state-"+ns)
		return b.r.run(false, nil, bin, b.args("apply", src, local, ns, state)...)
	})
	if err != nil {
		return err
	}
	target := 1.0
	if name == "fleet" {
		target = 1.5
	}
	add("first apply (new namespace, new state)", first, "nft -f of the same script", nftF, target, "")

	// nft list table: the reference of status.
	list, err := b.repeat(func() (sample, error) { return b.r.nft(false, ns, "list", "table", "inet", c.table) })
	if err != nil {
		return err
	}
	apply := func() (sample, error) { return b.r.run(false, nil, bin, b.args("apply", src, local, ns, state)...) }
	m, err = b.repeat(apply)
	if err != nil {
		return err
	}
	add("no-change pass (apply, nothing changed)", m, "first apply", first, 0.05, "")

	status := func(want int, extra ...string) func() (sample, error) {
		return func() (sample, error) {
			args := append(b.args("status", src, local, ns, state), "--detailed-exitcode")
			return b.r.run(false, []int{want}, bin, append(args, extra...)...)
		}
	}
	m, err = b.repeat(status(0))
	if err != nil {
		return fmt.Errorf("status with the kernel unchanged must say in sync (exit 0): %w", err)
	}
	add("status, kernel unchanged", m, "nft list table", list, 0.10, "")
	full := b.hasFlag("status", "--full")
	if full {
		if m, err = b.repeat(status(0, "--full")); err != nil {
			return err
		}
		add("status --full, kernel unchanged", m, "nft list table", list, 0, "")
	}

	// The changes: each run is a new commit (or file edit) of one file, then apply.
	n := 0
	change := func(step string, mutate func() (string, error), target float64) error {
		m, err := b.repeat(func() (sample, error) {
			path, err := mutate()
			if err != nil {
				return sample{}, err
			}
			if err := os.WriteFile(filepath.Join(repo, filepath.FromSlash(path)), files[path], 0o644); err != nil {
				return sample{}, err
			}
			if c.source == "git" {
				if err := b.git(repo, "commit", "-q", "-a", "-m", step); err != nil {
					return sample{}, err
				}
			}
			return apply()
		})
		if err != nil {
			return err
		}
		add(step, m, "first apply", first, target, "")
		return nil
	}
	if err := change("one local endpoint moved to other profiles", func() (string, error) {
		return repogen.ChangeLocalEndpoint(files, "node-1")
	}, 0.05); err != nil {
		return err
	}
	if err := change("one remote endpoint added (a tag set gains it)", func() (string, error) {
		n++
		return repogen.AddRemoteEndpoint(files, "node-1", "node-2", n-1)
	}, 0.10); err != nil {
		return err
	}
	if err := change("one profile rule changed", func() (string, error) {
		return repogen.ChangeProfileRule(files, "node-1")
	}, 0); err != nil {
		return err
	}
	// The last pass left the kernel in sync: status says so (exit 0) before the hand edit,
	// reading the table back (--full) where status has a fast path.
	var check []string
	if full {
		check = []string{"--full"}
	}
	if _, err := status(0, check...)(); err != nil {
		return fmt.Errorf("status after the changes must say in sync: %w", err)
	}

	// A hand edit (a rule added to the first chain of the script), then status must see drift.
	ch := chainRe.FindSubmatch(script)
	if ch == nil {
		return errors.New("plan --nft: no chain in the script")
	}
	if _, err := b.r.nft(false, ns, "add", "rule", "inet", c.table, string(ch[1]), "counter"); err != nil {
		return err
	}
	m, err = b.repeat(status(2))
	if err != nil {
		return fmt.Errorf("status after a hand edit must report drift (exit 2): %w", err)
	}
	add("status after a hand edit (drift seen)", m, "nft list table", list, 0, fmt.Sprintf("`nft add rule inet %s %s counter`", c.table, ch[1]))
	b.ns.del(ns)
	sec.ref = append(sec.ref, refRow{"nft -f of `plan --nft`, fresh namespace", nftF}, refRow{"nft list table inet " + c.table, list})
	b.rep.sections = append(b.rep.sections, sec)
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
