package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile"
)

func countersSample() *reconcile.CountersResult {
	installed := time.Date(2026, 11, 30, 18, 2, 7, 0, time.UTC)
	later := time.Date(2026, 11, 30, 18, 40, 0, 0, time.UTC)
	return &reconcile.CountersResult{
		Table: "reconcile", Host: "node-1", Time: time.Date(2026, 11, 30, 19, 0, 1, 0, time.UTC),
		AppliedRevision: "sha256:aaa", TextRevision: "sha256:aaa",
		CounterReading: &reconcile.CounterReading{
			Rules: []reconcile.RuleHits{
				{Profile: "WEB", Direction: "inbound", Rule: 2, Text: "allow tcp from tag APP to ports 80,443", Packets: 1234, Bytes: 98_000, NFTRules: 2, Since: &installed},
				{Profile: "APP", Direction: "outbound", Rule: 1, Text: "allow", Packets: 0, Bytes: 0, NFTRules: 1, Since: &later},
				{Profile: "WEB", Direction: "inbound", Rule: 3, Text: "deny udp", Packets: 0, NFTRules: 1, Since: &installed, SinceAtLeast: true},
				{Profile: "WEB", Direction: "outbound", Rule: 1, Packets: 0, NFTRules: 1},
			},
			Drops: []reconcile.DropHits{
				{Reason: reconcile.DropAntiSpoofing, Packets: 3, Bytes: 144, NFTRules: 5},
				{Reason: reconcile.DropNoProfileAccepted, Packets: 1_000_000, Bytes: 1_500_000_000, NFTRules: 4},
				{Reason: reconcile.DropInactiveEndpoint, NFTRules: 3},
				{Reason: reconcile.DropEndpointToHost, Packets: 1, Bytes: 60, NFTRules: 2},
			},
		},
	}
}

func TestCountersText(t *testing.T) {
	var out bytes.Buffer
	if err := writeCountersText(&out, &globals{host: "node-1"}, countersSample()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Rule counters of table inet reconcile, host node-1, read at 2026-11-30 19:00:01 UTC.\n",
		"WEB      inbound    2     1,234    98 KB  allow tcp from tag APP to ports 80,443\n",
		"APP      outbound   1     0        0 B    allow   never matched since 2026-11-30 18:40 UTC\n",
		"deny udp   never matched since at least 2026-11-30 18:02 UTC\n",
		"(not in sha256:aaa)   never matched (since: unknown)\n",
		"no profile accepted  1,000,000  1.5 GB\n",
		"anti-spoofing        3          144 B\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text:\n%s\nwant the line %q", out.String(), want)
		}
	}
}

// TestCountersTextUnknownTexts: when the repository could not be read, a rule without a text
// is not said to be missing from the repository.
func TestCountersTextUnknownTexts(t *testing.T) {
	res := countersSample()
	res.TextRevision, res.TextError = "", "fetch dir:/srv/policy: no such file or directory"
	for i := range res.Rules {
		res.Rules[i].Text = ""
	}
	var out bytes.Buffer
	if err := writeCountersText(&out, &globals{host: "node-1"}, res); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "not in") || !strings.Contains(s, "Rule texts: unknown (fetch dir:/srv/policy") ||
		!strings.Contains(s, "98 KB  (unknown)\n") {
		t.Errorf("text:\n%s", s)
	}
}

func TestCountersJSON(t *testing.T) {
	var out bytes.Buffer
	if err := writeJSON(&out, countersJSON(&globals{host: "node-1"}, countersSample())); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Rules []map[string]any `json:"rules"`
		Drops []map[string]any `json:"drops"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	r := got.Rules[0]
	if r["profile"] != "WEB" || r["direction"] != "inbound" || r["rule"] != 2.0 || r["packets"] != 1234.0 || r["bytes"] != 98000.0 ||
		r["nft_rules"] != 2.0 || r["since"] != "2026-11-30T18:02:07Z" || r["text"] != "allow tcp from tag APP to ports 80,443" {
		t.Errorf("rule: %v", r)
	}
	if r := got.Rules[3]; r["since"] != nil || r["text"] != nil {
		t.Errorf("unknown since and text: %v", r)
	}
	if got.Rules[2]["since_at_least"] != true || len(got.Drops) != 4 || got.Drops[1]["reason"] != "no-profile-accepted" {
		t.Errorf("rules %v drops %v", got.Rules, got.Drops)
	}
}

func TestNumbers(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[uint64]string{0: "0 B", 999: "999 B", 1000: "1.0 KB", 98_000: "98 KB", 1_500_000_000: "1.5 GB", 12_345_678: "12 MB",
		9_949: "9.9 KB", 9_960: "10 KB", 999_499: "999 KB", 999_600: "1.0 MB", 9_999_999: "10 MB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCountersRefusesDetailedExitcode(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"status", "--counters", "--detailed-exitcode", "--dir", t.TempDir()}, strings.NewReader(""), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "--detailed-exitcode: not with --counters") || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
