// Package nft holds the ruleset model of the one nftables table reconcile owns, its canonical
// nft text rendering, and the Dataplane that applies a model atomically and reads it back:
// the kernel implementation over google/nftables and a fake that simulates the kernel.
//
// The model is deliberately small: the few match kinds that compiled Calico rules need, so that
// every one of them can be written as netlink expressions, rendered as nft text that `nft -f`
// accepts, read back from the kernel into the very same model, and traced by the simulator.
package nft

import (
	"context"
	"net/netip"
	"strings"
)

// DefaultTable is the table name used when --table is not given. The family is always inet.
const DefaultTable = "reconcile"

// Family is an IP family of a match: 4 or 6.
type Family uint8

// IP families.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// Ruleset is the whole content of one `table inet <Table>`. Canonical form: Sets, Maps and
// Chains sorted by name; set prefixes merged and sorted; map elements sorted by key; Foreign
// sorted by kind, then name.
type Ruleset struct {
	Table  string
	Sets   []*Set
	Maps   []*Map
	Chains []*Chain
	// Foreign lists, only in Observe, the objects of the table that the model has no field
	// for: named stateful objects (counter, quota, limit, ct helper, ...), flowtables and
	// flags set on the table itself (kind TableFlagKind: dormant, owner, persist).
	// Reconcile never creates them, so each one was made by someone else; a model with
	// Foreign objects is never applied (Apply refuses it). Empty for every compiled ruleset,
	// and left out of the JSON of a state record then.
	Foreign []ForeignObject `json:",omitempty"`
}

// ForeignObject is an object of a table that the model does not hold: Kind is its nft
// keyword ("counter", "quota", "limit", "ct helper", "ct timeout", "ct expectation",
// "secmark", "synproxy", "connlimit", "tunnel", "flowtable", or "object type <n>" for a
// type this program does not know), Name its name in the table.
type ForeignObject struct {
	Kind string
	Name string
}

// TableFlagKind is the ForeignObject kind of a flag set on the observed table ("dormant",
// "owner", "persist"): reconcile's table has no flags, and a dormant one filters nothing.
const TableFlagKind = "table flag"

// SetPropertyKind is the ForeignObject kind of what a set or map of the observed table has that
// reconcile's never have ("dispatch-to timeout", "tag-v4-WEB element timeout", "… flags
// dynamic"): elements that expire make an endpoint miss its chains later (fail open).
const SetPropertyKind = "set property"

// String is the object as nft names it in a listing: `counter c1`, `ct helper ftp-std`.
func (o ForeignObject) String() string { return o.Kind + " " + o.Name }

// SetType is the key type of a named set (the nft type name).
type SetType string

// Set key types. Address sets hold Prefixes; the content sets (port, ICMP type lists that rules
// share by name) hold Ports or Nums.
const (
	SetIPv4        SetType = "ipv4_addr"
	SetIPv6        SetType = "ipv6_addr"
	SetPorts       SetType = "inet_service" // Ports: th sport/dport lookups
	SetICMPTypes   SetType = "icmp_type"    // Nums: icmp type lookups
	SetICMPv6Types SetType = "icmpv6_type"  // Nums: icmpv6 type lookups
)

// Set is a named interval set (`flags interval`): the addresses of a tag (type ipv4_addr or
// ipv6_addr, Prefixes), or a list of ports (inet_service, Ports) or ICMP types (icmp_type,
// icmpv6_type, Nums) that rules look up by name instead of each carrying an anonymous set (the
// kernel's cost grows with the square of the number of sets in a table; see docs/COMPILE.md).
// Canonical form: Prefixes masked, merged and sorted; Ports sorted and merged (overlapping and
// adjacent ranges joined, as the kernel reads an interval set back); Nums sorted, each once.
// Only the field of the set's type is used.
type Set struct {
	Name     string
	Type     SetType
	Prefixes []netip.Prefix
	Ports    []PortRange `json:",omitempty"`
	Nums     []uint8     `json:",omitempty"`
	Comment  string
}

