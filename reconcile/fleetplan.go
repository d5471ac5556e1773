package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/plan"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/source/git"
	"github.com/reconcile-dev/reconcile/schema"
)

// PlanCounts is plan.Counts: how many objects a plan adds, changes and destroys.
type PlanCounts = plan.Counts

// PlanFormatVersion is plan.FormatVersion, the version of the JSON plan format (also that of
// the JSON of plan --all-hosts).
const PlanFormatVersion = plan.FormatVersion

// FleetPlanResult is what PlanAllHosts found: the plan of every host whose ruleset differs
// between the head (the Agent's source) and the base (--against).
type FleetPlanResult struct {
	// Head and Base are the snapshots compared (without their files' contents in mind: the
	// files are those loaded).
	Head, Base *Snapshot
	// HostsCompared is how many hosts an endpoint names in the head or in the base.
	HostsCompared int
	// Hosts are the hosts whose plan is not empty, in natural host-name order (runs of digits
	// compare as numbers: node-3 before node-12).
	Hosts []HostPlan
}

// HostPlan is the plan of one host of a FleetPlanResult.
type HostPlan struct {
	Host string
	// Plan is what applying the head changes on a host that holds the base's ruleset
	// (plan.Diff(head, base), as PlanAgainst).
	Plan *Plan
	// HeadDigest and BaseDigest are "sha256:<hex>" of the host's canonical ruleset in the head
	// and in the base (a host that no endpoint of a tree names gets the base chains there);
	// "" unless PlanAllHostsOptions.Digests.
	HeadDigest, BaseDigest string
}

// PlanAllHosts plans every host of the fleet at once: the ruleset compiled from the Agent's
// source (the head: --dir or --repo) against the one compiled from against (the base: a
// directory, or a git revision, see againstSource), for every host that an endpoint names in
// either tree. Each tree is fetched and loaded once; compile.HostKeys tells which hosts can
// differ, and only those are compiled, on both sides, on every core; a host that a tree does
// not name compiles to the base chains there, so its plan shows every object coming or going.
// Neither the kernel nor the state record is touched, and no host name is needed (--host is
// not used).
//
// Errors: an invalid head is an *Error wrapping schema.Errors (path:line:col), as Plan's; a
// head host that does not compile is an *Error naming the host; any error of the base is
// prefixed `--against "X": `, as PlanAgainst's; and the errors of the sources' fetch.
func (a *Agent) PlanAllHosts(ctx context.Context, against string, opts PlanAllHostsOptions) (*FleetPlanResult, error) {
	start := time.Now()
	src, err := a.Source()
	if err != nil {
		return nil, err
	}
	head, hrepo, err := a.loadTree(ctx, src)
	if err != nil {
		return nil, err
	}
	bsrc, err := a.againstSource(against)
	if err != nil {
		return nil, err
	}
	base, brepo, err := a.loadTree(ctx, bsrc)
	if err != nil {
		return nil, againstErr(against, err)
	}
	a.log.Debug("loaded both trees", "elapsed", time.Since(start))
	copts := compile.Options{Table: a.cfg.Table}
	// The two trees' keys at once (each call may use one core or all of them).
	var bhosts []string
	var bkeys map[string]string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		bhosts, bkeys = compile.HostKeys(brepo, copts)
	}()
	hhosts, hkeys := compile.HostKeys(hrepo, copts)
	wg.Wait()
	a.log.Debug("host keys", "head_hosts", len(hhosts), "base_hosts", len(bhosts), "elapsed", time.Since(start))
	all := map[string]bool{}
	var changed []string
	for _, h := range append(append([]string(nil), hhosts...), bhosts...) {
		if all[h] {
			continue
		}
		all[h] = true
		hk, inHead := hkeys[h]
		bk, inBase := bkeys[h]
		if !inHead || !inBase || hk != bk {
			changed = append(changed, h)
		}
	}
	slices.SortFunc(changed, naturalCompare) // node-3 before node-12
	a.log.Debug("hosts to compile", "hosts", len(all), "differing_keys", len(changed))

	plans, err := a.planHosts(hrepo, brepo, changed, head.Revision, base.Revision, opts.Digests)
	if err != nil {
		if errors.Is(err, errBase) {
			return nil, againstErr(against, errors.Unwrap(err))
		}
		return nil, err
	}
	res := &FleetPlanResult{Head: head, Base: base, HostsCompared: len(all)}
	for _, hp := range plans {
		if hp != nil && !hp.Plan.Empty() {
			res.Hosts = append(res.Hosts, *hp)
		}
	}
	a.log.Debug("planned all hosts", "compared", len(all), "compiled", len(changed), "changed", len(res.Hosts), "elapsed", time.Since(start))
	return res, nil
}

// PlanAllHostsOptions select what PlanAllHosts computes beyond the plans.
type PlanAllHostsOptions struct {
	// Digests fills HostPlan.HeadDigest and BaseDigest. Each renders the host's whole ruleset
	// (at the fleet shape about 80 ms of CPU and 8 MB of text per ruleset: 40% of the time of a
	// pull request that changes most hosts), so the text output, which does not show them,
	// leaves them out.
	Digests bool
}

// AgainstError is an error of the base of PlanAgainst and PlanAllHosts (--against X): its
// message is prefixed `--against "X": `; it unwraps to the cause (an *Error wrapping
// schema.Errors for an invalid base).
type AgainstError struct {
	Against string
	Err     error
}

