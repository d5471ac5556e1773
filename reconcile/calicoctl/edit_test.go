package calicoctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"

	"github.com/reconcile-dev/reconcile/schema"
)

var updateEdit = flag.Bool("update-edit", false, "rewrite reconcile/calicoctl/testdata/edit golden files")

// editGolden compares got with testdata/edit/<name>, or rewrites it with -update-edit.
func editGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "edit", name)
	if *updateEdit {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./reconcile/calicoctl -run Edit -update-edit)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// decodeOK decodes a profile file and fails the test on any error.
func decodeOK(t *testing.T, path string, data []byte) *schema.Profile {
	t.Helper()
	p, errs := schema.DecodeProfile(path, data)
	if len(errs) > 0 {
		t.Fatalf("decode %s:\n%s\n%v", path, data, errs)
	}
	return p
}

// sameProfile compares what the files say (ids, tags, rules), not where they say it.
func sameProfile(a, b *schema.Profile) bool {
	return a.ID == b.ID && reflect.DeepEqual(a.Tags, b.Tags) && sameRules(a.Inbound, b.Inbound) && sameRules(a.Outbound, b.Outbound)
}

func seedWEB() *schema.Profile {
	return &schema.Profile{
		ID:   "WEB",
		Tags: []string{"WEB", "APP_7890"},
		Inbound: []schema.Rule{
			{Action: "allow", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 80, Last: 80}, {First: 443, Last: 443}}},
			{Action: "allow", Protocol: "icmp", ICMPType: rtInt(8)},
		},
		Outbound: []schema.Rule{{Action: "allow"}},
	}
}

func TestMarshalProfileNewFiles(t *testing.T) {
	full := &schema.Profile{
		ID:   "ALL",
		Tags: []string{"ALL", "7", "yes"},
		Inbound: []schema.Rule{{
			Action: "log", LogPrefix: "in:", Protocol: "tcp", IPVersion: 4,
			SrcTag: "A", SrcNet: "198.18.0.0/15", SrcPorts: []schema.PortRange{{First: 1, Last: 1}, {First: 1000, Last: 2000}},
			DstTag: "B", DstNet: "198.18.1.2/32", DstPorts: []schema.PortRange{{First: 80, Last: 80}},
			NotProtocol: "udp", NotSrcTag: "C", NotSrcNet: "198.19.0.0/16", NotSrcPorts: []schema.PortRange{{First: 5, Last: 5}},
			NotDstTag: "D", NotDstNet: "198.18.9.9/32", NotDstPorts: []schema.PortRange{{First: 6, Last: 9}},
		}, {Action: "allow", Protocol: "icmp", ICMPType: rtInt(3), ICMPCode: rtInt(1), NotICMPType: rtInt(8), NotICMPCode: rtInt(0)},
			{Action: "deny", Protocol: "47"}},
		Outbound: []schema.Rule{},
	}
	for _, tt := range []struct {
		golden string
		path   string
		p      *schema.Profile
	}{
		{"new-WEB.yaml", "profiles/WEB.yaml", seedWEB()},
		{"new-WEB.json", "profiles/WEB.json", seedWEB()},
		{"new-ALL.yaml", "profiles/ALL.yaml", full},
		{"new-ALL.json", "profiles/ALL.json", full},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := MarshalProfile(tt.path, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			editGolden(t, tt.golden, got)
			back := decodeOK(t, tt.path, got)
			if !sameProfile(back, tt.p) {
				t.Fatalf("re-decoded profile differs:\n got %+v\nwant %+v", back, tt.p)
			}
			// Editing a file into what it already holds changes nothing.
			again, err := EditProfile(tt.path, got, back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, got) {
				t.Fatalf("no-op edit changed the file:\n%s", again)
			}
		})
	}
}

const commentedWEB = `# WEB: the public web tier.
# Owned by the web team; ask before changing.
id: WEB # must equal the file name
# tags other profiles can refer to
tags: [WEB] # the web tier's own tag
inbound_rules:
  # the default rule of "profile add"
  - action: allow
    src_tag: WEB
  # keep ssh for the bastion
  - action: allow # bastion
    protocol: tcp
    src_net: 198.18.0.9
    dst_ports: [22]
outbound_rules:
  - action: allow # anything goes out
# end of file
`

func TestEditProfileKeepsComments(t *testing.T) {
	const path = "profiles/WEB.yaml"
	orig := []byte(commentedWEB)
	p := decodeOK(t, path, orig)

	// The seed's edits: remove inbound rule 1, add two rules, add a tag.
	p.Inbound = append(p.Inbound[1:],
		schema.Rule{Action: "allow", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 80, Last: 80}, {First: 443, Last: 443}}},
		schema.Rule{Action: "allow", Protocol: "icmp", ICMPType: rtInt(8)})
	p.Tags = append(p.Tags, "APP_7890")
	got, err := EditProfile(path, orig, p)
	if err != nil {
		t.Fatal(err)
	}
	editGolden(t, "edited-WEB.yaml", got)
	for _, c := range []string{"# WEB: the public web tier.", "# must equal the file name", "# tags other profiles can refer to",
		"# keep ssh for the bastion", "# bastion", "# anything goes out", "# end of file"} {
		if !strings.Contains(string(got), c) {
			t.Errorf("comment %q was lost:\n%s", c, got)
		}
	}
	if strings.Contains(string(got), "the default rule") {
		t.Errorf("the removed rule's comment is still there:\n%s", got)
	}
	if !strings.Contains(string(got), "tags: [WEB, APP_7890]") {
		t.Errorf("tags not in flow style:\n%s", got)
	}
	back := decodeOK(t, path, got)
	if !sameProfile(back, p) {
		t.Fatalf("re-decoded profile differs:\n got %+v\nwant %+v", back, p)
	}
	// Stable: the same edit on the output gives identical bytes.
	again, err := EditProfile(path, got, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, got) {
		t.Fatalf("second edit changed the bytes:\n--- first\n%s\n--- second\n%s", got, again)
	}
}

