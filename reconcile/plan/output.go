package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// FormatVersion is the version of the JSON plan format; it changes only when a field changes
// meaning or disappears (new fields may be added in the same version).
const FormatVersion = "1"

// Title is the one-line name of an object: "endpoint web-1 (caliweb1)", "profile WEB
// inbound", "tag APP_7890 (v4)", "chain forward-from", "map dispatch-from", "table inet x",
// "counter c1 (not reconcile's, removed by apply)".
func (o *Object) Title() string {
	switch o.Kind {
	case KindEndpoint:
		if o.Interface != "" {
			return fmt.Sprintf("endpoint %s (%s)", o.ID, o.Interface)
		}
		return "endpoint " + o.ID
	case KindProfile:
		return "profile " + o.ID + " " + o.Direction
	case KindTag:
		return fmt.Sprintf("tag %s (%s)", o.ID, o.Family)
	case KindTable:
		return "table inet " + o.ID
	case KindObject:
		if o.Action == Destroy {
			return o.ID + noteFor(o.ID)
		}
		return o.ID
	}
	return o.Kind + " " + o.ID
}

// Summary is the last line of the text output: "Plan: 1 to add, 2 to change, 0 to destroy."
// or "No changes. The kernel matches the desired ruleset." (for drift: "Drift: …" or "No
// drift. The kernel matches the last applied ruleset.").
func (p *Plan) Summary() string {
	c := p.Changes()
	drift := p != nil && p.Kind == "drift"
	if c.Total() == 0 {
		if drift {
			return "No drift. The kernel matches the last applied ruleset."
		}
		return "No changes. The kernel matches the desired ruleset."
	}
	word := "Plan"
	if drift {
		word = "Drift"
	}
	return fmt.Sprintf("%s: %d to add, %d to change, %d to destroy.", word, c.Add, c.Change, c.Destroy)
}

// WriteText writes the plan for people: one block per object, its lines grouped by chain,
// map or set, then the summary line.
//
//   - endpoint web-1 (caliweb1)
//     ~ map dispatch-from
//
//   - "caliweb1" : goto from-web-1
//
//   - chain from-web-1
//
//   - iifname "caliweb1" ip saddr != @... drop
//     ~ profile WEB inbound
//     ~ chain profile-in-WEB
//
//   - meta l4proto tcp th dport 22 counter accept comment "WEB inbound 2"
//
//     Plan: 1 to add, 1 to change, 0 to destroy.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	if p != nil {
		for _, o := range p.Objects {
			fmt.Fprintf(&b, "%s %s\n", o.Action.Symbol(), o.Title())
			for _, sec := range sections(o.Changes) {
				if sec.title == o.Title() && (len(sec.lines) == 0 || sec.symbol == "~") {
					// The object is this chain, map, set or table: no second title.
					for _, c := range sec.lines {
						fmt.Fprintf(&b, "    %s %s\n", c.Op, c.Text)
					}
					continue
				}
				fmt.Fprintf(&b, "    %s %s\n", sec.symbol, sec.title)
				for _, c := range sec.lines {
					fmt.Fprintf(&b, "        %s %s\n", c.Op, c.Text)
				}
			}
		}
		if len(p.Objects) > 0 {
			b.WriteString("\n")
		}
	}
	b.WriteString(p.Summary())
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

type section struct {
	symbol, title string
	lines         []Line
}

// sections groups changes by where they live, in first-appearance order. A declaration that
// is only added or only removed becomes the section title; a changed declaration shows both.
func sections(changes []Line) []*section {
	var out []*section
	byIn := map[string]*section{}
	headers := map[string][]Line{}
	for _, c := range changes {
		s := byIn[c.In]
		if s == nil {
			s = &section{symbol: "~", title: c.In}
			byIn[c.In] = s
			out = append(out, s)
		}
		if c.Header {
			headers[c.In] = append(headers[c.In], c)
			continue
		}
		s.lines = append(s.lines, c)
	}
	for in, hs := range headers {
		s := byIn[in]
		if len(hs) == 1 {
			s.symbol, s.title = hs[0].Op, hs[0].Text
			continue
		}
		s.lines = append(append([]Line(nil), hs...), s.lines...)
	}
	return out
}

// jsonPlan is the JSON form of a plan.
type jsonPlan struct {
	FormatVersion string    `json:"format_version"`
	Kind          string    `json:"kind"`
	Table         string    `json:"table"`
	Changes       Counts    `json:"changes"`
	Objects       []*Object `json:"objects"`
}

// MarshalJSON writes the plan with its format version and counts:
//
//	{"format_version": "1", "kind": "plan"|"drift", "table": "reconcile",
//	 "changes": {"add": 1, "change": 0, "destroy": 0},
//	 "objects": [{"action": "add"|"change"|"destroy",
//	              "kind": "endpoint"|"profile"|"tag"|"chain"|"map"|"set"|"object"|"table",
//	              "id": "web-1", "interface": "caliweb1", "direction": "inbound", "family": "v4",
//	              "changes": [{"op": "+"|"-", "in": "chain from-web-1", "position": 1,
//	                           "text": "...", "header": true}]}]}
func (p *Plan) MarshalJSON() ([]byte, error) {
	objs := p.Objects
	if objs == nil {
		objs = []*Object{}
	}
	return json.Marshal(jsonPlan{FormatVersion: FormatVersion, Kind: p.Kind, Table: p.Table, Changes: p.Changes(), Objects: objs})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Plan) UnmarshalJSON(b []byte) error {
	var j jsonPlan
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*p = Plan{Kind: j.Kind, Table: j.Table, Objects: j.Objects}
	return nil
}

// WriteJSON writes the plan as indented JSON (see MarshalJSON).
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}
