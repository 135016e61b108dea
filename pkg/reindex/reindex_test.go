package reindex

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/essnap/essnap/internal/golden"
	"github.com/essnap/essnap/pkg/settings"
)

// A definition as Elasticsearch 7.10.2 answers GET idx?flat_settings=true.
func es710Definition() Definition {
	return Definition{
		Settings: map[string]any{
			"index.creation_date": "1700000000000", "index.number_of_replicas": "1", "index.number_of_shards": "2",
			"index.provided_name": "logs-a", "index.uuid": "Zx9", "index.version.created": "7100299",
			"index.refresh_interval": "5s", "index.routing.allocation.include._tier_preference": "data_content",
			"index.lifecycle.name": "hot-warm", "index.blocks.write": "true", "index.soft_deletes.enabled": "false",
			"index.analysis.analyzer.lower.type": "custom", "index.analysis.analyzer.lower.tokenizer": "keyword",
			"index.query.default_field": []any{"msg", "code"},
		},
		Mappings: map[string]any{"properties": map[string]any{"@timestamp": map[string]any{"type": "date"}, "code": map[string]any{"type": "keyword"},
			"http": map[string]any{"properties": map[string]any{"status": map[string]any{"type": "short"}}}, "a.b": map[string]any{"type": "long"}}},
		Aliases: map[string]any{"logs": map[string]any{}},
	}
}

func TestTranslate(t *testing.T) {
	c := Translate(es710Definition())
	if c.Settings["index.number_of_replicas"] != "0" || c.Settings["index.refresh_interval"] != "-1" {
		t.Fatalf("copy settings: %v", c.Settings)
	}
	if c.After["index.refresh_interval"] != "5s" {
		t.Fatalf("after: %v", c.After)
	}
	for _, gone := range []string{"index.uuid", "index.creation_date", "index.provided_name", "index.version.created", "index.lifecycle.name",
		"index.routing.allocation.include._tier_preference", "index.blocks.write", "index.soft_deletes.enabled"} {
		if _, ok := c.Settings[gone]; ok {
			t.Errorf("%s kept", gone)
		}
	}
	if c.Settings["index.number_of_shards"] != "2" || c.Settings["index.analysis.analyzer.lower.tokenizer"] != "keyword" {
		t.Errorf("source settings lost: %v", c.Settings)
	}
	// Without a refresh_interval of its own, the index gets the default back (null).
	d := es710Definition()
	delete(d.Settings, "index.refresh_interval")
	d.Settings["index.auto_expand_replicas"] = "0-1"
	c2 := Translate(d)
	if v, ok := c2.After["index.refresh_interval"]; !ok || v != nil {
		t.Errorf("after without refresh_interval: %v", c2.After)
	}
	if c2.Settings["index.auto_expand_replicas"] != "false" || c2.After["index.auto_expand_replicas"] != "0-1" {
		t.Errorf("auto_expand_replicas: %v / %v", c2.Settings, c2.After)
	}
	golden.JSON(t, filepath.Join("testdata", "translate.golden.json"), c)
}

// The reindex path drops exactly what the one settings rule refuses, with
// the rule's reason; replicas, refresh and auto_expand_replicas are its own
// business and never in Dropped.
func TestTranslateAppliesTheSettingsRule(t *testing.T) {
	d := Definition{Settings: map[string]any{}}
	for _, k := range []string{"index.uuid", "index.lifecycle.name", "index.routing.allocation.require.box", "index.routing.allocation.exclude._tier",
		"index.blocks.read_only", "index.plugins.index_state_management.policy_id", "index.opendistro.index_state_management.policy_id",
		"archived.index.gone", "index.frozen", "index.codec", "index.number_of_shards", "index.number_of_replicas", "index.refresh_interval",
		"index.auto_expand_replicas"} {
		d.Settings[k] = "x"
	}
	c := Translate(d)
	var want []string
	for _, k := range []string{"archived.index.gone", "index.blocks.read_only", "index.frozen", "index.lifecycle.name",
		"index.opendistro.index_state_management.policy_id", "index.plugins.index_state_management.policy_id",
		"index.routing.allocation.exclude._tier", "index.routing.allocation.require.box", "index.uuid"} {
		why, refused := settings.Refused(k)
		if !refused {
			t.Fatalf("%s is not refused by the rule", k)
		}
		want = append(want, k+" ("+why+")")
		if _, ok := c.Settings[k]; ok {
			t.Errorf("%s kept", k)
		}
	}
	if strings.Join(c.Dropped, "\n") != strings.Join(want, "\n") {
		t.Fatalf("dropped:\n%s\nwant:\n%s", strings.Join(c.Dropped, "\n"), strings.Join(want, "\n"))
	}
	if c.Settings["index.codec"] != "x" || c.Settings["index.number_of_shards"] != "x" {
		t.Fatalf("settings: %v", c.Settings)
	}
}

