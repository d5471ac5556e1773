package nft

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// decodeEncoded runs the decoder over what the encoder produced, without a kernel: the sets
// are named as the kernel names anonymous sets, and the elements are given as sent.
func decodeEncoded(t *testing.T, rs *Ruleset) *Ruleset {
	t.Helper()
	enc, err := encode(rs)
	if err != nil {
		t.Fatal(err)
	}
	dec := &decoder{sets: map[string]*setData{}}
	out := &Ruleset{Table: rs.Table}
	for _, s := range enc.sets {
		sd := &setData{set: s.set, elems: s.elems}
		dec.sets[s.set.Name] = sd
		if s.set.IsMap {
			// GetSetElements returns the verdict as raw attributes, never VerdictData.
			for i, e := range sd.elems {
				sd.elems[i].Val = verdictAttrs(t, e.VerdictData)
				sd.elems[i].VerdictData = nil
			}
			out.Maps = append(out.Maps, decodeMap(sd))
		} else {
			out.Sets = append(out.Sets, decodeSet(sd))
		}
	}
	anon := 0
	chains := map[string]*Chain{}
	for _, c := range rs.Chains {
		oc := &Chain{Name: c.Name}
		if c.Base != nil {
			b := *c.Base
			oc.Base = &b
		}
		chains[c.Name] = oc
		out.Chains = append(out.Chains, oc)
	}
	for _, r := range enc.rules {
		for j, s := range r.anon {
			name := fmt.Sprintf("__set%d", anon)
			anon++
			s.set.Name = name
			r.lookups[j].SetName = name
			dec.sets[name] = &setData{set: s.set, elems: s.elems}
		}
		exprs := make([]any, len(r.exprs))
		for i, e := range r.exprs {
			exprs[i] = e
		}
		chains[r.chain].Rules = append(chains[r.chain].Rules, dec.rule(exprs, r.userData))
	}
	return out
}

