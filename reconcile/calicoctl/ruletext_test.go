package calicoctl

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/schema"
)

func rtInt(n int) *int { return &n }

func TestRuleStringParsesBack(t *testing.T) {
	tests := []struct {
		name string
		rule schema.Rule
		want string
	}{
		{"bare allow", schema.Rule{Action: "allow"}, "allow"},
		{"seed default inbound", schema.Rule{Action: "allow", SrcTag: "WEB"}, "allow from tag WEB"},
		{"seed tcp ports", schema.Rule{Action: "allow", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 80, Last: 80}, {First: 443, Last: 443}}}, "allow tcp to ports 80,443"},
		{"seed icmp type", schema.Rule{Action: "allow", Protocol: "icmp", ICMPType: rtInt(8)}, "allow icmp type 8"},
		{"seed APP rule", schema.Rule{Action: "allow", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 7890, Last: 7890}}, SrcTag: "APP_7890"}, "allow tcp from tag APP_7890 to ports 7890"},
		{"pprint order within a side", schema.Rule{Action: "deny", Protocol: "udp", SrcPorts: []schema.PortRange{{First: 53, Last: 53}, {First: 1000, Last: 2000}}, SrcTag: "T", SrcNet: "198.18.0.0/15"}, "deny udp from ports 53,1000:2000 tag T cidr 198.18.0.0/15"},
		{"icmp type and code", schema.Rule{Action: "deny", Protocol: "icmp", ICMPType: rtInt(3), ICMPCode: rtInt(1), DstNet: "198.18.0.0/15"}, "deny icmp type 3 code 1 to cidr 198.18.0.0/15"},
		{"bare v4 address gets /32", schema.Rule{Action: "allow", SrcNet: "198.18.1.2"}, "allow from cidr 198.18.1.2/32"},
		{"bare v6 address gets /128, lower case", schema.Rule{Action: "allow", DstNet: "FD00:1::2"}, "allow to cidr fd00:1::2/128"},
		{"host bits kept", schema.Rule{Action: "allow", SrcNet: "198.18.7.1/24"}, "allow from cidr 198.18.7.1/24"},
		{"both sides", schema.Rule{Action: "allow", SrcTag: "A", DstTag: "B"}, "allow from tag A to tag B"},
		{"log with prefix", schema.Rule{Action: "log", LogPrefix: "WEB-SSH:", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 22, Last: 22}}}, "log prefix WEB-SSH: tcp to ports 22"},
		{"ip version", schema.Rule{Action: "deny", IPVersion: 6}, "deny ipv6"},
		{"protocol number", schema.Rule{Action: "allow", Protocol: "47"}, "allow 47"},
		{"sctp ports", schema.Rule{Action: "allow", Protocol: "sctp", DstPorts: []schema.PortRange{{First: 9899, Last: 9899}}}, "allow sctp to ports 9899"},
		{"negated protocol", schema.Rule{Action: "deny", NotProtocol: "udp"}, "deny not udp"},
		{"negated side fields", schema.Rule{Action: "allow", Protocol: "tcp", NotSrcPorts: []schema.PortRange{{First: 1, Last: 1023}}, NotSrcTag: "BAD", NotDstNet: "198.18.0.0/15", DstTag: "OK"}, "allow tcp from not ports 1:1023 not tag BAD to tag OK not cidr 198.18.0.0/15"},
		{"negated icmp pair", schema.Rule{Action: "allow", Protocol: "icmp", NotICMPType: rtInt(3), NotICMPCode: rtInt(1)}, "allow icmp not type 3 code 1"},
		{"negated icmp code alone", schema.Rule{Action: "allow", Protocol: "icmpv6", ICMPType: rtInt(1), NotICMPCode: rtInt(4)}, "allow icmpv6 type 1 not code 4"},
		{"everything", schema.Rule{Action: "log", LogPrefix: "x", IPVersion: 4, Protocol: "tcp", NotProtocol: "udp", SrcPorts: []schema.PortRange{{First: 1, Last: 1}}, SrcTag: "S", SrcNet: "1.2.3.4", DstPorts: []schema.PortRange{{First: 2, Last: 3}}, NotDstTag: "N"},
			"log prefix x ipv4 tcp not udp from ports 1 tag S cidr 1.2.3.4/32 to ports 2:3 not tag N"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rule.String()
			if got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			back, err := ParseRule(strings.Fields(got))
			if err != nil {
				t.Fatalf("ParseRule(%q): %v", got, err)
			}
			if !reflect.DeepEqual(back, Canonical(tt.rule)) {
				t.Fatalf("ParseRule(%q) = %#v, want %#v", got, back, Canonical(tt.rule))
			}
		})
	}
}

