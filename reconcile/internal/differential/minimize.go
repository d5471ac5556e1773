package differential

import (
	"maps"
	"reflect"
	"slices"

	"github.com/reconcile-dev/reconcile/reconcile/internal/evaluate"
	"github.com/reconcile-dev/reconcile/schema"
)

// Minimized is a disagreement shrunk: a repository that still validates and a packet on which
// the two parties still disagree in the same Kind.
type Minimized struct {
	Disagreement
	Repo  *schema.Repository
	Files map[string][]byte
	// Tries counts the candidate repositories and packets tried.
	Tries int
}

// minimizer holds the disagreement being shrunk.
type minimizer struct {
	a, b  Party
	kind  string
	repo  *schema.Repository
	pkt   evaluate.Packet
	last  [2]Verdict
	tries int
}

// Minimize shrinks d (found on repo) greedily until no single step keeps it: it drops
// endpoints other than the packet's sender and receiver, profiles, an endpoint's profile ids,
// rules, each field of a rule, tags, MACs, nets and states; then simplifies the packet (its
// own MAC, its own source address, the default source port). Every candidate is rendered and
// loaded (it must validate) and both parties are asked again; a candidate is kept when they
// still disagree in d.Kind.
func Minimize(d Disagreement, repo *schema.Repository, a, b Party) Minimized {
	m := &minimizer{a: a, b: b, kind: d.Kind, repo: cloneRepo(repo), pkt: d.Packet, last: [2]Verdict{d.A, d.B}}
	for changed := true; changed; {
		changed = false
		for _, pass := range []func() bool{m.endpoints, m.profiles, m.profileIDs, m.rules, m.fields, m.portItems, m.tags, m.endpointFields, m.packet} {
			if pass() {
				changed = true
			}
		}
	}
	out := d
	out.Packet, out.A, out.B = m.pkt, m.last[0], m.last[1]
	return Minimized{Disagreement: out, Repo: m.repo, Files: Render(m.repo), Tries: m.tries}
}

// keeps reports whether the candidate still shows the disagreement, and adopts it if so.
func (m *minimizer) keeps(repo *schema.Repository, p evaluate.Packet) bool {
	m.tries++
	loaded, errs := schema.LoadFiles(Render(repo), nil)
	if len(errs) > 0 || CheckPacket(loaded, p) != nil {
		return false
	}
	ja, err := m.a.Open(loaded)
	if err != nil {
		return false
	}
	jb, err := m.b.Open(loaded)
	if err != nil {
		return false
	}
	va, vb := ja(p), jb(p)
	if Disagree(va, vb) != m.kind {
		return false
	}
	m.repo, m.pkt, m.last = repo, p, [2]Verdict{va, vb}
	return true
}

// try applies edit to a copy of the repository and keeps it when it keeps the disagreement.
func (m *minimizer) try(edit func(r *schema.Repository) bool) bool {
	c := cloneRepo(m.repo)
	if !edit(c) {
		return false
	}
	return m.keeps(c, m.pkt)
}

func (m *minimizer) endpoints() bool {
	changed := false
	for i := len(m.repo.Endpoints) - 1; i >= 0; i-- {
		id := m.repo.Endpoints[i].ID
		if id == m.pkt.From || id == m.pkt.To {
			continue
		}
		changed = m.try(func(r *schema.Repository) bool {
			r.Endpoints = slices.Delete(r.Endpoints, i, i+1)
			return true
		}) || changed
	}
	return changed
}

func (m *minimizer) profiles() bool {
	changed := false
	for _, id := range m.repo.ProfileIDs() {
		changed = m.try(func(r *schema.Repository) bool {
			delete(r.Profiles, id)
			for _, e := range r.Endpoints {
				e.ProfileIDs = slices.DeleteFunc(e.ProfileIDs, func(s string) bool { return s == id })
			}
			return true
		}) || changed
	}
	return changed
}

func (m *minimizer) profileIDs() bool {
	changed := false
	for i := range m.repo.Endpoints {
		for j := len(m.repo.Endpoints[i].ProfileIDs) - 1; j >= 0; j-- {
			changed = m.try(func(r *schema.Repository) bool {
				e := r.Endpoints[i]
				if j >= len(e.ProfileIDs) {
					return false
				}
				e.ProfileIDs = slices.Delete(e.ProfileIDs, j, j+1)
				return true
			}) || changed
		}
	}
	return changed
}

// ruleLists returns the rule lists of profile id (inbound, outbound).
func ruleLists(p *schema.Profile) []*[]schema.Rule { return []*[]schema.Rule{&p.Inbound, &p.Outbound} }

func (m *minimizer) rules() bool {
	changed := false
	for _, id := range m.repo.ProfileIDs() {
		for k := range 2 {
			for i := len(*ruleLists(m.repo.Profiles[id])[k]) - 1; i >= 0; i-- {
				changed = m.try(func(r *schema.Repository) bool {
					l := ruleLists(r.Profiles[id])[k]
					*l = slices.Delete(*l, i, i+1)
					return true
				}) || changed
			}
		}
	}
	return changed
}

