package layering

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// module is the module path; packages are named below relative to it ("" is the module root,
// which holds no package).
const module = "github.com/reconcile-dev/reconcile"

// layer is one row of the table: a package of ours, the layer it sits on (0 is the bottom), the
// only packages of ours it may import (nil: anything on a lower layer) and whether it is test
// machinery that non-test code must not import.
type layer struct {
	level int
	// only, when not nil, is the complete list of our packages the package may import (its
	// non-test files). Empty but not nil: none.
	only []string
	// testOnly marks test and demo machinery: no package outside test machinery imports it from
	// non-test files, except the importers listed in usedBy.
	testOnly bool
	usedBy   []string
}

// none is an empty allow-list: the package imports nothing of ours.
var none = []string{}

// table is the layering as it holds today (docs/ARCHITECTURE.md, "Import graph"). Rules:
//   - a package imports (in its non-test files) only packages on a lower layer;
//   - its tests import only packages on its own layer or below (so nothing below `reconcile`
//     imports the root package `reconcile`, even from a test);
//   - nothing imports cmd/...;
//   - where `only` is set, the package imports nothing of ours outside it;
//   - test machinery is imported from non-test code only by test machinery (the demo,
//     reconcile/internal/lab/cmd/reconcile-lab, is demo machinery and imports `lab`);
//   - every package of the module has a row, and every row a package.
var table = map[string]layer{
	// Leaves.
	"reconcile/limits": {level: 0, only: none},
	// netns: the one handle on a network namespace (fd + identity).
	"reconcile/netns": {level: 0, only: none},
	// atomicfile: the one atomic file write (temp file, fsync, rename, fsync of the directory).
	"reconcile/internal/atomicfile": {level: 0, only: none},
	"reconcile/internal/testenv":    {level: 0, only: none, testOnly: true},
	// buildinfo: the one name of the running build (Go build id, else a clean VCS revision).
	"reconcile/buildinfo": {level: 0, only: none},

	"schema":                     {level: 1, only: []string{"reconcile/limits", "reconcile/buildinfo"}},
	"reconcile/nft":              {level: 1, only: []string{"reconcile/limits", "reconcile/netns"}},
	"reconcile/lock":             {level: 1, only: []string{"reconcile/netns"}},
	"reconcile/internal/gittest": {level: 1, only: []string{"reconcile/internal/testenv"}, testOnly: true},

	"reconcile/compile":                   {level: 2, only: []string{"schema", "reconcile/nft", "reconcile/limits"}},
	"reconcile/plan":                      {level: 2, only: []string{"reconcile/nft"}},
	"reconcile/state":                     {level: 2, only: []string{"reconcile/nft", "reconcile/internal/atomicfile"}},
	"reconcile/simulate":                  {level: 2, only: []string{"reconcile/nft", "schema"}},
	"reconcile/source":                    {level: 2, only: []string{"schema"}},
	"reconcile/calicoctl":                 {level: 2, only: []string{"schema", "reconcile/limits", "reconcile/internal/atomicfile"}},
	"reconcile/internal/repogen":          {level: 2, only: []string{"schema"}, testOnly: true},
	"reconcile/internal/testenv/badrepos": {level: 2, testOnly: true},
	"reconcile/internal/layering":         {level: 2, only: none, testOnly: true},
	// evaluate: the policy evaluator of the differential tests, from SPEC §3 alone: it may not
	// import compile or simulate (issue 9).
	"reconcile/internal/evaluate": {level: 2, only: []string{"schema"}, testOnly: true},

	// trigger: the watch loop's trigger sources (timers, fsnotify, netlink links, signals) and
	// the coalescing queue; schema says which files are the repository's.
	"reconcile/trigger": {level: 2, only: []string{"schema", "reconcile/netns"}},

	"reconcile/source/git":   {level: 3, only: []string{"reconcile/source", "reconcile/lock", "reconcile/internal/atomicfile", "schema"}},
	"reconcile/internal/lab": {level: 3, testOnly: true},
	// loadcheck: tests only, schema's load paths (cached or not) over the corpus and repogen.
	"reconcile/internal/loadcheck": {level: 3, only: none, testOnly: true},

	"reconcile": {level: 4},
	// differential: issue 9's three-way differential (generator, evaluator, simulator and
	// kernel adapters); the kernel adapter drives the lab.
	"reconcile/internal/differential": {level: 4, testOnly: true, only: []string{"schema", "reconcile/compile",
		"reconcile/simulate", "reconcile/nft", "reconcile/internal/evaluate", "reconcile/internal/lab"}},

	// cmd/reconcile: flags, output and exit codes; the Agent does the rest. calicoctl's
	// commands are wired as they are.
	"cmd/reconcile": {level: 5, only: []string{"reconcile", "schema", "reconcile/calicoctl"}},
	// The demo (make demo): a command of the lab, so that it may import the internal lab.
	"reconcile/internal/lab/cmd/reconcile-lab": {level: 5, testOnly: true},
	// The benchmark (make bench): runs the built binary, so it needs only the generators.
	"reconcile/internal/bench/cmd/reconcile-bench": {level: 5, testOnly: true, only: []string{"reconcile/internal/repogen"}},
	"reconcile/e2e": {level: 5, only: none, testOnly: true},
}

