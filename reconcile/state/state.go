// Package state keeps the record of what reconcile applied to one table in one network
// namespace: the last applied revision with the applied ruleset model (the reference for drift),
// the last attempt (kept apart from the last success, Flux style), and a short history.
//
// The record is one JSON file in the state directory, written atomically: a temporary file in
// the same directory, fsync, rename over the old file, fsync of the directory. A reader sees
// the old record or the new one, never a mix, even across a crash.
package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/atomicfile"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// Version is the version of the record format.
const Version = 1

// HistoryLen is how many attempts History keeps (the newest last).
const HistoryLen = 20

// Result of an attempt.
type Result string

// Results.
const (
	Applied  Result = "applied"   // the ruleset was written to the kernel
	NoChange Result = "no-change" // the kernel already held the desired ruleset; nothing written
	Failed   Result = "failed"    // invalid repository, compile error, or failed transaction
)

// LastApplied is the last revision whose ruleset the kernel was made to hold.
type LastApplied struct {
	// Source is where the revision came from (repository URL or "dir:<path>").
	Source string `json:"source"`
	// Revision is "main@sha1:<hash>" or "sha256:<digest>" (see source.Snapshot).
	Revision string `json:"revision"`
	// Commit is the full commit hash for git sources.
	Commit string `json:"commit,omitempty"`
	// RulesetDigest is nft.Ruleset.Digest() of Model.
	RulesetDigest string `json:"ruleset_digest"`
	// Model is the applied ruleset, the reference that drift is measured against.
	Model *nft.Ruleset `json:"model"`
	// Time is when it was applied (or found already applied).
	Time time.Time `json:"time"`
	// Host is the host name the ruleset was compiled for.
	Host string `json:"host"`
	// Generation is the namespace's nftables ruleset generation at which the kernel was last
	// seen to hold exactly Model (0: unknown). While the generation stays the same nothing
	// was committed, so a pass can skip reading the table back.
	Generation uint32 `json:"generation,omitempty"`
	// Session is the Options.Session of the process that recorded Generation. A generation
	// means something only within one process, which holds the namespace open: it restarts at
	// reboot and when a namespace is recreated, while this record survives.
	Session string `json:"session,omitempty"`
}

// Attempt is one run of apply, successful or not.
type Attempt struct {
	Revision      string    `json:"revision,omitempty"`
	RulesetDigest string    `json:"ruleset_digest,omitempty"`
	Time          time.Time `json:"time"`
	Result        Result    `json:"result"`
	Error         string    `json:"error,omitempty"`
	// Mode is how the transaction changed the table: "incremental", "full" or
	// "full-fallback" (reconcile.ApplyResult.Mode); "" when none was sent.
	Mode string `json:"mode,omitempty"`
}

// Record is the state of one table in one network namespace.
type Record struct {
	Version int    `json:"version"`
	Table   string `json:"table"`
	Netns   string `json:"netns,omitempty"` // the namespace's key (see Locate; "": own)
	// NetnsID is the identity of the namespace the record was last written for (see Locate);
	// nil in records written before it existed. It precedes the large fields so that Locate
	// reads only the head of a file.
	NetnsID     *NetnsID     `json:"netns_id,omitempty"`
	LastApplied *LastApplied `json:"last_applied,omitempty"`
	LastAttempt *Attempt     `json:"last_attempt,omitempty"`
	// History holds the last HistoryLen attempts, oldest first.
	History []Attempt `json:"history"`
}

// AddAttempt makes a the last attempt and appends it to the history, dropping the oldest
// entries beyond HistoryLen.
func (r *Record) AddAttempt(a Attempt) {
	// A pass that changes nothing, repeated every poll interval, would push every other
	// attempt out of the short history: it refreshes the previous identical entry instead.
	if n := len(r.History); n > 0 && a.Result == NoChange && a.Error == "" {
		if last := r.History[n-1]; last.Result == NoChange && last.Error == "" &&
			last.Revision == a.Revision && last.RulesetDigest == a.RulesetDigest {
			r.History[n-1] = a
			r.LastAttempt = &a
			return
		}
	}
	r.LastAttempt = &a
	r.History = append(r.History, a)
	if n := len(r.History); n > HistoryLen {
		r.History = append([]Attempt(nil), r.History[n-HistoryLen:]...)
	}
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// FileName is the name of the record file of table in the network namespace key within the
// state directory. key is the namespace's key that Locate returns: "" for the namespace of the
// process, the name under /run/netns of a named one (whatever spelling reached it), or
// "inode-N" for an unnamed one. It gives "<table>.state.json" for "" and
// "<table>@<key>.state.json" otherwise; a table or key that is not a plain file name
// ([A-Za-z0-9_.-], not "." or "..") is replaced by "table-" or "netns-" and 16 hex digits of its
// sha256, so the result is always one file in the directory.
func FileName(table, key string) string {
	t := table
	if !safeName.MatchString(t) {
		t = "table-" + shortHash(t)
	}
	if key == "" {
		return t + ".state.json"
	}
	n := key
	if !safeName.MatchString(n) || n == "." || n == ".." {
		n = "netns-" + shortHash(n)
	}
	return t + "@" + n + ".state.json"
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}

// Path is the record file of table in the namespace key (Locate, see FileName) under dir.
func Path(dir, table, key string) string { return filepath.Join(dir, FileName(table, key)) }

// Load reads the record of table in the namespace key (Locate, see FileName) from dir.
// A missing file (or directory) gives an empty record for table and key; a file that cannot be
// read or decoded is an error naming the file.
func Load(dir, table, key string) (*Record, error) {
	path := Path(dir, table, key)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Record{Version: Version, Table: table, Netns: key, History: []Attempt{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file %q: %w", path, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("state file %q is corrupt: %w", path, err)
	}
	if r.Version != Version {
		return nil, fmt.Errorf("state file %q has version %d, this program reads version %d", path, r.Version, Version)
	}
	if r.Table != table {
		return nil, fmt.Errorf("state file %q is for table %q, not %q", path, r.Table, table)
	}
	if r.History == nil {
		r.History = []Attempt{}
	}
	return &r, nil
}

// Save writes the record of r.Table in r.Netns to dir atomically, creating dir if needed.
func Save(dir string, r *Record) error {
	if r.Table == "" {
		return errors.New("save state: record has no table")
	}
	r.Version = Version
	if r.History == nil {
		r.History = []Attempt{}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	b = append(b, '\n')
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create state directory %q: %w", dir, err)
	}
	return atomicfile.Write(Path(dir, r.Table, r.Netns), b, 0o644)
}
