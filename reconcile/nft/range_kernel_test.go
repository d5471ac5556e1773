package nft

import (
	"context"
	"net/netip"
	"reflect"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// TestKernelObserveAddressRanges: a table loaded by `nft -f` (a restored dump, a hand-written
// script) may hold an address range where we write prefixes; nft compiles a positive range to
// `cmp gte` + `cmp lte` or `range eq`, a negated one to `range neq`. Observe reads every form
// back as the prefixes that cover the range exactly, so a restored dump is the model, not an
// unknown match (drift).
func TestKernelObserveAddressRanges(t *testing.T) {
	testenv.RequireKernel(t)
	k, ns := newKernel(t, "ranges")
	nftFile(t, ns, `table inet ranges {
	chain c {
		ip saddr 198.18.6.0-198.18.6.191 accept
		ip saddr != 198.18.6.0-198.18.6.191 drop
		ip6 daddr fd00::-fd00::7 accept
		ip daddr { 198.18.7.0-198.18.7.2 } accept
	}
}
`)
	got, err := k.Observe(context.Background(), "ranges")
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got.Chains) != 1 {
		t.Fatalf("observed %v", got)
	}
	want := [][]netip.Prefix{
		{netip.MustParsePrefix("198.18.6.0/25"), netip.MustParsePrefix("198.18.6.128/26")},
		{netip.MustParsePrefix("198.18.6.0/25"), netip.MustParsePrefix("198.18.6.128/26")},
		{netip.MustParsePrefix("fd00::/125")},
		{netip.MustParsePrefix("198.18.7.0/31"), netip.MustParsePrefix("198.18.7.2/32")},
	}
	wantNot := []bool{false, true, false, false}
	rules := got.Chains[0].Rules
	if len(rules) != len(want) {
		t.Fatalf("observed %d rules, want %d:\n%s", len(rules), len(want), got)
	}
	for i, r := range rules {
		var addr *Match
		for j := range r.Matches {
			if m := &r.Matches[j]; m.Kind == MatchSAddr || m.Kind == MatchDAddr {
				addr = m
			}
		}
		if addr == nil {
			t.Errorf("rule %d: no address match read back (unknown form?): %s", i+1, r)
			continue
		}
		if !reflect.DeepEqual(addr.Prefixes, want[i]) || addr.Not != wantNot[i] {
			t.Errorf("rule %d: read back %v not=%v, want %v not=%v", i+1, addr.Prefixes, addr.Not, want[i], wantNot[i])
		}
	}
}
