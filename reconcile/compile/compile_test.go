package compile

import (
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

type goldenCase struct {
	name  string
	repo  func() *schema.Repository
	host  string
	table string
	// check makes assertions beyond the golden text.
	check func(t *testing.T, rs *nft.Ruleset)
}

// long makes ids of limits.MaxIDLen bytes with a one-letter prefix ("e"+long).
var long = strings.Repeat("L", limits.MaxIDLen-1)

func goldenCases() []goldenCase {
	return []goldenCase{
		{name: "seed-node-1", repo: seedRepo, host: "node-1", check: func(t *testing.T, rs *nft.Ruleset) {
			wantChains(t, rs, "forward-from", "forward-to", "from-app-1", "from-web-1", "host-app-1", "host-web-1",
				"input-from", "profile-in-APP", "profile-in-WEB", "profile-out-APP", "profile-out-WEB",
				"shared-host-early", "shared-host-late", "to-app-1", "to-web-1")
			wantRules(t, rs, "host-web-1",
				`ct state invalid drop`,
				`ether saddr != ee:ee:ee:00:00:01 counter drop comment "host web-1: source mac not the endpoint's"`,
				`jump shared-host-early`,
				`meta nfproto ipv4 ip saddr != 198.18.1.2 counter drop comment "host web-1: ipv4 source not the endpoint's"`,
				`meta nfproto ipv6 ip6 saddr != fd00:1::2 counter drop comment "host web-1: ipv6 source not the endpoint's"`,
				`ct state established,related accept`,
				`jump shared-host-late`,
				`counter drop comment "host web-1: not dhcp, dns or neighbour discovery"`)
			wantRules(t, rs, "profile-in-WEB",
				`meta l4proto 6 th dport @ports { 80, 443 } counter accept comment "WEB inbound 1"`,
				`meta nfproto ipv4 meta l4proto 1 icmp type 8 counter accept comment "WEB inbound 2"`)
			wantRules(t, rs, "profile-in-APP",
				`meta nfproto ipv4 ip saddr @tag-v4-APP_7890 meta l4proto 6 th dport 7890 counter accept comment "APP inbound 1"`,
				`meta nfproto ipv6 ip6 saddr @tag-v6-APP_7890 meta l4proto 6 th dport 7890 counter accept comment "APP inbound 1"`,
				`meta nfproto ipv4 meta l4proto 1 icmp type 8 counter accept comment "APP inbound 2"`)
			// The tag's members live on both hosts.
			wantSet(t, rs, "tag-v4-APP_7890", "198.18.1.2/31")
			wantSet(t, rs, "tag-v6-APP_7890", "fd00:1::2/128")
			wantRules(t, rs, "from-web-1",
				`ct state invalid drop`,
				`ether saddr != ee:ee:ee:00:00:01 counter drop comment "from web-1: source mac not the endpoint's"`,
				`meta nfproto ipv4 ip saddr != 198.18.1.2 counter drop comment "from web-1: ipv4 source not the endpoint's"`,
				`meta nfproto ipv6 ip6 saddr != fd00:1::2 counter drop comment "from web-1: ipv6 source not the endpoint's"`,
				`ct state established,related accept`,
				`jump profile-out-WEB`,
				`counter drop comment "from web-1: no profile accepted"`)
			wantMap(t, rs, "dispatch-from", `"caliapp1" : goto from-app-1`, `"caliweb1" : goto from-web-1`)
		}},
		{name: "seed-node-2", repo: seedRepo, host: "node-2", check: func(t *testing.T, rs *nft.Ruleset) {
			wantMap(t, rs, "dispatch-to", `"caliapp2" : goto to-app-2`, `"caliweb2" : goto to-web-2`)
			if findChain(rs, "from-web-1") != nil {
				t.Error("remote endpoint web-1 has chains on node-2")
			}
			wantSet(t, rs, "tag-v4-APP_7890", "198.18.1.2/31")
		}},
		{name: "other-table", repo: seedRepo, host: "node-1", table: "lab_policy", check: func(t *testing.T, rs *nft.Ruleset) {
			if rs.Table != "lab_policy" {
				t.Errorf("table %q", rs.Table)
			}
		}},
		{name: "no-local-endpoints", repo: seedRepo, host: "node-9", check: func(t *testing.T, rs *nft.Ruleset) {
			wantChains(t, rs, "forward-from", "forward-to", "input-from")
			if len(rs.Sets) != 0 || len(rs.Maps) != 3 {
				t.Errorf("sets %d maps %d", len(rs.Sets), len(rs.Maps))
			}
		}},
		{name: "multi-profile", host: "node-1", repo: func() *schema.Repository {
			return repo(append(seedProfiles(),
				profile("ADMIN", []string{"ADMIN"}, []schema.Rule{
					{Action: "deny", Protocol: "tcp", DstPorts: pr(23)},
					{Action: "allow", Protocol: "tcp", DstPorts: pr(22), SrcNet: "198.18.100.0/24"},
				}, []schema.Rule{{Action: "deny", Protocol: "udp", DstPorts: pr(53), DstNet: "198.18.200.1"}})),
				endpoint("web-1", "node-1", "caliweb1", []string{"198.18.1.2/32"}, "ADMIN", "WEB"),
			)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			wantRules(t, rs, "to-web-1", `ct state invalid drop`, `ct state established,related accept`, "jump profile-in-ADMIN", "jump profile-in-WEB", `counter drop comment "to web-1: no profile accepted"`)
			wantRules(t, rs, "profile-out-ADMIN",
				`meta nfproto ipv4 ip daddr 198.18.200.1 meta l4proto 17 th dport 53 counter drop comment "ADMIN outbound 1"`)
		}},
		{name: "deny", host: "node-1", repo: func() *schema.Repository {
			return repo([]*schema.Profile{profile("P", []string{"P"}, []schema.Rule{
				{Action: "deny", SrcTag: "BAD"},
				{Action: "deny", Protocol: "tcp"},
				{Action: "allow"},
			}, []schema.Rule{{Action: "deny"}}), profile("BADP", []string{"BAD"}, nil, nil)},
				endpoint("a", "node-1", "calia", []string{"198.18.0.1"}, "P"),
				endpoint("bad", "node-2", "calibad", []string{"198.18.0.66"}, "BADP"),
			)
		}},
		{name: "log", host: "node-1", repo: func() *schema.Repository {
			return repo([]*schema.Profile{profile("P", nil, []schema.Rule{
				{Action: "log", LogPrefix: "P-in"},
				{Action: "log", Protocol: "udp"},
				{Action: "allow", Protocol: "udp"},
			}, []schema.Rule{{Action: "log", LogPrefix: "out:all_1"}, {Action: "allow"}})},
				endpoint("a", "node-1", "calia", []string{"198.18.0.1"}, "P"),
			)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			wantRules(t, rs, "profile-in-P",
				`counter log prefix "P-in: " comment "P inbound 1"`,
				`meta l4proto 17 counter log prefix "calico-packet: " comment "P inbound 2"`,
				`meta l4proto 17 counter accept comment "P inbound 3"`)
		}},
		{name: "tags-spanning-hosts", host: "node-1", repo: func() *schema.Repository {
			db1 := endpoint("db-3", "node-3", "calidb3", []string{"198.18.3.3", "fd00:3::3"}, "DB")
			db1.State = schema.StateInactive // still a member of the tag
			return repo([]*schema.Profile{
				profile("DB", []string{"DB"}, []schema.Rule{{Action: "allow", SrcTag: "CLIENT"}}, []schema.Rule{{Action: "allow", DstTag: "DB"}}),
				profile("CLIENT", []string{"CLIENT", "X"}, []schema.Rule{{Action: "allow", SrcTag: "DB"}}, allowAll),
				profile("OTHER", []string{"CLIENT"}, allowAll, allowAll),
			},
				endpoint("db-1", "node-1", "calidb1", []string{"198.18.3.1"}, "DB"),
				endpoint("client-1", "node-1", "calic1", []string{"198.18.4.1", "fd00:4::1"}, "CLIENT"),
				endpoint("client-2", "node-2", "calic2", []string{"198.18.4.2"}, "OTHER"),
				endpoint("client-3", "node-3", "calic3", []string{"198.18.4.4"}, "CLIENT", "OTHER"),
				endpoint("db-2", "node-2", "calidb2", []string{"198.18.3.2", "fd00:3::2"}, "DB"),
				db1,
			)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			wantSet(t, rs, "tag-v4-CLIENT", "198.18.4.1/32", "198.18.4.2/32", "198.18.4.4/32")
			wantSet(t, rs, "tag-v4-DB", "198.18.3.1/32", "198.18.3.2/31")
			wantSet(t, rs, "tag-v6-DB", "fd00:3::2/127")
			if findSet(rs, "tag-v4-X") != nil {
				t.Error("unreferenced tag X has a set")
			}
		}},
		{name: "inactive", host: "node-1", repo: func() *schema.Repository {
			off := endpoint("off", "node-1", "calioff", []string{"198.18.0.9"}, "ONLY")
			off.State = schema.StateInactive
			return repo([]*schema.Profile{profile("ONLY", []string{"ONLY"}, allowAll, allowAll)}, off)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			wantChains(t, rs, "forward-from", "forward-to", "from-off", "host-off", "input-from", "to-off")
			wantRules(t, rs, "from-off", `counter drop comment "from off: endpoint inactive"`)
			wantRules(t, rs, "host-off", `counter drop comment "host off: endpoint inactive"`)
		}},
		{name: "profile-less", host: "node-1", repo: func() *schema.Repository {
			return repo(seedProfiles(),
				endpoint("bare", "node-1", "calibare", []string{"198.18.0.9"}),
				endpoint("web-1", "node-1", "caliweb1", []string{"198.18.1.2/32"}, "WEB"),
			)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			wantRules(t, rs, "to-bare", `counter drop comment "to bare: endpoint has no profiles"`)
			wantMap(t, rs, "dispatch-host", `"calibare" : goto host-bare`, `"caliweb1" : goto host-web-1`)
		}},
		{name: "ipv6-only", host: "node-1", repo: func() *schema.Repository {
			return repo(seedProfiles(),
				endpoint("app-6", "node-1", "caliapp6", []string{"fd00:2::6/128", "fd00:2::7/128"}, "APP"),
				endpoint("web-6", "node-2", "caliweb6", []string{"fd00:1::6/128"}, "WEB"),
			)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			wantRules(t, rs, "from-app-6",
				`ct state invalid drop`,
				`meta nfproto ipv4 counter drop comment "from app-6: no ipv4 nets"`,
				`meta nfproto ipv6 ip6 saddr != fd00:2::6/127 counter drop comment "from app-6: ipv6 source not the endpoint's"`,
				`ct state established,related accept`,
				`jump profile-out-APP`,
				`counter drop comment "from app-6: no profile accepted"`)
			wantSet(t, rs, "tag-v4-APP_7890")
			wantSet(t, rs, "tag-v6-APP_7890", "fd00:1::6/128")
		}},
		{name: "family-specific", host: "node-1", repo: func() *schema.Repository {
			return repo([]*schema.Profile{profile("F", []string{"F"}, []schema.Rule{
				{Action: "allow", SrcNet: "198.18.5.0/24", SrcTag: "F"},
				{Action: "allow", DstNet: "fd00:5::/64", Protocol: "udp"},
				{Action: "allow", IPVersion: 6},
				{Action: "deny", IPVersion: 4, Protocol: "tcp", SrcPorts: pr(25)},
				{Action: "allow", SrcNet: "198.18.5.1", DstNet: "fd00::1"},
			}, allowAll)},
				endpoint("a", "node-1", "calia", []string{"198.18.0.1", "fd00::a"}, "F"),
			)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			wantRules(t, rs, "profile-in-F",
				`meta nfproto ipv4 ip saddr 198.18.5.0/24 ip saddr @tag-v4-F counter accept comment "F inbound 1"`,
				`meta nfproto ipv6 ip6 daddr fd00:5::/64 meta l4proto 17 counter accept comment "F inbound 2"`,
				`meta nfproto ipv6 counter accept comment "F inbound 3"`,
				`meta nfproto ipv4 meta l4proto 6 th sport 25 counter drop comment "F inbound 4"`)
			if findSet(rs, "tag-v6-F") != nil {
				t.Error("tag-v6-F exists though its only rule is v4")
			}
		}},
		{name: "icmp", host: "node-1", repo: func() *schema.Repository {
			return repo([]*schema.Profile{profile("I", []string{"I"}, []schema.Rule{
				{Action: "allow", Protocol: "icmp", ICMPType: ip(8), ICMPCode: ip(0)},
				{Action: "allow", Protocol: "icmpv6", ICMPType: ip(128)},
				{Action: "allow", Protocol: "1", ICMPType: ip(3), ICMPCode: ip(4)},
				{Action: "allow", Protocol: "58", ICMPType: ip(129), ICMPCode: ip(0)},
				{Action: "deny", Protocol: "icmp"},
				{Action: "allow", Protocol: "icmpv6", SrcTag: "I"},
			}, allowAll)},
				endpoint("a", "node-1", "calia", []string{"198.18.0.1", "fd00::a"}, "I"),
			)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			wantRules(t, rs, "profile-in-I",
				`meta nfproto ipv4 meta l4proto 1 icmp type 8 icmp code 0 counter accept comment "I inbound 1"`,
				`meta nfproto ipv6 meta l4proto 58 icmpv6 type 128 counter accept comment "I inbound 2"`,
				`meta nfproto ipv4 meta l4proto 1 icmp type 3 icmp code 4 counter accept comment "I inbound 3"`,
				`meta nfproto ipv6 meta l4proto 58 icmpv6 type 129 icmpv6 code 0 counter accept comment "I inbound 4"`,
				`meta l4proto 1 meta nfproto ipv4 counter drop comment "I inbound 5"`,
				`meta nfproto ipv6 ip6 saddr @tag-v6-I meta l4proto 58 counter accept comment "I inbound 6"`)
		}},
		{name: "negations", host: "node-1", repo: func() *schema.Repository {
			return repo([]*schema.Profile{profile("N", []string{"N"}, []schema.Rule{
				{Action: "deny", NotProtocol: "tcp"},
				{Action: "allow", NotSrcTag: "N"},
				{Action: "allow", NotSrcNet: "198.18.0.0/16"},
				{Action: "allow", Protocol: "tcp", NotSrcPorts: pr(80, [2]int{1000, 2000})},
				{Action: "allow", NotDstTag: "N", DstTag: "M"},
				{Action: "allow", NotDstNet: "fd00::/8"},
				{Action: "allow", Protocol: "udp", NotDstPorts: pr(53)},
				{Action: "allow", Protocol: "icmp", NotICMPType: ip(8)},
				{Action: "allow", Protocol: "icmpv6", ICMPType: ip(1), NotICMPCode: ip(3)},
				{Action: "allow", Protocol: "icmp", NotICMPType: ip(8), NotICMPCode: ip(0)},
				{Action: "deny", Protocol: "tcp", NotProtocol: "udp", SrcNet: "198.18.0.0/15", NotSrcNet: "198.18.1.0/24", DstPorts: pr(80), NotDstPorts: pr(81)},
			}, allowAll)},
				endpoint("a", "node-1", "calia", []string{"198.18.0.1"}, "N"),
			)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			wantRules(t, rs, "profile-in-N",
				`meta l4proto != 6 counter drop comment "N inbound 1"`,
				`meta nfproto ipv4 ip saddr != @tag-v4-N counter accept comment "N inbound 2"`,
				`meta nfproto ipv6 ip6 saddr != @tag-v6-N counter accept comment "N inbound 2"`,
				`meta nfproto ipv4 ip saddr != 198.18.0.0/16 counter accept comment "N inbound 3"`,
				`meta l4proto 6 th sport != @ports { 80, 1000-2000 } counter accept comment "N inbound 4"`,
				`meta nfproto ipv4 ip daddr @tag-v4-M ip daddr != @tag-v4-N counter accept comment "N inbound 5"`,
				`meta nfproto ipv6 ip6 daddr @tag-v6-M ip6 daddr != @tag-v6-N counter accept comment "N inbound 5"`,
				`meta nfproto ipv6 ip6 daddr != fd00::/8 counter accept comment "N inbound 6"`,
				`meta l4proto 17 th dport != 53-53 counter accept comment "N inbound 7"`,
				`meta nfproto ipv4 meta l4proto 1 icmp type != 8 counter accept comment "N inbound 8"`,
				`meta nfproto ipv6 meta l4proto 58 icmpv6 type 1 icmpv6 code != 3 counter accept comment "N inbound 9"`,
				`meta nfproto ipv4 meta l4proto 1 @th,0,16 != 2048 counter accept comment "N inbound 10"`,
				`meta nfproto ipv4 ip saddr 198.18.0.0/15 ip saddr != 198.18.1.0/24 meta l4proto 6 th dport 80 th dport != 81-81 counter drop comment "N inbound 11"`)
			// A tag nobody carries: an empty set, so `!= @tag-v4-M`... matches everything.
			wantSet(t, rs, "tag-v4-M")
			wantSet(t, rs, "tag-v4-N", "198.18.0.1/32")
			wantSet(t, rs, "tag-v6-N")
		}},
		{name: "port-ranges", host: "node-1", repo: func() *schema.Repository {
			return repo([]*schema.Profile{profile("R", []string{"R"}, []schema.Rule{
				{Action: "allow", Protocol: "tcp", DstPorts: pr(443, 80, [2]int{8000, 8080})},
				{Action: "allow", Protocol: "udp", SrcPorts: pr([2]int{1024, 65535}), DstPorts: pr(0)},
				{Action: "allow", Protocol: "sctp", DstPorts: pr(90, [2]int{85, 95}, 70, 71)},
				{Action: "allow", Protocol: "udplite", DstPorts: pr(5, 5)},
				{Action: "allow", Protocol: "6", SrcPorts: pr(1), DstPorts: pr(2)},
				{Action: "allow", Protocol: "udp", DstPorts: pr([2]int{8000, 8080}, 443, 80)},
				{Action: "allow", Protocol: "tcp", DstPorts: pr(81, 80)},
				{Action: "allow", Protocol: "tcp", SrcPorts: pr(80, 443, [2]int{8000, 8080}), NotDstPorts: pr(71, 70, [2]int{85, 95})},
			}, allowAll)},
				endpoint("a", "node-1", "calia", []string{"198.18.0.1"}, "R"),
			)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			wantRules(t, rs, "profile-in-R",
				`meta l4proto 6 th dport @ports { 80, 443, 8000-8080 } counter accept comment "R inbound 1"`,
				`meta l4proto 17 th sport 1024-65535 th dport 0 counter accept comment "R inbound 2"`,
				`meta l4proto 132 th dport @ports { 70-71, 85-95 } counter accept comment "R inbound 3"`,
				`meta l4proto 136 th dport 5 counter accept comment "R inbound 4"`,
				`meta l4proto 6 th sport 1 th dport 2 counter accept comment "R inbound 5"`,
				`meta l4proto 17 th dport @ports { 80, 443, 8000-8080 } counter accept comment "R inbound 6"`,
				`meta l4proto 6 th dport 80-81 counter accept comment "R inbound 7"`,
				`meta l4proto 6 th sport @ports { 80, 443, 8000-8080 } th dport != @ports { 70-71, 85-95 } counter accept comment "R inbound 8"`)
			// One set per distinct list, shared by the rules (and directions) that have it.
			var names []string
			for _, s := range rs.Sets {
				if s.Type == nft.SetPorts {
					names = append(names, s.Name)
				}
			}
			if len(names) != 2 {
				t.Errorf("port sets %v, want 2", names)
			}
		}},
		{name: "tag-overlap", host: "node-1", repo: func() *schema.Repository {
			return repo([]*schema.Profile{
				profile("T", []string{"T"}, []schema.Rule{{Action: "allow", SrcTag: "T"}}, allowAll),
				profile("U", []string{"T", "U"}, allowAll, allowAll),
			},
				endpoint("a", "node-1", "calia", []string{"198.18.0.0/24", "fd00::/64"}, "T"),
				endpoint("b", "node-2", "calib", []string{"198.18.0.5/32", "198.18.1.0/24", "fd00::5"}, "U"),
				endpoint("c", "node-2", "calic", []string{"198.18.0.77/24", "198.18.9.9"}, "T", "U"),
			)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			wantSet(t, rs, "tag-v4-T", "198.18.0.0/23", "198.18.9.9/32")
			wantSet(t, rs, "tag-v6-T", "fd00::/64")
		}},
		{name: "long-ids", host: "node-1", repo: func() *schema.Repository {
			return repo([]*schema.Profile{profile("P"+long, []string{"T" + long}, []schema.Rule{{Action: "allow", SrcTag: "T" + long}}, allowAll)},
				endpoint("e"+long, "node-1", "calilong", []string{"198.18.0.1"}, "P"+long),
			)
		}, check: func(t *testing.T, rs *nft.Ruleset) {
			for _, n := range []string{Name(PrefixFrom, "e"+long), Name(PrefixProfileOut, "P"+long), Name(PrefixTagV4, "T"+long)} {
				if len(n) > MaxNameLen || !strings.HasSuffix(n, long) {
					t.Errorf("name %q shortened or over %d bytes", n, MaxNameLen)
				}
			}
			if len(Name(PrefixProfileOut, "P"+long)) != MaxNameLen {
				t.Errorf("MaxNameLen %d is not the longest name", MaxNameLen)
			}
			if findChain(rs, Name(PrefixProfileIn, "P"+long)) == nil || findSet(rs, Name(PrefixTagV6, "T"+long)) == nil {
				t.Error("chain or set of a long id missing")
			}
		}},
	}
}

func compileCase(t *testing.T, tc goldenCase) *nft.Ruleset {
	t.Helper()
	rs, err := Compile(tc.repo(), Options{Host: tc.host, Table: tc.table})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return rs
}

func TestCompileGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			rs := compileCase(t, tc)
			got := rs.String()
			path := filepath.Join("testdata", tc.name+".nft")
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
				t.Errorf("ruleset differs from %s (run with -update after checking):\n%s", path, got)
			}
			checkInvariants(t, tc.repo(), rs)
			if tc.check != nil {
				tc.check(t, rs)
			}
		})
	}
}

