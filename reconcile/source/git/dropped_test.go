package git

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/source"
)

// A fetch that fails while the pack is arriving (the server drops the connection halfway, or
// the disk fills up) leaves go-git's temporary pack file behind. It is removed when the fetch
// fails, not only at the start of the next one: on a full disk it would otherwise keep the
// space taken until then (every other write to the state directory failing meanwhile), and the
// next fetch succeeds.
func TestFailedFetchLeavesNoTemporaryPack(t *testing.T) {
	f := newFixture(t, "main")
	rng := rand.New(rand.NewPCG(1, 2))
	blob := make([]byte, 1<<20) // incompressible: the pack is about as large
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	c := f.Commit("one", map[string]string{"profiles/A.yaml": "id: A\n", "blob.bin": string(blob)}, "")
	f.Push()

	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		skipUnlessCI(t, "no git-http-backend: %v", err)
	}
	h := &cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + filepath.Dir(f.Remote), "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
	}
	var drop atomic.Bool
	drop.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !drop.Load() || !strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection is dropped mid-pack
	}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/" + filepath.Base(f.Remote)

	s := newSource(t, url, nil)
	if _, err := s.Fetch(context.Background(), source.FetchOptions{}); err == nil {
		t.Fatal("a fetch whose pack was cut off succeeded")
	}
	temps, _ := filepath.Glob(filepath.Join(s.opts.CacheDir, "objects", "pack", "tmp_*"))
	if len(temps) != 0 {
		t.Errorf("the failed fetch left %q", temps)
	}
	drop.Store(false)
	if snap := fetch(t, s, ""); snap.Commit != c {
		t.Errorf("the fetch after: commit %s, want %s", snap.Commit, c)
	}
}
