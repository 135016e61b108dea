package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/ledger"
	"github.com/essnap/essnap/pkg/metadata"
	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/reindex"
	"github.com/essnap/essnap/pkg/snapshot"
)

// sourceShards reads each source index's number_of_replicas, keyed by the
// name the restore gives it on the target, and its number_of_shards, keyed
// by its own name. A value the engine does not report counts as the
// engines' default: 1 replica, 1 shard.
func sourceShards(ctx context.Context, src PreflightOps, indices []snapshot.IndexMapping) (replicas, shards map[string]int, err error) {
	names := make([]string, len(indices))
	for i, m := range indices {
		names[i] = m.Source
	}
	replicas, shards = map[string]int{}, map[string]int{}
	if len(names) == 0 {
		return replicas, shards, nil
	}
	set, err := src.FlatSettings(ctx, names)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range indices {
		n, err := strconv.Atoi(set[m.Source]["index.number_of_replicas"])
		if err != nil || n < 0 {
			n = 1
		}
		replicas[m.Target] = n
		p, err := strconv.Atoi(set[m.Source]["index.number_of_shards"])
		if err != nil || p < 1 {
			p = 1
		}
		shards[m.Source] = p
	}
	return replicas, shards, nil
}

// PreflightConfig is preflight's configuration: both domains, what to
// migrate and how. The stack's domain (ESSNAP_ENDPOINT) is the default
// source; ESSNAP_TARGET_* name the default target, so a stack can carry a
// planned migration in its environment and the state machine input only
// overrides it.
type PreflightConfig struct {
	Source         Domain   `json:"source"`
	Target         Domain   `json:"target" envprefix:"TARGET_"`
	Indices        []string `json:"indices" env:"INDICES"`
	Strategy       string   `json:"strategy" env:"MIGRATION_STRATEGY"`
	RenameSuffix   string   `json:"rename_suffix" env:"RESTORE_RENAME_SUFFIX"`
	SnapshotPrefix string   `json:"snapshot_prefix"`
	DiskHeadroom   float64  `json:"disk_headroom" env:"DISK_HEADROOM"`
	// Method is auto (snapshot where the target reads the index, reindex
	// where it cannot) or reindex (every index).
	Method string `json:"method" env:"MIGRATION_METHOD"`
	// The reindex path's tuning (issue 12; docs/migration.md).
	MaxConcurrent int    `json:"max_concurrent" env:"REINDEX_MAX_CONCURRENT"`
	BatchSize     int    `json:"batch_size" env:"REINDEX_BATCH_SIZE"`
	SplitField    string `json:"split_field" env:"REINDEX_SPLIT_FIELD"`
	SplitDocs     int64  `json:"split_docs" env:"REINDEX_SPLIT_DOCS"`
	MaxAttempts   int    `json:"max_attempts" env:"REINDEX_MAX_ATTEMPTS"`
	CheckSeconds  int    `json:"reindex_check_seconds" env:"REINDEX_CHECK_SECONDS"`
	RemoteHost    string `json:"remote_host" env:"REINDEX_REMOTE_HOST"`
	// Execution is the Step Functions execution running the migration:
	// given, the pre-flight writes its plan to the ledger on the target
	// (pkg/ledger) and answers with a summary; absent (a console check), it
	// writes nothing and answers with everything it found.
	Execution string `json:"execution"`
	// Migration names the migration in the ledger; empty derives it from
	// the domains, selection, strategy and method, so a rerun with the same
	// input resumes the same migration.
	Migration string `json:"migration"`
	errs      problems
}

// LoadPreflightConfig applies defaults, environment and event, in that order.
func LoadPreflightConfig(getenv func(string) string, raw []byte) PreflightConfig {
	c := PreflightConfig{Strategy: migrate.Push, RenameSuffix: migrate.DefaultRenameSuffix, SnapshotPrefix: "migration", DiskHeadroom: 0.15,
		Method: migrate.MethodAuto, MaxConcurrent: reindex.DefaultMaxConcurrent, BatchSize: reindex.DefaultBatchSize, SplitField: "@timestamp",
		SplitDocs: reindex.DefaultSplitDocs, MaxAttempts: reindex.DefaultMaxAttempts, CheckSeconds: reindex.DefaultCheckSeconds}
	c.errs, _ = load(&c, getenv, raw)
	return c
}

