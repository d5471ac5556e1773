package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// The seed's worked example (AdvancedNetworkPolicy.md), command by command, through the built
// binary against an empty directory. The listings the seed shows are in
// reconcile/internal/testenv/testdata/seed (copied from the seed, see its README.md; read with
// testenv.SeedFile); the outputs the seed does not show are calicoctl's messages from its
// source (calicoctl/calico_ctl/profile.py): "Created profile P", nothing for rule add/remove,
// "Successfully updated rules on profile P", "Tag T added to profile P".

// seedStep is one command of the worked example.
type seedStep struct {
	args  []string
	stdin string // a seed listing (testenv.SeedFile) fed on standard input
	// want is the expected standard output: literal text, or "@file" for a seed listing.
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

// checkSeedOutput compares one command's output with the seed, byte for byte.
func checkSeedOutput(t *testing.T, s seedStep, got string) {
	t.Helper()
	want := s.want
	if strings.HasPrefix(want, "@") {
		want = testenv.SeedFile(t, want[1:])
	}
	if s.pprintTrailingSpace {
		if want == trimLines(want) {
			t.Fatalf("%q: the seed listing no longer has the trailing space this test accounts for", s.args)
		}
		if got != trimLines(got) {
			t.Errorf("%q: output has a trailing space, which calicoctl's pprint never printed:\n%q", s.args, got)
		}
		want = trimLines(want)
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
		lines := strings.SplitAfter(string(bundled), "\n")
		i := 0
		for i < len(lines) && strings.HasPrefix(lines[i], "#") {
			i++
		}
		if body := strings.Join(lines[i:], ""); string(got) != body {
			t.Errorf("profiles/%s after the seed's commands:\n%s\nbut policies/profiles/%s holds:\n%s", name, got, name, body)
		}
	}
}

// TestSeedTranscriptBinary runs the seed's commands through the built binary, so the real CLI
// (argument passing, exit codes, standard streams) is covered. --dir goes in a different place
// each time: before the command, after it, and as --dir=PATH at the end.
func TestSeedTranscriptBinary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := reconcileBin(t)
	dir := t.TempDir()
	for i, s := range seedSteps {
		var args []string
		switch i % 3 {
		case 0:
			args = append([]string{"--dir", dir}, s.args...)
		case 1:
			args = append([]string{s.args[0], "--dir", dir}, s.args[1:]...)
		default:
			args = append(append([]string{}, s.args...), "--dir="+dir)
		}
		cmd := exec.Command(bin, args...)
		if s.stdin != "" {
			cmd.Stdin = strings.NewReader(testenv.SeedFile(t, s.stdin))
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%q: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
		}
		if stderr.Len() > 0 {
			t.Errorf("%q: unexpected stderr %q", args, stderr.String())
		}
		checkSeedOutput(t, s, stdout.String())
	}
	checkSeedResult(t, dir)

	// The end state is a valid repository.
	if out, err := exec.Command(bin, "validate", "--dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("validate after the seed: %v\n%s", err, out)
	}

	// Exit codes reach the process: a missing profile is calicoctl's exit 1.
	cmd := exec.Command(bin, "--dir", dir, "profile", "NOPE", "rule", "show")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || string(out) != "Profile NOPE not found.\n" {
		t.Fatalf("profile NOPE rule show: err %v, output %q; want exit 1 and calicoctl's message", err, out)
	}
}
