package reconcile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/state"
	"github.com/reconcile-dev/reconcile/schema"
)

// labRepo is a small repository in the shape of the seed's worked example: WEB and APP
// profiles, endpoints on node-1 and node-2, and a file that is not part of the repository.
var labRepo = func() map[string]string {
	files := testenv.WorkedExample()
	files["README.md"] = "not a repository file\n"
	return files
}()

type env struct {
	repo, stateDir string
	fake           *nft.Fake
	links          map[string]bool
	now            time.Time
	full           bool // Config.Full of opts
}

func newEnv(t *testing.T) *env {
	e := &env{repo: t.TempDir(), stateDir: filepath.Join(t.TempDir(), "state"), fake: nft.NewFake(),
		links: map[string]bool{"lo": true, "caliweb1": true},
		now:   time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	testenv.WriteFiles(t, e.repo, labRepo)
	return e
}

func (e *env) opts() Config {
	return Config{
		Source: source.Dir{Path: e.repo}, Host: "node-1", StateDir: e.stateDir, Dataplane: e.fake, Session: "test", Full: e.full,
		Links: func(context.Context) (map[string]bool, error) { return e.links, nil },
		Now:   func() time.Time { e.now = e.now.Add(time.Minute); return e.now },
	}
}

// agentOf is the Agent of cfg, closed when the test ends.
func agentOf(tb testing.TB, cfg Config) *Agent {
	tb.Helper()
	a, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return a
}

func (e *env) record(t *testing.T) *state.Record {
	t.Helper()
	r, err := state.Load(e.stateDir, nft.DefaultTable, "")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) kernel(t *testing.T) string {
	t.Helper()
	rs, err := e.fake.Observe(context.Background(), nft.DefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	if rs == nil {
		return "<no table>"
	}
	return rs.String()
}

// editChain changes chain name of our table in the fake kernel, as a person editing the
// firewall by hand would.
func (e *env) editChain(t *testing.T, name string, edit func(c *nft.Chain)) {
	t.Helper()
	if err := e.fake.Edit(nft.DefaultTable, func(rs *nft.Ruleset) {
		for _, c := range rs.Chains {
			if c.Name == name {
				edit(c)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
}

func titles(p *plan.Plan) string {
	var out []string
	for _, o := range p.Objects {
		out = append(out, o.Action.Symbol()+" "+o.Title())
	}
	return strings.Join(out, "\n")
}

func TestPlanChangesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pr, err := agentOf(t, e.opts()).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Observed != nil {
		t.Errorf("observed a table in an empty kernel")
	}
	got := titles(pr.Plan)
	for _, want := range []string{"+ table inet reconcile", "+ endpoint app-1 (caliapp1)", "+ endpoint web-1 (caliweb1)", "+ profile WEB inbound", "+ tag APP_7890 (v4)"} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "web-2") {
		t.Errorf("plan holds node-2's endpoint:\n%s", got)
	}
	if len(pr.Waiting) != 1 || pr.Waiting[0] != (Waiting{Endpoint: "app-1", Interface: "caliapp1"}) {
		t.Errorf("waiting = %+v, want app-1 (caliapp1)", pr.Waiting)
	}
	if len(pr.Endpoints) != 2 || pr.Rules() == 0 {
		t.Errorf("endpoints = %d, rules = %d", len(pr.Endpoints), pr.Rules())
	}
	if e.fake.Attempts() != 0 || e.kernel(t) != "<no table>" {
		t.Errorf("plan touched the kernel")
	}
	if _, err := os.Stat(e.stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("plan wrote state: %v", err)
	}
}

func TestApplyThenNoChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := agentOf(t, e.opts()).Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != state.Applied || e.fake.Applies() != 1 {
		t.Fatalf("result %q, applies %d", res.Result, e.fake.Applies())
	}
	if k := e.kernel(t); k != res.Desired.String() {
		t.Errorf("kernel holds\n%s\nwant\n%s", k, res.Desired)
	}
	rec := e.record(t)
	la := rec.LastApplied
	if la == nil || la.Revision != res.Snapshot.Revision || !strings.HasPrefix(la.Revision, "sha256:") ||
		la.RulesetDigest != res.Desired.Digest() || appliedModel(rec).Digest() != la.RulesetDigest || la.Host != "node-1" {
		t.Fatalf("last applied = %+v", la)
	}
	if rec.LastAttempt.Result != state.Applied || len(rec.History) != 1 {
		t.Errorf("attempts: %+v %+v", rec.LastAttempt, rec.History)
	}

	again, err := agentOf(t, e.opts()).Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Result != state.NoChange || !again.AlreadyApplied || e.fake.Applies() != 1 || e.fake.Attempts() != 1 {
		t.Errorf("second apply: result %q already %v applies %d attempts %d", again.Result, again.AlreadyApplied, e.fake.Applies(), e.fake.Attempts())
	}
	rec2 := e.record(t)
	if !rec2.LastApplied.Time.Equal(la.Time) || rec2.LastAttempt.Result != state.NoChange || len(rec2.History) != 2 {
		t.Errorf("after no-change: last applied %v (was %v), attempt %+v, history %d", rec2.LastApplied.Time, la.Time, rec2.LastAttempt, len(rec2.History))
	}
}

func TestApplyRuleChangeAndRevisionOnlyChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	first := e.record(t).LastApplied

	// A rule inserted in the middle of WEB's inbound rules: one changed profile, one + line.
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": strings.Replace(labRepo["profiles/WEB.yaml"],
		"  - action: allow\n    protocol: icmp", "  - action: allow\n    protocol: tcp\n    dst_ports: [22]\n  - action: allow\n    protocol: icmp", 1)})
	pr, err := agentOf(t, e.opts()).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := titles(pr.Plan); got != "~ profile WEB inbound" {
		t.Fatalf("plan:\n%s", got)
	}
	var plus int
	for _, l := range pr.Plan.Objects[0].Changes {
		if l.Op == "+" && strings.Contains(l.Text, `comment "WEB inbound 2"`) && strings.Contains(l.Text, "dport 22") {
			plus++
		}
	}
	// The renumbered comments of the following rules change too ("WEB inbound 3").
	if plus != 1 {
		t.Errorf("want exactly one added rule for port 22, got changes %+v", pr.Plan.Objects[0].Changes)
	}
	res, err := agentOf(t, e.opts()).Apply(ctx)
	if err != nil || res.Result != state.Applied {
		t.Fatalf("apply: %v %v", res, err)
	}
	second := e.record(t).LastApplied
	if second.Revision == first.Revision || second.RulesetDigest == first.RulesetDigest {
		t.Errorf("revision or digest unchanged: %s %s", second.Revision, second.RulesetDigest)
	}

	// A change that does not affect node-1's ruleset: a new endpoint on node-3 without profiles.
	testenv.WriteFiles(t, e.repo, map[string]string{"endpoints/node3.yaml": "endpoints:\n  - id: db-9\n    host: node-3\n    interface: calidb9\n    ipv4_nets: [198.18.9.9/32]\n    profile_ids: []\n"})
	res, err = agentOf(t, e.opts()).Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	third := e.record(t).LastApplied
	if res.Result != state.NoChange || res.AlreadyApplied || e.fake.Applies() != 2 {
		t.Errorf("result %q already %v applies %d", res.Result, res.AlreadyApplied, e.fake.Applies())
	}
	if third.Revision == second.Revision || third.RulesetDigest != second.RulesetDigest {
		t.Errorf("the new revision should be recorded as applied with the same digest: %+v", third)
	}
}

