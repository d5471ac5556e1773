package compile

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

// The differential test of HostKeys: over seeded repositories and seeded mutations of each,
// for every host of either tree, equal keys must mean equal Compile outcomes.
var (
	hostKeysSeed = flag.Uint64("hostkeys.seed", 0, "first seed of TestHostKeysDifferential (0: $HOSTKEYS_SEED, else a fixed default)")
	hostKeysLong = flag.Bool("hostkeys.long", false, "TestHostKeysDifferential: 20 times more repositories and mutations")
)

const defaultHostKeysSeed = 20261130

func hostKeysFirstSeed(t *testing.T) uint64 {
	if *hostKeysSeed != 0 {
		return *hostKeysSeed
	}
	if s := os.Getenv("HOSTKEYS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("HOSTKEYS_SEED=%q: %v", s, err)
		}
		return v
	}
	return defaultHostKeysSeed
}

// hostKeysTables are the tables the differential test compiles for: the default (empty and
// spelled out), others, and names Compile refuses.
var hostKeysTables = []string{"", nft.DefaultTable, "calico", "t.1-x", "table", "1bad", "bad name"}

// outcome is what HostKeys promises to key: the canonical ruleset's digest, or the error.
func outcome(repo *schema.Repository, host, table string, idx *TagIndex) string {
	rs, err := Compile(repo, Options{Host: host, Table: table, Tags: idx})
	if err != nil {
		return "error: " + err.Error()
	}
	return "ruleset: " + rs.Canonical().Digest()
}

// diffStats counts the hosts a differential run compared.
type diffStats struct {
	repos, mutations, hosts int
	keyEqual, keyChanged    int
	falsePositive           int // key changed, outcome did not
	keyChangedOK            int // key changed, a ruleset on both sides
	falsePositiveOK         int // of those, the same ruleset
	outcomeChanged          int

	// cache of the outcomes of the last base tree: most mutations are of the same base.
	cachedRepo *schema.Repository
	cached     map[string]string
}

// baseOutcome is outcome(repo, host, table, idx), cached for the last repo asked.
func (s *diffStats) baseOutcome(repo *schema.Repository, host, table string, idx *TagIndex) string {
	if s.cachedRepo != repo {
		s.cachedRepo, s.cached = repo, map[string]string{}
	}
	o, ok := s.cached[table+"\x00"+host]
	if !ok {
		o = outcome(repo, host, table, idx)
		s.cached[table+"\x00"+host] = o
	}
	return o
}

func (s diffStats) String() string {
	fp := 0.0
	if s.keyChanged > 0 {
		fp = 100 * float64(s.falsePositive) / float64(s.keyChanged)
	}
	return fmt.Sprintf("%d repositories, %d mutations, %d hosts compared: %d equal keys, %d changed keys (%d changed outcomes); %d changed keys with the same outcome (%.1f%% of key changes; %d of %d where both sides compile)",
		s.repos, s.mutations, s.hosts, s.keyEqual, s.keyChanged, s.outcomeChanged, s.falsePositive, fp, s.falsePositiveOK, s.keyChangedOK)
}

// compare checks the HostKeys contract between base and head for every host of either, and
// counts. what names the pair in a failure.
func (s *diffStats) compare(t *testing.T, what string, base, head *schema.Repository, baseTable, headTable string) {
	t.Helper()
	s.mutations++
	bh, bk := HostKeys(base, Options{Table: baseTable})
	hh, hk := HostKeys(head, Options{Table: headTable})
	checkHosts(t, what+" (base)", base, bh, bk)
	checkHosts(t, what+" (head)", head, hh, hk)
	bi, hi := NewTagIndex(base), NewTagIndex(head)
	for _, h := range slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(bh), hh...)))) {
		b, inB := bk[h]
		k, inH := hk[h]
		if !inB || !inH {
			continue // on one side only: plan compiles it anyway
		}
		s.hosts++
		ob, oh := s.baseOutcome(base, h, baseTable, bi), outcome(head, h, headTable, hi)
		if ob != oh {
			s.outcomeChanged++
		}
		if b == k {
			s.keyEqual++
			if ob != oh {
				t.Fatalf("%s: host %q has key %s in both trees but its outcome changed:\nbase: %s\nhead: %s", what, h, b, ob, oh)
			}
			continue
		}
		s.keyChanged++
		if ob == oh {
			s.falsePositive++
		}
		if strings.HasPrefix(ob, "ruleset: ") && strings.HasPrefix(oh, "ruleset: ") {
			s.keyChangedOK++
			if ob == oh {
				s.falsePositiveOK++
			}
		}
	}
}

