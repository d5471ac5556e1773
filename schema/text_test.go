package schema

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// textVariants are the same document as editors write it: with a UTF-8 byte-order mark, with
// CRLF line breaks, or both. Each must decode to the same values and the same errors, at the
// same line and column, as the plain LF file.
func textVariants(doc string) map[string]string {
	crlf := strings.ReplaceAll(doc, "\n", "\r\n")
	return map[string]string{
		"lf":       doc,
		"bom":      "\ufeff" + doc,
		"crlf":     crlf,
		"bom+crlf": "\ufeff" + crlf,
	}
}

// crRefusal is what path with doc's line breaks written as lone CRs (old Mac OS line endings)
// gives: a refusal at the end of the first line, as an editor shows it (one long line); ""
// when doc has no line break.
func crRefusal(path, doc string) (cr, want string) {
	i := strings.IndexByte(doc, '\n')
	if i < 0 {
		return "", ""
	}
	return strings.ReplaceAll(doc, "\n", "\r"), fmt.Sprintf("%s:1:%d: a carriage return not followed by a line feed: use LF or CRLF line endings", path, utf8.RuneCountInString(doc[:i])+1)
}

func TestTextBOMAndCRLF(t *testing.T) {
	for _, tc := range []struct {
		name, path, doc, want string
	}{
		{"yaml valid", "profiles/WEB.yaml", "id: WEB # é\ntags: [WEB, \"W2\"]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [80]\noutbound_rules: []\n", ""},
		{"json valid", "profiles/WEB.json", "{\n  \"id\": \"WEB\",\n  \"tags\": [\"WEB\", \"W2\"],\n  \"inbound_rules\": [{\"action\": \"allow\", \"protocol\": \"tcp\", \"dst_ports\": [80]}],\n  \"outbound_rules\": []\n}\n", ""},
		// An error on the first line: the byte-order mark is not a column.
		{"yaml error on line 1", "profiles/WEB.yaml", "id: APP\ninbound_rules: []\noutbound_rules: []\n",
			`profiles/WEB.yaml:1:5: id: "APP" does not match the file name "WEB" (a profile's id is its file name without extension)`},
		{"json error on line 1", "profiles/WEB.json", "{\"id\": \"APP\",\n \"inbound_rules\": [],\n \"outbound_rules\": []}\n",
			`profiles/WEB.json:1:8: id: "APP" does not match the file name "WEB" (a profile's id is its file name without extension)`},
		// Errors after line breaks, after a non-ASCII character on the same line (columns
		// count characters, not bytes).
		{"yaml error on line 4", "profiles/WEB.yaml", "id: WEB\ntags: [WEB]\ninbound_rules:\n  - {action: allow, src_tag: \"é\", colour: 1}\noutbound_rules: []\n",
			"profiles/WEB.yaml:4:30: src_tag: \"é\" is not a valid tag: use letters, digits, '.', '_' and '-'\n" +
				"profiles/WEB.yaml:4:35: unknown key \"colour\" in a rule"},
		{"json error on line 3", "profiles/WEB.json", "{\"id\": \"WEB\",\n \"tags\": [\"WEB\"],\n \"inbound_rules\": [{\"action\": \"allow\", \"src_tag\": \"é\", \"colour\": 1}],\n \"outbound_rules\": []}\n",
			"profiles/WEB.json:3:51: src_tag: \"é\" is not a valid tag: use letters, digits, '.', '_' and '-'\n" +
				"profiles/WEB.json:3:56: unknown key \"colour\" in a rule"},
		{"json syntax error on line 3", "profiles/WEB.json", "{\"id\": \"WEB\",\n \"tags\": [\"WEB\"],\n \"inbound_rules\": [{\"src_tag\": \"é\", \"action\": \"allow\",}],\n \"outbound_rules\": []}\n",
			`profiles/WEB.json:3:55: syntax error: not valid JSON: invalid character '}' looking for beginning of object key string`},
		{"yaml syntax error on line 3", "profiles/WEB.yaml", "id: WEB\ntags: [WEB]\ninbound_rules: [{src_tag: \"é\", action: allow}\noutbound_rules: []\n",
			"profiles/WEB.yaml:4:1: syntax error: did not find expected ',' or ']' (while parsing a flow sequence that starts at line 3 column 16)"},
		{"bom only", "profiles/WEB.json", "", "profiles/WEB.json:1:1: empty file: expected a profile"},
	} {
		for variant, data := range textVariants(tc.doc) {
			t.Run(tc.name+"/"+variant, func(t *testing.T) {
				files := map[string][]byte{tc.path: []byte(data)}
				repo, errs := Load(files)
				if got := errLines(errs); got != tc.want {
					t.Fatalf("Load errors:\n%s\nwant:\n%s", got, tc.want)
				}
				if tc.want == "" {
					p := repo.Profiles["WEB"]
					if p == nil || len(p.Tags) != 2 || p.Tags[1] != "W2" || len(p.Inbound) != 1 || p.Inbound[0].DstPorts[0] != (PortRange{80, 80}) {
						t.Errorf("profile = %+v", p)
					}
				}
			})
		}
		if cr, want := crRefusal(tc.path, tc.doc); cr != "" {
			t.Run(tc.name+"/cr", func(t *testing.T) {
				if _, errs := Load(map[string][]byte{tc.path: []byte(cr)}); errLines(errs) != want {
					t.Errorf("Load errors:\n%s\nwant:\n%s", errLines(errs), want)
				}
			})
		}
	}
}

