package reconcile

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/reconcile-dev/reconcile/reconcile/limits"
	"github.com/reconcile-dev/reconcile/reconcile/lock"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/source/git"
	"github.com/reconcile-dev/reconcile/reconcile/state"
	"github.com/reconcile-dev/reconcile/schema"
)

// Config is everything an Agent needs: where the policy comes from, which host's endpoints to
// enforce, in which network namespace and table, where to keep its state, and how to report.
// The zero value of every field is usable except Host (needed by Plan, Apply, Status, Watch)
// and StateDir (needed to record a pass).
// Errors about the policy source name the command-line flags (--repo, --dir, ...) that set
// the fields, as the CLI reports them.
type Config struct {
	// Repo is the policy repository as a git URL (https, ssh, file://) or the path of a local
	// git repository; Ref is its branch, tag or commit ("": the remote's default branch). The
	// clone lives in git.CacheDirFor(StateDir, Repo), or with StateDir "" in a temporary
	// directory that Close removes. Repo and Dir are exclusive.
	Repo, Ref string
	// Dir is the policy repository as a plain directory (no git); "" with no Repo is ".".
	Dir string
	// Verify is the signature check of Repo's commits: "" or "none", "head" or "all"
	// (docs/GITOPS.md); TrustedKeys is the file of armored OpenPGP public keys it accepts.
	// Both need Repo.
	Verify, TrustedKeys string
	// AllowRewind applies a commit of Repo that does not descend from the last applied one.
	AllowRewind bool
	// FetchTimeout bounds each fetch of the source as a whole (a git source: connecting,
	// fetching, resolving the ref and reading the commit's files; Head for status and the
	// fast no-change pass): past it the pass fails with a *FetchTimeoutError (stage fetch,
	// reason timeout) and the kernel keeps its ruleset. 0: DefaultFetchTimeout; negative: no
	// bound.
	FetchTimeout time.Duration

	// Host is the host whose endpoints are enforced: an RFC 1123 host name
	// (limits.CheckHostName); "" is an error of the methods that need a host.
	Host string
	// Netns is the network namespace to act in, as given on the command line: "" for this
	// process's, a name in /run/netns, or a path (anything with a '/'); see netns.Open. It is
	// opened on first use of the kernel, the interface list or the lock.
	Netns string
	// Table is the inet table reconcile owns (default nft.DefaultTable); New refuses a name
	// nft and the kernel would read differently (limits.ValidTableName).
	Table string
	// StateDir holds the state record (created by the first Apply) and the git clone of Repo;
	// the CLI's default is /var/lib/reconcile. Apply and Watch refuse "" before touching the
	// dataplane; Apply fails when the directory cannot be created.
	StateDir string
	// Heal is Watch's answer to drift: HealDisabled, HealWarn (default) or HealEnabled.
	Heal string

	// Logger receives progress at debug level, warnings and the watch loop's log; nil
	// discards. The git source logs to it too.
	Logger *slog.Logger
	// Metrics, when not nil, receives the watch loop's metrics (NewMetrics).
	Metrics *Metrics

	// Source, when not nil, is the policy source instead of the one Repo or Dir describe.
	Source source.Source
	// Dataplane, when not nil, applies and observes the table instead of the kernel's
	// nftables in Netns (tests: nft.NewFake). Then no namespace is opened, the state record
	// is keyed by Netns as given, no interface is listed unless Links is set, and no lock is
	// taken unless LockDir is set.
	Dataplane nft.Dataplane
	// Links, when not nil, lists the interface names that exist instead of netlink in Netns.
	Links func(ctx context.Context) (map[string]bool, error)
	// LockDir is where the lock files live (default lock.DefaultDir).
	LockDir string
	// Now is the clock of the state record (default time.Now).
	Now func() time.Time
	// Session identifies this process (NewSession). A pass skips reading the table back when
	// the ruleset generation recorded with the model applied last is the kernel's now, under
	// the same boot id and netns cookie (any process); on a kernel that cannot tell the netns
	// cookie (Linux < 5.14), only when the session is the recorder's too (a generation
	// restarts at reboot and when a namespace is recreated). Empty: no session vouches.
	Session string
	// Full makes every pass read the repository and the table in full: apply takes no fast
	// no-change path and status reads the table back (apply --full, status --full); and Apply
	// replaces the whole table when it differs (every counter restarts at zero) instead of
	// changing only what differs. Watch's passes ignore it: they change the table in place
	// whenever they can.
	Full bool
}

