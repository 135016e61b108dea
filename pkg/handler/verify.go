package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/ledger"
	"github.com/essnap/essnap/pkg/metrics"
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
	// Migration verifies the migration the ledger on the target holds, in
	// batches of the indices not verified yet (the loop calls until done),
	// instead of indices; each verdict is written to its ledger document.
	Migration string `json:"migration"`
	// Action is verify (default) or report: a read of the ledger, the
	// migration's progress and one page of its per-index table (after,
	// size), for an operator while it runs and after.
	Action  string `json:"action"`
	After   string `json:"after"`
	Size    int    `json:"size"`
	errs    problems
	started time.Time
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
	c := VerifyConfig{Strategy: migrate.Push, MaxIDCheck: 1_000_000, Action: "verify", Size: 100}
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
	if c.Migration != "" {
		if err := ledger.ValidateName(c.Migration); err != nil {
			p.add("%v", err)
		}
		if len(c.Indices) > 0 {
			p.add("indices and migration are both given; with migration the ledger names the indices: leave indices out")
		}
	}
	switch c.Action {
	case "report":
		c.Target.validate(&p)
		if c.Migration == "" {
			p.add("action report needs migration, the name the pre-flight gave it")
		}
		if c.Size < 1 || c.Size > 1000 {
			p.add("size %d must be between 1 and 1000 (index rows per page)", c.Size)
		}
		if len(p) > 0 {
			return failure.Validation("verify", p)
		}
		return nil
	case "verify":
	default:
		p.add("action %q is unknown; use verify or report", config.Short(c.Action))
	}
	validateDomains(&p, c.Source, c.Target)
	if c.Strategy != migrate.Push && c.Strategy != migrate.Pull {
		p.add("strategy %q is unknown; use push or pull", c.Strategy)
	}
	if len(c.Indices) == 0 && c.Migration == "" {
		p.add("indices is empty; give the pre-flight's mapping [{\"source\":...,\"target\":...}], or migration to verify what the ledger holds")
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
	// Migration runs (ledger): Done ends the verify loop; Verified and
	// Remaining count indices; the rows are in the ledger (Ledger).
	Done      bool       `json:"done"`
	Verified  int        `json:"verified,omitempty"`
	Remaining int        `json:"remaining,omitempty"`
	Ledger    *LedgerRef `json:"ledger,omitempty"`
	// Action report: the migration's record and one page of index rows.
	Migration *ledger.Migration `json:"migration,omitempty"`
	Progress  *LedgerProgress   `json:"progress,omitempty"`
	Rows      []ledger.Index    `json:"rows,omitempty"`
	Next      string            `json:"next_after,omitempty"`
}

