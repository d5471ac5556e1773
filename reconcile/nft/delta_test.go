package nft

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// This file is the Updater conformance table: pairs (base, desired) made by mutating the
// sample ruleset, each applied as Replace(base) then Update(desired, base, gen), run with the
// same assertions against the fake and the kernel in a private namespace: the table reads
// back as desired, the generation is the one reported, the rules the diff keeps keep their
// handles, and what cannot be done in place is refused with ErrNeedsFull before anything is
// sent.

const deltaTable = "rtdelta"

type deltaCase struct {
	name      string
	mutate    func(rs *Ruleset)
	needsFull bool
	// want checks the Delta's statistics (nil: only that the update changes something).
	want func(st DeltaStats) bool
}

func findSet(rs *Ruleset, name string) *Set {
	for _, s := range rs.Sets {
		if s.Name == name {
			return s
		}
	}
	panic("no set " + name)
}

func findMap(rs *Ruleset, name string) *Map {
	for _, m := range rs.Maps {
		if m.Name == name {
			return m
		}
	}
	panic("no map " + name)
}

func dropChain(rs *Ruleset, name string) {
	rs.Chains = slices.DeleteFunc(rs.Chains, func(c *Chain) bool { return c.Name == name })
}

func dropElement(m *Map, key string) {
	m.Elements = slices.DeleteFunc(m.Elements, func(e MapElement) bool { return e.Key == key })
}

func acceptRule(comment string) *Rule {
	return &Rule{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchDPort, Ports: []PortRange{{9000, 9000}}}},
		Counter: true, Verdict: Verdict{Kind: Accept}, Comment: comment}
}

