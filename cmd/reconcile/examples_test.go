package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The shipped systemd units must start: their ExecStart command line parses with this
// program's flags and arguments (a flag written "--heal enabled" instead of "--heal=enabled"
// turns "enabled" into an argument, and the unit fails at every start).
func TestExampleUnitsParse(t *testing.T) {
	units, err := filepath.Glob("../../examples/systemd/*.service")
	if err != nil || len(units) == 0 {
		t.Fatalf("no example units found (%v)", err)
	}
	vars := regexp.MustCompile(`\$\{[A-Z_]+\}`)
	for _, u := range units {
		t.Run(filepath.Base(u), func(t *testing.T) {
			b, err := os.ReadFile(u)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.ReplaceAll(string(b), "\\\n", " ")
			var line string
			for _, l := range strings.Split(text, "\n") {
				if rest, ok := strings.CutPrefix(l, "ExecStart="); ok {
					line = rest
				}
			}
			fields := strings.Fields(vars.ReplaceAllString(line, "x"))
			if len(fields) < 2 || filepath.Base(fields[0]) != "reconcile" {
				t.Fatalf("ExecStart does not run reconcile: %q", line)
			}
			root := newRootCmd(&globals{stdin: &bytes.Buffer{}, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
			var sub = fields[1]
			cmd, _, err := root.Find([]string{sub})
			if err != nil || cmd == root {
				t.Fatalf("ExecStart runs unknown command %q: %v", sub, err)
			}
			if err := cmd.ParseFlags(fields[2:]); err != nil {
				t.Fatalf("ExecStart %q: flags: %v", line, err)
			}
			if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
				t.Fatalf("ExecStart %q: %v", line, err)
			}
		})
	}
}
