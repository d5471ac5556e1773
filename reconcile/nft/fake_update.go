package nft

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"syscall"

	"github.com/google/nftables"
)

var _ Updater = (*Fake)(nil)

// renumber gives the rules of table fresh handles (and zero counters), except, when old is
// not nil, the rules of a chain in both that the alignment of the two chains keeps: they keep
// their handle and counter, as the kernel keeps the rules a hand edit (`nft add rule`,
// `nft delete rule`) leaves alone. Called with f.mu held.
func (f *Fake) renumber(table string, old *Ruleset) {
	if f.rules == nil {
		f.rules = map[string]map[string][]uint64{}
		f.counters = map[uint64]uint64{}
	}
	prev := f.rules[table]
	rs := f.tables[table]
	if rs == nil {
		for _, hs := range prev {
			for _, h := range hs {
				delete(f.counters, h)
			}
		}
		delete(f.rules, table)
		return
	}
	oldChains := map[string]*Chain{}
	if old != nil {
		for _, c := range old.Chains {
			oldChains[c.Name] = c
		}
	}
	next := map[string][]uint64{}
	kept := map[uint64]bool{}
	for _, c := range rs.Chains {
		hs := make([]uint64, len(c.Rules))
		oc := oldChains[c.Name]
		var ops []AlignOp
		switch {
		case oc == nil || len(prev[c.Name]) != len(oc.Rules):
		case rulesEqual(c.Rules, oc.Rules):
			for i := range c.Rules {
				ops = append(ops, AlignOp{Op: AlignKeep, Desired: i, Base: i})
			}
		default:
			ops = AlignRules(ruleStrings(c.Rules), ruleStrings(oc.Rules))
		}
		for _, op := range ops {
			if op.Op == AlignKeep {
				hs[op.Desired] = prev[c.Name][op.Base]
				kept[hs[op.Desired]] = true
			}
		}
		for i := range hs {
			if hs[i] == 0 {
				hs[i] = f.newHandle()
			}
		}
		next[c.Name] = hs
	}
	for _, hs := range prev {
		for _, h := range hs {
			if !kept[h] {
				delete(f.counters, h)
			}
		}
	}
	f.rules[table] = next
}

func (f *Fake) newHandle() uint64 {
	f.lastHandle++
	f.counters[f.lastHandle] = 0
	return f.lastHandle
}

// RuleHandles returns the handles of the rules of a chain, in rule order (nil when the table
// or chain does not exist). A rule keeps its handle across Update and Edit until it is
// replaced (same handle, counter reset) or deleted; Apply and Replace give every rule a new one.
func (f *Fake) RuleHandles(table, chain string) []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rules[table][chain])
}

// Hit counts n packets on the counter of rule i (0-based) of a chain, as traffic would; it
// reports false when there is no such rule.
func (f *Fake) Hit(table, chain string, i int, n uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	hs := f.rules[table][chain]
	if i < 0 || i >= len(hs) {
		return false
	}
	f.counters[hs[i]] += n
	return true
}

// Counters returns the packet counts of the rules of a chain, in rule order (see Hit).
func (f *Fake) Counters(table, chain string) []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []uint64
	for _, h := range f.rules[table][chain] {
		out = append(out, f.counters[h])
	}
	return out
}

// begin starts a transaction of Replace or Update: context, attempt count, FailNext, and the
// generation check (gen != 0 and no longer the fake's: ErrStale). Called with f.mu held.
func (f *Fake) begin(ctx context.Context, gen uint32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.attempts++
	if err := f.failNext; err != nil {
		f.failNext = nil
		return err
	}
	if gen != 0 && gen != f.gen {
		return fmt.Errorf("generation is %d, not %d: %w, nothing changed (%w)", f.gen, gen, ErrStale,
			fakeErr("NFT_MSG_BATCH_BEGIN", syscall.ERESTART, "generation %d", gen))
	}
	return nil
}

// Replace is Apply with the generation check of Updater.Replace (ErrStale when gen != 0 is
// no longer the fake's generation); FailNext applies to it too.
func (f *Fake) Replace(ctx context.Context, desired *Ruleset, gen uint32) (*UpdateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(ctx, gen); err != nil {
		return nil, err
	}
	if err := f.applyLocked(desired); err != nil {
		return nil, err
	}
	return &UpdateResult{Generation: f.gen, Stats: replaceStats(desired, nil)}, nil
}

