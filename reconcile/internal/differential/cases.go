package differential

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/reconcile-dev/reconcile/reconcile/internal/evaluate"
	"github.com/reconcile-dev/reconcile/schema"
)

// CasesDir is where kept disagreements live, relative to this package.
const CasesDir = "testdata/differential"

// Record is the file record.json of a kept case: where it came from and what the parties
// said when it was kept.
type Record struct {
	Seed int64 `json:"seed"`
	// Index is the packet's in Packets(Seed, ...) before minimisation.
	Index int    `json:"packet_index"`
	Kind  string `json:"kind"`
	// Class is Class of the disagreement as found.
	Class string `json:"class,omitempty"`
	// Expect is the verdict SPEC gives, "allow" or "deny", once the disagreement's root
	// cause is decided (written by hand; "" until then).
	Expect string `json:"expect,omitempty"`
	// Verdicts by party name at the time the case was kept.
	Verdicts map[string]Verdict `json:"verdicts"`
}

// Kept is a case read back from its directory.
type Kept struct {
	Name   string
	Dir    string
	Repo   *schema.Repository
	Packet evaluate.Packet
	Record Record
}

// CaseName is the directory name of a minimised disagreement: `<kind>-<hash>`, hash 10 hex
// digits of SHA-256 over the minimised files and packet, so that a case keeps its name when
// the generator changes and the same minimised case found twice is kept once.
func CaseName(m Minimized) string {
	h := sha256.New()
	for _, p := range slices.Sorted(maps.Keys(m.Files)) {
		fmt.Fprintf(h, "%s\x00%s\x00", p, m.Files[p])
	}
	b, _ := json.Marshal(m.Packet)
	h.Write(b)
	return fmt.Sprintf("%s-%x", m.Kind, h.Sum(nil)[:5])
}

// WriteCase writes m under dir/name: the repository files, packet.json and record.json. An
// existing directory of that name is left as it is (a kept case may have been edited: its
// record's expect), and its path returned.
func WriteCase(dir, name string, m Minimized) (string, error) {
	root := filepath.Join(dir, name)
	if _, err := os.Stat(root); err == nil {
		return root, nil
	}
	for p, b := range m.Files {
		f := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return "", err
		}
	}
	rec := Record{Seed: m.Seed, Index: m.Index, Kind: m.Kind, Class: m.Class, Verdicts: map[string]Verdict{m.Names[0]: m.A, m.Names[1]: m.B}}
	for _, f := range []struct {
		name string
		v    any
	}{{"packet.json", m.Packet}, {"record.json", rec}} {
		b, err := json.MarshalIndent(f.v, "", "  ")
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(root, f.name), append(b, '\n'), 0o644); err != nil {
			return "", err
		}
	}
	return root, nil
}

// ReadCases reads every case under dir (one directory each); a missing dir has none. The
// error names the case that does not load or validate.
func ReadCases(dir string) ([]Kept, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Kept
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		k, err := ReadCase(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ReadCase reads one case directory written by WriteCase.
func ReadCase(root string) (Kept, error) {
	k := Kept{Name: filepath.Base(root), Dir: root}
	files, err := schema.ReadDir(root)
	if err != nil {
		return k, fmt.Errorf("%s: %w", root, err)
	}
	repo, errs := schema.LoadFiles(files, nil)
	if len(errs) > 0 {
		return k, fmt.Errorf("%s: repository does not validate: %v", root, errs)
	}
	k.Repo = repo
	for _, f := range []struct {
		name string
		v    any
	}{{"packet.json", &k.Packet}, {"record.json", &k.Record}} {
		b, err := os.ReadFile(filepath.Join(root, f.name))
		if err != nil {
			return k, err
		}
		if err := json.Unmarshal(b, f.v); err != nil {
			return k, fmt.Errorf("%s: %s: %w", root, f.name, err)
		}
	}
	return k, nil
}
