package repogen

import (
	"strconv"
	"strings"

	"github.com/reconcile-dev/reconcile/schema"
)

// obj is a mapping with its keys in writing order.
type obj []kv

type kv struct {
	k string
	v any
}

// num is an integer; str a string; portRange a range written "a:b" (quoted or not in YAML);
// proto a numeric protocol that may be written as an integer or a decimal string.
type (
	num       int
	portRange string
	proto     string
)

func profileValue(p *schema.Profile) obj {
	o := obj{{"id", p.ID}}
	if p.Tags != nil {
		tags := make([]any, len(p.Tags))
		for i, t := range p.Tags {
			tags[i] = t
		}
		o = append(o, kv{"tags", tags})
	}
	for _, d := range []struct {
		k     string
		rules []schema.Rule
	}{{"inbound_rules", p.Inbound}, {"outbound_rules", p.Outbound}} {
		if d.rules == nil {
			continue
		}
		rs := make([]any, len(d.rules))
		for i, r := range d.rules {
			rs[i] = ruleValue(r)
		}
		o = append(o, kv{d.k, rs})
	}
	return o
}

func ruleValue(r schema.Rule) obj {
	o := obj{{"action", r.Action}}
	add := func(k string, v any) { o = append(o, kv{k, v}) }
	protoV := func(p schema.Protocol) any {
		if _, err := strconv.Atoi(string(p)); err == nil {
			return proto(p)
		}
		return string(p)
	}
	portsV := func(ps []schema.PortRange) []any {
		out := make([]any, len(ps))
		for i, p := range ps {
			if p.First == p.Last {
				out[i] = num(p.First)
			} else {
				out[i] = portRange(p.String())
			}
		}
		return out
	}
	if r.Protocol != "" {
		add("protocol", protoV(r.Protocol))
	}
	if r.NotProtocol != "" {
		add("!protocol", protoV(r.NotProtocol))
	}
	for _, f := range []struct{ k, v string }{
		{"src_tag", r.SrcTag}, {"!src_tag", r.NotSrcTag}, {"src_net", r.SrcNet}, {"!src_net", r.NotSrcNet},
		{"dst_tag", r.DstTag}, {"!dst_tag", r.NotDstTag}, {"dst_net", r.DstNet}, {"!dst_net", r.NotDstNet},
	} {
		if f.v != "" {
			add(f.k, f.v)
		}
	}
	for _, f := range []struct {
		k  string
		ps []schema.PortRange
	}{{"src_ports", r.SrcPorts}, {"!src_ports", r.NotSrcPorts}, {"dst_ports", r.DstPorts}, {"!dst_ports", r.NotDstPorts}} {
		if f.ps != nil {
			add(f.k, portsV(f.ps))
		}
	}
	for _, f := range []struct {
		k string
		v *int
	}{{"icmp_type", r.ICMPType}, {"icmp_code", r.ICMPCode}, {"!icmp_type", r.NotICMPType}, {"!icmp_code", r.NotICMPCode}} {
		if f.v != nil {
			add(f.k, num(*f.v))
		}
	}
	if r.IPVersion != 0 {
		add("ip_version", num(r.IPVersion))
	}
	if r.LogPrefix != "" {
		add("log_prefix", r.LogPrefix)
	}
	return o
}

func endpointValue(e *schema.Endpoint) obj {
	strs := func(ss []string) []any {
		out := make([]any, len(ss))
		for i, s := range ss {
			out[i] = s
		}
		return out
	}
	o := obj{{"id", e.ID}, {"host", e.Host}, {"interface", e.Interface}}
	if e.MAC != "" {
		o = append(o, kv{"mac", e.MAC})
	}
	o = append(o, kv{"ipv4_nets", strs(e.IPv4Nets)}, kv{"ipv6_nets", strs(e.IPv6Nets)}, kv{"profile_ids", strs(e.ProfileIDs)})
	if e.State != "" {
		o = append(o, kv{"state", e.State})
	}
	return o
}

