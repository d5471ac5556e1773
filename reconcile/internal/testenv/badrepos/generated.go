package badrepos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf16"
)

// Gen is how a generated case makes its entries.
type Gen struct {
	Gen     func(repo, outside string) error
	DirOnly bool          // cannot be committed to git
	Timeout time.Duration // bounds each run (badrepos.Timeout when 0)
}

// webProfile is a valid profile, the target of the link cases.
const webProfile = "id: WEB\ntags: [WEB]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [80]\n"

// HugeSize is the size of the huge case's file: over the 8 MiB that a repository file may
// have (git.MaxFileSize).
const HugeSize = 8<<20 + 4096

// Generated are the cases whose entries are made at run time, by case name.
var Generated = map[string]Gen{
	// NUL bytes: a binary file where a profile is expected.
	"080-binary-nul": {Gen: func(repo, _ string) error {
		return write(repo, "profiles/WEB.yaml", "id: WEB\ntags: [WEB]\n\x00\x01\x02\x03\xfe\xff\x00binary\n")
	}},
	// Invalid UTF-8 inside a quoted value.
	"081-invalid-utf8": {Gen: func(repo, _ string) error {
		return write(repo, "profiles/WEB.yaml", "id: WEB\ntags: [\"W\xffEB\"]\n")
	}},
	// A JSON profile in UTF-16LE with its byte-order mark (what some Windows editors save).
	"082-utf16-bom": {Gen: func(repo, _ string) error {
		text := `{"id": "WEB", "tags": ["WEB"]}` + "\n"
		u := utf16.Encode([]rune(text))
		b := []byte{0xff, 0xfe}
		for _, r := range u {
			b = append(b, byte(r), byte(r>>8))
		}
		return write(repo, "profiles/WEB.json", string(b))
	}},
	// 10,000 nested flow lists in a tags value.
	"083-deep-nesting": {Gen: func(repo, _ string) error {
		return write(repo, "profiles/DEEP.yaml", "id: DEEP\ntags: "+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+"\n")
	}},
	// 10,000 nested arrays in a JSON profile.
	"109-deep-nesting-json": {Gen: func(repo, _ string) error {
		return write(repo, "profiles/DEEP.json", `{"id": "DEEP", "tags": `+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+"}\n")
	}},
	// A valid profile padded with comments past the 8 MiB file limit.
	"084-huge-file": {Gen: func(repo, _ string) error {
		var b strings.Builder
		b.WriteString(webProfile)
		line := "# " + strings.Repeat("padding ", 12) + "\n"
		for b.Len() < HugeSize {
			b.WriteString(line)
		}
		return write(repo, "profiles/WEB.yaml", b.String())
	}},
	// A link to a file inside the repository (in a folder the format ignores).
	"085-symlink-inside": {Gen: func(repo, _ string) error {
		if err := write(repo, "shared/WEB.yaml", webProfile); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(repo, "profiles"), 0o755); err != nil {
			return err
		}
		return os.Symlink("../shared/WEB.yaml", filepath.Join(repo, "profiles", "WEB.yaml"))
	}},
	// A link to a file outside the repository (absolute target).
	"086-symlink-outside": {Gen: func(repo, outside string) error {
		if err := write(outside, "WEB.yaml", webProfile); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(repo, "profiles"), 0o755); err != nil {
			return err
		}
		return os.Symlink(filepath.Join(outside, "WEB.yaml"), filepath.Join(repo, "profiles", "WEB.yaml"))
	}},
	// An endpoints file whose name is not UTF-8 (Latin-1 "é"); its content is valid.
	"087-non-utf8-file-name": {Gen: func(repo, _ string) error {
		return write(repo, "endpoints/caf\xe9.yaml", "endpoints:\n  - id: web-1\n    host: node-1\n    interface: caliweb1\n    ipv4_nets: [198.18.1.2/32]\n    profile_ids: [WEB]\n")
	}},
	// A FIFO where a profile is expected: reading it would block forever.
	"088-fifo": {DirOnly: true, Timeout: 5 * time.Second, Gen: func(repo, _ string) error {
		if err := os.MkdirAll(filepath.Join(repo, "profiles"), 0o755); err != nil {
			return err
		}
		return syscall.Mkfifo(filepath.Join(repo, "profiles", "WEB.yaml"), 0o644)
	}},
	// A link that points nowhere.
	"089-symlink-dangling": {Gen: func(repo, _ string) error {
		if err := os.MkdirAll(filepath.Join(repo, "profiles"), 0o755); err != nil {
			return err
		}
		return os.Symlink("NOWHERE.yaml", filepath.Join(repo, "profiles", "WEB.yaml"))
	}},
	// The hidden rule of issue 7 (H1): after a comment, a line separator (U+2028), which the
	// YAML parser reads as a line break and editors and git diff show as nothing, then a
	// second rule that allows everything. One line in an editor.
	"116-hidden-rule-line-separator": {Gen: func(repo, _ string) error {
		return write(repo, "profiles/WEB.yaml", hiddenRule("\u2028"))
	}},
	// The same with NEL (U+0085).
	"117-hidden-rule-nel": {Gen: func(repo, _ string) error {
		return write(repo, "profiles/WEB.yaml", hiddenRule("\u0085"))
	}},
	// The same with a lone carriage return in a LF file.
	"118-hidden-rule-lone-cr": {Gen: func(repo, _ string) error {
		return write(repo, "profiles/WEB.yaml", hiddenRule("\r"))
	}},
	// "Trojan Source": a right-to-left override in a comment of an endpoints file.
	"119-bidi-override-comment": {Gen: func(repo, _ string) error {
		return write(repo, "endpoints/lab.yaml", "endpoints:\n  - id: web-1 # \u202e} ]BEW[ :sdi_eliforp {\u202c\n    host: node-1\n    interface: caliweb1\n")
	}},
	// A form feed (a control character) in a JSON file, between tokens.
	"120-control-character-json": {Gen: func(repo, _ string) error {
		return write(repo, "profiles/WEB.json", "{\"id\": \"WEB\",\n \"tags\": [\"WEB\"],\f\n \"inbound_rules\": []}\n")
	}},
	// A file name with a line feed (and one with an escape sequence): validate prints one line
	// per problem, the name escaped.
	"121-file-name-control-characters": {Gen: func(repo, _ string) error {
		if err := write(repo, "profiles/WEB\n:1:1: ok.yaml", "id: WEB\n"); err != nil {
			return err
		}
		return write(repo, "endpoints/\x1b[2Jlab.yaml", "endpoints: []\n")
	}},
	// ':' in a file name would make "path:line:col: message" ambiguous (and cannot be checked
	// out on Windows; Go module file paths may not hold it either, hence generated).
	"164-file-name-colon": {Gen: func(repo, _ string) error {
		return write(repo, "tests/t:9:9: hi.yaml", "tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 80, expect: allow, colour: red}\n")
	}},
	// A submodule at tests/ in a clone without --recurse-submodules: .gitmodules names it and the
	// folder is empty (git commits .gitmodules only: the commit's git link is what --repo sees
	// in a real repository, tested in reconcile/source/git).
	"122-submodule-plain-clone": {Gen: func(repo, _ string) error {
		if err := write(repo, ".gitmodules", "[submodule \"tests\"]\n\tpath = tests\n\turl = https://example.invalid/tests.git\n"); err != nil {
			return err
		}
		return os.MkdirAll(filepath.Join(repo, "tests"), 0o755)
	}},
	// A repository embedded in tests/ (a folder holding .git, with a commit): --dir sees the
	// folder with .git, --repo the git link that `git add` made of it.
	"127-embedded-repository": {Gen: func(repo, _ string) error {
		dir := filepath.Join(repo, "tests")
		if err := write(dir, "reach.yaml", "tests:\n  - {name: a, from: 198.18.1.2, to: 198.18.1.3, protocol: tcp, port: 80, expect: allow}\n"); err != nil {
			return err
		}
		for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "tests"}} {
			c := exec.Command("git", args...)
			c.Dir, c.Env = dir, gitEnv()
			if out, err := c.CombinedOutput(); err != nil {
				return fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return nil
	}},
}

// hiddenRule is the finding's profile: a second rule after a comment and the character c.
func hiddenRule(c string) string {
	return "id: WEB\ntags: [WEB]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [80, 443]   # public web ports" +
		c + "  - action: allow\noutbound_rules: []\n"
}

// write writes content to the slash path rel under root, making its directories.
func write(root, rel, content string) error {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(content), 0o644)
}
