package nft

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/limits"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// newKernel opens a Kernel in a fresh private namespace.
func newKernel(t testing.TB, hint string) (*Kernel, string) {
	t.Helper()
	ns := testenv.NewNetns(t, hint)
	k, err := NewKernel(testenv.Open(t, netns.Open, ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k, ns
}

// nftFile runs `nft -f` of a script inside a namespace.
func nftFile(t testing.TB, ns, script string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.nft")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.NetnsRun(t, ns, "nft", "-f", path)
}

var (
	reHandle  = regexp.MustCompile(`(?m)^(inet \S+ \S+)( \d+)+$`)
	reCounter = regexp.MustCompile(`(counter (pkts|packets) )\d+( bytes )\d+`)
	reHandleC = regexp.MustCompile(` # handle \d+`)
)

// listTable returns `nft list table` and the bytecode of `nft --debug=netlink list table`,
// without handles and counter values.
func listTable(t testing.TB, ns, table string) (text, bytecode string) {
	t.Helper()
	text = testenv.NetnsRun(t, ns, "nft", "list", "table", "inet", table)
	bytecode = testenv.NetnsRun(t, ns, "nft", "--debug=netlink", "list", "table", "inet", table)
	norm := func(s string) string {
		s = reHandle.ReplaceAllString(s, "$1")
		s = reHandleC.ReplaceAllString(s, "")
		s = reCounter.ReplaceAllString(s, "${1}0${3}0")
		s = strings.ReplaceAll(s, "\n\n", "\n")
		// Elements of a hash set are dumped in hash order, which differs between two
		// otherwise identical sets: sort each run of element lines.
		lines := strings.Split(s, "\n")
		for i := 0; i < len(lines); {
			j := i
			for j < len(lines) && strings.HasPrefix(lines[j], "\telement ") {
				j++
			}
			if j > i {
				slices.Sort(lines[i:j])
				i = j
				continue
			}
			i++
		}
		return strings.Join(lines, "\n")
	}
	return norm(text), norm(bytecode)
}

func TestKernelRoundTrip(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, ns := newKernel(t, "rt")
	want := sampleRuleset("rtest")
	if !reflect.DeepEqual(want, want.Canonical()) {
		t.Fatalf("the fixture is not canonical:\n%s\ncanonical:\n%s", want, want.Canonical())
	}

	if got, err := k.Observe(ctx, "rtest"); err != nil || got != nil {
		t.Fatalf("Observe of a missing table = %v, %v; want nil, nil", got, err)
	}
	if err := k.Apply(ctx, want); err != nil {
		t.Fatalf("Apply on a missing table: %v", err)
	}
	got, err := k.Observe(ctx, "rtest")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Observe after Apply differs:\n%s\nwant:\n%s", got, want)
	}
	if got.Digest() != want.Digest() {
		t.Errorf("digests differ")
	}

	// The same model through the text script in another namespace: nft must hold the very
	// same ruleset, both as listed text and as bytecode.
	ns2 := testenv.NewNetns(t, "rt2")
	nftFile(t, ns2, want.Script())
	text1, code1 := listTable(t, ns, "rtest")
	text2, code2 := listTable(t, ns2, "rtest")
	if text1 != text2 {
		t.Errorf("nft list differs between Apply and nft -f of Script():\n--- Apply\n%s\n--- nft -f\n%s", text1, text2)
	}
	if code1 != code2 {
		t.Errorf("bytecode differs between Apply and nft -f of Script():\n--- Apply\n%s\n--- nft -f\n%s", code1, code2)
	}
	// And reading nft's own bytecode back gives the model too.
	k2, err := NewKernel(testenv.Open(t, netns.Open, ns2))
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	got2, err := k2.Observe(ctx, "rtest")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got2, want) {
		t.Errorf("Observe of the nft -f table differs:\n%s\nwant:\n%s", got2, want)
	}

	// Applying again replaces the table (present this time).
	if err := k.Apply(ctx, want); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if got, err := k.Observe(ctx, "rtest"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Observe after the second Apply: %v\n%s", err, got)
	}
}

