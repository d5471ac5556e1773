package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/atomicfile"
)

// Since when a profile rule's counter counts (status --counters, "never matched since …").
//
// A rule's kernel counter counts from the moment its nft rule was created: a full replace of
// the table creates every rule afresh, an in-place apply keeps the rules it leaves alone (and
// their counters) and creates the ones it adds or replaces. The record below keeps, per
// profile rule comment ("WEB inbound 2"), the time of the apply that created its nft rules (the
// later one when its IPv4 and IPv6 variants differ), in its own small file
// "<stem>.installed.json" beside the head, written only by a pass that sent a transaction:
// the fast no-change pass neither reads nor writes it, and the head stays as small as it was;
// a no-change pass that read the table or proved it writes one only when none describes the
// ruleset applied last (every rule then installed "at least" at that pass: a process killed
// between a commit and this file, or a file lost).
//
// The times are compact: Base holds the time of the last full replace, which every rule not in
// Rules has; Rules holds the rules installed (or found) later. A time is exact (the counter
// started then) unless AtLeast: the rule existed before that time and nothing tells when it
// was made (an in-place apply keeping it in a chain whose earlier times are unknown: no record
// before, a lost file, or a chain that differs from the one recorded, edited by hand; Chains
// holds the digest of each chain to tell), so its counter counts since at least then. The
// file names the ruleset digest it describes; a reader trusts it only
// for that digest (the head's last_applied.ruleset_digest) and while the kernel shows no drift.
// The file is removed before each transaction and written after the commit (or put back when
// the transaction failed), so that a process killed in between leaves no file, not a wrong one.
// Not seen: counters reset by `nft reset rules|counters`, and a rule deleted and added again
// by hand with exactly the same content (neither is drift).

// InstalledVersion is the format of the installed file.
const InstalledVersion = 1

// Installed is the content of the installed file of one table in one namespace.
type Installed struct {
	Version int    `json:"version"`
	Table   string `json:"table"`
	Netns   string `json:"netns,omitempty"`
	// RulesetDigest is the digest (nft.Ruleset.Digest) of the ruleset the times describe.
	RulesetDigest string `json:"ruleset_digest"`
	// Chains are the digests of that ruleset's profile chains by name (16 hex digits of the
	// sha256 of the chain's nft text): the next in-place apply keeps the times of the rules it
	// keeps in a chain only when the table it changes has that very chain (not edited by hand).
	Chains map[string]string `json:"chains"`
	// Base is the time of every profile rule not in Rules.
	Base Since `json:"base"`
	// Rules are the profile rules installed at another time than Base, by comment.
	Rules map[string]Since `json:"rules,omitempty"`
}

// Since is when a rule's counter started: at Time exactly, or (AtLeast) at Time or earlier.
type Since struct {
	Time    time.Time `json:"time"`
	AtLeast bool      `json:"at_least,omitempty"`
}

// Of returns the Since of the rule with comment c.
func (in *Installed) Of(c string) Since {
	if s, ok := in.Rules[c]; ok {
		return s
	}
	return in.Base
}

// InstalledPath is the path of the installed file of table in the namespace key within dir:
// "<stem>.installed.json" (see Stem).
func InstalledPath(dir, table, key string) string {
	return filepath.Join(dir, modelStem(table, key)+".installed.json")
}

// LoadInstalled reads the installed file of table in the namespace key from dir: (nil, nil)
// when there is none; an error naming the file when it cannot be read or decoded, or holds
// another table or namespace or format.
func LoadInstalled(dir, table, key string) (*Installed, error) {
	path := InstalledPath(dir, table, key)
	b, err := readRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rule install times %q: %w", path, err)
	}
	var in Installed
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("rule install times %q: %w", path, err)
	}
	if in.Version != InstalledVersion || in.Table != table || in.Netns != key {
		return nil, fmt.Errorf("rule install times %q: version %d of table %q netns %q, not version %d of table %q netns %q",
			path, in.Version, in.Table, in.Netns, InstalledVersion, table, key)
	}
	return &in, nil
}

// SaveInstalled writes in to its file in dir atomically (see atomicfile.Write).
func SaveInstalled(dir string, in *Installed) error {
	in.Version = InstalledVersion
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return atomicfile.Write(InstalledPath(dir, in.Table, in.Netns), append(b, '\n'), 0o644)
}

// RemoveInstalled removes the installed file of table in the namespace key from dir; one that
// is not there is no error.
func RemoveInstalled(dir, table, key string) error {
	if err := os.Remove(InstalledPath(dir, table, key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
