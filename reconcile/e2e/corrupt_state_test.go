package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// Issue 11, point 2: a state record or clone that is damaged or gone. Each case damages what
// a first `reconcile apply --repo` left in the state directory, lets the kernel drift, and
// checks with the built binary against a real namespace: plan and status go on and say so,
// apply exits 0 saying it in one line, the kernel ends holding exactly the desired ruleset
// (its canonical digest), a second apply is a normal pass, status --full is in sync.

// corruptCase is one damage. line is what apply's stderr must say once ("": nothing to
// say), statusField the status JSON field that must be set before the apply ("" none).
type corruptCase struct {
	name        string
	damage      func(t *testing.T, h *gitopsHost, head, model, clone string)
	line        string
	statusField string
}

var corruptCases = []corruptCase{
	{"head truncated", func(t *testing.T, h *gitopsHost, head, model, clone string) { testenv.TruncateHalf(t, head) },
		"is unreadable (truncated or not JSON); moved to", "state_error"},
	{"head empty", func(t *testing.T, h *gitopsHost, head, model, clone string) { testenv.Overwrite(t, head, "") },
		"is unreadable (empty); moved to", "state_error"},
	{"head garbage", func(t *testing.T, h *gitopsHost, head, model, clone string) {
		testenv.Overwrite(t, head, "\x7fELF\x02\x01garbage")
	},
		"is unreadable (truncated or not JSON); moved to", "state_error"},
	{"head of a future version", func(t *testing.T, h *gitopsHost, head, model, clone string) {
		testenv.Overwrite(t, head, `{"version": 7, "table": "reconcile", "history": []}`)
	}, "is unreadable (version 7 (this program reads 1 and 2)); moved to", "state_error"},
	{"head of another table", func(t *testing.T, h *gitopsHost, head, model, clone string) {
		testenv.Overwrite(t, head, `{"version": 2, "table": "fw", "history": []}`)
	}, `is unreadable (for table \"fw\"); moved to`, "state_error"},
	{"state dir deleted", func(t *testing.T, h *gitopsHost, head, model, clone string) { testenv.Remove(t, h.state) }, "", ""},
	{"model deleted", func(t *testing.T, h *gitopsHost, head, model, clone string) { testenv.Remove(t, model) },
		"the recorded model is unreadable (state model file", "model_error"},
	{"model truncated", func(t *testing.T, h *gitopsHost, head, model, clone string) { testenv.TruncateHalf(t, model) },
		"the recorded model is unreadable (state model file", "model_error"},
	{"model bit-flipped", func(t *testing.T, h *gitopsHost, head, model, clone string) {
		b, err := os.ReadFile(model)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x04
		testenv.Overwrite(t, model, string(b))
	}, "the recorded model is unreadable (state model file", "model_error"},
	{"clone dir deleted", func(t *testing.T, h *gitopsHost, head, model, clone string) { testenv.Remove(t, clone) },
		"is missing; cloning again", ""},
	{"clone pack deleted", func(t *testing.T, h *gitopsHost, head, model, clone string) {
		for _, p := range globN(t, filepath.Join(clone, "objects", "pack", "*.pack")) {
			testenv.Remove(t, p)
		}
	}, "is damaged (", ""},
	{"clone objects garbled", func(t *testing.T, h *gitopsHost, head, model, clone string) {
		for _, p := range globN(t, filepath.Join(clone, "objects", "pack", "*.pack")) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for i := 12; i < len(b)-20; i++ {
				b[i] ^= 0xa5
			}
			testenv.Overwrite(t, p, string(b))
		}
	}, "is damaged (", ""},
	{"clone HEAD garbled", func(t *testing.T, h *gitopsHost, head, model, clone string) {
		testenv.Overwrite(t, filepath.Join(clone, "HEAD"), "\x00\x00")
	},
		"is damaged (HEAD", ""},
	{"clone half-made", func(t *testing.T, h *gitopsHost, head, model, clone string) {
		// A first clone killed after it made its directories: no HEAD, no config, no ref.
		testenv.Remove(t, clone)
		if err := os.MkdirAll(filepath.Join(clone, "objects", "pack"), 0o755); err != nil {
			t.Fatal(err)
		}
		testenv.Overwrite(t, filepath.Join(clone, "objects", "pack", "tmp_pack_4242"), "PACK\x00\x00")
	}, "is damaged (not a git repository", ""},
}

