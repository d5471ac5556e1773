package nft

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// This file is the Dataplane conformance table: one list of cases, each a sequence of
// applies with the outcome the kernel gives (accepted, or refused with a class of error), run
// with the very same assertions against the fake and against the kernel dataplane in a
// private network namespace. After an accepted apply Observe must return the model's
// canonical form; after a refused one the table must be what it was before. When the fake and
// the kernel disagree, one of the two subtests fails on that case.

// Error classes of a refused apply. classify maps an error of either implementation (the
// kernel's encoder, the kernel over netlink, the fake) to one of them.
const (
	errOverlap   = "overlapping interval elements"
	errMissing   = "reference to something missing"
	errName      = "name too long"
	errComment   = "comment too long"
	errIfname    = "interface name not 1 to 15 bytes"
	errDuplicate = "declared twice"
	errLogPrefix = "log prefix too long"
	// errLoop is a jump loop reachable from a base chain or chains nested as deep as the
	// kernel's jump stack (16) below one: Linux 6.x finds loops by that depth and says EMLINK
	// for both; the fake says ELOOP for a loop.
	errLoop    = "jump loop or jumps nested too deep"
	errBase    = "jump or goto to a base chain"
	errType    = "set or prefix of the other family"
	errInvalid = "invalid model"
)

var errClasses = []struct {
	class string
	errno syscall.Errno
	re    *regexp.Regexp
}{
	{errLoop, syscall.ELOOP, regexp.MustCompile(`(?i)loop`)},
	{errLoop, syscall.EMLINK, regexp.MustCompile(`(?i)deeper|too many links`)},
	{errInvalid, 0, regexp.MustCompile(`cannot be applied|table name is empty|table without a name`)},
	{errBase, syscall.EOPNOTSUPP, regexp.MustCompile(`to base chain`)},
	// The kernel says no more than ERANGE for userdata (a comment) over NFT_USERDATA_MAXLEN;
	// names and log prefixes over their limits are refused before, with messages.
	{errComment, syscall.ERANGE, regexp.MustCompile(`comment ("[^"]*" )?(is|of) \d+ bytes`)},
	{errLogPrefix, 0, regexp.MustCompile(`log prefix`)},
	{errIfname, 0, regexp.MustCompile(`interface name`)},
	{errName, 0, regexp.MustCompile(`name (of )?\d+ bytes|name "[^"]*" is \d+ bytes`)},
	{errOverlap, 0, regexp.MustCompile(`overlap`)},
	{errType, 0, regexp.MustCompile(`is of type|does not hold|is not an IPv[46] prefix`)},
	{errDuplicate, 0, regexp.MustCompile(`twice|already a set or map`)},
	{errMissing, syscall.ENOENT, regexp.MustCompile(`does not exist|does not declare|is not declared`)},
}

// classify returns the class of an apply error, or errInvalid.
func classify(err error) string {
	for _, c := range errClasses {
		if c.re.MatchString(err.Error()) {
			return c.class
		}
	}
	for _, c := range errClasses {
		if c.errno != 0 && errors.Is(err, c.errno) {
			return c.class
		}
	}
	return errInvalid
}

// confStep is one apply and what must come of it: refused is "" when the apply must be
// accepted, else the class of the error.
type confStep struct {
	rs      *Ruleset
	refused string
}

type confCase struct {
	name  string
	steps []confStep
}

// confTable is the name of the table every case uses (each case first replaces it with the
// sample ruleset, so that a refused apply has something to leave unchanged).
const confTable = "conf"

func confChain(rs *Ruleset, name string) *Chain {
	for _, c := range rs.Chains {
		if c.Name == name {
			return c
		}
	}
	panic("no chain " + name)
}

// edited returns the sample ruleset changed by fn.
func edited(fn func(rs *Ruleset)) *Ruleset {
	rs := sampleRuleset(confTable)
	fn(rs)
	return rs
}

