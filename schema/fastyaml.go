package schema

import (
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// This file is a fast path of the decoder's YAML parse: a parser of a plain subset of YAML
// (what people and generators write for this format: block mappings and sequences indented
// with spaces, `key: value` on one line, one-line flow lists of simple values, double or
// single-quoted strings without escapes, comments) that builds exactly the yaml.Node tree
// yaml.v3 builds for it (kinds, tags, values, styles, lines and columns; not comments, which
// the decoder does not read), several times faster and with a fraction of the allocations.
// On anything outside the subset (non-ASCII text, tabs, anchors, aliases, tags, block
// scalars, flow mappings, empty values, multi-line scalars, several documents, numbers other
// than plain decimals, errors of any kind) it gives up and yaml.v3 parses the file: every
// error still comes from yaml.v3. TestFastYAML compares both parsers on the corpus, generated
// repositories and mutations of them.

// fastLine is one line holding content: its 1-based number, its indentation (spaces) and its
// text after the indentation, without a comment or trailing spaces.
type fastLine struct {
	num, indent int
	text        string
}

// fastParser walks the lines of one document.
type fastParser struct {
	lines []fastLine
	i     int
	// slab holds nodes allocated in blocks (one allocation for many nodes); slabs are all
	// the blocks, returned to slabPool by release.
	slab  []yaml.Node
	slabs []*[]yaml.Node
}

// slabPool recycles the node blocks of parsed files: a file's tree is garbage once decoded.
var slabPool = sync.Pool{New: func() any { s := make([]yaml.Node, 0, 256); return &s }}

// newNode returns a new node of the slab.
func (p *fastParser) newNode(kind yaml.Kind, tag string, line, col int) *yaml.Node {
	if len(p.slab) == cap(p.slab) {
		b := slabPool.Get().(*[]yaml.Node)
		p.slabs = append(p.slabs, b)
		p.slab = (*b)[:0]
	}
	p.slab = p.slab[:len(p.slab)+1]
	n := &p.slab[len(p.slab)-1]
	n.Kind, n.Tag, n.Line, n.Column = kind, tag, line, col
	return n
}

// release returns the parser's node blocks for reuse: the tree must no longer be used.
func (p *fastParser) release() {
	if p == nil {
		return
	}
	for _, b := range p.slabs {
		clear((*b)[:cap(*b)])
		*b = (*b)[:0]
		slabPool.Put(b)
	}
	p.slabs, p.slab = nil, nil
}

// fastParse returns the root node of data when data is in the subset, else nil. The tree's
// nodes come from reusable blocks: p.release() recycles them once the tree is no longer used.
func fastParse(data []byte) (root *yaml.Node, p *fastParser) {
	for _, c := range data {
		if c >= 0x7f || (c < ' ' && c != '\n') {
			return nil, nil
		}
	}
	s := string(data)
	lines := make([]fastLine, 0, strings.Count(s, "\n")+1)
	for num := 1; len(s) > 0; num++ {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if strings.HasPrefix(line, "---") || strings.HasPrefix(line, "...") || strings.HasPrefix(line, "%") {
			return nil, nil
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			// A comment: '#' at the start or after a space, with no quote before it.
			if (i > 0 && line[i-1] != ' ') || strings.ContainsAny(line[:i], `"'`) {
				return nil, nil
			}
			line = line[:i]
		}
		text := strings.TrimLeft(line, " ")
		text = strings.TrimRight(text, " ")
		if text == "" {
			continue
		}
		lines = append(lines, fastLine{num: num, indent: len(line) - len(strings.TrimLeft(line, " ")), text: text})
	}
	if len(lines) == 0 || lines[0].indent != 0 {
		return nil, nil
	}
	p = &fastParser{lines: lines}
	root = p.node()
	if root == nil || p.i != len(p.lines) || root.Kind != yaml.MappingNode {
		p.release()
		return nil, nil
	}
	return root, p
}

// node parses the block node starting at the current line.
func (p *fastParser) node() *yaml.Node {
	l := p.lines[p.i]
	if isSeqItem(l.text) {
		return p.seq(l.indent)
	}
	return p.mapping(l.indent)
}

func isSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

// at reports whether the current line continues a block at column col (indent == col).
func (p *fastParser) at(col int) bool { return p.i < len(p.lines) && p.lines[p.i].indent == col }

// deeper reports whether the current line is indented more than col (not allowed after a
// complete entry: a continuation or an error, which yaml.v3 handles).
func (p *fastParser) deeper(col int) bool { return p.i < len(p.lines) && p.lines[p.i].indent > col }

// seq parses a block sequence whose '-' are at column col.
func (p *fastParser) seq(col int) *yaml.Node {
	first := p.lines[p.i]
	n := p.newNode(yaml.SequenceNode, "!!seq", first.num, col+1)
	for p.at(col) && isSeqItem(p.lines[p.i].text) {
		l := p.lines[p.i]
		item := strings.TrimLeft(l.text[1:], " ")
		if item == "" || isSeqItem(item) {
			return nil
		}
		itemCol := col + len(l.text) - len(item)
		if _, _, ok := splitKey(item); ok {
			// A compact mapping ("- id: x"): its keys are at itemCol.
			p.lines[p.i] = fastLine{num: l.num, indent: itemCol, text: item}
			m := p.mapping(itemCol)
			if m == nil {
				return nil
			}
			n.Content = append(n.Content, m)
			continue
		}
		v := p.inline(item, l.num, itemCol)
		if v == nil {
			return nil
		}
		n.Content = append(n.Content, v)
		p.i++
		if p.deeper(col) {
			return nil
		}
	}
	if p.deeper(col) {
		return nil
	}
	return n
}

// mapping parses a block mapping whose keys are at column col.
func (p *fastParser) mapping(col int) *yaml.Node {
	first := p.lines[p.i]
	n := p.newNode(yaml.MappingNode, "!!map", first.num, col+1)
	for p.at(col) && !isSeqItem(p.lines[p.i].text) {
		l := p.lines[p.i]
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil
		}
		k := p.scalar(key, l.num, col)
		if k == nil {
			return nil
		}
		value := strings.TrimLeft(rest, " ")
		var v *yaml.Node
		if value != "" {
			v = p.inline(value, l.num, col+len(l.text)-len(value))
			p.i++
			if v == nil || p.deeper(col) {
				return nil
			}
		} else {
			p.i++
			switch {
			case p.deeper(col):
				v = p.node()
			case p.at(col) && isSeqItem(p.lines[p.i].text):
				v = p.seq(col) // an indentless sequence
			}
			if v == nil {
				return nil // an empty value, or a bad block
			}
		}
		n.Content = append(n.Content, k, v)
	}
	if p.deeper(col) || p.at(col) {
		return nil // a deeper line, or "- " after a complete entry
	}
	return n
}