// fields drops each set field of each rule (all but action), one at a time.
func (m *minimizer) fields() bool {
	changed := false
	nf := reflect.TypeFor[schema.Rule]().NumField()
	for _, id := range m.repo.ProfileIDs() {
		for k := range 2 {
			for i := range *ruleLists(m.repo.Profiles[id])[k] {
				for f := range nf {
					name := reflect.TypeFor[schema.Rule]().Field(f).Name
					if name == "Action" || name == "Pos" {
						continue
					}
					changed = m.try(func(r *schema.Repository) bool {
						v := reflect.ValueOf(&(*ruleLists(r.Profiles[id])[k])[i]).Elem().Field(f)
						if v.IsZero() {
							return false
						}
						v.SetZero()
						return true
					}) || changed
				}
			}
		}
	}
	return changed
}

// portItems drops each entry of each port list of each rule, one at a time.
func (m *minimizer) portItems() bool {
	changed := false
	lists := func(r *schema.Rule) []*[]schema.PortRange {
		return []*[]schema.PortRange{&r.SrcPorts, &r.DstPorts, &r.NotSrcPorts, &r.NotDstPorts}
	}
	for _, id := range m.repo.ProfileIDs() {
		for k := range 2 {
			for i := range *ruleLists(m.repo.Profiles[id])[k] {
				for l := range 4 {
					for j := len(*lists(&(*ruleLists(m.repo.Profiles[id])[k])[i])[l]) - 1; j > 0; j-- {
						changed = m.try(func(r *schema.Repository) bool {
							ps := lists(&(*ruleLists(r.Profiles[id])[k])[i])[l]
							if j >= len(*ps) {
								return false
							}
							*ps = slices.Delete(slices.Clone(*ps), j, j+1)
							return true
						}) || changed
					}
				}
			}
		}
	}
	return changed
}

func (m *minimizer) tags() bool {
	changed := false
	for _, id := range m.repo.ProfileIDs() {
		for j := len(m.repo.Profiles[id].Tags) - 1; j >= 0; j-- {
			changed = m.try(func(r *schema.Repository) bool {
				p := r.Profiles[id]
				p.Tags = slices.Delete(p.Tags, j, j+1)
				return true
			}) || changed
		}
	}
	return changed
}

// endpointFields drops MACs, states and nets of the endpoints, one at a time.
func (m *minimizer) endpointFields() bool {
	changed := false
	for i := range m.repo.Endpoints {
		edits := []func(e *schema.Endpoint) bool{
			func(e *schema.Endpoint) bool { ok := e.MAC != ""; e.MAC = ""; return ok },
			func(e *schema.Endpoint) bool { ok := e.State != ""; e.State = ""; return ok },
		}
		for j := range m.repo.Endpoints[i].IPv4Nets {
			edits = append(edits, func(e *schema.Endpoint) bool { return dropAt(&e.IPv4Nets, j) })
		}
		for j := range m.repo.Endpoints[i].IPv6Nets {
			edits = append(edits, func(e *schema.Endpoint) bool { return dropAt(&e.IPv6Nets, j) })
		}
		for k := len(edits) - 1; k >= 0; k-- {
			changed = m.try(func(r *schema.Repository) bool { return edits[k](r.Endpoints[i]) }) || changed
		}
	}
	return changed
}

func dropAt(s *[]string, j int) bool {
	if j >= len(*s) {
		return false
	}
	*s = slices.Delete(*s, j, j+1)
	return true
}

// packet simplifies the packet: the sender's own MAC, its own (first) address of the family,
// source port 50000.
func (m *minimizer) packet() bool {
	changed := false
	var cands []evaluate.Packet
	if m.pkt.SrcMAC != "" {
		p := m.pkt
		p.SrcMAC = ""
		cands = append(cands, p)
	}
	if e := m.repo.Endpoint(m.pkt.From); e != nil {
		for _, n := range e.Prefixes() {
			if n.Addr().Is4() == m.pkt.Src.Is4() && n.Addr() != m.pkt.Src && n.IsSingleIP() {
				p := m.pkt
				p.Src = n.Addr()
				cands = append(cands, p)
			}
		}
	}
	if m.pkt.SrcPort != 0 && m.pkt.SrcPort != 50000 {
		p := m.pkt
		p.SrcPort = 50000
		cands = append(cands, p)
	}
	for _, p := range cands {
		changed = m.keeps(m.repo, p) || changed
	}
	return changed
}

// cloneRepo copies the profiles and endpoints of r deeply enough for the minimizer's edits.
func cloneRepo(r *schema.Repository) *schema.Repository {
	out := &schema.Repository{Profiles: map[string]*schema.Profile{}}
	for id, p := range maps.All(r.Profiles) {
		q := *p
		q.Tags = slices.Clone(p.Tags)
		q.Inbound = slices.Clone(p.Inbound)
		q.Outbound = slices.Clone(p.Outbound)
		out.Profiles[id] = &q
	}
	for _, e := range r.Endpoints {
		f := *e
		f.IPv4Nets, f.IPv6Nets, f.ProfileIDs = slices.Clone(e.IPv4Nets), slices.Clone(e.IPv6Nets), slices.Clone(e.ProfileIDs)
		out.Endpoints = append(out.Endpoints, &f)
	}
	return out
}
