package handler

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/ledger"
)

// racingLedger answers every write of one document id with a conflict
// until another writer "finishes" (the real engines' conflicts are tested
// in test/integration; a race between two invocations is not something a
// test can time on them).
type racingLedger struct {
	conflicts int
	doc       engine.LedgerDoc
	writes    int
}

func (r *racingLedger) EnsureLedger(context.Context) error { return nil }
func (r *racingLedger) LedgerGet(context.Context, string) (engine.LedgerDoc, bool, error) {
	return r.doc, true, nil
}
func (r *racingLedger) LedgerSearch(context.Context, engine.LedgerQuery) ([]engine.LedgerDoc, error) {
	return nil, nil
}
func (r *racingLedger) LedgerCount(context.Context, engine.LedgerQuery) (int, error) { return 0, nil }
func (r *racingLedger) LedgerWrite(_ context.Context, puts []engine.LedgerPut) ([]engine.LedgerResult, error) {
	r.writes++
	out := make([]engine.LedgerResult, len(puts))
	for i, p := range puts {
		if r.conflicts > 0 {
			r.conflicts--
			// The other writer's version is what a reread finds.
			r.doc.SeqNo++
			out[i].Conflict = true
			continue
		}
		if p.SeqNo != r.doc.SeqNo {
			out[i].Conflict = true
			continue
		}
		r.doc.SeqNo++
		b, _ := json.Marshal(p.Doc)
		r.doc.Source = b
		out[i] = engine.LedgerResult{SeqNo: r.doc.SeqNo, PrimaryTerm: 1}
	}
	return out, nil
}

func newBook(r *racingLedger) *book {
	m := ledger.Migration{Kind: ledger.KindMigration, Migration: "m-1", Status: ledger.Running, Runs: 1}
	r.doc.Source, _ = json.Marshal(m)
	r.doc.ID, r.doc.PrimaryTerm = "m-1", 1
	return &book{ops: r, mig: m, doc: r.doc, now: func() time.Time { return time.Unix(0, 0) }}
}

// A migration document another invocation changed meanwhile is read again
// and the change applied on top, not over it; one that keeps changing is a
// transient error Step Functions retries.
func TestBookUpdateRereadsOnConflict(t *testing.T) {
	for _, tc := range []struct {
		name      string
		conflicts int
		wantErr   bool
	}{
		{"no conflict", 0, false},
		{"one conflict", 1, false},
		{"four conflicts", 4, false},
		{"keeps changing", 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &racingLedger{conflicts: tc.conflicts}
			b := newBook(r)
			err := b.update(context.Background(), func(m *ledger.Migration) { m.Phase = ledger.PhaseVerify })
			if tc.wantErr {
				if !errors.Is(err, failure.ErrLedgerConflict) || failure.TypeName(failure.Classify(err)) != "EngineUnavailableError" {
					t.Fatalf("err %v (%s), want a transient ledger conflict", err, failure.TypeName(failure.Classify(err)))
				}
				return
			}
			if err != nil || b.mig.Phase != ledger.PhaseVerify || r.writes != tc.conflicts+1 {
				t.Fatalf("err %v, phase %q, %d writes", err, b.mig.Phase, r.writes)
			}
		})
	}
}

// An index document written by another invocation since it was read is
// never overwritten: the step stops with a transient error and reads the
// ledger again on its retry. Unchanged documents are not written at all.
func TestBookSaveWritesOnlyChangesAndStopsOnConflict(t *testing.T) {
	r := &racingLedger{}
	b := newBook(r)
	ix := &bookIndex{Index: ledger.Index{Kind: ledger.KindIndex, Migration: "m-1", Source: "a"}, meta: engine.LedgerDoc{ID: "m-1|a", SeqNo: r.doc.SeqNo}}
	ix.saved, _ = json.Marshal(ix.Index)
	if err := b.save(context.Background(), []*bookIndex{ix}); err != nil || r.writes != 0 {
		t.Fatalf("unchanged: err %v, %d writes", err, r.writes)
	}
	ix.Verified = true
	r.conflicts = 1
	err := b.save(context.Background(), []*bookIndex{ix})
	if !errors.Is(err, failure.ErrLedgerConflict) || failure.TypeName(failure.Classify(err)) != "EngineUnavailableError" {
		t.Fatalf("conflict: %v", err)
	}
}
