//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/ledger"
)

// The ledger on every engine: created hidden (no wildcard lists it),
// created again as a no-op, documents created once (a second create is a
// conflict, not an overwrite), conditional updates that lose against a
// newer write, and listings in source order, paged and filtered.
func TestLedgerStore(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			c := ctx(t)
			raw(t, e, "DELETE", "/"+ledger.Name, "")
			t.Cleanup(func() { raw(t, e, "DELETE", "/"+ledger.Name, "") })
			for range 2 {
				if err := e.Ops.EnsureLedger(c); err != nil {
					t.Fatal(err)
				}
			}
			// Hidden: neither _cat/indices nor the "*" pattern shows it;
			// expand_wildcards=all does.
			for path, want := range map[string]bool{
				"/_cat/indices?format=json&h=index":                        false,
				"/*/_settings/index.number_of_shards":                      false,
				"/*/_settings/index.number_of_shards?expand_wildcards=all": true,
			} {
				_, m := raw(t, e, "GET", path, "")
				if got := strings.Contains(fmt.Sprint(m), ledger.Name); got != want {
					t.Fatalf("GET %s lists %s: %v, want %v", path, ledger.Name, got, want)
				}
			}
			mig := "m-test"
			var puts []engine.LedgerPut
			puts = append(puts, engine.LedgerPut{ID: ledger.MigrationID(mig), Create: true, Doc: ledger.Migration{Kind: ledger.KindMigration, Migration: mig, Status: ledger.Running}})
			for i := 5; i >= 1; i-- {
				src := fmt.Sprintf("logs-2026.11.%02d", i)
				puts = append(puts, engine.LedgerPut{ID: ledger.IndexID(mig, src), Create: true,
					Doc: ledger.Index{Kind: ledger.KindIndex, Migration: mig, Source: src, Target: src, Method: map[bool]string{true: "snapshot", false: "reindex"}[i%2 == 0], Finished: i == 3}})
			}
			res, err := e.Ops.LedgerWrite(c, puts)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if r.Conflict || r.PrimaryTerm == 0 {
					t.Fatalf("write %d: %+v", i, r)
				}
			}
			// A second create of the same documents keeps the first ones.
			again, err := e.Ops.LedgerWrite(c, puts[:2])
			if err != nil || !again[0].Conflict || !again[1].Conflict {
				t.Fatalf("second create: %+v %v", again, err)
			}
			// Paged, in source order, filtered.
			var got []string
			after := ""
			for {
				page, err := e.Ops.LedgerSearch(c, engine.LedgerQuery{Migration: mig, After: after, Size: 2})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				for _, d := range page {
					var ix ledger.Index
					if err := json.Unmarshal(d.Source, &ix); err != nil {
						t.Fatal(err)
					}
					got = append(got, ix.Source)
					after = ix.Source
				}
			}
			if strings.Join(got, ",") != "logs-2026.11.01,logs-2026.11.02,logs-2026.11.03,logs-2026.11.04,logs-2026.11.05" {
				t.Fatalf("listing %v", got)
			}
			page, err := e.Ops.LedgerSearch(c, engine.LedgerQuery{Migration: mig, Method: "reindex", Unfinished: true})
			if err != nil || len(page) != 2 {
				t.Fatalf("reindex, unfinished: %d %v", len(page), err)
			}
			// Conditional updates: the first wins, a write from the same
			// stale read is a conflict.
			doc, found, err := e.Ops.LedgerGet(c, ledger.MigrationID(mig))
			if err != nil || !found {
				t.Fatalf("get: %v %v", found, err)
			}
			upd := engine.LedgerPut{ID: doc.ID, SeqNo: doc.SeqNo, PrimaryTerm: doc.PrimaryTerm, Doc: ledger.Migration{Kind: ledger.KindMigration, Migration: mig, Status: ledger.Succeeded}}
			if r, err := e.Ops.LedgerWrite(c, []engine.LedgerPut{upd}); err != nil || r[0].Conflict || r[0].SeqNo <= doc.SeqNo {
				t.Fatalf("update: %+v %v", r, err)
			}
			if r, err := e.Ops.LedgerWrite(c, []engine.LedgerPut{upd}); err != nil || !r[0].Conflict {
				t.Fatalf("stale update: %+v %v", r, err)
			}
			if _, found, err := e.Ops.LedgerGet(c, "m-absent"); err != nil || found {
				t.Fatalf("absent: %v %v", found, err)
			}
		})
	}
}

// The shard limit as each engine applies it (persistent over default), and
// the pre-flight's refusal of a migration the target has no shards for:
// before anything is written, naming how many are missing.
func TestShardCapacity(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			c := ctx(t)
			got, err := e.Ops.ShardCapacity(c)
			if err != nil || got.PerNode != 1000 || got.DataNodes != 1 || got.Shards < 0 {
				t.Fatalf("default: %+v %v", got, err)
			}
			t.Cleanup(func() {
				raw(t, e, "PUT", "/_cluster/settings", `{"persistent":{"cluster.max_shards_per_node":null}}`)
			})
			mustRaw(t, e, "PUT", "/_cluster/settings", `{"persistent":{"cluster.max_shards_per_node":1234}}`)
			if got, err = e.Ops.ShardCapacity(c); err != nil || got.PerNode != 1234 || got.Free() != 1234-got.Shards {
				t.Fatalf("persistent 1234: %+v %v", got, err)
			}
		})
	}
	t.Run("preflight refuses a target without room", func(t *testing.T) {
		src, tgt := engineNamed(t, os13), engineNamed(t, os219)
		deleteIndices(t, src, "sc-*")
		t.Cleanup(func() {
			deleteIndices(t, src, "sc-*")
			raw(t, tgt, "PUT", "/_cluster/settings", `{"persistent":{"cluster.max_shards_per_node":null}}`)
		})
		for i := range 3 {
			mustRaw(t, src, "PUT", fmt.Sprintf("/sc-%d", i), `{"settings":{"number_of_shards":2,"number_of_replicas":1}}`)
		}
		capacity, err := tgt.Ops.ShardCapacity(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		// Room for 5 more shards; the migration adds 3 x 2 x (1 + 1) = 12.
		mustRaw(t, tgt, "PUT", "/_cluster/settings", fmt.Sprintf(`{"persistent":{"cluster.max_shards_per_node":%d}}`, capacity.Shards+5))
		ev := fmt.Sprintf(`{"source":{"endpoint":%q,"unsigned":true},"target":{"endpoint":%q,"unsigned":true},"indices":["sc-*"],"strategy":"push","execution":"arn:x"}`, src.URL, tgt.URL)
		_, err = handler.Preflight{Deps: deps(tgt, nil, time.Now())}.Invoke(ctx(t), json.RawMessage(ev))
		if typeName(err) != "InsufficientStorageError" || !strings.Contains(err.Error(), "adds 12 shards") || !strings.Contains(err.Error(), "7 shards missing") || !strings.Contains(err.Error(), "nothing was written") {
			t.Fatalf("%s %v", typeName(err), err)
		}
		// Nothing was written: no ledger document for it.
		_, m := raw(t, tgt, "GET", "/"+ledger.Name+"/_search?q=source:sc-0", "")
		if strings.Contains(fmt.Sprint(m), "sc-0") {
			t.Fatalf("the refused migration is in the ledger: %v", m)
		}
	})
}
