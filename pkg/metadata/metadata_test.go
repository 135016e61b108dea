package metadata

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/essnap/essnap/internal/golden"
	"github.com/essnap/essnap/pkg/settings"
)

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var osProcessors = map[string]bool{"set": true, "rename": true, "date": true, "grok": true, "foreach": true, "lowercase": true}

// Every decision an operator reads, for the kinds of metadata and the cases
// the issue names, with a golden file so the reasons are reviewed.
func TestDecideGolden(t *testing.T) {
	cases := []struct {
		name        string
		item        Item
		have        string // "" = missing on the target
		crossFamily bool
		overwrite   bool
		want        Status
		action      string
	}{
		{"legacy template missing", Item{LegacyTemplate, "logs", nil}, "", true, false, Missing, "create"},
		{"legacy template identical, numbers as strings", Item{LegacyTemplate, "logs", nil}, `{"order":1,"index_patterns":["logs-*"],"settings":{"index":{"number_of_shards":"1","default_pipeline":"logs"}},"mappings":{"properties":{"host":{"type":"keyword"},"@timestamp":{"type":"date"}}},"aliases":{"logs":{}}}`, true, false, Identical, "none"},
		{"legacy template conflicting", Item{LegacyTemplate, "logs", nil}, `{"order":1,"index_patterns":["logs-*"],"settings":{"index":{"number_of_shards":"3"}},"mappings":{},"aliases":{}}`, true, false, Conflicting, "none"},
		{"legacy template conflicting, overwrite", Item{LegacyTemplate, "logs", nil}, `{"order":1,"index_patterns":["logs-*"],"settings":{},"mappings":{},"aliases":{}}`, true, true, Conflicting, "overwrite"},
		{"tier preference dropped across families", Item{LegacyTemplate, "tiered", nil}, "", true, false, Missing, "create"},
		{"tier preference dropped within a family too", Item{LegacyTemplate, "tiered", nil}, "", false, false, Missing, "create"},
		{"ILM setting dropped", Item{ComponentTemplate, "lifecycle", nil}, "", true, false, Missing, "create"},
		{"ILM setting dropped within a family too", Item{ComponentTemplate, "lifecycle", nil}, "", false, false, Missing, "create"},
		{"allocation filter, write block and ISM policy dropped", Item{IndexTemplate, "pinned", nil}, "", false, false, Missing, "create"},
		{"composable template", Item{IndexTemplate, "logs-composable", nil}, "", true, false, Missing, "create"},
		{"pipeline with all processors", Item{Pipeline, "logs", nil}, "", true, false, Missing, "create"},
		{"pipeline with a processor the target lacks", Item{Pipeline, "fingerprinted", nil}, "", false, false, Refused, "none"},
		{"nested foreach and on_failure processors checked", Item{Pipeline, "nested", nil}, "", false, false, Refused, "none"},
		{"hidden template skipped", Item{LegacyTemplate, ".kibana_task_manager", nil}, "", true, false, Skipped, "none"},
		{"plugin template skipped", Item{IndexTemplate, "ism-history-indices-template", nil}, "", true, false, Skipped, "none"},
		{"security template skipped", Item{LegacyTemplate, "security-auditlog", nil}, "", true, false, Skipped, "none"},
	}
	bodies := map[string]string{
		"logs":            `{"order":1,"index_patterns":["logs-*"],"settings":{"index":{"number_of_shards":"1","default_pipeline":"logs"}},"mappings":{"properties":{"host":{"type":"keyword"},"@timestamp":{"type":"date"}}},"aliases":{"logs":{}}}`,
		"tiered":          `{"index_patterns":["t-*"],"settings":{"index":{"number_of_shards":"1","routing":{"allocation":{"include":{"_tier_preference":"data_hot"}}}}},"mappings":{},"aliases":{}}`,
		"lifecycle":       `{"template":{"settings":{"index.lifecycle.name":"hot-warm","number_of_replicas":"0"}}}`,
		"pinned":          `{"index_patterns":["p-*"],"template":{"settings":{"index":{"routing.allocation.require.box":"warm","blocks":{"write":"true"},"codec":"best_compression"},"index.plugins.index_state_management.policy_id":"rollover"}}}`,
		"logs-composable": `{"index_patterns":["app-*"],"composed_of":["base","lifecycle"],"priority":10,"template":{"aliases":{"app":{}}}}`,
		"fingerprinted":   `{"processors":[{"set":{"field":"a","value":1}},{"fingerprint":{"fields":["a"]}}]}`,
		"nested":          `{"processors":[{"foreach":{"field":"x","processor":{"community_id":{}}}}],"on_failure":[{"set":{"field":"err","value":1,"on_failure":[{"copy":{}}]}}]}`,
	}
	var all []Decision
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := bodies[c.item.Name]
			if body == "" {
				body = `{"index_patterns":["x-*"]}`
			}
			c.item.Body = obj(t, body)
			before, _ := json.Marshal(c.item.Body)
			var have map[string]any
			if c.have != "" {
				have = obj(t, c.have)
			}
			procs := osProcessors
			if c.item.Kind != Pipeline {
				procs = nil
			}
			d := Decide(c.item, have, c.crossFamily, procs, c.overwrite)
			if d.Status != c.want || d.Action != c.action {
				t.Fatalf("status %s action %s (%s), want %s %s", d.Status, d.Action, d.Reason, c.want, c.action)
			}
			if after, _ := json.Marshal(c.item.Body); string(after) != string(before) {
				t.Fatal("Decide changed the source item")
			}
			d.Name = c.name + ": " + d.Name
			all = append(all, d)
		})
	}
	golden.JSON(t, "testdata/decide.golden.json", all)
}