func TestEditProfileOnlyTouchesChangedField(t *testing.T) {
	const path = "profiles/WEB.yaml"
	orig := []byte(commentedWEB)
	p := decodeOK(t, path, orig)
	p.Outbound = []schema.Rule{{Action: "deny", DstNet: "198.18.0.0/15"}, {Action: "allow"}}
	got, err := EditProfile(path, orig, p)
	if err != nil {
		t.Fatal(err)
	}
	// The inbound rules keep their exact original text (e.g. the bare address).
	if !strings.Contains(string(got), "src_net: 198.18.0.9\n") {
		t.Errorf("an unchanged rule was rewritten:\n%s", got)
	}
	// The unchanged "allow" rule kept its comment even though it moved.
	if !strings.Contains(string(got), "- action: allow # anything goes out") {
		t.Errorf("the unchanged outbound rule lost its comment:\n%s", got)
	}
	if back := decodeOK(t, path, got); !sameProfile(back, p) {
		t.Fatalf("re-decoded profile differs: %+v", back)
	}
}

func TestEditProfileJSONStaysJSON(t *testing.T) {
	const path = "profiles/APP.json"
	orig := []byte(`{"id": "APP", "tags": ["APP"], "inbound_rules": [{"src_tag": "APP", "action": "allow"}], "outbound_rules": [{"action": "allow"}]}`)
	p := decodeOK(t, path, orig)
	p.Tags = []string{"APP", "BACKEND"}
	p.Inbound = append(p.Inbound, schema.Rule{Action: "allow", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 7890, Last: 7890}, {First: 8000, Last: 8080}}, SrcTag: "APP_7890"})
	got, err := EditProfile(path, orig, p)
	if err != nil {
		t.Fatal(err)
	}
	// A one-line JSON file stays one line: only the changed lists change.
	want := `{"id": "APP", "tags": ["APP", "BACKEND"], "inbound_rules": [{"src_tag": "APP", "action": "allow"}, {"action": "allow", "protocol": "tcp", "src_tag": "APP_7890", "dst_ports": [7890, "8000:8080"]}], "outbound_rules": [{"action": "allow"}]}`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if back := decodeOK(t, path, got); !sameProfile(back, p) {
		t.Fatalf("re-decoded profile differs: %+v", back)
	}
	again, err := EditProfile(path, got, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, got) {
		t.Fatalf("second edit changed the bytes:\n%s\n%s", got, again)
	}
}

