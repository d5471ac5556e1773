// Package gittest holds the git and gpg fixtures that tests share: a work repository pushing
// to a bare remote, made with the git CLI under a fixed identity and no user or system
// config, and a pair of gpg signing keys in a short temporary GNUPGHOME.
//
// Where git or gpg is missing, the helpers skip the test, except under CI=true, where they
// fail it (testenv.SkipUnlessCI).
package gittest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// clock gives every git command its own author and committer date, one minute after the
// previous command's, so that commits made in quick succession never share a date.
var clock atomic.Int64

// RequireGit skips t when the git binary is missing (fails it under CI=true).
func RequireGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		testenv.SkipUnlessCI(t, "git is not installed")
	}
}

// Env is the environment Git runs git with: the process's own, no system or global config
// (GIT_CONFIG_NOSYSTEM=1, GIT_CONFIG_GLOBAL=/dev/null, HOME=/dev/null), a fixed author and
// committer with dates from a clock that moves one minute per call, and GNUPGHOME=gnupg when
// gnupg is not "".
func Env(gnupg string) []string {
	when := fmt.Sprintf("@%d +0000", 1_700_000_000+60*clock.Add(1))
	env := append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "HOME="+os.DevNull,
		"GIT_AUTHOR_NAME=Author", "GIT_AUTHOR_EMAIL=author@example.invalid", "GIT_AUTHOR_DATE="+when,
		"GIT_COMMITTER_NAME=Committer", "GIT_COMMITTER_EMAIL=committer@example.invalid", "GIT_COMMITTER_DATE="+when,
	)
	if gnupg != "" {
		env = append(env, "GNUPGHOME="+gnupg)
	}
	return env
}

