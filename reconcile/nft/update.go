package nft

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

var _ Updater = (*Kernel)(nil)

// Replace is Apply sent with FlushWithGenID(gen) when gen != 0 (and without asking the kernel
// to echo each rule, see batch.go): the kernel refuses the batch
// with ERESTART, reported as ErrStale, when the ruleset generation is no longer gen. The
// sets are written in canonical form (merged prefixes), the form Update's element edits
// expect. Stats count everything as added. Generation is gen+1 (0 when gen is 0). A socket
// error while reading the kernel's answer is ErrOutcomeUnknown (the batch may have committed).
func (k *Kernel) Replace(ctx context.Context, desired *Ruleset, gen uint32) (*UpdateResult, error) {
	if desired == nil {
		return nil, errors.New("replace: no ruleset")
	}
	rs := canonSets(desired)
	enc, err := encode(rs)
	if err != nil {
		return nil, fmt.Errorf("replace table %q: %w", desired.Table, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn == nil {
		return nil, errors.New("replace: dataplane is closed")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("replace table %q: %w", desired.Table, err)
	}
	start := time.Now()
	// Without the echo of every rule (batch.go): the batch is built, then sent on k.nl.
	batch, err := recordBatch(enc.queue, gen)
	if err != nil {
		return nil, fmt.Errorf("replace table %q: %w", desired.Table, err)
	}
	if k.beforeFlush != nil {
		k.beforeFlush()
	}
	if err := k.answer(sendRaw(k.nl, batch), gen); err != nil {
		return nil, fmt.Errorf("replace table %q: %w", desired.Table, err)
	}
	k.log.Debug("replaced nftables table", "table", desired.Table, "netns", k.ns, "generation", gen,
		"chains", len(enc.chains), "sets", len(enc.sets), "rules", len(enc.rules), "duration", time.Since(start))
	return &UpdateResult{Generation: nextGen(gen), Stats: replaceStats(rs, enc)}, nil
}

// flush sends the queued batch, with the generation check when gen != 0.
func (k *Kernel) flush(gen uint32) error {
	var err error
	if gen != 0 {
		err = k.conn.FlushWithGenID(gen)
	} else {
		err = k.conn.Flush()
	}
	return k.answer(err, gen)
}

// answer is the error of a batch sent with the generation check gen, from the first error
// the socket or the kernel gave (nil: committed), through the test hook afterSend.
func (k *Kernel) answer(err error, gen uint32) error {
	if k.afterSend != nil && (err == nil || !strings.HasPrefix(err.Error(), "SendMessages: ")) {
		err = k.afterSend(err)
	}
	if err == nil {
		return nil
	}
	return flushErr(err, gen)
}

func nextGen(gen uint32) uint32 {
	if gen == 0 {
		return 0
	}
	return gen + 1
}

// canonSets returns rs with its sets in canonical form (a shallow copy when they are not).
func canonSets(rs *Ruleset) *Ruleset {
	out := *rs
	out.Sets = make([]*Set, len(rs.Sets))
	for i, s := range rs.Sets {
		out.Sets[i] = canonSet(s)
	}
	if reflect.DeepEqual(out.Sets, rs.Sets) {
		return rs
	}
	return &out
}

// replaceStats counts everything of rs as added. enc is encode(rs) or nil: its first
// len(rs.Sets) sets are rs.Sets in order, whose elements are then counted as sent without
// encoding each set again (nil: each set is encoded to count them).
func replaceStats(rs *Ruleset, enc *encoded) DeltaStats {
	st := DeltaStats{ChainsAdded: len(rs.Chains), SetsAdded: len(rs.Sets), MapsAdded: len(rs.Maps)}
	for _, c := range rs.Chains {
		st.RulesAdded += len(c.Rules)
	}
	for _, m := range rs.Maps {
		st.ElementsAdded += len(m.Elements)
	}
	if enc != nil {
		for _, es := range enc.sets[:len(rs.Sets)] {
			st.ElementsAdded += len(es.elems)
		}
		return st
	}
	for _, s := range rs.Sets {
		if es, err := encodeOneSet(rs.Table, s); err == nil {
			st.ElementsAdded += len(es.elems)
		}
	}
	return st
}

// Update changes the table from base to desired in one netlink batch (see Updater and Diff):
// it reads the rules (with their handles) of only the chains it edits rule by rule, checks
// that each reads back as base has it (else ErrStale), and sends the Delta with
// FlushWithGenID(gen) when gen != 0 (the generation moved: ErrStale). An empty Delta sends
// nothing and returns Generation gen. Generation is gen+1 after a commit (0 when gen is 0).
// A socket error while reading the kernel's answer is ErrOutcomeUnknown (the batch may have
// committed).
func (k *Kernel) Update(ctx context.Context, desired, base *Ruleset, gen uint32) (*UpdateResult, error) {
	if desired == nil {
		return nil, errors.New("update: no ruleset")
	}
	dl, err := Diff(desired, base)
	if err != nil {
		return nil, fmt.Errorf("update table %q: %w", desired.Table, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn == nil {
		return nil, errors.New("update: dataplane is closed")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("update table %q: %w", desired.Table, err)
	}
	start := time.Now()
	if gen != 0 {
		g, err := k.conn.GetGen()
		if err != nil {
			return nil, fmt.Errorf("update table %q: ruleset generation: %w", desired.Table, err)
		}
		if g.ID != gen {
			return nil, fmt.Errorf("update table %q: generation is %d, not %d: %w", desired.Table, g.ID, gen, ErrStale)
		}
	}
	if dl.Empty() {
		return &UpdateResult{Generation: gen}, nil
	}
	handles, err := k.chainHandles(dl)
	if err != nil {
		return nil, fmt.Errorf("update table %q: %w", desired.Table, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("update table %q: %w", desired.Table, err)
	}
	b, err := buildDelta(dl, handles)
	if err != nil {
		return nil, fmt.Errorf("update table %q: %w", desired.Table, err)
	}
	if err := b.queue(k.conn); err != nil {
		_ = k.conn.Flush()
		return nil, fmt.Errorf("update table %q: %w", desired.Table, err)
	}
	if k.beforeFlush != nil {
		k.beforeFlush()
	}
	if err := k.flush(gen); err != nil {
		return nil, fmt.Errorf("update table %q: %w", desired.Table, err)
	}
	k.log.Debug("updated nftables table", "table", desired.Table, "netns", k.ns, "generation", gen,
		"stats", fmt.Sprintf("%+v", dl.Stats), "duration", time.Since(start))
	return &UpdateResult{Generation: nextGen(gen), Stats: dl.Stats}, nil
}

// chainHandles reads the rules of the chains dl edits rule by rule, one dump each, checks
// that each decodes to base's chain (ErrStale otherwise) and returns their handles in rule
// order by chain name.
func (k *Kernel) chainHandles(dl *Delta) (map[string][]uint64, error) {
	out := map[string][]uint64{}
	t := &nftables.Table{Name: dl.Table, Family: nftables.TableFamilyINet}
	dec := &decoder{sets: map[string]*setData{}}
	for _, ce := range dl.Chains {
		if ce.New || ce.Flush {
			continue
		}
		raws, err := dumpRules(k.nl, dl.Table, ce.Name)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil, fmt.Errorf("chain %q does not exist: %w", ce.Name, ErrStale)
			}
			return nil, fmt.Errorf("chain %q: %w", ce.Name, err)
		}
		for _, r := range raws {
			for _, e := range r.exprs {
				l, ok := e.(*expr.Lookup)
				if !ok || dec.sets[l.SetName] != nil {
					continue
				}
				s, err := k.conn.GetSetByName(t, l.SetName)
				if err != nil {
					return nil, fmt.Errorf("chain %q: set %q: %w", ce.Name, l.SetName, err)
				}
				sd := &setData{set: s}
				// Named address sets and maps decode from their header; anonymous sets
				// (and sets of other kinds) from their elements.
				if s.Anonymous || !(s.IsMap || s.KeyType.Name == nftables.TypeIPAddr.Name || s.KeyType.Name == nftables.TypeIP6Addr.Name) {
					if sd.elems, err = k.conn.GetSetElements(s); err != nil {
						return nil, fmt.Errorf("chain %q: elements of set %q: %w", ce.Name, l.SetName, err)
					}
				}
				dec.sets[l.SetName] = sd
			}
		}
		rules := make([]*Rule, len(raws))
		hs := make([]uint64, len(raws))
		for i, r := range raws {
			rules[i] = dec.rule(r.exprs, r.userData)
			hs[i] = r.handle
		}
		if !reflect.DeepEqual(rules, ce.Base.Rules) {
			return nil, fmt.Errorf("chain %q does not read back as in the base model (changed by someone else): %w", ce.Name, ErrStale)
		}
		out[ce.Name] = hs
	}
	return out, nil
}

// deltaBatch is a Delta with its netlink objects, ready to be queued: nothing in it can fail
// but google/nftables' own marshalling.
type deltaBatch struct {
	dl      *Delta
	table   *nftables.Table
	named   map[string]*nftables.Set // every set of desired (headers, for lookups and elements)
	newSets []encodedSet             // new sets, then new maps, with their elements
	maps    map[string]encodedSet    // edited maps: header and the added elements
	chains  map[string]*nftables.Chain
	newCh   []*nftables.Chain
	rules   map[string][]encodedRule // ChainEdit rules (New, Flush, Edits) encoded, in order
	handles map[string][]uint64
}

// newEncoder is an encoder for table.
func newEncoder(table string) *encoder {
	return &encoder{table: &nftables.Table{Name: table, Family: nftables.TableFamilyINet}, named: map[string]*nftables.Set{}, maps: map[string]bool{}}
}

// buildDelta encodes what dl adds (sets, maps, elements, chains, rules) through the encoder,
// so that any set kind the encoder knows works unchanged. Only what the Delta writes is
// encoded; sets and maps it leaves alone are known by name (and set header) only.
func buildDelta(dl *Delta, handles map[string][]uint64) (*deltaBatch, error) {
	desired := dl.desired
	enc := newEncoder(desired.Table)
	t := enc.table
	chainNames := map[string]bool{}
	for _, c := range desired.Chains {
		chainNames[c.Name] = true
	}
	headers := make([]*Set, len(desired.Sets))
	for i, s := range desired.Sets {
		h := *s
		h.Prefixes, h.Ports, h.Nums = nil, nil, nil
		headers[i] = &h
	}
	if _, err := enc.encodeSets(headers); err != nil {
		return nil, err
	}
	for _, m := range desired.Maps {
		enc.maps[m.Name] = true
	}
	b := &deltaBatch{dl: dl, table: t, named: enc.named, maps: map[string]encodedSet{},
		chains: map[string]*nftables.Chain{}, rules: map[string][]encodedRule{}, handles: handles}
	var err error
	// New sets and maps, and the added elements of edited maps, by encoders of their own
	// (their names are declared in enc already).
	if b.newSets, err = newEncoder(t.Name).encodeSets(dl.NewSets); err != nil {
		return nil, err
	}
	if b.newSets, err = newEncoder(t.Name).encodeMaps(b.newSets, dl.NewMaps, chainNames); err != nil {
		return nil, err
	}
	for _, md := range dl.Maps {
		var comment string
		for _, m := range desired.Maps {
			if m.Name == md.Name {
				comment = m.Comment
			}
		}
		es, err := newEncoder(t.Name).encodeMaps(nil, []*Map{{Name: md.Name, Comment: comment, Elements: md.Add}}, chainNames)
		if err != nil {
			return nil, err
		}
		b.maps[md.Name] = es[0]
	}
	if b.newCh, err = encodeChains(t, dl.NewChains, map[string]bool{}); err != nil {
		return nil, err
	}
	for _, c := range b.newCh {
		b.chains[c.Name] = c
	}
	for _, ce := range dl.Chains {
		if b.chains[ce.Name] == nil {
			b.chains[ce.Name] = &nftables.Chain{Name: ce.Name, Table: t}
		}
		var rs []*Rule
		if ce.New || ce.Flush {
			rs = ce.Rules
		} else {
			for _, e := range ce.Edits {
				rs = append(rs, e.Rules...)
			}
			if len(handles[ce.Name]) != len(ce.Base.Rules) {
				return nil, fmt.Errorf("chain %q: %d rule handles for %d rules", ce.Name, len(handles[ce.Name]), len(ce.Base.Rules))
			}
		}
		for i, r := range rs {
			er, err := enc.rule(r, chainNames)
			if err != nil {
				return nil, fmt.Errorf("chain %q rule %d (%s): %w", ce.Name, i+1, r.String(), err)
			}
			er.chain = ce.Name
			b.rules[ce.Name] = append(b.rules[ce.Name], er)
		}
	}
	return b, nil
}

// queue adds the batch to the connection, in the order of Delta.
func (b *deltaBatch) queue(c *nftables.Conn) error {
	dl, t := b.dl, b.table
	for _, es := range b.newSets {
		if err := c.AddSet(es.set, es.elems); err != nil {
			return fmt.Errorf("set %q: %w", es.set.Name, err)
		}
	}
	for _, ch := range b.newCh {
		c.AddChain(ch)
	}
	// Element deletes, then adds (an interval that merges with a neighbour: the old
	// intervals go first).
	for _, sd := range dl.Sets {
		if err := c.SetDeleteElements(b.named[sd.Name], sd.Del); err != nil {
			return fmt.Errorf("set %q: %w", sd.Name, err)
		}
	}
	for _, md := range dl.Maps {
		var del []nftables.SetElement
		for _, k := range md.Del {
			del = append(del, nftables.SetElement{Key: ifname(k)})
		}
		if err := c.SetDeleteElements(b.maps[md.Name].set, del); err != nil {
			return fmt.Errorf("map %q: %w", md.Name, err)
		}
	}
	for _, sd := range dl.Sets {
		if err := c.SetAddElements(b.named[sd.Name], sd.Add); err != nil {
			return fmt.Errorf("set %q: %w", sd.Name, err)
		}
	}
	for _, md := range dl.Maps {
		if err := c.SetAddElements(b.maps[md.Name].set, b.maps[md.Name].elems); err != nil {
			return fmt.Errorf("map %q: %w", md.Name, err)
		}
	}
	for _, ce := range dl.Chains {
		if err := b.queueChain(c, &ce); err != nil {
			return err
		}
	}
	for _, name := range dl.DelChains {
		c.FlushChain(&nftables.Chain{Name: name, Table: t})
	}
	for _, name := range dl.DelChains {
		c.DelChain(&nftables.Chain{Name: name, Table: t})
	}
	for _, name := range append(append([]string(nil), dl.DelSets...), dl.DelMaps...) {
		c.DelSet(&nftables.Set{Name: name, Table: t})
	}
	return nil
}

// queueChain adds the rule edits of one chain.
func (b *deltaBatch) queueChain(c *nftables.Conn, ce *ChainEdit) error {
	ch := b.chains[ce.Name]
	ers := b.rules[ce.Name]
	next := 0
	rule := func() (*nftables.Rule, error) {
		er := &ers[next]
		next++
		if err := addAnonSets(c, er); err != nil {
			return nil, err
		}
		return &nftables.Rule{Table: b.table, Chain: ch, Exprs: er.exprs, UserData: er.userData}, nil
	}
	if ce.Flush {
		c.FlushChain(ch)
	}
	if ce.New || ce.Flush {
		for range ers {
			r, err := rule()
			if err != nil {
				return err
			}
			c.AddRule(r)
		}
		return nil
	}
	hs := b.handles[ce.Name]
	for _, e := range ce.Edits {
		switch e.Op {
		case RuleDelete:
			if err := c.DelRule(&nftables.Rule{Table: b.table, Chain: ch, Handle: hs[e.At]}); err != nil {
				return fmt.Errorf("chain %q: %w", ce.Name, err)
			}
		case RuleReplace:
			r, err := rule()
			if err != nil {
				return err
			}
			r.Handle = hs[e.At]
			c.ReplaceRule(r)
		case RuleAdd:
			var prevID uint32
			for i := range e.Rules {
				r, err := rule()
				if err != nil {
					return err
				}
				switch {
				case i > 0:
					r.PositionID = prevID
					c.AddRule(r)
				case e.At >= 0:
					r.Position = hs[e.At]
					c.AddRule(r)
				default:
					c.InsertRule(r)
				}
				prevID = r.ID
			}
		}
	}
	return nil
}

// addAnonSets adds the anonymous sets a rule looks up and points its lookups at them.
func addAnonSets(c *nftables.Conn, er *encodedRule) error {
	for j, s := range er.anon {
		if err := c.AddSet(s.set, s.elems); err != nil {
			return fmt.Errorf("anonymous set of chain %q: %w", er.chain, err)
		}
		er.lookups[j].SetName = s.set.Name
		er.lookups[j].SetID = s.set.ID
	}
	return nil
}
