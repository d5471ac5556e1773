package schema

import (
	"strconv"
	"strings"
)

// This file prints a rule as calicoctl's rule text (Rule.String): validate's messages, compile's
// nft comments and simulate's explanations show rules that way. The grammar and its parser
// (ParseRule) live with the calicoctl commands in reconcile/calicoctl (ruletext.go).

// String renders the rule in calicoctl's rule text, the tokens joined by single spaces, no
// trailing space, the way calicoctl's Rule.pprint() did (libcalico
// pycalico/datastore_datatypes.py), with the extensions for what calicoctl's grammar cannot
// express. The grammar, and its parser, are in reconcile/calicoctl (ruletext.go):
// calicoctl.ParseRule(strings.Fields(r.String())) equals calicoctl.Canonical(r) for every
// valid rule.
func (r Rule) String() string {
	out := []string{r.Action}
	if r.LogPrefix != "" {
		out = append(out, "prefix", r.LogPrefix)
	}
	switch r.IPVersion {
	case 4:
		out = append(out, "ipv4")
	case 6:
		out = append(out, "ipv6")
	case 0:
	default:
		out = append(out, "ipv"+strconv.Itoa(r.IPVersion))
	}
	if r.Protocol != "" {
		out = append(out, string(r.Protocol))
	}
	if r.NotProtocol != "" {
		out = append(out, "not", string(r.NotProtocol))
	}
	if r.ICMPType != nil {
		out = append(out, "type", strconv.Itoa(*r.ICMPType))
	}
	if r.ICMPCode != nil {
		out = append(out, "code", strconv.Itoa(*r.ICMPCode))
	}
	switch {
	case r.NotICMPType != nil:
		out = append(out, "not", "type", strconv.Itoa(*r.NotICMPType))
		if r.NotICMPCode != nil {
			out = append(out, "code", strconv.Itoa(*r.NotICMPCode))
		}
	case r.NotICMPCode != nil:
		out = append(out, "not", "code", strconv.Itoa(*r.NotICMPCode))
	}
	out = ruleTextSide(out, "from", r.SrcPorts, r.SrcTag, r.SrcNet, r.NotSrcPorts, r.NotSrcTag, r.NotSrcNet)
	out = ruleTextSide(out, "to", r.DstPorts, r.DstTag, r.DstNet, r.NotDstPorts, r.NotDstTag, r.NotDstNet)
	return strings.Join(out, " ")
}

func ruleTextSide(out []string, kw string, ports []PortRange, tag, net string, nports []PortRange, ntag, nnet string) []string {
	if len(ports) == 0 && tag == "" && net == "" && len(nports) == 0 && ntag == "" && nnet == "" {
		return out
	}
	out = append(out, kw)
	if len(ports) > 0 {
		out = append(out, "ports", FormatPorts(ports))
	}
	if tag != "" {
		out = append(out, "tag", tag)
	}
	if net != "" {
		out = append(out, "cidr", FormatNet(net))
	}
	if len(nports) > 0 {
		out = append(out, "not", "ports", FormatPorts(nports))
	}
	if ntag != "" {
		out = append(out, "not", "tag", ntag)
	}
	if nnet != "" {
		out = append(out, "not", "cidr", FormatNet(nnet))
	}
	return out
}

// FormatPorts renders ports as calicoctl does: "80,443,8000:8080".
func FormatPorts(ports []PortRange) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// FormatNet renders a net of a rule the way the rule text prints it, as calicoctl (netaddr)
// did: a bare address gets /32 or /128, host bits are kept, IPv6 is lower-case and compressed
// ("198.18.0.1" -> "198.18.0.1/32", "FD00::1/64" -> "fd00::1/64"). Text that ParseNet refuses
// is returned as is. Rule.String prints nets with it; reconcile/calicoctl stores parsed nets
// with it, so that a rule's text parses back to the same rule.
func FormatNet(s string) string {
	p, err := ParseNet(s)
	if err != nil {
		return s
	}
	return p.String()
}
