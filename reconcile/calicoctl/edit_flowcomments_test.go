package calicoctl

import (
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/schema"
)

// Flow lists that span lines keep their comment lines: a comment line belongs to the item below
// it (after the last item, to the "]"), so a new item goes above the comment lines of the item it
// goes before, a deleted item takes its own comment lines and the comment after it on its line,
// and every other comment line stays byte for byte (FINDINGS2 N5).

// commentLines returns the lines of a file that are comments only (with their line breaks).
func commentLines(b []byte) []string {
	var out []string
	for _, l := range fileLines(b) {
		if strings.HasPrefix(strings.TrimLeft(l, " \t"), "#") {
			out = append(out, l)
		}
	}
	return out
}

// checkFlowEdit asserts the edit's yardstick: every comment line of before except those in gone
// is in after byte for byte (as often as before), those in gone are not, and the lines that
// changed are inside lines lo..hi of before (the list's lines).
func checkFlowEdit(t *testing.T, before, after []byte, lo, hi int, gone ...string) {
	t.Helper()
	count := func(ls []string, l string) int {
		n := 0
		for _, x := range ls {
			if x == l {
				n++
			}
		}
		return n
	}
	bc, ac := commentLines(before), commentLines(after)
	for _, g := range gone {
		if count(bc, g) == 0 || count(ac, g) != 0 {
			t.Errorf("comment line %q: in before %d times, after %d times; want it gone", g, count(bc, g), count(ac, g))
		}
	}
	for _, l := range bc {
		if count(gone, l) == 0 && count(ac, l) != count(bc, l) {
			t.Errorf("comment line %q: before %d times, after %d times", l, count(bc, l), count(ac, l))
		}
	}
	checkOnlyField(t, before, after, lo, hi, -1, -1)
}

