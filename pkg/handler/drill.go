package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/drill"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/metrics"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/snapshot"
)

// DrillConfig is the drill's configuration; each field is declared once
// (json: event field, env: ESSNAP_ variable). {} drills the newest SUCCESS
// snapshot of the stack's nightly policy, every non-system index of it.
type DrillConfig struct {
	Domain
	Repository string `json:"repository" env:"REPOSITORY"`
	Snapshot   string `json:"snapshot"`
	// PolicyID narrows "latest" to the snapshots take-snapshot made for
	// this retention policy, as retention does; "" takes any snapshot.
	PolicyID string   `json:"policy_id" env:"DRILL_POLICY_ID"`
	Indices  []string `json:"indices" env:"DRILL_INDICES"`
	// MaxBytes caps the sample's size in the snapshot (0: no cap).
	MaxBytes int64 `json:"max_bytes" env:"DRILL_MAX_BYTES"`
	// MaxWaitSeconds bounds the wait for recovery; the Lambda deadline
	// bounds it too.
	MaxWaitSeconds int `json:"max_wait_seconds" env:"DRILL_MAX_WAIT_SECONDS"`
	errs           problems
}

// LoadDrillConfig applies defaults, environment and event, in that order.
func LoadDrillConfig(getenv func(string) string, raw []byte) DrillConfig {
	c := DrillConfig{Repository: "essnap", Snapshot: "latest", PolicyID: "nightly", MaxWaitSeconds: 840}
	c.errs, _ = load(&c, getenv, raw)
	return c
}

// Validate reports every problem at once.
func (c DrillConfig) Validate() error {
	p := append(problems(nil), c.errs...)
	c.Domain.validate(&p)
	if err := snapshot.ValidateRepositoryName("repository", c.Repository); err != nil {
		p.add("%v", err)
	}
	if c.Snapshot != "latest" {
		if err := snapshot.ValidateName("snapshot", c.Snapshot); err != nil {
			p.add("%v (or use \"latest\" for the policy's newest SUCCESS snapshot)", err)
		}
	}
	for i, ix := range c.Indices {
		if err := snapshot.ValidateIndexPattern(fmt.Sprintf("indices[%d]", i), ix); err != nil {
			p.add("%v", err)
		}
	}
	if c.MaxBytes < 0 {
		p.add("max_bytes %d is negative; use 0 for no cap, or a size in bytes such as 10737418240 (10 GiB)", c.MaxBytes)
	}
	if c.MaxWaitSeconds <= 0 {
		p.add("max_wait_seconds %d must be positive (the function's timeout bounds it too)", c.MaxWaitSeconds)
	}
	if len(p) > 0 {
		return failure.Validation("drill", p)
	}
	return nil
}

// DrillResult is the drill's report: what was restored, both document
// counts of each index, the recovery time and rate, and what was deleted.
type DrillResult struct {
	Repository    string           `json:"repository"`
	Snapshot      string           `json:"snapshot"`
	SnapshotStart string           `json:"snapshot_start,omitempty"`
	Passed        bool             `json:"passed"`
	Indices       []drill.Check    `json:"indices"`
	Skipped       []drill.Skipped  `json:"skipped"`
	CountsOmitted int              `json:"counts_omitted,omitempty"`
	Disk          *drill.DiskCheck `json:"disk,omitempty"`
	Bytes         int64            `json:"bytes"`
	Seconds       float64          `json:"seconds"`
	// BytesPerSecond is the measured recovery rate: restored bytes over
	// the time from the restore request to recovery done.
	BytesPerSecond float64 `json:"bytes_per_second"`
	// CleanedUp are leftovers of an earlier drill deleted before this one.
	CleanedUp []string `json:"cleaned_up"`
	// Deleted are this drill's own indices, deleted after verification.
	Deleted []string `json:"deleted"`
}