// Validate reports every problem at once.
func (c PreflightConfig) Validate() error {
	p := append(problems(nil), c.errs...)
	validateDomains(&p, c.Source, c.Target)
	switch c.Strategy {
	case migrate.Push:
		if c.RenameSuffix == "" {
			p.add("rename_suffix is empty; push restores beside the live indices of the same name and needs a suffix such as \"-restored\"")
		} else if _, err := (snapshot.Rename{Suffix: c.RenameSuffix}).Compile(); err != nil {
			p.add("%v", err)
		}
	case migrate.Pull:
	default:
		p.add("strategy %q is unknown; use push (shippers switched first, restore renamed) or pull (restore first, then switch the poller)", c.Strategy)
	}
	for i, ix := range c.Indices {
		if err := snapshot.ValidateIndexPattern(fmt.Sprintf("indices[%d]", i), ix); err != nil {
			p.add("%v", err)
		}
	}
	if c.DiskHeadroom < 0 || c.DiskHeadroom >= 1 {
		p.add("disk_headroom %v must be a fraction in [0, 1), e.g. 0.15", c.DiskHeadroom)
	}
	if err := snapshot.ValidateName("snapshot_prefix", migrate.SnapshotName(c.SnapshotPrefix, time.Unix(0, 0))); err != nil || strings.ContainsAny(c.SnapshotPrefix, "{}<>") {
		p.add("snapshot_prefix %q does not make a valid snapshot name (lowercase, no spaces, control characters or , # \\ / * ? \" < > | { })", config.Short(c.SnapshotPrefix))
	}
	if c.Method != migrate.MethodAuto && c.Method != migrate.MethodReindex {
		p.add("method %q is unknown; use auto (snapshot where the target reads the index, reindex where it cannot) or reindex (every index)", config.Short(c.Method))
	}
	validReindexTuning(&p, "", reindex.Plan{MaxConcurrent: c.MaxConcurrent, BatchSize: c.BatchSize, MaxAttempts: c.MaxAttempts, CheckSeconds: c.CheckSeconds})
	if c.SplitDocs < 0 {
		p.add("split_docs %d must be >= 0 (0 never splits an index)", c.SplitDocs)
	}
	if c.RemoteHost != "" {
		if _, err := remoteHost(c.RemoteHost); err != nil {
			p.add("%v", err)
		}
	}
	if c.Migration != "" {
		if err := ledger.ValidateName(c.Migration); err != nil {
			p.add("%v", err)
		}
	}
	boundedText(&p, "execution", c.Execution, 2048)
	if len(p) > 0 {
		return failure.Validation("preflight", p)
	}
	return nil
}

// PreflightResult is what the pre-flight found and decided; the state
// machine takes the snapshot name and index lists from it.
type PreflightResult struct {
	Strategy     string         `json:"strategy"`
	SourceEngine migrate.Engine `json:"source_engine"`
	TargetEngine migrate.Engine `json:"target_engine"`
	// Snapshot is the migration snapshot's name; empty when every index
	// goes by reindex.
	Snapshot string                  `json:"snapshot"`
	Indices  []snapshot.IndexMapping `json:"indices,omitempty"`
	// SourceIndices are every selected source index, concrete names
	// (never patterns); TargetIndices what they become on the target.
	SourceIndices []string `json:"source_indices,omitempty"`
	TargetIndices []string `json:"target_indices,omitempty"`
	// SnapshotIndices are the ones the snapshot carries (method snapshot),
	// so the snapshot holds exactly what was checked; SnapshotTargets are
	// the names the restore creates.
	SnapshotIndices []string `json:"snapshot_indices,omitempty"`
	SnapshotTargets []string `json:"snapshot_targets,omitempty"`
	// Methods counts the indices per method, for the state machine's
	// choice of paths. Reindex has the reindex step's own form: its plan
	// (done false), or done with a skipped report when no index goes by
	// reindex; the step's answers replace it in the execution's state.
	Methods       MethodCounts  `json:"methods"`
	Reindex       *reindex.Plan `json:"reindex,omitempty"`
	Warnings      []string      `json:"warnings"`
	RenameSuffix  string        `json:"rename_suffix"`
	Method        string        `json:"method"`
	SkippedSystem []string      `json:"skipped_system_indices"`
	// Compatibility is each source index's created version and verdict
	// (snapshot, reindex or refused) against the target.
	Compatibility []migrate.IndexCompat `json:"compatibility,omitempty"`
	// Metadata is the templates-and-pipelines diff (migrate-metadata's
	// dry run): what the target still lacks before the cut-over.
	Metadata    *MetadataResult   `json:"metadata,omitempty"`
	SourceDocs  int64             `json:"source_docs"`
	SourceBytes int64             `json:"source_bytes"`
	Disk        migrate.DiskCheck `json:"disk"`
	CheckedAt   string            `json:"checked_at"`
	// Replicas is each target index's source number_of_replicas: the
	// workflow restores without replicas (each shard copied once) and
	// sets these back after verification (restore action replicas).
	Replicas map[string]int `json:"replicas,omitempty"`
	// Capacity compares the shards the migration adds with what the
	// target's shard limit leaves.
	Capacity CapacityCheck `json:"capacity"`
	// Migration and Ledger name the ledger record (workflow runs only);
	// the lists above are then left out of the answer: they are in the
	// ledger, one document per index.
	Migration string     `json:"migration,omitempty"`
	Ledger    *LedgerRef `json:"ledger,omitempty"`
	// Resumed: the ledger already held this migration (an earlier run
	// failed); its recorded progress is kept.
	Resumed bool `json:"resumed"`
}

