//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/ledger"
	"github.com/essnap/essnap/pkg/reindex"
)

// The reindex step cannot be steered (issue 20): its plan comes only from
// the ledger, and a ledger edited by hand (the forged plans a console
// invoke once carried) is refused before anything is sent, or, for task
// ids, never acted on. After every refusal the target holds nothing new
// and the foreign task still runs.
func TestForgedLedgerRefused(t *testing.T) {
	src, tgt := engineNamed(t, es710), engineNamed(t, os35)
	for _, e := range []peer{src, tgt} {
		deleteIndices(t, e, "fg-*")
	}
	t.Cleanup(func() {
		for _, e := range []peer{src, tgt} {
			deleteIndices(t, e, "fg-*")
		}
	})
	seed(t, src, "fg-logs", 300)
	seed(t, tgt, "fg-live", 5) // a live index on the target, not essnap's
	c := ctx(t)
	d := deps(tgt, nil, time.Now())
	domains := fmt.Sprintf(`"source":{"endpoint":%q,"unsigned":true},"target":{"endpoint":%q,"unsigned":true}`, src.URL, tgt.URL)
	mig := fmt.Sprintf("fg-%d", time.Now().UnixNano())
	pf, err := handler.Preflight{Deps: d}.Invoke(c, json.RawMessage(`{`+domains+`,"indices":["fg-logs"],"strategy":"push","execution":"arn:aws:states:us-east-1:123456789012:execution:m:fg","migration":"`+mig+`","reindex_check_seconds":5}`))
	if err != nil || pf.Migration != mig || pf.Methods.Reindex != 1 || pf.Ledger == nil || pf.Indices != nil {
		t.Fatalf("preflight: %+v %v", pf, err)
	}
	id := ledger.IndexID(mig, "fg-logs")
	doc, found, err := tgt.Ops.LedgerGet(c, id)
	if err != nil || !found {
		t.Fatalf("ledger: %v %v", found, err)
	}
	var orig ledger.Index
	if err := json.Unmarshal(doc.Source, &orig); err != nil || orig.Item == nil || len(orig.Item.Parts) != 1 {
		t.Fatalf("ledger index document: %s %v", doc.Source, err)
	}
	// A foreign task on the target: a slow local reindex essnap did not start.
	mustRaw(t, tgt, "PUT", "/fg-foreign-src", `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "{\"index\":{\"_id\":\"f%d\"}}\n{\"m\":%d}\n", i, i)
	}
	mustRaw(t, tgt, "POST", "/fg-foreign-src/_bulk?refresh=true", b.String())
	foreign := mustRaw(t, tgt, "POST", "/_reindex?wait_for_completion=false&requests_per_second=1", `{"source":{"index":"fg-foreign-src","size":1},"dest":{"index":"fg-foreign-dst"}}`)["task"].(string)
	t.Cleanup(func() { raw(t, tgt, "POST", "/_tasks/"+foreign+"/_cancel", "") })

	forge := func(t *testing.T, f func(ix *ledger.Index)) {
		t.Helper()
		cur, _, err := tgt.Ops.LedgerGet(c, id)
		if err != nil {
			t.Fatal(err)
		}
		ix := orig
		it := *orig.Item
		it.Parts = append([]reindex.Part(nil), orig.Item.Parts...)
		ix.Item = &it
		f(&ix)
		if r, err := tgt.Ops.LedgerWrite(c, []engine.LedgerPut{{ID: id, Doc: ix, SeqNo: cur.SeqNo, PrimaryTerm: cur.PrimaryTerm}}); err != nil || r[0].Conflict {
			t.Fatalf("forge: %v %+v", err, r)
		}
	}
	invoke := func(event string) (handler.ReindexResult, error) {
		return handler.Reindex{Deps: d}.Invoke(c, json.RawMessage(event))
	}
	step := `{` + domains + `,"migration":"` + mig + `"}`
	nothingWritten := func(t *testing.T) {
		t.Helper()
		for _, n := range []string{"fg-logs-restored", ".kibana", ".opendistro_security"} {
			if st, _ := raw(t, tgt, "HEAD", "/"+n, ""); st == 200 && n == "fg-logs-restored" {
				t.Fatalf("%s was created", n)
			}
		}
		if s := mustRaw(t, tgt, "GET", "/fg-live/_settings/index.blocks.write?flat_settings=true", ""); strings.Contains(fmt.Sprint(s), "true") {
			t.Fatalf("the live index got a write block: %v", s)
		}
		if a := mustRaw(t, tgt, "GET", "/fg-live/_alias", ""); strings.Contains(fmt.Sprint(a), "aliases:map[") && !strings.Contains(fmt.Sprint(a), "aliases:map[]") {
			t.Fatalf("the live index got an alias: %v", a)
		}
		if tk := mustRaw(t, tgt, "GET", "/_tasks/"+foreign, ""); tk["completed"] == true {
			t.Fatalf("the foreign task ended: %v", tk)
		}
	}
	lo, hi := int64(0), int64(10)
	for _, tc := range []struct {
		name  string
		f     func(ix *ledger.Index)
		typ   string
		words string
	}{
		{"write into .kibana", func(ix *ledger.Index) { ix.Item.Target = ".kibana" }, "ValidationError", "target .kibana is not fg-logs-restored"},
		{"write into the security index", func(ix *ledger.Index) { ix.Target, ix.Item.Target = ".opendistro_security", ".opendistro_security" }, "ValidationError", "hidden or a system index"},
		{"read the source's .kibana_1", func(ix *ledger.Index) { ix.Item.Source = ".kibana_1" }, "ValidationError", "system index"},
		{"a write block and an alias on a live index", func(ix *ledger.Index) {
			ix.Item.Target, ix.Item.Prepared = "fg-live", true
			ix.Item.After = map[string]any{"index.blocks.write": true}
			ix.Item.Parts[0].State = reindex.Done
		}, "ValidationError", "index.blocks.write"},
		{"part of the range left out", func(ix *ledger.Index) {
			ix.Item.Field, ix.Item.Parts[0].Gte, ix.Item.Parts[0].Lt = "m", &lo, &hi
		}, "ValidationError", "copied whole"},
		{"push into an index it did not create", func(ix *ledger.Index) { ix.Item.Existing = true }, "ValidationError", "never writes into an existing index"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forge(t, tc.f)
			res, err := invoke(step)
			if typeName(err) != tc.typ || !strings.Contains(err.Error(), tc.words) || !strings.Contains(err.Error(), "nothing was sent") {
				t.Fatalf("%+v: %s %v; want %s naming %q", res, typeName(err), err, tc.typ, tc.words)
			}
			nothingWritten(t)
		})
	}
	t.Run("a plan in the event", func(t *testing.T) {
		_, err := invoke(`{` + domains + `,"migration":"` + mig + `","plan":{"items":[{"source":"fg-logs","target":".kibana"}]}}`)
		if typeName(err) != "ValidationError" || !strings.Contains(err.Error(), `"plan" is unknown`) {
			t.Fatalf("%s %v", typeName(err), err)
		}
		nothingWritten(t)
	})
	t.Run("a task essnap did not start", func(t *testing.T) {
		// The ledger says the part runs as the foreign task: the step does
		// not take its outcome (the part runs again) and the cleanup does
		// not cancel it.
		forge(t, func(ix *ledger.Index) { ix.Item.Parts[0].State, ix.Item.Parts[0].Task = reindex.Running, foreign })
		res, err := invoke(`{` + domains + `,"migration":"` + mig + `","action":"cleanup","failed_step":"Reindex","error":{"Error":"X","Cause":"y"}}`)
		if err != nil || len(res.Cancelled) != 0 {
			t.Fatalf("cleanup: %+v %v", res, err)
		}
		nothingWritten(t)
		forge(t, func(ix *ledger.Index) { ix.Item.Parts[0].State, ix.Item.Parts[0].Task = reindex.Running, foreign })
		deadline := time.Now().Add(2 * time.Minute)
		for {
			res, err = invoke(step)
			if err != nil {
				t.Fatalf("reindex: %s %v", typeName(err), err)
			}
			if res.Done || time.Now().After(deadline) {
				break
			}
		}
		if !res.Done || count(t, tgt, "fg-logs-restored") != 300 {
			t.Fatalf("the part did not run again: %+v, %d documents", res, count(t, tgt, "fg-logs-restored"))
		}
		if tk := mustRaw(t, tgt, "GET", "/_tasks/"+foreign, ""); tk["completed"] == true {
			t.Fatalf("the foreign task ended: %v", tk)
		}
	})
	_ = context.Background
}
