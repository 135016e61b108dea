//go:build integration

package workflow

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fillNumbered bulk-loads n documents with _ids id0.. and a numeric field
// n (the split field) into index.
func fillNumbered(t *testing.T, u, index string, n int) {
	t.Helper()
	mustReq(t, "PUT", u+"/"+index, `{"settings":{"number_of_shards":2,"number_of_replicas":0},"mappings":{"properties":{"n":{"type":"long"},"code":{"type":"keyword"}}}}`)
	for start := 0; start < n; start += 5000 {
		var b strings.Builder
		for i := start; i < min(start+5000, n); i++ {
			fmt.Fprintf(&b, "{\"index\":{\"_id\":\"id%d\"}}\n{\"n\":%d,\"code\":\"E%d\",\"message\":\"event number %d with some text\"}\n", i, i, i%97, i)
		}
		mustReq(t, "POST", u+"/"+index+"/_bulk", b.String())
	}
	mustReq(t, "POST", u+"/"+index+"/_refresh", "")
}

// The target restarts in the middle of the copy, while the poller writes
// to the source: its running reindex tasks are gone. The reindex step reports the target unavailable (no error, so
// the ids of the tasks it started are not lost), then finds the tasks
// vanished and reruns their parts; op_type create skips what the lost tasks
// had written. Every _id arrives exactly once.
func TestTargetRestartedMidCopy(t *testing.T) {
	all := engines(t, es710, os35)
	src, tgt := all[es710], all[os35]
	cleanup(t, "wf-restart*", src, tgt)
	const docs = 60000
	fillNumbered(t, src, "wf-restart", docs)
	// The poller keeps writing to the source during the copy; its
	// documents have no n, so they fall in the first part (documents
	// without the split field). At the switch it replays from before the
	// migration started.
	w := startWriter(t, src, "wf-restart")
	u, _ := url.Parse(tgt)
	in := input(t, src, tgt, "pull", "wf-restart")
	// Small batches and few slots keep the copy running for a while.
	in["split_field"], in["split_docs"], in["batch_size"], in["max_concurrent"] = "n", 10000, 200, 2
	in["reindex_check_seconds"] = 5
	var once sync.Once
	restarted := false
	x := run(t, in, runOptions{onEvent: func(e event) any {
		switch {
		case e.Event == "state_entered" && e.State == "Reindex":
			once.Do(func() {
				// Wait until documents are being copied, then restart.
				waitForReindexTask(t, tgt)
				time.Sleep(500 * time.Millisecond)
				peers(t, "restart", "opensearch3", os35, u.Port())
				restarted = true
			})
		case e.Event == "switch_requested":
			w.Switch(tgt)
			w.Replay(src, tgt, 0)
			return switched(e)
		}
		return nil
	}})
	time.Sleep(300 * time.Millisecond)
	log := w.Stop()
	if !restarted {
		t.Fatal("the target was never restarted")
	}
	r := succeeded(t, x)
	if r.Reindex.Report.Total.Attempts <= r.Reindex.Report.Total.Parts {
		t.Errorf("want some part rerun after the restart: %+v", r.Reindex.Report.Total)
	}
	got := ids(t, tgt, "wf-restart")
	numbered := 0
	for id, n := range got {
		if !strings.HasPrefix(id, "id") {
			continue
		}
		if n != 1 {
			t.Fatalf("%s is on the target %d times", id, n)
		}
		numbered++
		delete(got, id)
	}
	if numbered != docs {
		t.Fatalf("%d of the %d loaded documents on the target", numbered, docs)
	}
	exactlyOnce(t, got, log)
	t.Logf("reindex after the restart: %+v", r.Reindex.Report.Total)
}

