package gitsource

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/source"
)

func runCmd(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return errors.New(err.Error() + ": " + string(out))
	}
	return nil
}

func verifySource(t *testing.T, url, mode string) *Source {
	return newSource(t, url, func(o *Options) { o.Verify = mode; o.TrustedKeys = trustedKeys })
}

func TestVerifyHead(t *testing.T) {
	requireGPG(t)
	f := newFixture(t, "main")
	unsigned := f.commit("unsigned", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
	f.push()
	s := verifySource(t, f.remote, VerifyHead)

	_, err := s.Fetch(context.Background(), source.FetchOptions{})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Kind != VerifyUnsigned || err.Error() != "commit "+unsigned[:7]+" is not signed" {
		t.Fatalf("unsigned: got %v", err)
	}

	stranger := f.commit("by a stranger", map[string]string{"profiles/B.yaml": "id: B\n"}, untrustedFpr)
	f.push()
	_, err = s.Fetch(context.Background(), source.FetchOptions{})
	want := "commit " + stranger[:7] + " is signed by an untrusted key (key " + untrustedFpr + ")"
	if !errors.As(err, &ve) || ve.Kind != VerifyUntrusted || err.Error() != want {
		t.Fatalf("untrusted: got %v, want %s", err, want)
	}

	good := f.commit("trusted", map[string]string{"profiles/C.yaml": "id: C\n"}, trustedFpr)
	f.push()
	snap, err := s.Fetch(context.Background(), source.FetchOptions{})
	if err != nil {
		t.Fatalf("trusted: %v", err)
	}
	if snap.Commit != good || snap.Verified != "openpgp:"+trustedFpr+" Trusted <trusted@example.invalid>" {
		t.Errorf("trusted: commit %s verified %q", snap.Commit, snap.Verified)
	}
	// head only looks at the head, whatever came before it.
	if _, err := s.Fetch(context.Background(), source.FetchOptions{LastApplied: unsigned}); err != nil {
		t.Errorf("head mode with unsigned history: %v", err)
	}
}

func TestVerifyAll(t *testing.T) {
	requireGPG(t)
	f := newFixture(t, "main")
	a := f.commit("a", map[string]string{"profiles/A.yaml": "id: A\n"}, "") // before the range
	b := f.commit("b", map[string]string{"profiles/B.yaml": "id: B\n"}, trustedFpr)
	c := f.commit("c unsigned", map[string]string{"profiles/C.yaml": "id: C\n"}, "")
	d := f.commit("d", map[string]string{"profiles/D.yaml": "id: D\n"}, trustedFpr)
	f.push()
	all := verifySource(t, f.remote, VerifyAll)

	_, err := all.Fetch(context.Background(), source.FetchOptions{LastApplied: a})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Commit != c || err.Error() != "commit "+c[:7]+" is not signed" {
		t.Fatalf("all, from a: got %v, want commit %s is not signed", err, c[:7])
	}
	// From c on, d alone is in the range, and it is signed.
	snap, err := all.Fetch(context.Background(), source.FetchOptions{LastApplied: c})
	if err != nil || snap.Commit != d || !strings.HasPrefix(snap.Verified, "openpgp:"+trustedFpr) {
		t.Fatalf("all, from c: %v, %v", snap, err)
	}
	// Without a last applied commit only the head is checked (documented).
	if _, err := all.Fetch(context.Background(), source.FetchOptions{}); err != nil {
		t.Errorf("all, first apply: %v", err)
	}
	// head mode does not look at c.
	if _, err := verifySource(t, f.remote, VerifyHead).Fetch(context.Background(), source.FetchOptions{LastApplied: a}); err != nil {
		t.Errorf("head, from a: %v", err)
	}

	// A merge brings in a side branch with an unsigned commit that forked before b: the
	// range b..head includes it.
	gitRun(t, f.work, "checkout", "-q", "-b", "side", a)
	side := f.commit("side unsigned", map[string]string{"profiles/S.yaml": "id: S\n"}, "")
	gitRun(t, f.work, "checkout", "-q", "main")
	gitRun(t, f.work, "-c", "gpg.program=gpg", "-c", "user.signingkey="+trustedFpr, "merge", "-q", "-S", "--no-ff", "-m", "merge side", "side")
	f.push()
	_, err = all.Fetch(context.Background(), source.FetchOptions{LastApplied: d})
	if !errors.As(err, &ve) || ve.Commit != side {
		t.Fatalf("merged unsigned side commit: got %v, want %s rejected", err, side[:7])
	}
	_ = b
}

func TestVerifyInvalidSignature(t *testing.T) {
	requireGPG(t)
	f := newFixture(t, "main")
	f.commit("signed", map[string]string{"profiles/A.yaml": "id: A\n"}, trustedFpr)
	// Forge: the same signature over a different message.
	raw := gitRun(t, f.work, "cat-file", "commit", "HEAD")
	forged := strings.Replace(raw, "\n\nsigned", "\n\nforged", 1)
	file := f.work + "/forged.txt"
	if err := os.WriteFile(file, []byte(forged+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := gitRun(t, f.work, "hash-object", "-t", "commit", "-w", file)
	gitRun(t, f.work, "update-ref", "refs/heads/main", h)
	f.push()
	_, err := verifySource(t, f.remote, VerifyHead).Fetch(context.Background(), source.FetchOptions{})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Kind != VerifyInvalid || !strings.HasPrefix(err.Error(), "commit "+h[:7]+" has an invalid signature: ") {
		t.Fatalf("forged: got %v", err)
	}
}
