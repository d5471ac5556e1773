package git

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"

	"golang.org/x/crypto/ssh"
)

// SSH commit signatures (git's gpg.format=ssh) follow OpenSSH's PROTOCOL.sshsig: an armored
// blob holding the public key, the namespace ("git"), the hash algorithm and the signature over
// "SSHSIG" || namespace || reserved || hash algorithm || H(message).

const (
	sshSigBegin     = "-----BEGIN SSH SIGNATURE-----"
	sshSigEnd       = "-----END SSH SIGNATURE-----"
	sshSigMagic     = "SSHSIG"
	sshSigNamespace = "git"
)

// sshSigBlob is the decoded armored signature.
type sshSigBlob struct {
	Version   uint32
	PublicKey []byte
	Namespace string
	Reserved  string
	HashAlg   string
	Signature []byte
}

// parseSSHSig decodes an armored SSH signature.
func parseSSHSig(armored string) (*sshSigBlob, error) {
	s := strings.TrimSpace(armored)
	if !strings.HasPrefix(s, sshSigBegin) || !strings.HasSuffix(s, sshSigEnd) {
		return nil, errors.New("not an armored SSH signature")
	}
	body := strings.Join(strings.Fields(s[len(sshSigBegin):len(s)-len(sshSigEnd)]), "")
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("SSH signature: %w", err)
	}
	if !bytes.HasPrefix(raw, []byte(sshSigMagic)) {
		return nil, errors.New("SSH signature: bad magic")
	}
	var b sshSigBlob
	if err := ssh.Unmarshal(raw[len(sshSigMagic):], &b); err != nil {
		return nil, fmt.Errorf("SSH signature: %w", err)
	}
	if b.Version != 1 {
		return nil, fmt.Errorf("SSH signature: version %d, want 1", b.Version)
	}
	return &b, nil
}

// checkSSH verifies an SSH signature of message against the trusted SSH keys and returns the
// signer's name; a *VerifyError when the key is not trusted or the signature is bad.
func (k *keyRing) checkSSH(commit string, armored string, message []byte) (string, error) {
	b, err := parseSSHSig(armored)
	if err != nil {
		return "", &VerifyError{Commit: commit, Kind: VerifyInvalid, Detail: err.Error()}
	}
	pub, err := ssh.ParsePublicKey(b.PublicKey)
	if err != nil {
		return "", &VerifyError{Commit: commit, Kind: VerifyInvalid, Detail: "SSH signature: public key: " + err.Error()}
	}
	var trusted *sshKey
	for i := range k.ssh {
		if bytes.Equal(k.ssh[i].key.Marshal(), pub.Marshal()) {
			trusted = &k.ssh[i]
			break
		}
	}
	if trusted == nil {
		return "", &VerifyError{Commit: commit, Kind: VerifyUntrusted, Detail: "ssh key " + ssh.FingerprintSHA256(pub)}
	}
	if b.Namespace != sshSigNamespace {
		return "", &VerifyError{Commit: commit, Kind: VerifyInvalid, Detail: fmt.Sprintf("SSH signature for namespace %q, want %q", b.Namespace, sshSigNamespace)}
	}
	var h hash.Hash
	switch b.HashAlg {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return "", &VerifyError{Commit: commit, Kind: VerifyInvalid, Detail: fmt.Sprintf("SSH signature hash %q is not supported", b.HashAlg)}
	}
	h.Write(message)
	signed := append([]byte(sshSigMagic), ssh.Marshal(struct {
		Namespace, Reserved, HashAlg string
		Hash                         []byte
	}{b.Namespace, b.Reserved, b.HashAlg, h.Sum(nil)})...)
	var sig ssh.Signature
	if err := ssh.Unmarshal(b.Signature, &sig); err != nil {
		return "", &VerifyError{Commit: commit, Kind: VerifyInvalid, Detail: "SSH signature: " + err.Error()}
	}
	if sig.Format == ssh.KeyAlgoRSA {
		// PROTOCOL.sshsig: RSA signatures must use SHA-2 (rsa-sha2-256/512); "ssh-rsa" is
		// SHA-1, which is broken for signatures.
		return "", &VerifyError{Commit: commit, Kind: VerifyInvalid, Detail: "SSH signature uses ssh-rsa (SHA-1), which is not accepted; sign with rsa-sha2-512"}
	}
	if err := pub.Verify(signed, &sig); err != nil {
		return "", &VerifyError{Commit: commit, Kind: VerifyInvalid, Detail: "SSH signature: " + err.Error()}
	}
	return trusted.name(), nil
}

// sshKey is a trusted SSH public key and the comment or principals that came with it.
type sshKey struct {
	key   ssh.PublicKey
	label string
}

// name is "ssh:<SHA256 fingerprint>" followed by the label, if any.
func (s sshKey) name() string {
	n := "ssh:" + ssh.FingerprintSHA256(s.key)
	if s.label != "" {
		n += " " + s.label
	}
	return n
}

// parseSSHKeyLine reads a trusted SSH key written as a .pub line ("ssh-ed25519 AAAA… comment")
// or as an allowed_signers line ("principals [options] ssh-ed25519 AAAA…").
func parseSSHKeyLine(line string) (sshKey, error) {
	first, rest, _ := strings.Cut(line, " ")
	if !strings.HasPrefix(first, "ssh-") && !strings.HasPrefix(first, "ecdsa-") && !strings.HasPrefix(first, "sk-") {
		// allowed_signers: the principals name the signer; options (namespaces=…) are ignored.
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(rest)))
		if err != nil {
			return sshKey{}, err
		}
		return sshKey{key: key, label: first}, nil
	}
	key, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return sshKey{}, err
	}
	return sshKey{key: key, label: comment}, nil
}
