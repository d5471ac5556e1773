// Package source yields snapshots of a policy repository: the files of one git commit
// (source/git) or of a plain directory (Dir), with the revision they stand for.
package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/reconcile-dev/reconcile/schema"
)

// Snapshot is the repository content at one revision.
type Snapshot struct {
	// Source names where it came from: the repository URL, or "dir:<path>".
	Source string `json:"source"`
	// Revision is what the snapshot stands for: "main@sha1:<hash>" for git (Flux style), or
	// "sha256:<digest of the files>" for a plain directory.
	Revision string `json:"revision"`
	// Commit is the full commit hash for git sources, "" for directories.
	Commit string `json:"commit,omitempty"`
	// Files are the repository files (schema.FileKind recognises them) by slash path.
	Files map[string][]byte `json:"-"`
	// FileIDs maps a path of Files to an id of its content when the source knows one without
	// hashing: the git blob id, "sha1:<40 hex>". It keys the decode cache
	// (schema.LoadCached); nil for a directory (the cache hashes the contents).
	FileIDs map[string]string `json:"-"`
	// Unread lists the files of Files whose content was left out (nil in Files) because
	// FetchOptions.Known said the caller does not need it; ReadFile reads one. nil: every
	// content is in Files.
	Unread map[string]bool `json:"-"`
	// ReadFile returns the content of a file of Unread (nil when Unread is).
	ReadFile func(path string) ([]byte, error) `json:"-"`
	// Refused holds one error per repository entry the source would not read (see
	// schema.LoadFiles); a snapshot with refused entries does not validate.
	Refused schema.Errors `json:"-"`
	// Verified names the key that signed the commit when signatures were checked.
	Verified string `json:"verified,omitempty"`
}

// FetchOptions tell a source what the host applied last, for history and signature checks.
type FetchOptions struct {
	// LastApplied is the commit applied last ("" if none, or if it came from a directory).
	LastApplied string
	// Known, when not nil, tells a source that can name a file's content without reading it
	// (git: the blob id, the form of Snapshot.FileIDs) that the caller does not need the
	// content of path with that id (the decode cache holds its decoded form): the source may
	// leave it out (Snapshot.Unread). Sources without such ids (Dir) ignore it.
	Known func(path, id string) bool
	// AppliedKey names this host's record of the commit applied last inside a source that
	// keeps one (git: the ref refs/reconcile/applied/<AppliedKey> of its clone, written by
	// AppliedMarker.MarkApplied): the state head's file name without ".state.json". When
	// LastApplied is "" (a lost or unreadable state record) the history check starts from
	// that commit. "": none.
	AppliedKey string
}

// AppliedMarker is a source that keeps, beside the state record, the commit applied last
// (git: a ref in its clone), so that a lost state record does not let an older commit in.
type AppliedMarker interface {
	// MarkApplied records commit (a full hash) as the one applied last under key
	// (FetchOptions.AppliedKey); atomically: a crash leaves the old mark or the new one.
	MarkApplied(ctx context.Context, key, commit string) error
}

// Source fetches the newest snapshot of a policy repository.
type Source interface {
	Fetch(ctx context.Context, opts FetchOptions) (*Snapshot, error)
	String() string
}

// Dir is a plain directory (no git), read with schema.ReadRoot (the rules a git commit is read
// with; nothing leads out of the directory); its revision is a digest of its repository files.
type Dir struct {
	Path string
	// Implicit says that nobody named the directory: it is the working directory that plan,
	// status, validate, test and explain read without --dir or --repo. Such a directory without
	// a single repository file is not taken for an empty repository (whose ruleset filters
	// nothing): Fetch fails with a *NoPolicyError.
	Implicit bool
}

// NoPolicyError is the error of fetching an implicit Dir (the working directory, by default)
// that holds no repository file.
type NoPolicyError struct {
	Path string // absolute
}

func (e *NoPolicyError) Error() string {
	return fmt.Sprintf("the working directory %s holds no policy files (profiles/, endpoints/, tests/): give --dir PATH or --repo URL", e.Path)
}

func (d Dir) String() string { return "dir:" + d.Path }

// Fetch reads the directory.
func (d Dir) Fetch(ctx context.Context, _ FetchOptions) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files, refused, err := schema.ReadRoot(d.Path)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", d.Path, err)
	}
	abs, err := filepath.Abs(d.Path)
	if err != nil {
		abs = d.Path
	}
	if d.Implicit && len(files) == 0 && len(refused) == 0 {
		return nil, &NoPolicyError{Path: abs}
	}
	return &Snapshot{Source: "dir:" + abs, Revision: "sha256:" + Digest(files, refused), Files: files, Refused: refused}, nil
}

// Digest is a hex sha256 over the files' paths and contents and the refused entries (a
// directory whose only change is a refused entry is a new revision), independent of map
// order; with no refused entries it is the digest of the files alone.
func Digest(files map[string][]byte, refused schema.Errors) string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(files[p]))
		h.Write(files[p])
	}
	for _, e := range refused {
		fmt.Fprintf(h, "refused\x00%s\x00%s\x00", e.Path, e.Msg)
	}
	return hex.EncodeToString(h.Sum(nil))
}
