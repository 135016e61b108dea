package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/ledger"
)

// LedgerDoc is one ledger document with the sequence number and primary
// term that a conditional write of it needs.
type LedgerDoc struct {
	ID          string          `json:"_id"`
	SeqNo       int64           `json:"_seq_no"`
	PrimaryTerm int64           `json:"_primary_term"`
	Source      json.RawMessage `json:"_source"`
}

// LedgerPut is one write: Create writes only if the document is absent;
// otherwise SeqNo and PrimaryTerm (from a read) make it conditional, so a
// write based on a stale read fails instead of undoing another's.
type LedgerPut struct {
	ID          string
	Doc         any
	Create      bool
	SeqNo       int64
	PrimaryTerm int64
}

// LedgerResult is one write's outcome: the document's new sequence number
// and term (for the next conditional write), or Conflict.
type LedgerResult struct {
	SeqNo       int64
	PrimaryTerm int64
	Conflict    bool
}

// LedgerQuery selects index documents of one migration, in source order.
type LedgerQuery struct {
	Migration string
	// Method keeps one method's indices; empty keeps all.
	Method string
	// Unfinished, Unverified, ReplicasUnset keep the indices a step has
	// still to do.
	Unfinished, Unverified, ReplicasUnset bool
	// After continues a listing after this source index name.
	After string
	Size  int
}

// EnsureLedger creates the hidden ledger index unless it exists.
func (o Ops) EnsureLedger(ctx context.Context) error {
	body := map[string]any{"settings": ledger.Settings, "mappings": ledger.Mapping}
	err := o.C.Do(ctx, http.MethodPut, esclient.Path(ledger.Name), nil, body, nil)
	var ae *esclient.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && (ae.Type == "resource_already_exists_exception" || ae.RootCause == "resource_already_exists_exception") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create ledger %s: %w", ledger.Name, err)
	}
	return nil
}

// LedgerGet reads one document; found is false when it (or the ledger) is absent.
func (o Ops) LedgerGet(ctx context.Context, id string) (doc LedgerDoc, found bool, err error) {
	var ans struct {
		LedgerDoc
		Found bool `json:"found"`
	}
	err = o.C.Do(ctx, http.MethodGet, esclient.Path(ledger.Name, "_doc", id), nil, nil, &ans)
	if notFound(err) {
		return LedgerDoc{}, false, nil
	}
	if err != nil {
		return LedgerDoc{}, false, fmt.Errorf("read ledger %s: %w", id, err)
	}
	return ans.LedgerDoc, ans.Found, nil
}

// LedgerSearch lists index documents of one migration in source order,
// at most q.Size, after q.After.
func (o Ops) LedgerSearch(ctx context.Context, q LedgerQuery) ([]LedgerDoc, error) {
	size := q.Size
	if size <= 0 {
		size = 500
	}
	body := map[string]any{"size": size, "seq_no_primary_term": true, "sort": []any{map[string]any{"source": "asc"}},
		"query": ledgerQuery(q)}
	if q.After != "" {
		body["search_after"] = []any{q.After}
	}
	var ans struct {
		Hits struct {
			Hits []LedgerDoc `json:"hits"`
		} `json:"hits"`
	}
	// A search changes nothing: safe to repeat when its answer is lost.
	if err := o.C.Do(esclient.WithIdempotent(ctx), http.MethodPost, esclient.Path(ledger.Name, "_search"), nil, body, &ans); err != nil {
		return nil, fmt.Errorf("read ledger of %s: %w", q.Migration, err)
	}
	return ans.Hits.Hits, nil
}

// LedgerCount counts the index documents q selects (After and Size aside).
func (o Ops) LedgerCount(ctx context.Context, q LedgerQuery) (int, error) {
	var ans struct {
		Count int `json:"count"`
	}
	body := map[string]any{"query": ledgerQuery(q)}
	if err := o.C.Do(esclient.WithIdempotent(ctx), http.MethodPost, esclient.Path(ledger.Name, "_count"), nil, body, &ans); err != nil {
		return 0, fmt.Errorf("count ledger of %s: %w", q.Migration, err)
	}
	return ans.Count, nil
}

// ledgerQuery is the one translation of a LedgerQuery into a query.
func ledgerQuery(q LedgerQuery) map[string]any {
	filter := []any{
		map[string]any{"term": map[string]any{"kind": ledger.KindIndex}},
		map[string]any{"term": map[string]any{"migration": q.Migration}},
	}
	if q.Method != "" {
		filter = append(filter, map[string]any{"term": map[string]any{"method": q.Method}})
	}
	for field, on := range map[string]bool{"finished": q.Unfinished, "verified": q.Unverified, "replicas_set": q.ReplicasUnset} {
		if on {
			filter = append(filter, map[string]any{"term": map[string]any{field: false}})
		}
	}
	return map[string]any{"bool": map[string]any{"filter": filter}}
}

// LedgerWrite writes the documents in one _bulk request, refreshed at
// once so the next step's search sees them. Conflicts are results, not
// errors: the caller decides (a create that finds the document keeps it;
// a conditional update that lost reads again).
func (o Ops) LedgerWrite(ctx context.Context, puts []LedgerPut) ([]LedgerResult, error) {
	if len(puts) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	for _, p := range puts {
		meta := map[string]any{"_index": ledger.Name, "_id": p.ID}
		action := "index"
		if p.Create {
			action = "create"
		} else {
			meta["if_seq_no"], meta["if_primary_term"] = p.SeqNo, p.PrimaryTerm
		}
		head, _ := json.Marshal(map[string]any{action: meta})
		doc, err := json.Marshal(p.Doc)
		if err != nil {
			return nil, fmt.Errorf("write ledger %s: encode: %w", p.ID, err)
		}
		buf.Write(head)
		buf.WriteByte('\n')
		buf.Write(doc)
		buf.WriteByte('\n')
	}
	var ans struct {
		Items []map[string]struct {
			SeqNo       int64 `json:"_seq_no"`
			PrimaryTerm int64 `json:"_primary_term"`
			Status      int   `json:"status"`
			Error       *struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		} `json:"items"`
	}
	q := url.Values{"refresh": {"true"}}
	if err := o.C.Do(ctx, http.MethodPost, esclient.Path(ledger.Name, "_bulk"), q, esclient.NDJSON(buf.Bytes()), &ans); err != nil {
		return nil, fmt.Errorf("write ledger: %w", err)
	}
	if len(ans.Items) != len(puts) {
		return nil, fmt.Errorf("write ledger: %d answers for %d writes", len(ans.Items), len(puts))
	}
	out := make([]LedgerResult, len(puts))
	for i, item := range ans.Items {
		for _, r := range item {
			switch {
			case r.Status == http.StatusConflict:
				out[i].Conflict = true
			case r.Error != nil:
				// As an engine error of its own: a 429 or 503 of one item is
				// as transient as the same answer to a whole request.
				return out, fmt.Errorf("write ledger %s: %w", puts[i].ID, &esclient.APIError{Method: http.MethodPost, Path: esclient.Path(ledger.Name, "_bulk"),
					Status: r.Status, Source: esclient.SourceEngine, Type: r.Error.Type, Reason: r.Error.Reason})
			default:
				out[i].SeqNo, out[i].PrimaryTerm = r.SeqNo, r.PrimaryTerm
			}
		}
	}
	return out, nil
}
