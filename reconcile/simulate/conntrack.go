package simulate

import "github.com/reconcile-dev/reconcile/reconcile/nft"

// FirstPacketCt is the conntrack state the kernel gives the first packet of a flow (no
// conntrack entry yet, none it could be related to), by its IP protocol number and ICMP type
// (Linux net/netfilter/nf_conntrack_proto_icmp.c and nf_conntrack_proto_icmpv6.c; the
// protocol number picks the tracker, whatever the family):
//   - ICMP (1): new for the requests only (echo 8, timestamp 13, information 15, address
//     mask 17); any other type, an error among them (its quoted packet belongs to no flow),
//     is invalid;
//   - ICMPv6 (58): untracked for neighbour discovery and MLD (130-136, 143); new for echo
//     request (128) and node information query (139); invalid otherwise (errors, replies);
//   - every other protocol: new.
//
// So `ct state invalid drop` drops an echo reply or a destination unreachable that starts no
// flow, whatever the policy says (SPEC §3: invalid packets are dropped), and neighbour
// discovery reaches the policy without being new. Found by the kernel differential (issue 9):
// the simulator took every first packet for new.
func FirstPacketCt(proto, icmpType uint8) nft.CtState {
	switch proto {
	case 1:
		switch icmpType {
		case 8, 13, 15, 17:
			return nft.CtNew
		}
		return nft.CtInvalid
	case 58:
		switch {
		case icmpType >= 130 && icmpType <= 136, icmpType == 143:
			return nft.CtUntracked
		case icmpType == 128, icmpType == 139:
			return nft.CtNew
		}
		return nft.CtInvalid
	}
	return nft.CtNew
}