// CapacityCheck is the pre-flight's shard verdict.
type CapacityCheck struct {
	engine.ShardCapacity
	Free int `json:"free"`
	Adds int `json:"adds"`
}

// MethodCounts counts the selected indices per method.
type MethodCounts struct {
	Snapshot int `json:"snapshot"`
	Reindex  int `json:"reindex"`
}

// PreflightOps are the calls the pre-flight makes, on the source and the
// target alike: all reads, so the interface itself shows it writes nothing.
type PreflightOps interface {
	EngineVersion(ctx context.Context) (engine.Version, error)
	Indices(ctx context.Context, pattern string) (map[string]engine.IndexState, error)
	CreatedVersions(ctx context.Context, names []string) (map[string]int64, error)
	FlatSettings(ctx context.Context, names []string) (map[string]map[string]string, error)
	IndexDefinitions(ctx context.Context, names []string) (map[string]reindex.Definition, error)
	Percentiles(ctx context.Context, index, field string, percents []float64) ([]float64, error)
	Disk(ctx context.Context) ([]engine.NodeDisk, error)
	ShardCapacity(ctx context.Context) (engine.ShardCapacity, error)
	TakenNames(ctx context.Context) (taken map[string]string, aliases map[string][]string, err error)
	ProbeRemote(ctx context.Context, remote reindex.Remote, index string) error
	MetadataItems(ctx context.Context) ([]metadata.Item, error)
	IngestProcessors(ctx context.Context) (map[string]bool, error)
}

// Preflight is the migration's pre-flight handler: it reads both domains
// and refuses, before anything is written, a migration that cannot work.
type Preflight struct{ Deps }

