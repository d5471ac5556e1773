package gittest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRepoCommitAndPush(t *testing.T) {
	r := NewRepo(t, "main")
	c1 := r.Commit("first", map[string]string{"profiles/WEB.yaml": "id: WEB\n", "gone.yaml": "x\n"}, "")
	c2 := r.Commit("second", map[string]string{"gone.yaml": ""}, "")
	if c1 == c2 || len(c2) != 40 {
		t.Fatalf("commits %q and %q", c1, c2)
	}
	if _, err := os.Stat(filepath.Join(r.Work, "gone.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an empty content did not remove the file: %v", err)
	}
	if got := r.Git("show", "-s", "--format=%an <%ae> %cn <%ce>", c2); got != "Author <author@example.invalid> Committer <committer@example.invalid>" {
		t.Errorf("identity %q", got)
	}
	d1, d2 := r.Git("show", "-s", "--format=%ct", c1), r.Git("show", "-s", "--format=%ct", c2)
	if d1 >= d2 {
		t.Errorf("commit dates %s then %s, want them increasing", d1, d2)
	}
	r.Push()
	if got := Git(t, r.Remote, "", "rev-parse", "refs/heads/main"); got != c2 {
		t.Errorf("remote main = %s, want %s", got, c2)
	}
	r.Git("reset", "-q", "--hard", c1)
	r.Push()
	if got := Git(t, r.Remote, "", "rev-parse", "refs/heads/main"); got != c1 {
		t.Errorf("after a forced push of a rewind, remote main = %s, want %s", got, c1)
	}
	r.Git("tag", "v1")
	r.Git("branch", "dev", c2)
	r.PushAll()
	if got := Git(t, r.Remote, "", "rev-parse", "refs/heads/dev", "refs/tags/v1"); got != c2+"\n"+c1 {
		t.Errorf("after PushAll the remote has dev and v1 at %q", got)
	}
}

func TestGPGSignedCommits(t *testing.T) {
	var dir string
	t.Run("keys", func(t *testing.T) {
		keys := GPG(t)
		dir = filepath.Dir(keys.Home)
		if keys.Trusted == "" || keys.Stranger == "" || keys.Trusted == keys.Stranger {
			t.Fatalf("fingerprints %q and %q", keys.Trusted, keys.Stranger)
		}
		pub, err := os.ReadFile(keys.TrustedFile)
		if err != nil || !strings.Contains(string(pub), "BEGIN PGP PUBLIC KEY BLOCK") {
			t.Fatalf("trusted key file: %v\n%s", err, pub)
		}
		r := NewRepo(t, "main")
		r.GNUPG = keys.Home
		for _, key := range []string{keys.Trusted, keys.Stranger} {
			c := r.Commit("signed", nil, key)
			if got := r.Git("show", "-s", "--format=%GF", c); got != key {
				t.Errorf("commit %s is signed by %q, want %q", c, got, key)
			}
		}
		if got := r.Git("show", "-s", "--format=%G?", r.Commit("unsigned", nil, "")); got != "N" {
			t.Errorf("unsigned commit: signature status %q, want N", got)
		}
	})
	if dir == "" {
		return // skipped: no gpg
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the key directory %s outlives the test: %v", dir, err)
	}
}