// Elements returns the set's elements as nft text writes them: prefixes (a host as a bare
// address) and ports or port ranges (`80`, `8000-8080`) in the set's order, ICMP types sorted
// with runs of consecutive types as ranges (`133`, `135-136`): the form `nft -f` turns into
// the very intervals the encoder sends.
func (s *Set) Elements() []string {
	var out []string
	for _, p := range s.Prefixes {
		out = append(out, prefixString(p))
	}
	for _, p := range s.Ports {
		out = append(out, p.String())
	}
	for _, r := range numRuns(sortedUnique(s.Nums)) {
		out = append(out, r.String())
	}
	return out
}

// NoIntervalFlag marks, at the end of Set.Type or before a further mark, a set that Observe
// read back without the interval flag: one made by hand (reconcile's sets always have it).
const NoIntervalFlag = " (no interval flag)"

// TypeFlags returns the set's type without the NoIntervalFlag mark (other marks stay), and
// whether the set has `flags interval`.
func (s *Set) TypeFlags() (typ string, interval bool) {
	if before, after, ok := strings.Cut(string(s.Type), NoIntervalFlag); ok {
		return before + after, false
	}
	return string(s.Type), true
}

// Map is a named verdict map keyed by interface name (`type ifname : verdict`), used to
// dispatch packets to per-endpoint chains.
type Map struct {
	Name     string
	Elements []MapElement // sorted by Key
	Comment  string
}

// MapElement maps an interface name to a verdict (jump or goto a chain).
type MapElement struct {
	Key     string
	Verdict Verdict
}

// Hook of a base chain.
type Hook string

// Hooks used by reconcile.
const (
	HookForward Hook = "forward"
	HookInput   Hook = "input"
)

// BaseChain makes a chain a base chain: `type filter hook <Hook> priority <Priority>; policy
// <Policy>;`.
type BaseChain struct {
	Hook     Hook
	Priority int
	Policy   VerdictKind // Accept or Drop
}

// Chain is a base chain (Base != nil) or a regular chain.
type Chain struct {
	Name  string
	Base  *BaseChain
	Rules []*Rule
}

// VerdictKind is what a rule does when all its matches hold.
type VerdictKind string

// Verdicts. None means the rule has no verdict statement and evaluation continues (a log
// rule, or a counter-only rule).
const (
	None   VerdictKind = ""
	Accept VerdictKind = "accept"
	Drop   VerdictKind = "drop"
	Return VerdictKind = "return"
	Jump   VerdictKind = "jump"
	Goto   VerdictKind = "goto"
)

// Verdict is a verdict statement; Chain is set for Jump and Goto.
type Verdict struct {
	Kind  VerdictKind
	Chain string
}

// Rule is: all Matches (ANDed), then optionally a counter, a log statement, a verdict-map
// dispatch or a verdict, and a comment. A rule has at most one of VMap and a Verdict.
type Rule struct {
	Matches []Match
	Counter bool
	// Log, when non-nil, logs the packet with this prefix (nft `log prefix "..."`).
	Log *Log
	// VMap, when non-nil, dispatches through a verdict map (`iifname vmap @map`).
	VMap    *VMapLookup
	Verdict Verdict
	// Comment names where the rule comes from ("WEB inbound 2"); at most limits.MaxComment
	// bytes (see CheckText).
	Comment string
}

// Log is an nft log statement.
type Log struct {
	Prefix string
}

// VMapLookup is `<Key> vmap @<Map>` where Key is MatchIIFName or MatchOIFName.
type VMapLookup struct {
	Key MatchKind
	Map string
}

// MatchKind says what a Match compares.
type MatchKind string