func TestKernelCanonicalises(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, _ := newKernel(t, "canon")
	rs := &Ruleset{
		Table: "canon",
		Sets:  []*Set{{Name: "s", Type: SetIPv4, Prefixes: pfx("198.18.1.0/24", "198.18.0.0/24", "198.18.3.0/24")}},
		Chains: []*Chain{{Name: "c", Rules: []*Rule{
			{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{17, 6}}, {Kind: MatchDPort, Ports: []PortRange{{443, 443}, {80, 80}}}}, Verdict: Verdict{Kind: Accept}},
			{Matches: []Match{{Kind: MatchDPort, Ports: []PortRange{{81, 90}, {80, 80}, {91, 91}, {100, 100}}}}, Verdict: Verdict{Kind: Accept}},
			{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddr, Family: IPv4, Prefixes: pfx("198.18.0.9/32", "198.18.0.1/32")}}, Verdict: Verdict{Kind: Accept}},
			{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddr, Family: IPv4, Prefixes: pfx("198.18.2.0/24", "198.18.1.0/24", "198.18.9.9/32")}}, Verdict: Verdict{Kind: Accept}},
			{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchL4Proto, Protos: []uint8{1}}, {Kind: MatchICMPTypeCode, Family: IPv4, Type: 8, Code: 0}}, Verdict: Verdict{Kind: Accept}},
			{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchSPort, Ports: []PortRange{{1, 1}}}, {Kind: MatchDPort, Ports: []PortRange{{2, 2}}}}, Verdict: Verdict{Kind: Accept}},
		}}},
	}
	if err := k.Apply(ctx, rs); err != nil {
		t.Fatal(err)
	}
	got, err := k.Observe(ctx, "canon")
	if err != nil {
		t.Fatal(err)
	}
	want := rs.Canonical()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Observe differs from Canonical():\n%s\nwant:\n%s", got, want)
	}
	if c := want.Canonical(); !reflect.DeepEqual(c, want) {
		t.Errorf("Canonical is not idempotent:\n%s", c)
	}
	wantText := []string{
		"198.18.0.0/23",
		"meta l4proto { 6, 17 } th dport { 80, 443 }",
		"th dport { 80-91, 100 }",
		"ip saddr { 198.18.0.1, 198.18.0.9 }",
		"ip saddr { 198.18.1.0/24, 198.18.2.0/24, 198.18.9.9 }",
		"icmp type 8 icmp code 0",
		"th sport 1 th dport 2",
	}
	for _, w := range wantText {
		if !strings.Contains(got.String(), w) {
			t.Errorf("observed table lacks %q:\n%s", w, got)
		}
	}
}

func TestKernelForeignRuleIsDrift(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, ns := newKernel(t, "foreign")
	want := sampleRuleset("rtest")
	if err := k.Apply(ctx, want); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cmd  []string
	}{
		{"extra accept", []string{"add", "rule", "inet", "rtest", "to-web-1", "accept"}},
		{"unknown statement", []string{"insert", "rule", "inet", "rtest", "to-web-1", "meta", "mark", "set", "1", "drop"}},
		{"unknown expression", []string{"add", "rule", "inet", "rtest", "from-app-1", "rt", "mtu", "1500", "drop"}},
		{"rule before ours", []string{"insert", "rule", "inet", "rtest", "forward-from", "ip", "saddr", "198.18.9.9", "accept"}},
		{"counter first", []string{"insert", "rule", "inet", "rtest", "from-app-1", "counter", "ip", "saddr", "198.18.9.9", "drop"}},
		{"log level", []string{"insert", "rule", "inet", "rtest", "from-app-1", "log", "prefix", "\"x\"", "level", "info", "drop"}},
		{"set element", []string{"add", "element", "inet", "rtest", "tag-v4-WEB", "{", "198.18.200.0/24", "}"}},
		{"map element", []string{"add", "element", "inet", "rtest", "dispatch-to", "{", "\"calix\"", ":", "drop", "}"}},
		{"port set element", []string{"add", "element", "inet", "rtest", "v-ports-web", "{", "22", "}"}},
		{"port set element removed", []string{"delete", "element", "inet", "rtest", "v-ports-web", "{", "443", "}"}},
		{"icmpv6 type set element", []string{"add", "element", "inet", "rtest", "v-icmpv6-types", "{", "1", "}"}},
		{"chain", []string{"add", "chain", "inet", "rtest", "extra"}},
		{"policy", []string{"add", "chain", "inet", "rtest", "forward-to", "{", "type", "filter", "hook", "forward", "priority", "10", ";", "policy", "drop", ";", "}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := k.Apply(ctx, want); err != nil {
				t.Fatal(err)
			}
			testenv.NetnsRun(t, ns, "nft", tt.cmd...)
			got, err := k.Observe(ctx, "rtest")
			if err != nil {
				t.Fatal(err)
			}
			if reflect.DeepEqual(got, want) || got.Digest() == want.Digest() {
				t.Fatalf("a hand-made change (%s) is invisible in Observe:\n%s", strings.Join(tt.cmd, " "), got)
			}
		})
	}
	// A port added to a shared port set by hand reads back in the set, so that plan and the
	// simulator see it.
	if err := k.Apply(ctx, want); err != nil {
		t.Fatal(err)
	}
	testenv.NetnsRun(t, ns, "nft", "add", "element", "inet", "rtest", "v-ports-web", "{", "22", "}")
	if got, err := k.Observe(ctx, "rtest"); err != nil {
		t.Fatal(err)
	} else {
		for _, s := range got.Sets {
			if s.Name == "v-ports-web" && strings.Join(s.Elements(), ",") != "22,80,443,8000-8080" {
				t.Errorf("port set read back as %v after adding 22 by hand", s.Elements())
			}
		}
	}
	// A rule with an expression the decoder does not know reads back as an unknown match,
	// never as a plain `drop`.
	if err := k.Apply(ctx, want); err != nil {
		t.Fatal(err)
	}
	testenv.NetnsRun(t, ns, "nft", "add", "rule", "inet", "rtest", "from-app-1", "rt", "mtu", "1500", "drop")
	got, err := k.Observe(ctx, "rtest")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got.Chains {
		if c.Name != "from-app-1" {
			continue
		}
		last := c.Rules[len(c.Rules)-1]
		if len(last.Matches) == 0 || last.Matches[0].Kind != MatchUnknown {
			t.Errorf("foreign rule read back as %q, want an unknown match", last.String())
		}
	}
}

