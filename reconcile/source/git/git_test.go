package git

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/source"
)

const (
	webProfile = "id: WEB\ninbound_rules:\n  - action: allow\n"
	endpoints  = "endpoints:\n  - id: web-1\n    host: node-1\n    interface: caliweb1\n    profile_ids: [WEB]\n"
)

func newSource(t *testing.T, url string, mod func(*Options)) *Source {
	t.Helper()
	opts := Options{URL: url, CacheDir: filepath.Join(t.TempDir(), "cache")}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func fetch(t *testing.T, s *Source, last string) *source.Snapshot {
	t.Helper()
	snap, err := s.Fetch(context.Background(), source.FetchOptions{LastApplied: last})
	if err != nil {
		t.Fatalf("Fetch(last=%q): %v", last, err)
	}
	return snap
}

func paths(files map[string][]byte) []string {
	var ps []string
	for p := range files {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

func TestCloneThenFetchNewCommit(t *testing.T) {
	f := newFixture(t, "main")
	c1 := f.Commit("first", map[string]string{
		"profiles/WEB.yaml":    webProfile,
		"endpoints/nodes.yaml": endpoints,
		"tests/reach.yaml":     "expectations: []\n",
		"README.md":            "# policy\n",
		"other/x.yaml":         "not: ours\n",
		"profiles/sub/X.yaml":  "id: X\n",
		"profiles/notes.txt":   "ignored\n",
	}, "")
	f.Push()
	s := newSource(t, f.Remote, nil)

	snap := fetch(t, s, "")
	if snap.Commit != c1 || snap.Revision != "main@sha1:"+c1 || snap.Source != f.Remote {
		t.Errorf("snapshot = %+v, want commit %s, revision main@sha1:%s, source %s", snap, c1, c1, f.Remote)
	}
	want := []string{"endpoints/nodes.yaml", "profiles/WEB.yaml", "tests/reach.yaml"}
	if got := paths(snap.Files); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("files = %v, want %v", got, want)
	}
	if string(snap.Files["profiles/WEB.yaml"]) != webProfile {
		t.Errorf("profiles/WEB.yaml = %q", snap.Files["profiles/WEB.yaml"])
	}
	if snap.Verified != "" {
		t.Errorf("Verified = %q without verification", snap.Verified)
	}

	c2 := f.Commit("second", map[string]string{"profiles/DB.yaml": "id: DB\n", "tests/reach.yaml": ""}, "")
	f.Push()
	snap = fetch(t, s, c1)
	if snap.Commit != c2 {
		t.Fatalf("after a new commit: got %s, want %s", snap.Commit, c2)
	}
	want = []string{"endpoints/nodes.yaml", "profiles/DB.yaml", "profiles/WEB.yaml"}
	if got := paths(snap.Files); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("files = %v, want %v", got, want)
	}
	// Nothing new: the same snapshot, for the caller to skip.
	again := fetch(t, s, c2)
	if again.Commit != c2 || again.Revision != snap.Revision || len(again.Files) != len(snap.Files) {
		t.Errorf("up to date: got %+v", again)
	}
	// The cache is a bare clone: no worktree files.
	if _, err := os.Stat(filepath.Join(s.opts.CacheDir, "profiles")); !os.IsNotExist(err) {
		t.Errorf("cache has a worktree: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.opts.CacheDir, "HEAD")); err != nil {
		t.Errorf("cache is not a bare repository: %v", err)
	}
	// A second source on the same cache (another process, later) reuses it.
	s2, err := New(Options{URL: f.Remote, CacheDir: s.opts.CacheDir})
	if err != nil {
		t.Fatal(err)
	}
	if snap := fetch(t, s2, c2); snap.Commit != c2 {
		t.Errorf("reused cache: %s", snap.Commit)
	}
}

func TestRefs(t *testing.T) {
	f := newFixture(t, "main")
	c1 := f.Commit("one", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
	gitRun(t, f.Work, "tag", "v1")
	gitRun(t, f.Work, "tag", "-a", "-m", "annotated", "v1a")
	c2 := f.Commit("two", map[string]string{"profiles/B.yaml": "id: B\n"}, "")
	gitRun(t, f.Work, "branch", "dev", c1)
	gitRun(t, f.Work, "branch", "same", c2)
	gitRun(t, f.Work, "tag", "same", c1) // a branch and a tag with one name, apart
	f.PushAll()

	for _, tc := range []struct {
		ref, commit, revision, err string
	}{
		{ref: "", commit: c2, revision: "main@sha1:" + c2},
		{ref: "main", commit: c2, revision: "main@sha1:" + c2},
		{ref: "dev", commit: c1, revision: "dev@sha1:" + c1},
		{ref: "refs/heads/dev", commit: c1, revision: "dev@sha1:" + c1},
		{ref: "v1", commit: c1, revision: "v1@sha1:" + c1},
		{ref: "v1a", commit: c1, revision: "v1a@sha1:" + c1},
		{ref: "refs/tags/v1a", commit: c1, revision: "v1a@sha1:" + c1},
		{ref: c1, commit: c1, revision: "sha1:" + c1},
		{ref: c1[:10], commit: c1, revision: "sha1:" + c1},
		{ref: strings.ToUpper(c2[:8]), commit: c2, revision: "sha1:" + c2},
		{ref: "refs/heads/same", commit: c2, revision: "same@sha1:" + c2},
		{ref: "refs/tags/same", commit: c1, revision: "same@sha1:" + c1},
		{ref: "same", err: `ref "same" is both a branch and a tag; use refs/heads/same or refs/tags/same`},
		{ref: "nope", err: `ref "nope" is not a branch, tag or commit of the repository`},
		{ref: "refs/heads/nope", err: `ref "refs/heads/nope" is not a branch of the repository`},
		{ref: "refs/tags/nope", err: `ref "refs/tags/nope" is not a tag of the repository`},
		{ref: "0000000000", err: `ref "0000000000" is not a branch, tag or commit of the repository`},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			s := newSource(t, f.Remote, func(o *Options) { o.Ref = tc.ref })
			snap, err := s.Fetch(context.Background(), source.FetchOptions{})
			if tc.err != "" {
				var re *RefError
				if err == nil || err.Error() != tc.err || !errors.As(err, &re) {
					t.Fatalf("got %v, want *RefError %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if snap.Commit != tc.commit || snap.Revision != tc.revision {
				t.Errorf("got %s %s, want %s %s", snap.Commit, snap.Revision, tc.commit, tc.revision)
			}
		})
	}
}

// TestDefaultBranch uses a remote whose default branch is "trunk", next to a "main".
func TestDefaultBranch(t *testing.T) {
	f := newFixture(t, "trunk")
	trunk := f.Commit("on trunk", map[string]string{"profiles/T.yaml": "id: T\n"}, "")
	gitRun(t, f.Work, "checkout", "-q", "-b", "main")
	f.Commit("on main", map[string]string{"profiles/M.yaml": "id: M\n"}, "")
	f.PushAll()

	snap := fetch(t, newSource(t, f.Remote, nil), "")
	if snap.Revision != "trunk@sha1:"+trunk {
		t.Errorf("revision %s, want trunk@sha1:%s", snap.Revision, trunk)
	}
	if _, ok := snap.Files["profiles/M.yaml"]; ok {
		t.Error("read the main branch instead of the default trunk")
	}
}

// TestTreeNotWorktree points the source at a non-bare repository with a dirty worktree: only
// the committed tree is read.
func TestTreeNotWorktree(t *testing.T) {
	f := newFixture(t, "main")
	c := f.Commit("committed", map[string]string{"profiles/WEB.yaml": webProfile}, "")
	f.Write(map[string]string{
		"profiles/WEB.yaml":    "id: WEB\ninbound_rules: [{action: deny}]\n",
		"profiles/DIRTY.yaml":  "id: DIRTY\n",
		"endpoints/local.yaml": endpoints,
	})
	gitRun(t, f.Work, "add", "profiles/DIRTY.yaml") // staged, not committed: still not seen

	snap := fetch(t, newSource(t, f.Work, nil), "")
	if snap.Commit != c {
		t.Fatalf("commit %s, want %s", snap.Commit, c)
	}
	if got := paths(snap.Files); len(got) != 1 || string(snap.Files["profiles/WEB.yaml"]) != webProfile {
		t.Errorf("files %v, WEB = %q; want only the committed WEB", got, snap.Files["profiles/WEB.yaml"])
	}
}

func TestSymlinkRefused(t *testing.T) {
	f := newFixture(t, "main")
	f.Write(map[string]string{"real.yaml": webProfile})
	if err := os.MkdirAll(filepath.Join(f.Work, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../real.yaml", filepath.Join(f.Work, "profiles", "WEB.yaml")); err != nil {
		t.Fatal(err)
	}
	f.Commit("link", nil, "")
	snap := fetch(t, newSource(t, f.Work, nil), "")
	if len(snap.Files) != 0 || len(snap.Refused) != 1 || snap.Refused[0].Error() != "profiles/WEB.yaml: a symbolic link (links are not followed): put the file itself here" {
		t.Fatalf("files %v, refused %v; want only profiles/WEB.yaml refused as a symbolic link", paths(snap.Files), snap.Refused)
	}
}

func TestHistorySafety(t *testing.T) {
	f := newFixture(t, "main")
	a := f.Commit("a", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
	b := f.Commit("b", map[string]string{"profiles/B.yaml": "id: B\n"}, "")
	c := f.Commit("c", map[string]string{"profiles/C.yaml": "id: C\n"}, "")
	f.Push()
	cache := filepath.Join(t.TempDir(), "cache")
	src := func(allow bool) *Source {
		s, err := New(Options{URL: f.Remote, CacheDir: cache, AllowRewind: allow})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := fetch(t, src(false), a).Commit; got != c { // a fast-forward over two commits
		t.Fatalf("fast-forward: got %s, want %s", got, c)
	}

	expectRewind := func(last, head, kind, reason string) {
		t.Helper()
		_, err := src(false).Fetch(context.Background(), source.FetchOptions{LastApplied: last})
		var re *RewindError
		if !errors.As(err, &re) {
			t.Fatalf("got %v, want *RewindError", err)
		}
		want := "refusing to apply " + head[:7] + " (main@sha1:" + head + "): it does not descend from the last applied commit " +
			last[:7] + "; " + reason + "; use --allow-rewind to apply it anyway"
		if err.Error() != want {
			t.Errorf("message\n got %s\nwant %s", err, want)
		}
		if re.Kind != kind || re.Commit != head || re.LastApplied != last {
			t.Errorf("error fields %+v", re)
		}
		snap, err := src(true).Fetch(context.Background(), source.FetchOptions{LastApplied: last})
		if err != nil || snap.Commit != head {
			t.Errorf("with AllowRewind: %v, %v", snap, err)
		}
	}

	// Force-push backwards to b.
	gitRun(t, f.Work, "reset", "-q", "--hard", b)
	f.Push()
	expectRewind(c, b, RewindBackwards, "the ref moved backwards (it is an ancestor of the last applied commit)")

	// Rewrite: d on top of a, dropping b and c.
	gitRun(t, f.Work, "reset", "-q", "--hard", a)
	d := f.Commit("d", map[string]string{"profiles/D.yaml": "id: D\n"}, "")
	f.Push()
	expectRewind(c, d, RewindDiverged, "history was rewritten (the two diverged after "+a[:7]+")")

	// A different history altogether.
	gitRun(t, f.Work, "checkout", "-q", "--orphan", "fresh")
	gitRun(t, f.Work, "rm", "-q", "-rf", "--cached", ".")
	e := f.Commit("e", map[string]string{"profiles/E.yaml": "id: E\n"}, "")
	gitRun(t, f.Work, "push", "-q", "--force", "origin", "fresh:main")
	expectRewind(d, e, RewindUnrelated, "the two commits have no history in common")

	// A last applied commit the repository never held.
	unknown := strings.Repeat("ab", 20)
	expectRewind(unknown, e, RewindUnrelated, "the last applied commit is not in the history of the repository (history was rewritten, or this is another repository)")

	if _, err := src(false).Fetch(context.Background(), source.FetchOptions{LastApplied: "sha256:abc"}); err == nil {
		t.Error("a last applied value that is not a commit hash was accepted")
	}
}

func TestUnreachableRemote(t *testing.T) {
	f := newFixture(t, "main")
	c := f.Commit("a", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
	f.Push()
	s := newSource(t, f.Remote, func(o *Options) { o.Ref = "main" })
	fetch(t, s, "")
	if err := os.RemoveAll(f.Remote); err != nil {
		t.Fatal(err)
	}
	_, err := s.Fetch(context.Background(), source.FetchOptions{LastApplied: c})
	var fe *FetchError
	if !errors.As(err, &fe) || fe.URL != f.Remote || err.Error() != "git fetch: repository not found" {
		t.Fatalf("got %v, want a *FetchError for %s", err, f.Remote)
	}

	// Never reachable, and the default branch cannot be asked for.
	missing := filepath.Join(t.TempDir(), "missing.git")
	_, err = newSource(t, missing, nil).Fetch(context.Background(), source.FetchOptions{})
	if !errors.As(err, &fe) {
		t.Fatalf("missing repository: got %v, want *FetchError", err)
	}

	// An empty repository.
	empty := filepath.Join(t.TempDir(), "empty.git")
	gitRun(t, filepath.Dir(empty), "init", "-q", "--bare", empty)
	_, err = newSource(t, empty, func(o *Options) { o.Ref = "main" }).Fetch(context.Background(), source.FetchOptions{})
	if err == nil || !strings.Contains(err.Error(), "the repository is empty") {
		t.Fatalf("empty repository: got %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	f := newFixture(t, "main")
	f.Commit("a", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
	f.Push()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newSource(t, f.Remote, nil).Fetch(ctx, source.FetchOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestURLForms(t *testing.T) {
	f := newFixture(t, "main")
	c := f.Commit("a", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
	f.Push()
	rel, err := filepath.Rel(mustGetwd(t), f.Remote)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, url, source string }{
		{"path", f.Remote, f.Remote},
		{"file", "file://" + f.Remote, "file://" + f.Remote},
		{"relative", rel, f.Remote},
		{"dotgit", filepath.Join(f.Work, ".git"), filepath.Join(f.Work, ".git")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := fetch(t, newSource(t, tc.url, nil), "")
			if snap.Commit != c || snap.Source != tc.source {
				t.Errorf("got commit %s source %s, want %s %s", snap.Commit, snap.Source, c, tc.source)
			}
		})
	}
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestNewOptions(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys.asc")
	if err := os.WriteFile(keys, []byte("ssh-ed25519 AAAA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	for _, tc := range []struct {
		name string
		opts Options
		err  string
	}{
		{"no url", Options{CacheDir: cache}, "empty repository URL"},
		{"no cache", Options{URL: "/x"}, "no cache directory for the git clone"},
		{"bad mode", Options{URL: "/x", CacheDir: cache, Verify: "some"}, `unknown verification mode "some" (want none, head or all)`},
		{"head without keys", Options{URL: "/x", CacheDir: cache, Verify: "head"}, "--verify=head needs --trusted-keys"},
		{"keys without verify", Options{URL: "/x", CacheDir: cache, TrustedKeys: keys}, "--trusted-keys is set but --verify is none"},
		{"missing keys file", Options{URL: "/x", CacheDir: cache, Verify: "all", TrustedKeys: keys + ".nope"}, "trusted keys: open " + keys + ".nope: no such file or directory"},
		{"not a key", Options{URL: "/x", CacheDir: cache, Verify: "all", TrustedKeys: keys}, "trusted keys: " + keys + ":1: neither an armored OpenPGP public key block nor an SSH public key"},
		{"ssh without known_hosts", Options{URL: "git@git.example.invalid:policy.git", CacheDir: cache,
			Getenv: mapEnv(map[string]string{"HOME": t.TempDir()})},
			`ssh: no known_hosts file to check the host key of "git.example.invalid"; set RECONCILE_SSH_KNOWN_HOSTS`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || err.Error() != tc.err {
				t.Errorf("got %v, want %q", err, tc.err)
			}
		})
	}
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestURLHelpers(t *testing.T) {
	for _, tc := range []struct {
		url    string
		remote bool
		redact string
	}{
		{"https://user:secret@git.example.invalid/p.git", true, "https://user@git.example.invalid/p.git"},
		{"https://git.example.invalid/p.git", true, "https://git.example.invalid/p.git"},
		{"ssh://git@git.example.invalid/p.git", true, "ssh://git@git.example.invalid/p.git"},
		{"git@git.example.invalid:p.git", true, "git@git.example.invalid:p.git"},
		{"file:///srv/p.git", false, "file:///srv/p.git"},
		{"/srv/p.git", false, "/srv/p.git"},
		{"./p:x/y", false, "./p:x/y"},
	} {
		if got := isRemoteURL(tc.url); got != tc.remote {
			t.Errorf("isRemoteURL(%q) = %v", tc.url, got)
		}
		if got := RedactURL(tc.url); got != tc.redact {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.url, got, tc.redact)
		}
	}
	a := CacheDirFor("/var/lib/reconcile", "https://tok:one@git.example.invalid/p.git")
	b := CacheDirFor("/var/lib/reconcile", "https://tok:two@git.example.invalid/p.git")
	c := CacheDirFor("/var/lib/reconcile", "https://git.example.invalid/q.git")
	if a != b || a == c || filepath.Dir(a) != "/var/lib/reconcile/git" || len(filepath.Base(a)) != 16 {
		t.Errorf("CacheDirFor: %s %s %s", a, b, c)
	}
}

func TestAuthFromEnv(t *testing.T) {
	auth, err := AuthFromEnv("https://git.example.invalid/p.git", mapEnv(map[string]string{EnvToken: "tok"}))
	if err != nil || auth == nil || !strings.Contains(auth.String(), "git") {
		t.Errorf("token: %v %v", auth, err)
	}
	auth, err = AuthFromEnv("https://git.example.invalid/p.git", mapEnv(nil))
	if err != nil || auth != nil {
		t.Errorf("anonymous https: %v %v", auth, err)
	}
	auth, err = AuthFromEnv("/srv/p.git", mapEnv(nil))
	if err != nil || auth != nil {
		t.Errorf("path: %v %v", auth, err)
	}

	dir := t.TempDir()
	known := filepath.Join(dir, "known_hosts")
	key := filepath.Join(dir, "id")
	gitRun(t, dir, "version") // the env helper is harmless here; ssh-keygen below makes the key
	if err := runCmd("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key); err != nil {
		skipUnlessCI(t, "ssh-keygen: %v", err)
	}
	pub, _ := os.ReadFile(key + ".pub")
	if err := os.WriteFile(known, []byte("git.example.invalid "+string(pub)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := mapEnv(map[string]string{EnvSSHKey: key, EnvKnownHosts: known})
	for _, u := range []string{"git@git.example.invalid:p.git", "ssh://deploy@git.example.invalid:2222/p.git"} {
		auth, err := AuthFromEnv(u, env)
		if err != nil || auth == nil {
			t.Errorf("ssh %s: %v %v", u, auth, err)
		}
	}
	if _, err := AuthFromEnv("git@git.example.invalid:p.git", mapEnv(map[string]string{EnvKnownHosts: known, "HOME": dir})); err == nil ||
		!strings.Contains(err.Error(), "no private key") {
		t.Errorf("ssh without a key: %v", err)
	}
}

// TestRemoteRefChanges: a moved tag is followed, a deleted branch is gone (pruned).
func TestRemoteRefChanges(t *testing.T) {
	f := newFixture(t, "main")
	c1 := f.Commit("one", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
	gitRun(t, f.Work, "tag", "release")
	gitRun(t, f.Work, "branch", "dev")
	f.PushAll()
	cache := filepath.Join(t.TempDir(), "cache")
	open := func(ref string) *Source {
		s, err := New(Options{URL: f.Remote, Ref: ref, CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := fetch(t, open("release"), "").Commit; got != c1 {
		t.Fatalf("tag: %s, want %s", got, c1)
	}
	fetch(t, open("dev"), "")

	c2 := f.Commit("two", map[string]string{"profiles/B.yaml": "id: B\n"}, "")
	gitRun(t, f.Work, "tag", "-f", "release")
	f.PushAll()
	gitRun(t, f.Work, "push", "-q", "origin", "--delete", "dev")
	if got := fetch(t, open("release"), c1); got.Commit != c2 || got.Revision != "release@sha1:"+c2 {
		t.Errorf("moved tag: %s, want %s", got.Revision, c2)
	}
	_, err := open("dev").Fetch(context.Background(), source.FetchOptions{})
	var re *RefError
	if !errors.As(err, &re) {
		t.Errorf("deleted branch: got %v, want *RefError", err)
	}

	// A pinned commit works while the remote has it, and not once a force-push dropped it
	// (even though the cache still holds the object).
	fetch(t, open(c2), "")
	gitRun(t, f.Work, "reset", "-q", "--hard", c1)
	f.Push()
	gitRun(t, f.Work, "push", "-q", "origin", "--delete", "refs/tags/release")
	_, err = open(c2).Fetch(context.Background(), source.FetchOptions{})
	if !errors.As(err, &re) || err.Error() != `ref "`+c2+`" is a commit that no branch or tag of the remote contains any more` {
		t.Errorf("dropped commit: got %v", err)
	}
	if got := fetch(t, open(c1[:12]), "").Commit; got != c1 {
		t.Errorf("commit still on main: %s", got)
	}
}

// TestConcurrentFetches runs several fetches on one cache at once: the cache lock makes them
// take turns and every one sees the head.
func TestConcurrentFetches(t *testing.T) {
	f := newFixture(t, "main")
	c := f.Commit("one", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
	f.Push()
	cache := filepath.Join(t.TempDir(), "cache")
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := New(Options{URL: f.Remote, CacheDir: cache})
			if err == nil {
				var snap *source.Snapshot
				if snap, err = s.Fetch(context.Background(), source.FetchOptions{}); err == nil && snap.Commit != c {
					err = errors.New("wrong commit " + snap.Commit)
				}
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestErrorStages(t *testing.T) {
	type stager interface{ Stage() (string, string) }
	for _, tc := range []struct {
		err           error
		stage, reason string
	}{
		{&FetchError{URL: "u", Err: errors.New("x")}, "fetch", "unreachable"},
		{&RefError{Ref: "r"}, "fetch", "ref"},
		{&RewindError{Kind: RewindDiverged}, "history", "rewritten"},
		{&VerifyError{Kind: VerifyUnsigned}, "verify", "unsigned"},
	} {
		var st stager
		if !errors.As(tc.err, &st) {
			t.Fatalf("%T has no Stage", tc.err)
		}
		if s, r := st.Stage(); s != tc.stage || r != tc.reason {
			t.Errorf("%T.Stage() = %s, %s; want %s, %s", tc.err, s, r, tc.stage, tc.reason)
		}
	}
}
