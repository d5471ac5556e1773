package git

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
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
	unsigned := f.Commit("unsigned", map[string]string{"profiles/A.yaml": "id: A\n"}, "")
	f.Push()
	s := verifySource(t, f.Remote, VerifyHead)

	_, err := s.Fetch(context.Background(), source.FetchOptions{})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Kind != VerifyUnsigned || err.Error() != "commit "+unsigned[:7]+" is not signed" {
		t.Fatalf("unsigned: got %v", err)
	}

	stranger := f.Commit("by a stranger", map[string]string{"profiles/B.yaml": "id: B\n"}, untrustedFpr)
	f.Push()
	_, err = s.Fetch(context.Background(), source.FetchOptions{})
	want := "commit " + stranger[:7] + " is signed by an untrusted key (key " + untrustedFpr + ")"
	if !errors.As(err, &ve) || ve.Kind != VerifyUntrusted || err.Error() != want {
		t.Fatalf("untrusted: got %v, want %s", err, want)
	}

	good := f.Commit("trusted", map[string]string{"profiles/C.yaml": "id: C\n"}, trustedFpr)
	f.Push()
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
	a := f.Commit("a", map[string]string{"profiles/A.yaml": "id: A\n"}, "") // before the range
	b := f.Commit("b", map[string]string{"profiles/B.yaml": "id: B\n"}, trustedFpr)
	c := f.Commit("c unsigned", map[string]string{"profiles/C.yaml": "id: C\n"}, "")
	d := f.Commit("d", map[string]string{"profiles/D.yaml": "id: D\n"}, trustedFpr)
	f.Push()
	all := verifySource(t, f.Remote, VerifyAll)

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
	if _, err := verifySource(t, f.Remote, VerifyHead).Fetch(context.Background(), source.FetchOptions{LastApplied: a}); err != nil {
		t.Errorf("head, from a: %v", err)
	}

	// A merge brings in a side branch with an unsigned commit that forked before b: the
	// range b..head includes it.
	gitRun(t, f.Work, "checkout", "-q", "-b", "side", a)
	side := f.Commit("side unsigned", map[string]string{"profiles/S.yaml": "id: S\n"}, "")
	gitRun(t, f.Work, "checkout", "-q", "main")
	gitRun(t, f.Work, "-c", "gpg.program=gpg", "-c", "user.signingkey="+trustedFpr, "merge", "-q", "-S", "--no-ff", "-m", "merge side", "side")
	f.Push()
	_, err = all.Fetch(context.Background(), source.FetchOptions{LastApplied: d})
	if !errors.As(err, &ve) || ve.Commit != side {
		t.Fatalf("merged unsigned side commit: got %v, want %s rejected", err, side[:7])
	}
	_ = b
}

