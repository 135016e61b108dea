//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/metadata"
)

// mdSource puts on the source what log indices rely on: an ingest pipeline
// set as index.default_pipeline, a legacy template, a composable template
// built from two component templates, each with an alias; on Elasticsearch
// also a template carrying the Elasticsearch-only _tier_preference.
func mdSource(t *testing.T, src peer) {
	t.Helper()
	mustRaw(t, src, "PUT", "/_ingest/pipeline/md-pipe", `{"description":"marks documents","processors":[{"set":{"field":"pipeline_ran","value":true}}]}`)
	mustRaw(t, src, "PUT", "/_template/md-legacy", `{"order":1,"index_patterns":["md-legacy-*"],"settings":{"index.number_of_replicas":0,"index.default_pipeline":"md-pipe"},"mappings":{"properties":{"host":{"type":"keyword"},"@timestamp":{"type":"date"}}},"aliases":{"md-legacy":{}}}`)
	mustRaw(t, src, "PUT", "/_component_template/md-comp-mappings", `{"template":{"mappings":{"properties":{"host":{"type":"keyword"},"@timestamp":{"type":"date"}}}}}`)
	mustRaw(t, src, "PUT", "/_component_template/md-comp-settings", `{"template":{"settings":{"index.number_of_replicas":0,"index.default_pipeline":"md-pipe"}}}`)
	mustRaw(t, src, "PUT", "/_index_template/md-composable", `{"index_patterns":["md-daily-*"],"composed_of":["md-comp-mappings","md-comp-settings"],"priority":50,"template":{"aliases":{"md-daily":{}}}}`)
	mustRaw(t, src, "PUT", "/_template/md-conflict", `{"index_patterns":["md-conflict-*"],"settings":{"index.number_of_shards":1}}`)
	mustRaw(t, src, "PUT", "/md-src-2026.11.29", `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)
	if strings.HasPrefix(src.Name, "elasticsearch") {
		mustRaw(t, src, "PUT", "/_template/md-tiered", `{"index_patterns":["md-tiered-*"],"settings":{"index.number_of_replicas":0,"index.routing.allocation.include._tier_preference":"data_hot"}}`)
	}
}

func mdCleanup(t *testing.T, engines ...peer) {
	for _, e := range engines {
		deleteIndices(t, e, "md-*")
		for _, p := range []string{"/_index_template/md-composable", "/_component_template/md-comp-mappings", "/_component_template/md-comp-settings", "/_template/md-*", "/_ingest/pipeline/md-*"} {
			raw(t, e, "DELETE", p, "")
		}
	}
}

func mdInvoke(t *testing.T, src, tgt peer, extra string) (handler.MetadataResult, error) {
	t.Helper()
	ev := fmt.Sprintf(`{"source":{"endpoint":%q,"unsigned":true},"target":{"endpoint":%q,"unsigned":true},"indices":["md-src-*"],"include":["md-*"]%s}`, src.URL, tgt.URL, extra)
	return (handler.Metadata{Deps: deps(src, nil, time.Now())}).Invoke(context.Background(), json.RawMessage(ev))
}

func statusOf(res handler.MetadataResult, kind metadata.Kind, name string) metadata.Decision {
	for _, d := range res.Items {
		if d.Kind == kind && d.Name == name {
			return d
		}
	}
	return metadata.Decision{}
}

// The metadata step carries templates and pipelines so that a NEW daily
// index the shippers create on the target gets the source's mappings,
// pipeline and alias; a conflicting template is reported and kept unless
// overwrite; a rerun changes nothing; an Elasticsearch-only setting is
// dropped and reported while the rest is applied.
func TestMigrateMetadata(t *testing.T) {
	for _, pair := range []struct{ src, tgt string }{{es710, os219}, {es710, os35}, {os219, os35}} {
		t.Run(pair.src+"-to-"+pair.tgt, func(t *testing.T) {
			src, tgt := engineNamed(t, pair.src), engineNamed(t, pair.tgt)
			mdCleanup(t, src, tgt)
			t.Cleanup(func() { mdCleanup(t, src, tgt) })
			mdSource(t, src)
			mustRaw(t, tgt, "PUT", "/_template/md-conflict", `{"index_patterns":["md-conflict-*"],"settings":{"index.number_of_shards":2}}`)

			// Dry run: the diff, nothing written.
			res, err := mdInvoke(t, src, tgt, `,"dry_run":true`)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []struct {
				kind   metadata.Kind
				name   string
				status metadata.Status
			}{
				{metadata.Pipeline, "md-pipe", metadata.Missing},
				{metadata.LegacyTemplate, "md-legacy", metadata.Missing},
				{metadata.ComponentTemplate, "md-comp-mappings", metadata.Missing},
				{metadata.IndexTemplate, "md-composable", metadata.Missing},
				{metadata.LegacyTemplate, "md-conflict", metadata.Conflicting},
			} {
				if d := statusOf(res, want.kind, want.name); d.Status != want.status {
					t.Errorf("dry run: %s %s is %q, want %q (%+v)", want.kind, want.name, d.Status, want.status, d)
				}
			}
			if d := statusOf(res, metadata.LegacyTemplate, "md-conflict"); !strings.Contains(strings.Join(d.Differs, ","), "number_of_shards") {
				t.Errorf("conflict should name the differing key: %+v", d)
			}
			if st, _ := raw(t, tgt, "GET", "/_template/md-legacy", ""); st != 404 {
				t.Fatal("the dry run wrote to the target")
			}

			// Apply.
			if res, err = mdInvoke(t, src, tgt, ""); err != nil {
				t.Fatal(err)
			}
			if res.Counts["missing"] < 5 {
				t.Fatalf("counts %v", res.Counts)
			}
			if strings.HasPrefix(src.Name, "elasticsearch") {
				d := statusOf(res, metadata.LegacyTemplate, "md-tiered")
				if d.Status != metadata.Missing || len(d.Dropped) != 1 || !strings.Contains(d.Dropped[0], "_tier_preference") {
					t.Fatalf("tiered template: %+v", d)
				}
				body := mustRaw(t, tgt, "GET", "/_template/md-tiered", "")
				if b, _ := json.Marshal(body); strings.Contains(string(b), "_tier") || !strings.Contains(string(b), "number_of_replicas") {
					t.Fatalf("md-tiered on the target: %s", b)
				}
			}
			// The conflicting template is left as it was.
			if b, _ := json.Marshal(mustRaw(t, tgt, "GET", "/_template/md-conflict", "")); !strings.Contains(string(b), `"number_of_shards":"2"`) {
				t.Fatalf("conflicting template changed: %s", b)
			}

			// A new daily index on the target, as a switched shipper creates it.
			for _, index := range []string{"md-daily-2026.11.30", "md-legacy-2026.11.30"} {
				mustRaw(t, tgt, "PUT", "/"+index+"/_doc/1?refresh=true", `{"host":"web-1","@timestamp":"2026-11-30T01:02:03Z"}`)
				m := mustRaw(t, tgt, "GET", "/"+index+"/_mapping", "")
				props := m[index].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
				if typ := props["host"].(map[string]any)["type"]; typ != "keyword" {
					t.Errorf("%s: host is %v, want keyword (dynamic mapping would make it text)", index, typ)
				}
				if typ := props["@timestamp"].(map[string]any)["type"]; typ != "date" {
					t.Errorf("%s: @timestamp is %v, want date", index, typ)
				}
				doc := mustRaw(t, tgt, "GET", "/"+index+"/_doc/1", "")
				if doc["_source"].(map[string]any)["pipeline_ran"] != true {
					t.Errorf("%s: the pipeline did not run: %v", index, doc["_source"])
				}
				alias := strings.TrimSuffix(index, "-2026.11.30")
				if st, _ := raw(t, tgt, "HEAD", "/_alias/"+alias, ""); st != 200 {
					t.Errorf("%s: alias %s missing", index, alias)
				}
			}

			// A rerun: everything identical, nothing written.
			if res, err = mdInvoke(t, src, tgt, ""); err != nil {
				t.Fatal(err)
			}
			for _, d := range res.Items {
				if d.Name != "md-conflict" && d.Status != metadata.Identical {
					t.Errorf("rerun: %s %s is %s (%v)", d.Kind, d.Name, d.Status, d.Differs)
				}
				if d.Action != "none" {
					t.Errorf("rerun would %s %s", d.Action, d.Name)
				}
			}

			// overwrite replaces the conflicting template.
			if res, err = mdInvoke(t, src, tgt, `,"overwrite":true`); err != nil || statusOf(res, metadata.LegacyTemplate, "md-conflict").Action != "overwrite" {
				t.Fatalf("overwrite: %+v %v", statusOf(res, metadata.LegacyTemplate, "md-conflict"), err)
			}
			if b, _ := json.Marshal(mustRaw(t, tgt, "GET", "/_template/md-conflict", "")); !strings.Contains(string(b), `"number_of_shards":"1"`) {
				t.Fatalf("overwrite did not replace: %s", b)
			}
		})
	}
}

// A pipeline whose processor the target lacks is refused (OpenSearch 2.19's
// fingerprint processor, which OpenSearch 1.3 does not have), and the rest
// is applied.
func TestMigrateMetadataRefusesMissingProcessor(t *testing.T) {
	src, tgt := engineNamed(t, os219), engineNamed(t, os13)
	mdCleanup(t, src, tgt)
	t.Cleanup(func() { mdCleanup(t, src, tgt) })
	mustRaw(t, src, "PUT", "/_ingest/pipeline/md-fp", `{"processors":[{"fingerprint":{"fields":["host"]}}]}`)
	mustRaw(t, src, "PUT", "/_ingest/pipeline/md-plain", `{"processors":[{"set":{"field":"x","value":1}}]}`)
	res, err := mdInvoke(t, src, tgt, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := statusOf(res, metadata.Pipeline, "md-fp"); d.Status != metadata.Refused || !strings.Contains(d.Reason, "fingerprint") {
		t.Fatalf("md-fp: %+v", d)
	}
	if st, _ := raw(t, tgt, "GET", "/_ingest/pipeline/md-fp", ""); st != 404 {
		t.Fatal("the refused pipeline was written")
	}
	if st, _ := raw(t, tgt, "GET", "/_ingest/pipeline/md-plain", ""); st != 200 {
		t.Fatal("the rest was not applied")
	}
}

// Bad names and patterns are refused before anything is read or written.
func TestMigrateMetadataValidation(t *testing.T) {
	src, tgt := engineNamed(t, os219), engineNamed(t, os35)
	for _, c := range []struct{ extra, want string }{
		{`,"include":[""]`, `include[0] "" is empty`},
		{`,"include":["a b"]`, `include[0] "a b" contains a character`},
		{`,"indices":["logs,x"]`, `indices[0] "logs,x" contains a character`},
		{`,"overwrite":"yes"`, `field "overwrite" must be a boolean`},
	} {
		t.Run(c.extra, func(t *testing.T) {
			ev := fmt.Sprintf(`{"source":{"endpoint":%q,"unsigned":true},"target":{"endpoint":%q,"unsigned":true}%s}`, src.URL, tgt.URL, c.extra)
			_, err := (handler.Metadata{Deps: deps(src, nil, time.Now())}).Invoke(context.Background(), json.RawMessage(ev))
			if typeName(err) != "ValidationError" || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%T %v", err, err)
			}
		})
	}
}
