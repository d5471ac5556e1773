package nft

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

// String renders the canonical nft text of the table, laid out like `nft list table` (tab
// indentation, a blank line between blocks, counters without values). The text is
// deterministic: it depends only on the model, in the model's order. `nft -f` accepts it, with
// the model's meaning, when CheckText accepts the model (String does not check). Foreign
// objects (only in an observed model) render as comment lines, `# counter c1: not
// reconcile's`, after the chains: the model knows their kind and name only.
func (rs *Ruleset) String() string {
	var b strings.Builder
	rs.write(&b)
	return b.String()
}

// Script returns an nft script that replaces the table atomically: it creates the table if
// missing, deletes it, and declares it again, all in the one transaction that `nft -f` makes
// of a file. Applying the script is itself an atomic apply.
func (rs *Ruleset) Script() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {}\n", rs.Table)
	fmt.Fprintf(&b, "delete table inet %s\n", rs.Table)
	rs.write(&b)
	return b.String()
}

// CheckText reports the first name or string of rs that nft text cannot carry with the same
// meaning or that the kernel refuses, by the checks of package limits: table, chain, set and
// map names (and the names jumps, gotos, set lookups and verdict maps refer to) are unquoted
// nft identifiers of at most limits.MaxName bytes and no nft keyword; comments are at most
// limits.MaxComment bytes; interface names (map keys, iifname, oifname) at most
// limits.MaxIfname bytes of [A-Za-z0-9_.-]; log prefixes at most limits.MaxKernelLogPrefix
// bytes; no string holds a character nft text would read differently ('"', '\', '$',
// control characters). The encoder of the kernel Dataplane and the fake apply the same checks,
// so a model either renders, applies and restores from `nft list ruleset` alike, or is refused
// by all three. The error names the object ("chain \"from-web\" rule 3: comment ...").
func (rs *Ruleset) CheckText() error {
	if err := limits.CheckName("table", rs.Table); err != nil {
		return err
	}
	for _, s := range rs.Sets {
		if s == nil {
			continue
		}
		if err := limits.CheckName("set", s.Name); err != nil {
			return err
		}
		if err := limits.CheckComment(s.Comment); err != nil {
			return fmt.Errorf("set %q: %w", s.Name, err)
		}
	}
	for _, m := range rs.Maps {
		if m == nil {
			continue
		}
		if err := limits.CheckName("map", m.Name); err != nil {
			return err
		}
		if err := limits.CheckComment(m.Comment); err != nil {
			return fmt.Errorf("map %q: %w", m.Name, err)
		}
		for _, e := range m.Elements {
			if err := limits.CheckIfname(e.Key); err != nil {
				return fmt.Errorf("map %q: %w", m.Name, err)
			}
			if err := checkVerdictName(e.Verdict); err != nil {
				return fmt.Errorf("map %q element %q: %w", m.Name, e.Key, err)
			}
		}
	}
	for _, c := range rs.Chains {
		if c == nil {
			continue
		}
		if err := limits.CheckName("chain", c.Name); err != nil {
			return err
		}
		for i, r := range c.Rules {
			if r == nil {
				continue
			}
			if err := r.checkText(); err != nil {
				return fmt.Errorf("chain %q rule %d: %w", c.Name, i+1, err)
			}
		}
	}
	return nil
}

func (r *Rule) checkText() error {
	if err := limits.CheckComment(r.Comment); err != nil {
		return err
	}
	if r.Log != nil {
		if err := limits.CheckLogPrefix(r.Log.Prefix); err != nil {
			return err
		}
	}
	if r.VMap != nil {
		if err := limits.CheckName("map", r.VMap.Map); err != nil {
			return err
		}
	}
	if err := checkVerdictName(r.Verdict); err != nil {
		return err
	}
	for i := range r.Matches {
		m := &r.Matches[i]
		switch m.Kind {
		case MatchIIFName, MatchOIFName:
			if err := limits.CheckIfname(m.Str); err != nil {
				return fmt.Errorf("match %d: %w", i+1, err)
			}
		case MatchSAddrSet, MatchDAddrSet, MatchSPortSet, MatchDPortSet, MatchICMPTypeSet:
			if err := limits.CheckName("set", m.Str); err != nil {
				return fmt.Errorf("match %d: %w", i+1, err)
			}
		}
	}
	return nil
}

func checkVerdictName(v Verdict) error {
	if v.Kind == Jump || v.Kind == Goto {
		return limits.CheckName("chain", v.Chain)
	}
	return nil
}

// Digest is the sha256 (hex) of String(): two rulesets with the same digest render the same.
func (rs *Ruleset) Digest() string {
	sum := sha256.Sum256([]byte(rs.String()))
	return hex.EncodeToString(sum[:])
}

