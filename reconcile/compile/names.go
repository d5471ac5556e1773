package compile

import (
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

// MaxNameLen is the longest chain, set or map name Compile produces: the longest prefix
// ("profile-out-", 12 bytes) and an id of at most limits.MaxIDLen bytes, 76 bytes in all, far
// below the kernel's limits.MaxName. Names and comments are never shortened: validation refuses
// longer ids, and Compile refuses a ruleset whose names or comments nft could not load
// (nft.Ruleset.CheckText) instead of cutting them.
const MaxNameLen = len(PrefixProfileOut) + limits.MaxIDLen

// Fixed names of the base chains and dispatch maps of the compiled table.
const (
	ChainForwardFrom = "forward-from" // hook forward, priority 0: traffic from local endpoints
	ChainForwardTo   = "forward-to"   // hook forward, priority 10: traffic to local endpoints
	ChainInputFrom   = "input-from"   // hook input, priority 0: traffic from local endpoints to the host

	MapDispatchFrom = "dispatch-from" // iifname -> goto from-<EP>
	MapDispatchTo   = "dispatch-to"   // oifname -> goto to-<EP>
	MapDispatchHost = "dispatch-host" // iifname -> goto host-<EP>

	// Chains shared by every host-<EP> chain: what an endpoint may send to the host. Early,
	// after its MAC check and before its address check: DHCP, DHCPv6 and ICMPv6 neighbour
	// discovery from the unspecified or link-local address. Late, after both checks (so from
	// its own nets): the same, and DNS. Shared so that the per-endpoint chains hold no
	// anonymous sets: the kernel handles tens of thousands of them in one table quadratically.
	ChainSharedHostEarly = "shared-host-early"
	ChainSharedHostLate  = "shared-host-late"
)

// Priorities of the base chains.
const (
	PriorityForwardFrom = 0
	PriorityForwardTo   = 10
	PriorityInputFrom   = 0
)

// Prefixes of the per-endpoint, per-profile and per-tag names; the full name is
// Name(prefix, id).
const (
	PrefixFrom       = "from-"
	PrefixTo         = "to-"
	PrefixHost       = "host-"
	PrefixProfileIn  = "profile-in-"
	PrefixProfileOut = "profile-out-"
	PrefixTagV4      = "tag-v4-"
	PrefixTagV6      = "tag-v6-"
)

// Prefixes of the content-named sets that rules share (see ContentSetName): a list of ports,
// of ICMP types or of ICMPv6 types, named after a hash of its elements. No other name of the
// table's set namespace (tag-v4-, tag-v6-, dispatch-) begins so.
const (
	PrefixPorts       = "ports-"
	PrefixICMPTypes   = "icmp-types-"
	PrefixICMPv6Types = "icmpv6-types-"
)

// Kinds returned by Describe.
const (
	KindBaseChain  = "base-chain"  // forward-from, forward-to, input-from; id is ""
	KindShared     = "shared"      // shared-host-early, shared-host-late; id is ""
	KindMap        = "map"         // dispatch-from, dispatch-to, dispatch-host; id is ""
	KindFrom       = "from"        // from-<EP>: endpoint id
	KindTo         = "to"          // to-<EP>: endpoint id
	KindHost       = "host"        // host-<EP>: endpoint id
	KindProfileIn  = "profile-in"  // profile-in-<P>: profile id
	KindProfileOut = "profile-out" // profile-out-<P>: profile id
	KindTagV4      = "tag-v4"      // tag-v4-<T>: tag
	KindTagV6      = "tag-v6"      // tag-v6-<T>: tag
	// Content sets: id is the 16 hex digits of the content hash.
	KindPorts       = "ports"        // ports-<hash>: a port list
	KindICMPTypes   = "icmp-types"   // icmp-types-<hash>: an ICMP type list
	KindICMPv6Types = "icmpv6-types" // icmpv6-types-<hash>: an ICMPv6 type list
)

// Name returns prefix+id, the name of a per-endpoint, per-profile or per-tag chain or set.
// With an id of at most limits.MaxIDLen bytes of [A-Za-z0-9_.-] (what validation accepts) it
// is at most MaxNameLen bytes and an nft identifier.
func Name(prefix, id string) string { return prefix + id }

// prefixKinds is checked longest prefix first where prefixes share a beginning.
var prefixKinds = []struct{ prefix, kind string }{
	{PrefixProfileOut, KindProfileOut},
	{PrefixProfileIn, KindProfileIn},
	{PrefixTagV4, KindTagV4},
	{PrefixTagV6, KindTagV6},
	{PrefixPorts, KindPorts},
	{PrefixICMPTypes, KindICMPTypes},
	{PrefixICMPv6Types, KindICMPv6Types},
	{PrefixFrom, KindFrom},
	{PrefixHost, KindHost},
	{PrefixTo, KindTo},
}

// Describe is the inverse of Name for plan and status output: the kind of object a name
// denotes and the endpoint, profile or tag id in it. For a fixed name the id is "". An unknown
// name returns ("", "").
func Describe(name string) (kind, id string) {
	switch name {
	case ChainForwardFrom, ChainForwardTo, ChainInputFrom:
		return KindBaseChain, ""
	case ChainSharedHostEarly, ChainSharedHostLate:
		return KindShared, ""
	case MapDispatchFrom, MapDispatchTo, MapDispatchHost:
		return KindMap, ""
	}
	for _, pk := range prefixKinds {
		if rest, ok := strings.CutPrefix(name, pk.prefix); ok && rest != "" {
			return pk.kind, rest
		}
	}
	return "", ""
}