// Update is Updater.Update on the simulated kernel: the Delta of Diff is applied to a copy of
// the table object by object as the kernel would (set elements as the encoder writes them,
// rules by handle; deleting what does not exist is ENOENT, adding what exists EEXIST), the
// result validated like any transaction, and only then committed, bumping the generation.
// Chains edited rule by rule must equal base's (else ErrStale), as Kernel.Update checks.
func (f *Fake) Update(ctx context.Context, desired, base *Ruleset, gen uint32) (*UpdateResult, error) {
	if desired == nil {
		return nil, fakeErr("NFT_MSG_NEWTABLE", syscall.EINVAL, "no ruleset")
	}
	dl, err := Diff(desired, base)
	if err != nil {
		return nil, fmt.Errorf("update table %q: %w", desired.Table, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(ctx, gen); err != nil {
		return nil, fmt.Errorf("update table %q: %w", desired.Table, err)
	}
	if dl.Empty() {
		return &UpdateResult{Generation: gen}, nil
	}
	cur := f.tables[dl.Table]
	if cur == nil {
		return nil, fmt.Errorf("update table %q: the table does not exist: %w", dl.Table, ErrStale)
	}
	f.reset = nil
	next, hs, err := f.applyDelta(cur, dl)
	if err != nil {
		return nil, fmt.Errorf("update table %q: %w", dl.Table, err)
	}
	if err := ValidateFake(next); err != nil {
		return nil, fmt.Errorf("update table %q: %w", dl.Table, err)
	}
	// Commit: counters of rules gone or replaced start over.
	live := map[uint64]bool{}
	for _, l := range hs {
		for _, h := range l {
			live[h] = true
		}
	}
	for _, l := range f.rules[dl.Table] {
		for _, h := range l {
			if !live[h] {
				delete(f.counters, h)
			}
		}
	}
	for _, h := range f.reset {
		f.counters[h] = 0
		delete(f.byteCounters, h)
	}
	f.tables[dl.Table] = fakeCanonical(next)
	f.rules[dl.Table] = hs
	f.applies++
	f.gen++
	return &UpdateResult{Generation: f.gen, Stats: dl.Stats}, nil
}

// applyLocked is Apply with f.mu held, after the attempt was counted.
func (f *Fake) applyLocked(desired *Ruleset) error {
	if desired == nil {
		return fakeErr("NFT_MSG_NEWTABLE", syscall.EINVAL, "no ruleset")
	}
	if len(desired.Foreign) > 0 {
		return fakeErr("NFT_MSG_NEWOBJ", syscall.EINVAL, "%s: the model cannot apply objects it only observes", desired.Foreign[0])
	}
	if err := ValidateFake(desired); err != nil {
		return err
	}
	if f.tables == nil {
		f.tables = map[string]*Ruleset{}
	}
	f.tables[desired.Table] = fakeCanonical(desired)
	f.renumber(desired.Table, nil)
	f.applies++
	f.gen++
	return nil
}

// applyDelta applies dl to a copy of cur and returns it with the rule handles of every chain.
// Replaced rules keep their handle; their counter is zeroed. The stages run in the order the
// kernel sees them in the batch: new objects, element changes, chain edits, deletions.
func (f *Fake) applyDelta(cur *Ruleset, dl *Delta) (*Ruleset, map[string][]uint64, error) {
	d := &fakeDelta{f: f, next: fakeClone(cur), handles: map[string][]uint64{}}
	for name, hs := range f.rules[dl.Table] {
		d.handles[name] = slices.Clone(hs)
	}
	for _, stage := range []func(*Delta) error{d.addObjects, d.editElements, d.editChains, d.deleteObjects} {
		if err := stage(dl); err != nil {
			return nil, nil, err
		}
	}
	return d.next, d.handles, nil
}

// fakeDelta is a Delta being applied by the Fake: the ruleset it produces and the rule
// handles of each of its chains, by chain name.
type fakeDelta struct {
	f       *Fake
	next    *Ruleset
	handles map[string][]uint64
}

// setIdx is the index of the set name in next.Sets (-1: none).
func (d *fakeDelta) setIdx(name string) int {
	return slices.IndexFunc(d.next.Sets, func(s *Set) bool { return s.Name == name })
}

// mapIdx is the index of the map name in next.Maps (-1: none).
func (d *fakeDelta) mapIdx(name string) int {
	return slices.IndexFunc(d.next.Maps, func(m *Map) bool { return m.Name == name })
}

// chainIdx is the index of the chain name in next.Chains (-1: none).
func (d *fakeDelta) chainIdx(name string) int {
	return slices.IndexFunc(d.next.Chains, func(c *Chain) bool { return c.Name == name })
}

// addObjects adds the new sets, maps and (empty) chains of dl. Errors: EEXIST when the name
// is taken (sets and maps share one namespace, as in the kernel).
func (d *fakeDelta) addObjects(dl *Delta) error {
	for _, s := range dl.NewSets {
		if d.setIdx(s.Name) >= 0 || d.mapIdx(s.Name) >= 0 {
			return fakeErr("NFT_MSG_NEWSET", syscall.EEXIST, "set %q exists", s.Name)
		}
		d.next.Sets = append(d.next.Sets, s)
	}
	for _, m := range dl.NewMaps {
		if d.setIdx(m.Name) >= 0 || d.mapIdx(m.Name) >= 0 {
			return fakeErr("NFT_MSG_NEWSET", syscall.EEXIST, "map %q exists", m.Name)
		}
		d.next.Maps = append(d.next.Maps, m)
	}
	for _, c := range dl.NewChains {
		if d.chainIdx(c.Name) >= 0 {
			return fakeErr("NFT_MSG_NEWCHAIN", syscall.EEXIST, "chain %q exists", c.Name)
		}
		d.next.Chains = append(d.next.Chains, &Chain{Name: c.Name, Base: c.Base})
		d.handles[c.Name] = nil
	}
	return nil
}

// editElements applies the element adds and deletes of dl's sets and maps. Errors: ENOENT for
// a missing set, map or deleted key, EEXIST for an added map key already there.
func (d *fakeDelta) editElements(dl *Delta) error {
	for _, sd := range dl.Sets {
		i := d.setIdx(sd.Name)
		if i < 0 {
			return fakeErr("NFT_MSG_DELSETELEM", syscall.ENOENT, "set %q does not exist", sd.Name)
		}
		s, err := fakeSetElements(d.next.Sets[i], sd)
		if err != nil {
			return err
		}
		d.next.Sets[i] = s
	}
	for _, md := range dl.Maps {
		i := d.mapIdx(md.Name)
		if i < 0 {
			return fakeErr("NFT_MSG_DELSETELEM", syscall.ENOENT, "map %q does not exist", md.Name)
		}
		if err := fakeMapElements(d.next.Maps[i], md); err != nil {
			return err
		}
	}
	return nil
}

// fakeMapElements deletes then adds the elements of md in m, in place.
func fakeMapElements(m *Map, md MapDelta) error {
	for _, k := range md.Del {
		j := slices.IndexFunc(m.Elements, func(e MapElement) bool { return e.Key == k })
		if j < 0 {
			return fakeErr("NFT_MSG_DELSETELEM", syscall.ENOENT, "map %q has no key %q", md.Name, k)
		}
		m.Elements = slices.Delete(m.Elements, j, j+1)
	}
	for _, e := range md.Add {
		if slices.ContainsFunc(m.Elements, func(x MapElement) bool { return x.Key == e.Key }) {
			return fakeErr("NFT_MSG_NEWSETELEM", syscall.EEXIST, "map %q has key %q", md.Name, e.Key)
		}
		m.Elements = append(m.Elements, e)
	}
	return nil
}

// editChains applies the chain edits of dl: a new or flushed chain gets all its rules with
// new handles; an edited chain must still hold exactly its base rules (else ErrStale) and
// gets the rule edits, untouched rules keeping their handles.
func (d *fakeDelta) editChains(dl *Delta) error {
	for _, ce := range dl.Chains {
		i := d.chainIdx(ce.Name)
		if i < 0 {
			return fakeErr("NFT_MSG_NEWRULE", syscall.ENOENT, "chain %q does not exist", ce.Name)
		}
		c := d.next.Chains[i]
		if ce.New || ce.Flush {
			c.Rules = nil
			d.handles[ce.Name] = nil
			for _, r := range ce.Rules {
				c.Rules = append(c.Rules, fakeCloneRule(r))
				d.handles[ce.Name] = append(d.handles[ce.Name], d.f.newHandle())
			}
			continue
		}
		if !reflect.DeepEqual(c.Rules, ce.Base.Rules) || len(d.handles[ce.Name]) != len(c.Rules) {
			return fmt.Errorf("chain %q does not read back as in the base model (changed by someone else): %w", ce.Name, ErrStale)
		}
		c.Rules, d.handles[ce.Name] = d.f.editRules(c.Rules, d.handles[ce.Name], ce.Edits)
	}
	return nil
}

// deleteObjects deletes the chains, sets and maps dl deletes. Errors: ENOENT when one does
// not exist.
func (d *fakeDelta) deleteObjects(dl *Delta) error {
	for _, name := range dl.DelChains {
		i := d.chainIdx(name)
		if i < 0 {
			return fakeErr("NFT_MSG_DELCHAIN", syscall.ENOENT, "chain %q does not exist", name)
		}
		d.next.Chains = slices.Delete(d.next.Chains, i, i+1)
		delete(d.handles, name)
	}
	for _, name := range dl.DelSets {
		i := d.setIdx(name)
		if i < 0 {
			return fakeErr("NFT_MSG_DELSET", syscall.ENOENT, "set %q does not exist", name)
		}
		d.next.Sets = slices.Delete(d.next.Sets, i, i+1)
	}
	for _, name := range dl.DelMaps {
		i := d.mapIdx(name)
		if i < 0 {
			return fakeErr("NFT_MSG_DELSET", syscall.ENOENT, "map %q does not exist", name)
		}
		d.next.Maps = slices.Delete(d.next.Maps, i, i+1)
	}
	return nil
}

// editRules applies rule edits (indices into rules) and returns the new rules and handles.
func (f *Fake) editRules(rules []*Rule, hs []uint64, edits []RuleEdit) ([]*Rule, []uint64) {
	type slot struct {
		r *Rule
		h uint64
	}
	deleted := make([]bool, len(rules))
	after := map[int][]slot{}
	cur := make([]slot, len(rules))
	for i := range rules {
		cur[i] = slot{rules[i], hs[i]}
	}
	for _, e := range edits {
		switch e.Op {
		case RuleDelete:
			deleted[e.At] = true
		case RuleReplace:
			cur[e.At].r = fakeCloneRule(e.Rules[0])
			f.reset = append(f.reset, cur[e.At].h)
		case RuleAdd:
			for _, r := range e.Rules {
				after[e.At] = append(after[e.At], slot{fakeCloneRule(r), f.newHandle()})
			}
		}
	}
	var out []*Rule
	var outH []uint64
	emit := func(ss []slot) {
		for _, s := range ss {
			out = append(out, s.r)
			outH = append(outH, s.h)
		}
	}
	emit(after[-1])
	for i := range cur {
		if !deleted[i] {
			emit(cur[i : i+1])
		}
		emit(after[i])
	}
	return out, outH
}

// fakeSetElements applies a SetDelta to a set at the level of its elements, as the kernel
// does: the set's elements as the encoder writes them, each delete of an element that is not
// there ENOENT, each add of one that is EEXIST; the result read back as Observe reads it.
func fakeSetElements(s *Set, sd SetDelta) (*Set, error) {
	es, err := encodeOneSet("fake", s)
	if err != nil {
		return nil, fakeErr("NFT_MSG_NEWSETELEM", syscall.EINVAL, "set %q: %v", s.Name, err)
	}
	elems := slices.Clone(es.elems)
	for _, e := range sd.Del {
		i := slices.IndexFunc(elems, func(x nftables.SetElement) bool { return elemID(x) == elemID(e) })
		if i < 0 {
			return nil, fakeErr("NFT_MSG_DELSETELEM", syscall.ENOENT, "set %q has no element %x", s.Name, e.Key)
		}
		elems = slices.Delete(elems, i, i+1)
	}
	for _, e := range sd.Add {
		if slices.ContainsFunc(elems, func(x nftables.SetElement) bool { return elemID(x) == elemID(e) }) {
			return nil, fakeErr("NFT_MSG_NEWSETELEM", syscall.EEXIST, "set %q has element %x", s.Name, e.Key)
		}
		elems = append(elems, e)
	}
	out := decodeSet(&setData{set: es.set, elems: elems})
	out.Name = s.Name
	return out, nil
}
