package schema

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzPaths are the repository paths a fuzzed file is loaded as.
var fuzzPaths = []string{"profiles/WEB.yaml", "profiles/WEB.json", "endpoints/e.yaml", "endpoints/e.json", "tests/t.yaml"}

// FuzzLoad checks that Load (and DecodeRules) never panic and that every error they return
// has a path and a position (line and column >= 1). `make fuzz` runs it for 60 s.
func FuzzLoad(f *testing.F) {
	// Seeds: every repository file of the examples, the bundled policies and the test data.
	for _, dir := range []string{"../examples", "../policies", "testdata"} {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			parent := filepath.Base(filepath.Dir(p))
			kind := FileKind(parent + "/" + d.Name())
			if kind == "" {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			for i, fp := range fuzzPaths {
				if FileKind(fp) == kind && filepath.Ext(fp) == filepath.Ext(p) {
					f.Add(uint8(i), data)
				}
			}
			return nil
		})
	}
	f.Add(uint8(0), []byte("id: WEB\ninbound_rules: &r\n  - action: allow\noutbound_rules: *r\n"))
	f.Add(uint8(0), []byte("a: &a [*a, *a]\nid: WEB\n"))
	f.Add(uint8(0), []byte("%YAML 1.2 # v\n%TAG !e! tag:e,2000:\n---\nid: WEB\n...\n%YAML 1.1\n---\n"))
	f.Add(uint8(4), []byte("%YAML 1.2\r\n---\r\ntests: []\r\n"))
	f.Add(uint8(1), []byte(`{"id": "WEB", "inbound_rules": [{"action": "allow", "protocol": 6, "dst_ports": [1, "2:3"]}]}`))

	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		p := fuzzPaths[int(which)%len(fuzzPaths)]
		repo, errs := Load(map[string][]byte{p: data})
		if repo == nil {
			t.Fatal("nil repository")
		}
		if errs != nil && len(errs) == 0 {
			t.Fatal("empty, non-nil Errors")
		}
		checkErrors(t, p, errs)
		_, _, _, _, errs = DecodeRules(p, data)
		checkErrors(t, p, errs)
		if FileKind(p) == KindProfile {
			_, errs = DecodeProfile(p, data)
			checkErrors(t, p, errs)
		}
	})
}

func checkErrors(t *testing.T, p string, errs Errors) {
	t.Helper()
	for _, e := range errs {
		if e.Path != p || e.Line < 1 || e.Col < 1 || e.Msg == "" {
			t.Fatalf("error without path or position: %#v (%q)", e, e.Error())
		}
	}
}