// DrillOps are the calls the restore drill makes: the handler sees the
// domain through them alone, and a test fake implements just these.
type DrillOps interface {
	ListSnapshots(ctx context.Context, repo string, metadataKeys ...string) ([]model.Snapshot, error)
	GetSnapshot(ctx context.Context, repo, name string) (model.Snapshot, error)
	SnapshotIndexSizes(ctx context.Context, repo, name string) (map[string]int64, error)
	Disk(ctx context.Context) ([]engine.NodeDisk, error)
	LowWatermark(ctx context.Context) (string, error)
	Indices(ctx context.Context, pattern string) (map[string]engine.IndexState, error)
	Restore(ctx context.Context, repo, name string, opt engine.RestoreOptions) (engine.RestoreResult, error)
	RestoreStatus(ctx context.Context, targets []string) (engine.RestoreProgress, error)
	DeleteIndices(ctx context.Context, names []string) error
}

// Drill is the restore-drill handler: it proves that a snapshot restores
// and measures the time to recover.
type Drill struct{ Deps }

// drillPoll is the first wait between recovery polls; it doubles to drillPollMax.
const (
	drillPoll    = 500 * time.Millisecond
	drillPollMax = 5 * time.Second
	// drillMargin is kept before the Lambda deadline to verify and clean up.
	drillMargin = 30 * time.Second
)

// Invoke runs one drill. Every failure after validation publishes
// RestoreDrillFailed, so the stack's alarm sees a drill that could not run
// as surely as one whose restore lost documents.
func (h Drill) Invoke(ctx context.Context, raw json.RawMessage) (DrillResult, error) {
	c := LoadDrillConfig(h.Getenv, raw)
	if err := c.Validate(); err != nil {
		return DrillResult{}, err
	}
	ops, err := connect[DrillOps](ctx, h.Deps, c.Domain)
	if err != nil {
		return DrillResult{}, err
	}
	res := DrillResult{Repository: c.Repository, Indices: []drill.Check{}, Skipped: []drill.Skipped{}, CleanedUp: []string{}, Deleted: []string{}}
	err = h.run(ctx, ops, c, &res)
	if err != nil {
		h.publish(c.Repository, map[string]float64{metrics.RestoreDrillFailed: 1})
		return res, h.fail(ctx, "drill", err)
	}
	h.publish(c.Repository, map[string]float64{metrics.RestoreDrillSucceeded: 1, metrics.RestoreDrillSeconds: res.Seconds, metrics.RestoreDrillBytesPerSecond: res.BytesPerSecond})
	h.Log.InfoContext(ctx, "drill passed", "repository", res.Repository, "snapshot", res.Snapshot, "indices", len(res.Indices), "bytes", res.Bytes, "seconds", res.Seconds)
	return res, nil
}