// Invoke checks versions, index selection, conflicts on the target and the
// target's free disk. Failures are VersionMismatchError, IndexConflictError,
// InsufficientStorageError or ValidationError (nothing selected).
func (h Preflight) Invoke(ctx context.Context, raw json.RawMessage) (PreflightResult, error) {
	c := LoadPreflightConfig(h.Getenv, raw)
	if err := c.Validate(); err != nil {
		return PreflightResult{}, err
	}
	src, tgt, err := bothDomains[PreflightOps](ctx, h.Deps, c.Source, c.Target)
	if err != nil {
		return PreflightResult{}, err
	}
	now := h.Clock.Now()
	res := PreflightResult{Strategy: c.Strategy, Method: c.Method, Warnings: []string{}, Snapshot: migrate.SnapshotName(c.SnapshotPrefix, now), CheckedAt: now.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	if c.Strategy == migrate.Push {
		res.RenameSuffix = c.RenameSuffix
	}

	sv, err := src.EngineVersion(ctx)
	if err != nil {
		return res, h.fail(ctx, "preflight", fmt.Errorf("source: %w", err))
	}
	tv, err := tgt.EngineVersion(ctx)
	if err != nil {
		return res, h.fail(ctx, "preflight", fmt.Errorf("target: %w", err))
	}
	res.SourceEngine = migrate.Engine{Distribution: sv.Distribution, Number: sv.Number}
	res.TargetEngine = migrate.Engine{Distribution: tv.Distribution, Number: tv.Number}
	if err := migrate.CheckEngines(res.SourceEngine, res.TargetEngine); err != nil {
		return res, h.fail(ctx, "preflight", failure.VersionMismatch("preflight: "+err.Error()))
	}

	srcIdx, err := src.Indices(ctx, "*")
	if err != nil {
		return res, h.fail(ctx, "preflight", fmt.Errorf("source: %w", err))
	}
	names := make([]string, 0, len(srcIdx))
	for n := range srcIdx {
		names = append(names, n)
	}
	sort.Strings(names)
	// Aliases take names too: a restore onto an alias's name is refused.
	existing, _, err := tgt.TakenNames(ctx)
	if err != nil {
		return res, h.fail(ctx, "preflight", fmt.Errorf("target: %w", err))
	}
	// A rerun of a migration the ledger holds resumes it: the target
	// indices its earlier run created are its own, not collisions.
	var book *preflightBook
	if c.Execution != "" {
		if book, err = h.openLedger(ctx, c); err != nil {
			return res, h.fail(ctx, "preflight", err)
		}
		res.Migration, res.Resumed = book.name, book.found
		for t := range book.prior {
			delete(existing, t)
		}
	}
	var rn *snapshot.Renamer
	if c.Strategy == migrate.Push {
		rn, _ = snapshot.Rename{Suffix: c.RenameSuffix}.Compile() // validated above
	}
	plan, err := snapshot.PlanRestore(names, c.Indices, false, rn, existing)
	if err != nil {
		return res, h.fail(ctx, "preflight", failure.Validation("preflight", []string{"source: " + err.Error()}))
	}
	res.Indices, res.SkippedSystem = plan.Indices, plan.SkippedSystem
	res.SourceIndices, res.TargetIndices = plan.Sources(), plan.Targets()
	if res.SkippedSystem == nil {
		res.SkippedSystem = []string{}
	}

	// What decides is each index's created version, not the source
	// domain's engine (field notes §8).
	created, err := src.CreatedVersions(ctx, res.SourceIndices)
	if err != nil {
		return res, h.fail(ctx, "preflight", fmt.Errorf("source: %w", err))
	}
	res.Compatibility = make([]migrate.IndexCompat, len(res.SourceIndices))
	for i, n := range res.SourceIndices {
		res.Compatibility[i] = migrate.DecideIndex(res.SourceEngine, res.TargetEngine, n, created[n])
	}
	migrate.ChooseMethods(res.Compatibility, c.Method)
	if err := migrate.CheckVerdicts(res.SourceEngine, res.TargetEngine, res.Compatibility); err != nil {
		return res, h.fail(ctx, "preflight", failure.VersionMismatch("preflight: "+err.Error()))
	}
	byMethod := map[string]migrate.IndexCompat{}
	for _, v := range res.Compatibility {
		byMethod[v.Index] = v
	}
	var copyIdx []snapshot.IndexMapping
	for _, m := range plan.Indices {
		if byMethod[m.Source].Method == migrate.Reindex {
			copyIdx = append(copyIdx, m)
			continue
		}
		res.SnapshotIndices = append(res.SnapshotIndices, m.Source)
		res.SnapshotTargets = append(res.SnapshotTargets, m.Target)
	}
	res.Methods = MethodCounts{Snapshot: len(res.SnapshotIndices), Reindex: len(copyIdx)}
	if res.SnapshotIndices == nil {
		// No snapshot is taken: the report names none.
		res.SnapshotIndices, res.SnapshotTargets, res.Snapshot = []string{}, []string{}, ""
	}
	var shards map[string]int
	if res.Replicas, shards, err = sourceShards(ctx, src, plan.Indices); err != nil {
		return res, h.fail(ctx, "preflight", fmt.Errorf("source: %w", err))
	}
	// Pull reindexes into the original names with op_type create: an index
	// the switched poller (or a template) already made is used as it is
	// (the reindex step finds it when it creates the target indices).
	var collisions []snapshot.Collision
	for _, col := range plan.Collisions {
		if c.Strategy == migrate.Pull && byMethod[col.Source].Method == migrate.Reindex && col.Status == "open" {
			continue
		}
		collisions = append(collisions, col)
	}
	if len(collisions) > 0 {
		list := make([]string, len(collisions))
		for i, col := range collisions {
			list[i] = fmt.Sprintf("%s (%s)", col.Index, col.Status)
		}
		why := "pull restores under the source names, so they must not exist on the target yet; stop the poller's writes to the target and remove them, or use push"
		if c.Strategy == migrate.Push {
			why = "push restores renamed copies; those names must be free; pick another rename_suffix or remove the leftovers of an earlier run"
		}
		return res, h.fail(ctx, "preflight", failure.IndexConflict(fmt.Sprintf("preflight: %d target indices already exist on the target: %s; %s", len(list), config.ShortList(list), why)))
	}
	for _, n := range res.SourceIndices {
		res.SourceDocs += srcIdx[n].Docs
		res.SourceBytes += srcIdx[n].Bytes
	}

	if len(copyIdx) > 0 {
		plan, err := h.planReindex(ctx, c, src, tgt, copyIdx, srcIdx, byMethod, &res.Warnings)
		if err != nil {
			return res, h.fail(ctx, "preflight", err)
		}
		res.Reindex = plan
	}

	md, err := planMetadata(ctx, src, tgt, res.SourceEngine, res.TargetEngine, res.SourceIndices, nil, false)
	if err != nil {
		return res, h.fail(ctx, "preflight", fmt.Errorf("metadata: %w", err))
	}
	md.DryRun = true
	res.Metadata = &md

	disk, err := tgt.Disk(ctx)
	if err != nil {
		return res, h.fail(ctx, "preflight", fmt.Errorf("target: %w", err))
	}
	nodes := make([]migrate.NodeDisk, len(disk))
	for i, d := range disk {
		nodes[i] = migrate.NodeDisk{Node: d.Node, Total: d.Total, Avail: d.Avail}
	}
	res.Disk, err = migrate.CheckDisk(res.SourceBytes, nodes, c.DiskHeadroom)
	if err != nil {
		return res, h.fail(ctx, "preflight", failure.InsufficientStorage("preflight: "+err.Error()))
	}
	// Target capacity: the shards the migration adds (with their replicas,
	// which the replica step puts back) against the target's shard limit.
	// Pull into an index the target already has adds none.
	capacity, err := tgt.ShardCapacity(ctx)
	if err != nil {
		return res, h.fail(ctx, "preflight", fmt.Errorf("target: %w", err))
	}
	res.Capacity = CapacityCheck{ShardCapacity: capacity, Free: capacity.Free()}
	for _, m := range plan.Indices {
		if _, there := existing[m.Target]; !there && (book == nil || !book.prior[m.Target]) {
			res.Capacity.Adds += shards[m.Source] * (1 + res.Replicas[m.Target])
		}
	}
	if res.Capacity.Adds > res.Capacity.Free {
		return res, h.fail(ctx, "preflight", failure.InsufficientStorage(fmt.Sprintf(
			"preflight: the migration adds %d shards (%d indices, with their replicas) but the target takes %d more (cluster.max_shards_per_node %d x %d data nodes, %d shards in use): %d shards missing; add data nodes, raise cluster.max_shards_per_node, or migrate fewer indices per run (indices patterns); nothing was written",
			res.Capacity.Adds, len(plan.Indices), max(res.Capacity.Free, 0), capacity.PerNode, capacity.DataNodes, capacity.Shards, res.Capacity.Adds-max(res.Capacity.Free, 0))))
	}
	if book != nil {
		if err := h.record(ctx, c, book, &res, shards, srcIdx); err != nil {
			return res, h.fail(ctx, "preflight", err)
		}
	}
	h.Log.InfoContext(ctx, "preflight passed", "strategy", res.Strategy, "source", res.SourceEngine.String(), "target", res.TargetEngine.String(),
		"indices", len(res.Indices), "by_snapshot", res.Methods.Snapshot, "by_reindex", res.Methods.Reindex, "source_docs", res.SourceDocs, "source_bytes", res.SourceBytes, "snapshot", res.Snapshot, "metadata_warnings", len(md.Warnings))
	return res, nil
}

// planReindex builds the reindex step's plan and refuses, before anything
// is written, what reindex cannot copy: an index whose _source is disabled,
// or a target that cannot read the source (probed with a remote reindex
// that matches nothing). Large indices are split on split_field by its
// percentiles, so their parts copy in parallel.
func (h Preflight) planReindex(ctx context.Context, c PreflightConfig, src, tgt PreflightOps, idx []snapshot.IndexMapping,
	state map[string]engine.IndexState, verdicts map[string]migrate.IndexCompat, warnings *[]string) (*reindex.Plan, error) {
	names := make([]string, len(idx))
	for i, m := range idx {
		names[i] = m.Source
	}
	defs, err := src.IndexDefinitions(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	var disabled, closed []string
	forced := false
	for _, m := range idx {
		if state[m.Source].Status == "close" {
			closed = append(closed, m.Source)
		}
		switch reindex.SourceMode(defs[m.Source].Mappings) {
		case "disabled":
			disabled = append(disabled, m.Source)
			forced = forced || verdicts[m.Source].Verdict == migrate.Snapshot
		case "partial":
			*warnings = append(*warnings, fmt.Sprintf("%s keeps only part of _source (includes/excludes): reindex copies _source, so the fields it leaves out are not on the target", m.Source))
		}
	}
	if len(closed) > 0 {
		return nil, failure.Validation("preflight", []string{fmt.Sprintf("closed indices cannot be copied by reindex, which reads through a search: %s; open them or leave them out (indices: \"-<name>\")", strings.Join(closed, ", "))})
	}
	if len(disabled) > 0 {
		msg := fmt.Sprintf("preflight: %s must be copied by reindex but %s _source disabled: reindex reads _source, so the documents cannot be copied; leave them out (indices: \"-<name>\")", strings.Join(disabled, ", "), map[bool]string{true: "has", false: "have"}[len(disabled) == 1])
		if forced {
			return nil, failure.Validation("preflight", []string{msg[len("preflight: "):] + ", or use method auto to move the ones the target reads by snapshot"})
		}
		return nil, failure.VersionMismatch(msg + "; the target cannot read them from a snapshot either")
	}
	host := c.RemoteHost
	if host == "" {
		host = c.Source.Endpoint
	}
	if host, err = remoteHost(host); err != nil {
		return nil, failure.Validation("preflight", []string{err.Error()})
	}
	plan := &reindex.Plan{Remote: reindex.Remote{Host: host}, MaxConcurrent: c.MaxConcurrent, BatchSize: c.BatchSize, MaxAttempts: c.MaxAttempts, CheckSeconds: c.CheckSeconds}
	if sr, tr := domainRegion(c.Source), domainRegion(c.Target); !c.Source.Unsigned && sr != "" && sr != tr {
		plan.Remote.Region = sr
	}
	for _, m := range idx {
		st := state[m.Source]
		it := reindex.Item{Source: m.Source, Target: m.Target, Docs: st.Docs, Bytes: st.Bytes, Parts: []reindex.Part{{State: reindex.Pending}}}
		ft, why := reindex.SplitFieldType(defs[m.Source].Mappings, c.SplitField)
		if n := reindex.PartCount(st.Docs, c.SplitDocs); n > 1 && c.SplitField != "" && why == "" {
			vals, err := src.Percentiles(ctx, m.Source, c.SplitField, reindex.Percents(n))
			switch {
			case err == nil:
				it.Field, it.FieldType, it.Parts = c.SplitField, ft, reindex.SplitParts(vals)
			case failure.Retryable(failure.Classify(err)):
				return nil, fmt.Errorf("source: %w", err)
			default:
				*warnings = append(*warnings, fmt.Sprintf("%s (%d documents) copies as one task: the percentiles of split_field %s could not be read: %v", m.Source, st.Docs, c.SplitField, err))
			}
		} else if n > 1 && c.SplitField != "" {
			*warnings = append(*warnings, fmt.Sprintf("%s (%d documents) copies as one task: split_field %s %s", m.Source, st.Docs, c.SplitField, why))
		}
		plan.Items = append(plan.Items, it)
	}
	// Largest first: their long parts start while the small ones fill the
	// other slots.
	sort.SliceStable(plan.Items, func(i, j int) bool { return plan.Items[i].Docs > plan.Items[j].Docs })
	if err := tgt.ProbeRemote(ctx, plan.Remote, plan.Items[0].Source); err != nil {
		// Only the engine's answer about the remote read is about
		// reachability; the target's own throttling, an AWS refusal of
		// this function or a lost answer keep their types.
		var ae *esclient.APIError
		if !errors.As(err, &ae) || ae.Source != esclient.SourceEngine || failure.Retryable(failure.Classify(err)) {
			return nil, fmt.Errorf("target: reachability probe: %w", err)
		}
		return nil, failure.SourceUnreachable(fmt.Sprintf("preflight: the target cannot read the source at %s for a remote reindex: %v; fix: the target must reach the source's endpoint (same network or VPC peering; data nodes of T2/T3 instance types cannot), be allowed to read it (IAM or fine-grained access control on the source), and, self-managed, list it in reindex.remote.allowlist; or set remote_host to the address the target reaches the source at", esclient.RedactEndpoint(host), err), err)
	}
	return plan, nil
}

// domainRegion is a domain's region as its signed client uses it; "" when
// neither given nor in its endpoint.
func domainRegion(d Domain) string {
	u, err := url.Parse(d.Endpoint)
	if err != nil {
		return ""
	}
	r, _ := esclient.Region(d.Region, u.Host)
	return r
}

// preflightBook is the ledger as the pre-flight finds it before writing.
type preflightBook struct {
	ops   LedgerOps
	name  string
	found bool
	doc   engine.LedgerDoc
	mig   ledger.Migration
	// prior are the target indices an earlier run of this migration
	// recorded as its own (created or restored); docs its index documents.
	prior map[string]bool
	docs  []*bookIndex
	book  *book
}

// openLedger reads what the ledger on the target holds of this migration
// (nothing when there is no ledger yet); it writes nothing. A migration that already succeeded is not run
// again under the same name.
func (h Preflight) openLedger(ctx context.Context, c PreflightConfig) (*preflightBook, error) {
	ops, err := connect[LedgerOps](ctx, h.Deps, c.Target)
	if err != nil {
		return nil, err
	}
	b := &preflightBook{ops: ops, name: c.Migration, prior: map[string]bool{}}
	base := c.Migration
	if base == "" {
		base = ledger.DeriveName(esclient.RedactEndpoint(c.Source.Endpoint), esclient.RedactEndpoint(c.Target.Endpoint), c.Indices, c.Strategy, c.Method, c.RenameSuffix)
	}
	// A derived name that already succeeded is a new migration of the same
	// selection (next month's indices): it gets the next free suffix. A
	// name the operator gave is theirs: a succeeded one is not run again.
	for n := 1; ; n++ {
		b.name = base
		if n > 1 {
			b.name = fmt.Sprintf("%s-%d", base, n)
		}
		if b.doc, b.found, err = ops.LedgerGet(ctx, ledger.MigrationID(b.name)); err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		if !b.found {
			return b, nil
		}
		if err := json.Unmarshal(b.doc.Source, &b.mig); err != nil {
			return nil, failure.Validation("preflight", []string{fmt.Sprintf("ledger document %q is not a migration document: %v; it was changed by hand: delete it, or name this run with another migration", b.doc.ID, err)})
		}
		if b.mig.Status != ledger.Succeeded {
			break // resume it
		}
		if c.Migration != "" {
			return nil, failure.Validation("preflight", []string{fmt.Sprintf("migration %s already succeeded (%s): its indices are on the target; to migrate again, give this run another name (field migration), or leave migration empty for the next free one", b.name, b.mig.UpdatedAt)})
		}
		if n == 1000 {
			return nil, failure.Validation("preflight", []string{fmt.Sprintf("migration %s ran 1000 times; name this run (field migration)", base)})
		}
	}
	bk := &book{ops: ops, mig: b.mig, doc: b.doc, now: h.Clock.Now}
	docs, err := bk.indices(ctx, engine.LedgerQuery{})
	if err != nil {
		return nil, err
	}
	b.docs, b.book = docs, bk
	for _, d := range docs {
		if d.Finished || (d.Item != nil && d.Item.Prepared) || d.Method == string(migrate.Snapshot) {
			b.prior[d.Target] = true
		}
	}
	return b, nil
}

// record writes the plan to the ledger: the migration document (created,
// or updated for a rerun) and one document per index, created only where
// the ledger has none, so a rerun keeps what its earlier run recorded.
// The answer then carries the summary and where the rest is.
func (h Preflight) record(ctx context.Context, c PreflightConfig, b *preflightBook, res *PreflightResult, shards map[string]int, srcIdx map[string]engine.IndexState) error {
	if err := b.resume(ctx, res); err != nil {
		return err
	}
	// The first write of the run, after every check passed.
	if err := b.ops.EnsureLedger(ctx); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	now := h.Clock.Now().UTC().Format(time.RFC3339)
	m := b.mig
	if !b.found {
		m = ledger.Migration{Kind: ledger.KindMigration, Migration: b.name, StartedAt: now}
	}
	m.Execution, m.Runs, m.Status, m.Phase, m.Failure = c.Execution, m.Runs+1, ledger.Running, ledger.PhasePlanned, nil
	m.Strategy, m.Method, m.RenameSuffix, m.Snapshot = res.Strategy, res.Method, res.RenameSuffix, res.Snapshot
	m.SourceEngine, m.TargetEngine = res.SourceEngine, res.TargetEngine
	m.Source, m.Target = esclient.RedactEndpoint(c.Source.Endpoint), esclient.RedactEndpoint(c.Target.Endpoint)
	m.Counts = ledger.Counts{Indices: len(res.Indices), Snapshot: res.Methods.Snapshot, Reindex: res.Methods.Reindex, Docs: res.SourceDocs, Bytes: res.SourceBytes, Shards: res.Capacity.Adds}
	m.UpdatedAt = now
	items := map[string]*reindex.Item{}
	if res.Reindex != nil {
		plan := *res.Reindex
		for i := range plan.Items {
			items[plan.Items[i].Source] = &plan.Items[i]
		}
		plan.Items = nil
		m.Reindex = plan
	}
	created := map[string]int64{}
	for _, v := range res.Compatibility {
		created[v.Index] = v.CreatedVersionID
	}
	methods := map[string]migrate.Verdict{}
	for _, v := range res.Compatibility {
		methods[v.Index] = v.Method
	}
	puts := []engine.LedgerPut{{ID: ledger.MigrationID(b.name), Doc: m, Create: !b.found, SeqNo: b.doc.SeqNo, PrimaryTerm: b.doc.PrimaryTerm}}
	for _, ix := range res.Indices {
		puts = append(puts, engine.LedgerPut{ID: ledger.IndexID(b.name, ix.Source), Create: true, Doc: ledger.Index{
			Kind: ledger.KindIndex, Migration: b.name, Source: ix.Source, Target: ix.Target, Method: string(methods[ix.Source]),
			Created: created[ix.Source], Docs: srcIdx[ix.Source].Docs, Bytes: srcIdx[ix.Source].Bytes, Shards: shards[ix.Source],
			Replicas: res.Replicas[ix.Target], Item: items[ix.Source]}})
	}
	kept := 0
	for start := 0; start < len(puts); start += 500 {
		end := min(start+500, len(puts))
		out, err := b.ops.LedgerWrite(ctx, puts[start:end])
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		for i, r := range out {
			if !r.Conflict {
				continue
			}
			if start+i == 0 {
				return fmt.Errorf("ledger: migration %s was written by another run meanwhile: %w", b.name, failure.ErrLedgerConflict)
			}
			kept++
		}
	}
	h.Log.InfoContext(ctx, "preflight: plan recorded in the ledger", "migration", b.name, "indices", len(res.Indices), "kept_from_earlier_run", kept, "run", m.Runs)
	ref := ledgerRef(b.name)
	res.Ledger = &ref
	// The lists are in the ledger now; the answer stays small at any size.
	res.Indices, res.SourceIndices, res.TargetIndices, res.SnapshotIndices, res.SnapshotTargets = nil, nil, nil, nil, nil
	res.Compatibility, res.Replicas, res.Reindex = nil, nil, nil
	if len(res.Warnings) > maxWarnings {
		h.Log.WarnContext(ctx, "preflight: warnings", "warnings", strings.Join(res.Warnings, "; "))
		res.Warnings = append(res.Warnings[:maxWarnings], fmt.Sprintf("... and %d more (in the log)", len(res.Warnings)-maxWarnings))
	}
	if res.Metadata != nil {
		md := *res.Metadata
		md.Items, md.Policies = nil, nil
		if len(md.Warnings) > maxWarnings {
			md.Warnings = append(md.Warnings[:maxWarnings], fmt.Sprintf("... and %d more", len(md.Warnings)-maxWarnings))
		}
		res.Metadata = &md
	}
	return nil
}

// maxWarnings bounds the warnings an answer carries; the log has them all.
const maxWarnings = 10

// resume prepares a rerun of a migration the ledger holds: the selection
// must still be what the ledger records (an index gone from it would stall
// every later step), the snapshot is kept once an earlier run restored
// from it (the restore recognises its own indices by their snapshot),
// failed reindex parts start again with their attempts cleared (the
// operator fixed the cause), and every index is verified again (the data
// may have changed since). Nothing else of the earlier run's progress is
// touched. It writes nothing when there is nothing to resume.
func (b *preflightBook) resume(ctx context.Context, res *PreflightResult) error {
	if !b.found {
		return nil
	}
	selected := make(map[string]bool, len(res.Indices))
	for _, m := range res.Indices {
		selected[m.Source] = true
	}
	var gone []string
	for _, d := range b.docs {
		if !selected[d.Source] {
			gone = append(gone, d.Source)
		}
	}
	if len(gone) > 0 {
		return failure.Validation("preflight", []string{fmt.Sprintf("migration %s's ledger holds %d indices this run no longer selects (%s): they were deleted or excluded since its earlier run; give this run another name (field migration) to start a new migration, nothing was written", b.name, len(gone), config.ShortList(gone))})
	}
	switch b.mig.Phase {
	case ledger.PhaseRestore, ledger.PhaseReindex, ledger.PhaseVerify, ledger.PhaseReplicas:
		if b.mig.Snapshot != "" && res.Snapshot != "" {
			res.Snapshot = b.mig.Snapshot
		}
	}
	for _, d := range b.docs {
		d.Verified, d.Verdict = false, nil
		if d.Item == nil {
			continue
		}
		it := *d.Item
		it.Parts = append([]reindex.Part(nil), it.Parts...)
		for j := range it.Parts {
			if it.Parts[j].State == reindex.Failed {
				it.Parts[j].Retry()
			}
		}
		d.Item = &it
	}
	return b.book.save(ctx, b.docs)
}
