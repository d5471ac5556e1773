package compile

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

// HostKeyVersion is the first field of every key HostKeys returns ("hk1:<64 hex digits>"). It
// changes whenever Compile reads an input that the keys do not cover yet, or the encoding of
// the keyed inputs changes: keys of two versions never compare equal, so a base keyed by an
// older binary is compiled again rather than wrongly taken as unchanged.
const HostKeyVersion = "hk1"

// HostKeys returns, for every host named by an endpoint of repo (sorted), a key of everything
// the compiled ruleset of that host (Compile with opts.Table) depends on: two repositories that
// give a host the same key give it identical rulesets, so `plan --all-hosts` compiles only the
// hosts whose key differs between the base and the head. Equal keys mean the same outcome of
// Compile: the same ruleset, or the same error. opts.Host and opts.Tags are ignored. A key is
// HostKeyVersion, ":" and 64 hex digits; nothing is reported as an error (an input Compile
// fails on is keyed like any other), nil endpoints are skipped, and an empty host name is a
// host like any other (Compile refuses it). A nil repo has no hosts.
//
// It compiles nothing. One pass over the repository computes, per host, the sha256 of
// (hostkeys_diff_test.go checks the promise on generated repositories and their mutations):
//   - HostKeyVersion, the table name (opts.Table, nft.DefaultTable when empty) and the host;
//   - its endpoints: id, interface, whether active; for an active one its profile ids in
//     order, and when it has some its MAC and its nets (merged per family when all parse, as
//     the anti-spoof rules hold them; else as written). In id order when none of them can
//     fail Compile (no empty or shared interface, no repeated id, no missing profile,
//     unparsable net or MAC), else in repository order, which decides the error reported;
//   - each profile its active endpoints use (sorted ids): missing, or the sha256 of its
//     inbound and outbound rules, every field but the position (log_prefix only of a log
//     rule);
//   - each tag those rules name (src_tag, dst_tag and negations) in the IP families the rule is
//     rendered in: the sha256 of the tag's members' nets merged per family (as MergePrefixes;
//     members on any host and in any state), or the error of its first member (repository
//     order) with a net that does not parse.
//
// A profile's own tags, inactive endpoints' profiles and nets, and endpoints of other hosts
// count only through the tag sets above, so an ordinary change touches few keys: an endpoint
// that carries no referenced tag changes only its host's key, a profile's rules only the keys
// of the hosts using it, a tag's members only the hosts whose rules name the tag. A key may
// change while the ruleset does not (a rule rewritten to an equivalent one, a repository
// whose compile fails in another way than before); it never stays equal while the outcome
// changes.
//
// Cost: linear in the repository (each net parsed once, each referenced tag merged once),
// spread over GOMAXPROCS goroutines: about 0.2 s for the 100,000 endpoints of repogen.Fleet on
// 2 cores (BenchmarkHostKeysFleet), a twentieth of loading them. Memory: the parsed nets of
// the endpoints that carry a referenced tag (24 bytes each) and one key per host.
func HostKeys(repo *schema.Repository, opts Options) (hosts []string, keys map[string]string) {
	return hostKeys(repo, opts, runtime.GOMAXPROCS(0))
}

