package handler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/retention"
)

// RetentionConfig is the "retention" object of a take-snapshot event and
// its ESSNAP_RETENTION_* variables: the policy (declared, with its field
// names and parsers, in retention.Policy) plus how to apply it.
type RetentionConfig struct {
	retention.Policy
	// BatchSize is how many snapshots one DELETE names.
	BatchSize int `json:"batch_size" env:"BATCH_SIZE"`
}

// enabled reports whether any rule can delete: min_count alone cannot.
func (r RetentionConfig) enabled() bool {
	p := r.Policy
	return p.ExpireAfter > 0 || p.MaxCount > 0 || p.KeepDaily > 0 || p.KeepWeekly > 0 || p.KeepMonthly > 0
}

// staticPrefix is the fixed start of a name template ("nightly-" for
// "<nightly-{now/d}>"), the default prefix of retention candidates.
func staticPrefix(tmpl string) string {
	tmpl = strings.TrimPrefix(tmpl, "<")
	if i := strings.IndexByte(tmpl, '{'); i >= 0 {
		return tmpl[:i]
	}
	return strings.TrimSuffix(tmpl, ">")
}

// validate checks the batch size, and the policy when it can delete.
func (r RetentionConfig) validate(p *problems) {
	if r.BatchSize < 1 || r.BatchSize > 200 {
		p.add("retention.batch_size %d must be between 1 and 200", r.BatchSize)
	}
	if r.enabled() {
		if err := r.Policy.Validate(); err != nil {
			p.add("%v", err)
		}
	}
}

// RetentionDecision is one snapshot retention deleted (or would delete).
type RetentionDecision struct {
	Snapshot string   `json:"snapshot"`
	State    string   `json:"state"`
	Reasons  []string `json:"reasons"`
}

// RetentionResult reports a retention pass; every decision has its reasons.
type RetentionResult struct {
	PolicyID string              `json:"policy_id"`
	DryRun   bool                `json:"dry_run,omitempty"`
	Deferred string              `json:"deferred,omitempty"`
	Deleted  []RetentionDecision `json:"deleted"`
	Kept     int                 `json:"kept"`
	Ignored  int                 `json:"ignored"`
	Requests int                 `json:"requests"`
}

// ours keeps the snapshots the policy created (name prefix and policy
// metadata), optionally only in the given states, for model.Newest.
func ours(p retention.Policy, states ...string) func(model.Snapshot) bool {
	return func(s model.Snapshot) bool {
		return strings.HasPrefix(s.Name, p.Prefix) && s.Metadata[model.PolicyMetadataKey] == p.PolicyID &&
			(len(states) == 0 || slices.Contains(states, s.State))
	}
}

// applyRetention lists the repository once, refuses to delete while the
// policy's newest snapshot is running or unhealthy, and deletes the plan in
// batched multi-name requests: 1 list + ceil(deletions/batch) requests.
func (h TakeSnapshot) applyRetention(ctx context.Context, ops Operations, repo string, rc RetentionConfig, now time.Time, dryRun bool) (RetentionResult, error) {
	res := RetentionResult{PolicyID: rc.PolicyID, DryRun: dryRun, Deleted: []RetentionDecision{}}
	snaps, err := ops.ListSnapshots(ctx, repo, model.PolicyMetadataKey, rc.PinKeyOrDefault())
	res.Requests++
	if err != nil {
		return res, fmt.Errorf("retention on %s: %w", repo, err)
	}
	// The guard looks at every snapshot sharing the newest start time:
	// Elasticsearch 7.10 gives back-to-back snapshots the same start.
	// Running first, then failed, then empty: the worst one decides.
	tied := model.NewestTied(snaps, ours(rc.Policy))
	for _, last := range tied {
		if last.State == model.StateInProgress {
			return res, &failure.ConcurrentSnapshotError{Detail: &failure.Detail{Message: fmt.Sprintf("retention on %s waits: the policy's newest snapshot %s is still running; retry after it finishes", repo, last.Name)}}
		}
	}
	for _, last := range tied {
		switch {
		case last.State == model.StatePartial || last.State == model.StateFailed:
			h.publish(repo, map[string]float64{"SnapshotFailed": 1})
			return res, failure.SnapshotFailed(fmt.Sprintf("retention on %s not applied: the policy's newest snapshot %s is %s; fix the cause and take a successful snapshot first", repo, last.Name, last.State))
		case last.State == model.StateSuccess && last.Empty():
			h.publish(repo, map[string]float64{"SnapshotFailed": 1})
			return res, failure.SnapshotFailed(fmt.Sprintf("retention on %s not applied: the policy's newest snapshot %s holds no index (its patterns matched nothing)", repo, last.Name))
		}
	}
	if last, ok := model.Newest(snaps, ours(rc.Policy, model.StateSuccess)); ok {
		age := now.Sub(last.Start)
		vals := map[string]float64{"LastSuccessAgeSeconds": age.Seconds()}
		if age < 24*time.Hour {
			vals["SnapshotSucceeded"] = 1
		}
		h.publish(repo, vals)
	}
	plan := retention.Apply(rc.Policy, snaps, now)
	res.Kept, res.Ignored = len(plan.Keep), len(plan.Ignored)
	for _, d := range plan.Delete {
		res.Deleted = append(res.Deleted, RetentionDecision{Snapshot: d.Snapshot.Name, State: d.Snapshot.State, Reasons: d.Reasons})
	}
	if dryRun || len(plan.Delete) == 0 {
		return res, nil
	}
	done := 0
	for _, batch := range retention.Batches(plan.DeleteNames(), rc.BatchSize, retention.DefaultMaxPathBytes) {
		res.Requests++
		if err := ops.DeleteSnapshots(ctx, repo, batch); err != nil {
			res.Deleted = res.Deleted[:done]
			h.publish(repo, map[string]float64{"RetentionDeletions": float64(done)})
			return res, fmt.Errorf("retention on %s: deleted %d of %d, then: %w", repo, done, len(plan.Delete), err)
		}
		done += len(batch)
	}
	h.publish(repo, map[string]float64{"RetentionDeletions": float64(done)})
	h.Log.InfoContext(ctx, "retention applied", "repository", repo, "policy_id", rc.PolicyID, "deleted", done, "kept", res.Kept, "ignored", res.Ignored, "requests", res.Requests)
	return res, nil
}
