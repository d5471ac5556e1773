package nft

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

// fakeSample is a small valid table in the compiled layout.
func fakeSample() *Ruleset {
	return &Ruleset{
		Table: "reconcile",
		Sets: []*Set{
			{Name: "tag-v6-WEB", Type: SetIPv6, Prefixes: []netip.Prefix{netip.MustParsePrefix("fd00::1/128")}},
			{Name: "tag-v4-WEB", Type: SetIPv4, Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.2.0/24"), netip.MustParsePrefix("198.18.1.7/24")}},
		},
		Maps: []*Map{
			{Name: "dispatch-from", Elements: []MapElement{{Key: "caliz", Verdict: Verdict{Kind: Goto, Chain: "from-z"}}, {Key: "calia", Verdict: Verdict{Kind: Goto, Chain: "from-a"}}}},
		},
		Chains: []*Chain{
			{Name: "forward-from", Base: &BaseChain{Hook: HookForward, Priority: 0}, Rules: []*Rule{
				{Matches: []Match{{Kind: MatchCtState, CtState: CtInvalid}}, Verdict: Verdict{Kind: Drop}},
				{VMap: &VMapLookup{Key: MatchIIFName, Map: "dispatch-from"}},
			}},
			{Name: "from-a", Rules: []*Rule{
				{Matches: []Match{{Kind: MatchEtherSAddr, Not: true, Str: "ee:ee:ee:ee:ee:ee"}}, Verdict: Verdict{Kind: Drop}},
				{Verdict: Verdict{Kind: Jump, Chain: "profile-out-WEB"}},
				{Verdict: Verdict{Kind: Drop}},
			}},
			{Name: "from-z", Rules: []*Rule{{Verdict: Verdict{Kind: Drop}}}},
			{Name: "profile-out-WEB", Rules: []*Rule{
				{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchDAddrSet, Family: IPv4, Str: "tag-v4-WEB"}, {Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchDPort, Ports: []PortRange{{80, 80}, {8000, 8080}}}},
					Counter: true, Log: &Log{Prefix: "web"}, Comment: "WEB outbound 1"},
				{Counter: true, Verdict: Verdict{Kind: Accept}, Comment: "WEB outbound 2"},
			}},
		},
	}
}

