package schema

// This file holds the checks of LoadFiles that need more than one file: references between
// files (endpoint -> profile, test -> endpoint), and conflicts between files (one id defined
// twice, one interface or one address claimed twice, file names that collide on
// case-insensitive file systems).
//
// One root cause, one error: a reference into a file that could not be decoded is not reported
// as a missing target; the broken file gets one line saying how many references were left
// unchecked.

import (
	"cmp"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
)

// fileStart is the position of an error about a whole file (every error has a position).
var fileStart = Pos{Line: 1, Col: 1}

// epAt is a decoded endpoint and the positions of its fields.
type epAt struct {
	e  *Endpoint
	fp fieldPos
}

// testAt is a decoded test and the positions of its fields.
type testAt struct {
	x  *Expectation
	fp fieldPos
}

// crossFile collects what the per-file pass of LoadFiles learned for the cross-file checks.
type crossFile struct {
	repo *Repository
	errs *Errors
	eps  []epAt
	// tests in file order.
	tests []testAt
	// profileFile maps a profile file stem to the first file (in path order) of that stem.
	profileFile map[string]string
	// brokenProfile maps a file stem to the first file of that stem that could not be decoded
	// into a profile (syntax error, not a mapping, id missing or not the stem, refused).
	brokenProfile map[string]string
	// brokenEndpoints holds the endpoints files that may define endpoints that were not
	// decoded (the file, its list or one of its endpoints could not be read, or an endpoint
	// has no id).
	brokenEndpoints map[string]bool
	// refused are the repository files a source would not read.
	refused []string
	// notRead holds every path a source refused (files of any name, folders).
	notRead map[string]bool
	// profilesRefused is the profiles folder (or a folder named so in another case, which may
	// hold the profiles meant) when the source refused it (a link, not a folder, a submodule,
	// "Profiles"): every profile reference not found is then unchecked, counted once on it.
	profilesRefused string
	// subfolders holds the refused folders inside a repository folder (endpoints/prod).
	subfolders map[string]bool
}

// unreadable records a repository file (or folder) that a source refused to read. A refused
// profiles or endpoints folder, or one of those names in another case, stands for every file
// it may hold.
//
// A file counts by its folder, whatever its name: a misspelled name (profiles/WEB.yml,
// endpoints/lab.YAML) was meant as a file of the folder. A folder counts as the repository
// folder it is a case variant or a misspelling of (Profiles, endpoint, endpionts). sub says p
// is a folder inside a repository folder (endpoints/prod, subfolderMsg): it counts as that
// repository folder, as it may hold any of its files.
func (x *crossFile) unreadable(p string, sub bool) {
	if x.notRead == nil {
		x.notRead = map[string]bool{}
	}
	x.notRead[p] = true
	folder := strings.ToLower(p)
	if sub {
		folder, _, _ = strings.Cut(p, "/")
		if x.subfolders == nil {
			x.subfolders = map[string]bool{}
		}
		x.subfolders[p] = true
	} else if !isRepoDir(folder) {
		folder = misspelledDir(p)
	}
	switch folder {
	case "profiles":
		if x.profilesRefused == "" || p == "profiles" {
			x.profilesRefused = p
		}
	case "endpoints":
		x.brokenEndpoints[p] = true
	}
	if sub {
		return
	}
	if FileKind(p) != "" {
		x.refused = append(x.refused, p)
	}
	switch dir, _ := path.Split(p); dir {
	case "profiles/":
		if _, ok := x.brokenProfile[stem(p)]; !ok {
			x.brokenProfile[stem(p)] = p
		}
	case "endpoints/":
		x.brokenEndpoints[p] = true
	}
}

// addProfile records the profile file p and what it decoded to (nil when it could not be
// decoded). A profile counts under its file stem: a file whose id is missing or differs from
// the stem is the broken file for the stem, and defines no profile.
func (x *crossFile) addProfile(p string, prof *Profile) {
	id := stem(p)
	if first, dup := x.profileFile[id]; dup {
		// Two files for one profile (WEB.yaml and WEB.json): reported on the later one,
		// at its id when it has one.
		pos := fileStart
		if prof != nil && prof.ID != "" {
			pos = prof.Pos
		}
		*x.errs = append(*x.errs, &Error{Path: p, Pos: pos, Msg: fmt.Sprintf("profile %q is defined twice: also in %s", id, first)})
	} else {
		x.profileFile[id] = p
	}
	if prof == nil || prof.ID != id {
		if _, ok := x.brokenProfile[id]; !ok {
			x.brokenProfile[id] = p
		}
		return
	}
	if _, ok := x.repo.Profiles[id]; !ok {
		x.repo.Profiles[id] = prof
	}
}