// write renders v as YAML or JSON (by ext), with the occasional CRLF line endings or UTF-8
// byte-order mark (both accepted everywhere, SPEC decisions of issue 7).
func (g *g) write(ext string, v obj) []byte {
	var b strings.Builder
	if ext == ".json" {
		g.json(&b, v, 0)
		b.WriteString("\n")
	} else {
		if g.chance(8) {
			b.WriteString("# generated\n")
		}
		g.yamlMap(&b, v, 0)
	}
	s := b.String()
	if g.chance(16) {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	if g.chance(16) {
		s = "\ufeff" + s
	}
	return []byte(s)
}

func (g *g) json(b *strings.Builder, v any, depth int) {
	ind := strings.Repeat("  ", depth+1)
	switch v := v.(type) {
	case obj:
		if len(v) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, e := range v {
			b.WriteString(ind + strconv.Quote(e.k) + ": ")
			g.json(b, e.v, depth+1)
			if i < len(v)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString(strings.Repeat("  ", depth) + "}")
	case []any:
		b.WriteString("[")
		for i, x := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			g.json(b, x, depth+1)
		}
		b.WriteString("]")
	case string:
		b.WriteString(strconv.Quote(v))
	case portRange:
		b.WriteString(strconv.Quote(string(v)))
	case proto:
		if g.chance(3) {
			b.WriteString(strconv.Quote(string(v)))
		} else {
			b.WriteString(string(v))
		}
	case num:
		b.WriteString(strconv.Itoa(int(v)))
	}
}

// yamlScalar writes a scalar: strings plain or quoted (single or double), numbers plain.
func (g *g) yamlScalar(b *strings.Builder, v any) {
	switch v := v.(type) {
	case string:
		plain := g.chance(3)
		if v == "" || strings.Contains(v, ":") || v[0] < 'A' || v[0] > 'z' || v[0] > 'Z' && v[0] < 'a' {
			plain = g.chance(24) // YAML may read it as a number; schema then refuses it
		}
		switch {
		case plain:
			b.WriteString(v)
		case g.chance(3):
			b.WriteString("'" + v + "'")
		default:
			b.WriteString(strconv.Quote(v))
		}
	case portRange:
		if g.chance(3) {
			b.WriteString(string(v)) // unquoted a:b, a string to YAML 1.2
		} else {
			b.WriteString(strconv.Quote(string(v)))
		}
	case proto:
		if g.chance(3) {
			b.WriteString(strconv.Quote(string(v)))
		} else {
			b.WriteString(string(v))
		}
	case num:
		b.WriteString(strconv.Itoa(int(v)))
	}
}

func (g *g) yamlFlow(b *strings.Builder, v any) {
	switch v := v.(type) {
	case []any:
		b.WriteString("[")
		for i, x := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			g.yamlFlow(b, x)
		}
		b.WriteString("]")
	case obj:
		b.WriteString("{")
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(yamlKey(e.k) + ": ")
			g.yamlFlow(b, e.v)
		}
		b.WriteString("}")
	default:
		g.yamlScalar(b, v)
	}
}

// yamlMap writes a block mapping at the indentation; the first key is written at the
// current column (the caller wrote the indentation or "- ").
func (g *g) yamlMap(b *strings.Builder, v obj, indent int) {
	ind := strings.Repeat(" ", indent)
	for i, e := range v {
		if i > 0 {
			b.WriteString(ind)
		}
		b.WriteString(yamlKey(e.k) + ":")
		switch x := e.v.(type) {
		case obj:
			b.WriteString("\n" + ind + "  ")
			g.yamlMap(b, x, indent+2)
		case []any:
			if len(x) == 0 || g.chance(2) || !isObjList(x) && g.n(3) > 0 {
				b.WriteString(" ")
				g.yamlFlow(b, x)
				b.WriteString("\n")
				continue
			}
			b.WriteString("\n")
			for _, item := range x {
				b.WriteString(ind + "  - ")
				if o, ok := item.(obj); ok {
					g.yamlMap(b, o, indent+4)
				} else {
					g.yamlScalar(b, item)
					b.WriteString("\n")
				}
			}
		default:
			b.WriteString(" ")
			g.yamlScalar(b, x)
			b.WriteString("\n")
		}
	}
	if len(v) == 0 {
		b.WriteString("{}\n")
	}
}

func isObjList(l []any) bool {
	for _, x := range l {
		if _, ok := x.(obj); !ok {
			return false
		}
	}
	return true
}

// yamlKey quotes a key that starts with "!" (plain, it would be a YAML tag).
func yamlKey(k string) string {
	if strings.HasPrefix(k, "!") {
		return `"` + k + `"`
	}
	return k
}
