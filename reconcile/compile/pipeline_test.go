package compile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

// pipelineRepos is how many generated repositories TestPipeline and TestPipelineKernel run
// through the whole pipeline (seeds 0 to pipelineRepos-1).
const pipelineRepos = 250

// pipelineBatch is how many rulesets are checked in the kernel at once (one `nft -c -f`, one
// `nft -f`, one dump and restore for all of them).
const pipelineBatch = 40

// pipeline runs repositories through Load, Compile, the nft text, the fake and (when kernel is
// set) `nft -c -f` and the kernel dataplane, and counts what it saw.
type pipeline struct {
	kernel  *nft.Kernel // nil: no kernel part
	kernel2 *nft.Kernel // reads what nft -f loaded into ns2
	ns      string      // the kernel dataplane's private namespace
	ns2     string      // where the rendered text is loaded with nft -f, and dumps checked
	dir     string
	batch   []compiled
	seq     int

	repos, valid, rulesets, failures int
	// restoredOther counts tables whose dump, restored with nft -f, reads back as another
	// model (not a failure: see flush).
	restoredOther int
	// reordered counts rulesets whose text, loaded with nft -f, reads back with the matches
	// of a rule in another order (the same meaning; not a failure).
	reordered int
}

// compiled is one ruleset waiting for its kernel checks.
type compiled struct {
	what string // repository and host, for messages
	rs   *nft.Ruleset
}

// kernelWanted reports whether the kernel part can run here; under CI=true it is always
// wanted (and testenv fails the test when it cannot run).
func kernelWanted() bool {
	if testenv.InCI() {
		return true
	}
	if os.Geteuid() != 0 || testing.Short() {
		return false
	}
	_, err1 := exec.LookPath("nft")
	_, err2 := exec.LookPath("ip")
	return err1 == nil && err2 == nil
}

func newPipeline(t testing.TB, kernel bool) *pipeline {
	p := &pipeline{dir: t.TempDir()}
	if kernel {
		p.ns = testenv.NewNetns(t, "pipe")
		p.ns2 = testenv.NewNetns(t, "pipe2")
		k, err := nft.NewKernel(testenv.Open(t, netns.Open, p.ns))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k.Close() })
		p.kernel = k
		k2, err := nft.NewKernel(testenv.Open(t, netns.Open, p.ns2))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k2.Close() })
		p.kernel2 = k2
	}
	return p
}

// describe prints a repository's files, sorted, for a failure message.
func describe(files map[string][]byte) string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "--- %s\n%s\n", p, files[p])
	}
	return b.String()
}

func (p *pipeline) fail(t testing.TB, format string, args ...any) {
	t.Helper()
	p.failures++
	t.Errorf(format, args...)
}

// run checks one repository; t is where failures go (the test's, or the fuzz input's). The
// kernel checks of its rulesets run when pipelineBatch of them are pending, or at flush.
func (p *pipeline) run(t testing.TB, name string, r *repogen.Repo) {
	t.Helper()
	p.repos++
	repo, errs := schema.Load(r.Files)
	if errs != nil {
		if len(errs) == 0 {
			p.fail(t, "%s: Load returned empty, non-nil errors", name)
		}
		return // nothing downstream runs for a repository that does not validate
	}
	p.valid++
	if r.Want != nil {
		if got, want := normalize(repo), normalize(r.Want); got != want {
			p.fail(t, "%s: the repository validates but means something else than its files say:\nloaded  %s\nwritten %s\n%s", name, got, want, describe(r.Files))
		}
	}
	ctx := context.Background()
	hosts := r.Hosts
	if p.valid%4 == 0 {
		hosts = append(slices.Clone(hosts), "host-without-endpoints") // an empty dispatch
	}
	for _, host := range hosts {
		p.seq++
		table := fmt.Sprintf("p%d", p.seq)
		what := fmt.Sprintf("%s host %q", name, host)
		rs, err := compile.Compile(repo, compile.Options{Host: host, Table: table})
		if err != nil {
			p.fail(t, "%s: the repository validates but does not compile: %v\n%s", what, err, describe(r.Files))
			continue
		}
		p.rulesets++
		// Compile keeps the author's order of a port list (TestCompiledIsCanonical), so the
		// model read back is compared with its canonical form.
		canon := rs.Canonical()
		if again, err := compile.Compile(repo, compile.Options{Host: host, Table: table}); err != nil || again.String() != rs.String() {
			p.fail(t, "%s: a second Compile differs (%v)", what, err)
		}
		if !strings.HasPrefix(rs.Script(), "table inet "+table+" {}\ndelete table inet "+table+"\n"+rs.String()) {
			p.fail(t, "%s: Script is not the table replacement of String", what)
		}
		f := nft.NewFake()
		if err := f.Apply(ctx, rs); err != nil {
			p.fail(t, "%s: the fake refuses the compiled ruleset: %v\n%s\n%s", what, err, rs, describe(r.Files))
		} else if got, err := f.Observe(ctx, table); err != nil || !reflect.DeepEqual(got, canon) {
			p.fail(t, "%s: the fake reads back another ruleset (%v):\n%s", what, err, diffRulesets(got, canon))
		}
		if p.kernel != nil {
			p.batch = append(p.batch, compiled{what: what + "\n" + describe(r.Files), rs: rs})
			if len(p.batch) >= pipelineBatch {
				p.flush(t)
			}
		}
	}
}