func deltaCases() []deltaCase {
	web := func(rs *Ruleset) *Chain { return confChain(rs, "profile-in-WEB") }
	insert := func(c *Chain, i int, r *Rule) { c.Rules = slices.Insert(c.Rules, i, r) }
	return []deltaCase{
		{name: "nothing", mutate: func(rs *Ruleset) {}, want: func(st DeltaStats) bool { return st == DeltaStats{} }},
		{name: "tag gains a neighbour (/32+/32 merge)", mutate: func(rs *Ruleset) {
			s := findSet(rs, "tag-v4-WEB")
			s.Prefixes = append(s.Prefixes, pfx("198.18.1.3/32")...)
		}, want: func(st DeltaStats) bool { return st.ElementsDeleted > 0 && st.ElementsAdded > 0 && st.RulesAdded == 0 }},
		{name: "tag gains an address", mutate: func(rs *Ruleset) {
			s := findSet(rs, "tag-v4-WEB")
			s.Prefixes = append(s.Prefixes, pfx("198.18.200.1/32")...)
		}, want: func(st DeltaStats) bool { return st.ElementsAdded == 2 && st.ElementsDeleted == 0 }},
		{name: "tag loses its first address", mutate: func(rs *Ruleset) {
			s := findSet(rs, "tag-v4-WEB")
			s.Prefixes = s.Prefixes[1:]
		}},
		{name: "tag splits a merged range", mutate: func(rs *Ruleset) {
			s := findSet(rs, "tag-v4-WEB")
			s.Prefixes = pfx("198.18.1.2/32", "198.18.3.0/25", "198.19.0.0/16")
		}},
		{name: "set of everything gets a sentinel", mutate: func(rs *Ruleset) {
			findSet(rs, "all-v4").Prefixes = pfx("198.18.0.0/15")
		}},
		{name: "set starts at zero", mutate: func(rs *Ruleset) {
			s := findSet(rs, "tag-v4-WEB")
			s.Prefixes = append(s.Prefixes, pfx("0.0.0.0/8")...)
		}},
		{name: "v6 tag gains and empty set fills", mutate: func(rs *Ruleset) {
			s := findSet(rs, "tag-v6-WEB")
			s.Prefixes = append(s.Prefixes, pfx("fd00::3/128")...)
			findSet(rs, "empty-v6").Prefixes = pfx("fd00::9/128")
		}},
		{name: "tag loses everything", mutate: func(rs *Ruleset) {
			findSet(rs, "tag-v6-WEB").Prefixes = nil
		}},
		{name: "map entry added", mutate: func(rs *Ruleset) {
			m := findMap(rs, "dispatch-from")
			m.Elements = append(m.Elements, MapElement{Key: "caliweb2", Verdict: Verdict{Kind: Goto, Chain: "from-app-1"}})
		}, want: func(st DeltaStats) bool { return st.ElementsAdded == 1 && st.ElementsDeleted == 0 }},
		{name: "map entry removed", mutate: func(rs *Ruleset) {
			dropElement(findMap(rs, "dispatch-from"), "caliapp1")
		}, want: func(st DeltaStats) bool { return st.ElementsDeleted == 1 && st.ElementsAdded == 0 }},
		{name: "map entry changed", mutate: func(rs *Ruleset) {
			findMap(rs, "dispatch-host").Elements[0].Verdict = Verdict{Kind: Jump, Chain: "from-app-1"}
		}, want: func(st DeltaStats) bool { return st.ElementsDeleted == 1 && st.ElementsAdded == 1 }},
		{name: "rule added at the head", mutate: func(rs *Ruleset) { insert(web(rs), 0, acceptRule("new head")) },
			want: func(st DeltaStats) bool { return st.RulesAdded == 1 && st.RulesDeleted == 0 && st.ChainsFlushed == 0 }},
		{name: "rule added in the middle", mutate: func(rs *Ruleset) { insert(web(rs), 7, acceptRule("new middle")) },
			want: func(st DeltaStats) bool { return st.RulesAdded == 1 && st.ChainsFlushed == 0 }},
		{name: "rule added at the end", mutate: func(rs *Ruleset) { c := web(rs); insert(c, len(c.Rules), acceptRule("new end")) },
			want: func(st DeltaStats) bool { return st.RulesAdded == 1 && st.ChainsFlushed == 0 }},
		{name: "three rules added in a run and one at the head", mutate: func(rs *Ruleset) {
			c := web(rs)
			insert(c, 4, acceptRule("run 1"))
			insert(c, 5, acceptRule("run 2"))
			insert(c, 6, acceptRule("run 3"))
			insert(c, 0, acceptRule("head"))
		}, want: func(st DeltaStats) bool { return st.RulesAdded == 4 && st.ChainsFlushed == 0 }},
		{name: "rule removed", mutate: func(rs *Ruleset) { c := web(rs); c.Rules = slices.Delete(c.Rules, 3, 4) },
			want: func(st DeltaStats) bool { return st.RulesDeleted == 1 && st.RulesAdded == 0 }},
		{name: "first and last rules removed", mutate: func(rs *Ruleset) { c := web(rs); c.Rules = c.Rules[1 : len(c.Rules)-1] },
			want: func(st DeltaStats) bool { return st.RulesDeleted == 2 }},
		{name: "rule replaced", mutate: func(rs *Ruleset) { web(rs).Rules[5] = acceptRule("replaced") },
			want: func(st DeltaStats) bool { return st.RulesReplaced == 1 && st.RulesAdded == 0 && st.RulesDeleted == 0 }},
		{name: "rule replaced, then two added after it", mutate: func(rs *Ruleset) {
			c := web(rs)
			c.Rules[2] = acceptRule("replaced")
			insert(c, 3, acceptRule("after 1"))
			insert(c, 4, acceptRule("after 2"))
		}, want: func(st DeltaStats) bool { return st.RulesReplaced == 1 && st.RulesAdded == 2 }},
		{name: "first rule replaced and one removed", mutate: func(rs *Ruleset) {
			c := web(rs)
			c.Rules[0] = acceptRule("replaced")
			c.Rules = slices.Delete(c.Rules, 9, 10)
		}},
		{name: "profile chain rewritten", mutate: func(rs *Ruleset) {
			c := web(rs)
			for i := range c.Rules {
				c.Rules[i] = acceptRule(fmt.Sprintf("rewritten %d", i))
			}
		}, want: func(st DeltaStats) bool { return st.ChainsFlushed == 1 }},
		{name: "rule of a base chain added", mutate: func(rs *Ruleset) {
			c := confChain(rs, "forward-from")
			insert(c, 2, &Rule{Matches: []Match{{Kind: MatchIIFName, Str: "lo"}}, Verdict: Verdict{Kind: Accept}})
		}},
		{name: "endpoint added (chain and map entry)", mutate: func(rs *Ruleset) {
			rs.Chains = append(rs.Chains, &Chain{Name: "from-web-2", Rules: []*Rule{
				{Verdict: Verdict{Kind: Jump, Chain: "profile-out-WEB"}}, {Verdict: Verdict{Kind: Drop}},
			}})
			m := findMap(rs, "dispatch-from")
			m.Elements = append(m.Elements, MapElement{Key: "caliweb2", Verdict: Verdict{Kind: Goto, Chain: "from-web-2"}})
		}, want: func(st DeltaStats) bool { return st.ChainsAdded == 1 && st.RulesAdded == 2 && st.ElementsAdded == 1 }},
		{name: "endpoint removed (chain and map entry)", mutate: func(rs *Ruleset) {
			dropChain(rs, "from-app-1")
			dropElement(findMap(rs, "dispatch-from"), "caliapp1")
		}, want: func(st DeltaStats) bool { return st.ChainsDeleted == 1 && st.ElementsDeleted == 1 }},
		{name: "profile chain removed with the jump to it", mutate: func(rs *Ruleset) {
			dropChain(rs, "profile-out-WEB")
			c := confChain(rs, "from-web-1")
			c.Rules = slices.Delete(c.Rules, 3, 4)
		}},
		{name: "two chains that jump to each other removed", mutate: func(rs *Ruleset) {
			dropChain(rs, "profile-in-WEB")
			dropChain(rs, "to-web-1")
		}, want: func(st DeltaStats) bool { return st.ChainsDeleted == 2 }},
		{name: "chains removed with the only users of two sets", mutate: func(rs *Ruleset) {
			dropChain(rs, "profile-in-WEB")
			dropChain(rs, "to-web-1")
			rs.Sets = slices.DeleteFunc(rs.Sets, func(s *Set) bool { return s.Name == "empty-v6" || s.Name == "all-v4" })
		}, want: func(st DeltaStats) bool { return st.ChainsDeleted == 2 && st.SetsDeleted == 2 }},
		{name: "set added and used", mutate: func(rs *Ruleset) {
			rs.Sets = append(rs.Sets, &Set{Name: "tag-v4-DB", Type: SetIPv4, Prefixes: pfx("198.18.9.0/24", "198.18.10.1/32"), Comment: "tag DB"})
			c := confChain(rs, "profile-out-WEB")
			insert(c, 0, &Rule{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchDAddrSet, Family: IPv4, Str: "tag-v4-DB"}}, Verdict: Verdict{Kind: Accept}})
		}, want: func(st DeltaStats) bool { return st.SetsAdded == 1 }},
		{name: "set removed with its users", mutate: func(rs *Ruleset) {
			rs.Sets = slices.DeleteFunc(rs.Sets, func(s *Set) bool { return s.Name == "empty-v6" })
			c := web(rs)
			c.Rules = slices.Delete(c.Rules, 5, 6) // WEB inbound 6 looks it up
		}, want: func(st DeltaStats) bool { return st.SetsDeleted == 1 && st.RulesDeleted == 1 }},
		{name: "map added, map removed", mutate: func(rs *Ruleset) {
			rs.Maps = slices.DeleteFunc(rs.Maps, func(m *Map) bool { return m.Name == "dispatch-to" })
			rs.Maps = append(rs.Maps, &Map{Name: "dispatch-to2", Elements: []MapElement{{Key: "caliweb1", Verdict: Verdict{Kind: Goto, Chain: "from-app-1"}}}})
			confChain(rs, "forward-to").Rules[0].VMap.Map = "dispatch-to2"
		}, want: func(st DeltaStats) bool { return st.MapsAdded == 1 && st.MapsDeleted == 1 }},
		{name: "base chain added", mutate: func(rs *Ruleset) {
			rs.Chains = append(rs.Chains, &Chain{Name: "input-late", Base: &BaseChain{Hook: HookInput, Priority: 5, Policy: Accept},
				Rules: []*Rule{{Counter: true, Verdict: Verdict{Kind: Jump, Chain: "from-app-1"}}}})
		}},
		{name: "base chain removed", mutate: func(rs *Ruleset) { dropChain(rs, "input-from") }},
		{name: "everything at once", mutate: func(rs *Ruleset) {
			s := findSet(rs, "tag-v4-WEB")
			s.Prefixes = append(s.Prefixes, pfx("198.18.1.3/32", "198.18.100.0/24")...)
			insert(web(rs), 3, acceptRule("new"))
			dropChain(rs, "from-app-1")
			dropElement(findMap(rs, "dispatch-from"), "caliapp1")
			rs.Chains = append(rs.Chains, &Chain{Name: "from-app-2", Rules: []*Rule{{Verdict: Verdict{Kind: Drop}}}})
			m := findMap(rs, "dispatch-from")
			m.Elements = append(m.Elements, MapElement{Key: "caliapp2", Verdict: Verdict{Kind: Goto, Chain: "from-app-2"}})
		}},

		// Not in place.
		{name: "base chain policy", needsFull: true, mutate: func(rs *Ruleset) { confChain(rs, "forward-from").Base.Policy = Drop }},
		{name: "base chain priority", needsFull: true, mutate: func(rs *Ruleset) { confChain(rs, "forward-to").Base.Priority = 20 }},
		{name: "regular chain becomes a base chain", needsFull: true, mutate: func(rs *Ruleset) {
			confChain(rs, "from-app-1").Base = &BaseChain{Hook: HookInput, Priority: 3, Policy: Accept}
		}},
		{name: "set comment", needsFull: true, mutate: func(rs *Ruleset) { findSet(rs, "tag-v4-WEB").Comment = "other" }},
		{name: "set type", needsFull: true, mutate: func(rs *Ruleset) {
			s := findSet(rs, "empty-v6")
			s.Type, s.Prefixes = SetIPv4, nil
			web(rs).Rules[5] = acceptRule("no lookup")
		}},
		{name: "map comment", needsFull: true, mutate: func(rs *Ruleset) { findMap(rs, "dispatch-to").Comment = "other" }},
		{name: "set becomes a map", needsFull: true, mutate: func(rs *Ruleset) {
			rs.Sets = slices.DeleteFunc(rs.Sets, func(s *Set) bool { return s.Name == "empty-v6" })
			web(rs).Rules[5] = acceptRule("no lookup")
			rs.Maps = append(rs.Maps, &Map{Name: "empty-v6"})
		}},
	}
}

