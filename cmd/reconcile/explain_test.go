package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// simRepo returns the seed's worked example's profiles (WEB and APP, from workedExample) on
// two hosts, plus a client, and a tests file.
func simRepo(t *testing.T) map[string]string {
	t.Helper()
	worked := workedExample(t)
	return map[string]string{
		"profiles/WEB.yaml": worked["profiles/WEB.yaml"],
		"profiles/APP.json": worked["profiles/APP.json"],
		"profiles/CLIENT.yaml": `id: CLIENT
tags: [CLIENT]
inbound_rules: []
outbound_rules:
  - {action: log, log_prefix: OUT}
  - {action: allow}
`,
		"endpoints/lab.yaml": `endpoints:
  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], ipv6_nets: ["fd00:1::2/128"], profile_ids: [WEB]}
  - {id: app-1, host: node-1, interface: caliapp1, ipv4_nets: [198.18.1.3/32], profile_ids: [APP]}
  - {id: client-1, host: node-2, interface: caliclient1, ipv4_nets: [198.18.2.10/32], profile_ids: [CLIENT]}
`,
		"tests/reach.yaml": `tests:
  - {name: client reaches web on 80, from: client-1, to: web-1, protocol: tcp, port: 80, expect: allow}
  - {name: web reaches app on 7890, from: web-1, to: app-1, protocol: tcp, port: 7890, expect: allow}
  - {from: client-1, to: app-1, protocol: tcp, port: 7890, expect: deny}
  - {name: ping from outside, from: 198.18.9.9, to: web-1, protocol: icmp, expect: allow}
`,
	}
}