// flush runs the kernel checks of the pending rulesets: one `nft -c -f` of all their
// scripts (each on its own when the batch fails, to name the culprit); `nft -f` of them in ns2,
// where Observe must read back each model; Apply and Observe through the kernel dataplane in
// ns; `nft list ruleset` of ns restored with `nft -f` in ns2 (an operator's backup), which
// must keep every chain, rule and IP family; then the tables go.
func (p *pipeline) flush(t testing.TB) {
	t.Helper()
	if p.kernel == nil || len(p.batch) == 0 {
		return
	}
	batch := p.batch
	p.batch = nil
	var all strings.Builder
	for _, c := range batch {
		all.WriteString(c.rs.Script())
	}
	// nft -c -f of the scripts, then nft -f into ns2: the text must load and mean the model
	// (Observe of what nft loaded equals the model).
	var loaded []compiled
	if _, err := p.nftCheck(p.ns, all.String()); err != nil {
		for _, c := range batch {
			if out, err := p.nftCheck(p.ns, c.rs.Script()); err != nil {
				p.fail(t, "%s: nft -c -f refuses the rendered ruleset: %v\n%s\n%s", c.what, err, out, c.rs.Script())
			} else {
				loaded = append(loaded, c)
			}
		}
		all.Reset()
		for _, c := range loaded {
			all.WriteString(c.rs.Script())
		}
	} else {
		loaded = batch
	}
	ctx := context.Background()
	if len(loaded) > 0 {
		if out, err := p.nft(p.ns2, all.String(), false); err != nil {
			p.fail(t, "nft -f of scripts that nft -c -f accepted: %v\n%s", err, out)
		}
		var del strings.Builder
		for _, c := range loaded {
			got, err := p.kernel2.Observe(ctx, c.rs.Table)
			switch want := c.rs.Canonical(); {
			case err == nil && reflect.DeepEqual(got, want):
			case err == nil && reflect.DeepEqual(sortedMatches(got), sortedMatches(want)):
				// nft merges a rule's positive sport and dport compares into one (the
				// same meaning), which reads back with the matches in another order.
				p.reordered++
			default:
				p.fail(t, "%s: nft -f of the rendered text loads another ruleset than the model (%v):\n%s", c.what, err, diffRulesets(got, want))
			}
			if got != nil {
				fmt.Fprintf(&del, "delete table inet %s\n", c.rs.Table)
			}
		}
		if del.Len() > 0 {
			if out, err := p.nft(p.ns2, del.String(), false); err != nil {
				t.Fatalf("deleting the tables: %v\n%s", err, out)
			}
		}
	}

	// The kernel dataplane: Apply, Observe.
	var tables []string
	for _, c := range batch {
		if err := p.kernel.Apply(ctx, c.rs); err != nil {
			p.fail(t, "%s: the kernel refuses the compiled ruleset: %v\n%s", c.what, err, c.rs)
			continue
		}
		tables = append(tables, c.rs.Table)
		got, err := p.kernel.Observe(ctx, c.rs.Table)
		if err != nil || !reflect.DeepEqual(got, c.rs.Canonical()) {
			p.fail(t, "%s: the kernel reads back another ruleset (%v):\n%s", c.what, err, diffRulesets(got, c.rs.Canonical()))
		}
	}
	if len(tables) == 0 {
		return
	}
	// A dump of what the kernel dataplane applied loads again, with the same meaning (an
	// operator's backup: nft list ruleset > f; nft -f f).
	dump, err := exec.Command("ip", "netns", "exec", p.ns, "nft", "list", "ruleset").CombinedOutput()
	if err != nil {
		p.fail(t, "nft list ruleset: %v\n%s", err, dump)
	} else if out, err := p.nft(p.ns2, string(dump), false); err != nil {
		p.fail(t, "the dump of the applied tables does not load with nft -f: %v\n%s\n%s", err, out, dump)
	} else {
		var del strings.Builder
		for _, c := range batch {
			got, err := p.kernel2.Observe(ctx, c.rs.Table)
			if got == nil && err == nil {
				continue // refused by Apply above
			}
			// nft list leaves out dependencies it deems implied and prints interval sets as
			// ranges; the compiler orders matches and the decoder reads ranges so that a
			// restored backup is the very model (reconcile status: in sync, not drift).
			want := c.rs.Canonical()
			if err != nil {
				p.fail(t, "%s: observing the restored table: %v", c.what, err)
			} else if !reflect.DeepEqual(got, want) {
				p.restoredOther++
				msg := widened(got, want)
				if msg == "" {
					msg = "the same meaning in another form, which status would report as drift"
				}
				p.fail(t, "%s: a dump of the applied table restores as another model (%s):\n%s", c.what, msg, diffRulesets(got, want))
			}
			fmt.Fprintf(&del, "delete table inet %s\n", c.rs.Table)
		}
		if out, err := p.nft(p.ns2, del.String(), false); err != nil {
			t.Fatalf("deleting the restored tables: %v\n%s", err, out)
		}
	}
	var del strings.Builder
	for _, tb := range tables {
		fmt.Fprintf(&del, "delete table inet %s\n", tb)
	}
	if out, err := p.nft(p.ns, del.String(), false); err != nil {
		t.Fatalf("deleting the tables: %v\n%s", err, out)
	}
}

