package handler

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/metadata"
	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/reindex"
	"github.com/essnap/essnap/pkg/snapshot"
)

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

// bothDomains connects to a migration's source and target, both seen
// through the step's interface T.
func bothDomains[T any](ctx context.Context, d Deps, source, target Domain) (src, tgt T, err error) {
	if src, err = connect[T](ctx, d, source); err != nil {
		return src, tgt, err
	}
	if tgt, err = connect[T](ctx, d, target); err != nil {
		return src, tgt, err
	}
	return src, tgt, nil
}

// metadataReads are the reads planMetadata makes: the pre-flight and
// migrate-metadata both plan, each through its own interface.
type metadataReads interface {
	MetadataItems(ctx context.Context) ([]metadata.Item, error)
	IngestProcessors(ctx context.Context) (map[string]bool, error)
	FlatSettings(ctx context.Context, names []string) (map[string]map[string]string, error)
}

// planMetadata decides every item from both domains' metadata, for the
// given engines and the concrete source indices being migrated (hidden
// and system ones are left out of warnings and policies); the pre-flight
// (which has read the engines and indices already) uses it read-only,
// migrate-metadata also applies it.
func planMetadata(ctx context.Context, src, tgt metadataReads, srcEngine, tgtEngine migrate.Engine, indices, include []string, overwrite bool) (MetadataResult, error) {
	names := slices.DeleteFunc(slices.Clone(indices), func(n string) bool { return strings.HasPrefix(n, ".") })
	res := MetadataResult{SourceEngine: srcEngine, TargetEngine: tgtEngine, Items: []metadata.Decision{}, Policies: []metadata.Policy{}, Warnings: []string{}, Counts: map[string]int{}}
	cross := srcEngine.Distribution != tgtEngine.Distribution
	items, err := src.MetadataItems(ctx)
	if err != nil {
		return res, fmt.Errorf("source: %w", err)
	}
	have, err := tgt.MetadataItems(ctx)
	if err != nil {
		return res, fmt.Errorf("target: %w", err)
	}
	existing := map[string]map[string]any{}
	for _, it := range have {
		existing[string(it.Kind)+"/"+it.Name] = it.Body
	}
	procs, err := tgt.IngestProcessors(ctx)
	if err != nil {
		return res, fmt.Errorf("target: %w", err)
	}
	included := map[string]bool{}
	if len(include) > 0 {
		itemNames := make([]string, len(items))
		for i, it := range items {
			itemNames[i] = it.Name
		}
		sel, _, _ := snapshot.MatchIndices(itemNames, include)
		for _, n := range sel {
			included[n] = true
		}
	}
	for _, it := range items {
		if len(include) > 0 && !included[it.Name] {
			continue
		}
		d := metadata.Decide(it, existing[string(it.Kind)+"/"+it.Name], cross, procs, overwrite)
		res.Items = append(res.Items, d)
		res.Counts[string(d.Status)]++
		if (d.Kind == metadata.LegacyTemplate || d.Kind == metadata.IndexTemplate) && (d.Status == metadata.Missing || d.Status == metadata.Refused || d.Status == metadata.Conflicting && d.Action != "overwrite") {
			if hit := firstMatch(names, it.Body["index_patterns"]); hit != "" {
				res.Warnings = append(res.Warnings, fmt.Sprintf("the target lacks the source's %s %s (%s), which matches %s: new indices the shippers create there get dynamic mappings; run migrate-metadata before switching the shippers", strings.ReplaceAll(string(d.Kind), "_", " "), d.Name, d.Status, hit))
			}
		}
	}
	if len(names) > 0 {
		flat, err := src.FlatSettings(ctx, names)
		if err != nil {
			return res, fmt.Errorf("source: %w", err)
		}
		res.Policies = metadata.Policies(flat)
	}
	return res, nil
}

// firstMatch returns the first name an index_patterns value matches.
func firstMatch(names []string, patterns any) string {
	var ps []string
	switch v := patterns.(type) {
	case []any:
		for _, p := range v {
			if s, ok := p.(string); ok {
				ps = append(ps, s)
			}
		}
	case string:
		ps = strings.Split(v, ",")
	}
	if len(ps) == 0 { // MatchIndices reads no pattern as "*"
		return ""
	}
	if hits, _, _ := snapshot.MatchIndices(names, ps); len(hits) > 0 {
		return hits[0]
	}
	return ""
}

// validReindexTuning is the one check of the reindex path's tuning: the
// pre-flight's fields (prefix "") and the plan that carries them to the
// reindex step (prefix "plan.").
func validReindexTuning(p *problems, prefix string, t reindex.Plan) {
	if t.MaxConcurrent < 1 || t.MaxConcurrent > 64 {
		p.add("%smax_concurrent %d must be between 1 and 64 (reindex tasks running at once on the target)", prefix, t.MaxConcurrent)
	}
	if t.BatchSize < 1 || t.BatchSize > 10000 {
		p.add("%sbatch_size %d must be between 1 and 10000 (documents per remote read; the source's max_result_window is 10000)", prefix, t.BatchSize)
	}
	if t.MaxAttempts < 1 || t.MaxAttempts > 10 {
		p.add("%smax_attempts %d must be between 1 and 10 (starts of one reindex part)", prefix, t.MaxAttempts)
	}
	// At least 5 s, so the state machine's loop counts time against its
	// deadline.
	field := "reindex_check_seconds"
	if prefix != "" {
		field = prefix + "check_seconds"
	}
	if t.CheckSeconds < 5 || t.CheckSeconds > MaxWaitSeconds {
		p.add("%s %d must be between 5 and %d (the function times out after 300 s; the loop counts it against its deadline)", field, t.CheckSeconds, MaxWaitSeconds)
	}
}

// remoteHost is the host the target's remote reindex reads the source at:
// its endpoint with an explicit port (AWS requires :443).
func remoteHost(endpoint string) (string, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("remote_host %q is not a URL such as https://search-old-abc.eu-west-1.es.amazonaws.com:443", config.Short(endpoint))
	}
	if u.Port() == "" {
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		u.Host += ":" + port
	}
	return u.Scheme + "://" + u.Host, nil
}