func (rs *Ruleset) write(b *strings.Builder) {
	fmt.Fprintf(b, "table inet %s {\n", rs.Table)
	first := true
	sep := func() {
		if !first {
			b.WriteString("\n")
		}
		first = false
	}
	for _, s := range rs.Sets {
		sep()
		s.write(b)
	}
	for _, m := range rs.Maps {
		sep()
		m.write(b)
	}
	for _, c := range rs.Chains {
		sep()
		c.write(b)
	}
	if len(rs.Foreign) > 0 {
		sep()
		for _, o := range rs.Foreign {
			fmt.Fprintf(b, "\t# %s: not reconcile's\n", o)
		}
	}
	b.WriteString("}\n")
}

func (s *Set) write(b *strings.Builder) {
	fmt.Fprintf(b, "\tset %s {\n", s.Name)
	typ, interval := s.TypeFlags()
	fmt.Fprintf(b, "\t\ttype %s\n", typ)
	if interval {
		b.WriteString("\t\tflags interval\n")
	}
	if s.Comment != "" {
		fmt.Fprintf(b, "\t\tcomment %s\n", quote(s.Comment))
	}
	if es := s.Elements(); len(es) > 0 {
		b.WriteString("\t\telements = { ")
		for i, e := range es {
			if i > 0 {
				b.WriteString(elementSep)
			}
			b.WriteString(e)
		}
		b.WriteString(" }\n")
	}
	b.WriteString("\t}\n")
}

// elementSep separates the elements of a set or map: one element per line, aligned like
// `nft list` aligns its wrapped element lists, so that diffs of large sets stay readable.
const elementSep = ",\n\t\t\t     "

func (m *Map) write(b *strings.Builder) {
	fmt.Fprintf(b, "\tmap %s {\n", m.Name)
	b.WriteString("\t\ttype ifname : verdict\n")
	if m.Comment != "" {
		fmt.Fprintf(b, "\t\tcomment %s\n", quote(m.Comment))
	}
	if len(m.Elements) > 0 {
		b.WriteString("\t\telements = { ")
		for i, e := range m.Elements {
			if i > 0 {
				b.WriteString(elementSep)
			}
			b.WriteString(quote(e.Key))
			b.WriteString(" : ")
			b.WriteString(e.Verdict.String())
		}
		b.WriteString(" }\n")
	}
	b.WriteString("\t}\n")
}

func (c *Chain) write(b *strings.Builder) {
	fmt.Fprintf(b, "\tchain %s {\n", c.Name)
	if c.Base != nil {
		policy := c.Base.Policy
		if policy == None {
			policy = Accept
		}
		fmt.Fprintf(b, "\t\ttype filter hook %s priority %d; policy %s;\n", c.Base.Hook, c.Base.Priority, policy)
	}
	for _, r := range c.Rules {
		b.WriteString("\t\t")
		b.WriteString(r.String())
		b.WriteString("\n")
	}
	b.WriteString("\t}\n")
}

// String renders a verdict statement: accept, drop, return, jump <chain>, goto <chain>; the
// empty string for None.
func (v Verdict) String() string {
	switch v.Kind {
	case Jump, Goto:
		return string(v.Kind) + " " + v.Chain
	default:
		return string(v.Kind)
	}
}

// String renders one rule as nft text, without indentation or newline:
// matches, then counter, log, vmap dispatch or verdict, then the comment.
func (r *Rule) String() string { return r.text(nil) }

// Explain renders the rule like String, for people: a lookup in a port or ICMP type set that
// sets holds is followed by the set's elements (`th dport @ports-1a2b3c4d5e6f7a8b { 80, 443 }`),
// so that a trace names the ports without a second look-up. The text is not nft syntax.
func (r *Rule) Explain(sets map[string]*Set) string { return r.text(sets) }

func (r *Rule) text(sets map[string]*Set) string {
	var parts []string
	for i := range r.Matches {
		m := &r.Matches[i]
		t := m.String()
		switch m.Kind {
		case MatchSPortSet, MatchDPortSet, MatchICMPTypeSet:
			if s := sets[m.Str]; s != nil {
				t += " { " + strings.Join(s.Elements(), ", ") + " }"
			}
		}
		parts = append(parts, t)
	}
	if r.Counter {
		parts = append(parts, "counter")
	}
	if r.Log != nil {
		if r.Log.Prefix != "" {
			parts = append(parts, "log prefix "+quote(r.Log.Prefix))
		} else {
			parts = append(parts, "log")
		}
	}
	if r.VMap != nil {
		parts = append(parts, fmt.Sprintf("%s vmap @%s", vmapKeyString(r.VMap.Key), r.VMap.Map))
	} else if r.Verdict.Kind != None {
		parts = append(parts, r.Verdict.String())
	}
	if r.Comment != "" {
		parts = append(parts, "comment "+quote(r.Comment))
	}
	return strings.Join(parts, " ")
}

func vmapKeyString(k MatchKind) string {
	if k == MatchOIFName {
		return "oifname"
	}
	return "iifname"
}

