package compile

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

func pfxs(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestMergePrefixes(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"empty", nil, nil},
		{"one host", []string{"198.18.1.2/32"}, []string{"198.18.1.2/32"}},
		{"masks host bits", []string{"198.18.1.77/24"}, []string{"198.18.1.0/24"}},
		{"duplicates", []string{"198.18.1.2/32", "198.18.1.2/32"}, []string{"198.18.1.2/32"}},
		{"sorted", []string{"198.18.3.1/32", "198.18.1.1/32", "198.18.2.1/32"}, []string{"198.18.1.1/32", "198.18.2.1/32", "198.18.3.1/32"}},
		{"contained after", []string{"198.18.0.0/16", "198.18.4.0/24"}, []string{"198.18.0.0/16"}},
		{"contained before", []string{"198.18.4.0/24", "198.18.0.0/16"}, []string{"198.18.0.0/16"}},
		{"contained same start", []string{"198.18.0.0/24", "198.18.0.0/16", "198.18.0.0/32"}, []string{"198.18.0.0/16"}},
		{"siblings", []string{"198.18.1.0/32", "198.18.1.1/32"}, []string{"198.18.1.0/31"}},
		{"adjacent not siblings", []string{"198.18.1.1/32", "198.18.1.2/32"}, []string{"198.18.1.1/32", "198.18.1.2/32"}},
		{"cascade", []string{"198.18.0.0/25", "198.18.0.192/26", "198.18.0.128/26"}, []string{"198.18.0.0/24"}},
		{"four hosts to /30", []string{"198.18.0.3/32", "198.18.0.1/32", "198.18.0.2/32", "198.18.0.0/32"}, []string{"198.18.0.0/30"}},
		{"three hosts", []string{"198.18.0.0/32", "198.18.0.1/32", "198.18.0.2/32"}, []string{"198.18.0.0/31", "198.18.0.2/32"}},
		{"covered by merged parent", []string{"198.18.0.0/25", "198.18.0.128/25", "198.18.0.200/32"}, []string{"198.18.0.0/24"}},
		{"whole space", []string{"0.0.0.0/1", "128.0.0.0/1", "198.18.0.0/15"}, []string{"0.0.0.0/0"}},
		{"zero prefix stays", []string{"0.0.0.0/0", "198.18.0.0/15"}, []string{"0.0.0.0/0"}},
		{"ipv6", []string{"fd00::1/128", "fd00::/127", "fd00:1::/64"}, []string{"fd00::/127", "fd00:1::/64"}},
		{"ipv6 siblings", []string{"fd00::/65", "fd00:0:0:0:8000::/65"}, []string{"fd00::/64"}},
		{"families apart, v4 first", []string{"fd00::1/128", "198.18.0.1/32", "::/0", "0.0.0.0/0"}, []string{"0.0.0.0/0", "::/0"}},
		{"v4 and v4-mapped do not merge", []string{"198.18.0.0/32", "::ffff:198.18.0.1/128"}, []string{"198.18.0.0/32", "::ffff:198.18.0.1/128"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := pfxs(tt.in...)
			orig := slices.Clone(in)
			got := MergePrefixes(in)
			if !slices.Equal(in, orig) {
				t.Errorf("input modified: %v", in)
			}
			var gs []string
			for _, p := range got {
				gs = append(gs, p.String())
			}
			if !slices.Equal(gs, tt.want) {
				t.Errorf("MergePrefixes(%v) = %v, want %v", tt.in, gs, tt.want)
			}
		})
	}
}

func TestMergePrefixesInvalidIgnored(t *testing.T) {
	got := MergePrefixes([]netip.Prefix{{}, netip.MustParsePrefix("198.18.0.1/32")})
	if len(got) != 1 || got[0].String() != "198.18.0.1/32" {
		t.Errorf("got %v", got)
	}
}

