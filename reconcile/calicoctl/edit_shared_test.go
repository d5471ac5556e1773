package calicoctl

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/reconcile-dev/reconcile/schema"
)

// Edits of values that are shared through anchors, aliases and merge keys (<<): refused with
// ErrCannotEdit and nothing returned, never a file that means something else.

// ep is one endpoint as a flow mapping line of an endpoints file.
func epLine(anchor, id, host, iface, net, extra string) string {
	if anchor != "" {
		anchor += " "
	}
	return "  - " + anchor + "{id: " + id + ", host: " + host + ", interface: " + iface + ", ipv4_nets: [" + net + "]" + extra + "}\n"
}

// mergedLab is the file of finding H2/M1: web-2 merges web-1's mapping and so gets its
// profile_ids.
const mergedLab = "endpoints:\n" +
	"  - &e1 {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}\n" +
	"  - <<: *e1\n" +
	"    id: web-2\n" +
	"    host: node-2\n" +
	"    interface: caliweb2\n" +
	"    ipv4_nets: [198.18.1.5/32]\n" +
	"  - {id: app-1, host: node-2, interface: caliapp1, ipv4_nets: [198.18.1.3/32], profile_ids: [APP]}\n"

func TestEditEndpointProfilesShared(t *testing.T) {
	const path = "endpoints/lab.yaml"
	inline := "endpoints:\n" +
		"  - {<<: {profile_ids: [WEB]}, id: web-2, host: node-2, interface: caliweb2, ipv4_nets: [198.18.1.5/32]}\n"
	mergeList := strings.Replace(mergedLab, "<<: *e1", "<<: [*e1]", 1)
	nested := "endpoints:\n" +
		"  - &e1 {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}\n" +
		"  - &e2 {<<: *e1, id: web-2, host: node-2, interface: caliweb2, ipv4_nets: [198.18.1.5/32]}\n" +
		"  - {<<: *e2, id: web-3, host: node-3, interface: caliweb3, ipv4_nets: [198.18.1.6/32]}\n"
	listAlias := "endpoints:\n" +
		"  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: &p [WEB]}\n" +
		"  - {id: web-2, host: node-2, interface: caliweb2, ipv4_nets: [198.18.1.5/32], profile_ids: *p}\n"
	mergedList := "endpoints:\n" +
		"  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: &p [WEB]}\n" +
		"  - {<<: {profile_ids: *p}, id: web-2, host: node-2, interface: caliweb2, ipv4_nets: [198.18.1.5/32]}\n"
	for _, c := range []struct {
		name, file, id string
		ids            []string
		want           string // the error's "line:col: ... message" after the path
	}{
		{"H2 remove all", mergedLab, "web-2", nil, `3:5: cannot edit the file in place: profile_ids: endpoint "web-2" gets it through a merge key (<<)`},
		{"H2 set none", mergedLab, "web-2", []string{}, `3:5: cannot edit the file in place: profile_ids: endpoint "web-2" gets it through a merge key`},
		{"H2 set other", mergedLab, "web-2", []string{"APP"}, `3:5: cannot edit the file in place: profile_ids: endpoint "web-2" gets it`},
		{"H2 append", mergedLab, "web-2", []string{"WEB", "APP"}, `3:5: cannot edit the file in place: profile_ids: endpoint "web-2" gets it`},
		{"M1 anchored mapping merged elsewhere", mergedLab, "web-1", []string{"WEB", "APP"}, `2:5: cannot edit the file in place: profile_ids: &e1 (on this mapping) is used by an alias or merge key (*e1) elsewhere`},
		{"M1 remove", mergedLab, "web-1", nil, `2:5: cannot edit the file in place: profile_ids: &e1 (on this mapping) is used`},
		{"inline merge", inline, "web-2", nil, `2:6: cannot edit the file in place: profile_ids: endpoint "web-2" gets it through a merge key`},
		{"merge list", mergeList, "web-2", nil, `3:5: cannot edit the file in place: profile_ids: endpoint "web-2" gets it through a merge key`},
		{"nested merge", nested, "web-3", []string{"APP"}, `4:6: cannot edit the file in place: profile_ids: endpoint "web-3" gets it through a merge key`},
		{"nested merge middle", nested, "web-2", []string{"APP"}, `3:5: cannot edit the file in place: profile_ids: &e2 (on this mapping) is used`},
		{"aliased list", listAlias, "web-1", []string{"APP"}, `2:93: cannot edit the file in place: profile_ids: &p (on this list) is used`},
		{"merged list via alias", mergedList, "web-2", nil, `3:6: cannot edit the file in place: profile_ids: endpoint "web-2" gets it through a merge key`},
		{"merged list source", mergedList, "web-1", []string{"APP"}, `2:93: cannot edit the file in place: profile_ids: &p (on this list) is used`},
	} {
		out, err := EditEndpointProfiles(path, []byte(c.file), c.id, "", c.ids)
		if !errors.Is(err, ErrCannotEdit) || out != nil {
			t.Errorf("%s: out %q, err %v; want ErrCannotEdit and nothing", c.name, out, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), path+":"+c.want) {
			t.Errorf("%s: err\n%v\nwant prefix\n%s:%s", c.name, err, path, c.want)
		}
	}

	// What stays possible: web-2 writes its own profile_ids over the merged ones; an alias as
	// the whole value is replaced by the new list; web-3, which nothing merges, is edited.
	for _, c := range []struct {
		name, file, id string
		ids            []string
		from, to       string
	}{
		{"own key over merge", strings.Replace(mergedLab, "    ipv4_nets: [198.18.1.5/32]\n", "    ipv4_nets: [198.18.1.5/32]\n    profile_ids: [WEB]\n", 1), "web-2", []string{"WEB", "APP"}, "    profile_ids: [WEB]\n  - {id: app-1", "    profile_ids: [WEB, APP]\n  - {id: app-1"},
		{"alias value", listAlias, "web-2", []string{"WEB", "APP"}, "profile_ids: *p}", "profile_ids: [WEB, APP]}"},
		{"unshared neighbour", mergedLab, "app-1", nil, "profile_ids: [APP]}", "profile_ids: []}"},
	} {
		out, err := EditEndpointProfiles(path, []byte(c.file), c.id, "", c.ids)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if want := strings.Replace(c.file, c.from, c.to, 1); string(out) != want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, out, want)
		}
	}
}

