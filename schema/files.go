package schema

import (
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"
)

// This file is the one set of rules for reading a policy repository from a tree of files,
// whatever presents the tree: a directory (CI, `validate --dir`, the calicoctl commands) or a
// git commit (hosts, `--repo`). Both sources give the tree as an fs.FS and call ReadFS, so they
// accept and refuse the same trees.

// MaxFileSize bounds one repository file, in bytes (8 MiB). The limit is this program's: a
// policy file is text written by people, and the decoder's work grows with the file; it is the
// same for every source.
const MaxFileSize = 8 << 20

// repoDirs are the folders that hold repository files (SPEC §2).
var repoDirs = []string{"profiles", "endpoints", "tests"}

// ReadFS reads the repository files of the tree fsys (a directory, a git commit) with one set
// of rules:
//   - a repository file is profiles/*.yaml|json, endpoints/*.yaml|json or tests/*.yaml
//     (FileKind); every other entry is ignored, editors' lock files (".#x.yaml") included;
//   - profiles, endpoints and tests must be real directories, and repository files regular
//     files: a symbolic link (to anything, inside the repository or not) is refused and never
//     followed, and so is a directory, submodule, named pipe, socket or device named like a
//     repository file;
//   - a repository file holds at most MaxFileSize bytes;
//   - a repository file's name is valid UTF-8 without control characters (TAB, LF, CR, ...),
//     line or paragraph separators or bidirectional controls (badName): it is printed as
//     "path: message" on one line; such a name is printed escaped (showPath);
//   - another git repository in place of a repository folder or file is refused with one
//     message (otherRepoFolder, otherRepoFile) whatever the source shows of it: a path that
//     .gitmodules at the root lists as a submodule (whether the tree holds an empty folder
//     there, as a clone without --recurse-submodules does, the submodule's checkout, a git
//     link, or nothing), a git link, a folder holding .git (an embedded repository);
//   - a top-level entry named like a repository folder in another case (Profiles, TESTS) is
//     refused: a checkout on a case-insensitive file system would merge it with the folder;
//   - a top-level folder one edit away from a repository folder (endpoint, test, endpionts,
//     Profiless: misspelledDir) is refused with the name to write, not ignored;
//   - a repository file's name holds no ':' (it would make "path:line:col: message"
//     ambiguous, and Windows cannot check it out);
//   - an evident misspelling of a repository file name (profiles/WEB.yml, WEB.YAML, WEB.JSON,
//     tests/x.yml, tests/x.json) is refused with the name to write, not ignored;
//   - a folder inside a repository folder (endpoints/prod) that directly holds a file named
//     *.yaml, *.yml or *.json is refused (subfolderMsg), not ignored: its files are not read.
//     Hidden folders (.x), folders without such files and other repositories (a folder
//     holding .git, a git link) are ignored.
//
// files maps repository-relative slash paths to contents. refused holds one error per refused
// path (no line: the entry was not read), sorted; it is nil when nothing was refused. err is
// an I/O failure: the tree (or an entry the rules accept) could not be read at all.
//
// fsys must list entries without following symbolic links (fs.ReadDir's DirEntry.Type(), as
// os.Root's FS and a git tree give), and Open must not follow links out of the tree.
func ReadFS(fsys fs.FS) (files map[string][]byte, refused Errors, err error) {
	files, refused, _, err = ReadFSSkipping(fsys, nil)
	return files, refused, err
}

// ReadFSSkipping is ReadFS that leaves out the content of the files for which skip (when not
// nil) returns true: it is called with the path of a repository file the rules accept (listed
// as a regular file) once it is opened, before the opened file is checked again (kind, size
// limit) and read. Such a file is in files with a nil content and in unread (nil when there is
// none). The git source skips the files whose decoded form the decode cache holds
// (DecodeCache.Has, by path and blob id): the same blob passed these checks when it was
// decoded (a git tree cannot change under the reader), its content is not needed, and looking
// up and inflating 2,400 blobs takes 0.4 s.
func ReadFSSkipping(fsys fs.FS, skip func(p string) bool) (files map[string][]byte, refused Errors, unread map[string]bool, err error) {
	top, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, nil, nil, err
	}
	subs, why, err := submodulePaths(fsys, top)
	if err != nil {
		return nil, nil, nil, err
	}
	r := &treeReader{fsys: fsys, subs: subs, files: map[string][]byte{}, skip: skip}
	if why != "" {
		r.refuse(".gitmodules", "%s", why)
	}
	r.refuseSubmodules()
	for _, t := range top {
		if !r.repoFolder(t) {
			continue
		}
		if err := r.readFolder(t.Name()); err != nil {
			return nil, nil, nil, err
		}
	}
	r.refused.Sort()
	return r.files, r.refused, r.unread, nil
}

