package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// The seed's worked example, command by command with its listings checked byte for byte, is
// reconcile/e2e's TestSeedTranscriptBinary (through the built binary).

// TestCalicoctlCommonFlags: common flags before the command name reach the calicoctl commands
// as they should (--dir used, --host an endpoint filter, others ignored, --repo refused).
func TestCalicoctlCommonFlags(t *testing.T) {
	pol := filepath.Join("..", "..", "policies")
	tests := []struct {
		args       []string
		code       int
		stdout     string
		stderrPart string
	}{
		{[]string{"--log-level", "debug", "-o", "json", "--table=x", "--dir", pol, "profile", "CLIENT", "tag", "show"}, 0, "CLIENT\n", ""},
		{[]string{"profile", "CLIENT", "tag", "show", "--dir=" + pol}, 0, "CLIENT\n", ""},
		{[]string{"--host", "node-1", "--dir", pol, "endpoint", "show"}, 0,
			"+----------+---------------------+\n| Hostname | Number of Endpoints |\n+----------+---------------------+\n|  node-1  |          1          |\n+----------+---------------------+\n\n", ""},
		{[]string{"--repo", "https://example.invalid/x.git", "profile", "show"}, 1, "", "use --dir PATH"},
		{[]string{"--dir", pol, "profile", "NOPE", "tag", "show"}, 1, "Profile NOPE not found.\n", ""},
		{[]string{"--dir", pol, "endpoint", "nope", "profile", "show"}, 1, "Failed to list profiles in endpoint.\n\nEndpoint nope is unknown to Calico.\n\n", ""},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, strings.NewReader(""), &stdout, &stderr)
		if code != tt.code || stdout.String() != tt.stdout || !strings.Contains(stderr.String(), tt.stderrPart) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q",
				tt.args, code, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderrPart)
		}
	}
}
