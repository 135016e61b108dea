package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/reindex"
)

// Percentiles reads a field's percentile values over an index (the split
// points of a large index).
func (o Ops) Percentiles(ctx context.Context, index, field string, percents []float64) ([]float64, error) {
	body := map[string]any{"size": 0, "track_total_hits": false, "aggs": map[string]any{"p": map[string]any{"percentiles": map[string]any{"field": field, "percents": percents}}}}
	var ans struct {
		Aggregations struct {
			P struct {
				Values map[string]any `json:"values"`
			} `json:"p"`
		} `json:"aggregations"`
	}
	q := url.Values{"filter_path": {"aggregations.p.values"}}
	if err := o.C.Do(ctx, http.MethodPost, esclient.Path(index, "_search"), q, body, &ans); err != nil {
		return nil, fmt.Errorf("read percentiles of %s in %s: %w", field, index, err)
	}
	var out []float64
	for k, v := range ans.Aggregations.P.Values {
		if strings.HasSuffix(k, "_as_string") {
			continue
		}
		if f, ok := v.(float64); ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// StartReindex starts a remote reindex on this (target) domain without
// waiting and returns its task id. It is sent once: a lost answer leaves
// a task the next run does not know, whose documents the rerun skips.
func (o Ops) StartReindex(ctx context.Context, body map[string]any) (string, error) {
	var ans struct {
		Task string `json:"task"`
	}
	q := url.Values{"wait_for_completion": {"false"}}
	if err := o.C.Do(ctx, http.MethodPost, "/_reindex", q, body, &ans); err != nil {
		return "", fmt.Errorf("start reindex: %w", err)
	}
	if ans.Task == "" {
		return "", fmt.Errorf("start reindex: the answer named no task")
	}
	return ans.Task, nil
}

// reindexCounts are the counters both a running task's status and a
// finished task's response carry.
type reindexCounts struct {
	Total            int64 `json:"total"`
	Created          int64 `json:"created"`
	VersionConflicts int64 `json:"version_conflicts"`
}

// ReindexTask reads a reindex task: running counters, or the outcome.
// A task the target does not know (restarted node) is Vanished.
func (o Ops) ReindexTask(ctx context.Context, id string) (reindex.Outcome, error) {
	var ans struct {
		Completed bool `json:"completed"`
		Task      struct {
			Description     string        `json:"description"`
			Status          reindexCounts `json:"status"`
			StartMs         int64         `json:"start_time_in_millis"`
			RunningTimeNano int64         `json:"running_time_in_nanos"`
		} `json:"task"`
		Response *struct {
			reindexCounts
			Canceled string `json:"canceled"`
			TimedOut bool   `json:"timed_out"`
			Failures []struct {
				Index string `json:"index"`
				ID    string `json:"id"`
				Cause struct {
					Type   string `json:"type"`
					Reason string `json:"reason"`
				} `json:"cause"`
				Reason any `json:"reason"` // search failures: text or an object
			} `json:"failures"`
		} `json:"response"`
		Error *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	}
	err := o.C.Do(ctx, http.MethodGet, esclient.Path("_tasks", id), nil, nil, &ans)
	var ae *esclient.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Type == "resource_not_found_exception" {
		return reindex.Outcome{Vanished: true}, nil
	}
	if err != nil {
		return reindex.Outcome{}, fmt.Errorf("read reindex task %s: %w", id, err)
	}
	out := reindex.Outcome{Completed: ans.Completed, Total: ans.Task.Status.Total, Created: ans.Task.Status.Created, Conflicts: ans.Task.Status.VersionConflicts, Description: ans.Task.Description}
	if ans.Completed {
		out.EndMs = ans.Task.StartMs + ans.Task.RunningTimeNano/1_000_000
	}
	if ans.Error != nil {
		out.Error = ans.Error.Type + ": " + ans.Error.Reason
	}
	if r := ans.Response; r != nil {
		out.Total, out.Created, out.Conflicts = r.Total, r.Created, r.VersionConflicts
		// A cancelled or timed-out task ends without error or failures
		// but has not copied everything: its part runs again.
		if r.Canceled != "" {
			out.Error = "the task was cancelled: " + r.Canceled
		} else if r.TimedOut {
			out.Error = "the task timed out"
		}
		// Documents the target refused carry their _id; a failure without
		// one is the remote read's (a lost scroll, a source shard), which a
		// rerun of the part can get past.
		var refused []string
		for _, f := range r.Failures {
			if f.ID == "" {
				if out.Error == "" {
					out.Error = fmt.Sprintf("the read from the source failed: %v", f.Reason)
				}
				continue
			}
			refused = append(refused, fmt.Sprintf("_id %s: %s: %s", f.ID, f.Cause.Type, f.Cause.Reason))
		}
		if len(refused) > 3 {
			refused = append(refused[:3], fmt.Sprintf("and %d more", len(refused)-3))
		}
		out.Failures = refused
	}
	return out, nil
}

// CancelTask cancels a task; one that already ended is no error.
func (o Ops) CancelTask(ctx context.Context, id string) error {
	err := o.C.Do(ctx, http.MethodPost, esclient.Path("_tasks", id, "_cancel"), nil, nil, nil)
	if notFound(err) {
		return nil
	}
	return err
}

// ProbeRemote asks this (target) domain to read one source index through
// remote with a query that matches nothing: it proves the target reaches
// the source (network, allowlist, the source's authorisation) and writes
// nothing, because no document means no destination index.
func (o Ops) ProbeRemote(ctx context.Context, remote reindex.Remote, index string) error {
	r := map[string]any{"host": remote.Host}
	if remote.Region != "" {
		r["region"] = remote.Region
	}
	body := map[string]any{
		"source": map[string]any{"remote": r, "index": index, "size": 1, "query": map[string]any{"match_none": map[string]any{}}},
		"dest":   map[string]any{"index": "essnap-reach-probe", "op_type": "create"},
	}
	var ans struct {
		Created int64 `json:"created"`
	}
	q := url.Values{"wait_for_completion": {"true"}, "timeout": {strconv.Itoa(30) + "s"}}
	if err := o.C.Do(ctx, http.MethodPost, "/_reindex", q, body, &ans); err != nil {
		return err
	}
	if ans.Created != 0 {
		return fmt.Errorf("the reachability probe created %d documents in essnap-reach-probe; delete that index", ans.Created)
	}
	return nil
}
