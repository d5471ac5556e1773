// Package state keeps the record of what reconcile applied to one table in one network
// namespace: the last applied revision with the applied ruleset model (the reference for drift),
// the last attempt (kept apart from the last success, Flux style), and a short history.
//
// The record is two files in the state directory: a small JSON head ("<table>[@<key>].state.json":
// identity, revision, digest, generation, attempts; a few KB) and the applied model in a file
// named after its digest ("<table>[@<key>].model-<12 hex of the digest>.gob", see model.go),
// written only when the digest changes and read only when a difference must be computed
// (LastApplied.LoadModel). Each file is written atomically: a temporary file in the same
// directory, fsync, rename over the old file, fsync of the directory. A reader sees the old
// record or the new one, never a mix, even across a crash; the model file is made durable
// before the head names it, so a head never names a model file that does not exist.
package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/atomicfile"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// Version is the version of the record format this program writes: 2, the head without the
// model (model_file names it). Version 1 (the model inline in the record) is still read, and
// becomes version 2 on the next Save.
const Version = 2

// versionInline is the version of the records that hold the model inline.
const versionInline = 1

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
	// Model is the applied ruleset, the reference that drift is measured against. A loaded
	// record leaves it nil (only version 1 records hold it inline): LoadModel reads it from
	// ModelFile when needed. Set it to a new model to have Save write its file.
	Model *nft.Ruleset `json:"model,omitempty"`
	// ModelFile is the name, in the state directory, of the file that holds Model (see
	// ModelFileName); "" when Model is inline (version 1) or unknown. Save sets it.
	ModelFile string `json:"model_file,omitempty"`
	// Time is when it was applied (or found already applied).
	Time time.Time `json:"time"`
	// Host is the host name the ruleset was compiled for.
	Host string `json:"host"`
	// Generation is the namespace's nftables ruleset generation at which the kernel was last
	// seen to hold exactly Model (0: unknown). While the generation stays the same nothing
	// was committed, so a pass can skip reading the table back.
	Generation uint32 `json:"generation,omitempty"`
	// BootID and NetnsCookie are the identity Generation is valid under: the kernel's boot id
	// (netns.BootID) and the namespace's SO_NETNS_COOKIE (Linux 5.14; never reused within a
	// boot, unlike the namespace's inode, and new when a namespace is deleted and made again
	// under the same name). Generations restart at boot and in every new namespace, so a
	// generation proves nothing without both. Empty or 0: unknown (then only Session can vouch
	// for Generation).
	BootID      string `json:"boot_id,omitempty"`
	NetnsCookie uint64 `json:"netns_cookie,omitempty"`
	// Session is the Options.Session of the process that recorded Generation: on a kernel
	// that cannot tell the netns cookie, a generation means something only within one
	// process, which holds the namespace open.
	Session string `json:"session,omitempty"`
	// CompileKey is what the ruleset was compiled from: sha256 of the compiler version, the
	// revision, the host and the table (reconcile's compileKey); "" when the compiler version
	// is unknown. Equal keys compile to the same ruleset, so a pass whose source revision and
	// key are unchanged need not load or compile the repository.
	CompileKey string `json:"compile_key,omitempty"`
	// SourceStamp is the source's cheap fingerprint taken before the fetch of Revision (a
	// directory's stat index digest, see source.Stamper); "" when the source has none.
	SourceStamp string `json:"source_stamp,omitempty"`

	dir string // the state directory the record was loaded from (for LoadModel)
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
	// ModelChecked is the stat stamp of LastApplied.ModelFile (name, size, modification and
	// change times in ns, inode) when a pass last checked it whole (CheckModel: format,
	// digest, CRC-32): while the file's stamp is the same, later passes need not read it
	// again. Any write to the file changes its change time, which cannot be set back. "": not
	// checked. Kept beside LastApplied, which changes only when the kernel does.
	ModelChecked string `json:"model_checked,omitempty"`
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

// UnreadableError is the error of Load for a state head that exists but cannot be taken as
// the record of the table: empty, truncated or not JSON, of a version this program does not
// read, for another table, or otherwise inconsistent. The callers go on as if the record were
// unknown (apply and watch first move the file aside with MoveAside, for inspection). Reason is
// a short phrase ("empty", "truncated or not JSON", "version 7 (this program reads 1 and 2)",
// "for table \"x\""); Err, when not nil, is the decoder's error.
type UnreadableError struct {
	Path   string
	Reason string
	Err    error
}

func (e *UnreadableError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("state file %q is unreadable (%s): %v", e.Path, e.Reason, e.Err)
	}
	return fmt.Sprintf("state file %q is unreadable (%s)", e.Path, e.Reason)
}

// Unwrap returns the decoder's error (nil when there is none).
func (e *UnreadableError) Unwrap() error { return e.Err }