// `rule update` reads stdin through DecodeRules: the same text rules apply there.
func TestTextDecodeRules(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"json", "{\n  \"inbound_rules\": [{\"action\": \"allow\", \"protocol\": \"tcp\", \"dst_ports\": [22]}],\n  \"outbound_rules\": []\n}\n", ""},
		{"json error", "{\n  \"inbound_rules\": [{\"action\": \"allow\", \"src_tag\": \"é\", \"colour\": 1}],\n  \"outbound_rules\": []\n}\n",
			"stdin:2:52: src_tag: \"é\" is not a valid tag: use letters, digits, '.', '_' and '-'\n" +
				"stdin:2:57: unknown key \"colour\" in a rule"},
		// rule update takes JSON only (calicoctl's json.loads): YAML is a syntax error at 1:1.
		{"yaml refused", "inbound_rules:\n  - action: allow\n    src_tag: é\n    colour: 1 # é\noutbound_rules: []\n",
			"stdin:1:1: syntax error: not valid JSON: invalid character 'i' looking for beginning of value"},
	} {
		for variant, data := range textVariants(tc.doc) {
			t.Run(tc.name+"/"+variant, func(t *testing.T) {
				_, _, in, out, errs := DecodeRules("stdin", []byte(data))
				if got := errLines(errs); got != tc.want {
					t.Fatalf("DecodeRules errors:\n%s\nwant:\n%s", got, tc.want)
				}
				if tc.want == "" && (len(in) != 1 || len(out) != 0 || in[0].DstPorts[0] != (PortRange{22, 22})) {
					t.Errorf("in = %+v, out = %+v", in, out)
				}
			})
		}
		if cr, want := crRefusal("stdin", tc.doc); cr != "" {
			t.Run(tc.name+"/cr", func(t *testing.T) {
				if _, _, _, _, errs := DecodeRules("stdin", []byte(cr)); errLines(errs) != want {
					t.Errorf("DecodeRules errors:\n%s\nwant:\n%s", errLines(errs), want)
				}
			})
		}
	}
}

// utf16 encodes ASCII s as UTF-16 (little or big endian) with a byte-order mark.
func utf16(s string, little bool) []byte {
	out := []byte{0xFE, 0xFF}
	if little {
		out = []byte{0xFF, 0xFE}
	}
	for _, c := range []byte(s) {
		if little {
			out = append(out, c, 0)
		} else {
			out = append(out, 0, c)
		}
	}
	return out
}

