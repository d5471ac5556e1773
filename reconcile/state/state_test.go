package state

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

func sampleModel() *nft.Ruleset {
	return &nft.Ruleset{
		Table: "reconcile",
		Sets:  []*nft.Set{{Name: "tag-v4-WEB", Type: nft.SetIPv4, Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.1.0/24")}}},
		Maps:  []*nft.Map{{Name: "dispatch-from", Elements: []nft.MapElement{{Key: "caliweb1", Verdict: nft.Verdict{Kind: nft.Goto, Chain: "from-web-1"}}}}},
		Chains: []*nft.Chain{
			{Name: "forward-from", Base: &nft.BaseChain{Hook: nft.HookForward, Priority: 0, Policy: nft.Accept}, Rules: []*nft.Rule{
				{Matches: []nft.Match{{Kind: nft.MatchCtState, CtState: nft.CtInvalid}}, Verdict: nft.Verdict{Kind: nft.Drop}},
				{VMap: &nft.VMapLookup{Key: nft.MatchIIFName, Map: "dispatch-from"}},
			}},
			{Name: "from-web-1", Rules: []*nft.Rule{
				{Matches: []nft.Match{{Kind: nft.MatchSAddrSet, Not: true, Family: nft.IPv4, Str: "tag-v4-WEB"}}, Counter: true, Verdict: nft.Verdict{Kind: nft.Drop}, Comment: "WEB outbound 1"},
				{Matches: []nft.Match{{Kind: nft.MatchL4Proto, Protos: []uint8{6}}, {Kind: nft.MatchDPort, Ports: []nft.PortRange{{First: 80, Last: 90}}}}, Log: &nft.Log{Prefix: "x: "}},
			}},
		},
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "state")
	now := time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)
	model := sampleModel()
	r := &Record{Table: "reconcile", Netns: "lab-a"}
	r.LastApplied = &LastApplied{Source: "dir:/x", Revision: "sha256:abc", RulesetDigest: model.Digest(), Model: model, Time: now, Host: "node-1"}
	r.AddAttempt(Attempt{Revision: "sha256:abc", RulesetDigest: model.Digest(), Time: now, Result: Applied})
	if err := Save(dir, r); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir, "reconcile", "lab-a")
	if err != nil {
		t.Fatal(err)
	}
	if got.LastApplied == nil || got.LastApplied.Revision != "sha256:abc" || !got.LastApplied.Time.Equal(now) || got.LastApplied.Host != "node-1" {
		t.Fatalf("last applied = %+v", got.LastApplied)
	}
	if got.LastApplied.Model.String() != model.String() || got.LastApplied.Model.Digest() != got.LastApplied.RulesetDigest {
		t.Errorf("model does not round-trip:\n%s\nwant:\n%s", got.LastApplied.Model, model)
	}
	if got.LastAttempt == nil || got.LastAttempt.Result != Applied || len(got.History) != 1 {
		t.Errorf("attempt = %+v, history = %+v", got.LastAttempt, got.History)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "reconcile@lab-a.state.json" {
		t.Errorf("state dir holds %v", entries)
	}
}

func TestLoadMissing(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "does-not-exist")} {
		r, err := Load(dir, "reconcile", "")
		if err != nil {
			t.Fatalf("Load(%q): %v", dir, err)
		}
		if r.LastApplied != nil || r.LastAttempt != nil || len(r.History) != 0 || r.Table != "reconcile" {
			t.Errorf("want an empty record, got %+v", r)
		}
	}
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"corrupt", `{"version": 1, "table": "reconc`, "is corrupt"},
		{"wrong version", `{"version": 99, "table": "reconcile"}`, "has version 99"},
		{"other table", `{"version": 1, "table": "other"}`, `is for table "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := Path(dir, "reconcile", "")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir, "reconcile", "")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Load error = %v, want it to name %q and say %q", err, path, tt.want)
			}
		})
	}
}

func TestHistoryBounded(t *testing.T) {
	r := &Record{Table: "t"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 45 {
		r.AddAttempt(Attempt{Revision: fmt.Sprint(i), Time: base.Add(time.Duration(i) * time.Minute), Result: NoChange})
	}
	if len(r.History) != HistoryLen {
		t.Fatalf("history has %d entries, want %d", len(r.History), HistoryLen)
	}
	if r.History[0].Revision != "25" || r.History[HistoryLen-1].Revision != "44" || r.LastAttempt.Revision != "44" {
		t.Errorf("history keeps %q..%q, last %q", r.History[0].Revision, r.History[HistoryLen-1].Revision, r.LastAttempt.Revision)
	}
}

func TestFileName(t *testing.T) {
	tests := []struct{ table, netns, want string }{
		{"reconcile", "", "reconcile.state.json"},
		{"reconcile", "lab-a", "reconcile@lab-a.state.json"},
		{"fw", "inode-4026532281", "fw@inode-4026532281.state.json"}, // an unnamed namespace
		// Not a key netns.Handle makes, but still one plain file, distinct from "lab-a".
		{"fw", "/run/netns/lab-a", "fw@netns-" + shortHash("/run/netns/lab-a") + ".state.json"},
		{"fw", "..", "fw@netns-" + shortHash("..") + ".state.json"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		got := FileName(tt.table, tt.netns)
		if got != tt.want {
			t.Errorf("FileName(%q, %q) = %q, want %q", tt.table, tt.netns, got, tt.want)
		}
		if strings.Contains(got, "/") || seen[got] {
			t.Errorf("FileName(%q, %q) = %q is not a distinct plain file name", tt.table, tt.netns, got)
		}
		seen[got] = true
	}
}

func TestSaveFailureLeavesOldRecord(t *testing.T) {
	dir := t.TempDir()
	r := &Record{Table: "reconcile"}
	r.AddAttempt(Attempt{Revision: "old", Result: Applied})
	if err := Save(dir, r); err != nil {
		t.Fatal(err)
	}
	// A record that cannot be encoded (a time beyond year 9999) must not touch the file.
	r.AddAttempt(Attempt{Revision: "new", Result: Applied, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err := Save(dir, r); err == nil {
		t.Fatal("saving an unencodable record succeeded")
	}
	// A state directory that is a file fails cleanly too.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Save(file, r); err == nil {
		t.Fatal("saving into a file as directory succeeded")
	}
	got, err := Load(dir, "reconcile", "")
	if err != nil || got.LastAttempt.Revision != "old" {
		t.Errorf("after failed saves: %+v, %v", got.LastAttempt, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("state dir holds %v, want the record and the file only", entries)
	}
}
