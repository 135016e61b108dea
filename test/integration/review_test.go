//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/snapshot"
)

// An existing alias with a restore target's name: the engine refuses to
// create the index, so the pre-flight refuses first and names the alias
// collision (with the index behind it); a closed index's alias counts too.
// Nothing is restored.
func TestRestoreRefusesAliasCollision(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "ra-*")
			t.Cleanup(func() { deleteIndices(t, e, "ra-*") })
			seed(t, e, "ra-logs", 3)
			seed(t, e, "ra-metrics", 2)
			fsRepo(t, e, "it-ra")
			if _, err := e.Ops.CreateSnapshot(ctx(t), "it-ra", "s1", engine.CreateOptions{Indices: []string{"ra-logs", "ra-metrics"}, WaitForCompletion: true}); err != nil {
				t.Fatal(err)
			}
			seed(t, e, "ra-live", 1)
			seed(t, e, "ra-old", 1)
			mustRaw(t, e, "POST", "/_aliases", `{"actions":[{"add":{"index":"ra-live","alias":"ra-logs-restored"}},{"add":{"index":"ra-old","alias":"ra-metrics-restored"}}]}`)
			mustRaw(t, e, "POST", "/ra-old/_close", "")

			taken, aliases, err := e.Ops.TakenNames(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if taken["ra-logs-restored"] != snapshot.StatusAlias || taken["ra-metrics-restored"] != snapshot.StatusAlias || taken["ra-old"] != "close" {
				t.Fatalf("taken names: ra-logs-restored=%q ra-metrics-restored=%q ra-old=%q", taken["ra-logs-restored"], taken["ra-metrics-restored"], taken["ra-old"])
			}
			if !reflect.DeepEqual(aliases["ra-metrics-restored"], []string{"ra-old"}) {
				t.Fatalf("alias of the closed index: %v", aliases["ra-metrics-restored"])
			}

			rn, err := snapshot.Rename{Suffix: "-restored"}.Compile()
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Ops.Restore(ctx(t), "it-ra", "s1", engine.RestoreOptions{Rename: rn})
			var ce *snapshot.CollisionError
			if !errors.As(err, &ce) {
				t.Fatalf("want a CollisionError, got %v", err)
			}
			want := []snapshot.Collision{
				{Index: "ra-logs-restored", Source: "ra-logs", Status: snapshot.StatusAlias, AliasOf: []string{"ra-live"}},
				{Index: "ra-metrics-restored", Source: "ra-metrics", Status: snapshot.StatusAlias, AliasOf: []string{"ra-old"}},
			}
			if !reflect.DeepEqual(ce.Collisions, want) {
				t.Fatalf("collisions %+v, want %+v", ce.Collisions, want)
			}
			if typeName(failure.Classify(err)) != "IndexConflictError" {
				t.Fatalf("classified %T", failure.Classify(err))
			}
			// Through the handler, as Step Functions sees it.
			env := map[string]string{"ESSNAP_REPOSITORY": "it-ra"}
			_, herr := (handler.Restore{Deps: deps(e, env, time.Now())}).Invoke(ctx(t), json.RawMessage(`{"snapshot":"s1","rename_suffix":"-restored"}`))
			if typeName(herr) != "IndexConflictError" {
				t.Fatalf("restore handler: %T %v", herr, herr)
			}
			after, err := e.Ops.Indices(ctx(t), "ra-*")
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"ra-logs-restored", "ra-metrics-restored"} {
				if _, ok := after[n]; ok {
					t.Fatalf("a refused restore created %s", n)
				}
			}

			// The engine itself refuses the same restore: the pre-flight is not
			// stricter than the engine, and the refusal is typed alike.
			st, m := raw(t, e, "POST", "/_snapshot/it-ra/s1/_restore", `{"indices":"ra-logs","rename_pattern":"(.+)","rename_replacement":"$1-restored"}`)
			if st < 400 {
				deleteIndices(t, e, "ra-logs-restored")
				t.Fatalf("the engine accepted a restore onto an alias's name: %d %v", st, m)
			}
			aerr := esclient.ParseError("POST", "/_snapshot/it-ra/s1/_restore", st, mustJSON(m))
			if typeName(failure.Classify(aerr)) != "IndexConflictError" {
				t.Fatalf("engine refusal %v classified %T", aerr, failure.Classify(aerr))
			}
		})
	}
}

