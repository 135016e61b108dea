package handler

import (
	"context"
	"encoding/json"

	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/snapshot"
)

// ProgressEvent is check-progress's input: a snapshot to follow
// (repository + snapshot) or restored indices to follow (indices).
type ProgressEvent struct {
	domainFields
	Repository *string  `json:"repository"`
	Snapshot   *string  `json:"snapshot"`
	Indices    []string `json:"indices"`
}

// ProgressResult answers one poll. Done is the loop's exit condition.
type ProgressResult struct {
	Done     bool                      `json:"done"`
	Snapshot *snapshot.Progress        `json:"snapshot,omitempty"`
	Restore  *snapshot.RestoreProgress `json:"restore,omitempty"`
}

// CheckProgress is the check-progress handler, for Wait loops and operators.
type CheckProgress struct{ Deps }

// Invoke reads progress once. A PARTIAL or FAILED snapshot is an error
// (SnapshotFailedError) so a workflow stops instead of restoring it.
func (h CheckProgress) Invoke(ctx context.Context, raw json.RawMessage) (ProgressResult, error) {
	var ev ProgressEvent
	if err := decodeEvent(raw, &ev); err != nil {
		return ProgressResult{}, err
	}
	var dc domainConfig
	var errs problems
	dc.fromEnv(env{get: h.Getenv, errs: &errs})
	dc.fromEvent(ev.domainFields)
	repo := "essnap"
	env{get: h.Getenv, errs: &errs}.str("ESSNAP_REPOSITORY", &repo)
	set(&repo, ev.Repository)
	dc.validate(&errs)
	switch {
	case ev.Snapshot == nil && len(ev.Indices) == 0:
		errs.add("give either snapshot (with repository) to follow a snapshot, or indices to follow a restore")
	case ev.Snapshot != nil && len(ev.Indices) > 0:
		errs.add("give snapshot or indices, not both")
	case ev.Snapshot != nil:
		if err := snapshot.ValidateName("snapshot", *ev.Snapshot); err != nil {
			errs.add("%v", err)
		}
	}
	if len(errs) > 0 {
		return ProgressResult{}, failure.Validation("check-progress", errs)
	}
	ops, err := h.connect(ctx, dc.Domain)
	if err != nil {
		return ProgressResult{}, err
	}
	if ev.Snapshot != nil {
		p, err := ops.Status(ctx, repo, *ev.Snapshot)
		if err != nil {
			return ProgressResult{}, h.fail(ctx, "check-progress", err)
		}
		out := ProgressResult{Snapshot: &p, Done: p.State != snapshot.StateInProgress}
		if p.State == snapshot.StatePartial || p.State == snapshot.StateFailed || p.State == snapshot.StateIncompatible {
			return out, h.fail(ctx, "check-progress", failure.SnapshotFailed("snapshot "+repo+"/"+p.Snapshot+" ended "+p.State+firstFailure(p.Failures)))
		}
		return out, nil
	}
	r, err := ops.RestoreStatus(ctx, ev.Indices)
	if err != nil {
		return ProgressResult{}, h.fail(ctx, "check-progress", err)
	}
	return ProgressResult{Restore: &r, Done: r.Done}, nil
}
