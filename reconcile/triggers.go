package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/reconcile-dev/reconcile/schema"
)

// Trigger names why a reconcile pass should run.
type Trigger struct {
	Reason string // interval, fsnotify, link, sighup, drift, retry, start
	Detail string // e.g. the file or interface that changed
}

// Triggers is a coalescing queue of pending triggers: any number of Send calls before the
// consumer gets to Next result in one pass (the first reason is kept, the rest are counted).
type Triggers struct {
	mu      sync.Mutex
	pending *Trigger
	merged  int
	ch      chan struct{}
}

// NewTriggers returns an empty queue.
func NewTriggers() *Triggers { return &Triggers{ch: make(chan struct{}, 1)} }

// Send queues t unless a trigger is already pending (then it is merged into it).
func (q *Triggers) Send(t Trigger) {
	q.mu.Lock()
	if q.pending == nil {
		q.pending = &t
	} else {
		q.merged++
	}
	q.mu.Unlock()
	select {
	case q.ch <- struct{}{}:
	default:
	}
}

// Next waits for a pending trigger and returns it with the number of triggers merged into it.
func (q *Triggers) Next(ctx context.Context) (Trigger, int, error) {
	for {
		q.mu.Lock()
		if q.pending != nil {
			t, n := *q.pending, q.merged
			q.pending, q.merged = nil, 0
			q.mu.Unlock()
			return t, n, nil
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return Trigger{}, 0, ctx.Err()
		case <-q.ch:
		}
	}
}

// Jitter returns d changed by a random amount of at most frac*d either way, so that a fleet of
// hosts polling the same remote spreads out.
func Jitter(d time.Duration, frac float64) time.Duration {
	if d <= 0 || frac <= 0 {
		return d
	}
	delta := (rand.Float64()*2 - 1) * frac * float64(d)
	return d + time.Duration(delta)
}

// relevantPath reports whether a change at path (relative to the repository root, slash
// separated) can change the repository: a repository file, or one of its directories.
// Editor leftovers (swap files, backups, vim's 4913 probe) are not.
func relevantPath(rel string) bool {
	switch rel {
	case ".", "profiles", "endpoints", "tests":
		return true
	}
	if schema.FileKind(rel) != "" {
		return true
	}
	// A directory being renamed into place ("profiles.new" -> "profiles") arrives as its
	// new name, handled above; anything below .git is never relevant.
	return false
}

// WatchDir watches root recursively with fsnotify and sends one "fsnotify" trigger after
// changes to repository files settle for debounce. New subdirectories are added (and a
// trigger sent, since files may have landed in them before the watch). Inotify overflow
// sends a trigger too (level-triggered: the pass rereads everything). It returns when ctx
// is done, or with an error if root cannot be watched.
func WatchDir(ctx context.Context, root string, debounce time.Duration, q *Triggers, log *slog.Logger) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("fsnotify: %w", err)
	}
	defer w.Close()
	addTree := func(dir string) error {
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == dir {
					return err
				}
				return nil // vanished while walking
			}
			if !d.IsDir() {
				return nil
			}
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			if err := w.Add(p); err != nil {
				return fmt.Errorf("watch %q: %w", p, err)
			}
			return nil
		})
	}
	if err := addTree(root); err != nil {
		return err
	}
	var timer *time.Timer
	var timerC <-chan time.Time
	var first string
	arm := func(detail string) {
		if first == "" {
			first = detail
		}
		if timer == nil {
			timer = time.NewTimer(debounce)
		} else {
			timer.Reset(debounce)
		}
		timerC = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("fsnotify: event channel closed")
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			rel, err := filepath.Rel(root, ev.Name)
			if err != nil {
				continue
			}
			rel = filepath.ToSlash(rel)
			if ev.Has(fsnotify.Create) {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() && rel != ".git" && !strings.HasPrefix(rel, ".git/") {
					if err := addTree(ev.Name); err != nil {
						log.Warn("cannot watch new directory", "dir", ev.Name, "err", err)
					}
					arm(rel)
					continue
				}
			}
			if relevantPath(rel) {
				arm(rel)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("fsnotify: error channel closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				log.Warn("inotify queue overflowed; resyncing")
				arm("overflow")
				continue
			}
			log.Warn("fsnotify error", "err", err)
		case <-timerC:
			timerC = nil
			q.Send(Trigger{Reason: "fsnotify", Detail: first})
			first = ""
		}
	}
}

// OpenNetns opens a network namespace by name (/run/netns/NAME) or path; "" is the
// namespace of the calling process. The handle must be closed.
func OpenNetns(name string) (netns.NsHandle, error) {
	var h netns.NsHandle
	var err error
	switch {
	case name == "":
		h, err = netns.GetFromPid(os.Getpid())
	case strings.Contains(name, "/"):
		h, err = netns.GetFromPath(name)
	default:
		h, err = netns.GetFromName(name)
	}
	if err != nil {
		return netns.None(), fmt.Errorf("open network namespace %q: %w", name, err)
	}
	return h, nil
}

// WatchLinks subscribes to link events in the network namespace ns ("" = ours) and sends a
// "link" trigger whenever an interface for which interesting returns true appears or
// disappears. When the subscription breaks (e.g. ENOBUFS after an overflow) it resubscribes,
// listing the existing links, and sends a resync trigger. It returns when ctx is done.
func WatchLinks(ctx context.Context, ns string, interesting func(name string) bool, q *Triggers, log *slog.Logger) error {
	h, err := OpenNetns(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	present := map[string]bool{}
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
		// The existing links arrive first (ListExisting); compare them with what we knew.
		seen := map[string]bool{}
		listing := true
		listDone := time.NewTimer(200 * time.Millisecond)
		changed := false
	loop:
		for {
			select {
			case <-ctx.Done():
				close(done)
				return nil
			case err := <-broken:
				log.Warn("link subscription broke; resubscribing", "err", err)
				break loop
			case <-listDone.C:
				if listing {
					listing = false
					for name := range present {
						if !seen[name] {
							delete(present, name)
							changed = true
						}
					}
					if changed || resync {
						q.Send(Trigger{Reason: "link", Detail: "resync"})
					}
					changed, resync = false, false
				}
			case u, ok := <-ch:
				if !ok {
					log.Warn("link subscription closed; resubscribing")
					break loop
				}
				name := u.Attrs().Name
				if !interesting(name) {
					continue
				}
				switch u.Header.Type {
				case unix.RTM_NEWLINK:
					if listing {
						seen[name] = true
					}
					if !present[name] {
						present[name] = true
						if listing {
							changed = true
						} else {
							q.Send(Trigger{Reason: "link", Detail: name + " appeared"})
						}
					}
				case unix.RTM_DELLINK:
					if present[name] {
						delete(present, name)
						q.Send(Trigger{Reason: "link", Detail: name + " disappeared"})
					}
				}
			}
		}
		listDone.Stop()
		close(done)
		resync = true
	}
	return nil
}
