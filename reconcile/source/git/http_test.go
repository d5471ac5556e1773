package git

import (
	"context"
	"errors"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/source"
)

// httpRemote serves the fixture's bare remote with git's smart HTTP backend, behind basic
// auth that wants the password "s3cret" (any user).
func httpRemote(t *testing.T, f *gittest.Repo) string {
	t.Helper()
	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		skipUnlessCI(t, "no git-http-backend: %v", err)
	}
	h := &cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + filepath.Dir(f.Remote), "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pass, ok := r.BasicAuth(); !ok || pass != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(f.Remote)
}

func TestHTTPRemoteAuth(t *testing.T) {
	f := newFixture(t, "trunk")
	c := f.Commit("one", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
	f.Push()
	url := httpRemote(t, f)

	_, err := newSource(t, url, func(o *Options) { o.Getenv = mapEnv(nil) }).Fetch(context.Background(), source.FetchOptions{})
	var fe *FetchError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "authentication required") {
		t.Fatalf("no credentials: got %v, want an authentication FetchError", err)
	}

	// The token from the environment; the default branch comes over smart HTTP too.
	snap := fetch(t, newSource(t, url, func(o *Options) { o.Getenv = mapEnv(map[string]string{EnvToken: "s3cret"}) }), "")
	if snap.Revision != "trunk@sha1:"+c || snap.Source != url {
		t.Errorf("token: %s from %s", snap.Revision, snap.Source)
	}

	// Credentials in the URL work and never show.
	withCreds := strings.Replace(url, "http://", "http://ci:s3cret@", 1)
	snap = fetch(t, newSource(t, withCreds, func(o *Options) { o.Getenv = mapEnv(nil) }), "")
	if snap.Commit != c || strings.Contains(snap.Source, "s3cret") || !strings.HasPrefix(snap.Source, "http://ci@") {
		t.Errorf("credentials in URL: commit %s, source %q", snap.Commit, snap.Source)
	}
	s := newSource(t, withCreds, func(o *Options) { o.Getenv = mapEnv(nil) })
	if strings.Contains(s.String(), "s3cret") {
		t.Errorf("String() shows the password: %s", s)
	}
}