func TestDropRefused(t *testing.T) {
	cases := []struct {
		name, reason string
		ok           bool
	}{
		{"unknown plugin setting", "unknown setting [index.analysis.analyzer.lower.tokenizer] please check that any required plugins are installed", true},
		{"setting not in body", "unknown setting [index.knn] please check", false},
		{"no setting named", "mapper_parsing_exception: failed to parse", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Translate(es710Definition())
			if got := c.DropRefused(tc.reason); got != tc.ok {
				t.Fatalf("DropRefused = %v", got)
			}
			if tc.ok && !strings.Contains(strings.Join(c.Dropped, " "), "the target refused it") {
				t.Fatalf("not reported: %v", c.Dropped)
			}
		})
	}
}

func TestSplitFieldType(t *testing.T) {
	m := map[string]any{"properties": map[string]any{
		"ts":  map[string]any{"type": "date"},
		"raw": map[string]any{"type": "long", "index": false},
		"nd":  map[string]any{"type": "date", "doc_values": false},
		"k":   map[string]any{"type": "keyword"},
	}}
	for _, tc := range []struct{ field, want string }{{"ts", ""}, {"raw", "has index: false there"}, {"nd", "has doc_values: false there"},
		{"k", "is of type keyword there, not a date or numeric field"}, {"none", "is unmapped there"}} {
		t.Run(tc.field, func(t *testing.T) {
			if _, why := SplitFieldType(m, tc.field); why != tc.want {
				t.Fatalf("why = %q, want %q", why, tc.want)
			}
		})
	}
}

func TestSourceModeAndFieldType(t *testing.T) {
	cases := []struct {
		name     string
		mappings map[string]any
		want     string
	}{
		{"default", map[string]any{}, "full"},
		{"disabled", map[string]any{"_source": map[string]any{"enabled": false}}, "disabled"},
		{"excludes", map[string]any{"_source": map[string]any{"excludes": []any{"secret"}}}, "partial"},
		{"enabled with empty lists", map[string]any{"_source": map[string]any{"enabled": true, "includes": []any{}}}, "full"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := SourceMode(tc.mappings); got != tc.want {
				t.Fatalf("SourceMode = %s, want %s", got, tc.want)
			}
		})
	}
	m := es710Definition().Mappings
	for field, want := range map[string]string{"@timestamp": "date", "http.status": "short", "http": "object", "a.b": "long", "nope": "", "code": "keyword"} {
		if got := FieldType(m, field); got != want {
			t.Errorf("FieldType(%s) = %q, want %q", field, got, want)
		}
	}
	if !Splittable("date") || Splittable("keyword") {
		t.Error("Splittable")
	}
}

func TestSplit(t *testing.T) {
	cases := []struct {
		name   string
		docs   int64
		split  int64
		values []float64
	}{
		{"small index is one part", 1000, 250000, nil},
		{"four parts from percentiles", 1_000_000, 250000, []float64{1.7000007495e12, 1.7000014999e12, 1.7000022495e12}},
		{"duplicate and unsorted cuts collapse", 800_000, 200000, []float64{50, 10, 10, 50}},
		{"capped at MaxParts", 100_000_000, 1000, nil},
	}
	type out struct {
		Parts    int       `json:"part_count"`
		Percents []float64 `json:"percents"`
		Split    []Part    `json:"split,omitempty"`
		Queries  []any     `json:"queries,omitempty"`
	}
	got := map[string]out{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := PartCount(tc.docs, tc.split)
			o := out{Parts: n, Percents: Percents(n)}
			if tc.values != nil {
				o.Split = SplitParts(tc.values)
				it := Item{Source: "logs-a", Target: "logs-a", Field: "@timestamp", FieldType: "date", Parts: o.Split}
				for _, p := range o.Split {
					o.Queries = append(o.Queries, it.Query(p))
				}
				// Complete and disjoint: each cut is the upper bound of one
				// part and the lower bound of the next.
				for i := 1; i < len(o.Split); i++ {
					if *o.Split[i-1].Lt != *o.Split[i].Gte {
						t.Fatalf("gap between parts %d and %d", i-1, i)
					}
				}
				if o.Split[0].Gte != nil || o.Split[len(o.Split)-1].Lt != nil || !o.Split[0].Missing {
					t.Fatalf("the ends must be open and the first part takes documents without the field: %+v", o.Split)
				}
			}
			got[tc.name] = o
		})
	}
	golden.JSON(t, filepath.Join("testdata", "split.golden.json"), got)
}

