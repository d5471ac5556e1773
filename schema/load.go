package schema

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in a repository file, printed as "path:line:col: message".
type Error struct {
	Path string `json:"path"`
	Pos
	Msg string `json:"message"`
}

func (e *Error) Error() string {
	switch {
	case e.Path == "":
		return e.Msg
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Col, e.Msg)
}

// Errors is every problem found, sorted by path and position.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders the errors by path, line, column and message.
func (es Errors) Sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Msg < b.Msg
	})
}

// Kinds of repository file.
const (
	KindProfile   = "profile"
	KindEndpoints = "endpoints"
	KindTests     = "tests"
)

// FileKind tells which kind of repository file a repository-relative slash path is, or "" for a
// file the repository format ignores. Emacs lock files (".#WEB.yaml", dangling symbolic links
// that exist while a buffer is modified) are ignored: '#' is in no valid id, and reading them
// would fail the whole repository while a person edits it.
func FileKind(p string) string {
	dir, base := path.Split(p)
	if strings.HasPrefix(base, ".#") {
		return ""
	}
	ext := path.Ext(base)
	switch dir {
	case "profiles/":
		if ext == ".yaml" || ext == ".json" {
			return KindProfile
		}
	case "endpoints/":
		if ext == ".yaml" || ext == ".json" {
			return KindEndpoints
		}
	case "tests/":
		if ext == ".yaml" {
			return KindTests
		}
	}
	return ""
}

// MarshalYAML writes a single port as an integer and a range as "a:b".
func (p PortRange) MarshalYAML() (any, error) {
	if p.First == p.Last {
		return int(p.First), nil
	}
	return p.String(), nil
}

// MarshalJSON writes a single port as an integer and a range as "a:b".
func (p PortRange) MarshalJSON() ([]byte, error) {
	if p.First == p.Last {
		return []byte(strconv.Itoa(int(p.First))), nil
	}
	return []byte(strconv.Quote(p.String())), nil
}

// MarshalYAML writes a numeric protocol as an integer.
func (p Protocol) MarshalYAML() (any, error) {
	if n, err := strconv.Atoi(string(p)); err == nil {
		return n, nil
	}
	return string(p), nil
}

// MarshalJSON writes a numeric protocol as an integer.
func (p Protocol) MarshalJSON() ([]byte, error) {
	if n, err := strconv.Atoi(string(p)); err == nil {
		return []byte(strconv.Itoa(n)), nil
	}
	return []byte(strconv.Quote(string(p))), nil
}
