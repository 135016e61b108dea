//go:build integration

package workflow

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Operator size (issue 20): a domain of daily log indices by the
// thousand, moved in one execution, with ingestion running, every
// execution state at most 8 KB (succeeded checks it), every index
// verified and its replicas back (read from the ledger).
const (
	scaleIndices = 2000
	scaleDocs    = 10                           // per daily index
	scalePrefix  = "wf-scale-application-logs-" // names of 27 characters and more
)

// dailyName is the i-th daily index of a series starting 2020-01-01.
func dailyName(prefix string, i int) string {
	return prefix + time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format("2006.01.02")
}

// raiseShardLimit lets a one-node engine hold thousands of indices (the
// default cluster.max_shards_per_node is 1,000) and puts the default back
// after the test.
func raiseShardLimit(t *testing.T, urls ...string) {
	for _, u := range urls {
		mustReq(t, "PUT", u+"/_cluster/settings", `{"persistent":{"cluster.max_shards_per_node":20000}}`)
	}
	t.Cleanup(func() {
		for _, u := range urls {
			req(t, "PUT", u+"/_cluster/settings", `{"persistent":{"cluster.max_shards_per_node":null}}`)
		}
	})
}

// fillDaily creates n daily indices (one shard, no replica, through a
// template) with docs documents each, in bulk requests that create them.
// The template's asynchronous translog spares the load a sync per shard
// per request (test data, rebuilt by every run).
func fillDaily(t *testing.T, u, prefix string, n, docs int) []string {
	t.Helper()
	tmpl := strings.TrimSuffix(prefix, "-")
	mustReq(t, "PUT", u+"/_template/"+tmpl, `{"index_patterns":["`+prefix+`*"],"settings":{"number_of_shards":1,"number_of_replicas":0,"refresh_interval":"-1","translog.durability":"async"},"mappings":{"properties":{"@timestamp":{"type":"date"},"n":{"type":"long"}}}}`)
	t.Cleanup(func() { req(t, "DELETE", u+"/_template/"+tmpl, "") })
	names := make([]string, n)
	start := time.Now()
	for from := 0; from < n; from += 200 {
		var b strings.Builder
		for i := from; i < min(from+200, n); i++ {
			names[i] = dailyName(prefix, i)
			for d := range docs {
				fmt.Fprintf(&b, "{\"index\":{\"_index\":%q,\"_id\":\"d%d\"}}\n{\"n\":%d,\"@timestamp\":%q,\"message\":\"event %d of %s\"}\n", names[i], d, d, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format(time.RFC3339), d, names[i])
			}
		}
		items, err := bulk(u+"/_bulk", b.String())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Status > 299 {
				t.Fatalf("bulk into %s: status %d", u, it.Status)
			}
		}
	}
	mustReq(t, "POST", u+"/"+prefix+"*/_refresh", "")
	t.Logf("%d daily indices of %d documents on %s in %.1fs", n, docs, u, time.Since(start).Seconds())
	return names
}

// scaleInput is input for a scale run: generous deadlines, fast polls.
func scaleInput(t *testing.T, src, tgt, strategy, pattern string) map[string]any {
	// Each run registers the shared repository at a location of its own.
	req(t, "DELETE", src+"/_snapshot/wf", "")
	req(t, "DELETE", tgt+"/_snapshot/wf", "")
	in := input(t, src, tgt, strategy, pattern)
	in["poll"] = map[string]any{"initial_seconds": 1, "max_seconds": 2, "snapshot_deadline_seconds": 1800, "restore_deadline_seconds": 1800}
	in["check_seconds"] = 20
	return in
}

