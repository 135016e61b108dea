package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/ledger"
	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/snapshot"
)

// validateReplicas checks the restore action "replicas" fields.
func (c RestoreConfig) validateReplicas(p *problems) {
	if len(c.Replicas) == 0 {
		p.add("action replicas needs replicas, an object of index name to number_of_replicas, e.g. {\"logs-a-restored\": 1}")
	}
	for ix, n := range c.Replicas {
		if err := snapshot.ValidateIndexPattern("replicas key", ix); err != nil {
			p.add("%v", err)
		}
		if n < 0 || n > 100 {
			p.add("replicas[%q] %d must be between 0 and 100", ix, n)
		}
	}
}

// setReplicas is the migration's replica step (restore action
// "replicas"): after verification, each restored index gets its source's
// number_of_replicas back; the call then polls health up to wait_seconds
// until every index is green, or yellow where the domain has too few data
// nodes for its replicas (engine.ExpectedHealth). Done false asks the
// caller (a Wait loop) to call again; repeating it is safe.
func (h Restore) setReplicas(ctx context.Context, c RestoreConfig) (engine.RestoreResult, error) {
	started := c.replicasStarted(h.Clock.Now())
	ops, err := connect[RestoreOps](ctx, h.Deps, c.Domain)
	if err != nil {
		return engine.RestoreResult{}, err
	}
	st, err := h.applyReplicas(ctx, ops, c.Replicas, c.WaitSeconds)
	if err != nil {
		return engine.RestoreResult{}, h.fail(ctx, "restore", err)
	}
	st.StartedAt = started.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	st.Seconds = h.Clock.Now().Sub(started).Seconds()
	h.Log.InfoContext(ctx, "replicas", "indices", len(st.Indices), "done", st.Done, "polls", st.Polls, "seconds", st.Seconds)
	return engine.RestoreResult{Repository: c.Repository, Replicas: &st}, nil
}

// replicasStarted is when the replica step began: started_at from an
// earlier call of the loop, or now.
func (c RestoreConfig) replicasStarted(now time.Time) time.Time {
	if c.StartedAt != "" {
		if t, err := time.Parse(time.RFC3339Nano, c.StartedAt); err == nil {
			return t
		}
	}
	return now
}

// applyReplicas sets the replica counts and polls health up to wait
// seconds; an index that does not exist is a ValidationError.
func (h Restore) applyReplicas(ctx context.Context, ops RestoreOps, want map[string]int, wait int) (engine.ReplicasResult, error) {
	if err := ops.SetReplicas(ctx, want); err != nil {
		return engine.ReplicasResult{}, err
	}
	var st engine.ReplicasResult
	polls, err := h.poll(ctx, time.Duration(wait)*time.Second, func() (bool, error) {
		var err error
		st, err = ops.ReplicaStatus(ctx, want)
		return st.Done, err
	})
	if err != nil {
		return engine.ReplicasResult{}, err
	}
	for _, ix := range st.Indices {
		if ix.Status == "missing" {
			return engine.ReplicasResult{}, failure.Validation("restore", []string{"replicas: index " + ix.Index + " does not exist on the domain"})
		}
	}
	st.Polls = polls
	return st, nil
}

// RestoreConfig is restore's configuration; each field is declared once
// (json: event field, env: ESSNAP_ variable; the rename fields in
// snapshot.Rename). {} restores every non-system index of the newest
// SUCCESS snapshot under its own name, and refuses if any exists.
type RestoreConfig struct {
	Domain
	Repository string   `json:"repository" env:"REPOSITORY"`
	Snapshot   string   `json:"snapshot"`
	Indices    []string `json:"indices"`
	snapshot.Rename
	IndexSettings        map[string]any `json:"index_settings"`
	IgnoreIndexSettings  []string       `json:"ignore_index_settings"`
	IncludeAliases       bool           `json:"include_aliases"`
	IncludeGlobalState   bool           `json:"include_global_state"`
	IncludeSystemIndices bool           `json:"include_system_indices"`
	Partial              bool           `json:"partial"`
	DryRun               bool           `json:"dry_run"`
	// Action "replicas" is the migration's replica step (poll.go): it sets
	// Replicas (index -> number_of_replicas) and waits up to WaitSeconds
	// for health; StartedAt carries the step's start across a Wait loop.
	Action      string         `json:"action"`
	Replicas    map[string]int `json:"replicas"`
	StartedAt   string         `json:"started_at"`
	WaitSeconds int            `json:"wait_seconds"`
	// Migration (the workflow's restore and replica steps) takes the
	// indices, and for action replicas the replica counts, from the
	// migration's ledger on this domain, in batches; the answer then leaves
	// the lists out.
	Migration string `json:"migration"`
	errs      problems
}