// checkInvariants checks what must hold for every compiled ruleset: canonical order, every
// referenced chain, map and set exists, names and comments are bounded, every profile rule
// has a counter and a comment that leads back to its source rule.
func checkInvariants(t *testing.T, repo *schema.Repository, rs *nft.Ruleset) {
	t.Helper()
	if err := nft.ValidateFake(rs); err != nil {
		t.Errorf("the fake kernel rejects the ruleset: %v", err)
	}
	if !slices.IsSortedFunc(rs.Chains, func(a, b *nft.Chain) int { return strings.Compare(a.Name, b.Name) }) ||
		!slices.IsSortedFunc(rs.Sets, func(a, b *nft.Set) int { return strings.Compare(a.Name, b.Name) }) ||
		!slices.IsSortedFunc(rs.Maps, func(a, b *nft.Map) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("not in canonical order")
	}
	chains := map[string]*nft.Chain{}
	for _, c := range rs.Chains {
		chains[c.Name] = c
		if len(c.Name) > MaxNameLen {
			t.Errorf("chain name %q too long", c.Name)
		}
	}
	sets := map[string]bool{}
	usedSets := map[string]bool{}
	for _, s := range rs.Sets {
		sets[s.Name] = true
		if len(s.Name) > MaxNameLen {
			t.Errorf("set name %q too long", s.Name)
		}
		if !slices.Equal(s.Prefixes, MergePrefixes(s.Prefixes)) {
			t.Errorf("set %q not merged: %v", s.Name, s.Prefixes)
		}
		for _, p := range s.Prefixes {
			if p.Addr().Is4() != (s.Type == nft.SetIPv4) {
				t.Errorf("set %q of type %s holds %v", s.Name, s.Type, p)
			}
		}
		switch s.Type {
		case nft.SetPorts, nft.SetICMPTypes, nft.SetICMPv6Types:
			// A content set: named after its (canonical) content, at least two elements.
			if name := ContentSetName(s); name != s.Name {
				t.Errorf("set %q should be named %q", s.Name, name)
			}
			if !slices.Equal(s.Ports, nft.MergePorts(s.Ports)) || !slices.IsSorted(s.Nums) || len(s.Ports)+len(s.Nums) < 2 {
				t.Errorf("set %q not canonical: %v %v", s.Name, s.Ports, s.Nums)
			}
		}
		if k, _ := Describe(s.Name); k == "" {
			t.Errorf("Describe(%q) does not know the set", s.Name)
		}
	}
	maps := map[string]bool{}
	for _, m := range rs.Maps {
		maps[m.Name] = true
		if !slices.IsSortedFunc(m.Elements, func(a, b nft.MapElement) int { return strings.Compare(a.Key, b.Key) }) {
			t.Errorf("map %q not sorted", m.Name)
		}
		for _, e := range m.Elements {
			if chains[e.Verdict.Chain] == nil {
				t.Errorf("map %q: %q goes to missing chain %q", m.Name, e.Key, e.Verdict.Chain)
			}
		}
	}
	for _, c := range rs.Chains {
		kind, _ := Describe(c.Name)
		if kind == "" {
			t.Errorf("Describe(%q) does not know the chain", c.Name)
		}
		if kind == KindFrom || kind == KindTo || kind == KindHost {
			checkEndpointChain(t, c, kind)
		}
		for _, r := range c.Rules {
			if len(r.Comment) > limits.MaxComment {
				t.Errorf("comment too long in %q", c.Name)
			}
			if (r.Verdict.Kind == nft.Jump || r.Verdict.Kind == nft.Goto) && chains[r.Verdict.Chain] == nil {
				t.Errorf("%q jumps to missing %q", c.Name, r.Verdict.Chain)
			}
			if r.VMap != nil && !maps[r.VMap.Map] {
				t.Errorf("%q uses missing map %q", c.Name, r.VMap.Map)
			}
			for _, m := range r.Matches {
				switch m.Kind {
				case nft.MatchSAddrSet, nft.MatchDAddrSet, nft.MatchSPortSet, nft.MatchDPortSet, nft.MatchICMPTypeSet:
					usedSets[m.Str] = true
					if !sets[m.Str] {
						t.Errorf("%q uses missing set %q", c.Name, m.Str)
					}
				}
			}
			if kind == KindProfileIn || kind == KindProfileOut {
				ref, ok := Sources(repo)[r.Comment]
				if !ok || !r.Counter || ref.Rule(repo) == nil {
					t.Errorf("profile rule %q: no counter or no source (%v)", r, ok)
				}
			}
		}
	}
	for s := range sets {
		if !usedSets[s] {
			t.Errorf("set %q is not used", s)
		}
	}
}

