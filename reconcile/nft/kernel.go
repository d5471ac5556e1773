package nft

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// Kernel is the Dataplane over the kernel's nf_tables, through google/nftables, in one network
// namespace. It never switches a thread's namespace: the netlink sockets are created inside
// the namespace from its file descriptor. It touches only the one table it is asked about.
type Kernel struct {
	mu   sync.Mutex
	log  *slog.Logger
	ns   string // the namespace's Name, for logs ("": this process's)
	conn *nftables.Conn
	nl   *netlink.Conn // raw socket for the rule read-back
	// beforeFlush, when set (tests only), runs right before Update or Replace sends its
	// batch: a commit of someone else between the generation check and the batch.
	beforeFlush func()
	// afterSend, when set (tests only), runs right after Update or Replace sent its batch and
	// read the kernel's answer, with that answer (nil: committed; "SendMessages: ..." errors,
	// where nothing went out, skip it); what it returns replaces the answer. It stands for a
	// netlink socket error after the batch really went out (ENOBUFS: the socket's receive
	// buffer overflowed), which leaves the outcome unknown (ErrOutcomeUnknown): the kernel
	// cannot be made to produce that on demand, so the tests inject it here, for a batch the
	// kernel committed and for one it refused.
	afterSend func(answer error) error
}

const (
	// observeRetries bounds how often Observe reads again because the ruleset changed
	// (another writer) while it was reading.
	observeRetries = 3
)

var _ Dataplane = (*Kernel)(nil)

// KernelOption configures NewKernel.
type KernelOption func(*Kernel)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) KernelOption {
	return func(k *Kernel) {
		if l != nil {
			k.log = l
		}
	}
}

// NewKernel opens the nftables dataplane of the network namespace ns; nil is the namespace of
// this process. The sockets are created inside the namespace from ns.Fd(); the Kernel does not
// close ns, whose owner closes it after the Kernel. Close releases the sockets. The error names
// the namespace (ns.Name()) and says which socket could not be opened; a closed ns is an error.
// In a test binary (testing.Testing) the namespace the process runs in, the machine's own, is
// refused:
// this project's tests program private namespaces only (a test once reached the host's ruleset).
func NewKernel(ns *netns.Handle, opts ...KernelOption) (*Kernel, error) {
	k := &Kernel{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(k)
	}
	if testing.Testing() && netns.IsOwn(ns) {
		// A safety net for this project's own tests: they program private namespaces only.
		return nil, errors.New("a test binary may not open the nftables of the network namespace it runs in (the machine's own): create a private namespace (testenv.NewNetns)")
	}
	nftOpts := []nftables.ConnOption{nftables.AsLasting()}
	nlCfg := &netlink.Config{}
	if ns != nil {
		k.ns = ns.Name()
		if ns.Fd() < 0 {
			return nil, fmt.Errorf("open nftables in network namespace %q: the namespace handle is closed", k.ns)
		}
		nftOpts = append(nftOpts, nftables.WithNetNSFd(ns.Fd()))
		nlCfg.NetNS = ns.Fd()
	}
	conn, err := nftables.New(nftOpts...)
	if err != nil {
		return nil, fmt.Errorf("open nftables in %s: %w", k.where(), err)
	}
	k.conn = conn
	nl, err := netlink.Dial(unix.NETLINK_NETFILTER, nlCfg)
	if err != nil {
		_ = conn.CloseLasting()
		return nil, fmt.Errorf("open netfilter netlink socket in %s: %w", k.where(), err)
	}
	k.nl = nl
	return k, nil
}

// Close releases the sockets (not the namespace handle given to NewKernel).
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	if k.conn != nil {
		errs = append(errs, k.conn.CloseLasting())
		k.conn = nil
	}
	if k.nl != nil {
		errs = append(errs, k.nl.Close())
		k.nl = nil
	}
	return errors.Join(errs...)
}