// hostKeys is HostKeys on up to workers goroutines.
func hostKeys(repo *schema.Repository, opts Options, workers int) (hosts []string, keys map[string]string) {
	keys = map[string]string{}
	if repo == nil {
		return nil, keys
	}
	table := opts.Table
	if table == "" {
		table = nft.DefaultTable
	}
	k := &keyer{repo: repo, workers: max(workers, 1)}
	byHost := k.scan()
	hosts = make([]string, 0, len(byHost))
	for h := range byHost {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	k.profileKeys()
	k.tagMembers()
	k.parseNets()
	k.tagKeys()

	sums := make([]string, len(hosts))
	scratch := make([]hostScratch, k.workers)
	k.parallel(len(hosts), func(w, i int) {
		sc := &scratch[w]
		sc.b = k.hostKey(sc, table, hosts[i], byHost[hosts[i]])
		sum := sha256.Sum256(sc.b)
		sums[i] = HostKeyVersion + ":" + hex.EncodeToString(sum[:])
	})
	for i, h := range hosts {
		keys[h] = sums[i]
	}
	return hosts, keys
}

// tagRef is one tag a profile's rules name in one family: the set tag-v4-T or tag-v6-T.
type tagRef struct {
	tag string
	fam nft.Family
}

// profKey is what a used profile contributes to a host key.
type profKey struct {
	sum  [32]byte // of its rules (appendRules)
	refs []tagRef // the tag sets its rules reference, sorted, each once
	// sets are refs as tag set numbers: tag index<<1, +1 for IPv6 (sorted: tags are indexed in
	// name order).
	sets []uint32
}

// tagState is what a referenced tag contributes to a host key.
type tagState struct {
	name    string
	members []int32 // endpoint indexes, repository order
	err     string  // the error of its first member with an unparsable net ("": none)
	v4, v6  [32]byte
}

type keyer struct {
	repo    *schema.Repository
	workers int

	used   []string         // profiles named by active endpoints (any host), sorted
	useIdx map[string]int32 // used profile -> index in used
	profs  []*profKey       // by index in used; nil: the profile does not exist

	tagIdx map[string]int32 // referenced tag -> index in tags (tags sorted by name)
	tags   []tagState

	// Parsed nets of the endpoints that are members of a referenced tag: endpoint i's are
	// nets[off[i]:off[i+1]] when parsed[i]; netErr[i] is set when one does not parse.
	parsed []bool
	off    []int32
	nets   []net128
	netErr map[int32]string
}

// parallel calls f(worker, i) for every i in [0, n) on up to k.workers goroutines.
func (k *keyer) parallel(n int, f func(w, i int)) {
	w := min(k.workers, n)
	if w <= 1 || n < 32 {
		for i := range n {
			f(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	const chunk = 16
	for id := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					f(id, i)
				}
			}
		}()
	}
	wg.Wait()
}

// scan groups the endpoints by host (indexes, repository order) and collects the profiles
// active endpoints use.
func (k *keyer) scan() map[string][]int32 {
	byHost := map[string][]int32{}
	used := map[string]bool{}
	last, lastList := "", []int32(nil)
	for i, e := range k.repo.Endpoints {
		if e == nil {
			continue
		}
		if e.Host != last || lastList == nil {
			if lastList != nil {
				byHost[last] = lastList
			}
			last, lastList = e.Host, byHost[e.Host]
		}
		lastList = append(lastList, int32(i))
		if e.Active() {
			for _, pid := range e.ProfileIDs {
				used[pid] = true
			}
		}
	}
	if lastList != nil {
		byHost[last] = lastList
	}
	k.used = make([]string, 0, len(used))
	for pid := range used {
		k.used = append(k.used, pid)
	}
	slices.Sort(k.used)
	k.useIdx = make(map[string]int32, len(k.used))
	for i, pid := range k.used {
		k.useIdx[pid] = int32(i)
	}
	return byHost
}