// widened compares a restored ruleset with the model: the same chains with the same number of
// rules, and every rule that matched one IP family still does. It returns what differs, or "".
func widened(got, want *nft.Ruleset) string {
	if len(got.Chains) != len(want.Chains) {
		return fmt.Sprintf("%d chains restored, %d applied", len(got.Chains), len(want.Chains))
	}
	fam := func(r *nft.Rule) string {
		for _, m := range r.Matches {
			if m.Kind == nft.MatchNFProto {
				return fmt.Sprint(m.Not, m.Family)
			}
		}
		return ""
	}
	for i, gc := range got.Chains {
		wc := want.Chains[i]
		if gc.Name != wc.Name || len(gc.Rules) != len(wc.Rules) {
			return fmt.Sprintf("chain %s with %d rules restored as chain %s with %d", wc.Name, len(wc.Rules), gc.Name, len(gc.Rules))
		}
		for j, gr := range gc.Rules {
			if f := fam(wc.Rules[j]); f != "" && fam(gr) != f {
				return fmt.Sprintf("chain %s rule %d, %q, restored without its IP family as %q", wc.Name, j+1, wc.Rules[j], gr)
			}
		}
	}
	return ""
}

// sortedMatches returns a copy of rs with every rule's matches in a fixed order.
func sortedMatches(rs *nft.Ruleset) *nft.Ruleset {
	if rs == nil {
		return nil
	}
	out := rs.Canonical()
	for _, c := range out.Chains {
		for _, r := range c.Rules {
			slices.SortStableFunc(r.Matches, func(a, b nft.Match) int {
				return strings.Compare(fmt.Sprintf("%+v", a), fmt.Sprintf("%+v", b))
			})
		}
	}
	return out
}

// diffRulesets shows the lines of the nft text of got and want that the other lacks.
func diffRulesets(got, want *nft.Ruleset) string {
	if got == nil || want == nil {
		return fmt.Sprintf("got:\n%v\nwant:\n%v", got, want)
	}
	gl, wl := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
	var b strings.Builder
	for _, l := range gl {
		if !slices.Contains(wl, l) {
			b.WriteString("+ " + strings.TrimSpace(l) + "\n")
		}
	}
	for _, l := range wl {
		if !slices.Contains(gl, l) {
			b.WriteString("- " + strings.TrimSpace(l) + "\n")
		}
	}
	if b.Len() == 0 {
		return "(the same nft text; the models differ)\n--- got\n" + got.String()
	}
	return "+ read back, - model:\n" + b.String()
}

func (p *pipeline) nftCheck(ns, script string) (string, error) { return p.nft(ns, script, true) }