// treeReader is one ReadFS: the tree, the submodule paths of its .gitmodules, and what it read
// and refused so far.
type treeReader struct {
	fsys    fs.FS
	subs    map[string]bool
	files   map[string][]byte
	refused Errors
	skip    func(p string) bool // see ReadFSSkipping
	unread  map[string]bool
}

// refuse records a refused path (no position: the entry is not read).
func (r *treeReader) refuse(p, format string, args ...any) {
	r.refused = append(r.refused, &Error{Path: showPath(p), Msg: fmt.Sprintf(format, args...)})
}

// refuseSubmodules refuses the paths .gitmodules lists that are, or are inside, repository
// folders and files.
func (r *treeReader) refuseSubmodules() {
	// A submodule path is refused whether or not the tree has the entry: .gitmodules says it is
	// another repository's (a clone without --recurse-submodules has an empty folder there, a
	// commit a link to a commit, a recursive clone the other repository's files).
	for _, p := range slices.Sorted(maps.Keys(r.subs)) {
		switch {
		case isRepoDir(p):
			r.refuse(p, "%s", otherRepoFolder)
		case FileKind(p) != "" || misspelled(p) != "":
			if !r.subs[path.Dir(p)] {
				r.refuse(p, "%s", otherRepoFile)
			}
		}
	}
}

// repoFolder reports whether the top-level entry t is a repository folder to read. It refuses
// a misspelled folder, a folder or file named like a repository folder in another case, and a
// repository folder that is a link, a git link (another repository) or not a directory.
func (r *treeReader) repoFolder(t fs.DirEntry) bool {
	dir := t.Name()
	if !isRepoDir(dir) {
		if want := misspelledDir(dir); want != "" && t.IsDir() {
			// endpoint/, test/, endpionts/: its files would be ignored without a word.
			r.refuse(dir, "a misspelling of the repository folder %s (its files are not read): rename it to %s", want, want)
			return false
		}
		if low := strings.ToLower(dir); isRepoDir(low) {
			// A checkout on a case-insensitive file system (macOS, Windows) would merge
			// it with the folder, or take its place: --dir there and --repo would differ.
			if t.IsDir() {
				r.refuse(dir, "repository folders are lowercase: rename it to %s", low)
			} else {
				r.refuse(dir, "%s named like the folder %s in another case: rename it (the two names are one on case-insensitive file systems)", describeMode(t.Type()), low)
			}
		}
		return false
	}
	if r.subs[dir] {
		return false
	}
	switch mode := t.Type(); {
	case mode&fs.ModeSymlink != 0:
		r.refuse(dir, "a symbolic link (links are not followed): make %s a directory", dir)
		return false
	case mode&fs.ModeIrregular != 0: // a git link (a tree gives no other irregular entry)
		r.refuse(dir, "%s", otherRepoFolder)
		return false
	case !t.IsDir():
		r.refuse(dir, "%s, not a directory: %s must be a directory", describeMode(mode), dir)
		return false
	}
	return true
}

// readFolder reads the repository files of the repository folder dir.
func (r *treeReader) readFolder(dir string) error {
	entries, err := fs.ReadDir(r.fsys, dir)
	if err != nil {
		return err
	}
	if hasGit(entries) {
		// A submodule's checkout or an embedded repository: its files are not this
		// repository's (a git commit holds only a link to another repository's commit).
		r.refuse(dir, "%s", otherRepoFolder)
		return nil
	}
	for _, e := range entries {
		if err := r.readEntry(dir, e); err != nil {
			return err
		}
	}
	return nil
}

