package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file edits repository files in place for the calicoctl commands (`reconcile profile`,
// `reconcile endpoint`), preserving what a person wrote.
//
// A YAML file is loaded into a yaml.Node tree; only the value of the field that changed (tags,
// inbound_rules, outbound_rules, or one endpoint's profile_ids) is rewritten, and inside it every
// unchanged item (a tag, a rule) keeps its original node, so comments on other fields, on other
// rules and on unchanged rules survive. The tree is then written back by yaml.v3 with an
// indentation of 2, which normalises spacing: blank lines between fields are not kept.
// A JSON file stays JSON: the same tree is written as JSON with an indentation of 2 and the
// file's own key order (scalar lists on one line).
//
// New files get a fixed key order: id, tags, inbound_rules, outbound_rules; inside a rule
// action, protocol, ip_version, icmp_type, icmp_code, src_tag, src_net, src_ports, dst_tag,
// dst_net, dst_ports, the negations (!protocol, !src_tag, !src_net, !src_ports, !dst_tag,
// !dst_net, !dst_ports, !icmp_type, !icmp_code), log_prefix. Scalar lists (tags, ports) are
// written in flow style: `tags: [WEB, APP_7890]`, `dst_ports: [80, 443]`.
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

func portsNode(ports []PortRange) *yaml.Node {
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

func protocolNode(p Protocol) *yaml.Node {
	if n, err := strconv.Atoi(string(p)); err == nil && strings.TrimLeft(string(p), "0123456789") == "" {
		return intNode(n)
	}
	return strNode(string(p))
}

// RuleNode returns a rule as a YAML mapping node with the fixed key order described above.
func RuleNode(r Rule) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k string, v *yaml.Node) { m.Content = append(m.Content, keyNode(k), v) }
	str := func(k, v string) {
		if v != "" {
			add(k, strNode(v))
		}
	}
	ports := func(k string, v []PortRange) {
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

func rulesNode(rules []Rule) *yaml.Node {
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
func profileNode(p *Profile) *yaml.Node {
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
func MarshalProfile(path string, p *Profile) ([]byte, error) {
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

// writeJSON writes a YAML node tree as JSON, indented by 2, keeping key order; lists of
// scalars go on one line.
func writeJSON(b *bytes.Buffer, n *yaml.Node, depth int) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	ind := func(d int) string { return strings.Repeat("  ", d) }
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{\n")
		for i := 0; i+1 < len(n.Content); i += 2 {
			b.WriteString(ind(depth + 1))
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
		b.WriteString(ind(depth) + "}")
	case yaml.SequenceNode:
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
			b.WriteString(ind(depth + 1))
			if err := writeJSON(b, c, depth+1); err != nil {
				return err
			}
			if i+1 < len(n.Content) {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(ind(depth) + "]")
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
				b.WriteString(n.Value)
				return nil
			}
		case "!!bool":
			b.WriteString(strings.ToLower(n.Value))
			return nil
		case "!!null":
			b.WriteString("null")
			return nil
		}
		b.WriteString(jsonString(n.Value))
	default:
		return fmt.Errorf("cannot write a YAML node of kind %d as JSON", n.Kind)
	}
	return nil
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return string(b)
}

// parseDoc parses a one-document YAML or JSON file into its document node.
func parseDoc(path string, data []byte) (*yaml.Node, *yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("parse %s: the file is not a mapping", path)
	}
	return &doc, doc.Content[0], nil
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

// setMapValue replaces the value of key k in m, or inserts the key before the first key that
// follows it in order (or at the end).
func setMapValue(m *yaml.Node, k string, v *yaml.Node, order []string) {
	if i := mapValue(m, k); i >= 0 {
		m.Content[i] = v
		return
	}
	after := false
	for _, o := range order {
		if o == k {
			after = true
			continue
		}
		if !after {
			continue
		}
		if i := mapValue(m, o); i >= 0 {
			m.Content = append(m.Content[:i-1], append([]*yaml.Node{keyNode(k), v}, m.Content[i-1:]...)...)
			return
		}
	}
	m.Content = append(m.Content, keyNode(k), v)
}

var profileKeyOrder = []string{"id", "tags", "inbound_rules", "outbound_rules"}

// editStrList makes the list node at key k of m hold ss, reusing the nodes of unchanged items
// and the list node itself (its style and comments) when there is one.
func editStrList(m *yaml.Node, k string, ss []string, order []string) {
	i := mapValue(m, k)
	if i < 0 || m.Content[i].Kind != yaml.SequenceNode {
		n := strListNode(ss)
		if i >= 0 {
			copyComments(n, m.Content[i])
		}
		setMapValue(m, k, n, order)
		return
	}
	seq := m.Content[i]
	old := seq.Content
	used := make([]bool, len(old))
	items := make([]*yaml.Node, 0, len(ss))
	for _, s := range ss {
		var n *yaml.Node
		for j, o := range old {
			if !used[j] && o.Kind == yaml.ScalarNode && o.Value == s {
				used[j], n = true, o
				break
			}
		}
		if n == nil {
			n = strNode(s)
		}
		items = append(items, n)
	}
	seq.Content = items
}

func copyComments(dst, src *yaml.Node) {
	dst.HeadComment, dst.LineComment, dst.FootComment = src.HeadComment, src.LineComment, src.FootComment
}

// editRules makes the list at key k of m hold rules. old are the rules as decoded from the same
// file (their Pos locates their nodes); a node whose rule is unchanged is kept as it is.
func editRules(m *yaml.Node, k string, rules []Rule, old []Rule) {
	i := mapValue(m, k)
	if i < 0 || m.Content[i].Kind != yaml.SequenceNode {
		n := rulesNode(rules)
		if i >= 0 {
			copyComments(n, m.Content[i])
		}
		setMapValue(m, k, n, profileKeyOrder)
		return
	}
	seq := m.Content[i]
	type cand struct {
		node *yaml.Node
		rule Rule
	}
	var cands []cand
	for _, n := range seq.Content {
		for _, r := range old {
			if r.Pos.Line == n.Line && r.Pos.Col == n.Column {
				cands = append(cands, cand{n, r.Canonical()})
				break
			}
		}
	}
	used := make([]bool, len(cands))
	items := make([]*yaml.Node, 0, len(rules))
	for _, r := range rules {
		c := r.Canonical()
		var n *yaml.Node
		for j := range cands {
			if !used[j] && reflect.DeepEqual(cands[j].rule, c) {
				used[j], n = true, cands[j].node
				break
			}
		}
		if n == nil {
			n = RuleNode(r)
		}
		items = append(items, n)
	}
	seq.Content = items
	if len(items) == 0 {
		seq.Style = yaml.FlowStyle
	} else if seq.Style&yaml.FlowStyle != 0 && !isJSONish(seq) {
		seq.Style &^= yaml.FlowStyle
		// A comment after "[]" belongs after the key once the list is a block.
		if key := m.Content[i-1]; key.LineComment == "" {
			key.LineComment, seq.LineComment = seq.LineComment, ""
		}
	}
}

// blockStyle turns a YAML file written in flow (JSON) style into the fixed style of new files:
// block mappings and lists of mappings, flow lists of scalars.
func blockStyle(n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		n.Style &^= yaml.FlowStyle
		for _, c := range n.Content {
			blockStyle(c)
		}
	case yaml.SequenceNode:
		n.Style |= yaml.FlowStyle
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				n.Style &^= yaml.FlowStyle
			}
			blockStyle(c)
		}
	case yaml.ScalarNode:
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 && n.Tag == "!!str" && !strings.HasPrefix(n.Value, "!") {
			// Let the encoder quote only what needs quoting.
			n.Style &^= yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle
		}
	}
}

// isJSONish is true for flow collections whose items are all flow (as in a JSON file): they may
// stay flow.
func isJSONish(seq *yaml.Node) bool {
	for _, c := range seq.Content {
		if c.Kind == yaml.MappingNode && c.Style&yaml.FlowStyle == 0 {
			return false
		}
	}
	return true
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameRules(a, b []Rule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(a[i].Canonical(), b[i].Canonical()) {
			return false
		}
	}
	return true
}

// EditProfile rewrites the profile file data (at repository path path) so that it holds p: only
// the tags, inbound_rules and outbound_rules that differ from the file are replaced, keeping the
// comments and nodes of everything else. The id is not changed. data must decode (DecodeProfile)
// without syntax errors.
func EditProfile(path string, data []byte, p *Profile) ([]byte, error) {
	old, errs := DecodeProfile(path, data)
	if old == nil {
		if len(errs) > 0 {
			return nil, errs
		}
		return nil, fmt.Errorf("%s: not a profile", path)
	}
	doc, root, err := parseDoc(path, data)
	if err != nil {
		return nil, err
	}
	if !isJSONPath(path) && root.Style&yaml.FlowStyle != 0 {
		// JSON written into a .yaml file: give it the style of new YAML files.
		blockStyle(root)
	}
	if !sameStrings(old.Tags, p.Tags) || mapValue(root, "tags") < 0 {
		tags := p.Tags
		if tags == nil {
			tags = []string{}
		}
		editStrList(root, "tags", tags, profileKeyOrder)
	}
	if !sameRules(old.Inbound, p.Inbound) || mapValue(root, "inbound_rules") < 0 {
		editRules(root, "inbound_rules", p.Inbound, old.Inbound)
	}
	if !sameRules(old.Outbound, p.Outbound) || mapValue(root, "outbound_rules") < 0 {
		editRules(root, "outbound_rules", p.Outbound, old.Outbound)
	}
	return render(path, doc)
}

// ErrNoEndpoint is returned by EditEndpointProfiles when the file has no endpoint with the id.
var ErrNoEndpoint = errors.New("no such endpoint")

// EditEndpointProfiles rewrites the endpoints file data (at repository path path) so that the
// endpoint id has profile_ids ids; nothing else in the file changes.
func EditEndpointProfiles(path string, data []byte, id string, ids []string) ([]byte, error) {
	doc, root, err := parseDoc(path, data)
	if err != nil {
		return nil, err
	}
	i := mapValue(root, "endpoints")
	if i < 0 || root.Content[i].Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: endpoint %q: %w", path, id, ErrNoEndpoint)
	}
	for _, ep := range root.Content[i].Content {
		if ep.Kind != yaml.MappingNode {
			continue
		}
		if j := mapValue(ep, "id"); j < 0 || ep.Content[j].Value != id {
			continue
		}
		if ids == nil {
			ids = []string{}
		}
		editStrList(ep, "profile_ids", ids, []string{"id", "host", "interface", "mac", "ipv4_nets", "ipv6_nets", "profile_ids", "state"})
		return render(path, doc)
	}
	return nil, fmt.Errorf("%s: endpoint %q: %w", path, id, ErrNoEndpoint)
}

// WriteFileAtomic writes data to name through a temporary file in the same directory, synced
// and renamed over name, so a reader sees the old or the new content, never a mix. An existing
// file's permissions are kept (0644 for a new one).
func WriteFileAtomic(name string, data []byte) error {
	perm := os.FileMode(0o644)
	if st, err := os.Stat(name); err == nil {
		perm = st.Mode().Perm()
	}
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %q: %w", name, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %q: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %q: %w", name, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %q: %w", name, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
