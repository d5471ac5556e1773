package nft

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"syscall"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

// Fake is an in-memory Dataplane that simulates the kernel instead of recording calls: Apply
// validates the whole ruleset the way nf_tables validates a transaction (references to chains,
// sets and maps exist, interval elements do not overlap, names and comments fit, base chains
// have a hook, no jump loops) and then replaces the table all or nothing. Its errors look like
// the kernel's as google/nftables reports them (`receive: NFT_MSG_NEWSETELEM: netlink receive:
// file exists`, followed by what the fake found) and wrap the errno, so errors.Is(err,
// syscall.EEXIST) works. The zero Fake is ready to use and safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	tables   map[string]*Ruleset
	failNext error
	applies  int
	attempts int
	observes int
	gen      uint32 // bumped by every change, like the kernel's ruleset generation
	// rules are the identities of the rules of each table (by chain, in rule order): a
	// handle, which Update and Edit keep for rules they leave alone, like the kernel.
	rules        map[string]map[string][]uint64
	counters     map[uint64]uint64 // packets counted per rule handle (Hit)
	byteCounters map[uint64]uint64 // bytes counted per rule handle (HitBytes)
	lastHandle   uint64
	reset        []uint64 // handles of the rules an Update replaces (counters zeroed at commit)
	cookie       uint64   // the simulated namespace's SO_NETNS_COOKIE (0: not assigned yet; see identity.go)
}

// Limits the fake enforces. Names, comments, interface names and log prefixes are checked
// with package limits, as the encoder of the kernel Dataplane and CheckText check them: a
// comment the kernel would store but `nft -f` would refuse to restore is refused here too.
const (
	// fakeMaxJumpDepth is NFT_JUMP_STACK_SIZE: the kernel refuses a table whose chains
	// nest that many jumps (or more) below a base chain.
	fakeMaxJumpDepth = 16
)

// fakeLimitErr turns an error of package limits into the kernel's: ERANGE when the value is
// too long (the kernel's answer), EINVAL for a value nft text could not carry.
func fakeLimitErr(msg, where string, length, max int, err error) error {
	errno := syscall.EINVAL
	if length > max {
		errno = syscall.ERANGE
	}
	if where != "" {
		return fakeErr(msg, errno, "%s: %v", where, err)
	}
	return fakeErr(msg, errno, "%v", err)
}

// FakeError is an error of the simulated kernel: the netlink message type that failed, the
// errno, and what the fake found wrong (the kernel itself says no more than the errno).
type FakeError struct {
	Msg    string // e.g. NFT_MSG_NEWRULE
	Errno  syscall.Errno
	Detail string
}

func (e *FakeError) Error() string {
	return fmt.Sprintf("receive: %s: netlink receive: %v (%s)", e.Msg, e.Errno, e.Detail)
}

// Unwrap returns the errno.
func (e *FakeError) Unwrap() error { return e.Errno }

func fakeErr(msg string, errno syscall.Errno, format string, args ...any) error {
	return &FakeError{Msg: msg, Errno: errno, Detail: fmt.Sprintf(format, args...)}
}

// NewFake returns an empty fake kernel.
func NewFake() *Fake { return &Fake{} }

// Apply validates desired and, if the kernel would accept it, replaces the table of that name
// with a canonical deep copy. On any error nothing changes.
func (f *Fake) Apply(ctx context.Context, desired *Ruleset) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if err := f.failNext; err != nil {
		f.failNext = nil
		return err
	}
	return f.applyLocked(desired)
}

// Generation returns the fake ruleset generation, bumped by every commit: Apply, Replace, an
// Update that changes something, Edit and Delete.
func (f *Fake) Generation(ctx context.Context) (uint32, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen, nil
}

// Observe returns a deep copy of the table, or (nil, nil) when it does not exist.
func (f *Fake) Observe(ctx context.Context, table string) (*Ruleset, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observes++
	rs, ok := f.tables[table]
	if !ok {
		return nil, nil
	}
	return fakeClone(rs), nil
}

