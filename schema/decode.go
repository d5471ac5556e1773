package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	yaml4 "go.yaml.in/yaml/v4"
)

// This file decodes repository files strictly. Everything goes through yaml.Node (JSON is YAML
// 1.2 flow style) so that every error carries a line and a column: unknown keys, duplicate keys,
// wrong types, syntax errors. Semantic checks live in validate.go.

// maxNodes bounds the work on one file: aliases can make a small file expand into a huge tree.
// A file without aliases has fewer nodes than bytes, so the budget is this plus the file size.
const maxNodes = 1 << 20

// fieldPos records where the values of an object's fields are: "dst_ports" for the value of a
// field, "dst_ports[2]" for an item of a list field.
type fieldPos map[string]Pos

func itemKey(field string, i int) string {
	if keys, ok := itemKeys[field]; ok && i < len(keys) {
		return keys[i]
	}
	return field + "[" + strconv.Itoa(i) + "]"
}

// itemKeys holds the first item keys of the list fields (itemKey without allocating).
var itemKeys = func() map[string][]string {
	m := map[string][]string{}
	for _, f := range []string{"tags", "ipv4_nets", "ipv6_nets", "profile_ids", "src_ports", "dst_ports", "!src_ports", "!dst_ports"} {
		keys := make([]string, 8)
		for i := range keys {
			keys[i] = f + "[" + strconv.Itoa(i) + "]"
		}
		m[f] = keys
	}
	return m
}()

// decoder decodes one file and collects its errors.
type decoder struct {
	path  string
	errs  Errors
	nodes int
	// size is the file's length; it raises the node budget.
	size int
	// stop is set when the node budget is spent; decoding then unwinds quietly.
	stop bool
	// json requires JSON whatever the path's extension (the rules JSON of `rule update`).
	json bool
}

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

func (d *decoder) errAt(p Pos, format string, args ...any) {
	if p.Line < 1 {
		p = Pos{Line: 1, Col: 1}
	}
	if p.Col < 1 {
		p.Col = 1
	}
	d.errs = append(d.errs, &Error{Path: d.path, Pos: p, Msg: clip(fmt.Sprintf(format, args...))})
}

// maxMsg bounds a message: values are quoted in messages, and a value can be megabytes long.
const maxMsg = 300

// clip shortens an over-long message, keeping it valid UTF-8.
func clip(msg string) string {
	if len(msg) <= maxMsg {
		return msg
	}
	cut := maxMsg
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

func (d *decoder) errf(n *yaml.Node, format string, args ...any) {
	d.errAt(posOf(n), format, args...)
}

// resolve follows aliases and spends the node budget; nil means "stop decoding".
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > 64 || n.Alias == nil {
			d.errf(n, "alias %q cannot be resolved", n.Value)
			return nil
		}
		n = n.Alias
	}
	if n == nil || d.stop {
		return nil
	}
	d.nodes++
	if d.nodes > maxNodes+d.size {
		d.stop = true
		d.errf(n, "the file expands to more than %d values (too many aliases)", maxNodes+d.size)
		return nil
	}
	return n
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// unquotedBangRE finds keys like `!protocol:` written without quotes: YAML reads the leading
// '!' as a tag, which makes a confusing syntax error.
var unquotedBangRE = regexp.MustCompile(`^(\s*(?:-\s+)?)(![A-Za-z_]+)\s*:`)

// syntaxError turns a parse error into positioned errors. yaml.v3's messages carry only an
// unreliable line, so the file is parsed again with go.yaml.in/yaml/v4, whose errors have
// marks; the v3 message is the fallback.
func (d *decoder) syntaxError(data []byte, err error) {
	for i, line := range strings.Split(string(data), "\n") {
		if m := unquotedBangRE.FindStringSubmatchIndex(line); m != nil {
			key := line[m[4]:m[5]]
			d.errAt(Pos{Line: i + 1, Col: m[4] + 1}, "%s must be quoted (%q): an unquoted '!' starts a YAML tag", key, key)
		}
	}
	if le := syntaxErrorV4(data); le != nil && le.Message != "" {
		msg := le.Message
		if lines := strings.Split(string(data), "\n"); le.Mark.Line >= 1 && le.Mark.Line <= len(lines) &&
			le.Mark.Column >= 1 && le.Mark.Column <= len(lines[le.Mark.Line-1]) &&
			lines[le.Mark.Line-1][le.Mark.Column-1] == '\t' {
			msg += " (a tab: YAML indents with spaces)"
		}
		if le.ContextMsg != "" && le.ContextMark.Line > 0 && le.ContextMark != le.Mark {
			msg += fmt.Sprintf(" (%s that starts at line %d column %d)", le.ContextMsg, le.ContextMark.Line, le.ContextMark.Column)
		}
		d.errAt(Pos{Line: le.Mark.Line, Col: le.Mark.Column}, "syntax error: %s", msg)
		return
	}
	msg := err.Error()
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
			line = n
		}
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.errAt(Pos{Line: line, Col: 1}, "syntax error: %s", msg)
}

