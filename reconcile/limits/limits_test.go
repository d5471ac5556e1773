package limits_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"reconcile", "a", "my-table", "my_table", "my.table", "A1", "from-web-1", "tag-v4-APP_7890", strings.Repeat("a", limits.MaxName)} {
		if err := limits.CheckName("chain", ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for name, want := range map[string]string{
		"":                                    "chain name is empty",
		strings.Repeat("a", limits.MaxName+1): "is 256 bytes; nf_tables names are at most 255",
		"1abc":                                `does not start with a letter`,
		"-x":                                  `does not start with a letter`,
		"_x":                                  `does not start with a letter`,
		"a b":                                 `contains " "`,
		`a"b`:                                 `contains "\""`,
		"a/b":                                 `contains "/"`,
		"a:b":                                 `contains ":"`,
		"policy":                              `chain name "policy" is an nft keyword`,
		"accept":                              "is an nft keyword",
	} {
		err := limits.CheckName("chain", name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckName(%q) = %v, want an error containing %q", name, err, want)
		}
	}
}

func TestValidTableName(t *testing.T) {
	if err := limits.ValidTableName(strings.Repeat("t", limits.MaxTableName)); err != nil {
		t.Error(err)
	}
	for name, want := range map[string]string{
		"policy": `table name "policy" is an nft keyword`,
		"inet":   "is an nft keyword",
		`"x"`:    "does not start with a letter",
		strings.Repeat("t", limits.MaxTableName+1): "is 65 bytes; at most 64",
		"": "table name is empty",
	} {
		err := limits.ValidTableName(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidTableName(%q) = %v, want an error containing %q", name, err, want)
		}
	}
}

func TestCheckIfname(t *testing.T) {
	for _, ok := range []string{"eth0", "cali.web-1_x", "-x", ".x", "...", "1", strings.Repeat("i", limits.MaxIfname)} {
		if err := limits.CheckIfname(ok); err != nil {
			t.Errorf("CheckIfname(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", strings.Repeat("i", limits.MaxIfname+1), "veth*", "a b", `a"b`, `a\b`, "a:b", "a/b", "é"} {
		if err := limits.CheckIfname(bad); err == nil {
			t.Errorf("CheckIfname(%q) = nil, want an error", bad)
		}
	}
}

func TestCheckCommentAndLogPrefix(t *testing.T) {
	if err := limits.CheckComment(strings.Repeat("c", limits.MaxComment)); err != nil {
		t.Error(err)
	}
	if err := limits.CheckComment(strings.Repeat("c", limits.MaxComment+1)); err == nil || !strings.Contains(err.Error(), "nft takes at most 128") {
		t.Errorf("129-byte comment: %v", err)
	}
	if err := limits.CheckLogPrefix(strings.Repeat("p", limits.MaxKernelLogPrefix)); err != nil {
		t.Error(err)
	}
	if err := limits.CheckLogPrefix(strings.Repeat("p", limits.MaxKernelLogPrefix+1)); err == nil {
		t.Error("128-byte log prefix accepted")
	}
	for _, s := range []string{`a"b`, `a\b`, "a$b", "a\nb", "a\x00b", "é"} {
		if limits.CheckComment(s) == nil || limits.CheckLogPrefix(s) == nil {
			t.Errorf("%q accepted as a comment or log prefix", s)
		}
	}
	if err := limits.CheckComment("from web-1: ipv4 source not the endpoint's, 'x' 50%"); err != nil {
		t.Error(err)
	}
}

func TestKeywordsSorted(t *testing.T) {
	kw := limits.Keywords()
	if len(kw) < 100 || !slices.IsSorted(kw) || len(slices.Compact(slices.Clone(kw))) != len(kw) {
		t.Fatalf("keyword list is not a sorted list of distinct words (%d words)", len(kw))
	}
	for _, w := range kw {
		if !limits.IsKeyword(w) {
			t.Errorf("IsKeyword(%q) = false", w)
		}
	}
	if limits.IsKeyword("reconcile") {
		t.Error("reconcile is a keyword")
	}
}

// nftCheck runs `nft -c -f` on text inside ns and reports whether nft accepted it.
func nftCheck(t *testing.T, ns, text string) (bool, string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "check.nft")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "-c", "-f", f).CombinedOutput()
	return err == nil, string(out)
}

// TestLimitsAgainstNft checks the constants and the keyword list against the nft tool and the
// kernel, in a private network namespace: every listed keyword is refused as a table name
// and every name CheckName accepts is taken; the comment, name, interface and log prefix
// limits are exactly where nft and the kernel put them.
func TestLimitsAgainstNft(t *testing.T) {
	testenv.RequireKernel(t)
	ns := testenv.NewNetns(t, "limits")
	for _, w := range limits.Keywords() {
		if ok, _ := nftCheck(t, ns, "table inet "+w+" {}\n"); ok {
			t.Errorf("nft accepts the keyword %q as a table name: it should leave the list", w)
		}
	}
	for _, name := range []string{"reconcile", "filter", "my-table", "my_table", "my.table", "a1", "A", "from-web-1.x", strings.Repeat("n", limits.MaxName)} {
		if err := limits.CheckName("table", name); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if ok, out := nftCheck(t, ns, "table inet "+name+" {}\n"); !ok {
			t.Errorf("nft refuses table name %q:\n%s", name, out)
		}
	}
	for name, accepted := range map[string]bool{
		`"policy"`:                            false, // quoted names are not names
		strings.Repeat("n", limits.MaxName+1): false,
		"1abc":                                false,
	} {
		if ok, _ := nftCheck(t, ns, "table inet "+name+" {}\n"); ok != accepted {
			t.Errorf("nft -c of table %q: accepted %v, want %v", name, ok, accepted)
		}
	}

	rule := func(stmt string) string { return "table inet t {\n\tchain c {\n\t\t" + stmt + "\n\t}\n}\n" }
	for _, c := range []struct {
		what, text string
		want       bool
	}{
		{"comment of MaxComment bytes", rule(`counter comment "` + strings.Repeat("c", limits.MaxComment) + `"`), true},
		{"comment of MaxComment+1 bytes", rule(`counter comment "` + strings.Repeat("c", limits.MaxComment+1) + `"`), false},
		{"set comment of MaxComment+1 bytes", "table inet t {\n\tset s {\n\t\ttype ipv4_addr\n\t\tcomment \"" + strings.Repeat("c", limits.MaxComment+1) + "\"\n\t}\n}\n", false},
		{"log prefix of MaxKernelLogPrefix bytes", rule(`log prefix "` + strings.Repeat("p", limits.MaxKernelLogPrefix) + `"`), true},
		{"log prefix of MaxKernelLogPrefix+1 bytes", rule(`log prefix "` + strings.Repeat("p", limits.MaxKernelLogPrefix+1) + `"`), false},
		{"log prefix with $", rule(`log prefix "a$b"`), false},
		{"interface of MaxIfname bytes", rule(`iifname "` + strings.Repeat("i", limits.MaxIfname) + `" accept`), true},
		{"interface of MaxIfname+1 bytes", rule(`iifname "` + strings.Repeat("i", limits.MaxIfname+1) + `" accept`), false},
		{"chain name of MaxName bytes", "table inet t {\n\tchain " + strings.Repeat("c", limits.MaxName) + " {\n\t}\n}\n", true},
		{"chain name of MaxName+1 bytes", "table inet t {\n\tchain " + strings.Repeat("c", limits.MaxName+1) + " {\n\t}\n}\n", false},
	} {
		if ok, out := nftCheck(t, ns, c.text); ok != c.want {
			t.Errorf("%s: nft -c accepted %v, want %v\n%s", c.what, ok, c.want, out)
		}
	}
	// Every interface name CheckIfname accepts is written literally in a map element.
	names := []string{"cali.web-1_x", "-x", ".x", "...", "1", "A_B", strings.Repeat("i", limits.MaxIfname)}
	var elems []string
	for _, n := range names {
		if err := limits.CheckIfname(n); err != nil {
			t.Fatal(err)
		}
		elems = append(elems, `"`+n+`" : accept`)
	}
	text := "table inet t {\n\tmap m {\n\t\ttype ifname : verdict\n\t\telements = { " + strings.Join(elems, ", ") + " }\n\t}\n}\n"
	f := filepath.Join(t.TempDir(), "ifnames.nft")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.NetnsRun(t, ns, "nft", "-f", f)
	listed := testenv.NetnsRun(t, ns, "nft", "list", "map", "inet", "t", "m")
	testenv.NetnsRun(t, ns, "nft", "delete", "table", "inet", "t")
	for _, n := range names {
		if !strings.Contains(listed, `"`+n+`" : accept`) {
			t.Errorf("interface %q not listed literally:\n%s", n, listed)
		}
	}
}

func TestCheckHostName(t *testing.T) {
	long := strings.Repeat(strings.Repeat("a", 62)+".", 4) + "b" // 253 bytes
	for _, ok := range []string{"node-1", "a", "NODE-1", "Host_2", "10", "h1.example.org", "-x", strings.Repeat("x", limits.MaxHostLabel), long} {
		if err := limits.CheckHostName(ok); err != nil {
			t.Errorf("CheckHostName(%q): %v", ok, err)
		}
	}
	const use = ": use ASCII letters, digits, '-', '_' and '.' (RFC 1123 host names)"
	for _, c := range []struct{ name, want string }{
		{"", "is empty: give a host name"},
		{long + "c", `"` + long[:40] + `…" is 254 bytes; host names are at most 253 (RFC 1123)`},
		{"n\u043ede-1", `"nоde-1" contains "о" (U+043E)` + use},
		{"node-1\u200b", `"node-1\u200b" contains "\u200b" (U+200B)` + use},
		{"node 1", `"node 1" contains a space` + use},
		{"node-1\t", `"node-1\t" contains "\t" (U+0009)` + use},
		{"node-1\x7f", `"node-1\x7f" contains "\x7f" (U+007F)` + use},
		{"node\xff", `"node\xff" contains the byte 0xff (not UTF-8)` + use},
		{"node-1.", `"node-1." starts or ends with '.': write the name without it (RFC 1123)`},
		{".", `"." starts or ends with '.': write the name without it (RFC 1123)`},
		{"a..b", `"a..b" has an empty label (".."): RFC 1123 labels are 1-63 bytes`},
		{"a." + strings.Repeat("x", 64), `"a.` + strings.Repeat("x", 38) + `…" has a label of 64 bytes; labels (between dots) are at most 63 (RFC 1123)`},
	} {
		err := limits.CheckHostName(c.name)
		if err == nil || err.Error() != c.want {
			t.Errorf("CheckHostName(%q) = %v\nwant %s", c.name, err, c.want)
		}
	}
}