func TestKernelOtherTableUntouched(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, ns := newKernel(t, "other")
	nftFile(t, ns, "table inet other {\n\tchain c {\n\t\ttype filter hook forward priority -5; policy drop;\n\t\tip saddr 198.18.0.1 counter accept\n\t}\n}\ntable ip rtest {\n\tchain c {\n\t\tdrop\n\t}\n}\n")
	others := func() string {
		return testenv.NetnsRun(t, ns, "nft", "list", "table", "inet", "other") +
			testenv.NetnsRun(t, ns, "nft", "list", "table", "ip", "rtest")
	}
	before := others()
	rs := sampleRuleset("rtest")
	for i := 0; i < 2; i++ {
		if err := k.Apply(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := k.Observe(ctx, "other"); err != nil || got == nil || len(got.Chains) != 1 || len(got.Chains[0].Rules) != 1 {
		t.Fatalf("Observe(other) = %v, %v", got, err)
	}
	if after := others(); after != before || !strings.Contains(after, "policy drop") {
		t.Errorf("other tables changed:\n--- before\n%s\n--- after\n%s", before, after)
	}
	if got, err := k.Observe(ctx, "rtest"); err != nil || !reflect.DeepEqual(got, rs) {
		t.Errorf("our table next to the others: %v\n%s", err, got)
	}
}

func TestKernelFailedApplyKeepsOldTable(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, ns := newKernel(t, "fail")
	old := sampleRuleset("rtest")
	if err := k.Apply(ctx, old); err != nil {
		t.Fatal(err)
	}
	oldText, _ := listTable(t, ns, "rtest")
	loop := &Ruleset{Table: "rtest", Chains: []*Chain{
		{Name: "a", Rules: []*Rule{{Verdict: Verdict{Kind: Jump, Chain: "b"}}}},
		{Name: "b", Rules: []*Rule{{Verdict: Verdict{Kind: Jump, Chain: "a"}}}},
		{Name: "base", Base: &BaseChain{Hook: HookForward, Policy: Accept}, Rules: []*Rule{{Verdict: Verdict{Kind: Jump, Chain: "a"}}}},
	}}
	toBase := &Ruleset{Table: "rtest", Chains: []*Chain{
		{Name: "base", Base: &BaseChain{Hook: HookInput, Policy: Accept}},
		{Name: "c", Rules: []*Rule{{Verdict: Verdict{Kind: Goto, Chain: "base"}}}},
	}}
	for name, bad := range map[string]*Ruleset{"chain loop": loop, "goto base chain": toBase} {
		err := k.Apply(ctx, bad)
		if err == nil {
			t.Fatalf("%s: Apply succeeded, want the kernel to reject it", name)
		}
		t.Logf("%s: %v", name, err)
		text, _ := listTable(t, ns, "rtest")
		if text != oldText {
			t.Fatalf("%s: the failed Apply changed the table:\n%s", name, text)
		}
		got, err := k.Observe(ctx, "rtest")
		if err != nil || !reflect.DeepEqual(got, old) {
			t.Fatalf("%s: Observe after the failed Apply: %v\n%s", name, err, got)
		}
	}
	// Same on a namespace without the table: a failed first apply leaves no table.
	k2, ns2 := newKernel(t, "fail2")
	if err := k2.Apply(ctx, loop); err == nil {
		t.Fatal("Apply of a chain loop succeeded")
	}
	if got, err := k2.Observe(ctx, "rtest"); err != nil || got != nil {
		t.Fatalf("a failed first Apply left %v, %v", got, err)
	}
	if out := testenv.NetnsRun(t, ns2, "nft", "list", "ruleset"); strings.TrimSpace(out) != "" {
		t.Fatalf("ruleset not empty after a failed first Apply:\n%s", out)
	}
}

func TestKernelRejectsInvalidModel(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, ns := newKernel(t, "invalid")
	old := sampleRuleset("rtest")
	if err := k.Apply(ctx, old); err != nil {
		t.Fatal(err)
	}
	base := func(r *Rule) *Ruleset {
		rs := sampleRuleset("rtest")
		rs.Chains[2].Rules = append(rs.Chains[2].Rules, r)
		return rs
	}
	tests := []struct {
		name string
		rs   *Ruleset
		want string
	}{
		{"missing chain", base(&Rule{Verdict: Verdict{Kind: Jump, Chain: "nope"}}), `jump to chain "nope", which the table does not declare`},
		{"missing set", base(&Rule{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddrSet, Family: IPv4, Str: "nope"}}}), `set "nope" is not declared`},
		{"set family", base(&Rule{Matches: []Match{{Kind: MatchNFProto, Family: IPv6}, {Kind: MatchSAddrSet, Family: IPv6, Str: "tag-v4-WEB"}}}), `does not hold IPv6 addresses`},
		{"no nfproto", base(&Rule{Matches: []Match{{Kind: MatchSAddr, Family: IPv4, Prefixes: pfx("198.18.0.0/16")}}}), "needs a preceding `meta nfproto ipv4`"},
		{"no l4proto", base(&Rule{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchICMPType, Family: IPv4, Nums: []uint8{8}}}}), "needs a preceding `meta l4proto 1`"},
		{"long comment", base(&Rule{Verdict: Verdict{Kind: Accept}, Comment: strings.Repeat("x", limits.MaxComment+1)}), "is 129 bytes; nft takes at most 128"},
		{"keyword table", func() *Ruleset { rs := sampleRuleset("rtest"); rs.Table = "policy"; return rs }(), `table name "policy" is an nft keyword`},
		{"wildcard ifname", func() *Ruleset {
			rs := sampleRuleset("rtest")
			rs.Maps[0].Elements[0].Key = "cali*"
			return rs
		}(), `interface name "cali*" contains "*"`},
		{"bad mac", base(&Rule{Matches: []Match{{Kind: MatchEtherSAddr, Str: "zz"}}}), `"zz" is not an Ethernet MAC address`},
		{"unknown", base(&Rule{Matches: []Match{{Kind: MatchUnknown, Str: "x"}}}), "cannot be applied"},
		{"overlap", func() *Ruleset {
			rs := sampleRuleset("rtest")
			rs.Sets[2].Prefixes = pfx("198.18.0.0/16", "198.18.1.0/24")
			return rs
		}(), "overlap"},
		{"long ifname", func() *Ruleset {
			rs := sampleRuleset("rtest")
			rs.Maps[0].Elements[0].Key = "abcdefghijklmnop"
			return rs
		}(), `interface name "abcdefghijklmnop"`},
		{"mixed family set", func() *Ruleset {
			rs := sampleRuleset("rtest")
			rs.Sets[2].Prefixes = pfx("fd00::/64")
			return rs
		}(), "is not an IPv4 prefix"},
		{"empty table name", &Ruleset{}, "table name is empty"},
		{"negated ct states", base(&Rule{Matches: []Match{{Kind: MatchCtState, Not: true, CtState: CtNew | CtInvalid}}}), "exactly one state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := k.Apply(ctx, tt.rs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	got, err := k.Observe(ctx, "rtest")
	if err != nil || !reflect.DeepEqual(got, old) {
		t.Fatalf("an invalid model changed the table: %v\n%s", err, got)
	}
	_ = ns
}