// However the template writes the setting (nested, flat, a mix, without
// the index. prefix), it is dropped once, reported with the same reason,
// and the rest stays; for every engine pair.
func TestTranslateDropsTierPreferenceEverywhere(t *testing.T) {
	const want = "setting index.routing.allocation.include._tier_preference: Elasticsearch data tiers; on OpenSearch it is a node attribute no node has, so shards would stay unassigned"
	for _, crossFamily := range []bool{true, false} {
		for _, settings := range []string{
			`{"index":{"routing":{"allocation":{"include":{"_tier_preference":"data_hot"}}},"number_of_shards":"1"}}`,
			`{"index.routing.allocation.include._tier_preference":"data_hot","index.number_of_shards":"1"}`,
			`{"routing.allocation.include._tier_preference":"data_hot","number_of_shards":"1"}`,
			`{"index":{"routing.allocation":{"include._tier_preference":"data_hot"},"number_of_shards":"1"}}`,
			`{"index.routing":{"allocation":{"include":{"_tier_preference":"data_hot"}}},"index":{"number_of_shards":"1"}}`,
		} {
			t.Run(fmt.Sprintf("crossFamily=%v %s", crossFamily, settings), func(t *testing.T) {
				it := Item{LegacyTemplate, "t", obj(t, `{"index_patterns":["t-*"],"settings":`+settings+`}`)}
				out, dropped, err := Translate(it, crossFamily, nil)
				if err != nil || len(dropped) != 1 || dropped[0] != want {
					t.Fatalf("%v %v", dropped, err)
				}
				b, _ := json.Marshal(out.Body)
				if strings.Contains(string(b), "_tier") || strings.Contains(string(b), "routing") || !strings.Contains(string(b), "number_of_shards") {
					t.Fatalf("translated body %s", b)
				}
			})
		}
	}
}

// Each setting the rule refuses is dropped from a template whichever way
// the template writes it, with the rule's own reason; the rest stays.
func TestTranslateAppliesTheSettingsRule(t *testing.T) {
	for _, key := range []string{"index.uuid", "index.version.created", "index.lifecycle.name", "index.routing.allocation.require.box",
		"index.routing.allocation.exclude._tier", "index.blocks.read_only", "index.soft_deletes.enabled", "index.translog.retention.age",
		"index.plugins.index_state_management.auto_manage", "index.opendistro.index_state_management.policy_id", "archived.index.gone"} {
		why, refused := settings.Refused(key)
		if !refused {
			t.Fatalf("%s is not refused by the rule", key)
		}
		short := strings.TrimPrefix(key, "index.")
		for _, body := range []string{
			`{"` + key + `":"x","index.codec":"best_compression"}`,
			`{"` + short + `":"x","codec":"best_compression"}`,
		} {
			t.Run(body, func(t *testing.T) {
				it := Item{ComponentTemplate, "c", obj(t, `{"template":{"settings":`+body+`}}`)}
				out, dropped, err := Translate(it, false, nil)
				if err != nil || len(dropped) != 1 || dropped[0] != "setting "+key+": "+why {
					t.Fatalf("%v %v", dropped, err)
				}
				if b, _ := json.Marshal(out.Body); strings.Contains(string(b), short) || !strings.Contains(string(b), "best_compression") {
					t.Fatalf("translated body %s", b)
				}
			})
		}
	}
}

func TestPolicies(t *testing.T) {
	got := Policies(map[string]map[string]string{
		"logs-1": {"index.lifecycle.name": "hot-warm"},
		"logs-2": {"index.lifecycle.name": "hot-warm"},
		"app-1":  {"index.plugins.index_state_management.policy_id": "rollover"},
		"plain":  {"index.number_of_shards": "1"},
	})
	if len(got) != 2 || got[0].Policy != "hot-warm" || len(got[0].Indices) != 2 || got[1].Engine != "ism" || !strings.Contains(got[0].Advice, "create an ISM policy") {
		t.Fatalf("%+v", got)
	}
}

func TestDiffKeys(t *testing.T) {
	d := Diff(obj(t, `{"a":{"b":"1","c":2},"d":[1,"x"]}`), obj(t, `{"a":{"b":1,"c":"3"},"e":true,"d":["1","x"]}`))
	if strings.Join(d, ",") != "a.c,e" {
		t.Fatalf("%v", d)
	}
}
