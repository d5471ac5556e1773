package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// Links subscribes to link events in the network namespace NetNS (nil: the namespace of this
// process) and emits a "link" event (Detail "NAME appeared", "NAME disappeared"
// or "resync") whenever an interface of this host's endpoints appears or disappears (a rename is both). The
// interfaces are those of the last successful pass (Follow); the subscription starts after the
// first pass, so that its listing of existing links knows them. When the subscription breaks
// (e.g. ENOBUFS after an overflow) it resubscribes, lists the existing links and emits a resync
// event.
type Links struct {
	NetNS *netns.Handle // the namespace, owned by the caller, open while Run runs; nil: ours
	Log   *slog.Logger  // nil: discard

	mu      sync.Mutex
	names   map[string]bool
	started bool
	start   chan struct{}
}

// NewLinks returns the link source of the namespace ns (nil: ours). Links does not close ns.
func NewLinks(ns *netns.Handle, log *slog.Logger) *Links {
	return &Links{NetNS: ns, Log: log, names: map[string]bool{}, start: make(chan struct{})}
}

// Name is "netlink".
func (l *Links) Name() string { return "netlink" }

// Follow records the endpoint interfaces of a successful pass (ok false: unchanged) and, on its
// first call, lets Run subscribe.
func (l *Links) Follow(interfaces []string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		l.names = make(map[string]bool, len(interfaces))
		for _, n := range interfaces {
			l.names[n] = true
		}
	}
	if !l.started {
		l.started = true
		close(l.start)
	}
}

func (l *Links) interesting(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.names[name]
}

// Run waits for the first Follow, then watches until ctx is done. The error is a namespace
// handle closed before Run subscribed.
func (l *Links) Run(ctx context.Context, emit func(Event)) error {
	select {
	case <-ctx.Done():
		return nil
	case <-l.start:
	}
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return watchLinks(ctx, l.NetNS, l.interesting, emit, log)
}

// watchLinks subscribes to link events in the network namespace ns (nil = ours) and emits a
// "link" event whenever an interface for which interesting returns true appears or
// disappears. When the subscription breaks (e.g. ENOBUFS after an overflow) it resubscribes,
// listing the existing links, and emits a resync event. It returns when ctx is done.
func watchLinks(ctx context.Context, ns *netns.Handle, interesting func(name string) bool, emit func(Event), log *slog.Logger) error {
	// vishvananda's None (-1) subscribes in the calling thread's namespace: ours.
	h := vnetns.None()
	if ns != nil {
		if ns.Fd() < 0 {
			return fmt.Errorf("watch links in %s: the namespace handle is closed", ns)
		}
		// The subscription enters the namespace from this descriptor; it does not close it.
		h = vnetns.NsHandle(ns.Fd())
	}
	present := map[string]bool{}
	byIndex := map[int]string{} // ifindex of each present interface
	backoff := 100 * time.Millisecond
	resync := false
	for ctx.Err() == nil {
		ch := make(chan netlink.LinkUpdate, 256)
		done := make(chan struct{})
		broken := make(chan error, 1)
		err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{
			Namespace:              &h,
			ListExisting:           true,
			ReceiveBufferSize:      4 << 20,
			ReceiveBufferForceSize: true,
			ErrorCallback: func(err error) {
				if !subscriptionBroken(err) {
					log.Debug("link subscription: message ignored", "err", err)
					return
				}
				select {
				case broken <- err:
				default:
				}
			},
		})
		if err != nil {
			log.Warn("link subscription failed; retrying", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if !followLinks(ctx, ch, broken, present, byIndex, resync, interesting, emit, log) {
			close(done)
			return nil
		}
		close(done)
		resync = true
	}
	return nil
}

// subscriptionBroken says whether an error vishvananda/netlink reports to a subscription's
// ErrorCallback means the subscription lost events: a failed receive (ENOBUFS after an
// overflow; the library then closes the channel) or an interrupted listing. The library goes on
// after the others, and so does the subscription: a message from a user process rather than the
// kernel ("Wrong sender portid"), which every other subscriber in the namespace that lists the
// existing links sends, since the library sends its listing request to the link multicast group
// too (two watches would otherwise break each other's subscription in a loop, each
// resubscription's listing breaking the other), an error answer or an undecodable link.
func subscriptionBroken(err error) bool {
	return errors.Is(err, netlink.ErrDumpInterrupted) || strings.HasPrefix(err.Error(), "Receive failed")
}

// followLinks reads one subscription until it breaks (true) or ctx is done (false). The
// existing links arrive first (ListExisting); after 200ms of listing they are compared with
// present, and a "resync" event is emitted when they differ or resync is set. byIndex holds the
// interface index of each present name: a rename comes as an RTM_NEWLINK of the index under
// its new name (no RTM_DELLINK), and is the old name disappearing.
func followLinks(ctx context.Context, ch <-chan netlink.LinkUpdate, broken <-chan error, present map[string]bool,
	byIndex map[int]string, resync bool, interesting func(string) bool, emit func(Event), log *slog.Logger) bool {
	seen := map[string]bool{}
	listing := true
	listDone := time.NewTimer(200 * time.Millisecond)
	defer listDone.Stop()
	changed := false
	for {
		select {
		case <-ctx.Done():
			return false
		case err := <-broken:
			log.Warn("link subscription broke; resubscribing", "err", err)
			return true
		case <-listDone.C:
			if listing {
				listing = false
				for name := range present {
					if !seen[name] {
						delete(present, name)
						changed = true
					}
				}
				for i, name := range byIndex {
					if !present[name] {
						delete(byIndex, i)
					}
				}
				if changed || resync {
					emit(Event{Reason: "link", Detail: "resync"})
				}
				changed, resync = false, false
			}
		case u, ok := <-ch:
			if !ok {
				log.Warn("link subscription closed; resubscribing")
				return true
			}
			name, index := u.Attrs().Name, u.Attrs().Index
			if old, ok := byIndex[index]; ok && old != name && u.Header.Type == unix.RTM_NEWLINK {
				delete(byIndex, index)
				if present[old] {
					delete(present, old)
					if listing {
						changed = true
					} else {
						emit(Event{Reason: "link", Detail: old + " disappeared"})
					}
				}
			}
			if !interesting(name) {
				continue
			}
			switch u.Header.Type {
			case unix.RTM_NEWLINK:
				if listing {
					seen[name] = true
				}
				byIndex[index] = name
				if !present[name] {
					present[name] = true
					if listing {
						changed = true
					} else {
						emit(Event{Reason: "link", Detail: name + " appeared"})
					}
				}
			case unix.RTM_DELLINK:
				if byIndex[index] == name {
					delete(byIndex, index)
				}
				if present[name] {
					delete(present, name)
					emit(Event{Reason: "link", Detail: name + " disappeared"})
				}
			}
		}
	}
}