// NewSession names one run of a program for Config.Session: the pid and 64 random bits.
func NewSession() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%d-%x", os.Getpid(), b)
}

// Agent runs the one reconcile pipeline (fetch -> load/validate -> compile -> plan -> apply
// -> record) for one Config. It owns the network namespace handle, the kernel dataplane, the
// interface lister and the lock, all opened on first use; Close releases them. An Agent's
// methods are not meant to run concurrently (Watch serialises its own passes).
type Agent struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	src    source.Source
	bootID func() string // netns.BootID; tests replace it
	ns     *netns.Handle
	kern   *nft.Kernel
	closed bool
	// dcache is the decode cache in the state directory, opened on first load
	// (decodeCache); dcacheFailed when it could not be.
	dcache       *schema.DecodeCache
	dcacheFailed bool
	// tmpClone is the temporary directory of the git clone when there is no state
	// directory; Close removes it.
	tmpClone string
	// modelChecked is the model file (name, size, time, inode) whose check passed last
	// (checkModel); warned the warnings logged once (warnOnce).
	modelChecked string
	warned       map[string]bool
	// afterCommit, when not nil, runs right after a transaction went into the kernel and
	// before the state head is written. Fault injection for tests only (a full state
	// directory exactly between the commit and the record, which no real filesystem can be
	// made to produce on demand); never set otherwise.
	afterCommit func()
}

// New checks cfg and returns its Agent. The error is a bad Table (limits.ValidTableName),
// phrased for the --table flag.
func New(cfg Config) (*Agent, error) {
	if cfg.Table == "" {
		cfg.Table = nft.DefaultTable
	}
	if err := CheckTable(cfg.Table); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Agent{cfg: cfg, log: cfg.Logger, src: cfg.Source, bootID: netns.BootID}, nil
}

// CheckTable checks a table name (--table): one that nft text and the kernel both take as the
// same name (limits.ValidTableName). The error says what to write.
func CheckTable(table string) error {
	if err := limits.ValidTableName(table); err != nil {
		return fmt.Errorf("--table: %w; choose another name (a letter, then letters, digits, '_', '.' and '-', at most %d bytes; the default is %q)", err, limits.MaxTableName, "reconcile")
	}
	return nil
}

// checkHost checks Config.Host (limits.CheckHostName, RFC 1123), phrased for --host.
func (a *Agent) checkHost() error {
	if a.cfg.Host == "" {
		return errors.New("no host name: give --host")
	}
	if err := limits.CheckHostName(a.cfg.Host); err != nil {
		return fmt.Errorf("--host: %w", err)
	}
	return nil
}

// checkStateDir refuses an empty Config.StateDir before anything is applied: without it the
// transaction would go in and the record of it fail ("applied but not recorded").
func (a *Agent) checkStateDir() error {
	if a.cfg.StateDir == "" {
		return errors.New("--state-dir: empty: give the directory of the state record (the default is /var/lib/reconcile)")
	}
	return nil
}

// Prepare checks the host name and opens the policy source: what Plan, Apply, Status and
// Watch check first (they call it themselves; calling it again does nothing more).
func (a *Agent) Prepare() error {
	if err := a.checkHost(); err != nil {
		return err
	}
	_, err := a.Source()
	return err
}

// Close waits for the decode cache entries of the last load to be written, and releases the
// kernel dataplane and the namespace handle. The Agent is not usable afterwards.
func (a *Agent) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.dcache != nil {
		a.dcache.Wait() // the decode cache entries of the last load
	}
	var err error
	if a.kern != nil {
		err = a.kern.Close()
		a.kern = nil
	}
	if a.ns != nil {
		err = errors.Join(err, a.ns.Close())
		a.ns = nil
	}
	if a.tmpClone != "" {
		err = errors.Join(err, os.RemoveAll(a.tmpClone))
		a.tmpClone = ""
	}
	return err
}

