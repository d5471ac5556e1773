// Package badrepos is the corpus of broken policy repositories that the tests feed to the
// real binary: every one must be refused by `reconcile validate` (exit 1, every message
// prefixed "path:line:col:" or "path:"), the same way under --dir and --repo, and must leave
// an applied ruleset untouched (reconcile/e2e: badrepos_test.go and badrepos_kernel_test.go).
//
// A case is a directory testdata/<NN-name>/ holding the repository files as plain text and
// the golden `expected` (what `validate --dir` prints, see Format); `expected-repo` exists
// only while `validate --repo` prints something else. Entries that cannot live in git as
// plain files (symbolic links, non-UTF-8 names, FIFOs, binary and huge files) are made at run
// time by the Generated table; their directory holds the goldens and possibly plain files.
// `go test ./reconcile/e2e -run TestBadRepos -update` rewrites the goldens.
package badrepos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
)

// Golden file names inside a case directory; they are not repository files.
const (
	GoldenDir  = "expected"
	GoldenRepo = "expected-repo"
)

// Timeout bounds one run of the binary on a case, unless the case sets its own; a run that
// takes longer is recorded as "exit timeout".
const Timeout = 60 * time.Second

// Case is one broken repository.
type Case struct {
	Name string // "NN-name", the directory under testdata
	Dir  string // absolute path of testdata/<Name>
	// Gen makes the entries that cannot be plain files in git; nil for plain cases. repo is
	// the repository root, outside a scratch directory outside it.
	Gen func(repo, outside string) error
	// DirOnly cases cannot be committed to git (a FIFO): no --repo run.
	DirOnly bool
	// Timeout bounds each run of the binary on this case (Timeout when 0).
	Timeout time.Duration
	// Awaiting says which rule of issue 7, being implemented on another branch, this case
	// waits for: until then it may be accepted (exit 0), or refused differently under --dir
	// and --repo, or with a message without a path. "" for a case that must hold today.
	Awaiting string
}

// Root is the absolute path of this package's testdata directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

