package nft

// TEMPORARY (branch deltapipe): the Updater interface as fixed in the brief of issue 10, until
// branch delta, which implements it, is merged. Delete this file at that merge.

import (
	"context"
	"errors"
)

// Updater is a Dataplane that can replace a table or change it in place, guarded by the
// ruleset generation.
type Updater interface {
	// Replace is Apply (delete + add the whole table, one transaction) sent with the
	// generation check: gen != 0 makes the kernel refuse the batch (ErrStale) when the
	// ruleset generation is no longer gen. gen == 0: no check.
	Replace(ctx context.Context, desired *Ruleset, gen uint32) (*UpdateResult, error)
	// Update changes the table from base to desired in ONE transaction that touches only what
	// differs: base is the canonical model the caller believes the kernel holds at generation
	// gen. Errors: ErrNeedsFull, ErrStale, or the kernel's error (nothing changed).
	Update(ctx context.Context, desired, base *Ruleset, gen uint32) (*UpdateResult, error)
}

// UpdateResult says what a Replace or Update did.
type UpdateResult struct {
	Generation uint32     // the generation the commit produced: the kernel held exactly desired at it (0: unknown)
	Stats      DeltaStats // what was touched (Replace: everything added)
}

// DeltaStats counts what an Update or Replace touched.
type DeltaStats struct {
	ChainsAdded, ChainsDeleted, ChainsFlushed      int
	RulesAdded, RulesDeleted, RulesReplaced        int
	SetsAdded, SetsDeleted, MapsAdded, MapsDeleted int
	ElementsAdded, ElementsDeleted                 int
}

// ErrStale: the ruleset generation moved (wrapped; test with errors.Is).
var ErrStale = errors.New("the ruleset generation moved")

// ErrNeedsFull: the change cannot be made in place (wrapped; test with errors.Is).
var ErrNeedsFull = errors.New("the change cannot be made in place")
