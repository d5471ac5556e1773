package calicoctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/internal/atomicfile"
	"github.com/reconcile-dev/reconcile/reconcile/limits"
	"github.com/reconcile-dev/reconcile/schema"
)

// Env is where a command runs: the repository checkout and the standard streams.
type Env struct {
	// Dir is the repository checkout ("" means "."); a --dir among the arguments overrides it.
	Dir    string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// cmd is one command invocation.
type cmd struct {
	ctx  context.Context
	dir  string
	in   io.Reader
	out  io.Writer
	err  io.Writer
	args []string
	// opts are the --options found among the arguments, by name without dashes.
	opts map[string]string
}

// Messages calicoctl printed with print_paragraph (wrapped at 80 columns, then a blank line).
const (
	msgProfileName = "Profile names must be < 40 character long and can only contain numbers, letters, dots, dashes and underscores."
	msgTagName     = "Tags names can only contain numbers, letters, dots, dashes and underscores."
)

// errUsage marks a command line that does not fit the grammar.
var errUsage = errors.New("usage")

// splitOptions takes the --options out of args. valued names options that take a value
// (--at=N or --at N); flags are options without a value. Anything else starting with "--" is a
// usage error.
func splitOptions(args []string, valued, flags []string) (rest []string, opts map[string]string, err error) {
	opts = map[string]string{}
	isIn := func(s string, set []string) bool {
		for _, x := range set {
			if x == s {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") || a == "--" {
			rest = append(rest, a)
			continue
		}
		name, val, hasVal := strings.Cut(a[2:], "=")
		switch {
		case isIn(name, valued):
			if !hasVal {
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("%w: --%s needs a value", errUsage, name)
				}
				i++
				val = args[i]
			}
			if _, dup := opts[name]; dup {
				return nil, nil, fmt.Errorf("%w: --%s given twice", errUsage, name)
			}
			opts[name] = val
		case isIn(name, flags) && !hasVal:
			opts[name] = ""
		default:
			return nil, nil, fmt.Errorf("%w: unknown option %q", errUsage, a)
		}
	}
	return rest, opts, nil
}

// run prepares a command: it takes --dir out of the arguments and checks the context.
func newCmd(ctx context.Context, env Env, args []string, valued, flags []string) (*cmd, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rest, opts, err := splitOptions(args, append([]string{"dir"}, valued...), flags)
	if err != nil {
		return nil, err
	}
	c := &cmd{ctx: ctx, dir: env.Dir, in: env.Stdin, out: env.Stdout, err: env.Stderr, args: rest, opts: opts}
	if d, ok := opts["dir"]; ok {
		c.dir = d
	}
	if c.dir == "" {
		c.dir = "."
	}
	if c.in == nil {
		c.in = strings.NewReader("")
	}
	if c.out == nil {
		c.out = io.Discard
	}
	if c.err == nil {
		c.err = io.Discard
	}
	return c, nil
}

func (c *cmd) has(opt string) bool { _, ok := c.opts[opt]; return ok }

// println prints a line on standard output.
func (c *cmd) println(s string) { fmt.Fprintln(c.out, s) }

// paragraph prints a message the way calicoctl's print_paragraph did: wrapped at 80 columns
// (Python textwrap) and followed by an empty line.
func (c *cmd) paragraph(s string) {
	for _, l := range wrap(s, 80) {
		fmt.Fprintln(c.out, l)
	}
	fmt.Fprintln(c.out)
}

// badID prints calicoctl's paragraph msg for an invalid profile name or tag s and, when s is
// longer than limits.MaxIDLen, says so on standard error: calicoctl's messages speak of the
// characters (and of "< 40" for profile names, a limit calicoctl never enforced); ours is the
// byte limit of limits.MaxIDLen (ids name nft chains, sets and comments).
func (c *cmd) badID(msg, s string) {
	c.paragraph(msg)
	if len(s) > limits.MaxIDLen {
		fmt.Fprintf(c.err, "reconcile: %q is %d bytes; profile names and tags are at most %d (they name nft chains, sets and comments)\n",
			s, len(s), limits.MaxIDLen)
	}
}

// fail reports an error that calicoctl showed as a traceback or usage dump, on standard error,
// and returns exit code 1.
func (c *cmd) fail(format string, args ...any) int {
	fmt.Fprintf(c.err, "reconcile: "+format+"\n", args...)
	return 1
}

// wrap is Python's textwrap.wrap(s, width) for single-line text: greedy, breaking at spaces,
// keeping runs of spaces inside a line and dropping them at line ends.
func wrap(s string, width int) []string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' || r == '\v' || r == '\f' {
			return ' '
		}
		return r
	}, s)
	// Chunks alternate words and runs of spaces.
	var chunks []string
	for i := 0; i < len(s); {
		j := i
		space := s[i] == ' '
		for j < len(s) && (s[j] == ' ') == space {
			j++
		}
		chunks = append(chunks, s[i:j])
		i = j
	}
	var lines []string
	for len(chunks) > 0 {
		var cur []string
		n := 0
		if len(lines) > 0 && strings.TrimSpace(chunks[0]) == "" {
			chunks = chunks[1:]
		}
		for len(chunks) > 0 && n+len(chunks[0]) <= width {
			n += len(chunks[0])
			cur = append(cur, chunks[0])
			chunks = chunks[1:]
		}
		if len(chunks) > 0 && len(cur) == 0 {
			// A word longer than the width goes on a line of its own, split (break_long_words).
			cur = append(cur, chunks[0][:width])
			chunks[0] = chunks[0][width:]
		}
		if len(cur) > 0 && strings.TrimSpace(cur[len(cur)-1]) == "" {
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			lines = append(lines, strings.Join(cur, ""))
		}
	}
	return lines
}

