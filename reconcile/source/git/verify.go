package git

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// VerifyError is a commit that fails --verify: unsigned, signed by a key that is not trusted,
// or carrying a signature that does not check out.
type VerifyError struct {
	Commit string // full hash
	Kind   string // VerifyUnsigned, VerifyUntrusted, VerifyInvalid
	Detail string
}

// Kinds of VerifyError.
const (
	VerifyUnsigned  = "unsigned"
	VerifyUntrusted = "untrusted"
	VerifyInvalid   = "invalid"
)

func (e *VerifyError) Error() string {
	c := abbrev(e.Commit)
	switch e.Kind {
	case VerifyUnsigned:
		return fmt.Sprintf("commit %s is not signed", c)
	case VerifyUntrusted:
		return fmt.Sprintf("commit %s is signed by an untrusted key (%s)", c, e.Detail)
	}
	return fmt.Sprintf("commit %s has an invalid signature: %s", c, e.Detail)
}

// Stage classifies the error for metrics: ("verify", Kind).
func (e *VerifyError) Stage() (stage, reason string) { return "verify", e.Kind }

// keyRing is the set of trusted OpenPGP keys.
type keyRing struct {
	entities openpgp.EntityList
	ssh      []sshKey
}

// loadKeyRing reads the trusted keys: armored OpenPGP public key blocks, and SSH public keys,
// one a line (.pub lines or allowed_signers lines); blank lines and '#' comments are skipped.
func loadKeyRing(path string) (*keyRing, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted keys: %w", err)
	}
	const (
		begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
		end   = "-----END PGP PUBLIC KEY BLOCK-----"
	)
	kr := &keyRing{}
	var block []string
	blockLine := 0
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case block != nil:
			block = append(block, line)
			if trimmed == end {
				el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(strings.Join(block, "\n")))
				if err != nil {
					return nil, fmt.Errorf("trusted keys: %s:%d: OpenPGP key block: %w", path, blockLine, err)
				}
				kr.entities = append(kr.entities, el...)
				block = nil
			}
		case trimmed == begin:
			block, blockLine = []string{line}, i+1
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		default:
			k, err := parseSSHKeyLine(trimmed)
			if err != nil {
				return nil, fmt.Errorf("trusted keys: %s:%d: neither an armored OpenPGP public key block nor an SSH public key", path, i+1)
			}
			kr.ssh = append(kr.ssh, k)
		}
	}
	if block != nil {
		return nil, fmt.Errorf("trusted keys: %s:%d: OpenPGP key block without its end line", path, blockLine)
	}
	if len(kr.entities) == 0 && len(kr.ssh) == 0 {
		return nil, fmt.Errorf("trusted keys: %s: no OpenPGP or SSH public key", path)
	}
	return kr, nil
}

// verify checks the signatures that the mode asks for and returns the head's signer.
func (s *Source) verify(repo *gogit.Repository, head, last *object.Commit) (string, error) {
	commits := []*object.Commit{head}
	if s.opts.Verify == VerifyAll {
		var err error
		if commits, err = commitRange(repo, head, last); err != nil {
			return "", err
		}
	}
	signer := ""
	for _, c := range commits {
		who, err := s.keys.check(c)
		if err != nil {
			return "", err
		}
		if c.Hash == head.Hash {
			signer = who
		}
	}
	s.log.Debug("git signatures verified", "mode", s.opts.Verify, "commits", len(commits), "head_signer", signer)
	return signer, nil
}

// check verifies one commit's signature (OpenPGP or SSH) and names the signer:
// "openpgp:<FINGERPRINT> <primary identity>" or "ssh:SHA256:<fingerprint> <comment>".
func (k *keyRing) check(c *object.Commit) (string, error) {
	sig := c.PGPSignature
	if strings.TrimSpace(sig) == "" {
		return "", &VerifyError{Commit: c.Hash.String(), Kind: VerifyUnsigned}
	}
	pgp, ssh := strings.Count(sig, "-----BEGIN PGP SIGNATURE-----"), strings.Count(sig, sshSigBegin)
	if pgp+ssh != 1 {
		return "", &VerifyError{Commit: c.Hash.String(), Kind: VerifyInvalid,
			Detail: fmt.Sprintf("%d signature blocks, want exactly one", pgp+ssh)}
	}
	encoded := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(encoded); err != nil {
		return "", fmt.Errorf("encode commit %s: %w", abbrev(c.Hash.String()), err)
	}
	r, err := encoded.Reader()
	if err != nil {
		return "", err
	}
	defer r.Close()
	if ssh == 1 {
		message, err := io.ReadAll(r)
		if err != nil {
			return "", err
		}
		return k.checkSSH(c.Hash.String(), sig, message)
	}
	e, err := openpgp.CheckArmoredDetachedSignature(k.entities, r, strings.NewReader(sig), nil)
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return "", &VerifyError{Commit: c.Hash.String(), Kind: VerifyUntrusted, Detail: issuer(sig)}
	case err != nil:
		return "", &VerifyError{Commit: c.Hash.String(), Kind: VerifyInvalid, Detail: err.Error()}
	}
	return identity(e), nil
}

// identity names a key: "openpgp:<FINGERPRINT> <primary identity>".
func identity(e *openpgp.Entity) string {
	s := "openpgp:" + strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
	if id := e.PrimaryIdentity(); id != nil {
		return s + " " + id.Name
	}
	names := make([]string, 0, len(e.Identities))
	for n := range e.Identities {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 0 {
		s += " " + names[0]
	}
	return s
}

// issuer describes who made an armored signature, from its issuer subpackets.
func issuer(armored string) string {
	blk, err := armor.Decode(strings.NewReader(armored))
	if err != nil {
		return "unreadable signature"
	}
	p, err := packet.Read(blk.Body)
	if err != nil {
		return "unreadable signature"
	}
	_, _ = io.Copy(io.Discard, blk.Body)
	if sig, ok := p.(*packet.Signature); ok {
		switch {
		case len(sig.IssuerFingerprint) > 0:
			return "key " + strings.ToUpper(hex.EncodeToString(sig.IssuerFingerprint))
		case sig.IssuerKeyId != nil:
			return fmt.Sprintf("key id %016X", *sig.IssuerKeyId)
		}
	}
	return "unknown key"
}
