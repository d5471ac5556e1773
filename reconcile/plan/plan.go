// Package plan computes the difference between two ruleset models of the table reconcile owns
// (the desired one and the one observed in the kernel) and renders it for people and machines.
//
// The difference is grouped the way an operator thinks about it: endpoints (their from-/to-/
// host- chains and their elements in the dispatch maps), profile chains, tag sets, and the base
// structure (base chains, maps, anything else). Inside a chain, rules are matched by content
// (their nft text, comment included) along the longest common subsequence, so inserting a rule
// in the middle shows one added rule, not a cascade.
package plan

import (
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// Action is what applying the plan does to an object.
type Action string

// Actions.
const (
	Add     Action = "add"
	Change  Action = "change"
	Destroy Action = "destroy"
)

// Symbol is the plan symbol of an action: + ~ -.
func (a Action) Symbol() string {
	switch a {
	case Add:
		return "+"
	case Destroy:
		return "-"
	}
	return "~"
}

// Kinds of object.
const (
	KindTable    = "table"
	KindEndpoint = "endpoint"
	KindProfile  = "profile"
	KindTag      = "tag"
	KindChain    = "chain" // a base chain or a chain reconcile does not name
	KindMap      = "map"
	KindSet      = "set" // a set reconcile does not name
	// KindList is a shared list of ports or ICMP types: a set named after its content
	// (ports-<hash>, icmp-types-<hash>, icmpv6-types-<hash>), looked up by the rules with that
	// list. Its ID is the set name. A changed list is a new set (and the old one destroyed).
	KindList = "list"
	// KindObject is a named stateful object (counter, quota, limit, ct helper, ...) or a
	// flowtable: reconcile makes none, so one in the kernel is not reconcile's and apply
	// removes it with the table it replaces. Its ID is its kind and name ("counter c1").
	KindObject = "object"
)

// Plan is the difference between a desired and an observed ruleset.
type Plan struct {
	// Kind is "plan" (desired vs kernel) or "drift" (last applied vs kernel).
	Kind string `json:"kind"`
	// Table is the table name.
	Table string `json:"table"`
	// Objects are the objects that differ, endpoints first, then profiles, tags, the rest.
	Objects []*Object `json:"objects"`
}

// Object is one thing that differs: an endpoint, a profile direction, a tag family, a base
// chain, a map, a set, or the table itself.
type Object struct {
	Action Action `json:"action"`
	Kind   string `json:"kind"`
	// ID is the endpoint id, profile id, tag name, or the chain/map/set/table name.
	ID string `json:"id"`
	// Interface is the endpoint's interface (from the dispatch maps), when known.
	Interface string `json:"interface,omitempty"`
	// Direction is "inbound" or "outbound" for a profile.
	Direction string `json:"direction,omitempty"`
	// Family is "v4" or "v6" for a tag.
	Family string `json:"family,omitempty"`
	// Changes are the lines that differ, in the order of the desired ruleset.
	Changes []Line `json:"changes"`
}

// Line is one added or removed line of an object.
type Line struct {
	// Op is "+" (apply adds it) or "-" (apply removes it).
	Op string `json:"op"`
	// In names where the line lives: "chain from-web-1", "map dispatch-from", "set tag-v4-WEB",
	// "table inet reconcile".
	In string `json:"in"`
	// Position is the 1-based position of a rule in its chain (in the desired chain for "+",
	// in the observed chain for "-"); 0 for lines that are not rules.
	Position int `json:"position,omitempty"`
	// Text is the nft text: a rule (with its comment), a set member, a map element, or the
	// declaration of the chain, set, map or table itself (then Header is true).
	Text string `json:"text"`
	// Header marks the declaration line of the chain, set, map or table named by In.
	Header bool `json:"header,omitempty"`
}

// Counts is how many objects a plan adds, changes and destroys.
type Counts struct {
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
}

// Total is the number of objects that differ.
func (c Counts) Total() int { return c.Add + c.Change + c.Destroy }

// Changes counts the objects to add, change and destroy.
func (p *Plan) Changes() Counts {
	var c Counts
	if p == nil {
		return c
	}
	for _, o := range p.Objects {
		switch o.Action {
		case Add:
			c.Add++
		case Change:
			c.Change++
		case Destroy:
			c.Destroy++
		}
	}
	return c
}

// Empty reports whether nothing differs.
func (p *Plan) Empty() bool { return p == nil || len(p.Objects) == 0 }

// Diff returns what applying desired changes in a kernel that holds observed (nil: the table
// does not exist). A nil desired means the table is to be removed. Both sides are compared in
// their canonical form (nft.Ruleset.Canonical).
func Diff(desired, observed *nft.Ruleset) *Plan {
	return diff("plan", desired, observed, false)
}

// DiffCanonical is Diff of two rulesets that are in canonical form already (the results of
// nft.Ruleset.Canonical, or of their gob round trip, as a state record's model): they are
// compared as they are, without making them canonical again (0.2 s for a ruleset of 100,000
// set members). The plan is Diff's.
func DiffCanonical(desired, observed *nft.Ruleset) *Plan {
	return diff("plan", desired, observed, true)
}

// Drift is the difference of the kernel (observed; nil: the table was deleted) from the
// ruleset applied last: "+" lines are missing from the kernel (removed by hand), "-" lines are
// in the kernel but were not applied (added by hand). Applying again would make those changes.
func Drift(applied, observed *nft.Ruleset) *Plan {
	return diff("drift", applied, observed, false)
}

// group is an object under construction: the chains, maps and sets that belong to it.
type group struct {
	obj     *Object
	present [2]bool // present[0]: something of it in desired, [1]: in observed
}

const (
	inDesired  = 0
	inObserved = 1
)

// diff compares two rulesets in canonical form (either may be nil: the table is created or
// removed) and groups the differences into objects, in kindOrder, then id, direction and
// family order.
func diff(kind string, desired, observed *nft.Ruleset, canonical bool) *Plan {
	table := ""
	switch {
	case desired != nil:
		table = desired.Table
	case observed != nil:
		table = observed.Table
	}
	p := &Plan{Kind: kind, Table: table, Objects: []*Object{}}
	if desired == nil && observed == nil {
		return p
	}
	// Compare canonical forms (sorted port lists, merged prefixes, sorted elements), so that
	// only differences that matter to the kernel show.
	if !canonical {
		desired, observed = desired.Canonical(), observed.Canonical()
	}
	d := &differ{groups: map[string]*group{}}
	sides := [2]*nft.Ruleset{desired, observed}

	d.interfaces(sides)
	d.table(table, desired, observed)
	d.sets(sides)
	d.maps(sides)
	d.chains(sides)
	d.objects(sides)
	p.Objects = append(p.Objects, d.changed()...)
	return p
}

// interfaces records which interface belongs to which endpoint, from the dispatch maps of
// either side.
func (d *differ) interfaces(sides [2]*nft.Ruleset) {
	for _, rs := range sides {
		if rs == nil {
			continue
		}
		for _, m := range rs.Maps {
			for _, e := range m.Elements {
				if k, id := describe(e.Verdict.Chain); k == KindEndpoint {
					g := d.group(KindEndpoint, id, "", "")
					if g.obj.Interface == "" {
						g.obj.Interface = e.Key
					}
				}
			}
		}
	}
}

// table records the table's creation (only desired) or removal (only observed).
func (d *differ) table(table string, desired, observed *nft.Ruleset) {
	tableIn := "table inet " + table
	if desired != nil && observed == nil {
		g := d.group(KindTable, table, "", "")
		g.present[inDesired] = true
		g.obj.Changes = append(g.obj.Changes, Line{Op: "+", In: tableIn, Text: "table inet " + table, Header: true})
	}
	if desired == nil && observed != nil {
		g := d.group(KindTable, table, "", "")
		g.present[inObserved] = true
		g.obj.Changes = append(g.obj.Changes, Line{Op: "-", In: tableIn, Text: "table inet " + table, Header: true})
	}
}

// changed returns the groups with changes as objects, each with its action (add when only
// desired has it, destroy when only observed does, else change), sorted by kindOrder, id,
// direction and family.
func (d *differ) changed() []*Object {
	var objs []*Object
	for _, g := range d.groups {
		if len(g.obj.Changes) == 0 {
			continue
		}
		switch {
		case g.present[inDesired] && !g.present[inObserved]:
			g.obj.Action = Add
		case !g.present[inDesired] && g.present[inObserved]:
			g.obj.Action = Destroy
		default:
			g.obj.Action = Change
		}
		objs = append(objs, g.obj)
	}
	sort.Slice(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if ka, kb := kindOrder(a.Kind), kindOrder(b.Kind); ka != kb {
			return ka < kb
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Direction != b.Direction {
			return a.Direction < b.Direction
		}
		return a.Family < b.Family
	})
	return objs
}

func kindOrder(k string) int {
	switch k {
	case KindTable:
		return 0
	case KindEndpoint:
		return 1
	case KindProfile:
		return 2
	case KindTag:
		return 3
	case KindList:
		return 4
	case KindChain:
		return 5
	case KindMap:
		return 6
	case KindObject:
		return 8
	}
	return 7
}

type differ struct {
	groups map[string]*group
}

func (d *differ) group(kind, id, direction, family string) *group {
	key := kind + "\x00" + id + "\x00" + direction + "\x00" + family
	g, ok := d.groups[key]
	if !ok {
		g = &group{obj: &Object{Kind: kind, ID: id, Direction: direction, Family: family, Changes: []Line{}}}
		d.groups[key] = g
	}
	return g
}

// groupOfChain returns the object a chain belongs to.
func (d *differ) groupOfChain(name string) *group {
	switch k, id := describe(name); k {
	case KindEndpoint:
		return d.group(KindEndpoint, id, "", "")
	case KindProfile:
		dir := "inbound"
		if strings.HasPrefix(name, "profile-out-") {
			dir = "outbound"
		}
		return d.group(KindProfile, id, dir, "")
	}
	return d.group(KindChain, name, "", "")
}

// describe tells which kind of object a chain or set name of the naming contract stands for,
// and its id: from-/to-/host-<EP> → endpoint, profile-in-/profile-out-<P> → profile,
// tag-v4-/tag-v6-<T> → tag, ports-/icmp-types-/icmpv6-types-<hash> → list (id: the whole
// name). Other names return ("", "").
func describe(name string) (kind, id string) {
	for _, pre := range []string{"ports-", "icmp-types-", "icmpv6-types-"} {
		if strings.HasPrefix(name, pre) && len(name) > len(pre) {
			return KindList, name
		}
	}
	for _, pre := range []struct{ prefix, kind string }{
		{"from-", KindEndpoint}, {"to-", KindEndpoint}, {"host-", KindEndpoint},
		{"profile-in-", KindProfile}, {"profile-out-", KindProfile},
		{"tag-v4-", KindTag}, {"tag-v6-", KindTag},
	} {
		if strings.HasPrefix(name, pre.prefix) && len(name) > len(pre.prefix) {
			return pre.kind, name[len(pre.prefix):]
		}
	}
	return "", ""
}

func (d *differ) sets(sides [2]*nft.Ruleset) {
	type pair [2]*nft.Set
	byName := map[string]*pair{}
	var names []string
	for side, rs := range sides {
		if rs == nil {
			continue
		}
		for _, s := range rs.Sets {
			if byName[s.Name] == nil {
				byName[s.Name] = &pair{}
				names = append(names, s.Name)
			}
			byName[s.Name][side] = s
		}
	}
	sort.Strings(names)
	for _, name := range names {
		sp := byName[name]
		var g *group
		if k, id := describe(name); k == KindTag {
			fam := "v4"
			if strings.HasPrefix(name, "tag-v6-") {
				fam = "v6"
			}
			g = d.group(KindTag, id, "", fam)
		} else if k == KindList {
			g = d.group(KindList, id, "", "")
		} else {
			g = d.group(KindSet, name, "", "")
		}
		in := "set " + name
		for side := range sp {
			if sp[side] != nil {
				g.present[side] = true
			}
		}
		des, obs := sp[inDesired], sp[inObserved]
		// Header: created or removed set, or a type/comment change.
		switch {
		case obs == nil:
			g.obj.Changes = append(g.obj.Changes, Line{Op: "+", In: in, Text: setHeader(des), Header: true})
		case des == nil:
			g.obj.Changes = append(g.obj.Changes, Line{Op: "-", In: in, Text: setHeader(obs), Header: true})
		case setHeader(des) != setHeader(obs):
			g.obj.Changes = append(g.obj.Changes,
				Line{Op: "-", In: in, Text: setHeader(obs), Header: true},
				Line{Op: "+", In: in, Text: setHeader(des), Header: true})
		}
		if des != nil && obs != nil && sameMembers(des, obs) {
			continue // no member added or removed (most sets of a one-file change)
		}
		var dm, om []string
		if des != nil {
			dm = prefixTexts(des)
		}
		if obs != nil {
			om = prefixTexts(obs)
		}
		lines := membersDiff(in, dm, om)
		if g.obj.Kind == KindList {
			// Ports and types in numeric order (80 before 443), as the set lists them.
			sort.SliceStable(lines, func(i, j int) bool { return leadingNumber(lines[i].Text) < leadingNumber(lines[j].Text) })
		}
		g.obj.Changes = append(g.obj.Changes, lines...)
	}
}

// setHeader is the declaration of a set. A set read back without the interval flag (made by
// hand, see nft.NoIntervalFlag) shows without `flags interval`.
func setHeader(s *nft.Set) string {
	typ, interval := s.TypeFlags()
	h := "set " + s.Name + " { type " + typ + ";"
	if interval {
		h += " flags interval;"
	}
	if s.Comment != "" {
		h += " comment " + quote(s.Comment) + ";"
	}
	return h + " }"
}

func quote(s string) string { return "\"" + strings.ReplaceAll(s, "\"", "\\\"") + "\"" }

// prefixTexts are the members of a set: its prefixes (with their length), ports or ICMP types
// (nft.Set.Elements).
func prefixTexts(s *nft.Set) []string {
	out := make([]string, 0, len(s.Prefixes))
	for _, p := range s.Prefixes {
		out = append(out, p.Masked().String())
	}
	if len(s.Prefixes) == 0 {
		out = append(out, s.Elements()...)
	}
	return out
}

// sameMembers reports whether two sets have the same members in the same order (then
// membersDiff of their prefixTexts is empty): equal masked prefixes, or, without prefixes,
// equal ports and ICMP types.
func sameMembers(a, b *nft.Set) bool {
	if len(a.Prefixes) != len(b.Prefixes) {
		return false
	}
	for i, p := range a.Prefixes {
		if p.Masked() != b.Prefixes[i].Masked() {
			return false
		}
	}
	return len(a.Prefixes) > 0 || slices.Equal(a.Ports, b.Ports) && slices.Equal(a.Nums, b.Nums)
}

// membersDiff lists, as sets, the members added (+) and removed (-), sorted.
func membersDiff(in string, desired, observed []string) []Line {
	dset := map[string]bool{}
	for _, m := range desired {
		dset[m] = true
	}
	oset := map[string]bool{}
	for _, m := range observed {
		oset[m] = true
	}
	var out []Line
	for _, m := range sortedKeys(oset) {
		if !dset[m] {
			out = append(out, Line{Op: "-", In: in, Text: m})
		}
	}
	for _, m := range sortedKeys(dset) {
		if !oset[m] {
			out = append(out, Line{Op: "+", In: in, Text: m})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Text < out[j].Text })
	return out
}

// leadingNumber is the number a list element (`80`, `8000-8080`) starts with; -1 for none.
func leadingNumber(s string) int {
	n, ok := 0, false
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n, ok = n*10+int(c-'0'), true
	}
	if !ok {
		return -1
	}
	return n
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (d *differ) maps(sides [2]*nft.Ruleset) {
	type pair [2]*nft.Map
	byName := map[string]*pair{}
	var names []string
	for side, rs := range sides {
		if rs == nil {
			continue
		}
		for _, m := range rs.Maps {
			if byName[m.Name] == nil {
				byName[m.Name] = &pair{}
				names = append(names, m.Name)
			}
			byName[m.Name][side] = m
		}
	}
	sort.Strings(names)
	for _, name := range names {
		mp := byName[name]
		in := "map " + name
		mg := d.group(KindMap, name, "", "")
		for side := range mp {
			if mp[side] != nil {
				mg.present[side] = true
			}
		}
		des, obs := mp[inDesired], mp[inObserved]
		switch {
		case obs == nil:
			mg.obj.Changes = append(mg.obj.Changes, Line{Op: "+", In: in, Text: mapHeader(des), Header: true})
		case des == nil:
			mg.obj.Changes = append(mg.obj.Changes, Line{Op: "-", In: in, Text: mapHeader(obs), Header: true})
		case mapHeader(des) != mapHeader(obs):
			mg.obj.Changes = append(mg.obj.Changes,
				Line{Op: "-", In: in, Text: mapHeader(obs), Header: true},
				Line{Op: "+", In: in, Text: mapHeader(des), Header: true})
		}
		// Elements: keyed by interface name; an element belongs to the endpoint whose chain it
		// dispatches to, otherwise to the map.
		elems := [2]map[string]nft.MapElement{{}, {}}
		for side, m := range mp {
			if m == nil {
				continue
			}
			for _, e := range m.Elements {
				elems[side][e.Key] = e
			}
		}
		keys := map[string]bool{}
		for side := range elems {
			for k := range elems[side] {
				keys[k] = true
			}
		}
		for _, k := range sortedKeys(keys) {
			de, dok := elems[inDesired][k]
			oe, ook := elems[inObserved][k]
			if dok && ook && de == oe {
				// Unchanged, but it still shows which endpoint is present on each side.
				d.elementOwner(de, mg).present = [2]bool{true, true}
				continue
			}
			if ook {
				g := d.elementOwner(oe, mg)
				g.present[inObserved] = true
				g.obj.Changes = append(g.obj.Changes, Line{Op: "-", In: in, Text: elementText(oe)})
			}
			if dok {
				g := d.elementOwner(de, mg)
				g.present[inDesired] = true
				g.obj.Changes = append(g.obj.Changes, Line{Op: "+", In: in, Text: elementText(de)})
			}
		}
	}
}

func mapHeader(m *nft.Map) string {
	h := "map " + m.Name + " { type ifname : verdict;"
	if m.Comment != "" {
		h += " comment " + quote(m.Comment) + ";"
	}
	return h + " }"
}

// elementOwner is the endpoint group an element dispatches to, or the map's own group.
func (d *differ) elementOwner(e nft.MapElement, mapGroup *group) *group {
	if k, id := describe(e.Verdict.Chain); k == KindEndpoint {
		return d.group(KindEndpoint, id, "", "")
	}
	return mapGroup
}

func (d *differ) chains(sides [2]*nft.Ruleset) {
	type pair [2]*nft.Chain
	byName := map[string]*pair{}
	var names []string
	var sets [2]map[string]*nft.Set
	for side, rs := range sides {
		if rs == nil {
			continue
		}
		sets[side] = map[string]*nft.Set{}
		for _, s := range rs.Sets {
			sets[side][s.Name] = s
		}
		for _, c := range rs.Chains {
			if byName[c.Name] == nil {
				byName[c.Name] = &pair{}
				names = append(names, c.Name)
			}
			byName[c.Name][side] = c
		}
	}
	sort.Strings(names)
	for _, name := range names {
		cp := byName[name]
		g := d.groupOfChain(name)
		for side := range cp {
			if cp[side] != nil {
				g.present[side] = true
			}
		}
		in := "chain " + name
		des, obs := cp[inDesired], cp[inObserved]
		switch {
		case obs == nil:
			g.obj.Changes = append(g.obj.Changes, Line{Op: "+", In: in, Text: chainHeader(des), Header: true})
		case des == nil:
			g.obj.Changes = append(g.obj.Changes, Line{Op: "-", In: in, Text: chainHeader(obs), Header: true})
		case chainHeader(des) != chainHeader(obs):
			g.obj.Changes = append(g.obj.Changes,
				Line{Op: "-", In: in, Text: chainHeader(obs), Header: true},
				Line{Op: "+", In: in, Text: chainHeader(des), Header: true})
		}
		if des != nil && obs != nil && sameRules(des, obs, sets) {
			continue // the same rules, the same texts: nothing to align
		}
		var dr, or []string
		if des != nil {
			dr = ruleTexts(des, sets[inDesired])
		}
		if obs != nil {
			or = ruleTexts(obs, sets[inObserved])
		}
		g.obj.Changes = append(g.obj.Changes, rulesDiff(in, dr, or)...)
	}
}

func chainHeader(c *nft.Chain) string {
	if c.Base == nil {
		return "chain " + c.Name
	}
	return "chain " + c.Name + " { " + baseText(c.Base) + " }"
}

// sameRules reports whether chains a (desired) and b (observed) have equal rules (deeply)
// whose shared lists (port and ICMP type sets, in sets of each side) have the same elements on
// both sides: then their ruleTexts are equal. False when it cannot tell cheaply.
func sameRules(a, b *nft.Chain, sets [2]map[string]*nft.Set) bool {
	if len(a.Rules) != len(b.Rules) {
		return false
	}
	for i, r := range a.Rules {
		if !reflect.DeepEqual(r, b.Rules[i]) {
			return false
		}
		for j := range r.Matches {
			switch m := &r.Matches[j]; m.Kind {
			case nft.MatchSPortSet, nft.MatchDPortSet, nft.MatchICMPTypeSet:
				x, y := sets[inDesired][m.Str], sets[inObserved][m.Str]
				if (x == nil) != (y == nil) || x != nil && !(slices.Equal(x.Prefixes, y.Prefixes) && slices.Equal(x.Ports, y.Ports) && slices.Equal(x.Nums, y.Nums)) {
					return false
				}
			}
		}
	}
	return true
}

// ruleTexts are the rules of c as plan shows them: their nft text, a lookup in a shared port
// or ICMP type list followed by the list's elements in sets (nft.Rule.Explain), so that a
// rule line names its ports and a list changed by hand shows in the rules that use it.
func ruleTexts(c *nft.Chain, sets map[string]*nft.Set) []string {
	out := make([]string, len(c.Rules))
	for i, r := range c.Rules {
		out[i] = r.Explain(sets)
	}
	return out
}

// rulesDiff aligns the two rule lists along their longest common subsequence (nft.AlignRules,
// the alignment an in-place apply uses too) and returns the rules only in observed (-) and only
// in desired (+), in order.
func rulesDiff(in string, desired, observed []string) []Line {
	var out []Line
	for _, op := range nft.AlignRules(desired, observed) {
		switch op.Op {
		case nft.AlignDelete:
			out = append(out, Line{Op: "-", In: in, Position: op.Base + 1, Text: observed[op.Base]})
		case nft.AlignAdd:
			out = append(out, Line{Op: "+", In: in, Position: op.Desired + 1, Text: desired[op.Desired]})
		}
	}
	return out
}

// noteFor returns what follows an observed foreign entry that apply removes (id is
// ForeignObject.String()): objectNote for a named stateful object or flowtable, flagNote for a
// flag set on the table (a dormant table filters nothing), setNote for a set's timeout and
// other properties.
func noteFor(id string) string {
	switch {
	case strings.HasPrefix(id, nft.TableFlagKind+" "):
		return flagNote
	case strings.HasPrefix(id, nft.SetPropertyKind+" "):
		return setNote
	}
	return objectNote
}

const (
	objectNote = " (not reconcile's, removed by apply)"
	flagNote   = " (reconcile's table has no flags; a dormant table filters nothing; removed by apply)"
	setNote    = " (reconcile's sets have none; expiring elements fail open; removed by apply)"
)

// objects lists the named stateful objects and flowtables (nft.Ruleset.Foreign) of either
// side, one object each: only observed ones exist (no model applies one), and apply removes
// them: "- counter c1 (not reconcile's, removed by apply)".
func (d *differ) objects(sides [2]*nft.Ruleset) {
	var present [2]map[nft.ForeignObject]bool
	all := map[nft.ForeignObject]bool{}
	for side, rs := range sides {
		present[side] = map[nft.ForeignObject]bool{}
		if rs == nil {
			continue
		}
		for _, o := range rs.Foreign {
			present[side][o] = true
			all[o] = true
		}
	}
	for o := range all {
		if present[inDesired][o] && present[inObserved][o] {
			continue
		}
		g := d.group(KindObject, o.String(), "", "")
		line := Line{Op: "+", In: o.String(), Text: o.String(), Header: true}
		if present[inObserved][o] {
			g.present[inObserved] = true
			line.Op, line.Text = "-", o.String()+noteFor(o.String())
		} else {
			g.present[inDesired] = true
		}
		g.obj.Changes = append(g.obj.Changes, line)
	}
}