func findChain(rs *nft.Ruleset, name string) *nft.Chain {
	for _, c := range rs.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func findSet(rs *nft.Ruleset, name string) *nft.Set {
	for _, s := range rs.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func wantChains(t *testing.T, rs *nft.Ruleset, names ...string) {
	t.Helper()
	var got []string
	for _, c := range rs.Chains {
		got = append(got, c.Name)
	}
	if !slices.Equal(got, names) {
		t.Errorf("chains %v, want %v", got, names)
	}
}

func wantRules(t *testing.T, rs *nft.Ruleset, chain string, rules ...string) {
	t.Helper()
	c := findChain(rs, chain)
	if c == nil {
		t.Errorf("no chain %q", chain)
		return
	}
	sets := map[string]*nft.Set{}
	for _, s := range rs.Sets {
		sets[s.Name] = s
	}
	var got []string
	for _, r := range c.Rules {
		// A shared list as `@ports { 80, 443 }`: its name is the content hash, checked by
		// checkInvariants.
		got = append(got, contentHash.ReplaceAllString(r.Explain(sets), "@$1"))
	}
	if !slices.Equal(got, rules) {
		t.Errorf("chain %q:\n got  %q\n want %q", chain, got, rules)
	}
}

var contentHash = regexp.MustCompile(`@(ports|icmp-types|icmpv6-types)-[0-9a-f]{16}\b`)

func wantSet(t *testing.T, rs *nft.Ruleset, name string, prefixes ...string) {
	t.Helper()
	s := findSet(rs, name)
	if s == nil {
		t.Errorf("no set %q", name)
		return
	}
	var got []string
	for _, p := range s.Prefixes {
		got = append(got, p.String())
	}
	if !slices.Equal(got, prefixes) {
		t.Errorf("set %q = %v, want %v", name, got, prefixes)
	}
}

func wantMap(t *testing.T, rs *nft.Ruleset, name string, elems ...string) {
	t.Helper()
	for _, m := range rs.Maps {
		if m.Name != name {
			continue
		}
		var got []string
		for _, e := range m.Elements {
			got = append(got, `"`+e.Key+`" : `+e.Verdict.String())
		}
		if !slices.Equal(got, elems) {
			t.Errorf("map %q = %q, want %q", name, got, elems)
		}
		return
	}
	t.Errorf("no map %q", name)
}

// TestCompileDeterministic compiles each case many times, with the endpoints shuffled and the
// profile map rebuilt, and expects the very same text.
func TestCompileDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			first := compileCase(t, tc).String()
			for i := 0; i < 20; i++ {
				r := tc.repo()
				rng.Shuffle(len(r.Endpoints), func(i, j int) { r.Endpoints[i], r.Endpoints[j] = r.Endpoints[j], r.Endpoints[i] })
				profiles := map[string]*schema.Profile{}
				for k, v := range r.Profiles {
					profiles[k] = v
				}
				r.Profiles = profiles
				rs, err := Compile(r, Options{Host: tc.host, Table: tc.table})
				if err != nil {
					t.Fatal(err)
				}
				if got := rs.String(); got != first {
					t.Fatalf("run %d differs:\n%s\nvs\n%s", i, got, first)
				}
			}
		})
	}
}

