// Package repogen generates policy repositories for fuzzing and differential tests: a
// Source of choices (the bytes of a fuzz input, or a seeded PRNG) drives a structured
// generator that writes profile and endpoint files, in YAML and JSON, that mostly validate and
// that reach the edges of SPEC §2: ids and tags up to 64 bytes of [A-Za-z0-9_.-], interface
// names up to 15 bytes, every rule field and its negation, ports, ranges and overlapping port
// lists, ICMP types and codes 0-254, numeric protocols, IPv4 and IPv6 nets including /0 and
// host bits (in rules: endpoint nets are written as networks, as validation demands), several
// hosts, inactive endpoints, MACs, log prefixes up to 27 characters, tags that no endpoint
// carries. A few repositories also get raw or damaged files.
//
// Generate is deterministic: the same Source gives the same files. Alongside the files it
// returns the model the files were written from (Want), so that a test can check that what
// validates means what was written.
package repogen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/reconcile-dev/reconcile/schema"
)

// Source hands out choices. Intn returns a number in [0, n) (0 when n <= 1).
type Source interface {
	Intn(n int) int
}

// FromSeed returns a Source driven by a PCG generator seeded with seed.
func FromSeed(seed uint64) Source {
	return randSource{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

type randSource struct{ r *rand.Rand }

func (s randSource) Intn(n int) int {
	if n <= 1 {
		return 0
	}
	return s.r.IntN(n)
}

// FromBytes returns a Source that reads its choices from b (one byte per choice below 256,
// two below 65536, else four; big endian, modulo n). Once b is used up, the choices come from
// a PCG generator seeded with a hash of b, so that a short input still gives a whole
// repository. Fuzzers mutate b to steer the generator.
func FromBytes(b []byte) Source {
	h := fnv.New64a()
	h.Write(b)
	return &byteSource{b: b, rest: FromSeed(h.Sum64())}
}

type byteSource struct {
	b    []byte
	i    int
	rest Source
}

func (s *byteSource) Intn(n int) int {
	if n <= 1 {
		return 0
	}
	if s.i >= len(s.b) {
		return s.rest.Intn(n)
	}
	k := 1
	switch {
	case n > 1<<16:
		k = 4
	case n > 1<<8:
		k = 2
	}
	v := 0
	for range k {
		v <<= 8
		if s.i < len(s.b) {
			v |= int(s.b[s.i])
			s.i++
		}
	}
	return v % n
}

// Repo is one generated repository.
type Repo struct {
	// Files maps repository-relative slash paths to contents, as schema.Load takes them.
	Files map[string][]byte
	// Hosts are the host names the endpoints name, sorted, without duplicates.
	Hosts []string
	// Want is the repository the files were written from (no positions or paths). It is
	// nil when Raw is set: then the files no longer say exactly what Want holds.
	Want *schema.Repository
	// Raw is set when a file was replaced or damaged with raw bytes.
	Raw bool
}

// g is one generation run.
type g struct {
	src Source
	// used addresses: every endpoint gets its own /24 (v4) and /64 (v6) block.
	blocks int
}

func (g *g) n(n int) int       { return g.src.Intn(n) }
func (g *g) chance(k int) bool { return g.n(k) == 0 } // 1 in k
func (g *g) pick(ss []string) string {
	return ss[g.n(len(ss))]
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

// Bounds the generator writes up to: ids and tags (limits.MaxIDLen, issue 7), log prefixes
// (SPEC §2), interface names (IFNAMSIZ less the NUL).
const (
	MaxID        = 64
	MaxLogPrefix = 27
	MaxIfname    = 15
)

// id returns an id of [A-Za-z0-9_.-]: usually short and readable, sometimes up to MaxID
// bytes, sometimes of the characters that are easy to get wrong ("-", ".", "_", digits only).
func (g *g) id(base string) string {
	switch g.n(8) {
	case 0: // long, up to the limit
		l := MaxID - g.n(4)
		var b strings.Builder
		b.WriteString(base)
		for b.Len() < l {
			b.WriteByte(idChars[g.n(len(idChars))])
		}
		return b.String()[:l]
	case 1: // odd characters
		l := 1 + g.n(6)
		b := make([]byte, l)
		for i := range b {
			b[i] = "._-0123456789"[g.n(13)]
		}
		return string(b)
	case 2: // random of the charset
		l := 1 + g.n(20)
		b := make([]byte, l)
		for i := range b {
			b[i] = idChars[g.n(len(idChars))]
		}
		return string(b)
	}
	return base
}

// oddIfChars are characters Linux allows in an interface name (all but '/', ':', whitespace
// and NUL) that are easy to get wrong in nft text and YAML.
var oddIfChars = []string{`"`, `'`, `\\`, "#", ";", "{", "}", "$", "@", "+", "*", "=", "!", "é", "~", "%", ","}

// ifname returns an interface name of 1 to 15 bytes: mostly of [A-Za-z0-9_.-] starting with
// a letter; rarely with a character that Linux allows but that validation may refuse
// (whatever it accepts must then survive the whole pipeline).
func (g *g) ifname(i int) string {
	if g.chance(24) {
		s := fmt.Sprintf("c%d%s", i, g.pick(oddIfChars))
		if g.chance(2) {
			s += "x"
		}
		return s
	}
	switch g.n(4) {
	case 0:
		l := MaxIfname - g.n(3)
		b := []byte(fmt.Sprintf("c%d", i))
		for len(b) < l {
			b = append(b, idChars[g.n(len(idChars))])
		}
		return string(b[:l])
	case 1:
		return fmt.Sprintf("%c%d", 'a'+g.n(26), i)
	}
	return fmt.Sprintf("cali%d", i)
}

func (g *g) mac() string {
	b := make([]byte, 6)
	for i := range b {
		b[i] = byte(g.n(256))
	}
	b[0] &^= 1 // a unicast MAC: the source of a frame is never a group address
	if g.chance(2) {
		b[0] = 0xee
	}
	parts := make([]string, 6)
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	s := strings.Join(parts, ":")
	if g.chance(4) {
		s = strings.ToUpper(s)
	}
	return s
}

func (g *g) logPrefix() string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:-"
	l := 1 + g.n(MaxLogPrefix)
	if g.chance(3) {
		l = MaxLogPrefix
	}
	b := make([]byte, l)
	for i := range b {
		b[i] = chars[g.n(len(chars))]
	}
	return string(b)
}

// ruleNet returns a net of the family for a rule match: /0, host bits, bare addresses,
// documentation and test ranges.
func (g *g) ruleNet(fam int) string {
	if fam == 4 {
		switch g.n(6) {
		case 0:
			return "0.0.0.0/0"
		case 1:
			return fmt.Sprintf("198.%d.%d.%d", 18+g.n(2), g.n(256), g.n(256))
		case 2:
			return fmt.Sprintf("198.%d.%d.%d/%d", 18+g.n(2), g.n(256), g.n(256), g.n(33)) // host bits
		case 3:
			return fmt.Sprintf("192.0.2.%d/32", g.n(256))
		}
		return fmt.Sprintf("198.18.%d.0/24", g.n(256))
	}
	switch g.n(6) {
	case 0:
		return "::/0"
	case 1:
		return fmt.Sprintf("fd00::%x", g.n(1<<16))
	case 2:
		return fmt.Sprintf("fd%02x:%x::%x/%d", g.n(256), g.n(1<<16), g.n(1<<16), g.n(129)) // host bits
	case 3:
		return fmt.Sprintf("2001:db8::%x/128", g.n(1<<16))
	}
	return fmt.Sprintf("fd00:%x::/64", g.n(1<<16))
}

func (g *g) ports(max int) []schema.PortRange {
	n := 1 + g.n(max)
	out := make([]schema.PortRange, 0, n)
	for range n {
		switch g.n(6) {
		case 0:
			out = append(out, schema.PortRange{First: 0, Last: 0})
		case 1:
			out = append(out, schema.PortRange{First: 65535, Last: 65535})
		case 2, 3:
			a := uint16(g.n(65535))
			b := a + 1 + uint16(g.n(int(65535-a)))
			out = append(out, schema.PortRange{First: a, Last: b})
		case 4: // overlapping a previous entry
			if len(out) > 0 {
				p := out[g.n(len(out))]
				out = append(out, schema.PortRange{First: p.First, Last: p.First})
				continue
			}
			fallthrough
		default:
			p := uint16(g.n(65536))
			out = append(out, schema.PortRange{First: p, Last: p})
		}
	}
	return out
}

func ip(v int) *int { return &v }

var portProtos = []string{"tcp", "udp", "sctp", "udplite", "6", "17", "132", "136"}

func (g *g) protocol() schema.Protocol {
	switch g.n(4) {
	case 0:
		return schema.Protocol(strconv.Itoa(1 + g.n(255)))
	case 1:
		return schema.Protocol(g.pick(schema.ProtocolNames))
	}
	return schema.Protocol(g.pick(portProtos))
}

// rule returns a rule that validates: every field and negation, with the protocol, ICMP
// flavour, nets and ip_version kept consistent (SPEC §2); tags come from the pool.
func (g *g) rule(tags []string) schema.Rule {
	r := schema.Rule{Action: g.pick([]string{schema.ActionAllow, schema.ActionDeny, schema.ActionLog})}
	if r.Action == schema.ActionLog && g.chance(2) {
		r.LogPrefix = g.logPrefix()
	}
	fam := g.ruleProtocol(&r)
	if r.Protocol.HasPorts() {
		g.rulePorts(&r)
	}
	if r.Protocol.ICMPFamily() != 0 {
		g.ruleICMP(&r)
	}
	fam = g.ruleNets(&r, fam)
	if fam != 0 && g.chance(3) {
		r.IPVersion = fam
	}
	g.ruleTags(&r, tags)
	return r
}

// ruleProtocol sets the protocol and !protocol of r (never the same protocol) and returns the
// family they fix: 4 or 6 for an ICMP flavour, 0 for either.
func (g *g) ruleProtocol(r *schema.Rule) int {
	fam := 0 // 0: either
	switch g.n(5) {
	case 0:
		r.Protocol = g.protocol()
	case 1, 2:
		r.Protocol = schema.Protocol(g.pick(portProtos))
	case 3:
		if g.chance(2) {
			r.Protocol = "icmp"
			if g.chance(4) {
				r.Protocol = "1"
			}
			fam = 4
		} else {
			r.Protocol = "icmpv6"
			if g.chance(4) {
				r.Protocol = "58"
			}
			fam = 6
		}
	}
	if f := r.Protocol.ICMPFamily(); f != 0 {
		fam = f
	}
	if g.chance(5) {
		r.NotProtocol = g.protocol()
		// !protocol equal to protocol is a validation error (the rule could never match).
		pn, ok1 := r.Protocol.Number()
		nn, ok2 := r.NotProtocol.Number()
		if ok1 && ok2 && pn == nn {
			r.NotProtocol = ""
		}
	}
	return fam
}

// rulePorts sets some of the port lists of r (a protocol with ports) and their negations.
func (g *g) rulePorts(r *schema.Rule) {
	for _, p := range []*[]schema.PortRange{&r.SrcPorts, &r.DstPorts, &r.NotSrcPorts, &r.NotDstPorts} {
		if g.chance(3) {
			*p = g.ports(5)
		}
	}
	// A negated list that covers every positive port is a validation error: drop it.
	for _, f := range []struct{ pos, neg *[]schema.PortRange }{{&r.SrcPorts, &r.NotSrcPorts}, {&r.DstPorts, &r.NotDstPorts}} {
		if len(*f.pos) > 0 && len(*f.neg) > 0 && covers(*f.neg, *f.pos) {
			*f.neg = nil
		}
	}
}

// ruleICMP sets some of the ICMP type and code fields of r (an ICMP flavour) and their
// negations.
func (g *g) ruleICMP(r *schema.Rule) {
	if g.chance(2) {
		r.ICMPType = ip(g.icmp())
		if g.chance(2) {
			r.ICMPCode = ip(g.icmp())
		}
	}
	if g.chance(3) {
		r.NotICMPType = ip(g.icmp())
	}
	if (r.ICMPType != nil || r.NotICMPType != nil) && g.chance(3) {
		r.NotICMPCode = ip(g.icmp())
	}
	// A negation equal to its positive value is a validation error (the rule could never
	// match): drop it.
	eq := func(a, b *int) bool { return a != nil && b != nil && *a == *b }
	if eq(r.ICMPType, r.NotICMPType) && eq(r.ICMPCode, r.NotICMPCode) {
		r.NotICMPType, r.NotICMPCode = nil, nil
	}
	if r.NotICMPCode == nil && eq(r.ICMPType, r.NotICMPType) {
		r.NotICMPType = nil
	}
	if r.NotICMPType == nil && eq(r.ICMPCode, r.NotICMPCode) {
		r.NotICMPCode = nil
	}
}

// ruleNets sets some of the nets of r and their negations, all of one family: fam when the
// protocol fixed one, else one picked here. It returns the family of the rule: fam, or the
// nets' family when r got a net, or a family picked for ip_version alone (0: either).
func (g *g) ruleNets(r *schema.Rule, fam int) int {
	if fam == 0 && g.chance(3) {
		fam = 4 + 2*g.n(2)
	}
	netFam := fam
	if netFam == 0 {
		netFam = 4 + 2*g.n(2)
	}
	for _, s := range []*string{&r.SrcNet, &r.DstNet, &r.NotSrcNet, &r.NotDstNet} {
		if g.chance(5) {
			*s = g.ruleNet(netFam)
			fam = netFam
		}
	}
	// A negation that contains its positive net is a validation error (the rule could never
	// match): drop the negation.
	for _, f := range []struct{ pos, neg *string }{{&r.SrcNet, &r.NotSrcNet}, {&r.DstNet, &r.NotDstNet}} {
		p, err1 := schema.ParseNet(*f.pos)
		np, err2 := schema.ParseNet(*f.neg)
		if err1 == nil && err2 == nil && np.Bits() <= p.Bits() && np.Masked().Contains(p.Addr()) {
			*f.neg = ""
		}
	}
	return fam
}

// ruleTags sets some of the tags of r and their negations from the pool, never a tag and its
// own negation.
func (g *g) ruleTags(r *schema.Rule, tags []string) {
	for _, s := range []*string{&r.SrcTag, &r.DstTag, &r.NotSrcTag, &r.NotDstTag} {
		if len(tags) > 0 && g.chance(4) {
			*s = g.pick(tags)
		}
	}
	if r.NotSrcTag == r.SrcTag {
		r.NotSrcTag = ""
	}
	if r.NotDstTag == r.DstTag {
		r.NotDstTag = ""
	}
}

func (g *g) icmp() int {
	switch g.n(4) {
	case 0:
		return 0
	case 1:
		return 254
	}
	return g.n(255)
}

// Generate builds one repository from src: a pool of tags, profiles, hosts and endpoints (the
// model, Want), written out as files; rarely a file is then damaged (Raw).
func Generate(src Source) *Repo {
	g := &g{src: src}
	want := &schema.Repository{Profiles: map[string]*schema.Profile{}}
	tags := g.tags()
	pids := g.profiles(want, tags)
	pids = g.shortenedTwinProfile(want, pids)
	g.endpoints(want, g.hosts(), pids)
	repo := &Repo{Files: map[string][]byte{}, Want: want}
	g.writeProfiles(repo, pids)
	g.writeEndpoints(repo)
	if g.chance(12) {
		g.damage(repo)
	}
	return repo
}

// tags returns the pool of tags; some are carried by no profile, some by profiles no endpoint
// uses.
func (g *g) tags() []string {
	var tags []string
	for i := range 1 + g.n(6) {
		t := g.id(fmt.Sprintf("TAG%d", i))
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

// profiles adds profiles (tags from the pool, up to 5 rules each way) to want and returns
// their ids in the order made.
func (g *g) profiles(want *schema.Repository, tags []string) []string {
	var pids []string
	for i := range 1 + g.n(5) {
		id := g.id(fmt.Sprintf("P%d", i))
		if want.Profiles[id] != nil || id == "." || id == ".." {
			continue
		}
		p := &schema.Profile{ID: id}
		if !g.chance(6) {
			p.Tags = []string{}
			for range g.n(4) {
				t := g.pick(tags)
				if !slices.Contains(p.Tags, t) {
					p.Tags = append(p.Tags, t)
				}
			}
		}
		for _, rs := range []*[]schema.Rule{&p.Inbound, &p.Outbound} {
			for range g.n(6) {
				*rs = append(*rs, g.rule(tags))
			}
		}
		want.Profiles[id] = p
		pids = append(pids, id)
	}
	return pids
}

// shortenedTwinProfile rarely adds a profile whose id is what compile.Name shortens another,
// long, id to (its first bytes, "-" and 12 hex digits of the SHA-256 of the full chain name):
// both ids are valid and at most 64 bytes. It returns pids with the new id, if any.
func (g *g) shortenedTwinProfile(want *schema.Repository, pids []string) []string {
	if len(pids) > 0 && g.chance(40) {
		long := pids[g.n(len(pids))]
		if id := shortenedTwin("profile-out-", long); id != "" && want.Profiles[id] == nil {
			want.Profiles[id] = &schema.Profile{ID: id, Inbound: []schema.Rule{{Action: schema.ActionAllow}}}
			pids = append(pids, id)
		}
	}
	return pids
}

// hosts returns node-1 and up to 2 more host names.
func (g *g) hosts() []string {
	hosts := []string{"node-1"}
	for i := range g.n(3) {
		hosts = append(hosts, g.pick([]string{fmt.Sprintf("node-%d", i+2), fmt.Sprintf("h%d.example.org", i), fmt.Sprintf("Host_%d", i)}))
	}
	return hosts
}

// endpoints adds up to 7 endpoints on hosts to want, with unique ids and unique interfaces per
// host, profiles picked from pids.
func (g *g) endpoints(want *schema.Repository, hosts, pids []string) {
	ids := map[string]bool{}
	ifaces := map[string]bool{}
	nEP := g.n(8)
	for i := range nEP {
		e := &schema.Endpoint{ID: g.id(fmt.Sprintf("ep%d", i)), Host: g.pick(hosts), IPv4Nets: []string{}, IPv6Nets: []string{}, ProfileIDs: []string{}}
		if ids[e.ID] {
			continue
		}
		e.Interface = g.ifname(i)
		if ifaces[e.Host+"/"+e.Interface] {
			e.Interface = fmt.Sprintf("cali%d", i)
		}
		ids[e.ID] = true
		ifaces[e.Host+"/"+e.Interface] = true
		if g.chance(2) {
			e.MAC = g.mac()
		}
		switch g.n(4) {
		case 0:
			e.State = schema.StateInactive
		case 1:
			e.State = schema.StateActive
		}
		g.endpointNets(e)
		for range g.n(4) {
			if len(pids) > 0 {
				p := g.pick(pids)
				if !slices.Contains(e.ProfileIDs, p) {
					e.ProfileIDs = append(e.ProfileIDs, p)
				}
			}
		}
		want.Endpoints = append(want.Endpoints, e)
	}
}

// endpointNets gives e up to 2 IPv4 and 2 IPv6 nets, without duplicates, from a block of its
// own: 198.18.<b>.0/24 and fd00:0:<b>::/64, so addresses never overlap between endpoints.
func (g *g) endpointNets(e *schema.Endpoint) {
	b := g.blocks
	g.blocks++
	for range g.n(3) {
		switch g.n(3) {
		case 0:
			// A network of the block (validation refuses host bits in endpoint nets).
			p := netip.MustParsePrefix(fmt.Sprintf("198.18.%d.%d/%d", b, g.n(256), 24+g.n(9))).Masked()
			e.IPv4Nets = append(e.IPv4Nets, p.String())
		case 1:
			e.IPv4Nets = append(e.IPv4Nets, fmt.Sprintf("198.18.%d.%d", b, g.n(256)))
		default:
			e.IPv4Nets = append(e.IPv4Nets, fmt.Sprintf("198.18.%d.%d/32", b, g.n(256)))
		}
	}
	for range g.n(3) {
		switch g.n(3) {
		case 0:
			p := netip.MustParsePrefix(fmt.Sprintf("fd00:0:%x::%x/%d", b, g.n(1<<16), 64+g.n(65))).Masked()
			e.IPv6Nets = append(e.IPv6Nets, p.String())
		default:
			e.IPv6Nets = append(e.IPv6Nets, fmt.Sprintf("fd00:0:%x::%x", b, g.n(1<<16)))
		}
	}
	e.IPv4Nets = dedup(e.IPv4Nets)
	e.IPv6Nets = dedup(e.IPv6Nets)
}

// ext picks a file extension: .json one time in 3, else .yaml.
func (g *g) ext() string {
	if g.chance(3) {
		return ".json"
	}
	return ".yaml"
}

// writeProfiles writes each profile of pids to profiles/<id>.yaml or .json.
func (g *g) writeProfiles(repo *Repo, pids []string) {
	for _, id := range pids {
		ext := g.ext()
		repo.Files["profiles/"+id+ext] = g.write(ext, profileValue(repo.Want.Profiles[id]))
	}
}

// writeEndpoints spreads the endpoints of repo.Want over 1 to 3 files endpoints/e<k>.yaml or
// .json, reorders repo.Want.Endpoints by file (files sorted by path, as Load returns them) and
// sets repo.Hosts.
func (g *g) writeEndpoints(repo *Repo) {
	want := repo.Want
	nFiles := 1 + g.n(3)
	groups := make([][]*schema.Endpoint, nFiles)
	for _, e := range want.Endpoints {
		k := g.n(nFiles)
		groups[k] = append(groups[k], e)
	}
	want.Endpoints = nil
	names := make([]string, nFiles)
	for k := range groups {
		ext := g.ext()
		names[k] = fmt.Sprintf("endpoints/e%d%s", k, ext)
		var list []any
		for _, e := range groups[k] {
			list = append(list, endpointValue(e))
		}
		repo.Files[names[k]] = g.write(ext, obj{{"endpoints", listOrEmpty(list)}})
	}
	order := slices.Clone(names)
	sort.Strings(order)
	for _, n := range order {
		k := slices.Index(names, n)
		want.Endpoints = append(want.Endpoints, groups[k]...)
	}
	hs := map[string]bool{}
	for _, e := range want.Endpoints {
		hs[e.Host] = true
	}
	for h := range hs {
		repo.Hosts = append(repo.Hosts, h)
	}
	sort.Strings(repo.Hosts)
}

// damage truncates a file, flips a byte of one or adds a file of raw bytes, and marks repo Raw
// (Want no longer describes the files, so it is dropped).
func (g *g) damage(repo *Repo) {
	repo.Raw = true
	repo.Want = nil
	paths := make([]string, 0, len(repo.Files))
	for p := range repo.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	p := paths[g.n(len(paths))]
	b := repo.Files[p]
	switch g.n(4) {
	case 0: // truncate
		repo.Files[p] = b[:g.n(len(b)+1)]
	case 1: // flip a byte
		if len(b) > 0 {
			c := slices.Clone(b)
			c[g.n(len(c))] = byte(g.n(256))
			repo.Files[p] = c
		}
	default: // raw bytes in a new file
		raw := make([]byte, g.n(64))
		for i := range raw {
			raw[i] = byte(g.n(256))
		}
		repo.Files[g.pick([]string{"profiles/RAW.yaml", "profiles/RAW.json", "endpoints/raw.yaml", "endpoints/raw.json", "tests/raw.yaml"})] = raw
	}
}

// shortenedTwin returns the id whose chain name prefix+id is, unshortened, the shortened
// name (compile.Name) of prefix+long, or "" when prefix+long is not shortened.
func shortenedTwin(prefix, long string) string {
	const maxName, keep, hashLen = 64, 50, 12
	full := prefix + long
	if len(full) <= maxName {
		return ""
	}
	sum := sha256.Sum256([]byte(full))
	return (full[:keep] + "-" + hex.EncodeToString(sum[:])[:hashLen])[len(prefix):]
}

func dedup(ss []string) []string {
	var out []string
	seen := map[netip.Prefix]bool{}
	for _, s := range ss {
		p, err := schema.ParseNet(s)
		if err != nil || seen[p.Masked()] {
			continue
		}
		seen[p.Masked()] = true
		out = append(out, s)
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func listOrEmpty(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

// covers reports whether the ranges of neg cover every port of pos.
func covers(neg, pos []schema.PortRange) bool {
	for _, p := range pos {
		for port := int(p.First); port <= int(p.Last); port++ {
			in := false
			for _, n := range neg {
				in = in || int(n.First) <= port && port <= int(n.Last)
			}
			if !in {
				return false
			}
		}
	}
	return true
}
