package reconcile

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// Per-rule hit counters (status --counters, and the Prometheus collector of metrics_counters.go).
//
// Every profile rule compiles to one nft rule per IP family it fits (zero, one or two), each
// with a `counter` and the comment "<P> inbound <N>" / "<P> outbound <N>", in the chain
// profile-in-<P> / profile-out-<P>. That chain is shared by every local endpoint using the
// profile, so its counters already sum over them; the IPv4 and IPv6 variants of one rule are
// summed here. The endpoint chains end in `counter drop` rules whose comment says why; they are
// summed over the endpoints by reason (DropReasons). Counter values are read from the kernel
// (nft.CounterReader) and are never drift: the model has no values.
//
// Only the profile rules that are in the kernel are listed, that is the rules of the profiles
// compiled for this host (those of its local active endpoints), as the table holds them. A rule
// that fits no IP family (docs/COMPILE.md, Families) has no nft rule and no counter: it is left
// out. Since when each counter counts comes from the installed record (state.Installed).

// Drop reasons: the reason label of reconcile_dropped_packets_total and the "reason" of
// status --counters.
const (
	// DropAntiSpoofing: a packet from an endpoint whose source MAC or address is not the
	// endpoint's, or of a family the endpoint has no nets of ("source mac not the
	// endpoint's", "ipv4 source not the endpoint's", "no ipv6 nets", …; from- and host- chains).
	DropAntiSpoofing = "anti-spoofing"
	// DropNoProfileAccepted: a packet from or to an active endpoint that none of its profiles
	// accepted ("from|to <EP>: no profile accepted"), or of an endpoint without profiles
	// ("from|to <EP>: endpoint has no profiles").
	DropNoProfileAccepted = "no-profile-accepted"
	// DropInactiveEndpoint: any packet from, to or to the host from an inactive endpoint
	// ("<kind> <EP>: endpoint inactive").
	DropInactiveEndpoint = "inactive-endpoint"
	// DropEndpointToHost: a packet from an endpoint to this host that is not DHCP, DNS over
	// UDP or neighbour discovery ("host <EP>: not dhcp, dns or neighbour discovery"), or from
	// an endpoint without profiles ("host <EP>: endpoint has no profiles").
	DropEndpointToHost = "endpoint-to-host"
)

// DropReasons are the drop reasons in the order status and the metrics list them.
var DropReasons = []string{DropAntiSpoofing, DropNoProfileAccepted, DropInactiveEndpoint, DropEndpointToHost}

// DropReason classifies the counter of a rule of an endpoint chain (from-, to-, host-) by its
// comment; false for every other rule (profile rules, accepts, rules of other chains).
func DropReason(chain, comment string) (string, bool) {
	var kind string
	switch {
	case strings.HasPrefix(chain, compile.PrefixFrom):
		kind = "from "
	case strings.HasPrefix(chain, compile.PrefixTo):
		kind = "to "
	case strings.HasPrefix(chain, compile.PrefixHost):
		kind = "host "
	default:
		return "", false
	}
	if !strings.HasPrefix(comment, kind) {
		return "", false
	}
	_, why, ok := strings.Cut(comment, ": ")
	if !ok {
		return "", false
	}
	switch {
	case why == "endpoint inactive":
		return DropInactiveEndpoint, true
	case why == "no profile accepted":
		return DropNoProfileAccepted, true
	case why == "endpoint has no profiles" && kind == "host ":
		return DropEndpointToHost, true
	case why == "endpoint has no profiles":
		return DropNoProfileAccepted, true
	case why == "not dhcp, dns or neighbour discovery":
		return DropEndpointToHost, true
	case why == "source mac not the endpoint's", strings.HasSuffix(why, " source not the endpoint's"), strings.HasPrefix(why, "no ipv"):
		return DropAntiSpoofing, true
	}
	return "", false
}

