package handler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPreflightConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	src, tgt := "http://127.0.0.1:9201", "http://127.0.0.1:9231"
	cases := []struct {
		name  string
		env   map[string]string
		event string
		want  []string // fragments of the ValidationError; none = valid
	}{
		{"push defaults", nil, `{"source":{"endpoint":"` + src + `","unsigned":true},"target":{"endpoint":"` + tgt + `","unsigned":true}}`, nil},
		{"pull", nil, `{"source":{"endpoint":"` + src + `","unsigned":true},"target":{"endpoint":"` + tgt + `","unsigned":true},"strategy":"pull","indices":["logs-*"]}`, nil},
		{"target from environment", map[string]string{"ESSNAP_ENDPOINT": src, "ESSNAP_UNSIGNED": "true", "ESSNAP_TARGET_ENDPOINT": tgt, "ESSNAP_TARGET_UNSIGNED": "true"}, `{}`, nil},
		{"everything wrong at once", map[string]string{"ESSNAP_DISK_HEADROOM": "lots"}, `{"source":{"endpoint":"` + src + `","unsigned":true},"target":{"endpoint":"` + src + `","unsigned":true},"strategy":"sideways","indices":[""],"snapshot_prefix":"Bad Name"}`,
			[]string{"ESSNAP_DISK_HEADROOM", "same domain", "strategy \"sideways\"", "indices[0] is empty", "snapshot_prefix"}},
		{"no endpoints", nil, `{}`, []string{"source: endpoint is empty", "target: endpoint is empty", "ESSNAP_TARGET_ENDPOINT"}},
		{"push without suffix", nil, `{"source":{"endpoint":"` + src + `","unsigned":true},"target":{"endpoint":"` + tgt + `","unsigned":true},"rename_suffix":""}`, []string{"needs a suffix"}},
		{"headroom out of range", nil, `{"source":{"endpoint":"` + src + `","unsigned":true},"target":{"endpoint":"` + tgt + `","unsigned":true},"disk_headroom":1.5}`, []string{"disk_headroom"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := LoadPreflightConfig(env(c.env), []byte(c.event)).Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("invalid: %v", err)
				}
				return
			}
			if err == nil || reflect.TypeOf(err).Elem().Name() != "ValidationError" {
				t.Fatalf("want ValidationError, got %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

func TestVerifyConfig(t *testing.T) {
	src, tgt := "http://127.0.0.1:9201", "http://127.0.0.1:9231"
	dom := `"source":{"endpoint":"` + src + `","unsigned":true},"target":{"endpoint":"` + tgt + `","unsigned":true}`
	cases := []struct {
		name, event string
		want        []string
	}{
		{"valid", `{` + dom + `,"strategy":"pull","indices":[{"source":"a","target":"a"}],"snapshot":{"name":"s","start_ms":1,"end_ms":2,"bytes":3},"started_at":"2026-11-24T03:00:00.123Z"}`, nil},
		{"all problems", `{` + dom + `,"strategy":"x","indices":[{"source":"a"}],"started_at":"yesterday","max_id_check":-1}`, []string{"started_at", "strategy \"x\"", "indices[0] needs both", "max_id_check"}},
		{"no indices", `{` + dom + `}`, []string{"indices is empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := LoadVerifyConfig(func(string) string { return "" }, []byte(c.event)).Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("invalid: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

func TestMigrationEventsAreStrict(t *testing.T) {
	deps := Deps{Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Getenv: func(string) string { return "" }, Clock: SystemClock{}}
	cases := []struct {
		name  string
		call  func(json.RawMessage) error
		event string
		want  string
	}{
		{"preflight top-level typo", func(r json.RawMessage) error { _, err := Preflight{deps}.Invoke(context.Background(), r); return err }, `{"stratgy":"pull"}`, "field \"stratgy\" is unknown"},
		{"preflight nested typo", func(r json.RawMessage) error { _, err := Preflight{deps}.Invoke(context.Background(), r); return err }, `{"source":{"endpont":"x"}}`, "field \"source.endpont\" is unknown"},
		{"verify typo", func(r json.RawMessage) error { _, err := Verify{deps}.Invoke(context.Background(), r); return err }, `{"snapshot":{"nme":"s"}}`, "field \"snapshot.nme\" is unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(json.RawMessage(c.event))
			if err == nil || !strings.Contains(err.Error(), c.want) || reflect.TypeOf(err).Elem().Name() != "ValidationError" {
				t.Fatalf("got %v, want ValidationError with %q", err, c.want)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	start := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	now := start.Add(90 * time.Second)
	cases := []struct {
		name    string
		started time.Time
		snap    VerifySnapshot
		want    map[string]float64
	}{
		{"all figures", start, VerifySnapshot{StartMs: start.Add(time.Second).UnixMilli(), EndMs: start.Add(31 * time.Second).UnixMilli()}, map[string]float64{"total": 90, "snapshot": 30, "restore_and_verify": 59}},
		{"no start", time.Time{}, VerifySnapshot{StartMs: 1000, EndMs: 500}, map[string]float64{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := durations(c.started, c.snap, now); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("durations = %v, want %v", got, c.want)
			}
		})
	}
}