// run is the drill after validation; res fills as it goes, so a failure
// still reports what was done.
func (h Drill) run(ctx context.Context, ops DrillOps, c DrillConfig, res *DrillResult) error {
	snap, err := h.drillSnapshot(ctx, ops, c)
	if err != nil {
		return err
	}
	res.Snapshot = snap.Name
	if !snap.Start.IsZero() {
		res.SnapshotStart = snap.Start.UTC().Format("2006-01-02T15:04:05Z")
	}
	recorded, omitted, _ := drill.RecordedCounts(snap.Metadata[model.OriginMetadataKey])
	res.CountsOmitted = omitted
	plan, err := snapshot.PlanRestore(snap.Indices, c.Indices, false, nil, nil)
	if err != nil {
		return failure.Validation("drill", []string{fmt.Sprintf("snapshot %s/%s: %v", c.Repository, snap.Name, err)})
	}
	sizes, err := ops.SnapshotIndexSizes(ctx, c.Repository, snap.Name)
	if err != nil {
		return err
	}
	take, skipped, need := drill.Sample(plan.Sources(), sizes, recorded, c.MaxBytes)
	if skipped != nil {
		res.Skipped = skipped
	}
	if len(take) == 0 {
		return failure.Validation("drill", []string{fmt.Sprintf("snapshot %s/%s: nothing to restore: indices %s select no non-system index of it, or none fits max_bytes %d (%d skipped); the drill proves nothing without one", c.Repository, snap.Name, quoteAll(c.Indices), c.MaxBytes, len(skipped))})
	}

	// Leftovers of a drill that died go first: they hold disk, and their
	// names may be today's.
	if res.CleanedUp, err = h.deleteOwned(ctx, ops); err != nil {
		return fmt.Errorf("drill: delete the leftovers of an earlier drill: %w", err)
	}

	if res.Disk, err = checkDrillDisk(ctx, ops, need); err != nil {
		return err
	}

	now := h.Clock.Now()
	rn, err := snapshot.Rename{Prefix: drill.TargetPrefix(now)}.Compile()
	if err != nil {
		return failure.Validation("drill", []string{err.Error()})
	}
	started := h.Clock.Now()
	rr, err := ops.Restore(ctx, c.Repository, snap.Name, engine.RestoreOptions{
		Indices: take, Rename: rn, IndexSettings: map[string]any{"index.number_of_replicas": 0},
	})
	targets := rr.Targets()
	// From here on, the drill's own indices exist (or may): delete them
	// whatever happens, with time of their own after a cancellation.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		deleted, derr := h.deleteOwned(cctx, ops)
		if derr != nil {
			h.Log.WarnContext(ctx, "drill: could not delete its indices; the next drill deletes them first", "error", derr.Error())
			return
		}
		res.Deleted = deleted
	}()
	if err != nil {
		return err
	}
	prog, err := h.waitRecovery(ctx, ops, targets, c.MaxWaitSeconds)
	elapsed := h.Clock.Now().Sub(started)
	if err != nil {
		return err
	}
	res.Seconds = elapsed.Seconds()
	res.Bytes = prog.Bytes
	if res.Seconds > 0 {
		res.BytesPerSecond = float64(res.Bytes) / res.Seconds
	}
	byTarget := map[string]engine.IndexProgress{}
	for _, ip := range prog.Indices {
		byTarget[ip.Index] = ip
	}
	var failed []string
	// The restored counts are _cat/indices docs.count after recovery
	// finished (RestoreStatus), the column take-snapshot recorded.
	for _, m := range rr.Indices {
		chk := drill.Judge(m.Source, m.Target, byTarget[m.Target].Health, byTarget[m.Target].Docs, recorded)
		chk.Bytes = byTarget[m.Target].RecoveredBytes
		res.Indices = append(res.Indices, chk)
		if !chk.Passed {
			failed = append(failed, fmt.Sprintf("%s (%s)", m.Source, chk.Reason))
		}
	}
	if len(failed) > 0 {
		return failure.Verification(fmt.Sprintf("drill of %s/%s failed: %d of %d restored indices do not hold what was recorded: %s", c.Repository, snap.Name, len(failed), len(res.Indices), strings.Join(failed, "; ")))
	}
	res.Passed = true
	return nil
}

// drillSnapshot finds the snapshot to drill: a named one, or the newest
// SUCCESS snapshot of the policy (model.Newest), read in full.
func (h Drill) drillSnapshot(ctx context.Context, ops DrillOps, c DrillConfig) (model.Snapshot, error) {
	name := c.Snapshot
	if name == "latest" {
		snaps, err := ops.ListSnapshots(ctx, c.Repository, model.PolicyMetadataKey)
		if err != nil {
			return model.Snapshot{}, err
		}
		newest, ok := model.Newest(snaps, func(s model.Snapshot) bool {
			return model.Succeeded(s) && (c.PolicyID == "" || s.Metadata[model.PolicyMetadataKey] == c.PolicyID)
		})
		if !ok {
			return model.Snapshot{}, &esclient.APIError{Method: http.MethodGet, Path: esclient.Path("_snapshot", c.Repository, "_all"), Status: http.StatusNotFound, Source: esclient.SourceEngine, Type: "snapshot_missing_exception",
				Reason: fmt.Sprintf("repository [%s] has no SUCCESS snapshot of policy %q (%d snapshots in all); take one, or name one with \"snapshot\"", c.Repository, c.PolicyID, len(snaps))}
		}
		name = newest.Name
	}
	snap, err := ops.GetSnapshot(ctx, c.Repository, name)
	if err != nil {
		return snap, err
	}
	if snap.State != model.StateSuccess {
		return snap, failure.SnapshotFailed(fmt.Sprintf("drill: snapshot %s/%s is %s; only a SUCCESS snapshot is drilled", c.Repository, snap.Name, snap.State))
	}
	return snap, nil
}

