package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/snapshot"
)

// VerifyConfig is verify's configuration: both domains, the strategy, the
// index mapping the pre-flight planned, and figures the workflow collected.
type VerifyConfig struct {
	Source     Domain                  `json:"source"`
	Target     Domain                  `json:"target" envprefix:"TARGET_"`
	Strategy   string                  `json:"strategy" env:"MIGRATION_STRATEGY"`
	Indices    []snapshot.IndexMapping `json:"indices"`
	Snapshot   VerifySnapshot          `json:"snapshot"`
	StartedAt  string                  `json:"started_at"`
	MaxIDCheck int64                   `json:"max_id_check"`
	errs       problems
	started    time.Time
}

// VerifySnapshot is the part of the snapshot's final progress the report uses.
type VerifySnapshot struct {
	Name    string `json:"name"`
	StartMs int64  `json:"start_ms"`
	EndMs   int64  `json:"end_ms"`
	Bytes   int64  `json:"bytes"`
}

// LoadVerifyConfig applies defaults, environment and event, in that order.
func LoadVerifyConfig(getenv func(string) string, raw []byte) VerifyConfig {
	c := VerifyConfig{Strategy: migrate.Push, MaxIDCheck: 1_000_000}
	c.errs, _ = load(&c, getenv, raw)
	if c.StartedAt != "" {
		t, err := time.Parse(time.RFC3339, c.StartedAt)
		if err != nil {
			c.errs.add("started_at %q is not an RFC 3339 time such as 2026-11-24T03:00:00Z", c.StartedAt)
		}
		c.started = t
	}
	return c
}

// Validate reports every problem at once.
func (c VerifyConfig) Validate() error {
	p := append(problems(nil), c.errs...)
	validateDomains(&p, c.Source, c.Target)
	if c.Strategy != migrate.Push && c.Strategy != migrate.Pull {
		p.add("strategy %q is unknown; use push or pull", c.Strategy)
	}
	if len(c.Indices) == 0 {
		p.add("indices is empty; give the pre-flight's mapping [{\"source\":...,\"target\":...}]")
	}
	for i, m := range c.Indices {
		if m.Source == "" || m.Target == "" {
			p.add("indices[%d] needs both source and target", i)
			continue
		}
		for _, name := range []string{m.Source, m.Target} {
			if err := snapshot.ValidateIndexName(name); err != nil {
				p.add("indices[%d]: %v", i, err)
			}
		}
	}
	if c.MaxIDCheck < 0 {
		p.add("max_id_check %d must be >= 0 (0 compares counts only)", c.MaxIDCheck)
	}
	if len(p) > 0 {
		return failure.Validation("verify", p)
	}
	return nil
}

// Report is the migration's final report, the workflow's output.
type Report struct {
	Status    string                 `json:"status"` // verified
	Strategy  string                 `json:"strategy"`
	Snapshot  string                 `json:"snapshot"`
	Indices   []migrate.IndexVerdict `json:"indices"`
	Totals    ReportTotals           `json:"totals"`
	Durations map[string]float64     `json:"durations_seconds"`
	// Compared says in words what was compared, so a report read alone is clear.
	Compared   string `json:"compared"`
	VerifiedAt string `json:"verified_at"`
}

// ReportTotals sums the indices.
type ReportTotals struct {
	Indices       int   `json:"indices"`
	SourceDocs    int64 `json:"source_docs"`
	TargetDocs    int64 `json:"target_docs"`
	TargetBytes   int64 `json:"target_bytes"`
	SnapshotBytes int64 `json:"snapshot_bytes"`
}

// VerifyOps are the calls verify makes, on the source and the target
// alike: all reads, so the interface itself shows verify changes nothing.
type VerifyOps interface {
	RestoreStatus(ctx context.Context, targets []string) (engine.RestoreProgress, error)
	Indices(ctx context.Context, pattern string) (map[string]engine.IndexState, error)
	Count(ctx context.Context, index string) (int64, error)
	DocIDs(ctx context.Context, index string, visit func(ids []string) error) error
}

// Verify is the migration's verification handler; it reads only.
type Verify struct{ Deps }

