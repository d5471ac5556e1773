package reconcile

import (
	"fmt"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// ForeignTableError says that table inet Table exists and was not made by reconcile, so no
// pass replaces or changes it (SPEC §3: every table the program does not own is left alone).
// Kind ("chain", "set", "map", or the nft keyword of a named stateful object or flowtable:
// "counter", "quota", "ct helper", "flowtable", ... see nft.ForeignObject) and Name are the
// first object of the table (chains, sets, maps, then the others; in name order) that
// reconcile would not have produced.
type ForeignTableError struct {
	Table string
	Kind  string
	Name  string
}

func (e *ForeignTableError) Error() string {
	return fmt.Sprintf("table inet %s exists and was not made by reconcile (%s %q): choose another --table, or delete the table yourself",
		e.Table, e.Kind, e.Name)
}

// Stage names the stage and reason for metrics: ("observe", "foreign-table").
func (e *ForeignTableError) Stage() (stage, reason string) { return "observe", "foreign-table" }

// foreignTable decides whether the table the kernel holds (observed, as Observe read it; nil
// when it does not exist) is one reconcile may replace, and returns a *ForeignTableError when
// it is not. The kernel keeps no mark of who made a table (the vendored google/nftables cannot
// write table userdata, and the kernel takes it only when a table is created), and the
// ruleset generation restarts at reboot, so ownership is read from the table itself and the
// state record:
//
//   - an absent table is created, and an empty one (nothing in it to lose: no chain, set,
//     map, named stateful object or flowtable) is filled;
//   - a table whose every chain, set and map has a name and kind that compile produces
//     (compile.Describe), and that holds no named stateful object (counter, quota, limit,
//     ct helper, ...) or flowtable (reconcile makes none), is reconcile's, with or without a
//     record (a lost state file);
//   - otherwise the table is reconcile's only when the record says a ruleset was applied to
//     this table in this namespace and one of that ruleset's chains, sets or maps (same name,
//     same kind) is still in the table: the other objects were added by hand, drift that
//     apply heals. An operator's table of the same name (a reboot, then /etc/nftables.conf)
//     holds none of them and stays foreign.
func foreignTable(table string, observed *nft.Ruleset, rec *state.Record) error {
	if observed == nil {
		return nil
	}
	kind, name := firstForeignObject(observed)
	if kind == "" {
		return nil
	}
	if rec != nil && rec.LastApplied != nil && holdsObjectOf(observed, appliedModel(rec)) {
		return nil
	}
	return &ForeignTableError{Table: table, Kind: kind, Name: name}
}

// appliedModel is the model applied last, read from the state record's model file on first use;
// nil when there is none or it cannot be read (then nothing vouches for the table).
func appliedModel(rec *state.Record) *nft.Ruleset {
	m, err := rec.LastApplied.LoadModel()
	if err != nil {
		return nil
	}
	return m
}

// firstForeignObject returns the kind and name of the first chain, then set, then map of rs
// whose name compile would not give to an object of that kind, else of the first object of
// rs.Foreign (reconcile makes none of those); ("", "") when there is none.
func firstForeignObject(rs *nft.Ruleset) (kind, name string) {
	for _, c := range rs.Chains {
		switch k, _ := compile.Describe(c.Name); k {
		case compile.KindBaseChain, compile.KindShared, compile.KindFrom, compile.KindTo, compile.KindHost,
			compile.KindProfileIn, compile.KindProfileOut:
		default:
			return "chain", c.Name
		}
	}
	for _, s := range rs.Sets {
		switch k, _ := compile.Describe(s.Name); k {
		case compile.KindTagV4, compile.KindTagV6, compile.KindPorts, compile.KindICMPTypes, compile.KindICMPv6Types:
		default:
			return "set", s.Name
		}
	}
	for _, m := range rs.Maps {
		if k, _ := compile.Describe(m.Name); k != compile.KindMap {
			return "map", m.Name
		}
	}
	for _, o := range rs.Foreign {
		// A flag on the table (dormant, ...) or a property of one of its sets (timeout, ...)
		// says nothing about who made its contents: it is drift of our table, removed by
		// apply, not a sign of someone else's.
		if o.Kind == nft.TableFlagKind || o.Kind == nft.SetPropertyKind {
			continue
		}
		return o.Kind, o.Name
	}
	return "", ""
}

// holdsObjectOf reports whether observed has a chain, set or map of the same name and kind
// as one of applied.
func holdsObjectOf(observed, applied *nft.Ruleset) bool {
	if applied == nil {
		return false
	}
	names := map[string]bool{}
	for _, c := range applied.Chains {
		names["chain "+c.Name] = true
	}
	for _, s := range applied.Sets {
		names["set "+s.Name] = true
	}
	for _, m := range applied.Maps {
		names["map "+m.Name] = true
	}
	for _, c := range observed.Chains {
		if names["chain "+c.Name] {
			return true
		}
	}
	for _, s := range observed.Sets {
		if names["set "+s.Name] {
			return true
		}
	}
	for _, m := range observed.Maps {
		if names["map "+m.Name] {
			return true
		}
	}
	return false
}