func globN(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("nothing matches %s (%v)", pattern, err)
	}
	return m
}

// kernelDigest is the canonical digest of table inet reconcile in the namespace ("" when
// there is no such table).
func kernelDigest(t *testing.T, ns string) string {
	t.Helper()
	k := openKernel(t, ns)
	rs, err := k.Observe(context.Background(), nft.DefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	if rs == nil {
		return ""
	}
	return rs.Canonical().Digest()
}

// statusJSON runs status -o json with extra and returns the decoded object and the exit code.
func (h *gitopsHost) statusMap(extra ...string) (map[string]any, int) {
	h.t.Helper()
	out, errs, code := h.run("status", append([]string{"-o", "json"}, extra...)...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		h.t.Fatalf("status -o json: exit %d: %v\n%s%s", code, err, out, errs)
	}
	return m, code
}

// headAndClone are the state head of the host's namespace, its model file, and the git clone.
func (h *gitopsHost) headAndClone(t *testing.T) (head, model, clone string) {
	t.Helper()
	head = filepath.Join(h.state, "reconcile@"+h.ns+".state.json")
	var rec struct {
		LastApplied struct {
			ModelFile string `json:"model_file"`
		} `json:"last_applied"`
	}
	b, err := os.ReadFile(head)
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.LastApplied.ModelFile == "" {
		t.Fatalf("state head %s: %v\n%s", head, err, b)
	}
	clones := globN(t, filepath.Join(h.state, "git", "*[0-9a-f]"))
	return head, filepath.Join(h.state, rec.LastApplied.ModelFile), clones[0]
}

func TestKernelCorruptStateRecovered(t *testing.T) {
	for _, c := range corruptCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newGitopsHost(t, "corrupt")
			r := gittest.NewRepo(t, "main")
			r.Commit("web: 80", gitopsFiles(80), "")
			r.Push()
			out := h.must("apply", "--repo", r.Remote, "-o", "json")
			var first struct {
				Digest string `json:"ruleset_digest"`
			}
			if err := json.Unmarshal([]byte(out), &first); err != nil {
				t.Fatal(err)
			}
			want := strings.TrimPrefix(first.Digest, "sha256:")
			if got := kernelDigest(t, h.ns); got != want {
				t.Fatalf("after the first apply the kernel's digest is %s, want %s", got, want)
			}
			// The remote moves on: the pass after the damage has a commit to apply.
			r.Commit("web: 80, 443", gitopsFiles(80, 443), "")
			r.Push()
			head, model, clone := h.headAndClone(t)
			c.damage(t, h, head, model, clone)
			// The kernel drifts meanwhile (someone flushed a chain): apply must read it.
			if out, err := exec.Command("ip", "netns", "exec", h.ns, "nft", "flush", "chain", "inet", "reconcile", "profile-in-WEB").CombinedOutput(); err != nil {
				t.Fatalf("nft flush chain: %v: %s", err, out)
			}
			before, _ := os.ReadFile(head)

			if c.statusField != "" {
				m, code := h.statusMap("--repo", r.Remote, "--detailed-exitcode")
				if code != 2 || m["in_sync"] != false {
					t.Errorf("status --detailed-exitcode after %s: exit %d, in_sync %v; want 2, false", c.name, code, m["in_sync"])
				}
				if s, _ := m[c.statusField].(string); s == "" {
					t.Errorf("status JSON has no %s after %s: %v", c.statusField, c.name, m)
				}
				text, errs, _ := h.run("status", "--repo", r.Remote)
				unknown := ""
				for _, l := range strings.Split(text, "\n") {
					if strings.HasPrefix(l, "Not in sync (unknown): ") {
						unknown = l
					}
				}
				if unknown == "" || !strings.Contains(unknown, h.state) || strings.Contains(errs, "level=WARN") {
					t.Errorf("status after %s: want one line saying it is unknown, naming the file, and no warning:\n%s%s", c.name, text, errs)
				}
				t.Logf("status after %s says: %s", c.name, unknown)
				if _, errs, code := h.run("plan", "--repo", r.Remote); code != 0 || !strings.Contains(errs, "reading the kernel in full") {
					t.Errorf("plan after %s: exit %d, stderr:\n%s", c.name, code, errs)
				}
				if after, _ := os.ReadFile(head); string(after) != string(before) {
					t.Errorf("status or plan changed the state head")
				}
			}

			out, errs, code := h.run("apply", "--repo", r.Remote, "-o", "json")
			if code != 0 {
				t.Fatalf("apply after %s: exit %d\n%s%s", c.name, code, out, errs)
			}
			for _, l := range strings.Split(errs, "\n") {
				if strings.Contains(l, "level=WARN") {
					t.Logf("apply after %s says: %s", c.name, l)
				}
			}
			warns := strings.Count(errs, "level=WARN")
			if c.line == "" && warns != 0 || c.line != "" && (warns != 1 || strings.Count(errs, c.line) != 1) {
				t.Errorf("apply after %s: %d warnings, want %d saying %q:\n%s", c.name, warns, min(1, len(c.line)), c.line, errs)
			}
			var res struct {
				Result string `json:"result"`
				Digest string `json:"ruleset_digest"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || res.Result != "applied" {
				t.Errorf("apply after %s: %v %s", c.name, err, out)
			}
			if got := kernelDigest(t, h.ns); got == "" || got != strings.TrimPrefix(res.Digest, "sha256:") {
				t.Errorf("after the recovery the kernel's digest is %s, want %s", got, res.Digest)
			}
			h.assertPorts("after the recovery", 80, 443)
			if strings.HasPrefix(c.name, "head") {
				if moved := globN(t, head+".unreadable-*"); len(moved) != 1 {
					t.Errorf("moved aside: %v", moved)
				} else if b, _ := os.ReadFile(moved[0]); string(b) != string(before) {
					t.Errorf("%s does not hold the bad head", moved[0])
				}
			}

			// A second apply is a normal pass: no warning, nothing to do.
			out, errs, code = h.run("apply", "--repo", r.Remote)
			if code != 0 || strings.Contains(errs, "level=WARN") || !strings.Contains(out, "No changes.") {
				t.Errorf("second apply after %s: exit %d\n%s%s", c.name, code, out, errs)
			}
			m, code := h.statusMap("--repo", r.Remote, "--full", "--detailed-exitcode")
			if code != 0 || m["in_sync"] != true || m["up_to_date"] != true || m["state_error"] != nil || m["model_error"] != nil {
				t.Errorf("status --full after the recovery from %s: exit %d, %v", c.name, code, m)
			}
		})
	}
}

// A state directory that is a file: apply, plan and status fail at once (exit 1, stage
// state) naming it, and the kernel is not touched.
func TestKernelStateDirIsAFile(t *testing.T) {
	h := newGitopsHost(t, "cstfile")
	r := gittest.NewRepo(t, "main")
	r.Commit("web: 80", gitopsFiles(80), "")
	r.Push()
	h.must("apply", "--repo", r.Remote)
	testenv.Remove(t, h.state)
	testenv.Overwrite(t, h.state, "not a directory")
	r.Commit("web: 80, 443", gitopsFiles(80, 443), "")
	r.Push()
	for _, cmd := range []string{"apply", "plan", "status"} {
		out, errs, code := h.run(cmd, "--repo", r.Remote)
		if code != 1 || !strings.Contains(errs, "is not a directory") || !strings.Contains(errs, h.state) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%s with the state directory a file: exit %d, want 1 and one line naming it\n%s%s", cmd, code, out, errs)
		}
		if cmd == "apply" && !strings.Contains(errs, "nothing was changed") {
			t.Errorf("apply's error does not say nothing was changed: %s", errs)
		}
	}
	h.assertPorts("after the refused apply", 80)
}

// Never apply something older than the commit applied last: with the state record lost or
// unreadable, the clone's refs/reconcile/applied/<stem> still names it, and a remote
// force-pushed to an older commit is refused (stage history), the kernel unchanged.
func TestKernelRewindRefusedWithoutStateRecord(t *testing.T) {
	for _, lose := range []string{"deleted", "garbled"} {
		t.Run(lose, func(t *testing.T) {
			t.Parallel()
			h := newGitopsHost(t, "crewind")
			r := gittest.NewRepo(t, "main")
			c1 := r.Commit("web: 80", gitopsFiles(80), "")
			r.Push()
			h.must("apply", "--repo", r.Remote)
			c2 := r.Commit("web: 80, 443", gitopsFiles(80, 443), "")
			r.Push()
			h.must("apply", "--repo", r.Remote)
			head, _, clone := h.headAndClone(t)
			if got := gittest.Git(t, clone, "", "rev-parse", "refs/reconcile/applied/reconcile@"+h.ns); got != c2 {
				t.Fatalf("the clone's applied ref = %s, want %s", got, c2)
			}
			if lose == "deleted" {
				testenv.Remove(t, head)
			} else {
				testenv.Overwrite(t, head, "{\"version\": 2, \"tab")
			}
			r.Git("reset", "-q", "--hard", c1)
			r.Push()
			out, errs, code := h.run("apply", "--repo", r.Remote)
			if code != 1 {
				t.Fatalf("apply of a rewound remote with the record %s: exit %d, want 1\n%s%s", lose, code, out, errs)
			}
			for _, want := range []string{"refusing to apply " + c1[:7], "last applied commit " + c2[:7], "moved backwards", "nothing was changed"} {
				if !strings.Contains(errs, want) {
					t.Errorf("apply's error does not say %q:\n%s", want, errs)
				}
			}
			h.assertPorts("after the refused rewind", 80, 443)
			// watch refuses it too, after moving nothing more aside.
			w := h.watch("--repo", r.Remote, "--interval", "1s", "--heal=disabled")
			m := w.waitLog("the refused rewind", 0, 15*time.Second, func(m map[string]any) bool {
				return m["msg"] == "reconcile failed; the last good ruleset stays in the kernel" && m["stage"] == "history"
			})
			if m["reason"] != "backwards" {
				t.Errorf("watch's rewind error: reason %v, want backwards", m["reason"])
			}
			w.stop()
			h.assertPorts("after watch met the rewind", 80, 443)
		})
	}
}

// watch with an unreadable head moves it aside once and then runs normally: one warning, the
// recovery counted once, passes that go on succeeding.
func TestKernelWatchUnreadableHeadOnce(t *testing.T) {
	h := newGitopsHost(t, "cwatch")
	r := gittest.NewRepo(t, "main")
	r.Commit("web: 80", gitopsFiles(80), "")
	r.Push()
	h.must("apply", "--repo", r.Remote)
	head, _, _ := h.headAndClone(t)
	testenv.Overwrite(t, head, "")
	r.Commit("web: 80, 443", gitopsFiles(80, 443), "")
	r.Push()
	addr := gitopsFreeAddr(t)
	w := h.watch("--repo", r.Remote, "--interval", "1s", "--metrics-addr", addr)
	h.waitPorts(15*time.Second, 80, 443)
	// Three more passes.
	from := w.mark()
	for i := 0; i < 3; i++ {
		_, from = w.find(from, gitopsMsg("no changes"))
		if from < 0 {
			w.waitLog("a no-change pass", w.mark(), 15*time.Second, gitopsMsg("no changes"))
			from = w.mark()
		} else {
			from++
		}
	}
	w.waitMetric(5*time.Second, "reconcile_recoveries_total", []string{`kind="state-unreadable"`}, func(v float64) bool { return v == 1 }, "1")
	w.stop()
	if n := strings.Count(w.log(), "is unreadable (empty)"); n != 1 {
		t.Errorf("watch warned %d times about the unreadable head, want once:\n%s", n, w.log())
	}
	if strings.Contains(w.log(), "reconcile failed") {
		t.Errorf("a watch pass failed:\n%s", w.log())
	}
	if moved := globN(t, head+".unreadable-*"); len(moved) != 1 {
		t.Errorf("moved aside: %v, want one file", moved)
	}
}

// A model file damaged while nothing else changed (same commit, kernel untouched, the ruleset
// generation the one recorded): status must not say in sync from the generation alone, and
// apply must not take its fast no-change path over it; it writes the model file again.
func TestKernelModelDamagedNothingElseChanged(t *testing.T) {
	for _, damage := range []string{"bit-flipped", "deleted"} {
		t.Run(damage, func(t *testing.T) {
			t.Parallel()
			h := newGitopsHost(t, "cmodel")
			r := gittest.NewRepo(t, "main")
			r.Commit("web: 80", gitopsFiles(80), "")
			r.Push()
			h.must("apply", "--repo", r.Remote)
			if _, code := h.statusMap("--repo", r.Remote, "--detailed-exitcode"); code != 0 {
				t.Fatalf("status after the first apply: exit %d", code)
			}
			_, model, _ := h.headAndClone(t)
			good, err := os.ReadFile(model)
			if err != nil {
				t.Fatal(err)
			}
			if damage == "deleted" {
				testenv.Remove(t, model)
			} else {
				b := append([]byte(nil), good...)
				b[len(b)-100] ^= 0x01
				testenv.Overwrite(t, model, string(b))
			}
			m, code := h.statusMap("--repo", r.Remote, "--detailed-exitcode")
			if me, _ := m["model_error"].(string); code != 2 || m["in_sync"] != false || !strings.Contains(me, model) || m["table_read"] != true {
				t.Errorf("status with the model %s: exit %d, %v; want 2, not in sync, model_error naming %s, the table read", damage, code, m, model)
			}
			out, errs, code := h.run("apply", "--repo", r.Remote)
			if code != 0 || !strings.Contains(out, "No changes.") || strings.Count(errs, "level=WARN") != 1 || !strings.Contains(errs, "the recorded model is unreadable") {
				t.Errorf("apply with the model %s: exit %d\n%s%s", damage, code, out, errs)
			}
			if b, err := os.ReadFile(model); err != nil || string(b) != string(good) {
				t.Errorf("apply did not write the model file again (%v)", err)
			}
			out, errs, code = h.run("apply", "--repo", r.Remote)
			if code != 0 || strings.Contains(errs, "level=WARN") || !strings.Contains(out, "repository and table not read") {
				t.Errorf("second apply is not the fast no-change pass: exit %d\n%s%s", code, out, errs)
			}
			if m, code := h.statusMap("--repo", r.Remote, "--detailed-exitcode"); code != 0 || m["in_sync"] != true {
				t.Errorf("status after the recovery: exit %d, %v", code, m)
			}
		})
	}
}

// A remote that cannot be reached is not a damaged clone: apply fails at the fetch (exit 1,
// nothing changed) and the clone stays exactly as it was; when the remote is back, the same
// clone fetches.
func TestKernelUnreachableRemoteKeepsClone(t *testing.T) {
	h := newGitopsHost(t, "cunreach")
	r := gittest.NewRepo(t, "main")
	r.Commit("web: 80", gitopsFiles(80), "")
	r.Push()
	h.must("apply", "--repo", r.Remote)
	_, _, clone := h.headAndClone(t)
	packs := globN(t, filepath.Join(clone, "objects", "pack", "*.pack"))
	if err := os.Rename(r.Remote, r.Remote+".away"); err != nil {
		t.Fatal(err)
	}
	out, errs, code := h.run("apply", "--repo", r.Remote)
	t.Logf("apply with the remote gone says: %s", errs)
	if code != 1 || !strings.Contains(errs, "nothing was changed") || strings.Contains(errs, "cloning again") {
		t.Errorf("apply with the remote gone: exit %d, want 1 without a re-clone\n%s%s", code, out, errs)
	}
	if got := globN(t, filepath.Join(clone, "objects", "pack", "*.pack")); strings.Join(got, " ") != strings.Join(packs, " ") {
		t.Errorf("the clone's packs changed: %v, were %v", got, packs)
	}
	h.assertPorts("with the remote gone", 80)
	if err := os.Rename(r.Remote+".away", r.Remote); err != nil {
		t.Fatal(err)
	}
	r.Commit("web: 80, 443", gitopsFiles(80, 443), "")
	r.Push()
	if _, errs, code := h.run("apply", "--repo", r.Remote); code != 0 || strings.Contains(errs, "level=WARN") {
		t.Errorf("apply with the remote back: exit %d\n%s", code, errs)
	}
	h.assertPorts("with the remote back", 80, 443)
}
