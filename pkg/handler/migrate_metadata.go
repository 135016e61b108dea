package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/ledger"
	"github.com/essnap/essnap/pkg/metadata"
	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/snapshot"
)

// MetadataConfig is migrate-metadata's configuration: both domains, the
// indices whose lifecycle policies to report, which items to carry, and
// whether to write. It reads the source only.
type MetadataConfig struct {
	Source  Domain   `json:"source"`
	Target  Domain   `json:"target" envprefix:"TARGET_"`
	Indices []string `json:"indices" env:"INDICES"`
	// Include limits the items carried to names matching these patterns
	// (`*` wildcards); empty carries every item the source has.
	Include   []string `json:"include"`
	DryRun    bool     `json:"dry_run"`
	Overwrite bool     `json:"overwrite"`
	// Migration (the workflow's step) takes the source indices from the
	// migration's ledger on the target instead of indices, applies at most
	// metadataBatch items per invocation (the loop calls until Done) and
	// answers with counts, not items.
	Migration string `json:"migration"`
	errs      problems
}

// LoadMetadataConfig applies defaults, environment and event, in that order.
func LoadMetadataConfig(getenv func(string) string, raw []byte) MetadataConfig {
	var c MetadataConfig
	c.errs, _ = load(&c, getenv, raw)
	return c
}

// Validate reports every problem at once.
func (c MetadataConfig) Validate() error {
	p := append(problems(nil), c.errs...)
	validateDomains(&p, c.Source, c.Target)
	for field, list := range map[string][]string{"indices": c.Indices, "include": c.Include} {
		for i, pat := range list {
			if err := validPattern(pat); err != nil {
				p.add("%s[%d] %q %v", field, i, shortValue(pat), err)
			}
		}
	}
	if c.Migration != "" {
		if err := ledger.ValidateName(c.Migration); err != nil {
			p.add("%v", err)
		}
	}
	sort.Strings(p)
	if len(p) > 0 {
		return failure.Validation("migrate-metadata", p)
	}
	return nil
}

// validPattern accepts a name or `*` pattern as index and template names
// allow them.
func validPattern(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("is empty; remove it or give a pattern such as logs-*")
	case len(p) > 255:
		return fmt.Errorf("is %d bytes; names are at most 255", len(p))
	case strings.ContainsAny(p, " ,\"\\/|<>?#") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("contains a character names cannot have (space , \" \\ / | < > ? # or a control character)")
	}
	if _, err := path.Match(strings.TrimPrefix(p, "-"), ""); err != nil {
		return fmt.Errorf("is not a valid pattern: %v", err)
	}
	return nil
}

