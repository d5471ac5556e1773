package gitsource

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/testenv"
)

// skipUnlessCI skips t because a tool it needs is missing, except under CI=true (where
// .ci/run installs every tool), where it fails instead: a missing tool must not hide tests.
func skipUnlessCI(t *testing.T, format string, args ...any) {
	t.Helper()
	if testenv.InCI() {
		t.Fatalf(format+", and CI=true forbids skipping", args...)
	}
	t.Skipf(format, args...)
}

// gpgHome is the temporary GNUPGHOME with two keys, made once by TestMain; "" when gpg is
// missing (the signature tests then skip).
var (
	gpgHome      string
	trustedFpr   string // fingerprint of "Trusted <trusted@example.invalid>"
	untrustedFpr string // fingerprint of "Stranger <stranger@example.invalid>"
	trustedKeys  string // file with the armored public key of the trusted key
	gpgSetupErr  error
)

func TestMain(m *testing.M) {
	code := func() int {
		if _, err := exec.LookPath("gpg"); err == nil {
			dir, err := os.MkdirTemp("", "rgpg")
			if err != nil {
				panic(err)
			}
			defer os.RemoveAll(dir)
			gpgSetupErr = setupGPG(dir)
			defer func() {
				c := exec.Command("gpgconf", "--kill", "gpg-agent")
				c.Env = append(os.Environ(), "GNUPGHOME="+gpgHome)
				_ = c.Run()
			}()
		}
		return m.Run()
	}()
	os.Exit(code)
}

func setupGPG(dir string) error {
	home := filepath.Join(dir, "gnupg")
	if err := os.Mkdir(home, 0o700); err != nil {
		return err
	}
	gpgHome = home
	gpg := func(args ...string) (string, error) {
		c := exec.Command("gpg", append([]string{"--batch", "--no-tty"}, args...)...)
		c.Env = append(os.Environ(), "GNUPGHOME="+home)
		out, err := c.Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return "", fmt.Errorf("gpg %s: %v: %s", strings.Join(args, " "), err, ee.Stderr)
			}
			return "", err
		}
		return string(out), nil
	}
	fpr := func(uid string) (string, error) {
		if _, err := gpg("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"); err != nil {
			return "", err
		}
		out, err := gpg("--with-colons", "--fingerprint", uid)
		if err != nil {
			return "", err
		}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Split(l, ":"); f[0] == "fpr" && len(f) > 9 {
				return f[9], nil
			}
		}
		return "", fmt.Errorf("no fingerprint for %q", uid)
	}
	var err error
	if trustedFpr, err = fpr("Trusted <trusted@example.invalid>"); err != nil {
		return err
	}
	if untrustedFpr, err = fpr("Stranger <stranger@example.invalid>"); err != nil {
		return err
	}
	pub, err := gpg("--armor", "--export", trustedFpr)
	if err != nil {
		return err
	}
	trustedKeys = filepath.Join(dir, "trusted.asc")
	return os.WriteFile(trustedKeys, []byte(pub), 0o644)
}

func requireGPG(t *testing.T) {
	t.Helper()
	if gpgHome == "" {
		skipUnlessCI(t, "gpg is not installed")
	}
	if gpgSetupErr != nil {
		t.Fatalf("gpg setup: %v", gpgSetupErr)
	}
}

var clock atomic.Int64

// gitRun runs the git CLI in dir with a fixed identity, no user or system config, and a clock
// that moves one minute per commit.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	when := fmt.Sprintf("@%d +0000", 1_700_000_000+60*clock.Add(1))
	c := exec.Command("git", args...)
	c.Dir = dir
	c.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Author", "GIT_AUTHOR_EMAIL=author@example.invalid", "GIT_AUTHOR_DATE="+when,
		"GIT_COMMITTER_NAME=Committer", "GIT_COMMITTER_EMAIL=committer@example.invalid", "GIT_COMMITTER_DATE="+when,
		"GNUPGHOME="+gpgHome,
	)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// repoFixture is a working repository "work" and a bare "remote" it pushes to.
type repoFixture struct {
	t            *testing.T
	work, remote string
}

// newFixture makes a work repository on branch and a bare remote whose HEAD is that branch.
func newFixture(t *testing.T, branch string) *repoFixture {
	t.Helper()
	root := t.TempDir()
	f := &repoFixture{t: t, work: filepath.Join(root, "work"), remote: filepath.Join(root, "remote.git")}
	gitRun(t, root, "init", "-q", "-b", branch, f.work)
	gitRun(t, root, "init", "-q", "--bare", "-b", branch, f.remote)
	gitRun(t, f.work, "remote", "add", "origin", f.remote)
	return f
}

// write writes files (path -> content; "" content removes the file) in the work tree.
func (f *repoFixture) write(files map[string]string) {
	f.t.Helper()
	for p, c := range files {
		full := filepath.Join(f.work, filepath.FromSlash(p))
		if c == "" {
			if err := os.Remove(full); err != nil {
				f.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
}

// commit writes files, commits everything (signed with key when key != "") and returns the hash.
func (f *repoFixture) commit(msg string, files map[string]string, key string) string {
	f.t.Helper()
	f.write(files)
	gitRun(f.t, f.work, "add", "-A")
	args := []string{"commit", "-q", "--allow-empty", "-m", msg}
	if key != "" {
		args = append([]string{"-c", "gpg.program=gpg", "-c", "user.signingkey=" + key}, append(args, "-S")...)
	}
	gitRun(f.t, f.work, args...)
	return gitRun(f.t, f.work, "rev-parse", "HEAD")
}

// commitWith writes files and runs git with args (a commit command and its options), with
// "-q --allow-empty -m msg" appended, and returns the new HEAD.
func (f *repoFixture) commitWith(msg string, files map[string]string, args ...string) string {
	f.t.Helper()
	f.write(files)
	gitRun(f.t, f.work, "add", "-A")
	gitRun(f.t, f.work, append(args, "-q", "--allow-empty", "-m", msg)...)
	return gitRun(f.t, f.work, "rev-parse", "HEAD")
}

// push force-pushes the current branch (and tags) to the remote.
func (f *repoFixture) push() {
	f.t.Helper()
	gitRun(f.t, f.work, "push", "-q", "--force", "--tags", "origin", "HEAD")
}

func (f *repoFixture) pushAll() {
	f.t.Helper()
	gitRun(f.t, f.work, "push", "-q", "--force", "--all", "origin")
	gitRun(f.t, f.work, "push", "-q", "--force", "--tags", "origin")
}