func TestEditFlowListCommentLines(t *testing.T) {
	const path = "profiles/WEB.yaml"
	// N5's reproduction, exactly.
	const n5 = "id: WEB\ntags: [WEB]\ninbound_rules: [\n  {action: allow, protocol: tcp, dst_ports: [80, 443]},\n  # ping, for monitoring\n  {action: allow, protocol: icmp, icmp_type: 8}\n]\noutbound_rules: []\n"
	// Comments everywhere: on the line of "[", above the first rule, after a rule on its line, a
	// comment a blank line keeps apart, the comment of a rule, and one before "]".
	const rules = "id: WEB\ntags: [WEB]\ninbound_rules: [  # in\n" +
		"  # first\n" +
		"  {action: allow, protocol: tcp, dst_ports: [80, 443]},  # web\n" +
		"\n" +
		"  # section\n" +
		"\n" +
		"  # ping, for monitoring\n" +
		"  {action: allow, protocol: icmp, icmp_type: 8}, # own\n" +
		"  {action: deny}\n" +
		"  # end\n" +
		"]\noutbound_rules: []\n"
	const (
		r0 = "  {action: allow, protocol: tcp, dst_ports: [80, 443]},  # web\n"
		r1 = "  {action: allow, protocol: icmp, icmp_type: 8}, # own\n"
		r2 = "  {action: deny}\n"
	)
	insert := func(at int, r schema.Rule) func(p *schema.Profile) {
		return func(p *schema.Profile) {
			p.Inbound = append(p.Inbound[:at:at], append([]schema.Rule{r}, p.Inbound[at:]...)...)
		}
	}
	remove := func(at ...int) func(p *schema.Profile) {
		return func(p *schema.Profile) {
			var keep []schema.Rule
			for i, r := range p.Inbound {
				if !containsInt(at, i) {
					keep = append(keep, r)
				}
			}
			p.Inbound = keep
		}
	}
	log := schema.Rule{Action: "log"}
	for _, tt := range []struct {
		name, in string
		edit     func(p *schema.Profile)
		want     string
		gone     []string // comment lines that go with a deleted rule
	}{
		{"N5: rule add inbound --at=2 log", n5, insert(1, log),
			"id: WEB\ntags: [WEB]\ninbound_rules: [\n  {action: allow, protocol: tcp, dst_ports: [80, 443]},\n  {action: log},\n  # ping, for monitoring\n  {action: allow, protocol: icmp, icmp_type: 8}\n]\noutbound_rules: []\n", nil},
		{"N5: rule remove --at=1 keeps the comment of rule 2", n5, remove(0),
			"id: WEB\ntags: [WEB]\ninbound_rules: [\n  # ping, for monitoring\n  {action: allow, protocol: icmp, icmp_type: 8}\n]\noutbound_rules: []\n", nil},
		{"N5: rule remove --at=2 takes its comment", n5, remove(1),
			"id: WEB\ntags: [WEB]\ninbound_rules: [\n  {action: allow, protocol: tcp, dst_ports: [80, 443]}\n]\noutbound_rules: []\n",
			[]string{"  # ping, for monitoring\n"}},
		{"N5: add at the end", n5, insert(2, log),
			"id: WEB\ntags: [WEB]\ninbound_rules: [\n  {action: allow, protocol: tcp, dst_ports: [80, 443]},\n  # ping, for monitoring\n  {action: allow, protocol: icmp, icmp_type: 8},\n  {action: log}\n]\noutbound_rules: []\n", nil},
		{"add at 1: below the comment of [, above the first rule's", rules, insert(0, log),
			strings.Replace(rules, "[  # in\n", "[  # in\n  {action: log},\n", 1), nil},
		{"add at 2: above the comment of rule 2, below the loose comment", rules, insert(1, log),
			strings.Replace(rules, "  # ping", "  {action: log},\n  # ping", 1), nil},
		{"add at 3: after rule 2 and its comment", rules, insert(2, log),
			strings.Replace(rules, r1, r1+"  {action: log},\n", 1), nil},
		{"add at the end: above the comment before ]", rules, insert(3, log),
			strings.Replace(rules, r2, "  {action: deny},\n  {action: log}\n", 1), nil},
		{"remove 1: its comments go, the loose comment stays", rules, remove(0),
			strings.Replace(rules, "  # first\n"+r0, "", 1), []string{"  # first\n"}},
		{"remove 2: the comment above it goes", rules, remove(1),
			strings.Replace(rules, "  # ping, for monitoring\n"+r1, "", 1), []string{"  # ping, for monitoring\n"}},
		{"remove the last: rule 2 loses its comma, not its comment", rules, remove(2),
			strings.Replace(rules, r1+r2, "  {action: allow, protocol: icmp, icmp_type: 8} # own\n", 1), nil},
		{"remove 2 and 3: rule 1 is last, the comment before ] stays", rules, remove(1, 2),
			"id: WEB\ntags: [WEB]\ninbound_rules: [  # in\n  # first\n  {action: allow, protocol: tcp, dst_ports: [80, 443]}  # web\n\n  # section\n\n  # end\n]\noutbound_rules: []\n",
			[]string{"  # ping, for monitoring\n"}},
		{"remove all: the comments of [ and ] stay", rules, remove(0, 1, 2),
			"id: WEB\ntags: [WEB]\ninbound_rules: [  # in\n  # end\n]\noutbound_rules: []\n",
			[]string{"  # first\n", "  # section\n", "  # ping, for monitoring\n"}},
		{"CRLF: N5 add", strings.ReplaceAll(n5, "\n", "\r\n"), insert(1, log),
			"id: WEB\r\ntags: [WEB]\r\ninbound_rules: [\r\n  {action: allow, protocol: tcp, dst_ports: [80, 443]},\r\n  {action: log},\r\n  # ping, for monitoring\r\n  {action: allow, protocol: icmp, icmp_type: 8}\r\n]\r\noutbound_rules: []\r\n", nil},
		{"the first rule on the line of [: a new first rule goes there too", "id: WEB\ninbound_rules: [{action: deny},  # d\n  # then\n  {action: allow}\n]\n", insert(0, log),
			"id: WEB\ninbound_rules: [{action: log}, {action: deny},  # d\n  # then\n  {action: allow}\n]\n", nil},
		{"the first rule on the line of [ removed: the next keeps its comment", "id: WEB\ninbound_rules: [{action: deny},  # d\n  # then\n  {action: allow}\n]\n", remove(0),
			"id: WEB\ninbound_rules: [\n  # then\n  {action: allow}\n]\n", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := decodeOK(t, path, []byte(tt.in))
			tt.edit(p)
			got, err := EditProfile(path, []byte(tt.in), p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			lo, hi := fieldLinesC(fileLines([]byte(tt.in)), "inbound_rules", []string{"outbound_rules"}, true)
			checkFlowEdit(t, []byte(tt.in), got, lo, hi, tt.gone...)
			if again, err := EditProfile(path, got, p); err != nil || string(again) != string(got) {
				t.Fatalf("not idempotent: %v\n%s", err, again)
			}
		})
	}
}

