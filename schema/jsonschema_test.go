package schema

// The JSON Schemas in this directory (profile.schema.json, endpoints.schema.json,
// tests.schema.json) are for editors. With the YAML language server (VS Code's YAML extension,
// and others) put a modeline on the first line of a file, with a path relative to the file or
// a URL:
//
//	# yaml-language-server: $schema=../schema/profile.schema.json
//
// These tests keep the schemas honest: every example file in the repository that the Go
// validator accepts must be accepted by its schema too, and a set of bad files whose fault a
// schema can express must be rejected by both. See README.md in this directory.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const schemaBase = "https://github.com/reconcile-dev/reconcile/schema/"

// compileSchemas compiles the three schema files, by file kind.
func compileSchemas(t testing.TB) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	names := map[string]string{
		KindProfile:   "profile.schema.json",
		KindEndpoints: "endpoints.schema.json",
		KindTests:     "tests.schema.json",
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.AddResource(schemaBase+name, doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for kind, name := range names {
		s, err := c.Compile(schemaBase + name)
		if err != nil {
			t.Fatalf("compile %s: %v", name, err)
		}
		out[kind] = s
	}
	return out
}

// toJSONValue converts a YAML or JSON file to the value the schema library validates.
func toJSONValue(p string, data []byte) (any, error) {
	if strings.HasSuffix(p, ".json") {
		return jsonschema.UnmarshalJSON(bytes.NewReader(data))
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not representable as JSON: %w", err)
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// schemaCheck validates one repository file against its schema; nil means accepted.
func schemaCheck(schemas map[string]*jsonschema.Schema, p string, data []byte) error {
	s := schemas[FileKind(p)]
	if s == nil {
		return fmt.Errorf("no schema for %q", p)
	}
	v, err := toJSONValue(p, data)
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// repoRoots finds the directories under dir that hold a policy repository (a profiles/,
// endpoints/ or tests/ subdirectory).
func repoRoots(t *testing.T, dir string) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "profiles" || d.Name() == "endpoints" || d.Name() == "tests") {
			seen[filepath.Dir(p)] = true
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var roots []string
	for r := range seen {
		roots = append(roots, r)
	}
	sort.Strings(roots)
	return roots
}

// schemaBlind lists the faults that the Go validator reports and a JSON Schema cannot express,
// each with why. A file that the Go validator rejects must be rejected by its schema too, unless
// every one of its Go errors matches an entry here. An entry that no file uses fails the test, so
// that the list stays the list of what is left.
var schemaBlind = []struct {
	msg *regexp.Regexp // matched against an error's message (without "path:line:col: ")
	why string
}{
	// Rules between files: a schema validates one file on its own.
	{regexp.MustCompile(`is defined twice`), "a second definition lives in another file"},
	{regexp.MustCompile(`does not exist \(no profiles/`), "references a profile file; a schema sees one file"},
	{regexp.MustCompile(`is neither an endpoint id nor an IP address`), "endpoint ids are defined in the endpoints files"},
	{regexp.MustCompile(`was not checked: the file has errors`), "a reference from another file"},
	{regexp.MustCompile(`\(is one file a copy\?\)`), "compares two files"},
	{regexp.MustCompile(`does not match the file name`), "the file name is not part of the document a schema sees"},
	// Rules between items of a list (maybe in other files too): JSON Schema compares items only
	// as a whole (uniqueItems), never one field of an item with the same field of another.
	{regexp.MustCompile(`^interface: .* is already used by endpoint`), "an interface compared across endpoints"},
	{regexp.MustCompile(`is also claimed by endpoint`), "an address compared across endpoints"},
	{regexp.MustCompile(`overlaps .* of endpoint`), "nets of two endpoints compared by prefix arithmetic"},
	{regexp.MustCompile(`^host: .* only in case`), "host names of two endpoints compared case-insensitively"},
	// Arithmetic on values: a pattern can only list spellings.
	{regexp.MustCompile(`is not a port range: [0-9]+ is not below`), "orders the two numbers of \"a:b\" (a < b): a pattern cannot compare numbers short of listing every pair"},
	{regexp.MustCompile(`has host bits set`), "the address bits beyond the prefix length must be zero: bit arithmetic"},
	{regexp.MustCompile(`which no endpoint owns`), "a net inside or around a reserved range (loopback, link-local, multicast, ...): prefix containment, in every IPv6 spelling"},
	// "Could never match" between two fields of a rule: JSON Schema has no way to compare one
	// value with another ($data is not part of the standard).
	{regexp.MustCompile(`^!(src|dst)_net: .* contains (src|dst)_net .*: the rule could never match`), "prefix containment between two fields"},
	{regexp.MustCompile(`^!(src|dst)_tag: .* excludes (src|dst)_tag .*: the rule could never match`), "equality of two fields' values"},
	// The text of the file, which a YAML or JSON reader turns into values before a schema sees
	// them (see also TestNumberNotationsTheSchemaCannotSee).
	{regexp.MustCompile(`^a second YAML document`), "the reader hands the schema one document"},
	{regexp.MustCompile(`^duplicate key`), "the reader keeps one of the two values"},
	{regexp.MustCompile(`: no value: write one`), "an empty value reaches the schema as null, which it must accept (an explicit null means absent)"},
	{regexp.MustCompile(`(has a leading zero|is hexadecimal|is octal|is binary|is not an integer|has '_' in it|has an exponent|has a '\+' sign): write`), "a number's notation: the schema sees the number a YAML reader made of 010 or 0x50, and JSON's 80.0 equals 80"},
}

// blindTo reports whether every message matches an entry of schemaBlind, and marks in used the
// entries that matched.
func blindTo(msgs []string, used map[int]bool) bool {
	for _, m := range msgs {
		found := false
		for i, b := range schemaBlind {
			if b.msg.MatchString(m) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// badReposRoot holds the corpus of broken repositories (reconcile/internal/testenv/badrepos): plain
// files, one repository per directory. Its trees that ReadDir refuses (file and folder names,
// folders inside profiles/) are about the tree, which a schema never sees.
const badReposRoot = "../reconcile/internal/testenv/badrepos/testdata"

func TestExampleFilesAgreeWithJSONSchema(t *testing.T) {
	schemas := compileSchemas(t)
	var roots []string
	for _, dir := range []string{"../policies", "../examples", "testdata/valid", badReposRoot} {
		roots = append(roots, repoRoots(t, dir)...)
	}
	good, rejected := 0, 0
	used := map[int]bool{}
	for _, root := range roots {
		files, err := ReadDir(root)
		if err != nil {
			if strings.HasPrefix(root, badReposRoot) {
				continue // a tree-level fault (see badReposRoot)
			}
			t.Fatal(err)
		}
		_, errs := Load(files)
		msgs := map[string][]string{}
		for _, e := range errs {
			msgs[e.Path] = append(msgs[e.Path], e.Msg)
		}
		for p, data := range files {
			name := filepath.Join(root, p)
			serr := schemaCheck(schemas, p, data)
			switch {
			case msgs[p] == nil && serr != nil:
				t.Errorf("%s: the Go validator accepts it, the JSON Schema rejects it: %v", name, serr)
			case msgs[p] == nil:
				good++
			case serr != nil:
				rejected++
			case !blindTo(msgs[p], used):
				t.Errorf("%s: the Go validator rejects it, the JSON Schema accepts it: make the schema refuse it, or add the fault to schemaBlind with why a schema cannot express it; Go says:\n\t%s", name, strings.Join(msgs[p], "\n\t"))
			}
		}
	}
	if good < 5 || rejected < 50 {
		t.Errorf("only %d good and %d rejected files were checked; the examples or the corpus are missing", good, rejected)
	}
	for i, b := range schemaBlind {
		if !used[i] {
			t.Errorf("schemaBlind[%d] (%s) matches no file the schema accepts: remove it, or add a file that shows it", i, b.msg)
		}
	}
}

// TestNumberNotationsTheSchemaCannotSee: a YAML number written in another notation than plain
// decimal (010, 0x50, +80, 1_000, 80.0) reaches a JSON Schema as the value a YAML reader made of
// it, and a JSON number 80.0 or 8e1 equals the integer 80 for JSON Schema: only the Go decoder,
// which sees the text, can refuse them. It must (and it must say what to write); the schema's
// verdict is logged.
func TestNumberNotationsTheSchemaCannotSee(t *testing.T) {
	schemas := compileSchemas(t)
	const rule = "id: WEB\ninbound_rules:\n  - action: allow\n"
	for _, tt := range []struct{ path, data, wantGo string }{
		{"profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [010, 0755]\n", "dst_ports: 010 has a leading zero: write 10"},
		{"profiles/WEB.yaml", rule + "    protocol: icmp\n    icmp_type: 010\n", "icmp_type: 010 has a leading zero: write 10"},
		{"profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [0x50]\n", "0x50 is hexadecimal: write 80 in decimal"},
		{"profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [0o10]\n", "0o10 is octal: write 8 in decimal"},
		{"profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [0b1]\n", "0b1 is binary: write 1 in decimal"},
		{"profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [1_000]\n", "1_000 has '_' in it: write 1000"},
		{"profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [+80]\n", "+80 has a '+' sign: write 80"},
		{"profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [80.0]\n", "80.0 is not an integer: write 80"},
		{"profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [8e1]\n", "8e1 has an exponent: write 80"},
		{"profiles/WEB.yaml", rule + "    protocol: 06\n", "protocol: 06 has a leading zero: write 6"},
		{"profiles/WEB.yaml", rule + "    ip_version: 04\n", "ip_version: 04 has a leading zero: write 4"},
		{"profiles/WEB.json", `{"id": "WEB", "inbound_rules": [{"action": "allow", "protocol": "tcp", "dst_ports": [80.0]}]}`, "80.0 is not an integer: write 80"},
		{"profiles/WEB.json", `{"id": "WEB", "inbound_rules": [{"action": "allow", "ip_version": 4e0}]}`, "4e0 has an exponent: write 4"},
		{"tests/t.yaml", "tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 010, expect: allow}\n", "port: 010 has a leading zero: write 10"},
	} {
		_, errs := Load(map[string][]byte{tt.path: []byte(tt.data)})
		if errs == nil || !strings.Contains(errs.Error(), tt.wantGo) {
			t.Errorf("%s %q: Go errors = %v, want one containing %q", tt.path, tt.data, errs, tt.wantGo)
		}
		t.Logf("%s %q: the JSON Schema says %v", tt.path, tt.data, schemaCheck(schemas, tt.path, []byte(tt.data)))
	}
}

// TestJSONSchemaRejectsBadFiles: faults that a schema can express are caught by both.
func TestJSONSchemaRejectsBadFiles(t *testing.T) {
	schemas := compileSchemas(t)
	tests := []struct {
		name, path, data string
		wantGo           string // a substring of the Go validator's errors
	}{
		{"unknown key in rule", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    portz: [80]\n", `unknown key "portz"`},
		{"unknown key in profile", "profiles/WEB.yaml", "id: WEB\ntag: [WEB]\n", `unknown key "tag"`},
		{"unknown key in endpoint", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: h, interface: i, profiles: []}\n", `unknown key "profiles"`},
		{"unknown key in test", "tests/t.yaml", "tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 80, expect: allow, timeout: 3}\n", `unknown key "timeout"`},
		{"unknown key in json", "profiles/APP.json", `{"id": "APP", "inbound_rules": [{"action": "allow", "dstports": [1]}]}`, `unknown key "dstports"`},
		{"port as string", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [\"80\"]\n", `"80" is a string`},
		{"ports not a list", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: 80\n", `expected a list`},
		{"port out of range", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [70000]\n", `70000 is not a port`},
		{"icmp type 255", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: icmp\n    icmp_type: 255\n", `255 is not supported`},
		{"bad action", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: permit\n", `"permit" is not an action`},
		{"missing action", "profiles/WEB.yaml", "id: WEB\noutbound_rules:\n  - protocol: tcp\n", `action is required`},
		{"bad protocol", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: gre\n", `"gre" is not a protocol`},
		{"protocol 0", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: 0\n", `0 is not a protocol`},
		{"ports without protocol", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    dst_ports: [80]\n", `ports need protocol`},
		{"icmp without icmp protocol", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    icmp_type: 8\n", `needs protocol icmp`},
		{"icmp code without type", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: icmp\n    icmp_code: 0\n", `icmp_code: needs icmp_type`},
		{"log prefix on allow", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    log_prefix: x\n", `only allowed with action log`},
		{"log prefix too long", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: log\n    log_prefix: abcdefghijklmnopqrstuvwxyz01\n", `longer than 27`},
		{"ip version 5", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    ip_version: 5\n", `5 is not 4 or 6`},
		{"bad tag", "profiles/WEB.yaml", "id: WEB\ntags: [\"a b\"]\n", `not a valid tag`},
		{"duplicate tag", "profiles/WEB.yaml", "id: WEB\ntags: [A, A]\n", `duplicate tag`},
		{"id missing", "profiles/WEB.yaml", "tags: [A]\n", `id is required`},
		{"rules not a list", "profiles/WEB.yaml", "id: WEB\ninbound_rules: {action: allow}\n", `expected a list`},
		{"bad state", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: h, interface: i, state: up}\n", `"up" is not a state`},
		{"long interface", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: h, interface: abcdefghijklmnop}\n", `is 16 bytes; interface names are at most 15`},
		{"interface with slash", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: h, interface: a/b}\n", `is not an interface name nft matches literally`},
		{"wildcard interface", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: h, interface: \"cali*\"}\n", `"cali*" is not an interface name`},
		{"endpoint id over 64 bytes", "endpoints/e.yaml", "endpoints:\n  - {id: " + strings.Repeat("e", 65) + ", host: h, interface: i}\n", `is 65 bytes; ids are at most 64`},
		{"profile id over 64 bytes", "profiles/" + strings.Repeat("P", 65) + ".yaml", "id: " + strings.Repeat("P", 65) + "\n", `is 65 bytes; ids are at most 64`},
		{"tag over 64 bytes", "profiles/WEB.yaml", "id: WEB\ntags: [" + strings.Repeat("T", 65) + "]\n", `is 65 bytes; tags are at most 64`},
		{"missing host", "endpoints/e.yaml", "endpoints:\n  - {id: e, interface: i}\n", `host is required`},
		{"bad mac", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: h, interface: i, mac: ee}\n", `not a 48-bit MAC`},
		{"broadcast mac", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: h, interface: i, mac: \"ff:ff:ff:ff:ff:ff\"}\n", `is a broadcast or multicast address`},
		{"multicast mac", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: h, interface: i, mac: \"0100.5e00.0001\"}\n", `is a broadcast or multicast address`},
		{"host look-alike", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: \"n\u043ede-1\", interface: i}\n", `contains "о" (U+043E)`},
		{"host with a tab", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: \"node-1\\t\", interface: i}\n", `contains "\t" (U+0009)`},
		{"host ending in a dot", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: node-1., interface: i}\n", `starts or ends with '.'`},
		{"host label over 63 bytes", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: " + strings.Repeat("h", 64) + ", interface: i}\n", `has a label of 64 bytes`},
		{"mapped address in a test", "tests/t.yaml", "tests:\n  - {from: \"::ffff:198.18.0.1\", to: 198.18.0.2, protocol: tcp, port: 80, expect: allow}\n", `is an IPv4-mapped IPv6 address`},
		{"v6 in ipv4_nets", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: h, interface: i, ipv4_nets: [\"fd00::1/128\"]}\n", `not an IPv4 network`},
		{"endpoints not a list", "endpoints/e.yaml", "endpoints: {id: e}\n", `expected a list`},
		{"bad expect", "tests/t.yaml", "tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 80, expect: pass}\n", `"pass" is not allow or deny`},
		{"test port 0", "tests/t.yaml", "tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 0, expect: allow}\n", `0 is not a port`},
		{"test port with icmp", "tests/t.yaml", "tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: icmp, port: 80, expect: allow}\n", `port: needs protocol`},
		{"test without from", "tests/t.yaml", "tests:\n  - {to: 198.18.0.2, protocol: tcp, expect: allow}\n", `from is required`},
		// Numbers are plain decimal (ParseDecimal); what reaches the schema as a string or as
		// JSON text can be checked by both.
		{"range with a leading zero", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [\"08:10\"]\n", `08 has a leading zero: write 8`},
		{"unquoted range with a leading zero", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    \"!dst_ports\": [8000:08080]\n", `08080 has a leading zero: write 8080`},
		{"range with a plus", "profiles/WEB.json", `{"id": "WEB", "inbound_rules": [{"action": "allow", "protocol": "tcp", "src_ports": ["+1:2"]}]}`, `+1 has a '+' sign`},
		{"protocol string with a leading zero", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: \"06\"\n", `"06" has a leading zero: write 6`},
		{"protocol string with a plus", "profiles/WEB.json", `{"id": "WEB", "inbound_rules": [{"action": "allow", "!protocol": "+6"}]}`, `"+6" has a '+' sign: write 6`},
		{"protocol string 256", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - action: allow\n    protocol: \"256\"\n", `protocol: 256 is not a protocol`},
		{"test protocol string with a leading zero", "tests/t.yaml", "tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: \"017\", port: 53, expect: allow}\n", `"017" has a leading zero: write 17`},
		{"json port with a leading zero", "profiles/WEB.json", `{"id": "WEB", "inbound_rules": [{"action": "allow", "protocol": "tcp", "dst_ports": [010, 0755]}]}`, `dst_ports: 010 has a leading zero: write 10`},
		{"json icmp_type with a leading zero", "profiles/WEB.json", `{"id": "WEB", "inbound_rules": [{"action": "allow", "protocol": "icmp", "icmp_type": 010}]}`, `icmp_type: 010 has a leading zero: write 10`},
		{"json ip_version in hex", "profiles/WEB.json", `{"id": "WEB", "inbound_rules": [{"action": "allow", "ip_version": 0x4}]}`, `ip_version: 0x4 is hexadecimal`},
		// Families (the reverse directions of badrepos cases 035-038) and mapped addresses.
		{"ip version 6 with icmp", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - {action: allow, ip_version: 6, protocol: icmp}\n", `ip_version: 6 does not match protocol "icmp" (IPv4)`},
		{"icmp with an IPv6 net", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - {action: allow, protocol: \"1\", \"!src_net\": \"fd00::/8\"}\n", `is IPv6 but protocol 1 is IPv4`},
		{"ip version 4 with an IPv6 negated net", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - {action: allow, ip_version: 4, \"!dst_net\": \"fd00::/8\"}\n", `ip_version: 4 does not match !dst_net`},
		{"mapped address in a rule", "profiles/WEB.yaml", "id: WEB\ninbound_rules:\n  - {action: allow, src_net: \"0:0::FFFF:198.18.0.1\"}\n", `is an IPv4-mapped IPv6 address`},
		{"mapped address in ipv6_nets", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: h, interface: i, ipv6_nets: [\"::ffff:c612:1/128\"]}\n", `is an IPv4-mapped IPv6 address`},
		{"prefix length with a leading zero", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: h, interface: i, ipv4_nets: [\"198.18.0.0/015\"]}\n", `not an IP address or CIDR`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := Load(map[string][]byte{tt.path: []byte(tt.data)})
			if errs == nil {
				t.Errorf("the Go validator accepts it")
			} else if !strings.Contains(errs.Error(), tt.wantGo) {
				t.Errorf("Go errors = %q, want one containing %q", errs.Error(), tt.wantGo)
			}
			if err := schemaCheck(schemas, tt.path, []byte(tt.data)); err == nil {
				t.Errorf("the JSON Schema accepts it")
			}
		})
	}
}

// TestNetPatternsAgreeWithParseNet: the schema's net patterns (profile nets, endpoint nets)
// accept exactly the strings the Go validator accepts as nets: addresses and CIDRs of both
// families in every spelling netip parses (compressed, expanded, upper case, an embedded IPv4
// tail), and none of the near misses (octet 256, a leading zero, /33, /129, a zone, a second
// "::", an IPv4-mapped address).
func TestNetPatternsAgreeWithParseNet(t *testing.T) {
	schemas := compileSchemas(t)
	rng := rand.New(rand.NewPCG(8, 8))
	var cands []string
	addrs := []netip.Addr{netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::"), netip.MustParseAddr("::ffff:198.18.0.1")}
	for range 250 {
		var b4 [4]byte
		var b16 [16]byte
		for i := range b16 {
			if rng.IntN(3) > 0 { // zeros often, so that "::" appears
				b16[i] = byte(rng.IntN(256))
			}
		}
		for i := range b4 {
			b4[i] = byte(rng.IntN(256))
		}
		addrs = append(addrs, netip.AddrFrom4(b4), netip.AddrFrom16(b16))
	}
	for _, a := range addrs {
		spellings := []string{a.String(), a.StringExpanded(), strings.ToUpper(a.String())}
		if a.Is6() && !a.Is4In6() {
			b := a.As16()
			tail := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}).String()
			head := netip.AddrFrom16([16]byte{b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], 0, 0, 0, 1}).String()
			spellings = append(spellings, strings.TrimSuffix(head, "1")+tail) // "x:y::" or "...:0:" + a.b.c.d
		}
		for _, s := range spellings {
			cands = append(cands, s, s+"/"+strconv.Itoa(rng.IntN(a.BitLen()+1)), s+"/"+strconv.Itoa(a.BitLen()+rng.IntN(3)))
		}
	}
	const alphabet = "0123456789abcdefABCDEFgx:./%-"
	for _, s := range slices.Clone(cands) { // near misses
		r := []byte(s)
		i := rng.IntN(len(r))
		switch rng.IntN(3) {
		case 0:
			r = slices.Delete(r, i, i+1)
		case 1:
			r = slices.Insert(r, i, alphabet[rng.IntN(len(alphabet))])
		default:
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cands = append(cands, string(r))
	}
	cands = append(cands, "", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.4/032", "1.2.3.4/", "::1/0128", "fe80::1%eth0",
		"1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8::", "12345::", ":1::", "1::2:",
		"::ffff:1.2.3.4", "0::FFFF:1.2.3.4", "0:0:0:0:0:ffff:102:304", "::ffff:0:102:304", "::ffff:102:304", "::fffe:1.2.3.4")
	accepted := 0
	for _, s := range cands {
		p, err := ParseNet(s)
		goOK := err == nil && !p.Addr().Is4In6()
		doc := fmt.Sprintf(`{"id": "P", "inbound_rules": [{"action": "allow", "src_net": %q}]}`, s)
		_, errs := Load(map[string][]byte{"profiles/P.json": []byte(doc)})
		if goOK {
			accepted++
		}
		if goOK != (errs == nil) {
			t.Fatalf("%q: ParseNet says ok=%v, Load says %v", s, goOK, errs)
		}
		key := "ipv4_nets"
		if strings.Contains(s, ":") {
			key = "ipv6_nets"
		}
		epDoc := fmt.Sprintf(`{"endpoints": [{"id": "e", "host": "h", "interface": "i", %q: [%q]}]}`, key, s)
		okProfile := schemaCheck(schemas, "profiles/P.json", []byte(doc)) == nil
		okEndpoint := schemaCheck(schemas, "endpoints/e.json", []byte(epDoc)) == nil
		if okProfile != goOK || okEndpoint != goOK {
			t.Errorf("%q: the Go validator says ok=%v as a net, the schema says ok=%v (src_net) and %v (%s)", s, goOK, okProfile, okEndpoint, key)
		}
	}
	if accepted < len(cands)/3 || accepted > len(cands)*2/3 {
		t.Errorf("%d of %d strings are nets: the candidates do not test both sides", accepted, len(cands))
	}
}

// TestJSONSchemaAcceptsFamilyConsistentRules: the schema's family rules (one family of nets,
// ip_version and icmp/icmpv6 against the nets) refuse only what the Go validator refuses.
func TestJSONSchemaAcceptsFamilyConsistentRules(t *testing.T) {
	schemas := compileSchemas(t)
	for _, rule := range []string{
		`{action: allow, ip_version: 6, src_net: "fd00::/8", "!dst_net": "fd00:1::/64"}`,
		`{action: allow, ip_version: 4, src_net: 198.18.0.0/15, dst_net: 198.18.1.1, protocol: icmp}`,
		`{action: allow, protocol: icmpv6, icmp_type: 128, "!src_net": "fd00::1"}`,
		`{action: allow, protocol: 58, ip_version: 6, dst_net: "::/0"}`,
		`{action: allow, protocol: "1", "!dst_net": 0.0.0.0/0}`,
		`{action: allow, protocol: icmp, icmp_type: 3, "!icmp_code": 1}`,
		`{action: allow, protocol: icmp, "!icmp_type": 3, "!icmp_code": 1}`,
		`{action: allow, protocol: tcp, src_net: 198.18.0.0/15, "!protocol": udp}`,
	} {
		data := "id: WEB\ninbound_rules:\n  - " + rule + "\n"
		if _, errs := Load(map[string][]byte{"profiles/WEB.yaml": []byte(data)}); errs != nil {
			t.Errorf("%s: the Go validator rejects it: %v", rule, errs)
		}
		if err := schemaCheck(schemas, "profiles/WEB.yaml", []byte(data)); err != nil {
			t.Errorf("%s: the JSON Schema rejects it: %v", rule, err)
		}
	}
}