// checkHosts: hosts are every host an endpoint names, sorted, each with a key.
func checkHosts(t *testing.T, what string, repo *schema.Repository, hosts []string, keys map[string]string) {
	t.Helper()
	var want []string
	for _, e := range repo.Endpoints {
		if e != nil {
			want = append(want, e.Host)
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if !slices.Equal(hosts, want) || len(keys) != len(want) {
		t.Fatalf("%s: HostKeys hosts %q (%d keys), want %q", what, hosts, len(keys), want)
	}
	for _, h := range hosts {
		if keys[h] == "" {
			t.Fatalf("%s: host %q has no key", what, h)
		}
	}
}

// TestHostKeysDifferential: generated repositories (repogen.Generate models, unvalidated, so
// that errors are outcomes too) and the benchmark shapes (Dense, a small fleet) with their
// file mutations, each mutated many times at random (mutate); for every host in both trees,
// equal keys mean the same ruleset or the same error. Prints the counts and the share of key
// changes without an outcome change.
func TestHostKeysDifferential(t *testing.T) {
	seed := hostKeysFirstSeed(t)
	scale := 1
	if *hostKeysLong {
		scale = 20
	}
	defer func() {
		if t.Failed() {
			t.Logf("reproduce with -hostkeys.seed=%d (or HOSTKEYS_SEED=%d)", seed, seed)
		}
	}()
	var gen, shapes diffStats
	start := time.Now()

	// Generated repositories: the model, every mutation of it checked against it, and chains of
	// mutations (each against the previous tree).
	for i := range uint64(300 * scale) {
		r := repogen.Generate(repogen.FromSeed(seed + i))
		base := r.Want
		if base == nil {
			if base, _ = schema.LoadFiles(r.Files, nil); base == nil {
				continue
			}
		}
		gen.repos++
		rng := rand.New(rand.NewPCG(seed+i, 0x686f73746b657973))
		if i%3 == 0 && len(base.Endpoints) > 0 {
			// A third of the bases already fail somewhere: errors against errors.
			base = cloneRepo(base)
			if e := pick(rng, base.Endpoints); e != nil {
				badNet(rng, e)
			}
		}
		prev := base
		for m := range 12 {
			head := cloneRepo(base)
			if m >= 6 {
				head = cloneRepo(prev) // chains: mutations accumulate
			}
			desc := mutate(rng, head)
			for range rng.IntN(3) {
				desc += "; " + mutate(rng, head)
			}
			what := fmt.Sprintf("generated seed %d mutation %d (%s)", seed+i, m, desc)
			if m >= 6 {
				gen.compare(t, what, prev, head, "", "")
				prev = head
			} else {
				gen.compare(t, what, base, head, "", "")
			}
		}
		// The same tree under another table: keys differ whenever the rulesets do.
		bt, ht := pick(rng, hostKeysTables), pick(rng, hostKeysTables)
		gen.compare(t, fmt.Sprintf("generated seed %d, tables %q and %q", seed+i, bt, ht), base, base, bt, ht)
		head := cloneRepo(base)
		desc := mutate(rng, head)
		gen.compare(t, fmt.Sprintf("generated seed %d, tables %q and %q, %s", seed+i, bt, ht, desc), base, head, bt, ht)
	}
	t.Logf("generated: %s (%v)", gen, time.Since(start).Round(time.Millisecond))
	start = time.Now()

	// Shapes, loaded from their files: the file mutations of repogen and model mutations.
	for j, s := range []repogen.Shape{repogen.Dense(30), {Hosts: 12, PerHost: 10, Profiles: 40, Tags: 40}, {Hosts: 16, PerHost: 12, Profiles: 60, Tags: 60}} {
		for i := range uint64(scale) {
			sd := seed + uint64(j)*1000 + i
			files, err := s.Files(sd)
			if err != nil {
				t.Fatal(err)
			}
			base := loadFiles(t, files)
			shapes.repos++
			rng := rand.New(rand.NewPCG(sd, 0x7368617065))
			for m := range 3 {
				f := cloneFiles(files)
				host := fmt.Sprintf("node-%d", 1+rng.IntN(s.Hosts))
				var desc string
				switch m {
				case 0:
					_, err = repogen.ChangeLocalEndpoint(f, host)
					desc = "ChangeLocalEndpoint " + host
				case 1:
					_, err = repogen.AddRemoteEndpoint(f, host, fmt.Sprintf("node-%d", 1+rng.IntN(s.Hosts)), rng.IntN(1024))
					desc = "AddRemoteEndpoint " + host
				case 2:
					_, err = repogen.ChangeProfileRule(f, host)
					desc = "ChangeProfileRule " + host
				}
				if err != nil {
					t.Fatal(err)
				}
				shapes.compare(t, fmt.Sprintf("shape %+v seed %d: %s", s, sd, desc), base, loadFiles(t, f), "", "")
			}
			for m := range 15 {
				head := cloneRepo(base)
				desc := mutate(rng, head)
				shapes.compare(t, fmt.Sprintf("shape %+v seed %d mutation %d (%s)", s, sd, m, desc), base, head, "", "")
			}
		}
	}
	t.Logf("shapes: %s (%v)", shapes, time.Since(start).Round(time.Millisecond))
	if gen.repos < 200*scale || gen.keyEqual == 0 || gen.keyChanged == 0 || shapes.keyEqual == 0 || shapes.keyChanged == 0 {
		t.Fatalf("the test compared too little: generated %s; shapes %s", gen, shapes)
	}
}

func loadFiles(t *testing.T, files map[string][]byte) *schema.Repository {
	t.Helper()
	repo, errs := schema.LoadFiles(files, nil)
	if len(errs) > 0 {
		t.Fatalf("shape does not load: %v", errs)
	}
	return repo
}

func cloneFiles(files map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(files))
	for p, b := range files {
		out[p] = b // mutations replace contents, never write into them
	}
	return out
}

// cloneRepo copies repo deeply enough that mutate may change anything of the copy.
func cloneRepo(r *schema.Repository) *schema.Repository {
	c := &schema.Repository{Profiles: make(map[string]*schema.Profile, len(r.Profiles)), Tests: r.Tests}
	for id, p := range r.Profiles {
		if p == nil {
			c.Profiles[id] = nil
			continue
		}
		q := *p
		q.Tags = slices.Clone(p.Tags)
		q.Inbound, q.Outbound = cloneRules(p.Inbound), cloneRules(p.Outbound)
		c.Profiles[id] = &q
	}
	for _, e := range r.Endpoints {
		c.Endpoints = append(c.Endpoints, cloneEndpoint(e))
	}
	return c
}

func cloneEndpoint(e *schema.Endpoint) *schema.Endpoint {
	if e == nil {
		return nil
	}
	q := *e
	q.IPv4Nets, q.IPv6Nets, q.ProfileIDs = slices.Clone(e.IPv4Nets), slices.Clone(e.IPv6Nets), slices.Clone(e.ProfileIDs)
	return &q
}

func cloneRules(rs []schema.Rule) []schema.Rule {
	if rs == nil {
		return nil
	}
	out := make([]schema.Rule, len(rs))
	for i, r := range rs {
		r.SrcPorts, r.DstPorts = slices.Clone(r.SrcPorts), slices.Clone(r.DstPorts)
		r.NotSrcPorts, r.NotDstPorts = slices.Clone(r.NotSrcPorts), slices.Clone(r.NotDstPorts)
		for _, p := range []**int{&r.ICMPType, &r.ICMPCode, &r.NotICMPType, &r.NotICMPCode} {
			if *p != nil {
				v := **p
				*p = &v
			}
		}
		out[i] = r
	}
	return out
}

// pools of what a mutation draws from: the repository's own values and a few of its own.
type pools struct {
	hosts, ifaces, ids, pids, tags, nets []string
}

func poolsOf(r *schema.Repository) pools {
	var p pools
	p.hosts = []string{"node-new"}
	p.ifaces = []string{"calinew", ""}
	p.ids = []string{"ep-new"}
	p.pids = []string{"P-missing"}
	p.tags = []string{"T-new"}
	p.nets = []string{"198.18.250.0/24", "198.18.250.0/25", "198.18.250.128/25", "fd00:fa::/64", "fd00:fa::1", "::ffff:198.18.250.1", "300.1.2.3", "198.18.250.1/33", "not-a-net"}
	for _, e := range r.Endpoints {
		if e == nil {
			continue
		}
		p.hosts = append(p.hosts, e.Host)
		p.ifaces = append(p.ifaces, e.Interface)
		p.ids = append(p.ids, e.ID)
		p.pids = append(p.pids, e.ProfileIDs...)
		p.nets = append(p.nets, e.IPv4Nets...)
		p.nets = append(p.nets, e.IPv6Nets...)
	}
	for id, pr := range r.Profiles {
		p.pids = append(p.pids, id)
		if pr == nil {
			continue
		}
		p.tags = append(p.tags, pr.Tags...)
		for _, rs := range [][]schema.Rule{pr.Inbound, pr.Outbound} {
			for _, x := range rs {
				p.tags = append(p.tags, x.SrcTag, x.DstTag, x.NotSrcTag, x.NotDstTag)
			}
		}
	}
	for _, l := range []*[]string{&p.hosts, &p.ifaces, &p.ids, &p.pids, &p.tags, &p.nets} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	return p
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// mutate changes one thing of r at random (in place; r is a clone) and says what.
func mutate(rng *rand.Rand, r *schema.Repository) string {
	p := poolsOf(r)
	var eps []int
	for i, e := range r.Endpoints {
		if e != nil {
			eps = append(eps, i)
		}
	}
	pids := slices.Sorted(func(yield func(string) bool) {
		for id, pr := range r.Profiles {
			if pr != nil && !yield(id) {
				return
			}
		}
	})
	if len(eps) == 0 || rng.IntN(8) == 0 {
		return mutateProfile(rng, r, pids, p)
	}
	i := pick(rng, eps)
	e := r.Endpoints[i]
	if len(pids) > 0 && rng.IntN(2) == 0 {
		return mutateProfile(rng, r, pids, p)
	}
	switch rng.IntN(19) {
	case 0:
		e.ID = pick(rng, p.ids)
		return "endpoint id " + e.ID
	case 1:
		e.Host = pick(rng, p.hosts)
		return "endpoint " + e.ID + " moved to " + e.Host
	case 2:
		e.Interface = pick(rng, p.ifaces)
		return "endpoint " + e.ID + " interface " + e.Interface
	case 3:
		e.MAC = pick(rng, []string{"", "ee:ee:ee:00:00:01", "EE:EE:EE:00:00:01", "ee:ee:ee:00:00:02", "zz", "ee:ee:ee:00:00:00:01"})
		return "endpoint " + e.ID + " mac " + e.MAC
	case 4:
		e.State = pick(rng, []string{"", schema.StateActive, schema.StateInactive, "paused"})
		return "endpoint " + e.ID + " state " + e.State
	case 5, 6:
		n := pick(rng, p.nets)
		if rng.IntN(2) == 0 {
			e.IPv4Nets = append(e.IPv4Nets, n)
		} else {
			e.IPv6Nets = append(e.IPv6Nets, n)
		}
		return "endpoint " + e.ID + " net added " + n
	case 7:
		if len(e.IPv4Nets) > 0 {
			e.IPv4Nets = e.IPv4Nets[1:]
		} else if len(e.IPv6Nets) > 0 {
			e.IPv6Nets = e.IPv6Nets[1:]
		}
		return "endpoint " + e.ID + " first net removed"
	case 8:
		// A net split into its two halves: tag sets and anti-spoof merge to the same prefixes.
		for _, l := range []*[]string{&e.IPv4Nets, &e.IPv6Nets} {
			for k, s := range *l {
				pf, err := schema.ParseNet(s)
				if err != nil || pf.Bits() == pf.Addr().BitLen() {
					continue
				}
				lo := netip.PrefixFrom(pf.Masked().Addr(), pf.Bits()+1)
				hi := netip.PrefixFrom(lastAddr(lo).Next(), pf.Bits()+1)
				*l = slices.Insert(slices.Delete(*l, k, k+1), k, lo.String(), hi.String())
				return "endpoint " + e.ID + " net " + s + " split in halves"
			}
		}
		slices.Reverse(e.IPv4Nets)
		return "endpoint " + e.ID + " v4 nets reversed"
	case 9:
		e.ProfileIDs = append(e.ProfileIDs, pick(rng, p.pids))
		return "endpoint " + e.ID + " profile added"
	case 10:
		if len(e.ProfileIDs) > 0 {
			e.ProfileIDs = slices.Delete(e.ProfileIDs, 0, 1)
		}
		return "endpoint " + e.ID + " first profile removed"
	case 11:
		slices.Reverse(e.ProfileIDs)
		return "endpoint " + e.ID + " profiles reversed"
	case 12:
		c := cloneEndpoint(e)
		c.ID, c.Interface = pick(rng, p.ids)+"-copy", pick(rng, p.ifaces)+"c"
		if rng.IntN(2) == 0 {
			c.Host = pick(rng, p.hosts)
		}
		r.Endpoints = slices.Insert(r.Endpoints, rng.IntN(len(r.Endpoints)+1), c)
		return "endpoint " + c.ID + " added on " + c.Host
	case 13:
		r.Endpoints = slices.Delete(r.Endpoints, i, i+1)
		return "endpoint " + e.ID + " deleted"
	case 14:
		j := pick(rng, eps)
		r.Endpoints[i], r.Endpoints[j] = r.Endpoints[j], r.Endpoints[i]
		return "endpoints swapped"
	case 15:
		r.Endpoints = slices.Insert(r.Endpoints, rng.IntN(len(r.Endpoints)+1), nil)
		return "nil endpoint"
	case 16:
		return badNet(rng, e)
	default:
		e.IPv4Nets, e.IPv6Nets = e.IPv6Nets, e.IPv4Nets
		return "endpoint " + e.ID + " v4 and v6 lists swapped"
	}
}

// badNet replaces a net of e (or adds one) by one that does not parse, in one of several
// ways: the tag sets of e's tags fail with the first such member's error, e's own host with
// e's (when e is active and has profiles).
func badNet(rng *rand.Rand, e *schema.Endpoint) string {
	bad := pick(rng, []string{"300.1.2.3", "198.18.0.0/33", "fd00::g", "nonsense"})
	l := &e.IPv4Nets
	if rng.IntN(2) == 0 {
		l = &e.IPv6Nets
	}
	if len(*l) == 0 {
		*l = append(*l, bad)
	} else {
		(*l)[rng.IntN(len(*l))] = bad
	}
	return "endpoint " + e.ID + " net replaced by " + bad
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().AsSlice()
	for b := p.Bits(); b < len(a)*8; b++ {
		a[b/8] |= 0x80 >> (b % 8)
	}
	out, _ := netip.AddrFromSlice(a)
	return out
}

func mutateProfile(rng *rand.Rand, r *schema.Repository, pids []string, p pools) string {
	if len(pids) == 0 || rng.IntN(12) == 0 {
		id := pick(rng, p.pids)
		r.Profiles[id] = &schema.Profile{ID: id, Tags: []string{pick(rng, p.tags)}, Inbound: []schema.Rule{{Action: "allow", SrcTag: pick(rng, p.tags)}}}
		return "profile " + id + " added or replaced"
	}
	id := pick(rng, pids)
	pr := r.Profiles[id]
	rules := &pr.Inbound
	if rng.IntN(2) == 0 {
		rules = &pr.Outbound
	}
	switch rng.IntN(10) {
	case 0:
		delete(r.Profiles, id)
		return "profile " + id + " deleted"
	case 1:
		pr.Tags = append(pr.Tags, pick(rng, p.tags))
		return "profile " + id + " tag added"
	case 2:
		if len(pr.Tags) > 0 {
			pr.Tags = pr.Tags[1:]
		}
		return "profile " + id + " first tag removed"
	case 3:
		slices.Reverse(pr.Tags)
		return "profile " + id + " tags reversed"
	case 4:
		slices.Reverse(*rules)
		return "profile " + id + " rules reversed"
	case 5:
		if len(*rules) > 0 {
			*rules = (*rules)[1:]
		}
		return "profile " + id + " first rule removed"
	case 6:
		pr.Inbound, pr.Outbound = pr.Outbound, pr.Inbound
		return "profile " + id + " directions swapped"
	default:
		if len(*rules) == 0 {
			*rules = append(*rules, schema.Rule{Action: "allow"})
			return "profile " + id + " rule added"
		}
		k := rng.IntN(len(*rules))
		f := mutateRuleField(rng, r, &(*rules)[k], p)
		return fmt.Sprintf("profile %s rule %d field %s changed", id, k+1, f)
	}
}

// ruleFieldPool are values beside the repository's own that mutateRuleField draws from.
var ruleFieldPool = map[reflect.Type][]any{
	reflect.TypeFor[string]():             {"", "allow", "deny", "log", "bogus", "x", "calico-packet", "198.18.0.0/16", "fd00::/16", "198.18.0.1", "bad-net"},
	reflect.TypeFor[schema.Protocol]():    {schema.Protocol(""), schema.Protocol("tcp"), schema.Protocol("udp"), schema.Protocol("icmp"), schema.Protocol("icmpv6"), schema.Protocol("6"), schema.Protocol("58"), schema.Protocol("bogus")},
	reflect.TypeFor[int]():                {0, 4, 6, 5},
	reflect.TypeFor[*int]():               {(*int)(nil), ip(0), ip(3), ip(8), ip(128), ip(254), ip(255)},
	reflect.TypeFor[[]schema.PortRange](): {[]schema.PortRange(nil), pr(22), pr(80, 443), pr([2]int{8000, 8080}, 8080), pr(53, 853)},
}

// mutateRuleField sets one field of x (any but Pos) to the same field of another rule of r, or
// to a value of ruleFieldPool, and returns the field's name.
func mutateRuleField(rng *rand.Rand, r *schema.Repository, x *schema.Rule, p pools) string {
	v := reflect.ValueOf(x).Elem()
	var fields []int
	for i := range v.NumField() {
		if v.Type().Field(i).Name != "Pos" {
			fields = append(fields, i)
		}
	}
	fi := pick(rng, fields)
	fv := v.Field(fi)
	name := v.Type().Field(fi).Name
	var cands []reflect.Value
	for _, id := range slices.Sorted(maps.Keys(r.Profiles)) {
		if pr := r.Profiles[id]; pr != nil {
			for _, rs := range [][]schema.Rule{pr.Inbound, pr.Outbound} {
				for i := range rs {
					cands = append(cands, reflect.ValueOf(&rs[i]).Elem().Field(fi))
				}
			}
		}
	}
	for _, c := range ruleFieldPool[fv.Type()] {
		cands = append(cands, reflect.ValueOf(c))
	}
	if strings.HasSuffix(name, "Tag") {
		for _, t := range p.tags {
			cands = append(cands, reflect.ValueOf(t))
		}
	}
	c := pick(rng, cands)
	switch c := c.Interface().(type) {
	case []schema.PortRange:
		fv.Set(reflect.ValueOf(slices.Clone(c)))
	case *int:
		if c != nil {
			fv.Set(reflect.ValueOf(ip(*c)))
		} else {
			fv.SetZero()
		}
	default:
		fv.Set(reflect.ValueOf(c).Convert(fv.Type()))
	}
	return name
}