// An empty flow list of rules over lines, in a block mapping, stays a flow list (a one-line []
// becomes a block list): its comment lines stay, and rules are written one per line.
func TestEditEmptyFlowRulesOverLines(t *testing.T) {
	const path = "profiles/WEB.yaml"
	for in, want := range map[string]string{
		"id: WEB\ninbound_rules: [\n  # none yet\n]\noutbound_rules: []\n": "id: WEB\ninbound_rules: [\n  # none yet\n  {action: deny, protocol: udp},\n  {action: log}\n]\noutbound_rules: []\n",
		"id: WEB\ninbound_rules: [  # none yet\n]\noutbound_rules: []\n":   "id: WEB\ninbound_rules: [  # none yet\n  {action: deny, protocol: udp},\n  {action: log}\n]\noutbound_rules: []\n",
		// Was refused: "two changes overlap".
		"id: WEB\ninbound_rules: [\n]\noutbound_rules: []\n":           "id: WEB\ninbound_rules: [\n  {action: deny, protocol: udp},\n  {action: log}\n]\noutbound_rules: []\n",
		"id: WEB\ninbound_rules: []  # none yet\noutbound_rules: []\n": "id: WEB\ninbound_rules: # none yet\n  - action: deny\n    protocol: udp\n  - action: log\noutbound_rules: []\n",
	} {
		p := decodeOK(t, path, []byte(in))
		p.Inbound = []schema.Rule{{Action: "deny", Protocol: "udp"}, {Action: "log"}}
		got, err := EditProfile(path, []byte(in), p)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if string(got) != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
		checkFlowEdit(t, []byte(in), got, 2, 4)
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestEditFlowTagsCommentLines(t *testing.T) {
	const path = "profiles/WEB.yaml"
	const in = "id: WEB\ntags: [  # tags\n  WEB,  # own\n  # the app\n  APP\n  # more later\n]\ninbound_rules: []\n"
	for _, tt := range []struct {
		tags []string
		want string
		gone []string
	}{
		{[]string{"WEB", "APP", "NEW"}, "id: WEB\ntags: [  # tags\n  WEB,  # own\n  # the app\n  APP,\n  NEW\n  # more later\n]\ninbound_rules: []\n", nil},
		{[]string{"WEB", "NEW", "APP"}, "id: WEB\ntags: [  # tags\n  WEB,  # own\n  NEW,\n  # the app\n  APP\n  # more later\n]\ninbound_rules: []\n", nil},
		{[]string{"NEW", "WEB", "APP"}, "id: WEB\ntags: [  # tags\n  NEW,\n  WEB,  # own\n  # the app\n  APP\n  # more later\n]\ninbound_rules: []\n", nil},
		{[]string{"APP"}, "id: WEB\ntags: [  # tags\n  # the app\n  APP\n  # more later\n]\ninbound_rules: []\n", nil},
		{[]string{"WEB"}, "id: WEB\ntags: [  # tags\n  WEB  # own\n  # more later\n]\ninbound_rules: []\n", []string{"  # the app\n"}},
		{[]string{}, "id: WEB\ntags: [  # tags\n  # more later\n]\ninbound_rules: []\n", []string{"  # the app\n"}},
	} {
		p := decodeOK(t, path, []byte(in))
		p.Tags = tt.tags
		got, err := EditProfile(path, []byte(in), p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("tags %q: got\n%s\nwant\n%s", tt.tags, got, tt.want)
			continue
		}
		lo, hi := fieldLinesC(fileLines([]byte(in)), "tags", []string{"inbound_rules"}, true)
		checkFlowEdit(t, []byte(in), got, lo, hi, tt.gone...)
	}
	// An empty list whose only content is a comment keeps it.
	for in, want := range map[string]string{
		"id: WEB\ntags: [  # none yet\n]\n":   "id: WEB\ntags: [  # none yet\n  A,\n  B\n]\n",
		"id: WEB\ntags: [\n  # none yet\n]\n": "id: WEB\ntags: [\n  # none yet\n  A,\n  B\n]\n",
	} {
		p := decodeOK(t, path, []byte(in))
		p.Tags = []string{"A", "B"}
		got, err := EditProfile(path, []byte(in), p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
		checkFlowEdit(t, []byte(in), got, 2, 3)
	}
}

func TestEditFlowProfileIDsCommentLines(t *testing.T) {
	const path = "endpoints/lab.yaml"
	const in = "endpoints:\n" +
		"  - id: e1\n    host: node-1\n    interface: cali1\n    ipv4_nets: [198.18.1.2/32]\n" +
		"    profile_ids: [  # in order\n      # the base\n      BASE,\n      # web, for the front\n      WEB  # last\n      # more to come\n    ]\n" +
		"  - id: e2\n    host: node-1\n    interface: cali2\n    ipv4_nets: [198.18.1.3/32]\n    profile_ids: [BASE]\n"
	for _, tt := range []struct {
		ids  []string
		want string
		gone []string
	}{
		{[]string{"BASE", "NEW", "WEB"}, strings.Replace(in, "      # web", "      NEW,\n      # web", 1), nil},
		{[]string{"BASE", "WEB", "NEW"}, strings.Replace(in, "      WEB  # last\n", "      WEB,  # last\n      NEW\n", 1), nil},
		{[]string{"NEW", "BASE", "WEB"}, strings.Replace(in, "# in order\n", "# in order\n      NEW,\n", 1), nil},
		{[]string{"WEB"}, strings.Replace(in, "      # the base\n      BASE,\n", "", 1), []string{"      # the base\n"}},
		{[]string{"BASE"}, strings.Replace(in, "      BASE,\n      # web, for the front\n      WEB  # last\n", "      BASE\n", 1), []string{"      # web, for the front\n"}},
	} {
		got, err := EditEndpointProfiles(path, []byte(in), "e1", "", tt.ids)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("profile_ids %q: got\n%s\nwant\n%s", tt.ids, got, tt.want)
			continue
		}
		checkFlowEdit(t, []byte(in), got, 6, 12, tt.gone...)
		if ids, ok := endpointProfileIDs(path, got, "e1"); !ok || strings.Join(ids, ",") != strings.Join(tt.ids, ",") {
			t.Errorf("profile_ids read back as %q", ids)
		}
	}
}
