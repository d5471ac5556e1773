package schema

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file decides which bytes are text that the decoder reads; it runs first in parse, so
// every entry point (repository files, `rule update` on stdin) gets the same rules, and the
// calicoctl edit layer (reconcile/calicoctl edit.go, through ParseEditable) runs the same check
// before it edits a file:
//   - a UTF-8 byte-order mark at the start is dropped (editors on Windows write one);
//   - CRLF becomes LF before parsing, so JSON and YAML positions count lines alike;
//   - a UTF-16 or UTF-32 byte-order mark (or such text without one), a NUL byte (a binary file)
//     and bytes that are not UTF-8 are refused at their position;
//   - characters that make the text mean something else than what an editor, `git diff` or a
//     review shows are refused at their position, comments included (refuseChar): a carriage
//     return not followed by a line feed, NEL (U+0085), LS (U+2028) and PS (U+2029), which the
//     YAML parser reads as line breaks while editors and git show none (a rule hidden after a
//     comment would pass review); every other control character but TAB (C0, DEL, C1); and the
//     bidirectional controls of "Trojan Source" (CVE-2021-42574: U+202A-U+202E,
//     U+2066-U+2069) and the invisible direction marks (U+200E, U+200F, U+061C), which make
//     text display in another order than it is read.
//
// For YAML, parse then reads the %YAML directives (yamlDirectives): "%YAML 1.2" is blanked for
// yaml.v3, which takes only 1.1; other versions are refused.
//
// Positions count lines from 1 and columns from 1 in characters, as yaml.v3 does and as an
// editor shows them: only LF and CRLF end a line, and the byte-order mark is not a column.

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16BE = []byte{0xFE, 0xFF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF32BE = []byte{0x00, 0x00, 0xFE, 0xFF}
	bomUTF32LE = []byte{0xFF, 0xFE, 0x00, 0x00}
)

// textProblem is why data is not UTF-8 text, and where.
type textProblem struct {
	Pos
	Msg string
}

// utfEncoding names a UTF-16 or UTF-32 encoding that data is in, from its byte-order mark or,
// without one, from the NUL bytes around a first ASCII character; "" if neither.
func utfEncoding(data []byte) string {
	switch {
	case bytes.HasPrefix(data, bomUTF32BE), bytes.HasPrefix(data, bomUTF32LE):
		return "UTF-32"
	case bytes.HasPrefix(data, bomUTF16BE), bytes.HasPrefix(data, bomUTF16LE):
		return "UTF-16"
	case len(data) >= 4 && data[0] == 0 && data[1] == 0 && data[2] == 0 && data[3] != 0,
		len(data) >= 4 && data[0] != 0 && data[1] == 0 && data[2] == 0 && data[3] == 0:
		return "UTF-32"
	case len(data) >= 2 && (data[0] == 0) != (data[1] == 0):
		return "UTF-16"
	}
	return ""
}

// cleanText returns data as the decoder reads it (without a UTF-8 byte-order mark, every line
// break a LF), or the first reason it is not UTF-8 text that reads as it shows (a NUL byte is
// reported before anything else: it says "binary"). data is not modified.
func cleanText(data []byte) ([]byte, *textProblem) {
	if enc := utfEncoding(data); enc != "" {
		return nil, &textProblem{Pos{1, 1}, enc + " text: save the file as UTF-8"}
	}
	data = bytes.TrimPrefix(data, bomUTF8)
	if bytes.IndexByte(data, '\r') >= 0 {
		data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	}
	// A NUL byte says "binary" better than the invalid UTF-8 that usually comes first in one.
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, &textProblem{offsetPos(data, i), "binary file: a NUL byte; a repository file is UTF-8 text"}
	}
	for i := 0; i < len(data); {
		if c := data[i]; c >= 0x20 && c < 0x7F || c == '\n' || c == '\t' {
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return nil, &textProblem{offsetPos(data, i), fmt.Sprintf("invalid UTF-8 (byte 0x%02x): save the file as UTF-8", data[i])}
		}
		if msg := refuseChar(r); msg != "" {
			return nil, &textProblem{offsetPos(data, i), msg}
		}
		i += n
	}
	return data, nil
}

// lineBreakLike is the end of the message on the characters that the YAML parser (yaml.v3,
// following YAML 1.1) reads as line breaks and editors and git do not.
const lineBreakLike = ": the YAML parser reads a line break there, editors and git show none; remove it (end lines with LF or CRLF)"

// controlNames names the control characters people meet; others are named by code only.
var controlNames = map[rune]string{
	0x07: "bell", 0x08: "backspace", 0x0B: "vertical tab", 0x0C: "form feed", 0x1A: "substitute, Ctrl-Z",
	0x1B: "escape", 0x7F: "delete",
}

// bidiNames are the bidirectional-text controls and marks refused in repository text.
var bidiNames = map[rune]string{
	0x061C: "Arabic letter mark", 0x200E: "left-to-right mark", 0x200F: "right-to-left mark",
	0x202A: "left-to-right embedding", 0x202B: "right-to-left embedding", 0x202C: "pop directional formatting",
	0x202D: "left-to-right override", 0x202E: "right-to-left override",
	0x2066: "left-to-right isolate", 0x2067: "right-to-left isolate", 0x2068: "first strong isolate", 0x2069: "pop directional isolate",
}

