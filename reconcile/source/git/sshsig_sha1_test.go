package git

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// armorSSHSig signs message as `ssh-keygen -Y sign -n git` would, with the RSA signature
// algorithm algo, and returns the armored signature.
func armorSSHSig(t *testing.T, signer ssh.AlgorithmSigner, algo string, message []byte) string {
	t.Helper()
	h := sha512.Sum512(message)
	signed := append([]byte(sshSigMagic), ssh.Marshal(struct {
		Namespace, Reserved, HashAlg string
		Hash                         []byte
	}{sshSigNamespace, "", "sha512", h[:]})...)
	sig, err := signer.SignWithAlgorithm(rand.Reader, signed, algo)
	if err != nil {
		t.Fatal(err)
	}
	blob := append([]byte(sshSigMagic), ssh.Marshal(sshSigBlob{
		Version: 1, PublicKey: signer.PublicKey().Marshal(), Namespace: sshSigNamespace,
		HashAlg: "sha512", Signature: ssh.Marshal(sig),
	})...)
	return sshSigBegin + "\n" + base64.StdEncoding.EncodeToString(blob) + "\n" + sshSigEnd
}

func TestSSHSignatureRejectsSHA1RSA(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	signer := s.(ssh.AlgorithmSigner)
	kr := &keyRing{ssh: []sshKey{{key: signer.PublicKey(), label: "test"}}}
	msg := []byte("tree 0000\n\ncommit message\n")

	if _, err := kr.checkSSH("c0ffee", armorSSHSig(t, signer, ssh.KeyAlgoRSASHA512, msg), msg); err != nil {
		t.Fatalf("rsa-sha2-512 signature by a trusted key refused: %v", err)
	}
	_, err = kr.checkSSH("c0ffee", armorSSHSig(t, signer, ssh.KeyAlgoRSA, msg), msg)
	if err == nil || !strings.Contains(err.Error(), "SHA-1") {
		t.Fatalf("ssh-rsa (SHA-1) signature: err = %v, want a refusal naming SHA-1", err)
	}
}
