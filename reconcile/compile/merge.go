package compile

import (
	"net/netip"
	"slices"
)

// MergePrefixes returns the smallest sorted list of non-overlapping, masked prefixes that covers
// exactly the union of ps: contained prefixes are dropped and sibling prefixes (two halves of
// one block) are joined, repeatedly. IPv4 prefixes sort before IPv6 ones; invalid prefixes are
// ignored. IPv4-mapped IPv6 addresses stay IPv6. The input is not modified; an empty result
// is nil.
func MergePrefixes(ps []netip.Prefix) []netip.Prefix {
	in := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if p.IsValid() {
			in = append(in, p.Masked())
		}
	}
	slices.SortFunc(in, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	out := in[:0]
	for _, p := range in {
		// Sorted by address then length: anything covered by an earlier prefix is covered
		// by the last one kept (see merge_test.go for the cases).
		if n := len(out); n > 0 && out[n-1].Addr().BitLen() == p.Addr().BitLen() && out[n-1].Contains(p.Addr()) {
			continue
		}
		out = append(out, p)
		for len(out) >= 2 {
			a, b := out[len(out)-2], out[len(out)-1]
			parent, ok := siblings(a, b)
			if !ok {
				break
			}
			out = append(out[:len(out)-2], parent)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return slices.Clip(out)
}

// siblings reports whether a and b (masked, a before b) are the two halves of one prefix, and
// returns that prefix.
func siblings(a, b netip.Prefix) (netip.Prefix, bool) {
	if a.Bits() != b.Bits() || a.Bits() == 0 || a.Addr().BitLen() != b.Addr().BitLen() || a == b {
		return netip.Prefix{}, false
	}
	pa := netip.PrefixFrom(a.Addr(), a.Bits()-1).Masked()
	pb := netip.PrefixFrom(b.Addr(), b.Bits()-1).Masked()
	if pa != pb {
		return netip.Prefix{}, false
	}
	return pa, true
}