// TestEditEndpointProfilesSameID: the host picks one of two endpoints with the same id; without
// a host the edit is refused rather than made to the first.
func TestEditEndpointProfilesSameID(t *testing.T) {
	const path = "endpoints/lab.yaml"
	file := "endpoints:\n" + epLine("", "web", "node-1", "caliweb1", "198.18.1.2/32", ", profile_ids: [WEB]") + epLine("", "web", "node-2", "caliweb2", "198.18.1.5/32", ", profile_ids: [WEB]")
	out, err := EditEndpointProfiles(path, []byte(file), "web", "node-2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := file[:strings.LastIndex(file, "[WEB]")] + "[]}\n"; string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if _, err := EditEndpointProfiles(path, []byte(file), "web", "", nil); !errors.Is(err, ErrCannotEdit) || !strings.Contains(err.Error(), `id: more than one endpoint "web"`) {
		t.Fatalf("no host: err %v", err)
	}
	if _, err := EditEndpointProfiles(path, []byte(file), "web", "node-3", nil); !errors.Is(err, ErrNoEndpoint) {
		t.Fatalf("other host: err %v", err)
	}
}

// TestEditDecodeAgain turns off the checks on anchors and merge keys: the decode of the whole
// edited file must still refuse an edit that changes another endpoint or the wrong thing.
func TestEditDecodeAgain(t *testing.T) {
	editPrechecks = false
	defer func() { editPrechecks = true }()
	const path = "endpoints/lab.yaml"
	// M1: appending to web-1 would give web-2 APP too.
	out, err := EditEndpointProfiles(path, []byte(mergedLab), "web-1", "", []string{"WEB", "APP"})
	if !errors.Is(err, ErrCannotEdit) || out != nil || !strings.Contains(err.Error(), path+":3:5: cannot edit the file in place: the edit would also change this endpoint") {
		t.Errorf("M1: out %q, err %v", out, err)
	}
	// Nested: editing web-2 would change web-3 (the error names the first endpoint changed).
	nested := "endpoints:\n" +
		"  - {id: web-1, host: node-1, interface: caliweb1, ipv4_nets: [198.18.1.2/32], profile_ids: [WEB]}\n" +
		"  - &e2 {id: web-2, host: node-2, interface: caliweb2, ipv4_nets: [198.18.1.5/32], profile_ids: [WEB]}\n" +
		"  - {<<: *e2, id: web-3, host: node-3, interface: caliweb3, ipv4_nets: [198.18.1.6/32]}\n"
	if _, err := EditEndpointProfiles(path, []byte(nested), "web-2", "", nil); !errors.Is(err, ErrCannotEdit) || !strings.Contains(err.Error(), ":4:5: cannot edit the file in place: the edit would also change this endpoint") {
		t.Errorf("nested: err %v", err)
	}
	// H2 without the merge check: the key written into web-2 shadows the merged one, and the
	// decode confirms that only web-2 changed.
	out, err = EditEndpointProfiles(path, []byte(mergedLab), "web-2", "", nil)
	if err != nil {
		t.Fatalf("H2: %v", err)
	}
	eps, _ := schema.DecodeEndpointItems(path, out)
	if len(eps) != 3 || len(eps[1].ProfileIDs) != 0 || !slices.Equal(eps[0].ProfileIDs, []string{"WEB"}) || !slices.Equal(eps[2].ProfileIDs, []string{"APP"}) {
		t.Fatalf("H2: got\n%s", out)
	}

	// Profiles: rules that come through a merge key on the root. Without the merge check the
	// list written into the profile shadows the merged one, and reads back as intended.
	prof := "<<: {inbound_rules: [{action: allow, src_tag: P}]}\nid: P\ntags: [P]\noutbound_rules: []\n"
	p, errs := schema.DecodeProfile("profiles/P.yaml", []byte(prof))
	if len(errs) > 0 || len(p.Inbound) != 1 {
		t.Fatal(p, errs)
	}
	p.Inbound = []schema.Rule{}
	out, err = EditProfile("profiles/P.yaml", []byte(prof), p)
	if err != nil {
		t.Fatal(err)
	}
	if got, errs := schema.DecodeProfile("profiles/P.yaml", out); len(errs) > 0 || len(got.Inbound) != 0 {
		t.Fatalf("merged rules: got\n%s", out)
	}
}