// LedgerProgress counts a migration's indices by how far they got.
type LedgerProgress struct {
	Indices     int `json:"indices"`
	Finished    int `json:"finished"`
	Verified    int `json:"verified"`
	ReplicasSet int `json:"replicas_set"`
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
	if c.Action == "report" {
		return h.report(ctx, c)
	}
	src, tgt, err := bothDomains[VerifyOps](ctx, h.Deps, c.Source, c.Target)
	if err != nil {
		return Report{}, err
	}
	if c.Migration != "" {
		return h.verifyBatch(ctx, c, src, tgt)
	}
	rep := Report{Status: "verified", Strategy: c.Strategy, Snapshot: c.Snapshot.Name, Compared: compared(c.Strategy), Done: true}
	verdicts, err := verifyIndices(ctx, c, src, tgt, c.Indices)
	if err != nil {
		return rep, h.fail(ctx, "verify", err)
	}
	var bad []string
	for _, v := range verdicts {
		if !v.OK {
			bad = append(bad, v.Problem)
		}
		rep.Indices = append(rep.Indices, v)
		rep.Totals.add(v)
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

// add sums one verdict into the totals.
func (t *ReportTotals) add(v migrate.IndexVerdict) {
	t.Indices++
	t.SourceDocs += v.SourceDocs
	t.TargetDocs += v.TargetDocs
	t.TargetBytes += v.TargetBytes
}

// verifyIndices judges each mapping per migrate.Judge: counts on both
// sides, ids for pull (up to max_id_check), health and bytes on the target.
func verifyIndices(ctx context.Context, c VerifyConfig, src, tgt VerifyOps, mappings []snapshot.IndexMapping) ([]migrate.IndexVerdict, error) {
	// Count first: counting refreshes, so the sizes read afterwards are current.
	counts := make([]migrate.IndexCounts, len(mappings))
	for i, m := range mappings {
		ic := migrate.IndexCounts{Source: m.Source, Target: m.Target}
		var err error
		if ic.SourceDocs, err = src.Count(ctx, m.Source); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		if ic.TargetDocs, err = tgt.Count(ctx, m.Target); err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		if c.Strategy == migrate.Pull && c.MaxIDCheck > 0 && ic.SourceDocs <= c.MaxIDCheck {
			if err := missingIDs(ctx, src, tgt, &ic); err != nil {
				return nil, err
			}
		}
		counts[i] = ic
	}
	// The bytes restored come from _recovery: _cat/indices' store.size is
	// cached by the engine (index.store.stats_refresh_interval, 10 s) and
	// was seen as 0 for freshly restored indices holding 2,000 documents.
	restored := map[string]int64{}
	targets := make([]string, len(mappings))
	for i, m := range mappings {
		targets[i] = m.Target
	}
	if rp, err := tgt.RestoreStatus(ctx, targets); err == nil {
		for _, ip := range rp.Indices {
			restored[ip.Index] = ip.TotalBytes
		}
	}
	// Only the targets at hand: a domain of thousands of indices is not
	// listed whole for each batch.
	tgtIdx, err := tgt.Indices(ctx, strings.Join(targets, ","))
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	out := make([]migrate.IndexVerdict, len(counts))
	for i, ic := range counts {
		st := tgtIdx[ic.Target]
		ic.TargetHealth, ic.TargetBytes = st.Health, st.Bytes
		if b := restored[ic.Target]; b > 0 {
			ic.TargetBytes = b
		}
		out[i] = migrate.Judge(c.Strategy, ic)
	}
	return out, nil
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

// verifyBatchSize bounds the indices one verify invocation judges, and
// verifyReserve the time it keeps for writing the ledger and answering.
const (
	verifyBatchSize = 100
	verifyReserve   = 60 * time.Second
)

// verifyBatch verifies the next indices of the migration the ledger holds
// that are not verified yet, records each verdict, and once none is left
// writes the report to the migration document. Indices that differ are
// recorded and reported together at the end (VerificationError), so one
// bad index does not hide the others.
func (h Verify) verifyBatch(ctx context.Context, c VerifyConfig, src, tgt VerifyOps) (Report, error) {
	b, err := openBook(ctx, h.Deps, c.Target, c.Migration)
	if err != nil {
		return Report{}, h.fail(ctx, "verify", err)
	}
	ref := ledgerRef(c.Migration)
	rep := Report{Status: "verifying", Strategy: c.Strategy, Snapshot: c.Snapshot.Name, Compared: compared(c.Strategy), Ledger: &ref}
	if b.mig.Phase != ledger.PhaseVerify {
		if err := b.update(ctx, func(m *ledger.Migration) { m.Phase = ledger.PhaseVerify }); err != nil {
			return rep, h.fail(ctx, "verify", err)
		}
	}
	docs, err := b.batch(ctx, engine.LedgerQuery{Unverified: true}, verifyBatchSize)
	if err != nil {
		return rep, h.fail(ctx, "verify", err)
	}
	deadline, hasDeadline := ctx.Deadline()
	for start := 0; start < len(docs); start += 10 {
		if hasDeadline && time.Until(deadline) < verifyReserve {
			break // the loop calls again for the rest
		}
		part := docs[start:min(start+10, len(docs))]
		mappings := make([]snapshot.IndexMapping, len(part))
		for i, d := range part {
			mappings[i] = snapshot.IndexMapping{Source: d.Source, Target: d.Target}
		}
		verdicts, err := verifyIndices(ctx, c, src, tgt, mappings)
		if err != nil {
			return rep, h.fail(ctx, "verify", err)
		}
		for i, d := range part {
			v := verdicts[i]
			d.Verified, d.Verdict = true, &v
		}
		if err := b.save(ctx, part); err != nil {
			return rep, h.fail(ctx, "verify", err)
		}
	}
	if rep.Remaining, err = b.count(ctx, engine.LedgerQuery{Unverified: true}); err != nil {
		return rep, h.fail(ctx, "verify", err)
	}
	rep.Verified = b.mig.Counts.Indices - rep.Remaining
	h.publish(c.Migration, map[string]float64{metrics.MigrationIndicesVerified: float64(rep.Verified), metrics.MigrationIndicesTotal: float64(b.mig.Counts.Indices)})
	if rep.Remaining > 0 {
		h.Log.InfoContext(ctx, "verify: batch", "migration", c.Migration, "verified", rep.Verified, "remaining", rep.Remaining)
		return rep, nil
	}
	return h.finishReport(ctx, c, b, rep)
}

// finishReport sums every verdict of the ledger into the report, writes it
// to the migration document and answers with it (without the rows).
func (h Verify) finishReport(ctx context.Context, c VerifyConfig, b *book, rep Report) (Report, error) {
	all, err := b.indices(ctx, engine.LedgerQuery{})
	if err != nil {
		return rep, h.fail(ctx, "verify", err)
	}
	var bad []string
	var copied, skipped int64
	for _, d := range all {
		if d.Verdict == nil {
			continue
		}
		rep.Totals.add(*d.Verdict)
		if !d.Verdict.OK {
			bad = append(bad, d.Verdict.Problem)
		}
		if d.Item != nil {
			for _, pt := range d.Item.Parts {
				copied += pt.Created
				skipped += pt.Conflicts
			}
		}
	}
	rep.Totals.SnapshotBytes = c.Snapshot.Bytes
	now := h.Clock.Now()
	rep.VerifiedAt = now.UTC().Format(time.RFC3339)
	rep.Durations = durations(c.started, c.Snapshot, now)
	rep.Done, rep.Status = true, "verified"
	if len(bad) > 0 {
		rep.Status = "differs"
	}
	if err := b.update(ctx, func(m *ledger.Migration) {
		m.Report = &ledger.Report{Status: rep.Status, Indices: rep.Totals.Indices, Verified: rep.Totals.Indices - len(bad),
			Source: rep.Totals.SourceDocs, Target: rep.Totals.TargetDocs, Bytes: rep.Totals.TargetBytes, Copied: copied, Skipped: skipped,
			Durations: rep.Durations, Compared: rep.Compared, At: rep.VerifiedAt}
	}); err != nil {
		return rep, h.fail(ctx, "verify", err)
	}
	if len(bad) > 0 {
		n := len(bad)
		if n > 20 {
			bad = append(bad[:20], fmt.Sprintf("and %d more (the ledger has every verdict)", n-20))
		}
		return rep, h.fail(ctx, "verify", failure.Verification(fmt.Sprintf("verify (%s): %d of %d indices differ: %s", c.Strategy, n, rep.Totals.Indices, strings.Join(bad, "; "))))
	}
	h.Log.InfoContext(ctx, "migration verified", "migration", c.Migration, "strategy", c.Strategy, "indices", rep.Totals.Indices, "source_docs", rep.Totals.SourceDocs, "target_docs", rep.Totals.TargetDocs)
	return rep, nil
}

// report reads a migration's record from the ledger: the migration
// document, its progress counts and one page of index rows. It reads only.
func (h Verify) report(ctx context.Context, c VerifyConfig) (Report, error) {
	b, err := openBook(ctx, h.Deps, c.Target, c.Migration)
	if err != nil {
		return Report{}, h.fail(ctx, "verify report", err)
	}
	ref := ledgerRef(c.Migration)
	m := b.mig
	rep := Report{Status: m.Status, Strategy: m.Strategy, Snapshot: m.Snapshot, Ledger: &ref, Migration: &m, Done: m.Status != ledger.Running}
	pr := LedgerProgress{Indices: m.Counts.Indices}
	for _, q := range []struct {
		n *int
		q engine.LedgerQuery
	}{{&pr.Finished, engine.LedgerQuery{Unfinished: true}}, {&pr.Verified, engine.LedgerQuery{Unverified: true}}, {&pr.ReplicasSet, engine.LedgerQuery{ReplicasUnset: true}}} {
		left, err := b.count(ctx, q.q)
		if err != nil {
			return rep, h.fail(ctx, "verify report", err)
		}
		*q.n = pr.Indices - left
	}
	rep.Progress = &pr
	rows, err := b.batch(ctx, engine.LedgerQuery{After: c.After}, c.Size)
	if err != nil {
		return rep, h.fail(ctx, "verify report", err)
	}
	for _, r := range rows {
		rep.Rows = append(rep.Rows, r.Index)
	}
	if len(rows) == c.Size {
		rep.Next = rows[len(rows)-1].Source
	}
	return rep, nil
}
