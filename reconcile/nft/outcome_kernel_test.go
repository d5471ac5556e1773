package nft

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// lostAnswer is the error a socket gives when the kernel's answers overflowed its receive
// buffer: what afterSend injects.
func lostAnswer() error {
	return &netlink.OpError{Op: "receive", Err: os.NewSyscallError("recvmsg", unix.ENOBUFS)}
}

// The kernel's words and the socket's: only a socket error after the batch went out leaves the
// outcome unknown; the kernel's refusals (ERESTART, an errno in its answer, ENOBUFS included)
// and a failed send say nothing was committed.
func TestFlushErrOutcome(t *testing.T) {
	for _, tt := range []struct {
		err            error
		unknown, stale bool
	}{
		{lostAnswer(), true, false},
		{fmt.Errorf("receive: %w", &netlink.OpError{Op: "receive", Err: os.ErrDeadlineExceeded}), true, false},
		{fmt.Errorf("receive: NFT_MSG_NEWRULE: %w", &netlink.OpError{Op: "receive", Err: unix.ENOBUFS}), false, false},
		{fmt.Errorf("receive: %w", &netlink.OpError{Op: "receive", Err: unix.ERESTART}), false, true},
		{fmt.Errorf("SendMessages: %w", &netlink.OpError{Op: "send-messages", Err: os.NewSyscallError("sendmsg", unix.ENOBUFS)}), false, false},
	} {
		err := flushErr(tt.err, 7)
		if errors.Is(err, ErrOutcomeUnknown) != tt.unknown || errors.Is(err, ErrStale) != tt.stale {
			t.Errorf("flushErr(%v) = %v: unknown %v, stale %v; want %v, %v", tt.err, err, errors.Is(err, ErrOutcomeUnknown), errors.Is(err, ErrStale), tt.unknown, tt.stale)
		}
	}
}

// A lost answer after the batch really went to the kernel (afterSend): Update and Replace say
// ErrOutcomeUnknown (with the ENOBUFS) both for a batch the kernel committed (the table is then
// the desired one) and for one it refused (a commit of someone else in between: the table is
// unchanged).
func TestKernelOutcomeUnknown(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, ns := newKernel(t, "lost")
	base := sampleRuleset(deltaTable)
	desired := sampleRuleset(deltaTable)
	confChain(desired, "profile-in-WEB").Rules[4] = acceptRule("replaced")
	ops := map[string]func(gen uint32) error{
		"update": func(gen uint32) error { _, err := k.Update(ctx, desired, base, gen); return err },
		"replace": func(gen uint32) error {
			_, err := k.Replace(ctx, desired, gen)
			return err
		},
	}
	for _, op := range []string{"update", "replace"} {
		for _, committed := range []bool{true, false} {
			if _, err := k.Replace(ctx, base, 0); err != nil {
				t.Fatal(err)
			}
			gen, err := k.Generation(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var answers []error
			k.afterSend = func(answer error) error { answers = append(answers, answer); return lostAnswer() }
			if !committed {
				k.beforeFlush = func() { testenv.NetnsRun(t, ns, "nft", "add", "table", "inet", "racer") }
			}
			err = ops[op](gen)
			k.afterSend, k.beforeFlush = nil, nil
			what := fmt.Sprintf("%s, committed %v", op, committed)
			if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, syscall.ENOBUFS) || errors.Is(err, ErrStale) {
				t.Fatalf("%s: %v, want ErrOutcomeUnknown with ENOBUFS", what, err)
			}
			if len(answers) != 1 || (answers[0] == nil) != committed {
				t.Fatalf("%s: the kernel's own answers %v", what, answers)
			}
			now, _ := k.Generation(ctx)
			if committed {
				mustObserve(t, k, desired, what+": the table")
				if now != gen+1 {
					t.Errorf("%s: generation %d, want %d", what, now, gen+1)
				}
			} else {
				mustObserve(t, k, base, what+": a refused batch changed the table")
				testenv.NetnsRun(t, ns, "nft", "delete", "table", "inet", "racer")
			}
		}
	}
}

// TestKernelReplaceRaceRefused: a commit of someone else (an edit of our own table) after the
// generation was read, right before Replace's batch: the kernel refuses it (ERESTART), Replace
// says ErrStale, and the table still holds the other writer's edit (nothing of ours went in).
func TestKernelReplaceRaceRefused(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, ns := newKernel(t, "rrace")
	base := sampleRuleset(deltaTable)
	if _, err := k.Replace(ctx, base, 0); err != nil {
		t.Fatal(err)
	}
	gen, err := k.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	desired := sampleRuleset(deltaTable)
	confChain(desired, "profile-in-WEB").Rules[4] = acceptRule("replaced")
	k.beforeFlush = func() {
		testenv.NetnsRun(t, ns, "nft", "add", "chain", "inet", deltaTable, "theirs")
	}
	_, err = k.Replace(ctx, desired, gen)
	k.beforeFlush = nil
	if !errors.Is(err, ErrStale) || !errors.Is(err, syscall.ERESTART) {
		t.Fatalf("Replace with a commit in between: %v, want ErrStale from ERESTART", err)
	}
	withTheirs := sampleRuleset(deltaTable)
	withTheirs.Chains = append(withTheirs.Chains, &Chain{Name: "theirs"})
	mustObserve(t, k, withTheirs, "a refused Replace changed the table")
}