func TestEditProfileShared(t *testing.T) {
	const path = "profiles/P.yaml"
	type edit func(p *schema.Profile)
	for _, c := range []struct {
		name, file string
		edit       edit
		want       string // error after "path:", or "" for success
		from, to   string // the expected change on success
	}{
		{"tags through a merge key", "<<: {tags: [P]}\nid: P\ninbound_rules: []\noutbound_rules: []\n",
			func(p *schema.Profile) { p.Tags = append(p.Tags, "Q") }, `1:1: cannot edit the file in place: tags: the profile gets it through a merge key (<<)`, "", ""},
		{"rules through a merge key", "<<: {inbound_rules: [{action: allow}]}\nid: P\ntags: [P]\noutbound_rules: []\n",
			func(p *schema.Profile) { p.Inbound = append(p.Inbound, schema.Rule{Action: "deny"}) }, `1:1: cannot edit the file in place: inbound_rules: the profile gets it through a merge key (<<)`, "", ""},
		{"rules through a merge list", "<<: [{outbound_rules: [{action: allow}]}]\nid: P\ntags: [P]\ninbound_rules: []\n",
			func(p *schema.Profile) { p.Outbound = nil }, `1:1: cannot edit the file in place: outbound_rules: the profile gets it through a merge key (<<)`, "", ""},
		{"anchored rule merged by another", "id: P\ntags: [P]\ninbound_rules:\n  - &r {action: allow, protocol: tcp}\n  - {<<: *r, dst_ports: [80]}\noutbound_rules: []\n",
			func(p *schema.Profile) { p.Inbound = p.Inbound[1:] }, `4:5: cannot edit the file in place: inbound_rules: &r is used by an alias`, "", ""},
		{"rule that merges may go", "id: P\ntags: [P]\ninbound_rules:\n  - &r {action: allow, protocol: tcp}\n  - {<<: *r, dst_ports: [80]}\noutbound_rules: []\n",
			func(p *schema.Profile) { p.Inbound = p.Inbound[:1] }, "", "  - {<<: *r, dst_ports: [80]}\n", ""},
		{"rule added next to merges", "id: P\ntags: [P]\ninbound_rules:\n  - &r {action: allow, protocol: tcp}\n  - {<<: *r, dst_ports: [80]}\noutbound_rules: []\n",
			func(p *schema.Profile) { p.Inbound = append(p.Inbound, schema.Rule{Action: "deny"}) }, "", "  - {<<: *r, dst_ports: [80]}\n", "  - {<<: *r, dst_ports: [80]}\n  - {action: deny}\n"},
		{"aliased rules list", "id: P\ntags: [P]\ninbound_rules: &in [{action: allow}]\noutbound_rules: *in\n",
			func(p *schema.Profile) { p.Inbound = nil }, `3:16: cannot edit the file in place: inbound_rules: &in is used by an alias`, "", ""},
		{"alias value replaced", "id: P\ntags: [P]\ninbound_rules: &in [{action: allow}]\noutbound_rules: *in\n",
			func(p *schema.Profile) { p.Outbound = nil }, "", "outbound_rules: *in", "outbound_rules: []"},
		{"tag anchored and used", "id: P\ntags: [&t P, Q]\ninbound_rules: [{action: allow, src_tag: *t}]\noutbound_rules: []\n",
			func(p *schema.Profile) { p.Tags = []string{"Q"} }, `2:8: cannot edit the file in place: tags: &t is used by an alias`, "", ""},
	} {
		p, errs := schema.DecodeProfile(path, []byte(c.file))
		if len(errs) > 0 {
			t.Errorf("%s: %v", c.name, errs)
			continue
		}
		c.edit(p)
		out, err := EditProfile(path, []byte(c.file), p)
		if c.want != "" {
			if !errors.Is(err, ErrCannotEdit) || out != nil || !strings.HasPrefix(err.Error(), path+":"+c.want) {
				t.Errorf("%s: out %q, err\n%v\nwant prefix\n%s:%s", c.name, out, err, path, c.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if want := strings.Replace(c.file, c.from, c.to, 1); string(out) != want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, out, want)
		}
	}
}

// The implicit resolvers of a YAML 1.1 reader, as PyYAML (resolver.py) and the YAML 1.1 type
// repository (yaml.org/type) define them, plus y/n of the spec's bool type: a plain scalar that
// one of them matches is not read as a string.
var yaml11Resolvers = []*regexp.Regexp{
	regexp.MustCompile(`^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`),
	regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`),
	regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`),
	regexp.MustCompile(`^(?:<<)$`),
	regexp.MustCompile(`^(?:~|null|Null|NULL|)$`),
	regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`),
	regexp.MustCompile(`^(?:=)$`),
}

// TestEditQuoting (L9): every tag written by an edit reads back as the same string in YAML 1.2
// (yaml.v3) and YAML 1.1 (yaml11Resolvers; a plain scalar may not start with an indicator).
func TestEditQuoting(t *testing.T) {
	values := []string{
		"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "FALSE",
		"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
		"0", "7", "010", "0o10", "0x1F", "0b101", "1_000", "+1", "-1", "-0", "1.5", ".5", "1.", "1e3", "1E3", "1.0e+3",
		"1:30", "190:20:30", "1:30.5", ".inf", "-.inf", ".Inf", ".nan", ".NaN", "2001-12-14", "2001-12-14t21.59.43.10-05.00",
		"-", "-x", "!x", "&a", "*a", "?x", ":x", "%x", "@x", "`x", "#x", "|x", ">x", "'x", "\"x", "{x", "[x", "a: b", "a #b", "a:", "a,b", "=", "<<",
		"-", "-x", ".", "..", "_", "WEB", "web-1", "a.b", "x1", "1x", "yes.", "no_", "NaN", "Infinity", "e3", "0.", "_1",
	}
	indicators := "!&*-?:%@`#|>'\"{[]},"
	// check asserts that written, found in a flow list of file out, reads back as v.
	check := func(how, v, written string, out []byte) {
		t.Helper()
		var doc struct {
			Tags []any `yaml:"tags"`
		}
		// YAML 1.2: yaml.v3 reads a string with the value.
		if err := yaml.Unmarshal(out, &doc); err != nil || len(doc.Tags) != 2 || doc.Tags[1] != v {
			t.Errorf("%s %q: written %s, yaml.v3 reads %#v (%v)", how, v, written, doc.Tags, err)
		}
		if q := written[0]; q == '"' || q == '\'' {
			return
		}
		// YAML 1.1: a plain scalar no resolver matches, not starting with an indicator.
		if written != v || strings.ContainsAny(written[:1], indicators) {
			t.Errorf("%s %q: written plain as %s", how, v, written)
		}
		for _, re := range yaml11Resolvers {
			if re.MatchString(written) {
				t.Errorf("%s %q: written plain, which YAML 1.1 resolves by %s", how, v, re)
			}
		}
	}
	tx := &textEdit{alt: '"'}
	for _, v := range values {
		// Every value, as the edit layer renders a string.
		w := tx.str(v, 0)
		check("str", v, w, []byte("tags: [P, "+w+"]\n"))
		if !schema.ValidID(v) {
			continue
		}
		// Valid tags, through EditProfile.
		const file = "id: P\ntags: [P]\ninbound_rules: []\noutbound_rules: []\n"
		p := &schema.Profile{ID: "P", Tags: []string{"P", v}, Inbound: []schema.Rule{}, Outbound: []schema.Rule{}}
		out, err := EditProfile("profiles/P.yaml", []byte(file), p)
		if err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		line := strings.SplitN(string(out), "\n", 3)[1]
		written, ok := strings.CutPrefix(line, "tags: [P, ")
		if !ok || !strings.HasSuffix(written, "]") {
			t.Errorf("%q: tags line %q", v, line)
			continue
		}
		check("EditProfile", v, strings.TrimSuffix(written, "]"), out)
	}
	// The ones the finding names are quoted, the usual ones are not.
	for v, want := range map[string]string{"yes": `"yes"`, "on": `"on"`, "1:30": `"1:30"`, "-x": `"-x"`, "WEB": "WEB", "web-1": "web-1", "2001-12-14": `"2001-12-14"`} {
		if got := tx.str(v, 0); got != want {
			t.Errorf("str(%q) = %s, want %s", v, got, want)
		}
	}
}

