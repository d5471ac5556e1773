package calicoctl

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/reconcile-dev/reconcile/schema"
)

// The rule text grammar.
//
// schema.Rule.String renders a rule the way calicoctl's Rule.pprint() did (libcalico
// pycalico/datastore_datatypes.py): the tokens joined by single spaces, no trailing space:
//
//	<action> [<protocol>] [type N] [code M] [from [ports P] [tag T] [cidr C]] [to [ports P] [tag T] [cidr C]]
//
// "from" ("to") is printed only when a source (destination) field is present; ports are a comma
// list of single ports and a:b ranges; a net prints as a CIDR, a bare address as /32 or /128, host
// bits not masked, IPv6 in its canonical lower-case form.
//
// Extensions for what calicoctl's grammar cannot express, always in this position:
//
//	<action>           allow | deny | log
//	prefix P           after the action: log_prefix
//	ipv4 | ipv6        after that: ip_version
//	<protocol>         tcp, udp, icmp, icmpv6, sctp, udplite or a number 1-255
//	                   (every number of the rule text is plain decimal, see schema.ParseDecimal)
//	not <protocol>     after the protocol: !protocol
//	type N, code M     icmp_type, icmp_code (code may follow type or stand alone)
//	not type N [code M], not code M
//	                   !icmp_type and !icmp_code ("not type 3 code 1" negates the pair)
//	from|to:           [ports P] [tag T] [cidr C] [not ports P] [not tag T] [not cidr C]
//	                   the negated matches (!src_ports, !src_tag, !src_net, ...)
//
// So a complete example is
//
//	log prefix WEB-SSH ipv4 tcp from not cidr 198.18.0.0/15 to ports 22
//
// ParseRule accepts calicoctl's grammar (keywords positional and in that order; ports only with
// a port protocol, type/code only with icmp or icmpv6) plus these extensions, and
// ParseRule(strings.Fields(r.String())) equals Canonical(r) for every valid rule.

// Errors of ParseRule, for callers that map them to calicoctl's messages (errors.Is).
var (
	// ErrRulePorts: a ports list is not comma-separated ports 0-65535 and a:b ranges, each
	// number in plain decimal (schema.ParseDecimal).
	ErrRulePorts = errors.New("invalid ports")
	// ErrRuleICMP: an ICMP type or code is not an integer 0-255 in plain decimal.
	ErrRuleICMP = errors.New("invalid ICMP type or code")
	// ErrRuleProtocol: a number in the protocol's place is not 1-255 in plain decimal.
	ErrRuleProtocol = errors.New("invalid protocol")
)

// ParsePorts parses a comma-separated list of ports 0-65535 and a:b ranges with a < b, the
// form calicoctl's rule grammar takes (libcalico validate_port_str), every number in plain
// decimal (ParseDecimal: "010" is refused, where calicoctl's int() read 10). It wraps
// ErrRulePorts, and schema.ErrNotDecimal for a number in another notation.
func ParsePorts(s string) ([]schema.PortRange, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty list", ErrRulePorts)
	}
	var out []schema.PortRange
	for item := range strings.SplitSeq(s, ",") {
		first, last, isRange := strings.Cut(item, ":")
		where := ""
		if isRange {
			where = strconv.Quote(item) + ": "
		}
		a, err := ruleTextPort(first)
		if err != nil {
			return nil, fmt.Errorf("%w: %s%w", ErrRulePorts, where, err)
		}
		b := a
		if isRange {
			if b, err = ruleTextPort(last); err != nil {
				return nil, fmt.Errorf("%w: %s%w", ErrRulePorts, where, err)
			}
			if a >= b {
				return nil, fmt.Errorf("%w: %q: a range a:b needs a < b", ErrRulePorts, item)
			}
		}
		out = append(out, schema.PortRange{First: a, Last: b})
	}
	return out, nil
}

func ruleTextPort(s string) (uint16, error) {
	n, err := schema.ParseDecimal(s)
	switch {
	case errors.Is(err, schema.ErrNotDecimal):
		return 0, err
	case err == nil && n >= 0 && n <= 65535:
		return uint16(n), nil
	case err == nil || errors.Is(err, schema.ErrNumberRange):
		return 0, fmt.Errorf("%s is out of range (0-65535)", s)
	}
	return 0, fmt.Errorf("%q is not a port number", s)
}

// ruleTextICMP parses the value of keyword kw (type, code): a plain decimal 0-255.
func ruleTextICMP(kw, s string) (int, error) {
	n, err := schema.ParseDecimal(s)
	switch {
	case errors.Is(err, schema.ErrNotDecimal):
		return 0, fmt.Errorf("%w: %s %w", ErrRuleICMP, kw, err)
	case err == nil && n >= 0 && n <= 255:
		return int(n), nil
	case err == nil || errors.Is(err, schema.ErrNumberRange):
		return 0, fmt.Errorf("%w: %s %s is out of range (0-255)", ErrRuleICMP, kw, s)
	}
	return 0, fmt.Errorf("%w: %s %q is not an integer", ErrRuleICMP, kw, s)
}

