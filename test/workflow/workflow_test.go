//go:build integration

package workflow

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// report is the part of the workflow output the tests check.
type report struct {
	Status string `json:"status"`
	Report struct {
		Status  string `json:"status"`
		Indices []struct {
			Source, Target string
			SourceDocs     int64 `json:"source_docs"`
			TargetDocs     int64 `json:"target_docs"`
			IDsChecked     bool  `json:"ids_checked"`
			OK             bool  `json:"ok"`
		} `json:"indices"`
		Totals struct {
			SourceDocs int64 `json:"source_docs"`
			TargetDocs int64 `json:"target_docs"`
		} `json:"totals"`
		Durations map[string]float64 `json:"durations_seconds"`
	} `json:"report"`
}

func succeeded(t *testing.T, x execution) report {
	t.Helper()
	if x.Result.Status != "SUCCEEDED" {
		t.Fatalf("workflow %s: %s: %s", x.Result.Status, x.Result.Error, x.Result.Cause)
	}
	var r report
	if err := json.Unmarshal(x.Result.Output, &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "SUCCEEDED" || r.Report.Status != "verified" || len(r.Report.Indices) == 0 {
		t.Fatalf("report: %s", x.Result.Output)
	}
	for _, ix := range r.Report.Indices {
		if !ix.OK {
			t.Fatalf("index not verified: %+v", ix)
		}
	}
	if r.Report.Durations["total"] <= 0 {
		t.Errorf("report has no total duration: %v", r.Report.Durations)
	}
	return r
}

// failedAt checks that the workflow stopped in step with errorType.
func failedAt(t *testing.T, x execution, step, errorType string) {
	t.Helper()
	if x.Result.Status != "FAILED" || x.Result.Error != errorType {
		t.Fatalf("want FAILED with %s at %s, got %s %s: %s", errorType, step, x.Result.Status, x.Result.Error, x.Result.Cause)
	}
	if !x.entered(step+"Failed") || !strings.HasPrefix(x.Result.Cause, step+" failed with "+errorType) {
		t.Fatalf("failure not reported for step %s: %s", step, x.Result.Cause)
	}
	if !strings.Contains(x.Result.Cause, "Nothing was deleted") {
		t.Errorf("failure report lacks the safety statement: %s", x.Result.Cause)
	}
}

// exactlyOnce checks that got holds every written _id exactly once and nothing else.
func exactlyOnce(t *testing.T, got map[string]int, log []written) {
	t.Helper()
	want := map[string]bool{}
	for _, w := range log {
		want[w.ID] = true
	}
	var missing, dup, extra []string
	for id := range want {
		switch n := got[id]; {
		case n == 0:
			missing = append(missing, id)
		case n > 1:
			dup = append(dup, id)
		}
	}
	for id := range got {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	sort.Strings(missing)
	if len(missing)+len(dup)+len(extra) > 0 {
		t.Fatalf("%d written: %d missing (%v), %d duplicated (%v), %d unknown (%v)", len(want), len(missing), head(missing), len(dup), head(dup), len(extra), head(extra))
	}
	t.Logf("all %d written documents are on the target exactly once", len(want))
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func merge(ms ...map[string]int) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

// Push: shippers are switched to the target first, keep writing there
// during the migration, and the snapshot is restored renamed beside them.
// Live documents plus restored documents must be everything written.
func TestPush(t *testing.T) {
	all := engines(t, "opensearch", "opensearch-b", "elasticsearch")
	for _, pair := range []struct{ name, src, tgt string }{
		{"opensearch-to-opensearch", "opensearch-b", "opensearch"},
		{"elasticsearch-7.10-to-opensearch", "elasticsearch", "opensearch"},
	} {
		t.Run(pair.name, func(t *testing.T) {
			src, tgt := all[pair.src], all[pair.tgt]
			cleanup(t, "wf-push*", src, tgt)
			createIndex(t, src, "wf-push")
			createIndex(t, src, "wf-push-audit")
			mustReq(t, "POST", src+"/wf-push-audit/_bulk?refresh=true", "{\"index\":{\"_id\":\"a1\"}}\n{\"m\":1}\n{\"index\":{\"_id\":\"a2\"}}\n{\"m\":2}\n")
			w := startWriter(t, src, "wf-push")
			w.Fill(3000)
			createIndex(t, tgt, "wf-push")
			before := w.Switch(tgt) // the cut-over: shippers now write to the target
			time.Sleep(300 * time.Millisecond)
			x := run(t, input(t, src, tgt, "push", "wf-push*"), runOptions{})
			during := w.Len() - before
			log := w.Stop()
			r := succeeded(t, x)
			if during == 0 {
				t.Fatal("no document was written during the migration")
			}
			if len(r.Report.Indices) != 2 || r.Report.Indices[0].Target != "wf-push-restored" || r.Report.Indices[1].Target != "wf-push-audit-restored" {
				t.Fatalf("indices: %+v", r.Report.Indices)
			}
			exactlyOnce(t, merge(ids(t, tgt, "wf-push"), ids(t, tgt, "wf-push-restored")), log)
			if got := ids(t, tgt, "wf-push-audit-restored"); len(got) != 2 {
				t.Fatalf("audit copy: %v", got)
			}
			t.Logf("%d documents before the switch, %d written to the target during the migration", before, during)
		})
	}
}

// Pull: the poller keeps writing to the source while the snapshot runs;
// the restore keeps the names; at the switch request the poller moves to
// the target and replays from its checkpoint with op_type create, which
// drops what the restore brought. Every document must be there exactly once.
func TestPull(t *testing.T) {
	all := engines(t, "opensearch", "opensearch-b", "elasticsearch")
	for _, pair := range []struct{ name, src, tgt string }{
		{"opensearch-to-opensearch", "opensearch-b", "opensearch"},
		{"elasticsearch-7.10-to-opensearch", "elasticsearch", "opensearch"},
	} {
		t.Run(pair.name, func(t *testing.T) {
			src, tgt := all[pair.src], all[pair.tgt]
			cleanup(t, "wf-pull*", src, tgt)
			createIndex(t, src, "wf-pull")
			w := startWriter(t, src, "wf-pull")
			w.Fill(3000)
			checkpoint := w.Len() // the poller's checkpoint, before the snapshot
			var switched bool
			var sent, dropped int
			x := run(t, input(t, src, tgt, "pull", "wf-pull"), runOptions{onEvent: func(e event) any {
				if e.Event != "switch_requested" {
					return nil
				}
				w.Switch(tgt)
				sent, dropped = w.Replay(src, tgt, checkpoint)
				switched = true
				return map[string]any{"task_token": e.TaskToken, "output": map[string]any{"switched": true}}
			}})
			time.Sleep(300 * time.Millisecond) // the poller goes on writing to the target
			log := w.Stop()
			r := succeeded(t, x)
			if !switched || !x.entered("SwitchPoller") {
				t.Fatal("the workflow never asked to switch the poller")
			}
			if dropped == 0 {
				t.Errorf("replay dropped nothing: the restore should have brought the documents before the snapshot")
			}
			if ix := r.Report.Indices[0]; ix.Target != "wf-pull" || !ix.IDsChecked || ix.TargetDocs < ix.SourceDocs {
				t.Fatalf("pull verification: %+v", ix)
			}
			exactlyOnce(t, ids(t, tgt, "wf-pull"), log)
			t.Logf("replay: %d created, %d dropped as already restored", sent, dropped)
		})
	}
}

// The operator refuses the switch: the workflow stops with the operator's
// error at SwitchPoller; the restored indices stay.
func TestPullSwitchRefused(t *testing.T) {
	all := engines(t, "opensearch", "opensearch-b")
	src, tgt := all["opensearch-b"], all["opensearch"]
	cleanup(t, "wf-refuse*", src, tgt)
	createIndex(t, src, "wf-refuse")
	mustReq(t, "POST", src+"/wf-refuse/_bulk?refresh=true", "{\"index\":{\"_id\":\"1\"}}\n{\"m\":1}\n")
	x := run(t, input(t, src, tgt, "pull", "wf-refuse"), runOptions{onEvent: func(e event) any {
		if e.Event == "switch_requested" {
			return map[string]any{"task_token": e.TaskToken, "error": "NotSwitched", "cause": "poller config frozen"}
		}
		return nil
	}})
	failedAt(t, x, "SwitchPoller", "NotSwitched")
	if st, _ := req(t, "HEAD", tgt+"/wf-refuse", ""); st != 200 {
		t.Fatal("the restored index should stay on the target")
	}
}

// Pull with an index of the same name already on the target stops at the
// pre-flight, before any repository is registered.
func TestPullConflictStopsAtPreflight(t *testing.T) {
	all := engines(t, "opensearch", "opensearch-b")
	src, tgt := all["opensearch-b"], all["opensearch"]
	cleanup(t, "wf-conflict*", src, tgt)
	createIndex(t, src, "wf-conflict-a")
	createIndex(t, src, "wf-conflict-b")
	createIndex(t, tgt, "wf-conflict-b")
	x := run(t, input(t, src, tgt, "pull", "wf-conflict-*"), runOptions{})
	failedAt(t, x, "Preflight", "IndexConflictError")
	if !strings.Contains(x.Result.Cause, "wf-conflict-b (open)") || strings.Contains(x.Result.Cause, "wf-conflict-a ") {
		t.Fatalf("cause should name exactly the conflicting index: %s", x.Result.Cause)
	}
	if x.entered("RegisterSourceRepository") {
		t.Fatal("the workflow went past the pre-flight")
	}
}

// OpenSearch -> Elasticsearch 7.10 is impossible: stop at the pre-flight.
func TestVersionMismatchStopsAtPreflight(t *testing.T) {
	all := engines(t, "opensearch", "elasticsearch")
	src, tgt := all["opensearch"], all["elasticsearch"]
	cleanup(t, "wf-version*", src, tgt)
	createIndex(t, src, "wf-version")
	x := run(t, input(t, src, tgt, "push", "wf-version"), runOptions{})
	failedAt(t, x, "Preflight", "VersionMismatchError")
	if !strings.Contains(x.Result.Cause, "Elasticsearch does not read OpenSearch snapshots") {
		t.Fatalf("cause: %s", x.Result.Cause)
	}
	if x.entered("RegisterSourceRepository") {
		t.Fatal("the workflow went past the pre-flight")
	}
}

// A snapshot that ends PARTIAL (a primary that cannot be allocated) stops
// the workflow before any restore.
func TestPartialSnapshotStopsWorkflow(t *testing.T) {
	all := engines(t, "opensearch", "opensearch-b")
	src, tgt := all["opensearch-b"], all["opensearch"]
	cleanup(t, "wf-partial*", src, tgt)
	createIndex(t, src, "wf-partial-ok")
	mustReq(t, "POST", src+"/wf-partial-ok/_bulk?refresh=true", "{\"index\":{\"_id\":\"1\"}}\n{\"m\":1}\n")
	mustReq(t, "PUT", src+"/wf-partial-red?wait_for_active_shards=0", `{"settings":{"number_of_shards":1,"number_of_replicas":0,"index.routing.allocation.require._name":"no-such-node"}}`)
	in := input(t, src, tgt, "push", "wf-partial-*")
	in["snapshot_partial"] = true
	x := run(t, in, runOptions{})
	step := "CheckSnapshot"
	if x.entered("TakeSnapshotFailed") {
		step = "TakeSnapshot"
	}
	failedAt(t, x, step, "SnapshotFailedError")
	if !strings.Contains(x.Result.Cause, "PARTIAL") {
		t.Fatalf("cause: %s", x.Result.Cause)
	}
	if x.entered("RestorePush") {
		t.Fatal("a restore was started from a PARTIAL snapshot")
	}
	if st, _ := req(t, "HEAD", tgt+"/wf-partial-ok-restored", ""); st != 404 {
		t.Fatal("something was restored")
	}
}

// The source engine dies while the workflow polls the snapshot: check-progress
// fails with EngineUnavailableError, Step Functions retries it, then the
// Catch reports the failed step. The engine is restarted afterwards.
func TestEngineStoppedDuringPoll(t *testing.T) {
	all := engines(t, "opensearch", "opensearch-b")
	src, tgt := all["opensearch-b"], all["opensearch"]
	cleanup(t, "wf-stop*", tgt)
	createIndex(t, src, "wf-stop")
	w := startWriter(t, src, "wf-stop")
	w.Fill(5000)
	w.Stop()
	u, _ := url.Parse(src)
	t.Cleanup(func() {
		cmd := exec.Command("bash", filepath.Join(root, "scripts", "peers.sh"), "start", "opensearch", "opensearch-b", u.Port())
		cmd.Env = os.Environ()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("restart opensearch-b: %v\n%s", err, out)
		}
	})
	stopped := false
	x := run(t, input(t, src, tgt, "push", "wf-stop"), runOptions{waitMs: 4000, onEvent: func(e event) any {
		if e.Event == "state_entered" && e.State == "WaitSnapshot" && !stopped {
			stopped = true
			cmd := exec.Command("bash", filepath.Join(root, "scripts", "peers.sh"), "stop", "opensearch-b")
			cmd.Env = os.Environ()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("stop opensearch-b: %v\n%s", err, out)
			}
		}
		return nil
	}})
	if !stopped {
		t.Fatal("the workflow never polled the snapshot")
	}
	failedAt(t, x, "CheckSnapshot", "EngineUnavailableError")
	if n := x.retries("CheckSnapshot"); n != 4 {
		t.Errorf("CheckSnapshot retried %d times, want 4 (the Retry for EngineUnavailableError)", n)
	}
	if x.entered("RestorePush") {
		t.Fatal("the workflow went on to restore")
	}
}
