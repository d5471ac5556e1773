// Package differential is the differential test of issue 9: a seeded generator of random
// policy repositories (generate.go) and of the packets that probe them (packets.go), adapters
// that ask each party for its verdict (the simulator over the compiled rulesets, sim.go; the
// evaluator of reconcile/internal/evaluate, eval.go), the comparison of two parties over every
// packet (compare.go), and a minimizer that shrinks a disagreement to a small repository and
// packet kept under testdata/differential as a regression case (minimize.go, cases.go).
//
// Everything is deterministic by an int64 seed (math/rand/v2 PCG): the same seed gives the
// same repository files and the same packets.
package differential

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"

	"github.com/reconcile-dev/reconcile/schema"
)

// Hosts are the two hosts every generated repository spreads its endpoints over.
var Hosts = []string{"node-1", "node-2"}

// Case is one generated repository: its files (path -> YAML content, SPEC §2) and the
// repository they load to (schema.LoadFiles, validated).
type Case struct {
	Seed  int64
	Files map[string][]byte
	Repo  *schema.Repository
}

// rng returns the PCG generator of a seed; stream separates the generator's uses of one seed
// (the repository, the packets).
func rng(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream^0x9e3779b97f4a7c15))
}

// Generate returns the repository of seed: 2-5 profiles with tags from a small pool (some
// carried by no endpoint), 0-5 inbound and outbound rules each mixing allow, deny and log,
// every match key and its negation, and 3-8 endpoints over Hosts with IPv4 nets in
// 198.18.1.0-198.18.3.255 and IPv6 nets in fd00:1::/64, zero to three profiles, some inactive,
// some with a MAC. The error is a generator bug: files that do not validate.
func Generate(seed int64) (Case, error) {
	g := &gen{r: rng(seed, 1)}
	repo := g.repository()
	files := Render(repo)
	loaded, errs := schema.LoadFiles(files, nil)
	if len(errs) > 0 {
		return Case{}, fmt.Errorf("seed %d: generated repository does not validate: %v", seed, errs)
	}
	return Case{Seed: seed, Files: files, Repo: loaded}, nil
}

type gen struct {
	r *rand.Rand
	// nets are the endpoints' nets, drawn first so that rules can name them.
	nets4, nets6 []netip.Prefix
}

func (g *gen) n(k int) int {
	if k <= 1 {
		return 0
	}
	return g.r.IntN(k)
}

// chance is true with probability 1/k.
func (g *gen) chance(k int) bool { return g.n(k) == 0 }

func pick[T any](g *gen, xs []T) T { return xs[g.n(len(xs))] }

// tagPool are the tags profiles carry and rules name; "ghost" and "nobody" are carried by no
// profile, so rules naming them match nothing.
var tagPool = []string{"WEB", "DB", "APP_7890", "ops.x", "ghost", "nobody"}

var carriedTags = []string{"WEB", "DB", "APP_7890", "ops.x"}

var profileNames = []string{"WEB", "DB", "APP_7890", "ops.x", "base", "P-5", "open_all"}

func (g *gen) repository() *schema.Repository {
	repo := &schema.Repository{Profiles: map[string]*schema.Profile{}}
	neps := 3 + g.n(6)
	eps := make([]*schema.Endpoint, neps)
	for i := range eps {
		eps[i] = g.endpoint(i)
	}
	nprof := 2 + g.n(4)
	ids := slices.Clone(profileNames)
	g.r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	ids = ids[:nprof]
	for _, id := range ids {
		repo.Profiles[id] = g.profile(id)
	}
	for _, e := range eps {
		e.ProfileIDs = g.profileIDs(ids)
	}
	repo.Endpoints = eps
	return repo
}