// readEntry reads the entry e of the repository folder dir when it is a repository file, and
// refuses it when it is named like one but may not be read (or is a folder of policy files).
func (r *treeReader) readEntry(dir string, e fs.DirEntry) error {
	p := dir + "/" + e.Name()
	kind := FileKind(p)
	fix := misspelled(p)
	if kind == "" && e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !r.subs[p] {
		held, err := holdsPolicyFile(r.fsys, p)
		if err != nil {
			return err
		}
		if held {
			// endpoints/prod/lab.yaml: read as nothing, its endpoints would lose
			// their chains without a word.
			r.refuse(p, subfolderMsg, dir, dir)
			return nil
		}
	}
	if kind == "" && (fix == "" || e.IsDir()) {
		return nil
	}
	mode := e.Type()
	switch {
	case r.subs[p]:
		// refused above
	case !utf8.ValidString(e.Name()):
		r.refuse(p, "file name %q is not valid UTF-8: rename the file", e.Name())
	case badName(e.Name()) != "":
		r.refuse(p, "file name %q has %s: rename the file", e.Name(), badName(e.Name()))
	case strings.Contains(e.Name(), ":"):
		// It would make "path:line:col: message" ambiguous, and Windows cannot check
		// such a file out.
		r.refuse(p, "file name %q has ':', which breaks \"path:line:col\" positions (and Windows file names): rename the file", e.Name())
	case fix != "":
		r.refuse(p, "%s files end in %s: write %s", fixKind(dir), fixExts(dir), fix)
	case mode&fs.ModeSymlink != 0:
		r.refuse(p, "a symbolic link (links are not followed): put the file itself here")
	case mode&fs.ModeIrregular != 0 || mode.IsDir() && dirHasGit(r.fsys, p):
		r.refuse(p, "%s", otherRepoFile)
	case !mode.IsRegular():
		r.refuse(p, "%s named like %s: only regular files are read", describeMode(mode), fileNoun(dir))
	default:
		b, why, err := readRegular(r.fsys, p, r.skip)
		switch {
		case err != nil:
			return err
		case why != "":
			r.refuse(p, "%s", why)
		case b == nil:
			if r.unread == nil {
				r.unread = map[string]bool{}
			}
			r.unread[p] = true
			r.files[p] = nil
		default:
			r.files[p] = b
		}
	}
	return nil
}

// subfolderMsg is the format (Sprintf with the repository folder twice) of a folder inside a
// repository folder that holds files named like policy files: only the repository folders'
// own files are read (SPEC §2), so they are refused rather than ignored. LoadFiles knows such a
// refusal by its start (subfolderPrefix) and counts it as a folder that could not be read.
const (
	subfolderMsg    = subfolderPrefix + "%s: files in it are not read; move them into %s/"
	subfolderPrefix = "a folder inside "
)

// holdsPolicyFile reports whether the folder p directly holds an entry that is not a folder
// and whose name ends in .yaml, .yml or .json (in any case, hidden names and editors' lock
// files aside). A folder holding .git is another repository (a git commit shows a link to a
// commit there, whose files it cannot list), so it reports false for one, the same for every
// source.
func holdsPolicyFile(fsys fs.FS, p string) (bool, error) {
	entries, err := fs.ReadDir(fsys, p)
	if err != nil {
		return false, err
	}
	if hasGit(entries) {
		return false, nil
	}
	for _, e := range entries {
		name := strings.ToLower(e.Name())
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		switch path.Ext(name) {
		case ".yaml", ".yml", ".json":
			return true, nil
		}
	}
	return false, nil
}

// badName says what character of a file name makes it print badly or misleadingly ("a line
// feed (U+000A)"), "" when none does: the characters that repository text may not hold
// (refuseChar), TAB and LF. Such a name would break validate's one-line "path:line:col:
// message" output, or show in another order than it is.
func badName(name string) string {
	for _, r := range name {
		if n := charName(r); n != "" {
			return n
		}
	}
	return ""
}