// ruleTextNumber reports whether w, in the protocol's place, is meant as a protocol number: a
// number in any notation. err says why it is not one (not 1-255, not plain decimal).
func ruleTextNumber(w string) (isNumber bool, err error) {
	n, perr := schema.ParseDecimal(w)
	switch {
	case errors.Is(perr, schema.ErrNotDecimal):
		return true, fmt.Errorf("%w: %w", ErrRuleProtocol, perr)
	case perr == nil && n >= 1 && n <= 255:
		return true, nil
	case perr == nil || errors.Is(perr, schema.ErrNumberRange):
		return true, fmt.Errorf("%w: %s is out of range (1-255)", ErrRuleProtocol, w)
	}
	return false, nil
}

// ruleTextProtocol reports whether w names a protocol in the rule text.
func ruleTextProtocol(w string) bool {
	if slices.Contains(schema.ProtocolNames, w) {
		return true
	}
	_, ok := schema.Protocol(w).Number()
	return ok
}

// ruleParser walks the words of a rule text.
type ruleParser struct {
	words []string
	i     int
	errs  []error
}

func (p *ruleParser) peek(k int) string {
	if p.i+k < len(p.words) {
		return p.words[p.i+k]
	}
	return ""
}

func (p *ruleParser) accept(w string) bool {
	if p.peek(0) == w {
		p.i++
		return true
	}
	return false
}

func (p *ruleParser) acceptNot(w string) bool {
	if p.peek(0) == "not" && p.peek(1) == w {
		p.i += 2
		return true
	}
	return false
}

// value consumes the argument of keyword kw.
func (p *ruleParser) value(kw string) (string, bool) {
	if p.i >= len(p.words) {
		p.errs = append(p.errs, fmt.Errorf("%q needs a value", kw))
		return "", false
	}
	v := p.words[p.i]
	p.i++
	return v, true
}

func (p *ruleParser) icmp(kw string) *int {
	v, ok := p.value(kw)
	if !ok {
		return nil
	}
	n, err := ruleTextICMP(kw, v)
	if err != nil {
		p.errs = append(p.errs, err)
		return nil
	}
	return &n
}

func (p *ruleParser) ports(kw string) []schema.PortRange {
	v, ok := p.value(kw)
	if !ok {
		return nil
	}
	ports, err := ParsePorts(v)
	if err != nil {
		p.errs = append(p.errs, err)
	}
	return ports
}

// side parses the fields after "from" or "to".
func (p *ruleParser) side(r *schema.Rule, src, portsOK bool) {
	ports, tag, nett := &r.DstPorts, &r.DstTag, &r.DstNet
	nports, ntag, nnet := &r.NotDstPorts, &r.NotDstTag, &r.NotDstNet
	if src {
		ports, tag, nett = &r.SrcPorts, &r.SrcTag, &r.SrcNet
		nports, ntag, nnet = &r.NotSrcPorts, &r.NotSrcTag, &r.NotSrcNet
	}
	if p.peek(0) == "ports" && !portsOK {
		p.errs = append(p.errs, fmt.Errorf("ports need protocol tcp, udp, sctp or udplite"))
	}
	if p.accept("ports") {
		*ports = p.ports("ports")
	}
	if p.accept("tag") {
		*tag, _ = p.value("tag")
	}
	if p.accept("cidr") {
		*nett, _ = p.value("cidr")
	}
	if p.peek(0) == "not" && p.peek(1) == "ports" && !portsOK {
		p.errs = append(p.errs, fmt.Errorf("ports need protocol tcp, udp, sctp or udplite"))
	}
	if p.acceptNot("ports") {
		*nports = p.ports("not ports")
	}
	if p.acceptNot("tag") {
		*ntag, _ = p.value("not tag")
	}
	if p.acceptNot("cidr") {
		*nnet, _ = p.value("not cidr")
	}
}