func (p *pipeline) nft(ns, script string, check bool) (string, error) {
	path := filepath.Join(p.dir, "batch.nft")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		return "", err
	}
	args := []string{"netns", "exec", ns, "nft"}
	if check {
		args = append(args, "-c")
	}
	out, err := exec.Command("ip", append(args, "-f", path)...).CombinedOutput()
	return string(out), err
}

// normalize renders the meaning of a repository (profiles and endpoints, without positions
// and file paths) as JSON, with empty and missing lists alike.
func normalize(r *schema.Repository) string {
	type prof struct {
		ID                string
		Tags              []string
		Inbound, Outbound []schema.Rule
	}
	var out struct {
		Profiles  []prof
		Endpoints []schema.Endpoint
	}
	for _, id := range r.ProfileIDs() {
		p := r.Profiles[id]
		pr := prof{ID: p.ID, Tags: slices.Clip(p.Tags), Inbound: slices.Clone(p.Inbound), Outbound: slices.Clone(p.Outbound)}
		if len(pr.Tags) == 0 {
			pr.Tags = nil
		}
		for _, rs := range [][]schema.Rule{pr.Inbound, pr.Outbound} {
			for i := range rs {
				rs[i].Pos = schema.Pos{}
			}
		}
		if len(pr.Inbound) == 0 {
			pr.Inbound = nil
		}
		if len(pr.Outbound) == 0 {
			pr.Outbound = nil
		}
		out.Profiles = append(out.Profiles, pr)
	}
	for _, e := range r.Endpoints {
		c := *e
		c.Path, c.Pos = "", schema.Pos{}
		for _, l := range []*[]string{&c.IPv4Nets, &c.IPv6Nets, &c.ProfileIDs} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		out.Endpoints = append(out.Endpoints, c)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func (p *pipeline) report(t testing.TB) {
	t.Logf("%d repositories, %d validated, %d rulesets compiled and checked (kernel: %v), %d failures; %d texts loaded with reordered matches, %d dumps restored as another model",
		p.repos, p.valid, p.rulesets, p.kernel != nil, p.failures, p.reordered, p.restoredOther)
}

// TestPipeline runs generated repositories (fixed seeds) through Load, Compile, the nft text
// and the fake dataplane: whatever validates must compile, be canonical, be accepted by the
// fake and read back equal, and mean what its files say.
func TestPipeline(t *testing.T) {
	p := newPipeline(t, false)
	for seed := range uint64(pipelineRepos) {
		p.run(t, fmt.Sprintf("seed %d", seed), repogen.Generate(repogen.FromSeed(seed)))
	}
	p.report(t)
	if p.valid < pipelineRepos/2 {
		t.Errorf("only %d of %d generated repositories validate: the generator no longer reaches the pipeline", p.valid, pipelineRepos)
	}
}

// TestPipelineKernel runs the same repositories through nft and the kernel dataplane in
// private network namespaces: every compiled ruleset's script must pass `nft -c -f` and, loaded
// with `nft -f`, read back (Observe) as the model; Apply must accept it and Observe read back
// the model; and a dump of the namespace's ruleset must load again with the same chains and
// rules, none of them losing its IP family.
func TestPipelineKernel(t *testing.T) {
	testenv.RequireKernel(t)
	p := newPipeline(t, true)
	for seed := range uint64(pipelineRepos) {
		p.run(t, fmt.Sprintf("seed %d", seed), repogen.Generate(repogen.FromSeed(seed)))
	}
	p.flush(t)
	p.report(t)
}

// fuzzRawPaths are where FuzzPipeline puts its raw file.
var fuzzRawPaths = []string{"profiles/RAW.yaml", "profiles/RAW.json", "endpoints/raw.yaml", "endpoints/raw.json", "tests/raw.yaml"}

// FuzzPipeline drives the generator with the fuzz input (gen) and may add one raw file
// (raw, at fuzzRawPaths[which]); whatever validates goes through the whole pipeline, the
// kernel included when it can run (root). `make fuzz` runs it.
func FuzzPipeline(f *testing.F) {
	for seed := range uint64(16) {
		r := repogen.FromSeed(seed)
		gen := make([]byte, 256)
		for i := range gen {
			gen[i] = byte(r.Intn(256))
		}
		f.Add(gen, []byte(nil), uint8(0))
	}
	f.Add([]byte{}, []byte("id: RAW\ntags: [RAW]\ninbound_rules:\n  - action: allow\n"), uint8(0))
	f.Add([]byte{}, []byte(`{"endpoints": [{"id": "raw", "host": "node-1", "interface": "raw0", "profile_ids": ["RAW"]}]}`), uint8(3))
	p := newPipeline(f, kernelWanted())
	f.Fuzz(func(t *testing.T, gen, raw []byte, which uint8) {
		r := repogen.Generate(repogen.FromBytes(gen))
		if len(raw) > 0 {
			r.Files[fuzzRawPaths[int(which)%len(fuzzRawPaths)]] = raw
			r.Want, r.Raw = nil, true
			if repo, errs := schema.Load(r.Files); errs == nil {
				// the raw file may add hosts
				hosts := map[string]bool{}
				for _, e := range repo.Endpoints {
					hosts[e.Host] = true
				}
				r.Hosts = r.Hosts[:0]
				for h := range hosts {
					r.Hosts = append(r.Hosts, h)
				}
				sort.Strings(r.Hosts)
			}
		}
		p.run(t, "input", r)
		p.flush(t)
	})
}

// TestPipelineShortenedNameCollision is the smallest repository the generator found that
// validates and does not compile: two valid profile ids of at most 64 bytes whose chain names
// are the same, because one id is what Name shortens the other's chain name to.
func TestPipelineShortenedNameCollision(t *testing.T) {
	long := strings.Repeat("A", 64)
	twin := strings.TrimPrefix(compile.Name(compile.PrefixProfileOut, long), compile.PrefixProfileOut)
	if len(twin) > repogen.MaxID {
		t.Fatalf("twin id %q is longer than %d bytes", twin, repogen.MaxID)
	}
	files := map[string][]byte{
		"profiles/" + long + ".yaml": []byte("id: " + long + "\n"),
		"profiles/" + twin + ".yaml": []byte("id: " + twin + "\n"),
		"endpoints/e.yaml": []byte("endpoints:\n  - id: ep1\n    host: node-1\n    interface: cali1\n" +
			"    ipv4_nets: [198.18.0.1]\n    profile_ids: [" + long + ", " + twin + "]\n"),
	}
	repo, errs := schema.Load(files)
	if errs != nil {
		return // refused at validation: then nothing downstream runs, which is right too
	}
	if _, err := compile.Compile(repo, compile.Options{Host: "node-1"}); err != nil {
		t.Errorf("the repository validates but does not compile: %v\n%s", err, describe(files))
	}
}

// TestPipelineNegatedPortsKeepMeaning is the smallest repository the generator found whose
// nft text means something else once loaded with nft -f: a rule with one negated source port
// and one negated destination port renders as "th sport != 1 th dport != 2", which nft 1.0.6
// merges into one 32-bit compare (sport, dport) != (1, 2), i.e. sport != 1 OR dport != 2.
// Kernel Apply programs two compares, but `plan --nft` text and `nft list` dumps restored with
// `nft -f` do not.
func TestPipelineNegatedPortsKeepMeaning(t *testing.T) {
	testenv.RequireKernel(t)
	files := map[string][]byte{
		"profiles/WEB.yaml": []byte("id: WEB\ninbound_rules:\n  - action: deny\n    protocol: tcp\n    \"!src_ports\": [1]\n    \"!dst_ports\": [2]\n"),
		"endpoints/e.yaml":  []byte("endpoints:\n  - id: web-1\n    host: node-1\n    interface: cali1\n    ipv4_nets: [198.18.0.1]\n    profile_ids: [WEB]\n"),
	}
	repo, errs := schema.Load(files)
	if errs != nil {
		t.Fatal(errs)
	}
	p := newPipeline(t, true)
	p.run(t, "negated ports", &repogen.Repo{Files: files, Hosts: []string{"node-1"}})
	p.flush(t)
	if len(repo.Endpoints) != 1 || p.rulesets != 1 {
		t.Fatalf("%d rulesets: the repository no longer reaches the kernel", p.rulesets)
	}
}

// TestPipelineInterfaceNames: every interface name that validates (Linux allows all bytes
// but '/', ':', whitespace and NUL, up to 15) must survive the pipeline; the generator found
// that a '"' validates and is refused by Apply (and renders as '\”), and that a trailing '*'
// validates and makes the nft text a wildcard that nft refuses in a map.
func TestPipelineInterfaceNames(t *testing.T) {
	var p *pipeline
	if kernelWanted() {
		testenv.RequireKernel(t)
		p = newPipeline(t, true)
	} else {
		p = newPipeline(t, false)
	}
	for _, name := range []string{`c"1`, "c1*", `c\1`, "c#1", "c;1", "c{1}", "c$1", "cé1", "c,1", "c=1", "c'1", "c@1"} {
		files := map[string][]byte{
			"profiles/WEB.yaml": []byte("id: WEB\ninbound_rules:\n  - action: allow\n"),
			"endpoints/e.json":  []byte(`{"endpoints": [{"id": "web-1", "host": "node-1", "interface": ` + strconv.Quote(name) + `, "ipv4_nets": ["198.18.0.1"], "profile_ids": ["WEB"]}]}`),
		}
		p.run(t, fmt.Sprintf("interface %q", name), &repogen.Repo{Files: files, Hosts: []string{"node-1"}})
	}
	p.flush(t)
	p.report(t)
}

// TestPipelineDumpRestoreKeepsFamily is the smallest repository the generator found whose
// applied table, dumped with `nft list ruleset` and restored with `nft -f` (an operator's
// backup), means more than before: "meta nfproto ipv4 meta l4proto 1" (protocol icmp) is
// listed by nft 1.0.6 as "meta l4proto icmp", which restores without the IPv4 restriction, so
// the allow then also matches IPv6 packets whose next header is 1 (likewise icmpv6 and IPv4).
func TestPipelineDumpRestoreKeepsFamily(t *testing.T) {
	testenv.RequireKernel(t)
	files := map[string][]byte{
		"profiles/WEB.yaml": []byte("id: WEB\ninbound_rules:\n  - action: allow\n    protocol: icmp\n"),
		"endpoints/e.yaml":  []byte("endpoints:\n  - id: web-1\n    host: node-1\n    interface: cali1\n    ipv4_nets: [198.18.0.1]\n    profile_ids: [WEB]\n"),
	}
	p := newPipeline(t, true)
	p.run(t, "protocol icmp", &repogen.Repo{Files: files, Hosts: []string{"node-1"}})
	p.flush(t)
	if p.valid != 1 || p.rulesets != 1 {
		t.Fatalf("%d valid, %d rulesets: the repository no longer reaches the kernel", p.valid, p.rulesets)
	}
}

// Forms found by TestPipelineKernel whose dump restored as another model: a negated ICMP
// type/code pair beside a positive type or code (restored as two separate `!=`, another
// meaning), `!protocol` beside a protocol that an ICMP match implies (restored in another
// order), and endpoint nets that nft lists merged into one range (read back as a range).
func TestPipelineDumpRestoreFound(t *testing.T) {
	testenv.RequireKernel(t)
	ep := func(nets string) []byte {
		return []byte("endpoints:\n  - id: web-1\n    host: node-1\n    interface: cali1\n    ipv4_nets: " + nets + "\n    ipv6_nets: [fd00::1]\n    profile_ids: [WEB]\n")
	}
	for _, tc := range []struct{ name, rules, nets string }{
		{"negated pair beside a positive type, same type", "  - action: allow\n    protocol: icmpv6\n    icmp_type: 154\n    icmp_code: 142\n    \"!icmp_type\": 154\n    \"!icmp_code\": 159\n", "[198.18.0.1]"},
		{"negated pair beside a positive type, other type", "  - action: allow\n    protocol: icmpv6\n    icmp_type: 154\n    \"!icmp_type\": 192\n    \"!icmp_code\": 159\n", "[198.18.0.1]"},
		{"negated pair beside a positive code", "  - action: deny\n    protocol: icmp\n    icmp_type: 3\n    icmp_code: 3\n    \"!icmp_type\": 5\n    \"!icmp_code\": 3\n", "[198.18.0.1]"},
		{"negated pair alone", "  - action: allow\n    protocol: icmpv6\n    \"!icmp_type\": 192\n    \"!icmp_code\": 159\n", "[198.18.0.1]"},
		{"!protocol beside an icmp type", "  - action: allow\n    protocol: icmp\n    \"!protocol\": 132\n    icmp_type: 254\n    icmp_code: 64\n    \"!icmp_code\": 37\n", "[198.18.0.1]"},
		{"adjacent endpoint nets", "  - action: allow\n", "[198.18.6.0/25, 198.18.6.128/26]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{
				"profiles/WEB.yaml": []byte("id: WEB\ninbound_rules:\n" + tc.rules),
				"endpoints/e.yaml":  ep(tc.nets),
			}
			p := newPipeline(t, true)
			p.run(t, tc.name, &repogen.Repo{Files: files, Hosts: []string{"node-1"}})
			p.flush(t)
			if p.valid != 1 || p.rulesets != 1 {
				t.Fatalf("%d valid, %d rulesets: the repository no longer reaches the kernel", p.valid, p.rulesets)
			}
		})
	}
}
