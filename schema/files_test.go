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
		"profiles/.old/Z.yaml":    reg("a hidden folder is ignored"),
		"profiles/deep/a/Z.yaml":  reg("only one level is checked"),
		"profiles/doc/Z.txt":      reg("no policy file"),
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
	want := "Profiles: repository folders are lowercase: rename it to profiles\n" +
		"endpoints/big.json: 8388609 bytes, more than the limit of 8388608 bytes (8 MiB) for one file\n" +
		"profiles/D.yaml: a directory named like a profile file: only regular files are read\n" +
		"profiles/LINK.yaml: a symbolic link (links are not followed): put the file itself here\n" +
		"profiles/P.yaml: a named pipe named like a profile file: only regular files are read\n" +
		"profiles/S.yaml: a socket named like a profile file: only regular files are read\n" +
		"profiles/X.yml: profile files end in .yaml or .json: write profiles/X.yaml\n" +
		"profiles/Y.Json: profile files end in .yaml or .json: write profiles/Y.json\n" +
		"profiles/sub: a folder inside profiles: files in it are not read; move them into profiles/\n" +
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
		"tests: a git submodule or another git repository: commit the files themselves in the policy repository"
	if err != nil || refused.Error() != want {
		t.Errorf("refused:\n%v\nwant:\n%s\n(err %v)", refused, want, err)
	}

	// Repository folders in another case: a case-insensitive checkout merges them with the
	// folder (or puts them in its place).
	_, refused, err = ReadFS(fstest.MapFS{
		"ENDPOINTS/e.yaml":  reg("endpoints: []\n"),
		"Tests":             reg("a file"),
		"PROFILES":          &fstest.MapFile{Data: []byte("profiles"), Mode: fs.ModeSymlink | 0o777},
		"profiles/WEB.yaml": reg("id: WEB\n"),
		"Profile/x.yaml":    reg("a misspelling"),
		"Other/x.yaml":      reg("x"),
	})
	want = "ENDPOINTS: repository folders are lowercase: rename it to endpoints\n" +
		"PROFILES: a symbolic link named like the folder profiles in another case: rename it (the two names are one on case-insensitive file systems)\n" +
		"Profile: a misspelling of the repository folder profiles (its files are not read): rename it to profiles\n" +
		"Tests: a regular file named like the folder tests in another case: rename it (the two names are one on case-insensitive file systems)"
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
		_, why, err := readRegular(rootFS{r.FS(), r}, "p.yaml", nil)
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

