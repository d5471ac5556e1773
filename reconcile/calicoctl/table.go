package calicoctl

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// table is a PrettyTable (0.7) as calicoctl printed it: every cell centred, one space of
// padding, `+---+` borders, cells with several lines top-aligned.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// centre justifies s in width w like PrettyTable's _justify(align="c"), which follows
// str.center: the odd space goes right when the text's length is odd, left when it is even.
func centre(s string, w int) string {
	excess := w - len(s)
	if excess <= 0 {
		return s
	}
	l, r := excess/2, excess/2
	if excess%2 == 1 {
		if len(s)%2 == 1 {
			r++
		} else {
			l++
		}
	}
	return strings.Repeat(" ", l) + s + strings.Repeat(" ", r)
}

// String renders the table with its rows sorted by column sortBy (then by the whole row, as
// PrettyTable's sortby did); sortBy < 0 keeps the order. There is no trailing newline.
func (t *table) String(sortBy int) string {
	rows := slices.Clone(t.rows)
	if sortBy >= 0 {
		slices.SortStableFunc(rows, func(a, b []string) int {
			if c := strings.Compare(a[sortBy], b[sortBy]); c != 0 {
				return c
			}
			return slices.Compare(a, b)
		})
	}
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, cell := range r {
			for _, l := range strings.Split(cell, "\n") {
				widths[i] = max(widths[i], len(l))
			}
		}
	}
	var b strings.Builder
	hline := func() {
		b.WriteString("+")
		for _, w := range widths {
			b.WriteString(strings.Repeat("-", w+2) + "+")
		}
		b.WriteString("\n")
	}
	line := func(cells []string) {
		b.WriteString("|")
		for i, cell := range cells {
			b.WriteString(" " + centre(cell, widths[i]) + " |")
		}
		b.WriteString("\n")
	}
	hline()
	line(t.header)
	hline()
	for _, r := range rows {
		split := make([][]string, len(r))
		height := 1
		for i, cell := range r {
			split[i] = strings.Split(cell, "\n")
			height = max(height, len(split[i]))
		}
		for k := range height {
			cells := make([]string, len(r))
			for i := range r {
				if k < len(split[i]) {
					cells[i] = split[i][k]
				}
			}
			line(cells)
		}
	}
	hline()
	return strings.TrimSuffix(b.String(), "\n")
}

// pyJSON writes a YAML node tree as Python 2's json.dumps(obj, indent=2) did: ", " between
// items (so a line that ends an item ends with a space), ": " after keys, empty lists as [].
func pyJSON(b *bytes.Buffer, n *yaml.Node, depth int) error {
	ind := strings.Repeat("  ", depth+1)
	end := strings.Repeat("  ", depth)
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{\n")
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteString(", \n")
			}
			b.WriteString(ind + pyString(n.Content[i].Value) + ": ")
			if err := pyJSON(b, n.Content[i+1], depth+1); err != nil {
				return err
			}
		}
		b.WriteString("\n" + end + "}")
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteString("[\n")
		for i, c := range n.Content {
			if i > 0 {
				b.WriteString(", \n")
			}
			b.WriteString(ind)
			if err := pyJSON(b, c, depth+1); err != nil {
				return err
			}
		}
		b.WriteString("\n" + end + "]")
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int":
			b.WriteString(n.Value)
		case "!!null":
			b.WriteString("null")
		case "!!bool":
			b.WriteString(strings.ToLower(n.Value))
		default:
			b.WriteString(pyString(n.Value))
		}
	default:
		return fmt.Errorf("cannot write a YAML node of kind %d as JSON", n.Kind)
	}
	return nil
}

// pyString quotes s as Python's json module did (ensure_ascii: non-ASCII as \uXXXX).
func pyString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r >= 0x7f && r <= 0xffff):
			if r < 0x7f {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else if r == 0x7f {
				b.WriteRune(r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