// A target index whose mapping refuses the source's documents (the switched
// poller made it with code as a number; the source has "E12") fails the
// reindex step for good, naming the index and the first refused documents.
func TestReindexMappingConflict(t *testing.T) {
	all := engines(t, es710, os35)
	src, tgt := all[es710], all[os35]
	cleanup(t, "wf-conflict-map*", src, tgt)
	fillNumbered(t, src, "wf-conflict-map", 500)
	mustReq(t, "PUT", tgt+"/wf-conflict-map", `{"settings":{"number_of_shards":1,"number_of_replicas":0},"mappings":{"properties":{"code":{"type":"long"}}}}`)
	x := run(t, input(t, src, tgt, "pull", "wf-conflict-map"), runOptions{})
	failedAt(t, x, "Reindex", "ReindexFailedError")
	for _, want := range []string{"wf-conflict-map -> wf-conflict-map", "mapper_parsing_exception", "_id id", "[code]"} {
		if !strings.Contains(x.Result.Cause, want) {
			t.Errorf("cause lacks %q: %s", want, x.Result.Cause)
		}
	}
	if x.entered("Verify") {
		t.Fatal("the workflow went on to verify")
	}
	// The failure went through the cleanup step, which recorded it.
	if !x.entered("Cleanup") {
		t.Fatal("the failure did not go through the cleanup step")
	}
	_, m := req(t, "GET", tgt+"/.essnap-ledger/_search?q=kind:migration%20AND%20status:failed", "")
	if !strings.Contains(fmt.Sprint(m), "step:Reindex") || !strings.Contains(fmt.Sprint(m), "ReindexFailedError") {
		t.Fatalf("the ledger does not record the failure: %v", m)
	}
	// The operator fixes the cause (removes the target index with the wrong
	// mapping) and runs the same input again: the migration resumes from
	// the ledger, creates the index again and copies every document once.
	mustReq(t, "DELETE", tgt+"/wf-conflict-map", "")
	again := run(t, input(t, src, tgt, "pull", "wf-conflict-map"), runOptions{timeout: 2 * time.Minute, onEvent: func(e event) any {
		if e.Event == "switch_requested" {
			return switched(e) // no poller writes in this test
		}
		return nil
	}})
	succeeded(t, again)
	if !strings.Contains(string(again.Result.Output), `"resumed":true`) {
		t.Fatalf("the rerun did not resume: %.600s", again.Result.Output)
	}
	got := ids(t, tgt, "wf-conflict-map")
	if len(got) != 500 {
		t.Fatalf("%d documents after the rerun, want 500", len(got))
	}
}

// Refusals before anything is written: an index with _source disabled (its
// documents cannot be read by reindex), and a target that cannot reach the
// source (the probe fails).
func TestReindexRefusedAtPreflight(t *testing.T) {
	all := engines(t, es710, os35)
	src, tgt := all[es710], all[os35]
	cleanup(t, "wf-nosource*", src, tgt)
	mustReq(t, "PUT", src+"/wf-nosource", `{"settings":{"number_of_shards":1,"number_of_replicas":0},"mappings":{"_source":{"enabled":false},"properties":{"m":{"type":"long"}}}}`)
	mustReq(t, "POST", src+"/wf-nosource/_bulk?refresh=true", "{\"index\":{\"_id\":\"1\"}}\n{\"m\":1}\n")
	x := run(t, input(t, src, tgt, "push", "wf-nosource"), runOptions{})
	failedAt(t, x, "Preflight", "VersionMismatchError")
	if !strings.Contains(x.Result.Cause, "wf-nosource must be copied by reindex but has _source disabled") {
		t.Fatalf("cause: %s", x.Result.Cause)
	}
	if st, _ := req(t, "HEAD", tgt+"/wf-nosource-restored", ""); st != 404 {
		t.Fatal("something was created on the target")
	}

	cleanup(t, "wf-unreach*", src, tgt)
	createIndex(t, src, "wf-unreach")
	in := input(t, src, tgt, "push", "wf-unreach")
	in["remote_host"] = "http://127.0.0.1:9298" // nothing listens there
	x = run(t, in, runOptions{})
	failedAt(t, x, "Preflight", "SourceUnreachableError")
	if !strings.Contains(x.Result.Cause, "cannot read the source at http://127.0.0.1:9298") || !strings.Contains(x.Result.Cause, "Connection refused") {
		t.Fatalf("cause: %s", x.Result.Cause)
	}
	if st, _ := req(t, "HEAD", tgt+"/wf-unreach-restored", ""); st != 404 {
		t.Fatal("something was created on the target")
	}
}

