package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestTableFlagValidated: every command that uses --table refuses a name that nft text cannot
// carry (an nft keyword, a quoted name, a name over limits.MaxTableName bytes) before it does
// anything, with exit 1 and one message; a valid name goes through to the nft script.
func TestTableFlagValidated(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [80]\n",
		"endpoints/e.yaml":  "endpoints:\n  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}\n",
	})
	commands := [][]string{
		{"validate"},
		{"plan", "--nft"},
		{"plan"},
		{"apply"},
		{"status"},
		{"watch"},
		{"explain", "--from", "web-1", "--to", "198.18.1.9", "--protocol", "tcp", "--port", "80"},
		{"test"},
	}
	for table, want := range map[string]string{
		"policy":                `reconcile: --table: table name "policy" is an nft keyword: nft cannot read it as a name; choose another name`,
		`"policy"`:              `reconcile: --table: table name "\"policy\"" does not start with a letter`,
		"inet":                  `reconcile: --table: table name "inet" is an nft keyword`,
		"fw:1":                  `reconcile: --table: table name "fw:1" contains ":"`,
		strings.Repeat("t", 65): `is 65 bytes; at most 64`,
	} {
		for _, c := range commands {
			stateDir := t.TempDir()
			args := append(append([]string{}, c...), "--dir", dir, "--host", "node-1", "--state-dir", stateDir, "--table", table)
			var out, errb bytes.Buffer
			code := run(args, strings.NewReader(""), &out, &errb)
			if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), want) || strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and %q", args, code, out.String(), errb.String(), want)
			}
			if entries, _ := os.ReadDir(stateDir); len(entries) != 0 {
				t.Errorf("%v wrote into the state directory", args)
			}
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"plan", "--nft", "--dir", dir, "--host", "node-1", "--table", "my-fw.v2"}, nil, &out, &errb); code != 0 ||
		!strings.HasPrefix(out.String(), "table inet my-fw.v2 {}\ndelete table inet my-fw.v2\n") {
		t.Errorf("--table my-fw.v2: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// TestLongEndpointIDRefused is issue 7's example on the command line: an endpoint id of 104
// bytes used to validate and apply, with comments nft cannot load; now validate and plan --nft
// refuse it with its position, exit 1, and print no script.
func TestLongEndpointIDRefused(t *testing.T) {
	id := strings.Repeat("w", 104)
	dir := writeRepo(t, map[string]string{
		"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n",
		"endpoints/e.yaml":  "endpoints:\n  - {id: " + id + ", host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}\n",
	})
	want := `endpoints/e.yaml:2:10: id: "` + id[:64] + `…" is 104 bytes; ids are at most 64 (they name nft chains and comments)`
	for _, args := range [][]string{{"validate"}, {"plan", "--nft"}} {
		var out, errb bytes.Buffer
		code := run(append(args, "--dir", dir, "--host", "node-1"), nil, &out, &errb)
		if code != 1 || !strings.Contains(out.String()+errb.String(), want) || strings.Contains(out.String(), "table inet") {
			t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s\nwant exit 1 and %q", args, code, out.String(), errb.String(), want)
		}
	}
}

// TestHostFlagValidated: every command that takes --host (plan, apply, status, watch, and the
// endpoint commands' filter) refuses a value that no endpoint's host can be
// (limits.CheckHostName), before it does anything, with exit 1 and one message naming the flag.
func TestHostFlagValidated(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [80]\n",
		"endpoints/e.yaml":  "endpoints:\n  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}\n",
	})
	commands := [][]string{
		{"plan", "--nft"},
		{"plan"},
		{"apply"},
		{"status"},
		{"watch"},
		{"endpoint", "show"},
		{"endpoint", "web-1", "profile", "show"},
		{"endpoint", "web-1", "profile", "set", "WEB"},
	}
	const use = ": use ASCII letters, digits, '-', '_' and '.' (RFC 1123 host names)\n"
	for host, want := range map[string]string{
		"n\u043ede-1":  `reconcile: --host: "nоde-1" contains "о" (U+043E)` + use,
		"node-1\u200b": `reconcile: --host: "node-1\u200b" contains "\u200b" (U+200B)` + use,
		"node-1\n":     `reconcile: --host: "node-1\n" contains "\n" (U+000A)` + use,
		"node 1":       `reconcile: --host: "node 1" contains a space` + use,
		"node-1.":      "reconcile: --host: \"node-1.\" starts or ends with '.': write the name without it (RFC 1123)\n",
	} {
		for _, c := range commands {
			stateDir := t.TempDir()
			args := append(append([]string{}, c...), "--dir", dir, "--host", host, "--state-dir", stateDir)
			var out, errb bytes.Buffer
			code := run(args, strings.NewReader(""), &out, &errb)
			want := want
			if c[0] == "apply" { // apply says so of every failure that left the kernel alone
				want = strings.TrimSuffix(want, "\n") + "; nothing was changed\n"
			}
			if code != 1 || out.Len() != 0 || errb.String() != want {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and %q", args, code, out.String(), errb.String(), want)
			}
			if entries, _ := os.ReadDir(stateDir); len(entries) != 0 {
				t.Errorf("%q wrote into the state directory", args)
			}
		}
	}
	// An empty --host (no kernel hostname) asks for one.
	var out, errb bytes.Buffer
	if code := run([]string{"plan", "--dir", dir, "--host", ""}, nil, &out, &errb); code != 1 || errb.String() != "reconcile: no host name: give --host\n" {
		t.Errorf("--host \"\": exit %d, stderr %q", code, errb.String())
	}
	// Valid names go through: upper case and '_' are allowed (and compare as written).
	for _, host := range []string{"node-1", "NODE-1", "node_1.example.org"} {
		out.Reset()
		errb.Reset()
		if code := run([]string{"plan", "--nft", "--dir", dir, "--host", host}, nil, &out, &errb); code != 0 {
			t.Errorf("--host %q: exit %d\n%s", host, code, errb.String())
		}
		if has := strings.Contains(out.String(), "caliweb1"); has != (host == "node-1") {
			t.Errorf("--host %q: script names caliweb1: %v\n%s", host, has, out.String())
		}
	}
}
