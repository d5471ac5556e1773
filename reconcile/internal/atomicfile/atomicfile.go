// Package atomicfile replaces a file so that a reader, or the file system after a crash, sees
// either the old or the new content, never a mix or an empty file. It is a leaf package: it
// imports nothing of this module, so any package under reconcile/ may use it.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data. It creates a temporary file ".<base>.tmp-*" in the directory
// of path (so the rename stays on one file system), writes data, sets its permission bits to
// exactly perm (umask does not apply; the permissions of a file already at path are not kept,
// pass them in to keep them), fsyncs the file, closes it, renames it over path, and fsyncs the
// directory so the rename itself is durable.
//
// The directory must exist; Write does not create it. Errors are "write <path>: <cause>" for
// the temporary file and the rename, and "sync directory <dir>: <cause>" for the final fsync
// of the directory. On every error before the rename the temporary file is removed and path
// is unchanged; an error of the directory fsync comes after the rename, so path already holds
// data but may not hold it after a crash.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	tmp := f.Name()
	if _, err = f.Write(data); err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %q: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs the directory dir, so that a rename or removal in it survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}