// ruleIdentity returns, for every chain, the identity of each rule (kernel handles or fake
// handles), in rule order.
type ruleIdentity func(t *testing.T, rs *Ruleset) map[string][]uint64

// checkKeptHandles checks that every rule the diff keeps (chains in both, not flushed, rules
// aligned as kept) has the same identity before and after.
func checkKeptHandles(t *testing.T, base, desired *Ruleset, before, after map[string][]uint64) {
	t.Helper()
	dl, err := Diff(desired, base)
	if err != nil {
		t.Fatal(err)
	}
	edited := map[string]*ChainEdit{}
	for i := range dl.Chains {
		edited[dl.Chains[i].Name] = &dl.Chains[i]
	}
	b, d := base.Canonical(), desired.Canonical()
	kept := 0
	for _, dc := range d.Chains {
		var bc *Chain
		for _, c := range b.Chains {
			if c.Name == dc.Name {
				bc = c
			}
		}
		if bc == nil {
			continue
		}
		ce := edited[dc.Name]
		if ce != nil && ce.Flush {
			continue
		}
		for _, op := range AlignRules(ruleStrings(dc.Rules), ruleStrings(bc.Rules)) {
			if op.Op != AlignKeep {
				continue
			}
			kept++
			if before[dc.Name][op.Base] != after[dc.Name][op.Desired] {
				t.Errorf("chain %q rule %d (%s) kept by the diff changed handle %d -> %d", dc.Name, op.Desired+1,
					dc.Rules[op.Desired], before[dc.Name][op.Base], after[dc.Name][op.Desired])
			}
		}
		if ce != nil {
			for _, e := range ce.Edits {
				if e.Op == RuleReplace && !slices.Contains(after[dc.Name], before[dc.Name][e.At]) {
					t.Errorf("chain %q: replaced rule handle %d is gone", dc.Name, before[dc.Name][e.At])
				}
			}
		}
	}
	if kept == 0 && len(b.Chains) > 0 {
		t.Errorf("no rule kept: the handle check is vacuous")
	}
}

