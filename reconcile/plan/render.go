package plan

import (
	"fmt"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// ruleText is the nft text of a rule, the identity of a rule in a diff.
func ruleText(r *nft.Rule) string {
	var parts []string
	for _, m := range r.Matches {
		parts = append(parts, matchText(m))
	}
	if r.VMap != nil {
		parts = append(parts, fmt.Sprintf("%s vmap @%s", r.VMap.Key, r.VMap.Map))
	}
	if r.Counter {
		parts = append(parts, "counter")
	}
	if r.Log != nil {
		parts = append(parts, fmt.Sprintf("log prefix %q", r.Log.Prefix))
	}
	if r.Verdict.Kind != nft.None {
		parts = append(parts, verdictText(r.Verdict))
	}
	if r.Comment != "" {
		parts = append(parts, fmt.Sprintf("comment %q", r.Comment))
	}
	return strings.Join(parts, " ")
}

// matchText is a rough nft rendering of a match (temporary, until nft renders rules).
func matchText(m nft.Match) string {
	op := " "
	if m.Not {
		op = " != "
	}
	fam := "ip"
	if m.Family == nft.IPv6 {
		fam = "ip6"
	}
	switch m.Kind {
	case nft.MatchNFProto:
		return fmt.Sprintf("meta nfproto%sipv%d", op, m.Family)
	case nft.MatchIIFName, nft.MatchOIFName:
		return fmt.Sprintf("%s%s%q", m.Kind, op, m.Str)
	case nft.MatchSAddrSet:
		return fmt.Sprintf("%s saddr%s@%s", fam, op, m.Str)
	case nft.MatchDAddrSet:
		return fmt.Sprintf("%s daddr%s@%s", fam, op, m.Str)
	case nft.MatchEtherSAddr:
		return "ether saddr" + op + m.Str
	}
	return fmt.Sprintf("%s%s%v", m.Kind, op, []any{m.CtState, m.Protos, m.Prefixes, m.Ports, m.Nums, m.Type, m.Code})
}

// elementText is the nft text of a verdict-map element.
func elementText(e nft.MapElement) string {
	return fmt.Sprintf("%q : %s", e.Key, verdictText(e.Verdict))
}

func verdictText(v nft.Verdict) string {
	if v.Kind == nft.Jump || v.Kind == nft.Goto {
		return string(v.Kind) + " " + v.Chain
	}
	return string(v.Kind)
}

// baseText is the header of a base chain, e.g. "type filter hook forward priority 0; policy accept;".
func baseText(b *nft.BaseChain) string {
	if b == nil {
		return "regular chain"
	}
	return fmt.Sprintf("type filter hook %s priority %d; policy %s;", b.Hook, b.Priority, b.Policy)
}

func indent(n int) string { return strings.Repeat(" ", n) }