// Pull: a reindexed index takes its source's aliases with their filter
// (is_write_index left to the target); a closed source index is refused at
// the pre-flight, since reindex reads through a search.
func TestReindexAliasesAndClosedIndex(t *testing.T) {
	all := engines(t, es710, os35)
	src, tgt := all[es710], all[os35]
	cleanup(t, "wf-alias*", src, tgt)
	t.Cleanup(func() {
		req(t, "DELETE", src+"/_alias/wf-alias-errors", "")
		req(t, "DELETE", tgt+"/_alias/wf-alias-errors", "")
	})
	fillNumbered(t, src, "wf-alias", 300)
	mustReq(t, "POST", src+"/_aliases", `{"actions":[{"add":{"index":"wf-alias","alias":"wf-alias-errors","filter":{"term":{"code":"E1"}},"is_write_index":true}}]}`)
	x := run(t, input(t, src, tgt, "pull", "wf-alias"), runOptions{onEvent: func(e event) any {
		if e.Event == "switch_requested" {
			return switched(e)
		}
		return nil
	}})
	succeeded(t, x)
	m := mustReq(t, "GET", tgt+"/wf-alias/_alias/wf-alias-errors", "")
	a := fmt.Sprint(m["wf-alias"])
	if !strings.Contains(a, "filter:map[term:map[code:E1]]") || strings.Contains(a, "is_write_index") {
		t.Fatalf("alias on the target: %s", a)
	}

	cleanup(t, "wf-closed*", src, tgt)
	createIndex(t, src, "wf-closed")
	mustReq(t, "POST", src+"/wf-closed/_close", "")
	x = run(t, input(t, src, tgt, "push", "wf-closed"), runOptions{})
	failedAt(t, x, "Preflight", "ValidationError")
	if !strings.Contains(x.Result.Cause, "closed indices cannot be copied by reindex") || !strings.Contains(x.Result.Cause, "wf-closed") {
		t.Fatalf("cause: %s", x.Result.Cause)
	}
}

// The reindex function dies in the middle of an invocation (its Lambda
// environment is killed while it polls its tasks) and comes back: the
// invocation fails as Lambda.ServiceException, Step Functions retries it,
// and the next invocation reads the ledger, which holds every task the
// dead one started. The copy converges with every _id exactly once.
func TestFunctionRestartedMidBatch(t *testing.T) {
	all := engines(t, es710, os35)
	src, tgt := all[es710], all[os35]
	cleanup(t, "wf-fnkill*", src, tgt)
	const docs = 40000
	fillNumbered(t, src, "wf-fnkill", docs)
	in := input(t, src, tgt, "push", "wf-fnkill")
	in["split_field"], in["split_docs"], in["batch_size"], in["max_concurrent"] = "n", 5000, 200, 2
	in["reindex_check_seconds"] = 30
	var once sync.Once
	killed := false
	x := run(t, in, runOptions{onEvent: func(e event) any {
		if e.Event == "state_entered" && e.State == "Reindex" {
			once.Do(func() {
				go func() {
					// Kill it once tasks run, mid-invocation.
					waitForReindexTask(t, tgt)
					time.Sleep(300 * time.Millisecond)
					killFunction(t, "Reindex")
					killed = true
					time.Sleep(time.Second)
					restartFunction(t, "Reindex")
				}()
			})
		}
		return nil
	}})
	if !killed {
		t.Fatal("the reindex function was never killed")
	}
	if x.retries("Reindex") == 0 {
		t.Fatal("the killed invocation was not retried")
	}
	r := succeeded(t, x)
	got := ids(t, tgt, "wf-fnkill-restored")
	if len(got) != docs {
		t.Fatalf("%d of %d documents on the target", len(got), docs)
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("%s is on the target %d times", id, n)
		}
	}
	t.Logf("reindex after the function restart: %+v, %d retries", r.Reindex.Report.Total, x.retries("Reindex"))
}

// waitForReindexTask waits (up to 10 s) until the target runs a reindex task.
func waitForReindexTask(t *testing.T, tgt string) {
	for range 100 {
		_, m := req(t, "GET", tgt+"/_tasks?actions=*reindex&detailed", "")
		if strings.Contains(fmt.Sprint(m), "reindex from") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