// withRule appends rule r to chain profile-out-WEB of the sample.
func withRule(r *Rule) *Ruleset {
	return edited(func(rs *Ruleset) {
		c := confChain(rs, "profile-out-WEB")
		c.Rules = append(c.Rules, r)
	})
}

// chainOfDepth returns the sample plus a line of n regular chains below base chain
// forward-from (forward-from -> d1 -> ... -> dn).
func chainOfDepth(n int) *Ruleset {
	return edited(func(rs *Ruleset) {
		prev := confChain(rs, "forward-from")
		for i := 1; i <= n; i++ {
			c := &Chain{Name: fmt.Sprintf("depth-%02d", i)}
			prev.Rules = append(prev.Rules, &Rule{Verdict: Verdict{Kind: Jump, Chain: c.Name}})
			rs.Chains = append(rs.Chains, c)
			prev = c
		}
	})
}

func ok(rs *Ruleset) confStep                { return confStep{rs: rs} }
func refused(rs *Ruleset, c string) confStep { return confStep{rs: rs, refused: c} }

func confCases() []confCase {
	x := func(n int) string { return strings.Repeat("x", n) }
	v4 := func(s ...string) []netip.Prefix { return pfx(s...) }
	return []confCase{
		// Accepted.
		{"sample", []confStep{ok(sampleRuleset(confTable))}},
		{"empty table", []confStep{ok(&Ruleset{Table: confTable})}},
		{"replace with another table", []confStep{
			ok(&Ruleset{Table: confTable, Chains: []*Chain{{Name: "only", Rules: []*Rule{{Verdict: Verdict{Kind: Accept}}}}}}),
			ok(sampleRuleset(confTable)),
			ok(sampleRuleset(confTable)),
		}},
		{"name of 255 bytes", []confStep{ok(edited(func(rs *Ruleset) {
			rs.Chains = append(rs.Chains, &Chain{Name: "c" + x(254)})
			rs.Sets = append(rs.Sets, &Set{Name: "s" + x(254), Type: SetIPv4})
			rs.Maps = append(rs.Maps, &Map{Name: "m" + x(254)})
		}))}},
		{"table name of 255 bytes", []confStep{ok(&Ruleset{Table: "t" + x(254)})}},
		{"comment of 128 bytes", []confStep{ok(edited(func(rs *Ruleset) {
			confChain(rs, "profile-out-WEB").Rules[0].Comment = x(128)
			rs.Sets[0].Comment = x(128)
			rs.Maps[0].Comment = x(128)
		}))}},
		{"log prefix of 127 bytes", []confStep{ok(withRule(&Rule{Log: &Log{Prefix: x(127)}}))}},
		{"interface names of 15 bytes", []confStep{ok(edited(func(rs *Ruleset) {
			rs.Maps[0].Elements[0].Key = x(15)
			confChain(rs, "profile-out-WEB").Rules[0].Matches = []Match{{Kind: MatchIIFName, Str: x(15)}, {Kind: MatchOIFName, Not: true, Str: "y" + x(14)}}
		}))}},
		{"jumps 15 deep below a base chain", []confStep{ok(chainOfDepth(15))}},
		{"loop that no base chain reaches", []confStep{ok(edited(func(rs *Ruleset) {
			// The sample already holds one (profile-in-WEB goto to-web-1, to-web-1 jump
			// profile-in-WEB); a second one, of its own:
			rs.Chains = append(rs.Chains,
				&Chain{Name: "loop-a", Rules: []*Rule{{Verdict: Verdict{Kind: Jump, Chain: "loop-b"}}}},
				&Chain{Name: "loop-b", Rules: []*Rule{{Verdict: Verdict{Kind: Goto, Chain: "loop-a"}}}})
		}))}},
		{"adjacent set elements", []confStep{ok(edited(func(rs *Ruleset) {
			rs.Sets[2].Prefixes = v4("198.18.0.0/24", "198.18.1.0/24", "198.18.2.0/23")
		}))}},
		{"unsorted model", []confStep{ok(edited(func(rs *Ruleset) {
			rs.Chains[0], rs.Chains[len(rs.Chains)-1] = rs.Chains[len(rs.Chains)-1], rs.Chains[0]
			rs.Sets[0], rs.Sets[2] = rs.Sets[2], rs.Sets[0]
			rs.Maps[0].Elements[0], rs.Maps[0].Elements[1] = rs.Maps[0].Elements[1], rs.Maps[0].Elements[0]
			rs.Sets[2].Prefixes = v4("198.19.0.0/16", "198.18.1.2/32")
		}))}},
		{"overlapping anonymous set elements", []confStep{ok(withRule(&Rule{
			Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddr, Family: IPv4, Prefixes: v4("198.18.0.0/15", "198.18.1.0/24")},
				{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchDPort, Ports: []PortRange{{8000, 8080}, {8080, 8090}, {0, 0}, {65535, 65535}}}},
			Verdict: Verdict{Kind: Accept},
		}))}},
		{"adjacent and unsorted port and type set elements", []confStep{ok(edited(func(rs *Ruleset) {
			rs.Sets[7].Ports = []PortRange{{8000, 8080}, {81, 81}, {80, 80}, {8081, 8081}}
			rs.Sets[5].Nums = []uint8{136, 133, 134, 135}
		}))}},
		{"empty port set", []confStep{ok(edited(func(rs *Ruleset) { rs.Sets[6].Ports = nil }))}},
		{"a port set shared by many rules and both directions", []confStep{ok(edited(func(rs *Ruleset) {
			c := confChain(rs, "profile-out-WEB")
			for i := range 200 {
				kind := MatchDPortSet
				if i%2 == 1 {
					kind = MatchSPortSet
				}
				c.Rules = append(c.Rules, &Rule{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: kind, Not: i%3 == 0, Str: "v-ports-web"}},
					Counter: true, Verdict: Verdict{Kind: Accept}, Comment: fmt.Sprintf("shared %d", i)})
			}
		}))}},
		{"map verdicts jump and goto", []confStep{ok(edited(func(rs *Ruleset) {
			rs.Maps[2].Elements = []MapElement{{Key: "a", Verdict: Verdict{Kind: Jump, Chain: "profile-out-WEB"}}, {Key: "b", Verdict: Verdict{Kind: Goto, Chain: "from-app-1"}}}
		}))}},

		{"maximal sizes", []confStep{ok(edited(func(rs *Ruleset) {
			// 4096 set elements, 512 map elements and chains, 1024 rules in one chain.
			var ps []netip.Prefix
			for i := range 4096 {
				ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 4), byte(i&15) << 4}), 29))
			}
			rs.Sets[2].Prefixes = ps
			m := rs.Maps[2]
			for i := range 512 {
				name := fmt.Sprintf("ep-%03d", i)
				rs.Chains = append(rs.Chains, &Chain{Name: name, Rules: []*Rule{{Verdict: Verdict{Kind: Jump, Chain: "profile-out-WEB"}}}})
				m.Elements = append(m.Elements, MapElement{Key: fmt.Sprintf("cali%011d", i), Verdict: Verdict{Kind: Goto, Chain: name}})
			}
			c := confChain(rs, "profile-out-WEB")
			for i := range 1024 {
				c.Rules = append(c.Rules, &Rule{Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchDPort, Ports: []PortRange{{uint16(i), uint16(i)}}}},
					Counter: true, Verdict: Verdict{Kind: Accept}, Comment: fmt.Sprintf("rule %d", i)})
			}
		}))}},

		// Refused; the table stays what the previous step left.
		{"overlapping elements in a named set", []confStep{refused(edited(func(rs *Ruleset) {
			rs.Sets[2].Prefixes = v4("198.18.0.0/16", "198.18.1.0/24")
		}), errOverlap)}},
		{"the same element twice in a named set", []confStep{refused(edited(func(rs *Ruleset) {
			rs.Sets[2].Prefixes = v4("198.18.1.2/32", "198.18.1.2/32")
		}), errOverlap)}},
		{"overlapping ports in a port set", []confStep{refused(edited(func(rs *Ruleset) {
			rs.Sets[7].Ports = []PortRange{{8000, 8080}, {8080, 8090}}
		}), errOverlap)}},
		{"the same ICMP type twice in a type set", []confStep{refused(edited(func(rs *Ruleset) {
			rs.Sets[4].Nums = []uint8{3, 8, 3}
		}), errDuplicate)}},
		{"lookup of a missing port set", []confStep{refused(withRule(&Rule{
			Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchDPortSet, Str: "nowhere"}}, Verdict: Verdict{Kind: Accept},
		}), errMissing)}},
		{"port lookup in an address set", []confStep{refused(withRule(&Rule{
			Matches: []Match{{Kind: MatchL4Proto, Protos: []uint8{6}}, {Kind: MatchSPortSet, Str: "tag-v4-WEB"}}, Verdict: Verdict{Kind: Accept},
		}), errType)}},
		{"icmpv6 type lookup in an icmp type set", []confStep{refused(withRule(&Rule{
			Matches: []Match{{Kind: MatchNFProto, Family: IPv6}, {Kind: MatchL4Proto, Protos: []uint8{58}}, {Kind: MatchICMPTypeSet, Family: IPv6, Str: "v-icmp-types"}},
			Verdict: Verdict{Kind: Accept},
		}), errType)}},
		{"address lookup in a port set", []confStep{refused(withRule(&Rule{
			Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddrSet, Family: IPv4, Str: "v-ports-web"}}, Verdict: Verdict{Kind: Accept},
		}), errType)}},
		{"jump to a missing chain", []confStep{refused(withRule(&Rule{Verdict: Verdict{Kind: Jump, Chain: "nowhere"}}), errMissing)}},
		{"goto a missing chain", []confStep{refused(withRule(&Rule{Verdict: Verdict{Kind: Goto, Chain: "nowhere"}}), errMissing)}},
		{"map verdict to a missing chain", []confStep{refused(edited(func(rs *Ruleset) {
			rs.Maps[0].Elements[0].Verdict.Chain = "nowhere"
		}), errMissing)}},
		{"vmap of a missing map", []confStep{refused(withRule(&Rule{VMap: &VMapLookup{Key: MatchIIFName, Map: "nowhere"}}), errMissing)}},
		{"lookup of a missing set", []confStep{refused(withRule(&Rule{Matches: []Match{{Kind: MatchNFProto, Family: IPv4}, {Kind: MatchSAddrSet, Family: IPv4, Str: "nowhere"}}}), errMissing)}},
		{"chain name of 256 bytes", []confStep{refused(edited(func(rs *Ruleset) { rs.Chains = append(rs.Chains, &Chain{Name: "c" + x(255)}) }), errName)}},
		{"set name of 256 bytes", []confStep{refused(edited(func(rs *Ruleset) { rs.Sets = append(rs.Sets, &Set{Name: "s" + x(255), Type: SetIPv4}) }), errName)}},
		{"map name of 256 bytes", []confStep{refused(edited(func(rs *Ruleset) { rs.Maps = append(rs.Maps, &Map{Name: "m" + x(255)}) }), errName)}},
		{"table name of 256 bytes", []confStep{refused(&Ruleset{Table: "t" + x(255)}, errName)}},
		{"rule comment of 257 bytes", []confStep{refused(withRule(&Rule{Verdict: Verdict{Kind: Accept}, Comment: x(257)}), errComment)}},
		// 129 bytes: the kernel would store it, but `nft -f` of a dump would refuse it
		// (limits.MaxComment); both dataplanes refuse it.
		{"rule comment of 129 bytes", []confStep{refused(withRule(&Rule{Verdict: Verdict{Kind: Accept}, Comment: x(129)}), errComment)}},
		{"set comment of 129 bytes", []confStep{refused(edited(func(rs *Ruleset) { rs.Sets[0].Comment = x(129) }), errComment)}},
		{"rule comment with a double quote", []confStep{refused(withRule(&Rule{Verdict: Verdict{Kind: Accept}, Comment: `a"b`}), errInvalid)}},
		{"rule comment of 254 bytes", []confStep{refused(withRule(&Rule{Verdict: Verdict{Kind: Accept}, Comment: x(254)}), errComment)}},
		{"set comment of 248 bytes", []confStep{refused(edited(func(rs *Ruleset) { rs.Sets[0].Comment = x(248) }), errComment)}},
		{"map comment of 248 bytes", []confStep{refused(edited(func(rs *Ruleset) { rs.Maps[0].Comment = x(248) }), errComment)}},
		{"set comment of 257 bytes", []confStep{refused(edited(func(rs *Ruleset) { rs.Sets[0].Comment = x(257) }), errComment)}},
		{"map comment of 257 bytes", []confStep{refused(edited(func(rs *Ruleset) { rs.Maps[0].Comment = x(257) }), errComment)}},
		{"map key of 16 bytes", []confStep{refused(edited(func(rs *Ruleset) { rs.Maps[0].Elements[0].Key = x(16) }), errIfname)}},
		{"iifname match of 16 bytes", []confStep{refused(withRule(&Rule{Matches: []Match{{Kind: MatchIIFName, Str: x(16)}}}), errIfname)}},
		{"empty map key", []confStep{refused(edited(func(rs *Ruleset) { rs.Maps[0].Elements[0].Key = "" }), errIfname)}},
		{"duplicate chain", []confStep{refused(edited(func(rs *Ruleset) { rs.Chains = append(rs.Chains, &Chain{Name: "to-web-1"}) }), errDuplicate)}},
		{"duplicate set", []confStep{refused(edited(func(rs *Ruleset) { rs.Sets = append(rs.Sets, &Set{Name: "all-v4", Type: SetIPv4}) }), errDuplicate)}},
		{"map named like a set", []confStep{refused(edited(func(rs *Ruleset) { rs.Maps = append(rs.Maps, &Map{Name: "all-v4"}) }), errDuplicate)}},
		{"duplicate map key", []confStep{refused(edited(func(rs *Ruleset) { rs.Maps[0].Elements[1].Key = rs.Maps[0].Elements[0].Key }), errDuplicate)}},
		{"log prefix of 128 bytes", []confStep{refused(withRule(&Rule{Log: &Log{Prefix: x(128)}}), errLogPrefix)}},
		{"loop reachable from a base chain", []confStep{refused(edited(func(rs *Ruleset) {
			// forward-to -> dispatch-to -> to-web-1 -> profile-in-WEB -> goto to-web-1
			rs.Maps[2].Elements = []MapElement{{Key: "caliweb1", Verdict: Verdict{Kind: Goto, Chain: "to-web-1"}}}
		}), errLoop)}},
		{"chain jumping to itself", []confStep{refused(withRule(&Rule{Verdict: Verdict{Kind: Goto, Chain: "profile-out-WEB"}}), errLoop)}},
		{"loop through a map", []confStep{refused(edited(func(rs *Ruleset) {
			rs.Maps[2].Elements = []MapElement{{Key: "lo", Verdict: Verdict{Kind: Goto, Chain: "to-web-1"}}}
			c := confChain(rs, "profile-in-WEB")
			c.Rules = append(c.Rules, &Rule{VMap: &VMapLookup{Key: MatchOIFName, Map: "dispatch-to"}})
		}), errLoop)}},
		{"jumps 16 deep below a base chain", []confStep{refused(chainOfDepth(16), errLoop)}},
		{"jumps 17 deep below a base chain", []confStep{refused(chainOfDepth(17), errLoop)}},
		{"jump to a base chain", []confStep{refused(withRule(&Rule{Verdict: Verdict{Kind: Jump, Chain: "input-from"}}), errBase)}},
		{"empty table name", []confStep{refused(&Ruleset{}, errInvalid)}},
		{"refused apply of a new table creates nothing", []confStep{refused(&Ruleset{Table: "conf-new", Chains: []*Chain{{Name: "a"}, {Name: "a"}}}, errDuplicate)}},
		{"lookup of a set of the other family", []confStep{refused(withRule(&Rule{Matches: []Match{{Kind: MatchNFProto, Family: IPv6}, {Kind: MatchSAddrSet, Family: IPv6, Str: "tag-v4-WEB"}}}), errType)}},
		{"IPv6 prefix in an IPv4 set", []confStep{refused(edited(func(rs *Ruleset) { rs.Sets[2].Prefixes = pfx("fd00::/64") }), errType)}},
		{"unknown match", []confStep{refused(withRule(&Rule{Matches: []Match{{Kind: MatchUnknown, Str: "meta mark 1"}}}), errInvalid)}},
		{"refused after an accepted replacement", []confStep{
			ok(&Ruleset{Table: confTable, Chains: []*Chain{{Name: "only"}}}),
			refused(&Ruleset{Table: confTable, Chains: []*Chain{{Name: "only"}, {Name: "only"}}}, errDuplicate),
			ok(sampleRuleset(confTable)),
		}},
	}
}