func runDeltaConformance(t *testing.T, dp interface {
	Dataplane
	Updater
	Generationer
}, ids ruleIdentity) {
	ctx := context.Background()
	for _, tc := range deltaCases() {
		t.Run(tc.name, func(t *testing.T) {
			base := sampleRuleset(deltaTable)
			desired := sampleRuleset(deltaTable)
			tc.mutate(desired)
			res, err := dp.Replace(ctx, base, 0)
			if err != nil {
				t.Fatalf("Replace: %v", err)
			}
			if res.Stats.RulesAdded == 0 || res.Stats.ChainsAdded != len(base.Chains) {
				t.Errorf("Replace stats %+v", res.Stats)
			}
			gen, err := dp.Generation(ctx)
			if err != nil {
				t.Fatal(err)
			}
			before := ids(t, base)
			res, err = dp.Update(ctx, desired, base, gen)
			if tc.needsFull {
				if !errors.Is(err, ErrNeedsFull) {
					t.Fatalf("Update: %v, want ErrNeedsFull", err)
				}
				if g, _ := dp.Generation(ctx); g != gen {
					t.Errorf("a refused Update moved the generation %d -> %d", gen, g)
				}
				return
			}
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if tc.want != nil && !tc.want(res.Stats) {
				t.Errorf("Update stats %+v", res.Stats)
			}
			if tc.want == nil && res.Stats == (DeltaStats{}) {
				t.Errorf("Update changed nothing")
			}
			got, err := dp.Observe(ctx, deltaTable)
			if err != nil {
				t.Fatal(err)
			}
			if want := desired.Canonical(); !reflect.DeepEqual(got, want) {
				t.Fatalf("after Update the table is not desired:\n%s\n--- want\n%s", got, want)
			}
			g, err := dp.Generation(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Generation != g {
				t.Errorf("Update reported generation %d, the ruleset is at %d", res.Generation, g)
			}
			checkKeptHandles(t, base, desired, before, ids(t, desired))
			// The same change again from the new state changes nothing.
			res, err = dp.Update(ctx, desired, got, g)
			if err != nil || res.Stats != (DeltaStats{}) {
				t.Errorf("second Update: %v, stats %+v", err, res)
			}
		})
	}
}

func fakeIdentity(f *Fake) ruleIdentity {
	return func(t *testing.T, rs *Ruleset) map[string][]uint64 {
		out := map[string][]uint64{}
		for _, c := range rs.Chains {
			out[c.Name] = f.RuleHandles(rs.Table, c.Name)
		}
		return out
	}
}

func kernelIdentity(k *Kernel) ruleIdentity {
	return func(t *testing.T, rs *Ruleset) map[string][]uint64 {
		t.Helper()
		raws, err := dumpRules(k.nl, rs.Table, "")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]uint64{}
		for _, r := range raws {
			out[r.chain] = append(out[r.chain], r.handle)
		}
		return out
	}
}

