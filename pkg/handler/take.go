package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/retention"
	"github.com/essnap/essnap/pkg/snapshot"
)

// SnapshotConfig is take-snapshot's configuration; each field is declared
// once (json: event field, env: ESSNAP_ variable). {} takes the nightly
// snapshot the stack's environment describes; the schedule sends
// {"trigger":"schedule"}.
type SnapshotConfig struct {
	Domain
	Repository         string         `json:"repository" env:"REPOSITORY"`
	NameTemplate       string         `json:"snapshot" env:"SNAPSHOT_NAME"`
	Indices            []string       `json:"indices" env:"INDICES"`
	IgnoreUnavailable  bool           `json:"ignore_unavailable"`
	IncludeGlobalState bool           `json:"include_global_state"`
	Partial            bool           `json:"partial"`
	WaitForCompletion  bool           `json:"wait_for_completion"`
	Trigger            string         `json:"trigger"`
	Execution          string         `json:"execution"`
	Metadata           map[string]any `json:"metadata"`
	// Action is "snapshot" (default) or "retention" (apply retention only,
	// for a schedule of its own after the nightly snapshot has finished).
	Action    string          `json:"action"`
	Retention RetentionConfig `json:"retention" envprefix:"RETENTION_"`
	DryRun    bool            `json:"dry_run"`
	errs      problems
}

// Triggers essnap records in snapshot metadata.
var triggers = map[string]bool{"schedule": true, "console": true, "workflow": true, "api": true}

// LoadSnapshotConfig applies defaults, environment and event, in that order.
func LoadSnapshotConfig(getenv func(string) string, raw []byte) SnapshotConfig {
	c := SnapshotConfig{Repository: "essnap", NameTemplate: "nightly-{now/d}", Trigger: "console", IgnoreUnavailable: true, Action: "snapshot"}
	c.Retention.PolicyID = "nightly"
	c.Retention.BatchSize = retention.DefaultMaxPerRequest
	var l config.Loaded
	c.errs, l = load(&c, getenv, raw)
	if !l.Set["retention.prefix"] {
		c.Retention.Prefix = staticPrefix(c.NameTemplate)
	}
	return c
}

// Validate reports every problem at once and resolves the snapshot name.
func (c *SnapshotConfig) Validate(now func() (name string, err error)) (string, error) {
	p := append(problems(nil), c.errs...)
	c.Domain.validate(&p)
	if err := snapshot.ValidateRepositoryName("repository", c.Repository); err != nil {
		p.add("%v", err)
	}
	name, err := now()
	if err != nil {
		p.add("%v", err)
	}
	for i, ix := range c.Indices {
		if err := snapshot.ValidateIndexPattern(fmt.Sprintf("indices[%d]", i), ix); err != nil {
			p.add("%v", err)
		}
	}
	if msg := c.metadataProblem(); msg != "" {
		p.add("%s", msg)
	}
	if !triggers[c.Trigger] {
		p.add("trigger %q is unknown; use schedule, console, workflow or api", c.Trigger)
	}
	for k := range c.Metadata {
		if k == "essnap" || k == retention.PolicyMetadataKey {
			p.add("metadata key %q is reserved; essnap records the trigger, options and retention policy there", k)
		}
	}
	c.Retention.validate(&p)
	switch c.Action {
	case "snapshot":
	case "retention":
		if !c.Retention.enabled() {
			p.add("action \"retention\" needs a retention rule: set retention.expire_after, max_count or keep_daily/keep_weekly/keep_monthly (or ESSNAP_RETENTION_*)")
		}
	default:
		p.add("action %q is unknown; use snapshot (default) or retention", c.Action)
	}
	if len(p) > 0 {
		return "", failure.Validation("take-snapshot", p)
	}
	return name, nil
}

// TakeSnapshot is the take-snapshot handler.
type TakeSnapshot struct{ Deps }

// SnapshotResult is what take-snapshot returns: enough for Step Functions to
// poll (repository, snapshot, state) and for an operator to read.
type SnapshotResult struct {
	Repository string               `json:"repository"`
	Snapshot   string               `json:"snapshot"`
	State      string               `json:"state"`
	Existing   bool                 `json:"existing"`
	Recovered  bool                 `json:"recovered,omitempty"`
	Indices    []string             `json:"indices,omitempty"`
	StartTime  string               `json:"start_time,omitempty"`
	Shards     model.Shards         `json:"shards"`
	Failures   []model.ShardFailure `json:"failures,omitempty"`
	Retention  *RetentionResult     `json:"retention,omitempty"`
}

