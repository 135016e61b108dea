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
	"github.com/essnap/essnap/pkg/metadata"
	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/reindex"
	"github.com/essnap/essnap/pkg/snapshot"
)

// sourceReplicas reads each source index's number_of_replicas, keyed by
// the name the restore gives it on the target. A value the engine does
// not report counts as 1, the engines' default.
func sourceReplicas(ctx context.Context, src PreflightOps, indices []snapshot.IndexMapping) (map[string]int, error) {
	names := make([]string, len(indices))
	for i, m := range indices {
		names[i] = m.Source
	}
	out := map[string]int{}
	if len(names) == 0 {
		return out, nil
	}
	set, err := src.FlatSettings(ctx, names)
	if err != nil {
		return nil, err
	}
	for _, m := range indices {
		n, err := strconv.Atoi(set[m.Source]["index.number_of_replicas"])
		if err != nil || n < 0 {
			n = 1
		}
		out[m.Target] = n
	}
	return out, nil
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
	errs          problems
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
	Indices  []snapshot.IndexMapping `json:"indices"`
	// SourceIndices are every selected source index, concrete names
	// (never patterns); TargetIndices what they become on the target.
	SourceIndices []string `json:"source_indices"`
	TargetIndices []string `json:"target_indices"`
	// SnapshotIndices are the ones the snapshot carries (method snapshot),
	// so the snapshot holds exactly what was checked; SnapshotTargets are
	// the names the restore creates.
	SnapshotIndices []string `json:"snapshot_indices"`
	SnapshotTargets []string `json:"snapshot_targets"`
	// Methods counts the indices per method, for the state machine's
	// choice of paths. Reindex has the reindex step's own form: its plan
	// (done false), or done with a skipped report when no index goes by
	// reindex; the step's answers replace it in the execution's state.
	Methods       MethodCounts  `json:"methods"`
	Reindex       ReindexResult `json:"reindex"`
	Warnings      []string      `json:"warnings"`
	RenameSuffix  string        `json:"rename_suffix"`
	Method        string        `json:"method"`
	SkippedSystem []string      `json:"skipped_system_indices"`
	// Compatibility is each source index's created version and verdict
	// (snapshot, reindex or refused) against the target.
	Compatibility []migrate.IndexCompat `json:"compatibility"`
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
	Replicas map[string]int `json:"replicas"`
}

// The state budget: Step Functions' 256 KB, less room for the input and
// the steps' own answers; verify's and the reindex step's reports add
// about perIndexStateBytes per index.
const (
	maxStateBytes      = 200 << 10
	perIndexStateBytes = 700
)

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
	if res.Replicas, err = sourceReplicas(ctx, src, plan.Indices); err != nil {
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
		return res, h.fail(ctx, "preflight", failure.IndexConflict(fmt.Sprintf("preflight: %d target indices already exist on the target: %s; %s", len(list), strings.Join(list, ", "), why)))
	}
	for _, n := range res.SourceIndices {
		res.SourceDocs += srcIdx[n].Docs
		res.SourceBytes += srcIdx[n].Bytes
	}

	res.Reindex = ReindexResult{Done: true, Report: &reindex.Report{Skipped: true}}
	if len(copyIdx) > 0 {
		plan, err := h.planReindex(ctx, c, src, tgt, copyIdx, srcIdx, byMethod, &res.Warnings)
		if err != nil {
			return res, h.fail(ctx, "preflight", err)
		}
		res.Reindex = ReindexResult{Plan: plan}
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
	// The execution carries this result, and verify and the reindex step
	// add about perIndexStateBytes per index: refuse what would outgrow
	// Step Functions' 256 KB state before anything is written.
	if b, _ := json.Marshal(res); len(b)+perIndexStateBytes*len(res.Indices) > maxStateBytes {
		return res, h.fail(ctx, "preflight", failure.Validation("preflight", []string{fmt.Sprintf(
			"%d selected indices make an execution state of about %d KB, over the %d KB Step Functions allows; split the migration into several executions with narrower indices patterns (e.g. one month of daily indices each)",
			len(res.Indices), (len(b)+perIndexStateBytes*len(res.Indices))/1024, maxStateBytes/1024)}))
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