// Invoke compares every migrated index per migrate.Judge and returns the
// report, or a VerificationError listing every index that differs.
func (h Verify) Invoke(ctx context.Context, raw json.RawMessage) (Report, error) {
	c := LoadVerifyConfig(h.Getenv, raw)
	if err := c.Validate(); err != nil {
		return Report{}, err
	}
	src, tgt, err := bothDomains[VerifyOps](ctx, h.Deps, c.Source, c.Target)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Status: "verified", Strategy: c.Strategy, Snapshot: c.Snapshot.Name, Compared: compared(c.Strategy)}
	// Count first: counting refreshes, so the sizes read afterwards are current.
	counts := make([]migrate.IndexCounts, len(c.Indices))
	for i, m := range c.Indices {
		ic := migrate.IndexCounts{Source: m.Source, Target: m.Target}
		if ic.SourceDocs, err = src.Count(ctx, m.Source); err != nil {
			return rep, h.fail(ctx, "verify", fmt.Errorf("source: %w", err))
		}
		if ic.TargetDocs, err = tgt.Count(ctx, m.Target); err != nil {
			return rep, h.fail(ctx, "verify", fmt.Errorf("target: %w", err))
		}
		if c.Strategy == migrate.Pull && c.MaxIDCheck > 0 && ic.SourceDocs <= c.MaxIDCheck {
			if err := missingIDs(ctx, src, tgt, &ic); err != nil {
				return rep, h.fail(ctx, "verify", err)
			}
		}
		counts[i] = ic
	}
	// The bytes restored come from _recovery: _cat/indices' store.size is
	// cached by the engine (index.store.stats_refresh_interval, 10 s) and
	// was seen as 0 for freshly restored indices holding 2,000 documents.
	restored := map[string]int64{}
	targets := make([]string, len(c.Indices))
	for i, m := range c.Indices {
		targets[i] = m.Target
	}
	if rp, err := tgt.RestoreStatus(ctx, targets); err == nil {
		for _, ip := range rp.Indices {
			restored[ip.Index] = ip.TotalBytes
		}
	}
	tgtIdx, err := tgt.Indices(ctx, "*")
	if err != nil {
		return rep, h.fail(ctx, "verify", fmt.Errorf("target: %w", err))
	}
	var bad []string
	for _, ic := range counts {
		st := tgtIdx[ic.Target]
		ic.TargetHealth, ic.TargetBytes = st.Health, st.Bytes
		if b := restored[ic.Target]; b > 0 {
			ic.TargetBytes = b
		}
		v := migrate.Judge(c.Strategy, ic)
		if !v.OK {
			bad = append(bad, v.Problem)
		}
		rep.Indices = append(rep.Indices, v)
		rep.Totals.Indices++
		rep.Totals.SourceDocs += ic.SourceDocs
		rep.Totals.TargetDocs += ic.TargetDocs
		rep.Totals.TargetBytes += ic.TargetBytes
	}
	rep.Totals.SnapshotBytes = c.Snapshot.Bytes
	now := h.Clock.Now()
	rep.VerifiedAt = now.UTC().Format(time.RFC3339)
	rep.Durations = durations(c.started, c.Snapshot, now)
	if len(bad) > 0 {
		return rep, h.fail(ctx, "verify", failure.Verification(fmt.Sprintf("verify (%s): %d of %d indices differ: %s", c.Strategy, len(bad), len(c.Indices), strings.Join(bad, "; "))))
	}
	h.Log.InfoContext(ctx, "migration verified", "strategy", c.Strategy, "indices", rep.Totals.Indices, "source_docs", rep.Totals.SourceDocs, "target_docs", rep.Totals.TargetDocs)
	return rep, nil
}

// missingIDs reads every source id, then strikes those the target has,
// and counts the target's ids that appear more than once: op_type create
// only checks the shard a document's routing points to, so a poller replay
// that omits a document's custom routing writes a second copy of the same
// _id into another shard (seen on Elasticsearch 7.10 -> OpenSearch 2.19).
func missingIDs(ctx context.Context, src, tgt VerifyOps, ic *migrate.IndexCounts) error {
	want := make(map[string]struct{}, ic.SourceDocs)
	if err := src.DocIDs(ctx, ic.Source, func(ids []string) error {
		for _, id := range ids {
			want[id] = struct{}{}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	seen := make(map[string]struct{}, ic.TargetDocs)
	if err := tgt.DocIDs(ctx, ic.Target, func(ids []string) error {
		for _, id := range ids {
			delete(want, id)
			if _, dup := seen[id]; dup {
				ic.DuplicateIDs++
				if len(ic.Duplicates) < 5 {
					ic.Duplicates = append(ic.Duplicates, id)
				}
				continue
			}
			seen[id] = struct{}{}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	ic.IDsChecked, ic.MissingIDs = true, int64(len(want))
	for id := range want {
		if len(ic.Missing) == 5 {
			break
		}
		ic.Missing = append(ic.Missing, id)
	}
	sort.Strings(ic.Missing)
	return nil
}

// durations splits the run: snapshot (engine's own times), restore (from
// the snapshot's end to verification, polling included) and total (from
// the pre-flight). A missing figure leaves its entry out.
func durations(started time.Time, s VerifySnapshot, now time.Time) map[string]float64 {
	out := map[string]float64{}
	round := func(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }
	if !started.IsZero() {
		out["total"] = round(now.Sub(started))
	}
	if s.StartMs > 0 && s.EndMs >= s.StartMs {
		out["snapshot"] = round(time.Duration(s.EndMs-s.StartMs) * time.Millisecond)
		out["restore_and_verify"] = round(now.Sub(time.UnixMilli(s.EndMs)))
	}
	return out
}

// compared states the comparison in the report itself.
func compared(strategy string) string {
	if strategy == migrate.Pull {
		return "pull: per index, target count >= source count, every source _id present on the target exactly once (indices up to max_id_check documents), target not red"
	}
	return "push: per index, restored copy count == source count (the source takes no writes after the switch), restored copy not red"
}