func TestParseRuleCalicoctlGrammar(t *testing.T) {
	tests := []struct {
		text string
		want schema.Rule
	}{
		{"allow", schema.Rule{Action: "allow"}},
		{"deny tcp", schema.Rule{Action: "deny", Protocol: "tcp"}},
		{"allow tcp to ports 80,443", schema.Rule{Action: "allow", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 80, Last: 80}, {First: 443, Last: 443}}}},
		{"allow icmp type 8", schema.Rule{Action: "allow", Protocol: "icmp", ICMPType: rtInt(8)}},
		{"allow icmpv6 type 128 code 0 from cidr fd00::/8", schema.Rule{Action: "allow", Protocol: "icmpv6", ICMPType: rtInt(128), ICMPCode: rtInt(0), SrcNet: "fd00::/8"}},
		{"allow udp from ports 53 tag DNS cidr 198.18.7.1 to ports 1:2 tag X cidr 198.18.0.0/15",
			schema.Rule{Action: "allow", Protocol: "udp", SrcPorts: []schema.PortRange{{First: 53, Last: 53}}, SrcTag: "DNS", SrcNet: "198.18.7.1/32", DstPorts: []schema.PortRange{{First: 1, Last: 2}}, DstTag: "X", DstNet: "198.18.0.0/15"}},
		{"allow from", schema.Rule{Action: "allow"}},
		{"allow from to", schema.Rule{Action: "allow"}},
		{"deny to tag WEB", schema.Rule{Action: "deny", DstTag: "WEB"}},
		{"allow from tag not", schema.Rule{Action: "allow", SrcTag: "not"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := ParseRule(strings.Fields(tt.text))
			if err != nil {
				t.Fatalf("ParseRule: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseRuleErrors(t *testing.T) {
	tests := []struct {
		text    string
		wantErr string
		is      error
	}{
		{"", "empty rule", nil},
		{"accept", `unknown action "accept"`, nil},
		{"next-tier", `unknown action "next-tier"`, nil},
		{"allow icmp to ports 80", "ports need protocol", nil},
		{"allow to ports 80", "ports need protocol", nil},
		{"allow tcp type 8", `"type" needs protocol icmp`, nil},
		{"allow tcp to ports 80,x", "invalid ports", ErrRulePorts},
		{"allow tcp to ports 80-90", "invalid ports", ErrRulePorts},
		{"allow tcp to ports 90:80", "a < b", ErrRulePorts},
		{"allow tcp to ports 65536", "out of range", ErrRulePorts},
		{"allow tcp to ports", `"ports" needs a value`, nil},
		{"allow icmp type 256", "type 256 is out of range (0-255)", ErrRuleICMP},
		{"allow icmp type x", "not an integer", ErrRuleICMP},
		{"allow tcp to tag A from tag B", `unexpected "from"`, nil},
		{"allow tcp tcp", `unexpected "tcp"`, nil},
		{"allow from cidr 198.18.0.0/15 tag A", `unexpected "tag"`, nil},
		{"allow icmp code 1 type 3", `unexpected "type"`, nil},
		{"allow tcp extra", `unexpected "extra"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			_, err := ParseRule(strings.Fields(tt.text))
			if err == nil {
				t.Fatalf("ParseRule(%q) succeeded, want error %q", tt.text, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %q is not %v", err, tt.is)
			}
		})
	}
}

func TestRuleSameAs(t *testing.T) {
	a := schema.Rule{Action: "allow", SrcNet: "198.18.7.1/24", DstPorts: []schema.PortRange{{First: 80, Last: 80}}, Protocol: "tcp", Pos: schema.Pos{Line: 3}}
	tests := []struct {
		name string
		b    schema.Rule
		want bool
	}{
		{"identical but position", schema.Rule{Action: "allow", SrcNet: "198.18.7.1/24", DstPorts: []schema.PortRange{{First: 80, Last: 80}}, Protocol: "tcp"}, true},
		{"same network, other host bits", schema.Rule{Action: "allow", SrcNet: "198.18.7.0/24", DstPorts: []schema.PortRange{{First: 80, Last: 80}}, Protocol: "tcp"}, true},
		{"other action", schema.Rule{Action: "deny", SrcNet: "198.18.7.0/24", DstPorts: []schema.PortRange{{First: 80, Last: 80}}, Protocol: "tcp"}, false},
		{"other ports", schema.Rule{Action: "allow", SrcNet: "198.18.7.0/24", DstPorts: []schema.PortRange{{First: 81, Last: 81}}, Protocol: "tcp"}, false},
		{"net moved to dst", schema.Rule{Action: "allow", DstNet: "198.18.7.0/24", DstPorts: []schema.PortRange{{First: 80, Last: 80}}, Protocol: "tcp"}, false},
	}
	for _, tt := range tests {
		if got := SameAs(a, tt.b); got != tt.want {
			t.Errorf("%s: SameAs = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !SameAs(schema.Rule{Action: "allow", ICMPType: rtInt(8)}, schema.Rule{Action: "allow", ICMPType: rtInt(8)}) {
		t.Error("equal ICMP types through different pointers are not the same")
	}
}

// rtRandomRule generates a rule that obeys the model's constraints (SPEC §2): ports only with a
// port protocol, ICMP fields only with icmp/icmpv6, code only with type, nets of one family.
func rtRandomRule(r *rand.Rand) schema.Rule {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	maybe := func() bool { return r.IntN(3) == 0 }
	tag := func() string {
		return pick("WEB", "APP_7890", "a.b-c", "not", "from", "to", "tag", "cidr", "ports", "type", "code", "tcp", "7", "prefix", "ipv4")
	}
	var fam int
	net := func() string {
		if fam == 0 {
			fam = 4 + 2*r.IntN(2)
		}
		if fam == 4 {
			return pick("198.18.1.2", "198.18.0.0/15", "198.18.7.1/24", "0.0.0.0/0", "198.19.255.255/32")
		}
		return pick("fd00::1", "FD00:1::/64", "fd00:1::5/128", "::/0", "fd00::1:0:0:1/96")
	}
	ports := func() []schema.PortRange {
		n := 1 + r.IntN(4)
		out := make([]schema.PortRange, n)
		for i := range out {
			a := uint16(r.IntN(65536))
			if maybe() && a < 65535 {
				out[i] = schema.PortRange{First: a, Last: a + 1 + uint16(r.IntN(int(65535-a)))}
			} else {
				out[i] = schema.PortRange{First: a, Last: a}
			}
		}
		return out
	}
	icmp := func() *int { v := r.IntN(255); return &v }

	rule := schema.Rule{Action: pick("allow", "deny", "log")}
	if rule.Action == "log" && maybe() {
		rule.LogPrefix = pick("WEB", "drop:", "a-b_c:1", "ipv6", "tcp", "not")
	}
	if maybe() {
		rule.Protocol = schema.Protocol(pick("tcp", "udp", "icmp", "icmpv6", "sctp", "udplite", "6", "17", "47", "255", "1", "58"))
	}
	if maybe() {
		rule.NotProtocol = schema.Protocol(pick("tcp", "udp", "icmp", "132", "2"))
	}
	switch rule.Protocol.ICMPFamily() {
	case 4:
		fam = 4
	case 6:
		fam = 6
	}
	if rule.Protocol.ICMPFamily() != 0 {
		if maybe() {
			rule.ICMPType = icmp()
			if maybe() {
				rule.ICMPCode = icmp()
			}
		}
		if maybe() {
			rule.NotICMPType = icmp()
			if maybe() {
				rule.NotICMPCode = icmp()
			}
		} else if maybe() {
			rule.NotICMPCode = icmp()
		}
	}
	hasPorts := rule.Protocol.HasPorts()
	side := func(p *[]schema.PortRange, tg, nt *string, np *[]schema.PortRange, ntg, nnt *string) {
		if hasPorts && maybe() {
			*p = ports()
		}
		if maybe() {
			*tg = tag()
		}
		if maybe() {
			*nt = net()
		}
		if hasPorts && maybe() {
			*np = ports()
		}
		if maybe() {
			*ntg = tag()
		}
		if maybe() {
			*nnt = net()
		}
	}
	side(&rule.SrcPorts, &rule.SrcTag, &rule.SrcNet, &rule.NotSrcPorts, &rule.NotSrcTag, &rule.NotSrcNet)
	side(&rule.DstPorts, &rule.DstTag, &rule.DstNet, &rule.NotDstPorts, &rule.NotDstTag, &rule.NotDstNet)
	if maybe() {
		if fam == 0 {
			fam = 4 + 2*r.IntN(2)
		}
		rule.IPVersion = fam
	}
	return rule
}

// TestRuleTextRoundTrip is the property: for every valid rule r,
// ParseRule(strings.Fields(r.String())) == Canonical(r), and the text is stable.
func TestRuleTextRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		r := rtRandomRule(rng)
		text := r.String()
		if strings.HasSuffix(text, " ") || strings.Contains(text, "  ") {
			t.Fatalf("rule %d: text %q has stray spaces", i, text)
		}
		back, err := ParseRule(strings.Fields(text))
		if err != nil {
			t.Fatalf("rule %d %#v: ParseRule(%q): %v", i, r, text, err)
		}
		if !reflect.DeepEqual(back, Canonical(r)) {
			t.Fatalf("rule %d: ParseRule(%q)\n got  %#v\n want %#v", i, text, back, Canonical(r))
		}
		if again := back.String(); again != text {
			t.Fatalf("rule %d: text not stable: %q then %q", i, text, again)
		}
		if !SameAs(back, r) {
			t.Fatalf("rule %d: parsed rule is not SameAs the original (%q)", i, text)
		}
	}
}

// FuzzParseRule: whatever parses renders to a text that parses to the same rule.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"allow", "allow from tag WEB", "allow tcp to ports 80,443", "allow icmp type 8",
		"log prefix X ipv4 tcp not udp from ports 1:2 not tag A to not cidr 198.18.0.0/15", "deny icmp not type 3 code 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(strings.Fields(s))
		if err != nil {
			return
		}
		text := r.String()
		back, err := ParseRule(strings.Fields(text))
		if err != nil {
			t.Fatalf("ParseRule(%q) ok, but its text %q does not parse: %v", s, text, err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("%q -> %q -> %#v, want %#v", s, text, back, r)
		}
	})
}
