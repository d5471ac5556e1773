package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitRepo is a work repository and the bare remote "origin" it pushes to, made with the git
// CLI without user or system config (reconcile/internal/gittest, which this package cannot
// import).
type gitRepo struct {
	t            *testing.T
	Work, Remote string
}

// gitIn runs git in dir and returns its trimmed output; it fails t when git fails.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	c := exec.Command("git", args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "HOME="+os.DevNull,
		"GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.invalid",
		"GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.invalid")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func newGitRepo(t *testing.T, branch string) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	root := t.TempDir()
	r := &gitRepo{t: t, Work: filepath.Join(root, "work"), Remote: filepath.Join(root, "remote.git")}
	gitIn(t, root, "init", "-q", "-b", branch, r.Work)
	gitIn(t, root, "init", "-q", "--bare", "-b", branch, r.Remote)
	r.Git("remote", "add", "origin", r.Remote)
	return r
}

func (r *gitRepo) Git(args ...string) string { r.t.Helper(); return gitIn(r.t, r.Work, args...) }

func (r *gitRepo) Write(files map[string]string) { r.t.Helper(); writeFiles(r.t, r.Work, files) }

// Commit writes files, commits everything and returns the commit hash.
func (r *gitRepo) Commit(msg string, files map[string]string) string {
	r.t.Helper()
	r.Write(files)
	r.Git("add", "-A")
	r.Git("commit", "-q", "--allow-empty", "-m", msg)
	return r.Git("rev-parse", "HEAD")
}

// fleetBase is a repository of 20 hosts node-1 … node-20: web-N on every host (profile WEB,
// which DB allows from), db-N on every fifth host (DB) and admin-3 on node-3 (ADMIN, whose
// tag no rule names), plus reachability tests.
func fleetBase() map[string]string {
	files := map[string]string{
		"profiles/WEB.yaml":   "id: WEB\ntags: [WEB]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [80, 443]\noutbound_rules:\n  - action: allow\n",
		"profiles/DB.yaml":    "id: DB\ntags: [DB]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [5432]\n    src_tag: WEB\noutbound_rules:\n  - action: allow\n",
		"profiles/ADMIN.yaml": "id: ADMIN\ntags: [ADMIN]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [22]\n    src_net: 198.18.0.0/24\noutbound_rules:\n  - action: allow\n",
		"tests/reach.yaml":    "tests:\n  - name: web-1 reaches db-5\n    from: web-1\n    to: db-5\n    protocol: tcp\n    port: 5432\n    expect: allow\n",
	}
	for n := 1; n <= 20; n++ {
		files[fmt.Sprintf("endpoints/node-%d.yaml", n)] = fleetHost(n, false)
	}
	return files
}

// fleetHost is the endpoint file of node-n; reorder puts its endpoints in reverse order.
func fleetHost(n int, reorder bool) string {
	eps := []string{fmt.Sprintf("  - id: web-%d\n    host: node-%d\n    interface: caliweb%d\n    ipv4_nets: [198.18.1.%d/32]\n    profile_ids: [WEB]\n", n, n, n, n)}
	if n%5 == 0 {
		eps = append(eps, fmt.Sprintf("  - id: db-%d\n    host: node-%d\n    interface: calidb%d\n    ipv4_nets: [198.18.2.%d/32]\n    profile_ids: [DB]\n", n, n, n, n))
	}
	if n == 3 {
		eps = append(eps, "  - id: admin-3\n    host: node-3\n    interface: caliadm3\n    ipv4_nets: [198.18.3.3/32]\n    profile_ids: [ADMIN]\n")
	}
	if reorder {
		for i, j := 0, len(eps)-1; i < j; i, j = i+1, j-1 {
			eps[i], eps[j] = eps[j], eps[i]
		}
	}
	return "endpoints:\n" + strings.Join(eps, "")
}

