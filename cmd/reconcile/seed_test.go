package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The seed's worked example (AdvancedNetworkPolicy.md), command by command, against an empty
// directory (in-process here; reconcile/e2e's TestSeedTranscriptBinary runs the same steps
// through the built binary). The listings the seed shows are in testdata/seed (copied from the seed, see its
// README.md); the outputs the seed does not show are calicoctl's messages from its source
// (calicoctl/calico_ctl/profile.py): "Created profile P", nothing for rule add/remove,
// "Successfully updated rules on profile P", "Tag T added to profile P".

// seedStep is one command of the worked example.
type seedStep struct {
	args  []string
	stdin string // a testdata/seed file fed on standard input
	// want is the expected standard output: literal text, or "@file" for a testdata/seed file.
	want string
	// pprintTrailingSpace marks the one listing where the seed shows a trailing space that
	// calicoctl's real Rule.pprint() never printed (" ".join of the tokens).
	pprintTrailingSpace bool
}

var seedSteps = []seedStep{
	{args: []string{"profile", "add", "WEB"}, want: "Created profile WEB\n"},
	{args: []string{"profile", "WEB", "rule", "show"}, want: "@rule-show-1.txt", pprintTrailingSpace: true},
	{args: []string{"profile", "WEB", "rule", "remove", "inbound", "--at=1"}, want: ""},
	{args: strings.Fields("profile WEB rule add inbound allow tcp to ports 80,443"), want: ""},
	{args: strings.Fields("profile WEB rule add inbound allow icmp type 8"), want: ""},
	{args: []string{"profile", "WEB", "rule", "show"}, want: "@rule-show-2.txt"},
	{args: []string{"profile", "add", "APP"}, want: "Created profile APP\n"},
	{args: []string{"profile", "APP", "rule", "update"}, stdin: "APP-rules.json", want: "Successfully updated rules on profile APP\n"},
	{args: []string{"profile", "WEB", "tag", "add", "APP_7890"}, want: "Tag APP_7890 added to profile WEB\n"},
	{args: []string{"profile", "WEB", "tag", "show"}, want: "@tag-show.txt"},
}

func seedFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seed", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stripLineEndSpaces removes spaces at the ends of lines.
func stripLineEndSpaces(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// checkSeedOutput compares one command's output with the seed, byte for byte.
func checkSeedOutput(t *testing.T, s seedStep, got string) {
	t.Helper()
	want := s.want
	if strings.HasPrefix(want, "@") {
		want = seedFile(t, want[1:])
	}
	if s.pprintTrailingSpace {
		if want == stripLineEndSpaces(want) {
			t.Fatalf("%q: the seed listing no longer has the trailing space this test accounts for", s.args)
		}
		if got != stripLineEndSpaces(got) {
			t.Errorf("%q: output has a trailing space, which calicoctl's pprint never printed:\n%q", s.args, got)
		}
		want = stripLineEndSpaces(want)
	}
	if got != want {
		t.Errorf("%q: output differs from the seed\n got: %q\nwant: %q", s.args, got, want)
	}
}

// checkSeedResult checks the files the example leaves behind: exactly the bundled
// policies/profiles/WEB.yaml and APP.yaml (whose hand-written comment header is skipped).
func checkSeedResult(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "profiles"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("profiles/ holds %d files, want WEB.yaml and APP.yaml", len(entries))
	}
	for _, name := range []string{"WEB.yaml", "APP.yaml"} {
		got, err := os.ReadFile(filepath.Join(dir, "profiles", name))
		if err != nil {
			t.Fatal(err)
		}
		bundled, err := os.ReadFile(filepath.Join("..", "..", "policies", "profiles", name))
		if err != nil {
			t.Fatal(err)
		}
		var body []string
		lines := strings.SplitAfter(string(bundled), "\n")
		i := 0
		for i < len(lines) && strings.HasPrefix(lines[i], "#") {
			i++
		}
		body = lines[i:]
		if string(got) != strings.Join(body, "") {
			t.Errorf("profiles/%s after the seed's commands:\n%s\nbut policies/profiles/%s holds:\n%s", name, got, name, strings.Join(body, ""))
		}
	}
}

func TestSeedTranscript(t *testing.T) {
	dir := t.TempDir()
	for _, s := range seedSteps {
		var stdin *strings.Reader
		if s.stdin != "" {
			stdin = strings.NewReader(seedFile(t, s.stdin))
		} else {
			stdin = strings.NewReader("")
		}
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"--dir", dir}, s.args...), stdin, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("%q: exit %d\nstdout:\n%s\nstderr:\n%s", s.args, code, stdout.String(), stderr.String())
		}
		if stderr.Len() > 0 {
			t.Errorf("%q: unexpected stderr %q", s.args, stderr.String())
		}
		checkSeedOutput(t, s, stdout.String())
	}
	checkSeedResult(t, dir)

	// The end state is a valid repository.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "--dir", dir}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("validate after the seed: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

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
