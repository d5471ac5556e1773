package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// Log lines (debug) that show what a pass read: the repository's files, the kernel's table.
const (
	logFetched  = `msg=fetched`
	logObserved = `msg="observed nftables table"`
)

// noopRun runs reconcile with the common flags of one scenario and debug logs; it fails on a
// non-zero exit and returns stdout and stderr.
type noopRun struct {
	t     *testing.T
	ns    string
	src   []string // --dir D or --repo R
	state string
	host  string
}

func (r noopRun) run(step string, args ...string) (string, string) {
	r.t.Helper()
	all := append(args, r.src...)
	all = append(all, "--host", r.host, "--netns", r.ns, "--state-dir", r.state, "--log-level", "debug")
	out, errOut, code := runReconcile(r.t, all...)
	if code != 0 {
		r.t.Fatalf("%s: reconcile %s: exit %d\n%s%s", step, strings.Join(all, " "), code, out, errOut)
	}
	return out, errOut
}

// read reports whether the run's log shows the repository fetched and the table read.
func read(stderr string) (fetched, observed bool) {
	return strings.Contains(stderr, logFetched), strings.Contains(stderr, logObserved)
}

func kernelGeneration(t *testing.T, ns string) uint32 {
	t.Helper()
	k := openKernel(t, ns)
	g, err := k.Generation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// A fresh process with the same source revision and an unchanged kernel reads neither the
// repository nor the table (git and directory sources); status says in sync without reading
// the table, status --full reads it; a hand edit in the namespace moves the generation and is
// found as drift; a namespace deleted and made again under the same name, holding the same
// table at the same generation, is read in full (its netns cookie is new).
func TestKernelNoChangeFastPath(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"git", "dir"} {
		t.Run(kind, func(t *testing.T) {
			r := noopRun{t: t, ns: testenv.NewNetns(t, "noop-"+kind), state: filepath.Join(t.TempDir(), "state"), host: "node-1"}
			if kind == "git" {
				gittest.RequireGit(t)
				repo := gittest.NewRepo(t, "main")
				repo.Commit("policy", pasRepo, "")
				repo.Push()
				r.src = []string{"--repo", repo.Remote}
			} else {
				dir := t.TempDir()
				testenv.WriteFiles(t, dir, pasRepo)
				// A directory's files are trusted by their metadata only once they are older
				// than the file systems' timestamp granularity (2 s).
				time.Sleep(2100 * time.Millisecond)
				r.src = []string{"--dir", dir}
			}
			out, _ := r.run("first apply", "apply")
			if !strings.Contains(out, "Apply complete!") {
				t.Fatalf("first apply:\n%s", out)
			}
			out, errOut := r.run("no-change apply", "apply", "-o", "json")
			var res struct {
				Result string `json:"result"`
				Fast   bool   `json:"fast"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if f, o := read(errOut); !res.Fast || res.Result != "no-change" || f || o {
				t.Fatalf("no-change apply from a fresh process: fast %v result %q, fetched %v, table read %v\n%s%s", res.Fast, res.Result, f, o, out, errOut)
			}
			out, _ = r.run("fast text", "apply")
			if !strings.Contains(out, "repository and table not read") {
				t.Errorf("fast apply text:\n%s", out)
			}

			// status: in sync from the identity; --full reads the table.
			st := func(step string, args ...string) (inSync, tableRead bool, stderr string) {
				t.Helper()
				out, errOut := r.run(step, append([]string{"status", "-o", "json"}, args...)...)
				var s struct {
					InSync    bool `json:"in_sync"`
					TableRead bool `json:"table_read"`
				}
				if err := json.Unmarshal([]byte(out), &s); err != nil {
					t.Fatalf("%s: %v\n%s", step, err, out)
				}
				return s.InSync, s.TableRead, errOut
			}
			if in, tr, errOut := st("status"); !in || tr || strings.Contains(errOut, logObserved) {
				t.Errorf("status: in sync %v, table read %v\n%s", in, tr, errOut)
			}
			if in, tr, errOut := st("status --full", "--full"); !in || !tr || !strings.Contains(errOut, logObserved) {
				t.Errorf("status --full: in sync %v, table read %v\n%s", in, tr, errOut)
			}
			out, _ = r.run("status text", "status")
			if !strings.Contains(out, "In sync") || !strings.Contains(out, "table not read") {
				t.Errorf("status text:\n%s", out)
			}

			// A hand edit in our table: the generation moves, status reads and finds the drift,
			// apply reads and heals it.
			testenv.NetnsRun(t, r.ns, "nft", "add", "rule", "inet", "reconcile", "forward-from", "counter")
			if in, tr, _ := st("status after a hand edit"); in || !tr {
				t.Errorf("status after a hand edit: in sync %v, table read %v", in, tr)
			}
			out, errOut = r.run("apply after a hand edit", "apply")
			if _, o := read(errOut); !o || !strings.Contains(out, "Apply complete!") {
				t.Errorf("apply after a hand edit: table read %v\n%s", o, out)
			}
			_, errOut = r.run("no-change apply after healing", "apply")
			if f, o := read(errOut); f || o {
				t.Errorf("no-change apply after healing: fetched %v, table read %v", f, o)
			}
		})
	}
}

// The namespace deleted and made again under the same name, then brought to the recorded
// generation holding exactly the applied table (a restore): boot id and generation match, the
// netns cookie does not, so the pass reads the table.
func TestKernelNoChangeNamespaceRecreated(t *testing.T) {
	t.Parallel()
	gittest.RequireGit(t)
	repo := gittest.NewRepo(t, "main")
	repo.Commit("policy", pasRepo, "")
	repo.Push()
	r := noopRun{t: t, ns: testenv.NewNetns(t, "noop-re"), state: filepath.Join(t.TempDir(), "state"), host: "node-1",
		src: []string{"--repo", repo.Remote}}
	r.run("first apply", "apply")
	script, _ := r.run("the applied ruleset", "plan", "--nft")
	scriptFile := filepath.Join(t.TempDir(), "table.nft")
	if err := os.WriteFile(scriptFile, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(r.state, "reconcile@"+r.ns+".state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		LastApplied struct {
			Generation  uint32 `json:"generation"`
			NetnsCookie uint64 `json:"netns_cookie"`
		} `json:"last_applied"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.LastApplied.Generation == 0 || rec.LastApplied.NetnsCookie == 0 {
		t.Fatalf("no identity recorded:\n%s", b)
	}

	testenv.Run(t, "ip", "netns", "del", r.ns)
	testenv.Run(t, "ip", "netns", "add", r.ns)
	want := rec.LastApplied.Generation
	for i := 0; kernelGeneration(t, r.ns)+1 < want; i++ {
		testenv.NetnsRun(t, r.ns, "nft", "add", "table", "inet", fmt.Sprintf("x%d", i))
	}
	testenv.NetnsRun(t, r.ns, "nft", "-f", scriptFile)
	if g := kernelGeneration(t, r.ns); g != want {
		t.Fatalf("the new namespace is at generation %d, not the recorded %d: cannot set the test up", g, want)
	}
	out, errOut := r.run("apply in the recreated namespace", "apply")
	if _, o := read(errOut); !o || strings.Contains(out, "not read") {
		t.Fatalf("apply in a recreated namespace at the recorded generation did not read the table:\n%s%s", out, errOut)
	}
	if out, _ := r.run("status", "status"); !strings.Contains(out, "In sync") {
		t.Errorf("status after the read:\n%s", out)
	}
}
