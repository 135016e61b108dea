package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/snapshot"
)

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
	errs           problems
}

// LoadPreflightConfig applies defaults, environment and event, in that order.
func LoadPreflightConfig(getenv func(string) string, raw []byte) PreflightConfig {
	c := PreflightConfig{Strategy: migrate.Push, RenameSuffix: migrate.DefaultRenameSuffix, SnapshotPrefix: "migration", DiskHeadroom: 0.15}
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
	if len(p) > 0 {
		return failure.Validation("preflight", p)
	}
	return nil
}

// validateDomains checks both sides and that they differ.
func validateDomains(p *problems, src, tgt Domain) {
	var sp, tp problems
	src.validate(&sp)
	tgt.validate(&tp)
	for _, s := range sp {
		p.add("source: %s", strings.Replace(s, `"endpoint" or ESSNAP_ENDPOINT`, `"source.endpoint" or ESSNAP_ENDPOINT`, 1))
	}
	for _, s := range tp {
		p.add("target: %s", strings.Replace(s, `"endpoint" or ESSNAP_ENDPOINT`, `"target.endpoint" or ESSNAP_TARGET_ENDPOINT`, 1))
	}
	if src.Endpoint != "" && strings.TrimRight(src.Endpoint, "/") == strings.TrimRight(tgt.Endpoint, "/") {
		p.add("source and target are the same domain (%s); a migration needs two domains", esclient.RedactEndpoint(src.Endpoint))
	}
}

// PreflightResult is what the pre-flight found and decided; the state
// machine takes the snapshot name and index lists from it.
type PreflightResult struct {
	Strategy     string                  `json:"strategy"`
	SourceEngine migrate.Engine          `json:"source_engine"`
	TargetEngine migrate.Engine          `json:"target_engine"`
	Snapshot     string                  `json:"snapshot"`
	Indices      []snapshot.IndexMapping `json:"indices"`
	// SourceIndices are the concrete names to snapshot (never patterns, so
	// the snapshot holds exactly what was checked).
	SourceIndices []string `json:"source_indices"`
	// TargetIndices are the names the restore creates on the target.
	TargetIndices []string `json:"target_indices"`
	RenameSuffix  string   `json:"rename_suffix"`
	SkippedSystem []string `json:"skipped_system_indices"`
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
	src, tgt, err := h.bothDomains(ctx, c.Source, c.Target)
	if err != nil {
		return PreflightResult{}, err
	}
	now := h.Clock.Now()
	res := PreflightResult{Strategy: c.Strategy, Snapshot: migrate.SnapshotName(c.SnapshotPrefix, now), CheckedAt: now.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
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
	if err := migrate.CheckVerdicts(res.SourceEngine, res.TargetEngine, res.Compatibility); err != nil {
		return res, h.fail(ctx, "preflight", failure.VersionMismatch("preflight: "+err.Error()))
	}
	if res.Replicas, err = sourceReplicas(ctx, src, plan.Indices); err != nil {
		return res, h.fail(ctx, "preflight", fmt.Errorf("source: %w", err))
	}
	if len(plan.Collisions) > 0 {
		list := make([]string, len(plan.Collisions))
		for i, col := range plan.Collisions {
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
	h.Log.InfoContext(ctx, "preflight passed", "strategy", res.Strategy, "source", res.SourceEngine.String(), "target", res.TargetEngine.String(),
		"indices", len(res.Indices), "source_docs", res.SourceDocs, "source_bytes", res.SourceBytes, "snapshot", res.Snapshot, "metadata_warnings", len(md.Warnings))
	return res, nil
}

// bothDomains connects to a migration's source and target.
func (d Deps) bothDomains(ctx context.Context, source, target Domain) (src, tgt Operations, err error) {
	if src, err = d.connect(ctx, source); err != nil {
		return nil, nil, err
	}
	if tgt, err = d.connect(ctx, target); err != nil {
		return nil, nil, err
	}
	return src, tgt, nil
}