// FailNext makes the next Apply, Replace or Update fail with err without changing anything (a kernel or netlink
// failure in the middle of a transaction, which the kernel rolls back).
func (f *Fake) FailNext(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = err
}

// Edit changes a table in place as a hand edit with `nft` would (drift): fn edits a copy
// (appending to Foreign adds a named counter, quota, flowtable ... as `nft add counter` does),
// which the simulated kernel validates like any transaction before it replaces the table.
// It returns an error when the table does not exist or the edited copy is invalid; then
// nothing changes. Edits do not count as applies.
func (f *Fake) Edit(table string, fn func(*Ruleset)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs, ok := f.tables[table]
	if !ok {
		return fakeErr("NFT_MSG_GETTABLE", syscall.ENOENT, "table inet %q does not exist", table)
	}
	edited := fakeClone(rs)
	fn(edited)
	edited.Table = table
	if err := ValidateFake(edited); err != nil {
		return err
	}
	old := f.tables[table]
	f.tables[table] = fakeCanonical(edited)
	f.renumber(table, old)
	f.gen++
	return nil
}

// Delete removes a table (`nft delete table inet <table>`); deleting an absent table is a
// no-op.
func (f *Fake) Delete(table string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.tables[table]; ok {
		delete(f.tables, table)
		f.renumber(table, nil)
		f.gen++
	}
}

// Applies is the number of successful commits of Apply, Replace and Update (an Update with
// nothing to change is not one).
func (f *Fake) Applies() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applies
}

// Attempts is the number of Apply, Replace and Update calls, failed ones included (a cancelled
// context is not an attempt: nothing was sent; nor is an Update that Diff refuses).
func (f *Fake) Attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}

// Observes is the number of Observe calls.
func (f *Fake) Observes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.observes
}