func shortValue(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// MetadataResult is the plan (and, unless dry_run, what was applied).
type MetadataResult struct {
	SourceEngine migrate.Engine      `json:"source_engine"`
	TargetEngine migrate.Engine      `json:"target_engine"`
	DryRun       bool                `json:"dry_run"`
	Items        []metadata.Decision `json:"items"`
	// Policies are the lifecycle policies the selected indices use: reported,
	// not translated.
	Policies []metadata.Policy `json:"lifecycle_policies"`
	// Warnings name templates the selected indices match that the target
	// still lacks, so a push cut-over does not create daily indices with
	// dynamic mappings.
	Warnings []string       `json:"warnings"`
	Counts   map[string]int `json:"counts"`
	// Done is false while a migration's step has items left to apply.
	Done bool `json:"done"`
}

// metadataBatch bounds the items one invocation applies.
const metadataBatch = 100

// MetadataOps are the calls migrate-metadata makes, on the source and the
// target alike: the handler sees both domains through them alone.
type MetadataOps interface {
	EngineVersion(ctx context.Context) (engine.Version, error)
	Indices(ctx context.Context, pattern string) (map[string]engine.IndexState, error)
	MetadataItems(ctx context.Context) ([]metadata.Item, error)
	PutMetadata(ctx context.Context, kind metadata.Kind, name string, body map[string]any) error
	IngestProcessors(ctx context.Context) (map[string]bool, error)
	FlatSettings(ctx context.Context, names []string) (map[string]map[string]string, error)
}

// Metadata is the migrate-metadata handler: it carries ingest pipelines and
// index templates (component, composable, legacy) from the source to the
// target, translated and diffed, and reports lifecycle policies.
type Metadata struct{ Deps }

// Invoke plans, and unless dry_run applies, the metadata migration. Apply
// creates missing items and replaces conflicting ones only with
// overwrite; a rerun finds everything identical and changes nothing.
func (h Metadata) Invoke(ctx context.Context, raw json.RawMessage) (MetadataResult, error) {
	c := LoadMetadataConfig(h.Getenv, raw)
	if err := c.Validate(); err != nil {
		return MetadataResult{}, err
	}
	src, tgt, err := bothDomains[MetadataOps](ctx, h.Deps, c.Source, c.Target)
	if err != nil {
		return MetadataResult{}, err
	}
	if c.Migration != "" {
		b, err := openBook(ctx, h.Deps, c.Target, c.Migration)
		if err == nil {
			var docs []*bookIndex
			if docs, err = b.indices(ctx, engine.LedgerQuery{}); err == nil {
				// The ledger's indices replace indices (and ESSNAP_INDICES).
				c.Indices = c.Indices[:0]
				for _, d := range docs {
					c.Indices = append(c.Indices, d.Source)
				}
				if b.mig.Phase == ledger.PhasePlanned {
					err = b.update(ctx, func(m *ledger.Migration) { m.Phase = ledger.PhaseMetadata })
				}
			}
		}
		if err != nil {
			return MetadataResult{}, h.fail(ctx, "migrate-metadata", err)
		}
	}
	res, err := h.readAndPlan(ctx, src, tgt, c)
	res.DryRun, res.Done = c.DryRun, true
	if err != nil {
		return res, h.fail(ctx, "migrate-metadata", err)
	}
	if !c.DryRun {
		applied := 0
		for i, d := range res.Items {
			if d.Action != "create" && d.Action != "overwrite" {
				continue
			}
			if c.Migration != "" && applied == metadataBatch {
				res.Done = false // the loop calls again; applied items are identical then
				break
			}
			if err := tgt.PutMetadata(ctx, d.Kind, d.Name, d.Body); err != nil {
				return res, h.fail(ctx, "migrate-metadata", fmt.Errorf("target: %d of %d items applied, then: %w", i, len(res.Items), err))
			}
			applied++
		}
	}
	h.Log.InfoContext(ctx, "metadata", "dry_run", c.DryRun, "counts", res.Counts, "policies", len(res.Policies), "warnings", len(res.Warnings), "done", res.Done)
	if c.Migration != "" {
		res.Items, res.Policies = nil, nil
		if len(res.Warnings) > maxWarnings {
			res.Warnings = append(res.Warnings[:maxWarnings], fmt.Sprintf("... and %d more (in the log)", len(res.Warnings)-maxWarnings))
		}
	}
	return res, nil
}

// readAndPlan reads what planMetadata needs that migrate-metadata's event
// only names: both engines' versions and the concrete source indices its
// patterns select.
func (h Metadata) readAndPlan(ctx context.Context, src, tgt MetadataOps, c MetadataConfig) (MetadataResult, error) {
	sv, err := src.EngineVersion(ctx)
	if err != nil {
		return MetadataResult{}, fmt.Errorf("source: %w", err)
	}
	tv, err := tgt.EngineVersion(ctx)
	if err != nil {
		return MetadataResult{}, fmt.Errorf("target: %w", err)
	}
	var names []string
	if len(c.Indices) > 0 {
		all, err := src.Indices(ctx, "*")
		if err != nil {
			return MetadataResult{}, fmt.Errorf("source: %w", err)
		}
		// The one index-selection rule (snapshot.MatchIndices); the
		// patterns were validated, and names matching nothing are fine.
		names, _, _ = snapshot.MatchIndices(slices.Collect(maps.Keys(all)), c.Indices)
	}
	return planMetadata(ctx, src, tgt, migrate.Engine{Distribution: sv.Distribution, Number: sv.Number}, migrate.Engine{Distribution: tv.Distribution, Number: tv.Number}, names, c.Include, c.Overwrite)
}