// LoadRestoreConfig applies defaults, environment and event, in that order.
func LoadRestoreConfig(getenv func(string) string, raw []byte) RestoreConfig {
	c := RestoreConfig{Repository: "essnap", Snapshot: "latest", Action: "restore"}
	var l config.Loaded
	c.errs, l = load(&c, getenv, raw)
	// A rename in the event replaces the environment's default suffix as a
	// whole: an event pattern never combines with ESSNAP_RESTORE_RENAME_SUFFIX.
	var fromEvent snapshot.Rename
	for _, f := range []struct {
		path string
		dst  *string
		val  string
	}{
		{"rename_pattern", &fromEvent.Pattern, c.Pattern}, {"rename_replacement", &fromEvent.Replacement, c.Replacement},
		{"rename_prefix", &fromEvent.Prefix, c.Prefix}, {"rename_suffix", &fromEvent.Suffix, c.Suffix},
	} {
		if l.Event[f.path] {
			*f.dst = f.val
		}
	}
	if fromEvent != (snapshot.Rename{}) {
		c.Rename = fromEvent
	}
	return c
}

// Validate reports every problem at once and compiles the rename.
func (c RestoreConfig) Validate() (*snapshot.Renamer, error) {
	p := append(problems(nil), c.errs...)
	c.Domain.validate(&p)
	if err := snapshot.ValidateRepositoryName("repository", c.Repository); err != nil {
		p.add("%v", err)
	}
	if c.Snapshot != "latest" && c.Snapshot != "" {
		if err := snapshot.ValidateName("snapshot", c.Snapshot); err != nil {
			p.add("%v (or use \"latest\" for the newest SUCCESS snapshot)", err)
		}
	}
	for i, ix := range c.Indices {
		if err := snapshot.ValidateIndexPattern(fmt.Sprintf("indices[%d]", i), ix); err != nil {
			p.add("%v", err)
		}
	}
	rn, err := c.Rename.Compile()
	if err != nil {
		p.add("%v", err)
	}
	for k := range c.IndexSettings {
		if len(k) < 6 || k[:6] != "index." {
			p.add("index_settings key %q must be a full index setting name such as index.number_of_replicas", config.Short(k))
		}
	}
	switch c.Action {
	case "restore":
		if len(c.Replicas) > 0 || c.StartedAt != "" {
			p.add("replicas and started_at are for action replicas")
		}
	case "replicas":
		if c.Migration == "" {
			c.validateReplicas(&p)
		} else if len(c.Replicas) > 0 {
			p.add("replicas and migration are both given; with migration the ledger holds the replica counts: leave replicas out")
		}
		if c.StartedAt != "" {
			if _, err := time.Parse(time.RFC3339Nano, c.StartedAt); err != nil {
				p.add("started_at %q is not an RFC 3339 time (e.g. 2026-11-30T09:00:00.000Z)", config.Short(c.StartedAt))
			}
		}
	default:
		p.add("action %q is not supported; use restore or replicas", config.Short(c.Action))
	}
	validWait(&p, "wait_seconds", c.WaitSeconds)
	if c.Migration != "" {
		if err := ledger.ValidateName(c.Migration); err != nil {
			p.add("%v", err)
		}
		if len(c.Indices) > 0 {
			p.add("indices and migration are both given; with migration the ledger names the indices: leave indices out")
		}
	}
	if c.IncludeGlobalState && c.IncludeSystemIndices {
		p.add("include_global_state with include_system_indices would overwrite the domain's security and dashboards configuration; on domains with fine-grained access control both fail; set at most one")
	}
	if len(p) > 0 {
		return nil, failure.Validation("restore", p)
	}
	return rn, nil
}

// RestoreOps are the calls restore makes, with the migration's replica
// step: the handler sees the domain through them alone.
type RestoreOps interface {
	Restore(ctx context.Context, repo, name string, opt engine.RestoreOptions) (engine.RestoreResult, error)
	SetReplicas(ctx context.Context, want map[string]int) error
	ReplicaStatus(ctx context.Context, want map[string]int) (engine.ReplicasResult, error)
}

// Restore is the restore handler.
type Restore struct{ Deps }

