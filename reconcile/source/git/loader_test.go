package git

import (
	"context"
	"crypto/sha1"
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

	gogit "github.com/go-git/go-git/v5"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/schema"
)

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// refusedLines prints refused errors one a line, as validate does.
func refusedLines(es schema.Errors) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Error())
	}
	return strings.Join(out, "\n")
}

// One repository tree, read as a directory (what CI runs: validate --dir) and as a git commit
// (what hosts run: --repo), must give the same files and the same refused entries.
func TestDirAndGitReadTheSameTree(t *testing.T) {
	const web = "id: WEB\ninbound_rules: []\noutbound_rules: []\n"
	outside := filepath.Join(t.TempDir(), "outside.yaml")
	if err := os.WriteFile(outside, []byte("id: APP\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	atLimit := strings.Repeat("#", schema.MaxFileSize)
	tests := []struct {
		name    string
		build   func(t *testing.T, work string)     // after profiles/WEB.yaml is written
		git     func(t *testing.T, r *gittest.Repo) // extra git steps (index entries a directory cannot hold)
		dirOnly bool                                // git cannot commit the tree
		gitOnly bool                                // a directory cannot hold the tree
		files   []string                            // besides profiles/WEB.yaml
		refused string
	}{
		{name: "plain", files: []string{"endpoints/e.json", "tests/t.yaml"}, build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"endpoints/e.json": "{}", "tests/t.yaml": "tests: []\n", "README.md": "x",
				"profiles/notes.txt": "x", "profiles/sub/X.txt": "x", "other/Y.yaml": "y", "profiles/WEB.yaml~": "backup"})
		}},
		{name: "subfolders", files: []string{"endpoints/e.yaml"}, build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"endpoints/e.yaml": "endpoints: []\n",
				"endpoints/prod/lab.yaml": "endpoints: []\n", "profiles/old/APP.JSON": "{}", "tests/more/t.yml": "tests: []\n",
				"endpoints/.hidden/x.yaml": "x", "profiles/notes/README.md": "x", "tests/deep/a/t.yaml": "tests: []\n",
				"endpoints/locks/.#e.yaml": "x", "profiles/x.yml/WEB.yaml": "id: WEB\n"})
			testenv.WriteFiles(t, w, map[string]string{"endpoints/vendor/e.yaml": "endpoints: []\n"})
			gittest.Git(t, filepath.Join(w, "endpoints/vendor"), "", "init", "-q")
			gittest.Git(t, filepath.Join(w, "endpoints/vendor"), "", "add", "-A")
			gittest.Git(t, filepath.Join(w, "endpoints/vendor"), "", "commit", "-q", "-m", "inner")
		}, refused: "endpoints/prod: a folder inside endpoints: files in it are not read; move them into endpoints/\n" +
			"profiles/old: a folder inside profiles: files in it are not read; move them into profiles/\n" +
			"profiles/x.yml: a folder inside profiles: files in it are not read; move them into profiles/\n" +
			"tests/more: a folder inside tests: files in it are not read; move them into tests/"},
		{name: "executable file", files: []string{"profiles/EXE.yaml"}, build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"profiles/EXE.yaml": "id: EXE\n"})
			if err := os.Chmod(filepath.Join(w, "profiles/EXE.yaml"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "link to a file inside", build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"real.yaml": "id: APP\n"})
			symlink(t, "../real.yaml", filepath.Join(w, "profiles/APP.yaml"))
		}, refused: "profiles/APP.yaml: a symbolic link (links are not followed): put the file itself here"},
		{name: "link to a file outside", build: func(t *testing.T, w string) {
			symlink(t, outside, filepath.Join(w, "endpoints/e.yaml"))
		}, refused: "endpoints/e.yaml: a symbolic link (links are not followed): put the file itself here"},
		{name: "link to a file outside through ..", build: func(t *testing.T, w string) {
			rel, err := filepath.Rel(filepath.Join(w, "profiles"), outside)
			if err != nil {
				t.Fatal(err)
			}
			symlink(t, rel, filepath.Join(w, "profiles/APP.yaml"))
		}, refused: "profiles/APP.yaml: a symbolic link (links are not followed): put the file itself here"},
		{name: "dangling link", build: func(t *testing.T, w string) {
			symlink(t, "nowhere.yaml", filepath.Join(w, "tests/t.yaml"))
		}, refused: "tests/t.yaml: a symbolic link (links are not followed): put the file itself here"},
		{name: "symlinked folder", build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"shared/e.yaml": "endpoints: []\n"})
			symlink(t, "shared", filepath.Join(w, "endpoints"))
		}, refused: "endpoints: a symbolic link (links are not followed): make endpoints a directory"},
		{name: "emacs lock file", build: func(t *testing.T, w string) {
			symlink(t, "someone@host.1234:1700000000", filepath.Join(w, "profiles/.#WEB.yaml"))
		}},
		{name: "oversize file", files: []string{"endpoints/at-limit.yaml"}, build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"endpoints/at-limit.yaml": atLimit, "endpoints/big.yaml": atLimit + "#"})
		}, refused: "endpoints/big.yaml: 8388609 bytes, more than the limit of 8388608 bytes (8 MiB) for one file"},
		{name: "directory named like a file", build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"profiles/X.yaml/inner.yaml": "id: X\n", "tests/t.yaml/a": "x"})
		}, refused: "profiles/X.yaml: a directory named like a profile file: only regular files are read\n" +
			"tests/t.yaml: a directory named like a test file: only regular files are read"},
		{name: "folder is a file", build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"tests": "tests: []\n"})
		}, refused: "tests: a regular file, not a directory: tests must be a directory"},
		{name: "non-UTF-8 name", build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"profiles/W\xffB.yaml": "id: WEB\n", "profiles/\xfe.txt": "ignored"})
		}, refused: `profiles/W` + "\uFFFD" + `B.yaml: file name "W\xffB.yaml" is not valid UTF-8: rename the file`},
		{name: "misspelled extensions", build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"profiles/APP.yml": "id: APP\n", "profiles/DB.YAML": "id: DB\n",
				"profiles/X.JSON": "{}", "endpoints/e.Yml": "endpoints: []\n", "tests/t.json": "{}", "tests/u.yml": "tests: []\n",
				"profiles/.yml": "x", "profiles/old.yml.bak": "x"})
		}, refused: "endpoints/e.Yml: endpoint files end in .yaml or .json: write endpoints/e.yaml\n" +
			"profiles/APP.yml: profile files end in .yaml or .json: write profiles/APP.yaml\n" +
			"profiles/DB.YAML: profile files end in .yaml or .json: write profiles/DB.yaml\n" +
			"profiles/X.JSON: profile files end in .yaml or .json: write profiles/X.json\n" +
			"tests/t.json: test files end in .yaml: write tests/t.yaml\n" +
			"tests/u.yml: test files end in .yaml: write tests/u.yaml"},
		{name: "folders in another case", build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"Profiles/X.yaml": "id: X\n", "TESTS/t.yaml": "tests: []\n", "Endpoints": "a file"})
		}, refused: "Endpoints: a regular file named like the folder endpoints in another case: rename it (the two names are one on case-insensitive file systems)\n" +
			"Profiles: repository folders are lowercase: rename it to profiles\n" +
			"TESTS: repository folders are lowercase: rename it to tests"},
		{name: "control characters in names", build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"profiles/A\nB.yaml": "id: A\n", "endpoints/e\r.json": "{}", "tests/\tt.yaml": "tests: []\n",
				"profiles/x\u202e.json": "{}", "profiles/a\nb.txt": "ignored"})
		}, refused: `endpoints/e\r.json: file name "e\r.json" has a carriage return (U+000D): rename the file` + "\n" +
			`profiles/A\nB.yaml: file name "A\nB.yaml" has a line feed (U+000A): rename the file` + "\n" +
			`profiles/x\u202e.json: file name "x\u202e.json" has a bidirectional-text control (U+202E, right-to-left override): rename the file` + "\n" +
			`tests/\tt.yaml: file name "\tt.yaml" has a tab (U+0009): rename the file`},
		{name: "named pipe", dirOnly: true, build: func(t *testing.T, w string) {
			if err := os.MkdirAll(filepath.Join(w, "endpoints"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(filepath.Join(w, "endpoints/e.yaml"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, refused: "endpoints/e.yaml: a named pipe named like an endpoint file: only regular files are read"},
		{name: "submodule checkout as folder", dirOnly: true, build: func(t *testing.T, w string) {
			testenv.WriteFiles(t, w, map[string]string{"endpoints/.git": "gitdir: ../.git/modules/endpoints\n", "endpoints/e.yaml": "endpoints: []\n"})
		}, refused: "endpoints: a git submodule or another git repository: commit the files themselves in the policy repository"},
		{name: "embedded repositories", build: func(t *testing.T, w string) {
			for _, d := range []string{"endpoints", "profiles/E.yaml"} {
				testenv.WriteFiles(t, w, map[string]string{d + "/e.yaml": "endpoints: []\n"})
				gittest.Git(t, filepath.Join(w, d), "", "init", "-q")
				gittest.Git(t, filepath.Join(w, d), "", "add", "-A")
				gittest.Git(t, filepath.Join(w, d), "", "commit", "-q", "-m", "inner")
			}
		}, refused: "endpoints: a git submodule or another git repository: commit the files themselves in the policy repository\n" +
			"profiles/E.yaml: a git submodule or another git repository named like a repository file: commit the file itself in the policy repository"},
		{name: "submodules", gitOnly: true, git: func(t *testing.T, r *gittest.Repo) {
			head := strings.Repeat("1", 40) // a commit of another repository
			r.Git("update-index", "--add", "--cacheinfo", "160000,"+head+",profiles/S.yaml")
			r.Git("update-index", "--add", "--cacheinfo", "160000,"+head+",endpoints")
		}, refused: "endpoints: a git submodule or another git repository: commit the files themselves in the policy repository\n" +
			"profiles/S.yaml: a git submodule or another git repository named like a repository file: commit the file itself in the policy repository"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newFixture(t, "main")
			testenv.WriteFiles(t, r.Work, map[string]string{"profiles/WEB.yaml": web})
			if tc.build != nil {
				tc.build(t, r.Work)
			}
			want := append([]string{"profiles/WEB.yaml"}, tc.files...)
			sort.Strings(want)
			wantFiles := strings.Join(want, ",")
			check := func(what string, snap *source.Snapshot) {
				t.Helper()
				if got := strings.Join(paths(snap.Files), ","); got != wantFiles {
					t.Errorf("%s: files %s, want %s", what, got, wantFiles)
				}
				if string(snap.Files["profiles/WEB.yaml"]) != web {
					t.Errorf("%s: WEB = %q", what, snap.Files["profiles/WEB.yaml"])
				}
				// Git gives every file's blob id (the decode cache's key); a directory none.
				for p, b := range snap.Files {
					id, ok := snap.FileIDs[p]
					if what == "dir" {
						ok = !ok
					} else {
						ok = ok && id == "sha1:"+fmt.Sprintf("%x", sha1.Sum(append([]byte(fmt.Sprintf("blob %d\x00", len(b))), b...)))
					}
					if !ok {
						t.Errorf("%s: FileIDs[%s] = %q", what, p, id)
					}
				}
				if what == "git" && len(snap.FileIDs) != len(snap.Files) {
					t.Errorf("git: %d FileIDs for %d files", len(snap.FileIDs), len(snap.Files))
				}
				if got := refusedLines(snap.Refused); got != tc.refused {
					t.Errorf("%s: refused:\n%s\nwant:\n%s", what, got, tc.refused)
				}
				for _, e := range snap.Refused {
					if e.Line != 0 || e.Col != 0 {
						t.Errorf("%s: %v has a position", what, e)
					}
				}
				// The refused entries make the repository invalid, with their errors first.
				if _, errs := schema.LoadFiles(snap.Files, snap.Refused); tc.refused != "" && !strings.Contains(refusedLines(errs), tc.refused) {
					t.Errorf("%s: LoadFiles errors do not include the refused entries:\n%s", what, refusedLines(errs))
				}
			}
			if !tc.gitOnly {
				snap, err := source.Dir{Path: r.Work}.Fetch(context.Background(), source.FetchOptions{})
				if err != nil {
					t.Fatalf("dir: %v", err)
				}
				check("dir", snap)
			}
			if tc.dirOnly {
				return
			}
			r.Git("add", "-A")
			if tc.git != nil {
				tc.git(t, r)
			}
			r.Git("commit", "-q", "-m", tc.name)
			src := newSource(t, "file://"+r.Work, nil)
			full := fetch(t, src, "")
			check("git", full)
			// Known: the files the caller holds are checked alike but not read (Unread, nil
			// content); ReadFile gives their content; the others are read.
			// (Known is true only for files read before, as the decode cache is: an oversize
			// file it is asked about is still refused.)
			asked := map[string]bool{}
			known := func(p, id string) bool {
				asked[p] = true
				_, read := full.Files[p]
				return read && id == full.FileIDs[p] && p != "profiles/WEB.yaml"
			}
			lazy, err := src.Fetch(context.Background(), source.FetchOptions{Known: known})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range want {
				if !asked[p] {
					t.Errorf("Known not asked for %s", p)
				}
			}
			if got, want := refusedLines(lazy.Refused), refusedLines(full.Refused); got != want {
				t.Errorf("lazy: refused %s, want %s", got, want)
			}
			if got := strings.Join(paths(lazy.Files), ","); got != wantFiles {
				t.Errorf("lazy: files %s, want %s", got, wantFiles)
			}
			for p, b := range full.Files {
				if lazy.FileIDs[p] != full.FileIDs[p] {
					t.Errorf("lazy: FileIDs[%s] = %q, want %q", p, lazy.FileIDs[p], full.FileIDs[p])
				}
				if p == "profiles/WEB.yaml" {
					if lazy.Unread[p] || string(lazy.Files[p]) != web {
						t.Errorf("lazy: WEB unread %v, content %q", lazy.Unread[p], lazy.Files[p])
					}
					continue
				}
				if !lazy.Unread[p] || lazy.Files[p] != nil {
					t.Errorf("lazy: %s unread %v, content %q", p, lazy.Unread[p], lazy.Files[p])
				}
				if got, err := lazy.ReadFile(p); err != nil || string(got) != string(b) {
					t.Errorf("lazy: ReadFile(%s) = %q, %v; want %q", p, got, err, b)
				}
			}
			if len(lazy.Unread) != len(full.Files)-1 {
				t.Errorf("lazy: %d unread of %d files", len(lazy.Unread), len(full.Files))
			}
		})
	}
}

// The commit tree as an fs.FS obeys the io/fs contract (testing/fstest) and keeps git's kinds
// of entries: links and submodules are never followed.
func TestTreeFS(t *testing.T) {
	r := newFixture(t, "main")
	testenv.WriteFiles(t, r.Work, map[string]string{
		"profiles/WEB.yaml": "id: WEB\n", "profiles/sub/deep/X.yaml": "x", "README.md": "# r\n", "run.sh": "#!/bin/sh\n",
		"real/e.yaml": "endpoints: []\n",
	})
	if err := os.Chmod(filepath.Join(r.Work, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, "../README.md", filepath.Join(r.Work, "profiles/link.yaml"))
	symlink(t, "real", filepath.Join(r.Work, "endpoints"))
	r.Git("add", "-A")
	r.Git("commit", "-q", "-m", "tree")
	r.Git("update-index", "--add", "--cacheinfo", "160000,"+r.Git("rev-parse", "HEAD")+",mod")
	r.Git("commit", "-q", "-m", "submodule")

	repo, err := gogit.PlainOpen(r.Work)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	fsys := newTreeFS(repo.Storer, tree)
	if err := fstest.TestFS(fsys, "profiles/WEB.yaml", "profiles/sub/deep/X.yaml", "README.md", "run.sh",
		"real/e.yaml", "profiles/link.yaml", "endpoints", "mod"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		mode fs.FileMode
		size int64
	}{
		{".", fs.ModeDir | 0o555, 0},
		{"profiles", fs.ModeDir | 0o555, 0},
		{"profiles/WEB.yaml", 0o444, 8},
		{"run.sh", 0o555, 10},
		{"profiles/link.yaml", fs.ModeSymlink | 0o777, int64(len("../README.md"))},
		{"endpoints", fs.ModeSymlink | 0o777, int64(len("real"))},
		{"mod", fs.ModeIrregular, 0},
	} {
		st, err := fs.Stat(fsys, tc.path)
		if err != nil {
			t.Errorf("Stat(%s): %v", tc.path, err)
			continue
		}
		if st.Mode() != tc.mode || st.Size() != tc.size {
			t.Errorf("Stat(%s) = %v %d bytes, want %v %d bytes", tc.path, st.Mode(), st.Size(), tc.mode, tc.size)
		}
	}
	if b, err := fs.ReadFile(fsys, "profiles/link.yaml"); err != nil || string(b) != "../README.md" {
		t.Errorf("ReadFile(link) = %q, %v; want the link's target, not followed", b, err)
	}
	for _, p := range []string{"endpoints/e.yaml", "profiles/WEB.yaml/x", "nope", "mod/x"} {
		if _, err := fsys.Open(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%s) = %v, want not exist (links are not followed)", p, err)
		}
	}
	for _, p := range []string{"/profiles", "profiles/../README.md", "./README.md", ""} {
		if _, err := fsys.Open(p); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want invalid", p, err)
		}
	}
}

// Real submodules (git submodule add) at a repository folder and at a repository file path:
// a clone without --recurse-submodules (empty folders: what CI often checks out), a recursive
// clone and the commit itself are refused alike, from .gitmodules.
func TestSubmodulesBothSources(t *testing.T) {
	sub := newFixture(t, "main")
	testenv.WriteFiles(t, sub.Work, map[string]string{"t.yaml": "tests: []\n", "e.yaml": "endpoints: []\n"})
	sub.Git("add", "-A")
	sub.Git("commit", "-q", "-m", "sub")

	r := newFixture(t, "main")
	testenv.WriteFiles(t, r.Work, map[string]string{"profiles/WEB.yaml": "id: WEB\ninbound_rules: []\noutbound_rules: []\n"})
	for _, p := range []string{"tests", "endpoints", "profiles/S.yaml"} {
		r.Git("-c", "protocol.file.allow=always", "submodule", "add", "-q", "file://"+sub.Work, p)
	}
	r.Git("add", "-A")
	r.Git("commit", "-q", "-m", "submodules")
	if got := r.Git("ls-files", "--stage", "tests"); !strings.HasPrefix(got, "160000 ") {
		t.Fatalf("tests is not a git link: %q", got)
	}

	const want = "endpoints: a git submodule or another git repository: commit the files themselves in the policy repository\n" +
		"profiles/S.yaml: a git submodule or another git repository named like a repository file: commit the file itself in the policy repository\n" +
		"tests: a git submodule or another git repository: commit the files themselves in the policy repository"
	check := func(what string, snap *source.Snapshot) {
		t.Helper()
		if got := strings.Join(paths(snap.Files), ","); got != "profiles/WEB.yaml" {
			t.Errorf("%s: files %s, want profiles/WEB.yaml", what, got)
		}
		if got := refusedLines(snap.Refused); got != want {
			t.Errorf("%s: refused:\n%s\nwant:\n%s", what, got, want)
		}
	}
	root := t.TempDir()
	plain, recursive := filepath.Join(root, "plain"), filepath.Join(root, "recursive")
	gittest.Git(t, root, "", "clone", "-q", r.Work, plain)
	gittest.Git(t, root, "", "-c", "protocol.file.allow=always", "clone", "-q", "--recurse-submodules", r.Work, recursive)
	if ents, err := os.ReadDir(filepath.Join(plain, "tests")); err != nil || len(ents) != 0 {
		t.Fatalf("plain clone: tests holds %v (%v), want an empty folder", ents, err)
	}
	if _, err := os.Stat(filepath.Join(recursive, "tests", "t.yaml")); err != nil {
		t.Fatalf("recursive clone: %v", err)
	}
	for what, dir := range map[string]string{"plain clone": plain, "recursive clone": recursive, "work tree": r.Work} {
		snap, err := source.Dir{Path: dir}.Fetch(context.Background(), source.FetchOptions{})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		check(what, snap)
	}
	check("git", fetch(t, newSource(t, "file://"+r.Work, nil), ""))
}
