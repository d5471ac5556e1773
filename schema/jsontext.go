package schema

import (
	"bytes"
	"fmt"
	"strconv"
	u16 "unicode/utf16"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// JSON goes through the YAML parser (for positions), and JSON is YAML 1.2 but for two escapes
// of JSON strings that yaml.v3 does not read: `\/` (a solidus) and UTF-16 surrogate pairs
// (`\ud83d\ude00`, one character beyond U+FFFF). jsonForYAML rewrites those in valid JSON text
// to escapes YAML reads with the same meaning, `/` and `\U0001F600`, and records how columns
// moved so that every position is reported where it is in the file: both rewrites are
// shorter, never cross a line, and nodes never start inside an escape, so a column maps back
// exactly. A surrogate escape without its other half (valid JSON syntax, but no character:
// RFC 8259 §8.2) is refused at its position.

// colShift says that from column col of a rewritten line on (in characters), the file's
// columns are shift more.
type colShift struct{ col, shift int }

// jsonCols maps positions in rewritten JSON text back to the file's: line -> shifts by column.
type jsonCols map[int][]colShift

// pos is the file's position of p, a position in the rewritten text.
func (m jsonCols) pos(p Pos) Pos {
	col := p.Col
	for _, s := range m[p.Line] {
		if p.Col >= s.col {
			col += s.shift
		}
	}
	return Pos{Line: p.Line, Col: col}
}

// fix moves every node of the tree under n to the file's positions (each node once: aliases
// point into the tree, and JSON has none anyway).
func (m jsonCols) fix(n *yaml.Node) {
	if n == nil || len(m) == 0 {
		return
	}
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		p := m.pos(Pos{Line: n.Line, Col: n.Column})
		n.Column = p.Col
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
}

// jsonForYAML returns valid JSON text data (LF line breaks) with `\/` and surrogate pairs
// rewritten for YAML, and the column map back to data; data itself when it has neither. A
// lone surrogate escape is a problem at its position.
func jsonForYAML(data []byte) ([]byte, jsonCols, *textProblem) {
	if !bytes.Contains(data, []byte(`\/`)) && !bytes.Contains(data, []byte(`\u`)) {
		return data, nil, nil
	}
	var out []byte
	cols := jsonCols{}
	line, col := 1, 1 // of the next character written to out
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		return rune(v), err == nil
	}
	last := 0 // data[:last] is in out
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c != '\\' {
			continue
		}
		// In valid JSON a backslash starts an escape of a string: `\\` and `\"` too.
		if i+1 >= len(data) {
			break
		}
		var repl string
		n := 2
		switch data[i+1] {
		case '/':
			repl = "/"
		case 'u':
			r, ok := hex4(i)
			if !ok || !u16.IsSurrogate(r) {
				i++
				continue
			}
			r2, ok2 := hex4(i + 6)
			pair := u16.DecodeRune(r, r2)
			if r >= 0xDC00 || !ok2 || pair == utf8.RuneError {
				return nil, nil, &textProblem{offsetPos(data, i), fmt.Sprintf(
					"%s is half of a UTF-16 surrogate pair, without its other half: it is no character; write the character itself or both halves", data[i:i+6])}
			}
			repl, n = fmt.Sprintf(`\U%08X`, pair), 12
		default:
			i++ // `\\` must not start another escape
			continue
		}
		// Copy what comes before the escape, counting lines and columns, then the rewrite.
		for _, b := range data[last:i] {
			if b == '\n' {
				line, col = line+1, 1
			} else if utf8.RuneStart(b) {
				col++
			}
		}
		out = append(out, data[last:i]...)
		out = append(out, repl...)
		col += len(repl)
		cols[line] = append(cols[line], colShift{col: col, shift: n - len(repl)})
		last = i + n
		i += n - 1
	}
	if len(cols) == 0 {
		return data, nil, nil
	}
	return append(out, data[last:]...), cols, nil
}