// Tables lists the tables the fake holds, sorted.
func (f *Fake) Tables() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for t := range f.tables {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

var _ Dataplane = (*Fake)(nil)

// ValidateFake checks a ruleset the way the kernel checks a transaction that creates it, and
// returns the first error as the kernel would report it (nil if the kernel would accept it).
// It checks kernel rules only; the protocol dependencies of matches are the simulator's.
func ValidateFake(rs *Ruleset) error {
	if err := fakeCheckName("NFT_MSG_NEWTABLE", "table", rs.Table); err != nil {
		return err
	}
	chains, err := fakeCheckChains(rs.Chains)
	if err != nil {
		return err
	}
	sets, err := fakeCheckSets(rs.Sets)
	if err != nil {
		return err
	}
	maps, err := fakeCheckMaps(rs.Maps, sets, chains)
	if err != nil {
		return err
	}
	for _, c := range rs.Chains {
		for i, r := range c.Rules {
			where := fmt.Sprintf("chain %q rule %d", c.Name, i+1)
			if r == nil {
				return fakeErr("NFT_MSG_NEWRULE", syscall.EINVAL, "%s: nil rule", where)
			}
			if err := fakeCheckRule(where, r, chains, sets, maps); err != nil {
				return err
			}
		}
	}
	return fakeCheckLoops(rs, chains, maps)
}

// fakeCheckChains checks the chains as NFT_MSG_NEWCHAIN would (names, once each, a base
// chain's hook and policy) and returns them by name.
func fakeCheckChains(cs []*Chain) (map[string]*Chain, error) {
	chains := map[string]*Chain{}
	for _, c := range cs {
		if c == nil {
			return nil, fakeErr("NFT_MSG_NEWCHAIN", syscall.EINVAL, "nil chain")
		}
		if err := fakeCheckName("NFT_MSG_NEWCHAIN", "chain", c.Name); err != nil {
			return nil, err
		}
		if chains[c.Name] != nil {
			return nil, fakeErr("NFT_MSG_NEWCHAIN", syscall.EEXIST, "chain %q declared twice", c.Name)
		}
		chains[c.Name] = c
		if c.Base != nil {
			switch c.Base.Hook {
			case HookForward, HookInput, "prerouting", "output", "postrouting":
			case "":
				return nil, fakeErr("NFT_MSG_NEWCHAIN", syscall.EINVAL, "base chain %q has no hook", c.Name)
			default:
				return nil, fakeErr("NFT_MSG_NEWCHAIN", syscall.EOPNOTSUPP, "base chain %q: unknown hook %q", c.Name, c.Base.Hook)
			}
			switch c.Base.Policy {
			case None, Accept, Drop:
			default:
				return nil, fakeErr("NFT_MSG_NEWCHAIN", syscall.EINVAL, "base chain %q: policy %q is not accept or drop", c.Name, c.Base.Policy)
			}
		}
	}
	return chains, nil
}

// fakeCheckSets checks the named sets as NFT_MSG_NEWSET and NFT_MSG_NEWSETELEM would (names,
// once each, comments, type, prefixes of the type's family without overlap) and returns them
// by name.
func fakeCheckSets(ss []*Set) (map[string]*Set, error) {
	sets := map[string]*Set{}
	for _, s := range ss {
		if s == nil {
			return nil, fakeErr("NFT_MSG_NEWSET", syscall.EINVAL, "nil set")
		}
		if err := fakeCheckName("NFT_MSG_NEWSET", "set", s.Name); err != nil {
			return nil, err
		}
		if sets[s.Name] != nil {
			return nil, fakeErr("NFT_MSG_NEWSET", syscall.EEXIST, "set %q declared twice", s.Name)
		}
		sets[s.Name] = s
		if err := limits.CheckComment(s.Comment); err != nil {
			return nil, fakeLimitErr("NFT_MSG_NEWSET", fmt.Sprintf("set %q", s.Name), len(s.Comment), limits.MaxComment, err)
		}
		var fam Family
		switch s.Type {
		case SetIPv4:
			fam = IPv4
		case SetIPv6:
			fam = IPv6
		case SetPorts, SetICMPTypes, SetICMPv6Types:
			if err := fakeCheckValues(s); err != nil {
				return nil, err
			}
			continue
		default:
			return nil, fakeErr("NFT_MSG_NEWSET", syscall.EINVAL, "set %q: unknown type %q", s.Name, s.Type)
		}
		if len(s.Ports) > 0 || len(s.Nums) > 0 {
			return nil, fakeErr("NFT_MSG_NEWSETELEM", syscall.EINVAL, "set %q: an address set holds prefixes only", s.Name)
		}
		if err := fakeCheckPrefixes("NFT_MSG_NEWSETELEM", fmt.Sprintf("set %q", s.Name), fam, s.Prefixes, true); err != nil {
			return nil, err
		}
	}
	return sets, nil
}

// fakeCheckValues checks the elements of a port or ICMP type set as NFT_MSG_NEWSETELEM would:
// elements of the set's key type only (EINVAL), port ranges not reversed (EINVAL) and not
// overlapping, ICMP types once each (EEXIST: the interval is already in the set).
func fakeCheckValues(s *Set) error {
	const msg = "NFT_MSG_NEWSETELEM"
	if len(s.Prefixes) > 0 || (s.Type == SetPorts && len(s.Nums) > 0) || (s.Type != SetPorts && len(s.Ports) > 0) {
		return fakeErr(msg, syscall.EINVAL, "set %q: elements of another type than %s", s.Name, s.Type)
	}
	ports := slices.Clone(s.Ports)
	for _, p := range ports {
		if p.First > p.Last {
			return fakeErr(msg, syscall.EINVAL, "set %q: port range %d-%d is reversed", s.Name, p.First, p.Last)
		}
	}
	slices.SortFunc(ports, func(a, b PortRange) int { return cmp.Compare(a.First, b.First) })
	for i := 1; i < len(ports); i++ {
		if ports[i].First <= ports[i-1].Last {
			return fakeErr(msg, syscall.EEXIST, "set %q: %s overlaps %s", s.Name, ports[i], ports[i-1])
		}
	}
	if fakeHasDup(s.Nums) {
		return fakeErr(msg, syscall.EEXIST, "set %q: a type appears twice in %v", s.Name, s.Nums)
	}
	return nil
}

// fakeCheckMaps checks the verdict maps as NFT_MSG_NEWSET and NFT_MSG_NEWSETELEM would
// (names shared with the sets, comments, interface-name keys once each, verdicts to existing
// chains) and returns them by name.
func fakeCheckMaps(ms []*Map, sets map[string]*Set, chains map[string]*Chain) (map[string]*Map, error) {
	maps := map[string]*Map{}
	for _, m := range ms {
		if m == nil {
			return nil, fakeErr("NFT_MSG_NEWSET", syscall.EINVAL, "nil map")
		}
		if err := fakeCheckName("NFT_MSG_NEWSET", "map", m.Name); err != nil {
			return nil, err
		}
		if sets[m.Name] != nil || maps[m.Name] != nil {
			// Maps are sets to the kernel: one namespace.
			return nil, fakeErr("NFT_MSG_NEWSET", syscall.EEXIST, "map %q: the name is already a set or map", m.Name)
		}
		maps[m.Name] = m
		if err := limits.CheckComment(m.Comment); err != nil {
			return nil, fakeLimitErr("NFT_MSG_NEWSET", fmt.Sprintf("map %q", m.Name), len(m.Comment), limits.MaxComment, err)
		}
		keys := map[string]bool{}
		for _, e := range m.Elements {
			if err := limits.CheckIfname(e.Key); err != nil {
				return nil, fakeErr("NFT_MSG_NEWSETELEM", syscall.EINVAL, "map %q: key: %v", m.Name, err)
			}
			if keys[e.Key] {
				return nil, fakeErr("NFT_MSG_NEWSETELEM", syscall.EEXIST, "map %q: key %q twice", m.Name, e.Key)
			}
			keys[e.Key] = true
			if err := fakeCheckVerdict("NFT_MSG_NEWSETELEM", fmt.Sprintf("map %q element %q", m.Name, e.Key), e.Verdict, chains); err != nil {
				return nil, err
			}
		}
	}
	return maps, nil
}

func fakeCheckName(msg, what, name string) error {
	if err := limits.CheckName(what, name); err != nil {
		return fakeLimitErr(msg, "", len(name), limits.MaxName, err)
	}
	return nil
}

func fakeCheckVerdict(msg, where string, v Verdict, chains map[string]*Chain) error {
	switch v.Kind {
	case Accept, Drop, Return:
		return nil
	case Jump, Goto:
		target := chains[v.Chain]
		if target == nil {
			return fakeErr(msg, syscall.ENOENT, "%s: %s to chain %q, which does not exist", where, v.Kind, v.Chain)
		}
		if target.Base != nil {
			return fakeErr(msg, syscall.EOPNOTSUPP, "%s: %s to base chain %q", where, v.Kind, v.Chain)
		}
		return nil
	}
	return fakeErr(msg, syscall.EINVAL, "%s: invalid verdict %q", where, v.Kind)
}

// fakeCheckPrefixes checks that prefixes are valid, of the family, and (for interval sets) do not
// overlap once masked, which the kernel refuses with EEXIST.
func fakeCheckPrefixes(msg, where string, fam Family, ps []netip.Prefix, interval bool) error {
	masked := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() {
			return fakeErr(msg, syscall.EINVAL, "%s: invalid prefix", where)
		}
		if p.Addr().Is4() != (fam == IPv4) || p.Addr().Is4In6() {
			return fakeErr(msg, syscall.EINVAL, "%s: %s is not an IPv%d prefix", where, p, fam)
		}
		masked = append(masked, p.Masked())
	}
	if !interval {
		return nil
	}
	slices.SortFunc(masked, fakeComparePrefix)
	for i := 1; i < len(masked); i++ {
		if masked[i-1].Overlaps(masked[i]) {
			return fakeErr(msg, syscall.EEXIST, "%s: %s overlaps %s", where, masked[i], masked[i-1])
		}
	}
	return nil
}

func fakeComparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

func fakeCheckRule(where string, r *Rule, chains map[string]*Chain, sets map[string]*Set, maps map[string]*Map) error {
	const msg = "NFT_MSG_NEWRULE"
	if err := limits.CheckComment(r.Comment); err != nil {
		return fakeLimitErr(msg, where, len(r.Comment), limits.MaxComment, err)
	}
	if r.Log != nil {
		if err := limits.CheckLogPrefix(r.Log.Prefix); err != nil {
			return fakeLimitErr(msg, where, len(r.Log.Prefix), limits.MaxKernelLogPrefix, err)
		}
	}
	for i := range r.Matches {
		if err := fakeCheckMatch(fmt.Sprintf("%s match %d", where, i+1), &r.Matches[i], sets); err != nil {
			return err
		}
	}
	if r.VMap != nil {
		if r.Verdict.Kind != None {
			return fakeErr(msg, syscall.EINVAL, "%s: both a vmap and a verdict", where)
		}
		if r.VMap.Key != MatchIIFName && r.VMap.Key != MatchOIFName {
			return fakeErr(msg, syscall.EINVAL, "%s: vmap key %q is not iifname or oifname", where, r.VMap.Key)
		}
		if maps[r.VMap.Map] == nil {
			return fakeErr(msg, syscall.ENOENT, "%s: map %q does not exist", where, r.VMap.Map)
		}
		return nil
	}
	if r.Verdict.Kind == None {
		return nil
	}
	return fakeCheckVerdict(msg, where, r.Verdict, chains)
}