func TestKernelContextAndClose(t *testing.T) {
	testenv.RequireKernel(t)
	k, ns := newKernel(t, "ctx")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := k.Apply(ctx, sampleRuleset("rtest")); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a cancelled context = %v", err)
	}
	if _, err := k.Observe(ctx, "rtest"); !errors.Is(err, context.Canceled) {
		t.Errorf("Observe with a cancelled context = %v", err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.Apply(context.Background(), sampleRuleset("rtest")); err == nil {
		t.Error("Apply after Close succeeded")
	}
	// A missing namespace or a file that is not one is netns.Open's error (reconcile/netns).
	// Closing a Kernel leaves its handle open: the owner closes it, and may open another
	// Kernel on it, which reaches the same namespace.
	h, err := netns.Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := NewKernel(h)
	if err != nil {
		t.Fatal(err)
	}
	err = k2.Apply(context.Background(), sampleRuleset("rtest"))
	if cerr := k2.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	k3, err := NewKernel(h)
	if err != nil {
		t.Fatalf("NewKernel on a handle whose first Kernel was closed: %v", err)
	}
	got, err := k3.Observe(context.Background(), "rtest")
	if cerr := k3.Close(); err != nil || cerr != nil || got == nil {
		t.Fatalf("a second Kernel on the handle does not see the table the first applied: %v %v %v", got, err, cerr)
	}
	// A handle closed before the Kernel is opened is refused, naming the namespace.
	if err := h.Close(); err != nil {
		t.Fatalf("the handle was closed by Kernel.Close: %v", err)
	}
	if _, err := NewKernel(h); err == nil || !strings.Contains(err.Error(), "handle is closed") || !strings.Contains(err.Error(), ns) {
		t.Errorf("NewKernel of a closed handle = %v", err)
	}
}

// Observe lists the named stateful objects and flowtables of the table, of every kind the
// kernel takes, by kind and name, and only those of this table and family; Apply, which
// replaces the table, removes them.
func TestKernelObserveForeignObjects(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, ns := newKernel(t, "objects")
	nftFile(t, ns, "table inet rtest {\n\tcounter c1 {\n\t}\n\tquota q1 {\n\t\tover 10 mbytes\n\t}\n\tlimit l1 {\n\t\trate 10/second\n\t}\n}\n"+
		"table ip rtest {\n\tcounter other-family {\n\t}\n}\ntable inet other {\n\tquota other-table {\n\t\t100 mbytes\n\t}\n}\n")
	want := []ForeignObject{{"counter", "c1"}, {"limit", "l1"}, {"quota", "q1"}}
	// Kinds whose module a kernel may lack: added one by one, kept when the kernel takes them.
	for _, o := range []struct {
		obj  ForeignObject
		decl string
	}{
		{ForeignObject{"ct helper", "h"}, `ct helper h { type "ftp" protocol tcp; }`},
		{ForeignObject{"ct timeout", "tmo"}, "ct timeout tmo { protocol tcp; l3proto ip; policy = { established: 100 }; }"},
		{ForeignObject{"ct expectation", "e"}, "ct expectation e { protocol tcp; dport 21; timeout 1s; size 10; l3proto ip; }"},
		{ForeignObject{"synproxy", "sp"}, "synproxy sp { mss 1460; wscale 7; }"},
		{ForeignObject{"flowtable", "f"}, "flowtable f { hook ingress priority 0; devices = { lo }; }"},
	} {
		path := filepath.Join(t.TempDir(), "obj.nft")
		if err := os.WriteFile(path, []byte("table inet rtest {\n\t"+o.decl+"\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "-f", path).CombinedOutput()
		if err != nil {
			if !strings.Contains(string(out), "No such file or directory") && !strings.Contains(string(out), "not supported") {
				t.Fatalf("nft -f %s: %v\n%s", o.decl, err, out)
			}
			t.Logf("kernel does not take %s; left out", o.decl)
			continue
		}
		want = append(want, o.obj)
	}
	want = canonForeign(want)
	got, err := k.Observe(ctx, "rtest")
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got.Chains)+len(got.Sets)+len(got.Maps) != 0 || !slices.Equal(got.Foreign, want) {
		t.Fatalf("Observe = %+v, want only the objects %v", got, want)
	}
	rs := sampleRuleset("rtest")
	if err := k.Apply(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Observe(ctx, "rtest"); err != nil || !reflect.DeepEqual(got, rs) {
		t.Errorf("after apply: %v\n%s", err, got)
	}
	if got, err := k.Observe(ctx, "other"); err != nil || got == nil || !slices.Equal(got.Foreign, []ForeignObject{{"quota", "other-table"}}) {
		t.Errorf("Observe(other) = %+v, %v", got, err)
	}
	if out := testenv.NetnsRun(t, ns, "nft", "list", "table", "ip", "rtest"); !strings.Contains(out, "counter other-family") {
		t.Errorf("table ip rtest changed:\n%s", out)
	}
}