func TestApplyFailuresChangeNothing(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, e *env)
		check  func(t *testing.T, err error)
	}{
		{
			name: "invalid repository",
			break_: func(t *testing.T, e *env) {
				testenv.WriteFiles(t, e.repo, map[string]string{
					"profiles/BAD.yaml":   "id: BAD\ninbound_rules:\n  - action: permit\n",
					"endpoints/more.yaml": "endpoints:\n  - id: x\n    host: node-1\n    interface: calix\n    profile_ids: [NOPE]\n",
				})
			},
			check: func(t *testing.T, err error) {
				var errs schema.Errors
				if !errors.As(err, &errs) || len(errs) < 2 {
					t.Fatalf("error %v does not carry every schema error", err)
				}
				for _, se := range errs {
					if se.Path == "" || se.Line == 0 {
						t.Errorf("schema error without position: %v", se)
					}
				}
				if st, _ := Classify(err); st != "validate" {
					t.Errorf("stage %q", st)
				}
			},
		},
		{
			// A refused change in place falls back to replacing the table (TestApplyFallback);
			// a refused replace is the end of the pass.
			name: "failed transaction",
			break_: func(t *testing.T, e *env) {
				testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": labRepo["profiles/WEB.yaml"] + "  - action: deny\n"})
				e.full = true
				e.fake.FailNext(&nft.FakeError{Msg: "NFT_MSG_NEWRULE", Errno: syscall.ENOBUFS, Detail: "test"})
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, syscall.ENOBUFS) {
					t.Errorf("error %v does not wrap the kernel's", err)
				}
				if st, _ := Classify(err); st != "apply" {
					t.Errorf("stage %q", st)
				}
			},
		},
		{
			name: "source gone",
			break_: func(t *testing.T, e *env) {
				// (A profiles folder replaced by a file is an invalid repository, not a fetch
				// failure: schema.ReadFS refuses it.)
				if err := os.RemoveAll(e.repo); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, err error) {
				if st, _ := Classify(err); st != "fetch" {
					t.Errorf("stage %q for %v", st, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
				t.Fatal(err)
			}
			before := e.kernel(t)
			applied := e.record(t).LastApplied
			tt.break_(t, e)
			_, err := agentOf(t, e.opts()).Apply(ctx)
			if err == nil {
				t.Fatal("apply succeeded")
			}
			tt.check(t, err)
			if after := e.kernel(t); after != before {
				t.Errorf("kernel changed:\n%s", after)
			}
			rec := e.record(t)
			if rec.LastApplied.Revision != applied.Revision || !rec.LastApplied.Time.Equal(applied.Time) {
				t.Errorf("last applied changed: %+v", rec.LastApplied)
			}
			if rec.LastAttempt.Result != state.Failed || rec.LastAttempt.Error == "" || len(rec.History) != 2 {
				t.Errorf("last attempt = %+v, history %d", rec.LastAttempt, len(rec.History))
			}
		})
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	st, err := agentOf(t, e.opts()).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastApplied != nil || st.InSync() || st.Drift != nil || st.TableExists || !strings.HasPrefix(st.SourceHead, "sha256:") {
		t.Errorf("never applied: %+v", st)
	}

	res, err := agentOf(t, e.opts()).Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err = agentOf(t, e.opts()).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.InSync() || !st.UpToDate() || !st.TableExists || st.LastApplied.Revision != res.Snapshot.Revision || st.LastAttempt.Result != state.Applied {
		t.Fatalf("after apply: in sync %v, up to date %v, %+v", st.InSync(), st.UpToDate(), st)
	}

	// A rule added by hand.
	hand := &nft.Rule{Matches: []nft.Match{{Kind: nft.MatchL4Proto, Protos: []uint8{6}}, {Kind: nft.MatchDPort, Ports: []nft.PortRange{{First: 22, Last: 22}}}}, Verdict: nft.Verdict{Kind: nft.Accept}}
	e.editChain(t, "forward-from", func(c *nft.Chain) { c.Rules = append([]*nft.Rule{hand}, c.Rules...) })
	st, err = agentOf(t, e.opts()).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.InSync() || titles(st.Drift) != "~ chain forward-from" || st.Drift.Objects[0].Changes[0].Op != "-" || st.Drift.Objects[0].Changes[0].Text != hand.String() {
		t.Fatalf("drift:\n%s\n%+v", titles(st.Drift), st.Drift.Objects)
	}
	// Apply removes it.
	if res, err := agentOf(t, e.opts()).Apply(ctx); err != nil || res.Result != state.Applied {
		t.Fatalf("healing apply: %v %v", res, err)
	}
	if st, err = agentOf(t, e.opts()).Status(ctx); err != nil || !st.InSync() {
		t.Fatalf("after heal: %v %v", st, err)
	}

	// The table deleted by hand.
	e.fake.Delete(nft.DefaultTable)
	st, err = agentOf(t, e.opts()).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.InSync() || st.TableExists || len(st.Drift.Objects) == 0 || st.Drift.Objects[0].Kind != plan.KindTable {
		t.Errorf("deleted table: %+v", st.Drift)
	}

	// A source that cannot be read is a note, not an error; a new commit is "not up to date".
	testenv.WriteFiles(t, e.repo, map[string]string{"profiles/WEB.yaml": labRepo["profiles/WEB.yaml"] + "  - action: deny\n"})
	o := e.opts()
	o.Source = failingSource{}
	st, err = agentOf(t, o).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.SourceError == "" || st.SourceHead != "" || st.UpToDate() {
		t.Errorf("failing source: %+v", st)
	}
	st, err = agentOf(t, e.opts()).Status(ctx)
	if err != nil || st.UpToDate() || st.SourceHead == st.LastApplied.Revision {
		t.Errorf("new revision: head %s applied %s", st.SourceHead, st.LastApplied.Revision)
	}
}