// Load reads the record of table in the namespace key (Locate, see FileName) from dir.
// A missing file (or directory) gives an empty record for table and key. A file whose content
// cannot be taken as the record (see UnreadableError) is an *UnreadableError; dir that is not
// a directory, or a file that cannot be read, is an error naming it. The record's Netns is key
// whatever the file says, so that Save writes it back to the same file.
func Load(dir, table, key string) (*Record, error) {
	path := Path(dir, table, key)
	b, err := readRegular(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Record{Version: Version, Table: table, Netns: key, History: []Attempt{}}, nil
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return nil, fmt.Errorf("state directory %q is not a directory (give --state-dir a directory, or move the file away)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read state file %q: %w", path, err)
	}
	bad := func(reason string, err error) (*Record, error) {
		return nil, &UnreadableError{Path: path, Reason: reason, Err: err}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return bad("empty", nil)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return bad("not a state record", err)
		}
		return bad("truncated or not JSON", err)
	}
	if r.Version != Version && r.Version != versionInline {
		return bad(fmt.Sprintf("version %d (this program reads %d and %d)", r.Version, versionInline, Version), nil)
	}
	if r.Table != table {
		return bad(fmt.Sprintf("for table %q", r.Table), nil)
	}
	// The record is the file's: Save writes it back where it was read, whatever netns the
	// file says (a head copied from another namespace's file must not overwrite that one's).
	r.Netns = key
	if r.History == nil {
		r.History = []Attempt{}
	}
	if la := r.LastApplied; la != nil {
		la.dir = dir
		if r.Version == Version && la.Model != nil {
			return bad(fmt.Sprintf("version %d holds the model inline", Version), nil)
		}
	}
	return &r, nil
}

// MoveAside renames the state head at path to "<path>.unreadable-<now in UTC as
// 20060102T150405Z>" (a ".N" suffix is added when that name is taken) and fsyncs the
// directory, so that the next Load finds no record; the file is kept for inspection, never
// deleted. It returns the new path.
func MoveAside(path string, now time.Time) (string, error) {
	base := path + ".unreadable-" + now.UTC().Format("20060102T150405Z")
	dst := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = fmt.Sprintf("%s.%d", base, i)
	}
	if err := os.Rename(path, dst); err != nil {
		return "", fmt.Errorf("move unreadable state file aside: %w", err)
	}
	return dst, atomicfile.SyncDir(filepath.Dir(path))
}

// SaveModel writes la.Model to its model file in dir (for table in the namespace key; see
// ModelFileName), creating dir if needed, and sets la.ModelFile, without writing the head:
// apply writes the model of the ruleset it is about to commit before the kernel transaction,
// so that a state directory that cannot take it (a full disk: ENOSPC, EDQUOT, wrapped) fails
// the pass before the kernel changes, and after the commit only the small head is left to
// write (Save then finds the model file there and does not write it again). Nothing is written
// when la.Model is nil or its file is already there. A model file the head does not name yet
// is removed by the next Save of the record.
func SaveModel(dir, table, key string, la *LastApplied) error {
	if la == nil || la.Model == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create state directory %q: %w", dir, err)
	}
	name, err := saveModel(dir, table, key, la)
	if err != nil {
		return err
	}
	la.ModelFile, la.dir = name, dir
	return nil
}

// Save writes the record of r.Table in r.Netns to dir, creating dir if needed. When
// r.LastApplied.Model is set and its model file is not in dir yet (a new digest, or a version
// 1 record), the model file is written first (atomically, fsynced), then the head; then the
// model files of this record that the head no longer names are removed, and the temporary
// files of a save of this record cut short (a process killed while writing them). A head that only
// records an attempt is one small atomic write.
func Save(dir string, r *Record) error {
	if r.Table == "" {
		return errors.New("save state: record has no table")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create state directory %q: %w", dir, err)
	}
	head := *r
	head.Version = Version
	if head.History == nil {
		head.History = []Attempt{}
	}
	if la := r.LastApplied; la != nil {
		if err := SaveModel(dir, r.Table, r.Netns, la); err != nil {
			return err
		}
		la.dir = dir
		l := *la
		l.Model = nil // in its own file
		head.LastApplied = &l
	}
	b, err := json.MarshalIndent(&head, "", " ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	b = append(b, '\n')
	if err := atomicfile.Write(Path(dir, r.Table, r.Netns), b, 0o644); err != nil {
		return err
	}
	r.Version = Version
	keep := ""
	if head.LastApplied != nil {
		keep = head.LastApplied.ModelFile
	}
	removeModels(dir, r.Table, r.Netns, keep)
	return nil
}

// CheckDir checks that dir can hold the state record: nil when it is a directory whose
// entries can be listed, or when it does not exist (a first apply, or a directory that was
// deleted: Save makes it again); otherwise an error naming dir and what to do.
func CheckDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("state directory %q: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("state directory %q is not a directory (give --state-dir a directory, or move the file away)", dir)
	}
	f, err := os.Open(dir)
	if err == nil {
		_, err = f.ReadDir(1)
		f.Close()
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("state directory %q cannot be read: %w", dir, err)
	}
	return nil
}

// openRegular opens path for reading, refusing anything but a regular file (after symbolic
// links): a FIFO put where a head or model file belongs would block the open, and with it the
// pass, for ever (O_NONBLOCK makes the open return; it changes nothing for a regular file).
// Errors are os.Open's, or "<path> is not a regular file (<mode>)".
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readRegular is os.ReadFile of a regular file (openRegular).
func readRegular(path string) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