func TestFakeApplyObserve(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	if rs, err := f.Observe(ctx, "reconcile"); rs != nil || err != nil {
		t.Fatalf("Observe of an absent table = %v, %v; want nil, nil", rs, err)
	}
	desired := fakeSample()
	before := desired.String()
	if err := f.Apply(ctx, desired); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if desired.String() != before {
		t.Fatal("Apply changed its argument")
	}
	got, err := f.Observe(ctx, "reconcile")
	if err != nil || got == nil {
		t.Fatalf("Observe = %v, %v", got, err)
	}
	// Canonical form: sorted names, masked sorted prefixes, sorted map keys, explicit policy.
	var names []string
	for _, s := range got.Sets {
		names = append(names, s.Name)
	}
	for _, c := range got.Chains {
		names = append(names, c.Name)
	}
	if want := "tag-v4-WEB tag-v6-WEB forward-from from-a from-z profile-out-WEB"; strings.Join(names, " ") != want {
		t.Fatalf("names = %v, want %s", names, want)
	}
	if p := got.Sets[0].Prefixes; p[0].String() != "198.18.1.0/24" || p[1].String() != "198.18.2.0/24" {
		t.Fatalf("prefixes = %v", p)
	}
	if k := got.Maps[0].Elements[0].Key; k != "calia" {
		t.Fatalf("first map key = %q", k)
	}
	if got.Chains[0].Base.Policy != Accept {
		t.Fatalf("policy = %q, want accept", got.Chains[0].Base.Policy)
	}
	// A deep copy: changing it changes nothing in the fake.
	got.Chains[3].Rules[0].Matches[3].Ports[0].First = 1
	got.Sets[0].Prefixes[0] = netip.MustParsePrefix("198.18.0.0/15")
	got.Chains[3].Rules[0].Log.Prefix = "x"
	again, _ := f.Observe(ctx, "reconcile")
	if again.Chains[3].Rules[0].Matches[3].Ports[0].First != 80 || again.Sets[0].Prefixes[0].String() != "198.18.1.0/24" || again.Chains[3].Rules[0].Log.Prefix != "web" {
		t.Fatal("Observe returned shared memory")
	}
	// Observing twice gives equal models; applying the observed model is a no-op change.
	if err := f.Apply(ctx, again); err != nil {
		t.Fatal(err)
	}
	third, _ := f.Observe(ctx, "reconcile")
	if !reflect.DeepEqual(again, third) {
		t.Fatal("re-applying the observed model changed it")
	}
	if f.Applies() != 2 || f.Attempts() != 2 || f.Observes() != 4 {
		t.Fatalf("counters: applies %d attempts %d observes %d", f.Applies(), f.Attempts(), f.Observes())
	}
	// Tables are kept by name.
	other := fakeSample()
	other.Table = "other"
	other.Chains = other.Chains[:0]
	other.Maps = nil
	if err := f.Apply(ctx, other); err != nil {
		t.Fatal(err)
	}
	if tables := f.Tables(); strings.Join(tables, ",") != "other,reconcile" {
		t.Fatalf("tables = %v", tables)
	}
	if rs, _ := f.Observe(ctx, "reconcile"); len(rs.Chains) != 4 {
		t.Fatal("applying another table changed reconcile")
	}
	f.Delete("reconcile")
	if rs, err := f.Observe(ctx, "reconcile"); rs != nil || err != nil {
		t.Fatalf("after Delete: %v, %v", rs, err)
	}
	f.Delete("reconcile") // absent: no-op
}