// Apply replaces table inet <desired.Table> with desired in one netlink transaction: add,
// delete and add the table, then chains, sets, maps and rules, then one Flush. The kernel
// applies the batch atomically, so on any error the old table (or its absence) is intact.
// desired is validated first; an invalid model returns an error and sends nothing.
func (k *Kernel) Apply(ctx context.Context, desired *Ruleset) error {
	if desired == nil {
		return errors.New("apply: no ruleset")
	}
	enc, err := encode(desired)
	if err != nil {
		return fmt.Errorf("apply table %q: %w", desired.Table, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn == nil {
		return errors.New("apply: dataplane is closed")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("apply table %q: %w", desired.Table, err)
	}
	start := time.Now()
	if err := enc.queue(k.conn); err != nil {
		// The library keeps the error and Flush returns it without sending anything; the
		// Flush also empties the batch.
		_ = k.conn.Flush()
		return fmt.Errorf("apply table %q: %w", desired.Table, err)
	}
	if err := k.conn.Flush(); err != nil {
		return fmt.Errorf("apply table %q: netlink transaction rejected, nothing changed: %w", desired.Table, err)
	}
	k.log.Debug("applied nftables table", "table", desired.Table, "netns", k.ns,
		"chains", len(enc.chains), "sets", len(enc.sets), "rules", len(enc.rules), "duration", time.Since(start))
	return nil
}

// Generation returns the namespace's nftables ruleset generation (see Generationer).
func (k *Kernel) Generation(ctx context.Context) (uint32, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn == nil {
		return 0, errors.New("generation: dataplane is closed")
	}
	g, err := k.conn.GetGen()
	if err != nil {
		return 0, fmt.Errorf("nftables ruleset generation: %w", err)
	}
	return g.ID, nil
}

// Observe reads table inet <table> back into the model, in canonical form (see Canonical),
// without counter values. It returns (nil, nil) when the table does not exist. Rules that
// reconcile would not generate read back with MatchUnknown matches describing them; named
// stateful objects and flowtables read back as Foreign (kind and name only).
func (k *Kernel) Observe(ctx context.Context, table string) (*Ruleset, error) {
	if err := checkName("table", table); err != nil {
		return nil, fmt.Errorf("observe: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn == nil {
		return nil, errors.New("observe: dataplane is closed")
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("observe table %q: %w", table, err)
		}
		before, err := k.conn.GetGen()
		if err != nil {
			return nil, fmt.Errorf("observe table %q: ruleset generation: %w", table, err)
		}
		rs, err := k.observe(ctx, table)
		if err != nil {
			return nil, err
		}
		after, err := k.conn.GetGen()
		if err != nil {
			return nil, fmt.Errorf("observe table %q: ruleset generation: %w", table, err)
		}
		if before.ID == after.ID || attempt == observeRetries {
			if before.ID != after.ID {
				k.log.Warn("nftables ruleset kept changing while it was read", "table", table, "netns", k.ns, "attempts", attempt)
			}
			k.log.Debug("observed nftables table", "table", table, "netns", k.ns, "exists", rs != nil, "duration", time.Since(start))
			return rs, nil
		}
	}
}

// observe reads the table once; the ruleset may change meanwhile (Observe checks).
func (k *Kernel) observe(ctx context.Context, table string) (*Ruleset, error) {
	t, err := k.conn.ListTableOfFamily(table, nftables.TableFamilyINet)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("observe table %q: list table: %w", table, err)
	}
	rs := &Ruleset{Table: table}

	byName, err := k.observeChains(ctx, rs)
	if err != nil {
		return nil, err
	}
	dec, setFlags, err := k.observeSets(ctx, t, rs)
	if err != nil {
		return nil, err
	}

	rules, err := dumpRules(k.nl, table, "")
	if err != nil {
		return nil, fmt.Errorf("observe table %q: %w", table, err)
	}
	for _, r := range rules {
		c := byName[r.chain]
		if c == nil {
			// A chain created between the two dumps: show it rather than drop its rules.
			c = &Chain{Name: r.chain}
			byName[r.chain] = c
			rs.Chains = append(rs.Chains, c)
		}
		c.Rules = append(c.Rules, dec.rule(r.exprs, r.userData))
	}
	// Named stateful objects and flowtables: the model has no field for them, but a table
	// that holds them is not empty, and an apply would delete them with the table.
	foreign, err := dumpForeign(k.nl, table)
	if err != nil {
		return nil, fmt.Errorf("observe table %q: %w", table, err)
	}
	// Table flags: reconcile's table has none. A dormant table (`nft add table inet T
	// '{ flags dormant; }'`) keeps every rule but filters nothing; the owner and persist
	// flags change who may touch it. Each is reported like a foreign object, so that status
	// shows it as drift and apply (which builds a new table without flags) removes it.
	foreign = append(foreign, tableFlags(t.Flags)...)
	foreign = append(foreign, setFlags...)
	rs.Foreign = canonForeign(foreign)
	slices.SortFunc(rs.Sets, func(a, b *Set) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(rs.Maps, func(a, b *Map) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(rs.Chains, func(a, b *Chain) int { return cmp.Compare(a.Name, b.Name) })
	return rs, nil
}

// observeChains lists the chains of table rs.Table into rs.Chains and returns them by name.
func (k *Kernel) observeChains(ctx context.Context, rs *Ruleset) (map[string]*Chain, error) {
	table := rs.Table
	chains, err := k.conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("observe table %q: list chains: %w", table, err)
	}
	byName := map[string]*Chain{}
	for _, c := range chains {
		if c.Table == nil || c.Table.Name != table {
			continue
		}
		mc := chainOf(c)
		byName[c.Name] = mc
		rs.Chains = append(rs.Chains, mc)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("observe table %q: %w", table, err)
	}
	return byName, nil
}

// chainOf is the model of a kernel chain: a base chain's hook (with its type when not
// filter), priority and policy.
func chainOf(c *nftables.Chain) *Chain {
	mc := &Chain{Name: c.Name}
	if c.Hooknum != nil {
		mc.Base = &BaseChain{Hook: hookOf(*c.Hooknum), Policy: Accept}
		if c.Priority != nil {
			mc.Base.Priority = int(*c.Priority)
		}
		if c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
			mc.Base.Policy = Drop
		}
		if c.Type != nftables.ChainTypeFilter {
			mc.Base.Hook = Hook(fmt.Sprintf("%s (type %s)", mc.Base.Hook, c.Type))
		}
	}
	return mc
}

// observeSets reads the sets and maps of table t with their elements: named ones into
// rs.Sets and rs.Maps, all into the returned decoder (rules look anonymous sets up there),
// and the properties of named ones the model has no field for (timeouts, flags, sizes) as
// foreign objects.
func (k *Kernel) observeSets(ctx context.Context, t *nftables.Table, rs *Ruleset) (*decoder, []ForeignObject, error) {
	table := rs.Table
	sets, err := k.conn.GetSets(t)
	if err != nil {
		return nil, nil, fmt.Errorf("observe table %q: list sets: %w", table, err)
	}
	dec := &decoder{sets: map[string]*setData{}}
	var setFlags []ForeignObject
	for _, s := range sets {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("observe table %q: %w", table, err)
		}
		elems, err := k.conn.GetSetElements(s)
		if err != nil {
			return nil, nil, fmt.Errorf("observe table %q: elements of set %q: %w", table, s.Name, err)
		}
		sd := &setData{set: s, elems: elems}
		dec.sets[s.Name] = sd
		if !s.Anonymous {
			setFlags = append(setFlags, setProperties(s, elems)...)
		}
		switch {
		case s.Anonymous:
		case s.IsMap:
			rs.Maps = append(rs.Maps, decodeMap(sd))
		default:
			rs.Sets = append(rs.Sets, decodeSet(sd))
		}
	}
	return dec, setFlags, nil
}