func TestExplainCommand(t *testing.T) {
	dir := writeRepo(t, simRepo(t))
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string // substring
	}{
		{"seed across hosts", []string{"--from", "client-1", "--to", "web-1", "--protocol", "tcp", "--port", "80"}, 0,
			`client-1 (198.18.2.10, node-2) -> web-1 (198.18.1.2, node-1): tcp/80
  outbound at node-2 (client-1): allow by CLIENT outbound 2: allow
  inbound  at node-1 (web-1):    allow by WEB inbound 1: allow tcp to ports 80,443
  logged: "OUT: "
Verdict: allowed
`, ""},
		{"denied is still exit 0", []string{"--from", "client-1", "--to", "app-1", "--protocol", "tcp", "--port", "7890"}, 0,
			`client-1 (198.18.2.10, node-2) -> app-1 (198.18.1.3, node-1): tcp/7890
  outbound at node-2 (client-1): allow by CLIENT outbound 2: allow
  inbound  at node-1 (app-1):    deny by to app-1: no profile accepted
  logged: "OUT: "
Verdict: denied
`, ""},
		{"same host, by address", []string{"--from", "198.18.1.2", "--to", "198.18.1.3", "--protocol", "tcp", "--port", "7890"}, 0,
			`web-1 (198.18.1.2, node-1) -> app-1 (198.18.1.3, node-1): tcp/7890
  outbound at node-1 (web-1): allow by WEB outbound 1: allow
  inbound  at node-1 (app-1): allow by APP inbound 1: allow tcp from tag APP_7890 to ports 7890
Verdict: allowed
`, ""},
		{"from outside, icmp type", []string{"--from", "198.18.9.9", "--to", "web-1", "--protocol", "icmp", "--icmp-type", "13"}, 0,
			`198.18.9.9 (outside the model) -> web-1 (198.18.1.2, node-1): icmp type 13 code 0
  outbound:                   198.18.9.9 is outside the model (no policy)
  inbound  at node-1 (web-1): deny by to web-1: no profile accepted
Verdict: denied
`, ""},
		// An echo reply that starts no flow is invalid to conntrack: dropped before any policy
		// (simulate.FirstPacketCt; the kernel differential of issue 9 found it).
		{"from outside, an echo reply is invalid", []string{"--from", "198.18.9.9", "--to", "web-1", "--protocol", "icmp", "--icmp-type", "0"}, 0,
			`198.18.9.9 (outside the model) -> web-1 (198.18.1.2, node-1): icmp type 0 code 0
  outbound:                   198.18.9.9 is outside the model (no policy)
  inbound  at node-1 (web-1): deny by to-web-1 rule 1: ct state invalid drop
Verdict: denied
`, ""},
		{"to the host", []string{"--from", "client-1", "--to", "host:node-2", "--protocol", "udp", "--port", "53"}, 0,
			`client-1 (198.18.2.10, node-2) -> host node-2: udp/53
  to host  at node-2 (client-1): allow by endpoint to host: dns from own address
Verdict: allowed
`, ""},
		{"unknown endpoint", []string{"--from", "client-9", "--to", "web-1", "--protocol", "tcp", "--port", "80"}, 1, "", `"client-9" is neither an endpoint nor an IP address`},
		// As in the repository's files: an IPv4-mapped address is not the IPv4 endpoint.
		{"mapped from", []string{"--from", "::ffff:198.18.2.10", "--to", "web-1", "--protocol", "tcp", "--port", "80"}, 1, "",
			"reconcile: from: \"::ffff:198.18.2.10\" is an IPv4-mapped IPv6 address: write it as IPv4 (198.18.2.10)\n"},
		{"mapped to", []string{"--from", "client-1", "--to", "::ffff:c612:102", "--protocol", "tcp", "--port", "80"}, 1, "",
			"reconcile: to: \"::ffff:c612:102\" is an IPv4-mapped IPv6 address: write it as IPv4 (198.18.1.2)\n"},
		{"missing flags", []string{"--from", "client-1"}, 1, "", "explain needs --to, --protocol"},
		{"missing port", []string{"--from", "client-1", "--to", "web-1", "--protocol", "tcp"}, 1, "", "needs a port"},
		{"bad protocol", []string{"--from", "client-1", "--to", "web-1", "--protocol", "gre"}, 1, "", `protocol "gre"`},
		{"bad flag value", []string{"--from", "client-1", "--to", "web-1", "--protocol", "tcp", "--port", "eighty"}, 1, "", "invalid argument"},
		{"unknown flag", []string{"--frm", "client-1"}, 1, "", "unknown flag"},
		{"bad output", []string{"--from", "client-1", "--to", "web-1", "--protocol", "icmp", "-o", "yaml"}, 1, "", `unknown output format "yaml"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(append([]string{"explain", "--dir", dir}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if out != tc.stdout {
				t.Fatalf("stdout:\n%s\nwant:\n%s", out, tc.stdout)
			}
			if tc.stderr != "" && !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("stderr %q does not contain %q", errOut, tc.stderr)
			}
		})
	}
}

func TestExplainCommandJSON(t *testing.T) {
	dir := writeRepo(t, simRepo(t))
	out, errOut, code := runCLI("explain", "--dir", dir, "--from", "client-1", "--to", "web-1", "--protocol", "tcp", "--port", "22", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		Revision string `json:"revision"`
		From     struct{ Endpoint, Address string }
		Probe    string `json:"probe"`
		Outbound struct{ Verdict, Comment, Rule string }
		Inbound  struct {
			Verdict, Comment, Chain, NFT string
			Reached                      bool
		}
		Verdict string `json:"verdict"`
		Logged  []string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.HasPrefix(got.Revision, "sha256:") || got.From.Endpoint != "client-1" || got.From.Address != "198.18.2.10" ||
		got.Probe != "tcp/22" || got.Verdict != "deny" || got.Outbound.Comment != "CLIENT outbound 2" || got.Outbound.Rule != "allow" ||
		!got.Inbound.Reached || got.Inbound.Verdict != "deny" || got.Inbound.Chain != "to-web-1" ||
		got.Inbound.Comment != "to web-1: no profile accepted" || !strings.Contains(got.Inbound.NFT, "drop") ||
		len(got.Logged) != 1 {
		t.Fatalf("unexpected JSON: %+v\n%s", got, out)
	}
}

func TestExplainInvalidRepository(t *testing.T) {
	files := simRepo(t)
	files["profiles/WEB.yaml"] = "id: WEB\ntags: [WEB]\ninbound_rules:\n  - {action: permit}\noutbound_rules: []\n"
	dir := writeRepo(t, files)
	for _, cmd := range [][]string{
		{"explain", "--dir", dir, "--from", "client-1", "--to", "web-1", "--protocol", "icmp"},
		{"test", "--dir", dir},
	} {
		out, errOut, code := runCLI(cmd...)
		if code != 1 || out != "" || !strings.Contains(errOut, "profiles/WEB.yaml:4:") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and the error's position", cmd[0], code, out, errOut)
		}
	}
}

func TestTestCommand(t *testing.T) {
	dir := writeRepo(t, simRepo(t))
	out, errOut, code := runCLI("test", "--dir", dir)
	want := `PASS client reaches web on 80: client-1 -> web-1 tcp/80 allow
PASS web reaches app on 7890: web-1 -> app-1 tcp/7890 allow
PASS tests/reach.yaml:4: client-1 -> app-1 tcp/7890 deny
PASS ping from outside: 198.18.9.9 -> web-1 icmp type 8 code 0 allow
4 passed, 0 failed
`
	if code != 0 || out != want {
		t.Fatalf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errOut)
	}

	// A failing expectation and one that cannot be asked: exit 1.
	files := simRepo(t)
	files["tests/more.yaml"] = `tests:
  - {name: client reaches app, from: client-1, to: app-1, protocol: tcp, port: 7890, expect: allow}
  - {name: web refuses ssh, from: client-1, to: web-1, protocol: tcp, port: 22, expect: allow}
  - {name: no port, from: client-1, to: web-1, protocol: udp, expect: deny}
`
	dir = writeRepo(t, files)
	out, errOut, code = runCLI("test", "--dir", dir)
	for _, line := range []string{
		"FAIL client reaches app: client-1 -> app-1 tcp/7890: expected allow, got deny (to app-1: no profile accepted)\n",
		"FAIL web refuses ssh: client-1 -> web-1 tcp/22: expected allow, got deny (to web-1: no profile accepted)\n",
		"FAIL no port: client-1 -> web-1 udp: protocol udp needs a port (1-65535)\n",
		"4 passed, 3 failed\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	if code != 1 {
		t.Fatalf("exit %d, want 1 (stderr %s)", code, errOut)
	}

	// JSON.
	out, _, code = runCLI("test", "--dir", dir, "-o", "json")
	var got testOut
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != 1 || got.Passed != 4 || got.Failed != 3 || len(got.Results) != 7 {
		t.Fatalf("exit %d, %+v", code, got)
	}
	var failed []string
	for _, r := range got.Results {
		if !r.Pass {
			failed = append(failed, r.Name+"|"+r.Got+"|"+r.DecidedBy+"|"+r.Error)
		}
	}
	want2 := []string{
		"client reaches app|deny|to app-1: no profile accepted|",
		"web refuses ssh|deny|to web-1: no profile accepted|",
		"no port|||protocol udp needs a port (1-65535)",
	}
	if strings.Join(failed, "\n") != strings.Join(want2, "\n") {
		t.Fatalf("failed:\n%s\nwant:\n%s", strings.Join(failed, "\n"), strings.Join(want2, "\n"))
	}

	// No tests at all: nothing fails.
	delete(files, "tests/more.yaml")
	delete(files, "tests/reach.yaml")
	dir = writeRepo(t, files)
	out, _, code = runCLI("test", "--dir", dir)
	if code != 0 || out != "0 passed, 0 failed\n" {
		t.Fatalf("no tests: exit %d, %q", code, out)
	}
}
