package nft

import (
	"context"
	"errors"
	"reflect"
	"syscall"
	"testing"

	"github.com/google/nftables"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

// TestKernelBatchWithoutEcho: the batch Replace sends without the echo flag commits what the
// library's own flush commits (the table reads back as desired), and a batch the kernel
// refuses gives, word for word, the error the library's flush gives for the same batch.
func TestKernelBatchWithoutEcho(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	k, _ := newKernel(t, "batch")
	desired := sampleRuleset(deltaTable)
	res, err := k.Replace(ctx, desired, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Observe(ctx, deltaTable)
	if err != nil {
		t.Fatal(err)
	}
	if want := desired.Canonical(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Replace without echo reads back as\n%s\nwant\n%s", got.Script(), want.Script())
	}
	if res.Stats.RulesAdded == 0 || res.Stats.ElementsAdded == 0 {
		t.Fatalf("stats %+v", res.Stats)
	}

	// A rule in a chain that does not exist: ENOENT from the kernel for NFT_MSG_NEWRULE.
	bad := func(c *nftables.Conn) error {
		tb := &nftables.Table{Name: deltaTable, Family: nftables.TableFamilyINet}
		c.AddTable(tb)
		c.AddRule(&nftables.Rule{Table: tb, Chain: &nftables.Chain{Name: "no-such-chain", Table: tb}})
		return nil
	}
	batch, err := recordBatch(bad, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours := sendBatch(k.nl, batch, 0)
	if err := bad(k.conn); err != nil {
		t.Fatal(err)
	}
	lib := k.flush(0)
	if ours == nil || lib == nil || ours.Error() != lib.Error() || !errors.Is(ours, syscall.ENOENT) {
		t.Fatalf("refused batch: %v, the library's flush: %v (want the same, ENOENT)", ours, lib)
	}
	t.Log(ours)

	// A stale generation: ErrStale, as from the library's flush.
	gen, err := k.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Replace(ctx, desired, gen+5); !errors.Is(err, ErrStale) || !errors.Is(err, syscall.ERESTART) {
		t.Fatalf("Replace at a stale generation: %v, want ErrStale (ERESTART)", err)
	}
	if res, err := k.Replace(ctx, desired, gen); err != nil || res.Generation != gen+1 {
		t.Fatalf("Replace at the generation: %+v %v", res, err)
	}
}
