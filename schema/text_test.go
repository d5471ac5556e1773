package schema

import (
	"strings"
	"testing"
)

// textVariants are the same document as editors write it: with a UTF-8 byte-order mark, with
// CRLF or CR line breaks, or both. Each must decode to the same values and the same errors, at
// the same line and column, as the plain LF file.
func textVariants(doc string) map[string]string {
	crlf := strings.ReplaceAll(doc, "\n", "\r\n")
	return map[string]string{
		"lf":       doc,
		"bom":      "\ufeff" + doc,
		"crlf":     crlf,
		"bom+crlf": "\ufeff" + crlf,
		"cr":       strings.ReplaceAll(doc, "\n", "\r"),
	}
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
