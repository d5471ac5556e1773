package schema

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

func sortedKeys(m map[string][]byte) string {
	ks := keys(m)
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// ReadFS over a tree given through io/fs (here in memory; the directory and git sources are
// tested on real trees in reconcile/source/git).
func TestReadFS(t *testing.T) {
	reg := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
	fsys := fstest.MapFS{
		"profiles/WEB.yaml":       reg("id: WEB\n"),
		"profiles/APP.json":       reg("{}"),
		"profiles/LINK.yaml":      &fstest.MapFile{Data: []byte("WEB.yaml"), Mode: fs.ModeSymlink | 0o777},
		"profiles/.#WEB.yaml":     &fstest.MapFile{Data: []byte("u@h.1:2"), Mode: fs.ModeSymlink | 0o777},
		"profiles/P.yaml":         &fstest.MapFile{Mode: fs.ModeNamedPipe | 0o644},
		"profiles/S.yaml":         &fstest.MapFile{Mode: fs.ModeSocket | 0o644},
		"profiles/D.yaml/x":       reg("x"),
		"profiles/X.yml":          reg("x"),
		"profiles/Y.Json":         reg("x"),
		"profiles/old.yml/x":      reg("a directory named like a misspelling is ignored"),
		"profiles/README.md":      reg("x"),
		"profiles/sub/Z.yaml":     reg("x"),
		"profiles/\x80.json":      reg("x"),
		"endpoints/e.yaml":        reg("endpoints: []\n"),
		"endpoints/big.json":      reg(strings.Repeat(" ", MaxFileSize+1)),
		"endpoints/limit.json":    reg(strings.Repeat(" ", MaxFileSize)),
		"tests/t.yaml":            reg("tests: []\n"),
		"tests/t.json":            reg("{}"),
		"tests/.#t.yml":           reg("lock"),
		"Profiles/WEB.yaml":       reg("another folder"),
		"other/profiles/WEB.yaml": reg("not at the top"),
	}
	files, refused, err := ReadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sortedKeys(files), "endpoints/e.yaml,endpoints/limit.json,profiles/APP.json,profiles/WEB.yaml,tests/t.yaml"; got != want {
		t.Errorf("files %s, want %s", got, want)
	}
	want := "endpoints/big.json: 8388609 bytes, more than the limit of 8388608 bytes (8 MiB) for one file\n" +
		"profiles/D.yaml: a directory named like a profile file: only regular files are read\n" +
		"profiles/LINK.yaml: a symbolic link (links are not followed): put the file itself here\n" +
		"profiles/P.yaml: a named pipe named like a profile file: only regular files are read\n" +
		"profiles/S.yaml: a socket named like a profile file: only regular files are read\n" +
		"profiles/X.yml: profile files end in .yaml or .json: write profiles/X.yaml\n" +
		"profiles/Y.Json: profile files end in .yaml or .json: write profiles/Y.json\n" +
		"profiles/\uFFFD.json: file name \"\\x80.json\" is not valid UTF-8: rename the file\n" +
		"tests/t.json: test files end in .yaml: write tests/t.yaml"
	if got := refused.Error(); got != want {
		t.Errorf("refused:\n%s\nwant:\n%s", got, want)
	}

	// Folders that are links or files.
	_, refused, err = ReadFS(fstest.MapFS{
		"profiles":      &fstest.MapFile{Data: []byte("real"), Mode: fs.ModeSymlink | 0o777},
		"real/WEB.yaml": reg("id: WEB\n"),
		"endpoints":     reg("x"),
		"tests":         &fstest.MapFile{Mode: fs.ModeIrregular},
	})
	want = "endpoints: a regular file, not a directory: endpoints must be a directory\n" +
		"profiles: a symbolic link (links are not followed): make profiles a directory\n" +
		"tests: a git submodule or other special file, not a directory: tests must be a directory"
	if err != nil || refused.Error() != want {
		t.Errorf("refused:\n%v\nwant:\n%s\n(err %v)", refused, want, err)
	}

	// An empty tree is an empty repository.
	if files, refused, err := ReadFS(fstest.MapFS{}); err != nil || len(files) != 0 || refused != nil {
		t.Errorf("empty tree: %v %v %v", files, refused, err)
	}
}

// changingFS lists profiles/WEB.yaml as a regular file but opens what replaced it since.
type changingFS struct {
	fstest.MapFS
	mode fs.FileMode
	grow bool
}

type changedFile struct {
	fs.File
	c changingFS
}

func (f changedFile) Stat() (fs.FileInfo, error) {
	st, err := f.File.Stat()
	return changedInfo{st, f.c.mode}, err
}

func (f changedFile) Read(p []byte) (int, error) {
	if f.c.grow {
		for i := range p {
			p[i] = ' '
		}
		return len(p), nil
	}
	return f.File.Read(p)
}

type changedInfo struct {
	fs.FileInfo
	mode fs.FileMode
}

func (i changedInfo) Mode() fs.FileMode { return i.mode }

func (c changingFS) Open(name string) (fs.File, error) {
	f, err := c.MapFS.Open(name)
	if err != nil || name != "profiles/WEB.yaml" {
		return f, err
	}
	return changedFile{f, c}, nil
}

// What is read is checked after opening: an entry replaced (or grown) since it was listed is
// refused, not read.
func TestReadFSChecksWhatItOpened(t *testing.T) {
	base := fstest.MapFS{"profiles/WEB.yaml": {Data: []byte("id: WEB\n"), Mode: 0o644}}
	for _, tc := range []struct {
		fsys fs.FS
		want string
	}{
		{changingFS{base, fs.ModeNamedPipe | 0o644, false}, "profiles/WEB.yaml: a named pipe, not a regular file: only regular files are read"},
		{changingFS{base, fs.ModeDir | 0o755, false}, "profiles/WEB.yaml: a directory, not a regular file: only regular files are read"},
		{changingFS{base, 0o644, true}, "profiles/WEB.yaml: more than the limit of 8388608 bytes (8 MiB) for one file"},
	} {
		files, refused, err := ReadFS(tc.fsys)
		if err != nil || len(files) != 0 || refused.Error() != tc.want {
			t.Errorf("files %v, refused %v, err %v; want %s", keys(files), refused, err, tc.want)
		}
	}
}

// failingFS cannot list one folder.
type failingFS struct{ fstest.MapFS }

var errDisk = errors.New("input/output error")

func (f failingFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name == "endpoints" {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errDisk}
	}
	return f.MapFS.ReadDir(name)
}