func TestCompileDoesNotModifyRepository(t *testing.T) {
	r := seedRepo()
	before := seedRepo()
	if _, err := Compile(r, Options{Host: "node-1"}); err != nil {
		t.Fatal(err)
	}
	for i := range r.Endpoints {
		if !slices.Equal(r.Endpoints[i].IPv4Nets, before.Endpoints[i].IPv4Nets) || !slices.Equal(r.Endpoints[i].IPv6Nets, before.Endpoints[i].IPv6Nets) {
			t.Errorf("endpoint %q nets modified", r.Endpoints[i].ID)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	one := func(p *schema.Profile, e ...*schema.Endpoint) func() *schema.Repository {
		return func() *schema.Repository { return repo([]*schema.Profile{p}, e...) }
	}
	ruleRepo := func(r schema.Rule) func() *schema.Repository {
		return one(profile("P", nil, []schema.Rule{r}, nil), endpoint("a", "h", "calia", []string{"198.18.0.1"}, "P"))
	}
	badMAC := endpoint("a", "h", "calia", []string{"198.18.0.1"}, "P")
	badMAC.MAC = "zz:zz"
	tests := []struct {
		name string
		repo func() *schema.Repository
		host string
		want string
	}{
		{"nil repository", func() *schema.Repository { return nil }, "h", "compile: no repository"},
		{"no host", seedRepo, "", "compile: no host name given"},
		{"missing profile", one(profile("P", nil, nil, nil), endpoint("a", "h", "calia", nil, "P", "Q")), "h", `compile: endpoint "a": profile "Q" does not exist`},
		{"same interface", one(profile("P", nil, nil, nil),
			endpoint("a", "h", "cali1", nil, "P"), endpoint("b", "h", "cali1", nil, "P")), "h", `compile: endpoints "a" and "b" both use interface "cali1" on host "h"`},
		{"same id", one(profile("P", nil, nil, nil),
			endpoint("a", "h", "cali1", nil, "P"), endpoint("a", "h", "cali2", nil, "P")), "h", `compile: endpoint "a" is listed twice`},
		{"no interface", one(profile("P", nil, nil, nil), endpoint("a", "h", "", nil, "P")), "h", `compile: endpoint "a" has no interface`},
		{"bad endpoint net", one(profile("P", nil, nil, nil), endpoint("a", "h", "calia", []string{"198.18.0.300"}, "P")), "h", `compile: endpoint "a": "198.18.0.300" is not an IP address or CIDR`},
		{"bad remote member net", one(profile("P", []string{"P"}, []schema.Rule{{Action: "allow", SrcTag: "P"}}, nil),
			endpoint("a", "h", "calia", nil, "P"), endpoint("b", "h2", "calib", []string{"x"}, "P")), "h", `compile: endpoint "b": "x" is not an IP address or CIDR`},
		{"bad mac", one(profile("P", nil, nil, nil), badMAC), "h", `compile: endpoint "a": "zz:zz" is not a MAC address`},
		{"unknown action", ruleRepo(schema.Rule{Action: "next-tier"}), "h", `compile: profile "P" inbound rule 1: unknown action "next-tier"`},
		{"bad protocol", ruleRepo(schema.Rule{Action: "allow", Protocol: "gre"}), "h", `compile: profile "P" inbound rule 1: unknown protocol "gre"`},
		{"bad not protocol", ruleRepo(schema.Rule{Action: "allow", NotProtocol: "0"}), "h", `compile: profile "P" inbound rule 1: unknown protocol "0"`},
		{"ports without protocol", ruleRepo(schema.Rule{Action: "allow", NotDstPorts: pr(1)}), "h", `compile: profile "P" inbound rule 1: ports need protocol tcp, udp, sctp or udplite`},
		{"ports with icmp", ruleRepo(schema.Rule{Action: "allow", Protocol: "icmp", DstPorts: pr(1)}), "h", `compile: profile "P" inbound rule 1: ports need protocol tcp, udp, sctp or udplite`},
		{"icmp type without icmp", ruleRepo(schema.Rule{Action: "allow", Protocol: "tcp", ICMPType: ip(8)}), "h", `compile: profile "P" inbound rule 1: icmp_type and icmp_code need protocol icmp or icmpv6`},
		{"icmp type 255", ruleRepo(schema.Rule{Action: "allow", Protocol: "icmp", ICMPType: ip(255)}), "h", `compile: profile "P" inbound rule 1: icmp type or code 255 is not in 0-254`},
		{"bad rule net", ruleRepo(schema.Rule{Action: "allow", NotDstNet: "nope"}), "h", `compile: profile "P" inbound rule 1: "nope" is not an IP address or CIDR`},
		{"bad ip_version", ruleRepo(schema.Rule{Action: "allow", IPVersion: 5}), "h", `compile: profile "P" inbound rule 1: ip_version 5 is not 4 or 6`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Compile(tt.repo(), Options{Host: tt.host})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Compile error = %v, want %q", err, tt.want)
			}
			if rs != nil {
				t.Error("a ruleset was returned with the error")
			}
		})
	}
}

