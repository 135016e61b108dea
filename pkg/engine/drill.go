package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/essnap/essnap/pkg/esclient"
)

// SnapshotIndexSizes reads each index's size in a snapshot from
// GET _snapshot/<repo>/<snap>/_status (stats.total.size_in_bytes, as ES
// 7.10 and OpenSearch 1.x to 3.x report it): what a restore of that index
// writes to disk, which the drill sizes its sample and disk check by. It
// reads the snapshot's shard files from the repository, so it costs one
// slow request on a large snapshot, not one per index.
func (o Ops) SnapshotIndexSizes(ctx context.Context, repo, name string) (map[string]int64, error) {
	var ans struct {
		Snapshots []struct {
			Indices map[string]struct {
				Stats struct {
					Total struct {
						Size int64 `json:"size_in_bytes"`
					} `json:"total"`
				} `json:"stats"`
			} `json:"indices"`
		} `json:"snapshots"`
	}
	q := url.Values{"filter_path": {"snapshots.indices.*.stats.total.size_in_bytes"}}
	if err := o.C.Do(ctx, http.MethodGet, esclient.Path("_snapshot", repo, name, "_status"), q, nil, &ans); err != nil {
		return nil, fmt.Errorf("read index sizes of snapshot %s/%s: %w", repo, name, err)
	}
	out := map[string]int64{}
	for _, s := range ans.Snapshots {
		for n, ix := range s.Indices {
			out[n] = ix.Stats.Total.Size
		}
	}
	return out, nil
}

// DocCounts reads the document count of every index the patterns select
// (all with none; aliases and data streams select their indices, -pattern
// excludes), in one cheap request: _cat/indices docs.count, the primaries'
// documents as Lucene counts them (nested ones included, deleted ones
// not), up to the last refresh. The drill compares like with like: the
// same column of the restored index once recovery finished.
func (o Ops) DocCounts(ctx context.Context, patterns []string) (map[string]int64, error) {
	ix, err := o.catIndices(ctx, patterns, "open,hidden")
	if err != nil {
		return nil, fmt.Errorf("count documents per index: %w", err)
	}
	out := make(map[string]int64, len(ix))
	for n, s := range ix {
		out[n] = s.Docs
	}
	return out, nil
}

// LowWatermark reads cluster.routing.allocation.disk.watermark.low as the
// engine applies it: transient over persistent over the default
// (include_defaults), as written ("85%", "0.85" or "500mb").
func (o Ops) LowWatermark(ctx context.Context) (string, error) {
	type level struct {
		Cluster struct {
			Routing struct {
				Allocation struct {
					Disk struct {
						Watermark struct {
							Low string `json:"low"`
						} `json:"watermark"`
					} `json:"disk"`
				} `json:"allocation"`
			} `json:"routing"`
		} `json:"cluster"`
	}
	var ans struct {
		Transient  level `json:"transient"`
		Persistent level `json:"persistent"`
		Defaults   level `json:"defaults"`
	}
	q := url.Values{"include_defaults": {"true"}, "filter_path": {"**.disk.watermark.low"}}
	if err := o.C.Do(ctx, http.MethodGet, "/_cluster/settings", q, nil, &ans); err != nil {
		return "", fmt.Errorf("read the low disk watermark: %w", err)
	}
	for _, l := range []level{ans.Transient, ans.Persistent, ans.Defaults} {
		if w := l.Cluster.Routing.Allocation.Disk.Watermark.Low; w != "" {
			return w, nil
		}
	}
	return "85%", nil // the engines' default, when the answer names none
}

// DeleteIndices deletes exactly the named indices. Names with wildcards,
// commas or a leading "-" or "_" are refused before sending, so a caller's
// filter decides alone what is deleted; a name gone meanwhile is no error.
func (o Ops) DeleteIndices(ctx context.Context, names []string) error {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, n := range sorted {
		if n == "" || strings.ContainsAny(n, "*?,") || strings.HasPrefix(n, "-") || strings.HasPrefix(n, "_") {
			return fmt.Errorf("delete indices: %q is not one concrete index name; nothing was deleted", n)
		}
	}
	q := url.Values{"ignore_unavailable": {"true"}, "expand_wildcards": {"none"}}
	for _, batch := range joinBatches(sorted, 3000) {
		if err := o.C.Do(ctx, http.MethodDelete, "/"+batch, q, nil, nil); err != nil {
			return fmt.Errorf("delete indices %s: %w", batch, err)
		}
	}
	return nil
}