// Invoke plans, pre-flights and starts the restore (non-blocking).
func (h Restore) Invoke(ctx context.Context, raw json.RawMessage) (engine.RestoreResult, error) {
	c := LoadRestoreConfig(h.Getenv, raw)
	rn, err := c.Validate()
	if err != nil {
		return engine.RestoreResult{}, err
	}
	if c.Action == "replicas" {
		if c.Migration != "" {
			return h.migrationReplicas(ctx, c)
		}
		return h.setReplicas(ctx, c)
	}
	ops, err := connect[RestoreOps](ctx, h.Deps, c.Domain)
	if err != nil {
		return engine.RestoreResult{}, err
	}
	if c.Migration != "" {
		b, err := openBook(ctx, h.Deps, c.Domain, c.Migration)
		if err != nil {
			return engine.RestoreResult{}, h.fail(ctx, "restore", err)
		}
		if c.Indices, err = b.sources(ctx, migrate.Snapshot); err != nil {
			return engine.RestoreResult{}, h.fail(ctx, "restore", err)
		}
		if err := b.update(ctx, func(m *ledger.Migration) { m.Phase = ledger.PhaseRestore }); err != nil {
			return engine.RestoreResult{}, h.fail(ctx, "restore", err)
		}
	}
	res, err := ops.Restore(ctx, c.Repository, c.Snapshot, engine.RestoreOptions{
		Indices: c.Indices, Rename: rn, IndexSettings: c.IndexSettings, IgnoreIndexSettings: c.IgnoreIndexSettings,
		IncludeAliases: c.IncludeAliases, IncludeGlobalState: c.IncludeGlobalState, IncludeSystem: c.IncludeSystemIndices,
		Partial: c.Partial, DryRun: c.DryRun,
	})
	if err != nil {
		var ae *esclient.APIError
		if errors.As(err, &ae) {
			if msg, ok := migrate.TooOldToRestore(ae.Reason, ae.CausedBy, res.Sources()); ok {
				err = failure.VersionMismatchCause(fmt.Sprintf("restore %s/%s: %s", c.Repository, res.Snapshot, msg), err)
			}
		}
		return res, h.fail(ctx, "restore", err)
	}
	h.Log.InfoContext(ctx, "restore", "repository", res.Repository, "snapshot", res.Snapshot, "indices", len(res.Indices), "accepted", res.Accepted, "dry_run", res.DryRun)
	if c.Migration != "" {
		// The ledger names the indices; the execution's payload stays small.
		res.Count, res.RestorePlan = len(res.Indices), snapshot.RestorePlan{}
	}
	return res, nil
}

// migrationReplicas is the replica step of a migration the ledger holds:
// one batch of indices whose replicas are not back yet gets its source's
// number_of_replicas, and the call polls their health up to wait_seconds;
// once they are as healthy as the domain allows, the ledger records them
// and the answer says how many remain. The loop calls until none do.
func (h Restore) migrationReplicas(ctx context.Context, c RestoreConfig) (engine.RestoreResult, error) {
	started := c.replicasStarted(h.Clock.Now())
	ops, err := connect[RestoreOps](ctx, h.Deps, c.Domain)
	if err != nil {
		return engine.RestoreResult{}, err
	}
	b, err := openBook(ctx, h.Deps, c.Domain, c.Migration)
	if err != nil {
		return engine.RestoreResult{}, h.fail(ctx, "restore", err)
	}
	if b.mig.Phase != ledger.PhaseReplicas {
		if err := b.update(ctx, func(m *ledger.Migration) { m.Phase = ledger.PhaseReplicas }); err != nil {
			return engine.RestoreResult{}, h.fail(ctx, "restore", err)
		}
	}
	docs, err := b.batch(ctx, engine.LedgerQuery{ReplicasUnset: true}, replicaBatch)
	if err != nil {
		return engine.RestoreResult{}, h.fail(ctx, "restore", err)
	}
	st := engine.ReplicasResult{Done: true}
	want := make(map[string]int, len(docs))
	for _, d := range docs {
		if d.Item != nil && d.Item.Existing {
			// The poller's own index (pull into an existing one): its
			// settings are not essnap's to change.
			d.ReplicasSet = true
			continue
		}
		want[d.Target] = d.Replicas
	}
	if len(want) == 0 {
		if err := b.save(ctx, docs); err != nil {
			return engine.RestoreResult{}, h.fail(ctx, "restore", err)
		}
	} else {
		if st, err = h.applyReplicas(ctx, ops, want, c.WaitSeconds); err != nil {
			return engine.RestoreResult{}, h.fail(ctx, "restore", fmt.Errorf("migration %s: %w", c.Migration, err))
		}
		if st.Done {
			for _, d := range docs {
				d.ReplicasSet = true
			}
			if err := b.save(ctx, docs); err != nil {
				return engine.RestoreResult{}, h.fail(ctx, "restore", err)
			}
		}
		st.Indices = nil
	}
	if st.Remaining, err = b.count(ctx, engine.LedgerQuery{ReplicasUnset: true}); err != nil {
		return engine.RestoreResult{}, h.fail(ctx, "restore", err)
	}
	st.Done = st.Done && st.Remaining == 0
	if st.Done {
		// The last step of the workflow: the migration is complete.
		if err := b.update(ctx, func(m *ledger.Migration) { m.Status, m.Phase = ledger.Succeeded, ledger.PhaseDone }); err != nil {
			return engine.RestoreResult{}, h.fail(ctx, "restore", err)
		}
	}
	st.StartedAt = started.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	st.Seconds = h.Clock.Now().Sub(started).Seconds()
	h.Log.InfoContext(ctx, "replicas", "migration", c.Migration, "batch", len(docs), "done", st.Done, "polls", st.Polls, "seconds", st.Seconds)
	return engine.RestoreResult{Repository: c.Repository, Replicas: &st}, nil
}

// replicaBatch bounds the indices one replica invocation sets and waits for.
const replicaBatch = 200