// topListLen returns the length of the list under key in a file's root mapping (0 for null),
// and false when the file has no single such key holding a list (then its items cannot all be
// read). It spends no node budget: it only looks, the decoder reports.
func topListLen(root *yaml.Node, key string) (int, bool) {
	if root.Kind != yaml.MappingNode {
		return 0, false
	}
	var val *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if k.Kind == yaml.ScalarNode && k.Value == key && k.ShortTag() != "!!merge" {
			if val != nil {
				return 0, false
			}
			val = root.Content[i+1]
		}
	}
	for hops := 0; val != nil && val.Kind == yaml.AliasNode && hops < 64; hops++ {
		val = val.Alias
	}
	switch {
	case val == nil:
		return 0, false
	case val.Kind == yaml.SequenceNode:
		return len(val.Content), true
	case val.Kind == yaml.ScalarNode && val.ShortTag() == "!!null":
		return 0, true
	}
	return 0, false
}

// check runs the cross-file checks on everything decoded; paths are the files read, sorted.
func (x *crossFile) check(paths []string) {
	x.caseCollisions(paths)
	dupID := x.endpointConflicts()
	x.profileRefs()
	addressConflicts(x.eps, dupID, x.errs)
	x.testRefs()
	x.testNames()
}

// caseCollisions reports repository files whose paths differ only in case: a checkout on a
// case-insensitive file system (macOS, Windows) keeps one of them, so CI there and the hosts
// would see different repositories.
func (x *crossFile) caseCollisions(paths []string) {
	all := append(append([]string(nil), paths...), x.refused...)
	sort.Strings(all)
	first := map[string]string{}
	for _, p := range all {
		if FileKind(p) == "" {
			continue
		}
		k := strings.ToLower(p)
		f, dup := first[k]
		switch {
		case !dup:
			first[k] = p
		case f != p:
			*x.errs = append(*x.errs, &Error{Path: p, Pos: fileStart, Msg: fmt.Sprintf(
				"the file name differs from %s only in case: the two collide on case-insensitive file systems (macOS, Windows); rename one", f)})
		}
	}
}

// endpointConflicts reports endpoint ids defined twice and interfaces used twice on a host. It
// returns the indexes (in x.eps) of the endpoints reported as second definitions of an id,
// which the later checks of conflicts leave out.
//
// A file all of whose endpoints (two or more) are defined in other files already is reported
// once, on its first endpoint, as a probable copy (a backup or an editor's copy of a file):
// one mistake, one error, instead of one per endpoint.
func (x *crossFile) endpointConflicts() map[int]bool {
	ids := map[string]*Endpoint{}
	dupID := map[int]bool{}
	copies := wholeCopies(len(x.eps), func(i int) (string, string) { return x.eps[i].e.Path, x.eps[i].e.ID })
	for i, ep := range x.eps {
		if cp, ok := copies[i]; ok {
			dupID[i] = true
			if cp.first {
				e := ep.e
				c := &checker{path: e.Path, errs: x.errs, fp: ep.fp, base: e.Pos}
				c.errf("id", "id: all %d endpoints of this file are defined in %s too (is one file a copy?): keep one definition of each", cp.n, cp.others)
			}
		}
	}
	type hostIf struct{ host, ifname string }
	ifaces := map[hostIf]*Endpoint{}
	// hosts maps a host name in lower case to the first endpoint naming it: host names
	// compare as written, so "NODE-1" next to "node-1" would be two hosts, one of them
	// (probably) enforcing nothing.
	hosts := map[string]*Endpoint{}
	for i, ep := range x.eps {
		e := ep.e
		c := &checker{path: e.Path, errs: x.errs, fp: ep.fp, base: e.Pos}
		if e.Host != "" && limits.CheckHostName(e.Host) == nil {
			k := strings.ToLower(e.Host)
			if first, ok := hosts[k]; !ok {
				hosts[k] = e
			} else if first.Host != e.Host {
				c.errf("host", "host: %q differs from %q (endpoint %q, %s:%d) only in case: host names compare as written; write one spelling",
					e.Host, first.Host, first.ID, first.Path, first.Pos.Line)
			}
		}
		if _, ok := copies[i]; ok {
			continue // reported once for the file
		}
		if e.ID != "" {
			if first, dup := ids[e.ID]; dup {
				c.errf("id", "id: endpoint %q is defined twice: also at %s:%d", e.ID, first.Path, first.Pos.Line)
				dupID[i] = true
				continue // a copy of an endpoint is one mistake: not also its interface
			}
			ids[e.ID] = e
		}
		if e.Host != "" && e.Interface != "" {
			k := hostIf{e.Host, e.Interface}
			if first, dup := ifaces[k]; dup {
				c.errf("interface", "interface: %q on host %q is already used by endpoint %q (%s:%d)", e.Interface, e.Host, first.ID, first.Path, first.Pos.Line)
			} else {
				ifaces[k] = e
			}
		}
	}
	return dupID
}

