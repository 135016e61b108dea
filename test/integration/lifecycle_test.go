//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/model"
)

// countingDeps wires handlers to e through a transport that counts the
// requests retention sends (the product check's GET / excluded).
func countingDeps(e peer, env map[string]string, now time.Time) (handler.Deps, *atomic.Int32) {
	var n atomic.Int32
	base := http.DefaultTransport.(*http.Transport).Clone()
	d := deps(e, env, now)
	d.Connect = func(_ context.Context, dom handler.Domain) (any, error) {
		c, err := esclient.New(esclient.Config{Endpoint: dom.Endpoint, Unsigned: true, Base: countingRT{base, &n}})
		if err != nil {
			return nil, err
		}
		return engine.Ops{C: c}, nil
	}
	return d, &n
}

type countingRT struct {
	next http.RoundTripper
	n    *atomic.Int32
}

func (c countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path != "/" {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}

func lifecycleEnv(t *testing.T, e peer, repo string) map[string]string {
	return map[string]string{
		"ESSNAP_REPOSITORY": repo, "ESSNAP_REPOSITORY_TYPE": "fs",
		"ESSNAP_FS_LOCATION": filepath.Join(repoRoot(t), "it", e.Name, repo, fmt.Sprint(time.Now().UnixNano())),
	}
}

// Retention over a real repository of 200+ snapshots: only the policy's own
// snapshots are candidates, max_count holds exactly, and the requests are
// 1 list + ceil(deletions / batch size).
func TestRetentionOn200Snapshots(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "lc-*")
			t.Cleanup(func() { deleteIndices(t, e, "lc-*") })
			seed(t, e, "lc-logs", 10)
			env := lifecycleEnv(t, e, "it-lc")
			d, requests := countingDeps(e, env, time.Now())
			t.Cleanup(func() { deleteRepo(t, e, "it-lc") })
			if _, err := (handler.RegisterRepo{Deps: d}).Invoke(context.Background(), json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			const n = 200
			for i := 0; i < n; i++ {
				_, err := e.Ops.CreateSnapshot(ctx(t), "it-lc", fmt.Sprintf("nightly-%03d", i), engine.CreateOptions{
					Indices: []string{"lc-logs"}, WaitForCompletion: true, Metadata: map[string]any{"essnap_policy": "nightly"}})
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, foreign := range []string{"nightly-handmade", "cs-automated-lookalike"} {
				if _, err := e.Ops.CreateSnapshot(ctx(t), "it-lc", foreign, engine.CreateOptions{Indices: []string{"lc-logs"}, WaitForCompletion: true}); err != nil {
					t.Fatal(err)
				}
			}
			d.Clock = fixedClock{time.Now()}
			requests.Store(0)
			start := time.Now()
			res, err := (handler.TakeSnapshot{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"action":"retention","retention":{"max_count":50,"min_count":5,"batch_size":40}}`))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("retention on %d snapshots took %v, %d requests", n+2, time.Since(start), requests.Load())
			r := res.Retention
			if len(r.Deleted) != n-50 || r.Ignored != 2 || r.Requests != 1+4 || int(requests.Load()) != 1+4 {
				t.Fatalf("deleted %d, ignored %d, requests %d (counted %d)", len(r.Deleted), r.Ignored, r.Requests, requests.Load())
			}
			left, err := e.Ops.ListSnapshots(ctx(t), "it-lc")
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, s := range left {
				names[s.Name] = true
			}
			if len(left) != 52 || !names["nightly-handmade"] || !names["cs-automated-lookalike"] || !names["nightly-199"] || !names["nightly-150"] || names["nightly-149"] {
				t.Fatalf("left %d snapshots: %v", len(left), names)
			}
			// A second pass is a no-op: idempotent.
			res, err = (handler.TakeSnapshot{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"action":"retention","retention":{"max_count":50}}`))
			if err != nil || len(res.Retention.Deleted) != 0 {
				t.Fatalf("second pass: %v %+v", err, res.Retention)
			}
		})
	}
}

