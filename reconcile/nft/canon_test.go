package nft

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestMergePrefixesFastPath: the one-pass check for an input that is already canonical agrees
// with the sort-and-merge on random inputs (hosts, blocks, adjacent and overlapping ones, both
// families, the ends of the address space): an input it accepts is its own merge, and every
// merge it is given back is accepted (so canonical sets skip the sort).
func TestMergePrefixesFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	addr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			b[0], b[15], b[14] = 0xfd, byte(r.IntN(256)), byte(r.IntN(4))
			if r.IntN(20) == 0 {
				b = [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, byte(r.IntN(256))}
			}
			return netip.AddrFrom16(b)
		}
		b := [4]byte{198, 18, byte(r.IntN(3)), byte(r.IntN(256))}
		if r.IntN(20) == 0 {
			b = [4]byte{255, 255, 255, byte(r.IntN(256))}
		}
		return netip.AddrFrom4(b)
	}
	accepted := 0
	for range 20000 {
		var in []netip.Prefix
		for range r.IntN(12) {
			v6 := r.IntN(3) == 0
			a := addr(v6)
			bits := a.BitLen() - r.IntN(4)
			if r.IntN(8) == 0 {
				bits = a.BitLen() - r.IntN(a.BitLen()+1)
			}
			p := netip.PrefixFrom(a, bits)
			if r.IntN(2) == 0 {
				p = p.Masked()
			}
			in = append(in, p)
		}
		if r.IntN(2) == 0 {
			slices.SortFunc(in, comparePrefix)
		}
		want := mergeSorted(in)
		if len(in) == 0 {
			want = nil
		}
		if got := mergePrefixes(in); !slices.Equal(got, want) {
			t.Fatalf("mergePrefixes(%v) = %v, want %v", in, got, want)
		}
		if canonicalPrefixes(in) {
			accepted++
			if !slices.Equal(in, want) {
				t.Fatalf("canonicalPrefixes accepts %v, whose merge is %v", in, want)
			}
		}
		if !canonicalPrefixes(want) {
			t.Fatalf("canonicalPrefixes refuses the merge %v", want)
		}
	}
	if accepted < 1000 {
		t.Errorf("only %d canonical inputs among the random ones: the test does not cover the fast path", accepted)
	}
}