// A blocking create (wait_for_completion) that outlasts the function's
// deadline: the transport ends the PUT early enough for the state check, so
// the result is the snapshot IN_PROGRESS, not EngineUnavailableError. The
// repository is throttled so the snapshot runs long on a tiny index.
func TestBlockingCreateIntoDeadlineReportsInProgress(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "bd-*")
			t.Cleanup(func() { deleteIndices(t, e, "bd-*") })
			seed(t, e, "bd-logs", 5000)
			mustRaw(t, e, "POST", "/bd-logs/_flush", "")
			// Throttle so the snapshot takes about 6 s, past the 4 s deadline
			// below, and then finishes by itself (aborting a throttled snapshot
			// takes minutes on every engine).
			size := int64(0)
			if ix, err := e.Ops.Indices(ctx(t), "bd-logs"); err == nil {
				size = ix["bd-logs"].Bytes
			}
			if size < 6000 {
				t.Fatalf("bd-logs holds %d bytes; the throttle needs a known size", size)
			}
			loc := filepath.Join(repoRoot(t), "it", e.Name, "it-bd", fmt.Sprint(time.Now().UnixNano()))
			if _, err := e.Ops.RegisterRepository(ctx(t), engine.RepositorySpec{Name: "it-bd", Type: "fs",
				Settings: map[string]any{"location": loc, "max_snapshot_bytes_per_sec": fmt.Sprintf("%db", size/6)}}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				waitSnapshot(t, e, "it-bd", "s1")
				deleteRepo(t, e, "it-bd")
			})

			c, err := esclient.New(esclient.Config{Endpoint: e.URL, Unsigned: true,
				DeadlineMargin: 500 * time.Millisecond, FollowUpReserve: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			dctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			defer cancel()
			res, err := engine.Ops{C: c}.CreateSnapshot(dctx, "it-bd", "s1", engine.CreateOptions{Indices: []string{"bd-logs"}, WaitForCompletion: true})
			if err != nil {
				t.Fatalf("blocking create into the deadline: %v (%s)", err, typeName(failure.Classify(err)))
			}
			if res.Snapshot.State == model.StateSuccess {
				t.Fatalf("the throttled snapshot finished within the deadline; nothing was tested: %+v", res)
			}
			if res.Snapshot.State != model.StateInProgress || !res.Recovered {
				t.Fatalf("result %+v, want the snapshot IN_PROGRESS, recovered by the state check", res)
			}
			if dctx.Err() != nil {
				t.Fatal("the result came after the deadline")
			}
		})
	}
}

// openScrolls sums the engine's open search contexts (scrolls).
func openScrolls(t *testing.T, e peer) int {
	t.Helper()
	m := mustRaw(t, e, "GET", "/_nodes/stats/indices/search", "")
	n := 0
	nodes, _ := m["nodes"].(map[string]any)
	for _, node := range nodes {
		s, _ := node.(map[string]any)["indices"].(map[string]any)["search"].(map[string]any)
		v, _ := s["open_contexts"].(float64)
		n += int(v)
	}
	return n
}

// DocIDs frees its scroll context also when the walk ends early because
// the caller's context was canceled (the cleanup outlives the cancellation,
// bounded in time).
func TestDocIDsFreesScrollAfterCancel(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "sc-*")
			t.Cleanup(func() { deleteIndices(t, e, "sc-*") })
			seed(t, e, "sc-logs", 20)
			before := openScrolls(t, e)
			wctx, cancel := context.WithCancel(ctx(t))
			defer cancel()
			stop := errors.New("caller gave up")
			seen := 0
			err := e.Ops.DocIDs(wctx, "sc-logs", func(ids []string) error {
				seen += len(ids)
				cancel()
				return stop
			})
			if !errors.Is(err, stop) || seen != 20 {
				t.Fatalf("DocIDs: %v, %d ids", err, seen)
			}
			if after := openScrolls(t, e); after > before {
				t.Fatalf("open search contexts %d -> %d: the scroll was not cleared", before, after)
			}
		})
	}
}