// JSON escapes that yaml.v3 does not read (`\/`, surrogate pairs) stay as they are in an
// edited file; the splices land where the file has its lists.
func TestEditJSONEscapes(t *testing.T) {
	const path = "profiles/APP.json"
	orig := "{\"id\": \"APP\", \"inbound_rules\": [{\"src_net\": \"198.18.0.0\\/16\", \"action\": \"allow\"}, {\"dst_net\": \"fd00::\\/8\", \"action\": \"deny\"}],\r\n \"tags\": [\"APP\"], \"outbound_rules\": []}"
	p := decodeOK(t, path, []byte(orig))
	p.Tags = []string{"APP", "B"}
	p.Inbound = p.Inbound[1:]
	got, err := EditProfile(path, []byte(orig), p)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"id\": \"APP\", \"inbound_rules\": [{\"dst_net\": \"fd00::\\/8\", \"action\": \"deny\"}],\r\n \"tags\": [\"APP\", \"B\"], \"outbound_rules\": []}"
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	const ep = "endpoints/e.json"
	eps := "{\"endpoints\": [{\"id\": \"a\\/\\ud83d\\ude00\", \"host\": \"h\"}, {\"id\": \"b\", \"host\": \"h\", \"profile_ids\": []}]}"
	got, err = EditEndpointProfiles(ep, []byte(eps), "b", "", []string{"WEB"})
	if want := strings.Replace(eps, `"profile_ids": []`, `"profile_ids": ["WEB"]`, 1); err != nil || string(got) != want {
		t.Fatalf("got\n%s (%v)\nwant\n%s", got, err, want)
	}
	// A lone surrogate: refused with validate's message.
	_, err = EditEndpointProfiles(ep, []byte(`{"endpoints": [{"id": "\ud83d"}]}`), "b", "", nil)
	if want := ep + `:1:24: cannot edit the file in place: \ud83d is half of a UTF-16 surrogate pair, without its other half: it is no character; write the character itself or both halves`; err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestEditProfileAddsMissingFields(t *testing.T) {
	const path = "profiles/X.yaml"
	orig := []byte("id: X # x\ninbound_rules: []\noutbound_rules:\n")
	p, _ := schema.DecodeProfile(path, orig)
	if p == nil {
		t.Fatal("the decoder does not accept a profile without tags")
	}
	p.Tags = []string{"X"}
	p.Inbound = []schema.Rule{{Action: "allow", SrcTag: "X"}}
	p.Outbound = []schema.Rule{{Action: "allow"}}
	got, err := EditProfile(path, orig, p)
	if err != nil {
		t.Fatal(err)
	}
	want := "id: X # x\ntags: [X]\ninbound_rules:\n  - action: allow\n    src_tag: X\noutbound_rules:\n  - action: allow\n"
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

const labEndpoints = `# the lab
endpoints:
  - id: web-1 # first web server
    host: node-1
    interface: caliweb1
    ipv4_nets: [198.18.1.2/32]
    ipv6_nets: []
    profile_ids: [WEB] # only WEB
    state: active
  - id: app-1
    host: node-2
    interface: caliapp1
    ipv4_nets: [198.18.1.3/32]
    ipv6_nets: []
    profile_ids:
      - APP
    state: active
`

func TestEditEndpointProfiles(t *testing.T) {
	const path = "endpoints/lab.yaml"
	got, err := EditEndpointProfiles(path, []byte(labEndpoints), "app-1", "", []string{"APP", "WEB"})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(labEndpoints, "    profile_ids:\n      - APP\n", "    profile_ids:\n      - APP\n      - WEB\n", 1)
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	got2, err := EditEndpointProfiles(path, got, "web-1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	want2 := strings.Replace(want, "profile_ids: [WEB] # only WEB", "profile_ids: [] # only WEB", 1)
	if string(got2) != want2 {
		t.Fatalf("got\n%s\nwant\n%s", got2, want2)
	}
	if _, err := EditEndpointProfiles(path, got, "nope", "", nil); !errors.Is(err, ErrNoEndpoint) {
		t.Fatalf("unknown endpoint: err = %v, want ErrNoEndpoint", err)
	}
}

func TestEditEndpointProfilesJSON(t *testing.T) {
	const path = "endpoints/lab.json"
	orig := `{"endpoints": [{"id": "a", "host": "h", "interface": "calia", "ipv4_nets": ["198.18.1.2/32"], "ipv6_nets": [], "profile_ids": [], "state": "active", "mac": "ee:ee:ee:ee:ee:ee"}]}`
	got, err := EditEndpointProfiles(path, []byte(orig), "a", "", []string{"WEB"})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(orig, `"profile_ids": []`, `"profile_ids": ["WEB"]`, 1)
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestEditProfileStyles(t *testing.T) {
	const path = "profiles/W.yaml"
	add := schema.Rule{Action: "allow", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 1, Last: 1}, {First: 2, Last: 2}}}
	tests := []struct {
		name, in, want string
	}{
		{"JSON in a .yaml file stays JSON-like",
			`{"id": "W", "tags": ["W", "7"], "inbound_rules": [], "outbound_rules": [{"action": "allow"}]}`,
			`{"id": "W", "tags": ["W", "7"], "inbound_rules": [{"action": "allow", "protocol": "tcp", "dst_ports": [1, 2]}], "outbound_rules": [{"action": "allow"}]}`},
		{"a comment after [] stays on the key's line",
			"id: W\ntags:\n  - W # own\ninbound_rules: [] # none yet\noutbound_rules:\n- action: allow\n",
			"id: W\ntags:\n  - W # own\ninbound_rules: # none yet\n  - action: allow\n    protocol: tcp\n    dst_ports: [1, 2]\noutbound_rules:\n- action: allow\n"},
		{"comments between rules and flow rules survive",
			"id: W\ntags: [W]\n\n# in\ninbound_rules:\n  - action: deny # first\n\n  # second\n  - {action: log}\noutbound_rules: []\n# foot\n",
			"id: W\ntags: [W]\n\n# in\ninbound_rules:\n  - action: deny # first\n\n  # second\n  - {action: log}\n  - {action: allow, protocol: tcp, dst_ports: [1, 2]}\noutbound_rules: []\n# foot\n"},
		{"a new rule after a block rule is a block rule with its neighbour's indentation",
			"id: W\ninbound_rules:\n    -   action: deny\n        protocol: udp\noutbound_rules: []\n",
			"id: W\ninbound_rules:\n    -   action: deny\n        protocol: udp\n    -   action: allow\n        protocol: tcp\n        dst_ports: [1, 2]\noutbound_rules: []\n"},
		{"a null list becomes a block list",
			"id: W\ninbound_rules: ~ # later\noutbound_rules: []\n",
			"id: W\ninbound_rules: # later\n  - action: allow\n    protocol: tcp\n    dst_ports: [1, 2]\noutbound_rules: []\n"},
		{"a missing list is added in key order, indented like the other lists",
			"id: W\noutbound_rules:\n- action: allow\n",
			"id: W\ninbound_rules:\n- action: allow\n  protocol: tcp\n  dst_ports: [1, 2]\noutbound_rules:\n- action: allow\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := decodeOK(t, path, []byte(tt.in))
			p.Inbound = append(p.Inbound, add)
			got, err := EditProfile(path, []byte(tt.in), p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			again, err := EditProfile(path, got, decodeOK(t, path, got))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, got) {
				t.Fatalf("not stable:\n%s\n---\n%s", got, again)
			}
		})
	}
}

// ---- the yardstick: an edit changes only the lines the command changes ----

// fileLines splits a file after each "\n", so every line keeps its own "\r\n" or "\n".
func fileLines(b []byte) []string { return testenv.FileLines(string(b)) }

// hunk is one change of a line diff: before[a0:a1] became after[b0:b1] (0-based).
type hunk struct{ a0, a1, b0, b1 int }

// lineDiff is a longest-common-subsequence diff of two files' lines, compared byte for byte
// (so a line that lost its "\r" is a changed line), as hunks of consecutive changes.
func lineDiff(before, after []string) []hunk {
	var out []hunk
	for _, op := range testenv.LineDiff(before, after) {
		i, j := op.Before, op.After
		if op.Op == '-' {
			i++
		} else {
			j++
		}
		if k := len(out) - 1; k >= 0 && out[k].a1 == op.Before && out[k].b1 == op.After {
			out[k].a1, out[k].b1 = i, j
			continue
		}
		out = append(out, hunk{a0: op.Before, a1: i, b0: op.After, b1: j})
	}
	return out
}

// fieldLines is the 1-based line range of a field in a file: from the first line where key
// appears as a key to the line before the next line that starts another field (a key of
// others, a comment or "}" at the start of a line), or the last line.
func fieldLines(lines []string, key string, others []string) (int, int) {
	return fieldLinesC(lines, key, others, false)
}

// fieldLinesC is fieldLines; with lenientComments a comment at the start of a line does not end
// the field (it may be the head comment of a list item).
func fieldLinesC(lines []string, key string, others []string, lenientComments bool) (int, int) {
	isKey := func(l, k string) bool {
		return regexp.MustCompile(`(^|[\s{,\-])["']?` + regexp.QuoteMeta(k) + `["']?\s*:`).MatchString(l)
	}
	lo := -1
	for i, l := range lines {
		if isKey(l, key) {
			lo = i + 1
			break
		}
	}
	if lo < 0 {
		return 1, len(lines)
	}
	for i := lo; i < len(lines); i++ {
		l := lines[i]
		if (strings.HasPrefix(l, "#") && !lenientComments) || strings.HasPrefix(l, "}") {
			return lo, i
		}
		for _, o := range others {
			if isKey(l, o) {
				return lo, i
			}
		}
	}
	return lo, len(lines)
}

// checkOnlyField asserts that after differs from before only inside lines lo..hi of before, with
// at most maxDel deleted and maxAdd added lines (-1: any), that every added line ends like the
// file's lines ("\r\n" in a CRLF file), and that the byte-order mark and a missing final line
// break are kept.
func checkOnlyField(t *testing.T, before, after []byte, lo, hi, maxDel, maxAdd int) {
	t.Helper()
	if bytes.HasPrefix(before, utf8BOM) != bytes.HasPrefix(after, utf8BOM) {
		t.Errorf("the byte-order mark was not kept")
	}
	if bytes.HasSuffix(before, []byte("\n")) != bytes.HasSuffix(after, []byte("\n")) {
		t.Errorf("the final line break changed (before %v)", bytes.HasSuffix(before, []byte("\n")))
	}
	crlf := bytes.Contains(before, []byte("\r\n"))
	bl, al := fileLines(before), fileLines(after)
	del, add := 0, 0
	for _, h := range lineDiff(bl, al) {
		del += h.a1 - h.a0
		add += h.b1 - h.b0
		if h.a1 > h.a0 && (h.a0+1 < lo || h.a1 > hi) {
			t.Errorf("lines %d-%d changed, outside the field's lines %d-%d: %q", h.a0+1, h.a1, lo, hi, bl[h.a0:h.a1])
		}
		if h.a1 == h.a0 && (h.a0 < lo || h.a0 > hi) {
			t.Errorf("lines inserted after line %d, outside the field's lines %d-%d: %q", h.a0, lo, hi, al[h.b0:h.b1])
		}
		for _, l := range al[h.b0:h.b1] {
			if strings.HasSuffix(l, "\n") && strings.HasSuffix(l, "\r\n") != crlf {
				t.Errorf("added line %q does not end like the file's lines (CRLF %v)", l, crlf)
			}
			if strings.ContainsRune(strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r"), '\r') || (!crlf && strings.Contains(l, "\r")) {
				t.Errorf("added line %q has a stray carriage return", l)
			}
		}
	}
	if maxDel >= 0 && del > maxDel {
		t.Errorf("%d lines deleted, want at most %d", del, maxDel)
	}
	if maxAdd >= 0 && add > maxAdd {
		t.Errorf("%d lines added, want at most %d", add, maxAdd)
	}
	if t.Failed() {
		t.Logf("before:\n%s\nafter:\n%s", before, after)
	}
}

// fileVariant turns an LF file into one of the line-ending and byte-order-mark styles.
type fileVariant struct {
	name string
	make func(string) []byte
}

var fileVariants = []fileVariant{
	{"LF", func(s string) []byte { return []byte(s) }},
	{"CRLF", func(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }},
	{"CRLF+BOM", func(s string) []byte { return append(slices.Clone(utf8BOM), strings.ReplaceAll(s, "\n", "\r\n")...) }},
	{"LF no final newline", func(s string) []byte { return []byte(strings.TrimSuffix(s, "\n")) }},
	{"CRLF+BOM no final newline", func(s string) []byte {
		return append(slices.Clone(utf8BOM), strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\r\n")...)
	}},
}

// profileStyles are the same profile (tags P, T-1; inbound allow from P, deny udp; outbound
// allow) written in different styles.
var profileStyles = []struct {
	name, ext, text string
	anchored        bool // the first inbound rule carries an anchor an alias uses
}{
	{"YAML comments everywhere, flow tags, quoted keys", "yaml", `# P: test profile
id: P # the id
# tags of P
tags: [P, 'T-1'] # tag comment
inbound_rules:
  # first rule
  - action: allow # allow from P
    src_tag: P
  - action: deny
    "!protocol": udp
  # trailing comment in the list
outbound_rules:
  - action: allow
# end
`, false},
	{"YAML 4 spaces, block tags with comments, double quotes, indentless list", "yaml", `id: "P"
tags:
    - "P"   # own tag
    # the second tag
    - "T-1"

inbound_rules:
    -   action: "allow"
        src_tag: "P"
    -   action: "deny"
        protocol: "udp"
outbound_rules:
- action: allow
`, false},
	{"YAML flow lists of rules", "yaml", `id: P
tags: [P, T-1]
inbound_rules: [{action: allow, src_tag: P}, {action: deny, protocol: udp}]
outbound_rules: [{action: allow}]
`, false},
	{"YAML anchors on unchanged values", "yaml", `id: P
tags: [P, T-1]
inbound_rules:
  - &fromP {action: allow, src_tag: P}
  - action: deny
    protocol: udp
outbound_rules:
  - action: allow
  - *fromP
`, true},
	{"YAML multi-line flow lists with comments and a trailing comma, a dash on its own line", "yaml", `id: P
tags: [
  P,  # own
  T-1 # other
]
inbound_rules:
- action: allow
  src_tag: P

-
  # the deny
  action: deny
  protocol: udp

outbound_rules: [
  {action: allow},
]
`, false},
	{"YAML 1.2 header, multi-line flow lists with comment lines between the items", "yaml", `%YAML 1.2
---
id: P
tags: [  # tags
  # own
  P,
  # other
  T-1
]
inbound_rules: [
  # from P
  {action: allow, src_tag: P},

  # no udp
  {action: deny, protocol: udp}
  # end of inbound
]
outbound_rules: [
  {action: allow}  # all out
]
`, false},
	{"JSON indented by 2, one key per line", "json", `{
  "id": "P",
  "tags": [
    "P",
    "T-1"
  ],
  "inbound_rules": [
    {
      "action": "allow",
      "src_tag": "P"
    },
    {
      "action": "deny",
      "protocol": "udp"
    }
  ],
  "outbound_rules": [
    {
      "action": "allow"
    }
  ]
}
`, false},
	{"JSON indented by tabs, one rule per line", "json", "{\n\t\"id\": \"P\",\n\t\"tags\": [\"P\", \"T-1\"],\n\t\"inbound_rules\": [\n\t\t{\"action\": \"allow\", \"src_tag\": \"P\"},\n\t\t{\"action\": \"deny\", \"protocol\": \"udp\"}\n\t],\n\t\"outbound_rules\": [{\"action\": \"allow\"}]\n}\n", false},
	{"JSON on one line, compact", "json", `{"id":"P","tags":["P","T-1"],"inbound_rules":[{"action":"allow","src_tag":"P"},{"action":"deny","protocol":"udp"}],"outbound_rules":[{"action":"allow"}]}
`, false},
}

// profileEdits are what the calicoctl commands do to a profile, with the field they change and
// how many lines they may delete and add (-1: any, within the field).
var profileEdits = []struct {
	name              string
	field             string
	maxDel, maxAdd    int
	edit              func(p *schema.Profile)
	dropsFirstInbound bool
}{
	{"tag add (a tag that needs quotes in YAML)", "tags", 1, 2, func(p *schema.Profile) { p.Tags = append(p.Tags, "7") }, false},
	{"tag remove first", "tags", 2, 1, func(p *schema.Profile) { p.Tags = p.Tags[1:] }, false},
	// The last tag goes with its comment line; the tag before it loses its comma.
	{"tag remove last", "tags", 3, 1, func(p *schema.Profile) { p.Tags = p.Tags[:1] }, false},
	{"tag remove all", "tags", -1, 1, func(p *schema.Profile) { p.Tags = []string{} }, false},
	{"rule add inbound", "inbound_rules", 1, -1, func(p *schema.Profile) { p.Inbound = append(p.Inbound, newRule) }, false},
	{"rule add inbound --at=1", "inbound_rules", 1, -1, func(p *schema.Profile) { p.Inbound = slices.Insert(p.Inbound, 0, newRule) }, false},
	{"rule add outbound", "outbound_rules", 1, -1, func(p *schema.Profile) { p.Outbound = append(p.Outbound, newRule) }, false},
	{"rule remove inbound 1", "inbound_rules", -1, 1, func(p *schema.Profile) { p.Inbound = p.Inbound[1:] }, true},
	{"rule remove inbound 2 (last)", "inbound_rules", -1, 1, func(p *schema.Profile) { p.Inbound = p.Inbound[:1] }, false},
	{"rule remove all outbound", "outbound_rules", -1, 1, func(p *schema.Profile) { p.Outbound = []schema.Rule{} }, false},
	{"rule update: drop one, keep one, add one", "inbound_rules", -1, -1, func(p *schema.Profile) { p.Inbound = []schema.Rule{p.Inbound[1], newRule} }, true},
	{"rule update: replace all", "inbound_rules", -1, -1, func(p *schema.Profile) { p.Inbound = []schema.Rule{newRule, {Action: "log", LogPrefix: "in:"}} }, true},
}

// newRule has a port range, a negated (quoted "!") key and a net.
var newRule = schema.Rule{Action: "allow", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 80, Last: 80}, {First: 8000, Last: 8080}}, NotSrcNet: "198.18.0.0/16"}