// fileCopy describes a file whose items all repeat items of other files (see wholeCopies).
type fileCopy struct {
	first  bool   // the file's first item, which carries the error
	n      int    // how many items the file has
	others string // the other files, as listOf renders them
}

// wholeCopies finds the files whose items (two or more, in repository order: path(i) and
// key(i) of item i, "" for an item without a key) all have keys that items of other files
// had before them. It returns an entry for every item of such a file. O(n).
func wholeCopies(n int, item func(i int) (path, key string)) map[int]fileCopy {
	firstFile := map[string]string{} // key -> path of its first item
	type file struct {
		items  []int
		copied bool
		others map[string]bool
	}
	files := map[string]*file{}
	var order []string
	for i := 0; i < n; i++ {
		p, k := item(i)
		f := files[p]
		if f == nil {
			f = &file{copied: true, others: map[string]bool{}}
			files[p] = f
			order = append(order, p)
		}
		f.items = append(f.items, i)
		first, seen := firstFile[k]
		switch {
		case k == "":
			f.copied = false
		case !seen:
			firstFile[k] = p
			f.copied = false
		case first == p:
			f.copied = false
		default:
			f.others[first] = true
		}
	}
	out := map[int]fileCopy{}
	for _, p := range order {
		f := files[p]
		if !f.copied || len(f.items) < 2 {
			continue
		}
		others := listOf(f.others, false)
		for j, i := range f.items {
			out[i] = fileCopy{first: j == 0, n: len(f.items), others: others}
		}
	}
	return out
}

// refs collects the references that could not be checked against one broken file.
type refs struct {
	n     int
	files map[string]bool
	names map[string]bool
}

func (r *refs) add(file, name string) {
	if r.files == nil {
		r.files, r.names = map[string]bool{}, map[string]bool{}
	}
	r.n++
	r.files[file] = true
	r.names[name] = true
}

// listOf renders the first few keys of a set, sorted, with quoting when quote is set.
func listOf(set map[string]bool, quote bool) string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	const show = 3
	out := make([]string, 0, show+1)
	for i, k := range keys {
		if i == show {
			out = append(out, "and "+strconv.Itoa(len(keys)-show)+" more")
			break
		}
		if quote {
			k = strconv.Quote(k)
		}
		out = append(out, k)
	}
	return strings.Join(out, ", ")
}

// countRefs renders "1 reference ... was" or "3 references ... were".
func countRefs(n int, what string) string {
	if n == 1 {
		return "1 reference " + what + " was"
	}
	return strconv.Itoa(n) + " references " + what + " were"
}