// refuseChar says why the character r may not appear in repository text, "" when it may. TAB
// and LF may; so may CR, in a CRLF line break only (cleanText has turned those into LF before
// it asks).
func refuseChar(r rune) string {
	name := charName(r)
	switch {
	case name == "" || r == '\t' || r == '\n':
		return ""
	case r == '\r':
		return "a carriage return not followed by a line feed: use LF or CRLF line endings"
	case r == 0x85 || r == 0x2028 || r == 0x2029:
		return name + lineBreakLike
	case r < 0x20 || r >= 0x7F && r < 0xA0:
		return name + ": remove it (tabs and line breaks are the only control characters a repository file may hold)"
	}
	return name + ": it makes text display in another order than it is read; remove it"
}

// charName names a character that repository text or file names may not hold (TAB and LF
// included: file names may not hold them): "a control character (U+000C, form feed)"; "" for
// other characters.
func charName(r rune) string {
	switch {
	case r == '\t':
		return "a tab (U+0009)"
	case r == '\n':
		return "a line feed (U+000A)"
	case r == '\r':
		return "a carriage return (U+000D)"
	case r == 0x85:
		return "a next-line character (U+0085, NEL)"
	case r == 0x2028:
		return "a line separator (U+2028)"
	case r == 0x2029:
		return "a paragraph separator (U+2029)"
	case r < 0x20 || r >= 0x7F && r < 0xA0:
		if n, ok := controlNames[r]; ok {
			return fmt.Sprintf("a control character (U+%04X, %s)", r, n)
		}
		return fmt.Sprintf("a control character (U+%04X)", r)
	}
	if n, ok := bidiNames[r]; ok {
		return fmt.Sprintf("a bidirectional-text control (U+%04X, %s)", r, n)
	}
	return ""
}

// offsetPos is the line and the column in characters of byte offset off in LF-separated data
// (a byte that is not UTF-8 counts as one character).
func offsetPos(data []byte, off int) Pos {
	off = min(max(off, 0), len(data))
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return Pos{Line: 1 + bytes.Count(data[:start], []byte("\n")), Col: 1 + utf8.RuneCount(data[start:off])}
}

// text runs cleanText for the decoder: the cleaned data, or false after reporting the problem.
func (d *decoder) text(data []byte) ([]byte, bool) {
	clean, p := cleanText(data)
	if p != nil {
		d.errAt(p.Pos, "%s", p.Msg)
		return nil, false
	}
	return clean, true
}

// yamlDirectives reads the %YAML directives of YAML text (LF or CRLF line breaks, no byte-order
// mark). The repository is read as YAML 1.2 (plain decimal numbers: no octal 010, no
// sexagesimal 1:30; README), so a "%YAML 1.2" line before the "---" of a document is right;
// yaml.v3 accepts only "%YAML 1.1", so the directive's bytes are blanked (spaces, a copy of
// data; every line and column stays) before the parser sees them. Refused, at the directive:
// another version ("%YAML 1.1" asks for readings the decoder never gives), a second %YAML
// directive for one document, and %YAML 1.2 with no "---" line after the directives.
// Directives are only looked for where YAML has them: in the lines before a document's "---"
// (at the start of the file or after a "..." line), among blank and comment lines. %TAG and
// other directives are left to the parser, as is a %YAML line it would not read (no version,
// text after it).
func yamlDirectives(data []byte) ([]byte, *textProblem) {
	out, copied := data, false
	prologue, seen := true, 0 // in a document's directives; the line of its %YAML
	marker := func(s, m string) bool {
		return strings.HasPrefix(s, m) && (len(s) == len(m) || s[len(m)] == ' ' || s[len(m)] == '\t')
	}
	for line, start := 1, 0; start < len(data); line++ {
		end := bytes.IndexByte(data[start:], '\n')
		next := start + end + 1
		if end < 0 {
			end, next = len(data)-start, len(data)
		}
		if !prologue && !bytes.HasPrefix(data[start:start+end], []byte("...")) {
			// Inside a document: only a "..." line matters (no copy of the others).
			start = next
			continue
		}
		s := strings.TrimSuffix(string(data[start:start+end]), "\r")
		trimmed := strings.TrimLeft(s, " \t")
		switch {
		case !prologue:
			if marker(s, "...") {
				prologue, seen = true, 0
			}
		case trimmed == "" || trimmed[0] == '#':
		case s[0] == '%':
			text := s
			if i := strings.IndexAny(s, " \t"); i >= 0 {
				if h := strings.Index(s[i:], "#"); h >= 0 && strings.ContainsAny(s[i+h-1:i+h], " \t") {
					text = s[:i+h]
				}
			}
			f := strings.Fields(text)
			if f[0] != "%YAML" {
				break
			}
			if seen > 0 {
				return nil, &textProblem{Pos{line, 1}, fmt.Sprintf("%%YAML: a second %%YAML directive for one document (line %d has the first); remove it", seen)}
			}
			seen = line
			if len(f) < 2 {
				break
			}
			if f[1] != "1.2" {
				return nil, &textProblem{Pos{line, 1}, fmt.Sprintf("%%YAML %s: the repository is read as YAML 1.2 (numbers are plain decimal, never octal 010 or sexagesimal 1:30): write %%YAML 1.2 or remove the line", f[1])}
			}
			if len(f) > 2 {
				break
			}
			if !copied {
				out, copied = bytes.Clone(data), true
			}
			v := strings.Index(s, "1.2") + len("1.2")
			for i := start; i < start+v; i++ {
				out[i] = ' '
			}
		case marker(s, "---"):
			prologue, seen = false, 0
		default:
			if seen > 0 {
				return nil, &textProblem{Pos{seen, 1}, `%YAML 1.2: the directives of a document end with a line "---": write it before the document`}
			}
			prologue = false
		}
		start = next
	}
	return out, nil
}
