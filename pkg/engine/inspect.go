package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/essnap/essnap/pkg/esclient"
)

// NodeDisk is one node's disk as GET _cat/allocation reports it; the row
// for unassigned shards has no disk figures (zero here).
type NodeDisk struct {
	Node  string
	Total int64
	Avail int64
}

// Disk reads every data node's disk usage, for the migration pre-flight.
// _cat/allocation answers on ES 7.10 and OpenSearch alike and on AWS.
func (o Ops) Disk(ctx context.Context) ([]NodeDisk, error) {
	var rows []struct {
		Node  string  `json:"node"`
		Total *string `json:"disk.total"`
		Avail *string `json:"disk.avail"`
	}
	q := url.Values{"format": {"json"}, "bytes": {"b"}, "h": {"node,disk.total,disk.avail"}}
	if err := o.C.Do(ctx, http.MethodGet, "/_cat/allocation", q, nil, &rows); err != nil {
		return nil, fmt.Errorf("read disk allocation: %w", err)
	}
	out := make([]NodeDisk, 0, len(rows))
	for _, r := range rows {
		d := NodeDisk{Node: r.Node}
		if r.Total != nil {
			d.Total, _ = strconv.ParseInt(*r.Total, 10, 64)
		}
		if r.Avail != nil {
			d.Avail, _ = strconv.ParseInt(*r.Avail, 10, 64)
		}
		out = append(out, d)
	}
	return out, nil
}

// Count refreshes the index (so documents indexed a moment ago count) and
// returns its document count.
func (o Ops) Count(ctx context.Context, index string) (int64, error) {
	if err := o.Refresh(ctx, []string{index}); err != nil {
		return 0, err
	}
	var ans struct {
		Count int64 `json:"count"`
	}
	if err := o.C.Do(ctx, http.MethodGet, esclient.Path(index, "_count"), nil, nil, &ans); err != nil {
		return 0, fmt.Errorf("count %s: %w", index, err)
	}
	return ans.Count, nil
}

// DocIDs calls visit with the _id of every document of the index, in
// batches, via a scroll without _source (cheap: ids only). The scroll
// context is deleted at the end; should that fail, it expires by itself
// after a minute.
func (o Ops) DocIDs(ctx context.Context, index string, visit func(ids []string) error) error {
	type page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	var p page
	body := map[string]any{"size": 5000, "_source": false, "sort": []string{"_doc"}}
	if err := o.C.Do(ctx, http.MethodPost, esclient.Path(index, "_search"), url.Values{"scroll": {"1m"}}, body, &p); err != nil {
		return fmt.Errorf("read ids of %s: %w", index, err)
	}
	// Free the scroll context on the (production) domain as soon as we are
	// done, also after a failure or cancellation, within cleanupBound.
	defer func() {
		if p.ScrollID != "" {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			_ = o.C.Do(cctx, http.MethodDelete, "/_search/scroll", nil, map[string]any{"scroll_id": []string{p.ScrollID}}, nil)
		}
	}()
	for len(p.Hits.Hits) > 0 {
		ids := make([]string, len(p.Hits.Hits))
		for i, h := range p.Hits.Hits {
			ids[i] = h.ID
		}
		if err := visit(ids); err != nil {
			return err
		}
		next := page{}
		if err := o.C.Do(ctx, http.MethodPost, "/_search/scroll", nil, map[string]any{"scroll": "1m", "scroll_id": p.ScrollID}, &next); err != nil {
			return fmt.Errorf("read ids of %s: %w", index, err)
		}
		if next.ScrollID == "" {
			next.ScrollID = p.ScrollID
		}
		p = next
	}
	return nil
}

// cleanupBound is the most a best-effort cleanup request may take: the
// resource it frees expires by itself, so it never holds up the report.
const cleanupBound = 5 * time.Second

// cleanupContext is for a request that frees something after ctx may have
// been canceled (an error, an abandoned walk): it survives that
// cancellation but keeps ctx's deadline (the Lambda deadline, which the
// transport turns into "no time left") and lasts at most cleanupBound.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	c := context.WithoutCancel(ctx)
	cancelDeadline := context.CancelFunc(func() {})
	if dl, ok := ctx.Deadline(); ok {
		c, cancelDeadline = context.WithDeadline(c, dl)
	}
	c, cancel := context.WithTimeout(c, cleanupBound)
	return c, func() { cancel(); cancelDeadline() }
}