// endpoint draws endpoint i: host, interface, nets (non-overlapping by construction: endpoint
// i owns 198.18.<1+i/4>.<16*(i%4)>/28 and fd00:1::<i+1>:0/112), MAC, state.
func (g *gen) endpoint(i int) *schema.Endpoint {
	e := &schema.Endpoint{ID: pick(g, []string{"ep", "web-", "db.", "c_"}) + strconv.Itoa(i)}
	e.Host = Hosts[i%2]
	if i >= 2 {
		e.Host = pick(g, Hosts)
	}
	e.Interface = fmt.Sprintf("cali%d%s", i, pick(g, []string{"a", "xyz", "0f3e", "web"}))
	base4 := netip.AddrFrom4([4]byte{198, 18, byte(1 + i/4), byte(16 * (i % 4))})
	base6 := netip.MustParseAddr(fmt.Sprintf("fd00:1::%x:0", i+1))
	has4, has6 := true, true
	switch g.n(6) {
	case 0:
		has4 = false
	case 1:
		has6 = false
	}
	if has4 {
		e.IPv4Nets = append(e.IPv4Nets, g.subnet(base4, 1, 32).String())
		if g.chance(3) {
			e.IPv4Nets = append(e.IPv4Nets, g.subnet(base4, 8, pick(g, []int{29, 30, 31, 32})).String())
		}
	}
	if has6 {
		e.IPv6Nets = append(e.IPv6Nets, g.subnet(base6, 1, 128).String())
		if g.chance(3) {
			e.IPv6Nets = append(e.IPv6Nets, g.subnet(base6, 0x100, pick(g, []int{120, 126, 127, 128})).String())
		}
	}
	for _, s := range e.IPv4Nets {
		g.nets4 = append(g.nets4, netip.MustParsePrefix(s))
	}
	for _, s := range e.IPv6Nets {
		g.nets6 = append(g.nets6, netip.MustParsePrefix(s))
	}
	if g.chance(3) {
		e.MAC = pick(g, []string{"ee:ee:ee:ee:ee:", "02:00:5e:10:00:", "EE:EE:EE:00:00:"}) + fmt.Sprintf("%02x", i)
	}
	switch g.n(6) {
	case 0:
		e.State = schema.StateInactive
	case 1, 2:
		e.State = schema.StateActive
	}
	return e
}

// subnet is the prefix of the given length at base+off.
func (g *gen) subnet(base netip.Addr, off, bits int) netip.Prefix {
	a := base
	for range off {
		a = a.Next()
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// profileIDs draws an endpoint's profiles: none (1 in 8), else one to three distinct ids.
func (g *gen) profileIDs(ids []string) []string {
	if g.chance(8) {
		return []string{}
	}
	k := 1 + g.n(min(3, len(ids)))
	perm := g.r.Perm(len(ids))
	out := make([]string, k)
	for i := range k {
		out[i] = ids[perm[i]]
	}
	return out
}

func (g *gen) profile(id string) *schema.Profile {
	p := &schema.Profile{ID: id, Tags: []string{}}
	for _, t := range carriedTags {
		if g.chance(3) {
			p.Tags = append(p.Tags, t)
		}
	}
	if g.chance(2) && !slices.Contains(p.Tags, id) && schema.ValidID(id) && slices.Contains(carriedTags, id) {
		p.Tags = append(p.Tags, id)
	}
	p.Inbound = g.rules(fmt.Sprintf("profiles/%s.yaml", id))
	p.Outbound = g.rules(fmt.Sprintf("profiles/%s.yaml", id))
	return p
}

func (g *gen) rules(path string) []schema.Rule {
	n := g.n(6)
	out := make([]schema.Rule, 0, n)
	for range n {
		out = append(out, g.validRule(path))
	}
	return out
}

// validRule draws rules until one validates (schema.ValidateRule); after 20 draws it falls
// back to a bare rule of the last draw's action.
func (g *gen) validRule(path string) schema.Rule {
	var r schema.Rule
	for range 20 {
		r = g.rule()
		if len(schema.ValidateRule(path, r, "")) == 0 {
			return r
		}
	}
	return schema.Rule{Action: r.Action}
}
