package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Findings H2 and M1 of issue 7 through the reconcile binary's entry point: an endpoint whose
// profile_ids come through a merge key, or whose mapping another endpoint merges, is not
// edited; the command exits 1 with the position and writes nothing.
func TestEndpointProfileEditThroughMergeKey(t *testing.T) {
	const lab = "endpoints:\n" +
		"  - &e1 {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}\n" +
		"  - <<: *e1\n" +
		"    id: web-2\n" +
		"    host: node-2\n" +
		"    interface: caliweb2\n" +
		"    ipv4_nets: [198.18.1.5/32]\n"
	files := map[string]string{
		"profiles/WEB.yaml":  "id: WEB\ntags: [WEB]\ninbound_rules: [{action: allow}]\noutbound_rules: [{action: allow}]\n",
		"profiles/APP.yaml":  "id: APP\ntags: [APP]\ninbound_rules: [{action: allow}]\noutbound_rules: [{action: allow}]\n",
		"endpoints/lab.yaml": lab,
	}
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"endpoint", "web-2", "profile", "remove", "WEB"}, `reconcile: endpoints/lab.yaml:3:5: cannot edit the file in place: profile_ids: endpoint "web-2" gets it through a merge key (<<)`},
		{[]string{"endpoint", "web-2", "profile", "set"}, `reconcile: endpoints/lab.yaml:3:5: cannot edit the file in place: profile_ids: endpoint "web-2" gets it through a merge key (<<)`},
		{[]string{"endpoint", "web-1", "profile", "append", "APP"}, `reconcile: endpoints/lab.yaml:2:5: cannot edit the file in place: profile_ids: &e1 (on this mapping) is used by an alias or merge key (*e1) elsewhere`},
	} {
		dir := writeRepo(t, files)
		out, errOut, code := runCLI(append(c.args, "--dir", dir)...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, c.err) || !strings.HasSuffix(errOut, "; nothing was written\n") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 1, nothing, %q", c.args, code, out, errOut, c.err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "endpoints/lab.yaml")); err != nil || string(b) != lab {
			t.Errorf("%q: the file changed:\n%s", c.args, b)
		}
		out, _, _ = runCLI("endpoint", "web-2", "profile", "show", "--dir", dir)
		if !strings.Contains(out, "WEB") || strings.Contains(out, "APP") {
			t.Errorf("%q: web-2 now has\n%s", c.args, out)
		}
	}
}
