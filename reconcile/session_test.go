package reconcile

import (
	"context"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// The ruleset generation restarts at reboot and when a network namespace is recreated, while
// the state record survives: a generation recorded by an earlier process must never let a pass
// skip reading a kernel that may not hold the table at all. The namespace's cookie (new for
// every namespace) tells them apart.
func TestGenerationNotTrustedAcrossNamespaces(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	before := e.opts()
	before.Session = "before-reboot"
	if _, err := agentOf(t, before).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	applied := e.kernel(t)
	gen := e.record(t).LastApplied.Generation
	if gen == 0 {
		t.Fatal("no generation recorded, so this test checks nothing")
	}

	// "Reboot": a fresh kernel without our table, whose generation counts up to the recorded
	// one through somebody else's commits.
	e.fake = nft.NewFake()
	for {
		g, err := e.fake.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g == gen {
			break
		}
		if err := e.fake.Apply(ctx, &nft.Ruleset{Table: "other"}); err != nil {
			t.Fatal(err)
		}
	}
	after := e.opts()
	after.Session = "before-reboot" // even the same session name: the cookie differs
	res, err := agentOf(t, after).Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.ObserveSkipped || res.Result != "applied" || e.kernel(t) != applied {
		t.Fatalf("after a reboot: skipped %v, result %v, kernel:\n%s\nwant the table read and re-applied", res.ObserveSkipped, res.Result, e.kernel(t))
	}

	// Another process without a session: the identity alone vouches for the generation.
	none := e.opts()
	none.Session = ""
	observes := e.fake.Observes()
	if res, err := agentOf(t, none).Plan(ctx); err != nil || !res.ObserveSkipped || e.fake.Observes() != observes {
		t.Fatalf("same identity, no session: err %v, skipped %v, observes %d -> %d; want the table not read", err, res != nil && res.ObserveSkipped, observes, e.fake.Observes())
	}
}

// On a kernel that cannot tell the netns cookie (Linux < 5.14), only the process that recorded
// the generation (its Session) may trust it: today's rule before the cookie.
func TestGenerationWithoutCookieNeedsTheSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fake.WithoutNetnsCookie()
	o := e.opts()
	o.Session = "one"
	if _, err := agentOf(t, o).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if la := e.record(t).LastApplied; la.NetnsCookie != 0 || la.Generation == 0 || la.Session != "one" {
		t.Fatalf("recorded %+v", la)
	}
	for _, tt := range []struct {
		session string
		skip    bool
	}{{"two", false}, {"", false}, {"one", true}} {
		o := e.opts()
		o.Session = tt.session
		n := e.fake.Observes()
		pr, err := agentOf(t, o).Plan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if pr.ObserveSkipped != tt.skip || (e.fake.Observes() == n) != tt.skip {
			t.Errorf("session %q: skipped %v, observes %d -> %d; want skipped %v", tt.session, pr.ObserveSkipped, n, e.fake.Observes(), tt.skip)
		}
	}
}

// NoHeal (watch --heal=warn|disabled) leaves hand edits of the table alone, but not a table
// that is gone: after a reboot, or another tool's `nft flush ruleset`, the state still names
// the applied ruleset while the kernel enforces nothing, and the watch loop must install it.
func TestNoHealStillInstallsAMissingTable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := agentOf(t, e.opts()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	applied := e.kernel(t)
	e.fake.Delete(nft.DefaultTable)
	o := e.opts()
	res, err := agentOf(t, o).apply(ctx, true, false) // noHeal
	if err != nil {
		t.Fatal(err)
	}
	if res.DriftLeft || res.Result != "applied" || e.kernel(t) != applied {
		t.Fatalf("NoHeal with the table gone: drift left %v, result %v, kernel:\n%s\nwant the table installed", res.DriftLeft, res.Result, e.kernel(t))
	}
}