// showPath is a refused path as printed: bytes that are not UTF-8 become U+FFFD, and the
// characters badName objects to are escaped as %q escapes them (`profiles/a\nb.yaml`), so
// that an error stays on one line and reads as it is.
func showPath(p string) string {
	p = strings.ToValidUTF8(p, "\uFFFD")
	if badName(p) == "" {
		return p
	}
	var b strings.Builder
	for _, r := range p {
		if badName(string(r)) != "" {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// submodulePaths reads the submodule paths of the .gitmodules file at the root of the tree
// (when top lists it as a regular file), as slash paths; git reads .gitmodules there only.
// why says why .gitmodules was refused (over MaxFileSize).
// gitmodules(5): "The file contains one subsection per submodule, and the subsection value is
// the name of the submodule. [...] submodule.<name>.path: Defines the path, relative to the
// top-level directory of the Git working tree, where the submodule is expected to be checked
// out." Its syntax is git-config(1)'s: "[section "subsection"]" headers, "name = value"
// lines (names case-insensitive), values optionally in double quotes, '#' and ';' starting
// comments. This reads the path lines of [submodule ...] sections only.
func submodulePaths(fsys fs.FS, top []fs.DirEntry) (subs map[string]bool, why string, err error) {
	subs = map[string]bool{}
	found := false
	for _, e := range top {
		if e.Name() == ".gitmodules" && e.Type().IsRegular() {
			found = true
		}
	}
	if !found {
		return subs, "", nil
	}
	b, why, err := readRegular(fsys, ".gitmodules", nil)
	if err != nil || why != "" {
		return subs, why, err // over the limit: refused, as its submodules cannot be known
	}
	inSub := false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "["), "\"")
			inSub = strings.EqualFold(strings.TrimSpace(strings.TrimSuffix(name, "]")), "submodule")
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !inSub || !ok || !strings.EqualFold(strings.TrimSpace(key), "path") {
			continue
		}
		val = strings.TrimSpace(val)
		if strings.HasPrefix(val, "\"") {
			if end := strings.IndexByte(val[1:], '"'); end >= 0 {
				val = val[1 : 1+end]
			}
		} else if i := strings.IndexAny(val, "#;"); i >= 0 {
			val = strings.TrimSpace(val[:i])
		}
		val = strings.TrimSuffix(strings.TrimPrefix(val, "./"), "/")
		if val != "" {
			subs[val] = true
		}
	}
	return subs, "", nil
}

// otherRepoFolder and otherRepoFile say that a repository folder or file is another git
// repository: a submodule (.gitmodules lists it; a checkout, a clone without
// --recurse-submodules or a commit's git link), or a repository embedded in a checkout (a
// folder holding .git; committed, a git link). Every source gives the same message.
const (
	otherRepoFolder = "a git submodule or another git repository: commit the files themselves in the policy repository"
	otherRepoFile   = "a git submodule or another git repository named like a repository file: commit the file itself in the policy repository"
)

// dirHasGit reports whether the folder p holds a .git entry (a listing error counts as no).
func dirHasGit(fsys fs.FS, p string) bool {
	entries, err := fs.ReadDir(fsys, p)
	return err == nil && hasGit(entries)
}

func hasGit(entries []fs.DirEntry) bool {
	for _, e := range entries {
		if e.Name() == ".git" {
			return true
		}
	}
	return false
}

// misspelledDir returns the repository folder that the top-level name dir is one edit away
// from (a letter added, dropped, changed, or two adjacent letters swapped; case ignored), ""
// when none is (or dir is one, in any case: that is reported on its own).
func misspelledDir(dir string) string {
	low := strings.ToLower(dir)
	if isRepoDir(low) {
		return ""
	}
	for _, d := range repoDirs {
		if oneEdit(low, d) {
			return d
		}
	}
	return ""
}

// oneEdit reports whether a becomes b by one edit: a byte added, dropped or changed, or two
// adjacent bytes swapped.
func oneEdit(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	switch {
	case len(b) == len(a)+1: // b has one byte more, at i
		return a[i:] == b[i+1:]
	case len(b) != len(a) || i == len(a):
		return false
	case a[i+1:] == b[i+1:]: // one byte changed
		return true
	}
	return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:] // a swap
}

