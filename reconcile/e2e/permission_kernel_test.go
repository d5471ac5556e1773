package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// TestKernelWithoutCapNetAdmin runs the built binary without CAP_NET_ADMIN in the namespace
// (setpriv: as nobody, and as root with every capability dropped): apply and status exit 1
// with one line saying what reconcile needs (apply adding that nothing was changed), and the
// namespace's ruleset and generation are unchanged.
func TestKernelWithoutCapNetAdmin(t *testing.T) {
	t.Parallel()
	testenv.RequireKernel(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		testenv.SkipUnlessCI(t, "no setpriv (util-linux): install it through .ci/deps")
	}
	ns := testenv.NewNetns(t, "noperm")
	// A directory every user can read and write: the binary, the repository, state dirs.
	dir, err := os.MkdirTemp("", "reconcile-noperm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "reconcile")
	b, err := os.ReadFile(reconcileBin(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, "repo")
	testenv.WriteFiles(t, repo, pasRepo)
	if err := filepath.Walk(repo, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chmod(p, fi.Mode()|0o555)
	}); err != nil {
		t.Fatal(err)
	}
	rootState := filepath.Join(dir, "state-root")
	if out, errOut, code := runReconcile(t, "apply", "--dir", repo, "--host", "node-1", "--netns", ns, "--state-dir", rootState); code != 0 {
		t.Fatalf("apply as root: exit %d\n%s%s", code, out, errOut)
	}
	ruleset := testenv.NetnsRun(t, ns, "nft", "-a", "list", "ruleset")
	gen := kernelGeneration(t, ns)

	const needs = "reconcile needs CAP_NET_ADMIN in the network namespace (run as root)"
	for _, who := range []struct {
		name string
		args []string
	}{
		{"nobody", []string{"--reuid=65534", "--regid=65534", "--clear-groups"}},
		{"root without capabilities", nil},
	} {
		state := rootState
		if who.name == "nobody" {
			state = filepath.Join(dir, "state-nobody")
			if err := os.Mkdir(state, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		for _, cmd := range []string{"apply", "status"} {
			for _, where := range [][]string{{"ip", "netns", "exec", ns}, {}} {
				args := append(append(append([]string{}, where...), setpriv), who.args...)
				args = append(args, "--inh-caps=-all", "--bounding-set=-all", bin, cmd, "--dir", repo, "--host", "node-1", "--state-dir", state)
				if len(where) == 0 {
					args = append(args, "--netns", ns)
				}
				c := exec.Command(args[0], args[1:]...)
				var out, errb strings.Builder
				c.Stdout, c.Stderr = &out, &errb
				_ = c.Run()
				code := c.ProcessState.ExitCode()
				errOut := errb.String()
				want := needs
				if cmd == "apply" {
					want += "; nothing was changed"
				}
				what := who.name + " " + cmd
				if len(where) == 0 {
					what += " --netns"
				}
				if code != 1 || out.String() != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "reconcile: ") ||
					!strings.HasSuffix(errOut, want+"\n") || !(strings.Contains(errOut, "operation not permitted: ") || strings.Contains(errOut, "permission denied: ")) {
					t.Errorf("%s: exit %d\nstdout %q\nstderr %q\nwant exit 1 and one line ending %q", what, code, out.String(), errOut, want)
				}
			}
		}
	}
	if got := testenv.NetnsRun(t, ns, "nft", "-a", "list", "ruleset"); got != ruleset {
		t.Errorf("the ruleset changed:\n%s\nwas:\n%s", got, ruleset)
	}
	if g := kernelGeneration(t, ns); g != gen {
		t.Errorf("generation %d, was %d", g, gen)
	}
}
