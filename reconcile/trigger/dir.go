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
	debounce := d.Debounce
	if debounce <= 0 {
		debounce = 300 * time.Millisecond
	}
	root := d.Root
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("fsnotify: %w", err)
	}
	defer w.Close()
	addTree := func(dir string) error { return watchTree(w, dir) }
	if err := addTree(root); err != nil {
		return err
	}
	if d.ready != nil {
		close(d.ready)
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
			emit(Event{Reason: "fsnotify", Detail: first})
			first = ""
		}
	}
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
