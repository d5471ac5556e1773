package schema

import "testing"

// Rule.String, the printer, is tested together with the parser in reconcile/calicoctl
// (TestRuleStringParsesBack: one table of rules, each with the text String must print and
// that text parsed back to the rule; TestRuleTextRoundTrip): the two directions share one
// table there rather than two copies of it.

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
