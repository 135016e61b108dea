package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/metadata"
)

// MetadataItems reads every ingest pipeline and component, composable and
// legacy index template of the domain, as its GET APIs answer them (the
// bodies a PUT accepts). An engine without composable templates (none of
// those essnap supports) would answer 404/400; that kind is then empty.
func (o Ops) MetadataItems(ctx context.Context) ([]metadata.Item, error) {
	var out []metadata.Item
	var pipelines map[string]map[string]any
	if err := o.C.Do(ctx, http.MethodGet, "/_ingest/pipeline", nil, nil, &pipelines); err != nil && !notFound(err) {
		return nil, fmt.Errorf("read ingest pipelines: %w", err)
	}
	for name, body := range pipelines {
		out = append(out, metadata.Item{Kind: metadata.Pipeline, Name: name, Body: body})
	}
	var comps struct {
		ComponentTemplates []struct {
			Name string         `json:"name"`
			Body map[string]any `json:"component_template"`
		} `json:"component_templates"`
	}
	if err := o.C.Do(ctx, http.MethodGet, "/_component_template", nil, nil, &comps); err != nil && !notFound(err) {
		return nil, fmt.Errorf("read component templates: %w", err)
	}
	for _, c := range comps.ComponentTemplates {
		out = append(out, metadata.Item{Kind: metadata.ComponentTemplate, Name: c.Name, Body: c.Body})
	}
	var its struct {
		IndexTemplates []struct {
			Name string         `json:"name"`
			Body map[string]any `json:"index_template"`
		} `json:"index_templates"`
	}
	if err := o.C.Do(ctx, http.MethodGet, "/_index_template", nil, nil, &its); err != nil && !notFound(err) {
		return nil, fmt.Errorf("read index templates: %w", err)
	}
	for _, c := range its.IndexTemplates {
		out = append(out, metadata.Item{Kind: metadata.IndexTemplate, Name: c.Name, Body: c.Body})
	}
	var legacy map[string]map[string]any
	if err := o.C.Do(ctx, http.MethodGet, "/_template", nil, nil, &legacy); err != nil && !notFound(err) {
		return nil, fmt.Errorf("read legacy templates: %w", err)
	}
	for name, body := range legacy {
		out = append(out, metadata.Item{Kind: metadata.LegacyTemplate, Name: name, Body: body})
	}
	rank := map[metadata.Kind]int{}
	for i, k := range metadata.Order {
		rank[k] = i
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return rank[out[i].Kind] < rank[out[j].Kind]
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// metadataPath is where a kind of metadata lives.
func metadataPath(kind metadata.Kind, name string) (string, error) {
	switch kind {
	case metadata.Pipeline:
		return esclient.Path("_ingest", "pipeline", name), nil
	case metadata.ComponentTemplate:
		return esclient.Path("_component_template", name), nil
	case metadata.IndexTemplate:
		return esclient.Path("_index_template", name), nil
	case metadata.LegacyTemplate:
		return esclient.Path("_template", name), nil
	}
	return "", fmt.Errorf("unknown metadata kind %q", kind)
}

// PutMetadata creates or replaces one item. A PUT of the same body is
// idempotent on every engine.
func (o Ops) PutMetadata(ctx context.Context, kind metadata.Kind, name string, body map[string]any) error {
	p, err := metadataPath(kind, name)
	if err != nil {
		return err
	}
	if err := o.C.Do(ctx, http.MethodPut, p, nil, body, nil); err != nil {
		return fmt.Errorf("put %s %s: %w", kind, name, err)
	}
	return nil
}

// IngestProcessors lists the processor types every node of the domain
// offers, for refusing pipelines the target cannot run.
func (o Ops) IngestProcessors(ctx context.Context) (map[string]bool, error) {
	var ans struct {
		Nodes map[string]struct {
			Ingest struct {
				Processors []struct {
					Type string `json:"type"`
				} `json:"processors"`
			} `json:"ingest"`
		} `json:"nodes"`
	}
	q := url.Values{"filter_path": {"nodes.*.ingest.processors.type"}}
	if err := o.C.Do(ctx, http.MethodGet, "/_nodes/ingest", q, nil, &ans); err != nil {
		return nil, fmt.Errorf("read ingest processors: %w", err)
	}
	out := map[string]bool{}
	first := true
	for _, n := range ans.Nodes {
		have := map[string]bool{}
		for _, p := range n.Ingest.Processors {
			have[p.Type] = true
		}
		if first {
			out, first = have, false
			continue
		}
		for t := range out { // a processor must be on every node
			if !have[t] {
				delete(out, t)
			}
		}
	}
	return out, nil
}
