// Package schema holds the policy repository's types (profiles, rules, endpoints, reachability
// tests), their strict decoding from YAML and JSON with file:line:col positions, and validation
// that reports every error at once.
package schema

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Pos is a 1-based position in a file. The zero Pos means "unknown".
type Pos struct {
	Line int `json:"line,omitempty"`
	Col  int `json:"column,omitempty"`
}

// Actions of a rule.
const (
	ActionAllow = "allow"
	ActionDeny  = "deny"
	ActionLog   = "log"
)

// Endpoint states.
const (
	StateActive   = "active"
	StateInactive = "inactive"
)

// PortRange is an inclusive range of ports; a single port has First == Last.
// In files a single port is an integer and a range is the string "a:b" with a < b.
type PortRange struct {
	First, Last uint16
}

// String renders the port the way calicoctl does: "80" or "8000:8080".
func (p PortRange) String() string {
	if p.First == p.Last {
		return strconv.Itoa(int(p.First))
	}
	return fmt.Sprintf("%d:%d", p.First, p.Last)
}

// Protocol is a protocol as written in a rule: a name (tcp, udp, icmp, icmpv6, sctp, udplite)
// or a decimal number 1-255. The empty Protocol means "any".
type Protocol string

// protocolNumbers maps the protocol names the model accepts to their IANA numbers.
var protocolNumbers = map[string]uint8{
	"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "sctp": 132, "udplite": 136,
}

// ProtocolNames lists the accepted protocol names in a stable order.
var ProtocolNames = []string{"tcp", "udp", "icmp", "icmpv6", "sctp", "udplite"}

// Number returns the IANA protocol number and whether the protocol is valid: a name of
// ProtocolNames, or a number 1-255 in plain decimal (ParseDecimal: "06" and "+6" are not
// protocols).
func (p Protocol) Number() (uint8, bool) {
	if n, ok := protocolNumbers[string(p)]; ok {
		return n, true
	}
	n, err := ParseDecimal(string(p))
	if err != nil || n < 1 || n > 255 {
		return 0, false
	}
	return uint8(n), true
}

// HasPorts reports whether ports may be matched with this protocol (tcp, udp, sctp, udplite,
// by name or number).
func (p Protocol) HasPorts() bool {
	n, ok := p.Number()
	return ok && (n == 6 || n == 17 || n == 132 || n == 136)
}

// ICMPFamily returns 4 for icmp, 6 for icmpv6 (by name or number) and 0 otherwise.
func (p Protocol) ICMPFamily() int {
	n, ok := p.Number()
	switch {
	case ok && n == 1:
		return 4
	case ok && n == 58:
		return 6
	}
	return 0
}