// fleetPR is the pull request: it changes the rulesets of node-3 (ADMIN's port) and node-12
// (web-12's interface), and, changing no host's ruleset, adds a profile no endpoint uses and a
// reachability test, reformats node-1's file (flow style) and reorders node-5's endpoints.
func fleetPR() map[string]string {
	return map[string]string{
		"profiles/ADMIN.yaml":    strings.Replace(fleetBase()["profiles/ADMIN.yaml"], "[22]", "[22, 2222]", 1),
		"endpoints/node-12.yaml": strings.Replace(fleetHost(12, false), "caliweb12\n", "caliweb12x\n", 1),
		"profiles/UNUSED.yaml":   "id: UNUSED\ntags: [UNUSED]\ninbound_rules:\n  - action: deny\n",
		"tests/reach.yaml":       fleetBase()["tests/reach.yaml"] + "  - name: web-2 reaches db-10\n    from: web-2\n    to: db-10\n    protocol: tcp\n    port: 5432\n    expect: allow\n",
		"endpoints/node-1.yaml":  "endpoints:\n- {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [\"198.18.1.1/32\"], profile_ids: [WEB]}\n",
		"endpoints/node-5.yaml":  fleetHost(5, true),
	}
}

// fleetRepo makes a git repository whose main branch holds fleetBase under sub ("" for the
// root) and whose branch pr adds fleetPR on top; the work tree is left on pr. It returns the
// repository and the commit of main.
func fleetRepo(t *testing.T, sub string) (*gitRepo, string) {
	t.Helper()
	r := newGitRepo(t, "main")
	in := func(files map[string]string) map[string]string {
		out := map[string]string{}
		for p, c := range files {
			out[filepath.ToSlash(filepath.Join(sub, p))] = c
		}
		return out
	}
	main := r.Commit("fleet", in(fleetBase()))
	r.Git("push", "-q", "origin", "HEAD")
	r.Git("checkout", "-q", "-b", "pr")
	r.Commit("change node-3 and node-12", in(fleetPR()))
	return r, main
}

// The pull request changes exactly node-3 and node-12, whichever way the base is named.
func TestPlanAllHostsPullRequest(t *testing.T) {
	r, mainCommit := fleetRepo(t, "")
	baseDir := t.TempDir()
	writeFiles(t, baseDir, fleetBase())
	for _, against := range []string{baseDir, "main", "origin/main", mainCommit, mainCommit[:10], "HEAD~1"} {
		t.Run(strings.ReplaceAll(against, "/", "_"), func(t *testing.T) {
			out, errs, code := runCLI("plan", "--all-hosts", "--dir", r.Work, "--against", against, "--state-dir", "", "--detailed-exitcode")
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s\nstdout:\n%s", code, errs, out)
			}
			checkFleetText(t, out)
		})
	}
}