// An I/O failure is err, not a refused entry: the tree could not be read.
func TestReadFSIOError(t *testing.T) {
	_, _, err := ReadFS(failingFS{fstest.MapFS{"endpoints/e.yaml": {Data: []byte("x")}}})
	if !errors.Is(err, errDisk) {
		t.Errorf("err = %v, want the I/O error", err)
	}
}

func TestMisspelled(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"profiles/WEB.yml", "profiles/WEB.yaml"},
		{"profiles/WEB.YAML", "profiles/WEB.yaml"},
		{"profiles/WEB.JSON", "profiles/WEB.json"},
		{"endpoints/e.YML", "endpoints/e.yaml"},
		{"tests/t.json", "tests/t.yaml"},
		{"tests/t.yml", "tests/t.yaml"},
		{"profiles/WEB.yaml", ""},
		{"profiles/WEB.json", ""},
		{"tests/t.yaml", ""},
		{"profiles/.#WEB.yml", ""},
		{"profiles/.yml", ""},
		{"profiles/README.md", ""},
		{"profiles/sub/WEB.yml", ""},
		{"other/WEB.yml", ""},
		{"WEB.yml", ""},
	} {
		if got := misspelled(tc.path); got != tc.want {
			t.Errorf("misspelled(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// ReadRoot's Open never waits on a named pipe that replaced a file after the listing; what it
// opened is then refused as not a regular file.
func TestRootFSOpenDoesNotBlockOnFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "p.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan string, 1)
	go func() {
		_, why, err := readRegular(rootFS{r.FS(), r}, "p.yaml")
		done <- fmt.Sprint(why, err)
	}()
	select {
	case got := <-done:
		if want := "a named pipe, not a regular file: only regular files are read<nil>"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("opening a named pipe blocked")
	}
}