func TestScheduleRecordReport(t *testing.T) {
	ten := int64(10)
	p := Plan{Remote: Remote{Host: "https://src.example:443", Region: "eu-west-1"}, MaxConcurrent: 2, BatchSize: 5000, MaxAttempts: 2, Items: []Item{
		{Source: "big", Target: "big-restored", Field: "n", FieldType: "long", Docs: 300, Bytes: 3e6, Prepared: true, Parts: []Part{{Lt: &ten, Missing: true, State: Pending}, {Gte: &ten, State: Pending}}},
		{Source: "small", Target: "small-restored", Docs: 10, Bytes: 1e5, Parts: []Part{{State: Pending}}},
	}}
	steps := map[string]any{}
	if s := p.Startable(); len(s) != 2 || s[0] != (Ref{0, 0}) || s[1] != (Ref{0, 1}) {
		t.Fatalf("unprepared items must wait, slots fill in order: %v", s)
	}
	steps["request_first_part"] = p.Request(p.Items[0], p.Items[0].Parts[0])
	for j := range p.Items[0].Parts {
		p.Items[0].Parts[j].State, p.Items[0].Parts[j].Attempts, p.Items[0].Parts[j].StartMs = Running, 1, 1000
	}
	p.Items[1].Prepared = true
	if s := p.Startable(); len(s) != 0 {
		t.Fatalf("max_concurrent 2 reached, got %v", s)
	}
	t.Run("vanished task reruns its part once it stays unknown", func(t *testing.T) {
		p.Items[0].Parts[0].Task = "n:1"
		p.Record(Ref{0, 0}, Outcome{Vanished: true, EndMs: 2000})
		if pt := p.Items[0].Parts[0]; pt.State != Running || pt.MissedMs != 2000 {
			t.Fatalf("a first 404 must not rerun the part: %+v", pt)
		}
		p.Record(Ref{0, 0}, Outcome{Vanished: true, EndMs: 2000 + VanishAfterMs})
		if pt := p.Items[0].Parts[0]; pt.State != Pending || pt.Task != "" || pt.MissedMs != 0 || !strings.Contains(pt.Error, "vanished") {
			t.Fatalf("%+v", pt)
		}
	})
	t.Run("running counters only", func(t *testing.T) {
		p.Record(Ref{0, 1}, Outcome{Total: 200, Created: 50})
		if pt := p.Items[0].Parts[1]; pt.State != Running || pt.Created != 50 {
			t.Fatalf("%+v", pt)
		}
	})
	t.Run("completed", func(t *testing.T) {
		p.Record(Ref{0, 1}, Outcome{Completed: true, Total: 200, Created: 190, Conflicts: 10, EndMs: 3000})
		if pt := p.Items[0].Parts[1]; pt.State != Done || pt.EndMs != 3000 {
			t.Fatalf("%+v", pt)
		}
	})
	t.Run("broken task gives up after max_attempts", func(t *testing.T) {
		p.Items[0].Parts[0].State, p.Items[0].Parts[0].Attempts = Running, 2
		p.Record(Ref{0, 0}, Outcome{Completed: true, Error: "http_host_connect_exception: Connection refused", EndMs: 4000})
		if pt := p.Items[0].Parts[0]; pt.State != Failed || !strings.Contains(pt.Error, "gave up after 2 attempts") {
			t.Fatalf("%+v", pt)
		}
	})
	t.Run("refused documents fail the part for good", func(t *testing.T) {
		p.Items[1].Parts[0].State, p.Items[1].Parts[0].Attempts, p.Items[1].Parts[0].StartMs = Running, 1, 1500
		p.Record(Ref{1, 0}, Outcome{Completed: true, Failures: []string{"_id a0: mapper_parsing_exception: failed to parse field [code] of type [long]"}, EndMs: 2500})
		if pt := p.Items[1].Parts[0]; pt.State != Failed || !strings.Contains(pt.Error, "mapper_parsing_exception") {
			t.Fatalf("%+v", pt)
		}
	})
	steps["failures"] = p.Failures()
	steps["report"] = p.MakeReport(5000)
	steps["done"] = p.Done()
	golden.JSON(t, filepath.Join("testdata", "schedule.golden.json"), steps)
}