func TestUpdateConformance(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		f := NewFake()
		runDeltaConformance(t, f, fakeIdentity(f))
	})
	t.Run("kernel", func(t *testing.T) {
		testenv.RequireKernel(t)
		k, _ := newKernel(t, "delta")
		runDeltaConformance(t, k, kernelIdentity(k))
	})
}

func TestAlignRules(t *testing.T) {
	render := func(ops []AlignOp, desired, base []string) string {
		var b strings.Builder
		for _, op := range ops {
			switch op.Op {
			case AlignKeep:
				b.WriteString("=" + desired[op.Desired])
			case AlignDelete:
				b.WriteString("-" + base[op.Base])
			case AlignAdd:
				b.WriteString("+" + desired[op.Desired])
			}
			b.WriteString(" ")
		}
		return strings.TrimSpace(b.String())
	}
	for _, tc := range []struct{ desired, base, want string }{
		{"a b c", "a b c", "=a =b =c"},
		{"a x c", "a b c", "=a -b +x =c"},
		{"x a b c", "a b c", "+x =a =b =c"},
		{"a c", "a b c", "=a -b =c"},
		{"", "a b", "-a -b"},
		{"a b", "", "+a +b"},
		{"b a", "a b", "-a =b +a"},
	} {
		d, b := strings.Fields(tc.desired), strings.Fields(tc.base)
		if got := render(AlignRules(d, b), d, b); got != tc.want {
			t.Errorf("AlignRules(%q, %q) = %q, want %q", tc.desired, tc.base, got, tc.want)
		}
	}
}