func TestTextRefused(t *testing.T) {
	const yamlDoc = "id: WEB\ninbound_rules: []\noutbound_rules: []\n"
	const jsonDoc = "{\"id\": \"WEB\", \"inbound_rules\": [], \"outbound_rules\": []}\n"
	for _, tc := range []struct {
		name string
		data []byte
		want string // message after "path:"
	}{
		{"utf-16le yaml", utf16(yamlDoc, true), "1:1: UTF-16 text: save the file as UTF-8"},
		{"utf-16be yaml", utf16(yamlDoc, false), "1:1: UTF-16 text: save the file as UTF-8"},
		{"utf-16le json", utf16(jsonDoc, true), "1:1: UTF-16 text: save the file as UTF-8"},
		{"utf-16le without bom", utf16(jsonDoc, true)[2:], "1:1: UTF-16 text: save the file as UTF-8"},
		{"utf-32le", append([]byte{0xFF, 0xFE, 0, 0}, '{', 0, 0, 0, '}', 0, 0, 0), "1:1: UTF-32 text: save the file as UTF-8"},
		{"utf-32be", append([]byte{0, 0, 0xFE, 0xFF}, 0, 0, 0, '{', 0, 0, 0, '}'), "1:1: UTF-32 text: save the file as UTF-8"},
		{"nul yaml", []byte("id: WEB\ninbound_rules: []\nout\x00bound_rules: []\n"), "3:4: binary file: a NUL byte; a repository file is UTF-8 text"},
		{"nul json after bom and crlf", []byte("\ufeff{\"id\": \"WEB\",\r\n \"inbound_rules\": [],\r\n \"é\x00\": []}"), "3:4: binary file: a NUL byte; a repository file is UTF-8 text"},
		{"nul before invalid utf-8", []byte("id: \xff\n\x00"), "2:1: binary file: a NUL byte; a repository file is UTF-8 text"},
		{"binary", []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0x0d}, "3:1: binary file: a NUL byte; a repository file is UTF-8 text"},
		{"invalid utf-8 yaml", []byte("id: WEB\ntags: [\"é\xe9\"]\ninbound_rules: []\noutbound_rules: []\n"), "2:10: invalid UTF-8 (byte 0xe9): save the file as UTF-8"},
		{"invalid utf-8 json crlf", []byte("{\"id\": \"WEB\",\r\n \"tags\": [\"é\xe9\"],\r\n \"inbound_rules\": [], \"outbound_rules\": []}"), "2:13: invalid UTF-8 (byte 0xe9): save the file as UTF-8"},
		{"truncated utf-8 at the end", []byte("id: WEB\n# caf\xc3"), "2:6: invalid UTF-8 (byte 0xc3): save the file as UTF-8"},
	} {
		for _, path := range []string{"profiles/WEB.yaml", "profiles/WEB.json", "stdin"} {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				want := path + ":" + tc.want
				var errs Errors
				if path == "stdin" {
					_, _, _, _, errs = DecodeRules(path, tc.data)
				} else {
					_, errs = Load(map[string][]byte{path: tc.data})
				}
				if got := errLines(errs); got != want {
					t.Errorf("errors:\n%s\nwant:\n%s", got, want)
				}
			})
		}
	}
}

