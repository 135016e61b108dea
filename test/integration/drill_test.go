//go:build integration

package integration

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/drill"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/model"
)

// drillMetrics records what the handlers publish.
type drillMetrics struct {
	mu   sync.Mutex
	seen []map[string]float64
}

func (m *drillMetrics) Publish(_ string, values map[string]float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = append(m.seen, values)
}

func (m *drillMetrics) has(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.seen {
		if _, ok := v[name]; ok {
			return true
		}
	}
	return false
}

// drillIndices are the drill-named indices on the engine.
func drillIndices(t *testing.T, e peer) []string {
	t.Helper()
	have, err := e.Ops.Indices(ctx(t), "essnap-drill*")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for n := range have {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// The restore drill on every engine: take-snapshot records the counts in
// the snapshot metadata; a drill restores, verifies and deletes its
// indices; after a crash it deletes the leftovers first and nothing else;
// it restores an index deleted on the domain since; it refuses, restoring
// nothing, when the low watermark leaves no room.
func TestDrillOnRealEngines(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "dr-*")
			deleteIndices(t, e, "essnap-drill*")
			t.Cleanup(func() { deleteIndices(t, e, "dr-*"); deleteIndices(t, e, "essnap-drill*") })
			seed(t, e, "dr-a", 5)
			seed(t, e, "dr-b", 7)
			// Nested documents: counted alike on both sides of the drill.
			mustRaw(t, e, "PUT", "/dr-n", `{"settings":{"number_of_shards":1,"number_of_replicas":0},"mappings":{"properties":{"tags":{"type":"nested"}}}}`)
			mustRaw(t, e, "PUT", "/dr-n/_doc/1?refresh=true", `{"tags":[{"k":"a"},{"k":"b"}]}`)
			mustRaw(t, e, "PUT", "/dr-n/_doc/2?refresh=true", `{"tags":[{"k":"c"}]}`)
			catN, err := e.Ops.DocCounts(ctx(t), []string{"dr-n"})
			if err != nil || catN["dr-n"] < 2 {
				t.Fatalf("dr-n counts %v %v", catN, err)
			}
			now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
			env := map[string]string{
				"ESSNAP_REPOSITORY": "it-drill", "ESSNAP_REPOSITORY_TYPE": "fs",
				"ESSNAP_FS_LOCATION":   filepath.Join(repoRoot(t), "it", e.Name, "drill", time.Now().Format("150405.000")),
				"ESSNAP_DRILL_INDICES": "dr-*", "ESSNAP_DRILL_MAX_WAIT_SECONDS": "120",
			}
			m := &drillMetrics{}
			d := deps(e, env, now)
			d.Clock = runningClock{base: now, start: time.Now()} // the drill measures its time
			d.Metrics = m
			t.Cleanup(func() { deleteRepo(t, e, "it-drill") })
			if _, err := (handler.RegisterRepo{Deps: d}).Invoke(ctx(t), json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := (handler.TakeSnapshot{Deps: d}).Invoke(ctx(t), json.RawMessage(`{"indices":["dr-*"],"wait_for_completion":true,"trigger":"schedule"}`)); err != nil {
				t.Fatal(err)
			}
			// Written after the snapshot: not in it.
			seed(t, e, "dr-c", 3)

			t.Run("recorded counts in the snapshot metadata", func(t *testing.T) {
				snap, err := e.Ops.GetSnapshot(ctx(t), "it-drill", "nightly-2026.11.24")
				if err != nil {
					t.Fatal(err)
				}
				counts, omitted, ok := drill.RecordedCounts(snap.Metadata[model.OriginMetadataKey])
				if !ok || omitted != 0 || len(counts) != 3 || counts["dr-a"] != 5 || counts["dr-b"] != 7 || counts["dr-n"] != catN["dr-n"] {
					t.Fatalf("recorded counts %v omitted %d ok %v; metadata %v", counts, omitted, ok, snap.Metadata)
				}
				b, _ := json.Marshal(snap.Metadata)
				if len(b) > 1024 {
					t.Fatalf("metadata is %d bytes", len(b))
				}
			})

			drillOnce := func(t *testing.T, event string) (handler.DrillResult, error) {
				t.Helper()
				return (handler.Drill{Deps: d}).Invoke(ctx(t), json.RawMessage(event))
			}

			t.Run("succeeds and cleans up", func(t *testing.T) {
				// More documents on the domain than in the snapshot is normal.
				seed(t, e, "dr-b-extra", 1)
				res, err := drillOnce(t, `{}`)
				if err != nil {
					t.Fatalf("drill: %v (%+v)", err, res)
				}
				if !res.Passed || res.Snapshot != "nightly-2026.11.24" || len(res.Indices) != 3 {
					t.Fatalf("drill result %+v", res)
				}
				for _, c := range res.Indices {
					want := map[string]int64{"dr-a": 5, "dr-b": 7, "dr-n": catN["dr-n"]}[c.Index]
					if c.Verdict != drill.VerdictOK || c.Recorded == nil || *c.Recorded != want || c.Restored != want || c.Target != "essnap-drill-2026.11.24-"+c.Index {
						t.Errorf("index check %+v", c)
					}
				}
				if res.Seconds <= 0 || res.Bytes <= 0 || res.BytesPerSecond <= 0 || res.Disk == nil || !res.Disk.Fits {
					t.Errorf("measurements %+v disk %+v", res, res.Disk)
				}
				if left := drillIndices(t, e); len(left) != 0 {
					t.Fatalf("drill left %v", left)
				}
				if strings.Join(res.Deleted, ",") != "essnap-drill-2026.11.24-dr-a,essnap-drill-2026.11.24-dr-b,essnap-drill-2026.11.24-dr-n" {
					t.Errorf("deleted %v", res.Deleted)
				}
				for _, n := range []string{"RestoreDrillSucceeded", "RestoreDrillSeconds", "RestoreDrillBytesPerSecond"} {
					if !m.has(n) {
						t.Errorf("metric %s not published", n)
					}
				}
				if count(t, e, "dr-a") != 5 || count(t, e, "dr-b") != 7 {
					t.Error("the drill touched the source indices")
				}
			})

			t.Run("after a crash deletes the leftovers first and nothing else", func(t *testing.T) {
				seed(t, e, "essnap-drill-2026.11.20-dr-a", 2)
				seed(t, e, "essnap-drill-2026.11.24-dr-a", 1) // today's name: would collide
				seed(t, e, "essnap-drill-notes", 1)           // not a drill name
				seed(t, e, "dr-essnap-drill-2026.11.20-x", 1)
				t.Cleanup(func() { deleteIndices(t, e, "essnap-drill-notes") })
				res, err := drillOnce(t, `{"snapshot":"nightly-2026.11.24"}`)
				if err != nil {
					t.Fatalf("drill: %v (%+v)", err, res)
				}
				if strings.Join(res.CleanedUp, ",") != "essnap-drill-2026.11.20-dr-a,essnap-drill-2026.11.24-dr-a" {
					t.Errorf("cleaned up %v", res.CleanedUp)
				}
				if !exists(t, e, "essnap-drill-notes") || !exists(t, e, "dr-essnap-drill-2026.11.20-x") {
					t.Fatal("the drill deleted an index it does not own")
				}
				if left := drillIndices(t, e); strings.Join(left, ",") != "essnap-drill-notes" {
					t.Fatalf("left %v", left)
				}
			})

			t.Run("restores an index deleted on the domain", func(t *testing.T) {
				deleteIndices(t, e, "dr-a")
				res, err := drillOnce(t, `{}`)
				if err != nil {
					t.Fatalf("drill: %v (%+v)", err, res)
				}
				found := false
				for _, c := range res.Indices {
					if c.Index == "dr-a" {
						found = c.Restored == 5 && c.Passed
					}
				}
				if !found {
					t.Fatalf("dr-a not restored: %+v", res.Indices)
				}
				if exists(t, e, "dr-a") {
					t.Error("the drill restored under the source name")
				}
			})

			t.Run("refuses on low disk", func(t *testing.T) {
				mustRaw(t, e, "PUT", "/_cluster/settings", `{"persistent":{"cluster.routing.allocation.disk.watermark.low":"1%"}}`)
				t.Cleanup(func() {
					mustRaw(t, e, "PUT", "/_cluster/settings", `{"persistent":{"cluster.routing.allocation.disk.watermark.low":null}}`)
				})
				res, err := drillOnce(t, `{}`)
				if typeName(err) != "InsufficientStorageError" {
					t.Fatalf("drill with the low watermark at 1%%: %s %v", typeName(err), err)
				}
				if res.Disk == nil || res.Disk.Fits || res.Disk.Watermark.Raw != "1%" {
					t.Errorf("disk %+v", res.Disk)
				}
				if left := drillIndices(t, e); len(left) > 0 && !(len(left) == 1 && left[0] == "essnap-drill-notes") {
					t.Fatalf("a refused drill restored %v", left)
				}
				if !m.has("RestoreDrillFailed") {
					t.Error("RestoreDrillFailed not published")
				}
			})
		})
	}
}
