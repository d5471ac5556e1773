package schema

import "testing"

func rtInt(n int) *int { return &n }

// TestRuleString: the printer. That every text parses back to the rule (calicoctl.ParseRule)
// is tested with the parser, in reconcile/calicoctl (TestRuleStringParsesBack,
// TestRuleTextRoundTrip).
func TestRuleString(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		want string
	}{
		{"bare allow", Rule{Action: "allow"}, "allow"},
		{"seed default inbound", Rule{Action: "allow", SrcTag: "WEB"}, "allow from tag WEB"},
		{"seed tcp ports", Rule{Action: "allow", Protocol: "tcp", DstPorts: []PortRange{{80, 80}, {443, 443}}}, "allow tcp to ports 80,443"},
		{"seed icmp type", Rule{Action: "allow", Protocol: "icmp", ICMPType: rtInt(8)}, "allow icmp type 8"},
		{"seed APP rule", Rule{Action: "allow", Protocol: "tcp", DstPorts: []PortRange{{7890, 7890}}, SrcTag: "APP_7890"}, "allow tcp from tag APP_7890 to ports 7890"},
		{"pprint order within a side", Rule{Action: "deny", Protocol: "udp", SrcPorts: []PortRange{{53, 53}, {1000, 2000}}, SrcTag: "T", SrcNet: "198.18.0.0/15"}, "deny udp from ports 53,1000:2000 tag T cidr 198.18.0.0/15"},
		{"icmp type and code", Rule{Action: "deny", Protocol: "icmp", ICMPType: rtInt(3), ICMPCode: rtInt(1), DstNet: "198.18.0.0/15"}, "deny icmp type 3 code 1 to cidr 198.18.0.0/15"},
		{"bare v4 address gets /32", Rule{Action: "allow", SrcNet: "198.18.1.2"}, "allow from cidr 198.18.1.2/32"},
		{"bare v6 address gets /128, lower case", Rule{Action: "allow", DstNet: "FD00:1::2"}, "allow to cidr fd00:1::2/128"},
		{"host bits kept", Rule{Action: "allow", SrcNet: "198.18.7.1/24"}, "allow from cidr 198.18.7.1/24"},
		{"both sides", Rule{Action: "allow", SrcTag: "A", DstTag: "B"}, "allow from tag A to tag B"},
		{"log with prefix", Rule{Action: "log", LogPrefix: "WEB-SSH:", Protocol: "tcp", DstPorts: []PortRange{{22, 22}}}, "log prefix WEB-SSH: tcp to ports 22"},
		{"ip version", Rule{Action: "deny", IPVersion: 6}, "deny ipv6"},
		{"protocol number", Rule{Action: "allow", Protocol: "47"}, "allow 47"},
		{"sctp ports", Rule{Action: "allow", Protocol: "sctp", DstPorts: []PortRange{{9899, 9899}}}, "allow sctp to ports 9899"},
		{"negated protocol", Rule{Action: "deny", NotProtocol: "udp"}, "deny not udp"},
		{"negated side fields", Rule{Action: "allow", Protocol: "tcp", NotSrcPorts: []PortRange{{1, 1023}}, NotSrcTag: "BAD", NotDstNet: "198.18.0.0/15", DstTag: "OK"}, "allow tcp from not ports 1:1023 not tag BAD to tag OK not cidr 198.18.0.0/15"},
		{"negated icmp pair", Rule{Action: "allow", Protocol: "icmp", NotICMPType: rtInt(3), NotICMPCode: rtInt(1)}, "allow icmp not type 3 code 1"},
		{"negated icmp code alone", Rule{Action: "allow", Protocol: "icmpv6", ICMPType: rtInt(1), NotICMPCode: rtInt(4)}, "allow icmpv6 type 1 not code 4"},
		{"everything", Rule{Action: "log", LogPrefix: "x", IPVersion: 4, Protocol: "tcp", NotProtocol: "udp", SrcPorts: []PortRange{{1, 1}}, SrcTag: "S", SrcNet: "1.2.3.4", DstPorts: []PortRange{{2, 3}}, NotDstTag: "N"},
			"log prefix x ipv4 tcp not udp from ports 1 tag S cidr 1.2.3.4/32 to ports 2:3 not tag N"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rule.String()
			if got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormatNet(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"198.18.0.1", "198.18.0.1/32"},
		{"198.18.7.1/24", "198.18.7.1/24"},
		{"FD00::1/64", "fd00::1/64"},
		{"fd00:0:0::1", "fd00::1/128"},
		{"198.18.0.0/33", "198.18.0.0/33"},
		{"web", "web"},
	} {
		if got := FormatNet(tt.in); got != tt.want {
			t.Errorf("FormatNet(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