func TestFakeRejects(t *testing.T) {
	long := strings.Repeat("x", 256)
	tests := []struct {
		name  string
		edit  func(*Ruleset)
		errno syscall.Errno
		msg   string // substring of the error
	}{
		{"no table name", func(rs *Ruleset) { rs.Table = "" }, syscall.EINVAL, "NFT_MSG_NEWTABLE"},
		{"table name too long", func(rs *Ruleset) { rs.Table = long }, syscall.ERANGE, "is 256 bytes; nf_tables names are at most 255"},
		{"chain name too long", func(rs *Ruleset) { rs.Chains[2].Name = long }, syscall.ERANGE, "NFT_MSG_NEWCHAIN"},
		{"set name too long", func(rs *Ruleset) { rs.Sets[0].Name = long }, syscall.ERANGE, "NFT_MSG_NEWSET"},
		{"duplicate chain", func(rs *Ruleset) { rs.Chains = append(rs.Chains, &Chain{Name: "from-z"}) }, syscall.EEXIST, `chain "from-z" declared twice`},
		{"duplicate set", func(rs *Ruleset) { rs.Sets = append(rs.Sets, &Set{Name: "tag-v4-WEB", Type: SetIPv4}) }, syscall.EEXIST, "declared twice"},
		{"map named like a set", func(rs *Ruleset) { rs.Maps[0].Name = "tag-v4-WEB"; rs.Chains[0].Rules[1].VMap.Map = "tag-v4-WEB" }, syscall.EEXIST, "already a set or map"},
		{"base chain without hook", func(rs *Ruleset) { rs.Chains[0].Base.Hook = "" }, syscall.EINVAL, "has no hook"},
		{"base chain with a bad hook", func(rs *Ruleset) { rs.Chains[0].Base.Hook = "sideways" }, syscall.EOPNOTSUPP, `unknown hook "sideways"`},
		{"bad policy", func(rs *Ruleset) { rs.Chains[0].Base.Policy = Return }, syscall.EINVAL, "policy"},
		{"overlapping set prefixes", func(rs *Ruleset) {
			rs.Sets[1].Prefixes = append(rs.Sets[1].Prefixes, netip.MustParsePrefix("198.18.0.0/16"))
		}, syscall.EEXIST, "NFT_MSG_NEWSETELEM"},
		{"duplicate set prefix", func(rs *Ruleset) {
			rs.Sets[0].Prefixes = append(rs.Sets[0].Prefixes, netip.MustParsePrefix("fd00::1/128"))
		}, syscall.EEXIST, "overlaps"},
		{"v6 prefix in a v4 set", func(rs *Ruleset) { rs.Sets[1].Prefixes[0] = netip.MustParsePrefix("fd00::/64") }, syscall.EINVAL, "not an IPv4 prefix"},
		{"unknown set type", func(rs *Ruleset) { rs.Sets[0].Type = "ether_addr" }, syscall.EINVAL, "unknown type"},
		{"duplicate protocol", func(rs *Ruleset) { rs.Chains[3].Rules[0].Matches[2].Protos = []uint8{6, 6} }, syscall.EEXIST, "appears twice"},
		{"space in a name", func(rs *Ruleset) { rs.Chains[2].Name = "from z" }, syscall.EINVAL, `chain name "from z" contains " "`},
		{"keyword as a name", func(rs *Ruleset) { rs.Table = "policy" }, syscall.EINVAL, `table name "policy" is an nft keyword`},
		{"wildcard map key", func(rs *Ruleset) { rs.Maps[0].Elements[0].Key = "cali*" }, syscall.EINVAL, `interface name "cali*" contains "*"`},
		{"quote in a comment", func(rs *Ruleset) { rs.Chains[3].Rules[1].Comment = `a"b` }, syscall.EINVAL, `contains "\""`},
		{"empty map key", func(rs *Ruleset) { rs.Maps[0].Elements[0].Key = "" }, syscall.EINVAL, "interface name is empty"},
		{"reversed port range", func(rs *Ruleset) { rs.Chains[3].Rules[0].Matches[3].Ports = []PortRange{{90, 80}} }, syscall.EINVAL, "reversed"},
		{"jump to a missing chain", func(rs *Ruleset) { rs.Chains[1].Rules[1].Verdict.Chain = "profile-out-GONE" }, syscall.ENOENT, `"profile-out-GONE", which does not exist`},
		{"map element to a missing chain", func(rs *Ruleset) { rs.Maps[0].Elements[0].Verdict.Chain = "from-gone" }, syscall.ENOENT, `map "dispatch-from" element "caliz"`},
		{"jump to a base chain", func(rs *Ruleset) { rs.Chains[1].Rules[1].Verdict.Chain = "forward-from" }, syscall.EOPNOTSUPP, "base chain"},
		{"missing map", func(rs *Ruleset) { rs.Maps = nil }, syscall.ENOENT, `map "dispatch-from" does not exist`},
		{"missing set", func(rs *Ruleset) { rs.Sets = rs.Sets[:1] }, syscall.ENOENT, `set "tag-v4-WEB" does not exist`},
		{"set of the wrong family", func(rs *Ruleset) { rs.Chains[3].Rules[0].Matches[1].Str = "tag-v6-WEB" }, syscall.EINVAL, "type ipv6_addr"},
		{"map key too long", func(rs *Ruleset) { rs.Maps[0].Elements[0].Key = "sixteen-chars-xx" }, syscall.EINVAL, `"sixteen-chars-xx" is 16 bytes; at most 15`},
		{"duplicate map key", func(rs *Ruleset) { rs.Maps[0].Elements[1].Key = "caliz" }, syscall.EEXIST, `key "caliz" twice`},
		{"comment too long", func(rs *Ruleset) { rs.Chains[3].Rules[1].Comment = strings.Repeat("c", limits.MaxComment+1) }, syscall.ERANGE, "is 129 bytes; nft takes at most 128"},
		{"log prefix too long", func(rs *Ruleset) { rs.Chains[3].Rules[0].Log.Prefix = strings.Repeat("p", 128) }, syscall.ERANGE, "log prefix"},
		{"vmap and verdict", func(rs *Ruleset) { rs.Chains[0].Rules[1].Verdict = Verdict{Kind: Accept} }, syscall.EINVAL, "both a vmap and a verdict"},
		{"unknown expression", func(rs *Ruleset) {
			rs.Chains[2].Rules[0].Matches = []Match{{Kind: MatchUnknown, Str: "meta mark 1"}}
		}, syscall.EOPNOTSUPP, "cannot be applied"},
		{"bad mac", func(rs *Ruleset) { rs.Chains[1].Rules[0].Matches[0].Str = "ee:ee" }, syscall.EINVAL, "not a MAC address"},
		{"address match without family", func(rs *Ruleset) { rs.Chains[3].Rules[0].Matches[1].Family = 0 }, syscall.EINVAL, "needs family"},
		{"jump loop", func(rs *Ruleset) {
			rs.Chains[3].Rules = append(rs.Chains[3].Rules, &Rule{Verdict: Verdict{Kind: Goto, Chain: "from-a"}})
		}, syscall.ELOOP, "loop"},
		{"self loop", func(rs *Ruleset) { rs.Chains[2].Rules[0].Verdict = Verdict{Kind: Jump, Chain: "from-z"} }, syscall.ELOOP, "loop"},
		{"too deep", func(rs *Ruleset) {
			prev := rs.Chains[2]
			for i := range 17 {
				c := &Chain{Name: "deep-" + strings.Repeat("d", i+1)}
				prev.Rules = append(prev.Rules, &Rule{Verdict: Verdict{Kind: Jump, Chain: c.Name}})
				rs.Chains = append(rs.Chains, c)
				prev = c
			}
		}, syscall.EMLINK, "deeper than 15"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := NewFake()
			if err := f.Apply(ctx, fakeSample()); err != nil {
				t.Fatal(err)
			}
			old, _ := f.Observe(ctx, "reconcile")
			bad := fakeSample()
			tc.edit(bad)
			err := f.Apply(ctx, bad)
			if err == nil {
				t.Fatal("Apply accepted an invalid ruleset")
			}
			if !errors.Is(err, tc.errno) {
				t.Fatalf("err = %v, want errno %v", err, tc.errno)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "receive: NFT_MSG_") {
				t.Fatalf("err = %q, want the kernel's shape and %q", err, tc.msg)
			}
			now, _ := f.Observe(ctx, "reconcile")
			if !reflect.DeepEqual(old, now) {
				t.Fatal("a failed Apply changed the table")
			}
			if f.Applies() != 1 || f.Attempts() != 2 {
				t.Fatalf("applies %d attempts %d", f.Applies(), f.Attempts())
			}
			// Edit validates the same way (it keeps the table's name).
			if err := f.Edit("reconcile", func(rs *Ruleset) { *rs = *bad }); err == nil && tc.name != "no table name" && tc.name != "table name too long" && tc.name != "keyword as a name" {
				t.Fatal("Edit accepted an invalid change")
			}
		})
	}
}

