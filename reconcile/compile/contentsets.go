package compile

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// Content sets. A rule with several ports or ICMP types does not carry its own anonymous set:
// the kernel's cost of loading a table grows with the square of the number of sets in it
// (every set lookup by name, and every anonymous set's lookup by transaction id, walks a
// list; measured in docs/COMPILE.md). Instead every distinct list becomes one named interval
// set, shared by all the rules with that list and named after its content, so that an edit
// elsewhere never renames it: ports-<h>, icmp-types-<h>, icmpv6-types-<h>, where h is the
// first 16 hex digits of the sha256 of the set's elements as nft text, joined by ","
// (`80,443,8000-8080`). A list of one port or one range, and a single ICMP type, stay
// compares in the rule.

// contentHashLen is the number of hex digits of the content hash in a set name: 64 bits, so
// that two lists of a table share a name only with a probability of about n²/2^65 (1e-11 for
// 20,000 distinct lists); compile refuses the ruleset should it happen.
const contentHashLen = 16

// ContentSetName returns the name of the shared set holding s's elements (s.Type SetPorts,
// SetICMPTypes or SetICMPv6Types, its elements in canonical order; see nft.Set): the type's
// prefix and contentHashLen hex digits of the sha256 of s.Elements() joined by ",".
func ContentSetName(s *nft.Set) string {
	prefix := map[nft.SetType]string{nft.SetPorts: PrefixPorts, nft.SetICMPTypes: PrefixICMPTypes, nft.SetICMPv6Types: PrefixICMPv6Types}[s.Type]
	sum := sha256.Sum256([]byte(strings.Join(s.Elements(), ",")))
	return prefix + hex.EncodeToString(sum[:])[:contentHashLen]
}

// contentSets replaces, in every rule of the compiled chains, a port match of several ranges
// and an ICMP type match of several types by a lookup in the shared content set, and adds
// those sets to c.sets (sorted by ruleset). Ports are merged first (overlapping and adjacent
// ranges joined): a list that merges into one range stays a range compare.
func (c *compiler) contentSets() error {
	byName := map[string]*nft.Set{}
	add := func(s *nft.Set) (string, error) {
		name := ContentSetName(s)
		if old := byName[name]; old != nil {
			if !slices.Equal(old.Elements(), s.Elements()) {
				return "", fmt.Errorf("compile: the sets { %s } and { %s } would both be named %q",
					strings.Join(old.Elements(), ", "), strings.Join(s.Elements(), ", "), name)
			}
			return name, nil
		}
		s.Name = name
		byName[name] = s
		return name, nil
	}
	for _, name := range slices.Sorted(maps.Keys(c.chains)) {
		for _, r := range c.chains[name].Rules {
			for i := range r.Matches {
				m := &r.Matches[i]
				switch m.Kind {
				case nft.MatchSPort, nft.MatchDPort:
					ports := nft.MergePorts(m.Ports)
					if len(ports) < 2 {
						m.Ports = ports
						continue
					}
					name, err := add(&nft.Set{Type: nft.SetPorts, Ports: ports})
					if err != nil {
						return err
					}
					kind := nft.MatchSPortSet
					if m.Kind == nft.MatchDPort {
						kind = nft.MatchDPortSet
					}
					*m = nft.Match{Kind: kind, Not: m.Not, Str: name}
				case nft.MatchICMPType:
					nums := slices.Compact(slices.Sorted(slices.Values(m.Nums)))
					if len(nums) < 2 {
						continue
					}
					typ := nft.SetICMPTypes
					if m.Family == nft.IPv6 {
						typ = nft.SetICMPv6Types
					}
					name, err := add(&nft.Set{Type: typ, Nums: nums})
					if err != nil {
						return err
					}
					*m = nft.Match{Kind: nft.MatchICMPTypeSet, Not: m.Not, Family: m.Family, Str: name}
				}
			}
		}
	}
	for _, s := range byName {
		c.sets = append(c.sets, s)
	}
	slices.SortFunc(c.sets, func(a, b *nft.Set) int { return cmp.Compare(a.Name, b.Name) })
	return nil
}
