package trigger

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/reconcile-dev/reconcile/schema"
)

// Dir watches Root recursively with fsnotify and emits one "fsnotify" event (Detail: the first
// path that changed, relative to Root and slash separated, or "overflow") after changes to
// repository files settle for Debounce (default 300ms). New subdirectories are added (and an
// event emitted, since files may have landed in them before the watch). Inotify overflow emits
// an event too (level-triggered: the pass rereads everything). Changes under .git and editor
// leftovers (swap files, backups, vim's 4913 probe) are ignored.
type Dir struct {
	Root     string
	Debounce time.Duration
	Log      *slog.Logger // nil: discard

	ready chan struct{} // tests: closed once the tree is watched
}

// Name is "fsnotify".
func (d *Dir) Name() string { return "fsnotify" }

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

// Run watches until ctx is done; the error says why Root cannot be watched, or that fsnotify
// closed its channels.
func (d *Dir) Run(ctx context.Context, emit func(Event)) error {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	burst := &debouncer{wait: d.Debounce}
	if burst.wait <= 0 {
		burst.wait = 300 * time.Millisecond
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("fsnotify: %w", err)
	}
	defer w.Close()
	if err := watchTree(w, d.Root); err != nil {
		return err
	}
	if d.ready != nil {
		close(d.ready)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("fsnotify: event channel closed")
			}
			if detail := d.change(w, log, ev); detail != "" {
				burst.arm(detail)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("fsnotify: error channel closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				log.Warn("inotify queue overflowed; resyncing")
				burst.arm("overflow")
				continue
			}
			log.Warn("fsnotify error", "err", err)
		case <-burst.c:
			emit(Event{Reason: "fsnotify", Detail: burst.fire()})
		}
	}
}

// change returns the detail (the path relative to Root, slash separated) that an fsnotify
// event arms the debounce with, or "" when the event cannot change the repository. A new
// directory outside .git is watched (with its subdirectories) and always counts.
func (d *Dir) change(w *fsnotify.Watcher, log *slog.Logger, ev fsnotify.Event) string {
	if ev.Op == fsnotify.Chmod {
		return ""
	}
	rel, err := filepath.Rel(d.Root, ev.Name)
	if err != nil {
		return ""
	}
	rel = filepath.ToSlash(rel)
	if ev.Has(fsnotify.Create) {
		if st, err := os.Stat(ev.Name); err == nil && st.IsDir() && rel != ".git" && !strings.HasPrefix(rel, ".git/") {
			if err := watchTree(w, ev.Name); err != nil {
				log.Warn("cannot watch new directory", "dir", ev.Name, "err", err)
			}
			return rel
		}
	}
	if relevantPath(rel) {
		return rel
	}
	return ""
}

// debouncer ends a burst of changes once none came for wait: c fires wait after the last arm;
// first is the detail of the burst's first change.
type debouncer struct {
	wait  time.Duration
	timer *time.Timer
	c     <-chan time.Time // nil while no burst is pending
	first string
}

// arm records a change (detail kept when it is the burst's first) and restarts the wait.
func (b *debouncer) arm(detail string) {
	if b.first == "" {
		b.first = detail
	}
	if b.timer == nil {
		b.timer = time.NewTimer(b.wait)
	} else {
		b.timer.Reset(b.wait)
	}
	b.c = b.timer.C
}

// fire ends the burst (after c fired) and returns its first change's detail.
func (b *debouncer) fire() string {
	b.c = nil
	first := b.first
	b.first = ""
	return first
}

// watchTree adds dir and its subdirectories, except .git, to w. The error is dir's, or one
// naming the directory that could not be watched; entries vanishing meanwhile are skipped.
func watchTree(w *fsnotify.Watcher, dir string) error {
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