// syntaxErrorV4 returns the first positioned load error of yaml/v4 on data, if any.
func syntaxErrorV4(data []byte) (le *yaml4.LoadError) {
	defer func() {
		if recover() != nil {
			le = nil
		}
	}()
	l, err := yaml4.NewLoader(bytes.NewReader(data))
	for i := 0; err == nil && i < 1000; i++ {
		var n yaml4.Node
		err = l.Load(&n)
	}
	if errors.As(err, &le) {
		return le
	}
	var les *yaml4.LoadErrors
	if errors.As(err, &les) && len(les.Errors) > 0 {
		return les.Errors[0]
	}
	return nil
}

// parse parses a one-document file and returns its root node, or nil after reporting why not.
func (d *decoder) parse(data []byte, expected string) *yaml.Node {
	data, ok := d.text(data)
	if !ok {
		return nil
	}
	d.size = len(data)
	// JSON goes through the YAML decoder (for positions), but YAML's flow style is laxer than
	// JSON (trailing commas, unquoted strings): a .json file must be JSON.
	var cols jsonCols
	if d.json || strings.HasSuffix(d.path, ".json") {
		if len(bytes.TrimSpace(data)) > 0 && !json.Valid(data) {
			d.jsonError(data)
			return nil
		}
		// `\/` and surrogate pairs, which yaml.v3 does not read (jsontext.go).
		var p *textProblem
		if data, cols, p = jsonForYAML(data); p != nil {
			d.errAt(p.Pos, "%s", p.Msg)
			return nil
		}
	} else {
		// %YAML 1.2, which yaml.v3 does not take, is blanked; other versions are refused.
		var p *textProblem
		if data, p = yamlDirectives(data); p != nil {
			d.errAt(p.Pos, "%s", p.Msg)
			return nil
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errAt(Pos{Line: 1, Col: 1}, "empty file: expected %s", expected)
		} else {
			n := len(d.errs)
			d.syntaxError(data, err)
			for _, e := range d.errs[n:] {
				e.Pos = cols.pos(e.Pos)
			}
		}
		return nil
	}
	cols.fix(&doc)
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p := posOf(&extra)
		if len(extra.Content) > 0 {
			p = posOf(extra.Content[0])
		}
		d.errAt(p, "a second YAML document: a file holds one document")
		return nil
	case !errors.Is(err, io.EOF):
		d.syntaxError(data, err)
		return nil
	}
	if len(doc.Content) == 0 {
		d.errAt(Pos{Line: 1, Col: 1}, "empty file: expected %s", expected)
		return nil
	}
	root := d.resolve(doc.Content[0])
	if root == nil {
		return nil
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		d.errAt(Pos{Line: 1, Col: 1}, "empty file: expected %s", expected)
		return nil
	}
	return root
}

// jsonError reports where a .json file stops being JSON.
func (d *decoder) jsonError(data []byte) {
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		d.errAt(Pos{Line: 1, Col: 1}, "syntax error: not valid JSON")
		return
	}
	off := int(se.Offset)
	if off > 0 {
		off-- // Offset counts the bytes read, including the offending one.
	}
	msg := "syntax error: not valid JSON: " + se.Error()
	if start, m, ok := jsonNumberProblem(data, off); ok {
		off, msg = start, m+" (a syntax error in JSON)"
	}
	d.errAt(offsetPos(data, off), "%s", msg)
}