// TestRuleEqualSeesEveryField sets each field of a Rule and of a Match, one at a time, to a
// value other than the sample's and checks that ruleEqual tells the two rules apart: a field
// added to the model fails here until ruleEqual compares it (Diff would keep a changed rule).
func TestRuleEqualSeesEveryField(t *testing.T) {
	sample := func() *Rule {
		return &Rule{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}}, Verdict: Verdict{Kind: Accept}}
	}
	change := func(t *testing.T, v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			v.SetInt(v.Int() + 1)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			v.SetUint(v.Uint() + 1)
		case reflect.Slice:
			v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
		case reflect.Pointer:
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			} else {
				v.Set(reflect.Zero(v.Type()))
			}
		default:
			t.Fatalf("%s: no way to change a %s here: extend this test", path, v.Kind())
		}
	}
	var walk func(t *testing.T, typ reflect.Type, get func(r *Rule) reflect.Value, path string)
	walk = func(t *testing.T, typ reflect.Type, get func(r *Rule) reflect.Value, path string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			p := path + "." + f.Name
			field := func(r *Rule) reflect.Value { return get(r).Field(i) }
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(netip.Prefix{}) {
				walk(t, f.Type, field, p)
				continue
			}
			a, b := sample(), sample()
			change(t, field(b), p)
			if ruleEqual(a, b) {
				t.Errorf("ruleEqual does not see a change of %s", p)
			}
		}
	}
	walk(t, reflect.TypeOf(Rule{}), func(r *Rule) reflect.Value { return reflect.ValueOf(r).Elem() }, "Rule")
	walk(t, reflect.TypeOf(Match{}), func(r *Rule) reflect.Value { return reflect.ValueOf(&r.Matches[0]).Elem() }, "Match")
	if !ruleEqual(sample(), sample()) {
		t.Error("ruleEqual of two equal rules is false")
	}
}

// TestDiffNonCanonical: models equal up to canonical form give an empty Delta, and a Delta
// computed from non-canonical models applies like one from canonical ones.
func TestDiffNonCanonical(t *testing.T) {
	base := sampleRuleset(deltaTable)
	messy := sampleRuleset(deltaTable)
	slices.Reverse(messy.Chains)
	slices.Reverse(messy.Sets)
	s := findSet(messy, "tag-v4-WEB")
	s.Prefixes = append(pfx("198.19.0.0/17", "198.19.128.0/17"), s.Prefixes[:2]...) // same cover
	confChain(messy, "forward-from").Base.Policy = None                             // accept
	m := findMap(messy, "dispatch-from")
	slices.Reverse(m.Elements)
	confChain(messy, "host-web-1").Rules[0].Matches[1].Ports = []PortRange{{546, 547}, {53, 53}, {67, 68}}
	dl, err := Diff(messy, base)
	if err != nil || !dl.Empty() {
		t.Fatalf("Diff of equal models: %v, %+v", err, dl)
	}
	if dl, err = Diff(base, messy); err != nil || !dl.Empty() {
		t.Fatalf("Diff of equal models (reversed): %v, %+v", err, dl)
	}
	f := NewFake()
	ctx := context.Background()
	if _, err := f.Replace(ctx, messy, 0); err != nil {
		t.Fatal(err)
	}
	findSet(messy, "tag-v4-WEB").Prefixes = append(findSet(messy, "tag-v4-WEB").Prefixes, pfx("198.18.1.3/32")...)
	if _, err := f.Update(ctx, messy, base, 0); err != nil {
		t.Fatal(err)
	}
	mustObserve(t, f, messy, "Update from a non-canonical model")
}

// TestDiffRefusesDuplicates: a desired model that declares an object twice is refused as
// Apply refuses it (not ErrNeedsFull: a full replace would fail too).
func TestDiffRefusesDuplicates(t *testing.T) {
	base := sampleRuleset(deltaTable)
	for name, mutate := range map[string]func(rs *Ruleset){
		"chain": func(rs *Ruleset) { rs.Chains = append(rs.Chains, &Chain{Name: "from-app-1"}) },
		"set":   func(rs *Ruleset) { rs.Sets = append(rs.Sets, &Set{Name: "all-v4", Type: SetIPv4}) },
		"map":   func(rs *Ruleset) { rs.Maps = append(rs.Maps, &Map{Name: "all-v4"}) },
	} {
		d := sampleRuleset(deltaTable)
		mutate(d)
		_, err := Diff(d, base)
		if err == nil || !strings.Contains(err.Error(), "declared twice") || errors.Is(err, ErrNeedsFull) {
			t.Errorf("%s declared twice: Diff says %v", name, err)
		}
	}
}