type failingSource struct{}

func (failingSource) Fetch(context.Context, source.FetchOptions) (*source.Snapshot, error) {
	return nil, errors.New("remote unreachable")
}
func (failingSource) String() string { return "failing" }

func TestOtherTableUntouched(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := &nft.Ruleset{Table: "mine", Chains: []*nft.Chain{{Name: "c", Rules: []*nft.Rule{{Verdict: nft.Verdict{Kind: nft.Accept}}}}}}
	if err := e.fake.Apply(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := e.fake.Observe(ctx, "mine")
	if err != nil || got == nil || got.String() != other.String() {
		t.Errorf("other table changed: %v %v", got, err)
	}
}

// TestUnorderedRepositoryConverges: a repository written in any order (ports, nets) must
// plan "No changes" once applied, whatever order the kernel reads back in.
func TestUnorderedRepositoryConverges(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	testenv.WriteFiles(t, e.repo, map[string]string{
		"profiles/WEB.yaml":   strings.Replace(labRepo["profiles/WEB.yaml"], "dst_ports: [80, 443]", "dst_ports: [8443, 443, \"1000:2000\", 80]\n    src_net: 198.18.7.0/24", 1),
		"endpoints/more.yaml": "endpoints:\n  - id: web-9\n    host: node-1\n    interface: caliweb9\n    ipv4_nets: [198.18.9.9/32, 198.18.9.1/32, 198.18.9.0/32]\n    profile_ids: [WEB, APP]\n",
	})
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	pr, err := agentOf(t, e.opts()).Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.Plan.Empty() {
		var b strings.Builder
		_ = pr.Plan.WriteText(&b)
		t.Fatalf("plan after apply is not empty:\n%s", b.String())
	}
	st, err := agentOf(t, e.opts()).Status(ctx)
	if err != nil || !st.InSync() {
		t.Fatalf("status after apply: %v, drift %v", err, titles(st.Drift))
	}
}

// Status asked about another host than the one the last apply compiled for (a renamed host, a
// unit with the wrong --host) is neither in sync nor up to date: the kernel holds that host's
// ruleset. Found by a hostile tester: it said "In sync", exit 0.
func TestStatusOtherHost(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	o := e.opts()
	o.Host = "node-2"
	st, err := agentOf(t, o).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.OtherHost() || st.InSync() || st.UpToDate() || st.LastApplied.Host != "node-1" || !st.Drift.Empty() {
		t.Fatalf("status for node-2 after applying node-1: other host %v, in sync %v, up to date %v, %+v", st.OtherHost(), st.InSync(), st.UpToDate(), st.LastApplied)
	}
	if st, err = agentOf(t, e.opts()).Status(ctx); err != nil || st.OtherHost() || !st.InSync() || !st.UpToDate() {
		t.Fatalf("status for node-1: %v %+v", err, st)
	}
}
