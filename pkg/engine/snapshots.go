package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/model"
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

// CreateOptions are the snapshot request's options.
type CreateOptions struct {
	Indices            []string
	IgnoreUnavailable  bool
	IncludeGlobalState bool
	Partial            bool
	Metadata           map[string]any
	WaitForCompletion  bool
}

// CreateResult is the snapshot a create produced or found.
type CreateResult struct {
	Snapshot model.Snapshot
	// Existing is true when the snapshot already existed or was running:
	// a rerun or duplicate delivery, nothing new was started.
	Existing bool `json:"existing"`
	// Recovered is true when the create's answer was lost (502/504/timeout)
	// and the snapshot was found by checking instead of sending it again.
	Recovered bool `json:"recovered,omitempty"`
}

// outcomeUnknown reports whether err means the request may or may not have
// run: a gateway error, a 5xx that is not the engine's own answer (a
// proxy's empty 503 after forwarding), or a transport failure after
// sending. A request that provably never went out (esclient.ErrNotSent:
// refused connection, DNS, TLS handshake) did not run.
func outcomeUnknown(err error) bool {
	if err == nil || errors.Is(err, esclient.ErrNotSent) {
		return false
	}
	var ae *esclient.APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusBadGateway || ae.Status == http.StatusGatewayTimeout ||
			ae.Status >= 500 && ae.Source != esclient.SourceEngine
	}
	return true
}

// CreateSnapshot starts a snapshot (non-blocking unless asked). A snapshot of
// the same name that exists or runs is returned instead of an error; after a
// lost answer the state is checked rather than the create sent again.
func (o Ops) CreateSnapshot(ctx context.Context, repo, name string, opt CreateOptions) (CreateResult, error) {
	body := map[string]any{
		"ignore_unavailable":   opt.IgnoreUnavailable,
		"include_global_state": opt.IncludeGlobalState,
		"partial":              opt.Partial,
	}
	if len(opt.Indices) > 0 {
		body["indices"] = strings.Join(opt.Indices, ",")
	}
	if len(opt.Metadata) > 0 {
		body["metadata"] = opt.Metadata
	}
	q := url.Values{"wait_for_completion": {strconv.FormatBool(opt.WaitForCompletion)}}
	var ans struct {
		Snapshot *model.Snapshot `json:"snapshot"`
	}
	putCtx := ctx
	if opt.WaitForCompletion {
		putCtx = esclient.WithLongRequest(ctx)
	}
	err := o.C.Do(putCtx, http.MethodPut, esclient.Path("_snapshot", repo, name), q, body, &ans)
	switch {
	case err == nil:
		if ans.Snapshot != nil {
			return CreateResult{Snapshot: *ans.Snapshot}, nil
		}
		info, gerr := o.GetSnapshot(ctx, repo, name)
		if gerr != nil {
			return CreateResult{Snapshot: model.Snapshot{Name: name, State: model.StateInProgress}}, nil
		}
		return CreateResult{Snapshot: info}, nil
	case esclient.IsType(err, "invalid_snapshot_name_exception") && (strings.Contains(err.Error(), "already exists") || strings.Contains(err.Error(), "already in-progress")):
		info, gerr := o.GetSnapshot(ctx, repo, name)
		if gerr != nil {
			return CreateResult{}, fmt.Errorf("snapshot %s/%s exists but cannot be read: %w", repo, name, gerr)
		}
		return CreateResult{Snapshot: info, Existing: true}, nil
	case outcomeUnknown(err) && ctx.Err() == nil:
		// The answer was lost (gateway error, attempt timeout, broken
		// connection): look instead of sending the create again.
		info, gerr := o.GetSnapshot(ctx, repo, name)
		if gerr == nil {
			return CreateResult{Snapshot: info, Recovered: true}, nil
		}
		if !esclient.IsType(gerr, "snapshot_missing_exception") {
			return CreateResult{}, fmt.Errorf("snapshot %s/%s: %w: the create failed (%v) and the check failed too: %v", repo, name, failure.ErrOutcomeUnknown, err, gerr)
		}
		return CreateResult{}, fmt.Errorf("snapshot %s/%s: %w: the create failed (%v) and no such snapshot exists; rerunning is safe: %w", repo, name, failure.ErrOutcomeUnknown, err, err)
	default:
		return CreateResult{}, fmt.Errorf("snapshot %s/%s: %w", repo, name, err)
	}
}

// GetSnapshot reads one snapshot. Unlike _status, it reports PARTIAL.
func (o Ops) GetSnapshot(ctx context.Context, repo, name string) (model.Snapshot, error) {
	var ans struct {
		Snapshots []model.Snapshot `json:"snapshots"`
	}
	if err := o.C.Do(ctx, http.MethodGet, esclient.Path("_snapshot", repo, name), nil, nil, &ans); err != nil {
		return model.Snapshot{}, fmt.Errorf("get snapshot %s/%s: %w", repo, name, err)
	}
	if len(ans.Snapshots) == 0 {
		return model.Snapshot{}, &esclient.APIError{Method: http.MethodGet, Path: esclient.Path("_snapshot", repo, name), Status: 404, Source: esclient.SourceEngine, Type: "snapshot_missing_exception", Reason: fmt.Sprintf("[%s:%s] is missing", repo, name)}
	}
	return ans.Snapshots[0], nil
}

