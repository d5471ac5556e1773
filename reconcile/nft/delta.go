package nft

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/google/nftables"
)

// This file is the incremental side of the dataplane: Diff computes, from the model the kernel
// holds (base) and the wanted one (desired), the smallest transaction that turns one into the
// other without touching what both share (ISSUE10-NOTES.md §2), and Updater is the dataplane
// that sends it (Kernel.Update, Fake.Update).

// Updater is a Dataplane that can replace a table or change it in place, guarded by the
// ruleset generation.
type Updater interface {
	// Replace is Apply (delete + add the whole table, one transaction) sent with the
	// generation check: gen != 0 makes the kernel refuse the batch (ErrStale) when the
	// ruleset generation is no longer gen. gen == 0: no check. ErrOutcomeUnknown: the
	// answer was lost after the batch went out (it may have committed).
	Replace(ctx context.Context, desired *Ruleset, gen uint32) (*UpdateResult, error)
	// Update changes the table from base to desired in ONE transaction that touches only what
	// differs (see ISSUE10-NOTES.md §2): base is the canonical model the caller believes the
	// kernel holds at generation gen (observed at gen, or recorded and proven by identity).
	// Rules not changed keep their handles and counters. Errors: ErrNeedsFull (the
	// difference cannot be made in place; nothing sent), ErrStale (the generation moved or
	// an edited chain does not read back as in base; nothing changed), ErrOutcomeUnknown
	// (the answer was lost after the batch went out: it may have committed; read the table to
	// tell), or the kernel's error (nothing changed: the batch is atomic).
	Update(ctx context.Context, desired, base *Ruleset, gen uint32) (*UpdateResult, error)
}

// UpdateResult says what a Replace or Update did.
type UpdateResult struct {
	Generation uint32     // the generation the commit produced: the kernel held exactly desired at it (0: unknown)
	Stats      DeltaStats // what was touched (Replace: everything added)
}

// DeltaStats counts what a transaction touches. Rules of added chains count as added; rules
// of deleted chains are not counted; a flushed chain counts its re-added rules as added.
type DeltaStats struct {
	ChainsAdded, ChainsDeleted, ChainsFlushed      int
	RulesAdded, RulesDeleted, RulesReplaced        int
	SetsAdded, SetsDeleted, MapsAdded, MapsDeleted int
	ElementsAdded, ElementsDeleted                 int
}

// ErrStale is wrapped by Update and Replace when the ruleset generation is no longer the one
// given, or when a chain Update edits rule by rule does not read back as in base: nothing
// was changed. Test with errors.Is.
var ErrStale = errors.New("the ruleset generation moved")

// ErrNeedsFull is wrapped by Diff and Update when the difference cannot be made in place (a
// base chain's hook, priority or policy, a set's type, flags or comment, a map's comment
// changed; base has foreign objects; no base table): nothing was sent, a Replace is needed.
// Test with errors.Is.
var ErrNeedsFull = errors.New("the change cannot be made in place")

// ErrOutcomeUnknown is wrapped by Update and Replace when the batch was sent but reading the
// kernel's answer failed at the socket (ENOBUFS: the receive buffer overflowed; EINTR; a
// receive timeout): the kernel may or may not have committed it. The caller must read the
// generation and the table to learn which (the kernel's own refusals, ERESTART included, are
// not this: they say nothing was committed). Test with errors.Is.
var ErrOutcomeUnknown = errors.New("the kernel did not say whether it committed the batch")

// Delta is the in-place transaction from a base model to a desired one, in the order a batch
// sends it: new sets and maps with their elements, new (empty) chains, element deletes and
// adds of sets and maps in both, rule edits per chain, then the chains, sets and maps that are
// gone. It refers to base rules by their index in the base chain; the dataplane maps the
// indices to rule handles (Kernel: read from the kernel; Fake: its own).
type Delta struct {
	Table     string
	NewSets   []*Set
	NewMaps   []*Map
	NewChains []*Chain // names and base chain headers only: their rules are in Chains (New)
	Sets      []SetDelta
	Maps      []MapDelta
	Chains    []ChainEdit // by chain name
	DelChains []string    // each is flushed first, then deleted (references between them go)
	DelSets   []string
	DelMaps   []string
	Stats     DeltaStats
	desired   *Ruleset // as given to Diff
}

// SetDelta is the element edit of a set present in both models: the interval elements exactly
// as the encoder writes them (the zero-end sentinel included), deleted, then added.
type SetDelta struct {
	Name     string
	Del, Add []nftables.SetElement
}

