package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/ledger"
	"github.com/essnap/essnap/pkg/metrics"
	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/snapshot"
)

// ProgressConfig is check-progress's configuration: a snapshot to follow
// (repository + snapshot) or restored indices to follow (indices).
type ProgressConfig struct {
	Domain
	Repository string   `json:"repository" env:"REPOSITORY"`
	Snapshot   string   `json:"snapshot"`
	Indices    []string `json:"indices"`
	// WaitSeconds polls inside the invocation (every PollInterval) up to
	// this long and answers as soon as the work is done, so a workflow is
	// not late by a Wait state's whole seconds; 0 reads once.
	WaitSeconds int `json:"wait_seconds"`
	// Migration (the workflow's polls) follows the restore of the indices
	// the migration's ledger on this domain moves by snapshot, instead of
	// indices; either way its answer then leaves the index lists out.
	Migration string `json:"migration"`
	errs      problems
	set       map[string]bool
}

// LoadProgressConfig applies defaults, environment and event, in that order.
func LoadProgressConfig(getenv func(string) string, raw []byte) ProgressConfig {
	c := ProgressConfig{Repository: "essnap"}
	var l config.Loaded
	c.errs, l = load(&c, getenv, raw)
	c.set = l.Set
	return c
}

// Validate reports every problem at once.
func (c ProgressConfig) Validate() error {
	p := append(problems(nil), c.errs...)
	c.Domain.validate(&p)
	snap := c.set["snapshot"]
	if c.Migration != "" {
		if err := ledger.ValidateName(c.Migration); err != nil {
			p.add("%v", err)
		}
		if len(c.Indices) > 0 {
			p.add("indices and migration are both given; with migration the ledger names the restored indices: leave indices out")
		}
	}
	switch {
	case !snap && len(c.Indices) == 0 && c.Migration == "":
		p.add("give either snapshot (with repository) to follow a snapshot, or indices to follow a restore")
	case snap && len(c.Indices) > 0:
		p.add("give snapshot or indices, not both")
	case snap:
		if err := snapshot.ValidateRepositoryName("repository", c.Repository); err != nil {
			p.add("%v", err)
		}
		if err := snapshot.ValidateName("snapshot", c.Snapshot); err != nil {
			p.add("%v", err)
		}
	}
	for i, ix := range c.Indices {
		if err := snapshot.ValidateIndexPattern(fmt.Sprintf("indices[%d]", i), ix); err != nil {
			p.add("%v", err)
		}
	}
	validWait(&p, "wait_seconds", c.WaitSeconds)
	if len(p) > 0 {
		return failure.Validation("check-progress", p)
	}
	return nil
}

// ProgressResult answers one poll. Done is the loop's exit condition.
type ProgressResult struct {
	Done     bool                    `json:"done"`
	Snapshot *engine.Progress        `json:"snapshot,omitempty"`
	Restore  *engine.RestoreProgress `json:"restore,omitempty"`
	// Polls is how many reads this invocation made (wait_seconds).
	Polls int `json:"polls"`
}

// CheckProgressOps are the calls check-progress makes: the handler sees
// the domain through them alone, and a test fake implements just these.
type CheckProgressOps interface {
	Status(ctx context.Context, repo, name string) (engine.Progress, error)
	RestoreStatus(ctx context.Context, targets []string) (engine.RestoreProgress, error)
}

// CheckProgress is the check-progress handler, for Wait loops and operators.
type CheckProgress struct{ Deps }

// Invoke reads progress once. A PARTIAL or FAILED snapshot is an error
// (SnapshotFailedError) so a workflow stops instead of restoring it.
func (h CheckProgress) Invoke(ctx context.Context, raw json.RawMessage) (ProgressResult, error) {
	c := LoadProgressConfig(h.Getenv, raw)
	if err := c.Validate(); err != nil {
		return ProgressResult{}, err
	}
	ops, err := connect[CheckProgressOps](ctx, h.Deps, c.Domain)
	if err != nil {
		return ProgressResult{}, err
	}
	repo := c.Repository
	wait := time.Duration(c.WaitSeconds) * time.Second
	if c.Snapshot != "" {
		var p engine.Progress
		polls, err := h.poll(ctx, wait, func() (bool, error) {
			var err error
			p, err = ops.Status(ctx, repo, c.Snapshot)
			return p.State != model.StateInProgress, err
		})
		if err != nil {
			return ProgressResult{}, h.fail(ctx, "check-progress", err)
		}
		out := ProgressResult{Snapshot: &p, Done: p.State != model.StateInProgress, Polls: polls}
		if c.Migration != "" {
			// The snapshot holds the lists; the execution's payload stays small.
			p.Indices, p.Failures, p.Metadata = nil, firstFailures(p.Failures), nil
		}
		if p.State == model.StatePartial || p.State == model.StateFailed || p.State == model.StateIncompatible {
			return out, h.fail(ctx, "check-progress", failure.SnapshotFailed("snapshot "+repo+"/"+p.Name+" ended "+p.State+firstFailure(p.Failures)))
		}
		return out, nil
	}
	targets := c.Indices
	var b *book
	var docs []*bookIndex
	if c.Migration != "" {
		if b, err = openBook(ctx, h.Deps, c.Domain, c.Migration); err == nil {
			docs, err = b.indices(ctx, engine.LedgerQuery{Method: string(migrate.Snapshot)})
		}
		if err != nil {
			return ProgressResult{}, h.fail(ctx, "check-progress", err)
		}
		targets = make([]string, len(docs))
		for i, d := range docs {
			targets[i] = d.Target
		}
	}
	var r engine.RestoreProgress
	polls, err := h.poll(ctx, wait, func() (bool, error) {
		var err error
		r, err = ops.RestoreStatus(ctx, targets)
		return r.Done, err
	})
	if err != nil {
		return ProgressResult{}, h.fail(ctx, "check-progress", err)
	}
	if b != nil {
		done := 0
		for _, ip := range r.Indices {
			if ip.Shards > 0 && ip.ShardsDone == ip.Shards {
				done++
			}
		}
		h.publish(c.Migration, map[string]float64{metrics.MigrationIndicesDone: float64(done), metrics.MigrationIndicesTotal: float64(len(targets)),
			metrics.MigrationBytesCopied: float64(r.Bytes), metrics.MigrationDocumentsCopied: float64(r.Docs)})
		if r.Done {
			for _, d := range docs {
				d.Finished = true
			}
			if err := b.save(ctx, docs); err != nil {
				return ProgressResult{}, h.fail(ctx, "check-progress", err)
			}
		}
		r.Indices = nil
		if len(r.Failed) > 20 {
			r.Failed = append(r.Failed[:20], fmt.Sprintf("and %d more", len(r.Failed)-20))
		}
	}
	return ProgressResult{Restore: &r, Done: r.Done, Polls: polls}, nil
}