// Progress is a running snapshot's progress from _status; State comes from
// GET _snapshot, because _status reports a finished PARTIAL as SUCCESS.
type Progress struct {
	model.Snapshot
	TotalBytes     int64 `json:"total_bytes"`
	ProcessedBytes int64 `json:"processed_bytes"`
	TotalFiles     int64 `json:"total_files"`
	ShardsDone     int   `json:"shards_done"`
	ShardsTotal    int   `json:"shards_total"`
}

// progressFields are Progress's own JSON fields.
type progressFields struct {
	TotalBytes     int64 `json:"total_bytes"`
	ProcessedBytes int64 `json:"processed_bytes"`
	TotalFiles     int64 `json:"total_files"`
	ShardsDone     int   `json:"shards_done"`
	ShardsTotal    int   `json:"shards_total"`
}

// MarshalJSON writes one flat object, the snapshot's engine fields beside
// the progress figures, which the state machine reads
// (snapshot.start_time_in_millis, end_time_in_millis, total_bytes).
func (p Progress) MarshalJSON() ([]byte, error) {
	snap, err := json.Marshal(p.Snapshot)
	if err != nil {
		return nil, err
	}
	own, err := json.Marshal(progressFields{p.TotalBytes, p.ProcessedBytes, p.TotalFiles, p.ShardsDone, p.ShardsTotal})
	if err != nil {
		return nil, err
	}
	return append(append(snap[:len(snap)-1], ','), own[1:]...), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Progress) UnmarshalJSON(b []byte) error {
	var f progressFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &p.Snapshot); err != nil {
		return err
	}
	p.TotalBytes, p.ProcessedBytes, p.TotalFiles, p.ShardsDone, p.ShardsTotal = f.TotalBytes, f.ProcessedBytes, f.TotalFiles, f.ShardsDone, f.ShardsTotal
	return nil
}

// Status combines GET _snapshot (truthful state) with _status (sizes).
func (o Ops) Status(ctx context.Context, repo, name string) (Progress, error) {
	info, err := o.GetSnapshot(ctx, repo, name)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Snapshot: info}
	var ans struct {
		Snapshots []struct {
			ShardsStats struct {
				Done  int `json:"done"`
				Total int `json:"total"`
			} `json:"shards_stats"`
			Stats struct {
				Total struct {
					FileCount   int64 `json:"file_count"`
					SizeInBytes int64 `json:"size_in_bytes"`
				} `json:"total"`
				Processed struct {
					SizeInBytes int64 `json:"size_in_bytes"`
				} `json:"processed"`
			} `json:"stats"`
		} `json:"snapshots"`
	}
	if err := o.C.Do(ctx, http.MethodGet, esclient.Path("_snapshot", repo, name, "_status"), nil, nil, &ans); err != nil {
		return p, fmt.Errorf("snapshot status %s/%s: %w", repo, name, err)
	}
	if len(ans.Snapshots) > 0 {
		s := ans.Snapshots[0]
		p.TotalBytes, p.TotalFiles = s.Stats.Total.SizeInBytes, s.Stats.Total.FileCount
		p.ProcessedBytes = s.Stats.Processed.SizeInBytes
		if info.State != model.StateInProgress {
			p.ProcessedBytes = p.TotalBytes
		}
		p.ShardsDone, p.ShardsTotal = s.ShardsStats.Done, s.ShardsStats.Total
	}
	return p, nil
}

// ListSnapshots lists a repository's snapshots, oldest first, narrowed by
// filter_path to model.ListingPaths plus the given metadata keys: on 10,000
// snapshots the body shrinks from about 19 MB to about 2 MB, and plain
// encoding/json decodes it within retention's CPU and memory budget
// (docs/benchmarks.md). Callers that need a snapshot's indices or failures
// read it with GetSnapshot.
func (o Ops) ListSnapshots(ctx context.Context, repo string, metadataKeys ...string) ([]model.Snapshot, error) {
	var out []model.Snapshot
	q := url.Values{"filter_path": {model.ListingFilter(metadataKeys...)}}
	err := o.C.DoStream(ctx, http.MethodGet, esclient.Path("_snapshot", repo, "_all"), q, nil, func(r io.Reader) error {
		var err error
		out, err = model.DecodeListing(r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots of %s: %w", repo, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// DeleteSnapshots deletes several snapshots in one request (ES 7.8+ and
// OpenSearch). If one name is missing the engine deletes none.
func (o Ops) DeleteSnapshots(ctx context.Context, repo string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	esc := make([]string, len(names))
	for i, n := range names {
		esc[i] = url.PathEscape(n)
	}
	p := esclient.Path("_snapshot", repo) + "/" + strings.Join(esc, ",")
	if err := o.C.Do(ctx, http.MethodDelete, p, nil, nil, nil); err != nil {
		return fmt.Errorf("delete %d snapshots from %s: %w", len(names), repo, err)
	}
	return nil
}