// fakeCheckMatch checks one match as NFT_MSG_NEWRULE would. A flat switch over the match
// kinds: each case is the kernel's check of that expression.
func fakeCheckMatch(where string, m *Match, sets map[string]*Set) error {
	const msg = "NFT_MSG_NEWRULE"
	switch m.Kind {
	case MatchNFProto:
		return fakeCheckFamily(where, m)
	case MatchIIFName, MatchOIFName:
		if err := limits.CheckIfname(m.Str); err != nil {
			return fakeLimitErr(msg, where, len(m.Str), limits.MaxIfname, err)
		}
	case MatchCtState:
		if m.CtState == 0 {
			return fakeErr(msg, syscall.EINVAL, "%s: ct state without states", where)
		}
	case MatchL4Proto:
		if len(m.Protos) == 0 {
			return fakeErr(msg, syscall.EINVAL, "%s: l4proto without protocols", where)
		}
		if fakeHasDup(m.Protos) {
			return fakeErr("NFT_MSG_NEWSETELEM", syscall.EEXIST, "%s: a protocol appears twice in %v", where, m.Protos)
		}
	case MatchSAddr, MatchDAddr:
		if err := fakeCheckFamily(where, m); err != nil {
			return err
		}
		if len(m.Prefixes) == 0 {
			return fakeErr(msg, syscall.EINVAL, "%s: address match without prefixes", where)
		}
		// Several prefixes form an anonymous interval set, which nft merges: no overlap check.
		return fakeCheckPrefixes("NFT_MSG_NEWSETELEM", where, m.Family, m.Prefixes, false)
	case MatchSAddrSet, MatchDAddrSet:
		return fakeCheckLookup(where, m, sets)
	case MatchSPortSet, MatchDPortSet:
		return fakeCheckSetType(where, m.Str, SetPorts, sets)
	case MatchICMPTypeSet:
		if err := fakeCheckFamily(where, m); err != nil {
			return err
		}
		want := SetICMPTypes
		if m.Family == IPv6 {
			want = SetICMPv6Types
		}
		return fakeCheckSetType(where, m.Str, want, sets)
	case MatchSPort, MatchDPort:
		if len(m.Ports) == 0 {
			return fakeErr(msg, syscall.EINVAL, "%s: port match without ports", where)
		}
		for _, p := range m.Ports {
			if p.First > p.Last {
				return fakeErr(msg, syscall.EINVAL, "%s: port range %d-%d is reversed", where, p.First, p.Last)
			}
		}
		// Overlapping ports form one anonymous interval set, which nft merges.
	case MatchICMPType, MatchICMPCode:
		if err := fakeCheckFamily(where, m); err != nil {
			return err
		}
		if len(m.Nums) == 0 {
			return fakeErr(msg, syscall.EINVAL, "%s: icmp match without values", where)
		}
		if fakeHasDup(m.Nums) {
			return fakeErr("NFT_MSG_NEWSETELEM", syscall.EEXIST, "%s: a value appears twice in %v", where, m.Nums)
		}
	case MatchICMPTypeCode:
		return fakeCheckFamily(where, m)
	case MatchEtherSAddr:
		if _, err := fakeParseMAC(m.Str); err != nil {
			return fakeErr(msg, syscall.EINVAL, "%s: %v", where, err)
		}
	case MatchUnknown:
		return fakeErr(msg, syscall.EOPNOTSUPP, "%s: an unknown expression (%s) cannot be applied", where, m.Str)
	default:
		return fakeErr(msg, syscall.EOPNOTSUPP, "%s: unknown match kind %q", where, m.Kind)
	}
	return nil
}