// checkDrillDisk refuses a sample that would not fit below the low watermark.
func checkDrillDisk(ctx context.Context, ops DrillOps, need int64) (*drill.DiskCheck, error) {
	disk, err := ops.Disk(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := ops.LowWatermark(ctx)
	if err != nil {
		return nil, err
	}
	wm, err := drill.ParseWatermark(raw)
	if err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	nodes := make([]drill.Node, len(disk))
	for i, d := range disk {
		nodes[i] = drill.Node{Node: d.Node, Total: d.Total, Avail: d.Avail}
	}
	chk, err := drill.CheckDisk(nodes, wm, need)
	if err != nil {
		return &chk, failure.InsufficientStorage("drill refused: " + err.Error())
	}
	return &chk, nil
}

// deleteOwned deletes every index the drill owns (drill.Owned), by exact
// name, and returns their names. Listing narrows by prefix; the filter
// alone decides.
func (h Drill) deleteOwned(ctx context.Context, ops DrillOps) ([]string, error) {
	have, err := ops.Indices(ctx, drill.Prefix+"*")
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(have))
	for n := range have {
		names = append(names, n)
	}
	own := drill.Leftovers(names)
	sort.Strings(own)
	if len(own) == 0 {
		return []string{}, nil
	}
	if err := ops.DeleteIndices(ctx, own); err != nil {
		return nil, err
	}
	return own, nil
}

// missingPolls is how many polls may find the restored indices not yet
// created before that is an error.
const missingPolls = 25

// waitRecovery polls restore progress until every target recovered (or
// one is red), within maxWait seconds and the invocation's deadline.
func (h Drill) waitRecovery(ctx context.Context, ops DrillOps, targets []string, maxWait int) (engine.RestoreProgress, error) {
	deadline := h.Clock.Now().Add(time.Duration(maxWait) * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-drillMargin).Before(deadline) {
		deadline = dl.Add(-drillMargin)
	}
	wait := drillPoll
	for polls := 1; ; polls++ {
		p, err := ops.RestoreStatus(ctx, targets)
		// The restore is asynchronous: its indices can be missing from the
		// cluster state for the first polls (seen on OpenSearch 3.5).
		if errors.Is(err, engine.ErrIndexMissing) && polls < missingPolls {
			if err := h.sleep(ctx, drillPoll); err != nil {
				return p, err
			}
			continue
		}
		if err != nil {
			return p, err
		}
		if len(p.Failed) > 0 {
			return p, failure.Verification(fmt.Sprintf("drill: restored indices %s are red after recovery: a shard of the snapshot did not restore", strings.Join(p.Failed, ", ")))
		}
		if p.Done {
			return p, nil
		}
		if h.Clock.Now().Add(wait).After(deadline) {
			return p, failure.Verification(fmt.Sprintf("drill: recovery of %d indices did not finish in time (%d of %d bytes recovered); the time to recover exceeds the function's budget: lower max_bytes or raise max_wait_seconds and the function timeout", len(targets), p.Bytes, totalBytes(p)))
		}
		if err := h.sleep(ctx, wait); err != nil {
			return p, err
		}
		if wait *= 2; wait > drillPollMax {
			wait = drillPollMax
		}
	}
}

func totalBytes(p engine.RestoreProgress) int64 {
	var t int64
	for _, ip := range p.Indices {
		t += ip.TotalBytes
	}
	return t
}