func TestVerifyInvalidSignature(t *testing.T) {
	requireGPG(t)
	f := newFixture(t, "main")
	f.Commit("signed", map[string]string{"profiles/A.yaml": "id: A\n"}, trustedFpr)
	// Forge: the same signature over a different message.
	raw := gitRun(t, f.Work, "cat-file", "commit", "HEAD")
	forged := strings.Replace(raw, "\n\nsigned", "\n\nforged", 1)
	file := f.Work + "/forged.txt"
	if err := os.WriteFile(file, []byte(forged+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := gitRun(t, f.Work, "hash-object", "-t", "commit", "-w", file)
	gitRun(t, f.Work, "update-ref", "refs/heads/main", h)
	f.Push()
	_, err := verifySource(t, f.Remote, VerifyHead).Fetch(context.Background(), source.FetchOptions{})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Kind != VerifyInvalid || !strings.HasPrefix(err.Error(), "commit "+h[:7]+" has an invalid signature: ") {
		t.Fatalf("forged: got %v", err)
	}
}

// sshKeygen makes an ed25519 key pair in dir and returns the private key path and the .pub line.
func sshKeygen(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	key := filepath.Join(dir, name)
	if err := runCmd("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name+"@example.invalid", "-f", key); err != nil {
		skipUnlessCI(t, "ssh-keygen: %v", err)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return key, strings.TrimSpace(string(pub))
}

func TestVerifySSH(t *testing.T) {
	dir := t.TempDir()
	good, goodPub := sshKeygen(t, dir, "deploy")
	bad, _ := sshKeygen(t, dir, "stranger")
	keys := filepath.Join(dir, "trusted")
	// An allowed_signers line (principals first) next to a comment and a blank line.
	if err := os.WriteFile(keys, []byte("# release signers\n\nops@example.invalid "+goodPub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "main")
	sshCommit := func(msg, key string) string {
		return f.CommitWith(msg, map[string]string{"profiles/" + msg + ".yaml": "id: " + msg + "\n"},
			"-c", "gpg.format=ssh", "-c", "user.signingkey="+key, "commit", "-S")
	}
	stranger := sshCommit("S", bad)
	f.Push()
	s := newSource(t, f.Remote, func(o *Options) { o.Verify = VerifyHead; o.TrustedKeys = keys })
	_, err := s.Fetch(context.Background(), source.FetchOptions{})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Kind != VerifyUntrusted || !strings.HasPrefix(err.Error(), "commit "+stranger[:7]+" is signed by an untrusted key (ssh key SHA256:") {
		t.Fatalf("untrusted ssh: got %v", err)
	}
	signed := sshCommit("G", good)
	f.Push()
	snap, err := s.Fetch(context.Background(), source.FetchOptions{})
	if err != nil {
		t.Fatalf("trusted ssh: %v", err)
	}
	if snap.Commit != signed || !strings.HasPrefix(snap.Verified, "ssh:SHA256:") || !strings.HasSuffix(snap.Verified, " ops@example.invalid") {
		t.Errorf("trusted ssh: commit %s verified %q", snap.Commit, snap.Verified)
	}

	// The same signature moved onto another commit does not verify.
	raw := gitRun(t, f.Work, "cat-file", "commit", "HEAD")
	file := filepath.Join(dir, "forged")
	if err := os.WriteFile(file, []byte(strings.Replace(raw, "\n\nG", "\n\nforged", 1)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := gitRun(t, f.Work, "hash-object", "-t", "commit", "-w", file)
	gitRun(t, f.Work, "update-ref", "refs/heads/main", h)
	f.Push()
	_, err = s.Fetch(context.Background(), source.FetchOptions{})
	if !errors.As(err, &ve) || ve.Kind != VerifyInvalid || ve.Commit != h {
		t.Fatalf("forged ssh: got %v", err)
	}
}

func TestLoadKeyRing(t *testing.T) {
	requireGPG(t)
	dir := t.TempDir()
	_, pub := sshKeygen(t, dir, "k")
	pgp, err := os.ReadFile(trustedKeys)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mixed := write("mixed", string(pgp)+"\n"+pub+"\n"+string(pgp))
	kr, err := loadKeyRing(mixed)
	if err != nil || len(kr.entities) != 2 || len(kr.ssh) != 1 {
		t.Fatalf("mixed: %v, %+v", err, kr)
	}
	if got := kr.ssh[0].name(); !strings.HasPrefix(got, "ssh:SHA256:") || !strings.HasSuffix(got, " k@example.invalid") {
		t.Errorf("ssh key from a .pub line is named %q", got)
	}
	for _, tc := range []struct{ name, content, err string }{
		{"empty", "# nothing\n\n", "no OpenPGP or SSH public key"},
		{"garbage", pub + "\nhello world\n", ":2: neither an armored OpenPGP public key block nor an SSH public key"},
		{"unterminated", pub + "\n" + strings.Split(string(pgp), "-----END")[0], ":2: OpenPGP key block without its end line"},
		{"broken block", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n", ":1: OpenPGP key block: "},
	} {
		p := write(tc.name, tc.content)
		_, err := loadKeyRing(p)
		if err == nil || !strings.HasPrefix(err.Error(), "trusted keys: "+p) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.err)
		}
	}
}