func cloneProfile(p *schema.Profile) *schema.Profile {
	c := *p
	c.Tags = slices.Clone(p.Tags)
	c.Inbound = slices.Clone(p.Inbound)
	c.Outbound = slices.Clone(p.Outbound)
	return &c
}

func TestEditProfileChangesOnlyItsLines(t *testing.T) {
	for _, style := range profileStyles {
		for _, v := range fileVariants {
			for _, ed := range profileEdits {
				t.Run(style.name+"/"+v.name+"/"+ed.name, func(t *testing.T) {
					path := "profiles/P." + style.ext
					before := v.make(style.text)
					p := decodeOK(t, path, bytes.TrimPrefix(before, utf8BOM))
					want := cloneProfile(p)
					ed.edit(want)
					after, err := EditProfile(path, before, want)
					if style.anchored && ed.dropsFirstInbound {
						// Deleting the rule that carries &fromP would change what *fromP means.
						if !errors.Is(err, ErrCannotEdit) || err.Error() != path+":4:5: cannot edit the file in place: inbound_rules: &fromP is used by an alias (*fromP) elsewhere, which would change too: write that value out in full instead of *fromP first" {
							t.Fatalf("err = %v, want a refusal naming &fromP at 4:5", err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					got := decodeOK(t, path, bytes.TrimPrefix(after, utf8BOM))
					if !sameProfile(got, want) {
						t.Fatalf("the edited file means\n%+v\nwant\n%+v\n%s", got, want, after)
					}
					if ext := style.ext; ext == "json" && !json.Valid(bytes.TrimPrefix(after, utf8BOM)) {
						t.Fatalf("not JSON any more:\n%s", after)
					}
					lo, hi := fieldLines(fileLines(before), ed.field, profileKeyOrder)
					checkOnlyField(t, before, after, lo, hi, ed.maxDel, ed.maxAdd)
					// The edit is stable: editing the result into what it holds changes nothing.
					again, err := EditProfile(path, after, got)
					if err != nil || !bytes.Equal(again, after) {
						t.Fatalf("a no-op edit changed the file (%v):\n%s", err, again)
					}
				})
			}
		}
	}
}

// endpointStyles are endpoints files in different styles; each has endpoints with profile_ids
// [WEB] (e1), [APP, WEB] (e2) and none (e3, no profile_ids key).
var endpointStyles = []struct{ name, ext, text string }{
	{"YAML comments, flow and block lists", "yaml", `# the lab
endpoints:
  - id: e1 # first
    host: node-1
    interface: cali1
    ipv4_nets: [198.18.1.2/32]
    profile_ids: [WEB] # only WEB
    state: active
  # the second one
  - id: 'e2'
    host: node-1
    interface: cali2
    ipv4_nets: [198.18.1.3/32]
    profile_ids:
      # the app first
      - APP
      - WEB   # then web
    state: active
  - id: e3
    host: node-2
    interface: cali3
    ipv4_nets: [198.18.1.4/32]
# end
`},
	{"YAML 4 spaces, indentless", "yaml", `endpoints:
-   id: "e1"
    host: "node-1"
    interface: "cali1"
    ipv4_nets:
    - "198.18.1.2/32"
    profile_ids:
    - "WEB"
-   id: "e2"
    host: "node-1"
    interface: "cali2"
    ipv4_nets: ["198.18.1.3/32"]
    profile_ids: ["APP", "WEB"]
-   id: "e3"
    host: "node-2"
    interface: "cali3"
    ipv4_nets: ["198.18.1.4/32"]
`},
	{"JSON indented by 4", "json", `{
    "endpoints": [
        {
            "id": "e1",
            "host": "node-1",
            "interface": "cali1",
            "ipv4_nets": ["198.18.1.2/32"],
            "profile_ids": [
                "WEB"
            ]
        },
        {
            "id": "e2",
            "host": "node-1",
            "interface": "cali2",
            "ipv4_nets": ["198.18.1.3/32"],
            "profile_ids": ["APP", "WEB"]
        },
        {
            "id": "e3",
            "host": "node-2",
            "interface": "cali3",
            "ipv4_nets": ["198.18.1.4/32"]
        }
    ]
}
`},
	{"JSON with tabs, one endpoint per line", "json", "{\"endpoints\": [\n\t{\"id\": \"e1\", \"host\": \"node-1\", \"interface\": \"cali1\", \"ipv4_nets\": [\"198.18.1.2/32\"], \"profile_ids\": [\"WEB\"]},\n\t{\"id\": \"e2\", \"host\": \"node-1\", \"interface\": \"cali2\", \"ipv4_nets\": [\"198.18.1.3/32\"], \"profile_ids\": [\"APP\", \"WEB\"]},\n\t{\"id\": \"e3\", \"host\": \"node-2\", \"interface\": \"cali3\", \"ipv4_nets\": [\"198.18.1.4/32\"]}\n]}\n"},
}

// endpointLines is the 1-based line range of endpoint id: from the line of its id to the line
// before the next id.
func endpointLines(lines []string, id string) (int, int) {
	idRE := regexp.MustCompile(`["']?id["']?\s*:\s*["']?([A-Za-z0-9_.-]+)`)
	lo := -1
	for i, l := range lines {
		if m := idRE.FindStringSubmatch(l); m != nil {
			if lo >= 0 {
				return lo, i
			}
			if m[1] == id {
				lo = i + 1
			}
		}
	}
	return lo, len(lines)
}

func TestEditEndpointProfilesChangesOnlyItsLines(t *testing.T) {
	old := map[string][]string{"e1": {"WEB"}, "e2": {"APP", "WEB"}, "e3": {}}
	edits := []struct {
		name           string
		maxDel, maxAdd int
		ids            func(old []string) []string
	}{
		{"append", 1, 3, func(o []string) []string { return append(slices.Clone(o), "NEW", "7") }},
		{"remove first", -1, 1, func(o []string) []string {
			if len(o) == 0 {
				return o
			}
			return o[1:]
		}},
		{"set none", -1, 1, func([]string) []string { return []string{} }},
		{"set two others", -1, -1, func([]string) []string { return []string{"X", "WEB"} }},
	}
	for _, style := range endpointStyles {
		for _, v := range fileVariants {
			for _, id := range []string{"e1", "e2", "e3"} {
				for _, ed := range edits {
					t.Run(style.name+"/"+v.name+"/"+id+"/"+ed.name, func(t *testing.T) {
						path := "endpoints/lab." + style.ext
						before := v.make(style.text)
						if got, ok := endpointProfileIDs(path, before, id); !ok || !slices.Equal(got, old[id]) {
							t.Fatalf("the test file does not decode: %v %v", got, ok)
						}
						want := ed.ids(old[id])
						after, err := EditEndpointProfiles(path, before, id, "", want)
						if err != nil {
							t.Fatal(err)
						}
						if got, ok := endpointProfileIDs(path, after, id); !ok || !slices.Equal(got, want) {
							t.Fatalf("profile_ids = %v, want %v:\n%s", got, want, after)
						}
						for other, ids := range old {
							if got, _ := endpointProfileIDs(path, after, other); other != id && !slices.Equal(got, ids) {
								t.Errorf("endpoint %s changed: %v", other, got)
							}
						}
						if style.ext == "json" && !json.Valid(bytes.TrimPrefix(after, utf8BOM)) {
							t.Fatalf("not JSON any more:\n%s", after)
						}
						lo, hi := endpointLines(fileLines(before), id)
						checkOnlyField(t, before, after, lo, hi, ed.maxDel, ed.maxAdd)
						again, err := EditEndpointProfiles(path, after, id, "", want)
						if err != nil || !bytes.Equal(again, after) {
							t.Fatalf("a no-op edit changed the file (%v):\n%s", err, again)
						}
					})
				}
			}
		}
	}
}

func TestEditProfileAliasesAndRefusals(t *testing.T) {
	const path = "profiles/P.yaml"
	add := schema.Rule{Action: "deny", Protocol: "udp"}
	// An alias as the whole value is replaced by the list it now holds; the anchor stays.
	in := "id: P\ninbound_rules: &r\n  - action: allow # kept\noutbound_rules: *r # same as inbound\n"
	p := decodeOK(t, path, []byte(in))
	p.Outbound = append(p.Outbound, add)
	got, err := EditProfile(path, []byte(in), p)
	if err != nil {
		t.Fatal(err)
	}
	want := "id: P\ninbound_rules: &r\n  - action: allow # kept\noutbound_rules: # same as inbound\n  - action: allow\n  - action: deny\n    protocol: udp\n"
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// Changing the anchored list would change the alias too: refused, with the position.
	p = decodeOK(t, path, []byte(in))
	p.Inbound = append(p.Inbound, add)
	_, err = EditProfile(path, []byte(in), p)
	if !errors.Is(err, ErrCannotEdit) || !strings.HasPrefix(err.Error(), path+":2:16: cannot edit the file in place: inbound_rules: &r is used by an alias (*r)") {
		t.Fatalf("err = %v", err)
	}
	// A tag added to a list whose anchor is used is refused too (the tags list would change both).
	in2 := "id: P\ntags: &t [P]\ninbound_rules:\n  - action: allow\n    src_tag: P\noutbound_rules: []\n"
	if p := decodeOK(t, path, []byte(in2)); p != nil {
		p.Tags = append(p.Tags, "Q")
		if _, err := EditProfile(path, []byte(in2), p); err != nil {
			t.Fatalf("an unused anchor must not block the edit: %v", err)
		}
	}
	// Lone carriage returns, NEL, LS: YAML counts them as line breaks; the edit refuses with
	// validate's message and position (text.go), after a byte-order mark and CRLF too.
	for _, tc := range []struct{ in, want string }{
		{"id: P\rtags: [P]\n", ":1:6: cannot edit the file in place: a carriage return not followed by a line feed: use LF or CRLF line endings"},
		{"\ufeffid: P\r\ntags: [P] # x\u2028- Q\r\n", ":2:14: cannot edit the file in place: a line separator (U+2028): the YAML parser reads a line break there, editors and git show none; remove it (end lines with LF or CRLF)"},
		{"id: P\ntags: [P\u0085]\n", ":2:9: cannot edit the file in place: a next-line character (U+0085, NEL): the YAML parser reads a line break there, editors and git show none; remove it (end lines with LF or CRLF)"},
	} {
		_, err = EditProfile(path, []byte(tc.in), &schema.Profile{ID: "P", Tags: []string{"P", "Q"}})
		if !errors.Is(err, ErrCannotEdit) || err.Error() != path+tc.want {
			t.Errorf("%q: err = %v\nwant %s", tc.in, err, path+tc.want)
		}
		_, err = EditEndpointProfiles("endpoints/e.yaml", []byte(tc.in), "e", "", nil)
		if !errors.Is(err, ErrCannotEdit) || err.Error() != "endpoints/e.yaml"+tc.want {
			t.Errorf("%q: endpoints: err = %v", tc.in, err)
		}
	}
}

func TestEditFlowListComments(t *testing.T) {
	const path = "profiles/P.yaml"
	in := "id: P\ntags: [\n  P,  # own\n  T-1 # other\n] # after\n"
	for _, tt := range []struct {
		tags []string
		want string
	}{
		// A comment after an item stays on that item's line.
		{[]string{"P", "T-1", "7"}, "id: P\ntags: [\n  P,  # own\n  T-1, # other\n  \"7\"\n] # after\n"},
		{[]string{"P"}, "id: P\ntags: [\n  P  # own\n] # after\n"},
		{[]string{"T-1"}, "id: P\ntags: [\n  T-1 # other\n] # after\n"},
		{[]string{"Z", "P", "T-1"}, "id: P\ntags: [\n  Z,\n  P,  # own\n  T-1 # other\n] # after\n"},
		{[]string{"P", "Z", "T-1"}, "id: P\ntags: [\n  P,  # own\n  Z,\n  T-1 # other\n] # after\n"},
		{[]string{}, "id: P\ntags: [] # after\n"},
	} {
		p := decodeOK(t, path, []byte(in))
		p.Tags = tt.tags
		got, err := EditProfile(path, []byte(in), p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("tags %v: got\n%s\nwant\n%s", tt.tags, got, tt.want)
		}
	}
}

// FuzzEditProfile: on any profile file that decodes, every command's edit either is refused with
// an error or changes only the lines of its field, keeps line endings, the byte-order mark and
// the final line break, and reads back as the intended profile.
func FuzzEditProfile(f *testing.F) {
	for _, s := range profileStyles {
		for i := range fileVariants {
			f.Add(s.text, s.ext == "json", uint8(i), uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, text string, isJSON bool, variant, edit uint8) {
		path := "profiles/P.yaml"
		if isJSON {
			path = "profiles/P.json"
		}
		before := fileVariants[int(variant)%len(fileVariants)].make(text)
		p, errs := schema.DecodeProfile(path, bytes.TrimPrefix(before, utf8BOM))
		if p == nil || len(errs) > 0 || len(p.Inbound) < 2 || len(p.Tags) < 1 || len(p.Outbound) < 1 {
			return
		}
		ed := profileEdits[int(edit)%len(profileEdits)]
		want := cloneProfile(p)
		ed.edit(want)
		after, err := EditProfile(path, before, want)
		if err != nil {
			return
		}
		got, errs := schema.DecodeProfile(path, bytes.TrimPrefix(after, utf8BOM))
		if got == nil || len(errs) > 0 || !sameProfile(got, want) {
			t.Fatalf("the edit does not mean the intended profile: %v\n%s", errs, after)
		}
		// The field's lines: from its key to the next key of the profile (whose line it may share).
		lo, hi := 1, len(fileLines(before))
		var doc yaml.Node
		if err := yaml.Unmarshal(bytes.TrimPrefix(before, utf8BOM), &doc); err == nil && len(doc.Content) == 1 {
			root := doc.Content[0]
			for i := 0; i+1 < len(root.Content); i += 2 {
				if root.Content[i].Value == ed.field {
					lo = root.Content[i].Line
					if i+2 < len(root.Content) {
						hi = root.Content[i+2].Line
					}
				}
			}
		}
		checkOnlyField(t, before, after, lo, hi, -1, -1)
	})
}

func TestEditProfileMixedEndingsNullsAndMissingKeys(t *testing.T) {
	for _, tt := range []struct {
		name, path, in string
		edit           func(p *schema.Profile)
		want           string
	}{
		{"mixed line endings: a new line ends like the line before it", "profiles/P.yaml",
			"id: P\ntags: [P]\r\ninbound_rules:\r\n  - action: allow\r\noutbound_rules: []\n",
			func(p *schema.Profile) { p.Inbound = append(p.Inbound, schema.Rule{Action: "deny"}) },
			"id: P\ntags: [P]\r\ninbound_rules:\r\n  - action: allow\r\n  - action: deny\r\noutbound_rules: []\n"},
		{"JSON null becomes the list", "profiles/P.json",
			"{\r\n  \"id\": \"P\",\r\n  \"tags\": null,\r\n  \"inbound_rules\": [],\r\n  \"outbound_rules\": []\r\n}",
			func(p *schema.Profile) { p.Tags = []string{"P"} },
			"{\r\n  \"id\": \"P\",\r\n  \"tags\": [\"P\"],\r\n  \"inbound_rules\": [],\r\n  \"outbound_rules\": []\r\n}"},
		{"JSON missing key goes after the key before it, on its own line", "profiles/P.json",
			"{\r\n\t\"id\": \"P\",\r\n\t\"inbound_rules\": [],\r\n\t\"outbound_rules\": []\r\n}\r\n",
			func(p *schema.Profile) { p.Tags = []string{"P"} },
			"{\r\n\t\"id\": \"P\",\r\n\t\"tags\": [\"P\"],\r\n\t\"inbound_rules\": [],\r\n\t\"outbound_rules\": []\r\n}\r\n"},
		{"JSON missing key on one line", "profiles/P.json",
			`{"id": "P", "outbound_rules": []}`,
			func(p *schema.Profile) { p.Inbound = []schema.Rule{{Action: "allow"}} },
			`{"id": "P", "inbound_rules": [{"action": "allow"}], "outbound_rules": []}`},
		{"JSON empty rules list in a multi-line file opens one rule per block", "profiles/P.json",
			"{\n    \"id\": \"P\",\n    \"inbound_rules\": [],\n    \"outbound_rules\": []\n}\n",
			func(p *schema.Profile) {
				p.Inbound = []schema.Rule{{Action: "allow", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 80, Last: 80}}}}
			},
			"{\n    \"id\": \"P\",\n    \"inbound_rules\": [\n        {\n            \"action\": \"allow\",\n            \"protocol\": \"tcp\",\n            \"dst_ports\": [80]\n        }\n    ],\n    \"outbound_rules\": []\n}\n"},
		{"YAML missing tags after the id, before a comment of the next key", "profiles/P.yaml",
			"id: P # me\n# in\ninbound_rules: []\noutbound_rules: []",
			func(p *schema.Profile) { p.Tags = []string{"P", "yes"} },
			"id: P # me\ntags: [P, \"yes\"]\n# in\ninbound_rules: []\noutbound_rules: []"},
		{"YAML missing last key at the end of a file without a final newline", "profiles/P.yaml",
			"id: P\r\ninbound_rules: []",
			func(p *schema.Profile) { p.Outbound = []schema.Rule{{Action: "allow"}} },
			"id: P\r\ninbound_rules: []\r\noutbound_rules:\r\n  - action: allow"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := decodeOK(t, tt.path, []byte(tt.in))
			tt.edit(p)
			got, err := EditProfile(tt.path, []byte(tt.in), p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// FuzzEditEndpointProfiles: on any endpoints file, setting an endpoint's profile_ids is either
// refused or changes only that endpoint's lines and reads back as the intended ids.
func FuzzEditEndpointProfiles(f *testing.F) {
	for _, s := range endpointStyles {
		for i := range fileVariants {
			f.Add(s.text, s.ext == "json", uint8(i), "e1", "WEB,NEW")
			f.Add(s.text, s.ext == "json", uint8(i), "e2", "")
		}
	}
	f.Fuzz(func(t *testing.T, text string, isJSON bool, variant uint8, id, ids string) {
		path := "endpoints/lab.yaml"
		if isJSON {
			path = "endpoints/lab.json"
		}
		before := fileVariants[int(variant)%len(fileVariants)].make(text)
		if _, ok := endpointProfileIDs(path, before, id); !ok {
			return
		}
		want := []string{}
		if ids != "" {
			want = strings.Split(ids, ",")
		}
		after, err := EditEndpointProfiles(path, before, id, "", want)
		if err != nil {
			return
		}
		if got, ok := endpointProfileIDs(path, after, id); !ok || !slices.Equal(got, want) {
			t.Fatalf("profile_ids = %q, want %q:\n%s", got, want, after)
		}
		// Lines before the endpoint's id and after the next endpoint's start stay.
		var doc yaml.Node
		lo, hi := 1, len(fileLines(before))
		if err := yaml.Unmarshal(bytes.TrimPrefix(before, utf8BOM), &doc); err == nil && len(doc.Content) == 1 {
			if i := mapValue(doc.Content[0], "endpoints"); i >= 0 {
				eps := doc.Content[0].Content[i].Content
				for k, ep := range eps {
					if j := mapValue(ep, "id"); ep.Kind == yaml.MappingNode && j >= 0 && ep.Content[j].Value == id {
						lo = ep.Line
						if k+1 < len(eps) {
							hi = eps[k+1].Line
						} else if i+1 < len(doc.Content[0].Content) {
							hi = doc.Content[0].Content[i+1].Line
						}
						break
					}
				}
			}
		}
		checkOnlyField(t, before, after, lo, hi, -1, -1)
	})
}

// endpointProfileIDs decodes an endpoints file and returns the profile_ids of the first
// endpoint id.
func endpointProfileIDs(path string, data []byte, id string) ([]string, bool) {
	eps, ok := schema.DecodeEndpointItems(path, bytes.TrimPrefix(data, utf8BOM))
	if !ok {
		return nil, false
	}
	for _, e := range eps {
		if e != nil && e.ID == id {
			return e.ProfileIDs, true
		}
	}
	return nil, false
}
