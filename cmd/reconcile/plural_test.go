package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The summary of an invalid repository counts its errors in English: "1 error", "2 errors",
// in every command that prints one (explain and test through loadNetwork; plan and apply
// through passFailed).
func TestInvalidSummaryPlural(t *testing.T) {
	one := map[string]string{
		"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: accept\n",
	}
	two := map[string]string{
		"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: accept\n",
		"endpoints/e.yaml": "endpoints:\n  - {id: a, host: h, interface: calia, ipv4_nets: [198.18.1.2]}\n" +
			"  - {id: b, host: h, interface: calib, ipv4_nets: [198.18.1.2]}\n",
	}
	errLine := regexp.MustCompile(`(?m)^\S+:\d+:\d+: `)
	summary := regexp.MustCompile(`(?m)^reconcile: the repository (at \S+ )?is invalid \(([^)]*)\)`)
	for _, tc := range []struct {
		files map[string]string
		want  string
	}{{one, "1 error"}, {two, "2 errors"}} {
		dir := writeRepo(t, tc.files)
		for _, args := range [][]string{
			{"explain", "--dir", dir, "--from", "a", "--to", "b", "--protocol", "tcp", "--port", "80"},
			{"test", "--dir", dir},
			{"plan", "--dir", dir, "--host", "h"},
		} {
			_, errOut, code := runCLI(args...)
			if code != 1 {
				t.Errorf("%s: exit %d, want 1", args[0], code)
			}
			m := summary.FindStringSubmatch(errOut)
			if m == nil || m[2] != tc.want {
				t.Errorf("%s: want a summary with (%s), stderr:\n%s", args[0], tc.want, errOut)
			}
			if n := len(errLine.FindAllString(errOut, -1)); strconv.Itoa(n) != strings.Fields(tc.want)[0] {
				t.Errorf("%s: %d error lines for (%s), stderr:\n%s", args[0], n, tc.want, errOut)
			}
		}
	}
}
