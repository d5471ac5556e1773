package compile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// TestGoldenAcceptedByKernel loads every golden ruleset into a private network namespace:
// `nft -c -f` must accept it, `nft -f` must load it, and `nft list table` must show every
// chain, set and map of the file.
func TestGoldenAcceptedByKernel(t *testing.T) {
	testenv.RequireKernel(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.nft"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	ns := testenv.NewNetns(t, "compile")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			table := tableName(t, string(text))
			testenv.NetnsRun(t, ns, "nft", "-c", "-f", f)
			testenv.NetnsRun(t, ns, "nft", "-f", f)
			t.Cleanup(func() { testenv.NetnsRun(t, ns, "nft", "delete", "table", "inet", table) })
			listed := testenv.NetnsRun(t, ns, "nft", "list", "table", "inet", table)
			for _, line := range strings.Split(string(text), "\n") {
				f := strings.Fields(line)
				if len(f) == 3 && (f[0] == "chain" || f[0] == "set" || f[0] == "map") && f[2] == "{" {
					if !strings.Contains(listed, "\t"+f[0]+" "+f[1]+" {") {
						t.Errorf("%s %s missing from nft list:\n%s", f[0], f[1], listed)
					}
				}
			}
			if n, m := strings.Count(string(text), "comment \""), strings.Count(listed, "comment \""); n != m {
				t.Errorf("%d comments in the file, %d listed:\n%s", n, m, listed)
			}
		})
	}
}

func tableName(t *testing.T, text string) string {
	t.Helper()
	first, _, _ := strings.Cut(text, "\n")
	f := strings.Fields(first)
	if len(f) != 4 || f[0] != "table" || f[1] != "inet" {
		t.Fatalf("unexpected first line %q", first)
	}
	return f[2]
}
