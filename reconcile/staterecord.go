package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/state"
)

// The state record of a pass (docs/OPERATIONS.md, "A state record or clone that is damaged or
// gone"): loading it, treating what cannot be read as unknown (moved aside by apply and watch,
// left in place by plan and status), and keeping the commit applied last in the source too
// (the git clone's applied mark).

// stateNotes say what loadState found unreadable ("" each when nothing): the state head
// (State) and the model file it names (Model), each one line naming the file.
type stateNotes struct {
	State string
	Model string
}

// loadState reads the state record of the table in the namespace for a command that changes
// nothing (plan, status): an unreadable head (state.UnreadableError) or model file is left in
// place, logged once as a warning, and the pass goes on as unknown (a fresh record, or a record
// without a usable model: the table is read in full).
func (a *Agent) loadState() (*state.Record, error) {
	rec, _, err := a.loadStateNotes(false, true)
	return rec, err
}

// recoverState is loadState for apply and watch: an unreadable head is moved aside
// (state.MoveAside, kept for inspection) and a fresh record returned, with ONE warning and
// reconcile_recoveries_total{kind="state-unreadable"}; an unreadable model file is counted
// (kind "model-unreadable") and written again by the pass's record. A state directory that is
// not a directory or cannot be read is an error (stage state, reason load).
func (a *Agent) recoverState() (*state.Record, error) {
	rec, _, err := a.loadStateNotes(true, true)
	return rec, err
}

// loadStateNotes is loadState (recover false) or recoverState (recover true), with what was
// found unreadable; without warn, loadState's warnings are left to the caller (status prints
// them in its report).
func (a *Agent) loadStateNotes(recover, warn bool) (*state.Record, stateNotes, error) {
	var notes stateNotes
	if err := state.CheckDir(a.cfg.StateDir); err != nil {
		return nil, notes, stageErr("state", "load", err)
	}
	key, id, err := a.stateKey()
	if err != nil {
		return nil, notes, stageErr("state", "load", err)
	}
	rec, err := state.Load(a.cfg.StateDir, a.cfg.Table, key)
	var ue *state.UnreadableError
	switch {
	case errors.As(err, &ue) && recover:
		moved, merr := state.MoveAside(ue.Path, a.cfg.Now())
		if moved == "" {
			return nil, notes, stageErr("state", "load", fmt.Errorf("%v; %w", ue, merr))
		}
		notes.State = fmt.Sprintf("state file %q is unreadable (%s); moved to %q; reading the kernel in full", ue.Path, ue.Reason, moved)
		a.log.Warn(notes.State, unreadableAttrs(ue, "moved_to", moved)...)
		a.cfg.Metrics.ObserveRecovery(RecoveryStateUnreadable)
		rec = &state.Record{Version: state.Version, Table: a.cfg.Table, Netns: key, History: []state.Attempt{}}
	case errors.As(err, &ue):
		notes.State = fmt.Sprintf("state file %q is unreadable (%s); left in place (apply moves it aside); reading the kernel in full", ue.Path, ue.Reason)
		if warn {
			a.warnOnce(notes.State, unreadableAttrs(ue)...)
		}
		rec = &state.Record{Version: state.Version, Table: a.cfg.Table, Netns: key, History: []state.Attempt{}}
	case err != nil:
		return nil, notes, stageErr("state", "load", err)
	}
	if id != nil {
		rec.NetnsID = id // written with the record: Locate finds it whatever the names become
	}
	if err := a.checkModel(rec); err != nil {
		// Unknown: nothing vouches for what the kernel holds (no fast path, the table is read
		// in full), and the pass's record writes the model file again.
		la := rec.LastApplied
		la.Generation = 0
		if recover {
			// The damaged file is moved aside (kept for inspection), so that the pass's
			// record writes the model again under its name (state.Save writes a model file
			// that is not there).
			path := filepath.Join(a.cfg.StateDir, la.ModelFile)
			moved := ""
			if _, serr := os.Lstat(path); serr == nil && state.IsModelFileOf(rec.Table, rec.Netns, la.ModelFile) {
				to, merr := state.MoveAside(path, a.cfg.Now())
				if to == "" {
					return nil, notes, stageErr("state", "load", fmt.Errorf("%v; %w", err, merr))
				}
				moved = "; moved to " + strconv.Quote(to)
			}
			notes.Model = fmt.Sprintf("the recorded model is unreadable (%v)%s; reading the kernel in full and recording it again", err, moved)
			// Once per model file in a process: a watch whose passes fail before they record
			// finds the file missing again on every retry.
			if a.firstTime("model " + la.ModelFile) {
				a.log.Warn(notes.Model)
				a.cfg.Metrics.ObserveRecovery(RecoveryModelUnreadable)
			} else {
				a.log.Debug(notes.Model)
			}
		} else {
			notes.Model = fmt.Sprintf("the recorded model is unreadable (%v)", err)
			if warn {
				a.warnOnce(notes.Model + "; reading the kernel in full")
			}
		}
	}
	return rec, notes, nil
}