// isRepoDir reports whether a top-level name is one of the folders of repository files.
func isRepoDir(name string) bool {
	for _, d := range repoDirs {
		if name == d {
			return true
		}
	}
	return false
}

// readRegular reads the file p, checking on the opened file that it is a regular file within
// MaxFileSize: the entry may have changed since it was listed. why says why it was refused.
// When skip(p) is true (skip not nil) the opened file is neither checked nor read: b is nil
// (a file read is never nil, even when empty).
func readRegular(fsys fs.FS, p string, skip func(string) bool) (b []byte, why string, err error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	if skip != nil && skip(p) {
		return nil, "", nil // content left out (ReadFSSkipping): b is nil
	}
	st, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Sprintf("%s, not a regular file: only regular files are read", describeMode(st.Mode().Type())), nil
	}
	if st.Size() > MaxFileSize {
		return nil, tooBig(st.Size()), nil
	}
	b, err = io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", p, err)
	}
	if b == nil {
		b = []byte{}
	}
	if len(b) > MaxFileSize { // it grew since Stat
		return nil, tooBig(-1), nil
	}
	return b, "", nil
}

// tooBig says that a file of size bytes (-1: unknown) is over MaxFileSize.
func tooBig(size int64) string {
	if size < 0 {
		return fmt.Sprintf("more than the limit of %d bytes (8 MiB) for one file", MaxFileSize)
	}
	return fmt.Sprintf("%d bytes, more than the limit of %d bytes (8 MiB) for one file", size, MaxFileSize)
}

// describeMode names a kind of file, for "x named like a profile file" messages.
func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeDir != 0:
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	case m&fs.ModeIrregular != 0:
		return "a git submodule or other special file"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}

// misspelled returns the name to write for an evident misspelling of a repository file name
// in a repository folder: the extension written with capitals or as .yml (and .json for tests,
// which are YAML only; JSON is YAML, so renaming is enough). "" if p is no such misspelling.
func misspelled(p string) string {
	dir, base := path.Split(p)
	if strings.HasPrefix(base, ".#") {
		return ""
	}
	ext := path.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	if stem == "" {
		return ""
	}
	want := ""
	switch strings.ToLower(ext) {
	case ".yaml", ".yml":
		want = ".yaml"
	case ".json":
		want = ".json"
		if dir == "tests/" {
			want = ".yaml"
		}
	default:
		return ""
	}
	switch dir {
	case "profiles/", "endpoints/", "tests/":
	default:
		return ""
	}
	if ext == want {
		return ""
	}
	return dir + stem + want
}

func fixKind(dir string) string {
	switch dir {
	case "profiles":
		return "profile"
	case "endpoints":
		return "endpoint"
	}
	return "test"
}

// fileNoun is "a profile file", "an endpoint file" or "a test file" for a repository folder.
func fileNoun(dir string) string {
	if dir == "endpoints" {
		return "an endpoint file"
	}
	return "a " + fixKind(dir) + " file"
}

func fixExts(dir string) string {
	if dir == "tests" {
		return ".yaml"
	}
	return ".yaml or .json"
}

// ReadRoot reads the repository files of the directory root with ReadFS, through os.Root: no
// path, link or race leads out of root. root must be a directory: a mistyped path is an
// error, not an empty repository.
func ReadRoot(root string) (files map[string][]byte, refused Errors, err error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("%q is not a directory", root)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	return ReadFS(rootFS{r.FS(), r})
}

// rootFS is os.Root's FS whose Open does not wait: an entry listed as a regular file and
// replaced by a named pipe before it is opened would block a plain open until a writer comes.
// ReadFS then refuses it, as what it opened is not a regular file.
type rootFS struct {
	fsys fs.FS // r.FS()
	r    *os.Root
}

func (f rootFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	return f.r.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

func (f rootFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(f.fsys, name) }

// ReadDir is ReadRoot with the refused entries as the error (an Errors), for callers that do not
// report them apart; files are returned either way.
func ReadDir(root string) (map[string][]byte, error) {
	files, refused, err := ReadRoot(root)
	if err != nil {
		return nil, err
	}
	if len(refused) > 0 {
		return files, refused
	}
	return files, nil
}