// profileRefs reports profile_ids naming no profile; references to a profile whose file could
// not be decoded are counted on that file instead.
func (x *crossFile) profileRefs() {
	unchecked := map[string]*refs{}
	for _, ep := range x.eps {
		e := ep.e
		c := &checker{path: e.Path, errs: x.errs, fp: ep.fp, base: e.Pos}
		for i, pid := range e.ProfileIDs {
			if _, ok := x.repo.Profiles[pid]; ok {
				continue
			}
			if _, broken := x.brokenProfile[pid]; broken || x.profilesRefused != "" {
				key := pid
				if x.profilesRefused != "" {
					key = "" // one line for the whole folder
				}
				if unchecked[key] == nil {
					unchecked[key] = &refs{}
				}
				unchecked[key].add(e.Path, pid)
				continue
			}
			c.errf(itemKey("profile_ids", i), "profile_ids: profile %q does not exist (no profiles/%s.yaml or .json)", pid, pid)
		}
	}
	for pid, r := range unchecked {
		if pid == "" {
			why := "the folder could not be read"
			if x.subfolders[x.profilesRefused] {
				why = "the folder was not read"
			}
			*x.errs = append(*x.errs, &Error{Path: x.profilesRefused, Msg: clip(fmt.Sprintf(
				"%s not checked: "+why,
				countRefs(r.n, fmt.Sprintf("to profiles %s (from %s)", listOf(r.names, true), listOf(r.files, false)))))})
			continue
		}
		pos, why := fileStart, "the file has errors"
		if x.notRead[x.brokenProfile[pid]] {
			pos, why = Pos{}, "the file was not read" // no line to point at
		}
		*x.errs = append(*x.errs, &Error{Path: x.brokenProfile[pid], Pos: pos, Msg: clip(fmt.Sprintf(
			"%s not checked: "+why,
			countRefs(r.n, fmt.Sprintf("to profile %q (from %s)", pid, listOf(r.files, false)))))})
	}
}

// testRefs reports tests whose from or to is neither an endpoint id nor an address. When an
// endpoints file could not be read completely, an unknown id may be one of its endpoints: the
// references are then counted once on each such file instead.
func (x *crossFile) testRefs() {
	ids := make(map[string]bool, len(x.eps))
	for _, ep := range x.eps {
		ids[ep.e.ID] = true
	}
	var unchecked refs
	// unknown holds, per unknown id, its references in repository order: one error per id,
	// at its first reference, counting the others (a typo in an endpoint's id is one
	// mistake, however many tests name the endpoint).
	type ref struct {
		c   *checker
		key string
	}
	unknown := map[string][]ref{}
	var order []string
	for _, t := range x.tests {
		e := t.x
		c := &checker{path: e.Path, errs: x.errs, fp: t.fp, base: e.Pos}
		for _, f := range []struct{ key, v string }{{"from", e.From}, {"to", e.To}} {
			if f.v == "" || ids[f.v] || c.bad(f.key) {
				continue
			}
			if _, err := netip.ParseAddr(f.v); err == nil {
				continue
			}
			if len(x.brokenEndpoints) > 0 {
				unchecked.add(e.Path, f.v)
				continue
			}
			if unknown[f.v] == nil {
				order = append(order, f.v)
			}
			unknown[f.v] = append(unknown[f.v], ref{c, f.key})
		}
	}
	for _, id := range order {
		rs := unknown[id]
		first := rs[0]
		more := ""
		if n := len(rs) - 1; n > 0 {
			const show = 3
			var at []string
			for _, r := range rs[1:min(len(rs), 1+show)] {
				p := r.c.at(r.key)
				at = append(at, fmt.Sprintf("%s:%d:%d", r.c.path, p.Line, p.Col))
			}
			if n > show {
				at = append(at, fmt.Sprintf("and %d more", n-show))
			}
			word := "references name"
			if n == 1 {
				word = "reference names"
			}
			more = fmt.Sprintf("; %d more %s it (%s)", n, word, strings.Join(at, ", "))
		}
		first.c.errf(first.key, "%s: %q is neither an endpoint id nor an IP address%s", first.key, id, more)
	}
	if unchecked.n == 0 {
		return
	}
	for p := range x.brokenEndpoints {
		pos, why := fileStart, "the file has errors and may define them"
		switch {
		case x.subfolders[p]: // endpoints/prod
			pos, why = Pos{}, "the folder was not read and may define them"
		case !strings.Contains(p, "/"): // the folder, "ENDPOINTS" or "endpoint"
			pos, why = Pos{}, "the folder could not be read"
		case x.notRead[p]:
			pos, why = Pos{}, "the file was not read and may define them"
		}
		*x.errs = append(*x.errs, &Error{Path: p, Pos: pos, Msg: clip(fmt.Sprintf(
			"%s not checked: "+why,
			countRefs(unchecked.n, fmt.Sprintf("from %s to endpoint ids not found (%s)", listOf(unchecked.files, false), listOf(unchecked.names, true)))))})
	}
}

