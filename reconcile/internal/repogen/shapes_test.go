package repogen

import (
	"bytes"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/schema"
)

var (
	benchV4 = netip.MustParsePrefix("198.18.0.0/15")
	benchV6 = netip.MustParsePrefix("fd00::/8")
)

// loadShape loads files and fails the test on any validation error.
func loadShape(t *testing.T, files map[string][]byte) *schema.Repository {
	t.Helper()
	repo, errs := schema.Load(files)
	if errs != nil {
		t.Fatalf("the generated repository does not validate: %v", errs)
	}
	return repo
}

// TestShapeDeterministic: the same seed gives the same bytes, another seed other endpoints.
func TestShapeDeterministic(t *testing.T) {
	for _, s := range []Shape{Dense(200), {Hosts: 7, PerHost: 30, Profiles: 40, Tags: 40}} {
		a, err := s.Files(3)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.Files(3)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%+v: seed 3 gave two repositories", s)
		}
		c, _ := s.Files(4)
		if reflect.DeepEqual(a, c) {
			t.Fatalf("%+v: seeds 3 and 4 gave the same repository", s)
		}
		// Written files are the same bytes.
		dir := t.TempDir()
		if err := s.Write(dir, 3); err != nil {
			t.Fatal(err)
		}
		for p, want := range a {
			got, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: written file differs from Files (%v)", p, err)
			}
		}
	}
}

// TestShapeValidates: the shapes validate, have the counts they say, two distinct profiles per
// endpoint and addresses only from the benchmark ranges.
func TestShapeValidates(t *testing.T) {
	for _, s := range []Shape{Dense(500), Dense(50), {Hosts: 40, PerHost: 25, Profiles: 200, Tags: 200}} {
		files, err := s.Files(1)
		if err != nil {
			t.Fatal(err)
		}
		repo := loadShape(t, files)
		if len(repo.Profiles) != s.Profiles || len(repo.Endpoints) != s.Hosts*s.PerHost {
			t.Fatalf("%+v: %d profiles, %d endpoints", s, len(repo.Profiles), len(repo.Endpoints))
		}
		tags := map[string]bool{}
		for _, p := range repo.Profiles {
			for _, tg := range p.Tags {
				tags[tg] = true
			}
			if len(p.Inbound) != 6 || len(p.Outbound) != 2 {
				t.Fatalf("profile %s: %d inbound, %d outbound rules", p.ID, len(p.Inbound), len(p.Outbound))
			}
		}
		if len(tags) != s.Tags {
			t.Errorf("%+v: %d distinct tags", s, len(tags))
		}
		perHost := map[string]int{}
		for _, e := range repo.Endpoints {
			perHost[e.Host]++
			if len(e.ProfileIDs) != 2 || e.ProfileIDs[0] == e.ProfileIDs[1] {
				t.Fatalf("endpoint %s: profiles %v", e.ID, e.ProfileIDs)
			}
			for _, p := range e.Prefixes() {
				if !benchV4.Contains(p.Addr()) && !benchV6.Contains(p.Addr()) {
					t.Fatalf("endpoint %s: %s outside 198.18.0.0/15 and fd00::/8", e.ID, p)
				}
			}
		}
		if len(perHost) != s.Hosts || perHost["node-1"] != s.PerHost {
			t.Errorf("%+v: endpoints per host %v", s, perHost)
		}
	}
}

// TestFleetShape: the full fleet shape has its 400 files of 250 endpoints (counted, not
// loaded: loading it is the benchmark's job).
func TestFleetShape(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 21 MB")
	}
	files, err := Fleet().Files(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2400 {
		t.Fatalf("%d files, want 2,400", len(files))
	}
	if n := bytes.Count(files["endpoints/node-400.yaml"], []byte("\n  - id: ")); n != 250 {
		t.Fatalf("node-400: %d endpoints", n)
	}
	if _, err := (Shape{Hosts: 1000, PerHost: 131, Profiles: 2, Tags: 2}).Files(1); err == nil {
		t.Fatal("131,000 endpoints: no error, want one (198.18.0.0/15 is too small)")
	}
}

// TestMutations: each mutation changes one file, the repository still validates, and the
// change is the one described.
func TestMutations(t *testing.T) {
	files, err := Dense(300).Files(9)
	if err != nil {
		t.Fatal(err)
	}
	before := loadShape(t, files)
	endpoint := func(r *schema.Repository, id string) *schema.Endpoint {
		for _, e := range r.Endpoints {
			if e.ID == id {
				return e
			}
		}
		return nil
	}
	changed := func(old map[string][]byte, path string) {
		t.Helper()
		var diff []string
		for p := range files {
			if !bytes.Equal(old[p], files[p]) {
				diff = append(diff, p)
			}
		}
		if len(diff) != 1 || diff[0] != path || len(old) != len(files) {
			t.Fatalf("changed files %v, want only %s", diff, path)
		}
	}

	old := maps.Clone(files)
	path, err := ChangeLocalEndpoint(files, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	changed(old, path)
	after := loadShape(t, files)
	e0, e1 := endpoint(before, "ep-1-0"), endpoint(after, "ep-1-0")
	if slices.Equal(e0.ProfileIDs, e1.ProfileIDs) || len(e1.ProfileIDs) != 2 {
		t.Fatalf("ep-1-0 profiles %v → %v", e0.ProfileIDs, e1.ProfileIDs)
	}

	old = maps.Clone(files)
	for n := range 2 {
		if path, err = AddRemoteEndpoint(files, "node-1", "node-2", n); err != nil {
			t.Fatal(err)
		}
	}
	changed(old, path)
	after2 := loadShape(t, files)
	if len(after2.Endpoints) != len(after.Endpoints)+2 {
		t.Fatalf("%d endpoints after adding 2 to %d", len(after2.Endpoints), len(after.Endpoints))
	}
	added := endpoint(after2, "ep-added-0")
	if added == nil || added.Host != "node-2" {
		t.Fatalf("ep-added-0: %+v", added)
	}
	// One of its profiles carries the tag that node-1's first endpoint's first profile allows
	// traffic from.
	src := after2.Profiles[e1.ProfileIDs[0]].Inbound[0].SrcTag
	carries := false
	for _, id := range added.ProfileIDs {
		carries = carries || slices.Contains(after2.Profiles[id].Tags, src)
	}
	if src == "" || !carries {
		t.Fatalf("ep-added-0 (profiles %v) does not carry tag %q", added.ProfileIDs, src)
	}
	for _, p := range added.Prefixes() {
		if !benchV4.Contains(p.Addr()) && !benchV6.Contains(p.Addr()) {
			t.Fatalf("ep-added-0: %s outside the benchmark ranges", p)
		}
	}

	old = maps.Clone(files)
	if path, err = ChangeProfileRule(files, "node-1"); err != nil {
		t.Fatal(err)
	}
	changed(old, path)
	after3 := loadShape(t, files)
	id := e1.ProfileIDs[0]
	if !strings.HasSuffix(path, id+".yaml") {
		t.Fatalf("changed %s, want the file of %s", path, id)
	}
	r0, r1 := after2.Profiles[id].Inbound, after3.Profiles[id].Inbound
	ndiff := 0
	for i := range r0 {
		if !reflect.DeepEqual(r0[i], r1[i]) {
			ndiff++
			if r1[i].DstPorts[0].First != r0[i].DstPorts[0].First+1 {
				t.Fatalf("rule %d: ports %v → %v", i, r0[i].DstPorts, r1[i].DstPorts)
			}
		}
	}
	if ndiff != 1 {
		t.Fatalf("%d rules of %s changed, want 1", ndiff, id)
	}
}