// With the engine limited to one snapshot operation, a second snapshot
// while one runs ends, after a bounded wait, in the retryable
// ConcurrentSnapshotError; retention waits for the running one.
func TestCollisionWithRunningSnapshot(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "cr-*")
			t.Cleanup(func() { deleteIndices(t, e, "cr-*") })
			seed(t, e, "cr-big", 5000)
			mustRaw(t, e, "PUT", "/_cluster/settings", `{"transient":{"snapshot.max_concurrent_operations":1}}`)
			t.Cleanup(func() {
				mustRaw(t, e, "PUT", "/_cluster/settings", `{"transient":{"snapshot.max_concurrent_operations":null}}`)
			})
			env := lifecycleEnv(t, e, "it-cr")
			loc := env["ESSNAP_FS_LOCATION"]
			mustRaw(t, e, "PUT", "/_snapshot/it-cr", fmt.Sprintf(`{"type":"fs","settings":{"location":%q,"max_snapshot_bytes_per_sec":"10kb"}}`, loc))
			t.Cleanup(func() { raw(t, e, "DELETE", "/_snapshot/it-cr/*", ""); deleteRepo(t, e, "it-cr") })
			d := deps(e, env, time.Now())
			slow, err := (handler.TakeSnapshot{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"snapshot":"nightly-slow","indices":["cr-*"]}`))
			if err != nil || slow.State != model.StateInProgress {
				t.Fatalf("slow snapshot: %+v %v", slow, err)
			}
			start := time.Now()
			_, err = (handler.TakeSnapshot{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"snapshot":"nightly-second","indices":["cr-*"]}`))
			if typeName(err) != "ConcurrentSnapshotError" || time.Since(start) > time.Minute {
				t.Fatalf("second snapshot: %T %v after %v", err, err, time.Since(start))
			}
			t.Logf("refused after a bounded wait of %v: %v", time.Since(start).Round(time.Millisecond), err)
			// A duplicate trigger of the running one is answered with it.
			dup, err := (handler.TakeSnapshot{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"snapshot":"nightly-slow","indices":["cr-*"]}`))
			if err != nil || !dup.Existing || dup.State != model.StateInProgress {
				t.Fatalf("duplicate: %+v %v", dup, err)
			}
			_, err = (handler.TakeSnapshot{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"action":"retention","retention":{"max_count":1,"prefix":"nightly-"}}`))
			if typeName(err) != "ConcurrentSnapshotError" {
				t.Fatalf("retention during a running snapshot: %T %v", err, err)
			}
			list, _ := e.Ops.ListSnapshots(ctx(t), "it-cr")
			if len(list) != 1 {
				t.Fatalf("want only the running snapshot, got %d", len(list))
			}
			// The limit counts deletions too: lift it, then abort the slow one.
			mustRaw(t, e, "PUT", "/_cluster/settings", `{"transient":{"snapshot.max_concurrent_operations":null}}`)
			mustRaw(t, e, "DELETE", "/_snapshot/it-cr/nightly-slow", "")
		})
	}
}

// Duplicate deliveries at the same moment: one snapshot, both answered.
func TestDuplicateTriggerAtOnce(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "dt-*")
			t.Cleanup(func() { deleteIndices(t, e, "dt-*") })
			seed(t, e, "dt-logs", 50)
			env := lifecycleEnv(t, e, "it-dt")
			d := deps(e, env, time.Now())
			if _, err := (handler.RegisterRepo{Deps: d}).Invoke(context.Background(), json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { deleteRepo(t, e, "it-dt") })
			var wg sync.WaitGroup
			results := make([]handler.SnapshotResult, 4)
			errs := make([]error, 4)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = (handler.TakeSnapshot{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"trigger":"schedule","indices":["dt-*"]}`))
				}()
			}
			wg.Wait()
			fresh := 0
			for i := range results {
				if errs[i] != nil {
					t.Fatalf("delivery %d: %v", i, errs[i])
				}
				if !results[i].Existing {
					fresh++
				}
				if results[i].Snapshot != results[0].Snapshot {
					t.Fatal("deliveries answered with different snapshots")
				}
			}
			list, _ := e.Ops.ListSnapshots(ctx(t), "it-dt")
			if fresh != 1 || len(list) != 1 {
				t.Fatalf("%d deliveries created a snapshot, repository holds %d", fresh, len(list))
			}
		})
	}
}

// Retention never runs after a PARTIAL snapshot on a real engine.
func TestNoRetentionAfterPartial(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "np-*")
			t.Cleanup(func() { deleteIndices(t, e, "np-*") })
			seed(t, e, "np-ok", 3)
			env := lifecycleEnv(t, e, "it-np")
			d := deps(e, env, time.Now())
			if _, err := (handler.RegisterRepo{Deps: d}).Invoke(context.Background(), json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { deleteRepo(t, e, "it-np") })
			for i := 0; i < 3; i++ {
				if _, err := e.Ops.CreateSnapshot(ctx(t), "it-np", fmt.Sprintf("nightly-old-%d", i), engine.CreateOptions{Indices: []string{"np-*"}, WaitForCompletion: true, Metadata: map[string]any{"essnap_policy": "nightly"}}); err != nil {
					t.Fatal(err)
				}
			}
			mustRaw(t, e, "PUT", "/np-red?wait_for_active_shards=0", `{"settings":{"number_of_shards":1,"number_of_replicas":0,"index.routing.allocation.require._name":"no-such-node"}}`)
			_, err := (handler.TakeSnapshot{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"indices":["np-*"],"partial":true,"wait_for_completion":true,"retention":{"max_count":1}}`))
			if typeName(err) != "SnapshotFailedError" || !strings.Contains(err.Error(), "retention was not applied") {
				t.Fatalf("%T %v", err, err)
			}
			_, err = (handler.TakeSnapshot{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"action":"retention","retention":{"max_count":1}}`))
			if typeName(err) != "SnapshotFailedError" {
				t.Fatalf("retention action after PARTIAL: %T %v", err, err)
			}
			if list, _ := e.Ops.ListSnapshots(ctx(t), "it-np"); len(list) != 4 {
				t.Fatalf("retention deleted after a PARTIAL: %d left", len(list))
			}
		})
	}
}