// TestRuleFamilies checks, rule by rule, in which families a Calico rule is rendered.
func TestRuleFamilies(t *testing.T) {
	tests := []struct {
		name string
		rule schema.Rule
		want []string
	}{
		{"nothing family-specific", schema.Rule{Action: "allow", Protocol: "tcp"}, []string{`meta l4proto 6 counter accept comment "P inbound 1"`}},
		{"tag: both families", schema.Rule{Action: "deny", DstTag: "T"}, []string{
			`meta nfproto ipv4 ip daddr @tag-v4-T counter drop comment "P inbound 1"`,
			`meta nfproto ipv6 ip6 daddr @tag-v6-T counter drop comment "P inbound 1"`}},
		{"v4 net: v4 only, never widened", schema.Rule{Action: "allow", SrcNet: "198.18.0.0/16", DstTag: "T"}, []string{
			`meta nfproto ipv4 ip saddr 198.18.0.0/16 ip daddr @tag-v4-T counter accept comment "P inbound 1"`}},
		{"host bits masked", schema.Rule{Action: "allow", SrcNet: "198.18.7.7/16"}, []string{
			`meta nfproto ipv4 ip saddr 198.18.0.0/16 counter accept comment "P inbound 1"`}},
		{"negated v6 net: v6 only", schema.Rule{Action: "allow", NotSrcNet: "fd00::/16"}, []string{
			`meta nfproto ipv6 ip6 saddr != fd00::/16 counter accept comment "P inbound 1"`}},
		{"mixed families: nowhere", schema.Rule{Action: "allow", SrcNet: "198.18.0.0/16", DstNet: "fd00::/16"}, nil},
		{"icmpv6 with v4 net: nowhere", schema.Rule{Action: "allow", Protocol: "icmpv6", SrcNet: "198.18.0.0/16"}, nil},
		{"ip_version 4 with v6 net: nowhere", schema.Rule{Action: "allow", IPVersion: 4, DstNet: "fd00::1"}, nil},
		{"ip_version 6", schema.Rule{Action: "log", IPVersion: 6, SrcTag: "T"}, []string{
			`meta nfproto ipv6 ip6 saddr @tag-v6-T counter log prefix "calico-packet: " comment "P inbound 1"`}},
		{"icmp by number", schema.Rule{Action: "allow", Protocol: "1"}, []string{
			`meta l4proto 1 meta nfproto ipv4 counter accept comment "P inbound 1"`}},
		{"not icmp stays family-free", schema.Rule{Action: "allow", NotProtocol: "icmp"}, []string{
			`meta l4proto != 1 counter accept comment "P inbound 1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &compiler{tags: map[tagKey]bool{}}
			rs, err := c.rule(&tt.rule, RuleRef{Profile: "P", Direction: Inbound, Index: 1})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSources(t *testing.T) {
	r := seedRepo()
	src := Sources(r)
	if len(src) != 6 {
		t.Errorf("Sources has %d entries, want 6: %v", len(src), src)
	}
	ref, ok := src["APP inbound 1"]
	if !ok || ref != (RuleRef{Profile: "APP", Direction: Inbound, Index: 1}) {
		t.Fatalf("APP inbound 1 -> %v, %v", ref, ok)
	}
	if rule := ref.Rule(r); rule == nil || rule.SrcTag != "APP_7890" {
		t.Errorf("Rule() = %+v", rule)
	}
	if rule := (RuleRef{Profile: "WEB", Direction: Outbound, Index: 1}).Rule(r); rule == nil || rule.Action != "allow" {
		t.Errorf("WEB outbound 1 = %+v", rule)
	}
	for _, bad := range []RuleRef{{"WEB", Outbound, 2}, {"WEB", Inbound, 0}, {"NOPE", Inbound, 1}, {"WEB", "sideways", 1}} {
		if bad.Rule(r) != nil {
			t.Errorf("%v.Rule() found a rule", bad)
		}
	}
	for _, tt := range []struct {
		c  string
		ok bool
	}{
		{"WEB inbound 2", true}, {"x.y-z_1 outbound 10", true},
		{"WEB inbound 0", false}, {"WEB inbound 01", false}, {"WEB in 1", false},
		{"from web-1: no profile accepted", false}, {"", false}, {"WEB inbound 2 x", false},
	} {
		ref, ok := ParseComment(tt.c)
		if ok != tt.ok || (ok && ref.Comment() != tt.c) {
			t.Errorf("ParseComment(%q) = %v, %v", tt.c, ref, ok)
		}
	}
	// Comments are never shortened: a profile id that validation refuses (300 bytes) gives a
	// full comment, and Compile refuses the ruleset instead of cutting its names.
	lp := strings.Repeat("p", 300)
	r2 := repo([]*schema.Profile{profile(lp, nil, allowAll, nil)}, endpoint("e", "node-1", "calie", []string{"198.18.0.1"}, lp))
	c := RuleRef{Profile: lp, Direction: Inbound, Index: 1}.Comment()
	if c != lp+" inbound 1" {
		t.Errorf("comment %q…", c[:20])
	}
	if ref, ok := Sources(r2)[c]; !ok || ref.Profile != lp {
		t.Errorf("comment not in Sources")
	}
	if rs, err := Compile(r2, Options{Host: "node-1"}); err == nil || rs != nil || !strings.Contains(err.Error(), "is 312 bytes; nf_tables names are at most 255") {
		t.Errorf("Compile of a 300-byte profile id: %v", err)
	}
}

// TestCompiledIsCanonical checks that a compiled model is already in the canonical form that
// the dataplane's Observe returns (nft.Ruleset.Canonical), so that plan can compare them
// directly. Port lists included: they are shared sets, sorted and merged (the port-ranges
// case has unordered lists).
func TestCompiledIsCanonical(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			rs := compileCase(t, tc)
			c := rs.Canonical()
			if !reflect.DeepEqual(rs, c) {
				t.Errorf("not canonical:\n%s\ncanonical:\n%s", rs, c)
			}
		})
	}
}

// checkEndpointChain asserts what every per-endpoint chain must keep: no anonymous set (the
// kernel handles many of them in one table quadratically) except in the anti-spoof match of
// an endpoint with several nets of one family; and, in from- and host- chains, no accept,
// jump or goto before the MAC and address anti-spoof drops (SPEC §3: anti-spoofing applies
// to every packet, before any allowance, conntrack included).
func checkEndpointChain(t *testing.T, c *nft.Chain, kind string) {
	t.Helper()
	lastSpoof, firstAllow := -1, -1
	for i, r := range c.Rules {
		spoof := false
		for _, m := range r.Matches {
			if m.Kind == nft.MatchEtherSAddr || (m.Kind == nft.MatchSAddr && m.Not) || (m.Kind == nft.MatchNFProto && len(r.Matches) == 1 && r.Verdict.Kind == nft.Drop) {
				spoof = true
			}
			n := len(m.Protos) + len(m.Ports) + len(m.Nums)
			if !(m.Kind == nft.MatchSAddr && m.Not) {
				n += len(m.Prefixes)
			}
			if n > 1 {
				t.Errorf("chain %q rule %d holds an anonymous set: %s", c.Name, i+1, r)
			}
		}
		if spoof && r.Verdict.Kind == nft.Drop {
			lastSpoof = i
		}
		if firstAllow < 0 && (r.Verdict.Kind == nft.Accept || r.Verdict.Kind == nft.Jump || r.Verdict.Kind == nft.Goto) {
			firstAllow = i
		}
	}
	if kind == KindTo || len(c.Rules) == 1 {
		return
	}
	if lastSpoof < 0 {
		t.Errorf("chain %q has no anti-spoof drop", c.Name)
	}
	switch kind {
	case KindFrom:
		if firstAllow < lastSpoof {
			t.Errorf("chain %q: rule %d (%s) allows before the anti-spoof drop %d", c.Name, firstAllow+1, c.Rules[firstAllow], lastSpoof+1)
		}
	case KindHost:
		// Only the jump to shared-host-early (DHCP, DHCPv6 and ND from the unspecified or
		// link-local address) may come before the address checks, and only after the MAC one.
		for i, r := range c.Rules[:lastSpoof] {
			if r.Verdict.Kind == nft.Jump && r.Verdict.Chain == ChainSharedHostEarly {
				for _, q := range c.Rules[i:] {
					if len(q.Matches) == 1 && q.Matches[0].Kind == nft.MatchEtherSAddr {
						t.Errorf("chain %q: the MAC check comes after jump %s", c.Name, ChainSharedHostEarly)
					}
				}
				continue
			}
			if r.Verdict.Kind == nft.Accept || r.Verdict.Kind == nft.Jump || r.Verdict.Kind == nft.Goto {
				t.Errorf("chain %q: rule %d (%s) allows before the anti-spoof drops", c.Name, i+1, r)
			}
		}
	}
}