// splitKey splits `key: rest` (or `key:`) with a simple key: a plain name or a double-quoted
// string without escapes.
func splitKey(text string) (key, rest string, ok bool) {
	var end int
	if text[0] == '"' {
		i := strings.IndexByte(text[1:], '"')
		if i < 0 {
			return "", "", false
		}
		end = i + 2
	} else {
		for end < len(text) && isNameByte(text[end], end == 0) {
			end++
		}
		if end == 0 {
			return "", "", false
		}
	}
	rest = text[end:]
	if !strings.HasPrefix(rest, ":") || (len(rest) > 1 && rest[1] != ' ') {
		return "", "", false
	}
	return text[:end], rest[1:], true
}

func isNameByte(c byte, first bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		return true
	case '0' <= c && c <= '9', c == '-' || c == '.':
		return !first
	}
	return false
}

// inline parses a value written on its line: a one-line flow sequence or a scalar.
func (p *fastParser) inline(text string, line, col int) *yaml.Node {
	if text == "" {
		return nil
	}
	if text[0] == '{' {
		return p.flowMap(text, line, col)
	}
	if text[0] != '[' {
		return p.scalar(text, line, col)
	}
	if text[len(text)-1] != ']' {
		return nil
	}
	n := p.newNode(yaml.SequenceNode, "!!seq", line, col+1)
	n.Style = yaml.FlowStyle
	inner := text[1 : len(text)-1]
	if strings.TrimLeft(inner, " ") == "" {
		return n
	}
	off := 1
	for {
		j := strings.IndexByte(inner, ',')
		if j < 0 {
			j = len(inner)
		}
		item := inner[:j]
		lead := len(item) - len(strings.TrimLeft(item, " "))
		item = strings.TrimSpace(item)
		if item == "" || (item[0] != '"' && item[0] != '\'' && !flowPlain(item)) {
			return nil
		}
		v := p.scalar(item, line, col+off+lead)
		if v == nil {
			return nil
		}
		n.Content = append(n.Content, v)
		if j == len(inner) {
			return n
		}
		off += j + 1
		inner = inner[j+1:]
	}
}

