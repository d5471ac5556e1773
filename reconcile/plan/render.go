package plan

import (
	"fmt"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// ruleText is the nft text of a rule (comment included): the identity of a rule in a diff.
func ruleText(r *nft.Rule) string { return r.String() }

// elementText is the nft text of a verdict-map element: `"caliweb1" : goto from-web-1`.
func elementText(e nft.MapElement) string {
	return fmt.Sprintf("%q : %s", e.Key, e.Verdict.String())
}

// baseText is the header of a base chain, e.g. "type filter hook forward priority 0; policy accept;".
func baseText(b *nft.BaseChain) string {
	policy := b.Policy
	if policy == nft.None {
		policy = nft.Accept
	}
	return fmt.Sprintf("type filter hook %s priority %d; policy %s;", b.Hook, b.Priority, policy)
}
