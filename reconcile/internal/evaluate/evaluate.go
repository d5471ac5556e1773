// Package evaluate is the policy evaluator of the differential tests (issue 9): the verdict of
// a packet computed from the repository (profiles, endpoints, tags) by SPEC §2 and §3 alone,
// sharing no code with reconcile/compile or reconcile/simulate beyond the schema types. It is
// small and plain on purpose: when it, the simulator (over the compiled nft model) and the
// kernel (real packets) disagree, one of the three is wrong.
package evaluate

import (
	"net/netip"

	"github.com/reconcile-dev/reconcile/schema"
)

// Packet is the first packet of a new flow, as its sender puts it on the wire.
type Packet struct {
	// From is the sending endpoint's id; "" for a sender outside the model (then Src says
	// who; its traffic crosses no outbound policy).
	From string
	// To is the receiving endpoint's id; "" for the host itself (ToHost) or an address outside
	// the model (Dst; no inbound policy).
	To string
	// ToHost names the host the packet is addressed to (the input hook of that host), when the
	// receiver is a host rather than an endpoint: only From's own host is reachable this way.
	ToHost string
	// Src and Dst are the packet's addresses, of one family. Src need not be one of From's
	// nets (a forged source, or the unspecified or link-local address of a DHCP or ND client).
	Src, Dst netip.Addr
	// SrcMAC is the link-layer source, six colon-separated lower-case hex bytes; "" is the
	// sender's own (its endpoint's mac when set).
	SrcMAC string
	// Proto is the IP protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6, 132 sctp, 136
	// udplite, or any other 1-255).
	Proto uint8
	// SrcPort and DstPort are the transport ports (tcp, udp, sctp, udplite only).
	SrcPort, DstPort uint16
	// ICMPType and ICMPCode are the ICMP message's (Proto 1 with IPv4, 58 with IPv6).
	ICMPType, ICMPCode uint8
}

// Step is one direction's decision: the sender's outbound policy at its host, or the
// receiver's inbound policy (or the host's allowances) at its host.
type Step struct {
	Host      string // the host that decides
	Endpoint  string // the endpoint whose policy applies
	Direction string // "outbound", "inbound" or "to-host"
	Allowed   bool
	// Profile and Rule (1-based, in the profile's rules of Direction) name the deciding rule;
	// "" and 0 when no rule decided (Reason says what did).
	Profile string
	Rule    int
	// Reason says what decided when no rule did: "anti-spoofing: source address",
	// "anti-spoofing: source MAC", "inactive endpoint", "no profiles", "no profile accepted",
	// "host allows DHCP", "host allows DNS", "host allows neighbour discovery", "endpoint to
	// host". Empty when a rule decided.
	Reason string
	// Logged are the profile rules of action log that the packet matched on the way
	// ("WEB inbound 1"), in order.
	Logged []string
}

// Result is the verdict on a packet: Allowed when every step allowed it. Steps are in path
// order (outbound first); a step that denied ends the path.
type Result struct {
	Allowed bool
	Steps   []Step
}

// Evaluate returns the verdict on p in repo (a repository that validates). The error is a
// packet that does not describe a flow of the model (an unknown endpoint, mixed families, To
// and ToHost both set, a host that is not From's own).
func Evaluate(repo *schema.Repository, p Packet) (Result, error) {
	panic("evaluate: not implemented yet (issue 9)")
}