// Characters that make a file read differently from what an editor, `git diff` or a review
// shows are refused anywhere, comments and strings included, at the position an editor shows
// (only LF and CRLF end lines), through every entry point: profile files in YAML and JSON
// (Load) and the JSON of `rule update` (DecodeRules).
func TestTextHiddenCharacters(t *testing.T) {
	const lineBreak = ": the YAML parser reads a line break there, editors and git show none; remove it (end lines with LF or CRLF)"
	const control = ": remove it (tabs and line breaks are the only control characters a repository file may hold)"
	const bidi = ": it makes text display in another order than it is read; remove it"
	for _, tc := range []struct {
		name, c, msg string
	}{
		{"lone cr", "\r", "a carriage return not followed by a line feed: use LF or CRLF line endings"},
		{"nel", "\u0085", "a next-line character (U+0085, NEL)" + lineBreak},
		{"line separator", "\u2028", "a line separator (U+2028)" + lineBreak},
		{"paragraph separator", "\u2029", "a paragraph separator (U+2029)" + lineBreak},
		{"soh", "\x01", "a control character (U+0001)" + control},
		{"bell", "\a", "a control character (U+0007, bell)" + control},
		{"backspace", "\b", "a control character (U+0008, backspace)" + control},
		{"vertical tab", "\v", "a control character (U+000B, vertical tab)" + control},
		{"form feed", "\f", "a control character (U+000C, form feed)" + control},
		{"ctrl-z", "\x1a", "a control character (U+001A, substitute, Ctrl-Z)" + control},
		{"escape", "\x1b", "a control character (U+001B, escape)" + control},
		{"unit separator", "\x1f", "a control character (U+001F)" + control},
		{"delete", "\x7f", "a control character (U+007F, delete)" + control},
		{"c1 first", "\u0080", "a control character (U+0080)" + control},
		{"c1 csi", "\u009b", "a control character (U+009B)" + control},
		{"c1 last", "\u009f", "a control character (U+009F)" + control},
		{"lre", "\u202a", "a bidirectional-text control (U+202A, left-to-right embedding)" + bidi},
		{"rle", "\u202b", "a bidirectional-text control (U+202B, right-to-left embedding)" + bidi},
		{"pdf", "\u202c", "a bidirectional-text control (U+202C, pop directional formatting)" + bidi},
		{"lro", "\u202d", "a bidirectional-text control (U+202D, left-to-right override)" + bidi},
		{"rlo", "\u202e", "a bidirectional-text control (U+202E, right-to-left override)" + bidi},
		{"lri", "\u2066", "a bidirectional-text control (U+2066, left-to-right isolate)" + bidi},
		{"rli", "\u2067", "a bidirectional-text control (U+2067, right-to-left isolate)" + bidi},
		{"fsi", "\u2068", "a bidirectional-text control (U+2068, first strong isolate)" + bidi},
		{"pdi", "\u2069", "a bidirectional-text control (U+2069, pop directional isolate)" + bidi},
		{"lrm", "\u200e", "a bidirectional-text control (U+200E, left-to-right mark)" + bidi},
		{"rlm", "\u200f", "a bidirectional-text control (U+200F, right-to-left mark)" + bidi},
		{"alm", "\u061c", "a bidirectional-text control (U+061C, Arabic letter mark)" + bidi},
	} {
		for _, doc := range []struct {
			where, path, text, pos string
		}{
			// The finding's hidden rule: a second rule after a comment, on what shows as one line.
			{"yaml comment", "profiles/WEB.yaml",
				"id: WEB\ntags: [WEB]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [80, 443]   # é web" + tc.c + "  - action: allow\noutbound_rules: []\n", "6:35"},
			{"yaml value", "profiles/WEB.yaml", "id: WEB\ntags: [\"W" + tc.c + "EB\"]\ninbound_rules: []\noutbound_rules: []\n", "2:10"},
			{"yaml first byte", "profiles/WEB.yaml", tc.c + "id: WEB\n", "1:1"},
			{"yaml last byte", "profiles/WEB.yaml", "id: WEB\ninbound_rules: []\noutbound_rules: []\n" + tc.c, "4:1"},
			{"json string", "profiles/WEB.json",
				"{\"id\": \"WEB\",\n \"inbound_rules\": [{\"action\": \"allow\", \"src_tag\": \"é" + tc.c + "x\"}],\n \"outbound_rules\": []}\n", "2:53"},
			{"json between tokens", "profiles/WEB.json", "{\"id\": \"WEB\"," + tc.c + " \"inbound_rules\": [], \"outbound_rules\": []}\n", "1:14"},
			{"rules json", "stdin",
				"{\n  \"inbound_rules\": [{\"action\": \"allow\", \"src_tag\": \"é" + tc.c + "\"}],\n  \"outbound_rules\": []\n}\n", "2:54"},
		} {
			for variant, data := range textVariants(doc.text) {
				t.Run(tc.name+"/"+doc.where+"/"+variant, func(t *testing.T) {
					var errs Errors
					if doc.path == "stdin" {
						_, _, _, _, errs = DecodeRules(doc.path, []byte(data))
					} else {
						_, errs = Load(map[string][]byte{doc.path: []byte(data)})
					}
					want := doc.path + ":" + doc.pos + ": " + tc.msg
					if got := errLines(errs); got != want {
						t.Errorf("errors:\n%s\nwant:\n%s", got, want)
					}
				})
			}
		}
	}
	// Accepted around them: TAB, CRLF, a byte-order mark, other non-ASCII characters (a
	// no-break space shows as a space; look-alikes in ids and tags are the checks' business).
	for _, tc := range []struct{ name, path, doc string }{
		{"tabs and crlf", "profiles/WEB.yaml", "\ufeffid: WEB\t# tab\r\ninbound_rules: []\r\noutbound_rules: []\r\n"},
		{"json with tabs and crlf", "profiles/WEB.json", "{\t\"id\": \"WEB\",\r\n\t\"inbound_rules\": [],\r\n\t\"outbound_rules\": []}\r\n"},
		{"non-ascii letters and symbols", "profiles/WEB.yaml", "id: WEB # café → ü ‐ “quotes” 中文 \u00a0nbsp\ninbound_rules: []\noutbound_rules: []\n"},
	} {
		if _, errs := Load(map[string][]byte{tc.path: []byte(tc.doc)}); errs != nil {
			t.Errorf("%s: %v", tc.name, errs)
		}
	}
}

// More than one refused character: the first is reported (one error per file: the rest of
// the file is not read), and a CR that ends a CRLF is not lone even after a lone one.
func TestTextFirstProblem(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"cr before crlf", "id: WEB\r\r\ninbound_rules: []\n", "1:8: a carriage return not followed by a line feed: use LF or CRLF line endings"},
		{"cr at the end", "id: WEB\r\ninbound_rules: []\r", "2:18: a carriage return not followed by a line feed: use LF or CRLF line endings"},
		{"invalid utf-8 first", "id: WEB\n# \xff \u2028\n", "2:3: invalid UTF-8 (byte 0xff): save the file as UTF-8"},
		{"separator first", "id: WEB\n# \u2028 \xff\n", "2:3: a line separator (U+2028): the YAML parser reads a line break there, editors and git show none; remove it (end lines with LF or CRLF)"},
		{"nul wins", "id: \u202e\n\x00", "2:1: binary file: a NUL byte; a repository file is UTF-8 text"},
		{"after tabs and bom", "\ufeff\t\t\u202eid: WEB\n", "1:3: a bidirectional-text control (U+202E, right-to-left override): it makes text display in another order than it is read; remove it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := Load(map[string][]byte{"profiles/WEB.yaml": []byte(tc.data)})
			if got, want := errLines(errs), "profiles/WEB.yaml:"+tc.want; got != want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
