package schema

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// Valid JSON that yaml.v3 does not read as such (`\/`, surrogate pairs) decodes, with every
// position where it is in the file, in a profile file and in the rules JSON of `rule update`.
func TestJSONEscapes(t *testing.T) {
	// One line: the columns after each rewritten escape must still be the file's.
	const line = `{"id": "WEB", "inbound_rules": [{"action": "allow", "src_net": "198.18.0.0\/16", "dst_tag": "\ud83d\ude00\/", "colour": 1}], "outbound_rules": []}`
	const rules = `{"inbound_rules": [{"action": "allow", "src_net": "198.18.0.0\/16", "dst_tag": "\ud83d\ude00\/", "colour": 1}], "outbound_rules": []}`
	for _, tc := range []struct {
		name, path, doc, want string
	}{
		{"profile, one line", "profiles/WEB.json", line,
			`profiles/WEB.json:1:93: dst_tag: "😀/" is not a valid tag: use letters, digits, '.', '_' and '-'` + "\n" +
				`profiles/WEB.json:1:111: unknown key "colour" in a rule`},
		{"profile, lines", "profiles/WEB.json", "{\"id\": \"W\\u0045B\",\n \"tags\": [\"\\/\\/\\/\", \"\\uD83D\\uDE00\", \"ok\"], \"inbound_rules\": [],\n \"outbound_rules\": [], \"x\": 1}\n",
			`profiles/WEB.json:2:11: tags: "///" is not a valid tag: use letters, digits, '.', '_' and '-'` + "\n" +
				`profiles/WEB.json:2:21: tags: "😀" is not a valid tag: use letters, digits, '.', '_' and '-'` + "\n" +
				`profiles/WEB.json:3:24: unknown key "x" in a profile (did you mean "id"?)`},
		{"escaped backslash before a slash", "profiles/WEB.json", `{"id": "WEB", "tags": ["\\/", "\\ud83d"], "inbound_rules": [], "outbound_rules": [], "x": 1}`,
			`profiles/WEB.json:1:24: tags: "\\/" is not a valid tag: use letters, digits, '.', '_' and '-'` + "\n" +
				`profiles/WEB.json:1:31: tags: "\\ud83d" is not a valid tag: use letters, digits, '.', '_' and '-'` + "\n" +
				`profiles/WEB.json:1:86: unknown key "x" in a profile (did you mean "id"?)`},
		{"rules", "stdin", rules,
			`stdin:1:80: dst_tag: "😀/" is not a valid tag: use letters, digits, '.', '_' and '-'` + "\n" +
				`stdin:1:98: unknown key "colour" in a rule`},
		{"lone high surrogate", "profiles/WEB.json", "{\"id\": \"WEB\",\n  \"tags\": [\"\\/\\ud83dx\"]}",
			`profiles/WEB.json:2:15: \ud83d is half of a UTF-16 surrogate pair, without its other half: it is no character; write the character itself or both halves`},
		{"lone low surrogate", "stdin", `{"inbound_rules": [{"src_tag": "\uDE00\ud83d"}]}`,
			`stdin:1:33: \uDE00 is half of a UTF-16 surrogate pair, without its other half: it is no character; write the character itself or both halves`},
		{"high surrogate then not a low one", "stdin", `{"inbound_rules": [{"src_tag": "\ud83d\u0041"}]}`,
			`stdin:1:33: \ud83d is half of a UTF-16 surrogate pair, without its other half: it is no character; write the character itself or both halves`},
	} {
		for variant, data := range textVariants(tc.doc) {
			t.Run(tc.name+"/"+variant, func(t *testing.T) {
				var errs Errors
				if tc.path == "stdin" {
					_, _, _, _, errs = DecodeRules(tc.path, []byte(data))
				} else {
					_, errs = Load(map[string][]byte{tc.path: []byte(data)})
				}
				if got := errLines(errs); got != tc.want {
					t.Errorf("errors:\n%s\nwant:\n%s", got, tc.want)
				}
			})
		}
	}

	// The values decode as JSON means them.
	p, errs := DecodeProfile("profiles/WEB.json", []byte(`{"id": "W\u0045B", "tags": ["A\u00e9"], "inbound_rules": [{"action": "allow", "src_net": "198.18.0.0\/16", "dst_net": "fd00::\/8"}], "outbound_rules": []}`))
	if p == nil || p.ID != "WEB" || len(p.Inbound) != 1 || p.Inbound[0].SrcNet != "198.18.0.0/16" || p.Inbound[0].DstNet != "fd00::/8" {
		t.Errorf("profile %+v, errors %v", p, errs)
	}
	_, _, in, _, errs := DecodeRules("stdin", []byte(`{"inbound_rules": [{"action": "allow", "src_net": "198.18.0.0\/16"}], "outbound_rules": []}`))
	if errs != nil || len(in) != 1 || in[0].SrcNet != "198.18.0.0/16" {
		t.Errorf("rules %+v, errors %v", in, errs)
	}
}

// Random strings with `\/`, surrogate pairs and other escapes, several on a line: every value
// decodes to what JSON means, and every node is where it is in the file.
func TestJSONEscapesRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	pieces := []string{`\/`, `\ud83d\ude00`, `\uD834\uDD1E`, `\\`, `\\/`, `\"`, `\u00e9`, `é`, `😀`, `/`, `a`, ` `, `\n`, `\t`}
	for i := 0; i < 300; i++ {
		var text strings.Builder
		var wantVals []string
		var wantCols []int // column of each value's opening quote, on its line
		var wantLines []int
		line, col := 1, 1
		text.WriteString("[")
		col++
		for j := 0; j < 1+rng.IntN(5); j++ {
			if j > 0 {
				if rng.IntN(3) == 0 {
					text.WriteString(",\n")
					line, col = line+1, 1
				} else {
					text.WriteString(", ")
					col += 2
				}
			}
			var raw strings.Builder
			for k := 0; k < rng.IntN(6); k++ {
				raw.WriteString(pieces[rng.IntN(len(pieces))])
			}
			lit := `"` + raw.String() + `"`
			var v string
			if err := json.Unmarshal([]byte(lit), &v); err != nil {
				t.Fatalf("%s: %v", lit, err)
			}
			wantVals, wantCols, wantLines = append(wantVals, v), append(wantCols, col), append(wantLines, line)
			text.WriteString(lit)
			col += utf8.RuneCountInString(lit)
		}
		text.WriteString("]\n")
		d := &decoder{path: "x.json"}
		root := d.parse([]byte(text.String()), "a list")
		if root == nil || len(root.Content) != len(wantVals) {
			t.Fatalf("%s: %v", text.String(), d.errs)
		}
		for j, n := range root.Content {
			if n.Value != wantVals[j] || n.Line != wantLines[j] || n.Column != wantCols[j] {
				t.Errorf("%s: item %d = %q at %d:%d, want %q at %d:%d", text.String(), j, n.Value, n.Line, n.Column, wantVals[j], wantLines[j], wantCols[j])
			}
		}
	}
}
