package schema

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// ep writes one endpoint in flow style: "  - {id: ID, host: H, interface: I, ipv4_nets: [...], ...}".
func ep(id, host, iface string, rest string) string {
	s := fmt.Sprintf("  - {id: %s, host: %s, interface: %s", id, host, iface)
	if rest != "" {
		s += ", " + rest
	}
	return s + "}\n"
}

// crossCases are repositories whose errors involve more than one file: references into a
// broken file (reported once, on the broken file) and conflicts between files.
var crossCases = []struct {
	name    string
	files   map[string]string
	refused []*Error
	want    []string
}{
	// ---- one root cause, one error: references into a broken profile file ----
	{
		name: "syntax error in a profile used by two endpoints",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    dst_ports: [80\n",
			"endpoints/a.yaml":  "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB]"),
			"endpoints/b.yaml":  "endpoints:\n" + ep("web-2", "node-2", "caliweb2", "profile_ids: [WEB]"),
		},
		want: []string{
			`profiles/WEB.yaml:1:1: 2 references to profile "WEB" (from endpoints/a.yaml, endpoints/b.yaml) were not checked: the file has errors`,
			"profiles/WEB.yaml:5:1: syntax error: did not find expected ',' or ']' (while parsing a flow sequence that starts at line 4 column 16)",
		},
	},
	{
		name: "JSON syntax error, one reference",
		files: map[string]string{
			"profiles/DB.json": `{"id": "DB", "inbound_rules": [}`,
			"endpoints/a.yaml": "endpoints:\n" + ep("db-1", "node-1", "calidb1", "profile_ids: [DB, OTHER]"),
		},
		want: []string{
			"endpoints/a.yaml:2:68: profile_ids: profile \"OTHER\" does not exist (no profiles/OTHER.yaml or .json)",
			`profiles/DB.json:1:1: 1 reference to profile "DB" (from endpoints/a.yaml) was not checked: the file has errors`,
			"profiles/DB.json:1:32: syntax error: not valid JSON: invalid character '}' looking for beginning of value",
		},
	},
	{
		name: "profile file that is a list",
		files: map[string]string{
			"profiles/WEB.yaml": "- id: WEB\n",
			"endpoints/a.yaml":  "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB]") + ep("web-2", "node-1", "caliweb2", "profile_ids: [WEB]"),
		},
		want: []string{
			`profiles/WEB.yaml:1:1: 2 references to profile "WEB" (from endpoints/a.yaml) were not checked: the file has errors`,
			"profiles/WEB.yaml:1:1: expected a profile (a mapping of keys), found a list",
		},
	},
	{
		name: "profile without id, and an empty profile file",
		files: map[string]string{
			"profiles/WEB.yaml": "tags: [WEB]\n",
			"profiles/APP.yaml": "# nothing yet\n",
			"endpoints/a.yaml":  "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB, APP]"),
		},
		want: []string{
			`profiles/APP.yaml:1:1: 1 reference to profile "APP" (from endpoints/a.yaml) was not checked: the file has errors`,
			"profiles/APP.yaml:1:1: empty file: expected a profile",
			`profiles/WEB.yaml:1:1: 1 reference to profile "WEB" (from endpoints/a.yaml) was not checked: the file has errors`,
			"profiles/WEB.yaml:1:1: id is required (the profile name, equal to the file name)",
		},
	},
	{
		// The file WEB.yaml is the file for WEB whatever its id says; the id it claims
		// defines nothing.
		name: "profile id not its file name",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEBX\n",
			"endpoints/a.yaml":  "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB, WEBX]"),
		},
		want: []string{
			"endpoints/a.yaml:2:71: profile_ids: profile \"WEBX\" does not exist (no profiles/WEBX.yaml or .json)",
			`profiles/WEB.yaml:1:1: 1 reference to profile "WEB" (from endpoints/a.yaml) was not checked: the file has errors`,
			"profiles/WEB.yaml:1:5: id: \"WEBX\" does not match the file name \"WEB\" (a profile's id is its file name without extension)",
		},
	},
	{
		// An error inside a rule does not keep the profile from existing.
		name: "profile with a bad rule still resolves",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: accept\n",
			"endpoints/a.yaml":  "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB]"),
		},
		want: []string{
			"profiles/WEB.yaml:3:13: action: \"accept\" is not an action (allow, deny or log)",
		},
	},
	{
		name: "one of two files for a profile is broken",
		files: map[string]string{
			"profiles/WEB.json": `{"id": "WEB",}`,
			"profiles/WEB.yaml": "id: WEB\n",
			"endpoints/a.yaml":  "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB]"),
		},
		want: []string{
			"profiles/WEB.json:1:14: syntax error: not valid JSON: invalid character '}' looking for beginning of object key string",
			`profiles/WEB.yaml:1:5: profile "WEB" is defined twice: also in profiles/WEB.json`,
		},
	},
	{
		name: "two files for a profile, the second broken",
		files: map[string]string{
			"profiles/WEB.json": `{"id": "WEB"}`,
			"profiles/WEB.yaml": "id: [WEB]\n",
		},
		want: []string{
			`profiles/WEB.yaml:1:1: profile "WEB" is defined twice: also in profiles/WEB.json`,
			"profiles/WEB.yaml:1:5: id: expected a string, found a list",
		},
	},
	{
		name: "refused profile file",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB, WEB2]") + ep("web-2", "node-1", "caliweb2", "profile_ids: [WEB]"),
		},
		refused: []*Error{{Path: "profiles/WEB.yaml", Msg: "a symbolic link: write the file itself"}},
		want: []string{
			"endpoints/a.yaml:2:71: profile_ids: profile \"WEB2\" does not exist (no profiles/WEB2.yaml or .json)",
			`profiles/WEB.yaml: 2 references to profile "WEB" (from endpoints/a.yaml) were not checked: the file was not read`,
			"profiles/WEB.yaml: a symbolic link: write the file itself",
		},
	},
	{
		name: "refused profiles folder",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB, APP]") + ep("web-2", "node-1", "caliweb2", "profile_ids: [WEB]"),
		},
		refused: []*Error{{Path: "profiles", Msg: "a symbolic link (links are not followed): make profiles a directory"}},
		want: []string{
			`profiles: 3 references to profiles "APP", "WEB" (from endpoints/a.yaml) were not checked: the folder could not be read`,
			"profiles: a symbolic link (links are not followed): make profiles a directory",
		},
	},
	{
		name: "refused endpoints folder, tests naming endpoint ids",
		files: map[string]string{
			"tests/t.yaml": "tests:\n  - {from: a, to: b, protocol: tcp, port: 80, expect: allow}\n",
		},
		refused: []*Error{{Path: "endpoints", Msg: "a symbolic link (links are not followed): make endpoints a directory"}},
		want: []string{
			`endpoints: 2 references from tests/t.yaml to endpoint ids not found ("a", "b") were not checked: the folder could not be read`,
			"endpoints: a symbolic link (links are not followed): make endpoints a directory",
		},
	},
	{
		name: "refused subfolders of profiles: one line, on the first",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\n",
			"endpoints/a.yaml":  "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB, APP]") + ep("web-2", "node-1", "caliweb2", "profile_ids: [DB, APP]"),
		},
		refused: []*Error{
			{Path: "profiles/new", Msg: "a folder inside profiles: files in it are not read; move them into profiles/"},
			{Path: "profiles/old", Msg: "a folder inside profiles: files in it are not read; move them into profiles/"},
		},
		want: []string{
			`profiles/new: 3 references to profiles "APP", "DB" (from endpoints/a.yaml) were not checked: the folder was not read`,
			"profiles/new: a folder inside profiles: files in it are not read; move them into profiles/",
			"profiles/old: a folder inside profiles: files in it are not read; move them into profiles/",
		},
	},
	{
		name: "refused subfolder of endpoints, tests naming endpoint ids",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", ""),
			"tests/t.yaml":     "tests:\n  - {from: web-1, to: db-1, protocol: tcp, port: 80, expect: allow}\n  - {from: db-1, to: db-2, protocol: tcp, port: 80, expect: deny}\n",
		},
		refused: []*Error{{Path: "endpoints/prod", Msg: "a folder inside endpoints: files in it are not read; move them into endpoints/"}},
		want: []string{
			`endpoints/prod: 3 references from tests/t.yaml to endpoint ids not found ("db-1", "db-2") were not checked: the folder was not read and may define them`,
			"endpoints/prod: a folder inside endpoints: files in it are not read; move them into endpoints/",
		},
	},
	{
		name: "profiles folder in another case: references not found are counted on it",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\n",
			"endpoints/a.yaml":  "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB, APP]") + ep("web-2", "node-1", "caliweb2", "profile_ids: [DB, APP]"),
		},
		refused: []*Error{{Path: "Profiles", Msg: "repository folders are lowercase: rename it to profiles"}},
		want: []string{
			`Profiles: 3 references to profiles "APP", "DB" (from endpoints/a.yaml) were not checked: the folder could not be read`,
			"Profiles: repository folders are lowercase: rename it to profiles",
		},
	},
	{
		name: "profiles refused and in another case: one line, on profiles",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB]"),
		},
		refused: []*Error{
			{Path: "PROFILES", Msg: "repository folders are lowercase: rename it to profiles"},
			{Path: "profiles", Msg: "a symbolic link (links are not followed): make profiles a directory"},
		},
		want: []string{
			"PROFILES: repository folders are lowercase: rename it to profiles",
			`profiles: 1 reference to profiles "WEB" (from endpoints/a.yaml) was not checked: the folder could not be read`,
			"profiles: a symbolic link (links are not followed): make profiles a directory",
		},
	},
	{
		name: "endpoints folder in another case, tests naming endpoint ids",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", ""),
			"tests/t.yaml":     "tests:\n  - {from: web-1, to: db-1, protocol: tcp, port: 80, expect: allow}\n  - {from: db-1, to: 198.18.1.2, protocol: tcp, port: 80, expect: deny}\n",
		},
		refused: []*Error{{Path: "Endpoints", Msg: "repository folders are lowercase: rename it to endpoints"}},
		want: []string{
			`Endpoints: 2 references from tests/t.yaml to endpoint ids not found ("db-1") were not checked: the folder could not be read`,
			"Endpoints: repository folders are lowercase: rename it to endpoints",
		},
	},

	// ---- tests naming endpoints when an endpoints file is broken ----
	{
		name: "endpoints file with a syntax error, tests naming unknown ids",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", ""),
			"endpoints/b.yaml": "endpoints:\n  - {id: db-1\n",
			"tests/t.yaml": "tests:\n" +
				"  - {from: web-1, to: db-1, protocol: tcp, port: 5432, expect: allow}\n" +
				"  - {from: db-1, to: 198.18.1.2, protocol: tcp, port: 80, expect: deny}\n" +
				"  - {from: db-2, to: web-1, protocol: icmp, expect: deny}\n",
		},
		want: []string{
			`endpoints/b.yaml:1:1: 3 references from tests/t.yaml to endpoint ids not found ("db-1", "db-2") were not checked: the file has errors and may define them`,
			"endpoints/b.yaml:3:1: syntax error: did not find expected ',' or '}' (while parsing a flow mapping that starts at line 2 column 5)",
		},
	},
	{
		name: "two broken endpoints files: one line on each",
		files: map[string]string{
			"endpoints/a.yaml": "endpoint:\n" + ep("web-1", "node-1", "caliweb1", ""),
			"endpoints/b.json": `{"endpoints": [{"id": "db-1", "host": "node-1", "interface": "calidb1"}, "db-2"]}`,
			"tests/t.yaml":     "tests:\n  - {from: web-1, to: db-2, protocol: tcp, port: 5432, expect: allow}\n",
			"tests/u.yaml":     "tests:\n  - {from: db-1, to: db-3, protocol: tcp, port: 5432, expect: allow}\n",
		},
		want: []string{
			`endpoints/a.yaml:1:1: 3 references from tests/t.yaml, tests/u.yaml to endpoint ids not found ("db-2", "db-3", "web-1") were not checked: the file has errors and may define them`,
			`endpoints/a.yaml:1:1: unknown key "endpoint" in a mapping with "endpoints" (did you mean "endpoints"?)`,
			`endpoints/b.json:1:1: 3 references from tests/t.yaml, tests/u.yaml to endpoint ids not found ("db-2", "db-3", "web-1") were not checked: the file has errors and may define them`,
			"endpoints/b.json:1:74: expected an endpoint (a mapping of keys), found a string",
		},
	},
	{
		name: "an endpoint without id makes its file incomplete",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n  - {host: node-1, interface: caliweb1}\n",
			"tests/t.yaml":     "tests:\n  - {from: web-1, to: web-1, protocol: tcp, port: 80, expect: allow}\n",
		},
		want: []string{
			`endpoints/a.yaml:1:1: 2 references from tests/t.yaml to endpoint ids not found ("web-1") were not checked: the file has errors and may define them`,
			"endpoints/a.yaml:2:5: id is required",
		},
	},
	{
		name: "refused endpoints file",
		files: map[string]string{
			"tests/t.yaml": "tests:\n  - {from: web-1, to: 198.18.0.1, protocol: tcp, port: 80, expect: allow}\n",
		},
		refused: []*Error{{Path: "endpoints/a.yaml", Msg: "a symbolic link: write the file itself"}},
		want: []string{
			`endpoints/a.yaml: 1 reference from tests/t.yaml to endpoint ids not found ("web-1") was not checked: the file was not read and may define them`,
			"endpoints/a.yaml: a symbolic link: write the file itself",
		},
	},
	{
		// Every endpoint of the file was read: an unknown id is a plain error.
		name: "an unknown key next to a complete list hides nothing",
		files: map[string]string{
			"endpoints/a.yaml": "comment: node-1\nendpoints:\n" + ep("web-1", "node-1", "caliweb1", ""),
			"tests/t.yaml":     "tests:\n  - {from: web-1, to: web-2, protocol: tcp, port: 80, expect: allow}\n",
		},
		want: []string{
			"endpoints/a.yaml:1:1: unknown key \"comment\" in a mapping with \"endpoints\"; known keys: endpoints",
			"tests/t.yaml:2:23: to: \"web-2\" is neither an endpoint id nor an IP address",
		},
	},
	{
		name: "no broken endpoints file: nothing held back",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "mac: bad"),
			"tests/t.yaml":     "tests:\n  - {from: web-9, to: web-1, protocol: tcp, port: 80, expect: allow}\n",
		},
		want: []string{
			"endpoints/a.yaml:2:57: mac: \"bad\" is not a 48-bit MAC address (write ee:ee:ee:ee:ee:ee)",
			"tests/t.yaml:2:12: from: \"web-9\" is neither an endpoint id nor an IP address",
		},
	},

	// ---- conflicts between files: addresses ----
	{
		name: "overlapping addresses across two files and two hosts",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" +
				"  - id: web-1\n    host: node-1\n    interface: caliweb1\n    ipv4_nets: [198.18.1.0/24]\n    ipv6_nets: [\"fd00:1::/64\"]\n",
			"endpoints/b.yaml": "endpoints:\n" +
				"  - id: web-2\n    host: node-2\n    interface: caliweb2\n    ipv4_nets: [198.18.2.2/32]\n" +
				"  - id: web-3\n    host: node-2\n    interface: caliweb3\n    ipv4_nets: [198.18.2.3/32, 198.18.1.2/32]\n    ipv6_nets: [\"fd00:1::2\"]\n",
		},
		want: []string{
			`endpoints/b.yaml:9:32: ipv4_nets: 198.18.1.2/32 of endpoint "web-3" overlaps 198.18.1.0/24 of endpoint "web-1" (endpoints/a.yaml:5:17)`,
			`endpoints/b.yaml:10:17: ipv6_nets: fd00:1::2 of endpoint "web-3" overlaps fd00:1::/64 of endpoint "web-1" (endpoints/a.yaml:6:17)`,
		},
	},
	{
		name: "same address on two endpoints, written two ways",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" +
				ep("web-1", "node-1", "caliweb1", "ipv4_nets: [198.18.1.2]") +
				ep("web-2", "node-1", "caliweb2", "ipv4_nets: [198.18.1.2/32]") +
				ep("web-3", "node-2", "caliweb3", "ipv4_nets: [198.18.1.2], state: inactive"),
		},
		want: []string{
			`endpoints/a.yaml:3:64: ipv4_nets: 198.18.1.2/32 of endpoint "web-2" overlaps 198.18.1.2 of endpoint "web-1" (endpoints/a.yaml:2:64)`,
			`endpoints/a.yaml:4:64: ipv4_nets: 198.18.1.2 of endpoint "web-3" is also claimed by endpoint "web-1" (endpoints/a.yaml:2:64)`,
		},
	},
	{
		// The error goes to the net written later, naming the earlier one, whichever is wider.
		name: "wider net written later",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("db-1", "node-1", "calidb1", "ipv6_nets: [\"fd00:9::5/128\"]"),
			"endpoints/b.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "ipv6_nets: [\"fd00:9::/64\"]"),
		},
		want: []string{
			`endpoints/b.yaml:2:64: ipv6_nets: fd00:9::/64 of endpoint "web-1" overlaps fd00:9::5/128 of endpoint "db-1" (endpoints/a.yaml:2:62)`,
		},
	},
	{
		name: "one endpoint lists a net twice; its nets may nest",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" +
				ep("web-1", "node-1", "caliweb1", "ipv4_nets: [198.18.1.0/24, 198.18.1.2/32, 198.18.1.0/24, 198.18.1.2]"),
		},
		want: []string{
			`endpoints/a.yaml:2:94: ipv4_nets: 198.18.1.0/24 is listed twice (also at endpoints/a.yaml:2:64)`,
			`endpoints/a.yaml:2:109: ipv4_nets: 198.18.1.2 is listed twice: it is the same net as 198.18.1.2/32 (endpoints/a.yaml:2:79)`,
		},
	},
	{
		name: "neighbouring nets and both families do not conflict",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" +
				ep("a", "node-1", "calia", "ipv4_nets: [198.18.1.0/25, 198.18.0.0/24], ipv6_nets: [\"fd00::/64\"]") +
				ep("b", "node-1", "calib", "ipv4_nets: [198.18.1.128/25, 198.18.2.0/24], ipv6_nets: [\"fd00:0:0:1::/64\", \"::ffff:198.18.1.1/128\"]"),
		},
		want: []string{
			`endpoints/a.yaml:3:121: ipv6_nets: "::ffff:198.18.1.1/128" is an IPv4-mapped IPv6 address: write it as IPv4 in ipv4_nets (198.18.1.1)`,
		},
	},
	{
		// Three claims of one address: two errors, both naming the first claimant; a net
		// enclosing them conflicts with the first (one error per pair of nets, not more).
		name: "three claims and an enclosing net",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" +
				ep("a", "h", "calia", "ipv4_nets: [198.18.3.3]") +
				ep("b", "h", "calib", "ipv4_nets: [198.18.3.3]") +
				ep("c", "h", "calic", "ipv4_nets: [198.18.3.3]") +
				ep("d", "h", "calid", "ipv4_nets: [198.18.0.0/16]"),
		},
		want: []string{
			`endpoints/a.yaml:3:52: ipv4_nets: 198.18.3.3 of endpoint "b" is also claimed by endpoint "a" (endpoints/a.yaml:2:52)`,
			`endpoints/a.yaml:4:52: ipv4_nets: 198.18.3.3 of endpoint "c" is also claimed by endpoint "a" (endpoints/a.yaml:2:52)`,
			`endpoints/a.yaml:5:52: ipv4_nets: 198.18.0.0/16 of endpoint "d" overlaps 198.18.3.3 of endpoint "a" (endpoints/a.yaml:2:52)`,
		},
	},
	{
		// One wide net over the nets of several endpoints is one error, on the wide net,
		// whether it is written before or after them.
		name: "a wide net over several endpoints",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" +
				ep("a", "h", "calia", "ipv4_nets: [198.18.3.3]") +
				ep("b", "h", "calib", "ipv4_nets: [198.18.3.4]") +
				ep("c", "h", "calic", "ipv4_nets: [198.18.0.0/15]"),
			"endpoints/b.yaml": "endpoints:\n" +
				ep("d", "h", "calid", "ipv6_nets: [\"fd00::/8\"]") +
				ep("e", "h", "calie", "ipv6_nets: [\"fd00::1\", \"fd00::2\"]") +
				ep("f", "h", "calif", "ipv6_nets: [\"fd00::3\"]"),
		},
		want: []string{
			`endpoints/a.yaml:4:52: ipv4_nets: 198.18.0.0/15 of endpoint "c" overlaps 2 nets of other endpoints: 198.18.3.3 of endpoint "a" (endpoints/a.yaml:2:52), 198.18.3.4 of endpoint "b" (endpoints/a.yaml:3:52)`,
			`endpoints/b.yaml:2:52: ipv6_nets: fd00::/8 of endpoint "d" overlaps 3 nets of other endpoints: fd00::1 of endpoint "e" (endpoints/b.yaml:3:52), fd00::2 of endpoint "e" (endpoints/b.yaml:3:63) and 1 more`,
		},
	},
	{
		// A copy of an endpoint is one mistake: its id is reported, not also its interface
		// and its addresses.
		name: "an endpoint defined twice is not also an address conflict",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "ipv4_nets: [198.18.1.2/32]"),
			"endpoints/b.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "ipv4_nets: [198.18.1.2/32]"),
		},
		want: []string{
			"endpoints/b.yaml:2:10: id: endpoint \"web-1\" is defined twice: also at endpoints/a.yaml:2",
		},
	},

	// ---- conflicts between files: names ----
	{
		name: "file names differing only in case",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\n",
			"profiles/web.yaml": "id: web\n",
			"profiles/Web.json": `{"id": "Web"}`,
			"endpoints/a.yaml":  "endpoints: []\n",
			"endpoints/A.yaml":  "endpoints: []\n",
			"tests/t.yaml":      "tests: []\n",
		},
		refused: []*Error{{Path: "tests/T.yaml", Msg: "a symbolic link: write the file itself"}},
		want: []string{
			"endpoints/a.yaml:1:1: the file name differs from endpoints/A.yaml only in case: the two collide on case-insensitive file systems (macOS, Windows); rename one",
			"profiles/web.yaml:1:1: the file name differs from profiles/WEB.yaml only in case: the two collide on case-insensitive file systems (macOS, Windows); rename one",
			"tests/T.yaml: a symbolic link: write the file itself",
			"tests/t.yaml:1:1: the file name differs from tests/T.yaml only in case: the two collide on case-insensitive file systems (macOS, Windows); rename one",
		},
	},
	{
		name: "two tests with one name",
		files: map[string]string{
			"tests/a.yaml": "tests:\n  - {name: web, from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 80, expect: allow}\n",
			"tests/b.yaml": "tests:\n  - {name: db, from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 5432, expect: allow}\n" +
				"  - {name: web, from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 443, expect: allow}\n" +
				"  - {from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 22, expect: deny}\n" +
				"  - {from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 23, expect: deny}\n",
		},
		want: []string{
			`tests/b.yaml:3:12: name: test "web" is defined twice: also at tests/a.yaml:2 (names identify tests in the results)`,
		},
	},
	// ---- one root cause, one error: an endpoint whose id is invalid ----
	{
		// The test names the endpoint by the id that was meant: its references are counted
		// once on the file, not reported one by one as unknown.
		name: "endpoint id with a bad character, referenced by tests",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n" + ep(`"web 1"`, "h", "a", "") + ep("app-1", "h", "b", ""),
			"tests/t.yaml": "tests:\n" +
				"  - {from: app-1, to: web-1, protocol: tcp, port: 80, expect: allow}\n" +
				"  - {from: web-1, to: app-1, protocol: tcp, port: 80, expect: deny}\n" +
				"  - {from: app-1, to: nowhere, protocol: tcp, port: 80, expect: deny}\n",
		},
		want: []string{
			`endpoints/e.yaml:1:1: 3 references from tests/t.yaml to endpoint ids not found ("nowhere", "web-1") were not checked: the file has errors and may define them`,
			`endpoints/e.yaml:2:10: id: "web 1" is not a valid id: use letters, digits, '.', '_' and '-'`,
		},
	},
	{
		name: "endpoint id over 64 bytes, referenced by tests",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n" + ep("web-1"+strings.Repeat("x", 70), "h", "a", ""),
			"tests/t.yaml": "tests:\n" +
				"  - {from: 198.18.0.1, to: web-1, protocol: tcp, port: 80, expect: allow}\n" +
				"  - {from: 198.18.0.1, to: web-1, protocol: tcp, port: 443, expect: allow}\n",
		},
		want: []string{
			`endpoints/e.yaml:1:1: 2 references from tests/t.yaml to endpoint ids not found ("web-1") were not checked: the file has errors and may define them`,
			`endpoints/e.yaml:2:10: id: "web-1` + strings.Repeat("x", 59) + `…" is 75 bytes; ids are at most 64 (they name nft chains and comments)`,
		},
	},
	{
		// "ID" is reported once, as a misspelling; "id is required" is not added.
		name: "endpoint id key in the wrong case, referenced by tests",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - {ID: web-1, host: h, interface: a}\n",
			"tests/t.yaml":     "tests:\n  - {from: 198.18.0.1, to: web-1, protocol: tcp, port: 80, expect: allow}\n",
		},
		want: []string{
			`endpoints/e.yaml:1:1: 1 reference from tests/t.yaml to endpoint ids not found ("web-1") was not checked: the file has errors and may define them`,
			`endpoints/e.yaml:2:6: unknown key "ID" in an endpoint (did you mean "id"?)`,
		},
	},
	// ---- one root cause, one error: a copy of a whole file ----
	{
		// Every endpoint of b.yaml and c.yaml is in a.yaml: one line per copied file, on its
		// first endpoint, and no address or interface conflicts; d.yaml copies only one of its
		// two endpoints, which is reported as itself.
		name: "copies of an endpoints file",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "h", "w1", "ipv4_nets: [198.18.1.1/32]") + ep("web-2", "h", "w2", "ipv4_nets: [198.18.1.2/32]"),
			"endpoints/b.yaml": "endpoints:\n" + ep("web-2", "h", "w2", "ipv4_nets: [198.18.1.2/32]") + ep("web-1", "h", "w1", "ipv4_nets: [198.18.1.1/32]"),
			"endpoints/c.yaml": "endpoints:\n" + ep("web-1", "h", "w1", "ipv4_nets: [198.18.1.1/32]") + ep("web-2", "h", "w2", "ipv4_nets: [198.18.1.2/32]"),
			"endpoints/d.yaml": "endpoints:\n" + ep("web-1", "h", "x1", "") + ep("web-3", "h", "x3", ""),
		},
		want: []string{
			`endpoints/b.yaml:2:10: id: all 2 endpoints of this file are defined in endpoints/a.yaml too (is one file a copy?): keep one definition of each`,
			`endpoints/c.yaml:2:10: id: all 2 endpoints of this file are defined in endpoints/a.yaml too (is one file a copy?): keep one definition of each`,
			`endpoints/d.yaml:2:10: id: endpoint "web-1" is defined twice: also at endpoints/a.yaml:2`,
		},
	},
	{
		name: "copy of a tests file",
		files: map[string]string{
			"tests/a.yaml": "tests:\n" +
				"  - {name: one, from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 80, expect: allow}\n" +
				"  - {name: two, from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 81, expect: allow}\n",
			"tests/b.yaml": "tests:\n" +
				"  - {name: two, from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 81, expect: allow}\n" +
				"  - {name: one, from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 80, expect: allow}\n",
		},
		want: []string{
			`tests/b.yaml:2:12: name: all 2 tests of this file are named as tests in tests/a.yaml (is one file a copy?): keep one test of each name`,
		},
	},

	// ---- one mistake, one error: misspelled files and folders, unknown endpoint ids ----
	{
		name: "misspelled endpoints file counts as a broken endpoints file",
		files: map[string]string{
			"tests/t.yaml": "tests:\n  - {from: web-1, to: web-2, protocol: tcp, port: 80, expect: allow}\n  - {from: web-1, to: 198.18.0.1, protocol: tcp, port: 80, expect: allow}\n",
		},
		refused: []*Error{{Path: "endpoints/lab.Yaml", Msg: "endpoint files end in .yaml or .json: write endpoints/lab.yaml"}},
		want: []string{
			`endpoints/lab.Yaml: 3 references from tests/t.yaml to endpoint ids not found ("web-1", "web-2") were not checked: the file was not read and may define them`,
			"endpoints/lab.Yaml: endpoint files end in .yaml or .json: write endpoints/lab.yaml",
		},
	},
	{
		name: "misspelled profile file counts as a broken profile file",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB]") + ep("web-2", "node-1", "caliweb2", "profile_ids: [WEB, APP]"),
		},
		refused: []*Error{{Path: "profiles/WEB.yml", Msg: "profile files end in .yaml or .json: write profiles/WEB.yaml"}},
		want: []string{
			"endpoints/a.yaml:3:71: profile_ids: profile \"APP\" does not exist (no profiles/APP.yaml or .json)",
			`profiles/WEB.yml: 2 references to profile "WEB" (from endpoints/a.yaml) were not checked: the file was not read`,
			"profiles/WEB.yml: profile files end in .yaml or .json: write profiles/WEB.yaml",
		},
	},
	{
		name: "misspelled endpoints folder counts as the endpoints folder",
		files: map[string]string{
			"tests/t.yaml": "tests:\n  - {from: web-1, to: db-1, protocol: tcp, port: 80, expect: allow}\n",
		},
		refused: []*Error{{Path: "endpionts", Msg: "a misspelling of the repository folder endpoints (its files are not read): rename it to endpoints"}},
		want: []string{
			`endpionts: 2 references from tests/t.yaml to endpoint ids not found ("db-1", "web-1") were not checked: the folder could not be read`,
			"endpionts: a misspelling of the repository folder endpoints (its files are not read): rename it to endpoints",
		},
	},
	{
		name: "misspelled profiles folder counts as the profiles folder",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB, APP]"),
		},
		refused: []*Error{{Path: "profile", Msg: "a misspelling of the repository folder profiles (its files are not read): rename it to profiles"}},
		want: []string{
			`profile: 2 references to profiles "APP", "WEB" (from endpoints/a.yaml) were not checked: the folder could not be read`,
			"profile: a misspelling of the repository folder profiles (its files are not read): rename it to profiles",
		},
	},
	{
		name: "an unknown endpoint id is one error, at its first reference, counting the others",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("web-1", "node-1", "caliweb1", ""),
			"tests/a.yaml": "tests:\n" +
				"  - {from: web-1, to: web-2, protocol: tcp, port: 80, expect: allow}\n" +
				"  - {from: web-2, to: web-1, protocol: tcp, port: 80, expect: allow}\n" +
				"  - {from: db-1, to: web-2, protocol: tcp, port: 80, expect: deny}\n",
			"tests/b.yaml": "tests:\n" +
				"  - {from: web-2, to: web-2, protocol: tcp, port: 81, expect: allow}\n" +
				"  - {from: web-1, to: app-1, protocol: tcp, port: 81, expect: allow}\n" +
				"  - {from: app-1, to: web-1, protocol: tcp, port: 81, expect: allow}\n",
		},
		want: []string{
			`tests/a.yaml:2:23: to: "web-2" is neither an endpoint id nor an IP address; 4 more references name it (tests/a.yaml:3:12, tests/a.yaml:4:22, tests/b.yaml:2:12, and 1 more)`,
			`tests/a.yaml:4:12: from: "db-1" is neither an endpoint id nor an IP address`,
			`tests/b.yaml:3:23: to: "app-1" is neither an endpoint id nor an IP address; 1 more reference names it (tests/b.yaml:4:12)`,
		},
	},
}

