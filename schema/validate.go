package schema

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

var (
	idRE        = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	logPrefixRE = regexp.MustCompile(`^[A-Za-z0-9_:-]*$`)
)

const idChars = "use letters, digits, '.', '_' and '-'"

// ValidID reports whether s is a valid profile id, tag or endpoint id: 1 to limits.MaxIDLen
// bytes of letters, digits, '.', '_' and '-'.
func ValidID(s string) bool { return len(s) <= limits.MaxIDLen && idRE.MatchString(s) }

// idTooLong is the message for an id or tag of more than limits.MaxIDLen bytes (of valid
// characters); field is the key ("id", "tags", "src_tag"), what "ids" or "tags", and uses what
// nft objects it names. The value is quoted up to limits.MaxIDLen bytes, then "…".
func idTooLong(field, v, what, uses string) string {
	return fmt.Sprintf("%s: \"%s…\" is %d bytes; %s are at most %d (they name %s)", field, v[:limits.MaxIDLen], len(v), what, limits.MaxIDLen, uses)
}

// ifnameRE is what an interface name may hold: characters that nft text writes literally in a
// quoted interface name ('*' would be a wildcard, '"' and '\' cannot be written) and that
// Linux accepts.
var ifnameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// MappedAddrMessage is the message for an IPv4-mapped IPv6 address (::ffff:a.b.c.d) where an
// address is expected (tests' from and to, `explain --from/--to`): field names the field, s is
// the address as written and a is it parsed. Such an address is refused as the repository's
// nets refuse it: an IPv6 packet from it is no IPv4 packet, and anti-spoofing drops it.
func MappedAddrMessage(field, s string, a netip.Addr) string {
	return fmt.Sprintf("%s: %q is an IPv4-mapped IPv6 address: write it as IPv4 (%s)", field, s, a.Unmap())
}