// Invoke starts (or finds) the snapshot for this period.
func (h TakeSnapshot) Invoke(ctx context.Context, raw json.RawMessage) (SnapshotResult, error) {
	c := LoadSnapshotConfig(h.Getenv, raw)
	now := h.Clock.Now()
	name, err := c.Validate(func() (string, error) { return snapshot.ResolveName("snapshot", c.NameTemplate, now) })
	if err != nil {
		return SnapshotResult{}, err
	}
	ops, err := h.connect(ctx, c.Domain)
	if err != nil {
		return SnapshotResult{}, err
	}
	if c.Action == "retention" {
		r, err := h.applyRetention(ctx, ops, c.Repository, c.Retention, now, c.DryRun)
		out := SnapshotResult{Repository: c.Repository, Retention: &r}
		if err != nil {
			return out, h.fail(ctx, "take-snapshot retention", err)
		}
		return out, nil
	}
	if err := h.checkSelection(ctx, ops, &c); err != nil {
		return SnapshotResult{}, h.fail(ctx, "take-snapshot", err)
	}
	meta := c.snapshotMetadata(now)
	h.recordCounts(ctx, ops, &c, meta)
	res, err := ops.CreateSnapshot(ctx, c.Repository, name, engine.CreateOptions{
		Indices: c.Indices, IgnoreUnavailable: c.IgnoreUnavailable, IncludeGlobalState: c.IncludeGlobalState,
		Partial: c.Partial, Metadata: meta, WaitForCompletion: c.WaitForCompletion,
	})
	if err != nil {
		return SnapshotResult{}, h.fail(ctx, "take-snapshot", err)
	}
	snap := res.Snapshot
	out := SnapshotResult{Repository: c.Repository, Snapshot: snap.Name, State: snap.State, Existing: res.Existing, Recovered: res.Recovered, Indices: snap.Indices, Failures: snap.Failures, Shards: snap.Shards}
	if !snap.Start.IsZero() {
		out.StartTime = snap.Start.Format("2006-01-02T15:04:05Z")
	}
	h.Log.InfoContext(ctx, "snapshot", "repository", c.Repository, "snapshot", out.Snapshot, "state", out.State, "existing", out.Existing, "trigger", c.Trigger)
	switch out.State {
	case model.StatePartial, model.StateFailed:
		h.publish(c.Repository, map[string]float64{"SnapshotFailed": 1, "ShardsFailed": float64(out.Shards.Failed)})
		return out, h.fail(ctx, "take-snapshot", failure.SnapshotFailed(fmt.Sprintf("snapshot %s/%s ended %s: %d of %d shards failed%s; retention was not applied", c.Repository, out.Snapshot, out.State, out.Shards.Failed, out.Shards.Total, firstFailure(out.Failures))))
	case model.StateSuccess:
		if snap.Empty() {
			// An empty SUCCESS (patterns matched nothing) must not push real
			// snapshots out of retention.
			h.publish(c.Repository, map[string]float64{"SnapshotFailed": 1})
			return out, h.fail(ctx, "take-snapshot", failure.SnapshotFailed(fmt.Sprintf("snapshot %s/%s succeeded but holds no index: indices %v matched nothing; check the patterns; retention was not applied", c.Repository, out.Snapshot, c.Indices)))
		}
		h.publishSuccess(ctx, ops, c.Repository, snap, now)
		if c.Retention.enabled() {
			r, err := h.applyRetention(ctx, ops, c.Repository, c.Retention, now, c.DryRun)
			out.Retention = &r
			if err != nil {
				return out, h.fail(ctx, "take-snapshot retention", err)
			}
		}
	default:
		if c.Retention.enabled() {
			out.Retention = &RetentionResult{PolicyID: c.Retention.PolicyID, Deleted: []RetentionDecision{},
				Deferred: "the snapshot is " + out.State + "; retention runs only after a SUCCESS: invoke with {\"action\":\"retention\"} once it has finished"}
		}
	}
	return out, nil
}

// publishSuccess reports a finished SUCCESS snapshot; its size needs one
// more request, which is skipped (not failed) when it errors.
func (h TakeSnapshot) publishSuccess(ctx context.Context, ops Operations, repo string, info model.Snapshot, now time.Time) {
	vals := map[string]float64{"SnapshotSucceeded": 1, "ShardsFailed": float64(info.Shards.Failed), "LastSuccessAgeSeconds": now.Sub(info.Start).Seconds()}
	if info.Duration > 0 {
		vals["SnapshotDurationSeconds"] = info.Duration.Seconds()
	}
	if p, err := ops.Status(ctx, repo, info.Name); err == nil {
		vals["SnapshotSizeBytes"] = float64(p.TotalBytes)
	}
	h.publish(repo, vals)
}

func firstFailure(f []model.ShardFailure) string {
	if len(f) == 0 {
		return ""
	}
	return fmt.Sprintf(" (first: index %s shard %d: %s)", f[0].Index, f[0].ShardID, f[0].Reason)
}