// runConformance runs every case against one dataplane.
func runConformance(t *testing.T, dp Dataplane) {
	ctx := context.Background()
	for _, tc := range confCases() {
		t.Run(tc.name, func(t *testing.T) {
			prev := sampleRuleset(confTable)
			if err := dp.Apply(ctx, prev); err != nil {
				t.Fatalf("applying the sample: %v", err)
			}
			for i, st := range tc.steps {
				err := dp.Apply(ctx, st.rs)
				switch {
				case st.refused == "" && err != nil:
					t.Fatalf("step %d: Apply refused a ruleset the kernel accepts: %v", i+1, err)
				case st.refused != "" && err == nil:
					t.Errorf("step %d: Apply accepted a ruleset the kernel refuses (%s)", i+1, st.refused)
					prev = st.rs
				case st.refused != "" && classify(err) != st.refused:
					t.Errorf("step %d: Apply refused it as %q, want %q: %v", i+1, classify(err), st.refused, err)
				case st.refused == "":
					prev = st.rs
				}
				got, err := dp.Observe(ctx, prev.Table)
				if err != nil {
					t.Fatalf("step %d: Observe: %v", i+1, err)
				}
				if want := prev.Canonical(); !reflect.DeepEqual(got, want) {
					what := "the table is not the applied model"
					if st.refused != "" {
						what = "a refused apply changed the table"
					}
					t.Fatalf("step %d: %s:\n%s\n--- want\n%s", i+1, what, got, want)
				}
				if st.rs.Table != prev.Table && st.rs.Table != "" {
					// A refused apply of another table must not have created it.
					if got, err := dp.Observe(ctx, st.rs.Table); err == nil && got != nil && st.refused != "" {
						t.Errorf("step %d: a refused apply created table %q", i+1, st.rs.Table)
					}
				}
			}
		})
	}
}

// TestDataplaneConformance runs the conformance table against the fake and the kernel.
func TestDataplaneConformance(t *testing.T) {
	t.Run("fake", func(t *testing.T) { runConformance(t, NewFake()) })
	t.Run("kernel", func(t *testing.T) {
		testenv.RequireKernel(t)
		k, _ := newKernel(t, "conf")
		runConformance(t, k)
	})
}

// TestClassify checks that the error classes are told apart (a classifier that put every
// error in one class would make the table vacuous).
func TestClassify(t *testing.T) {
	seen := map[string]bool{}
	f := NewFake()
	for _, tc := range confCases() {
		for _, st := range tc.steps {
			if st.refused == "" {
				continue
			}
			if err := f.Apply(context.Background(), st.rs); err != nil {
				seen[classify(err)] = true
			}
		}
	}
	if len(seen) < 10 {
		t.Errorf("only %d error classes seen: %v", len(seen), seen)
	}
}