func (e *AgainstError) Error() string { return fmt.Sprintf("--against %q: %v", e.Against, e.Err) }
func (e *AgainstError) Unwrap() error { return e.Err }

// againstErr prefixes an error of the base (--against) with its name (*AgainstError).
func againstErr(against string, err error) error {
	return &AgainstError{Against: against, Err: err}
}

// loadTree fetches src (without the state record: no history check against what a host
// applied) and loads it. An invalid tree is an *Error wrapping schema.Errors.
func (a *Agent) loadTree(ctx context.Context, src source.Source) (*source.Snapshot, *schema.Repository, error) {
	snap, err := a.fetch(ctx, src, nil)
	if err != nil {
		return nil, nil, err
	}
	repo, errs := a.load(snap)
	if len(errs) > 0 {
		return snap, nil, invalid(snap, errs)
	}
	if repo == nil {
		return snap, nil, errors.New("the repository could not be loaded")
	}
	return snap, repo, nil
}

// errBase marks an error of planHosts that is the base's (wrapped: errors.Unwrap gives it).
var errBase = errors.New("base")

type baseErr struct{ err error }

func (e baseErr) Error() string        { return e.err.Error() }
func (e baseErr) Unwrap() error        { return e.err }
func (e baseErr) Is(target error) bool { return target == errBase }

// planHosts compiles each host of hosts in head and in base (for the Agent's table) and diffs
// them, on every core, sharing one index of the tags' members per tree. Only the plans are
// kept (a fleet host's ruleset can be tens of MB: all of them at once would not fit), by
// index of hosts. The error is that of a host whose head (an *Error naming the host) or base (a
// baseErr around the same) does not compile: the first in hosts order of those tried (the
// workers stop at the first failure).
func (a *Agent) planHosts(head, base *schema.Repository, hosts []string, headRev, baseRev string, digests bool) ([]*HostPlan, error) {
	out := make([]*HostPlan, len(hosts))
	htags, btags := compile.NewTagIndex(head), compile.NewTagIndex(base)
	errs := make([]error, len(hosts))
	onEveryCore(len(hosts), func(i int) bool {
		h := hosts[i]
		hrs, err := a.compileFor(head, h, htags)
		if err != nil {
			errs[i] = stageErr("compile", "error", fmt.Errorf("compile revision %s for host %q: %w", headRev, h, err))
			return false
		}
		brs, err := a.compileFor(base, h, btags)
		if err != nil {
			errs[i] = baseErr{stageErr("compile", "error", fmt.Errorf("compile revision %s for host %q: %w", baseRev, h, err))}
			return false
		}
		hrs, brs = hrs.Canonical(), brs.Canonical()
		out[i] = &HostPlan{Host: h, Plan: plan.DiffCanonical(hrs, brs)}
		if digests && !out[i].Plan.Empty() {
			out[i].HeadDigest, out[i].BaseDigest = "sha256:"+hrs.Digest(), "sha256:"+brs.Digest()
		}
		return true
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// againstSource is the source of --against X: an existing directory is a checkout of the base
// (source.Dir); anything else is a git revision (a branch, origin/main, a tag, a commit hash,
// HEAD~1) of the repository of the Agent's source: with --dir, the git repository whose work
// tree contains it, read at the subdirectory --dir is at (git.OpenRev); with --repo, the
// fetched clone (git.Source.At: a branch, tag or commit of the remote), read after the head
// was fetched. The error is prefixed `--against "X": `.
func (a *Agent) againstSource(against string) (source.Source, error) {
	src, err := a.Source()
	if fi, serr := os.Stat(against); serr == nil && fi.IsDir() {
		// A directory named like a revision of the --dir repository (a folder main/ in the
		// current directory, --against main) is ambiguous, as git says: refused, unless the
		// path is spelled as one (./main, /abs/main).
		if s, ok := src.(source.Dir); ok && err == nil && !explicitPath(against) {
			if _, rerr := git.OpenRev(s.Path, against); rerr == nil {
				return nil, againstErr(against, fmt.Errorf("both a directory and a revision of the git repository at %s: write ./%s for the directory, or the commit hash or the full ref name (refs/heads/…, refs/remotes/…, refs/tags/…) for the revision",
					s.Path, against))
			}
		}
		return source.Dir{Path: against}, nil
	}
	if err != nil {
		return nil, err
	}
	switch s := src.(type) {
	case source.Dir:
		r, err := git.OpenRev(s.Path, against)
		if err != nil {
			return nil, againstErr(against, fmt.Errorf("not a directory, and not a revision of the git repository at %s: %w", s.Path, err))
		}
		return r, nil
	case *git.Source:
		return s.At(against), nil
	}
	return nil, againstErr(against, fmt.Errorf("not a directory; a revision needs --dir or --repo (the source is %s)", src))
}

// explicitPath reports whether p is spelled as a path, not a revision: absolute, or starting
// with ./ or ../ (or . or .. itself).
func explicitPath(p string) bool {
	return filepath.IsAbs(p) || p == "." || p == ".." || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../")
}

// naturalCompare orders strings with runs of ASCII digits compared as numbers ("node-3" <
// "node-12"), the rest bytewise; strings equal that way (node-01, node-1) fall back to
// bytewise order, so the order is total.
func naturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na, nb := strings.TrimLeft(a[si:i], "0"), strings.TrimLeft(b[sj:j], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			continue
		}
		if a[i] != b[j] {
			return cmp.Compare(a[i], b[j])
		}
		i, j = i+1, j+1
	}
	if c := cmp.Compare(len(a)-i, len(b)-j); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