func hookOf(h nftables.ChainHook) Hook {
	switch h {
	case *nftables.ChainHookForward:
		return HookForward
	case *nftables.ChainHookInput:
		return HookInput
	case *nftables.ChainHookPrerouting:
		return "prerouting"
	case *nftables.ChainHookOutput:
		return "output"
	case *nftables.ChainHookPostrouting:
		return "postrouting"
	}
	return Hook(fmt.Sprintf("hook %d", h))
}

// where names the namespace for errors: `network namespace "NAME"`, or this process's.
func (k *Kernel) where() string {
	if k.ns == "" {
		return "this process's network namespace"
	}
	return fmt.Sprintf("network namespace %q", k.ns)
}

// String names the dataplane and its namespace, for logs.
func (k *Kernel) String() string {
	if k.ns == "" {
		return fmt.Sprintf("nftables (pid %d namespace)", os.Getpid())
	}
	return fmt.Sprintf("nftables (namespace %s)", k.ns)
}

// tableFlags returns the flags of an observed table as foreign entries of kind TableFlagKind:
// "dormant", "owner", "persist" (NFT_TABLE_F_*), "0x<n>" for bits this program does not know.
func tableFlags(f nftables.TableFlags) []ForeignObject {
	var out []ForeignObject
	for _, b := range []struct {
		bit  nftables.TableFlags
		name string
	}{{nftables.TableFlagDormant, "dormant"}, {nftables.TableFlagOwner, "owner"}, {nftables.TableFlagPersist, "persist"}} {
		if f&b.bit != 0 {
			out = append(out, ForeignObject{Kind: TableFlagKind, Name: b.name})
			f &^= b.bit
		}
	}
	if f != 0 {
		out = append(out, ForeignObject{Kind: TableFlagKind, Name: fmt.Sprintf("0x%x", uint32(f))})
	}
	return out
}

// setProperties returns what a named set or map of the observed table has that reconcile's
// never have, as foreign entries of kind SetPropertyKind: a timeout flag, a set-wide timeout,
// elements with a timeout (they expire: a dispatch map or tag set loses members later, and
// an endpoint then misses its chains, failing open), the dynamic or constant flag, a size.
// Status shows them as drift; apply builds the sets anew without them.
func setProperties(s *nftables.Set, elems []nftables.SetElement) []ForeignObject {
	var out []ForeignObject
	add := func(what string) { out = append(out, ForeignObject{Kind: SetPropertyKind, Name: s.Name + " " + what}) }
	if s.HasTimeout || s.Timeout > 0 {
		add("timeout")
	}
	for _, e := range elems {
		if e.Timeout > 0 || e.Expires > 0 {
			add("element timeout")
			break
		}
	}
	if s.Dynamic {
		add("flags dynamic")
	}
	if s.Constant {
		add("flags constant")
	}
	if s.Size > 0 {
		add("size")
	}
	return out
}
