package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Every error that stops apply before its pass (a flag value the command refuses, an extra
// argument, a namespace or key file that cannot be opened, exclusive flags) ends with
// "; nothing was changed", as docs/OPERATIONS.md ("Exit codes and messages") says of every
// failure of apply but "applied but not recorded"; once, and on the one last line.
func TestApplyPrePassErrorsSayNothingWasChanged(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string // what the line starts with, after "reconcile: "
	}{
		{"verify mode", []string{"--repo", "file:///nonexistent", "--verify", "bogus"}, `unknown verification mode "bogus"`},
		{"verify without keys", []string{"--repo", "file:///nonexistent", "--verify", "head"}, "--verify=head needs --trusted-keys"},
		{"keys file missing", []string{"--repo", "file:///nonexistent", "--verify", "head", "--trusted-keys", filepath.Join(dir, "none")}, "trusted keys: "},
		{"log format", []string{"--dir", dir, "--log-format", "xml"}, `unknown log format "xml"`},
		{"log level", []string{"--dir", dir, "--log-level", "loud"}, `unknown log level "loud"`},
		{"output", []string{"--dir", dir, "-o", "yaml"}, `unknown output format "yaml"`},
		{"repo and dir", []string{"--dir", dir, "--repo", "file:///nonexistent"}, "--repo and --dir are exclusive"},
		{"ref without repo", []string{"--dir", dir, "--ref", "main"}, "--ref needs --repo"},
		{"namespace", []string{"--dir", dir, "--netns", filepath.Join(dir, "no-such-netns")}, "open network namespace "},
		{"extra argument", []string{"--dir", dir, "extra"}, `unknown command "extra" for "reconcile apply"`},
		// Neither --repo nor --dir: the working directory is not taken (an empty one would
		// apply a ruleset that filters nothing).
		{"no source", nil, "apply needs the policy repository: give --repo URL or --dir PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"apply", "--state-dir", filepath.Join(dir, "state"), "--host", "node-1"}, tc.args...)
			_, stderr, code := runCLI(args...)
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			last := lines[len(lines)-1]
			if code != 1 || !strings.HasPrefix(last, "reconcile: "+tc.want) || !strings.HasSuffix(last, "; nothing was changed") ||
				strings.Count(stderr, "nothing was changed") != 1 {
				t.Errorf("apply %q: exit %d, stderr %q; want 1 and a last line %q…; nothing was changed", tc.args, code, stderr, "reconcile: "+tc.want)
			}
		})
	}
}

// watch without --repo or --dir refuses to start, as apply does (see requireSource).
func TestWatchNeedsASource(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := runCLI("watch", "--state-dir", filepath.Join(dir, "state"), "--host", "node-1")
	if code != 1 || stderr != "reconcile: watch needs the policy repository: give --repo URL or --dir PATH (it does not default to the working directory)\n" {
		t.Errorf("watch without a source: exit %d, stderr %q", code, stderr)
	}
}
