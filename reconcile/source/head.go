package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Head is what a source holds now, found without reading its files (Header).
type Head struct {
	// Source is as Snapshot.Source.
	Source string
	// Revision and Commit are as in the Snapshot that Fetch would return.
	Revision, Commit string
}

// Header is a Source that can tell the revision it holds without reading its files (git:
// the ref resolved after the fetch), so that a pass can see cheaply that the revision applied
// last is still the source's. Head checks what Fetch checks (history, signatures) and fails
// as Fetch would.
type Header interface {
	Source
	Head(ctx context.Context, opts FetchOptions) (*Head, error)
}

// Stamper is a Source that can fingerprint its files without reading them (a directory: the
// metadata of its entries). Equal stamps mean the files Fetch reads are the same as when the
// first stamp was taken, so a stamp taken before a Fetch vouches for that snapshot's revision.
// "" (no error): the metadata cannot tell (a change too recent), read the files.
type Stamper interface {
	Source
	Stamp(ctx context.Context) (string, error)
}

var _ Stamper = Dir{}

// racyMargin is how recent a change may be for Dir.Head to trust metadata: a file changed
// within the file system's timestamp granularity (2 s on FAT, 1 s on ext3, a few ms with
// coarse kernel clocks) could change again with the same size and times. Git's index has the
// same "racily clean" rule. A variable for the tests.
var racyMargin = 2 * time.Second

// Stamp returns the directory's stamp without reading its files: a sha256 over its absolute
// path and every entry of the tree (links not followed; the top-level .git folder not entered,
// ReadRoot never reads it), each with its path, type and mode, size, modification and change
// times (ns), inode and device, in name order, as git's index does. A file's content cannot
// change without one of them changing (the change time cannot be set back), except within the
// file system's timestamp granularity: when any entry changed less than 2 s before (or after)
// now, the stamp is "" and the caller must read the files. Errors are those of reading the
// tree, naming the directory.
func (d Dir) Stamp(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(d.Path)
	if err != nil {
		abs = d.Path
	}
	stamp, err := dirStamp(abs, time.Now())
	if err != nil {
		return "", fmt.Errorf("read %q: %w", d.Path, err)
	}
	return stamp, nil
}

// errRacy stops the walk of dirStamp: an entry changed too recently.
var errRacy = errors.New("changed too recently")

// dirStamp is Dir.Stamp's stamp of the tree at path, as of now ("" when racy).
func dirStamp(path string, now time.Time) (string, error) {
	root, err := os.OpenRoot(path)
	if err != nil {
		return "", err
	}
	defer root.Close()
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00", path)
	recent := now.Add(-racyMargin).UnixNano()
	future := now.Add(racyMargin).UnixNano()
	walk := func(name string, info fs.FileInfo) error {
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no file status", name)
		}
		m, c := st.Mtim.Nano(), st.Ctim.Nano()
		if m >= recent || c >= recent || m > future || c > future {
			return errRacy
		}
		fmt.Fprintf(sum, "%s\x00%o\x00%d\x00%d\x00%d\x00%d\x00%d\n", name, st.Mode, st.Size, m, c, st.Ino, st.Dev)
		return nil
	}
	top, err := root.Lstat(".")
	if err != nil {
		return "", err
	}
	if err := walk(".", top); err != nil {
		if errors.Is(err, errRacy) {
			return "", nil
		}
		return "", err
	}
	err = fs.WalkDir(root.FS(), ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if name == ".git" {
			fmt.Fprintf(sum, ".git\x00%v\n", e.Type())
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		info, err := root.Lstat(name)
		if err != nil {
			return err
		}
		return walk(name, info)
	})
	if errors.Is(err, errRacy) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return "stat:" + hex.EncodeToString(sum.Sum(nil)), nil
}