// describe names what a node is, for "x is a list" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return "a string"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	case "!!timestamp":
		return "a timestamp"
	case "!!binary":
		return "binary data"
	}
	return "a value tagged " + n.Tag
}

// show renders a node's value for a message: strings quoted, numbers as written, containers by kind.
func show(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.ShortTag() == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// badTag reports a node carrying a non-standard tag (`!foo`); true if it did.
func (d *decoder) badTag(field string, n *yaml.Node) bool {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		d.errf(n, "%s: unsupported YAML tag %q (quote values and keys that start with '!')", field, n.Tag)
		return true
	}
	return false
}

// emptyValue lists, by the kind of object mapping is told (what), the keys whose value may not
// be left empty (nothing written after the colon), with what leaving the key out means. An
// explicit null (null, ~, JSON null) stays absent, as in Felix and calicoctl; but an empty
// value is most likely a forgotten one, and read as absent it would widen a rule (src_net:
// matching any source) or drop the MAC check, while "" and [] are refused.
var emptyValue = map[string]map[string]string{
	"a rule": {
		"protocol":   "to match any protocol",
		"src_tag":    "to match any source",
		"src_net":    "to match any source",
		"src_ports":  "to match any source port",
		"dst_tag":    "to match any destination",
		"dst_net":    "to match any destination",
		"dst_ports":  "to match any destination port",
		"icmp_type":  "to match any ICMP type",
		"icmp_code":  "to match any ICMP code",
		"ip_version": "to match both IP versions",
		"log_prefix": "for no prefix",
		"!protocol":  "to exclude nothing",
		"!src_tag":   "to exclude nothing",
		"!src_net":   "to exclude nothing",
		"!src_ports": "to exclude nothing",
		"!dst_tag":   "to exclude nothing",
		"!dst_net":   "to exclude nothing",
		"!dst_ports": "to exclude nothing",
		"!icmp_type": "to exclude nothing",
		"!icmp_code": "to exclude nothing",
	},
	"an endpoint": {
		"mac": "to skip the MAC check",
	},
}

// setter decodes the value of one field; it returns false when it reported the value as bad.
type setter func(v *yaml.Node) bool

// fieldSetters are the known keys of an object and their setters (a list: objects have few
// keys, and a map per decoded object costs more than the search).
type fieldSetters []fieldSetter

type fieldSetter struct {
	name string
	set  setter
}

// get returns the setter of key.
func (fs fieldSetters) get(key string) (setter, bool) {
	for _, f := range fs {
		if f.name == key {
			return f.set, true
		}
	}
	return nil, false
}

// mapping checks that n is a mapping and calls fields[key] for each known key whose value is
// not null (Felix reads null as absent); an empty value of a key in emptyValue[what] is
// reported. It reports duplicate and unknown keys. In fp (when not
// nil) it records where each present field's value is, and which fields were reported as bad,
// so that validation neither repeats nor contradicts a decoding error. It returns the resolved
// mapping node, or nil if n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, what string, fp fieldPos, fields fieldSetters) *yaml.Node {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		if !d.badTag(what, n) {
			d.errf(n, "expected %s (a mapping of keys), found %s", what, describe(n))
		}
		return nil
	}
	if fp == nil {
		fp = fieldPos{}
	}
	pairs := d.pairs(n, what, 0)
	present := func(key string) bool {
		for _, kv := range pairs {
			if kv[0].Value == key {
				return true
			}
		}
		return false
	}
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		set, ok := fields.get(k.Value)
		if !ok {
			// A key reported as a misspelling of a known key that is absent ("ID" for
			// "id") stands for that key: it is not also reported as missing, nor are
			// checks that depend on it made.
			if meant := d.unknownKey(k, what, fields); meant != "" && !present(meant) {
				fp[badKey(meant)] = posOf(k)
			}
			continue
		}
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			if instead, ok := emptyValue[what][k.Value]; ok && v.Value == "" && v.Style == 0 {
				d.errf(k, "%s: no value: write one, or leave the key out %s", k.Value, instead)
				fp[k.Value] = posOf(k)
				fp[badKey(k.Value)] = posOf(k)
			}
			continue
		}
		fp[k.Value] = posOf(v)
		if d.badTag(k.Value, v) || !set(v) {
			fp[badKey(k.Value)] = posOf(v)
		}
	}
	return n
}