// ParseRule parses the words of a rule text (calicoctl's rule grammar plus the extensions
// described above). Nets are stored in their canonical form (a bare address becomes a /32 or
// /128); tags and nets are not otherwise validated here (Validate does that). Bad ports wrap
// ErrRulePorts, bad ICMP numbers ErrRuleICMP; every problem found is reported.
func ParseRule(words []string) (schema.Rule, error) {
	p := &ruleParser{words: words}
	var r schema.Rule
	switch a := p.peek(0); a {
	case schema.ActionAllow, schema.ActionDeny, schema.ActionLog:
		r.Action = a
		p.i++
	case "":
		return schema.Rule{}, errors.New("empty rule: expected allow, deny or log")
	default:
		return schema.Rule{}, fmt.Errorf("unknown action %q: expected allow, deny or log", a)
	}
	if p.accept("prefix") {
		r.LogPrefix, _ = p.value("prefix")
	}
	switch {
	case p.accept("ipv4"):
		r.IPVersion = 4
	case p.accept("ipv6"):
		r.IPVersion = 6
	}
	// A refused protocol number is the one error: what needs a protocol is not checked.
	protoBad := false
	if ruleTextProtocol(p.peek(0)) {
		r.Protocol = schema.Protocol(p.peek(0))
		p.i++
	} else if num, err := ruleTextNumber(p.peek(0)); num {
		p.errs = append(p.errs, err)
		p.i++
		protoBad = true
	}
	if p.peek(0) == "not" && ruleTextProtocol(p.peek(1)) {
		r.NotProtocol = schema.Protocol(p.peek(1))
		p.i += 2
	} else if num, err := ruleTextNumber(p.peek(1)); p.peek(0) == "not" && num {
		p.errs = append(p.errs, err)
		p.i += 2
	}
	icmpOK := r.Protocol.ICMPFamily() != 0 || protoBad
	if (p.peek(0) == "type" || p.peek(0) == "code") && !icmpOK {
		p.errs = append(p.errs, fmt.Errorf("%q needs protocol icmp or icmpv6", p.peek(0)))
	}
	if p.accept("type") {
		r.ICMPType = p.icmp("type")
	}
	if p.accept("code") {
		r.ICMPCode = p.icmp("code")
	}
	if p.peek(0) == "not" && (p.peek(1) == "type" || p.peek(1) == "code") && !icmpOK {
		p.errs = append(p.errs, fmt.Errorf("%q needs protocol icmp or icmpv6", "not "+p.peek(1)))
	}
	if p.acceptNot("type") {
		r.NotICMPType = p.icmp("not type")
		if p.accept("code") {
			r.NotICMPCode = p.icmp("code")
		}
	} else if p.acceptNot("code") {
		r.NotICMPCode = p.icmp("not code")
	}
	portsOK := r.Protocol.HasPorts() || protoBad
	if p.accept("from") {
		p.side(&r, true, portsOK)
	}
	if p.accept("to") {
		p.side(&r, false, portsOK)
	}
	if p.i < len(words) && len(p.errs) == 0 {
		p.errs = append(p.errs, fmt.Errorf("unexpected %q at word %d", words[p.i], p.i+1))
	}
	if len(p.errs) > 0 {
		return schema.Rule{}, errors.Join(p.errs...)
	}
	return Canonical(r), nil
}

// Canonical returns a copy of the rule as the rule text stores it: nets in canonical CIDR form
// (a bare address becomes a /32 or /128), empty port lists as nil, schema.Pos cleared. Parsing the
// rule's text gives exactly its canonical form.
func Canonical(r schema.Rule) schema.Rule {
	c := r
	c.Pos = schema.Pos{}
	for _, n := range []*string{&c.SrcNet, &c.DstNet, &c.NotSrcNet, &c.NotDstNet} {
		if *n != "" {
			*n = schema.FormatNet(*n)
		}
	}
	for _, ps := range []*[]schema.PortRange{&c.SrcPorts, &c.DstPorts, &c.NotSrcPorts, &c.NotDstPorts} {
		if len(*ps) == 0 {
			*ps = nil
		} else {
			*ps = slices.Clone(*ps)
		}
	}
	for _, ip := range []**int{&c.ICMPType, &c.ICMPCode, &c.NotICMPType, &c.NotICMPCode} {
		if *ip != nil {
			v := **ip
			*ip = &v
		}
	}
	return c
}

// SameAs reports whether two rules are the same rule the way calicoctl compared them (for
// "Rule already present, skipping." and `rule remove <rule>`): every field equal, port lists in
// order, nets compared as networks (netaddr semantics: host bits ignored), positions ignored.
func SameAs(r, o schema.Rule) bool {
	a, b := Canonical(r), Canonical(o)
	for _, pair := range [][2]*string{{&a.SrcNet, &b.SrcNet}, {&a.DstNet, &b.DstNet}, {&a.NotSrcNet, &b.NotSrcNet}, {&a.NotDstNet, &b.NotDstNet}} {
		*pair[0], *pair[1] = ruleTextMasked(*pair[0]), ruleTextMasked(*pair[1])
	}
	return a.Action == b.Action && a.Protocol == b.Protocol && a.NotProtocol == b.NotProtocol &&
		a.SrcTag == b.SrcTag && a.DstTag == b.DstTag && a.NotSrcTag == b.NotSrcTag && a.NotDstTag == b.NotDstTag &&
		a.SrcNet == b.SrcNet && a.DstNet == b.DstNet && a.NotSrcNet == b.NotSrcNet && a.NotDstNet == b.NotDstNet &&
		slices.Equal(a.SrcPorts, b.SrcPorts) && slices.Equal(a.DstPorts, b.DstPorts) &&
		slices.Equal(a.NotSrcPorts, b.NotSrcPorts) && slices.Equal(a.NotDstPorts, b.NotDstPorts) &&
		ruleTextEqInt(a.ICMPType, b.ICMPType) && ruleTextEqInt(a.ICMPCode, b.ICMPCode) &&
		ruleTextEqInt(a.NotICMPType, b.NotICMPType) && ruleTextEqInt(a.NotICMPCode, b.NotICMPCode) &&
		a.IPVersion == b.IPVersion && a.LogPrefix == b.LogPrefix
}

func ruleTextMasked(s string) string {
	p, err := schema.ParseNet(s)
	if err != nil {
		return s
	}
	return p.Masked().String()
}

func ruleTextEqInt(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