func verdictAttrs(t *testing.T, v *expr.Verdict) []byte {
	t.Helper()
	// The kernel reports NFTA_DATA_VERDICT's nested attributes: code, then chain.
	b := []byte{8, 0, 1, 0}
	code := int32(v.Kind)
	b = append(b, byte(uint32(code)>>24), byte(uint32(code)>>16), byte(uint32(code)>>8), byte(uint32(code)))
	if v.Chain != "" {
		name := append([]byte(v.Chain), 0)
		l := 4 + len(name)
		b = append(b, byte(l), byte(l>>8), 2, 0)
		b = append(b, name...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

func TestCodecRoundTrip(t *testing.T) {
	for _, rs := range []*Ruleset{sampleRuleset("t"), syntheticRuleset("s", 50)} {
		got := decodeEncoded(t, rs)
		if !reflect.DeepEqual(got, rs) {
			t.Errorf("decode(encode(x)) differs:\n%s\nwant:\n%s", got, rs)
		}
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		name string
		in   Match
		want Match
	}{
		{"protos sorted", Match{Kind: MatchL4Proto, Protos: []uint8{17, 6, 17}}, Match{Kind: MatchL4Proto, Protos: []uint8{6, 17}}},
		{"single ports stay apart", Match{Kind: MatchDPort, Ports: []PortRange{{81, 81}, {80, 80}}}, Match{Kind: MatchDPort, Ports: []PortRange{{80, 80}, {81, 81}}}},
		{"ranges merge", Match{Kind: MatchDPort, Ports: []PortRange{{90, 95}, {80, 80}, {81, 89}, {200, 200}}}, Match{Kind: MatchDPort, Ports: []PortRange{{80, 95}, {200, 200}}}},
		{"hosts stay apart", Match{Kind: MatchSAddr, Family: IPv4, Prefixes: pfx("198.18.0.1/32", "198.18.0.0/32")}, Match{Kind: MatchSAddr, Family: IPv4, Prefixes: pfx("198.18.0.0/32", "198.18.0.1/32")}},
		{"prefixes merge", Match{Kind: MatchSAddr, Family: IPv4, Prefixes: pfx("198.18.1.0/24", "198.18.0.0/24", "198.18.0.7/32")}, Match{Kind: MatchSAddr, Family: IPv4, Prefixes: pfx("198.18.0.0/23")}},
		{"unused fields zeroed", Match{Kind: MatchIIFName, Str: "x", Family: IPv4, Nums: []uint8{1}}, Match{Kind: MatchIIFName, Str: "x"}},
		{"unmasked prefix", Match{Kind: MatchDAddr, Family: IPv6, Prefixes: pfx("fd00::1/64", "fd00:1::/64")}, Match{Kind: MatchDAddr, Family: IPv6, Prefixes: pfx("fd00::/64", "fd00:1::/64")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := (&tt.in).canonical()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("canonical() = %+v, want %+v", got, tt.want)
			}
		})
	}
	// A positive type/code pair becomes the two matches nft's bytecode reads back as.
	r := (&Rule{Matches: []Match{{Kind: MatchICMPTypeCode, Family: IPv4, Type: 8, Code: 0}}}).canonical()
	if got := r.String(); got != "icmp type 8 icmp code 0" {
		t.Errorf("canonical type/code = %q", got)
	}
}

func TestRangePrefixes(t *testing.T) {
	tests := []struct{ lo, hi, want string }{
		{"198.18.0.0", "198.18.1.255", "198.18.0.0/23"},
		{"198.18.0.1", "198.18.0.6", "198.18.0.1/32 198.18.0.2/31 198.18.0.4/31 198.18.0.6/32"},
		{"0.0.0.0", "255.255.255.255", "0.0.0.0/0"},
		{"255.255.255.254", "255.255.255.255", "255.255.255.254/31"},
		{"fd00::", "fd00::ffff", "fd00::/112"},
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0"},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range rangePrefixes(netip.MustParseAddr(tt.lo), netip.MustParseAddr(tt.hi)) {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("rangePrefixes(%s, %s) = %v, want %s", tt.lo, tt.hi, got, tt.want)
		}
	}
}

func TestIntervals(t *testing.T) {
	el := func(k []byte, end, open bool) nftables.SetElement {
		return nftables.SetElement{Key: k, IntervalEnd: end, IntervalOpen: open}
	}
	// As the kernel dumps them: reverse order, sentinel, adjacent end/start with equal keys.
	elems := []nftables.SetElement{
		el([]byte{0xff, 0}, false, true),
		el([]byte{0, 90}, true, false),
		el([]byte{0, 81}, false, false),
		el([]byte{0, 81}, true, false),
		el([]byte{0, 80}, false, false),
		el([]byte{0, 0}, true, false),
	}
	got, ok := intervals(elems, 2)
	want := [][2][]byte{{{0, 80}, {0, 80}}, {{0, 81}, {0, 89}}, {{0xff, 0}, {0xff, 0xff}}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("intervals = %v, %v; want %v", got, ok, want)
	}
	if _, ok := intervals([]nftables.SetElement{el([]byte{1}, false, false)}, 2); ok {
		t.Error("intervals accepted a key of the wrong length")
	}
}

func TestCommentAndVerdictData(t *testing.T) {
	tests := []struct {
		ud   []byte
		want string
	}{
		{[]byte("\x00\x03ab\x00"), "ab"},
		{[]byte("\x01\x01x\x00\x03ab\x00"), "ab"},
		{[]byte("\x00\xffab"), ""}, // length beyond the data: no panic, no comment
		{[]byte("\x00"), ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := comment(tt.ud); got != tt.want {
			t.Errorf("comment(%q) = %q, want %q", tt.ud, got, tt.want)
		}
	}
	v, ok := parseVerdictData([]byte{8, 0, 1, 0, 0xff, 0xff, 0xff, 0xfc, 15, 0, 2, 0, 'f', 'r', 'o', 'm', '-', 'w', 'e', 'b', '-', '1', 0, 0})
	if !ok || v != (Verdict{Kind: Goto, Chain: "from-web-1"}) {
		t.Errorf("parseVerdictData = %v, %v", v, ok)
	}
	if _, ok := parseVerdictData([]byte{1, 2}); ok {
		t.Error("parseVerdictData accepted garbage")
	}
}

func TestDecodeUnknown(t *testing.T) {
	d := &decoder{sets: map[string]*setData{}}
	// `rt mtu 1500 drop`: rt is opaque; the verdict alone must not make it a plain drop.
	r := d.rule([]any{opaqueExpr{name: "rt", data: []byte{1}}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{5, 220}}, &expr.Verdict{Kind: expr.VerdictDrop}}, nil)
	if len(r.Matches) != 1 || r.Matches[0].Kind != MatchUnknown || r.Verdict.Kind != Drop {
		t.Errorf("decoded %q, want one unknown match and drop", r.String())
	}
	// A counter after the verdict is not something we generate.
	r = d.rule([]any{&expr.Verdict{Kind: expr.VerdictAccept}, &expr.Counter{}}, nil)
	if len(r.Matches) != 1 || r.Matches[0].Kind != MatchUnknown {
		t.Errorf("decoded %q, want an unknown match", r.String())
	}
}
