package schema

import (
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

// TestIDLimits: ids and tags name nft chains, sets and comments, so they are bounded at
// limits.MaxIDLen bytes (issue 7: a 104-byte endpoint id validated and applied, but its
// comments exceeded nft's 128 bytes, so `plan --nft` and a dump of the ruleset did not load;
// a 246-byte profile id validated and failed at apply).
func TestIDLimits(t *testing.T) {
	e64, e104 := strings.Repeat("e", limits.MaxIDLen), strings.Repeat("w", 104)
	p64, p246 := strings.Repeat("P", limits.MaxIDLen), strings.Repeat("Q", 246)
	t64, t65 := strings.Repeat("T", limits.MaxIDLen), strings.Repeat("U", limits.MaxIDLen+1)
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name: "maximal values validate",
			files: map[string]string{
				"profiles/" + p64 + ".yaml": "id: " + p64 + "\ntags: [" + t64 + "]\ninbound_rules:\n" +
					"  - action: log\n    log_prefix: " + strings.Repeat("l", limits.MaxLogPrefix) + "\n" +
					"  - action: allow\n    src_tag: " + t64 + "\n    '!dst_tag': " + t64 + "\n",
				"endpoints/e.yaml": "endpoints:\n  - id: " + e64 + "\n    host: h\n    interface: " + strings.Repeat("i", limits.MaxIfname) +
					"\n    profile_ids: [" + p64 + "]\n",
			},
		},
		{
			name: "the issue's 104-byte endpoint id",
			files: map[string]string{
				"endpoints/e.yaml": "endpoints:\n  - {id: " + e104 + ", host: h, interface: caliweb1}\n",
			},
			want: []string{
				`endpoints/e.yaml:2:10: id: "` + e104[:64] + `…" is 104 bytes; ids are at most 64 (they name nft chains and comments)`,
			},
		},
		{
			name: "a 246-byte profile id",
			files: map[string]string{
				"profiles/" + p246 + ".yaml": "id: " + p246 + "\n",
			},
			want: []string{
				"profiles/" + p246 + `.yaml:1:5: id: "` + p246[:64] + `…" is 246 bytes; ids are at most 64 (they name nft chains and comments)`,
			},
		},
		{
			name: "tags over 64 bytes",
			files: map[string]string{
				"profiles/WEB.yaml": "id: WEB\ntags: [" + t65 + "]\ninbound_rules:\n  - action: allow\n    src_tag: " + t65 +
					"\n  - action: deny\n    '!dst_tag': " + t65 + "\n",
			},
			want: []string{
				`profiles/WEB.yaml:2:8: tags: "` + t65[:64] + `…" is 65 bytes; tags are at most 64 (they name nft sets and comments)`,
				`profiles/WEB.yaml:5:14: src_tag: "` + t65[:64] + `…" is 65 bytes; tags are at most 64 (they name nft sets and comments)`,
				`profiles/WEB.yaml:7:17: !dst_tag: "` + t65[:64] + `…" is 65 bytes; tags are at most 64 (they name nft sets and comments)`,
			},
		},
		{
			name: "log prefix over 27 bytes",
			files: map[string]string{
				"profiles/WEB.yaml": "id: WEB\ninbound_rules:\n  - action: log\n    log_prefix: " + strings.Repeat("l", limits.MaxLogPrefix+1) + "\n",
			},
			want: []string{
				`profiles/WEB.yaml:4:17: log_prefix: "` + strings.Repeat("l", 28) + `" is longer than 27 characters`,
			},
		},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			for p, s := range tt.files {
				files[p] = []byte(s)
			}
			_, errs := Load(files)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	if !ValidID(e64) || ValidID(e64+"e") || ValidID("") || ValidID("a b") {
		t.Error("ValidID does not bound ids at limits.MaxIDLen bytes of [A-Za-z0-9_.-]")
	}
}
