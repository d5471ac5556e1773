package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/gittest"
	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
	"github.com/reconcile-dev/reconcile/schema"
)

// mutatedShape writes a generated repository (base) and a copy with mutations (head): an
// endpoint moved to other profiles, an endpoint added on another host whose addresses join a
// tag set a third host's rules name, a profile rule changed, a host's endpoints moved to a new
// host (node-12 only in the base, node-13 only in the head).
func mutatedShape(t *testing.T) (base, head string) {
	t.Helper()
	shape := repogen.Shape{Hosts: 12, PerHost: 3, Profiles: 120, Tags: 120}
	files, err := shape.Files(7)
	if err != nil {
		t.Fatal(err)
	}
	base, head = t.TempDir(), t.TempDir()
	if err := repogen.WriteFiles(base, files); err != nil {
		t.Fatal(err)
	}
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(repogen.ChangeLocalEndpoint(files, "node-2"))
	must(repogen.AddRemoteEndpoint(files, "node-4", "node-9", 0))
	must(repogen.ChangeProfileRule(files, "node-6"))
	files["endpoints/node-12.yaml"] = bytes.ReplaceAll(files["endpoints/node-12.yaml"], []byte("host: node-12\n"), []byte("host: node-13\n"))
	if err := repogen.WriteFiles(head, files); err != nil {
		t.Fatal(err)
	}
	return base, head
}

