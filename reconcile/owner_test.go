package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// operatorTable is what Debian's /etc/nftables.conf makes, with the operator's ssh rule: a
// table of the same name as --table that reconcile never made.
func operatorTable(name string) *nft.Ruleset {
	return &nft.Ruleset{Table: name, Chains: []*nft.Chain{{
		Name: "input", Base: &nft.BaseChain{Hook: nft.HookInput, Priority: 0, Policy: nft.Accept},
		Rules: []*nft.Rule{{
			Matches: []nft.Match{{Kind: nft.MatchL4Proto, Protos: []uint8{6}}, {Kind: nft.MatchDPort, Ports: []nft.PortRange{{First: 22, Last: 22}}}},
			Counter: true, Verdict: nft.Verdict{Kind: nft.Accept}, Comment: "operator ssh",
		}},
	}}}
}

// observeTable returns the fake kernel's table name as text ("<no table>" when absent).
func observeTable(t *testing.T, f *nft.Fake, table string) string {
	t.Helper()
	rs, err := f.Observe(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	if rs == nil {
		return "<no table>"
	}
	return rs.String()
}

// Plan and Apply with --table filter, where the operator's inet filter exists: both refuse
// with the one-line reason, nothing in the kernel changes, the state records the failed
// attempt and no applied ruleset.
func TestForeignTableRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.fake.Apply(ctx, operatorTable("filter")); err != nil {
		t.Fatal(err)
	}
	before := observeTable(t, e.fake, "filter")
	applies := e.fake.Applies()
	o := e.opts()
	o.Table = "filter"
	const want = `table inet filter exists and was not made by reconcile (chain "input"): choose another --table, or delete the table yourself`

	pr, err := agentOf(t, o).Plan(ctx)
	var fe *ForeignTableError
	if !errors.As(err, &fe) || err.Error() != want || fe.Kind != "chain" || fe.Name != "input" || fe.Table != "filter" {
		t.Fatalf("plan: %v (%#v), want %q", err, fe, want)
	}
	if pr == nil || pr.Observed == nil || pr.Plan != nil {
		t.Errorf("plan result: %+v; want the observed table and no plan", pr)
	}
	if stage, reason := Classify(err); stage != "observe" || reason != "foreign-table" {
		t.Errorf("Classify = %s/%s, want observe/foreign-table", stage, reason)
	}
	if _, err := os.Stat(e.stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("plan wrote state: %v", err)
	}

	res, err := agentOf(t, o).Apply(ctx)
	if !errors.As(err, &fe) || err.Error() != want {
		t.Fatalf("apply: %v, want %q", err, want)
	}
	if e.fake.Applies() != applies || e.fake.Attempts() != applies {
		t.Errorf("apply wrote to the kernel: %d applies, %d attempts, want %d", e.fake.Applies(), e.fake.Attempts(), applies)
	}
	if got := observeTable(t, e.fake, "filter"); got != before {
		t.Errorf("the operator's table changed:\n%s\nwas:\n%s", got, before)
	}
	if res == nil || res.Record == nil || res.Record.LastApplied != nil {
		t.Fatalf("apply result: %+v; want the record without last_applied", res)
	}
	rec, err := state.Load(e.stateDir, "filter", "")
	if err != nil {
		t.Fatal(err)
	}
	if rec.LastApplied != nil || rec.LastAttempt == nil || rec.LastAttempt.Result != state.Failed || rec.LastAttempt.Error != want {
		t.Errorf("state: last_applied %+v, last_attempt %+v", rec.LastApplied, rec.LastAttempt)
	}

	st, err := agentOf(t, o).Status(ctx)
	if err != nil || st.Foreign == nil || st.Foreign.Error() != want || !st.TableExists || st.InSync() {
		t.Errorf("status: %v, %+v", err, st)
	}
	// status --counters does not read another's table as profile rules.
	if cr, err := agentOf(t, o).Counters(ctx); !errors.As(err, &fe) || err.Error() != want || cr != nil {
		t.Errorf("counters: %v, %+v; want %q", err, cr, want)
	}

	// Our own table next to it is applied as usual, and the operator's stays as it was.
	if res, err := agentOf(t, e.opts()).Apply(ctx); err != nil || res.Result != state.Applied {
		t.Fatalf("apply --table reconcile: %v", err)
	}
	if got := observeTable(t, e.fake, "filter"); got != before {
		t.Errorf("applying table reconcile changed table filter:\n%s", got)
	}
	if st, err := agentOf(t, e.opts()).Status(ctx); err != nil || st.Foreign != nil || !st.InSync() {
		t.Errorf("status of our own table: %v, %+v", err, st)
	}
}