// flowMap parses a one-line flow mapping of simple keys whose values are scalars or one-line
// flow lists: {action: allow, dst_ports: [80, 443]}.
func (p *fastParser) flowMap(text string, line, col int) *yaml.Node {
	end := len(text) - 1
	if text[end] != '}' {
		return nil
	}
	n := p.newNode(yaml.MappingNode, "!!map", line, col+1)
	n.Style = yaml.FlowStyle
	i := 1
	skip := func() {
		for i < end && text[i] == ' ' {
			i++
		}
	}
	// closing returns the index of the quote closing the one at i, or -1.
	closing := func(i int) int {
		j := strings.IndexByte(text[i+1:end], text[i])
		if j < 0 {
			return -1
		}
		return i + 1 + j
	}
	skip()
	if i == end {
		return n
	}
	for {
		start := i
		if text[i] == '"' {
			if i = closing(i); i < 0 {
				return nil
			}
			i++
		} else {
			for i < end && isNameByte(text[i], i == start) {
				i++
			}
		}
		if i == start || i+1 >= end || text[i] != ':' || text[i+1] != ' ' {
			return nil
		}
		k := p.scalar(text[start:i], line, col+start)
		if k == nil {
			return nil
		}
		i += 2
		skip()
		start = i
		switch text[i] {
		case '[':
			j := strings.IndexByte(text[i:end], ']')
			if j < 0 || strings.IndexByte(text[i+1:i+j], '[') >= 0 {
				return nil
			}
			i += j + 1
		case '"', '\'':
			if i = closing(i); i < 0 {
				return nil
			}
			i++
		case '{':
			return nil
		default:
			for i < end && text[i] != ',' {
				i++
			}
			if !flowPlain(strings.TrimRight(text[start:i], " ")) {
				return nil
			}
		}
		v := p.inline(strings.TrimRight(text[start:i], " "), line, col+start)
		if v == nil {
			return nil
		}
		n.Content = append(n.Content, k, v)
		skip()
		if i == end {
			return n
		}
		if text[i] != ',' {
			return nil
		}
		i++
		skip()
		if i == end {
			return nil // a trailing comma
		}
	}
}

// scalar parses a scalar: double or single-quoted without escapes, or plain with a tag the
// subset resolves as yaml.v3 does.
func (p *fastParser) scalar(text string, line, col int) *yaml.Node {
	n := p.newNode(yaml.ScalarNode, "", line, col+1)
	switch text[0] {
	case '"', '\'':
		q := text[0]
		if len(text) < 2 || text[len(text)-1] != q || strings.IndexByte(text[1:len(text)-1], q) >= 0 ||
			strings.IndexByte(text, '\\') >= 0 {
			return nil
		}
		n.Tag, n.Value = "!!str", text[1:len(text)-1]
		n.Style = yaml.DoubleQuotedStyle
		if q == '\'' {
			n.Style = yaml.SingleQuotedStyle
		}
		return n
	case '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '%', '@', '`':
		return nil
	}
	if strings.Contains(text, ": ") || strings.HasSuffix(text, ":") || strings.ContainsAny(text, "\"'") {
		return nil
	}
	tag := resolveTag(text)
	if tag == "" {
		return nil
	}
	n.Tag, n.Value = tag, text
	return n
}

// resolveTag is the tag yaml.v3 resolves a plain scalar to (its resolve), for the values the
// subset takes; "" for the others.
func resolveTag(s string) string {
	switch c := s[0]; {
	case c >= '0' && c <= '9':
		if allDigits(s) {
			if (len(s) > 1 && c == '0') || len(s) > 18 {
				return ""
			}
			return "!!int"
		}
		if strings.IndexByte(s, '/') >= 0 {
			// Not a number (no base takes '/') nor a timestamp (4 digits and '-' first).
			return "!!str"
		}
		return ""
	case strings.IndexByte("yYnNtTfFoO~<", c) >= 0:
		switch s {
		case "true", "True", "TRUE", "false", "False", "FALSE":
			return "!!bool"
		case "~", "null", "Null", "NULL":
			return "!!null"
		case "<<":
			return ""
		}
		return "!!str"
	case c == '+' || c == '-' || c == '.':
		return ""
	}
	return "!!str"
}

// flowPlain reports whether s is a plain scalar of the kind the subset takes in a flow list:
// letters, digits, '.', '_', '-', '/' and inner spaces.
func flowPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isNameByte(c, false) && c != '/' && c != ' ' {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
