package gitsource

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
	git "github.com/go-git/go-git/v5"
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

// keyRing is the set of trusted OpenPGP keys.
type keyRing struct {
	entities openpgp.EntityList
}

// loadKeyRing reads a file of armored OpenPGP public keys, one or more blocks.
func loadKeyRing(path string) (*keyRing, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted keys: %w", err)
	}
	const begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	text := string(b)
	if !strings.Contains(text, begin) {
		return nil, fmt.Errorf("trusted keys %q: no armored OpenPGP public key block (%s)", path, begin)
	}
	kr := &keyRing{}
	for i, part := range strings.Split(text, begin)[1:] {
		el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(begin + part))
		if err != nil {
			return nil, fmt.Errorf("trusted keys %q: key block %d: %w", path, i+1, err)
		}
		kr.entities = append(kr.entities, el...)
	}
	if len(kr.entities) == 0 {
		return nil, fmt.Errorf("trusted keys %q: no keys", path)
	}
	return kr, nil
}

// verify checks the signatures that the mode asks for and returns the head's signer.
func (s *Source) verify(repo *git.Repository, head, last *object.Commit) (string, error) {
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

// check verifies one commit's OpenPGP signature and names the signer:
// "openpgp:<FINGERPRINT> <primary identity>".
func (k *keyRing) check(c *object.Commit) (string, error) {
	sig := c.PGPSignature
	if strings.TrimSpace(sig) == "" {
		return "", &VerifyError{Commit: c.Hash.String(), Kind: VerifyUnsigned}
	}
	if strings.Contains(sig, "-----BEGIN SSH SIGNATURE-----") {
		return "", &VerifyError{Commit: c.Hash.String(), Kind: VerifyUntrusted,
			Detail: "an SSH signature; only OpenPGP signatures are supported"}
	}
	if n := strings.Count(sig, "-----BEGIN PGP SIGNATURE-----"); n != 1 {
		return "", &VerifyError{Commit: c.Hash.String(), Kind: VerifyInvalid,
			Detail: fmt.Sprintf("%d signature blocks, want exactly one", n)}
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