// pkg is what the check needs of one `go list -json` record, names relative to the module.
type pkg struct {
	name        string
	imports     []string // non-test files
	testImports []string // _test.go files of the package and of its _test package
}

// rel maps an import path to its name relative to the module, or "" for one not of ours.
func rel(path string) string {
	if path == module {
		return "reconcile-module-root" // no package lives there; kept distinct so it is reported
	}
	if s, ok := strings.CutPrefix(path, module+"/"); ok {
		return s
	}
	return ""
}

// ours keeps our packages of paths, relative to the module, sorted and without name itself.
func ours(name string, paths ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, list := range paths {
		for _, p := range list {
			if r := rel(p); r != "" && r != name && !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	sort.Strings(out)
	return out
}

// listPackages runs `go list -json ./...` at the module root.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go: %v (go test puts GOROOT/bin on PATH; run this test with go test)", err)
	}
	gomod, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd := exec.Command(goBin, "list", "-json", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -json ./... in %s: %v\n%s", root, err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list -json output: %v", err)
		}
		name := rel(p.ImportPath)
		pkgs = append(pkgs, pkg{
			name:        name,
			imports:     ours(name, p.Imports),
			testImports: ours(name, p.TestImports, p.XTestImports),
		})
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].name < pkgs[j].name })
	return pkgs
}

