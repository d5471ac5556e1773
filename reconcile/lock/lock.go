// Package lock serialises the processes that program one nftables table in one network
// namespace, with flock(2) on a file under /run/lock/reconcile. The key names the table and the
// namespace by its inode (Key), so two processes always collide on the same table and namespace,
// whatever their --state-dir or the name they used for the namespace.
package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// DefaultDir is where Acquire keeps its lock files.
const DefaultDir = "/run/lock/reconcile"

// ErrLocked is what a *LockedError matches with errors.Is: another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// LockedError says who holds a lock that could not be taken without waiting.
type LockedError struct {
	Key  string // the lock key (or the path, for AcquirePath)
	Path string // the lock file
	PID  int    // the holder's pid as written in the lock file; 0 if unknown
}

func (e *LockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = fmt.Sprintf("another process (pid %d)", e.PID)
	}
	if e.Key == e.Path {
		return fmt.Sprintf("%s holds the lock %q", holder, e.Path) // AcquirePath: the key is the path
	}
	return fmt.Sprintf("%s holds the lock %q (%s)", holder, e.Key, e.Path)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is a held lock; Release it when done (the kernel also drops it when the process exits).
type Lock struct {
	f    *os.File
	key  string
	path string
}

// Key returns the key the lock was taken for.
func (l *Lock) Key() string { return l.key }

// Path returns the lock file.
func (l *Lock) Path() string { return l.path }

// Release drops the lock. The file stays (removing it would race with a waiter that has it
// open); its pid is cleared. Release is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	if err != nil {
		return fmt.Errorf("release lock %q: %w", l.key, err)
	}
	return nil
}

// Acquire takes the lock named key in DefaultDir (created if missing). With wait false it
// fails at once with a *LockedError (errors.Is(err, ErrLocked)) naming the holder's pid; with
// wait true it blocks until the lock is free or ctx is done.
func Acquire(ctx context.Context, key string, wait bool) (*Lock, error) {
	return AcquireIn(ctx, DefaultDir, key, wait)
}

// AcquireIn is Acquire with the lock files in dir instead of DefaultDir.
func AcquireIn(ctx context.Context, dir, key string, wait bool) (*Lock, error) {
	if key == "" {
		return nil, errors.New("empty lock key")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock directory: %w", err)
	}
	l, err := acquire(ctx, filepath.Join(dir, fileName(key)), key, wait)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// AcquirePath takes a lock on the file at path (its directory must exist); the key of the
// lock is the path itself.
func AcquirePath(ctx context.Context, path string, wait bool) (*Lock, error) {
	return acquire(ctx, path, path, wait)
}

// fileName turns a key into a file name: anything outside [A-Za-z0-9_.@:+=-] becomes '_'.
func fileName(key string) string {
	b := []byte(key)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_.@:+=-", c) >= 0
		if !ok {
			b[i] = '_'
		}
	}
	s := string(b)
	if s == "." || s == ".." {
		s = "_" + s
	}
	return s + ".lock"
}

// pollMin and pollMax bound the back-off between attempts while waiting: flock(2) cannot be
// interrupted by a context, so waiting polls a non-blocking flock.
const (
	pollMin = 10 * time.Millisecond
	pollMax = 500 * time.Millisecond
)

// pidWaits and pidWait bound how long a contender waits for the holder's pid to appear in
// the lock file (written right after the flock): 20 × 5 ms.
const (
	pidWaits = 20
	pidWait  = 5 * time.Millisecond
)

func acquire(ctx context.Context, path, key string, wait bool) (*Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	delay := pollMin
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %q: %w", path, err)
		}
		if !wait {
			pid := readPID(f)
			// The holder writes its pid right after it took the lock: a contender that
			// comes in between reads an empty file. Wait for the pid a little (a holder that
			// released meanwhile leaves it empty: "another process").
			for try := 0; pid == 0 && try < pidWaits; try++ {
				time.Sleep(pidWait)
				pid = readPID(f)
			}
			f.Close()
			return nil, &LockedError{Key: key, Path: path, PID: pid}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			// Say who held it all along (errors.Is matches ErrLocked and the context's error).
			held := &LockedError{Key: key, Path: path, PID: readPID(f)}
			f.Close()
			return nil, fmt.Errorf("wait for lock %q: %w", key, errors.Join(ctx.Err(), held))
		case <-t.C:
		}
		delay = min(delay*2, pollMax)
	}
	// Ours now: record our pid for whoever finds it taken.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f, key: key, path: path}, nil
}

func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Key builds the lock key for table in the network namespace ns: "<table>@netns:<inode>", the
// inode of the namespace (netns.Handle.Inode), which is the same whatever name or path reached
// it. nil is the namespace of this process (/proc/self/ns/net). The error is an empty table
// name, or a namespace of this process that cannot be read.
func Key(table string, ns *netns.Handle) (string, error) {
	if table == "" {
		return "", errors.New("empty table name")
	}
	if ns == nil {
		own, err := netns.Open("")
		if err != nil {
			return "", err
		}
		defer own.Close()
		ns = own
	}
	return fmt.Sprintf("%s@netns:%d", table, ns.Inode()), nil
}
