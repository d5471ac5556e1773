package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/lock"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/source/git"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// An apply whose state head is not written after the commit (a process killed in that window,
// or a head that cannot be saved), then a remote force-pushed back to the commit the head still
// names: the next pass must not take the kernel back. The clone's applied mark was set to the
// new commit before the transaction, so the history check refuses the older one.
func TestMarkBeforeTransactionRefusesRewindAfterUnrecordedApply(t *testing.T) {
	gittest.RequireGit(t)
	e := newEnv(t)
	r := gittest.NewRepo(t, "main")
	c1 := r.Commit("first", labRepo, "")
	r.Push()
	cfg := e.opts()
	cfg.Source, cfg.Repo = nil, "file://"+r.Remote
	if _, err := agentOf(t, cfg).Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	head := state.Path(e.stateDir, nft.DefaultTable, "")
	old, err := os.ReadFile(head)
	if err != nil {
		t.Fatal(err)
	}

	web := labRepo["profiles/WEB.yaml"]
	r.Commit("second", map[string]string{"profiles/WEB.yaml": strings.Replace(web, "80", "8080", 1)}, "")
	r.Push()
	a := agentOf(t, cfg)
	a.afterCommit = func() {
		// The head cannot be replaced: a directory stands at its name.
		if err := os.Remove(head); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(head, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	res, err := a.Apply(context.Background())
	if err == nil || !strings.Contains(err.Error(), "was applied but not recorded") {
		t.Fatalf("apply with the head unwritable: %v, want applied but not recorded", err)
	}
	applied := res.Desired.String()
	// The head as it was before (names c1), the remote back at c1.
	if err := os.Remove(head); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(head, old, 0o644); err != nil {
		t.Fatal(err)
	}
	r.Git("push", "-q", "--force", "origin", c1+":refs/heads/main")

	_, err = agentOf(t, cfg).Apply(context.Background())
	var re *git.RewindError
	if !errors.As(err, &re) || re.Kind != git.RewindBackwards {
		t.Fatalf("apply of %s after the unrecorded apply of its successor: %v, want a backwards rewind refusal", c1[:7], err)
	}
	if got := e.kernel(t); got != applied {
		t.Errorf("the kernel changed: it went back from the applied commit:\n%s", got)
	}
}

// A fetch that waits for the git clone's lock longer than the fetch timeout (another process
// holds it: a stopped or hung fetch) says so, naming the holder, instead of blaming the remote.
func TestFetchTimeoutWhileTheCloneIsLocked(t *testing.T) {
	gittest.RequireGit(t)
	e := newEnv(t)
	r := gittest.NewRepo(t, "main")
	r.Commit("first", labRepo, "")
	r.Push()
	cfg := e.opts()
	cfg.Source, cfg.Repo, cfg.FetchTimeout = nil, "file://"+r.Remote, 300*time.Millisecond
	if _, err := agentOf(t, cfg).Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := lock.AcquirePath(context.Background(), git.CacheDirFor(e.stateDir, cfg.Repo)+".lock", false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, err = agentOf(t, cfg).Plan(context.Background())
	want := fmt.Sprintf("the git clone stayed locked for 300ms (--fetch-timeout): another process (pid %d) holds the lock", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("plan with the clone locked: %v, want %q", err, want)
	}
	if st, _ := Classify(err); st != "fetch" {
		t.Errorf("stage %q, want fetch", st)
	}
}

// A pass that checked the model file whole records its stat stamp; the next process trusts the
// file while the stamp is the same and reads it again once anything wrote to it (its change
// time moved), so a damage through the file system is still caught.
func TestModelCheckedStamp(t *testing.T) {
	e := newEnv(t)
	cfg := e.opts()
	for i := 0; i < 2; i++ { // the first pass writes the model, the second checks it
		if _, err := agentOf(t, cfg).Apply(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	rec := e.record(t)
	la := rec.LastApplied
	path := filepath.Join(e.stateDir, la.ModelFile)
	if want := modelStamp(path, la.ModelFile); rec.ModelChecked == "" || rec.ModelChecked != want {
		t.Fatalf("model_checked %q, want the file's stamp %q", rec.ModelChecked, want)
	}
	// The same bytes written again: the stamp moves, the file is read (and found good).
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	testenv.Overwrite(t, path, string(b))
	if _, err := agentOf(t, cfg).Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec2 := e.record(t); rec2.ModelChecked == rec.ModelChecked || rec2.ModelChecked != modelStamp(path, la.ModelFile) {
		t.Errorf("after a rewrite: model_checked %q (before %q), want the new stamp", rec2.ModelChecked, rec.ModelChecked)
	}
	// One byte flipped in place, size kept: caught, moved aside, written again.
	b[len(b)/2] ^= 0xff
	testenv.Overwrite(t, path, string(b))
	var logs strings.Builder
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := agentOf(t, cfg).Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "the recorded model is unreadable") {
		t.Errorf("a flipped byte was not caught:\n%s", logs.String())
	}
	if _, err := e.record(t).LastApplied.LoadModel(); err != nil {
		t.Errorf("the model was not written again: %v", err)
	}
}
