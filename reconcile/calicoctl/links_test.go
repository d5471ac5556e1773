package calicoctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The calicoctl commands read the checkout with the rules of validate --dir and git sources: a
// link is never followed, so no command reads or rewrites a file outside the repository (or
// replaces a link with a file), and the refused entry is named.
func TestCommandsRefuseLinks(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "WEB.yaml")
	const web = "id: WEB\ntags: [WEB]\ninbound_rules: []\noutbound_rules: []\n"
	if err := os.WriteFile(outside, []byte(web), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRepo(t, map[string]string{
		"profiles/APP.yaml": "id: APP\ntags: [APP]\ninbound_rules: []\noutbound_rules: []\n",
		"endpoints/e.yaml":  "endpoints:\n  - {id: web-1, host: node-1, interface: caliweb1, profile_ids: [APP]}\n",
	})
	link := filepath.Join(r.dir, "profiles", "WEB.yaml")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"profile", "WEB", "tag", "add", "X"},
		{"profile", "add", "WEB"},
		{"profile", "remove", "WEB"},
		{"profile", "show"},
		{"profile", "WEB", "rule", "add", "inbound", "allow"},
		{"endpoint", "web-1", "profile", "append", "WEB"},
	} {
		res := r.run("", args...)
		if res.code != 1 || !strings.Contains(res.stderr, "profiles/WEB.yaml: a symbolic link (links are not followed): put the file itself here") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 naming the link", strings.Join(args, " "), res.code, res.stdout, res.stderr)
		}
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != web {
		t.Errorf("the file outside the repository changed: %q, %v", b, err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", st, err)
	}
}