// fakeCheckFamily checks that an address or icmp match has family 4 or 6.
func fakeCheckFamily(where string, m *Match) error {
	if m.Family != IPv4 && m.Family != IPv6 {
		return fakeErr("NFT_MSG_NEWRULE", syscall.EINVAL, "%s: %s needs family 4 or 6, not %d", where, m.Kind, m.Family)
	}
	return nil
}

// fakeCheckLookup checks an address-set match: its family, and a set of that name holding
// addresses of the family.
func fakeCheckLookup(where string, m *Match, sets map[string]*Set) error {
	const msg = "NFT_MSG_NEWRULE"
	if err := fakeCheckFamily(where, m); err != nil {
		return err
	}
	s := sets[m.Str]
	if s == nil {
		return fakeErr(msg, syscall.ENOENT, "%s: set %q does not exist", where, m.Str)
	}
	want := SetIPv4
	if m.Family == IPv6 {
		want = SetIPv6
	}
	if s.Type != want {
		return fakeErr(msg, syscall.EINVAL, "%s: set %q is of type %s, the lookup needs %s", where, m.Str, s.Type, want)
	}
	return nil
}

// fakeCheckSetType checks that a set of that name exists (ENOENT) with the key type the
// lookup loads (EINVAL).
func fakeCheckSetType(where, name string, want SetType, sets map[string]*Set) error {
	const msg = "NFT_MSG_NEWRULE"
	s := sets[name]
	if s == nil {
		return fakeErr(msg, syscall.ENOENT, "%s: set %q does not exist", where, name)
	}
	if s.Type != want {
		return fakeErr(msg, syscall.EINVAL, "%s: set %q is of type %s, the lookup needs %s", where, name, s.Type, want)
	}
	return nil
}

func fakeHasDup[T comparable](vs []T) bool {
	seen := map[T]bool{}
	for _, v := range vs {
		if seen[v] {
			return true
		}
		seen[v] = true
	}
	return false
}

func fakeParseMAC(s string) ([6]byte, error) {
	var b [6]byte
	if len(s) != 17 {
		return b, fmt.Errorf("%q is not a MAC address", s)
	}
	for i := range 6 {
		if i > 0 && s[3*i-1] != ':' {
			return b, fmt.Errorf("%q is not a MAC address", s)
		}
		var v byte
		for _, c := range s[3*i : 3*i+2] {
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | byte(c-'0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | byte(c-'a'+10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | byte(c-'A'+10)
			default:
				return b, fmt.Errorf("%q is not a MAC address", s)
			}
		}
		b[i] = v
	}
	return b, nil
}

