package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/source/git"
)

// parseGlobals parses args as the root command's persistent flags and returns the globals.
func parseGlobals(t *testing.T, args ...string) *globals {
	t.Helper()
	g := &globals{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	root := newRootCmd(g)
	if err := root.PersistentFlags().Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return g
}

// openSource opens the policy source the flags describe, as every command's Agent does.
func (g *globals) openSource() (source.Source, error) {
	a, err := g.agent(false)
	if err != nil {
		return nil, err
	}
	return a.Source()
}

// gitRepoFixture makes a git repository with one profile committed on main.
func gitRepoFixture(t *testing.T) (dir, commit string) {
	t.Helper()
	dir = t.TempDir()
	run := func(args ...string) string {
		c := exec.Command("git", args...)
		c.Dir = dir
		c.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.invalid",
			"GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.invalid")
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles", "WEB.yaml"), []byte("id: WEB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", "-A")
	run("commit", "-q", "-m", "web")
	return dir, run("rev-parse", "HEAD")
}

func TestOpenSourceGit(t *testing.T) {
	repo, commit := gitRepoFixture(t)
	state := t.TempDir()
	g := parseGlobals(t, "--repo", repo, "--ref", "main", "--state-dir", state, "--allow-rewind")
	src, err := g.openSource()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(*git.Source); !ok {
		t.Fatalf("source is %T, want *git.Source", src)
	}
	snap, err := src.Fetch(context.Background(), source.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != "main@sha1:"+commit || string(snap.Files["profiles/WEB.yaml"]) != "id: WEB\n" {
		t.Errorf("snapshot %+v", snap)
	}
	// The clone lives under --state-dir.
	cache := git.CacheDirFor(state, repo)
	if !strings.HasPrefix(cache, filepath.Join(state, "git")+"/") {
		t.Errorf("cache %s is not under %s/git", cache, state)
	}
	if _, err := os.Stat(filepath.Join(cache, "HEAD")); err != nil {
		t.Errorf("no bare clone in %s: %v", cache, err)
	}
}

func TestOpenSourceFlagErrors(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "none.asc")
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--repo", "/r", "--dir", "/d"}, "--repo and --dir are exclusive"},
		{[]string{"--ref", "main"}, "--ref needs --repo"},
		{[]string{"--dir", "/d", "--verify", "head"}, "--verify needs --repo: a plain directory has no signatures"},
		{[]string{"--trusted-keys", keys}, "--trusted-keys needs --repo"},
		{[]string{"--repo", "/r", "--verify", "head"}, "--verify=head needs --trusted-keys"},
		{[]string{"--repo", "/r", "--verify", "maybe"}, `unknown verification mode "maybe" (want none, head or all)`},
		{[]string{"--repo", "/r", "--verify", "all", "--trusted-keys", keys}, "trusted keys: open " + keys + ": no such file or directory"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			g := parseGlobals(t, tc.args...)
			_, err := g.openSource()
			if err == nil || err.Error() != tc.err {
				t.Errorf("got %v, want %q", err, tc.err)
			}
		})
	}
	g := parseGlobals(t)
	if src, err := g.openSource(); err != nil || src.String() != "dir:." {
		t.Errorf("default: %v %v", src, err)
	}
}

// --fetch-timeout reaches the Agent's Config (default 60s, Flux's).
func TestFetchTimeoutFlag(t *testing.T) {
	if g := parseGlobals(t); g.git.fetchTimeout != 60*time.Second {
		t.Errorf("default --fetch-timeout %v, want 1m0s", g.git.fetchTimeout)
	}
	if g := parseGlobals(t, "--fetch-timeout", "2s"); g.git.fetchTimeout != 2*time.Second {
		t.Errorf("--fetch-timeout 2s gave %v", g.git.fetchTimeout)
	}
}

// --fetch-timeout 0 or negative is refused: the flag is the longest one fetch may take, and
// 0 read as the library's "default" (60s) and a negative one as "no bound" (a silent remote
// then hangs apply for ever), neither of which the flag says.
func TestFetchTimeoutFlagMustBePositive(t *testing.T) {
	for _, v := range []string{"0", "-1s"} {
		_, stderr, code := runCLI("apply", "--dir", t.TempDir(), "--fetch-timeout", v)
		want := fmt.Sprintf("reconcile: --fetch-timeout must be positive (such as 60s), not %s; nothing was changed\n", v)
		if v == "0" {
			want = strings.Replace(want, "not 0", "not 0s", 1)
		}
		if code != 1 || stderr != want {
			t.Errorf("--fetch-timeout %s: exit %d, stderr %q; want 1, %q", v, code, stderr, want)
		}
	}
}

// A bad --table stops apply before anything is read or written, and apply says so.
func TestApplyBadTableSaysNothingWasChanged(t *testing.T) {
	_, stderr, code := runCLI("apply", "--dir", t.TempDir(), "--table", "policy")
	if code != 1 || !strings.HasPrefix(stderr, "reconcile: --table: ") || !strings.HasSuffix(stderr, "; nothing was changed\n") {
		t.Errorf("apply --table policy: exit %d, stderr %q", code, stderr)
	}
}
