package schema

import (
	"strings"
	"testing"
)

// FuzzReferences loads a fuzzed profiles/WEB.yaml next to two endpoints that use WEB. Whatever
// the file holds, the endpoints never get "profile "WEB" does not exist" (the file is WEB's,
// broken or not), every error has a position, and when WEB does not load the references to it
// are counted once, on the file. (`go test -fuzz FuzzReferences ./schema` runs it.)
func FuzzReferences(f *testing.F) {
	for _, s := range []string{
		"id: WEB\n", "id: WEB\ninbound_rules: [\n", "- id: WEB\n", "id: APP\n", "", "tags: [WEB]\n",
		"id: WEB\ninbound_rules:\n  - action: accept\n", "id: [WEB]\n", "id: WEB\nid: WEB\n",
	} {
		f.Add([]byte(s))
	}
	eps := []byte("endpoints:\n" + ep("web-1", "node-1", "caliweb1", "profile_ids: [WEB]") + ep("web-2", "node-2", "caliweb1", "profile_ids: [WEB]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		repo, errs := Load(map[string][]byte{"profiles/WEB.yaml": data, "endpoints/e.yaml": eps})
		unchecked := 0
		for _, e := range errs {
			if e.Line < 1 || e.Col < 1 {
				t.Fatalf("error without position: %q", e.Error())
			}
			if e.Path != "profiles/WEB.yaml" {
				t.Fatalf("an error outside the broken file: %q", e.Error())
			}
			if strings.Contains(e.Msg, "not checked") {
				unchecked++
				if !strings.HasPrefix(e.Msg, `2 references to profile "WEB" (from endpoints/e.yaml) were not checked`) {
					t.Fatalf("unexpected count: %q", e.Error())
				}
			}
		}
		_, loaded := repo.Profiles["WEB"]
		if loaded == (unchecked > 0) || unchecked > 1 {
			t.Fatalf("WEB loaded %v, %d lines about unchecked references:\n%v", loaded, unchecked, errs)
		}
	})
}