// MapDelta is the element edit of a verdict map present in both models: keys deleted (gone
// or with a changed verdict), then elements added (new or changed).
type MapDelta struct {
	Name string
	Del  []string
	Add  []MapElement
}

// RuleOp is what a RuleEdit does.
type RuleOp uint8

// Rule edit operations.
const (
	RuleDelete  RuleOp = iota + 1 // delete base rule At (by handle)
	RuleReplace                   // replace base rule At by Rules[0] (same handle and place, new counter)
	RuleAdd                       // add Rules, in order, after base rule At (At == -1: at the head)
)

// RuleEdit is one edit of a chain edited rule by rule.
type RuleEdit struct {
	Op    RuleOp
	At    int
	Rules []*Rule
}

// ChainEdit is the rule change of one chain: a new chain filled (New), a chain flushed and
// refilled (Flush; more than half of it changed), or edits rule by rule (Edits, against Base).
type ChainEdit struct {
	Name  string
	New   bool
	Flush bool
	Rules []*Rule // New or Flush: the whole desired chain (canonical)
	Base  *Chain  // the chain as base has it, canonical (Edits refer to its rules by index)
	Edits []RuleEdit
}

// maxAlign bounds the LCS table (rules of desired × rules of base) of one chain; a larger
// chain that changed is flushed and refilled instead (memory: 8 bytes per cell).
const maxAlign = 1 << 22

// Diff computes the in-place transaction from base (what the kernel holds) to desired. Objects
// are compared as they are first and put in canonical form (see Canonical) only when they
// differ, so canonical inputs (Observe, the pipeline's desired model) cost no copy; the Delta
// holds canonical objects. Errors: ErrNeedsFull (wrapped, naming the object) when the change
// cannot be made in place; desired's own problems (foreign objects, CheckText) as they are.
// An Empty Delta means the two are equal.
func Diff(desired, base *Ruleset) (*Delta, error) {
	if desired == nil {
		return nil, errors.New("diff: no desired ruleset")
	}
	if base == nil {
		return nil, fmt.Errorf("table %q does not exist: %w", desired.Table, ErrNeedsFull)
	}
	if desired.Table != base.Table {
		return nil, fmt.Errorf("table %q: base is table %q: %w", desired.Table, base.Table, ErrNeedsFull)
	}
	if len(desired.Foreign) > 0 {
		return nil, fmt.Errorf("%s: the model cannot apply objects it only observes", desired.Foreign[0])
	}
	if len(base.Foreign) > 0 {
		return nil, fmt.Errorf("table %q holds %s (not reconcile's): %w", base.Table, base.Foreign[0], ErrNeedsFull)
	}
	if err := desired.CheckText(); err != nil {
		return nil, err
	}
	dl := &Delta{Table: desired.Table, desired: desired}
	if err := dl.diffSets(desired, base); err != nil {
		return nil, err
	}
	if err := dl.diffMaps(desired, base); err != nil {
		return nil, err
	}
	if err := dl.diffChains(desired, base); err != nil {
		return nil, err
	}
	return dl, nil
}

// Empty reports whether the Delta changes nothing.
func (dl *Delta) Empty() bool { return dl.Stats == DeltaStats{} }

func (dl *Delta) diffSets(d, b *Ruleset) error {
	bs := map[string]*Set{}
	for _, s := range b.Sets {
		bs[s.Name] = s
	}
	bm := map[string]bool{}
	for _, m := range b.Maps {
		bm[m.Name] = true
	}
	ds := map[string]bool{}
	for _, s := range d.Sets {
		if ds[s.Name] {
			return fmt.Errorf("set %q is declared twice", s.Name)
		}
		ds[s.Name] = true
		old := bs[s.Name]
		switch {
		case old == nil && bm[s.Name]:
			return fmt.Errorf("set %q: base has a map of that name: %w", s.Name, ErrNeedsFull)
		case old == nil:
			dl.NewSets = append(dl.NewSets, canonSet(s))
			dl.Stats.SetsAdded++
			continue
		case setEqual(old, s):
			continue
		}
		old, s := canonSet(old), canonSet(s)
		if setEqual(old, s) {
			continue
		}
		eb, err := encodeOneSet(b.Table, old)
		if err != nil {
			return fmt.Errorf("base %w", err)
		}
		ed, err := encodeOneSet(d.Table, s)
		if err != nil {
			return err
		}
		if setHeader(eb.set) != setHeader(ed.set) {
			return fmt.Errorf("set %q: its type, flags or comment changed: %w", s.Name, ErrNeedsFull)
		}
		del, add := diffElements(eb.elems, ed.elems)
		if len(del)+len(add) == 0 {
			continue
		}
		dl.Sets = append(dl.Sets, SetDelta{Name: s.Name, Del: del, Add: add})
		dl.Stats.ElementsDeleted += len(del)
		dl.Stats.ElementsAdded += len(add)
	}
	for _, s := range b.Sets {
		if !ds[s.Name] {
			dl.DelSets = append(dl.DelSets, s.Name)
			dl.Stats.SetsDeleted++
		}
	}
	return nil
}