func TestCrossFileErrors(t *testing.T) {
	for _, tt := range crossCases {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			for p, s := range tt.files {
				files[p] = []byte(s)
			}
			repo, errs := LoadFiles(files, tt.refused)
			if repo == nil {
				t.Fatal("LoadFiles returned a nil repository")
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// Many references into one broken file make one line, whose list stays short.
func TestUncheckedReferencesOneLine(t *testing.T) {
	var b strings.Builder
	b.WriteString("endpoints:\n")
	files := map[string][]byte{"profiles/WEB.yaml": []byte("id: WEB\n  tags: [\n")}
	for i := range 500 {
		f := fmt.Sprintf("endpoints/e%03d.yaml", i)
		files[f] = []byte("endpoints:\n" + ep(fmt.Sprintf("w%d", i), "h", fmt.Sprintf("cali%d", i), "profile_ids: [WEB]"))
	}
	_, errs := Load(files)
	if len(errs) != 2 {
		t.Fatalf("got %d errors, want the syntax error and one line:\n%v", len(errs), errs)
	}
	want := `profiles/WEB.yaml:1:1: 500 references to profile "WEB" (from endpoints/e000.yaml, endpoints/e001.yaml, endpoints/e002.yaml, and 497 more) were not checked: the file has errors`
	if got := errs[0].Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// fleet builds n endpoints in memory (as LoadFiles holds them), each with one IPv4 /32 and one
// IPv6 /128 of its own, on n/100 hosts.
func fleet(n int) []epAt {
	eps := make([]epAt, n)
	for i := range eps {
		e := &Endpoint{
			ID: fmt.Sprintf("ep-%d", i), Host: fmt.Sprintf("node-%d", i/100), Interface: fmt.Sprintf("cali%d", i%100),
			IPv4Nets: []string{fmt.Sprintf("198.18.%d.%d/32", i/256%256, i%256)},
			IPv6Nets: []string{fmt.Sprintf("fd00::%x:%x/128", i>>16, i&0xffff)},
			Path:     "endpoints/fleet.yaml", Pos: Pos{Line: 2 + i, Col: 5},
		}
		if i >= 65536 { // 198.18.0.0/15 holds 2^17 addresses
			e.IPv4Nets[0] = fmt.Sprintf("198.19.%d.%d/32", i/256%256, i%256)
		}
		eps[i] = epAt{e, fieldPos{"ipv4_nets[0]": {Line: 2 + i, Col: 60}, "ipv6_nets[0]": {Line: 2 + i, Col: 90}}}
	}
	return eps
}

// The fleet repository of issue 10 has 100,000 endpoints: the address check must be a sweep,
// not a comparison of every pair (5e9 comparisons would take minutes).
func TestAddressConflictsFleet(t *testing.T) {
	const n = 100_000
	eps := fleet(n)
	// Plant three conflicts: a copy of an address, a net enclosing another endpoint's
	// address, and an IPv6 copy.
	eps[n-1].e.IPv4Nets[0] = eps[10].e.IPv4Nets[0]
	eps[n-2].e.IPv4Nets = append(eps[n-2].e.IPv4Nets, "198.18.7.0/24")
	eps[n-2].fp["ipv4_nets[1]"] = Pos{Line: n, Col: 75}
	eps[n-3].e.IPv6Nets[0] = eps[77].e.IPv6Nets[0]

	start := time.Now()
	var errs Errors
	addressConflicts(eps, nil, &errs)
	elapsed := time.Since(start)
	errs.Sort()
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if len(got) != 3 {
		t.Fatalf("got %d errors, want 3:\n%s", len(got), strings.Join(got[:min(len(got), 10)], "\n"))
	}
	for _, want := range []string{
		`endpoints/fleet.yaml:100001:60: ipv4_nets: 198.18.0.10/32 of endpoint "ep-99999" is also claimed by endpoint "ep-10" (endpoints/fleet.yaml:12:60)`,
		`endpoints/fleet.yaml:99999:90: ipv6_nets: fd00::0:4d/128 of endpoint "ep-99997" is also claimed by endpoint "ep-77" (endpoints/fleet.yaml:79:90)`,
		// 198.18.7.0/24 holds the addresses of endpoints 1792-2047: one error, not 256.
		`endpoints/fleet.yaml:100000:75: ipv4_nets: 198.18.7.0/24 of endpoint "ep-99998" overlaps 256 nets of other endpoints: 198.18.7.0/32 of endpoint "ep-1792" (endpoints/fleet.yaml:1794:60), 198.18.7.1/32 of endpoint "ep-1793" (endpoints/fleet.yaml:1795:60) and 254 more`,
	} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("missing %s", want)
		}
	}
	t.Logf("%d endpoints: %v", n, elapsed)
	if elapsed > 5*time.Second { // a sort takes well under a second; all pairs take minutes
		t.Errorf("the address check of %d endpoints took %v", n, elapsed)
	}
}

// A template whose address was never filled in gives every endpoint of the fleet the same
// net: one error per endpoint but the first, still in linear time.
func TestAddressConflictsFleetOneAddress(t *testing.T) {
	const n = 100_000
	eps := fleet(n)
	for _, ep := range eps {
		ep.e.IPv6Nets[0] = "fd00::1/128"
	}
	start := time.Now()
	var errs Errors
	addressConflicts(eps, nil, &errs)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if len(errs) != n-1 {
		t.Fatalf("got %d errors, want %d", len(errs), n-1)
	}
	errs.Sort()
	want := `endpoints/fleet.yaml:3:90: ipv6_nets: fd00::1/128 of endpoint "ep-1" is also claimed by endpoint "ep-0" (endpoints/fleet.yaml:2:90)`
	if got := errs[0].Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func BenchmarkAddressConflicts(b *testing.B) {
	eps := fleet(100_000)
	for b.Loop() {
		var errs Errors
		addressConflicts(eps, nil, &errs)
		if len(errs) != 0 {
			b.Fatal(errs[0])
		}
	}
}
