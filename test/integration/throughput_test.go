//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/handler"
)

// TestRepositoryThrottles: register-repo's max_snapshot_bytes_per_sec and
// max_restore_bytes_per_sec are accepted by every engine, stored as given,
// and applied: "0" snapshots unthrottled, a small rate (128kb) slows the same
// snapshot to about bytes / rate; a restore from the "0" repository works.
func TestRepositoryThrottles(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "tp-*")
			t.Cleanup(func() { deleteIndices(t, e, "tp-*") })
			seed(t, e, "tp-data", 20000)
			mustRaw(t, e, "POST", "/tp-data/_forcemerge?max_num_segments=1", "")
			st := mustRaw(t, e, "GET", "/tp-data/_stats/store", "")
			bytes := st["_all"].(map[string]any)["primaries"].(map[string]any)["store"].(map[string]any)["size_in_bytes"].(float64)

			snapTime := func(repo, rate string) time.Duration {
				t.Helper()
				env := map[string]string{"ESSNAP_REPOSITORY": repo, "ESSNAP_REPOSITORY_TYPE": "fs",
					"ESSNAP_FS_LOCATION": filepath.Join(repoRoot(t), "it", e.Name, repo, fmt.Sprint(time.Now().UnixNano()))}
				t.Cleanup(func() { deleteRepo(t, e, repo) })
				d := deps(e, env, time.Now())
				ev := fmt.Sprintf(`{"max_snapshot_bytes_per_sec":%q,"max_restore_bytes_per_sec":%q}`, rate, rate)
				res, err := handler.RegisterRepo{Deps: d}.Invoke(context.Background(), json.RawMessage(ev))
				if err != nil || !res.Verified {
					t.Fatalf("register %s with %s: %v %+v", repo, rate, err, res)
				}
				got := mustRaw(t, e, "GET", "/_snapshot/"+repo, "")[repo].(map[string]any)["settings"].(map[string]any)
				if got["max_snapshot_bytes_per_sec"] != rate || got["max_restore_bytes_per_sec"] != rate {
					t.Fatalf("%s settings %v; want both %q", repo, got, rate)
				}
				// A rerun with the same throttles changes nothing.
				if res, err := (handler.RegisterRepo{Deps: d}).Invoke(context.Background(), json.RawMessage(ev)); err != nil || res.Status != "unchanged" {
					t.Fatalf("rerun: %v %+v", err, res)
				}
				start := time.Now()
				mustRaw(t, e, "PUT", "/_snapshot/"+repo+"/s1?wait_for_completion=true", `{"indices":"tp-data","include_global_state":false}`)
				return time.Since(start)
			}
			fast := snapTime("it-tp-open", "0")
			// 128kb/s makes the throttled snapshot take about 5 s, so a
			// loaded machine's noise on the unthrottled one (0.5 s seen in
			// CI) stays far below a third of it.
			const rate = 128 * 1024
			slow := snapTime("it-tp-slow", "128kb")
			expect := time.Duration(bytes / rate * float64(time.Second))
			t.Logf("%s: %.0f bytes: unthrottled %v, 128kb/s %v (bytes/rate %v)", e.Name, bytes, fast, slow, expect)
			// The engines' rate limiter counts the bytes it copies, which are
			// not exactly the store size: a third of bytes/rate is the bound.
			if slow < expect/3 {
				t.Fatalf("128kb/s snapshot of %.0f bytes took %v; the throttle is not applied (want about %v)", bytes, slow, expect)
			}
			if fast > slow/3 {
				t.Fatalf("\"0\" snapshot took %v, throttled %v: \"0\" does not lift the throttle", fast, slow)
			}
			// Restore from the unthrottled repository.
			d := deps(e, map[string]string{"ESSNAP_REPOSITORY": "it-tp-open"}, time.Now())
			if _, err := (handler.Restore{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"snapshot":"s1","indices":["tp-data"],"rename_suffix":"-r","index_settings":{"index.number_of_replicas":0}}`)); err != nil {
				t.Fatal(err)
			}
			waitRestore(t, e, []string{"tp-data-r"})
			if n := count(t, e, "tp-data-r"); n != 20000 {
				t.Fatalf("restored %d docs", n)
			}
		})
	}
}

// TestRestoreReplicasStep: the workflow's replica step (restore action
// replicas) sets each index's number_of_replicas and waits for the health
// it can reach: green for 0 replicas; on these single-node engines yellow
// for 1 (the replica has no second node), the documented expectation.
func TestRestoreReplicasStep(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "tpr-*")
			t.Cleanup(func() { deleteIndices(t, e, "tpr-*") })
			seed(t, e, "tpr-zero", 10)
			seed(t, e, "tpr-one", 10)
			d := deps(e, nil, time.Now())
			d.Clock = handler.SystemClock{}
			res, err := handler.Restore{Deps: d}.Invoke(context.Background(), json.RawMessage(`{"action":"replicas","replicas":{"tpr-zero":0,"tpr-one":1},"wait_seconds":20}`))
			if err != nil {
				t.Fatal(err)
			}
			r := res.Replicas
			if r == nil || !r.Done {
				t.Fatalf("not done: %+v", r)
			}
			want := map[string]string{"tpr-zero": "green", "tpr-one": "yellow"}
			if r.DataNodes > 1 {
				want["tpr-one"] = "green"
			}
			for _, ix := range r.Indices {
				if ix.Expected != want[ix.Index] || ix.Status != want[ix.Index] {
					t.Fatalf("%s: status %s expected %s; want %s", ix.Index, ix.Status, ix.Expected, want[ix.Index])
				}
			}
			for ix, n := range map[string]string{"tpr-zero": "0", "tpr-one": "1"} {
				s := mustRaw(t, e, "GET", "/"+ix+"/_settings/index.number_of_replicas?flat_settings=true", "")
				if got := s[ix].(map[string]any)["settings"].(map[string]any)["index.number_of_replicas"]; got != n {
					t.Fatalf("%s number_of_replicas %v; want %s", ix, got, n)
				}
				h := mustRaw(t, e, "GET", "/_cluster/health/"+ix, "")
				if h["status"] != want[ix] {
					t.Fatalf("%s health %v; want %s", ix, h["status"], want[ix])
				}
			}
			// A rerun is a no-op that answers done at once.
			res, err = handler.Restore{Deps: d}.Invoke(context.Background(), json.RawMessage(`{"action":"replicas","replicas":{"tpr-zero":0,"tpr-one":1},"wait_seconds":20,"started_at":"`+r.StartedAt+`"}`))
			if err != nil || !res.Replicas.Done || res.Replicas.Polls != 1 || res.Replicas.Seconds < r.Seconds {
				t.Fatalf("rerun: %v %+v", err, res.Replicas)
			}
			// A missing index is an engine refusal, nothing is set.
			_, err = handler.Restore{Deps: d}.Invoke(context.Background(), json.RawMessage(`{"action":"replicas","replicas":{"tpr-missing":1}}`))
			if err == nil {
				t.Fatal("replicas on a missing index: no error")
			}
		})
	}
}

// TestCheckProgressWaitsInsideInvocation: with wait_seconds, check-progress
// on a running snapshot answers done from the invocation that saw it end.
func TestCheckProgressWaitsInsideInvocation(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "tpw-*")
			t.Cleanup(func() { deleteIndices(t, e, "tpw-*") })
			seed(t, e, "tpw-data", 20000)
			loc := filepath.Join(repoRoot(t), "it", e.Name, "tpw", fmt.Sprint(time.Now().UnixNano()))
			mustRaw(t, e, "PUT", "/_snapshot/it-tpw", fmt.Sprintf(`{"type":"fs","settings":{"location":%q,"max_snapshot_bytes_per_sec":"1mb"}}`, loc))
			t.Cleanup(func() { deleteRepo(t, e, "it-tpw") })
			mustRaw(t, e, "PUT", "/_snapshot/it-tpw/s1", `{"indices":"tpw-data","include_global_state":false}`)
			d := deps(e, map[string]string{"ESSNAP_REPOSITORY": "it-tpw"}, time.Now())
			d.Clock = handler.SystemClock{}
			res, err := handler.CheckProgress{Deps: d}.Invoke(context.Background(), json.RawMessage(`{"snapshot":"s1","wait_seconds":60}`))
			if err != nil || !res.Done {
				t.Fatalf("%v %+v", err, res)
			}
			t.Logf("%s: done after %d polls", e.Name, res.Polls)
		})
	}
}