// setEqual is reflect.DeepEqual of two sets, with the elements compared as values (netip
// values are slow to compare by reflection).
func setEqual(a, b *Set) bool {
	if !slices.Equal(a.Prefixes, b.Prefixes) || !slices.Equal(a.Ports, b.Ports) || !slices.Equal(a.Nums, b.Nums) {
		return false
	}
	x, y := *a, *b
	x.Prefixes, y.Prefixes, x.Ports, y.Ports, x.Nums, y.Nums = nil, nil, nil, nil, nil, nil
	return reflect.DeepEqual(x, y)
}

// encodeOneSet encodes one named set as the encoder does for a whole ruleset.
func encodeOneSet(table string, s *Set) (encodedSet, error) {
	enc := &encoder{table: &nftables.Table{Name: table, Family: nftables.TableFamilyINet}, named: map[string]*nftables.Set{}, maps: map[string]bool{}}
	es, err := enc.encodeSets([]*Set{s})
	if err != nil {
		return encodedSet{}, err
	}
	if len(es) != 1 {
		return encodedSet{}, fmt.Errorf("set %q: encoded as %d sets", s.Name, len(es))
	}
	return es[0], nil
}

// setHeaderKey is what of a set the kernel cannot change in place.
type setHeaderKey struct {
	key, data                            string
	interval, isMap, constant, anonymous bool
	concat                               bool
	keyOrder, comment                    string
}

func setHeader(s *nftables.Set) setHeaderKey {
	h := setHeaderKey{key: s.KeyType.Name, data: s.DataType.Name, interval: s.Interval, isMap: s.IsMap,
		constant: s.Constant, anonymous: s.Anonymous, concat: s.Concatenation, comment: s.Comment}
	h.keyOrder = fmt.Sprint(s.KeyByteOrder)
	return h
}

// elemID identifies a set element as the kernel does (key and interval flags).
func elemID(e nftables.SetElement) string {
	flags := byte(0)
	if e.IntervalEnd {
		flags |= 1
	}
	if e.IntervalOpen {
		flags |= 2
	}
	return string(append([]byte{flags}, e.Key...)) + "\x00" + string(e.KeyEnd)
}

// diffElements returns the elements of base not in desired and those of desired not in base.
func diffElements(base, desired []nftables.SetElement) (del, add []nftables.SetElement) {
	inBase := map[string]bool{}
	for _, e := range base {
		inBase[elemID(e)] = true
	}
	inDesired := map[string]bool{}
	for _, e := range desired {
		inDesired[elemID(e)] = true
		if !inBase[elemID(e)] {
			add = append(add, e)
		}
	}
	for _, e := range base {
		if !inDesired[elemID(e)] {
			del = append(del, e)
		}
	}
	return del, add
}

// mapEqual is reflect.DeepEqual of two maps, with the elements compared as values.
func mapEqual(a, b *Map) bool {
	if !slices.Equal(a.Elements, b.Elements) {
		return false
	}
	x, y := *a, *b
	x.Elements, y.Elements = nil, nil
	return reflect.DeepEqual(x, y)
}

// canonMap is a map in canonical form (elements sorted by key, the first of a key kept).
func canonMap(m *Map) *Map {
	return (&Ruleset{Maps: []*Map{m}}).Canonical().Maps[0]
}