// Cases lists every case, in name order: every testdata directory, with the Generated entry
// of the same name attached. A Generated entry without a directory is an error (its goldens
// live there).
func Cases() ([]Case, error) {
	root := Root()
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []Case
	seen := map[string]bool{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if !caseName.MatchString(e.Name()) {
			return nil, fmt.Errorf("testdata/%s: a case is named NN-name", e.Name())
		}
		c := Case{Name: e.Name(), Dir: filepath.Join(root, e.Name()), Awaiting: Awaiting[e.Name()], Timeout: Timeout}
		if g, ok := Generated[c.Name]; ok {
			c.Gen, c.DirOnly = g.Gen, g.DirOnly
			if g.Timeout != 0 {
				c.Timeout = g.Timeout
			}
			seen[c.Name] = true
		}
		out = append(out, c)
	}
	for name := range Generated {
		if !seen[name] {
			return nil, fmt.Errorf("generated case %s has no directory testdata/%s (it holds the goldens)", name, name)
		}
	}
	for name := range Awaiting {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			return nil, fmt.Errorf("badrepos.Awaiting names %s, which is not a case", name)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

var (
	revision = regexp.MustCompile(`\b(?:sha256:[0-9a-f]{64}|[A-Za-z0-9_./-]+@sha1:[0-9a-f]{40})\b`)
	commit   = regexp.MustCompile(`\bcommit [0-9a-f]{7,40}\b`)
)

var caseName = regexp.MustCompile(`^[0-9]{3}-[a-z0-9-]+$`)

// Materialize writes the case's repository into repo (which must exist): its plain files
// (everything under its directory except the goldens), then what Gen makes. outside is a
// scratch directory that is not inside repo.
func (c Case) Materialize(repo, outside string) error {
	err := filepath.WalkDir(c.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(c.Dir, p)
		if rel == "." {
			return nil
		}
		if rel == GoldenDir || rel == GoldenRepo {
			return nil
		}
		dst := filepath.Join(repo, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil || c.Gen == nil {
		return err
	}
	return c.Gen(repo, outside)
}

// Result is what one run of the binary did.
type Result struct {
	Code     int // exit code; -1 when it timed out
	Stdout   string
	Stderr   string
	TimedOut bool
}

// Run runs bin with args, for at most timeout, and returns what it did; it fails t only when
// the binary cannot be started.
func Run(t testing.TB, timeout time.Duration, bin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.Code, r.TimedOut = -1, true
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	return r
}

// Format is the golden text of a result: "exit N" (or "exit timeout"), then the stdout and
// the stderr verbatim after a marker line each. replace maps machine-specific strings (temp
// paths, URLs) to placeholders, longer keys first; revisions ("sha256:<hex>",
// "<branch>@sha1:<hex>") become $REVISION and "commit <hex>" "commit $COMMIT", so that --dir
// and --repo print the same and links to temporary paths do not change the goldens.
func Format(r Result, replace map[string]string) string {
	keys := make([]string, 0, len(replace))
	for k := range replace {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	norm := func(s string) string {
		for _, k := range keys {
			s = strings.ReplaceAll(s, k, replace[k])
		}
		s = revision.ReplaceAllString(s, "$$REVISION")
		return commit.ReplaceAllString(s, "commit $$COMMIT")
	}
	code := strconv.Itoa(r.Code)
	if r.TimedOut {
		code = "timeout"
	}
	return "exit " + code + "\n-- stdout --\n" + norm(r.Stdout) + "-- stderr --\n" + norm(r.Stderr)
}

var missingProfile = regexp.MustCompile(`profile "([^"/]+)" does not exist`)

// message is what every line of validate's output must look like: a repository path (in one
// of the three folders of SPEC §2, or such a folder itself, also named in another case when it
// is refused for that, or another top-level entry of the repository, a misspelt folder such as
// endpoint/), then ":line:col: " or ": ", then a message.
var message = regexp.MustCompile(`^((?:profiles|endpoints|tests)/[^\n]*?|(?i:profiles|endpoints|tests)|[^/\s:]+):(?:([0-9]+):([0-9]+):)? [^ \n]`)

// repoFolder matches the names of the repository folders, in any case.
var repoFolder = regexp.MustCompile(`^(?i:profiles|endpoints|tests)$`)

// CheckRefusal returns what makes r not a proper refusal: an exit code other than 1, a
// timeout, anything on stderr, no message, a message without its path prefix, or with a line
// past the end of a file of the repository at root.
func CheckRefusal(r Result, root string) []string {
	var bad []string
	switch {
	case r.TimedOut:
		return []string{"timed out"}
	case r.Code != 1:
		bad = append(bad, fmt.Sprintf("exit %d, want 1", r.Code))
	}
	if r.Stderr != "" {
		bad = append(bad, fmt.Sprintf("stderr not empty: %q", r.Stderr))
	}
	if r.Stdout == "" {
		bad = append(bad, "no message on stdout")
	}
	for _, l := range strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n") {
		if l == "" {
			continue
		}
		m := message.FindStringSubmatch(l)
		if m == nil {
			bad = append(bad, fmt.Sprintf("message without a path:line:col: or path: prefix: %q", l))
			continue
		}
		if !strings.Contains(m[1], "/") && !repoFolder.MatchString(m[1]) {
			// Another top-level name: it must be an entry of the repository.
			if _, err := os.Lstat(filepath.Join(root, m[1])); err != nil {
				bad = append(bad, fmt.Sprintf("message without a path:line:col: or path: prefix: %q", l))
				continue
			}
		}
		if m[2] == "" {
			continue
		}
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		if line < 1 || col < 1 {
			bad = append(bad, fmt.Sprintf("position %d:%d is not 1-based: %q", line, col, l))
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m[1])))
		if err != nil {
			continue // an entry that is not a readable file (a FIFO, a link out)
		}
		if n := bytes.Count(b, []byte("\n")) + 1; line > n {
			bad = append(bad, fmt.Sprintf("line %d is past the end of %s (%d lines): %q", line, m[1], n, l))
		}
	}
	return bad
}

// CheckEchoes returns the messages of r that echo another error instead of naming a root
// cause: a profile reported missing while its file profiles/<ID>.yaml or .json exists in the
// repository at root (that file is broken, and is reported itself).
func CheckEchoes(r Result, root string) []string {
	var bad []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		e := missingProfile.FindStringSubmatch(l)
		if e == nil {
			continue
		}
		for _, ext := range []string{".yaml", ".json"} {
			if _, err := os.Lstat(filepath.Join(root, "profiles", e[1]+ext)); err == nil {
				bad = append(bad, fmt.Sprintf("profiles/%s%s exists: its own error is the root cause, not %q", e[1], ext, l))
			}
		}
	}
	return bad
}

// CommitAll makes dir a git repository (branch main) and commits everything in it with the
// git binary, as a fixed author at a fixed date (the same tree gives the same commit); it
// returns the file:// URL of the repository. Without git it skips t (fails it under CI=true).
func CommitAll(t testing.TB, dir string) string {
	t.Helper()
	gittest.RequireGit(t)
	env := gitEnv()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"commit", "-q", "--allow-empty", "-m", "bad repository"},
	} {
		c := exec.Command("git", args...)
		c.Dir, c.Env = dir, env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return "file://" + dir
}

// ExpectedMessages returns the messages of the case's golden `expected`: the lines of what
// `validate --dir` printed on stdout.
func (c Case) ExpectedMessages() ([]string, error) {
	b, err := os.ReadFile(filepath.Join(c.Dir, GoldenDir))
	if err != nil {
		return nil, err
	}
	_, rest, ok := strings.Cut(string(b), "-- stdout --\n")
	out, _, ok2 := strings.Cut(rest, "-- stderr --\n")
	if !ok || !ok2 {
		return nil, fmt.Errorf("%s/%s: no stdout and stderr sections", c.Name, GoldenDir)
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n"), nil
}

// gitEnv is the environment of the corpus's git commands: no user or system configuration, a
// fixed author and committer at a fixed date.
func gitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "HOME="+os.DevNull,
		"GIT_AUTHOR_NAME=Corpus", "GIT_AUTHOR_EMAIL=corpus@example.invalid", "GIT_AUTHOR_DATE=@1700000000 +0000",
		"GIT_COMMITTER_NAME=Corpus", "GIT_COMMITTER_EMAIL=corpus@example.invalid", "GIT_COMMITTER_DATE=@1700000000 +0000")
}