func checkFleetText(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got, want := lines[len(lines)-1], "2 of 20 hosts change: node-3 (+1 ~1), node-12 (~1)."; got != want {
		t.Errorf("summary %q, want %q\n%s", got, want, out)
	}
	var hosts []string
	for _, l := range lines {
		if h, ok := strings.CutPrefix(l, "Host "); ok {
			hosts = append(hosts, h)
		}
	}
	if fmt.Sprint(hosts) != "[node-3: node-12:]" {
		t.Errorf("host sections %v, want node-3 and node-12\n%s", hosts, out)
	}
	for _, want := range []string{
		"Host node-3:\n~ profile ADMIN inbound\n",
		`+ meta nfproto ipv4 ip saddr 198.18.0.0/24 meta l4proto 6 th dport @ports-`,
		"Host node-12:\n~ endpoint web-12 (caliweb12x)\n",
		`"caliweb12x"`,
		"Plan: 0 to add, 1 to change, 0 to destroy.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// -o json: the fields a bot reads, and the plan of each host as plan -o json writes it.
func TestPlanAllHostsJSON(t *testing.T) {
	r, mainCommit := fleetRepo(t, "")
	out, errs, code := runCLI("plan", "--all-hosts", "--dir", r.Work, "--against", "main", "--state-dir", "", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d (no --detailed-exitcode), stderr:\n%s", code, errs)
	}
	var got struct {
		FormatVersion string `json:"format_version"`
		Head, Base    struct{ Source, Revision, Commit string }
		Table         string
		HostsCompared int `json:"hosts_compared"`
		HostsChanged  int `json:"hosts_changed"`
		Hosts         []struct {
			Host       string
			Changes    struct{ Add, Change, Destroy int }
			HeadDigest string `json:"head_ruleset_digest"`
			BaseDigest string `json:"base_ruleset_digest"`
			Plan       struct {
				Kind    string
				Table   string
				Changes struct{ Add, Change, Destroy int }
				Objects []struct{ Action, Kind, ID string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.FormatVersion != "1" || got.Table != "reconcile" || got.HostsCompared != 20 || got.HostsChanged != 2 || len(got.Hosts) != 2 {
		t.Fatalf("header fields wrong:\n%s", out)
	}
	if got.Base.Commit != mainCommit || got.Base.Revision != "main@sha1:"+mainCommit || !strings.HasPrefix(got.Base.Source, "git:") {
		t.Errorf("base %+v, want commit %s", got.Base, mainCommit)
	}
	if !strings.HasPrefix(got.Head.Source, "dir:") || !strings.HasPrefix(got.Head.Revision, "sha256:") {
		t.Errorf("head %+v, want the directory", got.Head)
	}
	for i, want := range []struct{ host, obj string }{{"node-3", "ADMIN"}, {"node-12", "web-12"}} {
		h := got.Hosts[i]
		if h.Host != want.host || h.Changes.Change != 1 || h.Changes.Destroy != 0 || h.Plan.Changes != h.Changes {
			t.Errorf("host %d: %+v, want %s with one change", i, h, want.host)
		}
		if !strings.HasPrefix(h.HeadDigest, "sha256:") || h.HeadDigest == h.BaseDigest || !strings.HasPrefix(h.BaseDigest, "sha256:") {
			t.Errorf("host %s: digests %q %q", h.Host, h.HeadDigest, h.BaseDigest)
		}
		if h.Plan.Kind != "plan" || len(h.Plan.Objects) != h.Changes.Add+1 || h.Plan.Objects[0].ID != want.obj || h.Plan.Objects[0].Action != "change" {
			t.Errorf("host %s: plan %+v, want a change of %s", h.Host, h.Plan, want.obj)
		}
	}
	// Each host's digests are those plan --nft of that host gives from each side.
	for _, h := range got.Hosts {
		one, _, _ := runCLI("plan", "--dir", r.Work, "--against", "main", "--host", h.Host, "--state-dir", "", "-o", "json")
		var single struct {
			Digest string `json:"ruleset_digest"`
		}
		if err := json.Unmarshal([]byte(one), &single); err != nil || single.Digest != h.HeadDigest {
			t.Errorf("host %s: head digest %s, plan --host gives %q (%v)", h.Host, h.HeadDigest, single.Digest, err)
		}
	}
}

// A pull request that changes no host's ruleset: exit 0 and the no-change summary.
func TestPlanAllHostsNoOp(t *testing.T) {
	r, _ := fleetRepo(t, "")
	// Undo the two changes: what is left changes no ruleset.
	r.Commit("undo", map[string]string{"profiles/ADMIN.yaml": fleetBase()["profiles/ADMIN.yaml"], "endpoints/node-12.yaml": fleetHost(12, false)})
	out, errs, code := runCLI("plan", "--all-hosts", "--dir", r.Work, "--against", "main", "--state-dir", "", "--detailed-exitcode")
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s\n%s", code, errs, out)
	}
	if !strings.HasSuffix(out, "\n\nNo host changes (20 hosts compared).\n") || strings.Contains(out, "Host ") {
		t.Errorf("output:\n%s", out)
	}
	if diff := r.Git("diff", "--stat", "main", "HEAD"); !strings.Contains(diff, "4 files changed") {
		t.Errorf("the no-op pull request should still change 4 files:\n%s", diff)
	}
}

// The policy directory is a subdirectory of the git work tree: REF is read at the same place.
func TestPlanAllHostsSubdirectory(t *testing.T) {
	r, _ := fleetRepo(t, "net/policy")
	r.Write(map[string]string{"README.md": "not a policy file\n"})
	out, errs, code := runCLI("plan", "--all-hosts", "--dir", filepath.Join(r.Work, "net", "policy"), "--against", "main", "--state-dir", "", "--detailed-exitcode")
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", code, errs)
	}
	checkFleetText(t, out)
	// The base names the policy directory inside the commit.
	if first, _, _ := strings.Cut(out, "\n"); !strings.Contains(first, " from git:"+r.Work+":net/policy,") {
		t.Errorf("the base should be named git:%s:net/policy: %s", r.Work, first)
	}
}

// A shallow clone as actions/checkout makes it (depth 1 of the pull request), and the base
// fetched with depth 1 beside it: --against origin/main resolves; HEAD~1 is not there.
func TestPlanAllHostsShallowClone(t *testing.T) {
	r, _ := fleetRepo(t, "")
	r.Git("push", "-q", "origin", "pr")
	ci := shallowCheckout(t, r.Remote)
	if n := gitIn(t, ci, "rev-list", "--count", "HEAD"); n != "1" {
		t.Fatalf("not a shallow clone: %s commits", n)
	}
	if out, errs, code := runCLI("plan", "--all-hosts", "--dir", ci, "--against", "origin/main", "--state-dir", ""); code != 1 ||
		!strings.Contains(errs, `--against "origin/main": not a directory, and not a revision of the git repository at `+ci+": ") {
		t.Fatalf("before the base is fetched: exit %d, want 1 and the revision not found\n%s%s", code, out, errs)
	}
	if _, errs, code := runCLI("plan", "--all-hosts", "--dir", ci, "--against", "HEAD~1", "--state-dir", ""); code != 1 || !strings.Contains(errs, `--against "HEAD~1": not a directory, and not a revision`) {
		t.Errorf("HEAD~1 in a shallow clone: exit %d\n%s", code, errs)
	}
	gitIn(t, ci, "fetch", "-q", "--depth=1", "origin", "main")
	out, errs, code := runCLI("plan", "--all-hosts", "--dir", ci, "--against", "origin/main", "--state-dir", "", "--detailed-exitcode")
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", code, errs)
	}
	checkFleetText(t, out)
	// What the fetch brought, by name.
	out, errs, code = runCLI("plan", "--all-hosts", "--dir", ci, "--against", "FETCH_HEAD", "--state-dir", "", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, " against FETCH_HEAD@sha1:") {
		t.Fatalf("--against FETCH_HEAD: exit %d; stderr:\n%s\n%s", code, errs, out)
	}
	checkFleetText(t, out)
	// plan of one host takes the same REF.
	out, errs, code = runCLI("plan", "--dir", ci, "--against", "origin/main", "--host", "node-3", "--state-dir", "", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, "~ profile ADMIN inbound") {
		t.Errorf("plan --host node-3 --against origin/main: exit %d\n%s%s", code, out, errs)
	}
}

// A host only in the base loses everything; a host only in the head gains everything.
func TestPlanAllHostsHostOnOneSide(t *testing.T) {
	base, head := t.TempDir(), t.TempDir()
	files := fleetBase()
	writeFiles(t, base, files)
	delete(files, "endpoints/node-7.yaml")
	files["endpoints/node-21.yaml"] = strings.ReplaceAll(fleetHost(3, false), "node-3", "node-21")
	files["endpoints/node-21.yaml"] = strings.NewReplacer("-3\n", "-21\n", "1.3/", "1.21/", "3.3/", "3.21/", "adm3", "adm21", "web3", "web21").Replace(files["endpoints/node-21.yaml"])
	writeFiles(t, head, files)
	out, errs, code := runCLI("plan", "--all-hosts", "--dir", head, "--against", base, "--state-dir", "", "--detailed-exitcode")
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", code, errs)
	}
	// web-7 leaves the WEB tag that DB allows from and web-21 joins it: the DB hosts change
	// too, by that tag. node-21, in the head only, gains everything; node-7 loses everything.
	want := "6 of 21 hosts change: node-5 (~1), node-7 (-7), node-10 (~1), node-15 (~1), node-20 (~1), node-21 (+10)."
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := lines[len(lines)-1]; got != want {
		t.Errorf("summary %q, want %q\n%s", got, want, out)
	}
	for _, s := range []string{"Host node-21:\n+ endpoint admin-21 (caliadm21)\n", "Host node-7:\n- endpoint web-7 (caliweb7)\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	// The other way round: node-7 comes, node-21 goes.
	out, errs, code = runCLI("plan", "--all-hosts", "--dir", base, "--against", head, "--state-dir", "", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errs)
	}
	var got struct {
		HostsChanged int `json:"hosts_changed"`
		Hosts        []struct {
			Host    string
			Changes struct{ Add, Change, Destroy int }
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range got.Hosts {
		switch h.Host {
		case "node-7":
			found = true
			if h.Changes != (struct{ Add, Change, Destroy int }{7, 0, 0}) {
				t.Errorf("node-7 in the base only: %+v", h.Changes)
			}
		case "node-21":
			if h.Changes != (struct{ Add, Change, Destroy int }{0, 0, 10}) {
				t.Errorf("node-21 in the head only, against it: %+v", h.Changes)
			}
		}
	}
	if !found || got.HostsChanged != 6 {
		t.Errorf("reverse: %s", out)
	}
}

// Errors: the flags --all-hosts refuses, an invalid head (positions), an invalid base (named
// by --against), a revision that does not resolve; all exit 1.
func TestPlanAllHostsErrors(t *testing.T) {
	r, _ := fleetRepo(t, "")
	bad := t.TempDir()
	files := fleetBase()
	files["profiles/WEB.yaml"] = strings.Replace(files["profiles/WEB.yaml"], "[80, 443]", "[80, 70000]", 1)
	writeFiles(t, bad, files)
	plain := t.TempDir()
	writeFiles(t, plain, fleetBase())
	r.Write(map[string]string{"moved/profiles/WEB.yaml": fleetBase()["profiles/WEB.yaml"]})
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"no against", []string{"--dir", r.Work}, []string{"--all-hosts needs --against DIR|REF"}},
		{"nft", []string{"--dir", r.Work, "--against", "main", "--nft"}, []string{"--all-hosts and --nft are exclusive"}},
		{"host", []string{"--dir", r.Work, "--against", "main", "--host", "node-3"}, []string{"--all-hosts and --host are exclusive"}},
		{"invalid head", []string{"--dir", bad, "--against", r.Work}, []string{"profiles/WEB.yaml:6:", "reconcile: the repository is invalid (1 error)"}},
		{"invalid base", []string{"--dir", r.Work, "--against", bad}, []string{"profiles/WEB.yaml:6:21: dst_ports: 70000", `reconcile: --against "` + bad + `": the repository is invalid (1 error)`}},
		{"unknown revision", []string{"--dir", r.Work, "--against", "no-such-branch"}, []string{`--against "no-such-branch": not a directory, and not a revision of the git repository at ` + r.Work + ": "}},
		{"directory not in the base commit", []string{"--dir", filepath.Join(r.Work, "moved"), "--against", "main"}, []string{`reconcile: --against "main": fetch git:` + r.Work + `@main:moved: directory "moved" does not exist in commit `}},
		{"no git repository", []string{"--dir", plain, "--against", "main"}, []string{`--against "main": not a directory, and not a revision of the git repository at ` + plain + ": "}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := runCLI(append([]string{"plan", "--all-hosts", "--state-dir", "", "--detailed-exitcode"}, c.args...)...)
			if code != 1 || out != "" {
				t.Errorf("exit %d, want 1, stdout %q", code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if strings.Count(errs, "profiles/WEB.yaml:6:") > 1 {
				t.Errorf("the error is said more than once:\n%s", errs)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(r.Work, ".git")); err != nil {
		t.Fatal(err)
	}
}