// RuleHits are the counters of one profile rule, summed over its nft rules (the IPv4 and IPv6
// variants) in the shared profile chain. JSON field names are stable (docs/OPERATIONS.md).
type RuleHits struct {
	Profile   string `json:"profile"`
	Direction string `json:"direction"` // inbound or outbound
	Rule      int    `json:"rule"`      // 1-based, as in `rule show` and the nft comment
	// Text is the rule in `rule show` text, from the repository revision TextRevision; ""
	// when that revision has no such rule or the repository could not be read.
	Text    string `json:"text,omitempty"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"` // at the network layer: IP header and payload
	// NFTRules is how many nft rules carry the rule (1, or 2 for an IPv4 and an IPv6 variant).
	NFTRules int `json:"nft_rules"`
	// Since is when the counters started (the later creation of its nft rules); nil: unknown.
	// SinceAtLeast: the rule existed at Since already, its counters may count from earlier.
	Since        *time.Time `json:"since"`
	SinceAtLeast bool       `json:"since_at_least,omitempty"`
}

// Ref is the rule's comment, "WEB inbound 2".
func (h *RuleHits) Ref() string { return fmt.Sprintf("%s %s %d", h.Profile, h.Direction, h.Rule) }

// DropHits are the counters of the drop rules of one reason, summed over the local endpoints.
type DropHits struct {
	Reason  string `json:"reason"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// NFTRules is how many counted drop rules (of every endpoint chain) have this reason.
	NFTRules int `json:"nft_rules"`
}

// CounterReading is what one read of the kernel's counters gives: the profile rules, sorted by
// packets (most first), then profile, direction (inbound first) and rule number, and the drops
// of every reason of DropReasons, in that order (zero when none of the table's rules has it).
type CounterReading struct {
	Rules []RuleHits
	Drops []DropHits
}

// SumCounters groups the counters of a table's rules (nft.CounterReader) into a CounterReading:
// the rules of the profile chains whose comment names a profile rule (compile.ParseComment) by
// comment, and the drop rules of the endpoint chains by reason (DropReason). Other counters
// (the shared host chains' accepts) are left out.
func SumCounters(cs []nft.RuleCounter) *CounterReading {
	out := &CounterReading{}
	byRef := map[string]int{}
	drops := map[string]*DropHits{}
	for _, r := range DropReasons {
		drops[r] = &DropHits{Reason: r}
	}
	for _, c := range cs {
		if strings.HasPrefix(c.Chain, compile.PrefixProfileIn) || strings.HasPrefix(c.Chain, compile.PrefixProfileOut) {
			ref, ok := compile.ParseComment(c.Comment)
			if !ok || c.Chain != profileChain(ref) {
				continue
			}
			i, seen := byRef[c.Comment]
			if !seen {
				i = len(out.Rules)
				byRef[c.Comment] = i
				out.Rules = append(out.Rules, RuleHits{Profile: ref.Profile, Direction: string(ref.Direction), Rule: ref.Index})
			}
			h := &out.Rules[i]
			h.Packets += c.Packets
			h.Bytes += c.Bytes
			h.NFTRules++
			continue
		}
		if reason, ok := DropReason(c.Chain, c.Comment); ok {
			d := drops[reason]
			d.Packets += c.Packets
			d.Bytes += c.Bytes
			d.NFTRules++
		}
	}
	slices.SortFunc(out.Rules, func(a, b RuleHits) int {
		return cmp.Or(cmp.Compare(b.Packets, a.Packets), cmp.Compare(a.Profile, b.Profile),
			cmp.Compare(a.Direction, b.Direction), cmp.Compare(a.Rule, b.Rule))
	})
	for _, r := range DropReasons {
		out.Drops = append(out.Drops, *drops[r])
	}
	return out
}

// profileChain is the chain the rules of ref are compiled into.
func profileChain(ref compile.RuleRef) string {
	if ref.Direction == compile.Outbound {
		return compile.Name(compile.PrefixProfileOut, ref.Profile)
	}
	return compile.Name(compile.PrefixProfileIn, ref.Profile)
}

// ReadCounters reads the counters of the table in the namespace (one netlink dump of its
// rules, nft.Kernel.RuleCounters) and sums them (SumCounters). It reads no state record and no
// repository: the Prometheus collector calls it at scrape time. Errors: the dataplane cannot
// read counters (a Config.Dataplane that is not an nft.CounterReader), the namespace or netlink
// fails, or the table does not exist (ErrNoTable).
func (a *Agent) ReadCounters(ctx context.Context) (*CounterReading, error) {
	dp, err := a.dataplane()
	if err != nil {
		return nil, err
	}
	cr, ok := dp.(nft.CounterReader)
	if !ok {
		return nil, fmt.Errorf("the dataplane %T cannot read counters", dp)
	}
	cs, err := cr.RuleCounters(ctx, a.cfg.Table)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return nil, fmt.Errorf("table inet %q: %w", a.cfg.Table, ErrNoTable)
	}
	return SumCounters(cs), nil
}

// ErrNoTable is wrapped by ReadCounters and Counters when the table does not exist.
var ErrNoTable = errors.New("the table does not exist (run reconcile apply)")

// CountersResult is what status --counters shows: a CounterReading with the rule texts and
// since when each rule's counters count.
type CountersResult struct {
	*CounterReading
	Table string
	Host  string
	// Time is when the counters were read.
	Time time.Time
	// AppliedRevision is the revision the state record names as applied ("": none).
	AppliedRevision string
	// TextRevision is the revision of the repository the rule texts come from ("": the
	// repository could not be read, TextError says why). It is the source's current revision,
	// which may be newer than AppliedRevision (then the texts may not be those in the kernel).
	TextRevision string
	TextError    string
	// SinceError says why the since-times are unknown ("": they are known).
	SinceError string
}

// Counters reads the counters of the table (ReadCounters), the rule texts from the source
// (the repository at its current revision; a source that cannot be read leaves the texts out
// and says why in TextError) and the install times from the installed record, which are
// trusted only when it was written for the ruleset the state record names and the kernel
// still holds that ruleset (status's drift check; otherwise SinceError says why and every
// Since is nil). A table reconcile did not make is refused as plan refuses it (an *Error
// wrapping a *ForeignTableError). Nothing is changed.
func (a *Agent) Counters(ctx context.Context) (*CountersResult, error) {
	if err := a.Prepare(); err != nil {
		return nil, err
	}
	st, err := a.status(ctx, false)
	if err != nil {
		return nil, err
	}
	if st.Foreign != nil {
		// Its comments are not ours to read as profile rules (plan and apply refuse it too).
		return nil, stageErr("observe", "foreign-table", st.Foreign)
	}
	reading, err := a.ReadCounters(ctx)
	if err != nil {
		return nil, err
	}
	res := &CountersResult{CounterReading: reading, Table: a.cfg.Table, Host: a.cfg.Host, Time: a.cfg.Now().UTC()}
	if st.LastApplied != nil {
		res.AppliedRevision = st.LastApplied.Revision
	}
	a.counterTexts(ctx, res)
	a.counterSince(st, res)
	return res, nil
}

// counterTexts fills the rules' texts from the source's current revision.
func (a *Agent) counterTexts(ctx context.Context, res *CountersResult) {
	snap, repo, errs, err := a.fetchLoad(ctx)
	switch {
	case err != nil:
		res.TextError = err.Error()
		return
	case repo == nil || len(errs) > 0:
		// An invalid repository may have lost rules (an entry that is not a rule is dropped,
		// and the next ones move up a number): its texts could be another rule's.
		n := fmt.Sprintf("%d errors", len(errs))
		if len(errs) == 1 {
			n = "1 error"
		}
		res.TextError = fmt.Sprintf("repository %s (%s) is invalid (%s, reconcile validate lists them)", snap.Source, snap.Revision, n)
		return
	}
	res.TextRevision = snap.Revision
	for i := range res.Rules {
		h := &res.Rules[i]
		ref := compile.RuleRef{Profile: h.Profile, Direction: compile.Direction(h.Direction), Index: h.Rule}
		if r := ref.Rule(repo); r != nil {
			h.Text = r.String()
		}
	}
}

// counterSince fills the rules' Since from the installed record (see state.Installed).
func (a *Agent) counterSince(st *StatusResult, res *CountersResult) {
	key, _, err := a.stateKey()
	if err != nil {
		res.SinceError = err.Error()
		return
	}
	in, err := state.LoadInstalled(a.cfg.StateDir, a.cfg.Table, key)
	switch {
	case err != nil:
		res.SinceError = err.Error()
	case st.LastApplied == nil:
		res.SinceError = "nothing recorded as applied"
	case in == nil:
		res.SinceError = "no install times recorded for the ruleset applied last; the next apply that changes it records them, or apply --full now"
	case in.RulesetDigest != st.LastApplied.RulesetDigest:
		res.SinceError = "the install times recorded are of another ruleset than the one applied last"
	case st.StateError != "" || st.ModelError != "":
		res.SinceError = "the state record cannot be read whole"
	case st.OtherHost():
		res.SinceError = fmt.Sprintf("the last apply was for host %s, not %s", st.LastApplied.Host, st.Host)
	case !st.InSync():
		res.SinceError = "the kernel differs from the ruleset applied last"
	}
	if res.SinceError != "" {
		return
	}
	for i := range res.Rules {
		h := &res.Rules[i]
		s := in.Of(h.Ref())
		t := s.Time.UTC()
		h.Since, h.SinceAtLeast = &t, s.AtLeast
	}
}

// isProfileChain reports whether a chain name is a profile chain's.
func isProfileChain(name string) bool {
	return strings.HasPrefix(name, compile.PrefixProfileIn) || strings.HasPrefix(name, compile.PrefixProfileOut)
}

// profileChains is rs with its profile chains only (the rules whose install times are kept).
func profileChains(rs *nft.Ruleset) *nft.Ruleset {
	out := &nft.Ruleset{Table: rs.Table}
	for _, c := range rs.Chains {
		if isProfileChain(c.Name) {
			out.Chains = append(out.Chains, c)
		}
	}
	return out
}

// takeInstalled reads the installed record before a transaction and removes its file, so that
// a process killed after the commit leaves no record rather than a wrong one (putInstalled
// writes the new one after the commit, or the old one back when the transaction failed). A
// record that cannot be read counts as none.
func (a *Agent) takeInstalled(rec *state.Record) *state.Installed {
	if a.cfg.StateDir == "" {
		return nil
	}
	in, err := state.LoadInstalled(a.cfg.StateDir, rec.Table, rec.Netns)
	if err != nil {
		a.log.Debug("rule install times unreadable; starting afresh", "err", err)
		in = nil
	}
	if err := state.RemoveInstalled(a.cfg.StateDir, rec.Table, rec.Netns); err != nil {
		a.log.Warn("cannot remove the rule install times before the transaction", "err", err)
	}
	return in
}

// putInstalled writes in (nil: nothing); a failure is logged, never the pass's error (the
// times are then unknown).
func (a *Agent) putInstalled(in *state.Installed) {
	if in == nil || a.cfg.StateDir == "" {
		return
	}
	if err := state.SaveInstalled(a.cfg.StateDir, in); err != nil {
		msg := "cannot record when the rules were installed (status --counters will say unknown)"
		if diskFull(err) || errors.Is(err, syscall.EROFS) {
			// The pass's record fails alike and says what to do: one message, not two.
			a.log.Debug(msg, "err", err)
			return
		}
		a.log.Warn(msg, "err", err)
	}
}

// installedNoChange is called after a pass that found the kernel holding res.Desired (digest
// res.Digest), the ruleset now recorded as applied, and sent no transaction. When no installed
// record describes that ruleset (none: a process killed between a commit and its record, a
// file lost or written by an older version; or one of another ruleset or unreadable), it
// records every profile rule as installed at least at now (true: the kernel holds them now),
// so that status --counters says "since at least" instead of unknown until the next change.
// A record of that ruleset is left alone (its times are better). Failures are logged.
func (a *Agent) installedNoChange(res *ApplyResult, rec *state.Record, now time.Time) {
	if a.cfg.StateDir == "" || res.Desired == nil || res.Digest == "" {
		return
	}
	if in, err := state.LoadInstalled(a.cfg.StateDir, rec.Table, rec.Netns); err == nil && in != nil && in.RulesetDigest == res.Digest {
		return
	}
	a.putInstalled(&state.Installed{Table: rec.Table, Netns: rec.Netns, RulesetDigest: res.Digest,
		Chains: chainDigests(profileChains(res.Desired)), Base: state.Since{Time: now, AtLeast: true}})
}

// installedAfter is the installed record after res's transaction committed at now, from the
// one before it (prev, nil: none). A full replace installs every rule at now. An in-place
// change installs at now the rules it adds or replaces (nft.KeptRules); the rules it keeps
// keep their time from prev when prev recorded their chain exactly as the base (res.Observed)
// has it, else (a chain edited by hand, no prev) they get now as a lower bound (AtLeast).
func (a *Agent) installedAfter(res *ApplyResult, rec *state.Record, prev *state.Installed, now time.Time) *state.Installed {
	desired := profileChains(res.Desired)
	in := &state.Installed{Table: rec.Table, Netns: rec.Netns, RulesetDigest: res.Digest, Chains: chainDigests(desired), Base: state.Since{Time: now}}
	if res.Mode != ModeIncremental || res.Observed == nil {
		return in
	}
	base := profileChains(res.Observed)
	kept, err := nft.KeptRules(desired, base)
	if err != nil {
		a.log.Debug("rule install times: cannot tell the kept rules; all counted from now", "err", err)
		in.Base.AtLeast = true
		return in
	}
	// The times of prev hold for the rules of a chain that the table had exactly as prev
	// recorded it (not edited by hand since, not changed by an apply not recorded).
	baseDigests := chainDigests(base)
	trusted := func(chain string) bool {
		return prev != nil && prev.Chains[chain] != "" && prev.Chains[chain] == baseDigests[chain]
	}
	if prev != nil {
		in.Base = prev.Base
	} else {
		in.Base = state.Since{Time: now, AtLeast: true}
	}
	since := map[string]state.Since{}
	for _, c := range desired.Chains {
		for i, r := range c.Rules {
			if _, ok := compile.ParseComment(r.Comment); !ok {
				continue
			}
			var s state.Since
			switch {
			case !kept[c.Name][i]:
				s = state.Since{Time: now}
			case trusted(c.Name):
				s = prev.Of(r.Comment)
			default:
				s = state.Since{Time: now, AtLeast: true}
			}
			if old, ok := since[r.Comment]; !ok || laterSince(s, old) {
				since[r.Comment] = s
			}
		}
	}
	for c, s := range since {
		if !s.Time.Equal(in.Base.Time) || s.AtLeast != in.Base.AtLeast {
			if in.Rules == nil {
				in.Rules = map[string]state.Since{}
			}
			in.Rules[c] = s
		}
	}
	return in
}

// chainDigests are the digests of rs's chains by name: the first 16 hex digits of the sha256
// of the chain's nft text.
func chainDigests(rs *nft.Ruleset) map[string]string {
	out := make(map[string]string, len(rs.Chains))
	for _, c := range rs.Chains {
		sum := sha256.Sum256([]byte((&nft.Ruleset{Table: rs.Table, Chains: []*nft.Chain{c}}).String()))
		out[c.Name] = hex.EncodeToString(sum[:8])
	}
	return out
}

// laterSince reports whether a is the later start of two variants of one rule (an exact time
// wins over a lower bound at the same time).
func laterSince(a, b state.Since) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.After(b.Time)
	}
	return !a.AtLeast && b.AtLeast
}
