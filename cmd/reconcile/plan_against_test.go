package main

import (
	"bytes"
	"strings"
	"testing"
)

// plan --against compares two checkouts without a kernel: the plan of a pull request.
func TestPlanAgainstBaseCheckout(t *testing.T) {
	base := t.TempDir()
	head := t.TempDir()
	web := "id: WEB\ntags: [WEB]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [%s]\noutbound_rules:\n  - action: allow\n"
	eps := "endpoints:\n  - id: web-1\n    host: node-1\n    interface: caliweb1\n    ipv4_nets: [198.18.1.2/32]\n    profile_ids: [WEB]\n"
	writeFiles(t, base, map[string]string{"endpoints/lab.yaml": eps, "profiles/WEB.yaml": strings.Replace(web, "%s", "80", 1)})
	writeFiles(t, head, map[string]string{"endpoints/lab.yaml": eps, "profiles/WEB.yaml": strings.Replace(web, "%s", "80, 443", 1)})

	var out, errb bytes.Buffer
	code := run([]string{"plan", "--dir", head, "--against", base, "--host", "node-1", "--detailed-exitcode"}, nil, &out, &errb)
	if code != 2 {
		t.Fatalf("exit %d, want 2 (changes); stderr:\n%s", code, errb.String())
	}
	for _, want := range []string{
		"~ profile WEB inbound",
		`- meta l4proto 6 th dport 80 counter accept comment "WEB inbound 1"`,
		// The list is a set shared by the rules with it, named after its content: a new set
		// here, and the rule line names its ports.
		`+ meta l4proto 6 th dport @ports-7a5b8556aede09cd { 80, 443 } counter accept comment "WEB inbound 1"`,
		"+ list ports-7a5b8556aede09cd\n" +
			"    + set ports-7a5b8556aede09cd { type inet_service; flags interval; }\n" +
			"        + 80\n" +
			"        + 443\n",
		"Plan: 1 to add, 1 to change, 0 to destroy.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan output lacks %q:\n%s", want, out.String())
		}
	}

	// The same checkout against itself: no changes, exit 0.
	out.Reset()
	errb.Reset()
	if code := run([]string{"plan", "--dir", base, "--against", base, "--host", "node-1", "--detailed-exitcode"}, nil, &out, &errb); code != 0 {
		t.Fatalf("plan of a checkout against itself: exit %d, want 0\n%s%s", code, out.String(), errb.String())
	}

	// A host that no endpoint is on gets a note (the default --host is the machine's name).
	out.Reset()
	errb.Reset()
	if code := run([]string{"plan", "--dir", base, "--against", base, "--host", "node-9"}, nil, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), `Note: no endpoint of the repository is on host "node-9" (check --host)`) {
		t.Fatalf("unknown host: exit %d, output:\n%s%s", code, out.String(), errb.String())
	}

	// An invalid head is reported with positions, exit 1.
	writeFiles(t, head, map[string]string{"profiles/WEB.yaml": strings.Replace(web, "%s", "70000", 1)})
	out.Reset()
	errb.Reset()
	if code := run([]string{"plan", "--dir", head, "--against", base, "--host", "node-1"}, nil, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "profiles/WEB.yaml:6:") {
		t.Fatalf("invalid head: exit %d, stderr:\n%s", code, errb.String())
	}
}