func (dl *Delta) diffMaps(d, b *Ruleset) error {
	bm := map[string]*Map{}
	for _, m := range b.Maps {
		bm[m.Name] = m
	}
	bs := map[string]bool{}
	for _, s := range b.Sets {
		bs[s.Name] = true
	}
	dm := map[string]bool{}
	ds := map[string]bool{}
	for _, s := range d.Sets {
		ds[s.Name] = true
	}
	for _, m := range d.Maps {
		if dm[m.Name] || ds[m.Name] {
			return fmt.Errorf("map %q is declared twice", m.Name)
		}
		dm[m.Name] = true
		old := bm[m.Name]
		switch {
		case old == nil && bs[m.Name]:
			return fmt.Errorf("map %q: base has a set of that name: %w", m.Name, ErrNeedsFull)
		case old == nil:
			dl.NewMaps = append(dl.NewMaps, canonMap(m))
			dl.Stats.MapsAdded++
			continue
		case mapEqual(old, m):
			continue
		case old.Comment != m.Comment:
			return fmt.Errorf("map %q: its comment changed: %w", m.Name, ErrNeedsFull)
		}
		old, m := canonMap(old), canonMap(m)
		oldv := map[string]Verdict{}
		for _, e := range old.Elements {
			oldv[e.Key] = e.Verdict
		}
		newv := map[string]Verdict{}
		md := MapDelta{Name: m.Name}
		for _, e := range m.Elements {
			newv[e.Key] = e.Verdict
			v, ok := oldv[e.Key]
			if ok && v == e.Verdict {
				continue
			}
			if ok {
				md.Del = append(md.Del, e.Key)
			}
			md.Add = append(md.Add, e)
		}
		for _, e := range old.Elements {
			if _, ok := newv[e.Key]; !ok {
				md.Del = append(md.Del, e.Key)
			}
		}
		slices.Sort(md.Del)
		if len(md.Del)+len(md.Add) > 0 {
			dl.Maps = append(dl.Maps, md)
			dl.Stats.ElementsDeleted += len(md.Del)
			dl.Stats.ElementsAdded += len(md.Add)
		}
	}
	for _, m := range b.Maps {
		if !dm[m.Name] {
			dl.DelMaps = append(dl.DelMaps, m.Name)
			dl.Stats.MapsDeleted++
		}
	}
	return nil
}

// canonChain is a chain in canonical form.
func canonChain(c *Chain) *Chain {
	return (&Ruleset{Chains: []*Chain{c}}).Canonical().Chains[0]
}

func (dl *Delta) diffChains(d, b *Ruleset) error {
	bc := map[string]*Chain{}
	for _, c := range b.Chains {
		bc[c.Name] = c
	}
	dc := map[string]bool{}
	for _, c := range d.Chains {
		if dc[c.Name] {
			return fmt.Errorf("chain %q is declared twice", c.Name)
		}
		dc[c.Name] = true
		old := bc[c.Name]
		if old == nil {
			c := canonChain(c)
			dl.NewChains = append(dl.NewChains, &Chain{Name: c.Name, Base: c.Base})
			dl.Stats.ChainsAdded++
			if len(c.Rules) > 0 {
				dl.Chains = append(dl.Chains, ChainEdit{Name: c.Name, New: true, Rules: c.Rules})
				dl.Stats.RulesAdded += len(c.Rules)
			}
			continue
		}
		if baseEqual(old.Base, c.Base) && rulesEqual(old.Rules, c.Rules) {
			continue
		}
		old, c := canonChain(old), canonChain(c)
		if !reflect.DeepEqual(old.Base, c.Base) {
			return fmt.Errorf("chain %q: its hook, priority or policy changed: %w", c.Name, ErrNeedsFull)
		}
		if rulesEqual(old.Rules, c.Rules) {
			continue
		}
		dl.Chains = append(dl.Chains, dl.editChain(c, old))
	}
	for _, c := range b.Chains {
		if !dc[c.Name] {
			dl.DelChains = append(dl.DelChains, c.Name)
			dl.Stats.ChainsDeleted++
		}
	}
	return nil
}

func baseEqual(a, b *BaseChain) bool {
	return a == b || a != nil && b != nil && *a == *b
}

// rulesEqual reports whether two rule lists are the same rules (nil and empty lists of a
// match are the same). A field added to Rule or Match must be added to ruleEqual or
// matchEqual: TestRuleEqualSeesEveryField fails until it is.
func rulesEqual(a, b []*Rule) bool {
	return slices.EqualFunc(a, b, ruleEqual)
}

func ruleEqual(a, b *Rule) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || a.Counter != b.Counter || a.Comment != b.Comment || a.Verdict != b.Verdict ||
		(a.Log == nil) != (b.Log == nil) || a.Log != nil && *a.Log != *b.Log ||
		(a.VMap == nil) != (b.VMap == nil) || a.VMap != nil && *a.VMap != *b.VMap {
		return false
	}
	return slices.EqualFunc(a.Matches, b.Matches, func(x, y Match) bool { return matchEqual(&x, &y) })
}