// Thousands of daily indices from Elasticsearch 7.10 to OpenSearch 2.19 by
// snapshot, push then pull, with ingestion running into the newest daily
// index; then to OpenSearch 3.5 by reindex, with one large index split
// into 16 parts.
func TestScaleDailyIndices(t *testing.T) {
	all := engines(t, es710, os219, os35)
	src := all[es710]
	cleanup(t, scalePrefix+"*", src, all[os219], all[os35])
	raiseShardLimit(t, src, all[os219], all[os35])
	names := fillDaily(t, src, scalePrefix, scaleIndices, scaleDocs)
	live := names[len(names)-1]

	t.Run("push-by-snapshot-to-opensearch-2.19", func(t *testing.T) {
		tgt := all[os219]
		w := startWriter(t, src, live)
		w.Fill(500)
		before := w.Switch(tgt) // shippers write to the target's own daily index
		x := run(t, scaleInput(t, src, tgt, "push", scalePrefix+"*"), runOptions{timeout: 20 * time.Minute})
		log := w.Stop()
		r := succeeded(t, x)
		methodIs(t, r, "snapshot", scaleIndices)
		if len(r.Rows) != scaleIndices || r.Rows[0].Target != names[0]+"-restored" {
			t.Fatalf("%d rows, first %+v", len(r.Rows), r.Rows[0])
		}
		exactlyOnce(t, withoutSeed(t, merge(ids(t, tgt, live), ids(t, tgt, live+"-restored"))), log)
		t.Logf("push of %d indices in %.1fs (%d documents before the switch, %d after)", scaleIndices, x.Result.Seconds, before, len(log)-before)
		req(t, "DELETE", tgt+"/"+scalePrefix+"*", "")
	})

	t.Run("pull-by-snapshot-to-opensearch-2.19", func(t *testing.T) {
		tgt := all[os219]
		w := startWriter(t, src, live+"-pull")
		w.Fill(500)
		checkpoint := w.Len()
		x := run(t, scaleInput(t, src, tgt, "pull", scalePrefix+"*"), runOptions{timeout: 20 * time.Minute, onEvent: switchAndReplay(w, src, tgt, checkpoint)})
		log := w.Stop()
		r := succeeded(t, x)
		methodIs(t, r, "snapshot", scaleIndices+1)
		exactlyOnce(t, ids(t, tgt, live+"-pull"), log)
		t.Logf("pull of %d indices in %.1fs", scaleIndices+1, x.Result.Seconds)
		req(t, "DELETE", tgt+"/"+scalePrefix+"*", "")
		req(t, "DELETE", src+"/"+live+"-pull", "")
	})

	t.Run("pull-by-reindex-to-opensearch-3.5-with-a-16-part-index", func(t *testing.T) {
		tgt := all[os35]
		big := scalePrefix + "big"
		fillNumbered(t, src, big, 32000)
		w := startWriter(t, src, live)
		w.Fill(500)
		checkpoint := w.Len()
		in := scaleInput(t, src, tgt, "pull", scalePrefix+"*")
		in["split_field"], in["split_docs"] = "n", 2000
		x := run(t, in, runOptions{timeout: 20 * time.Minute, onEvent: switchAndReplay(w, src, tgt, checkpoint)})
		log := w.Stop()
		r := succeeded(t, x)
		methodIs(t, r, "reindex", scaleIndices+1)
		parts := 0
		for _, row := range r.Rows {
			if row.Source == big {
				parts = len(row.Item.Parts)
			}
		}
		if parts < 16 {
			t.Fatalf("%s copied in %d parts, want 16", big, parts)
		}
		if got := ids(t, tgt, big); len(got) != 32000 {
			t.Fatalf("%s: %d ids on the target", big, len(got))
		}
		exactlyOnce(t, withoutSeed(t, ids(t, tgt, live)), log)
		t.Logf("reindex of %d indices in %.1fs: %+v", scaleIndices+1, x.Result.Seconds, r.Reindex.Report.Total)
	})
}

// withoutSeed checks that the daily index's own documents (d0..) are there
// once each and leaves the ingestion's documents.
func withoutSeed(t *testing.T, got map[string]int) map[string]int {
	t.Helper()
	for d := range scaleDocs {
		id := fmt.Sprintf("d%d", d)
		if got[id] != 1 {
			t.Fatalf("%s is there %d times, want once", id, got[id])
		}
		delete(got, id)
	}
	return got
}