// TestMarshalProfileQuoting (L9): a new profile file quotes an id, tag or src_tag that YAML 1.1
// reads as something else (`profile add yes`).
func TestMarshalProfileQuoting(t *testing.T) {
	for _, v := range []string{"yes", "on", "N", "1_0", "0x1F", "2001-12-14", "010", "1e3", ".5", "-x", "WEB"} {
		p := &schema.Profile{ID: v, Tags: []string{v}, Inbound: []schema.Rule{{Action: "allow", SrcTag: v}}, Outbound: []schema.Rule{{Action: "allow"}}}
		out, err := MarshalProfile("profiles/"+v+".yaml", p)
		if err != nil {
			t.Fatal(err)
		}
		w := v
		if needsQuotes(v) {
			w = `"` + v + `"`
		}
		want := "id: " + w + "\ntags: [" + w + "]\ninbound_rules:\n  - action: allow\n    src_tag: " + w + "\noutbound_rules:\n  - action: allow\n"
		if string(out) != want {
			t.Errorf("%q: got\n%s\nwant\n%s", v, out, want)
		}
		got, errs := schema.DecodeProfile("profiles/"+v+".yaml", out)
		if len(errs) > 0 || got.ID != v || !slices.Equal(got.Tags, []string{v}) || got.Inbound[0].SrcTag != v {
			t.Errorf("%q: reads back as %+v (%v)", v, got, errs)
		}
		for _, re := range yaml11Resolvers {
			if w == v && re.MatchString(v) {
				t.Errorf("%q: written plain, which YAML 1.1 resolves by %s", v, re)
			}
		}
	}
	if !needsQuotes("yes") || needsQuotes("WEB") {
		t.Fatal("needsQuotes")
	}
}
