package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/lock"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// failureCase is one failure path of `reconcile apply` (docs/OPERATIONS.md, "Exit codes and
// messages"): how to provoke it on a host whose kernel holds revision 1, and the one line it
// must end with.
type failureCase struct {
	name string
	// args are apply's flags after the host flags; setup, when not nil, runs first and may
	// return other args (and a command to run instead of the binary, e.g. under setpriv).
	args  []string
	setup func(t *testing.T, h *gitopsHost, f *failureFixture) (cmd []string, args []string)
	// line is the last line of stderr (without the "reconcile: " prefix and the "; nothing
	// was changed" suffix, which every case must have: none of them touches the kernel).
	line *regexp.Regexp
	// extra allows these stderr lines before the last (the validation errors, path:line:col).
	extra *regexp.Regexp
}

// failureFixture is the shared part: a git remote at revision 1 (applied), with revision 2
// (a change) pushed to it.
type failureFixture struct {
	repo     *gittest.Repo
	url      string
	c1, c2   string
	checkDir string // a plain checkout of revision 2, for --dir cases
}

// TestFailureLines drives every failure path of apply that a user can meet through the built
// binary and checks what point 5 of issue 11 asks of each: exit code 1, stderr ending with
// exactly one line `reconcile: <what failed and why>; nothing was changed` (every other stderr
// line being a JSON log record, or a validation error where the case says so), no log record
// of level ERROR echoing it, and the kernel's table byte-identical to before.
func TestFailureLines(t *testing.T) {
	t.Parallel()
	h := newGitopsHost(t, "faillines")
	gittest.RequireGit(t)
	f := &failureFixture{repo: gittest.NewRepo(t, "main")}
	f.url = "file://" + f.repo.Remote
	f.c1 = f.repo.Commit("web 80", gitopsFiles(80), "")
	f.repo.Push()
	h.must("apply", "--repo", f.url)
	f.c2 = f.repo.Commit("web 80 443", gitopsFiles(80, 443), "")
	f.repo.Push()
	f.checkDir = t.TempDir()
	testenv.WriteFiles(t, f.checkDir, gitopsFiles(80, 8443))

	closed := gitopsFreeAddr(t) // a port nothing listens on

	cases := []failureCase{{
		name: "invalid repository",
		setup: func(t *testing.T, h *gitopsHost, f *failureFixture) ([]string, []string) {
			dir := t.TempDir()
			files := gitopsFiles(80)
			files["profiles/WEB.yaml"] = "id: WEB\ninbound_rules:\n  - {action: allow, protocol: tcp, dst_ports: [99999]}\n"
			testenv.WriteFiles(t, dir, files)
			return nil, []string{"--dir", dir}
		},
		line:  regexp.MustCompile(`^the repository is invalid \(1 error\)$`),
		extra: regexp.MustCompile(`^.*profiles/WEB\.yaml:3:\d+: .*dst_ports.*$`),
	}, {
		name: "remote refuses the connection",
		args: []string{"--repo", "http://" + closed + "/policy.git"},
		line: regexp.MustCompile(`^fetch http://127\.0\.0\.1:\d+/policy\.git: git fetch: .*connection refused$`),
	}, {
		name: "remote does not answer",
		args: []string{"--repo", "http://" + silentListener(t) + "/policy.git", "--fetch-timeout", "1s"},
		line: regexp.MustCompile(`^fetch http://127\.0\.0\.1:\d+/policy\.git: no answer within 1s \(--fetch-timeout\)$`),
	}, {
		name: "ref that does not exist",
		args: []string{"--repo", f.url, "--ref", "no-such-branch"},
		line: regexp.MustCompile(`^fetch .*: ref "no-such-branch" .*$`),
	}, {
		name: "table of someone else",
		setup: func(t *testing.T, h *gitopsHost, f *failureFixture) ([]string, []string) {
			testenv.NetnsRun(t, h.ns, "nft", "add table inet filter; add chain inet filter input { type filter hook input priority 0; }")
			return nil, []string{"--repo", f.url, "--table", "filter"}
		},
		line: regexp.MustCompile(`^table inet filter exists and was not made by reconcile \(chain "input"\): choose another --table, or delete the table yourself$`),
	}, {
		name: "state directory is a file",
		setup: func(t *testing.T, h *gitopsHost, f *failureFixture) ([]string, []string) {
			p := filepath.Join(t.TempDir(), "state")
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			return nil, []string{"--repo", f.url, "--state-dir", p}
		},
		line: regexp.MustCompile(`^state directory ".*/state" is not a directory \(give --state-dir a directory, or move the file away\)$`),
	}, {
		name: "state directory full",
		setup: func(t *testing.T, h *gitopsHost, f *failureFixture) ([]string, []string) {
			dir := testenv.Tmpfs(t, "1m")
			testenv.FillDisk(t, dir)
			return nil, []string{"--dir", f.checkDir, "--state-dir", dir}
		},
		line: regexp.MustCompile(`^revision sha256:[0-9a-f]+ not applied: its model cannot be written to the state directory ".*" \(free space there or choose another --state-dir\): .*no space left on device$`),
	}, {
		name: "lock held by another process",
		setup: func(t *testing.T, h *gitopsHost, f *failureFixture) ([]string, []string) {
			hd, err := netns.Open(h.ns)
			if err != nil {
				t.Fatal(err)
			}
			defer hd.Close()
			key, err := lock.Key("reconcile", hd)
			if err != nil {
				t.Fatal(err)
			}
			l, err := lock.Acquire(context.Background(), key, false)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Release() })
			return nil, []string{"--repo", f.url}
		},
		line: regexp.MustCompile(`^another reconcile \(pid ` + strconv.Itoa(os.Getpid()) + `\) is applying to table inet reconcile in this namespace; try again later$`),
	}, {
		name: "history rewound on the remote",
		setup: func(t *testing.T, h *gitopsHost, f *failureFixture) ([]string, []string) {
			// A second host's state applied revision 2; then the remote goes back to 1.
			state := t.TempDir()
			h2 := &gitopsHost{t: t, bin: h.bin, ns: h.ns, state: state}
			h2.must("apply", "--repo", f.url, "--table", "rewound")
			f.repo.Git("push", "-q", "--force", "origin", f.c1+":refs/heads/main")
			t.Cleanup(func() { f.repo.Git("push", "-q", "--force", "origin", f.c2+":refs/heads/main") })
			return nil, []string{"--repo", f.url, "--table", "rewound", "--state-dir", state}
		},
		line: regexp.MustCompile(`^fetch .*: refusing to apply .*` + f.c1[:7] + `.*$`),
	}, {
		name: "without CAP_NET_ADMIN",
		setup: func(t *testing.T, h *gitopsHost, f *failureFixture) ([]string, []string) {
			setpriv, err := exec.LookPath("setpriv")
			if err != nil {
				testenv.SkipUnlessCI(t, "no setpriv (util-linux): install it through .ci/deps")
			}
			return []string{"ip", "netns", "exec", h.ns, setpriv, "--inh-caps=-all", "--bounding-set=-all", h.bin},
				[]string{"--dir", f.checkDir}
		},
		line: regexp.MustCompile(`^.*operation not permitted: reconcile needs CAP_NET_ADMIN in the network namespace \(run as root\)$`),
	}, {
		name: "flag value that does not parse",
		args: []string{"--repo", f.url, "--fetch-timeout", "soon"},
		line: regexp.MustCompile(`^invalid argument "soon" for "--fetch-timeout" flag: .*$`),
	}}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := h.ruleset()
			if before == "" {
				t.Fatal("no table before the case")
			}
			cmd, args := []string{h.bin}, c.args
			if c.setup != nil {
				var alt []string
				if alt, args = c.setup(t, h, f); alt != nil {
					cmd = alt
				}
			}
			full := append([]string{"apply", "--host", "node-1", "--log-format", "json"}, args...)
			if cmd[0] == h.bin {
				full = append(full, "--netns", h.ns)
				if !hasFlag(args, "--state-dir") {
					full = append(full, "--state-dir", h.state)
				}
			} else if !hasFlag(args, "--state-dir") {
				full = append(full, "--state-dir", t.TempDir())
			}
			_, stderr, code := h.exec(cmd[0], append(cmd[1:], full...)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstderr:\n%s", code, stderr)
			}
			checkFailureLines(t, c, stderr)
			if after := h.ruleset(); after != before {
				t.Errorf("the kernel's table changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	// After all of them, the host still converges to the remote's head.
	h.must("apply", "--repo", f.url)
	if st := h.status("--repo", f.url, "--full"); !st.InSync || !st.UpToDate {
		t.Errorf("after the failures: status %+v, want in sync and up to date", st)
	}
}

// checkFailureLines checks stderr of a failed apply: JSON log records, then (where c allows)
// validation errors, then exactly one line "reconcile: <c.line>; nothing was changed"; no log
// record of level ERROR, and no log record repeating the reason.
func checkFailureLines(t *testing.T, c failureCase, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	const prefix, suffix = "reconcile: ", "; nothing was changed"
	if !strings.HasPrefix(last, prefix) || !strings.HasSuffix(last, suffix) {
		t.Fatalf("last line %q: want %q…%q\nstderr:\n%s", last, prefix, suffix, stderr)
	}
	reason := strings.TrimSuffix(strings.TrimPrefix(last, prefix), suffix)
	if !c.line.MatchString(reason) {
		t.Errorf("reason %q does not match %s", reason, c.line)
	}
	for _, l := range lines[:len(lines)-1] {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) == nil {
			if rec["level"] == "ERROR" {
				t.Errorf("log record of level ERROR beside the error line: %s", l)
			}
			if msg, _ := rec["err"].(string); msg != "" && strings.Contains(reason, msg) && rec["level"] != "DEBUG" {
				t.Errorf("the reason is said twice, also in the log: %s", l)
			}
			continue
		}
		if c.extra == nil || !c.extra.MatchString(l) {
			t.Errorf("stderr line %q is neither a log record nor allowed before the reason\nstderr:\n%s", l, stderr)
		}
	}
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}
