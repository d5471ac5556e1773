package lock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
)

// helperEnv makes the test binary act as a second process holding a lock: it takes the lock
// in the directory and key given, prints "locked", and holds it until stdin closes.
const helperEnv = "RECONCILE_LOCK_TEST_HELPER"

func TestMain(m *testing.M) {
	if v := os.Getenv(helperEnv); v != "" {
		dir, key, _ := strings.Cut(v, "|")
		l, err := AcquireIn(context.Background(), dir, key, false)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		fmt.Println("locked")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until stdin closes
		_ = l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestSecondDescriptorIsRefused(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, err := AcquireIn(ctx, dir, "reconcile@netns:1", false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireIn(ctx, dir, "reconcile@netns:1", false)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("second acquire: got %v, want ErrLocked", err)
	}
	if le.PID != os.Getpid() {
		t.Errorf("holder pid = %d, want %d", le.PID, os.Getpid())
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", os.Getpid())) {
		t.Errorf("message %q does not name the holder pid", err)
	}
	// Another key is independent.
	other, err := AcquireIn(ctx, dir, "reconcile@netns:2", false)
	if err != nil {
		t.Fatalf("other key: %v", err)
	}
	defer other.Release()
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(); err != nil {
		t.Fatalf("second release: %v", err)
	}
	b, err := AcquireIn(ctx, dir, "reconcile@netns:1", false)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	b.Release()
}

func TestWaitHonoursContext(t *testing.T) {
	dir := t.TempDir()
	a, err := AcquireIn(context.Background(), dir, "k", false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = AcquireIn(ctx, dir, "k", true)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

// TestTwoProcesses holds the lock in a child process, checks that this process is refused
// with the child's pid, then waits for it and gets the lock when the child lets go.
func TestTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	const key = "reconcile@netns:4026531840"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir+"|"+key)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper said %q", line)
	}

	_, err = AcquireIn(context.Background(), dir, key, false)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want *LockedError", err)
	}
	if le.PID != cmd.Process.Pid {
		t.Errorf("holder pid = %d, want the helper's %d", le.PID, cmd.Process.Pid)
	}

	got := make(chan error, 1)
	go func() {
		l, err := AcquireIn(context.Background(), dir, key, true)
		if err == nil {
			defer l.Release()
			b, _ := os.ReadFile(l.Path())
			if strings.TrimSpace(string(b)) != fmt.Sprint(os.Getpid()) {
				err = fmt.Errorf("lock file holds %q, want our pid", b)
			}
		}
		got <- err
	}()
	stdin.Close() // the helper releases and exits
	if err := <-got; err != nil {
		t.Fatalf("waiting acquire: %v", err)
	}
}

func TestFileName(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"reconcile@netns:4026531840", "reconcile@netns:4026531840.lock"},
		{"a/../b", "a_.._b.lock"},
		{"..", "_...lock"},
		{"sp ace", "sp_ace.lock"},
	} {
		if got := fileName(tc.key); got != tc.want {
			t.Errorf("fileName(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestKey(t *testing.T) {
	self, err := Key("reconcile", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(self, "reconcile@netns:") {
		t.Fatalf("key %q", self)
	}
	// The same namespace reached through another path gives the same key.
	viaPid, err := Key("reconcile", testenv.Open(t, netns.Open, fmt.Sprintf("/proc/%d/ns/net", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	if viaPid != self {
		t.Errorf("key via /proc/<pid> = %q, own namespace (nil) = %q", viaPid, self)
	}
	own := testenv.Open(t, netns.Open, "")
	if byHandle, err := Key("reconcile", own); err != nil || byHandle != self {
		t.Errorf("key of an open handle on our namespace = %q, %v; want %q", byHandle, err, self)
	}
	if want := fmt.Sprintf("reconcile@netns:%d", own.Inode()); self != want {
		t.Errorf("key %q, want %q (the namespace's inode)", self, want)
	}
	other, err := Key("other", nil)
	if err != nil || other == self {
		t.Errorf("other table: %q, %v", other, err)
	}
	if _, err := Key("", nil); err == nil {
		t.Error("empty table: no error")
	}
}

// TestKeyNamedNamespace checks that a named namespace gets its own key, equal through its name
// and its path (needs root to create the namespace).
func TestKeyNamedNamespace(t *testing.T) {
	name := testenv.NewNetns(t, "lock")
	byName, err := Key("reconcile", testenv.Open(t, netns.Open, name))
	if err != nil {
		t.Fatal(err)
	}
	byPath, err := Key("reconcile", testenv.Open(t, netns.Open, "/run/netns/"+name))
	if err != nil {
		t.Fatal(err)
	}
	self, _ := Key("reconcile", nil)
	if byName != byPath || byName == self {
		t.Errorf("by name %q, by path %q, own namespace %q", byName, byPath, self)
	}
}

func TestAcquireDefaultDir(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.SkipUnlessCI(t, "needs root to write %s", DefaultDir)
	}
	key := fmt.Sprintf("locktest-%d@netns:0", os.Getpid())
	l, err := Acquire(context.Background(), key, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(DefaultDir, fileName(key))) })
	if l.Path() != filepath.Join(DefaultDir, key+".lock") {
		t.Errorf("path %q", l.Path())
	}
	if _, err := Acquire(context.Background(), key, false); !errors.Is(err, ErrLocked) {
		t.Errorf("second acquire: %v", err)
	}
	l.Release()
}

// A contender that comes between the holder's flock and the pid it then writes waits for the
// pid instead of saying "another process" (two applies started together hit that window).
func TestContenderWaitsForThePid(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, fileName("k"))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(3 * pidWait)
		_, _ = f.WriteAt([]byte("4242\n"), 0)
	}()
	_, err = AcquireIn(context.Background(), dir, "k", false)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != 4242 {
		t.Fatalf("AcquireIn while held, the pid written late: %v, want the holder's pid 4242", err)
	}
}

// A lock taken by path (AcquirePath: the git clone's lock) names its file once; a lock taken
// by key names the key and its file.
func TestLockedErrorNamesThePathOnce(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "clone.lock")
	held, err := AcquirePath(context.Background(), p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	_, err = AcquirePath(context.Background(), p, false)
	want := fmt.Sprintf("another process (pid %d) holds the lock %q", os.Getpid(), p)
	if err == nil || err.Error() != want {
		t.Errorf("AcquirePath on a held lock: %v, want %q", err, want)
	}
	keyed := &LockedError{Key: "reconcile@netns:1", Path: p, PID: 7}
	if got, want := keyed.Error(), fmt.Sprintf("another process (pid 7) holds the lock \"reconcile@netns:1\" (%s)", p); got != want {
		t.Errorf("keyed: %q, want %q", got, want)
	}
}