// File names that would break the one-line "path: message" output, or read in another order
// than they are, are refused, the name escaped as %q escapes it; ignored files may have any
// name.
func TestReadFSControlCharacterNames(t *testing.T) {
	reg := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
	_, refused, err := ReadFS(fstest.MapFS{
		"profiles/A\nB.yaml":          reg("id: A\n"),
		"profiles/C\r.json":           reg("{}"),
		"profiles/T\tAB.yaml":         reg("id: T\n"),
		"endpoints/\x1b[31mred.yaml":  reg("endpoints: []\n"),
		"endpoints/x\u202egnp.yaml":   reg("endpoints: []\n"),
		"endpoints/nel\u0085.json":    reg("{}"),
		"tests/ls\u2028.yaml":         reg("tests: []\n"),
		"tests/del\x7f.yml":           reg("tests: []\n"),
		"tests/a\nb.txt":              reg("ignored"),
		"profiles/W\xff\n.yaml":       reg("id: W\n"),
		"profiles/ok-é 1:1:.yaml":     reg("id: ok\n"),
		"profiles/ok-é 1.yaml":        reg("id: ok\n"),
		"profiles/sub\n/X.yaml":       reg("a folder holding a profile file: refused, name escaped"),
		"other/\n.yaml":               reg("ignored"),
		"profiles/M\u200fRLM.yaml":    reg("id: M\n"),
		"profiles/NBSP\u00a0ok.yaml":  reg("id: NBSP\n"),
		"profiles/ZWSP\u200bok.yaml":  reg("id: ZWSP\n"),
		"profiles/FF\f.yaml":          reg("id: FF\n"),
		"profiles/VT\v.yaml":          reg("id: VT\n"),
		"profiles/BEL\a.yaml":         reg("id: BEL\n"),
		"profiles/C1\u009b1m.yaml":    reg("id: C1\n"),
		"profiles/PS\u2029.yaml":      reg("id: PS\n"),
		"profiles/LRI\u2066.yaml":     reg("id: LRI\n"),
		"profiles/ALM\u061c.yaml":     reg("id: ALM\n"),
		"profiles/US\x1f.yaml":        reg("id: US\n"),
		"profiles/NUL-free name.yaml": reg("id: x\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`endpoints/\x1b[31mred.yaml: file name "\x1b[31mred.yaml" has a control character (U+001B, escape): rename the file`,
		`endpoints/nel\u0085.json: file name "nel\u0085.json" has a next-line character (U+0085, NEL): rename the file`,
		`endpoints/x\u202egnp.yaml: file name "x\u202egnp.yaml" has a bidirectional-text control (U+202E, right-to-left override): rename the file`,
		`profiles/ALM\u061c.yaml: file name "ALM\u061c.yaml" has a bidirectional-text control (U+061C, Arabic letter mark): rename the file`,
		`profiles/A\nB.yaml: file name "A\nB.yaml" has a line feed (U+000A): rename the file`,
		`profiles/BEL\a.yaml: file name "BEL\a.yaml" has a control character (U+0007, bell): rename the file`,
		`profiles/C1\u009b1m.yaml: file name "C1\u009b1m.yaml" has a control character (U+009B): rename the file`,
		`profiles/C\r.json: file name "C\r.json" has a carriage return (U+000D): rename the file`,
		`profiles/FF\f.yaml: file name "FF\f.yaml" has a control character (U+000C, form feed): rename the file`,
		`profiles/LRI\u2066.yaml: file name "LRI\u2066.yaml" has a bidirectional-text control (U+2066, left-to-right isolate): rename the file`,
		`profiles/M\u200fRLM.yaml: file name "M\u200fRLM.yaml" has a bidirectional-text control (U+200F, right-to-left mark): rename the file`,
		`profiles/PS\u2029.yaml: file name "PS\u2029.yaml" has a paragraph separator (U+2029): rename the file`,
		`profiles/T\tAB.yaml: file name "T\tAB.yaml" has a tab (U+0009): rename the file`,
		`profiles/US\x1f.yaml: file name "US\x1f.yaml" has a control character (U+001F): rename the file`,
		`profiles/VT\v.yaml: file name "VT\v.yaml" has a control character (U+000B, vertical tab): rename the file`,
		"profiles/W\uFFFD\\n.yaml: file name \"W\\xff\\n.yaml\" is not valid UTF-8: rename the file",
		`profiles/ok-é 1:1:.yaml: file name "ok-é 1:1:.yaml" has ':', which breaks "path:line:col" positions (and Windows file names): rename the file`,
		`profiles/sub\n: a folder inside profiles: files in it are not read; move them into profiles/`,
		`tests/del\x7f.yml: file name "del\x7f.yml" has a control character (U+007F, delete): rename the file`,
		`tests/ls\u2028.yaml: file name "ls\u2028.yaml" has a line separator (U+2028): rename the file`,
	}
	var got []string
	for _, e := range refused {
		if strings.ContainsAny(e.Error(), "\n\r\t\x1b\u2028\u202e") {
			t.Errorf("%q is not one plain line", e.Error())
		}
		got = append(got, e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("refused:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// .gitmodules at the root names submodule paths: a repository folder or file there is
// refused under every source, whether the tree has it as an empty folder (a clone without
// --recurse-submodules), a checkout (with .git) or a git link.
func TestReadFSGitmodules(t *testing.T) {
	reg := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
	const gitmodules = "# submodules\n[submodule \"tests\"]\n\tpath = tests\n\turl = ../t.git\n" +
		"[Submodule \"eps\"]\n  PATH=./endpoints/ ; a comment\n" +
		"[submodule \"p\"]\n\tpath = \"profiles/S.yaml\"\n" +
		"[submodule \"inner\"]\n\tpath = tests/inner.yaml\n" +
		"[core]\n\tpath = profiles/WEB.yaml\n" +
		"[submodule \"other\"]\n\tpath = vendor/lib\n\tbranch = main # path = profiles/APP.yaml\n"
	want := "endpoints: a git submodule or another git repository: commit the files themselves in the policy repository\n" +
		"profiles/S.yaml: a git submodule or another git repository named like a repository file: commit the file itself in the policy repository\n" +
		"tests: a git submodule or another git repository: commit the files themselves in the policy repository"
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"plain clone", fstest.MapFS{
			".gitmodules": reg(gitmodules), "tests": &fstest.MapFile{Mode: fs.ModeDir | 0o755},
			"endpoints": &fstest.MapFile{Mode: fs.ModeDir | 0o755}, "profiles/S.yaml": &fstest.MapFile{Mode: fs.ModeDir | 0o755},
		}, want},
		{"recursive clone", fstest.MapFS{
			".gitmodules": reg(gitmodules), "tests/.git": reg("gitdir: ../.git/modules/tests\n"), "tests/t.yaml": reg("tests: []\n"),
			"endpoints/e.yaml": reg("endpoints: []\n"), "profiles/S.yaml/.git": reg("gitdir: x\n"),
		}, want},
		{"git links", fstest.MapFS{
			".gitmodules": reg(gitmodules), "tests": &fstest.MapFile{Mode: fs.ModeIrregular},
			"endpoints": &fstest.MapFile{Mode: fs.ModeIrregular}, "profiles/S.yaml": &fstest.MapFile{Mode: fs.ModeIrregular},
		}, want},
		{"listed only", fstest.MapFS{".gitmodules": reg(gitmodules)}, want},
		{"a .gitmodules that is a link is not read", fstest.MapFS{
			".gitmodules": &fstest.MapFile{Data: []byte("x"), Mode: fs.ModeSymlink | 0o777}, "x": reg(gitmodules),
		}, ""},
		{"an oversize .gitmodules is refused", fstest.MapFS{
			".gitmodules": reg(strings.Repeat("#", MaxFileSize+1)), "tests/t.yaml": reg("tests: []\n"),
		}, ".gitmodules: 8388609 bytes, more than the limit of 8388608 bytes (8 MiB) for one file"},
		{".gitmodules in a folder is not read", fstest.MapFS{"tests/.gitmodules": reg(gitmodules), "tests/t.yaml": reg("tests: []\n")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fsys["profiles/WEB.yaml"] = reg("id: WEB\n")
			files, refused, err := ReadFS(tc.fsys)
			if err != nil {
				t.Fatal(err)
			}
			if got := refused.Error(); refused == nil && tc.want != "" || refused != nil && got != tc.want {
				t.Errorf("refused:\n%v\nwant:\n%s", refused, tc.want)
			}
			if files["profiles/WEB.yaml"] == nil {
				t.Errorf("files %s: profiles/WEB.yaml not read", sortedKeys(files))
			}
			for p := range files {
				if dir, _, _ := strings.Cut(p, "/"); strings.Contains(tc.want, dir+": ") {
					t.Errorf("%s read from a submodule", p)
				}
			}
		})
	}
}

// Top-level folders one edit away from a repository folder are refused with the name to
// write; others, and files of such names, are not repository folders.
func TestReadFSMisspelledFolders(t *testing.T) {
	reg := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
	_, refused, err := ReadFS(fstest.MapFS{
		"endpoint/lab.yaml":      reg("endpoints: []\n"),
		"endpionts/lab.yaml":     reg("endpoints: []\n"),
		"test/t.yaml":            reg("tests: []\n"),
		"Tests_/t.yaml":          reg("tests: []\n"),
		"profiless/WEB.yaml":     reg("id: WEB\n"),
		"profiles-old/WEB.yaml":  reg("id: WEB\n"),
		"profile":                reg("a file, not a folder"),
		"tests/t.yaml":           reg("tests: []\n"),
		"docs/endpoint/x.yaml":   reg("not at the top"),
		"endpoints/ok.yaml":      reg("endpoints: []\n"),
		"endpoints/a:b.yaml":     reg("endpoints: []\n"),
		"tests/t:9:9: hi.yaml":   reg("tests: []\n"),
		"profiles/x:y.txt":       reg("not a repository file"),
		"profiles/WEB:old.yml":   reg("id: WEB\n"),
		"profiles/WEB.yaml:orig": reg("not a repository file"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "Tests_: a misspelling of the repository folder tests (its files are not read): rename it to tests\n" +
		"endpionts: a misspelling of the repository folder endpoints (its files are not read): rename it to endpoints\n" +
		"endpoint: a misspelling of the repository folder endpoints (its files are not read): rename it to endpoints\n" +
		`endpoints/a:b.yaml: file name "a:b.yaml" has ':', which breaks "path:line:col" positions (and Windows file names): rename the file` + "\n" +
		`profiles/WEB:old.yml: file name "WEB:old.yml" has ':', which breaks "path:line:col" positions (and Windows file names): rename the file` + "\n" +
		"profiless: a misspelling of the repository folder profiles (its files are not read): rename it to profiles\n" +
		"test: a misspelling of the repository folder tests (its files are not read): rename it to tests\n" +
		`tests/t:9:9: hi.yaml: file name "t:9:9: hi.yaml" has ':', which breaks "path:line:col" positions (and Windows file names): rename the file`
	if got := refused.Error(); got != want {
		t.Errorf("refused:\n%s\nwant:\n%s", got, want)
	}
}

func TestOneEdit(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"endpoint", "endpoints", true}, {"endpointss", "endpoints", true}, {"endpionts", "endpoints", true},
		{"enpdoints", "endpoints", true}, {"endpoints", "endpoints", false}, {"xndpoints", "endpoints", true},
		{"endpoinst", "endpoints", true}, {"ndpoints", "endpoints", true}, {"endpoint-", "endpoints", true},
		{"test", "tests", true}, {"tset", "tests", false}, {"tsets", "tests", true}, {"profiles-old", "profiles", false},
		{"prof", "profiles", false}, {"", "tests", false}, {"tests", "", false}, {"ab", "ba", true}, {"abc", "bca", false},
	} {
		if got := oneEdit(tt.a, tt.b); got != tt.want {
			t.Errorf("oneEdit(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