func matchEqual(a, b *Match) bool {
	return a.Kind == b.Kind && a.Not == b.Not && a.Family == b.Family && a.Str == b.Str && a.CtState == b.CtState &&
		a.Type == b.Type && a.Code == b.Code && slices.Equal(a.Protos, b.Protos) && slices.Equal(a.Prefixes, b.Prefixes) &&
		slices.Equal(a.Ports, b.Ports) && slices.Equal(a.Nums, b.Nums)
}

// editChain returns the edit of a chain in both models whose rules differ: rule by rule along
// the longest common subsequence of the rules' text, or a flush and refill when more than half
// of the desired rules are new (or the chain is too large to align).
func (dl *Delta) editChain(c, old *Chain) ChainEdit {
	flush := func() ChainEdit {
		dl.Stats.ChainsFlushed++
		dl.Stats.RulesAdded += len(c.Rules)
		return ChainEdit{Name: c.Name, Flush: true, Rules: c.Rules, Base: old}
	}
	if len(c.Rules)*len(old.Rules) > maxAlign {
		return flush()
	}
	ops := AlignRules(ruleStrings(c.Rules), ruleStrings(old.Rules))
	kept := 0
	for _, op := range ops {
		if op.Op == AlignKeep {
			kept++
		}
	}
	if (len(c.Rules)-kept)*2 > len(c.Rules) {
		return flush()
	}
	ce := ChainEdit{Name: c.Name, Base: old}
	var stats DeltaStats
	anchor := -1
	var dels, adds []int
	run := func() {
		k := min(len(dels), len(adds))
		for i := 0; i < k; i++ {
			ce.Edits = append(ce.Edits, RuleEdit{Op: RuleReplace, At: dels[i], Rules: []*Rule{c.Rules[adds[i]]}})
			anchor = dels[i]
		}
		stats.RulesReplaced += k
		for _, j := range dels[k:] {
			ce.Edits = append(ce.Edits, RuleEdit{Op: RuleDelete, At: j})
		}
		stats.RulesDeleted += len(dels) - k
		if len(adds) > k {
			e := RuleEdit{Op: RuleAdd, At: anchor}
			for _, i := range adds[k:] {
				e.Rules = append(e.Rules, c.Rules[i])
			}
			ce.Edits = append(ce.Edits, e)
			stats.RulesAdded += len(e.Rules)
		}
		dels, adds = dels[:0], adds[:0]
	}
	for _, op := range ops {
		switch op.Op {
		case AlignKeep:
			run()
			anchor = op.Base
		case AlignDelete:
			dels = append(dels, op.Base)
		case AlignAdd:
			adds = append(adds, op.Desired)
		}
	}
	run()
	dl.Stats.RulesAdded += stats.RulesAdded
	dl.Stats.RulesDeleted += stats.RulesDeleted
	dl.Stats.RulesReplaced += stats.RulesReplaced
	return ce
}

func ruleStrings(rs []*Rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// AlignOp is one step of an alignment of two rule lists.
type AlignOp struct {
	Op      byte // AlignKeep, AlignDelete or AlignAdd
	Desired int  // index in desired (AlignKeep, AlignAdd), else -1
	Base    int  // index in base (AlignKeep, AlignDelete), else -1
}

// Alignment steps.
const (
	AlignKeep   = '='
	AlignDelete = '-'
	AlignAdd    = '+'
)

// AlignRules aligns two lists of rule texts along their longest common subsequence and
// returns the steps that turn base into desired, in order: kept rules, base rules deleted and
// desired rules added; at a tie a deletion comes before an addition (the order plan shows).
// It costs len(desired)×len(base) time and ints of memory.
func AlignRules(desired, base []string) []AlignOp {
	n, m := len(desired), len(base)
	// lcs[i*(m+1)+j] = LCS length of desired[i:] and base[j:].
	w := m + 1
	lcs := make([]int, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if desired[i] == base[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	var out []AlignOp
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && desired[i] == base[j]:
			out = append(out, AlignOp{Op: AlignKeep, Desired: i, Base: j})
			i++
			j++
		case j < m && (i == n || lcs[i*w+j+1] >= lcs[(i+1)*w+j]):
			out = append(out, AlignOp{Op: AlignDelete, Desired: -1, Base: j})
			j++
		default:
			out = append(out, AlignOp{Op: AlignAdd, Desired: i, Base: -1})
			i++
		}
	}
	return out
}
