package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/drill"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/model"
)

// take-snapshot records the selected indices' counts, system indices left
// out, and keeps the whole metadata within the engines' 1024 bytes however
// many indices there are, saying how many counts did not fit.
func TestTakeSnapshotRecordsCountsWithin1KB(t *testing.T) {
	for _, n := range []int{2, 500} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := newHarness(t, baseEnv())
			h.ops.docCounts = map[string]int64{".kibana_1": 3}
			for i := 0; i < n; i++ {
				h.ops.docCounts[fmt.Sprintf("application-logs-production-2026.11.%03d", i)] = int64(i)
			}
			h.ops.existing = map[string]string{"application-logs-production-2026.11.000": "open"}
			_, err := (handler.TakeSnapshot{Deps: h.deps}).Invoke(context.Background(), json.RawMessage(`{"execution":"arn:aws:states:eu-west-1:123456789012:execution:m:run-1","metadata":{"team":"search"}}`))
			if err != nil {
				t.Fatal(err)
			}
			calls := h.ops.recorded("CreateSnapshot")
			if len(calls) != 1 {
				t.Fatalf("%d CreateSnapshot calls", len(calls))
			}
			meta := calls[0].Create.Metadata
			b, _ := json.Marshal(meta)
			if len(b) > 1024 {
				t.Fatalf("metadata is %d bytes: %s", len(b), b)
			}
			var back map[string]any
			_ = json.Unmarshal(b, &back)
			counts, omitted, ok := drill.RecordedCounts(back[model.OriginMetadataKey])
			if !ok || len(counts) == 0 || len(counts)+omitted != n {
				t.Fatalf("counts %d + omitted %d, want %d in all: %s", len(counts), omitted, n, b)
			}
			if _, sys := counts[".kibana_1"]; sys {
				t.Error("a system index's count was recorded")
			}
			if n == 2 && omitted != 0 {
				t.Errorf("2 indices: %d omitted", omitted)
			}
			if n == 500 && counts["application-logs-production-2026.11.499"] != 499 {
				t.Errorf("the newest index's count is not kept: %v", counts)
			}
		})
	}
}

func TestDrillValidationReportsEverything(t *testing.T) {
	h := newHarness(t, baseEnv())
	_, err := (handler.Drill{Deps: h.deps}).Invoke(context.Background(), json.RawMessage(`{"snapshot":"Bad Name","max_bytes":-1,"max_wait_seconds":0,"indices":["a,b"]}`))
	wantErr(t, err, "ValidationError", "snapshot", "max_bytes", "max_wait_seconds", "indices[0]")
	if len(h.ops.calls) != 0 {
		t.Errorf("calls before validation passed: %v", h.ops.calls)
	}
}

// A drill picks the policy's newest SUCCESS snapshot, deletes only
// drill-named leftovers, restores under the drill prefix with replicas 0,
// and deletes its own indices after verifying them.
func TestDrillOnFakeDomain(t *testing.T) {
	h := newHarness(t, baseEnv())
	h.ops.snapshotIndices = []string{"logs-a", ".kibana_1"}
	h.ops.existing = map[string]string{"logs": "open", "essnap-drill-notes": "open", "essnap-drill-2026.11.20-logs-a": "open"}
	h.ops.listing = []model.Snapshot{
		{Name: "other-policy", State: model.StateSuccess, Metadata: map[string]any{model.PolicyMetadataKey: "hourly"}},
		{Name: "nightly-2026.11.24", State: model.StateSuccess, Metadata: map[string]any{model.PolicyMetadataKey: "nightly"}},
		{Name: "nightly-failed", State: model.StateFailed, Metadata: map[string]any{model.PolicyMetadataKey: "nightly"}},
	}
	// The other policy's and the FAILED snapshot are newer: neither counts.
	for i, ago := range []time.Duration{time.Hour, 3 * time.Hour, 2 * time.Hour} {
		h.ops.listing[i].Start = fixedNow.Add(-ago)
	}
	h.ops.restoreStatus = func(targets []string) (engine.RestoreProgress, error) {
		p := engine.RestoreProgress{Done: true}
		for _, tg := range targets {
			p.Indices = append(p.Indices, engine.IndexProgress{Index: tg, Health: "green", RecoveredBytes: 10})
		}
		return p, nil
	}
	res, err := (handler.Drill{Deps: h.deps}).Invoke(context.Background(), json.RawMessage(`{}`))
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	if res.Snapshot != "nightly-2026.11.24" || !res.Passed || len(res.Indices) != 1 || res.Indices[0].Target != "essnap-drill-2026.11.24-logs-a" || res.Indices[0].Verdict != drill.VerdictUnrecorded {
		t.Fatalf("result %+v", res)
	}
	r := h.ops.recorded("Restore")[0].Restore
	if r.IndexSettings["index.number_of_replicas"] != 0 || strings.Join(r.Indices, ",") != "logs-a" || r.IncludeAliases || r.IncludeGlobalState {
		t.Errorf("restore options %+v", r)
	}
	var deleted []string
	for _, c := range h.ops.recorded("DeleteIndices") {
		deleted = append(deleted, c.Names...)
	}
	// The fake domain does not drop deleted indices: both calls see the leftover.
	if strings.Join(deleted, ",") != "essnap-drill-2026.11.20-logs-a,essnap-drill-2026.11.20-logs-a" {
		t.Errorf("deleted %v; only drill-named indices may be", deleted)
	}
}
