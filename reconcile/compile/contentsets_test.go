package compile

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

// contentSetsOf returns the port and ICMP type sets of rs by name, and for every rule that
// looks one up "<chain> <comment>" → set name.
func contentSetsOf(rs *nft.Ruleset) (sets map[string]*nft.Set, uses map[string][]string) {
	sets, uses = map[string]*nft.Set{}, map[string][]string{}
	for _, s := range rs.Sets {
		if s.Type == nft.SetPorts || s.Type == nft.SetICMPTypes || s.Type == nft.SetICMPv6Types {
			sets[s.Name] = s
		}
	}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			for _, m := range r.Matches {
				switch m.Kind {
				case nft.MatchSPortSet, nft.MatchDPortSet, nft.MatchICMPTypeSet:
					k := c.Name + " " + r.Comment
					uses[k] = append(uses[k], m.Str)
				case nft.MatchSPort, nft.MatchDPort:
					if len(m.Ports) > 1 {
						panic("a port list stayed in rule " + r.String())
					}
				}
			}
		}
	}
	return sets, uses
}

// Two rules with the same list (in any order, in either direction) share one set; different
// lists get different sets; the name is the hash of the content, so an edit elsewhere in the
// repository renames nothing.
func TestContentSetsSharedAndStable(t *testing.T) {
	build := func(extra bool) *schema.Repository {
		in := []schema.Rule{
			{Action: "allow", Protocol: "tcp", DstPorts: pr(443, 80)},
			{Action: "allow", Protocol: "udp", SrcPorts: pr(80, 443)},
			{Action: "deny", Protocol: "tcp", NotDstPorts: pr(80, 443)},
			{Action: "allow", Protocol: "tcp", DstPorts: pr(22, [2]int{8000, 8080})},
		}
		other := []schema.Rule{{Action: "allow", Protocol: "tcp", DstPorts: pr(80, 443)}}
		if extra {
			// An edit elsewhere: a new rule in another profile, with a new list.
			other = append(other, schema.Rule{Action: "allow", Protocol: "sctp", DstPorts: pr(7, 9)})
		}
		return repo([]*schema.Profile{profile("A", nil, in, allowAll), profile("B", nil, other, allowAll)},
			endpoint("a", "node-1", "calia", []string{"198.18.0.1"}, "A", "B"))
	}
	rs1, err := Compile(build(false), Options{Host: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	sets, uses := contentSetsOf(rs1)
	web := uses["profile-in-A A inbound 1"]
	if len(web) != 1 {
		t.Fatalf("rule A inbound 1 looks up %v, want one set", web)
	}
	// The name is fixed by the content: this pins the hash (a change renames every set of
	// every host, which the delta apply then replaces).
	if web[0] != "ports-7a5b8556aede09cd" {
		t.Errorf("the set of 80, 443 is named %q, want ports-7a5b8556aede09cd", web[0])
	}
	for _, k := range []string{"profile-in-A A inbound 2", "profile-in-A A inbound 3", "profile-in-B B inbound 1"} {
		if !slices.Equal(uses[k], web) {
			t.Errorf("%s looks up %v, want the shared %v", k, uses[k], web)
		}
	}
	if other := uses["profile-in-A A inbound 4"]; len(other) != 1 || other[0] == web[0] {
		t.Errorf("a different list looks up %v, want its own set", other)
	}
	if got := strings.Join(sets[web[0]].Elements(), ","); got != "80,443" {
		t.Errorf("shared set holds %s", got)
	}
	// Ports 80, 443 (twice), 22+8000-8080, and the neighbour discovery types.
	if len(sets) != 3 {
		t.Errorf("%d content sets, want 3: %v", len(sets), slices.Sorted(maps.Keys(sets)))
	}
	if !strings.Contains(rs1.String(), "th dport != @"+web[0]+" counter drop") {
		t.Errorf("the negated list is not a negated lookup:\n%s", rs1)
	}

	rs2, err := Compile(build(true), Options{Host: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	sets2, uses2 := contentSetsOf(rs2)
	for k, v := range uses {
		if !slices.Equal(uses2[k], v) {
			t.Errorf("after an edit elsewhere %s looks up %v, was %v", k, uses2[k], v)
		}
	}
	for name := range sets {
		if sets2[name] == nil {
			t.Errorf("set %s disappeared after an edit elsewhere", name)
		}
	}
	if len(sets2) != len(sets)+1 {
		t.Errorf("%d content sets after adding one list, want %d", len(sets2), len(sets)+1)
	}
}

// ContentSetName depends on the canonical content only: the type, and the elements as the set
// holds them.
func TestContentSetName(t *testing.T) {
	ports := func(ps ...nft.PortRange) *nft.Set { return &nft.Set{Type: nft.SetPorts, Ports: ps} }
	a := ContentSetName(ports(nft.PortRange{First: 80, Last: 80}, nft.PortRange{First: 443, Last: 443}))
	b := ContentSetName(ports(nft.PortRange{First: 80, Last: 81}))
	c := ContentSetName(&nft.Set{Type: nft.SetICMPv6Types, Nums: []uint8{80, 81}})
	d := ContentSetName(&nft.Set{Type: nft.SetICMPTypes, Nums: []uint8{80, 81}})
	for _, n := range []string{a, b, c, d} {
		if k, id := Describe(n); k == "" || len(id) != contentHashLen {
			t.Errorf("Describe(%q) = %q, %q", n, k, id)
		}
	}
	if !strings.HasPrefix(a, PrefixPorts) || !strings.HasPrefix(c, PrefixICMPv6Types) || !strings.HasPrefix(d, PrefixICMPTypes) {
		t.Errorf("prefixes: %s %s %s", a, c, d)
	}
	if a == b || c == d || strings.TrimPrefix(c, PrefixICMPv6Types) != strings.TrimPrefix(d, PrefixICMPTypes) {
		t.Errorf("names %s %s %s %s: different lists must differ, the same list of two ICMP families differ by prefix only", a, b, c, d)
	}
}