// TestMergePrefixesProperty compares the merge with a brute-force membership check over a
// small address space: the result covers exactly the same addresses, is sorted, disjoint and
// has no two sibling prefixes left.
func TestMergePrefixesProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := netip.MustParseAddr("198.18.0.0").As4()
	for iter := 0; iter < 500; iter++ {
		var in []netip.Prefix
		for n := rng.IntN(12); n > 0; n-- {
			a := base
			a[3] = byte(rng.IntN(256))
			in = append(in, netip.PrefixFrom(netip.AddrFrom4(a), 24+rng.IntN(9)))
		}
		got := MergePrefixes(in)
		for i := 0; i < 256; i++ {
			a := base
			a[3] = byte(i)
			addr := netip.AddrFrom4(a)
			want := slices.ContainsFunc(in, func(p netip.Prefix) bool { return p.Contains(addr) })
			n := 0
			for _, p := range got {
				if p.Contains(addr) {
					n++
				}
			}
			if (n == 1) != want || n > 1 {
				t.Fatalf("input %v: address %v covered %d times by %v, want covered=%v", in, addr, n, got, want)
			}
		}
		for i := 1; i < len(got); i++ {
			if got[i-1].Addr().Compare(got[i].Addr()) >= 0 {
				t.Fatalf("input %v: result not sorted: %v", in, got)
			}
			if _, ok := siblings(got[i-1], got[i]); ok {
				t.Fatalf("input %v: siblings left unmerged in %v", in, got)
			}
		}
		for _, p := range got {
			if p != p.Masked() {
				t.Fatalf("unmasked %v", p)
			}
		}
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		prefix, id string
		want       string
	}{
		{PrefixFrom, "web-1", "from-web-1"},
		{PrefixProfileIn, "WEB", "profile-in-WEB"},
		{PrefixTagV6, "APP_7890", "tag-v6-APP_7890"},
		{PrefixFrom, strings.Repeat("b", 70), "from-" + strings.Repeat("b", 70)},
	}
	for _, tt := range tests {
		if got := Name(tt.prefix, tt.id); got != tt.want {
			t.Errorf("Name(%q, %q) = %q, want %q", tt.prefix, tt.id, got, tt.want)
		}
	}
	// Names are never shortened (ids are at most limits.MaxIDLen bytes).
	maxID := strings.Repeat("P", limits.MaxIDLen)
	if n := Name(PrefixProfileOut, maxID); n != PrefixProfileOut+maxID || len(n) != MaxNameLen {
		t.Errorf("Name of a %d-byte id = %q (%d bytes)", len(maxID), n, len(n))
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct{ name, kind, id string }{
		{"forward-from", KindBaseChain, ""},
		{"forward-to", KindBaseChain, ""},
		{"input-from", KindBaseChain, ""},
		{"dispatch-host", KindMap, ""},
		{"from-web-1", KindFrom, "web-1"},
		{"to-web-1", KindTo, "web-1"},
		{"host-web-1", KindHost, "web-1"},
		{"profile-in-WEB", KindProfileIn, "WEB"},
		{"profile-out-WEB", KindProfileOut, "WEB"},
		{"tag-v4-APP_7890", KindTagV4, "APP_7890"},
		{"tag-v6-APP_7890", KindTagV6, "APP_7890"},
		{"ports-7a5b8556aede09cd", KindPorts, "7a5b8556aede09cd"},
		{"icmp-types-ba994c500a1391d3", KindICMPTypes, "ba994c500a1391d3"},
		{"icmpv6-types-ba994c500a1391d3", KindICMPv6Types, "ba994c500a1391d3"},
		{"ports-", "", ""},
		{"from-to-x", KindFrom, "to-x"},
		{"to-from-x", KindTo, "from-x"},
		{"from-", "", ""},
		{"something", "", ""},
	}
	for _, tt := range tests {
		kind, id := Describe(tt.name)
		if kind != tt.kind || id != tt.id {
			t.Errorf("Describe(%q) = %q, %q; want %q, %q", tt.name, kind, id, tt.kind, tt.id)
		}
	}
	// Round trip through Name for every prefix.
	for _, pk := range prefixKinds {
		kind, id := Describe(Name(pk.prefix, "x.y_z-1"))
		if kind != pk.kind || id != "x.y_z-1" {
			t.Errorf("Describe(Name(%q, x.y_z-1)) = %q, %q", pk.prefix, kind, id)
		}
	}
}
