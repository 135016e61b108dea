package handler_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/handler"
)

// The report's bytes come from _recovery, not from _cat/indices' store.size,
// which the engines cache for 10 s and showed as 0 for restored indices
// holding 2,000 documents (make demo, OpenSearch 2.19).
func TestVerifyReportsRestoredBytesFromRecovery(t *testing.T) {
	h := newHarness(t, baseEnv())
	h.ops.existing["logs-restored"] = "open"
	h.ops.restoreStatus = func(targets []string) (engine.RestoreProgress, error) {
		return engine.RestoreProgress{Done: true, Indices: []engine.IndexProgress{{Index: "logs-restored", TotalBytes: 102204, RecoveredBytes: 102204}}}, nil
	}
	ev := `{"source":{"endpoint":"http://127.0.0.1:9201","unsigned":true},"target":{"endpoint":"http://127.0.0.1:9231","unsigned":true},"strategy":"push","indices":[{"source":"logs","target":"logs-restored"}]}`
	rep, err := handler.Verify{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(ev))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indices[0].TargetBytes != 102204 || rep.Totals.TargetBytes != 102204 {
		t.Fatalf("bytes %d, totals %d; want 102204 from _recovery", rep.Indices[0].TargetBytes, rep.Totals.TargetBytes)
	}
}
