package git

import (
	"errors"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// treeFS presents the tree of a git commit as an fs.FS (and fs.ReadDirFS, fs.StatFS), so that
// schema.ReadFS reads a commit with the same rules as a directory. Entries keep their git kind:
// a tree is a directory (mode 0555), a blob a regular file (0444, or 0555 when executable), a
// symbolic link has fs.ModeSymlink and a submodule (a link to a commit of another repository)
// fs.ModeIrregular. Links are never followed: opening a link gives the link itself, whose
// content is its target, and a path through a link does not exist. Modification times are
// zero: a commit's tree has none per entry. Names are looked up as stored, without go-git's
// checkout path rules, so a directory and a commit list the same names.
type treeFS struct {
	s    storer.EncodedObjectStorer
	root *object.Tree
	// trees memoizes the subtrees looked up (a path lookup walks from the root).
	trees map[plumbing.Hash]*object.Tree
	// blobs records the blob id of every file opened, by path.
	blobs map[string]plumbing.Hash
}

var (
	_ fs.ReadDirFS = (*treeFS)(nil)
	_ fs.StatFS    = (*treeFS)(nil)
)

// newTreeFS returns the tree as a file system; s is the repository's object storage.
func newTreeFS(s storer.EncodedObjectStorer, root *object.Tree) *treeFS {
	return &treeFS{s: s, root: root, trees: map[plumbing.Hash]*object.Tree{}, blobs: map[string]plumbing.Hash{}}
}

// node is one entry of the tree: its base name, git mode and object.
type node struct {
	fsys *treeFS
	name string
	mode filemode.FileMode
	hash plumbing.Hash
}

// lookup finds name (a valid fs path) in the tree without following links.
func (t *treeFS) lookup(op, name string) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return node{fsys: t, name: ".", mode: filemode.Dir, hash: t.root.Hash}, nil
	}
	tree := t.root
	parts := strings.Split(name, "/")
	for i, part := range parts {
		var found *object.TreeEntry
		for j := range tree.Entries {
			if tree.Entries[j].Name == part {
				found = &tree.Entries[j]
				break
			}
		}
		if found == nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if i == len(parts)-1 {
			return node{fsys: t, name: part, mode: found.Mode, hash: found.Hash}, nil
		}
		if found.Mode != filemode.Dir {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		sub, err := t.tree(found.Hash)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		tree = sub
	}
	panic("unreachable")
}

// fsMode maps a git mode to an fs mode.
func fsMode(m filemode.FileMode) fs.FileMode {
	switch m {
	case filemode.Dir:
		return fs.ModeDir | 0o555
	case filemode.Regular, filemode.Deprecated:
		return 0o444
	case filemode.Executable:
		return 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	}
	return fs.ModeIrregular // a submodule, or a mode git does not write
}

// hasBlob reports whether the node's object is a blob of this repository (a file or a link).
func (n node) hasBlob() bool {
	switch n.mode {
	case filemode.Regular, filemode.Deprecated, filemode.Executable, filemode.Symlink:
		return true
	}
	return false
}

func (n node) info() (fs.FileInfo, error) {
	fi, _, err := n.infoBlob()
	return fi, err
}

// infoBlob is info, with the blob of a file or link (nil for a directory or submodule).
func (n node) infoBlob() (fs.FileInfo, *object.Blob, error) {
	fi := &fileInfo{name: n.name, mode: fsMode(n.mode)}
	if !n.hasBlob() {
		return fi, nil, nil
	}
	b, err := object.GetBlob(n.fsys.s, n.hash)
	if err != nil {
		return nil, nil, err
	}
	fi.size = b.Size
	return fi, b, nil
}

// tree returns the tree object h, decoded once.
func (t *treeFS) tree(h plumbing.Hash) (*object.Tree, error) {
	if tr, ok := t.trees[h]; ok {
		return tr, nil
	}
	tr, err := object.GetTree(t.s, h)
	if err != nil {
		return nil, err
	}
	t.trees[h] = tr
	return tr, nil
}

// Open opens name: a directory (fs.ReadDirFile), a file, a link (its target as content) or a
// submodule (empty).
func (t *treeFS) Open(name string) (fs.File, error) {
	n, err := t.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.mode == filemode.Dir {
		fi, err := n.info()
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		entries, err := t.readDir(n, name)
		if err != nil {
			return nil, err
		}
		return &dirFile{info: fi, entries: entries}, nil
	}
	if n.hasBlob() {
		t.blobs[name] = n.hash
	}
	return &blobFile{n: n, name: name}, nil
}

// ReadDir lists the directory name, sorted by name.
func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := t.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if n.mode != filemode.Dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return t.readDir(n, name)
}

// Stat describes name without following a link.
func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	n, err := t.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := n.info()
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return fi, nil
}

func (t *treeFS) readDir(n node, name string) ([]fs.DirEntry, error) {
	tree := t.root
	if name != "." {
		var err error
		if tree, err = t.tree(n.hash); err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
		}
	}
	out := make([]fs.DirEntry, len(tree.Entries))
	for i, e := range tree.Entries {
		out[i] = dirEntry{node{fsys: t, name: e.Name, mode: e.Mode, hash: e.Hash}}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

type dirEntry struct{ n node }

func (e dirEntry) Name() string               { return e.n.name }
func (e dirEntry) IsDir() bool                { return e.n.mode == filemode.Dir }
func (e dirEntry) Type() fs.FileMode          { return fsMode(e.n.mode).Type() }
func (e dirEntry) Info() (fs.FileInfo, error) { return e.n.info() }
func (e dirEntry) String() string             { return fs.FormatDirEntry(e) }

type fileInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return time.Time{} }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return nil }
func (fi *fileInfo) String() string     { return fs.FormatFileInfo(fi) }

// blobFile is an open file, link or submodule. Its blob is looked up on the first Stat or
// Read (a failure is the "open" error Open gave before) and inflated on the first Read: a file
// opened and not read (schema.ReadFSSkipping) costs neither.
type blobFile struct {
	n    node
	name string
	info fs.FileInfo  // nil until looked up
	blob *object.Blob // nil for a submodule
	r    io.ReadCloser
}

func (f *blobFile) Stat() (fs.FileInfo, error) {
	if f.info == nil {
		fi, b, err := f.n.infoBlob()
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: f.name, Err: err}
		}
		f.info, f.blob = fi, b
	}
	return f.info, nil
}

func (f *blobFile) Read(p []byte) (int, error) {
	if f.r == nil {
		if _, err := f.Stat(); err != nil {
			return 0, err
		}
		if f.blob == nil {
			return 0, io.EOF
		}
		r, err := f.blob.Reader()
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		f.r, f.blob = r, nil
	}
	return f.r.Read(p)
}

func (f *blobFile) Close() error {
	if f.r == nil {
		return nil
	}
	return f.r.Close()
}

// dirFile is an open directory.
type dirFile struct {
	info    fs.FileInfo
	entries []fs.DirEntry
	off     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

func (d *dirFile) ReadDir(count int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if count <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	count = min(count, len(rest))
	d.off += count
	return rest[:count], nil
}
