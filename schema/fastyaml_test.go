package schema

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// sameTree returns where a differs from b ("" when they are the same tree: kinds, tags,
// values, styles, positions; comments aside).
func sameTree(a, b *yaml.Node, at string) string {
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || a.Style != b.Style ||
		a.Line != b.Line || a.Column != b.Column || a.Anchor != b.Anchor || a.Alias != nil || b.Alias != nil ||
		len(a.Content) != len(b.Content) {
		return fmt.Sprintf("%s: fast %d %s %q style %d at %d:%d (%d children), yaml.v3 %d %s %q style %d at %d:%d (%d children)",
			at, a.Kind, a.Tag, a.Value, a.Style, a.Line, a.Column, len(a.Content), b.Kind, b.Tag, b.Value, b.Style, b.Line, b.Column, len(b.Content))
	}
	for i := range a.Content {
		if d := sameTree(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", at, i)); d != "" {
			return d
		}
	}
	return ""
}

// checkFast compares fastParse with yaml.v3 on data; it returns whether the fast path took it.
func checkFast(t *testing.T, name string, data []byte) bool {
	t.Helper()
	fast, p := fastParse(data)
	if fast == nil {
		return false
	}
	defer p.release()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		t.Errorf("%s: the fast path took a file yaml.v3 refuses (%v):\n%s", name, err, data)
		return true
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		t.Errorf("%s: the fast path took a file of two documents:\n%s", name, data)
		return true
	}
	if len(doc.Content) != 1 {
		t.Errorf("%s: yaml.v3 gives %d nodes", name, len(doc.Content))
		return true
	}
	if d := sameTree(fast, doc.Content[0], ""); d != "" {
		t.Errorf("%s: trees differ: %s\n%s", name, d, data)
	}
	return true
}

// yamlInputs returns the YAML files of the corpus, of schema's test data and generated ones.
func yamlInputs(t *testing.T) map[string][]byte {
	in := map[string][]byte{}
	for _, root := range []string{"testdata", badReposRoot} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				if b, err := os.ReadFile(p); err == nil {
					in[p] = b
				}
			}
			return nil
		})
	}
	for p, b := range benchRepo(20) {
		in["bench/"+p] = b
	}
	// Flow mappings and lists as generators write them (profiles of the fleet shape).
	in["flow/P.yaml"] = []byte("id: P0000\ntags: [T0000, T0003]\ninbound_rules:\n  - {action: allow, protocol: tcp, dst_ports: [80, 443, \"8000:8080\"], src_tag: T0001}\n" +
		"  - {action: deny, protocol: tcp, dst_ports: [22]}\n  - {action: allow, protocol: udp, dst_ports: [53, 853], src_net: 198.18.0.0/16}\n" +
		"  - {action: allow, protocol: icmp, icmp_type: 8}\n  - {action: allow, protocol: tcp, dst_ports: [9000], src_net: \"fd00::/16\", \"!dst_net\": 'x y'}\n" +
		"outbound_rules:\n  - {action: deny, dst_tag: T0002, protocol: tcp, dst_ports: [25]}\n  - {action: allow}\n  - {}\n")
	in["flow/e.yaml"] = []byte("endpoints:\n  - id: ep-1-0\n    host: node-1\n    interface: cali0\n    mac: \"ee:ee:ee:00:00:00\"\n" +
		"    ipv4_nets: [10.0.0.1/32]\n    ipv6_nets: [\"fd00:1::1/128\"]\n    profile_ids: [P0275, P1165]\n    state: active\n")
	if len(in) < 100 {
		t.Fatalf("only %d YAML inputs", len(in))
	}
	return in
}

// The fast path builds yaml.v3's tree for every file it takes, and takes the common ones.
func TestFastYAML(t *testing.T) {
	in := yamlInputs(t)
	taken := 0
	for p, b := range in {
		if checkFast(t, p, b) {
			taken++
		}
	}
	if taken < len(in)/3 {
		t.Errorf("the fast path took only %d of %d files", taken, len(in))
	}
	for _, s := range []string{
		"id: WEB\ntags: [a, b]\n",
		"endpoints:\n- id: a\n  ipv4_nets: [10.0.0.1/32]\n  profile_ids:\n  - P\n",
		"endpoints:\n  - id: a # c\n    host: \"h\"\n    mac: 'x'\n",
		"a: 1\nb: 0\nc: true\nd: null\ne: ~\nf: on\ng: ee:ee:00\n",
	} {
		if !checkFast(t, s, []byte(s)) {
			t.Errorf("the fast path refused %q", s)
		}
	}
}

// Mutations of the inputs (characters deleted, repeated or inserted, lines swapped): whatever
// the fast path takes, yaml.v3 reads the same way.
func TestFastYAMLMutations(t *testing.T) {
	in := yamlInputs(t)
	r := rand.New(rand.NewPCG(1, 2))
	inserts := []string{" ", "  ", "-", "- ", ":", ": ", "#", " #", "\"", "'", "[", "]", ",", "\n", "\n  ", "0", "1", "/", ".", "~", "y", "&a ", "*a", "!", "|", ">", "{", "}", "?", "<<: ", "---\n", "\t", "é", "\\"}
	n := 30000
	if testing.Short() {
		n = 3000
	}
	if s := os.Getenv("RECONCILE_FAST_MUTATIONS"); s != "" {
		fmt.Sscan(s, &n)
	}
	paths := make([]string, 0, len(in))
	for p := range in {
		paths = append(paths, p)
	}
	taken := 0
	for i := range n {
		p := paths[r.IntN(len(paths))]
		b := []byte(string(in[p]))
		for range 1 + r.IntN(3) {
			if len(b) == 0 {
				break
			}
			at := r.IntN(len(b))
			switch r.IntN(4) {
			case 0:
				b = append(b[:at:at], b[at+1:]...)
			case 1:
				b = append(b[:at+1:at+1], b[at:]...)
			case 2:
				b = append(append(b[:at:at], inserts[r.IntN(len(inserts))]...), b[at:]...)
			case 3:
				lines := strings.Split(string(b), "\n")
				j, k := r.IntN(len(lines)), r.IntN(len(lines))
				lines[j], lines[k] = lines[k], lines[j]
				b = []byte(strings.Join(lines, "\n"))
			}
		}
		if checkFast(t, fmt.Sprintf("mutation %d of %s", i, p), b) {
			taken++
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("the fast path took %d of %d mutations", taken, n)
}

// The fleet repository (optional, $RECONCILE_BENCH_REPO): every file the fast path takes.
func TestFastYAMLRepo(t *testing.T) {
	dir := os.Getenv("RECONCILE_BENCH_REPO")
	if dir == "" {
		t.Skip("RECONCILE_BENCH_REPO is not set")
	}
	files, _, err := ReadRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	taken := 0
	for p, b := range files {
		if checkFast(t, p, b) {
			taken++
		}
	}
	t.Logf("the fast path took %d of %d files", taken, len(files))
}