// repoFiles reads the repository files of the checkout with schema.ReadRoot, the rules of
// `validate --dir` and of git sources. An entry it refuses (a symbolic link, a special file, an
// oversize file, a misspelled name) stops the command: an edit would otherwise replace a link
// with a file, or add a profile that the misspelled file already means.
func (c *cmd) repoFiles() (map[string][]byte, error) {
	if st, err := os.Stat(c.dir); err != nil {
		return nil, fmt.Errorf("repository directory %q: %w", c.dir, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("repository directory %q is not a directory", c.dir)
	}
	files, refused, err := schema.ReadRoot(c.dir)
	if err != nil {
		return nil, fmt.Errorf("read repository %q: %w", c.dir, err)
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("repository %q has entries that are not read (fix them first):\n%w", c.dir, refused)
	}
	return files, nil
}

// profileFiles returns the profile files by profile name (file stem), each a sorted list of
// paths (more than one path is an error the validator reports).
func profileFiles(files map[string][]byte) map[string][]string {
	out := map[string][]string{}
	for p := range files {
		if schema.FileKind(p) != schema.KindProfile {
			continue
		}
		base := path.Base(p)
		name := strings.TrimSuffix(base, path.Ext(base))
		out[name] = append(out[name], p)
	}
	for _, ps := range out {
		sort.Strings(ps)
	}
	return out
}

// errorKey identifies an error independently of where it is (edits move lines).
func errorKey(e *schema.Error) string { return e.Path + "\x00" + e.Msg }

// newErrors returns the errors of after that before does not have (as many times as they are
// new).
func newErrors(before, after schema.Errors) schema.Errors {
	seen := map[string]int{}
	for _, e := range before {
		seen[errorKey(e)]++
	}
	var out schema.Errors
	for _, e := range after {
		k := errorKey(e)
		if seen[k] > 0 {
			seen[k]--
			continue
		}
		out = append(out, e)
	}
	return out
}

// commit checks that replacing (or, with nil content, deleting) the files in change adds no
// validation error to the repository, then writes them atomically. It prints the problems and
// returns false when the change is refused.
func (c *cmd) commit(files map[string][]byte, change map[string][]byte) bool {
	_, before := schema.Load(files)
	next := make(map[string][]byte, len(files)+len(change))
	for p, b := range files {
		next[p] = b
	}
	for p, b := range change {
		if b == nil {
			delete(next, p)
		} else {
			next[p] = b
		}
	}
	_, after := schema.Load(next)
	if bad := newErrors(before, after); len(bad) > 0 {
		fmt.Fprintln(c.err, "reconcile: the change would make the repository invalid; nothing was written:")
		for _, e := range bad {
			fmt.Fprintf(c.err, "  %s\n", e)
		}
		return false
	}
	return c.write(change)
}

// filePerm is the permission bits of the file at name, kept when a command rewrites it, or
// 0644 for a file that does not exist yet (or cannot be examined).
func filePerm(name string) os.FileMode {
	if st, err := os.Stat(name); err == nil {
		return st.Mode().Perm()
	}
	return 0o644
}

// write writes (or deletes) the files of change, in path order, each one atomically
// (atomicfile.Write), keeping the permissions of a file it replaces.
func (c *cmd) write(change map[string][]byte) bool {
	paths := make([]string, 0, len(change))
	for p := range change {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(c.dir, filepath.FromSlash(p))
		if change[p] == nil {
			if err := os.Remove(full); err != nil {
				c.fail("remove %q: %v", full, err)
				return false
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			c.fail("create %q: %v", filepath.Dir(full), err)
			return false
		}
		if err := atomicfile.Write(full, change[p], filePerm(full)); err != nil {
			c.fail("%v", err)
			return false
		}
	}
	return true
}

// atoi parses a number of the command line (an --at position, an ICMP type or code) in plain
// decimal (schema.ParseDecimal), where calicoctl's Python int() also took " 1", "+1", "01" and
// "1_0". The error of a number in another notation is a *schema.NumberError saying what to
// write.
func atoi(s string) (int, error) {
	n, err := schema.ParseDecimal(s)
	if err != nil {
		return 0, err
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%s is %w", s, schema.ErrNumberRange)
	}
	return int(n), nil
}