// String renders one match as nft text (`ip saddr != @tag-v4-WEB`, `th dport { 80, 443 }`).
func (m *Match) String() string {
	op := ""
	if m.Not {
		op = "!= "
	}
	switch m.Kind {
	case MatchNFProto:
		return "meta nfproto " + op + familyName(m.Family)
	case MatchIIFName:
		return "iifname " + op + quote(m.Str)
	case MatchOIFName:
		return "oifname " + op + quote(m.Str)
	case MatchCtState:
		return "ct state " + op + m.CtState.String()
	case MatchL4Proto:
		return "meta l4proto " + op + list(len(m.Protos), func(i int) string { return strconv.Itoa(int(m.Protos[i])) })
	case MatchSAddr, MatchDAddr:
		return addrKeyword(m.Family) + " " + dir(m.Kind) + " " + op +
			list(len(m.Prefixes), func(i int) string { return prefixString(m.Prefixes[i]) })
	case MatchSAddrSet, MatchDAddrSet:
		return addrKeyword(m.Family) + " " + dir(m.Kind) + " " + op + "@" + m.Str
	case MatchSPort, MatchDPort:
		ports := list(len(m.Ports), func(i int) string { return m.Ports[i].String() })
		if m.Not && len(m.Ports) == 1 && m.Ports[0].First == m.Ports[0].Last {
			// `!= 80-80`, not `!= 80`: nft -f merges two adjacent negated single ports into
			// one 4-byte compare that means "sport != 1 OR dport != 2" (see the encoder).
			ports = fmt.Sprintf("%d-%d", m.Ports[0].First, m.Ports[0].Last)
		}
		return "th " + map[MatchKind]string{MatchSPort: "sport", MatchDPort: "dport"}[m.Kind] + " " + op + ports
	case MatchSPortSet:
		return "th sport " + op + "@" + m.Str
	case MatchDPortSet:
		return "th dport " + op + "@" + m.Str
	case MatchICMPTypeSet:
		return icmpKeyword(m.Family) + " type " + op + "@" + m.Str
	case MatchICMPType:
		return icmpKeyword(m.Family) + " type " + op + list(len(m.Nums), func(i int) string { return strconv.Itoa(int(m.Nums[i])) })
	case MatchICMPCode:
		return icmpKeyword(m.Family) + " code " + op + list(len(m.Nums), func(i int) string { return strconv.Itoa(int(m.Nums[i])) })
	case MatchICMPTypeCode:
		return "@th,0,16 " + op + strconv.Itoa(int(m.Type)<<8|int(m.Code))
	case MatchEtherSAddr:
		return "ether saddr " + op + m.Str
	case MatchUnknown:
		return "<unknown: " + m.Str + ">"
	default:
		return fmt.Sprintf("<invalid match kind %q>", m.Kind)
	}
}

// String renders a port range as `80` or `8000-8080`.
func (p PortRange) String() string {
	if p.First == p.Last {
		return strconv.Itoa(int(p.First))
	}
	return strconv.Itoa(int(p.First)) + "-" + strconv.Itoa(int(p.Last))
}

// numRuns returns sorted one-byte values (each once) as runs of consecutive values.
func numRuns(vs []uint8) []PortRange {
	var out []PortRange
	for _, v := range vs {
		if n := len(out); n > 0 && out[n-1].Last+1 == uint16(v) {
			out[n-1].Last = uint16(v)
			continue
		}
		out = append(out, PortRange{First: uint16(v), Last: uint16(v)})
	}
	return out
}

// ctStateNames in the order nft lists them.
var ctStateNames = []struct {
	bit  CtState
	name string
}{
	{CtInvalid, "invalid"},
	{CtEstablished, "established"},
	{CtRelated, "related"},
	{CtNew, "new"},
}

// String renders conntrack states as nft does: `established,related`.
func (s CtState) String() string {
	var names []string
	rest := s
	for _, n := range ctStateNames {
		if s&n.bit != 0 {
			names = append(names, n.name)
			rest &^= n.bit
		}
	}
	if rest != 0 {
		names = append(names, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	if len(names) == 0 {
		return "0x0"
	}
	return strings.Join(names, ",")
}

func familyName(f Family) string {
	if f == IPv6 {
		return "ipv6"
	}
	return "ipv4"
}

func addrKeyword(f Family) string {
	if f == IPv6 {
		return "ip6"
	}
	return "ip"
}

func icmpKeyword(f Family) string {
	if f == IPv6 {
		return "icmpv6"
	}
	return "icmp"
}

func dir(k MatchKind) string {
	if k == MatchSAddr || k == MatchSAddrSet {
		return "saddr"
	}
	return "daddr"
}

// list renders one value bare and several as an anonymous set `{ a, b }`.
func list(n int, item func(int) string) string {
	if n == 1 {
		return item(0)
	}
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item(i)
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// prefixString renders a full-length prefix as a bare address, as nft lists it.
func prefixString(p netip.Prefix) string {
	if p.Bits() == p.Addr().BitLen() {
		return p.Addr().String()
	}
	return p.String()
}

// quote renders an nft string. nft strings have no escapes, so a double quote (refused by
// CheckText, never produced by compile) is replaced by a single quote to keep the text
// parseable.
func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `'`) + `"`
}