// pairs returns the key/value pairs of mapping n in order, with merge keys (<<: *anchor or
// <<: [*a, *b]) expanded the YAML 1.1 way: keys written in the mapping win over merged ones,
// and earlier merged mappings win over later ones. It reports bad and duplicate keys.
func (d *decoder) pairs(n *yaml.Node, what string, depth int) [][2]*yaml.Node {
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	var merges []*yaml.Node
	// seen holds the keys of out (with their positions); a small mapping is searched instead.
	var seen map[string]Pos
	if len(n.Content) > 32 {
		seen = map[string]Pos{}
	}
	find := func(key string) (Pos, bool) {
		if seen != nil {
			p, ok := seen[key]
			return p, ok
		}
		for _, kv := range out {
			if kv[0].Value == key {
				return posOf(kv[0]), true
			}
		}
		return Pos{}, false
	}
	add := func(kv [2]*yaml.Node) {
		if seen == nil && len(out) >= 32 { // merged keys made it large
			seen = make(map[string]Pos, 2*len(out))
			for _, o := range out {
				seen[o[0].Value] = posOf(o[0])
			}
		}
		if seen != nil {
			seen[kv[0].Value] = posOf(kv[0])
		}
		out = append(out, kv)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.resolve(n.Content[i]), d.resolve(n.Content[i+1])
		if k == nil || v == nil {
			return out
		}
		if k.Kind != yaml.ScalarNode {
			d.errf(k, "a key of %s is %s; keys are names", what, describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if d.badTag("key", k) {
			continue
		}
		if first, dup := find(k.Value); dup {
			d.errf(k, "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		add([2]*yaml.Node{k, v})
	}
	for _, m := range merges {
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			src = d.resolve(src)
			if src == nil {
				return out
			}
			if src.Kind != yaml.MappingNode || depth > 8 {
				d.errf(src, "a merge (<<) takes a mapping or a list of mappings, found %s", describe(src))
				continue
			}
			for _, kv := range d.pairs(src, what, depth+1) {
				if _, dup := find(kv[0].Value); !dup {
					add(kv)
				}
			}
		}
	}
	return out
}

// badKey is the fieldPos key marking a field whose value decoding already reported.
func badKey(field string) string { return "\x00bad:" + field }

// unknownKey reports an unknown key, with the known key it most likely misspells when there
// is one, and returns that key ("" if none).
func (d *decoder) unknownKey(k *yaml.Node, what string, fields fieldSetters) string {
	best, bestDist := "", 3
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		names = append(names, f.name)
	}
	sort.Strings(names)
	for _, name := range names {
		if dist := editDistance(strings.ToLower(k.Value), name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best != "" {
		d.errf(k, "unknown key %q in %s (did you mean %q?)", k.Value, what, best)
		return best
	}
	if len(names) > 8 {
		d.errf(k, "unknown key %q in %s", k.Value, what)
		return ""
	}
	d.errf(k, "unknown key %q in %s; known keys: %s", k.Value, what, strings.Join(names, ", "))
	return ""
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// str decodes a string value.
func (d *decoder) str(field string, n *yaml.Node) (string, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		return n.Value, true
	}
	if n.Kind == yaml.ScalarNode {
		d.errf(n, "%s: %s is %s; expected a string (quote it: %q)", field, show(n), describe(n), n.Value)
	} else {
		d.errf(n, "%s: expected a string, found %s", field, describe(n))
	}
	return "", false
}

// isNumber reports whether YAML resolved a scalar as a number (!!int or !!float).
func isNumber(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float")
}

// notDecimal reports a number written in another notation than plain decimal (ParseDecimal's
// ErrNotDecimal), naming the field first; true if it did.
func (d *decoder) notDecimal(field string, n *yaml.Node, err error) bool {
	if errors.Is(err, ErrNotDecimal) {
		d.errf(n, "%s: %v", field, err)
		return true
	}
	return false
}

// integer decodes an integer value written in plain decimal (ParseDecimal); expect describes
// the valid values for messages ("0-254"). Values beyond 32 bits are out of range here; the
// field's own range is checked by validation.
func (d *decoder) integer(field string, n *yaml.Node, expect string) (int, bool) {
	if isNumber(n) {
		v, err := ParseDecimal(n.Value)
		switch {
		case d.notDecimal(field, n, err):
			return 0, false
		case err == nil && v >= -1<<31 && v < 1<<31:
			return int(v), true
		case err == nil || errors.Is(err, ErrNumberRange):
			d.errf(n, "%s: %s is out of range (%s)", field, n.Value, expect)
			return 0, false
		}
		// .inf, .nan: no number in any notation; reported below.
	}
	if n.Kind == yaml.ScalarNode {
		d.errf(n, "%s: %s is %s; expected an integer (%s)", field, show(n), describe(n), expect)
	} else {
		d.errf(n, "%s: expected an integer (%s), found %s", field, expect, describe(n))
	}
	return 0, false
}

// list calls item for every element of a list value.
func (d *decoder) list(field string, n *yaml.Node, item func(i int, v *yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		if n.Kind == yaml.ScalarNode {
			item := n.Value
			var ne *NumberError
			if _, err := ParseDecimal(n.Value); isNumber(n) && errors.As(err, &ne) && ne.Write != "" {
				item = ne.Write
			}
			d.errf(n, "%s: %s is %s; expected a list (write [%s])", field, show(n), describe(n), item)
		} else {
			d.errf(n, "%s: expected a list, found %s", field, describe(n))
		}
		return
	}
	for i, c := range n.Content {
		c = d.resolve(c)
		if c == nil {
			return
		}
		if d.badTag(field, c) {
			continue
		}
		item(i, c)
	}
}

// strList decodes a list of strings, recording item positions in fp.
func (d *decoder) strList(field string, n *yaml.Node, fp fieldPos) []string {
	out := []string{}
	d.list(field, n, func(i int, v *yaml.Node) {
		if s, ok := d.str(field, v); ok {
			fp[itemKey(field, len(out))] = posOf(v)
			out = append(out, s)
		}
	})
	return out
}

// protocol decodes a protocol: a name or a number 1-255 in plain decimal (ParseDecimal), an
// integer or a string ("6"). Names and the range are checked by validation (Protocol.Number);
// a number in another notation ("06", 0x06, 6.0) is reported here.
func (d *decoder) protocol(field string, n *yaml.Node) (Protocol, bool) {
	if isNumber(n) {
		v, err := ParseDecimal(n.Value)
		switch {
		case d.notDecimal(field, n, err):
			return "", false
		case err == nil && v >= 1 && v <= 255:
			return Protocol(strconv.FormatInt(v, 10)), true
		case err == nil || errors.Is(err, ErrNumberRange):
			d.errf(n, "%s: %s is not a protocol (%s or 1-255)", field, n.Value, strings.Join(ProtocolNames, ", "))
			return "", false
		}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		var ne *NumberError
		if _, err := ParseDecimal(n.Value); errors.As(err, &ne) {
			q := *ne
			q.Literal = strconv.Quote(n.Value)
			q.Note = ""
			d.errf(n, "%s: %v", field, &q)
			return "", false
		}
		return Protocol(n.Value), true
	}
	if n.Kind == yaml.ScalarNode {
		d.errf(n, "%s: %s is %s; expected a protocol name or number", field, show(n), describe(n))
	} else {
		d.errf(n, "%s: expected a protocol name or number, found %s", field, describe(n))
	}
	return "", false
}

// ports decodes a list of ports: integers 0-65535 and "a:b" ranges with a < b.
func (d *decoder) ports(field string, n *yaml.Node, fp fieldPos) []PortRange {
	out := []PortRange{}
	d.list(field, n, func(i int, v *yaml.Node) {
		if pr, ok := d.port(field, v); ok {
			fp[itemKey(field, len(out))] = posOf(v)
			out = append(out, pr)
		}
	})
	return out
}

func (d *decoder) port(field string, v *yaml.Node) (PortRange, bool) {
	if v.Kind != yaml.ScalarNode {
		d.errf(v, "%s: expected a port, found %s", field, describe(v))
		return PortRange{}, false
	}
	switch v.ShortTag() {
	case "!!int", "!!float":
		n, err := ParseDecimal(v.Value)
		switch {
		case d.notDecimal(field, v, err):
			return PortRange{}, false
		case err == nil && n >= 0 && n <= 65535:
			return PortRange{First: uint16(n), Last: uint16(n)}, true
		case err == nil || errors.Is(err, ErrNumberRange):
			d.errf(v, "%s: %s is not a port (0-65535)", field, v.Value)
			return PortRange{}, false
		}
		// .inf, .nan: reported below.
	case "!!str":
		pr, err := ParsePortRange(v.Value)
		if err != nil {
			d.errf(v, "%s: %v", field, err)
			return PortRange{}, false
		}
		return pr, true
	}
	d.errf(v, "%s: %s is %s; write ports as integers or \"a:b\" ranges", field, show(v), describe(v))
	return PortRange{}, false
}

// ParsePortRange parses the string form of a port range, "a:b" with 0 <= a < b <= 65535, a
// and b in plain decimal (ParseDecimal: "08:10" is refused). A single port must be written as
// an integer in files, so "80" is an error here.
func ParsePortRange(s string) (PortRange, error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		if _, err := ParseDecimal(s); err == nil {
			return PortRange{}, fmt.Errorf("%q is a string; write ports as integers or \"a:b\" ranges", s)
		}
		return PortRange{}, fmt.Errorf("%q is not a port or a port range (write 80 or \"8000:8080\")", s)
	}
	first, err1 := parsePort(a)
	last, err2 := parsePort(b)
	switch {
	case err1 != nil:
		return PortRange{}, fmt.Errorf("%q is not a port range: %w", s, err1)
	case err2 != nil:
		return PortRange{}, fmt.Errorf("%q is not a port range: %w", s, err2)
	case first >= last:
		return PortRange{}, fmt.Errorf("%q is not a port range: %d is not below %d", s, first, last)
	}
	return PortRange{First: uint16(first), Last: uint16(last)}, nil
}

// parsePort parses one end of a port range: a plain decimal 0-65535.
func parsePort(s string) (int, error) {
	n, err := ParseDecimal(s)
	switch {
	case errors.Is(err, ErrNotDecimal):
		return 0, err
	case err == nil && n >= 0 && n <= 65535:
		return int(n), nil
	case err == nil || errors.Is(err, ErrNumberRange):
		return 0, fmt.Errorf("%s is not a port (0-65535)", s)
	}
	return 0, fmt.Errorf("%q is not a number", s)
}

// ---- objects ----

// Setters for the field kinds; each stores into dst when the value is good.
func (d *decoder) strField(field string, dst *string) setter {
	return func(v *yaml.Node) bool {
		s, ok := d.str(field, v)
		*dst = s
		return ok
	}
}

func (d *decoder) strListField(field string, dst *[]string, fp fieldPos) setter {
	return func(v *yaml.Node) bool {
		n := len(d.errs)
		*dst = d.strList(field, v, fp)
		return len(d.errs) == n
	}
}

func (d *decoder) protoField(field string, dst *Protocol) setter {
	return func(v *yaml.Node) bool {
		p, ok := d.protocol(field, v)
		*dst = p
		return ok
	}
}

func (d *decoder) portsField(field string, dst *[]PortRange, fp fieldPos) setter {
	return func(v *yaml.Node) bool {
		n := len(d.errs)
		*dst = d.ports(field, v, fp)
		return len(d.errs) == n
	}
}

func (d *decoder) intField(field, expect string, dst *int) setter {
	return func(v *yaml.Node) bool {
		x, ok := d.integer(field, v, expect)
		*dst = x
		return ok
	}
}

func (d *decoder) optIntField(field, expect string, dst **int) setter {
	return func(v *yaml.Node) bool {
		x, ok := d.integer(field, v, expect)
		if ok {
			*dst = &x
		}
		return ok
	}
}

// rule decodes one rule and the positions of its fields.
func (d *decoder) rule(n *yaml.Node) (Rule, fieldPos, bool) {
	var r Rule
	fp := fieldPos{}
	m := d.mapping(n, "a rule", fp, fieldSetters{
		{"action", d.strField("action", &r.Action)},
		{"protocol", d.protoField("protocol", &r.Protocol)},
		{"src_tag", d.strField("src_tag", &r.SrcTag)},
		{"src_net", d.strField("src_net", &r.SrcNet)},
		{"src_ports", d.portsField("src_ports", &r.SrcPorts, fp)},
		{"dst_tag", d.strField("dst_tag", &r.DstTag)},
		{"dst_net", d.strField("dst_net", &r.DstNet)},
		{"dst_ports", d.portsField("dst_ports", &r.DstPorts, fp)},
		{"icmp_type", d.optIntField("icmp_type", "0-254", &r.ICMPType)},
		{"icmp_code", d.optIntField("icmp_code", "0-254", &r.ICMPCode)},
		{"ip_version", d.intField("ip_version", "4 or 6", &r.IPVersion)},
		{"log_prefix", d.strField("log_prefix", &r.LogPrefix)},
		{"!protocol", d.protoField("!protocol", &r.NotProtocol)},
		{"!src_tag", d.strField("!src_tag", &r.NotSrcTag)},
		{"!src_net", d.strField("!src_net", &r.NotSrcNet)},
		{"!src_ports", d.portsField("!src_ports", &r.NotSrcPorts, fp)},
		{"!dst_tag", d.strField("!dst_tag", &r.NotDstTag)},
		{"!dst_net", d.strField("!dst_net", &r.NotDstNet)},
		{"!dst_ports", d.portsField("!dst_ports", &r.NotDstPorts, fp)},
		{"!icmp_type", d.optIntField("!icmp_type", "0-254", &r.NotICMPType)},
		{"!icmp_code", d.optIntField("!icmp_code", "0-254", &r.NotICMPCode)},
	})
	if m == nil {
		return r, fp, false
	}
	r.Pos = posOf(m)
	return r, fp, true
}

// rules decodes and checks a list of rules.
func (d *decoder) rules(field string, n *yaml.Node) []Rule {
	out := []Rule{}
	c := &checker{path: d.path, errs: &d.errs}
	d.list(field, n, func(i int, v *yaml.Node) {
		r, fp, ok := d.rule(v)
		if !ok {
			return
		}
		out = append(out, r)
		c.rule(&out[len(out)-1], fp)
	})
	return out
}

func (d *decoder) rulesField(field string, dst *[]Rule) setter {
	return func(v *yaml.Node) bool {
		n := len(d.errs)
		*dst = d.rules(field, v)
		return len(d.errs) == n
	}
}

// profile decodes and checks (file-locally) a profile file.
func (d *decoder) profile(n *yaml.Node) (*Profile, bool) {
	p := &Profile{Path: d.path, Tags: []string{}, Inbound: []Rule{}, Outbound: []Rule{}}
	fp := fieldPos{}
	m := d.mapping(n, "a profile", fp, fieldSetters{
		{"id", d.strField("id", &p.ID)},
		{"tags", d.strListField("tags", &p.Tags, fp)},
		{"inbound_rules", d.rulesField("inbound_rules", &p.Inbound)},
		{"outbound_rules", d.rulesField("outbound_rules", &p.Outbound)},
	})
	if m == nil {
		return nil, false
	}
	p.Pos = posOf(m)
	if pos, ok := fp["id"]; ok {
		p.Pos = pos
	}
	c := &checker{path: d.path, errs: &d.errs, fp: fp, base: posOf(m)}
	c.profile(p)
	return p, true
}

// endpoint decodes one endpoint and the positions of its fields.
func (d *decoder) endpoint(n *yaml.Node) (*Endpoint, fieldPos, bool) {
	e := &Endpoint{Path: d.path, IPv4Nets: []string{}, IPv6Nets: []string{}, ProfileIDs: []string{}}
	fp := fieldPos{}
	m := d.mapping(n, "an endpoint", fp, fieldSetters{
		{"id", d.strField("id", &e.ID)},
		{"host", d.strField("host", &e.Host)},
		{"interface", d.strField("interface", &e.Interface)},
		{"mac", d.strField("mac", &e.MAC)},
		{"ipv4_nets", d.strListField("ipv4_nets", &e.IPv4Nets, fp)},
		{"ipv6_nets", d.strListField("ipv6_nets", &e.IPv6Nets, fp)},
		{"profile_ids", d.strListField("profile_ids", &e.ProfileIDs, fp)},
		{"state", d.strField("state", &e.State)},
	})
	if m == nil {
		return nil, nil, false
	}
	e.Pos = posOf(m)
	return e, fp, true
}

// expectation decodes one reachability expectation and the positions of its fields.
func (d *decoder) expectation(n *yaml.Node) (*Expectation, fieldPos, bool) {
	x := &Expectation{Path: d.path}
	fp := fieldPos{}
	m := d.mapping(n, "a test", fp, fieldSetters{
		{"name", d.strField("name", &x.Name)},
		{"from", d.strField("from", &x.From)},
		{"to", d.strField("to", &x.To)},
		{"protocol", func(v *yaml.Node) bool {
			p, ok := d.protocol("protocol", v)
			x.Protocol = string(p)
			return ok
		}},
		{"port", d.intField("port", "1-65535", &x.Port)},
		{"icmp_type", d.optIntField("icmp_type", "0-254", &x.ICMPType)},
		{"icmp_code", d.optIntField("icmp_code", "0-254", &x.ICMPCode)},
		{"expect", d.strField("expect", &x.Expect)},
	})
	if m == nil {
		return nil, nil, false
	}
	x.Pos = posOf(m)
	return x, fp, true
}

// topList decodes a file whose root is a mapping with one required key (endpoints, tests)
// holding a list, calling item for each element.
func (d *decoder) topList(root *yaml.Node, key, what string, item func(v *yaml.Node)) {
	fp := fieldPos{}
	m := d.mapping(root, fmt.Sprintf("a mapping with %q", key), fp, fieldSetters{
		{key, func(v *yaml.Node) bool {
			n := len(d.errs)
			d.list(key, v, func(_ int, c *yaml.Node) { item(c) })
			return len(d.errs) == n
		}},
	})
	if m == nil {
		return
	}
	// A null value counts as an empty list. A missing key is reported unless another
	// (unknown, so already reported) key stands in its place.
	if len(m.Content) == 0 {
		d.errf(m, "%s: missing; write %s: followed by a list of %s", key, key, what)
	}
}

// DecodeProfile decodes and checks one profile file (profiles/<ID>.yaml or .json). It checks
// everything that the file alone can tell, including that the id equals the file stem.
func DecodeProfile(path string, data []byte) (*Profile, Errors) {
	d := &decoder{path: path}
	var p *Profile
	if root := d.parse(data, "a profile"); root != nil {
		p, _ = d.profile(root)
	}
	return p, d.result()
}

// DecodeRules decodes the JSON of calicoctl's `rule update`:
// {"id"?: ..., "inbound_rules": [...], "outbound_rules": [...]}. It must be JSON, as calicoctl
// required (json.loads), whatever path is called (YAML's laxer syntax would read
// {"dst_ports": [010]} as port 8). Both rule lists are required and unknown keys are errors;
// every rule is validated.
func DecodeRules(path string, data []byte) (id string, hasID bool, inbound, outbound []Rule, errs Errors) {
	d := &decoder{path: path, json: true}
	inbound, outbound = []Rule{}, []Rule{}
	root := d.parse(data, `an object with "inbound_rules" and "outbound_rules"`)
	if root == nil {
		return "", false, inbound, outbound, d.result()
	}
	fp := fieldPos{}
	m := d.mapping(root, "a rules object", fp, fieldSetters{
		{"id", func(v *yaml.Node) bool {
			s, ok := d.str("id", v)
			if ok && !idRE.MatchString(s) {
				d.errf(v, "id: %q is not a valid id: %s", s, idChars)
			}
			id, hasID = s, ok
			return ok
		}},
		{"inbound_rules", d.rulesField("inbound_rules", &inbound)},
		{"outbound_rules", d.rulesField("outbound_rules", &outbound)},
	})
	if m != nil {
		for _, k := range []string{"inbound_rules", "outbound_rules"} {
			_, ok := fp[k]
			_, meant := fp[badKey(k)] // a misspelling of k was reported
			if !ok && !meant {
				d.errf(m, "%s: missing (write [] for none)", k)
			}
		}
	}
	return id, hasID, inbound, outbound, d.result()
}

// result returns the sorted errors, or nil.
func (d *decoder) result() Errors {
	if len(d.errs) == 0 {
		return nil
	}
	d.errs = d.errs.dedup()
	return d.errs
}

// stem returns the file name of p without its extension.
func stem(p string) string {
	base := path.Base(p)
	return strings.TrimSuffix(base, path.Ext(base))
}