// Git runs the git CLI in dir with Env(gnupg) and returns its trimmed output; it fails t when
// git fails.
func Git(t testing.TB, dir, gnupg string, args ...string) string {
	t.Helper()
	RequireGit(t)
	c := exec.Command("git", args...)
	c.Dir = dir
	c.Env = Env(gnupg)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Repo is a work repository and the bare remote ("origin") it pushes to.
type Repo struct {
	T      testing.TB
	Work   string // the work tree
	Remote string // the bare remote repository
	GNUPG  string // GNUPGHOME for signed commits ("" when none)
}

// NewRepo makes a work repository on branch and a bare remote whose HEAD is that branch, in a
// temporary directory of t.
func NewRepo(t testing.TB, branch string) *Repo {
	t.Helper()
	root := t.TempDir()
	r := &Repo{T: t, Work: filepath.Join(root, "work"), Remote: filepath.Join(root, "remote.git")}
	Git(t, root, "", "init", "-q", "-b", branch, r.Work)
	Git(t, root, "", "init", "-q", "--bare", "-b", branch, r.Remote)
	Git(t, r.Work, "", "remote", "add", "origin", r.Remote)
	return r
}

// Git runs git in the work tree (with the repository's GNUPGHOME) and returns its trimmed
// output.
func (r *Repo) Git(args ...string) string {
	r.T.Helper()
	return Git(r.T, r.Work, r.GNUPG, args...)
}

// Write writes files (repository path -> content) in the work tree; an empty content removes
// the file.
func (r *Repo) Write(files map[string]string) {
	r.T.Helper()
	for p, c := range files {
		full := filepath.Join(r.Work, filepath.FromSlash(p))
		if c == "" {
			if err := os.Remove(full); err != nil {
				r.T.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.T.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			r.T.Fatal(err)
		}
	}
}

// Commit writes files, commits everything (signed with the gpg key signingKey when it is not
// "") and returns the commit hash. It does not push.
func (r *Repo) Commit(msg string, files map[string]string, signingKey string) string {
	r.T.Helper()
	if signingKey == "" {
		return r.CommitWith(msg, files, "commit")
	}
	return r.CommitWith(msg, files, "-c", "gpg.program=gpg", "-c", "user.signingkey="+signingKey, "commit", "-S")
}

// CommitWith writes files, stages everything and runs git with args (a commit command and its
// options) followed by "-q --allow-empty -m msg"; it returns the new HEAD.
func (r *Repo) CommitWith(msg string, files map[string]string, args ...string) string {
	r.T.Helper()
	r.Write(files)
	r.Git("add", "-A")
	r.Git(append(args, "-q", "--allow-empty", "-m", msg)...)
	return r.Git("rev-parse", "HEAD")
}

// Push force-pushes the current branch to the remote branch of the same name, with the tags.
func (r *Repo) Push() {
	r.T.Helper()
	r.Git("push", "-q", "--force", "--tags", "origin", "HEAD")
}

// PushAll force-pushes every branch, then every tag, to the remote.
func (r *Repo) PushAll() {
	r.T.Helper()
	r.Git("push", "-q", "--force", "--all", "origin")
	r.Git("push", "-q", "--force", "--tags", "origin")
}

// Keys are two gpg signing keys (ed25519) in one GNUPGHOME: a trusted one, whose armored
// public key is in TrustedFile, and a stranger.
type Keys struct {
	Home        string // GNUPGHOME
	Trusted     string // fingerprint of the trusted key
	Stranger    string // fingerprint of the stranger's key
	TrustedFile string // armored public key of Trusted
}

// ErrNoGPG is returned by MakeKeys when the gpg binary is missing.
var ErrNoGPG = errors.New("gpg is not installed")

// MakeKeys generates Keys in a short new temporary directory (the agent's socket path is
// bounded). The caller must call cleanup (also after an error other than ErrNoGPG): it stops
// the gpg agent and removes the directory. For a TestMain; tests use GPG.
func MakeKeys() (keys *Keys, cleanup func(), err error) {
	if _, err := exec.LookPath("gpg"); err != nil {
		return nil, func() {}, ErrNoGPG
	}
	dir, err := os.MkdirTemp("", "rgpg")
	if err != nil {
		return nil, func() {}, err
	}
	home := filepath.Join(dir, "g")
	cleanup = func() {
		c := exec.Command("gpgconf", "--kill", "gpg-agent")
		c.Env = append(os.Environ(), "GNUPGHOME="+home)
		_ = c.Run()
		_ = os.RemoveAll(dir)
	}
	keys, err = makeKeys(dir, home)
	if err != nil {
		return nil, cleanup, fmt.Errorf("gpg keys: %w", err)
	}
	return keys, cleanup, nil
}

// GPG generates Keys for t (skipping it, or failing it under CI=true, when gpg is missing).
// Call it once in a parent test and share the keys with its subtests: the agent is stopped and
// the directory removed when t ends.
func GPG(t testing.TB) *Keys {
	t.Helper()
	keys, cleanup, err := MakeKeys()
	t.Cleanup(cleanup)
	if errors.Is(err, ErrNoGPG) {
		testenv.SkipUnlessCI(t, "gpg is not installed")
	}
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func makeKeys(dir, home string) (*Keys, error) {
	if err := os.Mkdir(home, 0o700); err != nil {
		return nil, err
	}
	gpg := func(args ...string) (string, error) {
		c := exec.Command("gpg", append([]string{"--batch", "--no-tty"}, args...)...)
		c.Env = append(os.Environ(), "GNUPGHOME="+home)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil {
			return "", fmt.Errorf("gpg %s: %w: %s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out), nil
	}
	gen := func(uid string) (string, error) {
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
	k := &Keys{Home: home}
	var err error
	if k.Trusted, err = gen("Trusted <trusted@example.invalid>"); err != nil {
		return nil, err
	}
	if k.Stranger, err = gen("Stranger <stranger@example.invalid>"); err != nil {
		return nil, err
	}
	pub, err := gpg("--armor", "--export", k.Trusted)
	if err != nil {
		return nil, err
	}
	k.TrustedFile = filepath.Join(dir, "trusted.asc")
	return k, os.WriteFile(k.TrustedFile, []byte(pub), 0o644)
}
