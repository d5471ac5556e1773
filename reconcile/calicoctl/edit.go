package calicoctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/reconcile-dev/reconcile/schema"
)

// This file edits repository files in place for the calicoctl commands (`reconcile profile`,
// `reconcile endpoint`), changing only what the command changes.
//
// The file is parsed into a yaml.Node tree only to locate things (yaml.v3 gives lines and
// columns); the edit itself splices bytes: the new list of tags, rules or profile ids is
// compared with the old one item by item (longest common subsequence), and only the items that
// are not kept are deleted (block lists: their whole lines with their own comment lines; flow
// lists: the item, its separator and its own comment lines, a comment line belonging to the
// item below it; editFlowList) or inserted (above the comment lines of the item they go
// before, in the style of the neighbouring item: indentation, "-" spacing, quoting, flow or
// block, one-line or multi-line JSON objects). Every other byte stays: CRLF or LF line endings (new lines take the line break of the line before),
// a missing final line break, a UTF-8 byte-order mark (set aside before parsing and put back),
// comments, blank lines, key order, quoting and indentation. A JSON file stays JSON. After the
// splice the whole file is decoded again and must mean exactly the intended profile, or the
// intended profile ids for the endpoint and every other endpoint as before; otherwise, and
// whenever an edit cannot keep the file (a value whose &anchor an alias or merge key uses
// elsewhere would change or disappear, a list reached through a merge key, text that validate
// refuses: a lone carriage return, NEL, a line or paragraph separator, other control
// characters; schema.ParseEditable, schema/text.go), the edit fails with ErrCannotEdit and the caller writes nothing.
// Strings are quoted when a YAML 1.1 or 1.2 reader would read them plain as something else
// (needsQuotes).
//
// New files (MarshalProfile) get a fixed key order: id, tags, inbound_rules, outbound_rules;
// inside a rule action, protocol, ip_version, icmp_type, icmp_code, src_tag, src_net,
// src_ports, dst_tag, dst_net, dst_ports, the negations (!protocol, !src_tag, !src_net,
// !src_ports, !dst_tag, !dst_net, !dst_ports, !icmp_type, !icmp_code), log_prefix; new rules
// inserted into a file use the same key order. Scalar lists (tags, ports) are written in flow
// style: `tags: [WEB, APP_7890]`, `dst_ports: [80, 443]`; port ranges are quoted ("8000:8080").
//
// Editing is deterministic and idempotent: applying the same edit to its own output gives
// identical bytes.

// isJSONPath reports whether a repository path names a JSON file.
func isJSONPath(p string) bool { return strings.EqualFold(filepath.Ext(p), ".json") }

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func intNode(n int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(n)}
}

func keyNode(k string) *yaml.Node {
	n := strNode(k)
	if strings.HasPrefix(k, "!") {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func flowList(items []*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle, Content: items}
}

func strListNode(ss []string) *yaml.Node {
	items := make([]*yaml.Node, len(ss))
	for i, s := range ss {
		items[i] = strNode(s)
	}
	return flowList(items)
}

func portsNode(ports []schema.PortRange) *yaml.Node {
	items := make([]*yaml.Node, len(ports))
	for i, p := range ports {
		if p.First == p.Last {
			items[i] = intNode(int(p.First))
		} else {
			items[i] = strNode(p.String())
			items[i].Style = yaml.DoubleQuotedStyle
		}
	}
	return flowList(items)
}

func protocolNode(p schema.Protocol) *yaml.Node {
	if n, err := strconv.Atoi(string(p)); err == nil && strings.TrimLeft(string(p), "0123456789") == "" {
		return intNode(n)
	}
	return strNode(string(p))
}

// RuleNode returns a rule as a YAML mapping node with the fixed key order described above.
func RuleNode(r schema.Rule) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k string, v *yaml.Node) { m.Content = append(m.Content, keyNode(k), v) }
	str := func(k, v string) {
		if v != "" {
			add(k, strNode(v))
		}
	}
	ports := func(k string, v []schema.PortRange) {
		if len(v) > 0 {
			add(k, portsNode(v))
		}
	}
	icmp := func(k string, v *int) {
		if v != nil {
			add(k, intNode(*v))
		}
	}
	add("action", strNode(r.Action))
	if r.Protocol != "" {
		add("protocol", protocolNode(r.Protocol))
	}
	if r.IPVersion != 0 {
		add("ip_version", intNode(r.IPVersion))
	}
	icmp("icmp_type", r.ICMPType)
	icmp("icmp_code", r.ICMPCode)
	str("src_tag", r.SrcTag)
	str("src_net", r.SrcNet)
	ports("src_ports", r.SrcPorts)
	str("dst_tag", r.DstTag)
	str("dst_net", r.DstNet)
	ports("dst_ports", r.DstPorts)
	if r.NotProtocol != "" {
		add("!protocol", protocolNode(r.NotProtocol))
	}
	str("!src_tag", r.NotSrcTag)
	str("!src_net", r.NotSrcNet)
	ports("!src_ports", r.NotSrcPorts)
	str("!dst_tag", r.NotDstTag)
	str("!dst_net", r.NotDstNet)
	ports("!dst_ports", r.NotDstPorts)
	icmp("!icmp_type", r.NotICMPType)
	icmp("!icmp_code", r.NotICMPCode)
	str("log_prefix", r.LogPrefix)
	return m
}

func rulesNode(rules []schema.Rule) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, r := range rules {
		seq.Content = append(seq.Content, RuleNode(r))
	}
	if len(rules) == 0 {
		seq.Style = yaml.FlowStyle
	}
	return seq
}

// profileNode returns a new profile file's root mapping.
func profileNode(p *schema.Profile) *yaml.Node {
	tags := p.Tags
	if tags == nil {
		tags = []string{}
	}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		keyNode("id"), strNode(p.ID),
		keyNode("tags"), strListNode(tags),
		keyNode("inbound_rules"), rulesNode(p.Inbound),
		keyNode("outbound_rules"), rulesNode(p.Outbound),
	}}
}

// MarshalProfile renders a new profile file for the repository path (YAML, or JSON for a .json
// path) with the fixed key order.
func MarshalProfile(path string, p *schema.Profile) ([]byte, error) {
	return render(path, &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{profileNode(p)}})
}

// render writes a document node as YAML or, for a .json path, as JSON.
func render(path string, doc *yaml.Node) ([]byte, error) {
	if isJSONPath(path) {
		var b bytes.Buffer
		if err := writeJSON(&b, doc.Content[0], 0); err != nil {
			return nil, err
		}
		b.WriteByte('\n')
		return b.Bytes(), nil
	}
	quoteAmbiguous(doc)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode %s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", path, err)
	}
	return b.Bytes(), nil
}

// quoteAmbiguous double-quotes every plain string scalar under n that a YAML 1.1 or 1.2 reader
// would not read back as that string (needsQuotes): the encoder only quotes what YAML 1.2
// resolves otherwise, and would write yes, on or 1:30 plain.
func quoteAmbiguous(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 && needsQuotes(n.Value) {
		// Keep the encoder's own quoting where it quotes; else double quotes.
		if out, err := yaml.Marshal(n); err != nil || !strings.ContainsAny(string(out[:1]), `"'`) {
			n.Style |= yaml.DoubleQuotedStyle
		}
	}
	for _, c := range n.Content {
		quoteAmbiguous(c)
	}
}

// writeJSON writes a YAML node tree as JSON, indented by 2, keeping key order; lists of
// scalars go on one line.
func writeJSON(b *bytes.Buffer, n *yaml.Node, depth int) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return writeJSONObject(b, n, depth)
	case yaml.SequenceNode:
		return writeJSONArray(b, n, depth)
	case yaml.ScalarNode:
		writeJSONScalar(b, n)
		return nil
	}
	return fmt.Errorf("cannot write a YAML node of kind %d as JSON", n.Kind)
}

func jsonIndent(d int) string { return strings.Repeat("  ", d) }

