package e2e

import (
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// An endpoint's interface vanishing (and appearing) while apply runs: dispatch is by interface
// name, so every apply succeeds and installs the whole ruleset whether the interface is there
// or not; afterwards the endpoint is listed as waiting; in watch, the link event triggers a
// pass that reports it.
func TestInterfaceVanishingMidApplyKernel(t *testing.T) {
	h := newGitopsHost(t, "linkgone")
	dir := t.TempDir()
	testenv.WriteFiles(t, dir, gitopsFiles(80))
	addLink := func() error {
		return exec.Command("ip", "-n", h.ns, "link", "add", "caliweb1", "type", "veth", "peer", "name", "caliweb1p").Run()
	}
	delLink := func() error { return exec.Command("ip", "-n", h.ns, "link", "del", "caliweb1").Run() }
	if err := addLink(); err != nil {
		t.Fatal(err)
	}
	h.must("apply", "--dir", dir)

	// A goroutine deletes and adds the veth pair as fast as it can while applies alternate
	// between two rulesets.
	var stop atomic.Bool
	var flips atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			_ = delLink()
			_ = addLink()
			flips.Add(1)
		}
		_ = delLink()
	}()
	const applies = 8
	for i := range applies {
		port := 80 + (i+1)%2
		testenv.WriteFiles(t, dir, gitopsFiles(port))
		out, errs, code := h.run("apply", "--dir", dir)
		if code != 0 {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("apply %d while the interface flaps: exit %d\n%s%s", i, code, out, errs)
		}
		if got := h.webPorts(); !slices.Equal(got, []int{port}) {
			t.Errorf("apply %d: profile-in-WEB accepts %v, want [%d]", i, got, port)
		}
		if table := h.ruleset(); !strings.Contains(table, `"caliweb1"`) {
			t.Errorf("apply %d: the dispatch of caliweb1 is missing:\n%s", i, table)
		}
	}
	stop.Store(true)
	wg.Wait()
	if flips.Load() < 2 {
		t.Errorf("the interface flapped only %d times during %d applies", flips.Load(), applies)
	}

	// Gone now: the endpoint is waiting, its chains and dispatch stay installed.
	testenv.WriteFiles(t, dir, gitopsFiles(82))
	out := h.must("apply", "--dir", dir)
	if !strings.Contains(out, "Waiting: endpoint web-1: interface caliweb1 does not exist yet") {
		t.Errorf("apply without the interface:\n%s\nwant web-1 waiting", out)
	}
	h.assertPorts("apply without the interface", 82)

	// watch: the interface appearing and vanishing each trigger a pass (trigger link), whose
	// outcome counts the waiting endpoint.
	w := h.watch("--dir", dir, "--interval", "1h")
	w.waitLog("the first pass", 0, 10*time.Second, gitopsMsg("no changes"))
	mark := w.mark()
	if err := addLink(); err != nil {
		t.Fatal(err)
	}
	w.waitLog("a pass triggered by the interface appearing", mark, 10*time.Second, gitopsMsg("reconcile", "trigger", "link")) // "caliweb1 appeared", or a resync of a subscription just made
	m := w.waitLog("its outcome", mark, 10*time.Second, gitopsMsg("no changes"))
	if v, _ := m["waiting"].(float64); v != 0 {
		t.Errorf("with the interface there, the pass says %v waiting", m["waiting"])
	}
	time.Sleep(300 * time.Millisecond) // the subscription follows the pass's interfaces
	mark = w.mark()
	if err := delLink(); err != nil {
		t.Fatal(err)
	}
	w.waitLog("a pass triggered by the interface vanishing", mark, 10*time.Second, gitopsMsg("reconcile", "trigger", "link", "detail", "caliweb1 disappeared"))
	m = w.waitLog("its outcome", mark, 10*time.Second, gitopsMsg("no changes"))
	if v, _ := m["waiting"].(float64); v != 1 {
		t.Errorf("with the interface gone, the pass says %v waiting, want 1", m["waiting"])
	}
	h.assertPorts("after the link events", 82)
}
