package compile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/reconcile-dev/reconcile/schema"
)

// Direction of a profile rule.
type Direction string

// Directions: inbound rules match traffic to the endpoint, outbound rules traffic from it.
const (
	Inbound  Direction = "inbound"
	Outbound Direction = "outbound"
)

// RuleRef names one rule of a profile: Index is 1-based, as in `rule show` and in the
// comment of every nft rule compiled from it ("WEB inbound 2").
type RuleRef struct {
	Profile   string
	Direction Direction
	Index     int
}

// Comment is the rule comment Compile puts on every nft rule compiled from r: "WEB inbound 2".
// It is never shortened; with a profile id of at most limits.MaxIDLen bytes it is at most
// limits.MaxIDLen+19 bytes (an index below 10^9), within limits.MaxComment.
func (r RuleRef) Comment() string { return r.String() }

func (r RuleRef) String() string { return fmt.Sprintf("%s %s %d", r.Profile, r.Direction, r.Index) }

// Rule returns the profile rule r refers to in repo, or nil when there is none.
func (r RuleRef) Rule(repo *schema.Repository) *schema.Rule {
	if repo == nil {
		return nil
	}
	p := repo.Profiles[r.Profile]
	if p == nil || r.Index < 1 {
		return nil
	}
	rules := p.Inbound
	if r.Direction == Outbound {
		rules = p.Outbound
	} else if r.Direction != Inbound {
		return nil
	}
	if r.Index > len(rules) {
		return nil
	}
	return &rules[r.Index-1]
}

// ParseComment parses a profile rule comment ("WEB inbound 2") back into a RuleRef. It
// reports false for the comments of endpoint and shared chain rules.
func ParseComment(c string) (RuleRef, bool) {
	f := strings.Fields(c)
	if len(f) != 3 || (f[1] != string(Inbound) && f[1] != string(Outbound)) {
		return RuleRef{}, false
	}
	n, err := strconv.Atoi(f[2])
	if err != nil || n < 1 || strconv.Itoa(n) != f[2] {
		return RuleRef{}, false
	}
	return RuleRef{Profile: f[0], Direction: Direction(f[1]), Index: n}, true
}

// Sources maps the comment of every rule Compile can produce from repo's profiles (every
// rule of every profile, whether or not some endpoint uses it) back to the profile rule.
// Comments are never shortened, so two rules share a comment only in a repository that
// defines a profile twice; such comments are left out.
func Sources(repo *schema.Repository) map[string]RuleRef {
	out := map[string]RuleRef{}
	if repo == nil {
		return out
	}
	clash := map[string]bool{}
	add := func(r RuleRef) {
		c := r.Comment()
		if _, dup := out[c]; dup || clash[c] {
			clash[c] = true
			delete(out, c)
			return
		}
		out[c] = r
	}
	for _, id := range repo.ProfileIDs() {
		p := repo.Profiles[id]
		for i := range p.Inbound {
			add(RuleRef{Profile: id, Direction: Inbound, Index: i + 1})
		}
		for i := range p.Outbound {
			add(RuleRef{Profile: id, Direction: Outbound, Index: i + 1})
		}
	}
	return out
}