// testNames reports two tests with one name: `reconcile test` names a test by its name in
// its PASS and FAIL lines, so a duplicate makes a failure ambiguous.
//
// A file all of whose tests (two or more) are named as tests of other files already is
// reported once, on its first test, as a probable copy.
func (x *crossFile) testNames() {
	first := map[string]*Expectation{}
	copies := wholeCopies(len(x.tests), func(i int) (string, string) { return x.tests[i].x.Path, x.tests[i].x.Name })
	for i, t := range x.tests {
		e := t.x
		if cp, ok := copies[i]; ok {
			if cp.first {
				c := &checker{path: e.Path, errs: x.errs, fp: t.fp, base: e.Pos}
				c.errf("name", "name: all %d tests of this file are named as tests in %s (is one file a copy?): keep one test of each name", cp.n, cp.others)
			}
			continue
		}
		if e.Name == "" {
			continue
		}
		if f, dup := first[e.Name]; dup {
			c := &checker{path: e.Path, errs: x.errs, fp: t.fp, base: e.Pos}
			c.errf("name", "name: test %q is defined twice: also at %s:%d (names identify tests in the results)", e.Name, f.Path, f.Pos.Line)
			continue
		}
		first[e.Name] = e
	}
}

// claim is one net of an endpoint, for the address conflict sweep.
type claim struct {
	p    netip.Prefix // masked
	ep   int32        // index of the endpoint (repository order)
	seq  int32        // repository order of the net
	item int32        // index in ipv4_nets, or in ipv6_nets when v6
	v6   bool
}

// addressConflicts reports nets claimed by two endpoints (SPEC §3: no two endpoints may claim
// the same address): two nets conflict when one contains the other (after masking). The same
// net listed twice in one endpoint is reported too; nets of one endpoint may otherwise nest.
// Each conflict is reported once, on the net that comes later in repository order (files by
// path, then position), naming the earlier one. Endpoints in skip (second definitions of an
// id, already reported) and nets that are not valid are left out.
//
// A net enclosing nets of several other endpoints is reported once, on it, with the count and
// the first two. It sorts the masked prefixes by address, then length, and sweeps them with a
// stack of the enclosing prefixes (at most 33 or 129 deep): O(n log n) for n nets.
func addressConflicts(eps []epAt, skip map[int]bool, errs *Errors) {
	x := &addressSweep{eps: eps, errs: errs}
	inside, outers := x.sweep(claims(eps, skip))
	x.reportEnclosing(inside, outers)
}