// Our own table is recognised without a state record (a lost state file), and a table with a
// hand-added chain is ours while the record says we applied it (drift: apply heals it); the
// same table without the record, or a record whose objects are all gone from the table (a
// reboot, then the operator's table of the same name), is refused.
func TestOwnTableRecognised(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	applied := e.kernel(t)

	// Lost state: our table is recognised by its names; nothing to do.
	if err := os.RemoveAll(e.stateDir); err != nil {
		t.Fatal(err)
	}
	res, err := agentOf(t, e.opts()).Apply(ctx)
	if err != nil || res.Result != state.NoChange {
		t.Fatalf("apply after losing the state: %v, %+v", err, res)
	}

	// A chain added by hand with the record: drift, healed.
	addMine := func() {
		t.Helper()
		if err := e.fake.Edit(nft.DefaultTable, func(rs *nft.Ruleset) {
			rs.Chains = append(rs.Chains, &nft.Chain{Name: "mine", Rules: []*nft.Rule{{Verdict: nft.Verdict{Kind: nft.Accept}}}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	addMine()
	res, err = agentOf(t, e.opts()).Apply(ctx)
	if err != nil || res.Result != state.Applied || e.kernel(t) != applied {
		t.Fatalf("heal of a hand-added chain: %v, result %v\n%s", err, res.Result, e.kernel(t))
	}

	// The same without a record: the table could be anybody's.
	addMine()
	drifted := e.kernel(t)
	if err := os.RemoveAll(e.stateDir); err != nil {
		t.Fatal(err)
	}
	_, err = agentOf(t, e.opts()).Apply(ctx)
	var fe *ForeignTableError
	if !errors.As(err, &fe) || fe.Kind != "chain" || fe.Name != "mine" {
		t.Fatalf("hand-added chain without a record: %v, want a foreign chain \"mine\"", err)
	}
	if e.kernel(t) != drifted {
		t.Errorf("a refused apply changed the kernel")
	}

	// A record of our table, but the kernel holds the operator's table of that name.
	e.fake.Delete(nft.DefaultTable)
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	e.fake.Delete(nft.DefaultTable)
	if err := e.fake.Apply(ctx, operatorTable(nft.DefaultTable)); err != nil {
		t.Fatal(err)
	}
	before := e.kernel(t)
	if _, err := agentOf(t, e.opts()).Apply(ctx); !errors.As(err, &fe) || fe.Name != "input" {
		t.Fatalf("operator's table under a record of ours: %v", err)
	}
	if e.kernel(t) != before {
		t.Errorf("a refused apply changed the kernel")
	}
}

// foreignTable's rule, object by object: names and kinds compile produces, an empty table,
// a name of the wrong kind, and the record's objects.
func TestForeignTableRule(t *testing.T) {
	v4 := &nft.Set{Name: "tag-v4-WEB", Type: nft.SetIPv4}
	ports := &nft.Set{Name: "ports-7a5b8556aede09cd", Type: nft.SetPorts, Ports: []nft.PortRange{{First: 80, Last: 80}, {First: 443, Last: 443}}}
	nd := &nft.Set{Name: "icmpv6-types-ba994c500a1391d3", Type: nft.SetICMPv6Types, Nums: []uint8{133, 135, 136}}
	ours := &nft.Ruleset{Table: "t",
		Chains: []*nft.Chain{{Name: "forward-from", Base: &nft.BaseChain{Hook: nft.HookForward}}, {Name: "from-web-1"}, {Name: "profile-in-WEB"}, {Name: "shared-host-early"}},
		Sets:   []*nft.Set{nd, ports, v4}, Maps: []*nft.Map{{Name: "dispatch-from"}}}
	applied := &nft.Ruleset{Table: "t", Chains: []*nft.Chain{{Name: "forward-from"}}}
	withRec := &state.Record{LastApplied: &state.LastApplied{Model: applied}}
	for _, c := range []struct {
		name     string
		rs       *nft.Ruleset
		rec      *state.Record
		kind, at string // "" = ours
	}{
		{"absent", nil, nil, "", ""},
		{"empty", &nft.Ruleset{Table: "t"}, nil, "", ""},
		{"ours", ours, nil, "", ""},
		{"operator", operatorTable("t"), nil, "chain", "input"},
		{"operator with a record", operatorTable("t"), withRec, "chain", "input"},
		{"set with a chain's name", &nft.Ruleset{Table: "t", Sets: []*nft.Set{{Name: "forward-from", Type: nft.SetIPv4}}}, nil, "set", "forward-from"},
		{"map with a tag's name", &nft.Ruleset{Table: "t", Maps: []*nft.Map{{Name: "tag-v4-WEB"}}}, nil, "map", "tag-v4-WEB"},
		{"map with a port list's name", &nft.Ruleset{Table: "t", Maps: []*nft.Map{{Name: "ports-7a5b8556aede09cd"}}}, nil, "map", "ports-7a5b8556aede09cd"},
		{"chain with a map's name", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{{Name: "dispatch-to"}}}, nil, "chain", "dispatch-to"},
		{"bare prefix", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{{Name: "from-"}}}, nil, "chain", "from-"},
		{"hand-added set, with a record", &nft.Ruleset{Table: "t", Chains: ours.Chains, Sets: []*nft.Set{{Name: "blocked", Type: nft.SetIPv4}}}, withRec, "", ""},
		{"hand-added set, no record", &nft.Ruleset{Table: "t", Chains: ours.Chains, Sets: []*nft.Set{{Name: "blocked", Type: nft.SetIPv4}}}, nil, "set", "blocked"},
		{"record, but none of its objects", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{{Name: "from-x"}, {Name: "mine"}}}, withRec, "chain", "mine"},
		{"record without a model", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{{Name: "forward-from"}, {Name: "mine"}}}, &state.Record{LastApplied: &state.LastApplied{}}, "chain", "mine"},
		{"only a counter", &nft.Ruleset{Table: "t", Foreign: []nft.ForeignObject{{Kind: "counter", Name: "c1"}}}, nil, "counter", "c1"},
		{"only a flowtable, with a record", &nft.Ruleset{Table: "t", Foreign: []nft.ForeignObject{{Kind: "flowtable", Name: "f"}}}, withRec, "flowtable", "f"},
		{"ours plus a quota", &nft.Ruleset{Table: "t", Chains: ours.Chains, Sets: ours.Sets, Foreign: []nft.ForeignObject{{Kind: "quota", Name: "q"}}}, nil, "quota", "q"},
		{"ours plus a quota, with a record", &nft.Ruleset{Table: "t", Chains: ours.Chains, Foreign: []nft.ForeignObject{{Kind: "quota", Name: "q"}}}, withRec, "", ""},
		{"ours, dormant, no record", &nft.Ruleset{Table: "t", Chains: ours.Chains, Sets: ours.Sets, Foreign: []nft.ForeignObject{{Kind: nft.TableFlagKind, Name: "dormant"}}}, nil, "", ""},
		{"operator's, dormant", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{{Name: "input"}}, Foreign: []nft.ForeignObject{{Kind: nft.TableFlagKind, Name: "dormant"}}}, nil, "chain", "input"},
		{"hand chain before an object", &nft.Ruleset{Table: "t", Chains: []*nft.Chain{{Name: "mine"}}, Foreign: []nft.ForeignObject{{Kind: "counter", Name: "c"}}}, nil, "chain", "mine"},
	} {
		err := foreignTable("t", c.rs, c.rec)
		var fe *ForeignTableError
		switch {
		case c.kind == "" && err != nil:
			t.Errorf("%s: %v, want ours", c.name, err)
		case c.kind != "" && (!errors.As(err, &fe) || fe.Kind != c.kind || fe.Name != c.at):
			t.Errorf("%s: %v, want foreign %s %q", c.name, err, c.kind, c.at)
		}
	}
}