func TestFakeMergesAnonymousSets(t *testing.T) {
	// Overlapping elements of an anonymous set are merged by nft, not refused; what Observe
	// returns is the canonical (merged) form.
	ctx := context.Background()
	f := NewFake()
	rs := fakeSample()
	rs.Chains[3].Rules[0].Matches[3].Ports = []PortRange{{8000, 8080}, {8080, 8090}}
	rs.Chains[1].Rules = append([]*Rule{{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddr, Family: IPv4, Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("198.19.0.0/16")}}}, Verdict: Verdict{Kind: Drop}}}, rs.Chains[1].Rules...)
	if err := f.Apply(ctx, rs); err != nil {
		t.Fatal(err)
	}
	got, _ := f.Observe(ctx, "reconcile")
	if !reflect.DeepEqual(got, rs.Canonical()) {
		t.Fatalf("Observe is not the canonical form:\n%s\nwant\n%s", got, rs.Canonical())
	}
	if p := got.Chains[3].Rules[0].Matches[3].Ports; len(p) != 1 || p[0] != (PortRange{8000, 8090}) {
		t.Fatalf("ports = %v, want one merged range", p)
	}
}

func TestFakeFailNextEditAndContext(t *testing.T) {
	ctx := context.Background()
	f := &Fake{} // the zero value works
	boom := errors.New("netlink: boom")
	f.FailNext(boom)
	if err := f.Apply(ctx, fakeSample()); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if rs, _ := f.Observe(ctx, "reconcile"); rs != nil {
		t.Fatal("a failed apply created the table")
	}
	if err := f.Apply(ctx, fakeSample()); err != nil {
		t.Fatalf("FailNext failed more than once: %v", err)
	}
	if f.Applies() != 1 || f.Attempts() != 2 {
		t.Fatalf("applies %d attempts %d", f.Applies(), f.Attempts())
	}

	// A hand edit: drift visible in Observe, not counted as an apply.
	if err := f.Edit("reconcile", func(rs *Ruleset) {
		rs.Chains[3].Rules = rs.Chains[3].Rules[1:]
	}); err != nil {
		t.Fatal(err)
	}
	rs, _ := f.Observe(ctx, "reconcile")
	if len(rs.Chains[3].Rules) != 1 || rs.Chains[3].Rules[0].Comment != "WEB outbound 2" {
		t.Fatalf("edit not visible: %v", rs.Chains[3].Rules)
	}
	if f.Applies() != 1 {
		t.Fatal("an edit counted as an apply")
	}
	if err := f.Edit("absent", func(*Ruleset) {}); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Edit of an absent table: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.Apply(cctx, fakeSample()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a cancelled context: %v", err)
	}
	if _, err := f.Observe(cctx, "reconcile"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Observe with a cancelled context: %v", err)
	}
	if err := f.Apply(ctx, nil); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Apply(nil): %v", err)
	}
}