// profileKeys hashes the rules of every used profile and lists the tag sets they reference;
// every referenced tag gets a tagState.
func (k *keyer) profileKeys() {
	k.profs = make([]*profKey, len(k.used))
	k.parallel(len(k.used), func(_, i int) {
		p := k.repo.Profiles[k.used[i]]
		if p == nil {
			return
		}
		b := appendRules(nil, p.Inbound)
		b = appendRules(b, p.Outbound)
		k.profs[i] = &profKey{sum: sha256.Sum256(b), refs: ruleTagRefs(p)}
	})
	var names []string
	for _, pk := range k.profs {
		if pk != nil {
			for _, r := range pk.refs {
				names = append(names, r.tag)
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	k.tagIdx = make(map[string]int32, len(names))
	k.tags = make([]tagState, len(names))
	for i, t := range names {
		k.tagIdx[t] = int32(i)
		k.tags[i].name = t
	}
	for _, pk := range k.profs {
		if pk == nil {
			continue
		}
		pk.sets = make([]uint32, len(pk.refs))
		for j, r := range pk.refs {
			pk.sets[j] = uint32(k.tagIdx[r.tag]) << 1
			if r.fam == nft.IPv6 {
				pk.sets[j]++
			}
		}
	}
}

// ruleTagRefs returns the tag sets the rules of p reference: each tag of a rule in each
// family the rule is rendered in (families; both when the rule does not compile, whose
// error then decides the outcome anyway).
func ruleTagRefs(p *schema.Profile) []tagRef {
	var refs []tagRef
	for _, rules := range [2][]schema.Rule{p.Inbound, p.Outbound} {
		for i := range rules {
			r := &rules[i]
			if r.SrcTag == "" && r.DstTag == "" && r.NotSrcTag == "" && r.NotDstTag == "" {
				continue
			}
			fams, _, err := families(r)
			if err != nil {
				fams = []nft.Family{nft.IPv4, nft.IPv6}
			}
			for _, t := range [4]string{r.SrcTag, r.DstTag, r.NotSrcTag, r.NotDstTag} {
				if t == "" {
					continue
				}
				for _, f := range fams {
					refs = append(refs, tagRef{t, f})
				}
			}
		}
	}
	slices.SortFunc(refs, compareTagRefs)
	return slices.Compact(refs)
}

func compareTagRefs(a, b tagRef) int {
	return cmp.Or(cmp.Compare(a.tag, b.tag), cmp.Compare(a.fam, b.fam))
}

// tagMembers lists, for every referenced tag, the endpoints whose (existing) profiles carry
// it, each once, in repository order: the members tagMembers (compile.go) gives Compile.
func (k *keyer) tagMembers() {
	if len(k.tags) == 0 {
		return
	}
	// The referenced tags each profile carries, once.
	carried := map[string][]int32{}
	for pid, p := range k.repo.Profiles {
		if p == nil {
			continue
		}
		var ts []int32
		for _, t := range p.Tags {
			if ti, ok := k.tagIdx[t]; ok && !slices.Contains(ts, ti) {
				ts = append(ts, ti)
			}
		}
		if ts != nil {
			carried[pid] = ts
		}
	}
	var ets []int32
	for i, e := range k.repo.Endpoints {
		if e == nil {
			continue
		}
		ets = ets[:0]
		for _, pid := range e.ProfileIDs {
			for _, ti := range carried[pid] {
				if !slices.Contains(ets, ti) {
					ets = append(ets, ti)
					k.tags[ti].members = append(k.tags[ti].members, int32(i))
				}
			}
		}
	}
}

// parseNets parses, once, the nets of every endpoint that is a member of a referenced tag.
func (k *keyer) parseNets() {
	n := len(k.repo.Endpoints)
	member := make([]bool, n)
	k.parsed = member
	for ti := range k.tags {
		for _, i := range k.tags[ti].members {
			member[i] = true
		}
	}
	k.off = make([]int32, n+1)
	total := 0
	for i, e := range k.repo.Endpoints {
		k.off[i] = int32(total)
		if member[i] {
			total += len(e.IPv4Nets) + len(e.IPv6Nets)
		}
	}
	k.off[n] = int32(total)
	k.nets = make([]net128, total)
	var mu sync.Mutex
	k.netErr = map[int32]string{}
	const chunk = 256
	k.parallel((n+chunk-1)/chunk, func(_, c int) {
		for i := c * chunk; i < min(c*chunk+chunk, n); i++ {
			if !member[i] {
				continue
			}
			e := k.repo.Endpoints[i]
			j, bad := k.off[i], false
			for _, list := range [2][]string{e.IPv4Nets, e.IPv6Nets} {
				for _, s := range list {
					p, err := schema.ParseNet(s)
					if err != nil && !bad {
						// The error addTagNets returns for this member: its first bad net.
						bad = true
						mu.Lock()
						k.netErr[int32(i)] = fmt.Errorf("compile: endpoint %q: %w", e.ID, err).Error()
						mu.Unlock()
					}
					if err == nil {
						k.nets[j] = toNet128(p)
					}
					j++
				}
			}
		}
	})
}

// tagKeys merges the members' nets of every referenced tag per family and hashes them, or
// records the error of its first member with an unparsable net.
func (k *keyer) tagKeys() {
	type scratch struct {
		v4 []uint64 // net128.hi | bits: sorts as (address, length)
		v6 []net128
		b  []byte
	}
	sc := make([]scratch, k.workers)
	k.parallel(len(k.tags), func(w, ti int) {
		t := &k.tags[ti]
		s := &sc[w]
		s.v4, s.v6 = s.v4[:0], s.v6[:0]
		for _, i := range t.members {
			if msg, bad := k.netErr[i]; bad {
				t.err = msg
				return
			}
			for _, n := range k.nets[k.off[i]:k.off[i+1]] {
				if n.v6 {
					s.v6 = append(s.v6, n)
				} else {
					s.v4 = append(s.v4, n.hi|uint64(n.bits))
				}
			}
		}
		slices.Sort(s.v4)
		slices.SortFunc(s.v6, compareNet128)
		// The IPv4 ones are merged in the memory of the IPv6 ones, which are merged first.
		m6 := mergeSorted(s.v6[:0], slices.Values(s.v6))
		s.b = appendNets(s.b[:0], m6)
		t.v6 = sha256.Sum256(s.b)
		m4 := mergeSorted(s.v6[:0], func(yield func(net128) bool) {
			for _, x := range s.v4 {
				if !yield(net128{hi: x &^ 0xff, bits: uint8(x)}) {
					return
				}
			}
		})
		s.b = appendNets(s.b[:0], m4)
		t.v4 = sha256.Sum256(s.b)
		s.v6 = m4[:0]
	})
}

// net128 is a masked prefix as a 128-bit number, the address left-aligned (an IPv4 address in
// the top 32 bits of hi), its length, and its family (netip.Addr.Is4, as Compile sorts nets).
type net128 struct {
	hi, lo uint64
	bits   uint8
	v6     bool
}

func toNet128(p netip.Prefix) net128 {
	p = p.Masked()
	n := net128{bits: uint8(p.Bits())}
	if p.Addr().Is4() {
		a := p.Addr().As4()
		n.hi = uint64(binary.BigEndian.Uint32(a[:])) << 32
		return n
	}
	a := p.Addr().As16()
	n.hi, n.lo, n.v6 = binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:]), true
	return n
}

// compareNet128 orders by address, then length: MergePrefixes's order.
func compareNet128(a, b net128) int {
	switch {
	case a.hi != b.hi:
		return cmp.Compare(a.hi, b.hi)
	case a.lo != b.lo:
		return cmp.Compare(a.lo, b.lo)
	}
	return cmp.Compare(a.bits, b.bits)
}

// covers reports whether the address of b lies in prefix a (same family).
func (a net128) covers(b net128) bool {
	if a.bits <= 64 {
		return (a.hi^b.hi)>>(64-a.bits) == 0 // a shift by 64 is 0: /0 covers everything
	}
	return a.hi == b.hi && (a.lo^b.lo)>>(128-a.bits) == 0
}

// masked returns a shortened to n bits.
func (a net128) masked(n uint8) net128 {
	if n <= 64 {
		a.hi &= ^uint64(0) << (64 - n)
		a.lo = 0
	} else {
		a.lo &= ^uint64(0) << (128 - n)
	}
	a.bits = n
	return a
}

// mergeSorted is MergePrefixes's merge of a sorted sequence of one family (contained
// prefixes dropped, sibling halves joined, repeatedly), appended to out. Its result is the
// minimal cover of the addresses the sequence covers: equal results mean equal tag sets.
// out may share memory with the sequence's source as long as it stays behind the reading.
func mergeSorted(out []net128, seq func(yield func(net128) bool)) []net128 {
	for p := range seq {
		if n := len(out); n > 0 && out[n-1].covers(p) {
			continue
		}
		out = append(out, p)
		for len(out) >= 2 {
			a, b := out[len(out)-2], out[len(out)-1]
			if a.bits != b.bits || a.bits == 0 || a == b || a.masked(a.bits-1) != b.masked(b.bits-1) {
				break
			}
			out = append(out[:len(out)-2], a.masked(a.bits-1))
		}
	}
	return out
}

// hostScratch is one worker's reusable memory for hostKey.
type hostScratch struct {
	b            []byte
	seenP, seenT []uint64 // bitmaps: the profiles (index in used) and tag sets of the host
	pidx         []int32
	sets         []uint32
	l4, l6       []net128
	rb           []byte     // the endpoints' records
	recs         []epRecord // where each is in rb
	ifaces, ids  map[string]bool
}

// epRecord is one local endpoint's part of a host key: rb[start:end].
type epRecord struct {
	id         string
	start, end int
}

// hostKey returns the encoding (in sc.b) of everything Compile reads for host (its endpoints:
// indexes into the repository, in order): the endpoints, then the profiles they use, then the
// tag sets those profiles' rules render.
func (k *keyer) hostKey(sc *hostScratch, table, host string, local []int32) []byte {
	if sc.seenP == nil {
		sc.seenP = make([]uint64, (len(k.used)+63)/64)
		sc.seenT = make([]uint64, (2*len(k.tags)+63)/64)
	}
	clear(sc.seenP)
	clear(sc.seenT)
	b := sc.b[:0]
	b = appendStr(b, HostKeyVersion)
	b = appendStr(b, table)
	b = appendStr(b, host)
	b = k.appendEndpoints(b, sc, local)
	b = k.appendProfiles(b, sc)
	return k.appendTagSets(b, sc)
}

// appendEndpoints appends one record per local endpoint and marks the profiles the active ones
// use in sc.seenP. Compile reads the endpoints in repository order, but the order decides only
// which of two failing endpoints it reports (localEndpoints, endpointChains): when none of them
// can fail, the records are keyed in id order (ids are unique then).
func (k *keyer) appendEndpoints(b []byte, sc *hostScratch, local []int32) []byte {
	if sc.ifaces == nil {
		sc.ifaces, sc.ids = map[string]bool{}, map[string]bool{}
	}
	clear(sc.ifaces)
	clear(sc.ids)
	rb, recs := sc.rb[:0], sc.recs[:0]
	clean := true
	for _, i := range local {
		e := k.repo.Endpoints[i]
		start := len(rb)
		rb = appendStr(rb, e.ID)
		rb = appendStr(rb, e.Interface)
		if e.Interface == "" || sc.ifaces[e.Interface] || sc.ids[e.ID] {
			clean = false // localEndpoints fails
		}
		sc.ifaces[e.Interface], sc.ids[e.ID] = true, true
		if !e.Active() {
			// endpointChains reads nothing else of an inactive endpoint: its chains drop.
			rb = append(rb, 0)
			recs = append(recs, epRecord{e.ID, start, len(rb)})
			continue
		}
		rb = append(rb, 1)
		rb = appendStrs(rb, e.ProfileIDs)
		if len(e.ProfileIDs) > 0 {
			rb = appendStr(rb, e.MAC)
			var netsOK bool
			rb, netsOK = k.appendLocalNets(rb, sc, i, e)
			if !netsOK || !validMAC(e.MAC) {
				clean = false // antiSpoof fails
			}
			for _, pid := range e.ProfileIDs {
				pi := k.useIdx[pid]
				sc.seenP[pi/64] |= 1 << (pi % 64)
				if k.profs[pi] == nil {
					clean = false // endpointChains fails
				}
			}
		}
		recs = append(recs, epRecord{e.ID, start, len(rb)})
	}
	if clean {
		b = append(b, 1)
		slices.SortFunc(recs, func(x, y epRecord) int { return cmp.Compare(x.id, y.id) })
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		b = append(b, rb[r.start:r.end]...)
	}
	sc.rb, sc.recs = rb, recs
	return b
}

// appendProfiles appends the profiles marked in sc.seenP, in id order (used is sorted), each
// once, and marks the tag sets their rules render in sc.seenT.
func (k *keyer) appendProfiles(b []byte, sc *hostScratch) []byte {
	pidx := setBits(sc.pidx[:0], sc.seenP)
	b = binary.AppendUvarint(b, uint64(len(pidx)))
	for _, pi := range pidx {
		b = appendStr(b, k.used[pi])
		pk := k.profs[pi]
		if pk == nil {
			b = append(b, 0) // missing: Compile fails on it
			continue
		}
		b = append(b, 1)
		b = append(b, pk.sum[:]...)
		for _, s := range pk.sets {
			sc.seenT[s/64] |= 1 << (s % 64)
		}
	}
	sc.pidx = pidx
	return b
}

// appendTagSets appends the tag sets marked in sc.seenT in (tag, family) order (tags are
// indexed by name), each once: its members' merged nets, or the error of the first member
// whose net does not parse.
func (k *keyer) appendTagSets(b []byte, sc *hostScratch) []byte {
	sets := setBits(sc.sets[:0], sc.seenT)
	b = binary.AppendUvarint(b, uint64(len(sets)))
	for _, s := range sets {
		t := &k.tags[s>>1]
		b = appendStr(b, t.name)
		b = append(b, byte(s&1))
		if t.err != "" {
			b = append(b, 0)
			b = appendStr(b, t.err)
			continue
		}
		b = append(b, 1)
		if s&1 == 1 {
			b = append(b, t.v6[:]...)
		} else {
			b = append(b, t.v4[:]...)
		}
	}
	sc.sets = sets
	return b
}

// setBits appends to dst the indexes of the bits set in words, in increasing order.
func setBits[T int32 | uint32](dst []T, words []uint64) []T {
	for w, word := range words {
		for ; word != 0; word &= word - 1 {
			dst = append(dst, T(w*64+bits.TrailingZeros64(word)))
		}
	}
	return dst
}

// appendLocalNets appends what the anti-spoof rules of local endpoint i (active, with
// profiles) depend on: when all its nets parse, their merge per family (antiSpoof sorts them
// by netip.Addr.Is4 and merges them; written "198.18.0.1" or "198.18.0.1/32", in either list, in
// any order, they give the same key); otherwise the nets as written (Compile fails on the
// first that does not parse).
func (k *keyer) appendLocalNets(b []byte, sc *hostScratch, i int32, e *schema.Endpoint) (_ []byte, ok bool) {
	l4, l6 := sc.l4[:0], sc.l6[:0]
	ok = true
	add := func(n net128) {
		if n.v6 {
			l6 = append(l6, n)
		} else {
			l4 = append(l4, n)
		}
	}
	if k.parsed[i] {
		_, bad := k.netErr[i]
		ok = !bad
		if ok {
			for _, n := range k.nets[k.off[i]:k.off[i+1]] {
				add(n)
			}
		}
	} else {
		for _, list := range [2][]string{e.IPv4Nets, e.IPv6Nets} {
			for _, s := range list {
				p, err := schema.ParseNet(s)
				if err != nil {
					ok = false
					break
				}
				add(toNet128(p))
			}
		}
	}
	sc.l4, sc.l6 = l4, l6
	if !ok {
		b = append(b, 0)
		b = appendStrs(b, e.IPv4Nets)
		return appendStrs(b, e.IPv6Nets), false
	}
	b = append(b, 1)
	slices.SortFunc(l4, compareNet128)
	slices.SortFunc(l6, compareNet128)
	b = appendNets(b, mergeSorted(l4[:0], slices.Values(l4)))
	return appendNets(b, mergeSorted(l6[:0], slices.Values(l6))), true
}

// validMAC reports whether antiSpoof takes mac: empty, or a 6-byte net.ParseMAC address. The
// usual spelling (six hex pairs split by ':' or by '-', which ParseMAC takes) is checked
// without allocating.
func validMAC(mac string) bool {
	if mac == "" {
		return true
	}
	if len(mac) == 17 && (mac[2] == ':' || mac[2] == '-') {
		ok := true
		for i := 0; i < 17 && ok; i++ {
			if i%3 == 2 {
				ok = mac[i] == mac[2]
			} else {
				c := mac[i] | 0x20 // lower case for letters
				ok = '0' <= mac[i] && mac[i] <= '9' || 'a' <= c && c <= 'f'
			}
		}
		if ok {
			return true
		}
	}
	hw, err := net.ParseMAC(mac)
	return err == nil && len(hw) == 6
}

// appendRules encodes rules: every field of schema.Rule that Compile reads (all but Pos; the
// log prefix only of a log rule, as ruleTail reads it), each length-prefixed or flagged so that
// the encoding is injective.
func appendRules(b []byte, rules []schema.Rule) []byte {
	b = binary.AppendUvarint(b, uint64(len(rules)))
	for i := range rules {
		r := &rules[i]
		logPrefix := r.LogPrefix
		if r.Action != schema.ActionLog {
			logPrefix = ""
		}
		for _, s := range [...]string{r.Action, string(r.Protocol), r.SrcTag, r.SrcNet, r.DstTag,
			r.DstNet, logPrefix, string(r.NotProtocol), r.NotSrcTag, r.NotSrcNet, r.NotDstTag, r.NotDstNet} {
			b = appendStr(b, s)
		}
		for _, ps := range [...][]schema.PortRange{r.SrcPorts, r.DstPorts, r.NotSrcPorts, r.NotDstPorts} {
			b = binary.AppendUvarint(b, uint64(len(ps)))
			for _, p := range ps {
				b = binary.BigEndian.AppendUint16(b, p.First)
				b = binary.BigEndian.AppendUint16(b, p.Last)
			}
		}
		for _, v := range [...]*int{r.ICMPType, r.ICMPCode, r.NotICMPType, r.NotICMPCode} {
			if v == nil {
				b = append(b, 0)
				continue
			}
			b = append(b, 1)
			b = binary.AppendVarint(b, int64(*v))
		}
		b = binary.AppendVarint(b, int64(r.IPVersion))
	}
	return b
}

func appendNets(b []byte, ns []net128) []byte {
	b = binary.AppendUvarint(b, uint64(len(ns)))
	for _, n := range ns {
		b = binary.BigEndian.AppendUint64(b, n.hi)
		b = binary.BigEndian.AppendUint64(b, n.lo)
		b = append(b, n.bits)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrs(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendStr(b, s)
	}
	return b
}