// Watch reports a foreign table once and does not retry it by itself; the next trigger
// checks again.
func TestWatchDoesNotRetryForeignTable(t *testing.T) {
	logs := &syncWriter{w: &bytes.Buffer{}}
	passes := make(chan struct{}, 100)
	sig := make(chan struct{})
	m := NewMetrics()
	pass := func(context.Context, bool) (*passOutcome, error) {
		passes <- struct{}{}
		return nil, &Error{StageName: "observe", Reason: "foreign-table", Err: fmt.Errorf("wrapped: %w", &ForeignTableError{Table: "filter", Kind: "chain", Name: "input"})}
	}
	startWatch(t, loopOptions{Pass: pass, Interval: time.Hour, MaxBackoff: 100 * time.Millisecond, Signals: sig, Metrics: m,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	<-passes
	select {
	case <-passes:
		t.Fatal("watch retried a foreign table by itself")
	case <-time.After(1500 * time.Millisecond): // a transient failure is retried after 1s
	}
	sig <- struct{}{}
	select {
	case <-passes:
	case <-time.After(2 * time.Second):
		t.Fatal("a signal did not run a pass")
	}
	time.Sleep(100 * time.Millisecond)
	if got := testutil.ToFloat64(m.errors.WithLabelValues("observe", "foreign-table")); got != 2 {
		t.Errorf("errors counted = %v, want 2", got)
	}
	out := logs.String()
	if n := strings.Count(out, "was not made by reconcile"); n != 1 {
		t.Errorf("the refusal was logged %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, "retry_in") {
		t.Errorf("a retry was scheduled:\n%s", out)
	}
}

// syncWriter serialises writes (the watch loop logs from its own goroutine).
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// handObjects are named stateful objects and a flowtable, as `nft add counter inet t c1` etc.
// make them: the model has no field for them but Observe lists them (nft.Ruleset.Foreign).
var handObjects = []nft.ForeignObject{
	{Kind: "quota", Name: "q1"}, {Kind: "counter", Name: "c1"}, {Kind: "flowtable", Name: "f"},
	{Kind: "limit", Name: "l1"}, {Kind: "ct helper", Name: "ftp-std"},
}

// addObjects adds handObjects to a table of the fake kernel, creating it empty when absent.
func addObjects(t *testing.T, f *nft.Fake, table string) {
	t.Helper()
	rs, err := f.Observe(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	if rs == nil {
		if err := f.Apply(context.Background(), &nft.Ruleset{Table: table}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Edit(table, func(rs *nft.Ruleset) { rs.Foreign = append(rs.Foreign, handObjects...) }); err != nil {
		t.Fatal(err)
	}
}

// A table that holds only named stateful objects and a flowtable is not empty: plan, apply
// and status refuse it as foreign (the first object in kind order: counter c1), and nothing
// in it changes.
func TestForeignTableOfObjectsRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	addObjects(t, e.fake, "filter")
	before := observeTable(t, e.fake, "filter")
	if !strings.Contains(before, "# counter c1: not reconcile's") || !strings.Contains(before, "# flowtable f: not reconcile's") {
		t.Fatalf("the fake table does not show its objects:\n%s", before)
	}
	applies := e.fake.Applies()
	o := e.opts()
	o.Table = "filter"
	const want = `table inet filter exists and was not made by reconcile (counter "c1"): choose another --table, or delete the table yourself`
	var fe *ForeignTableError
	if _, err := agentOf(t, o).Plan(ctx); !errors.As(err, &fe) || err.Error() != want || fe.Kind != "counter" || fe.Name != "c1" {
		t.Fatalf("plan: %v, want %q", err, want)
	}
	if _, err := agentOf(t, o).Apply(ctx); !errors.As(err, &fe) || err.Error() != want {
		t.Fatalf("apply: %v, want %q", err, want)
	}
	if e.fake.Applies() != applies {
		t.Errorf("apply wrote to the kernel")
	}
	if got := observeTable(t, e.fake, "filter"); got != before {
		t.Errorf("the table changed:\n%s\nwas:\n%s", got, before)
	}
	if st, err := agentOf(t, o).Status(ctx); err != nil || st.Foreign == nil || st.Foreign.Error() != want || st.InSync() {
		t.Errorf("status: %v, %+v", err, st)
	}
	// Without a state record a table of ours plus one counter is not recognised as ours either.
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(e.stateDir); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Edit(nft.DefaultTable, func(rs *nft.Ruleset) {
		rs.Foreign = append(rs.Foreign, nft.ForeignObject{Kind: "quota", Name: "q1"})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := agentOf(t, e.opts()).Apply(ctx); !errors.As(err, &fe) || fe.Kind != "quota" || fe.Name != "q1" {
		t.Fatalf("our table plus a quota, no record: %v, want a foreign quota \"q1\"", err)
	}
}

// Objects added by hand to our table (the record says we applied it) are drift: status is
// not in sync and lists each one, plan destroys each one, apply removes them.
func TestObjectsInOwnTableAreDrift(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	applied := e.kernel(t)
	addObjects(t, e.fake, nft.DefaultTable)

	st, err := agentOf(t, e.opts()).Status(ctx)
	if err != nil || st.Foreign != nil || st.InSync() || st.Drift == nil {
		t.Fatalf("status: %v, %+v", err, st)
	}
	var text bytes.Buffer
	if err := st.Drift.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	wantText := `- counter c1 (not reconcile's, removed by apply)
- ct helper ftp-std (not reconcile's, removed by apply)
- flowtable f (not reconcile's, removed by apply)
- limit l1 (not reconcile's, removed by apply)
- quota q1 (not reconcile's, removed by apply)

Drift: 0 to add, 0 to change, 5 to destroy.
`
	if text.String() != wantText {
		t.Errorf("drift text:\n%s\nwant:\n%s", text.String(), wantText)
	}

	pr, err := agentOf(t, e.opts()).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := pr.Plan.Changes(); c.Destroy != 5 || c.Add != 0 || c.Change != 0 {
		t.Errorf("plan: %+v, want 5 to destroy", c)
	}
	for _, o := range pr.Plan.Objects {
		if o.Kind != "object" || o.Action != "destroy" || len(o.Changes) != 1 || o.Changes[0].Op != "-" {
			t.Errorf("plan object %+v", o)
		}
	}

	res, err := agentOf(t, e.opts()).Apply(ctx)
	if err != nil || res.Result != state.Applied {
		t.Fatalf("apply: %v, %+v", err, res)
	}
	if got := e.kernel(t); got != applied {
		t.Errorf("after apply:\n%s\nwant:\n%s", got, applied)
	}
	if st, err := agentOf(t, e.opts()).Status(ctx); err != nil || !st.InSync() {
		t.Errorf("status after apply: %v, %+v", err, st)
	}
}
