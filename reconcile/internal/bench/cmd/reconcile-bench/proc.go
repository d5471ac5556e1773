package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// sample is one child process, measured: wall time, CPU time and peak resident set size
// (wait4's rusage ru_maxrss, KiB on Linux), exit code and captured output.
type sample struct {
	wall, user, sys time.Duration
	maxRSSKiB       int64
	code            int
	stdout, stderr  []byte
}

// runner starts child processes; every one is a separate process, as a timer runs reconcile.
type runner struct {
	ctx context.Context
}

// run starts name with args, waits for it and returns its sample. want lists the exit codes
// that are not an error (0 when empty). keepOut keeps standard output in the sample.
func (r *runner) run(keepOut bool, want []int, name string, args ...string) (sample, error) {
	cmd := exec.CommandContext(r.ctx, name, args...)
	var out, errb bytes.Buffer
	if keepOut {
		cmd.Stdout = &out
	}
	cmd.Stderr = &errb
	start := time.Now()
	err := cmd.Run()
	s := sample{wall: time.Since(start), stdout: out.Bytes(), stderr: errb.Bytes()}
	if cmd.ProcessState != nil {
		s.code = cmd.ProcessState.ExitCode()
		s.user, s.sys = cmd.ProcessState.UserTime(), cmd.ProcessState.SystemTime()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.maxRSSKiB = ru.Maxrss
		}
	}
	if len(want) == 0 {
		want = []int{0}
	}
	if _, isExit := err.(*exec.ExitError); (err == nil || isExit) && slices.Contains(want, s.code) {
		return s, nil
	}
	return s, fmt.Errorf("%s %s: exit %d (%v)%s", name, strings.Join(args, " "), s.code, err, tail(s.stderr, 15))
}

// tail returns the last n lines of b, indented, for an error message.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	return "\n    " + strings.Join(lines, "\n    ")
}

// netnsSet creates throwaway network namespaces (ip netns add) and deletes every one it made.
type netnsSet struct {
	r      *runner
	prefix string
	n      int
	live   []string
}

// add creates a new empty network namespace and returns its name.
func (ns *netnsSet) add() (string, error) {
	ns.n++
	name := fmt.Sprintf("%s-%d", ns.prefix, ns.n)
	if _, err := ns.r.run(false, nil, "ip", "netns", "add", name); err != nil {
		return "", err
	}
	ns.live = append(ns.live, name)
	return name, nil
}

// del deletes name (one this set made).
func (ns *netnsSet) del(name string) {
	i := slices.Index(ns.live, name)
	if i < 0 {
		return
	}
	ns.live = slices.Delete(ns.live, i, i+1)
	// Not under r.ctx: cleanup runs after a cancel too.
	if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "reconcile-bench: ip netns del %s: %v %s\n", name, err, out)
	}
}

// delAll deletes every namespace still alive.
func (ns *netnsSet) delAll() {
	for len(ns.live) > 0 {
		ns.del(ns.live[len(ns.live)-1])
	}
}

// nft runs nft with args inside namespace name.
func (r *runner) nft(keepOut bool, name string, args ...string) (sample, error) {
	return r.run(keepOut, nil, "ip", append([]string{"netns", "exec", name, "nft"}, args...)...)
}
