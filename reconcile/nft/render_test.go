package nft

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestRuleString(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		want string
	}{
		{"empty", Rule{}, ""},
		{"counter only", Rule{Counter: true}, "counter"},
		{"verdicts", Rule{Verdict: Verdict{Kind: Return}}, "return"},
		{"jump", Rule{Verdict: Verdict{Kind: Jump, Chain: "profile-in-WEB"}}, "jump profile-in-WEB"},
		{"goto", Rule{Verdict: Verdict{Kind: Goto, Chain: "to-x"}}, "goto to-x"},
		{"nfproto", Rule{Matches: []Match{{Kind: MatchNFProto, Family: IPv6}}, Verdict: Verdict{Kind: Accept}}, "meta nfproto ipv6 accept"},
		{"nfproto not", Rule{Matches: []Match{{Kind: MatchNFProto, Not: true, Family: IPv4}}}, "meta nfproto != ipv4"},
		{"ifnames", Rule{Matches: []Match{{Kind: MatchIIFName, Str: "caliweb1"}, {Kind: MatchOIFName, Not: true, Str: "lo"}}, Verdict: Verdict{Kind: Drop}}, `iifname "caliweb1" oifname != "lo" drop`},
		{"ct state", Rule{Matches: []Match{{Kind: MatchCtState, CtState: CtEstablished | CtRelated}}, Verdict: Verdict{Kind: Accept}}, "ct state established,related accept"},
		{"ct state invalid", Rule{Matches: []Match{{Kind: MatchCtState, CtState: CtInvalid}}, Verdict: Verdict{Kind: Drop}}, "ct state invalid drop"},
		{"ct state not", Rule{Matches: []Match{{Kind: MatchCtState, Not: true, CtState: CtNew | CtInvalid}}}, "ct state != invalid,new"},
		{"l4proto one", Rule{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}}}, "meta l4proto 6"},
		{"l4proto set not", Rule{Matches: []Match{{Kind: MatchL4Proto, Not: true, Protos: []uint8{6, 17}}}}, "meta l4proto != { 6, 17 }"},
		{"saddr v4", Rule{Matches: []Match{{Kind: MatchSAddr, Family: IPv4, Prefixes: pfx("198.18.0.0/16")}}}, "ip saddr 198.18.0.0/16"},
		{"saddr v4 host", Rule{Matches: []Match{{Kind: MatchSAddr, Not: true, Family: IPv4, Prefixes: pfx("198.18.1.2/32", "198.18.2.0/24")}}}, "ip saddr != { 198.18.1.2, 198.18.2.0/24 }"},
		{"daddr v6", Rule{Matches: []Match{{Kind: MatchDAddr, Family: IPv6, Prefixes: pfx("fd00::1/128")}}}, "ip6 daddr fd00::1"},
		{"saddr set", Rule{Matches: []Match{{Kind: MatchSAddrSet, Family: IPv4, Str: "tag-v4-WEB"}}}, "ip saddr @tag-v4-WEB"},
		{"daddr set not v6", Rule{Matches: []Match{{Kind: MatchDAddrSet, Not: true, Family: IPv6, Str: "tag-v6-X"}}}, "ip6 daddr != @tag-v6-X"},
		{"ports", Rule{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchDPort, Ports: []PortRange{{80, 80}, {443, 443}, {8000, 8080}}}}, Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB inbound 1"},
			`meta l4proto 6 th dport { 80, 443, 8000-8080 } counter accept comment "WEB inbound 1"`},
		{"sport range not", Rule{Matches: []Match{{Kind: MatchSPort, Not: true, Ports: []PortRange{{1024, 65535}}}}}, "th sport != 1024-65535"},
		{"icmp", Rule{Matches: []Match{{Kind: MatchICMPType, Family: IPv4, Nums: []uint8{8}}, {Kind: MatchICMPCode, Family: IPv4, Nums: []uint8{0}}}}, "icmp type 8 icmp code 0"},
		{"icmpv6 set", Rule{Matches: []Match{{Kind: MatchICMPType, Family: IPv6, Nums: []uint8{128, 129}}, {Kind: MatchICMPCode, Not: true, Family: IPv6, Nums: []uint8{0}}}}, "icmpv6 type { 128, 129 } icmpv6 code != 0"},
		{"icmp typecode", Rule{Matches: []Match{{Kind: MatchICMPTypeCode, Not: true, Family: IPv4, Type: 8, Code: 0}}}, "@th,0,16 != 2048"},
		{"icmp typecode 3/4", Rule{Matches: []Match{{Kind: MatchICMPTypeCode, Not: true, Family: IPv6, Type: 3, Code: 4}}}, "@th,0,16 != 772"},
		{"ether", Rule{Matches: []Match{{Kind: MatchEtherSAddr, Not: true, Str: "ee:ee:ee:ee:ee:ee"}}, Verdict: Verdict{Kind: Drop}}, "ether saddr != ee:ee:ee:ee:ee:ee drop"},
		{"log", Rule{Counter: true, Log: &Log{Prefix: "WEB-in:"}, Comment: "WEB inbound 4"}, `counter log prefix "WEB-in:" comment "WEB inbound 4"`},
		{"log no prefix", Rule{Log: &Log{}}, "log"},
		{"vmap", Rule{VMap: &VMapLookup{Key: MatchIIFName, Map: "dispatch-from"}}, "iifname vmap @dispatch-from"},
		{"vmap oif counter", Rule{Counter: true, VMap: &VMapLookup{Key: MatchOIFName, Map: "dispatch-to"}, Comment: "d"}, `counter oifname vmap @dispatch-to comment "d"`},
		{"unknown", Rule{Matches: []Match{{Kind: MatchUnknown, Str: "payload load 4b @ network header + 12"}}}, "<unknown: payload load 4b @ network header + 12>"},
		{"quote in comment", Rule{Comment: `a "b"`}, `comment "a 'b'"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rule.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRulesetString(t *testing.T) {
	rs := &Ruleset{
		Table: "reconcile",
		Sets:  []*Set{{Name: "tag-v4-WEB", Type: SetIPv4, Prefixes: pfx("198.18.1.2/32", "198.18.3.0/24")}},
		Maps: []*Map{{Name: "dispatch-from", Elements: []MapElement{
			{Key: "caliweb1", Verdict: Verdict{Kind: Goto, Chain: "from-web-1"}},
		}}},
		Chains: []*Chain{
			{Name: "forward-from", Base: &BaseChain{Hook: HookForward, Priority: 0, Policy: Accept}, Rules: []*Rule{
				{Matches: []Match{{Kind: MatchCtState, CtState: CtInvalid}}, Verdict: Verdict{Kind: Drop}},
				{VMap: &VMapLookup{Key: MatchIIFName, Map: "dispatch-from"}},
			}},
			{Name: "from-web-1", Rules: []*Rule{{Verdict: Verdict{Kind: Drop}}}},
		},
	}
	want := `table inet reconcile {
	set tag-v4-WEB {
		type ipv4_addr
		flags interval
		elements = { 198.18.1.2,
			     198.18.3.0/24 }
	}

	map dispatch-from {
		type ifname : verdict
		elements = { "caliweb1" : goto from-web-1 }
	}

	chain forward-from {
		type filter hook forward priority 0; policy accept;
		ct state invalid drop
		iifname vmap @dispatch-from
	}

	chain from-web-1 {
		drop
	}
}
`
	if got := rs.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	script := rs.Script()
	if !strings.HasPrefix(script, "table inet reconcile {}\ndelete table inet reconcile\ntable inet reconcile {\n") || !strings.HasSuffix(script, want) {
		t.Errorf("Script() =\n%s", script)
	}
	d := rs.Digest()
	if len(d) != 64 {
		t.Errorf("Digest() = %q, want 64 hex digits", d)
	}
	rs.Sets[0].Prefixes = rs.Sets[0].Prefixes[:1]
	if rs.Digest() == d {
		t.Error("Digest() did not change when a set member was removed")
	}
	empty := &Ruleset{Table: "t"}
	if got := empty.String(); got != "table inet t {\n}\n" {
		t.Errorf("empty String() = %q", got)
	}
}

func TestSampleGolden(t *testing.T) {
	got := sampleRuleset("reconcile").Script()
	path := filepath.Join("testdata", "sample.nft")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("Script() differs from %s (run with -update after checking):\n%s", path, got)
	}
}

// TestScriptKernel checks that nft accepts the script of a ruleset covering every match kind,
// both as a check (-c) and for real, twice (replacing itself), inside a private namespace.
func TestScriptKernel(t *testing.T) {
	testenv.RequireKernel(t)
	ns := testenv.NewNetns(t, "render")
	rs := sampleRuleset("rtest")
	path := filepath.Join(t.TempDir(), "rs.nft")
	if err := os.WriteFile(path, []byte(rs.Script()), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.NetnsRun(t, ns, "nft", "-c", "-f", path)
	testenv.NetnsRun(t, ns, "nft", "-f", path)
	testenv.NetnsRun(t, ns, "nft", "-f", path)
	out := testenv.NetnsRun(t, ns, "nft", "list", "table", "inet", "rtest")
	for _, want := range []string{
		`comment "WEB inbound 15"`,
		`"caliweb1" : goto from-web-1`,
		"ip saddr @tag-v4-WEB ip daddr != @all-v4",
		"type filter hook forward priority filter + 10; policy accept;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("nft list lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\tchain "); n != len(rs.Chains) {
		t.Errorf("nft list shows %d chains, want %d", n, len(rs.Chains))
	}
}
