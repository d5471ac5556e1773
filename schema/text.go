package schema

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// This file decides which bytes are text that the decoder reads; it runs first in parse, so
// every entry point (repository files, `rule update` on stdin) gets the same rules:
//   - a UTF-8 byte-order mark at the start is dropped (editors on Windows write one);
//   - CRLF and a lone CR are line breaks, as YAML says and as editors show them: they become LF
//     before parsing, so JSON and YAML positions count lines alike (a CR ends a line, so no
//     column moves);
//   - a UTF-16 or UTF-32 byte-order mark (or such text without one), a NUL byte (a binary file)
//     and bytes that are not UTF-8 are refused at their position.
//
// Positions count lines from 1 and columns from 1 in characters, as yaml.v3 does and as an
// editor shows them (the byte-order mark is not a column).

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
// break a LF), or the first reason it is not UTF-8 text. data is not modified.
func cleanText(data []byte) ([]byte, *textProblem) {
	if enc := utfEncoding(data); enc != "" {
		return nil, &textProblem{Pos{1, 1}, enc + " text: save the file as UTF-8"}
	}
	data = bytes.TrimPrefix(data, bomUTF8)
	if bytes.IndexByte(data, '\r') >= 0 {
		data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
		data = bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
	}
	// A NUL byte says "binary" better than the invalid UTF-8 that usually comes first in one.
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, &textProblem{offsetPos(data, i), "binary file: a NUL byte; a repository file is UTF-8 text"}
	}
	for i := 0; !utf8.Valid(data) && i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return nil, &textProblem{offsetPos(data, i), fmt.Sprintf("invalid UTF-8 (byte 0x%02x): save the file as UTF-8", data[i])}
		}
		i += n
	}
	return data, nil
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
