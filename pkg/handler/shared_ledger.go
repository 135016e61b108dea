package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/ledger"
	"github.com/essnap/essnap/pkg/migrate"
)

// LedgerOps are the ledger calls of the migration steps, all on the
// target domain, where the ledger lives.
type LedgerOps interface {
	EnsureLedger(ctx context.Context) error
	LedgerGet(ctx context.Context, id string) (engine.LedgerDoc, bool, error)
	LedgerSearch(ctx context.Context, q engine.LedgerQuery) ([]engine.LedgerDoc, error)
	LedgerWrite(ctx context.Context, puts []engine.LedgerPut) ([]engine.LedgerResult, error)
	LedgerCount(ctx context.Context, q engine.LedgerQuery) (int, error)
}

// book is one migration's ledger as a step sees it: the migration document
// and the calls to read and write its index documents.
type book struct {
	ops LedgerOps
	mig ledger.Migration
	doc engine.LedgerDoc
	now func() time.Time
}

// bookIndex is one index document with what its conditional write needs.
type bookIndex struct {
	ledger.Index
	meta engine.LedgerDoc
	// saved is the document as last read or written, to write only changes.
	saved []byte
}

// openBook reads a migration's ledger on the target; a migration the
// ledger does not know is the caller's mistake (the pre-flight writes it).
func openBook(ctx context.Context, d Deps, target Domain, migration string) (*book, error) {
	ops, err := connect[LedgerOps](ctx, d, target)
	if err != nil {
		return nil, err
	}
	doc, found, err := ops.LedgerGet(ctx, ledger.MigrationID(migration))
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if !found {
		return nil, failure.Validation("ledger", []string{fmt.Sprintf("migration %q is not in the ledger (%s) on the target; the pre-flight writes it: run the migration from the start, or give the name its pre-flight reported", migration, ledger.Name)})
	}
	b := &book{ops: ops, doc: doc, now: d.Clock.Now}
	if err := json.Unmarshal(doc.Source, &b.mig); err != nil || b.mig.Kind != ledger.KindMigration {
		return nil, failure.Validation("ledger", []string{fmt.Sprintf("ledger document %q is not a migration document (%v); it was changed by hand: restore it or start a new migration", doc.ID, err)})
	}
	return b, nil
}

// indices lists the migration's index documents that q selects, every page.
func (b *book) indices(ctx context.Context, q engine.LedgerQuery) ([]*bookIndex, error) {
	q.Migration = b.mig.Migration
	var out []*bookIndex
	for {
		page, err := b.ops.LedgerSearch(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		for _, d := range page {
			bi, err := decodeIndex(d)
			if err != nil {
				return nil, err
			}
			out = append(out, bi)
			q.After = bi.Source
		}
		if len(page) == 0 || (q.Size > 0 && len(out) >= q.Size) || len(page) < pageSize(q) {
			return out, nil
		}
	}
}

func pageSize(q engine.LedgerQuery) int {
	if q.Size > 0 {
		return q.Size
	}
	return 500
}

// batch lists at most n index documents that q selects.
func (b *book) batch(ctx context.Context, q engine.LedgerQuery, n int) ([]*bookIndex, error) {
	q.Size = n
	return b.indices(ctx, q)
}

func decodeIndex(d engine.LedgerDoc) (*bookIndex, error) {
	bi := &bookIndex{meta: d, saved: d.Source}
	if err := json.Unmarshal(d.Source, &bi.Index); err != nil || bi.Kind != ledger.KindIndex {
		return nil, failure.Validation("ledger", []string{fmt.Sprintf("ledger document %q is not an index document (%v); it was changed by hand", d.ID, err)})
	}
	return bi, nil
}

// count counts the migration's index documents that q selects.
func (b *book) count(ctx context.Context, q engine.LedgerQuery) (int, error) {
	q.Migration = b.mig.Migration
	n, err := b.ops.LedgerCount(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	return n, nil
}

// sources lists the source indices the migration moves by method.
func (b *book) sources(ctx context.Context, method migrate.Verdict) ([]string, error) {
	docs, err := b.indices(ctx, engine.LedgerQuery{Method: string(method)})
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, failure.Validation("ledger", []string{fmt.Sprintf("migration %s moves no index by %s (ledger %s)", b.mig.Migration, method, ledger.Name)})
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Source
	}
	return out, nil
}

// save writes the index documents that changed since read, conditionally:
// a document another invocation wrote meanwhile is a conflict, and the
// step runs again from the ledger (failure.ErrLedgerConflict, transient).
func (b *book) save(ctx context.Context, ixs []*bookIndex) error {
	var puts []engine.LedgerPut
	var which []*bookIndex
	for _, ix := range ixs {
		body, err := json.Marshal(ix.Index)
		if err != nil {
			return fmt.Errorf("ledger: encode %s: %w", ix.Source, err)
		}
		if string(body) == string(ix.saved) {
			continue
		}
		puts = append(puts, engine.LedgerPut{ID: ix.meta.ID, Doc: json.RawMessage(body), SeqNo: ix.meta.SeqNo, PrimaryTerm: ix.meta.PrimaryTerm})
		which = append(which, ix)
	}
	for start := 0; start < len(puts); start += 500 {
		end := min(start+500, len(puts))
		res, err := b.ops.LedgerWrite(ctx, puts[start:end])
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		for i, r := range res {
			ix := which[start+i]
			if r.Conflict {
				return fmt.Errorf("ledger: %s changed meanwhile: %w", ix.Source, failure.ErrLedgerConflict)
			}
			ix.meta.SeqNo, ix.meta.PrimaryTerm = r.SeqNo, r.PrimaryTerm
			ix.saved = puts[start+i].Doc.(json.RawMessage)
		}
	}
	return nil
}

// update changes the migration document: f edits it, and a conflicting
// write reads it again and repeats f, so counters and phases set by
// concurrent steps are never lost.
func (b *book) update(ctx context.Context, f func(m *ledger.Migration)) error {
	for range 5 {
		m := b.mig
		f(&m)
		m.UpdatedAt = b.now().UTC().Format(time.RFC3339)
		res, err := b.ops.LedgerWrite(ctx, []engine.LedgerPut{{ID: b.doc.ID, Doc: m, SeqNo: b.doc.SeqNo, PrimaryTerm: b.doc.PrimaryTerm}})
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		if !res[0].Conflict {
			b.mig, b.doc.SeqNo, b.doc.PrimaryTerm = m, res[0].SeqNo, res[0].PrimaryTerm
			return nil
		}
		doc, found, err := b.ops.LedgerGet(ctx, b.doc.ID)
		if err != nil || !found {
			return fmt.Errorf("ledger: reread %s: %v", b.doc.ID, err)
		}
		var fresh ledger.Migration
		if err := json.Unmarshal(doc.Source, &fresh); err != nil {
			return fmt.Errorf("ledger: %s: %w", doc.ID, err)
		}
		b.doc, b.mig = doc, fresh
	}
	return fmt.Errorf("ledger: %s keeps changing: %w", b.doc.ID, failure.ErrLedgerConflict)
}

// LedgerRef says where a migration's full record is, for answers and the
// execution's output: the index on the target and the query that reads it.
type LedgerRef struct {
	Migration string `json:"migration"`
	Index     string `json:"index"`
	Read      string `json:"read"`
}

func ledgerRef(migration string) LedgerRef {
	return LedgerRef{Migration: migration, Index: ledger.Name,
		Read: fmt.Sprintf("GET %s/_search?q=migration:%s&sort=source:asc&size=1000 on the target, or invoke verify with {\"action\":\"report\",\"migration\":%q}", ledger.Name, migration, migration)}
}