// Source returns the policy source: Config.Source, or the git repository Repo (cloned under
// StateDir), or the directory Dir (default "."), opened once. The errors are those of
// conflicting or incomplete flags and of the git source (a bad Verify, unreadable keys).
func (a *Agent) Source() (source.Source, error) {
	if a.src != nil {
		return a.src, nil
	}
	c := a.cfg
	if c.Repo != "" && c.Dir != "" {
		return nil, errors.New("--repo and --dir are exclusive")
	}
	if c.Repo != "" {
		cache := git.CacheDirFor(c.StateDir, c.Repo)
		if c.StateDir == "" {
			// Nothing is kept (validate, plan with --state-dir ""): the clone goes to a
			// temporary directory that Close removes, not to the working directory.
			tmp, err := os.MkdirTemp("", "reconcile-clone-")
			if err != nil {
				return nil, err
			}
			a.tmpClone, cache = tmp, filepath.Join(tmp, "clone")
		}
		s, err := git.New(git.Options{
			URL: c.Repo, Ref: c.Ref, CacheDir: cache,
			Verify: c.Verify, TrustedKeys: c.TrustedKeys, AllowRewind: c.AllowRewind, Logger: a.log,
			Recovered: c.Metrics.ObserveRecovery,
		})
		if err != nil {
			return nil, err
		}
		a.src = s
		return s, nil
	}
	switch {
	case c.Ref != "":
		return nil, errors.New("--ref needs --repo")
	case c.Verify != "" && c.Verify != "none":
		return nil, errors.New("--verify needs --repo: a plain directory has no signatures")
	case c.TrustedKeys != "":
		return nil, errors.New("--trusted-keys needs --repo")
	}
	if c.Dir == "" {
		a.src = source.Dir{Path: ".", Implicit: true}
		return a.src, nil
	}
	a.src = source.Dir{Path: c.Dir}
	return a.src, nil
}

// namespace returns the handle on Config.Netns, opening it on first use.
func (a *Agent) namespace() (*netns.Handle, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, errors.New("agent closed")
	}
	if a.ns == nil {
		h, err := netns.Open(a.cfg.Netns)
		if err != nil {
			return nil, err
		}
		a.ns = h
	}
	return a.ns, nil
}

// stateKey is the key of the namespace's state record (state.Locate: by the namespace's
// identity first, so it does not move when the namespace gains or loses a name; every spelling
// of one namespace shares one record) and the identity to record in it (nil with a
// Config.Dataplane). With a Config.Dataplane, or when the namespace cannot be opened (the
// kernel then reports why, after the repository was checked), the key is Netns as given.
func (a *Agent) stateKey() (string, *state.NetnsID, error) {
	if a.cfg.Dataplane != nil {
		return a.cfg.Netns, nil, nil
	}
	h, err := a.namespace()
	if err != nil {
		return a.cfg.Netns, nil, nil
	}
	id := &state.NetnsID{BootID: netns.BootID(), Dev: h.Dev(), Ino: h.Inode()}
	key, err := state.Locate(a.cfg.StateDir, a.cfg.Table, *id, h.Names(), netns.IsOwn(h))
	return key, id, err
}

// dataplane returns Config.Dataplane or the kernel's nftables in the namespace.
func (a *Agent) dataplane() (nft.Dataplane, error) {
	if a.cfg.Dataplane != nil {
		return a.cfg.Dataplane, nil
	}
	return a.kernel()
}

// kernel opens the kernel dataplane in the namespace on first use, so that an invalid
// repository is reported before (and without) touching netlink.
func (a *Agent) kernel() (*nft.Kernel, error) {
	h, err := a.namespace()
	if err != nil {
		return nil, err // netns.Open's error names the namespace and says why
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kern == nil {
		k, err := nft.NewKernel(h, nft.WithLogger(a.log))
		if err != nil {
			return nil, err
		}
		a.kern = k
	}
	return a.kern, nil
}

// linkLister is Config.Links, or netlink in the namespace; nil when nothing can be listed (a
// Config.Dataplane without Links).
func (a *Agent) linkLister() func(ctx context.Context) (map[string]bool, error) {
	switch {
	case a.cfg.Links != nil:
		return a.cfg.Links
	case a.cfg.Dataplane != nil:
		return nil
	}
	return a.listLinks
}

// listLinks lists the interface names in the namespace, with a netlink handle bound to it (no
// thread switching for this process's own namespace), retrying interrupted dumps.
func (a *Agent) listLinks(ctx context.Context) (map[string]bool, error) {
	h, err := a.netlinkHandle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		links, err := h.LinkList()
		if errors.Is(err, netlink.ErrDumpInterrupted) && attempt < 10 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list interfaces: %w", err)
		}
		names := make(map[string]bool, len(links))
		for _, l := range links {
			names[l.Attrs().Name] = true
		}
		return names, nil
	}
}

