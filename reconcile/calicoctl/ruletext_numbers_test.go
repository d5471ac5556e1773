package calicoctl

import (
	"errors"
	"strings"
	"testing"
)

// TestRuleTextNumbers: rule add's and rule remove's rule text follows the same rule.
func TestRuleTextNumbers(t *testing.T) {
	bad := []struct {
		text, err string
		is        error
	}{
		{"allow tcp to ports 010", "invalid ports: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)", ErrRulePorts},
		{"allow tcp from ports 80,0x50", "invalid ports: 0x50 is hexadecimal: write 80 in decimal", ErrRulePorts},
		{"allow tcp to ports 08:10", `invalid ports: "08:10": 08 has a leading zero: write 8`, ErrRulePorts},
		{"allow tcp to ports 8000:+8080", `invalid ports: "8000:+8080": +8080 has a '+' sign: write 8080`, ErrRulePorts},
		{"allow tcp to not ports 1_000", "invalid ports: 1_000 has '_' in it: write 1000", ErrRulePorts},
		{"allow icmp type 010", "invalid ICMP type or code: type 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)", ErrRuleICMP},
		{"allow icmp type 8 code +0", "invalid ICMP type or code: code +0 has a '+' sign: write 0", ErrRuleICMP},
		{"allow icmp not type 8.0", "invalid ICMP type or code: not type 8.0 is not an integer: write 8", ErrRuleICMP},
		{"allow 06", "invalid protocol: 06 has a leading zero: write 6", ErrRuleProtocol},
		{"allow +6 to ports 80", "invalid protocol: +6 has a '+' sign: write 6", ErrRuleProtocol},
		{"allow tcp not 0x11", "invalid protocol: 0x11 is hexadecimal: write 17 in decimal", ErrRuleProtocol},
		{"allow 256", "invalid protocol: 256 is out of range (1-255)", ErrRuleProtocol},
		{"allow 0", "invalid protocol: 0 is out of range (1-255)", ErrRuleProtocol},
	}
	for _, tt := range bad {
		_, err := ParseRule(strings.Fields(tt.text))
		if err == nil || err.Error() != tt.err || !errors.Is(err, tt.is) {
			t.Errorf("ParseRule(%q) error = %v; want %q (%v)", tt.text, err, tt.err, tt.is)
		}
	}
	good := []struct{ text, want string }{
		{"allow tcp to ports 0,80,65535,8000:8080", "allow tcp to ports 0,80,65535,8000:8080"},
		{"allow 6 to ports 80", "allow 6 to ports 80"},
		{"allow icmp type 0 code 0", "allow icmp type 0 code 0"},
		{"deny 17 not 6", "deny 17 not 6"},
	}
	for _, tt := range good {
		r, err := ParseRule(strings.Fields(tt.text))
		if err != nil || r.String() != tt.want {
			t.Errorf("ParseRule(%q) = %q, %v; want %q", tt.text, r.String(), err, tt.want)
		}
	}
}