// PlanAllHosts gives, host by host, exactly what the old CI did: plan --against for every
// host named in either tree, one process per host.
func TestPlanAllHostsMatchesPlanAgainstPerHost(t *testing.T) {
	base, head := mutatedShape(t)
	ctx := context.Background()
	a, err := New(Config{Dir: head})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := a.PlanAllHosts(ctx, base, PlanAllHostsOptions{Digests: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.HostsCompared != 13 {
		t.Errorf("hosts compared %d, want 13 (node-1 … node-13)", res.HostsCompared)
	}
	got := map[string]HostPlan{}
	for i, h := range res.Hosts {
		if i > 0 && naturalCompare(res.Hosts[i-1].Host, h.Host) >= 0 {
			t.Errorf("hosts out of order: %s after %s", h.Host, res.Hosts[i-1].Host)
		}
		got[h.Host] = h
	}
	for _, want := range []string{"node-2", "node-6", "node-9", "node-12", "node-13"} {
		if _, ok := got[want]; !ok {
			t.Errorf("host %s should change", want)
		}
	}
	t.Logf("%d of %d hosts change", len(res.Hosts), res.HostsCompared)
	if len(res.Hosts) == res.HostsCompared {
		t.Errorf("every host changes: the mutations should leave some alone")
	}
	changes := 0
	for n := 1; n <= 13; n++ {
		host := "node-" + itoa(n)
		one, err := New(Config{Dir: head, Host: host})
		if err != nil {
			t.Fatal(err)
		}
		pr, err := one.PlanAgainst(ctx, base)
		one.Close()
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		hp, ok := got[host]
		if pr.Plan.Empty() != !ok {
			t.Errorf("%s: plan --against empty %v, in --all-hosts %v", host, pr.Plan.Empty(), ok)
			continue
		}
		if !ok {
			continue
		}
		changes++
		wantJSON, _ := json.Marshal(pr.Plan)
		gotJSON, _ := json.Marshal(hp.Plan)
		if !bytes.Equal(wantJSON, gotJSON) {
			t.Errorf("%s: plans differ:\nplan --against: %s\n--all-hosts:    %s", host, wantJSON, gotJSON)
		}
		if hp.HeadDigest != "sha256:"+pr.Desired.Digest() || hp.BaseDigest != "sha256:"+pr.Observed.Digest() {
			t.Errorf("%s: digests %s %s, plan --against %s %s", host, hp.HeadDigest, hp.BaseDigest, pr.Desired.Digest(), pr.Observed.Digest())
		}
	}
	if changes != len(res.Hosts) {
		t.Errorf("%d hosts change one by one, %d in --all-hosts", changes, len(res.Hosts))
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Errors: an invalid head is the *Error of plan (schema.Errors with positions), an invalid
// base an *AgainstError around the same.
func TestPlanAllHostsInvalidTrees(t *testing.T) {
	base, head := mutatedShape(t)
	bad := t.TempDir()
	shape := repogen.Shape{Hosts: 2, PerHost: 2, Profiles: 4, Tags: 4}
	if err := shape.Write(bad, 1); err != nil {
		t.Fatal(err)
	}
	testWrite(t, bad, "profiles/P0001.yaml", "id: P0001\ninbound_rules:\n  - action: accept\n")
	ctx := context.Background()
	a, _ := New(Config{Dir: bad})
	defer a.Close()
	_, err := a.PlanAllHosts(ctx, base, PlanAllHostsOptions{Digests: true})
	var errs schema.Errors
	var ae *AgainstError
	if !errors.As(err, &errs) || errs[0].Path != "profiles/P0001.yaml" || errs[0].Line != 3 || errors.As(err, &ae) {
		t.Fatalf("invalid head: %v", err)
	}
	b, _ := New(Config{Dir: head})
	defer b.Close()
	_, err = b.PlanAllHosts(ctx, bad, PlanAllHostsOptions{Digests: true})
	if !errors.As(err, &ae) || ae.Against != bad || !errors.As(err, &errs) || !strings.HasPrefix(err.Error(), `--against "`+bad+`": `) {
		t.Fatalf("invalid base: %v", err)
	}
}

func testWrite(t *testing.T, dir, p, content string) {
	t.Helper()
	if err := repogen.WriteFiles(dir, map[string][]byte{p: []byte(content)}); err != nil {
		t.Fatal(err)
	}
}

// With --repo, REF is a branch, tag or commit of the fetched clone (origin/main too).
func TestPlanAllHostsRepoRef(t *testing.T) {
	r := gittest.NewRepo(t, "main")
	shape := repogen.Shape{Hosts: 4, PerHost: 3, Profiles: 6, Tags: 6}
	files, err := shape.Files(3)
	if err != nil {
		t.Fatal(err)
	}
	str := func(m map[string][]byte) map[string]string {
		out := map[string]string{}
		for p, c := range m {
			out[p] = string(c)
		}
		return out
	}
	main := r.Commit("base", str(files), "")
	r.Push()
	if _, err := repogen.ChangeProfileRule(files, "node-3"); err != nil {
		t.Fatal(err)
	}
	r.Git("checkout", "-q", "-b", "pr")
	r.Commit("pr", str(files), "")
	r.PushAll()
	for _, against := range []string{"main", "origin/main", main[:9]} {
		a, err := New(Config{Repo: r.Remote, Ref: "pr", StateDir: filepath.Join(t.TempDir(), "state")})
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.PlanAllHosts(context.Background(), against, PlanAllHostsOptions{})
		a.Close()
		if err != nil {
			t.Fatalf("%s: %v", against, err)
		}
		if res.Base.Commit != main || res.Head.Revision == res.Base.Revision || len(res.Hosts) == 0 || res.HostsCompared != 4 {
			t.Fatalf("%s: %+v %+v", against, res.Base, res)
		}
		found := false
		for _, h := range res.Hosts {
			found = found || h.Host == "node-3"
		}
		if !found {
			t.Errorf("%s: node-3 should change: %+v", against, res.Hosts)
		}
	}
	a, _ := New(Config{Repo: r.Remote, Ref: "pr", StateDir: t.TempDir()})
	defer a.Close()
	if _, err := a.PlanAllHosts(context.Background(), "no-such", PlanAllHostsOptions{}); err == nil || !strings.HasPrefix(err.Error(), `--against "no-such": `) {
		t.Errorf("unknown ref: %v", err)
	}
}

// A host that does not compile (a rule the loader would refuse, slipped past it) is an error
// naming the host: of the head as it is, of the base as a baseErr (PlanAllHosts prefixes it).
func TestPlanHostsCompileFailure(t *testing.T) {
	shape := repogen.Shape{Hosts: 3, PerHost: 2, Profiles: 4, Tags: 4}
	files, err := shape.Files(5)
	if err != nil {
		t.Fatal(err)
	}
	load := func() *schema.Repository {
		repo, errs := schema.Load(files)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return repo
	}
	good, bad := load(), load()
	for _, p := range bad.Profiles {
		p.Inbound = append([]schema.Rule{{Action: "bogus"}}, p.Inbound...)
	}
	a, _ := New(Config{Dir: t.TempDir()})
	defer a.Close()
	hosts := []string{"node-1", "node-2", "node-3"}
	plans, err := a.planHosts(good, good, hosts, "h", "b", true)
	if err != nil || len(plans) != 3 || !plans[1].Plan.Empty() || plans[1].HeadDigest != plans[1].BaseDigest {
		t.Fatalf("same repository on both sides: %v %+v", err, plans)
	}
	_, err = a.planHosts(bad, good, hosts, "h", "b", true)
	if err == nil || errors.Is(err, errBase) || !strings.Contains(err.Error(), `compile revision h for host "node-`) || !strings.Contains(err.Error(), `unknown action "bogus"`) {
		t.Errorf("head: %v", err)
	}
	_, err = a.planHosts(good, bad, hosts, "h", "b", true)
	if !errors.Is(err, errBase) || !strings.Contains(err.Error(), `compile revision b for host "node-`) {
		t.Errorf("base: %v", err)
	}
}

func TestNaturalCompare(t *testing.T) {
	want := []string{"", "a", "node-01", "node-1", "node-2", "node-3", "node-3a", "node-12", "node-100", "node-b", "web-2", "web-10x", "web-10y"}
	got := slices.Clone(want)
	for i := range got { // a fixed shuffle
		j := (i*7 + 3) % len(got)
		got[i], got[j] = got[j], got[i]
	}
	slices.SortFunc(got, naturalCompare)
	if !slices.Equal(got, want) {
		t.Errorf("natural order\n got %q\nwant %q", got, want)
	}
	for _, a := range want {
		for _, b := range want {
			if naturalCompare(a, b) != -naturalCompare(b, a) || (naturalCompare(a, b) == 0) != (a == b) {
				t.Errorf("naturalCompare(%q, %q) = %d, reverse %d", a, b, naturalCompare(a, b), naturalCompare(b, a))
			}
		}
	}
}
