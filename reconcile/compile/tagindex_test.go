package compile

import (
	"reflect"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
	"github.com/reconcile-dev/reconcile/schema"
)

// TestTagIndexSameRulesets: compiling every host with a shared TagIndex gives exactly the
// rulesets (and errors) of compiling each without one, over the pipeline test's generated
// repositories.
func TestTagIndexSameRulesets(t *testing.T) {
	hosts := 0
	for seed := uint64(0); seed < 250; seed++ {
		r := repogen.Generate(repogen.FromSeed(seed))
		repo, errs := schema.LoadFiles(r.Files, nil)
		if len(errs) > 0 || repo == nil {
			continue
		}
		idx := NewTagIndex(repo)
		for _, h := range r.Hosts {
			want, werr := Compile(repo, Options{Host: h})
			got, gerr := Compile(repo, Options{Host: h, Tags: idx})
			if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
				t.Fatalf("seed %d host %s: error %v with the index, %v without", seed, h, gerr, werr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d host %s: the ruleset differs with the index:\n%s\nwithout:\n%s", seed, h, got, want)
			}
			hosts++
		}
	}
	if hosts < 100 {
		t.Fatalf("only %d hosts compiled: the generator changed?", hosts)
	}
}
