package compile

import (
	"sort"

	"github.com/reconcile-dev/reconcile/schema"
)

// HostKeys returns, for every host named by an endpoint of repo (sorted), a key of everything
// the compiled ruleset of that host (Compile with opts.Table) depends on: two repositories that
// give a host the same key give it identical rulesets, so `plan --all-hosts` compiles only the
// hosts whose key differs between the base and the head. Equal keys mean the same outcome of
// Compile: the same ruleset, or the same error. opts.Host is ignored.
//
// This first version compiles every host and keys it by the digest of its canonical ruleset:
// correct by construction, as slow as compiling every host.
func HostKeys(repo *schema.Repository, opts Options) (hosts []string, keys map[string]string) {
	seen := map[string]bool{}
	for _, e := range repo.Endpoints {
		if !seen[e.Host] {
			seen[e.Host] = true
			hosts = append(hosts, e.Host)
		}
	}
	sort.Strings(hosts)
	keys = make(map[string]string, len(hosts))
	opts.Tags = NewTagIndex(repo)
	for _, h := range hosts {
		opts.Host = h
		rs, err := Compile(repo, opts)
		if err != nil {
			keys[h] = "error:" + err.Error()
			continue
		}
		keys[h] = "ruleset:" + rs.Canonical().Digest()
	}
	return hosts, keys
}
