package nft

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// TestKernelCompileGoldens loads every golden ruleset of the compile package with `nft -f`,
// reads it back with Observe (no rule may be unknown to the decoder), applies the observed
// model with Apply in a twin namespace and checks both namespaces hold the same bytecode.
func TestKernelCompileGoldens(t *testing.T) {
	testenv.RequireKernel(t)
	files, err := filepath.Glob("../compile/testdata/*.nft")
	if err != nil || len(files) == 0 {
		t.Fatalf("no compile golden files (%v)", err)
	}
	ctx := context.Background()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			fields := strings.Fields(text)
			if len(fields) < 3 || fields[0] != "table" || fields[1] != "inet" {
				// compile renders one inet table, and Observe and Apply handle only inet
				// tables: a golden that is something else is broken or not a compile golden,
				// and skipping it would hide it from this test, so it fails (CI or not).
				t.Fatalf("%s does not start with \"table inet NAME\" (compile goldens are one inet table)", f)
			}
			table := fields[2]
			k, ns := newKernel(t, "gold")
			nftFile(t, ns, text)
			got, err := k.Observe(ctx, table)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("table not found")
			}
			for _, c := range got.Chains {
				for _, r := range c.Rules {
					for _, m := range r.Matches {
						if m.Kind == MatchUnknown {
							t.Errorf("chain %q: rule read back with an unknown match: %s", c.Name, r)
						}
					}
				}
			}
			k2, ns2 := newKernel(t, "gold2")
			if err := k2.Apply(ctx, got); err != nil {
				t.Fatal(err)
			}
			text1, code1 := listTable(t, ns, table)
			text2, code2 := listTable(t, ns2, table)
			if text1 != text2 || code1 != code2 {
				t.Errorf("Apply(Observe(nft -f golden)) holds another ruleset:\n--- nft -f\n%s\n--- Apply\n%s", code1, code2)
			}
		})
	}
}