// unreadableAttrs are the log attributes of ue, then more.
func unreadableAttrs(ue *state.UnreadableError, more ...any) []any {
	args := append([]any{"path", ue.Path, "reason", ue.Reason}, more...)
	if ue.Err != nil {
		args = append(args, "err", ue.Err.Error())
	}
	return args
}

// checkModel checks the model file that rec's LastApplied names (state.LastApplied.CheckModel):
// nil when there is none to check (no record, the model in memory, none named). A file whose
// stat stamp (name, size, modification and change times, inode) is the one of its last whole
// check — in this process, or recorded in rec.ModelChecked by an earlier pass — is not read
// again (7.5 MB at 5,000 endpoints, two thirds of a no-change pass): a write to it changes its
// change time. A check that passes sets rec.ModelChecked, saved with the pass's record.
func (a *Agent) checkModel(rec *state.Record) error {
	la := rec.LastApplied
	if la == nil || la.Model != nil || la.ModelFile == "" {
		return nil
	}
	stamp := modelStamp(filepath.Join(a.cfg.StateDir, la.ModelFile), la.ModelFile)
	if stamp != "" {
		a.mu.Lock()
		ok := a.modelChecked == stamp
		a.mu.Unlock()
		if ok || rec.ModelChecked == stamp {
			return nil
		}
	}
	if err := la.CheckModel(); err != nil {
		if errors.Is(err, state.ErrNoModel) {
			return nil
		}
		rec.ModelChecked = ""
		return err
	}
	a.mu.Lock()
	a.modelChecked = stamp
	a.mu.Unlock()
	rec.ModelChecked = stamp
	return nil
}

// modelStamp is the stat stamp of the model file at path named name (see
// state.Record.ModelChecked); "" when it cannot be taken (then the file is read).
func modelStamp(path, name string) string {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s %d %d %d %d", name, fi.Size(), fi.ModTime().UnixNano(), st.Ctim.Nano(), st.Ino)
}

// warnOnce logs msg as a warning the first time this Agent sees it (plan and status read the
// record more than once in one command).
func (a *Agent) warnOnce(msg string, args ...any) {
	if a.firstTime(msg) {
		a.log.Warn(msg, args...)
	}
}

// firstTime reports whether this Agent sees key for the first time.
func (a *Agent) firstTime(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.warned[key] {
		return false
	}
	if a.warned == nil {
		a.warned = map[string]bool{}
	}
	a.warned[key] = true
	return true
}

// markApplied has a source that keeps its own mark of the commit applied last
// (source.AppliedMarker: the git clone's refs/reconcile/applied/<stem>) record rec's, after a
// pass recorded it: when the state record is lost, the history check starts from there. A
// failure is logged, not an error of the pass (the state record holds the commit).
func (a *Agent) markApplied(ctx context.Context, rec *state.Record) {
	if rec == nil || rec.LastApplied == nil {
		return
	}
	a.mark(ctx, rec, rec.LastApplied.Commit)
}

// mark sets the source's mark (see markApplied) of rec's table and namespace to commit ("":
// nothing to mark). transact marks the commit it is about to apply before the transaction:
// the mark then names the newest commit the kernel may hold, also when the process is killed
// between the commit and the state record, or the record cannot be written; the history check
// of the next fetch starts from it when it is ahead of the record's commit, so a remote
// force-pushed back meanwhile cannot take the kernel back silently.
func (a *Agent) mark(ctx context.Context, rec *state.Record, commit string) {
	if commit == "" {
		return
	}
	m, ok := a.src.(source.AppliedMarker)
	if !ok {
		return
	}
	if err := m.MarkApplied(ctx, state.Stem(rec.Table, rec.Netns), commit); err != nil {
		a.log.Warn("cannot keep the commit applied last in the git clone", "err", err)
	}
}
