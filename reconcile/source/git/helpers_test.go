package git

import (
	"errors"
	"os"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// skipUnlessCI skips t because a tool it needs is missing, except under CI=true (where
// .ci/run installs every tool), where it fails instead: a missing tool must not hide tests.
func skipUnlessCI(t *testing.T, format string, args ...any) {
	t.Helper()
	testenv.SkipUnlessCI(t, format, args...)
}

// gpgHome is the temporary GNUPGHOME with two keys, made once by TestMain (gittest.MakeKeys);
// when gpg is missing, the signature tests skip (fail under CI=true).
var (
	gpgMissing   bool
	gpgHome      string
	trustedFpr   string // fingerprint of "Trusted <trusted@example.invalid>"
	untrustedFpr string // fingerprint of "Stranger <stranger@example.invalid>"
	trustedKeys  string // file with the armored public key of the trusted key
	gpgSetupErr  error
)

func TestMain(m *testing.M) {
	code := func() int {
		keys, cleanup, err := gittest.MakeKeys()
		defer cleanup()
		switch {
		case errors.Is(err, gittest.ErrNoGPG):
			gpgMissing = true
		case err != nil:
			gpgSetupErr = err
		default:
			gpgHome, trustedFpr, untrustedFpr, trustedKeys = keys.Home, keys.Trusted, keys.Stranger, keys.TrustedFile
		}
		return m.Run()
	}()
	os.Exit(code)
}

func requireGPG(t *testing.T) {
	t.Helper()
	if gpgMissing {
		skipUnlessCI(t, "gpg is not installed")
	}
	if gpgSetupErr != nil {
		t.Fatalf("gpg setup: %v", gpgSetupErr)
	}
}

// gitRun runs the git CLI in dir with a fixed identity, no user or system config, and a clock
// that moves one minute per command (gittest.Git).
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.Git(t, dir, gpgHome, args...)
}

// newFixture makes a work repository on branch and a bare remote whose HEAD is that branch;
// its commits are signed with keys of gpgHome.
func newFixture(t *testing.T, branch string) *gittest.Repo {
	t.Helper()
	r := gittest.NewRepo(t, branch)
	r.GNUPG = gpgHome
	return r
}
