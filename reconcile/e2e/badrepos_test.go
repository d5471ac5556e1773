package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv/badrepos"
)

// updateGolden is the -update flag: TestBadRepos rewrites the corpus's goldens
// (reconcile/internal/testenv/badrepos/testdata/*/expected and expected-repo) from the current output.
var updateGolden = flag.Bool("update", false, "rewrite the goldens of the bad-input corpus (reconcile/internal/testenv/badrepos/testdata)")

// validateJSON is what the tests read of `validate -o json`.
type validateJSON struct {
	Valid  bool `json:"valid"`
	Errors []struct {
		Path    string `json:"path"`
		Line    int    `json:"line"`
		Column  int    `json:"column"`
		Message string `json:"message"`
	} `json:"errors"`
}

// TestBadRepos runs the built binary's `validate` on every repository of the bad-input corpus
// (reconcile/internal/testenv/badrepos/testdata), once as a directory (--dir) and once committed to a
// git repository (--repo file://...), and compares what it prints with the case's goldens
// (`expected`; `expected-repo` only while --repo prints something else). Each case must be
// refused: exit 1, nothing on stderr, every message prefixed with "path:line:col:" or "path:",
// a line inside the file, no echo of a broken file, and the same output from both sources
// (modulo revisions and temporary paths), and -o json holding the same errors; cases listed in
// badrepos.Awaiting are only logged until their rule lands. -update rewrites the goldens.
func TestBadRepos(t *testing.T) {
	t.Parallel()
	cases, err := badrepos.Cases()
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 60 {
		t.Fatalf("the corpus has %d cases, want at least 60", len(cases))
	}
	bin := reconcileBin(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			repo, outside, state := filepath.Join(tmp, "repo"), filepath.Join(tmp, "outside"), filepath.Join(tmp, "state")
			for _, d := range []string{repo, outside} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Materialize(repo, outside); err != nil {
				t.Fatal(err)
			}
			replace := map[string]string{repo: "$REPO", outside: "$OUTSIDE", tmp: "$TMP"}

			r := badrepos.Run(t, c.Timeout, bin, "validate", "--dir", repo)
			got := badrepos.Format(r, replace)
			problems := prefixAll("--dir: ", append(badrepos.CheckRefusal(r, repo), badrepos.CheckEchoes(r, repo)...))
			checkGolden(t, filepath.Join(c.Dir, badrepos.GoldenDir), got, true)
			if r.Code == 1 && !r.TimedOut {
				problems = append(problems, checkJSON(t, bin, c, repo, r.Stdout)...)
			}

			if !c.DirOnly {
				url := badrepos.CommitAll(t, repo)
				replace["file://"+repo] = "$URL"
				rr := badrepos.Run(t, c.Timeout, bin, "validate", "--repo", url, "--state-dir", state)
				gotRepo := badrepos.Format(rr, replace)
				problems = append(problems, prefixAll("--repo: ", badrepos.CheckRefusal(rr, repo))...)
				if gotRepo != got {
					problems = append(problems, "--repo prints something else than --dir")
				}
				checkGolden(t, filepath.Join(c.Dir, badrepos.GoldenRepo), gotRepo, gotRepo != got)
			}
			judge(t, c, problems, got)
		})
	}
}

// TestBadExamplesFromGit runs examples/bad-*/ (whose --dir output TestBadExamples of
// cmd/reconcile checks against EXPECTED) as committed git repositories: --repo must print EXPECTED too.
func TestBadExamplesFromGit(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob("../../examples/bad-*")
	if err != nil || len(dirs) < 3 {
		t.Fatalf("found %d bad examples (%v)", len(dirs), err)
	}
	bin := reconcileBin(t)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			want, err := os.ReadFile(filepath.Join(dir, "EXPECTED"))
			if err != nil {
				t.Fatal(err)
			}
			repo := filepath.Join(t.TempDir(), "repo")
			if err := os.CopyFS(repo, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			url := badrepos.CommitAll(t, repo)
			r := badrepos.Run(t, badrepos.Timeout, bin, "validate", "--repo", url, "--state-dir", t.TempDir())
			for _, p := range badrepos.CheckRefusal(r, repo) {
				t.Error(p)
			}
			if r.Stdout != string(want) {
				t.Errorf("validate --repo of %s:\n%s\nwant (EXPECTED):\n%s", dir, r.Stdout, want)
			}
		})
	}
}

// checkJSON runs `validate --dir repo -o json` and returns what disagrees with the text
// output text: the JSON must say invalid, exit 1, and hold the same errors in the same order.
func checkJSON(t *testing.T, bin string, c badrepos.Case, repo, text string) []string {
	t.Helper()
	r := badrepos.Run(t, c.Timeout, bin, "validate", "--dir", repo, "-o", "json")
	var v validateJSON
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		return []string{fmt.Sprintf("-o json: %v in %q (stderr %q)", err, r.Stdout, r.Stderr)}
	}
	var b strings.Builder
	for _, e := range v.Errors {
		if e.Line == 0 {
			fmt.Fprintf(&b, "%s: %s\n", e.Path, e.Message)
		} else {
			fmt.Fprintf(&b, "%s:%d:%d: %s\n", e.Path, e.Line, e.Column, e.Message)
		}
	}
	var bad []string
	if r.Code != 1 || v.Valid {
		bad = append(bad, fmt.Sprintf("-o json: exit %d, valid %v; want 1, false", r.Code, v.Valid))
	}
	if b.String() != text {
		bad = append(bad, fmt.Sprintf("-o json errors differ from the text output:\n%s", b.String()))
	}
	return bad
}

// checkGolden compares got with the golden file at path, or with -update writes it (want
// true) or removes it (want false: the golden must not exist).
func checkGolden(t *testing.T, path, got string, want bool) {
	t.Helper()
	if *updateGolden {
		if want {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err) && !want:
	case err != nil:
		t.Errorf("%v (go test ./reconcile/e2e -run TestBadRepos -update writes it)", err)
	case !want:
		t.Errorf("%s exists, but --repo prints what --dir prints; -update removes it", path)
	case string(b) != got:
		t.Errorf("output differs from %s:\n%s\nwant:\n%s", path, got, b)
	}
}

// judge fails t with the problems of a case that must hold, and for an awaiting case logs
// them, or fails when there are none (the Awaiting entry is stale).
func judge(t *testing.T, c badrepos.Case, problems []string, got string) {
	t.Helper()
	switch {
	case c.Awaiting == "":
		for _, p := range problems {
			t.Error(p)
		}
		if len(problems) > 0 {
			t.Logf("output:\n%s", got)
		}
	case len(problems) == 0:
		t.Errorf("refused as the corpus demands: remove %s from badrepos.Awaiting (%s)", c.Name, c.Awaiting)
	default:
		t.Logf("awaiting %s: %s", c.Awaiting, strings.Join(problems, "; "))
	}
}

func prefixAll(prefix string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = prefix + s
	}
	return out
}
