package nft

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// updater is what the guard tests need of a dataplane, plus a way to change the table
// behind its back (a hand edit with nft) and to count packets on a rule.
type updater interface {
	Dataplane
	Updater
	Generationer
}

type guardEnv struct {
	dp updater
	// elsewhere commits something unrelated to the table (the generation moves).
	elsewhere func(t *testing.T)
	// insertRule inserts a counter-only rule at the head of chain (a hand edit).
	insertRule func(t *testing.T, chain string)
	// hit sets the packet count of rule i of chain to n (traffic), counts reads it back.
	hit    func(t *testing.T, chain string, i int, n uint64)
	counts func(t *testing.T, chain string) []uint64
}

func mustObserve(t *testing.T, dp Dataplane, want *Ruleset, what string) {
	t.Helper()
	got, err := dp.Observe(context.Background(), want.Table)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want.Canonical()) {
		t.Fatalf("%s:\n%s\n--- want\n%s", what, got, want.Canonical())
	}
}

func runUpdateGuards(t *testing.T, env guardEnv) {
	ctx := context.Background()
	dp := env.dp
	base := sampleRuleset(deltaTable)
	// desired edits profile-in-WEB rule by rule (one rule replaced) and a tag set.
	desired := sampleRuleset(deltaTable)
	confChain(desired, "profile-in-WEB").Rules[4] = acceptRule("replaced")
	s := findSet(desired, "tag-v4-WEB")
	s.Prefixes = append(s.Prefixes, pfx("198.18.50.0/24")...)
	reset := func(t *testing.T) uint32 {
		t.Helper()
		if _, err := dp.Replace(ctx, base, 0); err != nil {
			t.Fatal(err)
		}
		g, err := dp.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}

	t.Run("stale generation", func(t *testing.T) {
		gen := reset(t)
		env.elsewhere(t)
		_, err := dp.Update(ctx, desired, base, gen)
		if !errors.Is(err, ErrStale) {
			t.Fatalf("Update with a stale generation: %v, want ErrStale", err)
		}
		_, err = dp.Replace(ctx, desired, gen)
		if !errors.Is(err, ErrStale) {
			t.Fatalf("Replace with a stale generation: %v, want ErrStale", err)
		}
		mustObserve(t, dp, base, "a stale Update or Replace changed the table")
		g, _ := dp.Generation(ctx)
		res, err := dp.Replace(ctx, desired, g)
		if err != nil {
			t.Fatalf("Replace at the current generation: %v", err)
		}
		if g2, _ := dp.Generation(ctx); res.Generation != g2 || g2 != g+1 {
			t.Errorf("Replace reported generation %d, the ruleset is at %d (was %d)", res.Generation, g2, g)
		}
		mustObserve(t, dp, desired, "Replace")
	})

	t.Run("chain edited by hand", func(t *testing.T) {
		reset(t)
		env.insertRule(t, "profile-in-WEB")
		hand, err := dp.Observe(ctx, deltaTable)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := dp.Generation(ctx)
		// Without a generation check, and with the current generation: the edited chain
		// does not read back as base.
		for _, gen := range []uint32{0, g} {
			_, err := dp.Update(ctx, desired, base, gen)
			if !errors.Is(err, ErrStale) {
				t.Fatalf("Update (gen %d) over a chain edited by hand: %v, want ErrStale", gen, err)
			}
			mustObserve(t, dp, hand, "a refused Update changed the table")
		}
		// From the observed state it works, and keeps the hand's rule out.
		if _, err := dp.Update(ctx, desired, hand, g); err != nil {
			t.Fatalf("Update from the observed state: %v", err)
		}
		mustObserve(t, dp, desired, "Update from the observed state")
	})

	t.Run("kernel refuses", func(t *testing.T) {
		gen := reset(t)
		// base claims an element the kernel does not have: its delete is refused (ENOENT)
		// and the rule edit in the same batch must not happen either.
		wrong := sampleRuleset(deltaTable)
		ws := findSet(wrong, "tag-v4-WEB")
		ws.Prefixes = append(ws.Prefixes, pfx("198.18.77.0/24")...)
		_, err := dp.Update(ctx, desired, wrong, gen)
		if err == nil || !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("Update deleting a missing element: %v, want ENOENT", err)
		}
		if errors.Is(err, ErrStale) || errors.Is(err, ErrNeedsFull) {
			t.Errorf("a kernel refusal reported as %v", err)
		}
		mustObserve(t, dp, base, "a refused Update changed the table")
		if g, _ := dp.Generation(ctx); g != gen {
			t.Errorf("a refused Update moved the generation %d -> %d", gen, g)
		}
	})

	t.Run("counters of untouched rules survive", func(t *testing.T) {
		reset(t)
		// (Rules without anonymous sets: nft 1.0.6 asserts on `replace rule` of one.)
		env.hit(t, "profile-in-WEB", 2, 7)
		env.hit(t, "profile-in-WEB", 4, 5)
		env.hit(t, "profile-out-WEB", 0, 3)
		gen, _ := dp.Generation(ctx)
		before := env.counts(t, "profile-in-WEB")
		if before[2] != 7 || before[4] != 5 {
			t.Fatalf("counters before %v, want 7 on rule 3 and 5 on rule 5", before)
		}
		if _, err := dp.Update(ctx, desired, base, gen); err != nil {
			t.Fatal(err)
		}
		mustObserve(t, dp, desired, "Update")
		after := env.counts(t, "profile-in-WEB")
		for i := range after {
			want := before[i]
			if i == 4 {
				want = 0 // the replaced rule counts anew
			}
			if after[i] != want {
				t.Errorf("profile-in-WEB rule %d counter %d after the Update, want %d (before: %v)", i+1, after[i], want, before)
			}
		}
		if c := env.counts(t, "profile-out-WEB"); c[0] != 3 {
			t.Errorf("profile-out-WEB counter %d after an Update that did not touch it, want 3", c[0])
		}
	})
}