// Match kinds. Which fields of Match each uses:
//
//	MatchNFProto   Family                      meta nfproto ipv4|ipv6
//	MatchIIFName   Str                         iifname "x"
//	MatchOIFName   Str                         oifname "x"
//	MatchCtState   CtState                     ct state established,related | ct state invalid
//	MatchL4Proto   Protos (1..n)               meta l4proto tcp | meta l4proto { 6, 17 }
//	MatchSAddr     Family, Prefixes (1..n)     ip saddr 198.18.0.0/16 | ip6 saddr { ... }
//	MatchDAddr     Family, Prefixes (1..n)     ip daddr ...
//	MatchSAddrSet  Family, Str (set name)      ip saddr @tag4-WEB
//	MatchDAddrSet  Family, Str (set name)      ip daddr @tag4-WEB
//	MatchSPort     Ports (1..n)                th sport { 80, 8000-8080 }   (after an l4proto match)
//	MatchDPort     Ports (1..n)                th dport 80
//	MatchSPortSet  Str (set name)              th sport @ports-1a2b3c4d5e6f7a8b (a set of type inet_service)
//	MatchDPortSet  Str (set name)              th dport != @ports-1a2b3c4d5e6f7a8b
//	MatchICMPType  Family, Nums (1..n)         icmp type 8 | icmpv6 type 128
//	MatchICMPTypeSet Family, Str (set name)    icmpv6 type @icmpv6-types-… (a set of type icmp_type / icmpv6_type)
//	MatchICMPCode  Family, Nums (1..n)         icmp code 0
//	MatchICMPTypeCode Family, Type, Code       negated combined type+code: @th,0,16 != T<<8|C
//	MatchEtherSAddr Str (lowercase MAC)        ether saddr ee:ee:ee:ee:ee:ee
//	MatchUnknown   Str (description)           only in Observe: expressions reconcile never
//	                                           generates (a rule added by hand); never applied
//
// Not negates the match (`!=`). Protocol-specific matches (ports, icmp) must be preceded in the
// same rule by the MatchL4Proto (and for addresses/icmp, MatchNFProto) they depend on.
const (
	MatchNFProto      MatchKind = "nfproto"
	MatchIIFName      MatchKind = "iifname"
	MatchOIFName      MatchKind = "oifname"
	MatchCtState      MatchKind = "ct_state"
	MatchL4Proto      MatchKind = "l4proto"
	MatchSAddr        MatchKind = "saddr"
	MatchDAddr        MatchKind = "daddr"
	MatchSAddrSet     MatchKind = "saddr_set"
	MatchDAddrSet     MatchKind = "daddr_set"
	MatchSPort        MatchKind = "sport"
	MatchDPort        MatchKind = "dport"
	MatchSPortSet     MatchKind = "sport_set"
	MatchDPortSet     MatchKind = "dport_set"
	MatchICMPTypeSet  MatchKind = "icmp_type_set"
	MatchICMPType     MatchKind = "icmp_type"
	MatchICMPCode     MatchKind = "icmp_code"
	MatchICMPTypeCode MatchKind = "icmp_typecode"
	MatchEtherSAddr   MatchKind = "ether_saddr"
	MatchUnknown      MatchKind = "unknown"
)

// CtState is a set of conntrack states.
type CtState uint8

// Conntrack state bits (as the kernel numbers them).
const (
	CtInvalid     CtState = 1
	CtEstablished CtState = 2
	CtRelated     CtState = 4
	CtNew         CtState = 8
	// CtUntracked is the state of a packet conntrack does not track (ICMPv6 neighbour
	// discovery and MLD): no `ct state` match of ours holds for it. The simulator uses it; the
	// compiler never writes it.
	CtUntracked CtState = 64
)

// PortRange is an inclusive port range; a single port has First == Last.
type PortRange struct {
	First, Last uint16
}

// Match is one condition of a rule; see MatchKind for which fields each kind uses.
type Match struct {
	Kind     MatchKind
	Not      bool
	Family   Family
	Str      string
	CtState  CtState
	Protos   []uint8
	Prefixes []netip.Prefix
	Ports    []PortRange
	Nums     []uint8
	Type     uint8
	Code     uint8
}

// Generationer is implemented by dataplanes that can tell the generation of the namespace's
// nftables ruleset: a number the kernel bumps on every committed change to any table. Two
// equal readings mean nothing at all was committed in between, so a table found equal to a
// model at one generation is still equal at the same generation, without reading it back.
type Generationer interface {
	Generation(ctx context.Context) (uint32, error)
}

// Dataplane applies a ruleset model to one table and reads it back.
type Dataplane interface {
	// Apply replaces the whole table with desired in one transaction: afterwards the kernel
	// holds either the old table or the new one, never a mix; on error nothing changed.
	Apply(ctx context.Context, desired *Ruleset) error
	// Observe reads the table back into the model (canonical form, counters ignored).
	// It returns (nil, nil) when the table does not exist.
	Observe(ctx context.Context, table string) (*Ruleset, error)
}
