package state

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
	// The head does not hold the model: it is read from its own file on demand.
	if got.LastApplied.Model != nil {
		t.Errorf("Load read the model eagerly")
	}
	m, err := got.LastApplied.LoadModel()
	if err != nil {
		t.Fatal(err)
	}
	if m.String() != model.String() || m.Digest() != got.LastApplied.RulesetDigest {
		t.Errorf("model does not round-trip:\n%s\nwant:\n%s", m, model)
	}
	if got.LastAttempt == nil || got.LastAttempt.Result != Applied || len(got.History) != 1 {
		t.Errorf("attempt = %+v, history = %+v", got.LastAttempt, got.History)
	}
	// No temporary files are left behind.
	wantModel := "reconcile@lab-a.model-" + model.Digest()[:12] + ".gob"
	if names := dirNames(t, dir); strings.Join(names, " ") != wantModel+" reconcile@lab-a.state.json" {
		t.Errorf("state dir holds %v", names)
	}
	if got.LastApplied.ModelFile != wantModel {
		t.Errorf("model_file = %q, want %q", got.LastApplied.ModelFile, wantModel)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A pass that only records an attempt rewrites the head, never the model; a new digest writes
// a new model file before the head names it and removes the old one afterwards.
func TestSaveWritesModelOnlyWhenDigestChanges(t *testing.T) {
	dir := t.TempDir()
	model := sampleModel()
	r := &Record{Table: "reconcile"}
	r.LastApplied = &LastApplied{Revision: "r1", RulesetDigest: model.Digest(), Model: model, Host: "h"}
	if err := Save(dir, r); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, r.LastApplied.ModelFile)
	if _, err := os.Stat(first); err != nil {
		t.Fatal(err)
	}
	// A new process: the record loaded lazily, an attempt added.
	r2, err := Load(dir, "reconcile", "")
	if err != nil {
		t.Fatal(err)
	}
	r2.AddAttempt(Attempt{Revision: "r1", Result: NoChange})
	// Make the model file unreadable as a model: were it rewritten, the bytes would change.
	if err := os.WriteFile(first, []byte("sentinel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, r2); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(first); string(b) != "sentinel" {
		t.Errorf("a save without a new model rewrote the model file")
	}
	// A new model: written under its digest, the old file removed.
	m2 := sampleModel()
	m2.Chains[1].Rules[0].Comment = "WEB outbound 9"
	r2.LastApplied = &LastApplied{Revision: "r2", RulesetDigest: m2.Digest(), Model: m2, Host: "h"}
	if err := Save(dir, r2); err != nil {
		t.Fatal(err)
	}
	want := ModelFileName("reconcile", "", m2.Digest())
	if names := dirNames(t, dir); strings.Join(names, " ") != want+" reconcile.state.json" {
		t.Errorf("state dir holds %v, want %s and the head", names, want)
	}
	r3, err := Load(dir, "reconcile", "")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := r3.LastApplied.LoadModel(); err != nil || m.Digest() != m2.Digest() {
		t.Fatalf("LoadModel = %v, %v", m, err)
	}
}

// A version 1 record (model inline) is read, and saved as a head plus a model file.
func TestLoadVersion1AndMigrate(t *testing.T) {
	dir := t.TempDir()
	model := sampleModel()
	v1 := map[string]any{
		"version": 1, "table": "reconcile", "netns": "lab",
		"last_applied": map[string]any{"source": "dir:/x", "revision": "sha256:abc", "ruleset_digest": model.Digest(),
			"model": model, "time": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "host": "node-1", "generation": 7, "session": "s"},
		"history": []any{},
	}
	b, err := json.Marshal(v1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(Path(dir, "reconcile", "lab"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir, "reconcile", "lab")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := r.LastApplied.LoadModel(); err != nil || m.Digest() != model.Digest() {
		t.Fatalf("version 1 model: %v, %v", m, err)
	}
	if err := Save(dir, r); err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(Path(dir, "reconcile", "lab"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(head, []byte(`"model"`)) || !bytes.Contains(head, []byte(`"version": 2`)) {
		t.Errorf("migrated head:\n%s", head)
	}
	r2, err := Load(dir, "reconcile", "lab")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := r2.LastApplied.LoadModel(); err != nil || m.Digest() != model.Digest() || r2.LastApplied.Generation != 7 {
		t.Fatalf("after migration: %v, %v, %+v", m, err, r2.LastApplied)
	}
}

// LoadModel refuses a model file that is missing or does not hold the digest the head names.
func TestLoadModelErrors(t *testing.T) {
	dir := t.TempDir()
	model := sampleModel()
	r := &Record{Table: "reconcile"}
	r.LastApplied = &LastApplied{Revision: "r1", RulesetDigest: model.Digest(), Model: model}
	if err := Save(dir, r); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, r.LastApplied.ModelFile)
	other := sampleModel()
	other.Table = "other"
	// file encodes a model file of format 2 (format 1: the model inline).
	file := func(format int, digest, key string, m *nft.Ruleset) []byte {
		mf := &modelFile{Format: format, Digest: digest, Key: key, Model: m}
		if format == modelFormat {
			var body bytes.Buffer
			if err := gob.NewEncoder(&body).Encode(m); err != nil {
				t.Fatal(err)
			}
			mf.Model, mf.Body, mf.Sum = nil, body.Bytes(), crc32.ChecksumIEEE(body.Bytes())
		}
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(mf); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	// the head's digest, another model (a writer with another model type)
	lying := file(modelFormat, model.Digest(), "key-of-another-build", other)
	damaged := file(modelFormat, model.Digest(), "", model)
	damaged[len(damaged)-20] ^= 0x01 // inside Body, before the checksum field's end
	good := file(modelFormat, model.Digest(), "", model)
	for _, tt := range []struct {
		name    string
		content []byte // nil: no file
		want    string
		checked bool // CheckModel finds it too (it does not decode the model of format 2)
	}{
		{"model not of its digest", lying, "does not read back as ruleset " + model.Digest()[:12], false},
		{"format 1 not of its digest", file(1, model.Digest(), "", other), "does not read back as ruleset " + model.Digest()[:12], true},
		{"missing", nil, "is missing", true},
		{"corrupt", []byte("xx"), "is corrupt", true},
		{"empty", []byte{}, "is corrupt", true},
		{"truncated", good[:len(good)/2], "is corrupt", true},
		{"damaged", damaged, "is corrupt", true},
		{"other digest", file(modelFormat, other.Digest(), "", other), "holds ruleset " + other.Digest()[:12], true},
		{"other format", file(3, model.Digest(), "", nil), "has format 3", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(path)
			if tt.content != nil {
				if err := os.WriteFile(path, tt.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Load(dir, "reconcile", "")
			if err != nil {
				t.Fatal(err)
			}
			err = got.LastApplied.CheckModel()
			switch {
			case !tt.checked && err != nil:
				t.Errorf("CheckModel error = %v, want nil (it does not decode)", err)
			case tt.checked && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path)):
				t.Errorf("CheckModel error = %v, want it to name %s and say %q", err, path, tt.want)
			}
			if _, err := got.LastApplied.LoadModel(); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("LoadModel error = %v, want it to name %s and say %q", err, path, tt.want)
			}
		})
	}
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(dir, "reconcile", ""); err != nil || got.LastApplied.CheckModel() != nil {
		t.Errorf("CheckModel of a good model file: %v", got.LastApplied.CheckModel())
	}
	// Format 1 files are still read; a file written under the caller's compile key is trusted
	// without rendering it (LoadModelUnder), one of another key is checked.
	for _, tt := range []struct {
		name, key string
		content   []byte
		want      *nft.Ruleset // nil: an error
	}{
		{"format 1", "", file(1, model.Digest(), "", model), model},
		{"format 2", "", file(modelFormat, model.Digest(), "k1", model), model},
		{"format 2 under its key", "k1", file(modelFormat, model.Digest(), "k1", model), model},
		{"trusted under its key", "k1", file(modelFormat, model.Digest(), "k1", other), other},
		{"checked under another key", "k2", file(modelFormat, model.Digest(), "k1", other), nil},
		{"checked without a key", "", file(modelFormat, model.Digest(), "", other), nil},
	} {
		if err := os.WriteFile(path, tt.content, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Load(dir, "reconcile", "")
		if err != nil {
			t.Fatal(err)
		}
		m, err := got.LastApplied.LoadModelUnder(tt.key)
		switch {
		case tt.want == nil && err == nil:
			t.Errorf("%s: no error", tt.name)
		case tt.want != nil && (err != nil || m.Digest() != tt.want.Digest()):
			t.Errorf("%s: %v, %v", tt.name, m, err)
		}
	}
	var none *LastApplied
	if _, err := none.LoadModel(); !errors.Is(err, ErrNoModel) {
		t.Errorf("nil LoadModel error = %v", err)
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

func TestLoadUnreadable(t *testing.T) {
	tests := []struct {
		name, content, reason string
	}{
		{"empty", "", "empty"},
		{"blank", " \n\t\n", "empty"},
		{"truncated", `{"version": 1, "table": "reconc`, "truncated or not JSON"},
		{"garbage", "\x00\x17\xffPK\x03\x04 not a record", "truncated or not JSON"},
		{"not an object", `[1, 2, 3]`, "not a state record"},
		{"wrong types", `{"version": "2", "table": 7}`, "not a state record"},
		{"future version", `{"version": 7, "table": "reconcile"}`, "version 7 (this program reads 1 and 2)"},
		{"no version", `{"table": "reconcile"}`, "version 0 (this program reads 1 and 2)"},
		{"inline model in version 2", `{"version": 2, "table": "reconcile", "last_applied": {"model": {"Table": "reconcile"}}}`, "version 2 holds the model inline"},
		{"other table", `{"version": 2, "table": "other"}`, `for table "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := Path(dir, "reconcile", "")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir, "reconcile", "")
			var ue *UnreadableError
			if !errors.As(err, &ue) || ue.Path != path || ue.Reason != tt.reason {
				t.Fatalf("Load error = %#v, want an *UnreadableError for %s with reason %q", err, path, tt.reason)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Load error %q does not name the file and the reason", err)
			}
			now := time.Date(2026, 11, 30, 17, 4, 5, 0, time.FixedZone("x", 3600))
			moved, err := MoveAside(path, now)
			if err != nil || moved != path+".unreadable-20261130T160405Z" {
				t.Fatalf("MoveAside = %q, %v; want %s.unreadable-20261130T160405Z", moved, err, path)
			}
			if b, err := os.ReadFile(moved); err != nil || string(b) != tt.content {
				t.Errorf("the moved file holds %q (%v), want the original", b, err)
			}
			r, err := Load(dir, "reconcile", "")
			if err != nil || r.LastApplied != nil {
				t.Errorf("Load after MoveAside = %+v, %v; want an empty record", r, err)
			}
			// A second bad head in the same second gets its own name.
			if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if m2, err := MoveAside(path, now); err != nil || m2 != moved+".1" {
				t.Errorf("second MoveAside = %q, %v; want %s.1", m2, err, moved)
			}
		})
	}
}

func TestCheckDir(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir(filepath.Join(root, "gone")); err != nil {
		t.Errorf("CheckDir of a missing directory: %v, want nil (a first apply makes it)", err)
	}
	if err := CheckDir(root); err != nil {
		t.Errorf("CheckDir of a directory: %v", err)
	}
	for _, dir := range []string{file, filepath.Join(file, "sub")} {
		err := CheckDir(dir)
		if err == nil || !strings.Contains(err.Error(), "not a directory") || !strings.Contains(err.Error(), dir) {
			t.Errorf("CheckDir(%s) = %v, want an error naming it, saying it is not a directory", dir, err)
		}
	}
	if _, err := Load(file, "reconcile", ""); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("Load from a file as state directory: %v", err)
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

// A save that fails after the new model file was written (here: the head cannot be encoded)
// leaves the old head, and the model file it names, as they were.
func TestSaveFailureKeepsTheModelTheHeadNames(t *testing.T) {
	dir := t.TempDir()
	m1 := sampleModel()
	r := &Record{Table: "reconcile"}
	r.LastApplied = &LastApplied{Revision: "r1", RulesetDigest: m1.Digest(), Model: m1}
	if err := Save(dir, r); err != nil {
		t.Fatal(err)
	}
	m2 := sampleModel()
	m2.Table = "reconcile2"
	r.LastApplied = &LastApplied{Revision: "r2", RulesetDigest: m2.Digest(), Model: m2}
	r.AddAttempt(Attempt{Revision: "r2", Result: Applied, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err := Save(dir, r); err == nil {
		t.Fatal("saving an unencodable head succeeded")
	}
	got, err := Load(dir, "reconcile", "")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := got.LastApplied.LoadModel(); err != nil || got.LastApplied.Revision != "r1" || m.Digest() != m1.Digest() {
		t.Fatalf("after a failed save: revision %q, model %v, %v", got.LastApplied.Revision, m, err)
	}
}

// A head copied over another namespace's record file (a user swapping or restoring files by
// hand) is that file's record once loaded: saving it writes that file, never the record of
// the namespace the copied head names, and leaves that record's model file alone.
func TestSaveWritesTheFileTheRecordWasLoadedFrom(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)
	save := func(netns string, port uint16) *nft.Ruleset {
		m := sampleModel()
		m.Chains[1].Rules[1].Matches[1].Ports[0].First = port
		r := &Record{Table: "reconcile", Netns: netns}
		r.LastApplied = &LastApplied{Revision: "sha256:" + netns, RulesetDigest: m.Digest(), Model: m, Time: now}
		if err := Save(dir, r); err != nil {
			t.Fatal(err)
		}
		return m
	}
	save("lab-a", 81)
	mb := save("lab-b", 82)
	headB, err := os.ReadFile(Path(dir, "reconcile", "lab-b"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(Path(dir, "reconcile", "lab-a"), headB, 0o644); err != nil {
		t.Fatal(err)
	}

	r, err := Load(dir, "reconcile", "lab-a")
	if err != nil {
		t.Fatal(err)
	}
	if r.Netns != "lab-a" {
		t.Errorf("loaded netns = %q, want the file's key %q", r.Netns, "lab-a")
	}
	mc := sampleModel()
	mc.Chains[1].Rules[1].Matches[1].Ports[0].First = 83
	r.LastApplied = &LastApplied{Revision: "sha256:c", RulesetDigest: mc.Digest(), Model: mc, Time: now}
	if err := Save(dir, r); err != nil {
		t.Fatal(err)
	}

	if got, err := os.ReadFile(Path(dir, "reconcile", "lab-b")); err != nil || !bytes.Equal(got, headB) {
		t.Errorf("lab-b's record was rewritten by lab-a's save (err %v):\n%s", err, got)
	}
	b, err := Load(dir, "reconcile", "lab-b")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := b.LastApplied.LoadModel(); err != nil || m.Digest() != mb.Digest() {
		t.Errorf("lab-b's model after lab-a's save: %v (err %v)", m, err)
	}
	a, err := Load(dir, "reconcile", "lab-a")
	if err != nil {
		t.Fatal(err)
	}
	if a.LastApplied.Revision != "sha256:c" || a.LastApplied.ModelFile != ModelFileName("reconcile", "lab-a", mc.Digest()) {
		t.Errorf("lab-a's record = %+v", a.LastApplied)
	}
}

// A FIFO where a head or a model file belongs is an error naming it, at once: opening it for
// reading would wait for a writer for ever, and the pass (apply, status, a watch) with it.
func TestLoadFIFO(t *testing.T) {
	dir := t.TempDir()
	head := Path(dir, "reconcile", "")
	if err := syscall.Mkfifo(head, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load(dir, "reconcile", ""); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Load of a FIFO head: %v, want an error saying it is not a regular file", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Load of a FIFO head blocked")
	}
	if err := os.Remove(head); err != nil {
		t.Fatal(err)
	}
	la := &LastApplied{RulesetDigest: strings.Repeat("ab", 32), ModelFile: ModelFileName("reconcile", "", strings.Repeat("ab", 32)), dir: dir}
	if err := syscall.Mkfifo(filepath.Join(dir, la.ModelFile), 0o644); err != nil {
		t.Fatal(err)
	}
	go func() { done <- la.CheckModel() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("CheckModel of a FIFO: %v, want an error saying it is not a regular file", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("CheckModel of a FIFO model file blocked")
	}
}