func TestUpdateGuardsFake(t *testing.T) {
	f := NewFake()
	runUpdateGuards(t, guardEnv{
		dp:        f,
		elsewhere: func(t *testing.T) { _ = f.Apply(context.Background(), &Ruleset{Table: "someone-else"}) },
		insertRule: func(t *testing.T, chain string) {
			if err := f.Edit(deltaTable, func(rs *Ruleset) {
				c := confChain(rs, chain)
				c.Rules = append([]*Rule{{Counter: true}}, c.Rules...)
			}); err != nil {
				t.Fatal(err)
			}
		},
		hit: func(t *testing.T, chain string, i int, n uint64) {
			if !f.Hit(deltaTable, chain, i, n) {
				t.Fatalf("no rule %d in %s", i, chain)
			}
		},
		counts: func(t *testing.T, chain string) []uint64 { return f.Counters(deltaTable, chain) },
	})
}

func TestUpdateGuardsKernel(t *testing.T) {
	testenv.RequireKernel(t)
	k, ns := newKernel(t, "guard")
	handles := kernelIdentity(k)
	runUpdateGuards(t, guardEnv{
		dp:        k,
		elsewhere: func(t *testing.T) { testenv.NetnsRun(t, ns, "nft", "add", "table", "inet", "someone-else") },
		insertRule: func(t *testing.T, chain string) {
			testenv.NetnsRun(t, ns, "nft", "insert", "rule", "inet", deltaTable, chain, "counter")
		},
		// A counter value is set the way nft restores one: replacing the rule by its own
		// text with `counter packets N bytes M` (same handle, same rule for the model).
		hit: func(t *testing.T, chain string, i int, n uint64) {
			rs, err := k.Observe(context.Background(), deltaTable)
			if err != nil {
				t.Fatal(err)
			}
			r := confChain(rs, chain).Rules[i]
			if !r.Counter {
				t.Fatalf("%s rule %d has no counter", chain, i+1)
			}
			text := strings.Replace(r.String(), "counter", fmt.Sprintf("counter packets %d bytes %d", n, 100*n), 1)
			h := handles(t, rs)[chain][i]
			nftFile(t, ns, fmt.Sprintf("replace rule inet %s %s handle %d %s\n", deltaTable, chain, h, text))
		},
		counts: func(t *testing.T, chain string) []uint64 {
			tb := &nftables.Table{Name: deltaTable, Family: nftables.TableFamilyINet}
			rules, err := k.conn.GetRules(tb, &nftables.Chain{Name: chain, Table: tb})
			if err != nil {
				t.Fatal(err)
			}
			var out []uint64
			for _, r := range rules {
				n := uint64(0)
				for _, e := range r.Exprs {
					if c, ok := e.(*expr.Counter); ok {
						n = c.Packets
					}
				}
				out = append(out, n)
			}
			return out
		},
	})
}

// TestKernelUpdateRaceRefused: a commit of someone else after Update checked the generation
// and read its chains, before its batch arrives: the kernel refuses the batch (ERESTART),
// Update says ErrStale, and the table is unchanged.
func TestKernelUpdateRaceRefused(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, ns := newKernel(t, "race")
	base := sampleRuleset(deltaTable)
	desired := sampleRuleset(deltaTable)
	confChain(desired, "profile-in-WEB").Rules[4] = acceptRule("replaced")
	if _, err := k.Replace(ctx, base, 0); err != nil {
		t.Fatal(err)
	}
	gen, err := k.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raced := 0
	k.beforeFlush = func() {
		raced++
		testenv.NetnsRun(t, ns, "nft", "add", "table", "inet", "racer")
	}
	_, err = k.Update(ctx, desired, base, gen)
	k.beforeFlush = nil
	if raced != 1 || !errors.Is(err, ErrStale) || !errors.Is(err, syscall.ERESTART) {
		t.Fatalf("Update with a commit in between (hook ran %d times): %v, want ErrStale from ERESTART", raced, err)
	}
	mustObserve(t, k, base, "a refused Update changed the table")
}