func (a *Agent) netlinkHandle() (*netlink.Handle, error) {
	if a.cfg.Netns == "" {
		return netlink.NewHandle()
	}
	ns, err := a.namespace()
	if err != nil {
		return nil, err
	}
	h, err := netlink.NewHandleAt(vnetns.NsHandle(ns.Fd()))
	if err != nil {
		return nil, fmt.Errorf("netlink in network namespace %q: %w", a.cfg.Netns, err)
	}
	return h, nil
}

// lock serialises the processes that program this table in this namespace. With wait false
// (apply) another holder is an *Error of stage lock, reason held, saying who (its pid); a lock
// file that cannot be opened for lack of privileges is stage apply, reason permission. With
// wait true (watch) another holder is logged and waited for. With a Config.Dataplane and no LockDir nothing is locked.
func (a *Agent) lock(ctx context.Context, wait bool) (release func(), err error) {
	dir := a.cfg.LockDir
	if dir == "" {
		if a.cfg.Dataplane != nil {
			return func() {}, nil
		}
		dir = lock.DefaultDir
	}
	var h *netns.Handle // a Config.Dataplane acts in this process's namespace
	if a.cfg.Dataplane == nil {
		if h, err = a.namespace(); err != nil {
			return nil, err
		}
	}
	key, err := lock.Key(a.cfg.Table, h)
	if err != nil {
		return nil, err
	}
	lk, err := lock.AcquireIn(ctx, dir, key, false)
	var le *lock.LockedError
	switch {
	case errors.As(err, &le) && wait:
		a.log.Info("another reconcile holds the table; waiting", "err", err)
		lk, err = a.waitLock(ctx, dir, key, le.PID)
	case errors.As(err, &le):
		holder := "another reconcile"
		if le.PID > 0 {
			holder = fmt.Sprintf("another reconcile (pid %d)", le.PID)
		}
		return nil, stageErr("lock", "held", fmt.Errorf("%s is applying to table inet %s in this namespace; try again later", holder, a.cfg.Table))
	}
	if err != nil {
		if wait {
			return nil, err
		}
		if isPermission(err) {
			// The lock directory is root's: a user without the privileges could not program
			// the table either.
			return nil, stageErr("apply", "permission", fmt.Errorf("lock table inet %q: %w: %s", a.cfg.Table, err, needsCapNetAdmin))
		}
		return nil, fmt.Errorf("lock table inet %q: %w", a.cfg.Table, err)
	}
	return func() { _ = lk.Release() }, nil
}

// lockWaitWarn is how long a watch pass waits for the table's lock between two warnings (a
// variable for tests).
var lockWaitWarn = time.Minute

// waitLock waits for the table's lock held by pid (0: unknown) until ctx ends. Every
// lockWaitWarn it logs a warning and counts reconcile_errors_total{stage="lock",
// reason="held"}: a holder that is stopped (SIGSTOP) or hung keeps the watch from every pass,
// which one info line at the start of the wait left silent for ever.
func (a *Agent) waitLock(ctx context.Context, dir, key string, pid int) (*lock.Lock, error) {
	start := time.Now()
	for {
		wctx, cancel := context.WithTimeout(ctx, lockWaitWarn)
		lk, err := lock.AcquireIn(wctx, dir, key, true)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return lk, err
		}
		holder := "another reconcile"
		if pid > 0 {
			holder = fmt.Sprintf("another reconcile (pid %d)", pid)
		}
		a.log.Warn(fmt.Sprintf("%s has held table inet %s for %s; still waiting (is it stopped or hung?)", holder, a.cfg.Table, time.Since(start).Round(time.Second)),
			"stage", "lock", "reason", "held")
		a.cfg.Metrics.ObserveLockWait()
	}
}

// Logger is Config.Logger (a discarding logger when it was nil).
func (a *Agent) Logger() *slog.Logger { return a.log }

// Metrics is Config.Metrics (nil when none).
func (a *Agent) Metrics() *Metrics { return a.cfg.Metrics }