// check returns one message per broken rule, in the order of pkgs and their imports.
func check(pkgs []pkg, table map[string]layer) []string {
	var errs []string
	listed := map[string]bool{}
	for _, p := range pkgs {
		listed[p.name] = true
		a, ok := table[p.name]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: not in the layer table of reconcile/internal/layering: give it a layer (and docs/ARCHITECTURE.md a line)", p.name))
			continue
		}
		for _, b := range p.imports {
			if msg := checkImport(p.name, a, b, table, false); msg != "" {
				errs = append(errs, msg)
			}
		}
		for _, b := range p.testImports {
			if msg := checkImport(p.name, a, b, table, true); msg != "" {
				errs = append(errs, msg)
			}
		}
	}
	var stale []string
	for name := range table {
		if !listed[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	for _, name := range stale {
		errs = append(errs, fmt.Sprintf("%s: in the layer table but not a package of the module: remove its row", name))
	}
	return errs
}

// checkImport returns why a (named aName) may not import b, or "".
func checkImport(aName string, a layer, b string, table map[string]layer, test bool) string {
	what := aName + " imports " + b
	if test {
		what = aName + " (test) imports " + b
	}
	if strings.HasPrefix(b, "cmd/") {
		return what + ": nothing imports cmd/..."
	}
	lb, ok := table[b]
	if !ok {
		return what + ": " + b + " is not in the layer table"
	}
	switch {
	case lb.level > a.level:
		return fmt.Sprintf("%s: %s is above %s (layer %d > %d)", what, b, aName, lb.level, a.level)
	case lb.level == a.level && !test:
		return fmt.Sprintf("%s: %s is on the layer of %s (%d); only lower layers may be imported", what, b, aName, a.level)
	}
	if test {
		return ""
	}
	if a.only != nil && !contains(a.only, b) {
		allowed := "nothing of ours"
		if len(a.only) > 0 {
			allowed = strings.Join(a.only, ", ")
		}
		return fmt.Sprintf("%s: %s may import only %s", what, aName, allowed)
	}
	if lb.testOnly && !a.testOnly && !contains(lb.usedBy, aName) {
		return fmt.Sprintf("%s: %s is test machinery, imported only by tests", what, b)
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestLayering checks the module's import graph against table and prints it (go test -v).
func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; expected the module's packages", len(pkgs))
	}
	for _, p := range pkgs {
		line := p.name + " -> " + strings.Join(p.imports, ", ")
		if len(p.testImports) > 0 {
			line += "   [tests: " + strings.Join(p.testImports, ", ") + "]"
		}
		t.Log(line)
	}
	for _, msg := range check(pkgs, table) {
		t.Error(msg)
	}
}

// TestCheck proves that check catches each kind of broken rule, on made-up graphs.
func TestCheck(t *testing.T) {
	small := map[string]layer{
		"limits":   {level: 0, only: none},
		"testenv":  {level: 0, only: none, testOnly: true},
		"schema":   {level: 1, only: []string{"limits"}},
		"nft":      {level: 1},
		"lab":      {level: 2, testOnly: true, usedBy: []string{"cmd/demo"}},
		"top":      {level: 3},
		"cmd/demo": {level: 4},
		"cmd/main": {level: 4},
	}
	base := func() []pkg {
		return []pkg{
			{name: "limits", testImports: []string{"testenv"}},
			{name: "testenv"},
			{name: "schema", imports: []string{"limits"}},
			{name: "nft", imports: []string{"limits"}},
			{name: "lab", imports: []string{"nft", "schema"}},
			{name: "top", imports: []string{"nft", "schema"}, testImports: []string{"testenv"}},
			{name: "cmd/demo", imports: []string{"lab", "top"}},
			{name: "cmd/main", imports: []string{"top"}},
		}
	}
	if errs := check(base(), small); len(errs) != 0 {
		t.Fatalf("base graph: %q, want no errors", errs)
	}
	cases := []struct {
		name   string
		change func([]pkg) []pkg
		want   []string
	}{
		{"upward", func(p []pkg) []pkg { p[2].imports = append(p[2].imports, "top"); return p },
			[]string{"schema imports top: top is above schema (layer 3 > 1)"}},
		{"same layer", func(p []pkg) []pkg { p[3].imports = append(p[3].imports, "schema"); return p },
			[]string{"nft imports schema: schema is on the layer of nft (1); only lower layers may be imported"}},
		{"test upward", func(p []pkg) []pkg { p[0].testImports = append(p[0].testImports, "top"); return p },
			[]string{"limits (test) imports top: top is above limits (layer 3 > 0)"}},
		{"cmd", func(p []pkg) []pkg { p[6].testImports = []string{"cmd/main"}; return p },
			[]string{"cmd/demo (test) imports cmd/main: nothing imports cmd/..."}},
		{"only", func(p []pkg) []pkg { p[2].imports = append(p[2].imports, "testenv"); return p },
			[]string{"schema imports testenv: schema may import only limits"}},
		{"package and row", func(p []pkg) []pkg { p[1].imports = []string{"limits"}; p[1].name = "limits2"; return p },
			[]string{"limits2: not in the layer table of reconcile/internal/layering: give it a layer (and docs/ARCHITECTURE.md a line)",
				"testenv: in the layer table but not a package of the module: remove its row"}},
		{"test machinery", func(p []pkg) []pkg { p[7].imports = append(p[7].imports, "lab"); return p },
			[]string{"cmd/main imports lab: lab is test machinery, imported only by tests"}},
		{"unknown import", func(p []pkg) []pkg { p[5].imports = append(p[5].imports, "x"); return p },
			[]string{"top imports x: x is not in the layer table"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := check(c.change(base()), small); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
	lim := small["limits"]
	lim.only = none
	if msg := checkImport("limits", lim, "testenv", small, false); msg != "limits imports testenv: testenv is on the layer of limits (0); only lower layers may be imported" {
		t.Errorf("limits -> testenv: %q", msg)
	}
}
