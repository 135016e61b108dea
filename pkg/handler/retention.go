package handler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/retention"
	"github.com/essnap/essnap/pkg/snapshot"
)

// RetentionFields is the "retention" object of a take-snapshot event; each
// field overrides the stack's ESSNAP_RETENTION_* value.
type RetentionFields struct {
	PolicyID    *string `json:"policy_id"`
	Prefix      *string `json:"prefix"`
	ExpireAfter *string `json:"expire_after"`
	MinCount    *int    `json:"min_count"`
	MaxCount    *int    `json:"max_count"`
	KeepDaily   *int    `json:"keep_daily"`
	KeepWeekly  *int    `json:"keep_weekly"`
	KeepMonthly *int    `json:"keep_monthly"`
	Timezone    *string `json:"timezone"`
	BatchSize   *int    `json:"batch_size"`
}

// retentionConfig is the resolved policy plus how to apply it.
type retentionConfig struct {
	Policy      retention.Policy
	expireAfter string
	timezone    string
	batchSize   int
}

// enabled reports whether any rule can delete: min_count alone cannot.
func (r retentionConfig) enabled() bool {
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

func (r *retentionConfig) fromEnv(e env) {
	e.str("ESSNAP_RETENTION_POLICY_ID", &r.Policy.PolicyID)
	e.str("ESSNAP_RETENTION_PREFIX", &r.Policy.Prefix)
	e.str("ESSNAP_RETENTION_EXPIRE_AFTER", &r.expireAfter)
	e.integer("ESSNAP_RETENTION_MIN_COUNT", &r.Policy.MinCount)
	e.integer("ESSNAP_RETENTION_MAX_COUNT", &r.Policy.MaxCount)
	e.integer("ESSNAP_RETENTION_KEEP_DAILY", &r.Policy.KeepDaily)
	e.integer("ESSNAP_RETENTION_KEEP_WEEKLY", &r.Policy.KeepWeekly)
	e.integer("ESSNAP_RETENTION_KEEP_MONTHLY", &r.Policy.KeepMonthly)
	e.str("ESSNAP_RETENTION_TIMEZONE", &r.timezone)
	e.integer("ESSNAP_RETENTION_BATCH_SIZE", &r.batchSize)
}

func (r *retentionConfig) fromEvent(f *RetentionFields) {
	if f == nil {
		return
	}
	set(&r.Policy.PolicyID, f.PolicyID)
	set(&r.Policy.Prefix, f.Prefix)
	set(&r.expireAfter, f.ExpireAfter)
	set(&r.Policy.MinCount, f.MinCount)
	set(&r.Policy.MaxCount, f.MaxCount)
	set(&r.Policy.KeepDaily, f.KeepDaily)
	set(&r.Policy.KeepWeekly, f.KeepWeekly)
	set(&r.Policy.KeepMonthly, f.KeepMonthly)
	set(&r.timezone, f.Timezone)
	set(&r.batchSize, f.BatchSize)
}

// validate parses ages and zones and checks the policy when it can delete.
func (r *retentionConfig) validate(p *problems) {
	r.Policy.ExpireAfter = 0
	if r.expireAfter != "" {
		d, err := retention.ParseAge(r.expireAfter)
		if err != nil {
			p.add("retention.expire_after: %v", err)
		}
		r.Policy.ExpireAfter = d
	}
	if r.timezone != "" {
		loc, err := time.LoadLocation(r.timezone)
		if err != nil {
			p.add("retention.timezone %q is not an IANA zone such as Asia/Tokyo", r.timezone)
		}
		r.Policy.Location = loc
	}
	if r.batchSize < 1 || r.batchSize > 200 {
		p.add("retention.batch_size %d must be between 1 and 200", r.batchSize)
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

// newest returns the newest snapshot created by the policy, of any state
// when states is empty, else of one of states.
func newest(p retention.Policy, snaps []retention.Snapshot, states ...string) (retention.Snapshot, bool) {
	var best retention.Snapshot
	found := false
	for _, s := range snaps {
		if !strings.HasPrefix(s.Name, p.Prefix) || s.Metadata[retention.PolicyMetadataKey] != p.PolicyID {
			continue
		}
		if len(states) > 0 && !slices.Contains(states, s.State) {
			continue
		}
		if !found || s.Start.After(best.Start) {
			best, found = s, true
		}
	}
	return best, found
}

// applyRetention lists the repository once, refuses to delete while the
// policy's newest snapshot is running or unhealthy, and deletes the plan in
// batched multi-name requests: 1 list + ceil(deletions/batch) requests.
func (h TakeSnapshot) applyRetention(ctx context.Context, ops Operations, repo string, rc retentionConfig, now time.Time, dryRun bool) (RetentionResult, error) {
	res := RetentionResult{PolicyID: rc.Policy.PolicyID, DryRun: dryRun, Deleted: []RetentionDecision{}}
	snaps, err := ops.ListForRetention(ctx, repo)
	res.Requests++
	if err != nil {
		return res, fmt.Errorf("retention on %s: %w", repo, err)
	}
	if last, ok := newest(rc.Policy, snaps); ok {
		switch last.State {
		case snapshot.StateInProgress:
			return res, &failure.ConcurrentSnapshotError{Detail: &failure.Detail{Message: fmt.Sprintf("retention on %s waits: the policy's newest snapshot %s is still running; retry after it finishes", repo, last.Name)}}
		case snapshot.StateSuccess:
			if len(last.Indices) == 0 {
				h.publish(repo, map[string]float64{"SnapshotFailed": 1})
				return res, failure.SnapshotFailed(fmt.Sprintf("retention on %s not applied: the policy's newest snapshot %s holds no index (its patterns matched nothing)", repo, last.Name))
			}
		case snapshot.StatePartial, snapshot.StateFailed:
			h.publish(repo, map[string]float64{"SnapshotFailed": 1})
			return res, failure.SnapshotFailed(fmt.Sprintf("retention on %s not applied: the policy's newest snapshot %s is %s; fix the cause and take a successful snapshot first", repo, last.Name, last.State))
		}
	}
	if last, ok := newest(rc.Policy, snaps, snapshot.StateSuccess); ok {
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
	for _, batch := range retention.Batches(plan.DeleteNames(), rc.batchSize, retention.DefaultMaxPathBytes) {
		res.Requests++
		if err := ops.DeleteSnapshots(ctx, repo, batch); err != nil {
			res.Deleted = res.Deleted[:done]
			h.publish(repo, map[string]float64{"RetentionDeletions": float64(done)})
			return res, fmt.Errorf("retention on %s: deleted %d of %d, then: %w", repo, done, len(plan.Delete), err)
		}
		done += len(batch)
	}
	h.publish(repo, map[string]float64{"RetentionDeletions": float64(done)})
	h.Log.InfoContext(ctx, "retention applied", "repository", repo, "policy_id", rc.Policy.PolicyID, "deleted", done, "kept", res.Kept, "ignored", res.Ignored, "requests", res.Requests)
	return res, nil
}
