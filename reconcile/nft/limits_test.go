package nft

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

// limitBase is sampleRuleset without its goto from profile-in-WEB to to-web-1 (a chain loop
// the fake refuses, which would hide what these cases check).
func limitBase() *Ruleset {
	rs := sampleRuleset("rlimits")
	chainNamed(rs, "profile-in-WEB").Rules[14].Verdict = Verdict{Kind: Accept}
	return rs
}

// limitCases edit limitBase to put one name or string at its limit (ok) or past it. nft
// says whether `nft -c -f` of the String() text refuses it: true where nft or the kernel
// refuses, false where the text would load but mean something else (a quote rendered as ', a
// wildcard, a variable) and only our checks stand between the model and that other meaning.
var limitCases = []struct {
	name string
	ok   bool
	nft  bool
	edit func(rs *Ruleset)
}{
	{"comment of MaxComment bytes", true, false, func(rs *Ruleset) {
		chainNamed(rs, "profile-in-WEB").Rules[0].Comment = strings.Repeat("c", limits.MaxComment)
	}},
	{"set comment of MaxComment bytes", true, false, func(rs *Ruleset) { rs.Sets[1].Comment = strings.Repeat("c", limits.MaxComment) }},
	{"interface of MaxIfname bytes", true, false, func(rs *Ruleset) { rs.Maps[0].Elements[1].Key = strings.Repeat("i", limits.MaxIfname) }},
	{"log prefix of MaxKernelLogPrefix bytes", true, false, func(rs *Ruleset) {
		chainNamed(rs, "profile-in-WEB").Rules[3].Log.Prefix = strings.Repeat("p", limits.MaxKernelLogPrefix)
	}},
	{"chain name of MaxName bytes", true, false, func(rs *Ruleset) { renameChain(rs, "to-web-1", strings.Repeat("t", limits.MaxName)) }},
	{"table name of MaxName bytes", true, false, func(rs *Ruleset) { rs.Table = strings.Repeat("r", limits.MaxName) }},

	{"comment of MaxComment+1 bytes", false, true, func(rs *Ruleset) {
		chainNamed(rs, "profile-in-WEB").Rules[0].Comment = strings.Repeat("c", limits.MaxComment+1)
	}},
	{"set comment of MaxComment+1 bytes", false, true, func(rs *Ruleset) { rs.Sets[1].Comment = strings.Repeat("c", limits.MaxComment+1) }},
	// nft takes '$' in a comment; CheckText refuses it in every string, as in log prefixes.
	{"map comment with $", false, false, func(rs *Ruleset) { rs.Maps[2].Comment = "to $endpoints" }},
	{"comment with a quote", false, false, func(rs *Ruleset) { chainNamed(rs, "profile-in-WEB").Rules[0].Comment = `say "hi"` }},
	{"interface of MaxIfname+1 bytes", false, true, func(rs *Ruleset) { rs.Maps[0].Elements[1].Key = strings.Repeat("i", limits.MaxIfname+1) }},
	{"wildcard interface", false, false, func(rs *Ruleset) { rs.Maps[0].Elements[1].Key = "cali*" }},
	{"iifname with a space", false, false, func(rs *Ruleset) { chainNamed(rs, "profile-in-WEB").Rules[13].Matches[1].Str = "cali web" }},
	{"log prefix of MaxKernelLogPrefix+1 bytes", false, true, func(rs *Ruleset) {
		chainNamed(rs, "profile-in-WEB").Rules[3].Log.Prefix = strings.Repeat("p", limits.MaxKernelLogPrefix+1)
	}},
	{"log prefix with $", false, true, func(rs *Ruleset) { chainNamed(rs, "profile-in-WEB").Rules[3].Log.Prefix = "WEB$in" }},
	{"chain name of MaxName+1 bytes", false, true, func(rs *Ruleset) { renameChain(rs, "to-web-1", strings.Repeat("t", limits.MaxName+1)) }},
	{"chain named like a keyword", false, true, func(rs *Ruleset) { renameChain(rs, "to-web-1", "accept") }},
	{"set name starting with a digit", false, true, func(rs *Ruleset) {
		rs.Sets[1].Name = "6-empty"
		chainNamed(rs, "profile-in-WEB").Rules[5].Matches[2].Str = "6-empty"
	}},
	{"table named like a keyword", false, true, func(rs *Ruleset) { rs.Table = "policy" }},
	{"table name of MaxName+1 bytes", false, true, func(rs *Ruleset) { rs.Table = strings.Repeat("r", limits.MaxName+1) }},
}

// renameChain renames a chain and every jump, goto and map element that goes to it.
func renameChain(rs *Ruleset, from, to string) {
	for _, c := range rs.Chains {
		if c.Name == from {
			c.Name = to
		}
		for _, r := range c.Rules {
			if r.Verdict.Chain == from {
				r.Verdict.Chain = to
			}
		}
	}
	for _, m := range rs.Maps {
		for i := range m.Elements {
			if m.Elements[i].Verdict.Chain == from {
				m.Elements[i].Verdict.Chain = to
			}
		}
	}
}

// TestLimitsAgree: the text renderer's check (CheckText), the kernel encoder and the fake
// refuse exactly the same over-limit names and strings, and take the values at the limits.
func TestLimitsAgree(t *testing.T) {
	for _, tc := range limitCases {
		t.Run(tc.name, func(t *testing.T) {
			rs := limitBase()
			tc.edit(rs)
			textErr := rs.CheckText()
			_, encErr := encode(rs)
			fakeErr := ValidateFake(rs)
			for what, err := range map[string]error{"CheckText": textErr, "the encoder": encErr, "the fake": fakeErr} {
				if (err == nil) != tc.ok {
					t.Errorf("%s: %v (want ok=%v)", what, err, tc.ok)
				}
			}
		})
	}
}

// TestLimitsAgreeWithNft checks the same cases with nft itself in a private namespace: the
// text of every model at the limits loads (`nft -c -f`), and nft refuses the text of every
// over-limit model that it can tell (the others load with another meaning, which is why
// CheckText refuses them).
func TestLimitsAgreeWithNft(t *testing.T) {
	testenv.RequireKernel(t)
	ns := testenv.NewNetns(t, "nftlim")
	for _, tc := range limitCases {
		if !tc.ok && !tc.nft {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			rs := limitBase()
			tc.edit(rs)
			f := filepath.Join(t.TempDir(), "rs.nft")
			if err := os.WriteFile(f, []byte(rs.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("ip", "netns", "exec", ns, "nft", "-c", "-f", f).CombinedOutput()
			if (err == nil) != tc.ok {
				t.Errorf("nft -c -f: %v (want ok=%v)\n%s", err, tc.ok, out)
			}
		})
	}
}

func chainNamed(rs *Ruleset, name string) *Chain {
	for _, c := range rs.Chains {
		if c.Name == name {
			return c
		}
	}
	panic("no chain " + name)
}