// Foreign objects are what Observe reads, never what a model applies: the fake and the
// encoder refuse a model with them and nothing changes; Edit adds them as `nft add counter`
// does, and Apply, which replaces the table, removes them.
func TestFakeForeignObjects(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	rs := &Ruleset{Table: "t", Chains: []*Chain{{Name: "c"}}}
	if err := f.Apply(ctx, rs); err != nil {
		t.Fatal(err)
	}
	withObj := &Ruleset{Table: "t", Foreign: []ForeignObject{{Kind: "counter", Name: "c1"}}}
	if err := f.Apply(ctx, withObj); err == nil || !strings.Contains(err.Error(), `counter c1: the model cannot apply objects it only observes`) {
		t.Errorf("fake apply of a model with a counter: %v", err)
	}
	if _, err := encode(withObj); err == nil || !strings.Contains(err.Error(), "counter c1") {
		t.Errorf("encode of a model with a counter: %v", err)
	}
	if err := f.Edit("t", func(rs *Ruleset) {
		rs.Foreign = append(rs.Foreign, ForeignObject{Kind: "quota", Name: "q"}, ForeignObject{Kind: "counter", Name: "c1"}, ForeignObject{Kind: "quota", Name: "q"})
	}); err != nil {
		t.Fatal(err)
	}
	got, err := f.Observe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if want := []ForeignObject{{Kind: "counter", Name: "c1"}, {Kind: "quota", Name: "q"}}; !slices.Equal(got.Foreign, want) {
		t.Errorf("observed objects %v, want %v (sorted, once each)", got.Foreign, want)
	}
	if err := f.Apply(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Observe(ctx, "t"); got.Foreign != nil {
		t.Errorf("objects left after apply: %v", got.Foreign)
	}
}