// Rule is one Calico rule. Every field but Action is optional; the Not* fields are the
// negated matches of Felix 1.4 ("!protocol", "!src_net", ...).
type Rule struct {
	Action    string      `yaml:"action" json:"action"`
	Protocol  Protocol    `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	SrcTag    string      `yaml:"src_tag,omitempty" json:"src_tag,omitempty"`
	SrcNet    string      `yaml:"src_net,omitempty" json:"src_net,omitempty"`
	SrcPorts  []PortRange `yaml:"src_ports,omitempty" json:"src_ports,omitempty"`
	DstTag    string      `yaml:"dst_tag,omitempty" json:"dst_tag,omitempty"`
	DstNet    string      `yaml:"dst_net,omitempty" json:"dst_net,omitempty"`
	DstPorts  []PortRange `yaml:"dst_ports,omitempty" json:"dst_ports,omitempty"`
	ICMPType  *int        `yaml:"icmp_type,omitempty" json:"icmp_type,omitempty"`
	ICMPCode  *int        `yaml:"icmp_code,omitempty" json:"icmp_code,omitempty"`
	IPVersion int         `yaml:"ip_version,omitempty" json:"ip_version,omitempty"`
	LogPrefix string      `yaml:"log_prefix,omitempty" json:"log_prefix,omitempty"`

	NotProtocol Protocol    `yaml:"!protocol,omitempty" json:"!protocol,omitempty"`
	NotSrcTag   string      `yaml:"!src_tag,omitempty" json:"!src_tag,omitempty"`
	NotSrcNet   string      `yaml:"!src_net,omitempty" json:"!src_net,omitempty"`
	NotSrcPorts []PortRange `yaml:"!src_ports,omitempty" json:"!src_ports,omitempty"`
	NotDstTag   string      `yaml:"!dst_tag,omitempty" json:"!dst_tag,omitempty"`
	NotDstNet   string      `yaml:"!dst_net,omitempty" json:"!dst_net,omitempty"`
	NotDstPorts []PortRange `yaml:"!dst_ports,omitempty" json:"!dst_ports,omitempty"`
	NotICMPType *int        `yaml:"!icmp_type,omitempty" json:"!icmp_type,omitempty"`
	NotICMPCode *int        `yaml:"!icmp_code,omitempty" json:"!icmp_code,omitempty"`

	// Pos is where the rule starts in its file (not serialised).
	Pos Pos `yaml:"-" json:"-"`
}

// Profile is a named set of tags and ordered inbound (to the endpoint) and outbound (from the
// endpoint) rules.
type Profile struct {
	ID       string   `yaml:"id" json:"id"`
	Tags     []string `yaml:"tags" json:"tags"`
	Inbound  []Rule   `yaml:"inbound_rules" json:"inbound_rules"`
	Outbound []Rule   `yaml:"outbound_rules" json:"outbound_rules"`

	// Path is the repository-relative file the profile came from; Pos where its id is.
	Path string `yaml:"-" json:"-"`
	Pos  Pos    `yaml:"-" json:"-"`
}

// HasTag reports whether the profile carries tag t.
func (p *Profile) HasTag(t string) bool {
	for _, x := range p.Tags {
		if x == t {
			return true
		}
	}
	return false
}

// Endpoint is a workload interface on a host.
type Endpoint struct {
	ID         string   `yaml:"id" json:"id"`
	Host       string   `yaml:"host" json:"host"`
	Interface  string   `yaml:"interface" json:"interface"`
	MAC        string   `yaml:"mac,omitempty" json:"mac,omitempty"`
	IPv4Nets   []string `yaml:"ipv4_nets" json:"ipv4_nets"`
	IPv6Nets   []string `yaml:"ipv6_nets" json:"ipv6_nets"`
	ProfileIDs []string `yaml:"profile_ids" json:"profile_ids"`
	State      string   `yaml:"state" json:"state"`

	Path string `yaml:"-" json:"-"`
	Pos  Pos    `yaml:"-" json:"-"`
}

// Active reports whether the endpoint's traffic is subject to its profiles (state active).
// An inactive endpoint has all its traffic dropped, but its addresses still count for tags.
func (e *Endpoint) Active() bool { return e.State == "" || e.State == StateActive }

// Prefixes returns the endpoint's nets (v4 then v6) parsed; invalid entries are skipped
// (validation reports them).
func (e *Endpoint) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range append(append([]string(nil), e.IPv4Nets...), e.IPv6Nets...) {
		if p, err := ParseNet(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// Expectation is one reachability expectation of tests/*.yaml, checked by `reconcile test`.
type Expectation struct {
	Name     string `yaml:"name,omitempty" json:"name,omitempty"`
	From     string `yaml:"from" json:"from"`         // endpoint id or IP address
	To       string `yaml:"to" json:"to"`             // endpoint id or IP address
	Protocol string `yaml:"protocol" json:"protocol"` // tcp, udp, icmp, icmpv6, sctp, udplite or number
	Port     int    `yaml:"port,omitempty" json:"port,omitempty"`
	// ICMPType/ICMPCode for icmp probes (default: echo request).
	ICMPType *int   `yaml:"icmp_type,omitempty" json:"icmp_type,omitempty"`
	ICMPCode *int   `yaml:"icmp_code,omitempty" json:"icmp_code,omitempty"`
	Expect   string `yaml:"expect" json:"expect"` // "allow" or "deny"

	Path string `yaml:"-" json:"-"`
	Pos  Pos    `yaml:"-" json:"-"`
}

// Repository is a decoded policy repository.
type Repository struct {
	// Profiles by id.
	Profiles map[string]*Profile
	// Endpoints in file order (files sorted by path).
	Endpoints []*Endpoint
	// Tests are the reachability expectations of tests/*.yaml.
	Tests []*Expectation
}

// ProfileIDs returns the profile ids sorted.
func (r *Repository) ProfileIDs() []string {
	ids := make([]string, 0, len(r.Profiles))
	for id := range r.Profiles {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Endpoint returns the endpoint with the given id, or nil.
func (r *Repository) Endpoint(id string) *Endpoint {
	for _, e := range r.Endpoints {
		if e.ID == id {
			return e
		}
	}
	return nil
}

// TagMembers returns the endpoints (any host, any state) that carry tag t through one of
// their profiles, in repository order.
func (r *Repository) TagMembers(t string) []*Endpoint {
	var out []*Endpoint
	for _, e := range r.Endpoints {
		for _, pid := range e.ProfileIDs {
			if p := r.Profiles[pid]; p != nil && p.HasTag(t) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// ParseNet parses an IPv4 or IPv6 address or CIDR; a bare address becomes a /32 or /128.
// Host bits are kept as written (calicoctl prints them unmasked); use Masked() to compare.
func ParseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// NetFamily returns 4 or 6 for a valid net string and 0 otherwise.
func NetFamily(s string) int {
	p, err := ParseNet(s)
	if err != nil {
		return 0
	}
	if p.Addr().Is4() {
		return 4
	}
	return 6
}
