//go:build integration

package integration

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/reindex"
)

// engineOf reads an engine's version for the pairing rules.
func engineOf(t *testing.T, e peer) migrate.Engine {
	v, err := e.Ops.EngineVersion(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return migrate.Engine{Distribution: v.Distribution, Number: v.Number}
}

// A source index with the settings a real domain's index carries (engine-
// owned ones, allocation filters, a write block, a custom analyzer,
// auto_expand_replicas) is read by IndexDefinitions, translated, and
// created on every engine it may migrate to; the copy's settings and the
// source's values put back afterwards are what the engine then reports.
func TestTranslateOntoEveryNewerEngine(t *testing.T) {
	all := engines(t)
	for _, src := range all {
		for _, tgt := range all {
			if src.Name == tgt.Name || migrate.CheckEngines(engineOf(t, src), engineOf(t, tgt)) != nil {
				continue
			}
			t.Run(src.Name+"-to-"+tgt.Name, func(t *testing.T) {
				deleteIndices(t, src, "rx-def")
				deleteIndices(t, tgt, "rx-copy")
				t.Cleanup(func() { deleteIndices(t, src, "rx-def"); deleteIndices(t, tgt, "rx-copy") })
				mustRaw(t, src, "PUT", "/rx-def", `{"settings":{"number_of_shards":2,"number_of_replicas":0,"refresh_interval":"5s","auto_expand_replicas":"0-1",
					"routing":{"allocation":{"include":{"_name":"*"}}},
					"analysis":{"analyzer":{"lower":{"type":"custom","tokenizer":"keyword","filter":["lowercase"]}}}},
					"mappings":{"properties":{"@timestamp":{"type":"date"},"host":{"type":"keyword"},"msg":{"type":"text","analyzer":"lower"},"tags":{"type":"nested","properties":{"k":{"type":"keyword"}}}}}}`)
				mustRaw(t, src, "PUT", "/rx-def/_settings", `{"index.blocks.write":true}`)
				t.Cleanup(func() { raw(t, src, "PUT", "/rx-def/_settings", `{"index.blocks.write":null}`) })
				defs, err := src.Ops.IndexDefinitions(ctx(t), []string{"rx-def"})
				if err != nil {
					t.Fatal(err)
				}
				c := reindex.Translate(defs["rx-def"])
				for range 5 { // as the reindex step does: drop what the target refuses
					if _, err = tgt.Ops.CreateIndex(ctx(t), "rx-copy", c.Settings, c.Mappings); err == nil || !c.DropRefused(err.Error()) {
						break
					}
				}
				if err != nil {
					t.Fatalf("create on %s: %v (dropped %v)", tgt.Name, err, c.Dropped)
				}
				got := mustRaw(t, tgt, "GET", "/rx-copy?flat_settings=true", "")["rx-copy"].(map[string]any)
				set := got["settings"].(map[string]any)
				for k, want := range map[string]string{"index.number_of_shards": "2", "index.number_of_replicas": "0", "index.refresh_interval": "-1",
					"index.analysis.analyzer.lower.tokenizer": "keyword", "index.auto_expand_replicas": "false"} {
					if fmt.Sprint(set[k]) != want {
						t.Errorf("%s = %v, want %s", k, set[k], want)
					}
				}
				if _, ok := set["index.blocks.write"]; ok {
					t.Error("the source's write block travelled")
				}
				props := got["mappings"].(map[string]any)["properties"].(map[string]any)
				if fmt.Sprint(props["msg"]) != "map[analyzer:lower type:text]" || fmt.Sprint(props["tags"].(map[string]any)["type"]) != "nested" {
					t.Errorf("mappings: %v", props)
				}
				if err := tgt.Ops.FinishCopy(ctx(t), "rx-copy", c.After, nil); err != nil {
					t.Fatal(err)
				}
				set = mustRaw(t, tgt, "GET", "/rx-copy/_settings?flat_settings=true", "")["rx-copy"].(map[string]any)["settings"].(map[string]any)
				if set["index.refresh_interval"] != "5s" || set["index.auto_expand_replicas"] != "0-1" {
					t.Errorf("settings after the copy: refresh_interval %v, auto_expand_replicas %v", set["index.refresh_interval"], set["index.auto_expand_replicas"])
				}
				t.Logf("dropped: %s", strings.Join(c.Dropped, "; "))
			})
		}
	}
}

// The reads the reindex path relies on, on every engine: percentiles as
// split points, a refresh, a task the engine does not know (what a
// restarted target answers) read as vanished, its cancel a no-op, and a
// remote host outside reindex.remote.allowlist refused by the probe.
func TestReindexReadsOnEveryEngine(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "rx-pct")
			t.Cleanup(func() { deleteIndices(t, e, "rx-pct") })
			mustRaw(t, e, "PUT", "/rx-pct", `{"settings":{"number_of_shards":1,"number_of_replicas":0},"mappings":{"properties":{"n":{"type":"long"}}}}`)
			var b strings.Builder
			for i := range 1000 {
				fmt.Fprintf(&b, "{\"index\":{}}\n{\"n\":%d}\n", i)
			}
			mustRaw(t, e, "POST", "/rx-pct/_bulk", b.String())
			if err := e.Ops.Refresh(ctx(t), []string{"rx-pct"}); err != nil {
				t.Fatal(err)
			}
			vals, err := e.Ops.Percentiles(ctx(t), "rx-pct", "n", reindex.Percents(4))
			if err != nil || len(vals) != 3 {
				t.Fatalf("percentiles: %v %v", vals, err)
			}
			sort.Float64s(vals)
			if vals[0] < 200 || vals[0] > 300 || vals[2] < 700 || vals[2] > 800 {
				t.Fatalf("quartiles of 0..999: %v", vals)
			}
			nodes := mustRaw(t, e, "GET", "/_nodes/_local?filter_path=nodes.*.name", "")["nodes"].(map[string]any)
			var node string
			for id := range nodes {
				node = id
			}
			o, err := e.Ops.ReindexTask(ctx(t), node+":99999999")
			if err != nil || !o.Vanished {
				t.Fatalf("unknown task: %+v %v", o, err)
			}
			if err := e.Ops.CancelTask(ctx(t), node+":99999999"); err != nil {
				t.Fatalf("cancel unknown task: %v", err)
			}
			err = e.Ops.ProbeRemote(ctx(t), reindex.Remote{Host: "http://10.255.255.1:9200"}, "rx-pct")
			if err == nil || !strings.Contains(err.Error(), "reindex.remote.") {
				t.Fatalf("probe of a host outside the allowlist: %v", err)
			}
		})
	}
}
