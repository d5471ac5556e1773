package calicoctl

import (
	"strings"
	"testing"
)

// TestNumbersArePlainDecimal: rule text (rule add, rule remove), --at and the rules JSON of
// rule update take numbers in plain decimal only (schema.ParseDecimal); a number in another
// notation gets calicoctl's message (where calicoctl had one) and what to write on stderr, and
// the repository is not changed.
func TestNumbersArePlainDecimal(t *testing.T) {
	r := labRepo(t)
	const badPorts = "Invalid SRCPORTS or DSTPORTS specified.\n"
	const badICMP = "Invalid ICMP type or ICMP code specified.\n"
	runSteps(t, r, []step{
		// calicoctl's int() read 010 as 10; pflag and YAML 1.1 as 8: refused.
		{name: "the issue's ports 010", args: strings.Fields("profile WEB rule add inbound allow tcp to ports 010"), code: 1,
			stdout: badPorts, stderr: "reconcile: ports: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)\n", unchanged: true},
		{name: "hex port among others", args: strings.Fields("profile WEB rule add inbound allow tcp from ports 80,0x50"), code: 1,
			stdout: badPorts, stderr: "reconcile: ports: 0x50 is hexadecimal: write 80 in decimal\n", unchanged: true},
		{name: "range with a leading zero", args: strings.Fields("profile WEB rule add inbound allow tcp to ports 08:10"), code: 1,
			stdout: badPorts, stderr: `reconcile: ports: "08:10": 08 has a leading zero: write 8`, unchanged: true},
		{name: "negated ports with a plus", args: strings.Fields("profile WEB rule add inbound allow udp to not ports +53"), code: 1,
			stdout: badPorts, stderr: "reconcile: ports: +53 has a '+' sign: write 53", unchanged: true},
		{name: "icmp type 010", args: strings.Fields("profile WEB rule add inbound allow icmp type 010"), code: 1,
			stdout: badICMP, stderr: "reconcile: type: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)\n", unchanged: true},
		{name: "icmp code with a plus", args: strings.Fields("profile WEB rule add inbound allow icmp type 3 code +1"), code: 1,
			stdout: badICMP, stderr: "reconcile: code: +1 has a '+' sign: write 1\n", unchanged: true},
		{name: "icmp type 8.0", args: strings.Fields("profile WEB rule add inbound allow icmp not type 8.0"), code: 1,
			stdout: badICMP, stderr: "reconcile: type: 8.0 is not an integer: write 8\n", unchanged: true},
		{name: "protocol 06", args: strings.Fields("profile WEB rule add inbound allow 06"), code: 1,
			stderr: `reconcile: invalid rule "allow 06": invalid protocol: 06 has a leading zero: write 6`, unchanged: true},
		{name: "not protocol +17", args: strings.Fields("profile WEB rule add inbound allow tcp not +17"), code: 1,
			stderr: `invalid protocol: +17 has a '+' sign: write 17`, unchanged: true},
		{name: "remove by a rule with ports 010", args: strings.Fields("profile WEB rule remove inbound allow tcp to ports 010"), code: 1,
			stdout: badPorts, stderr: "reconcile: ports: 010 has a leading zero: write 10", unchanged: true},
		{name: "--at=01", args: strings.Fields("profile WEB rule add inbound --at=01 allow"), code: 1,
			stderr: "reconcile: --at: 01 has a leading zero: write 1\n", unchanged: true},
		{name: "--at=+1", args: strings.Fields("profile WEB rule remove inbound --at=+1"), code: 1,
			stderr: "reconcile: --at: +1 has a '+' sign: write 1\n", unchanged: true},
		{name: "--at 0x1", args: strings.Fields("profile WEB rule add inbound --at 0x1 allow"), code: 1,
			stderr: "reconcile: --at: 0x1 is hexadecimal: write 1 in decimal\n", unchanged: true},
		{name: "--at=1_0", args: strings.Fields("profile WEB rule add inbound --at=1_0 allow"), code: 1,
			stderr: "reconcile: --at: 1_0 has '_' in it: write 10\n", unchanged: true},
		{name: "--at beyond 32 bits", args: strings.Fields("profile WEB rule add inbound --at=99999999999 allow"), code: 1,
			stderr: "--at=99999999999: the position must be an integer", unchanged: true},
		// rule update reads the rules JSON as JSON: YAML would read 010 as 8.
		{name: "update with the issue's 010", args: strings.Fields("profile WEB rule update"),
			stdin: `{"inbound_rules": [{"action": "allow", "protocol": "tcp", "dst_ports": [010]}], "outbound_rules": []}`, code: 1,
			stderr: "  stdin:1:73: dst_ports: 010 has a leading zero: write 10 (a syntax error in JSON)\n", unchanged: true},
		{name: "update with a float", args: strings.Fields("profile WEB rule update"),
			stdin: `{"inbound_rules": [{"action": "allow", "protocol": "icmp", "icmp_type": 8.0}], "outbound_rules": []}`, code: 1,
			stderr: "  stdin:1:73: icmp_type: 8.0 is not an integer: write 8\n", unchanged: true},
		{name: "update with a protocol string 06", args: strings.Fields("profile WEB rule update"),
			stdin: `{"inbound_rules": [{"action": "allow", "protocol": "06"}], "outbound_rules": []}`, code: 1,
			stderr: "  stdin:1:52: protocol: \"06\" has a leading zero: write 6\n", unchanged: true},
		{name: "update with YAML", args: strings.Fields("profile WEB rule update"),
			stdin: "inbound_rules:\n  - {action: allow, protocol: tcp, dst_ports: [010]}\noutbound_rules: []\n", code: 1,
			stderr: "  stdin:1:1: syntax error: not valid JSON", unchanged: true},
		// Plain decimals work.
		{name: "ports", args: strings.Fields("profile WEB rule add inbound allow tcp to ports 0,80,65535,8000:8080")},
		{name: "protocol number", args: strings.Fields("profile WEB rule add inbound --at=1 deny 6 to ports 10")},
		{name: "icmp", args: strings.Fields("profile WEB rule add outbound --at 2 allow icmp type 0 code 0")},
		{name: "show", args: strings.Fields("profile WEB rule show"), unchanged: true,
			stdout: "Inbound rules:\n   1 deny 6 to ports 10\n   2 allow from tag WEB\n   3 allow tcp to ports 0,80,65535,8000:8080\n" +
				"Outbound rules:\n   1 allow\n   2 allow icmp type 0 code 0\n"},
		{name: "update with plain numbers", args: strings.Fields("profile APP rule update"),
			stdin:  `{"inbound_rules": [{"action": "allow", "protocol": "6", "dst_ports": [0, 8080, "1:65535"]}], "outbound_rules": [{"action": "allow", "protocol": 58, "icmp_type": 128, "ip_version": 6}]}`,
			stdout: "Successfully updated rules on profile APP\n"},
		{name: "show updated", args: strings.Fields("profile APP rule show"), unchanged: true,
			stdout: "Inbound rules:\n   1 allow 6 to ports 0,8080,1:65535\nOutbound rules:\n   1 allow ipv6 58 type 128\n"},
	})
}
