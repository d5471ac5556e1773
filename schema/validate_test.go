package schema

import (
	"strings"
	"testing"
)

// loadCases: each case is a repository (path -> content) and the exact `path:line:col: message`
// lines Load must return (none for a valid repository).
var loadCases = []struct {
	name  string
	files map[string]string
	want  []string
}{
	{
		name: "valid minimal profile",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\n",
		},
	},
	{
		name: "valid everything null",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ntags:\ninbound_rules: ~\noutbound_rules: null\n",
		},
	},
	{
		name: "empty profile",
		files: map[string]string{
			"profiles/WEB.yaml": "",
		},
		want: []string{
			"profiles/WEB.yaml:1:1: empty file: expected a profile",
		},
	},
	{
		name: "comment-only profile",
		files: map[string]string{
			"profiles/WEB.yaml": "# nothing\n",
		},
		want: []string{
			"profiles/WEB.yaml:1:1: empty file: expected a profile",
		},
	},
	{
		name: "empty endpoints file",
		files: map[string]string{
			"endpoints/e.yaml": "",
		},
		want: []string{
			"endpoints/e.yaml:1:1: empty file: expected \"endpoints:\" and a list of endpoints",
		},
	},
	{
		name: "empty tests file",
		files: map[string]string{
			"tests/t.yaml": "---\n",
		},
		want: []string{
			"tests/t.yaml:1:1: empty file: expected \"tests:\" and a list of tests",
		},
	},
	{
		name: "syntax error with line",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ntags: [a\n",
		},
		want: []string{
			"profiles/WEB.yaml:3:1: syntax error: did not find expected ',' or ']' (while parsing a flow sequence that starts at line 2 column 7)",
		},
	},
	{
		name: "syntax error line 1",
		files: map[string]string{
			"profiles/WEB.yaml": "\tid: WEB\n",
		},
		want: []string{
			"profiles/WEB.yaml:1:1: syntax error: found character that cannot start any token (a tab: YAML indents with spaces)",
		},
	},
	{
		name: "unquoted negation key",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    !protocol: tcp\n",
		},
		want: []string{
			"profiles/WEB.yaml:4:5: !protocol must be quoted (\"!protocol\"): an unquoted '!' starts a YAML tag",
			"profiles/WEB.yaml:5:1: syntax error: could not find expected ':' (while scanning a simple key that starts at line 4 column 5)",
		},
	},
	{
		name: "second document",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\n---\nid: APP\n",
		},
		want: []string{
			"profiles/WEB.yaml:3:1: a second YAML document: a file holds one document",
		},
	},
	{
		name: "custom tag",
		files: map[string]string{
			"profiles/WEB.yaml": "id: !x WEB\n",
		},
		want: []string{
			"profiles/WEB.yaml:1:5: id: unsupported YAML tag \"!x\" (quote values and keys that start with '!')",
		},
	},
	{
		name: "merge key",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\nbase: &b {action: allow}\ninbound_rules:\n  - <<: *b\n",
		},
		want: []string{
			"profiles/WEB.yaml:2:1: unknown key \"base\" in a profile; known keys: id, inbound_rules, outbound_rules, tags",
		},
	},
	{
		name: "alias ok",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules: &r\n  - action: allow\noutbound_rules: *r\n",
		},
	},
	{
		name: "root not a mapping",
		files: map[string]string{
			"profiles/WEB.yaml": "- id: WEB\n",
		},
		want: []string{
			"profiles/WEB.yaml:1:1: expected a profile (a mapping of keys), found a list",
		},
	},
	{
		name: "json profile",
		files: map[string]string{
			"profiles/WEB.json": "{\"id\": \"WEB\",\n \"tags\": [\"WEB\"],\n \"inbound_rules\": [{\"action\": \"allow\", \"dst_ports\": [\"80\"]}]}\n",
		},
		want: []string{
			"profiles/WEB.json:3:54: dst_ports: \"80\" is a string; write ports as integers or \"a:b\" ranges",
		},
	},
	{
		name: "json syntax error",
		files: map[string]string{
			"profiles/WEB.json": "{\"id\": \"WEB\",\n \"tags\": [\"WEB\",]\n",
		},
		want: []string{
			"profiles/WEB.json:2:17: syntax error: not valid JSON: invalid character ']' looking for beginning of value",
		},
	},
	{
		name: "yaml flow in a json file",
		files: map[string]string{
			"profiles/WEB.json": "{id: WEB,\n tags: [WEB]}",
		},
		want: []string{
			"profiles/WEB.json:1:2: syntax error: not valid JSON: invalid character 'i' looking for beginning of object key string",
		},
	},
	{
		name: "merge keys",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - &tcp {action: allow, protocol: tcp, dst_ports: [80]}\n  - <<: *tcp\n    dst_ports: [443]\n  - <<: [*tcp, {icmp_type: 8}]\n    protocol: icmp\n    dst_ports: ~\n  - <<: *tcp\n    portz: 1\n  - <<: 3\n    action: allow\n  - <<: &bad {action: allow, colour: red}\n  - <<: *bad\n",
		},
		want: []string{
			"profiles/WEB.yaml:10:5: unknown key \"portz\" in a rule",
			"profiles/WEB.yaml:11:9: a merge (<<) takes a mapping or a list of mappings, found a number",
			"profiles/WEB.yaml:13:30: unknown key \"colour\" in a rule",
		},
	},
	{
		name: "unknown key with suggestion",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    dst_port: [80]\n    protocol: tcp\n",
		},
		want: []string{
			"profiles/WEB.yaml:4:5: unknown key \"dst_port\" in a rule (did you mean \"dst_ports\"?)",
		},
	},
	{
		name: "unknown key without suggestion",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ncolour: blue\n",
		},
		want: []string{
			"profiles/WEB.yaml:2:1: unknown key \"colour\" in a profile; known keys: id, inbound_rules, outbound_rules, tags",
		},
	},
	{
		name: "duplicate key",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ntags: [A]\ntags: [B]\n",
		},
		want: []string{
			"profiles/WEB.yaml:3:1: duplicate key \"tags\" (first at line 2)",
		},
	},
	{
		name: "non-scalar key",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\n[a]: 1\n",
		},
		want: []string{
			"profiles/WEB.yaml:2:1: a key of a profile is a list; keys are names",
		},
	},
	{
		name: "string port",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [80, \"80\"]\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:21: dst_ports: \"80\" is a string; write ports as integers or \"a:b\" ranges",
		},
	},
	{
		name: "wrong types",
		files: map[string]string{
			"profiles/WEB.yaml": "id: 7\ntags: WEB\ninbound_rules:\n  - action: true\n    src_net: 10\n    icmp_type: x\n    protocol: [tcp]\n    ip_version: 4.0\n",
		},
		want: []string{
			"profiles/WEB.yaml:1:5: id: 7 is a number; expected a string (quote it: \"7\")",
			"profiles/WEB.yaml:2:7: tags: \"WEB\" is a string; expected a list (write [WEB])",
			"profiles/WEB.yaml:4:13: action: true is a boolean; expected a string (quote it: \"true\")",
			"profiles/WEB.yaml:5:14: src_net: 10 is a number; expected a string (quote it: \"10\")",
			"profiles/WEB.yaml:6:16: icmp_type: \"x\" is a string; expected an integer (0-254)",
			"profiles/WEB.yaml:7:15: protocol: expected a protocol name or number, found a list",
			"profiles/WEB.yaml:8:17: ip_version: 4.0 is not an integer: write 4",
		},
	},
	{
		name: "rule not a mapping",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - allow\n",
		},
		want: []string{
			"profiles/WEB.yaml:3:5: expected a rule (a mapping of keys), found a string",
		},
	},
	{
		name: "huge integer",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: icmp\n    icmp_type: 99999999999\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:16: icmp_type: 99999999999 is out of range (0-254)",
		},
	},
	{
		name: "id missing",
		files: map[string]string{
			"profiles/WEB.yaml": "tags: [WEB]\n",
		},
		want: []string{
			"profiles/WEB.yaml:1:1: id is required (the profile name, equal to the file name)",
		},
	},
	{
		name: "bad id",
		files: map[string]string{
			"profiles/a b.yaml": "id: a b\n",
		},
		want: []string{
			"profiles/a b.yaml:1:5: id: \"a b\" is not a valid id: use letters, digits, '.', '_' and '-'",
		},
	},
	{
		name: "id not the stem",
		files: map[string]string{
			"profiles/WEB.yaml": "id: APP\n",
		},
		want: []string{
			"profiles/WEB.yaml:1:5: id: \"APP\" does not match the file name \"WEB\" (a profile's id is its file name without extension)",
		},
	},
	{
		name: "duplicate profile",
		files: map[string]string{
			"profiles/WEB.json": "{\"id\": \"WEB\"}",
			"profiles/WEB.yaml": "id: WEB\n",
		},
		want: []string{
			"profiles/WEB.yaml:1:5: profile \"WEB\" is defined twice: also in profiles/WEB.json",
		},
	},
	{
		name: "bad and duplicate tags",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ntags: [WEB, \"x/y\", WEB]\n",
		},
		want: []string{
			"profiles/WEB.yaml:2:13: tags: \"x/y\" is not a valid tag: use letters, digits, '.', '_' and '-'",
			"profiles/WEB.yaml:2:20: tags: duplicate tag \"WEB\"",
		},
	},
	{
		name: "action missing",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - protocol: tcp\n",
		},
		want: []string{
			"profiles/WEB.yaml:3:5: action is required: allow, deny or log",
		},
	},
	{
		name: "action unknown",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: accept\n",
		},
		want: []string{
			"profiles/WEB.yaml:3:13: action: \"accept\" is not an action (allow, deny or log)",
		},
	},
	{
		name: "log prefix",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: deny\n    log_prefix: \"bad prefix with spaces and too long\"\n",
		},
		want: []string{
			"profiles/WEB.yaml:4:17: log_prefix: \"bad prefix with spaces and too long\" is longer than 27 characters",
			"profiles/WEB.yaml:4:17: log_prefix: \"bad prefix with spaces and too long\" may only contain letters, digits, '_', ':' and '-'",
			"profiles/WEB.yaml:4:17: log_prefix: only allowed with action log",
		},
	},
	{
		name: "log prefix ok",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: log\n    log_prefix: \"WEB:in-1_\"\n",
		},
	},
	{
		name: "protocols",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - {action: allow, protocol: gre}\n  - {action: allow, protocol: 256}\n  - {action: allow, \"!protocol\": \"0\"}\n  - {action: allow, protocol: \"47\"}\n",
		},
		want: []string{
			"profiles/WEB.yaml:3:31: protocol: \"gre\" is not a protocol (tcp, udp, icmp, icmpv6, sctp, udplite or 1-255)",
			"profiles/WEB.yaml:4:31: protocol: 256 is not a protocol (tcp, udp, icmp, icmpv6, sctp, udplite or 1-255)",
			"profiles/WEB.yaml:5:34: !protocol: 0 is not a protocol (tcp, udp, icmp, icmpv6, sctp, udplite or 1-255)",
		},
	},
	{
		name: "tags in rules",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    src_tag: \"a b\"\n    \"!dst_tag\": \"c,d\"\n",
		},
		want: []string{
			"profiles/WEB.yaml:4:14: src_tag: \"a b\" is not a valid tag: use letters, digits, '.', '_' and '-'",
			"profiles/WEB.yaml:5:17: !dst_tag: \"c,d\" is not a valid tag: use letters, digits, '.', '_' and '-'",
		},
	},
	{
		name: "nets",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    src_net: 198.18.0.0/33\n    dst_net: \"fe80::1%eth0\"\n    \"!src_net\": bogus\n",
		},
		want: []string{
			"profiles/WEB.yaml:4:14: src_net: \"198.18.0.0/33\" is not an IP address or CIDR",
			"profiles/WEB.yaml:5:14: dst_net: \"fe80::1%eth0\" is not an IP address or CIDR",
			"profiles/WEB.yaml:6:17: !src_net: \"bogus\" is not an IP address or CIDR",
		},
	},
	{
		name: "nets of two families",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    src_net: 198.18.0.0/16\n    dst_net: \"fd00::/8\"\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:14: dst_net: \"fd00::/8\" is IPv6 but src_net \"198.18.0.0/16\" is IPv4: the rule could never match",
		},
	},
	{
		name: "negated nets of two families",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    \"!src_net\": \"fd00::/8\"\n    \"!dst_net\": 198.18.0.1\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:17: !dst_net: \"198.18.0.1\" is IPv4 but !src_net \"fd00::/8\" is IPv6: the rule could never match",
		},
	},
	{
		name: "port range errors",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: udp\n    dst_ports: [70000, \"90:80\", \"80:80\", \"1:70000\", \"80-90\", \"x\", -1]\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:17: dst_ports: 70000 is not a port (0-65535)",
			"profiles/WEB.yaml:5:24: dst_ports: \"90:80\" is not a port range: 90 is not below 80",
			"profiles/WEB.yaml:5:33: dst_ports: \"80:80\" is not a port range: 80 is not below 80",
			"profiles/WEB.yaml:5:42: dst_ports: \"1:70000\" is not a port range: 70000 is not a port (0-65535)",
			"profiles/WEB.yaml:5:53: dst_ports: \"80-90\" is not a port or a port range (write 80 or \"8000:8080\")",
			"profiles/WEB.yaml:5:62: dst_ports: \"x\" is not a port or a port range (write 80 or \"8000:8080\")",
			"profiles/WEB.yaml:5:67: dst_ports: -1 is not a port (0-65535)",
		},
	},
	{
		name: "ports without protocol",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    src_ports: [80]\n",
		},
		want: []string{
			"profiles/WEB.yaml:4:16: src_ports: ports need protocol tcp, udp, sctp or udplite",
		},
	},
	{
		name: "ports with icmp",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: icmp\n    dst_ports: [80]\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:16: dst_ports: ports need protocol tcp, udp, sctp or udplite, not \"icmp\"",
		},
	},
	{
		name: "negated ports with negated protocol",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    \"!protocol\": tcp\n    \"!dst_ports\": [22]\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:19: !dst_ports: ports need protocol tcp, udp, sctp or udplite (a positive protocol; !protocol does not count)",
		},
	},
	{
		name: "ports with protocol number",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: 132\n    \"!src_ports\": [\"1:1024\"]\n",
		},
	},
	{
		name: "icmp range",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: icmp\n    icmp_type: 255\n    icmp_code: -1\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:16: icmp_type: 255 is not supported (0-254)",
			"profiles/WEB.yaml:6:16: icmp_code: -1 is not supported (0-254)",
		},
	},
	{
		name: "icmp without protocol",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    icmp_type: 8\n",
		},
		want: []string{
			"profiles/WEB.yaml:4:16: icmp_type: needs protocol icmp or icmpv6",
		},
	},
	{
		name: "icmp with tcp",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    \"!icmp_type\": 8\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:19: !icmp_type: needs protocol icmp or icmpv6, not \"tcp\"",
		},
	},
	{
		name: "icmp code without type",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: icmpv6\n    icmp_code: 0\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:16: icmp_code: needs icmp_type",
		},
	},
	{
		name: "negated icmp code without type",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: icmp\n    \"!icmp_code\": 0\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:19: !icmp_code: needs icmp_type or !icmp_type",
		},
	},
	{
		name: "negated icmp code with negated type",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: icmp\n    \"!icmp_type\": 8\n    \"!icmp_code\": 0\n",
		},
	},
	{
		name: "ip version",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    ip_version: 5\n",
		},
		want: []string{
			"profiles/WEB.yaml:4:17: ip_version: 5 is not 4 or 6",
		},
	},
	{
		name: "ip version vs nets",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    ip_version: 6\n    src_net: 198.18.0.0/16\n    \"!dst_net\": 198.18.1.0/24\n",
		},
		want: []string{
			"profiles/WEB.yaml:4:17: ip_version: 6 does not match !dst_net \"198.18.1.0/24\" (IPv4)",
			"profiles/WEB.yaml:4:17: ip_version: 6 does not match src_net \"198.18.0.0/16\" (IPv4)",
		},
	},
	{
		name: "ip version vs icmp",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: icmpv6\n    ip_version: 4\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:17: ip_version: 4 does not match protocol \"icmpv6\" (IPv6)",
		},
	},
	{
		name: "icmp vs net",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: 1\n    dst_net: \"fd00::1\"\n",
		},
		want: []string{
			"profiles/WEB.yaml:5:14: dst_net: \"fd00::1\" is IPv6 but protocol 1 is IPv4: the rule could never match",
		},
	},
	{
		name: "endpoints key missing",
		files: map[string]string{
			"endpoints/e.yaml": "endpoint: []\n",
		},
		want: []string{
			"endpoints/e.yaml:1:1: unknown key \"endpoint\" in a mapping with \"endpoints\" (did you mean \"endpoints\"?)",
		},
	},
	{
		name: "endpoints not a list",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints: web-1\n",
		},
		want: []string{
			"endpoints/e.yaml:1:12: endpoints: \"web-1\" is a string; expected a list (write [web-1])",
		},
	},
	{
		name: "endpoint not a mapping",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - web-1\n",
		},
		want: []string{
			"endpoints/e.yaml:2:5: expected an endpoint (a mapping of keys), found a string",
		},
	},
	{
		name: "endpoint required fields",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - mac: \"ee:ee:ee:ee:ee:01\"\n",
		},
		want: []string{
			"endpoints/e.yaml:2:5: host is required (the host that enforces the endpoint)",
			"endpoints/e.yaml:2:5: id is required",
			"endpoints/e.yaml:2:5: interface is required (the host-side interface name)",
		},
	},
	{
		name: "endpoint bad values",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - id: \"web 1\"\n    host: node-1\n    interface: \"cali web\"\n    mac: \"ee:ee:ee:ee:ee:ee:ee:ee\"\n    state: running\n",
		},
		want: []string{
			"endpoints/e.yaml:2:9: id: \"web 1\" is not a valid id: use letters, digits, '.', '_' and '-'",
			"endpoints/e.yaml:4:16: interface: \"cali web\" is not an interface name nft matches literally: use letters, digits, '.', '_' and '-'",
			"endpoints/e.yaml:5:10: mac: \"ee:ee:ee:ee:ee:ee:ee:ee\" is not a 48-bit MAC address (write ee:ee:ee:ee:ee:ee)",
			"endpoints/e.yaml:6:12: state: \"running\" is not a state (active or inactive)",
		},
	},
	{
		name: "interface names",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - {id: a, host: h, interface: caliabcdefghijkl}\n  - {id: b, host: h, interface: \"eth0:1\"}\n  - {id: c, host: h, interface: \"a/b\"}\n  - {id: d, host: h, interface: \"..\"}\n  - {id: e, host: h, interface: caliabcdefghijk}\n  - {id: f, host: h, interface: \"veth*\"}\n  - {id: g, host: h, interface: 'a\\b'}\n  - {id: h, host: h, interface: 'eth\"0'}\n  - {id: i, host: h, interface: .x-1_A}\n  - {id: j, host: h, interface: .}\n",
		},
		want: []string{
			"endpoints/e.yaml:2:33: interface: \"caliabcdefghijkl\" is 16 bytes; interface names are at most 15 (IFNAMSIZ)",
			"endpoints/e.yaml:3:33: interface: \"eth0:1\" is not an interface name nft matches literally: use letters, digits, '.', '_' and '-'",
			"endpoints/e.yaml:4:33: interface: \"a/b\" is not an interface name nft matches literally: use letters, digits, '.', '_' and '-'",
			"endpoints/e.yaml:5:33: interface: \"..\" is not an interface name: Linux refuses \".\" and \"..\"",
			"endpoints/e.yaml:7:33: interface: \"veth*\" is not an interface name nft matches literally: use letters, digits, '.', '_' and '-'",
			"endpoints/e.yaml:8:33: interface: \"a\\\\b\" is not an interface name nft matches literally: use letters, digits, '.', '_' and '-'",
			"endpoints/e.yaml:9:33: interface: \"eth\\\"0\" is not an interface name nft matches literally: use letters, digits, '.', '_' and '-'",
			"endpoints/e.yaml:11:33: interface: \".\" is not an interface name: Linux refuses \".\" and \"..\"",
		},
	},
	{
		name: "endpoint nets",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - id: a\n    host: h\n    interface: i\n    ipv4_nets: [198.18.0.1/32, \"fd00::1/128\", 198.18.0.0/99]\n    ipv6_nets: [198.18.0.2, \"fd00::2\", \"fd00::/129\"]\n",
		},
		want: []string{
			"endpoints/e.yaml:5:32: ipv4_nets: \"fd00::1/128\" is not an IPv4 network",
			"endpoints/e.yaml:5:47: ipv4_nets: \"198.18.0.0/99\" is not an IP address or CIDR",
			"endpoints/e.yaml:6:17: ipv6_nets: \"198.18.0.2\" is not an IPv6 network",
			"endpoints/e.yaml:6:40: ipv6_nets: \"fd00::/129\" is not an IP address or CIDR",
		},
	},
	{
		name: "endpoint profiles",
		files: map[string]string{
			"endpoints/e.yaml":  "endpoints:\n  - id: a\n    host: h\n    interface: i\n    profile_ids: [WEB, APP, WEB]\n",
			"profiles/WEB.yaml": "id: WEB\n",
		},
		want: []string{
			"endpoints/e.yaml:5:24: profile_ids: profile \"APP\" does not exist (no profiles/APP.yaml or .json)",
			"endpoints/e.yaml:5:29: profile_ids: \"WEB\" is listed twice",
		},
	},
	{
		name: "endpoint duplicates across files",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - {id: a, host: h1, interface: i1}\n  - {id: b, host: h1, interface: i2}\n",
			"endpoints/f.json": "{\"endpoints\": [\n  {\"id\": \"a\", \"host\": \"h2\", \"interface\": \"i1\"},\n  {\"id\": \"c\", \"host\": \"h1\", \"interface\": \"i2\"}\n]}\n",
		},
		want: []string{
			"endpoints/f.json:2:10: id: endpoint \"a\" is defined twice: also at endpoints/e.yaml:2",
			"endpoints/f.json:3:42: interface: \"i2\" on host \"h1\" is already used by endpoint \"b\" (endpoints/e.yaml:3)",
		},
	},
	{
		name: "null endpoints list",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n",
		},
	},
	{
		name: "tests key missing",
		files: map[string]string{
			"tests/t.yaml": "test: []\n",
		},
		want: []string{
			"tests/t.yaml:1:1: unknown key \"test\" in a mapping with \"tests\" (did you mean \"tests\"?)",
		},
	},
	{
		name: "test required fields",
		files: map[string]string{
			"tests/t.yaml": "tests:\n  - name: nothing\n",
		},
		want: []string{
			"tests/t.yaml:2:5: expect is required: allow or deny",
			"tests/t.yaml:2:5: from is required (an endpoint id or an IP address)",
			"tests/t.yaml:2:5: protocol is required (tcp, udp, icmp, icmpv6, sctp, udplite or 1-255)",
			"tests/t.yaml:2:5: to is required (an endpoint id or an IP address)",
		},
	},
	{
		name: "test bad values",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - {id: a, host: h, interface: i}\n",
			"tests/t.yaml":     "tests:\n  - {from: a, to: nobody, protocol: gre, expect: accept}\n  - {from: \"198.18.0.1\", to: \"fd00::1\", protocol: tcp, port: 70000, expect: allow}\n  - {from: a, to: a, protocol: icmp, port: 80, icmp_code: 3, expect: deny}\n  - {from: a, to: a, protocol: udp, icmp_type: 255, expect: deny}\n  - {from: a, to: a, protocol: tcp, port: 0, expect: deny}\n",
		},
		want: []string{
			"tests/t.yaml:2:19: to: \"nobody\" is neither an endpoint id nor an IP address",
			"tests/t.yaml:2:37: protocol: \"gre\" is not a protocol (tcp, udp, icmp, icmpv6, sctp, udplite or 1-255)",
			"tests/t.yaml:2:50: expect: \"accept\" is not allow or deny",
			"tests/t.yaml:3:62: port: 70000 is not a port (1-65535)",
			"tests/t.yaml:4:44: port: needs protocol tcp, udp, sctp or udplite",
			"tests/t.yaml:4:59: icmp_code: needs icmp_type",
			"tests/t.yaml:5:48: icmp_type: 255 is not supported (0-254)",
			"tests/t.yaml:5:48: icmp_type: needs protocol icmp or icmpv6",
			"tests/t.yaml:6:43: port: 0 is not a port (1-65535)",
		},
	},
	{
		name: "test ok",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - {id: a, host: h, interface: i}\n",
			"tests/t.yaml":     "tests:\n  - {from: a, to: 198.18.0.1, protocol: icmp, icmp_type: 8, icmp_code: 0, expect: allow}\n  - {from: a, to: a, protocol: 6, port: 443, expect: deny}\n",
		},
	},
	{
		name: "ignored files",
		files: map[string]string{
			"README.md":           "# hi",
			"profiles/notes.txt":  "x",
			"profiles/sub/X.yaml": "bad",
			"tests/t.json":        "{",
		},
	},
	{
		// An empty match would match anything: "allow from tag <unset>" must not become "allow".
		name: "empty match values",
		files: map[string]string{
			"profiles/X.yaml": "id: X\ninbound_rules:\n" +
				"  - action: allow\n    src_tag: \"\"\n" +
				"  - action: allow\n    dst_net: ''\n" +
				"  - action: deny\n    \"!dst_tag\": \"\"\n" +
				"  - action: allow\n    \"!src_net\": \"\"\n" +
				"  - action: allow\n    protocol: \"\"\n" +
				"  - action: allow\n    src_tag: ~\n    dst_net: null\n", // null is absent, as in Felix
			"profiles/Y.json": `{"id": "Y", "outbound_rules": [{"action": "allow", "dst_tag": "", "!protocol": ""}]}`,
		},
		want: []string{
			"profiles/X.yaml:4:14: src_tag: must not be empty (leave the key out to match anything)",
			"profiles/X.yaml:6:14: dst_net: must not be empty (leave the key out to match anything)",
			"profiles/X.yaml:8:17: !dst_tag: must not be empty (leave the key out to match anything)",
			"profiles/X.yaml:10:17: !src_net: must not be empty (leave the key out to match anything)",
			"profiles/X.yaml:12:15: protocol: must not be empty (leave the key out to match anything)",
			"profiles/Y.json:1:63: dst_tag: must not be empty (leave the key out to match anything)",
			"profiles/Y.json:1:80: !protocol: must not be empty (leave the key out to match anything)",
		},
	},
	{
		// Negated ports and ICMP values that exclude all the positive ones: never matches.
		name: "negated ports and icmp that exclude the positive ones",
		files: map[string]string{
			"profiles/X.yaml": "id: X\ninbound_rules:\n" +
				"  - {action: allow, protocol: tcp, dst_ports: [80], \"!dst_ports\": [80]}\n" +
				"  - {action: allow, protocol: tcp, dst_ports: [\"80:90\"], \"!dst_ports\": [\"70:85\", \"86:100\"]}\n" +
				"  - {action: allow, protocol: tcp, src_ports: [\"80:90\"], \"!src_ports\": [\"70:85\"]}\n" +
				"  - {action: allow, protocol: icmp, icmp_type: 3, \"!icmp_type\": 3}\n" +
				"  - {action: allow, protocol: icmp, icmp_type: 3, icmp_code: 1, \"!icmp_code\": 1}\n" +
				"  - {action: allow, protocol: icmp, icmp_type: 3, icmp_code: 1, \"!icmp_type\": 3, \"!icmp_code\": 1}\n" +
				"  - {action: allow, protocol: icmp, icmp_type: 3, icmp_code: 1, \"!icmp_type\": 3, \"!icmp_code\": 2}\n",
		},
		want: []string{
			"profiles/X.yaml:3:67: !dst_ports: excludes every port of dst_ports: the rule could never match",
			"profiles/X.yaml:4:72: !dst_ports: excludes every port of dst_ports: the rule could never match",
			"profiles/X.yaml:6:65: !icmp_type: 3 excludes icmp_type 3: the rule could never match",
			"profiles/X.yaml:7:79: !icmp_code: 1 excludes icmp_code 1: the rule could never match",
			"profiles/X.yaml:8:79: !icmp_type: with !icmp_code excludes icmp_type 3, icmp_code 1: the rule could never match",
		},
	},
	{
		// An unknown protocol is the root cause: the ports and ICMP values that need one say
		// nothing more; a name in upper case gets the name to write.
		name: "unknown protocol, one error",
		files: map[string]string{
			"profiles/X.yaml": "id: X\ninbound_rules:\n" +
				"  - {action: allow, protocol: TCP, dst_ports: [80]}\n" +
				"  - {action: allow, protocol: icmpx, icmp_type: 8}\n",
		},
		want: []string{
			`profiles/X.yaml:3:31: protocol: "TCP" is not a protocol (tcp, udp, icmp, icmpv6, sctp, udplite or 1-255): write "tcp" (protocol names are lower case)`,
			`profiles/X.yaml:4:31: protocol: "icmpx" is not a protocol (tcp, udp, icmp, icmpv6, sctp, udplite or 1-255)`,
		},
	},
	{
		// A rule that excludes its own protocol could never match.
		name: "protocol and !protocol equal",
		files: map[string]string{
			"profiles/X.yaml": "id: X\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    \"!protocol\": 6\n  - action: allow\n    protocol: tcp\n    \"!protocol\": udp\n",
		},
		want: []string{
			`profiles/X.yaml:5:18: !protocol: 6 excludes protocol "tcp": the rule could never match`,
		},
	},
	{
		// An empty port list matched every port, and mac: "" turned the MAC check off.
		name: "empty port lists and mac",
		files: map[string]string{
			"profiles/X.yaml": "id: X\ninbound_rules:\n" +
				"  - action: allow\n    protocol: tcp\n    dst_ports: []\n" +
				"  - action: deny\n    protocol: udp\n    \"!src_ports\": []\n" +
				"  - action: allow\n    protocol: tcp\n    src_ports: ~\n", // null is absent
			"profiles/Y.json":  `{"id": "Y", "outbound_rules": [{"action": "allow", "protocol": "tcp", "!dst_ports": []}]}`,
			"endpoints/e.yaml": "endpoints:\n  - {id: a, host: h, interface: i, mac: \"\", profile_ids: [X]}\n",
		},
		want: []string{
			"endpoints/e.yaml:2:41: mac: must not be empty (leave the key out for no source MAC check)",
			"profiles/X.yaml:5:16: dst_ports: must not be empty (leave the key out to match any port)",
			"profiles/X.yaml:8:19: !src_ports: must not be empty (leave the key out to match any port)",
			"profiles/Y.json:1:85: !dst_ports: must not be empty (leave the key out to match any port)",
		},
	},
	{
		// nft's encoder refuses IPv4-mapped IPv6 addresses: such a repository validated, then
		// failed at apply.
		name: "IPv4-mapped IPv6 addresses",
		files: map[string]string{
			"profiles/X.yaml": "id: X\ninbound_rules:\n  - action: allow\n    src_net: \"::ffff:198.18.0.1\"\n",
			"endpoints/e.yaml": "endpoints:\n  - id: a\n    host: h\n    interface: x\n" +
				"    ipv6_nets: [\"::ffff:198.18.0.2/128\", \"fd00::2/128\"]\n    profile_ids: [X]\n",
		},
		want: []string{
			"endpoints/e.yaml:5:17: ipv6_nets: \"::ffff:198.18.0.2/128\" is an IPv4-mapped IPv6 address: write it as IPv4 in ipv4_nets (198.18.0.2)",
			"profiles/X.yaml:4:14: src_net: \"::ffff:198.18.0.1\" is an IPv4-mapped IPv6 address: write it as IPv4 (198.18.0.1)",
		},
	},
	// Host names (limits.CheckHostName, RFC 1123): an endpoint whose host is a look-alike of
	// a real host name would be enforced on no host.
	{
		name: "host names",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n" +
				ep("a", "\"n\u043ede-1\"", "a", "") + // Cyrillic o
				ep("b", "\"node-1\u200b\"", "b", "") + // zero-width space
				ep("c", "\"node-1\\t\"", "c", "") +
				ep("d", "\"node-1\\n\"", "d", "") +
				ep("e", "\"node 1\"", "e", "") +
				ep("f", "node-1.", "f", "") +
				ep("g", ".node-1", "g", "") +
				ep("h", "a..b", "h", "") +
				ep("i", strings.Repeat("x", 64)+".org", "i", "") +
				ep("j", strings.Repeat("abcdefg.", 30)+"abcdefghijklmn", "j", "") +
				ep("k", "\"\\xff\"", "k", "") + // Latin-1 ÿ (files are UTF-8) +
				// Valid: upper case, '_', digits only, 63-byte labels, 253 bytes.
				ep("l", "Node_1", "l", "") +
				ep("m", "\"10\"", "m", "") +
				ep("n", strings.Repeat("x", 63)+"."+strings.Repeat("y", 63), "n", "") +
				ep("o", strings.Repeat("abcdefg.", 30)+"abcdefghijklm", "o", ""),
		},
		want: []string{
			`endpoints/e.yaml:2:19: host: "nоde-1" contains "о" (U+043E): use ASCII letters, digits, '-', '_' and '.' (RFC 1123 host names)`,
			`endpoints/e.yaml:3:19: host: "node-1\u200b" contains "\u200b" (U+200B): use ASCII letters, digits, '-', '_' and '.' (RFC 1123 host names)`,
			`endpoints/e.yaml:4:19: host: "node-1\t" contains "\t" (U+0009): use ASCII letters, digits, '-', '_' and '.' (RFC 1123 host names)`,
			`endpoints/e.yaml:5:19: host: "node-1\n" contains "\n" (U+000A): use ASCII letters, digits, '-', '_' and '.' (RFC 1123 host names)`,
			`endpoints/e.yaml:6:19: host: "node 1" contains a space: use ASCII letters, digits, '-', '_' and '.' (RFC 1123 host names)`,
			`endpoints/e.yaml:7:19: host: "node-1." starts or ends with '.': write the name without it (RFC 1123)`,
			`endpoints/e.yaml:8:19: host: ".node-1" starts or ends with '.': write the name without it (RFC 1123)`,
			`endpoints/e.yaml:9:19: host: "a..b" has an empty label (".."): RFC 1123 labels are 1-63 bytes`,
			`endpoints/e.yaml:10:19: host: "` + strings.Repeat("x", 40) + `…" has a label of 64 bytes; labels (between dots) are at most 63 (RFC 1123)`,
			`endpoints/e.yaml:11:19: host: "` + strings.Repeat("abcdefg.", 5) + `…" is 254 bytes; host names are at most 253 (RFC 1123)`,
			`endpoints/e.yaml:12:19: host: "ÿ" contains "ÿ" (U+00FF): use ASCII letters, digits, '-', '_' and '.' (RFC 1123 host names)`,
		},
	},
	{
		// Host names compare as written: "NODE-1" next to "node-1" is two hosts.
		name: "hosts that differ only in case",
		files: map[string]string{
			"endpoints/a.yaml": "endpoints:\n" + ep("a", "node-1", "a", "") + ep("b", "Node-1", "b", "") + ep("c", "node-1", "c", ""),
			"endpoints/b.yaml": "endpoints:\n" + ep("d", "NODE-1", "d", "") + ep("e", "node-2", "e", ""),
		},
		want: []string{
			`endpoints/a.yaml:3:19: host: "Node-1" differs from "node-1" (endpoint "a", endpoints/a.yaml:2) only in case: host names compare as written; write one spelling`,
			`endpoints/b.yaml:2:19: host: "NODE-1" differs from "node-1" (endpoint "a", endpoints/a.yaml:2) only in case: host names compare as written; write one spelling`,
		},
	},
	{
		// IEEE 802: a source MAC is never a group (broadcast or multicast) address.
		name: "group MAC addresses",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n" +
				ep("a", "h", "a", `mac: "ff:ff:ff:ff:ff:ff"`) +
				ep("b", "h", "b", `mac: "01:00:5e:00:00:01"`) +
				ep("c", "h", "c", `mac: "33:33:00:00:00:01"`) +
				ep("d", "h", "d", `mac: "ee:ee:ee:00:00:01"`) +
				ep("e", "h", "e", `mac: "02:00:00:00:00:01"`),
		},
		want: []string{
			`endpoints/e.yaml:2:41: mac: "ff:ff:ff:ff:ff:ff" is a broadcast or multicast address (the first octet is odd), never the source of a frame: write the endpoint's own MAC`,
			`endpoints/e.yaml:3:41: mac: "01:00:5e:00:00:01" is a broadcast or multicast address (the first octet is odd), never the source of a frame: write the endpoint's own MAC`,
			`endpoints/e.yaml:4:41: mac: "33:33:00:00:00:01" is a broadcast or multicast address (the first octet is odd), never the source of a frame: write the endpoint's own MAC`,
		},
	},
	{
		// As the repository's nets: ::ffff:a.b.c.d is not the IPv4 endpoint.
		name: "IPv4-mapped IPv6 addresses in tests",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n" + ep("a", "h", "a", "ipv4_nets: [198.18.1.2/32]"),
			"tests/t.yaml": "tests:\n" +
				"  - {from: \"::ffff:198.18.1.2\", to: a, protocol: tcp, port: 80, expect: allow}\n" +
				"  - {from: a, to: \"::FFFF:c612:102\", protocol: tcp, port: 80, expect: allow}\n" +
				"  - {from: a, to: \"::198.18.1.2\", protocol: tcp, port: 80, expect: deny}\n",
		},
		want: []string{
			`tests/t.yaml:2:12: from: "::ffff:198.18.1.2" is an IPv4-mapped IPv6 address: write it as IPv4 (198.18.1.2)`,
			`tests/t.yaml:3:19: to: "::FFFF:c612:102" is an IPv4-mapped IPv6 address: write it as IPv4 (198.18.1.2)`,
		},
	},
	{
		// A misspelt required key is one error, not also "is required" (nor "ports need
		// protocol").
		name: "misspelt required keys",
		files: map[string]string{
			"profiles/X.yaml": "ID: X\ninbound_rules:\n  - {Action: allow, protocl: tcp, dst_ports: [80]}\n",
			"endpoints/e.yaml": "endpoints:\n  - {ID: a, Host: h, interfce: a}\n" +
				"  - {id: b, host: h, interface: b, Id: c}\n",
			"tests/t.yaml": "tests:\n  - {frm: 198.18.0.1, To: 198.18.0.2, protocl: tcp, port: 80, expct: allow}\n",
		},
		want: []string{
			`endpoints/e.yaml:2:6: unknown key "ID" in an endpoint (did you mean "id"?)`,
			`endpoints/e.yaml:2:13: unknown key "Host" in an endpoint (did you mean "host"?)`,
			`endpoints/e.yaml:2:22: unknown key "interfce" in an endpoint (did you mean "interface"?)`,
			`endpoints/e.yaml:3:36: unknown key "Id" in an endpoint (did you mean "id"?)`,
			`profiles/X.yaml:1:1: unknown key "ID" in a profile (did you mean "id"?)`,
			`profiles/X.yaml:3:6: unknown key "Action" in a rule (did you mean "action"?)`,
			`profiles/X.yaml:3:21: unknown key "protocl" in a rule (did you mean "protocol"?)`,
			`tests/t.yaml:2:6: unknown key "frm" in a test (did you mean "from"?)`,
			`tests/t.yaml:2:23: unknown key "To" in a test (did you mean "to"?)`,
			`tests/t.yaml:2:39: unknown key "protocl" in a test (did you mean "protocol"?)`,
			`tests/t.yaml:2:63: unknown key "expct" in a test (did you mean "expect"?)`,
		},
	},
	{
		// An unknown key that is no misspelling of a required key leaves it missing.
		name: "required key missing next to an unrelated unknown key",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - {id: a, interface: a, zone: eu}\n",
		},
		want: []string{
			`endpoints/e.yaml:2:5: host is required (the host that enforces the endpoint)`,
			`endpoints/e.yaml:2:27: unknown key "zone" in an endpoint; known keys: host, id, interface, ipv4_nets, ipv6_nets, mac, profile_ids, state`,
		},
	},
	{
		name: "endpoint nets with host bits",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - id: a\n    host: h\n    interface: a\n" +
				"    ipv4_nets: [198.18.9.2/24, 198.18.9.0/24, 198.18.10.1, 198.18.11.1/32, 198.18.12.0/31, 198.18.12.3/31, 1.2.3.4/8]\n" +
				"    ipv6_nets: [\"fd00:9::2/64\", \"fd00:a::/64\", \"fd00:b::1\", \"fd00:c::1/127\", \"fd00::1/8\"]\n",
		},
		want: []string{
			"endpoints/e.yaml:5:17: ipv4_nets: 198.18.9.2/24 has host bits set: write 198.18.9.2/32 for the address, or 198.18.9.0/24 for the network",
			"endpoints/e.yaml:5:92: ipv4_nets: 198.18.12.3/31 has host bits set: write 198.18.12.3/32 for the address, or 198.18.12.2/31 for the network",
			"endpoints/e.yaml:5:108: ipv4_nets: 1.2.3.4/8 has host bits set: write 1.2.3.4/32 for the address, or 1.0.0.0/8 for the network",
			"endpoints/e.yaml:6:17: ipv6_nets: fd00:9::2/64 has host bits set: write fd00:9::2/128 for the address, or fd00:9::/64 for the network",
			"endpoints/e.yaml:6:61: ipv6_nets: fd00:c::1/127 has host bits set: write fd00:c::1/128 for the address, or fd00:c::/127 for the network",
			"endpoints/e.yaml:6:78: ipv6_nets: fd00::1/8 has host bits set: write fd00::1/128 for the address, or fd00::/8 for the network",
		},
	},
	{
		name: "endpoint nets no endpoint owns",
		files: map[string]string{
			"endpoints/e.yaml": "endpoints:\n  - id: a\n    host: h\n    interface: a\n    ipv4_nets:\n" +
				"      - 0.0.0.0/32\n      - 127.0.0.1\n      - 127.0.0.0/8\n      - 169.254.1.1/32\n      - 224.0.0.0/4\n      - 239.1.2.3\n      - 255.255.255.255\n" +
				"      - 0.0.0.0/0\n      - 0.0.0.0/24\n      - 224.0.0.0/3\n      - 169.254.0.0/15\n      - 254.0.0.0/7\n      - 0.0.0.0/1\n      - 198.18.0.0/15\n" +
				"    ipv6_nets:\n      - \"::\"\n      - \"::1/128\"\n      - \"fe80::1\"\n      - \"febf::/16\"\n      - \"ff02::1\"\n      - \"::/0\"\n      - \"fe80::/9\"\n      - \"fe00::/7\"\n      - \"::/1\"\n      - \"fd00::1\"\n",
		},
		want: []string{
			"endpoints/e.yaml:6:9: ipv4_nets: 0.0.0.0/32 is in 0.0.0.0/32 (the unspecified address), which no endpoint owns: write the endpoint's own addresses",
			"endpoints/e.yaml:7:9: ipv4_nets: 127.0.0.1 is in 127.0.0.0/8 (loopback), which no endpoint owns: write the endpoint's own addresses",
			"endpoints/e.yaml:8:9: ipv4_nets: 127.0.0.0/8 is in 127.0.0.0/8 (loopback), which no endpoint owns: write the endpoint's own addresses",
			"endpoints/e.yaml:9:9: ipv4_nets: 169.254.1.1/32 is in 169.254.0.0/16 (link-local), which no endpoint owns: write the endpoint's own addresses (every endpoint may already send DHCP and neighbour discovery from link-local ones, SPEC §3)",
			"endpoints/e.yaml:10:9: ipv4_nets: 224.0.0.0/4 is in 224.0.0.0/4 (multicast), which no endpoint owns: write the endpoint's own addresses",
			"endpoints/e.yaml:11:9: ipv4_nets: 239.1.2.3 is in 224.0.0.0/4 (multicast), which no endpoint owns: write the endpoint's own addresses",
			"endpoints/e.yaml:12:9: ipv4_nets: 255.255.255.255 is in 255.255.255.255/32 (the limited broadcast address), which no endpoint owns: write the endpoint's own addresses",
			"endpoints/e.yaml:13:9: ipv4_nets: 0.0.0.0/0 contains 0.0.0.0/32 (the unspecified address), which no endpoint owns: write the endpoint's own addresses (an endpoint net is the addresses the workload may send from)",
			"endpoints/e.yaml:14:9: ipv4_nets: 0.0.0.0/24 contains 0.0.0.0/32 (the unspecified address), which no endpoint owns: write the endpoint's own addresses (an endpoint net is the addresses the workload may send from)",
			"endpoints/e.yaml:15:9: ipv4_nets: 224.0.0.0/3 contains 224.0.0.0/4 (multicast), which no endpoint owns: write the endpoint's own addresses (an endpoint net is the addresses the workload may send from)",
			"endpoints/e.yaml:16:9: ipv4_nets: 169.254.0.0/15 contains 169.254.0.0/16 (link-local), which no endpoint owns: write the endpoint's own addresses (an endpoint net is the addresses the workload may send from)",
			"endpoints/e.yaml:17:9: ipv4_nets: 254.0.0.0/7 contains 255.255.255.255/32 (the limited broadcast address), which no endpoint owns: write the endpoint's own addresses (an endpoint net is the addresses the workload may send from)",
			"endpoints/e.yaml:18:9: ipv4_nets: 0.0.0.0/1 contains 0.0.0.0/32 (the unspecified address), which no endpoint owns: write the endpoint's own addresses (an endpoint net is the addresses the workload may send from)",
			"endpoints/e.yaml:21:9: ipv6_nets: :: is in ::/128 (the unspecified address), which no endpoint owns: write the endpoint's own addresses",
			"endpoints/e.yaml:22:9: ipv6_nets: ::1/128 is in ::1/128 (loopback), which no endpoint owns: write the endpoint's own addresses",
			"endpoints/e.yaml:23:9: ipv6_nets: fe80::1 is in fe80::/10 (link-local), which no endpoint owns: write the endpoint's own addresses (every endpoint may already send DHCP and neighbour discovery from link-local ones, SPEC §3)",
			"endpoints/e.yaml:24:9: ipv6_nets: febf::/16 is in fe80::/10 (link-local), which no endpoint owns: write the endpoint's own addresses (every endpoint may already send DHCP and neighbour discovery from link-local ones, SPEC §3)",
			"endpoints/e.yaml:25:9: ipv6_nets: ff02::1 is in ff00::/8 (multicast), which no endpoint owns: write the endpoint's own addresses",
			"endpoints/e.yaml:26:9: ipv6_nets: ::/0 contains ::/128 (the unspecified address), which no endpoint owns: write the endpoint's own addresses (an endpoint net is the addresses the workload may send from)",
			"endpoints/e.yaml:27:9: ipv6_nets: fe80::/9 contains fe80::/10 (link-local), which no endpoint owns: write the endpoint's own addresses (an endpoint net is the addresses the workload may send from)",
			"endpoints/e.yaml:28:9: ipv6_nets: fe00::/7 contains fe80::/10 (link-local), which no endpoint owns: write the endpoint's own addresses (an endpoint net is the addresses the workload may send from)",
			"endpoints/e.yaml:29:9: ipv6_nets: ::/1 contains ::/128 (the unspecified address), which no endpoint owns: write the endpoint's own addresses (an endpoint net is the addresses the workload may send from)",
		},
	},
	{
		name: "rule match keys and mac with no value",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n" +
				"  - {action: allow, src_net: }\n" +
				"  - {action: allow, src_tag: , dst_tag: }\n" +
				"  - {action: allow, protocol: tcp, dst_ports: , src_ports: , dst_net: }\n" +
				"  - {action: allow, protocol: }\n" +
				"  - {action: allow, protocol: icmp, icmp_type: , icmp_code: , ip_version: }\n" +
				"  - {action: log, log_prefix: }\n" +
				"  - {action: allow, \"!protocol\":, \"!src_tag\":, \"!src_net\":, \"!dst_tag\":, \"!dst_net\": }\n" +
				"  - {action: allow, protocol: tcp, \"!src_ports\":, \"!dst_ports\": }\n" +
				"  - {action: allow, protocol: icmp, \"!icmp_type\":, \"!icmp_code\": }\n" +
				"  - action: allow\n    src_net:\n    dst_net:\n" +
				"  - {action: deny}\n",
			"endpoints/e.yaml": "endpoints:\n  - id: a\n    host: h\n    interface: a\n    mac:\n",
		},
		want: []string{
			"endpoints/e.yaml:5:5: mac: no value: write one, or leave the key out to skip the MAC check",
			"profiles/WEB.yaml:3:21: src_net: no value: write one, or leave the key out to match any source",
			"profiles/WEB.yaml:4:21: src_tag: no value: write one, or leave the key out to match any source",
			"profiles/WEB.yaml:4:32: dst_tag: no value: write one, or leave the key out to match any destination",
			"profiles/WEB.yaml:5:36: dst_ports: no value: write one, or leave the key out to match any destination port",
			"profiles/WEB.yaml:5:49: src_ports: no value: write one, or leave the key out to match any source port",
			"profiles/WEB.yaml:5:62: dst_net: no value: write one, or leave the key out to match any destination",
			"profiles/WEB.yaml:6:21: protocol: no value: write one, or leave the key out to match any protocol",
			"profiles/WEB.yaml:7:37: icmp_type: no value: write one, or leave the key out to match any ICMP type",
			"profiles/WEB.yaml:7:50: icmp_code: no value: write one, or leave the key out to match any ICMP code",
			"profiles/WEB.yaml:7:63: ip_version: no value: write one, or leave the key out to match both IP versions",
			"profiles/WEB.yaml:8:19: log_prefix: no value: write one, or leave the key out for no prefix",
			"profiles/WEB.yaml:9:21: !protocol: no value: write one, or leave the key out to exclude nothing",
			"profiles/WEB.yaml:9:35: !src_tag: no value: write one, or leave the key out to exclude nothing",
			"profiles/WEB.yaml:9:48: !src_net: no value: write one, or leave the key out to exclude nothing",
			"profiles/WEB.yaml:9:61: !dst_tag: no value: write one, or leave the key out to exclude nothing",
			"profiles/WEB.yaml:9:74: !dst_net: no value: write one, or leave the key out to exclude nothing",
			"profiles/WEB.yaml:10:36: !src_ports: no value: write one, or leave the key out to exclude nothing",
			"profiles/WEB.yaml:10:51: !dst_ports: no value: write one, or leave the key out to exclude nothing",
			"profiles/WEB.yaml:11:37: !icmp_type: no value: write one, or leave the key out to exclude nothing",
			"profiles/WEB.yaml:11:52: !icmp_code: no value: write one, or leave the key out to exclude nothing",
			"profiles/WEB.yaml:13:5: src_net: no value: write one, or leave the key out to match any source",
			"profiles/WEB.yaml:14:5: dst_net: no value: write one, or leave the key out to match any destination",
		},
	},
	{
		name: "explicit nulls and empty lists stay allowed",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ntags:\ninbound_rules:\n" +
				"  - {action: allow, src_net: null, dst_net: ~, protocol: null, dst_ports: ~}\n" +
				"  - action: allow\n    src_tag: !!null\n    dst_tag: !!null ''\n" +
				"  - {action: allow, \"!src_net\": Null, \"!protocol\": NULL, icmp_type: ~, ip_version: null, log_prefix: ~}\n" +
				"outbound_rules:\n",
			"profiles/DB.json": `{"id": "DB", "tags": null, "inbound_rules": [{"action": "allow", "src_net": null, "protocol": null, "dst_ports": null}], "outbound_rules": null}`,
			"endpoints/e.yaml": "endpoints:\n  - id: a\n    host: h\n    interface: a\n    mac: ~\n    ipv4_nets:\n    ipv6_nets:\n    profile_ids:\n" +
				"  - id: b\n    host: h\n    interface: b\n    mac: null\n    state:\n",
		},
		want: nil,
	},
	{
		name: "a negation containing its positive match",
		files: map[string]string{
			"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n" +
				"  - {action: allow, src_net: 198.18.1.0/24, \"!src_net\": 198.18.0.0/16}\n" +
				"  - {action: allow, dst_net: 198.18.1.7, \"!dst_net\": 198.18.1.7/32}\n" +
				"  - {action: allow, src_net: \"fd00:1::/64\", \"!src_net\": \"::/0\"}\n" +
				"  - {action: allow, src_net: 198.18.0.0/16, \"!src_net\": 198.18.1.0/24}\n" +
				"  - {action: allow, dst_net: 198.18.0.1/15, \"!dst_net\": 198.18.0.0/15}\n" +
				"  - {action: allow, src_net: 198.18.1.0/24, \"!dst_net\": 198.18.0.0/16}\n" +
				"  - {action: allow, src_tag: WEB, \"!src_tag\": WEB}\n" +
				"  - {action: allow, dst_tag: DB, \"!dst_tag\": DB, \"!src_tag\": DB}\n" +
				"  - {action: allow, src_tag: WEB, \"!src_tag\": APP}\n",
		},
		want: []string{
			"profiles/WEB.yaml:3:57: !src_net: 198.18.0.0/16 contains src_net 198.18.1.0/24: the rule could never match",
			"profiles/WEB.yaml:4:54: !dst_net: 198.18.1.7/32 contains dst_net 198.18.1.7: the rule could never match",
			"profiles/WEB.yaml:5:57: !src_net: ::/0 contains src_net fd00:1::/64: the rule could never match",
			"profiles/WEB.yaml:7:57: !dst_net: 198.18.0.0/15 contains dst_net 198.18.0.1/15: the rule could never match",
			"profiles/WEB.yaml:9:47: !src_tag: \"WEB\" excludes src_tag \"WEB\": the rule could never match",
			"profiles/WEB.yaml:10:46: !dst_tag: \"DB\" excludes dst_tag \"DB\": the rule could never match",
		},
	},
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range loadCases {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			for p, s := range tt.files {
				files[p] = []byte(s)
			}
			repo, errs := Load(files)
			if repo == nil {
				t.Fatal("Load returned a nil repository")
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if len(tt.want) == 0 && errs != nil {
				t.Errorf("Errors is not nil for a valid repository")
			}
		})
	}
}
