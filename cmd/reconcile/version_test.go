package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/buildinfo"
)

// `reconcile version` of a binary built from this checkout says what `go version -m` says of
// the same binary: module version, VCS revision, time and modified flag, Go version, and the
// google/nftables and go-git versions; `--version` prints the same text as `version`.
func TestVersionIsGoVersionM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "reconcile")
	// -buildvcs=auto as the Makefile builds: stamped with the revision in a git checkout,
	// whatever GOFLAGS says.
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mOut, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	want := map[string]string{}
	for i, line := range strings.Split(string(mOut), "\n") {
		f := strings.Fields(line)
		switch {
		case i == 0 && len(f) == 2:
			want["go"] = f[1]
		case len(f) >= 3 && f[0] == "mod":
			want["module"], want["module_version"] = f[1], f[2]
		case len(f) >= 3 && f[0] == "dep" && f[1] == buildinfo.NftablesModule:
			want["nftables"] = f[2]
		case len(f) >= 3 && f[0] == "dep" && f[1] == buildinfo.GoGitModule:
			want["go_git"] = f[2]
		case len(f) == 2 && f[0] == "build":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				want[k] = v
			}
		}
	}
	out, err := exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("reconcile version -o json: %v", err)
	}
	var got buildinfo.Version
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("version JSON: %v\n%s", err, out)
	}
	for _, c := range []struct{ name, got, want string }{
		{"go version", got.GoVersion, want["go"]},
		{"module", got.Module, want["module"]},
		{"module version", got.ModuleVersion, want["module_version"]},
		{"nftables", got.Nftables, want["nftables"]},
		{"go-git", got.GoGit, want["go_git"]},
		{"vcs.revision", got.Revision, want["vcs.revision"]},
		{"vcs.time", got.Time, want["vcs.time"]},
		{"platform", got.Platform, want["GOOS"] + "/" + want["GOARCH"]},
	} {
		if c.got != c.want || c.want == "" && c.name != "vcs.revision" && c.name != "vcs.time" {
			t.Errorf("%s: reconcile version says %q, go version -m %q", c.name, c.got, c.want)
		}
	}
	if m := want["vcs.modified"]; m != "" && (m == "true") != got.Modified {
		t.Errorf("vcs.modified: reconcile version says %v, go version -m %s", got.Modified, m)
	}
	// In a git checkout (CI clones one) the revision is the checkout's HEAD. Not in a linked
	// work tree (git worktree add: .git is a file): the go command stamps VCS information
	// only where .git is a directory, so the build there has none (then the table above
	// checked that reconcile says none either).
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		top, _ := exec.Command("git", "rev-parse", "--show-toplevel").Output()
		if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err == nil && !fi.IsDir() {
			t.Logf("a linked git work tree: the go command stamps no VCS information here")
		} else if h := strings.TrimSpace(string(head)); got.Revision != h {
			t.Errorf("vcs revision %q, git rev-parse HEAD %q", got.Revision, h)
		}
	}
	text, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	flag, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(text, flag) {
		t.Errorf("--version prints\n%s\nversion prints\n%s", flag, text)
	}
	for _, s := range []string{got.ModuleVersion, got.GoVersion, got.Nftables, got.GoGit} {
		if !strings.Contains(string(text), s) {
			t.Errorf("reconcile version text lacks %q:\n%s", s, text)
		}
	}
}