// fakeCheckLoops refuses jump/goto cycles reachable from a base chain (ELOOP; the kernel,
// which validates from the base chains only, reports them as EMLINK, and accepts a cycle that
// no base chain reaches) and chains nested as deep as the kernel's jump stack below a base
// chain (EMLINK), following verdict maps too.
func fakeCheckLoops(rs *Ruleset, chains map[string]*Chain, maps map[string]*Map) error {
	targets := func(c *Chain) []string {
		var out []string
		for _, r := range c.Rules {
			if r.VMap != nil {
				for _, e := range maps[r.VMap.Map].Elements {
					if e.Verdict.Kind == Jump || e.Verdict.Kind == Goto {
						out = append(out, e.Verdict.Chain)
					}
				}
			} else if r.Verdict.Kind == Jump || r.Verdict.Kind == Goto {
				out = append(out, r.Verdict.Chain)
			}
		}
		return out
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case visiting:
			return fakeErr("NFT_MSG_NEWRULE", syscall.ELOOP, "chains loop: %v", append(path, name))
		case done:
			return nil
		}
		state[name] = visiting
		for _, t := range targets(chains[name]) {
			if err := visit(t, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		return nil
	}
	names := make([]string, 0, len(chains))
	for n := range chains {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if chains[n].Base == nil {
			continue
		}
		if err := visit(n, nil); err != nil {
			return err
		}
	}
	// Depth below each base chain (what they reach is acyclic now).
	depth := map[string]int{}
	var deepest func(name string) int
	deepest = func(name string) int {
		if d, ok := depth[name]; ok {
			return d
		}
		d := 0
		for _, t := range targets(chains[name]) {
			d = max(d, 1+deepest(t))
		}
		depth[name] = d
		return d
	}
	for _, c := range rs.Chains {
		if c.Base != nil && deepest(c.Name) >= fakeMaxJumpDepth {
			return fakeErr("NFT_MSG_NEWRULE", syscall.EMLINK, "chains below base chain %q nest deeper than %d", c.Name, fakeMaxJumpDepth-1)
		}
	}
	return nil
}

// fakeClone deep-copies a ruleset.
func fakeClone(rs *Ruleset) *Ruleset {
	out := &Ruleset{Table: rs.Table, Foreign: slices.Clone(rs.Foreign)}
	for _, s := range rs.Sets {
		c := *s
		c.Prefixes = slices.Clone(s.Prefixes)
		c.Ports = slices.Clone(s.Ports)
		c.Nums = slices.Clone(s.Nums)
		out.Sets = append(out.Sets, &c)
	}
	for _, m := range rs.Maps {
		c := *m
		c.Elements = slices.Clone(m.Elements)
		out.Maps = append(out.Maps, &c)
	}
	for _, ch := range rs.Chains {
		c := &Chain{Name: ch.Name}
		if ch.Base != nil {
			b := *ch.Base
			c.Base = &b
		}
		for _, r := range ch.Rules {
			c.Rules = append(c.Rules, fakeCloneRule(r))
		}
		out.Chains = append(out.Chains, c)
	}
	return out
}

func fakeCloneRule(r *Rule) *Rule {
	c := *r
	if r.Log != nil {
		l := *r.Log
		c.Log = &l
	}
	if r.VMap != nil {
		v := *r.VMap
		c.VMap = &v
	}
	c.Matches = make([]Match, len(r.Matches))
	for i, m := range r.Matches {
		m.Protos = slices.Clone(m.Protos)
		m.Prefixes = slices.Clone(m.Prefixes)
		m.Ports = slices.Clone(m.Ports)
		m.Nums = slices.Clone(m.Nums)
		c.Matches[i] = m
	}
	if len(r.Matches) == 0 {
		c.Matches = nil
	}
	return &c
}

// fakeCanonical is what the kernel reads back: the model's canonical form (Ruleset.Canonical,
// the form the kernel Dataplane's Observe returns), so that plan and drift compare the fake's
// table with a desired model exactly as they compare the kernel's.
func fakeCanonical(rs *Ruleset) *Ruleset { return rs.Canonical() }