// specialRanges are the ranges no endpoint owns an address of: an endpoint net that overlaps
// one (inside it, or containing it, such as 0.0.0.0/0 or 224.0.0.0/3) is refused, since an
// endpoint net is the set of source addresses anti-spoofing lets the workload send from. IANA
// special-purpose registries (RFC 6890, RFC 4291 §2.4); link-local because every endpoint may
// already send DHCP and neighbour discovery from a link-local address (SPEC §3), which
// anti-spoofing lets through.
var specialRanges = []struct {
	p    netip.Prefix
	what string
}{
	{netip.MustParsePrefix("0.0.0.0/32"), "the unspecified address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "the limited broadcast address"},
	{netip.MustParsePrefix("::/128"), "the unspecified address"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// specialNet says how the endpoint net p, after masking, overlaps the first special range
// (specialRanges) it overlaps: "is in 127.0.0.0/8 (loopback)" when p lies inside it,
// "contains 224.0.0.0/4 (multicast)" when p is wider; "" when it overlaps none.
func specialNet(p netip.Prefix) string {
	m := p.Masked()
	for _, r := range specialRanges {
		if r.p.Addr().Is4() != m.Addr().Is4() || !r.p.Overlaps(m) {
			continue
		}
		if r.p.Bits() <= m.Bits() {
			return fmt.Sprintf("is in %s (%s)", r.p, r.what)
		}
		return fmt.Sprintf("contains %s (%s)", r.p, r.what)
	}
	return ""
}

// specialNetMessage is the error for an endpoint net that overlaps a special range: field is
// the key, s the net as written, how what specialNet says.
func specialNetMessage(field, s, how string) string {
	msg := fmt.Sprintf("%s: %s %s, which no endpoint owns: write the endpoint's own addresses", field, s, how)
	if strings.HasPrefix(how, "contains ") {
		msg += " (an endpoint net is the addresses the workload may send from)"
	} else if strings.Contains(how, "link-local") {
		msg += " (every endpoint may already send DHCP and neighbour discovery from link-local ones, SPEC §3)"
	}
	return msg
}

// checker reports semantic problems of one object, at the positions recorded while decoding.
type checker struct {
	path string
	errs *Errors
	// fp holds the positions of the current object's fields; base is the object's position,
	// used when a field has none (missing fields, rules built in memory).
	fp   fieldPos
	base Pos
	// prefix starts every message (e.g. "inbound_rules[2]: " for a rule without positions).
	prefix string
}

// at returns the position of a field (or of a list item, or of its list), or the object's.
func (c *checker) at(key string) Pos {
	if p, ok := c.fp[key]; ok {
		return p
	}
	if i := strings.IndexByte(key, '['); i > 0 {
		if p, ok := c.fp[key[:i]]; ok {
			return p
		}
	}
	return c.base
}

// bad reports whether decoding already reported the field (so checks of it are skipped).
func (c *checker) bad(key string) bool {
	if i := strings.IndexByte(key, '['); i > 0 {
		key = key[:i]
	}
	_, ok := c.fp[badKey(key)]
	return ok
}

// missing reports whether a field is absent from the file (always true without positions).
func (c *checker) missing(key string) bool {
	_, ok := c.fp[key]
	return !ok
}

func (c *checker) errf(key, format string, args ...any) {
	if c.bad(key) {
		return
	}
	p := c.at(key)
	if c.fp == nil && c.base.Line == 0 {
		p = Pos{}
	} else if p.Line < 1 {
		p = Pos{Line: 1, Col: 1}
	} else if p.Col < 1 {
		p.Col = 1
	}
	*c.errs = append(*c.errs, &Error{Path: c.path, Pos: p, Msg: clip(c.prefix + fmt.Sprintf(format, args...))})
}

// ValidateRule checks one rule in memory (for the CLI, before it writes the rule). where names
// the rule in messages, e.g. "inbound_rules[2]"; positions are r.Pos when set.
func ValidateRule(path string, r Rule, where string) Errors {
	var errs Errors
	c := &checker{path: path, errs: &errs, base: r.Pos}
	if where != "" {
		c.prefix = where + ": "
	}
	c.rule(&r, nil)
	if len(errs) == 0 {
		return nil
	}
	errs.Sort()
	return errs
}

// rule checks a rule; fp are its field positions (nil when unknown).
func (c *checker) rule(r *Rule, fp fieldPos) {
	saved, savedBase := c.fp, c.base
	defer func() { c.fp, c.base = saved, savedBase }()
	c.fp = fp
	if r.Pos.Line > 0 {
		c.base = r.Pos
	}

	c.ruleAction(r)
	c.ruleNotEmpty(r)
	// A protocol reported as unknown is the root cause; the matches that need it say nothing.
	_, protoOK := r.Protocol.Number()
	badProto := r.Protocol != "" && !protoOK
	c.ruleProtocols(r)
	c.ruleTags(r)
	nets := c.ruleNets(r)
	c.ruleNeverMatches(r)
	c.rulePorts(r, badProto)
	icmpFam := r.Protocol.ICMPFamily()
	c.ruleICMP(r, icmpFam, badProto)
	c.ruleIPVersion(r, nets, icmpFam)
}

// ruleAction checks action and log_prefix.
func (c *checker) ruleAction(r *Rule) {
	switch r.Action {
	case ActionAllow, ActionDeny, ActionLog:
	case "":
		if c.missing("action") {
			c.errf("action", "action is required: allow, deny or log")
		} else {
			c.errf("action", "action: \"\" is not an action (allow, deny or log)")
		}
	default:
		c.errf("action", "action: %q is not an action (allow, deny or log)", r.Action)
	}
	if r.LogPrefix != "" {
		if r.Action != ActionLog {
			c.errf("log_prefix", "log_prefix: only allowed with action log")
		}
		if len(r.LogPrefix) > limits.MaxLogPrefix {
			c.errf("log_prefix", "log_prefix: %q is longer than %d characters", r.LogPrefix, limits.MaxLogPrefix)
		}
		if !logPrefixRE.MatchString(r.LogPrefix) {
			c.errf("log_prefix", "log_prefix: %q may only contain letters, digits, '_', ':' and '-'", r.LogPrefix)
		}
	}
}

// ruleNotEmpty refuses match keys written with an empty value and empty port lists.
func (c *checker) ruleNotEmpty(r *Rule) {
	// A match key written with an empty value would match anything: the rule would be wider
	// than it reads (a template's unset variable turning "allow from tag X" into "allow").
	for _, f := range []struct{ key, v string }{
		{"protocol", string(r.Protocol)}, {"!protocol", string(r.NotProtocol)},
		{"src_tag", r.SrcTag}, {"dst_tag", r.DstTag}, {"!src_tag", r.NotSrcTag}, {"!dst_tag", r.NotDstTag},
		{"src_net", r.SrcNet}, {"dst_net", r.DstNet}, {"!src_net", r.NotSrcNet}, {"!dst_net", r.NotDstNet},
	} {
		if f.v == "" && !c.missing(f.key) {
			c.errf(f.key, "%s: must not be empty (leave the key out to match anything)", f.key)
		}
	}
	// An empty port list would match every port: the same widening.
	for _, f := range []struct {
		key   string
		ports []PortRange
	}{{"src_ports", r.SrcPorts}, {"dst_ports", r.DstPorts}, {"!src_ports", r.NotSrcPorts}, {"!dst_ports", r.NotDstPorts}} {
		if len(f.ports) == 0 && !c.missing(f.key) {
			c.errf(f.key, "%s: must not be empty (leave the key out to match any port)", f.key)
		}
	}
}

// ruleProtocols checks protocol and !protocol: each a protocol, and not excluding each other.
func (c *checker) ruleProtocols(r *Rule) {
	if pn, ok := r.Protocol.Number(); ok {
		if nn, ok := r.NotProtocol.Number(); ok && nn == pn {
			c.errf("!protocol", "!protocol: %s excludes protocol %s: the rule could never match", showProto(r.NotProtocol), showProto(r.Protocol))
		}
	}
	for _, f := range []struct {
		key string
		p   Protocol
	}{{"protocol", r.Protocol}, {"!protocol", r.NotProtocol}} {
		if f.p != "" {
			if _, ok := f.p.Number(); !ok {
				hint := ""
				if lower := Protocol(strings.ToLower(string(f.p))); lower != f.p {
					if _, ok := lower.Number(); ok {
						hint = fmt.Sprintf(": write %q (protocol names are lower case)", string(lower))
					}
				}
				c.errf(f.key, "%s: %s is not a protocol (%s or 1-255)%s", f.key, showProto(f.p), strings.Join(ProtocolNames, ", "), hint)
			}
		}
	}
}

// ruleTags checks the spelling and length of the tags.
func (c *checker) ruleTags(r *Rule) {
	for _, f := range []struct{ key, v string }{
		{"src_tag", r.SrcTag}, {"dst_tag", r.DstTag}, {"!src_tag", r.NotSrcTag}, {"!dst_tag", r.NotDstTag},
	} {
		switch {
		case f.v == "":
		case !idRE.MatchString(f.v):
			c.errf(f.key, "%s: %q is not a valid tag: %s", f.key, f.v, idChars)
		case len(f.v) > limits.MaxIDLen:
			c.errf(f.key, "%s", idTooLong(f.key, f.v, "tags", "nft sets and comments"))
		}
	}
}

// netField is a net of a rule that parses: its key, its text and its family (4 or 6).
type netField struct {
	key, v string
	fam    int
}

// ruleNets checks the nets: each valid, and all of one family. It returns those that parse.
func (c *checker) ruleNets(r *Rule) []netField {
	var nets []netField
	for _, f := range []struct{ key, v string }{
		{"src_net", r.SrcNet}, {"dst_net", r.DstNet}, {"!src_net", r.NotSrcNet}, {"!dst_net", r.NotDstNet},
	} {
		if f.v == "" {
			continue
		}
		if p, err := ParseNet(f.v); err != nil {
			c.errf(f.key, "%s: %v", f.key, err)
			continue
		} else if p.Addr().Is4In6() {
			c.errf(f.key, "%s: %q is an IPv4-mapped IPv6 address: write it as IPv4 (%s)", f.key, f.v, p.Addr().Unmap())
			continue
		}
		nets = append(nets, netField{f.key, f.v, NetFamily(f.v)})
	}
	for _, n := range nets[min(1, len(nets)):] {
		if n.fam != nets[0].fam {
			c.errf(n.key, "%s: %q is IPv%d but %s %q is IPv%d: the rule could never match", n.key, n.v, n.fam, nets[0].key, nets[0].v, nets[0].fam)
		}
	}
	return nets
}

// ruleNeverMatches refuses a negation that excludes everything its positive key matches (nets,
// tags, ports, ICMP type and code): the rule could never match.
func (c *checker) ruleNeverMatches(r *Rule) {
	// A negation that excludes everything its positive key matches.
	for _, f := range []struct{ key, v, notKey, notV string }{
		{"src_net", r.SrcNet, "!src_net", r.NotSrcNet}, {"dst_net", r.DstNet, "!dst_net", r.NotDstNet},
	} {
		p, err1 := ParseNet(f.v)
		np, err2 := ParseNet(f.notV)
		if err1 != nil || err2 != nil || p.Addr().Is4() != np.Addr().Is4() || p.Addr().Is4In6() || np.Addr().Is4In6() {
			continue // reported above
		}
		if np.Bits() <= p.Bits() && np.Masked().Contains(p.Addr()) {
			c.errf(f.notKey, "%s: %s contains %s %s: the rule could never match", f.notKey, f.notV, f.key, f.v)
		}
	}
	for _, f := range []struct{ key, v, notKey, notV string }{
		{"src_tag", r.SrcTag, "!src_tag", r.NotSrcTag}, {"dst_tag", r.DstTag, "!dst_tag", r.NotDstTag},
	} {
		if f.v != "" && f.v == f.notV && ValidID(f.v) {
			c.errf(f.notKey, "%s: %q excludes %s %q: the rule could never match", f.notKey, f.notV, f.key, f.v)
		}
	}

	// A negated port list that covers every port of the positive one, and a negated ICMP type
	// or code (or pair) equal to the positive one: the rule could never match.
	for _, f := range []struct {
		key, notKey string
		pos, neg    []PortRange
	}{{"src_ports", "!src_ports", r.SrcPorts, r.NotSrcPorts}, {"dst_ports", "!dst_ports", r.DstPorts, r.NotDstPorts}} {
		if len(f.pos) > 0 && len(f.neg) > 0 && portsCover(f.neg, f.pos) {
			c.errf(f.notKey, "%s: excludes every port of %s: the rule could never match", f.notKey, f.key)
		}
	}
	eq := func(a, b *int) bool { return a != nil && b != nil && *a == *b }
	switch {
	case r.NotICMPType != nil && r.NotICMPCode != nil:
		if eq(r.ICMPType, r.NotICMPType) && eq(r.ICMPCode, r.NotICMPCode) {
			c.errf("!icmp_type", "!icmp_type: with !icmp_code excludes icmp_type %d, icmp_code %d: the rule could never match", *r.ICMPType, *r.ICMPCode)
		}
	case eq(r.ICMPType, r.NotICMPType):
		c.errf("!icmp_type", "!icmp_type: %d excludes icmp_type %d: the rule could never match", *r.NotICMPType, *r.ICMPType)
	case eq(r.ICMPCode, r.NotICMPCode):
		c.errf("!icmp_code", "!icmp_code: %d excludes icmp_code %d: the rule could never match", *r.NotICMPCode, *r.ICMPCode)
	}
}

// rulePorts checks the port ranges, and that ports come with a positive port protocol (unless
// the protocol is already reported: badProto or a decode error).
func (c *checker) rulePorts(r *Rule, badProto bool) {
	for _, f := range []struct {
		key   string
		ports []PortRange
	}{{"src_ports", r.SrcPorts}, {"dst_ports", r.DstPorts}, {"!src_ports", r.NotSrcPorts}, {"!dst_ports", r.NotDstPorts}} {
		for i, p := range f.ports {
			if p.First > p.Last {
				c.errf(itemKey(f.key, i), "%s: %q is not a port range: %d is not below %d", f.key, p.String(), p.First, p.Last)
			}
		}
		if len(f.ports) > 0 && !r.Protocol.HasPorts() && !c.bad("protocol") && !badProto {
			switch {
			case r.Protocol == "" && r.NotProtocol != "":
				c.errf(f.key, "%s: ports need protocol tcp, udp, sctp or udplite (a positive protocol; !protocol does not count)", f.key)
			case r.Protocol == "":
				c.errf(f.key, "%s: ports need protocol tcp, udp, sctp or udplite", f.key)
			default:
				c.errf(f.key, "%s: ports need protocol tcp, udp, sctp or udplite, not %s", f.key, showProto(r.Protocol))
			}
		}
	}
}

// ruleICMP checks ICMP types and codes: in range, with protocol icmp or icmpv6 (icmpFam is its
// family, 0 for another protocol), a code with a type.
func (c *checker) ruleICMP(r *Rule, icmpFam int, badProto bool) {
	for _, f := range []struct {
		key string
		v   *int
	}{{"icmp_type", r.ICMPType}, {"icmp_code", r.ICMPCode}, {"!icmp_type", r.NotICMPType}, {"!icmp_code", r.NotICMPCode}} {
		if f.v == nil {
			continue
		}
		if *f.v < 0 || *f.v > 254 {
			c.errf(f.key, "%s: %d is not supported (0-254)", f.key, *f.v)
		}
		if icmpFam == 0 && !c.bad("protocol") && !badProto {
			if r.Protocol == "" {
				c.errf(f.key, "%s: needs protocol icmp or icmpv6", f.key)
			} else {
				c.errf(f.key, "%s: needs protocol icmp or icmpv6, not %s", f.key, showProto(r.Protocol))
			}
		}
	}
	// (An icmp_type that decoding refused is not missing: its error is the one reported.)
	if r.ICMPCode != nil && r.ICMPType == nil && !c.bad("icmp_type") {
		c.errf("icmp_code", "icmp_code: needs icmp_type")
	}
	if r.NotICMPCode != nil && r.ICMPType == nil && r.NotICMPType == nil && !c.bad("icmp_type") && !c.bad("!icmp_type") {
		c.errf("!icmp_code", "!icmp_code: needs icmp_type or !icmp_type")
	}
}

// ruleIPVersion checks ip_version against the nets and the ICMP protocol, and the nets against
// the ICMP protocol's family.
func (c *checker) ruleIPVersion(r *Rule, nets []netField, icmpFam int) {
	switch r.IPVersion {
	case 0:
	case 4, 6:
		for _, n := range nets {
			if n.fam != r.IPVersion {
				c.errf("ip_version", "ip_version: %d does not match %s %q (IPv%d)", r.IPVersion, n.key, n.v, n.fam)
			}
		}
		if icmpFam != 0 && icmpFam != r.IPVersion {
			c.errf("ip_version", "ip_version: %d does not match protocol %s (IPv%d)", r.IPVersion, showProto(r.Protocol), icmpFam)
		}
	default:
		c.errf("ip_version", "ip_version: %d is not 4 or 6", r.IPVersion)
	}
	if icmpFam != 0 {
		for _, n := range nets {
			if n.fam != icmpFam {
				c.errf(n.key, "%s: %q is IPv%d but protocol %s is IPv%d: the rule could never match", n.key, n.v, n.fam, showProto(r.Protocol), icmpFam)
			}
		}
	}
}

func showProto(p Protocol) string {
	if _, err := strconv.Atoi(string(p)); err == nil {
		return string(p)
	}
	return strconv.Quote(string(p))
}

// profile checks a profile's id and tags (rules are checked as they are decoded).
func (c *checker) profile(p *Profile) {
	switch {
	case p.ID == "" && c.missing("id"):
		c.errf("id", "id is required (the profile name, equal to the file name)")
	case !idRE.MatchString(p.ID):
		c.errf("id", "id: %q is not a valid id: %s", p.ID, idChars)
	case len(p.ID) > limits.MaxIDLen:
		c.errf("id", "%s", idTooLong("id", p.ID, "ids", "nft chains and comments"))
	case p.Path != "" && stem(p.Path) != p.ID:
		c.errf("id", "id: %q does not match the file name %q (a profile's id is its file name without extension)", p.ID, stem(p.Path))
	}
	seen := map[string]bool{}
	for i, t := range p.Tags {
		key := itemKey("tags", i)
		switch {
		case !idRE.MatchString(t):
			c.errf(key, "tags: %q is not a valid tag: %s", t, idChars)
		case len(t) > limits.MaxIDLen:
			c.errf(key, "%s", idTooLong("tags", t, "tags", "nft sets and comments"))
		case seen[t]:
			c.errf(key, "tags: duplicate tag %q", t)
		}
		seen[t] = true
	}
}

// endpoint checks one endpoint on its own (references are checked by Load).
func (c *checker) endpoint(e *Endpoint) {
	switch {
	case e.ID == "" && c.missing("id"):
		c.errf("id", "id is required")
	case !idRE.MatchString(e.ID):
		c.errf("id", "id: %q is not a valid id: %s", e.ID, idChars)
	case len(e.ID) > limits.MaxIDLen:
		c.errf("id", "%s", idTooLong("id", e.ID, "ids", "nft chains and comments"))
	}
	switch {
	case e.Host == "" && c.missing("host"):
		c.errf("host", "host is required (the host that enforces the endpoint)")
	case e.Host == "":
		c.errf("host", "host: must not be empty")
	default:
		if err := limits.CheckHostName(e.Host); err != nil {
			c.errf("host", "host: %v", err)
		}
	}
	switch {
	case e.Interface == "" && c.missing("interface"):
		c.errf("interface", "interface is required (the host-side interface name)")
	case e.Interface == "":
		c.errf("interface", "interface is required (the host-side interface name)")
	case len(e.Interface) > limits.MaxIfname:
		c.errf("interface", "interface: %q is %d bytes; interface names are at most %d (IFNAMSIZ)", e.Interface, len(e.Interface), limits.MaxIfname)
	case !ifnameRE.MatchString(e.Interface):
		c.errf("interface", "interface: %q is not an interface name nft matches literally: %s", e.Interface, idChars)
	case limits.CheckIfname(e.Interface) != nil:
		// What is left for the limits check: "." and "..", which Linux refuses.
		c.errf("interface", "interface: %q is not an interface name: Linux refuses \".\" and \"..\"", e.Interface)
	}
	if e.MAC == "" && !c.missing("mac") {
		c.errf("mac", "mac: must not be empty (leave the key out for no source MAC check)")
	}
	if e.MAC != "" {
		switch hw, err := net.ParseMAC(e.MAC); {
		case err != nil || len(hw) != 6:
			c.errf("mac", "mac: %q is not a 48-bit MAC address (write ee:ee:ee:ee:ee:ee)", e.MAC)
		case hw[0]&1 != 0:
			// IEEE 802: the I/G bit (least significant bit of the first octet) marks a
			// group address; a frame's source address is never one.
			c.errf("mac", "mac: %q is a broadcast or multicast address (the first octet is odd), never the source of a frame: write the endpoint's own MAC", e.MAC)
		}
	}
	switch e.State {
	case "", StateActive, StateInactive:
	default:
		c.errf("state", "state: %q is not a state (active or inactive)", e.State)
	}
	for _, f := range []struct {
		key  string
		nets []string
		fam  int
	}{{"ipv4_nets", e.IPv4Nets, 4}, {"ipv6_nets", e.IPv6Nets, 6}} {
		for i, s := range f.nets {
			key := itemKey(f.key, i)
			p, err := ParseNet(s)
			switch {
			case err != nil:
				c.errf(key, "%s: %v", f.key, err)
			case p.Addr().Is4In6():
				c.errf(key, "%s: %q is an IPv4-mapped IPv6 address: write it as IPv4 in ipv4_nets (%s)", f.key, s, p.Addr().Unmap())
			case p.Addr().Is4() != (f.fam == 4):
				c.errf(key, "%s: %q is not an IPv%d network", f.key, s, f.fam)
			case specialNet(p) != "":
				c.errf(key, "%s", specialNetMessage(f.key, s, specialNet(p)))
			case p != p.Masked():
				c.errf(key, "%s: %s has host bits set: write %s/%d for the address, or %s for the network", f.key, s, p.Addr(), p.Addr().BitLen(), p.Masked())
			}
		}
	}
	seen := map[string]bool{}
	for i, id := range e.ProfileIDs {
		if seen[id] {
			c.errf(itemKey("profile_ids", i), "profile_ids: %q is listed twice", id)
		}
		seen[id] = true
	}
}

// expectation checks one test on its own (references are checked by Load).
func (c *checker) expectation(x *Expectation) {
	for _, f := range []struct{ key, v string }{{"from", x.From}, {"to", x.To}} {
		switch {
		case f.v == "" && c.missing(f.key):
			c.errf(f.key, "%s is required (an endpoint id or an IP address)", f.key)
		case f.v == "":
			c.errf(f.key, "%s: must not be empty (an endpoint id or an IP address)", f.key)
		default:
			if a, err := netip.ParseAddr(f.v); err == nil && a.Is4In6() {
				c.errf(f.key, "%s", MappedAddrMessage(f.key, f.v, a))
			}
		}
	}
	p := Protocol(x.Protocol)
	switch _, ok := p.Number(); {
	case x.Protocol == "" && c.missing("protocol"):
		c.errf("protocol", "protocol is required (%s or 1-255)", strings.Join(ProtocolNames, ", "))
	case !ok:
		c.errf("protocol", "protocol: %s is not a protocol (%s or 1-255)", showProto(p), strings.Join(ProtocolNames, ", "))
	}
	if !c.missing("port") || x.Port != 0 {
		switch {
		case x.Port < 1 || x.Port > 65535:
			c.errf("port", "port: %d is not a port (1-65535)", x.Port)
		case !p.HasPorts() && !c.bad("protocol"):
			c.errf("port", "port: needs protocol tcp, udp, sctp or udplite")
		}
	}
	for _, f := range []struct {
		key string
		v   *int
	}{{"icmp_type", x.ICMPType}, {"icmp_code", x.ICMPCode}} {
		if f.v == nil {
			continue
		}
		if *f.v < 0 || *f.v > 254 {
			c.errf(f.key, "%s: %d is not supported (0-254)", f.key, *f.v)
		}
		if p.ICMPFamily() == 0 && !c.bad("protocol") {
			c.errf(f.key, "%s: needs protocol icmp or icmpv6", f.key)
		}
	}
	if x.ICMPCode != nil && x.ICMPType == nil && !c.bad("icmp_type") {
		c.errf("icmp_code", "icmp_code: needs icmp_type")
	}
	switch x.Expect {
	case "allow", "deny":
	case "":
		if c.missing("expect") {
			c.errf("expect", "expect is required: allow or deny")
		} else {
			c.errf("expect", "expect: \"\" is not allow or deny")
		}
	default:
		c.errf("expect", "expect: %q is not allow or deny", x.Expect)
	}
}

// Load decodes and validates every repository file (those FileKind recognises; others are
// ignored). It returns the repository (as much of it as could be decoded) and every error,
// sorted; the Errors are nil when the repository is valid.
//
// Besides each file's own rules it checks the files against each other (crossfile.go):
// references (profile_ids to profiles/<ID>.*, tests' from and to to endpoint ids) and
// conflicts (a profile in two files, an endpoint id twice, one interface of a host twice, two
// endpoints claiming overlapping nets, SPEC §3; file names, and endpoints' host names, equal
// but for case; two tests of one name; a whole file repeating another's endpoints or test
// names is one error). A reference into a file that could not be decoded is not reported as missing: that
// file gets one error (at 1:1; without a position when the source refused to read it)
// counting the references left unchecked. A test's unknown endpoint id is one error, at its
// first reference, counting the others.
func Load(files map[string][]byte) (*Repository, Errors) { return LoadFiles(files, nil) }

// LoadFiles is Load for files read by a source that also refused some entries (a symbolic
// link, an oversize file, not a regular file): refused holds one error per refused path, and
// those paths count as repository files that could not be read: a file by its folder,
// whatever its name (profiles/WEB.yml stands for profile WEB), a folder as the repository
// folder it is a case variant or misspelling of (Profiles, endpoint).
func LoadFiles(files map[string][]byte, refused Errors) (*Repository, Errors) {
	return loadFiles(files, refused, nil, nil, nil)
}

// fileResult is what the per-file pass learns from one repository file: what it decoded (the
// objects with the positions of their fields) and its file-local errors. It depends on the
// file's path and content only, so files decode in parallel and a result can be cached
// (cache.go); the cross-file checks run on the results afterwards.
type fileResult struct {
	// Profile is the profile of a profiles file; nil when it could not be decoded.
	Profile *Profile
	// Endpoints of an endpoints file, with the positions of their fields (EndpointPos[i]).
	Endpoints   []*Endpoint
	EndpointPos []fieldPos
	// Complete is true while every endpoint of the file was decoded with a valid id:
	// otherwise a test naming an unknown endpoint may name one of this file.
	Complete bool
	// Tests of a tests file, with the positions of their fields (TestPos[i]).
	Tests   []*Expectation
	TestPos []fieldPos
	// Errs are the file's own errors (decoding and file-local validation), unsorted.
	Errs Errors
}

// decodeFile is the per-file pass of LoadFiles on the repository file p.
func decodeFile(p string, data []byte) *fileResult {
	fr := &fileResult{}
	d := &decoder{path: p}
	switch FileKind(p) {
	case KindProfile:
		if root := d.parse(data, "a profile"); root != nil {
			fr.Profile, _ = d.profile(root)
		}
	case KindEndpoints:
		if root := d.parse(data, `"endpoints:" and a list of endpoints`); root != nil {
			items, ok := topListLen(root, "endpoints")
			seen := 0
			d.topList(root, "endpoints", "endpoints", func(v *yaml.Node) {
				seen++
				e, fp, ok := d.endpoint(v)
				if !ok {
					items = -1
					return
				}
				if !ValidID(e.ID) {
					// No id, or one reported as invalid: a test may name this
					// endpoint by the id that was meant.
					items = -1
				}
				c := &checker{path: p, errs: &d.errs, fp: fp, base: e.Pos}
				c.endpoint(e)
				fr.Endpoints = append(fr.Endpoints, e)
				fr.EndpointPos = append(fr.EndpointPos, fp)
			})
			fr.Complete = ok && seen == items && !d.stop
		}
	case KindTests:
		root := d.parse(data, `"tests:" and a list of tests`)
		if root == nil {
			break
		}
		d.topList(root, "tests", "tests", func(v *yaml.Node) {
			if t, fp, ok := d.expectation(v); ok {
				c := &checker{path: p, errs: &d.errs, fp: fp, base: t.Pos}
				c.expectation(t)
				fr.Tests = append(fr.Tests, t)
				fr.TestPos = append(fr.TestPos, fp)
			}
		})
	}
	fr.Errs = d.errs
	return fr
}

// loadFiles is LoadFiles; the per-file pass runs on all cores (GOMAXPROCS), each result taken
// from the decode cache c when it holds the file (nil: no cache). ids gives a content id of a
// path (a git blob id) for the cache key; a path without one is hashed.
func loadFiles(files map[string][]byte, refused Errors, ids map[string]string, c *DecodeCache, read func(string) ([]byte, error)) (*Repository, Errors) {
	repo := &Repository{Profiles: map[string]*Profile{}, Endpoints: []*Endpoint{}, Tests: []*Expectation{}}
	errs := append(Errors(nil), refused...)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	x := &crossFile{
		repo:            repo,
		errs:            &errs,
		profileFile:     map[string]string{},
		brokenProfile:   map[string]string{},
		brokenEndpoints: map[string]bool{},
	}
	for _, e := range refused {
		x.unreadable(e.Path, strings.HasPrefix(e.Msg, subfolderPrefix))
	}
	results := decodeAll(paths, files, ids, c, read)
	// The results are merged in path order, whatever order they were decoded in: the
	// repository and the errors are those of a sequential pass.
	for i, p := range paths {
		fr := results[i]
		switch FileKind(p) {
		case KindProfile:
			x.addProfile(p, fr.Profile)
		case KindEndpoints:
			for j, e := range fr.Endpoints {
				x.eps = append(x.eps, epAt{e, fr.EndpointPos[j]})
				repo.Endpoints = append(repo.Endpoints, e)
			}
			if !fr.Complete {
				x.brokenEndpoints[p] = true
			}
		case KindTests:
			for j, t := range fr.Tests {
				x.tests = append(x.tests, testAt{t, fr.TestPos[j]})
				repo.Tests = append(repo.Tests, t)
			}
		}
		errs = append(errs, fr.Errs...)
		results[i] = nil
	}
	x.check(paths)
	if len(errs) == 0 {
		return repo, nil
	}
	return repo, errs.dedup()
}

// decodeAll runs the per-file pass on paths (decodeFile, or the cache c) on GOMAXPROCS
// goroutines; results[i] is the result of paths[i].
func decodeAll(paths []string, files map[string][]byte, ids map[string]string, c *DecodeCache, read func(string) ([]byte, error)) []*fileResult {
	results := make([]*fileResult, len(paths))
	one := func(i int) {
		p := paths[i]
		if c == nil {
			results[i] = decodeFile(p, files[p])
			return
		}
		results[i] = c.result(p, files[p], ids[p], read)
	}
	workers := min(runtime.GOMAXPROCS(0), len(paths))
	if workers <= 1 {
		for i := range paths {
			one(i)
		}
		return results
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(paths) {
					return
				}
				one(i)
			}
		}()
	}
	wg.Wait()
	return results
}

// dedup sorts the errors and drops repeated ones (a merged anchor is decoded once per use).
func (es Errors) dedup() Errors {
	es.Sort()
	out := es[:0]
	for i, e := range es {
		if i > 0 && *e == *es[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// portsCover reports whether the ranges of neg together cover every port of every range of pos.
func portsCover(neg, pos []PortRange) bool {
	for _, p := range pos {
		for port := int(p.First); port <= int(p.Last); {
			next := port
			for _, n := range neg {
				if int(n.First) <= port && port <= int(n.Last) {
					next = int(n.Last) + 1
					break
				}
			}
			if next == port {
				return false
			}
			port = next
		}
	}
	return true
}