// claims returns the valid nets of the endpoints not in skip, sorted by address, then prefix
// length, then repository order.
func claims(eps []epAt, skip map[int]bool) []claim {
	n := 0
	for _, ep := range eps {
		n += len(ep.e.IPv4Nets) + len(ep.e.IPv6Nets)
	}
	cs := make([]claim, 0, n)
	for i, ep := range eps {
		if skip[i] {
			continue
		}
		for _, f := range []struct {
			key  string
			nets []string
			v4   bool
		}{{"ipv4_nets", ep.e.IPv4Nets, true}, {"ipv6_nets", ep.e.IPv6Nets, false}} {
			for j, s := range f.nets {
				p, err := ParseNet(s)
				if err != nil || p.Addr().Is4In6() || p.Addr().Is4() != f.v4 || p != p.Masked() || specialNet(p) != "" {
					continue // reported by checker.endpoint
				}
				cs = append(cs, claim{p: p.Masked(), ep: int32(i), seq: int32(len(cs)), item: int32(j), v6: !f.v4})
			}
		}
	}
	slices.SortFunc(cs, func(a, b claim) int {
		if c := a.p.Addr().Compare(b.p.Addr()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.p.Bits(), b.p.Bits()); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return cs
}

// addressSweep reports the address conflicts among the claims of eps.
type addressSweep struct {
	eps  []epAt
	errs *Errors
}

// text is the net as written.
func (x *addressSweep) text(c claim) string {
	if c.v6 {
		return x.eps[c.ep].e.IPv6Nets[c.item]
	}
	return x.eps[c.ep].e.IPv4Nets[c.item]
}

func (x *addressSweep) field(c claim) string {
	if c.v6 {
		return "ipv6_nets"
	}
	return "ipv4_nets"
}

// where is "path:line:col" of the net.
func (x *addressSweep) where(c claim) string {
	e := x.eps[c.ep].e
	p, ok := x.eps[c.ep].fp[itemKey(x.field(c), int(c.item))]
	if !ok {
		p = e.Pos
	}
	return fmt.Sprintf("%s:%d:%d", e.Path, p.Line, p.Col)
}

// report reports later, naming earlier; same says the two are the same prefix.
func (x *addressSweep) report(later, earlier claim, same bool) {
	text, where := x.text, x.where
	e := x.eps[later.ep]
	c := &checker{path: e.e.Path, errs: x.errs, fp: e.fp, base: e.e.Pos}
	f := x.field(later)
	key := itemKey(f, int(later.item))
	other := x.eps[earlier.ep].e
	switch {
	case later.ep == earlier.ep && text(later) == text(earlier):
		c.errf(key, "%s: %s is listed twice (also at %s)", f, text(later), where(earlier))
	case later.ep == earlier.ep:
		c.errf(key, "%s: %s is listed twice: it is the same net as %s (%s)", f, text(later), text(earlier), where(earlier))
	case same && text(later) == text(earlier):
		c.errf(key, "%s: %s of endpoint %q is also claimed by endpoint %q (%s)", f, text(later), e.e.ID, other.ID, where(earlier))
	default:
		c.errf(key, "%s: %s of endpoint %q overlaps %s of endpoint %q (%s)", f, text(later), e.e.ID, text(earlier), other.ID, where(earlier))
	}
}

// sweep reports the nets claimed twice (same prefix) as it goes, and returns, for each net
// that encloses nets of other endpoints (outers, in the order met), those nets, by the
// enclosing net's seq: one wide net (a 0.0.0.0/0 written by mistake) is one error, not one per
// endpoint of the fleet.
func (x *addressSweep) sweep(cs []claim) (inside map[int32][]claim, outers []claim) {
	inside = map[int32][]claim{}
	var stack []claim // enclosing prefixes of the current one, outermost first
	for i := 0; i < len(cs); {
		j := i + 1
		for j < len(cs) && cs[j].p == cs[i].p {
			j++
		}
		group := cs[i:j] // one prefix, in repository order
		if len(group) > 1 {
			firstOf := map[int32]claim{} // the endpoint's first claim of the prefix
			for k, c := range group {
				if f, ok := firstOf[c.ep]; ok {
					x.report(c, f, true)
					continue
				}
				firstOf[c.ep] = c
				if k > 0 {
					x.report(c, group[0], true)
				}
			}
		}
		cur := group[0]
		for len(stack) > 0 && !stack[len(stack)-1].p.Contains(cur.p.Addr()) {
			stack = stack[:len(stack)-1]
		}
		for _, s := range stack {
			if s.ep == cur.ep {
				continue // one endpoint's nets may nest
			}
			if len(inside[s.seq]) == 0 {
				outers = append(outers, s)
			}
			inside[s.seq] = append(inside[s.seq], cur)
		}
		stack = append(stack, cur)
		i = j
	}
	return inside, outers
}

// reportEnclosing reports each enclosing net in repository order: with one net inside, on the
// later of the two; with more, once on it, with the count and the first two.
func (x *addressSweep) reportEnclosing(inside map[int32][]claim, outers []claim) {
	slices.SortFunc(outers, func(a, b claim) int { return cmp.Compare(a.seq, b.seq) })
	for _, o := range outers {
		in := inside[o.seq]
		if len(in) == 1 {
			if o.seq < in[0].seq {
				x.report(in[0], o, false)
			} else {
				x.report(o, in[0], false)
			}
			continue
		}
		slices.SortFunc(in, func(a, b claim) int { return cmp.Compare(a.seq, b.seq) })
		e := x.eps[o.ep]
		c := &checker{path: e.e.Path, errs: x.errs, fp: e.fp, base: e.e.Pos}
		f := x.field(o)
		const show = 2
		var list []string
		for _, y := range in[:show] {
			list = append(list, fmt.Sprintf("%s of endpoint %q (%s)", x.text(y), x.eps[y.ep].e.ID, x.where(y)))
		}
		more := ""
		if len(in) > show {
			more = fmt.Sprintf(" and %d more", len(in)-show)
		}
		c.errf(itemKey(f, int(o.item)), "%s: %s of endpoint %q overlaps %d nets of other endpoints: %s%s",
			f, x.text(o), e.e.ID, len(in), strings.Join(list, ", "), more)
	}
}
