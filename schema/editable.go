package schema

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseEditable parses a repository file for an in-place edit: reconcile/calicoctl splices its
// bytes at the positions of the returned nodes. data is checked first against the decoder's
// text rules (text.go: UTF-16/32, NUL, bytes that are not UTF-8, a lone carriage return, NEL,
// LS, PS, other control characters, bidirectional controls), so that an edit refuses what
// validate refuses, at the same position and with the same message. A UTF-8 byte-order mark is
// then set aside: bom reports it, src is data without it. For the parser only, a .json path
// (any case) that is valid JSON has the escapes yaml.v3 does not read (`\/`, surrogate pairs)
// rewritten, and a YAML file's %YAML 1.2 directive is blanked; doc's lines and columns (from 1,
// columns in characters, as yaml.v3 counts) are those of src. doc is yaml.v3's document node,
// whatever its root. Errors: *Error (Path, Pos, Msg) for a text problem, yaml.v3's error for
// text it cannot parse.
func ParseEditable(path string, data []byte) (doc *yaml.Node, src []byte, bom bool, err error) {
	if _, p := cleanText(data); p != nil {
		return nil, nil, false, &Error{Path: path, Pos: p.Pos, Msg: p.Msg}
	}
	if bytes.HasPrefix(data, bomUTF8) {
		bom, data = true, data[len(bomUTF8):]
	}
	isJSON := strings.EqualFold(filepath.Ext(path), ".json")
	yamlText, cols := data, jsonCols(nil)
	var p *textProblem
	if isJSON && json.Valid(data) {
		// JSON escapes that yaml.v3 does not read are rewritten; cols gives the nodes the
		// file's columns back.
		yamlText, cols, p = jsonForYAML(data)
	} else if !isJSON {
		// A %YAML 1.2 directive is blanked for the parser (text.go); the file keeps it.
		yamlText, p = yamlDirectives(data)
	}
	if p != nil {
		return nil, nil, false, &Error{Path: path, Pos: p.Pos, Msg: p.Msg}
	}
	doc = &yaml.Node{}
	if err := yaml.Unmarshal(yamlText, doc); err != nil {
		return nil, nil, false, err
	}
	cols.fix(doc)
	return doc, data, bom, nil
}

// DecodeEndpointItems decodes an endpoints file (data without a UTF-8 byte-order mark) and
// returns its endpoints in file order, one per item of the endpoints list, aliases and merge
// keys resolved, nil for an item that does not decode; ok is false when the file does not parse
// or has no endpoints list. Problems are not reported (DecodeEndpoints reports them): the
// calicoctl edits (reconcile/calicoctl) use it to find an endpoint by its index in the list
// and to check that an edit changed nothing but that endpoint.
func DecodeEndpointItems(path string, data []byte) ([]*Endpoint, bool) {
	d := &decoder{path: path}
	root := d.parse(data, "endpoints")
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, false
	}
	var list *yaml.Node
	for _, kv := range d.pairs(root, "the file", 0) {
		if kv[0].Value == "endpoints" {
			list = d.resolve(kv[1])
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, false
	}
	out := make([]*Endpoint, len(list.Content))
	for k, c := range list.Content {
		if c = d.resolve(c); c == nil {
			continue
		}
		if e, _, ok := d.endpoint(c); ok {
			out[k] = e
		}
	}
	return out, true
}