// writeJSONObject writes a mapping, one key per line.
func writeJSONObject(b *bytes.Buffer, n *yaml.Node, depth int) error {
	if len(n.Content) == 0 {
		b.WriteString("{}")
		return nil
	}
	b.WriteString("{\n")
	for i := 0; i+1 < len(n.Content); i += 2 {
		b.WriteString(jsonIndent(depth + 1))
		b.WriteString(jsonString(n.Content[i].Value))
		b.WriteString(": ")
		if err := writeJSON(b, n.Content[i+1], depth+1); err != nil {
			return err
		}
		if i+2 < len(n.Content) {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(jsonIndent(depth) + "}")
	return nil
}

// writeJSONArray writes a list: on one line when it holds only scalars, else one item per line.
func writeJSONArray(b *bytes.Buffer, n *yaml.Node, depth int) error {
	if len(n.Content) == 0 {
		b.WriteString("[]")
		return nil
	}
	inline := true
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			inline = false
		}
	}
	if inline {
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeJSON(b, c, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	}
	b.WriteString("[\n")
	for i, c := range n.Content {
		b.WriteString(jsonIndent(depth + 1))
		if err := writeJSON(b, c, depth+1); err != nil {
			return err
		}
		if i+1 < len(n.Content) {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(jsonIndent(depth) + "]")
	return nil
}

// writeJSONScalar writes a plain number as a number, a bool in lower case, null as null, and
// everything else as a string.
func writeJSONScalar(b *bytes.Buffer, n *yaml.Node) {
	switch n.ShortTag() {
	case "!!int", "!!float":
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			b.WriteString(n.Value)
			return
		}
	case "!!bool":
		b.WriteString(strings.ToLower(n.Value))
		return
	case "!!null":
		b.WriteString("null")
		return
	}
	b.WriteString(jsonString(n.Value))
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return string(b)
}

// ErrCannotEdit is returned (wrapped, as "path:line:col: cannot edit the file in place: reason")
// when a file cannot be edited without changing something the command does not change, e.g.
// deleting a rule whose anchor an alias elsewhere uses, or a file with lone carriage returns.
// The caller writes nothing then.
var ErrCannotEdit = errors.New("cannot edit the file in place")

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// textEdit is one file being edited by splicing its bytes: the parts the command changes are
// replaced, every other byte stays where it is.
type textEdit struct {
	path    string
	json    bool
	bom     bool   // the file starts with a UTF-8 byte-order mark (kept, not in src)
	src     []byte // the file without its byte-order mark
	lines   []int  // offset in src of the first byte of each line
	root    *yaml.Node
	used    map[string]bool // anchors that an alias refers to
	alt     byte            // the quote the file uses most ('"' when it uses none)
	splices []splice
}

// splice replaces src[at:end] with text.
type splice struct {
	at, end int
	text    string
}

func (t *textEdit) cannot(n *yaml.Node, format string, args ...any) error {
	line, col := 1, 1
	if n != nil {
		line, col = n.Line, n.Column
	}
	return fmt.Errorf("%s:%d:%d: %w: %s", t.path, line, col, ErrCannotEdit, fmt.Sprintf(format, args...))
}

// newTextEdit parses data (a one-document YAML or JSON file whose root is a mapping).
func newTextEdit(path string, data []byte) (*textEdit, error) {
	t := &textEdit{path: path, json: isJSONPath(path), used: map[string]bool{}}
	// The text rules of the decoder first (schema/text.go): what YAML would read as a line break
	// where the line table below sees none (a lone CR, NEL, LS, PS) is refused there, with the
	// same message and position as validate gives.
	doc, src, bom, err := schema.ParseEditable(path, data)
	var tp *schema.Error
	if errors.As(err, &tp) {
		return nil, t.cannot(&yaml.Node{Line: tp.Line, Column: tp.Col}, "%s", tp.Msg)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	t.bom, t.src = bom, src
	t.lines = []int{0}
	for i, b := range src {
		if b == '\n' {
			t.lines = append(t.lines, i+1)
		}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parse %s: the file is not a mapping", path)
	}
	t.root = doc.Content[0]
	var single, double int
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			t.used[n.Alias.Anchor] = true
		}
		if n.Style&yaml.SingleQuotedStyle != 0 {
			single++
		} else if n.Style&yaml.DoubleQuotedStyle != 0 {
			double++
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
	t.alt = '"'
	if single > double {
		t.alt = '\''
	}
	return t, nil
}

// result applies the splices and puts the byte-order mark back.
func (t *textEdit) result() ([]byte, error) {
	sp := slices.Clone(t.splices)
	sort.SliceStable(sp, func(i, j int) bool {
		if sp[i].at != sp[j].at {
			return sp[i].at < sp[j].at
		}
		return sp[i].end < sp[j].end
	})
	var b bytes.Buffer
	if t.bom {
		b.Write(utf8BOM)
	}
	pos := 0
	for _, s := range sp {
		if s.at < pos {
			return nil, t.cannot(nil, "two changes overlap (at byte %d)", s.at)
		}
		b.Write(t.src[pos:s.at])
		b.WriteString(s.text)
		pos = s.end
	}
	b.Write(t.src[pos:])
	return b.Bytes(), nil
}

func (t *textEdit) replace(at, end int, text string) {
	t.splices = append(t.splices, splice{at, end, text})
}

// off is the byte offset of a 1-based line and column (yaml.v3 counts columns in characters).
func (t *textEdit) off(line, col int) int {
	o := t.lines[line-1]
	for i := 1; i < col && o < len(t.src); i++ {
		_, w := utf8.DecodeRune(t.src[o:])
		o += w
	}
	return o
}

func (t *textEdit) nodeOff(n *yaml.Node) int { return t.off(n.Line, n.Column) }

// lineOf is the 1-based line of byte offset o.
func (t *textEdit) lineOf(o int) int { return sort.SearchInts(t.lines, o+1) }

func (t *textEdit) nlines() int { return len(t.lines) }

func (t *textEdit) lineStart(l int) int { return t.lines[l-1] }

// nextLineStart is the offset after line l's line break (len(src) for the last line).
func (t *textEdit) nextLineStart(l int) int {
	if l < len(t.lines) {
		return t.lines[l]
	}
	return len(t.src)
}

// hasEOL reports whether line l ends with a line break.
func (t *textEdit) hasEOL(l int) bool { return l < len(t.lines) }

// lineEnd is the offset of line l's line break (CR of a CRLF), or len(src).
func (t *textEdit) lineEnd(l int) int {
	e := t.nextLineStart(l)
	if t.hasEOL(l) {
		e--
		if e > t.lineStart(l) && t.src[e-1] == '\r' {
			e--
		}
	}
	return e
}

func (t *textEdit) lineText(l int) string { return string(t.src[t.lineStart(l):t.lineEnd(l)]) }

// indent is the leading white space of line l.
func (t *textEdit) indent(l int) string {
	s := t.lineText(l)
	return s[:len(s)-len(strings.TrimLeft(s, " \t"))]
}

func (t *textEdit) isBlank(l int) bool { return strings.TrimSpace(t.lineText(l)) == "" }

func (t *textEdit) isComment(l int) bool {
	return strings.HasPrefix(strings.TrimLeft(t.lineText(l), " \t"), "#")
}

// eolBefore is the line break used by the line before offset o (or the first one in the file).
func (t *textEdit) eolBefore(o int) string {
	i := bytes.LastIndexByte(t.src[:o], '\n')
	if i < 0 {
		i = bytes.IndexByte(t.src, '\n')
	}
	if i > 0 && t.src[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// lf turns the "\n" of text into the line break used before offset o.
func (t *textEdit) lf(o int, text string) string {
	return strings.ReplaceAll(text, "\n", t.eolBefore(o))
}

// insertLines inserts text (whole lines, each ending in "\n") after line l, keeping a missing
// final line break missing.
func (t *textEdit) insertLines(l int, text string) {
	if t.hasEOL(l) {
		at := t.nextLineStart(l)
		t.replace(at, at, t.lf(at, text))
		return
	}
	at := len(t.src)
	t.replace(at, at, t.lf(at, "\n"+strings.TrimSuffix(text, "\n")))
}

// deleteLines deletes lines a..b (inclusive), keeping a missing final line break missing.
func (t *textEdit) deleteLines(a, b int) {
	at, end := t.lineStart(a), t.nextLineStart(b)
	if !t.hasEOL(b) && a > 1 {
		at = t.lineEnd(a - 1)
	}
	t.replace(at, end, "")
}

// scalarEnd is the offset after the scalar, alias or flow collection starting at o. In flow
// context a plain scalar also ends at , ] and }.
func (t *textEdit) scalarEnd(o int, flow bool) int {
	s := t.src
	if o >= len(s) {
		return o
	}
	switch s[o] {
	case '"':
		for i := o + 1; i < len(s); i++ {
			if s[i] == '\\' {
				i++
			} else if s[i] == '"' {
				return i + 1
			}
		}
		return len(s)
	case '\'':
		for i := o + 1; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
		return len(s)
	case '[', '{':
		return t.flowEnd(o)
	}
	end := o
	for i := o; i < len(s); i++ {
		c := s[i]
		if c == '\n' || c == '\r' || (c == '#' && i > o && (s[i-1] == ' ' || s[i-1] == '\t')) {
			break
		}
		if flow && (c == ',' || c == ']' || c == '}') {
			break
		}
		if c == ':' && i > o && (i+1 == len(s) || strings.IndexByte(" \t\r\n", s[i+1]) >= 0 || (flow && strings.IndexByte(",]}", s[i+1]) >= 0)) {
			break
		}
		if c != ' ' && c != '\t' {
			end = i + 1
		}
	}
	return end
}

// flowEnd is the offset after the flow collection whose [ or { is at o.
func (t *textEdit) flowEnd(o int) int {
	s := t.src
	depth := 0
	for i := o; i < len(s); i++ {
		switch c := s[i]; c {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		case '"', '\'':
			if i > o && strings.IndexByte("[{,: \t\r\n", s[i-1]) >= 0 {
				i = t.scalarEnd(i, true) - 1
			}
		case '#':
			if s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n' {
				for i < len(s) && s[i] != '\n' {
					i++
				}
			}
		}
	}
	return len(s)
}

// nodeEnd is the offset after a flow node (scalar, alias or flow collection) n.
func (t *textEdit) nodeEnd(n *yaml.Node, flow bool) int {
	return t.scalarEnd(t.nodeOff(n), flow)
}

// colonEnd is the offset after the ':' that follows key node k.
func (t *textEdit) colonEnd(k *yaml.Node) int {
	o := t.nodeEnd(k, true)
	for o < len(t.src) && (t.src[o] == ' ' || t.src[o] == '\t') {
		o++
	}
	if o < len(t.src) && t.src[o] == ':' {
		o++
	}
	return o
}

// checkAnchors refuses to drop or rewrite a node that carries an anchor an alias refers to.
func (t *textEdit) checkAnchors(key string, n *yaml.Node) error {
	if n.Anchor != "" && t.used[n.Anchor] {
		return t.cannot(n, "%s: &%s is used by an alias (*%s) elsewhere, which would change too: write that value out in full instead of *%s first", key, n.Anchor, n.Anchor, n.Anchor)
	}
	for _, c := range n.Content {
		if err := t.checkAnchors(key, c); err != nil {
			return err
		}
	}
	return nil
}

// ---- rendering new values in the file's own style ----

// quoteStyle is how the file writes strings: 0 plain where possible, or the quote character.
type quoteStyle struct{ key, val, bang byte }

// styleOf counts the string scalars under the nodes and picks the most used style for keys and
// values; bang is the quote of keys starting with '!' (which must be quoted in YAML).
func (t *textEdit) styleOf(nodes ...*yaml.Node) quoteStyle {
	if t.json {
		return quoteStyle{'"', '"', '"'}
	}
	var keys, vals [3]int
	st := quoteStyle{bang: '"'}
	idx := func(n *yaml.Node) int {
		switch {
		case n.Style&yaml.DoubleQuotedStyle != 0:
			return 1
		case n.Style&yaml.SingleQuotedStyle != 0:
			return 2
		}
		return 0
	}
	var walk func(n *yaml.Node, isKey bool)
	walk = func(n *yaml.Node, isKey bool) {
		switch n.Kind {
		case yaml.ScalarNode:
			if n.ShortTag() != "!!str" {
				return
			}
			if isKey && strings.HasPrefix(n.Value, "!") {
				if idx(n) == 2 {
					st.bang = '\''
				}
				return
			}
			if isKey {
				keys[idx(n)]++
			} else {
				vals[idx(n)]++
			}
		case yaml.MappingNode:
			for i, c := range n.Content {
				walk(c, i%2 == 0)
			}
		default:
			for _, c := range n.Content {
				walk(c, false)
			}
		}
	}
	for _, n := range nodes {
		if n != nil {
			walk(n, false)
		}
	}
	pick := func(c [3]int) byte {
		best := 0
		for i := 1; i < 3; i++ {
			if c[i] > c[best] {
				best = i
			}
		}
		return [3]byte{0, '"', '\''}[best]
	}
	st.key, st.val = pick(keys), pick(vals)
	return st
}

// yaml11Plain matches the plain scalars that a YAML 1.1 reader (PyYAML, libyaml users, Ruby's
// Psych, older tools) resolves to something other than a string: booleans (y, yes, on, ...),
// null (~, null), ints in any base and sexagesimal (1:30), floats (.5, 1.5e3, .inf, .nan, 1:30.5),
// timestamps (2001-12-14), the merge key << and the value key =. From the YAML 1.1 type
// repository (yaml.org/type/bool.html, int, float, null, timestamp, merge, value).
var yaml11Plain = regexp.MustCompile(`^(?:` +
	`y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF` +
	`|~|null|Null|NULL|<<|=` +
	`|[-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+` +
	`|[-+]?(?:[0-9][0-9_]*)?\.[0-9.]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*` +
	`|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)` +
	`|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?` +
	`)$`)

// needsQuotes reports whether s, written plain, would not read back as the string s by a YAML
// 1.2 reader (go.yaml.in/yaml/v3) or a YAML 1.1 reader (yaml11Plain), in a block or a flow
// context: it also quotes strings starting with an indicator (!&*-?:%@`#|>'"{[]},), or holding
// ": ", " #", a flow indicator or a control character.
func needsQuotes(s string) bool {
	if s == "" || strings.TrimSpace(s) != s || yaml11Plain.MatchString(s) {
		return true
	}
	if strings.ContainsAny(s[:1], "!&*-?:%@`#|>'\"{[]},") || strings.ContainsAny(s, ",[]{}") ||
		strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.HasSuffix(s, ":") {
		return true
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xfeff {
			return true
		}
	}
	out, err := yaml.Marshal(s)
	if err != nil {
		return true
	}
	o := strings.TrimSuffix(string(out), "\n")
	return o != s
}

// str renders a string scalar with quote q (0: plain unless that would change its meaning).
func (t *textEdit) str(s string, q byte) string {
	if t.json {
		return jsonString(s)
	}
	if q == 0 {
		if !needsQuotes(s) {
			return s
		}
		q = t.alt
	}
	if q == '\'' && !strings.ContainsAny(s, "\n\t") {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return jsonString(s)
}

// scalar renders a scalar node built by RuleNode or strNode.
func (t *textEdit) scalar(n *yaml.Node, q byte) string {
	if n.ShortTag() == "!!int" {
		return n.Value
	}
	if n.Style&yaml.DoubleQuotedStyle != 0 && q == 0 {
		// Port ranges: a YAML 1.1 reader takes a plain 8000:8080 for a number.
		q = t.alt
	}
	return t.str(n.Value, q)
}

// sep returns the file's separators inside one line: ", " and ": " (or "," and ":" for compact
// JSON).
func (t *textEdit) seps() (comma, colon string) {
	if t.json && !bytes.Contains(t.src, []byte(": ")) && !bytes.Contains(t.src, []byte(", ")) {
		return ",", ":"
	}
	return ", ", ": "
}

// flowValue renders a scalar or a list of scalars in flow style.
func (t *textEdit) flowValue(n *yaml.Node, q byte) string {
	if n.Kind != yaml.SequenceNode {
		return t.scalar(n, q)
	}
	comma, _ := t.seps()
	items := make([]string, len(n.Content))
	for i, c := range n.Content {
		items[i] = t.scalar(c, q)
	}
	return "[" + strings.Join(items, comma) + "]"
}

// pairs renders the pairs of a rule mapping as "key: value" strings.
func (t *textEdit) pairs(m *yaml.Node, st quoteStyle) []string {
	_, colon := t.seps()
	var out []string
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i].Value
		q := st.key
		if strings.HasPrefix(k, "!") {
			q = st.bang
			if st.key != 0 {
				q = st.key
			}
		}
		out = append(out, t.str(k, q)+colon+t.flowValue(m.Content[i+1], st.val))
	}
	return out
}

// flowMap renders a rule on one line: {action: allow, dst_ports: [80]}.
func (t *textEdit) flowMap(m *yaml.Node, st quoteStyle) string {
	comma, _ := t.seps()
	return "{" + strings.Join(t.pairs(m, st), comma) + "}"
}

// ---- lists ----

// listItem is one item of the new list: the index of the old item it keeps (old >= 0), or -1
// for a new value (listEdit.newNodes holds it, at the same index as the item).
type listItem struct {
	old int
}

// diffList matches the new items with the old ones (a longest common subsequence), so that
// unchanged items keep their text and only the others are inserted or deleted.
func diffList(nOld, nNew int, same func(i, j int) bool) []listItem {
	lcs := make([][]int, nOld+1)
	for i := range lcs {
		lcs[i] = make([]int, nNew+1)
	}
	for i := nOld - 1; i >= 0; i-- {
		for j := nNew - 1; j >= 0; j-- {
			if same(i, j) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	out := make([]listItem, 0, nNew)
	i, j := 0, 0
	for j < nNew {
		switch {
		case i < nOld && same(i, j):
			out = append(out, listItem{old: i})
			i, j = i+1, j+1
		case i < nOld && lcs[i+1][j] >= lcs[i][j+1]:
			i++
		default:
			out = append(out, listItem{old: -1})
			j++
		}
	}
	return out
}

// listEdit describes the edit of the list value of key in mapping m.
type listEdit struct {
	m        *yaml.Node
	key      string
	order    []string     // key order of m, for a missing key
	items    []listItem   // the new list
	newNodes []*yaml.Node // the new values, indexed like items
	rules    bool         // the items are rules (mappings), else scalars
	old      []*yaml.Node // the old items (nil when there is no list)
}

// changed reports whether the new list differs from the old one.
func (e *listEdit) changed() bool {
	if len(e.items) != len(e.old) {
		return true
	}
	for i, it := range e.items {
		if it.old != i {
			return true
		}
	}
	return false
}

// apply edits the list in the text.
func (t *textEdit) applyList(e *listEdit) error {
	ki := mapValue(e.m, e.key)
	if ki < 0 {
		return t.insertKey(e)
	}
	k, v := e.m.Content[ki-1], e.m.Content[ki]
	if v.Kind == yaml.SequenceNode {
		if err := t.checkAnchorsDropped(e, v); err != nil {
			return err
		}
		if v.Style&yaml.FlowStyle != 0 {
			if len(v.Content) == 0 && e.rules && len(e.items) > 0 && !t.json && e.m.Style&yaml.FlowStyle == 0 && t.isOneLine(v) {
				// inbound_rules: [] in a block mapping becomes a block list; an empty list
				// over lines (with a comment line inside, say) stays a flow list.
				return t.replaceValue(e, k, v)
			}
			return t.editFlowList(e, k, v)
		}
		return t.editBlockList(e, k, v)
	}
	if err := t.checkAnchors(e.key, v); err != nil {
		return err
	}
	return t.replaceValue(e, k, v)
}

// checkAnchorsDropped refuses to delete an item that carries an anchor used elsewhere, or to
// change a list that carries one.
func (t *textEdit) checkAnchorsDropped(e *listEdit, v *yaml.Node) error {
	if v.Anchor != "" && t.used[v.Anchor] {
		return t.checkAnchors(e.key, v)
	}
	kept := map[int]bool{}
	for _, it := range e.items {
		if it.old >= 0 {
			kept[it.old] = true
		}
	}
	for i, c := range v.Content {
		if !kept[i] {
			if err := t.checkAnchors(e.key, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// siblingStyle is how new items are quoted: like the items of the list, or like the file.
func (t *textEdit) siblingStyle(e *listEdit) quoteStyle {
	var ns []*yaml.Node
	ns = append(ns, e.old...)
	st := t.styleOf(ns...)
	if len(ns) == 0 || (st.key == 0 && st.val == 0 && !e.rules && !hasQuoted(ns)) {
		whole := t.styleOf(t.root)
		if len(ns) == 0 {
			return whole
		}
		st.bang = whole.bang
	}
	return st
}

func hasQuoted(ns []*yaml.Node) bool {
	for _, n := range ns {
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return true
		}
	}
	return false
}

// flowGap is the text between two neighbours of a flow list (the "[", the items, the "]"),
// split by lines: a ends the line of the thing before it (blanks, its comma, a comment on that
// line and the line break; in a gap without line break, all of it: ", "); then whole lines:
// loose (blank lines, and comments a blank line keeps apart from the next item) and head (the
// comment lines directly above the next item, which belong to it); then d, the indentation of
// the next item or of "]" (in the last gap without line break: the blanks before "]").
type flowGap struct {
	text, a, loose, head, d string
	eol                     bool
}

// splitFlowGap splits the text of a gap; last is set for the gap before "]", whose lines all
// stay with the "]" (head), and whose blanks before "]" are d.
func splitFlowGap(s string, last bool) flowGap {
	g := flowGap{text: s}
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		g.a = s
		if last {
			// a comment needs a line break, so a gap without one holds at most the comma.
			j := strings.IndexByte(s, ',')
			g.a, g.d = s[:j+1], s[j+1:]
		}
		return g
	}
	g.eol = true
	j := strings.LastIndexByte(s, '\n')
	g.a, g.d = s[:i+1], s[j+1:]
	lines := strings.SplitAfter(s[i+1:j+1], "\n")
	lines = lines[:len(lines)-1] // SplitAfter leaves "" after the last line break
	h := len(lines)
	for h > 0 && strings.HasPrefix(strings.TrimLeft(lines[h-1], " \t"), "#") {
		h--
	}
	if last {
		h = 0
	}
	g.loose, g.head = strings.Join(lines[:h], ""), strings.Join(lines[h:], "")
	return g
}

// leadingBlanks is the run of spaces and tabs at the start of s.
func leadingBlanks(s string) string { return s[:len(s)-len(strings.TrimLeft(s, " \t"))] }

// editFlowList rewrites the inside of a flow list [ ... ]. Every byte between two items that
// stay neighbours stays. A comment line belongs to the item below it (or, after the last item,
// to the "]"): a new item goes above the comment lines of the item it goes before, an item
// deleted takes its own comment lines and the comment after it on its line, and every other
// comment line (the one on the line of "[", those before "]", those a blank line keeps apart
// from the next item) stays byte for byte. Only the commas, line breaks and indentation where
// an item was inserted or deleted change.
func (t *textEdit) editFlowList(e *listEdit, k, v *yaml.Node) error {
	f, err := t.newFlowEdit(e, k, v)
	if err != nil {
		return err
	}
	out := f.render()
	if out == string(t.src[f.ob+1:f.cb]) {
		return nil
	}
	t.replace(f.ob+1, f.cb, out)
	return nil
}

// flowEdit is one edit of a flow list (editFlowList): the list's text cut into its old items
// and the gaps around them, and what new items copy.
type flowEdit struct {
	t            *textEdit
	e            *listEdit
	v            *yaml.Node // the list
	ob, cb       int        // offsets of "[" and "]"
	n            int        // the number of old items
	starts, ends []int      // offsets of the old items
	eol          string     // the line break of the line of "["
	gaps         []flowGap  // gaps[g] is the text before old item g (gaps[n]: before "]")
	// trailingComma: the last old item has a comma after it.
	trailingComma bool
	inlineSep     string // the separator of items on one line: the first such one in the list
	newIndent     string // the indentation of a new item on its own line without a model
	kept          []bool // the old items that stay
}

// flowJoinEnd is an end of a join: the "[" (flowOpen), an old item k, a new item (at gap k:
// before old item k), or the "]" (flowClose, k is n).
type flowJoinEnd struct {
	kind int
	k    int
}

const (
	flowOpen = iota
	flowOldItem
	flowNewItem
	flowClose
)

// hasComma reports whether s starts with a comma after blanks.
func hasComma(s string) bool { return strings.HasPrefix(strings.TrimLeft(s, " \t"), ",") }

// newFlowEdit cuts the flow list v (the value of key k) into items and gaps.
func (t *textEdit) newFlowEdit(e *listEdit, k, v *yaml.Node) (*flowEdit, error) {
	f := &flowEdit{t: t, e: e, v: v, ob: t.nodeOff(v)}
	f.cb = t.flowEnd(f.ob) - 1
	if f.cb < f.ob || t.src[f.cb] != ']' {
		return nil, t.cannot(v, "%s: cannot find the end of the list", e.key)
	}
	n := len(v.Content)
	f.n = n
	f.starts, f.ends = make([]int, n), make([]int, n)
	for i, c := range v.Content {
		f.starts[i] = t.nodeOff(c)
		f.ends[i] = t.nodeEnd(c, true)
	}
	f.eol = t.eolBefore(f.ob)
	f.cutGaps(k)
	f.trailingComma = n > 0 && hasComma(f.gaps[n].a)

	// New items go on their own line where the item after them (at the end: before them) has
	// its own line; the separator of items on one line is the first such one in the list.
	comma, _ := t.seps()
	f.inlineSep = comma
	for g := 1; g < n; g++ {
		if !f.gaps[g].eol {
			f.inlineSep = f.gaps[g].text
			break
		}
	}
	f.newIndent = t.indent(t.lineOf(f.ob)) + t.indentUnit()
	if n == 0 && f.gaps[0].eol {
		f.newIndent = leadingBlanks(f.gaps[0].d) + t.indentUnit()
	} else if n > 0 {
		f.newIndent = strings.Repeat(" ", v.Content[0].Column-1)
		for g := 0; g < n; g++ {
			if f.gaps[g].eol {
				f.newIndent = leadingBlanks(f.gaps[g].d)
				break
			}
		}
	}
	f.kept = make([]bool, n)
	for _, it := range e.items {
		if it.old >= 0 {
			f.kept[it.old] = true
		}
	}
	return f, nil
}

// cutGaps splits the text between "[", the old items and "]" into gaps.
func (f *flowEdit) cutGaps(k *yaml.Node) {
	t, e, n := f.t, f.e, f.n
	f.gaps = make([]flowGap, n+1)
	if n == 0 {
		inner := string(t.src[f.ob+1 : f.cb])
		if !strings.Contains(inner, "#") {
			// Nothing to keep inside: [] in one line, or for rules in a multi-line file one
			// rule per block of lines.
			inner = ""
			if e.rules && t.lineOf(f.ob) != t.lineOf(t.nodeOff(e.m)) || e.rules && t.json && t.isMultiLine(e.m) {
				inner = f.eol + t.indentOfKey(k)
			}
		}
		f.gaps[0] = splitFlowGap(inner, true)
		f.gaps[0].loose, f.gaps[0].head = f.gaps[0].head, ""
		return
	}
	f.gaps[0] = splitFlowGap(string(t.src[f.ob+1:f.starts[0]]), false)
	for i := 1; i < n; i++ {
		f.gaps[i] = splitFlowGap(string(t.src[f.ends[i-1]:f.starts[i]]), false)
	}
	f.gaps[n] = splitFlowGap(string(t.src[f.ends[n-1]:f.cb]), true)
}

// model is the old item whose line a new item at gap g copies (-1: none).
func (f *flowEdit) model(g int) int {
	if g < f.n {
		return g
	}
	return f.n - 1
}

// keptLoose: the loose lines of gap g stay unless the items on both sides go.
func (f *flowEdit) keptLoose(g int) bool { return g == 0 || g == f.n || f.kept[g-1] || f.kept[g] }

// ownLine reports whether y starts a line.
func (f *flowEdit) ownLine(y flowJoinEnd) bool {
	switch y.kind {
	case flowOldItem:
		return f.gaps[y.k].eol
	case flowClose:
		return f.gaps[f.n].eol
	}
	if m := f.model(y.k); m >= 0 {
		return f.gaps[m].eol
	}
	return f.gaps[0].eol // an empty list that spans lines
}

// indentOf is the indentation of y on its line.
func (f *flowEdit) indentOf(y flowJoinEnd) string {
	t, gaps, n := f.t, f.gaps, f.n
	switch y.kind {
	case flowOldItem:
		if gaps[y.k].eol {
			return leadingBlanks(gaps[y.k].d)
		}
		return t.indent(t.lineOf(f.starts[y.k]))
	case flowClose:
		if gaps[n].eol {
			return leadingBlanks(gaps[n].d)
		}
		return t.indent(t.lineOf(f.cb))
	}
	if m := f.model(y.k); m >= 0 && gaps[m].eol {
		return leadingBlanks(gaps[m].d)
	}
	return f.newIndent
}

// join is the text between x and the next thing y.
func (f *flowEdit) join(x, y flowJoinEnd) string {
	gaps, n := f.gaps, f.n
	switch {
	case x.kind == flowOldItem && y.kind == flowOldItem && y.k == x.k+1,
		x.kind == flowOpen && y.kind == flowOldItem && y.k == 0,
		x.kind == flowOldItem && y.kind == flowClose && x.k == n-1:
		return gaps[y.k].text // neighbours before: every byte stays
	}
	lines := f.linesBetween(x, y)
	needComma := y.kind == flowOldItem || y.kind == flowNewItem || f.trailingComma && x.kind != flowOpen
	a, orig := "", false
	switch x.kind {
	case flowOpen:
		a = gaps[0].a
	case flowOldItem:
		a = gaps[x.k+1].a
		orig = hasComma(a) && !strings.Contains(a, "\n")
		if needComma && !hasComma(a) {
			a = "," + a
		} else if !needComma && hasComma(a) {
			i := strings.IndexByte(a, ',')
			a = a[:i] + a[i+1:]
		}
	case flowNewItem:
		if needComma {
			a = ","
		}
	}
	if strings.Contains(a, "\n") || len(lines) > 0 || f.ownLine(y) {
		if !strings.Contains(a, "\n") {
			a = strings.TrimRight(a, " \t") + f.eol
		}
		return a + lines + f.indentOf(y)
	}
	switch {
	case y.kind == flowClose:
		return strings.TrimRight(a, " \t") + gaps[n].d
	case x.kind == flowOpen || orig:
		return a
	}
	return f.inlineSep
}

// linesBetween is the whole lines that stay between x and y: the loose lines of the gaps in
// between (unless both their items go), and the head of y's gap unless y is new.
func (f *flowEdit) linesBetween(x, y flowJoinEnd) string {
	from, to := 0, f.n
	switch x.kind {
	case flowOldItem:
		from = x.k + 1
	case flowNewItem:
		from = x.k
	}
	if y.kind == flowOldItem || y.kind == flowNewItem {
		to = y.k
	}
	var lines strings.Builder
	for g := from; g <= to; g++ {
		if f.keptLoose(g) && !(x.kind == flowNewItem && g == x.k) {
			lines.WriteString(f.gaps[g].loose)
		}
		if g == to && y.kind != flowNewItem {
			lines.WriteString(f.gaps[g].head)
		}
	}
	return lines.String()
}

// render is the new inside of the list: the items of e in order, joined.
func (f *flowEdit) render() string {
	t, e := f.t, f.e
	st := t.siblingStyle(e)
	var b strings.Builder
	prev := flowJoinEnd{kind: flowOpen}
	for j, it := range e.items {
		cur := flowJoinEnd{kind: flowOldItem, k: it.old}
		if it.old < 0 {
			cur = flowJoinEnd{kind: flowNewItem, k: f.n}
			for _, next := range e.items[j+1:] {
				if next.old >= 0 {
					cur.k = next.old
					break
				}
			}
		}
		b.WriteString(f.join(prev, cur))
		if it.old >= 0 {
			b.WriteString(string(t.src[f.starts[it.old]:f.ends[it.old]]))
		} else {
			b.WriteString(t.renderFlowItem(e, e.newNodes[j], f.v, j, st, f.ownLine(cur), f.eol+f.indentOf(cur)))
		}
		prev = cur
	}
	b.WriteString(f.join(prev, flowJoinEnd{kind: flowClose, k: f.n}))
	out := b.String()
	if len(e.items) == 0 && !strings.Contains(out, "#") {
		out = "" // nothing left to keep: []
	}
	return out
}

// isOneLine reports whether the flow list or mapping v ends on the line it starts on.
func (t *textEdit) isOneLine(v *yaml.Node) bool { return !t.isMultiLine(v) }

func (t *textEdit) isMultiLine(m *yaml.Node) bool {
	o := t.nodeOff(m)
	return t.lineOf(t.flowEnd(o)-1) != t.lineOf(o)
}

// indentOfKey is the white space before key k on its line (spaces up to k when k follows other
// text, as in "- id: x").
func (t *textEdit) indentOfKey(k *yaml.Node) string {
	in := t.indent(k.Line)
	if utf8.RuneCountInString(in) == k.Column-1 {
		return in
	}
	return strings.Repeat(" ", k.Column-1)
}

// indentUnit is the file's indentation step: the white space of its first indented line.
func (t *textEdit) indentUnit() string {
	for l := 1; l <= t.nlines(); l++ {
		if in := t.indent(l); in != "" && !t.isBlank(l) && !t.isComment(l) {
			return in
		}
	}
	return "  "
}

// renderFlowItem renders a new item of a flow list: a scalar, or a rule on one line, or (in a
// multi-line list whose neighbour rule spans lines, or in JSON an empty multi-line list) a rule
// with one key per line.
func (t *textEdit) renderFlowItem(e *listEdit, n *yaml.Node, v *yaml.Node, j int, st quoteStyle, multi bool, lead string) string {
	if !e.rules {
		return t.scalar(n, st.val)
	}
	var sib *yaml.Node
	if len(v.Content) > 0 {
		sib = v.Content[0]
		for jj := j; jj >= 0; jj-- {
			if e.items[jj].old >= 0 {
				sib = v.Content[e.items[jj].old]
				break
			}
		}
	}
	if !multi || sib == nil && !t.json {
		return t.flowMap(n, st) // YAML: a rule on one line unless its neighbour spans lines
	}
	itemIn := lead[strings.LastIndexByte(lead, '\n')+1:]
	var keyIn, closeIn string
	if sib != nil {
		so := t.nodeOff(sib)
		se := t.flowEnd(so)
		if sib.Kind != yaml.MappingNode || sib.Style&yaml.FlowStyle == 0 || t.lineOf(se-1) == t.lineOf(so) || len(sib.Content) == 0 {
			return t.flowMap(n, st)
		}
		keyIn = t.indentOfKey(sib.Content[0])
		closeIn = t.indent(t.lineOf(se - 1))
	} else {
		keyIn, closeIn = itemIn+t.indentUnit(), itemIn
	}
	comma, _ := t.seps()
	comma = strings.TrimRight(comma, " ")
	at := t.nodeOff(v)
	return t.lf(at, "{\n"+keyIn+strings.Join(t.pairs(n, st), comma+"\n"+keyIn)+"\n"+closeIn+"}")
}

// blockItem is the lines of one block list item: head comments from head, the "-" on dash, the
// last line of its content on last.
type blockItem struct{ head, dash, last int }

// blockItems finds the lines of the items of block list v, whose key is on line keyLine.
func (t *textEdit) blockItems(v *yaml.Node, keyLine int) ([]blockItem, error) {
	dashCol := v.Column
	items := make([]blockItem, len(v.Content))
	isDash := func(l int) bool {
		s := t.lineText(l)
		in := t.indent(l)
		return strings.Trim(in, " ") == "" && utf8.RuneCountInString(in) == dashCol-1 &&
			strings.HasPrefix(s[len(in):], "-") && (len(s) == len(in)+1 || strings.IndexByte(" \t", s[len(in)+1]) >= 0)
	}
	// deeper: a line inside an item (more indented than its dash).
	deeper := func(l int) bool { return utf8.RuneCountInString(t.indent(l)) > dashCol-1 }
	for i, c := range v.Content {
		d := c.Line
		for d > keyLine && !(isDash(d) && (d < c.Line || c.Column > dashCol)) {
			d--
		}
		if d <= keyLine || (i > 0 && d <= items[i-1].dash) {
			return nil, t.cannot(c, "cannot find the \"-\" of this list item")
		}
		items[i].dash = d
	}
	for i := range items {
		limit := t.nlines()
		if i+1 < len(items) {
			limit = items[i+1].dash - 1
		}
		last := items[i].dash
		for l := items[i].dash + 1; l <= limit; l++ {
			if t.isBlank(l) {
				continue
			}
			if !deeper(l) {
				if i+1 < len(items) && t.isComment(l) {
					continue // a head comment of the next item
				}
				break
			}
			last = l
		}
		items[i].last = last
		low := keyLine
		if i > 0 {
			low = items[i-1].last
		}
		h := items[i].dash
		for h-1 > low && t.isComment(h-1) {
			h--
		}
		items[i].head = h
	}
	return items, nil
}

// editBlockList deletes and inserts whole lines of a block list.
func (t *textEdit) editBlockList(e *listEdit, k, v *yaml.Node) error {
	if !e.changed() {
		return nil
	}
	items, err := t.blockItems(v, k.Line)
	if err != nil {
		return err
	}
	kept := map[int]bool{}
	for _, it := range e.items {
		if it.old >= 0 {
			kept[it.old] = true
		}
	}
	// Runs of deleted neighbours go as one block (and the blank lines between them).
	for i := 0; i < len(items); i++ {
		if kept[i] {
			continue
		}
		j := i
		for j+1 < len(items) && !kept[j+1] {
			j++
		}
		t.deleteLines(items[i].head, items[j].last)
		i = j
	}
	if len(e.items) == 0 {
		at := t.colonEnd(k)
		t.replace(at, at, " []")
		return nil
	}
	st := t.siblingStyle(e)
	// Group the new items by the old item they go before (len(items): at the end).
	for j := 0; j < len(e.items); {
		if e.items[j].old >= 0 {
			j++
			continue
		}
		end := j
		for end < len(e.items) && e.items[end].old < 0 {
			end++
		}
		before := len(items)
		if end < len(e.items) {
			before = e.items[end].old
		}
		sib := before
		if sib == len(items) {
			sib = len(items) - 1
		}
		var text strings.Builder
		for jj := j; jj < end; jj++ {
			text.WriteString(t.blockItemText(v.Content[sib], items[sib], e.newNodes[jj], st, e.rules))
		}
		if before < len(items) {
			at := t.lineStart(items[before].head)
			t.replace(at, at, t.lf(at, text.String()))
		} else {
			t.insertLines(items[len(items)-1].last, text.String())
		}
		j = end
	}
	return nil
}

// blockItemText renders a new item like the neighbouring item sib: the same "-" indentation and
// spacing; a rule as block keys (or on one line when sib is a one-line flow mapping).
func (t *textEdit) blockItemText(sib *yaml.Node, b blockItem, n *yaml.Node, st quoteStyle, rules bool) string {
	dashLine := t.lineText(b.dash)
	in := t.indent(b.dash)
	prefix := in + "- "
	if sib.Line == b.dash {
		prefix = string(t.src[t.lineStart(b.dash):t.nodeOff(sib)])
	} else if i := len(in) + 1; i < len(dashLine) && dashLine[i] == '\t' {
		prefix = in + "-\t"
	}
	return t.blockItemWith(prefix, sib, n, st, rules)
}

func (t *textEdit) blockItemWith(prefix string, sib *yaml.Node, n *yaml.Node, st quoteStyle, rules bool) string {
	if !rules {
		return prefix + t.scalar(n, st.val) + "\n"
	}
	if sib != nil && sib.Kind == yaml.MappingNode && sib.Style&yaml.FlowStyle != 0 {
		return prefix + t.flowMap(n, st) + "\n"
	}
	cont := strings.Repeat(" ", utf8.RuneCountInString(prefix))
	if sib != nil && sib.Kind == yaml.MappingNode && len(sib.Content) >= 4 {
		if k2 := sib.Content[2]; k2.Line != sib.Line && utf8.RuneCountInString(t.indent(k2.Line)) == k2.Column-1 {
			cont = t.indent(k2.Line)
		}
	}
	return prefix + strings.Join(t.pairs(n, st), "\n"+cont) + "\n"
}

// blockSeqStyle is how the file writes block lists of rules under a key: the offset of "-"
// from the key's column and the text between "-" and the item (default: 2 and " ").
func (t *textEdit) blockSeqStyle() (int, string) {
	for i := 0; i+1 < len(t.root.Content); i += 2 {
		k, v := t.root.Content[i], t.root.Content[i+1]
		if v.Kind != yaml.SequenceNode || v.Style&yaml.FlowStyle != 0 || len(v.Content) == 0 {
			continue
		}
		c := v.Content[0]
		if c.Line != v.Line || v.Column < k.Column {
			continue
		}
		return v.Column - k.Column, string(t.src[t.nodeOff(v)+1 : t.nodeOff(c)])
	}
	return 2, " "
}

// valueText renders a whole new list value for key k (after "key:"): a flow list, or for rules
// in a block mapping, "\n" and block items.
func (t *textEdit) valueText(e *listEdit, k *yaml.Node, at int) (inline string, block string) {
	st := t.siblingStyle(e)
	if e.rules && len(e.newNodes) > 0 && !t.json && e.m.Style&yaml.FlowStyle == 0 {
		off, after := t.blockSeqStyle()
		prefix := t.indentOfKey(k) + strings.Repeat(" ", off) + "-" + after
		var b strings.Builder
		for _, n := range e.newNodes {
			b.WriteString(t.blockItemWith(prefix, nil, n, st, true))
		}
		return "", b.String()
	}
	if !e.rules || len(e.newNodes) == 0 {
		var b strings.Builder
		comma, _ := t.seps()
		b.WriteByte('[')
		for i, n := range e.newNodes {
			if i > 0 {
				b.WriteString(comma)
			}
			b.WriteString(t.scalar(n, st.val))
		}
		b.WriteByte(']')
		return b.String(), ""
	}
	// Rules in a flow mapping (JSON): one rule per block of lines when the mapping spans lines.
	if !t.isMultiLine(e.m) {
		comma, _ := t.seps()
		items := make([]string, len(e.newNodes))
		for i, n := range e.newNodes {
			items[i] = t.flowMap(n, st)
		}
		return "[" + strings.Join(items, comma) + "]", ""
	}
	in := t.indentOfKey(k)
	unit := t.indentUnit()
	comma, _ := t.seps()
	comma = strings.TrimRight(comma, " ")
	items := make([]string, len(e.newNodes))
	for i, n := range e.newNodes {
		items[i] = "{\n" + in + unit + unit + strings.Join(t.pairs(n, st), comma+"\n"+in+unit+unit) + "\n" + in + unit + "}"
	}
	return t.lf(at, "[\n"+in+unit+strings.Join(items, comma+"\n"+in+unit)+"\n"+in+"]"), ""
}

// replaceValue replaces a value that is not a list to edit (null, an alias, an empty list that
// becomes a block list) with the whole new list.
func (t *textEdit) replaceValue(e *listEdit, k, v *yaml.Node) error {
	colon := t.colonEnd(k)
	// The value's text: nothing (null), or a token after the colon on the key's line.
	at, end := colon, colon
	rest := t.src[colon:t.lineEnd(t.lineOf(colon))]
	trimmed := bytes.TrimLeft(rest, " \t")
	if len(trimmed) > 0 && trimmed[0] != '#' {
		at = colon + len(rest) - len(trimmed)
		end = t.scalarEnd(at, e.m.Style&yaml.FlowStyle != 0)
	} else if !(v.Kind == yaml.ScalarNode && v.Value == "") {
		return t.cannot(v, "%s: the value does not start on the key's line; write %s: [] first", e.key, e.key)
	}
	inline, block := t.valueText(e, k, at)
	if block == "" {
		if at == end {
			inline = " " + inline
		}
		t.replace(at, end, inline)
		return nil
	}
	// "key: ~  # c" becomes "key:  # c" followed by the block list.
	if at != end {
		lineEnd := t.lineEnd(t.lineOf(colon))
		after := end
		for after < lineEnd && (t.src[after] == ' ' || t.src[after] == '\t') {
			after++
		}
		if after == lineEnd {
			// Nothing follows: drop the blanks before the token too.
			for at > colon && (t.src[at-1] == ' ' || t.src[at-1] == '\t') {
				at--
			}
		}
		t.replace(at, after, "")
	}
	t.insertLines(t.lineOf(colon), block)
	return nil
}

// insertKey adds a missing key with its list, after the key that precedes it in e.order (or
// before the first key that follows it).
func (t *textEdit) insertKey(e *listEdit) error {
	m := e.m
	if len(m.Content) == 0 {
		return t.cannot(m, "%s: cannot add a key to an empty mapping; write %s: [] first", e.key, e.key)
	}
	prev, next := -1, -1
	pos := slices.Index(e.order, e.key)
	for i := 0; i+1 < len(m.Content); i += 2 {
		ko := slices.Index(e.order, m.Content[i].Value)
		if ko >= 0 && ko < pos {
			prev = i
		}
		if ko > pos && next < 0 {
			next = i
		}
	}
	ref := m.Content[0]
	if prev >= 0 {
		ref = m.Content[prev]
	}
	if m.Style&yaml.FlowStyle == 0 {
		// A block mapping: a line "key: [...]" (or "key:" and block items).
		fake := &yaml.Node{Line: ref.Line, Column: ref.Column}
		in := t.indentOfKey(ref)
		st := t.siblingStyle(e)
		keyText := t.str(e.key, st.key)
		inline, block := t.valueText(e, fake, 0)
		var text string
		if block != "" {
			text = in + keyText + ":\n" + block
		} else {
			text = in + keyText + ": " + inline + "\n"
		}
		if prev < 0 && next >= 0 {
			k := m.Content[next]
			l := k.Line
			for l > 1 && t.isComment(l-1) {
				l--
			}
			if k.Line == t.lineOf(t.nodeOff(m)) && t.nodeOff(k) != t.lineStart(k.Line)+len(t.indent(k.Line)) {
				return t.cannot(m, "%s: cannot add the key here; write %s: [] in the file first", e.key, e.key)
			}
			at := t.lineStart(l)
			t.replace(at, at, t.lf(at, text))
			return nil
		}
		// After the last line of the previous key's value.
		last := t.lastLineOf(m.Content[prev+1], m.Content[prev])
		t.insertLines(last, text)
		return nil
	}
	// A flow mapping (JSON): insert `"key": value` after the previous pair or before the next.
	_, colon := t.seps()
	st := t.siblingStyle(e)
	in := t.indentOfKey(m.Content[0])
	if prev < 0 {
		k := m.Content[next]
		at := t.nodeOff(k)
		inline, _ := t.valueText(e, k, at)
		sep := ", "
		if t.lineOf(at) != t.lineOf(t.nodeOff(m)) {
			sep = t.lf(at, ",\n"+in)
		}
		t.replace(at, at, t.str(e.key, st.key)+colon+inline+sep)
		return nil
	}
	v := m.Content[prev+1]
	at := t.nodeEnd(v, true)
	inline, _ := t.valueText(e, m.Content[prev], at)
	sep := ", "
	if t.lineOf(t.nodeOff(m.Content[prev])) != t.lineOf(t.nodeOff(m)) {
		sep = t.lf(at, ",\n"+t.indentOfKey(m.Content[prev]))
	}
	t.replace(at, at, sep+t.str(e.key, st.key)+colon+inline)
	return nil
}

// lastLineOf is the last line of value v of key k in a block mapping (its last non-blank,
// non-comment line more indented than k, or k's own line).
func (t *textEdit) lastLineOf(v, k *yaml.Node) int {
	last := k.Line
	if v.Kind == yaml.SequenceNode || v.Kind == yaml.MappingNode {
		if v.Style&yaml.FlowStyle != 0 {
			return t.lineOf(t.flowEnd(t.nodeOff(v)) - 1)
		}
	} else if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		if v.Kind == yaml.ScalarNode && v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return t.lineOf(t.nodeEnd(v, false) - 1)
		}
	}
	for l := k.Line + 1; l <= t.nlines(); l++ {
		if t.isBlank(l) || t.isComment(l) {
			continue
		}
		if utf8.RuneCountInString(t.indent(l)) <= k.Column-1 && !(v.Kind == yaml.SequenceNode && v.Column == k.Column && strings.HasPrefix(strings.TrimLeft(t.lineText(l), " "), "-")) {
			break
		}
		last = l
	}
	return last
}

// ---- the edits ----

// EditProfile rewrites the profile file data (at repository path path) so that it holds p's
// tags and rules. Only the bytes of what changed are replaced: a tag or rule added is inserted
// (in the style of its neighbours: indentation, quoting, flow or block), one removed is deleted
// with its own comments, and every other byte stays (line endings CRLF or LF, a missing final
// line break, a UTF-8 byte-order mark, comments, key order, quoting, indentation). The id is
// not changed. data must decode (schema.DecodeProfile) without errors. A change that cannot be made
// that way (e.g. it would delete an anchor that an alias uses) returns an error wrapping
// ErrCannotEdit and nothing is written.
func EditProfile(path string, data []byte, p *schema.Profile) ([]byte, error) {
	t, err := newTextEdit(path, data)
	if err != nil {
		return nil, err
	}
	old, errs := schema.DecodeProfile(path, t.src)
	if old == nil || len(errs) > 0 {
		if len(errs) > 0 {
			return nil, errs
		}
		return nil, fmt.Errorf("%s: not a profile", path)
	}
	tags := p.Tags
	oldTags := t.listNodes(t.root, "tags")
	vals := make([]string, len(oldTags))
	for i, n := range oldTags {
		vals[i] = resolveAlias(n).Value
	}
	te := &listEdit{m: t.root, key: "tags", order: profileKeyOrder, old: oldTags}
	te.items = diffList(len(vals), len(tags), func(i, j int) bool { return vals[i] == tags[j] })
	for j, it := range te.items {
		var n *yaml.Node
		if it.old < 0 {
			n = strNode(tags[j])
		}
		te.newNodes = append(te.newNodes, n)
	}
	if !sameStrings(old.Tags, tags) {
		if err := t.checkEditable("tags"); err != nil {
			return nil, err
		}
		if err := t.applyList(te); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		key      string
		old, new []schema.Rule
	}{{"inbound_rules", old.Inbound, p.Inbound}, {"outbound_rules", old.Outbound, p.Outbound}} {
		if sameRules(f.old, f.new) {
			continue
		}
		if err := t.checkEditable(f.key); err != nil {
			return nil, err
		}
		nodes := t.listNodes(t.root, f.key)
		if i := mapValue(t.root, f.key); i < 0 || t.root.Content[i].Kind != yaml.SequenceNode {
			f.old = nil // null, missing or an alias: the whole list is written
		}
		if len(nodes) != len(f.old) {
			return nil, t.cannot(t.root, "%s: the list has %d items but %d rules", f.key, len(nodes), len(f.old))
		}
		e := &listEdit{m: t.root, key: f.key, order: profileKeyOrder, rules: true, old: nodes}
		e.items = diffList(len(f.old), len(f.new), func(i, j int) bool {
			return reflect.DeepEqual(Canonical(f.old[i]), Canonical(f.new[j]))
		})
		for j, it := range e.items {
			var n *yaml.Node
			if it.old < 0 {
				n = RuleNode(f.new[j])
			}
			e.newNodes = append(e.newNodes, n)
		}
		if err := t.applyList(e); err != nil {
			return nil, err
		}
	}
	out, err := t.result()
	if err != nil {
		return nil, err
	}
	// The edit must mean exactly p: decode what was written.
	got, errs := schema.DecodeProfile(path, bytes.TrimPrefix(out, utf8BOM))
	if got == nil || len(errs) > 0 || got.ID != old.ID || !sameStrings(got.Tags, tags) || !sameRules(got.Inbound, p.Inbound) || !sameRules(got.Outbound, p.Outbound) {
		return nil, t.cannot(t.root, "the edited file would not read back as the intended profile (%v)", errs)
	}
	return out, nil
}

// checkEditable refuses to change the list at key of a profile when the list comes through a
// merge key or the profile mapping carries an anchor used elsewhere.
func (t *textEdit) checkEditable(key string) error {
	if err := t.checkShared(key, t.root); err != nil {
		return err
	}
	return t.checkNotMerged(t.root, key, "the profile")
}

// listNodes returns the items of the list at key k of mapping m (nil when it is not a list).
func (t *textEdit) listNodes(m *yaml.Node, k string) []*yaml.Node {
	i := mapValue(m, k)
	if i < 0 {
		return nil
	}
	v := m.Content[i]
	if v.Kind != yaml.SequenceNode {
		return nil
	}
	return v.Content
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 64; i++ {
		n = n.Alias
	}
	return n
}

// mapValue returns the index in m.Content of the value of key k, or -1.
func mapValue(m *yaml.Node, k string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == k {
			return i + 1
		}
	}
	return -1
}

var profileKeyOrder = []string{"id", "tags", "inbound_rules", "outbound_rules"}

var endpointKeyOrder = []string{"id", "host", "interface", "mac", "ipv4_nets", "ipv6_nets", "profile_ids", "state"}

func sameStrings(a, b []string) bool { return slices.Equal(a, b) }

func sameRules(a, b []schema.Rule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(Canonical(a[i]), Canonical(b[i])) {
			return false
		}
	}
	return true
}

// ErrNoEndpoint is returned by EditEndpointProfiles when the file has no endpoint with the id.
var ErrNoEndpoint = errors.New("no such endpoint")

// EditEndpointProfiles rewrites the endpoints file data (at repository path path) so that the
// endpoint id (on host, when host is not "") has profile_ids ids. Like EditProfile, only the
// profile ids that change are inserted or deleted; every other byte of the file stays. The
// edit is refused (ErrCannotEdit, nothing to write) when it would change more than that
// endpoint's profile_ids or could not be made in place: the endpoint, the endpoints list or
// profile_ids is an alias or comes through a merge key (<<), or one of them carries an &anchor
// that an alias or merge key uses elsewhere (which would change too), or the id names more
// than one endpoint of the file. After the splice the whole file is decoded again: the
// endpoint must read back with ids and every other endpoint exactly as before, else the edit
// is refused. Errors: ErrNoEndpoint (wrapped) when the file has no such endpoint,
// ErrCannotEdit (wrapped, "path:line:col: cannot edit the file in place: ...") otherwise.
func EditEndpointProfiles(path string, data []byte, id, host string, ids []string) ([]byte, error) {
	t, err := newTextEdit(path, data)
	if err != nil {
		return nil, err
	}
	if ids == nil {
		ids = []string{}
	}
	before, ok := schema.DecodeEndpointItems(path, t.src)
	if !ok {
		return nil, fmt.Errorf("%s: endpoint %q: %w", path, id, ErrNoEndpoint)
	}
	target := -1
	for k, e := range before {
		if e == nil || e.ID != id || (host != "" && e.Host != host) {
			continue
		}
		if target >= 0 {
			return nil, t.cannot(t.root, "id: more than one endpoint %q in this file; give each endpoint its own id", id)
		}
		target = k
	}
	if target < 0 {
		return nil, fmt.Errorf("%s: endpoint %q: %w", path, id, ErrNoEndpoint)
	}
	list, ep, err := t.endpointNode(id, target)
	if err != nil {
		return nil, err
	}
	if slices.Equal(before[target].ProfileIDs, ids) {
		return data, nil // nothing to change (a missing profile_ids means none)
	}
	if err := t.editProfileIDs(ep, ids); err != nil {
		return nil, err
	}
	out, err := t.result()
	if err != nil {
		return nil, err
	}
	if err := t.checkEndpointsReadBack(out, before, target, ids, list, ep); err != nil {
		return nil, err
	}
	return out, nil
}

// endpointNode returns the endpoints list and its item target (the endpoint id), refusing an
// edit that would change them elsewhere too: a list or endpoint that is an alias, comes through
// a merge key or carries an anchor used elsewhere, and profile_ids through a merge key.
func (t *textEdit) endpointNode(id string, target int) (list, ep *yaml.Node, err error) {
	i := mapValue(t.root, "endpoints")
	if i < 0 {
		return nil, nil, t.cannot(t.root, "endpoints: the list comes from a merge key (<<); write endpoints: in the file itself first")
	}
	list = t.root.Content[i]
	if list.Kind != yaml.SequenceNode {
		return nil, nil, t.cannot(list, "endpoints: the list is an alias (*%s); write it out in full first", list.Value)
	}
	if err := t.checkShared("profile_ids", t.root, list); err != nil {
		return nil, nil, err
	}
	ep = list.Content[target]
	if ep.Kind == yaml.AliasNode {
		return nil, nil, t.cannot(ep, "endpoint %q is an alias (*%s); write it out in full first", id, ep.Value)
	}
	if ep.Kind != yaml.MappingNode {
		return nil, nil, t.cannot(ep, "endpoint %q is not a mapping", id)
	}
	if err := t.checkShared("profile_ids", ep); err != nil {
		return nil, nil, err
	}
	if err := t.checkNotMerged(ep, "profile_ids", fmt.Sprintf("endpoint %q", id)); err != nil {
		return nil, nil, err
	}
	return list, ep, nil
}

// editProfileIDs edits the profile_ids of the endpoint mapping ep into ids.
func (t *textEdit) editProfileIDs(ep *yaml.Node, ids []string) error {
	oldNodes := t.listNodes(ep, "profile_ids")
	if j := mapValue(ep, "profile_ids"); j >= 0 {
		if err := t.checkShared("profile_ids", ep.Content[j]); err != nil {
			return err
		}
	}
	vals := make([]string, len(oldNodes))
	for k, n := range oldNodes {
		vals[k] = resolveAlias(n).Value
	}
	e := &listEdit{m: ep, key: "profile_ids", order: endpointKeyOrder, old: oldNodes}
	e.items = diffList(len(vals), len(ids), func(a, b int) bool { return vals[a] == ids[b] })
	for j, it := range e.items {
		var n *yaml.Node
		if it.old < 0 {
			n = strNode(ids[j])
		}
		e.newNodes = append(e.newNodes, n)
	}
	return t.applyList(e)
}

// checkEndpointsReadBack decodes the edited file out again: the endpoint target must have
// profile_ids ids and every other endpoint of before must be as it was.
func (t *textEdit) checkEndpointsReadBack(out []byte, before []*schema.Endpoint, target int, ids []string, list, ep *yaml.Node) error {
	after, ok := schema.DecodeEndpointItems(t.path, bytes.TrimPrefix(out, utf8BOM))
	if !ok || len(after) != len(before) {
		return t.cannot(ep, "profile_ids: the edited file would not read back as the same list of endpoints")
	}
	for k := range before {
		want := before[k]
		if k == target {
			w := *want
			w.ProfileIDs = ids
			want = &w
		}
		if !sameEndpoint(want, after[k]) {
			if k == target {
				return t.cannot(ep, "profile_ids: the edited file would not read back with profile_ids %q", ids)
			}
			return t.cannot(list.Content[k], "the edit would also change this endpoint (through an alias or a merge key); nothing of it may change")
		}
	}
	return nil
}

// sameEndpoint reports whether a and b mean the same endpoint (their positions aside).
func sameEndpoint(a, b *schema.Endpoint) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.Pos, y.Pos = schema.Pos{}, schema.Pos{}
	return reflect.DeepEqual(x, y)
}

// editPrechecks turns checkShared and checkNotMerged on; tests turn them off to show that the
// decode-again check alone refuses what they refuse.
var editPrechecks = true

// checkShared refuses an edit inside nodes (the mapping or list changed and its ancestors)
// when one of them carries an &anchor that an alias or merge key uses elsewhere: the copy
// there would change too.
func (t *textEdit) checkShared(what string, nodes ...*yaml.Node) error {
	if !editPrechecks {
		return nil
	}
	for _, n := range nodes {
		if n.Anchor != "" && t.used[n.Anchor] {
			return t.cannot(n, "%s: &%s (on this %s) is used by an alias or merge key (*%s) elsewhere, which would change too: write that value out in full instead of *%s first", what, n.Anchor, kindName(n), n.Anchor, n.Anchor)
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// checkNotMerged refuses to edit key of mapping m when m does not write the key itself but
// gets it through a merge key (<<): writing it would not change the merged value and adding
// it would shadow it.
func (t *textEdit) checkNotMerged(m *yaml.Node, key, what string) error {
	if !editPrechecks {
		return nil
	}
	if mapValue(m, key) >= 0 {
		return nil
	}
	if src := mergedFrom(m, key, 0); src != nil {
		return t.cannot(src, "%s: %s gets it through a merge key (<<), which this edit cannot change: write %s: in %s itself first", key, what, key, what)
	}
	return nil
}

// mergedFrom returns the merge key (<<) of mapping m through which m gets key (directly or
// through nested merges), or nil when none gives it.
func mergedFrom(m *yaml.Node, key string, depth int) *yaml.Node {
	if depth > 16 {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!merge" {
			continue
		}
		v := m.Content[i+1]
		sources := []*yaml.Node{v}
		if r := resolveAlias(v); r.Kind == yaml.SequenceNode {
			sources = r.Content
		}
		for _, src := range sources {
			r := resolveAlias(src)
			if r.Kind != yaml.MappingNode {
				continue
			}
			if mapValue(r, key) >= 0 || mergedFrom(r, key, depth+1) != nil {
				return k
			}
		}
	}
	return nil
}
