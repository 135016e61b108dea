package engine

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/snapshot"
)

const openSearchRoot = `{"version":{"distribution":"opensearch","number":"2.11.0"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`

// A blocking create (wait_for_completion) that runs into the deadline: the
// transport stops the PUT early enough that the state check after it still
// runs, so the caller gets the snapshot IN_PROGRESS, not an
// EngineUnavailableError.
func TestBlockingCreateIntoDeadlineReportsInProgress(t *testing.T) {
	var puts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			io.WriteString(w, openSearchRoot)
		case r.Method == http.MethodPut:
			puts.Add(1)
			if r.URL.Query().Get("wait_for_completion") != "true" {
				t.Errorf("PUT %s without wait_for_completion", r.URL)
			}
			io.Copy(io.Discard, r.Body) // so the server notices the client leave
			select {                    // the snapshot runs longer than the function may wait
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		default:
			io.WriteString(w, `{"snapshots":[{"snapshot":"nightly-2026.11.24","uuid":"u1","state":"IN_PROGRESS","indices":["logs"]}]}`)
		}
	}))
	defer srv.Close()
	c, err := esclient.New(esclient.Config{Endpoint: srv.URL, Unsigned: true,
		DeadlineMargin: 200 * time.Millisecond, FollowUpReserve: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	res, err := Ops{C: c}.CreateSnapshot(ctx, "r", "nightly-2026.11.24", CreateOptions{WaitForCompletion: true})
	if err != nil {
		t.Fatalf("blocking create into the deadline: %v", err)
	}
	if res.Snapshot.State != model.StateInProgress || !res.Recovered || res.Snapshot.Name != "nightly-2026.11.24" {
		t.Fatalf("result %+v, want the snapshot IN_PROGRESS (recovered)", res)
	}
	if n := puts.Load(); n != 1 {
		t.Fatalf("create sent %d times", n)
	}
	if ctx.Err() != nil {
		t.Fatal("the result came after the deadline")
	}
}

// The lost-answer error of a restore says what really happens next: it is
// retried, and a rerun looks for its own indices before restoring.
func TestRestoreLostAnswerMessageIsTruthful(t *testing.T) {
	ops, writes := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/_restore"):
			w.WriteHeader(504)
			io.WriteString(w, gatewayTimeout)
		case strings.HasPrefix(r.URL.Path, "/_cat/indices"):
			io.WriteString(w, `[]`)
		case r.URL.Path == "/_alias":
			io.WriteString(w, `{}`)
		default:
			io.WriteString(w, `{"snapshots":[{"snapshot":"s","state":"SUCCESS","indices":["logs"]}]}`)
		}
	})
	_, err := ops.Restore(context.Background(), "r", "s", RestoreOptions{})
	if !errors.Is(err, failure.ErrOutcomeUnknown) {
		t.Fatalf("err %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"answer was lost", "retries this error (EngineUnavailableError)", "first looks for its target indices", "recognises it by their recovery source", "instead of restoring twice"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "before rerunning") {
		t.Errorf("message asks for a manual check although the error is retried automatically: %s", msg)
	}
	if writes.Load() != 1 {
		t.Fatalf("restore sent %d times", writes.Load())
	}
}

// aliasDomain is a fake domain with one index, one alias on a hidden index
// and a snapshot of logs and metrics; it records the restore requests.
func aliasDomain(t *testing.T) (Ops, *atomic.Int32, *atomic.Value) {
	var aliasQuery atomic.Value
	ops, writes := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/_cat/indices"):
			io.WriteString(w, `[{"index":"logs-v2","status":"open","health":"green","docs.count":"1","store.size":"1"},`+
				`{"index":".hidden-store","status":"open","health":"green","docs.count":"1","store.size":"1"}]`)
		case r.URL.Path == "/_alias":
			aliasQuery.Store(r.URL.RawQuery)
			io.WriteString(w, `{"logs-v2":{"aliases":{"logs-restored":{},"current":{"is_write_index":true}}},`+
				`".hidden-store":{"aliases":{"metrics-restored":{"filter":{"term":{"a":1}}},"current":{}}},"idle":{"aliases":{}}}`)
		case strings.HasSuffix(r.URL.Path, "/_restore"):
			io.WriteString(w, `{"accepted":true}`)
		default:
			io.WriteString(w, `{"snapshots":[{"snapshot":"s","state":"SUCCESS","indices":["logs","metrics","other"]}]}`)
		}
	})
	return ops, writes, &aliasQuery
}

// An alias with a target's name collides like an index: the pre-flight
// names it as an alias collision, with the indices behind it, and nothing
// is sent.
func TestRestoreRefusesAliasCollisions(t *testing.T) {
	ops, writes, query := aliasDomain(t)
	rn, err := snapshot.Rename{Suffix: "-restored"}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	res, err := ops.Restore(context.Background(), "r", "s", RestoreOptions{Rename: rn})
	var ce *snapshot.CollisionError
	if !errors.As(err, &ce) {
		t.Fatalf("want a snapshot.CollisionError, got %v", err)
	}
	want := []snapshot.Collision{
		{Index: "logs-restored", Source: "logs", Status: snapshot.StatusAlias, AliasOf: []string{"logs-v2"}},
		{Index: "metrics-restored", Source: "metrics", Status: snapshot.StatusAlias, AliasOf: []string{".hidden-store"}},
	}
	if !reflect.DeepEqual(ce.Collisions, want) || !reflect.DeepEqual(res.Collisions, want) {
		t.Fatalf("collisions %+v, want %+v", ce.Collisions, want)
	}
	msg := err.Error()
	for _, w := range []string{"2 target names are taken (2 by aliases", "logs-restored (from logs, alias of logs-v2)", "metrics-restored (from metrics, alias of .hidden-store)", "remove those aliases"} {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q: %s", w, msg)
		}
	}
	if writes.Load() != 0 {
		t.Fatalf("%d restore requests sent despite the collision", writes.Load())
	}
	if q, _ := query.Load().(string); !strings.Contains(q, "expand_wildcards=all") {
		t.Fatalf("GET /_alias?%s: hidden and closed indices' aliases are missed", q)
	}

	// Without the rename nothing collides with an alias: the restore runs.
	if _, err := ops.Restore(context.Background(), "r", "s", RestoreOptions{Indices: []string{"logs", "metrics"}}); err != nil {
		t.Fatalf("restore under free names: %v", err)
	}
	if writes.Load() != 1 {
		t.Fatalf("restore sent %d times", writes.Load())
	}
}

func TestTakenNamesIncludesAliases(t *testing.T) {
	ops, _, _ := aliasDomain(t)
	taken, aliases, err := ops.TakenNames(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantTaken := map[string]string{"logs-v2": "open", ".hidden-store": "open", "logs-restored": snapshot.StatusAlias, "metrics-restored": snapshot.StatusAlias, "current": snapshot.StatusAlias}
	if !reflect.DeepEqual(taken, wantTaken) {
		t.Fatalf("taken %v, want %v", taken, wantTaken)
	}
	wantAliases := map[string][]string{"logs-restored": {"logs-v2"}, "metrics-restored": {".hidden-store"}, "current": {".hidden-store", "logs-v2"}}
	if !reflect.DeepEqual(aliases, wantAliases) {
		t.Fatalf("aliases %v, want %v", aliases, wantAliases)
	}
	// The plan reports an alias collision by its status.
	plan, err := snapshot.PlanRestore([]string{"current", "logs"}, nil, false, nil, taken)
	if err != nil {
		t.Fatal(err)
	}
	if want := []snapshot.Collision{{Index: "current", Source: "current", Status: snapshot.StatusAlias}}; !reflect.DeepEqual(plan.Collisions, want) {
		t.Fatalf("collisions %+v", plan.Collisions)
	}
}

// Index-only collisions keep their message (operators and docs quote it).
func TestCollisionMessageWithoutAliasesUnchanged(t *testing.T) {
	e := &snapshot.CollisionError{Repository: "r", Snapshot: "s", Collisions: []snapshot.Collision{{Index: "a", Source: "a", Status: "open"}}}
	if got, want := e.Error(), `restore r/s refused: 1 target indices already exist: a (from a, open); rename the restore (rename_suffix "-restored"), pick other indices, or delete/close those indices first`; got != want {
		t.Fatalf("message %q", got)
	}
}

// deadlineRecorder is an innermost transport that records the deadline of
// each DELETE attempt.
type deadlineRecorder struct {
	mu        sync.Mutex
	deletes   []time.Time
	noDL      int
	transport http.RoundTripper
}

func (d *deadlineRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodDelete {
		d.mu.Lock()
		if dl, ok := r.Context().Deadline(); ok {
			d.deletes = append(d.deletes, dl)
		} else {
			d.noDL++
		}
		d.mu.Unlock()
	}
	return d.transport.RoundTrip(r)
}

// The scroll cleanup of DocIDs runs after a failure or a cancellation, but
// never longer than cleanupBound and never past the caller's deadline.
func TestDocIDsCleanupIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			io.WriteString(w, openSearchRoot)
		case r.Method == http.MethodDelete:
			io.WriteString(w, `{"succeeded":true}`)
		default:
			io.WriteString(w, `{"_scroll_id":"sc1","hits":{"hits":[{"_id":"a"},{"_id":"b"}]}}`)
		}
	}))
	defer srv.Close()
	stop := errors.New("visitor stops")
	cases := []struct {
		name     string
		deadline time.Duration // 0: none
		cancel   bool          // cancel the caller's context in visit
		latest   time.Duration // the DELETE's deadline, from the start, at most
	}{
		{"far deadline: bounded by cleanupBound", time.Hour, false, cleanupBound},
		{"near deadline: bounded by it", 3 * time.Second, false, 3 * time.Second},
		{"no deadline: bounded by cleanupBound", 0, false, cleanupBound},
		{"canceled caller: still cleaned up, bounded", time.Hour, true, cleanupBound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &deadlineRecorder{transport: http.DefaultTransport}
			cl, err := esclient.New(esclient.Config{Endpoint: srv.URL, Unsigned: true, Base: rec})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if c.deadline > 0 {
				ctx, cancel = context.WithTimeout(context.Background(), c.deadline)
			}
			defer cancel()
			start := time.Now()
			err = Ops{C: cl}.DocIDs(ctx, "logs", func([]string) error {
				if c.cancel {
					cancel()
				}
				return stop
			})
			if !errors.Is(err, stop) {
				t.Fatalf("err %v", err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.deletes) != 1 || rec.noDL != 0 {
				t.Fatalf("DELETE attempts with a deadline %d, without %d; want one, bounded", len(rec.deletes), rec.noDL)
			}
			if got := rec.deletes[0].Sub(start); got > c.latest {
				t.Fatalf("cleanup may run %v, want at most %v", got, c.latest)
			}
		})
	}
}

// Verification is repeated by the transport after a lost answer (it only
// writes and deletes a test file), and once more by the operation after a
// repository_verification_exception.
func TestVerifyRepeatedAfterLostAnswer(t *testing.T) {
	var verifies atomic.Int32
	ops, _ := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/_verify"):
			switch verifies.Add(1) {
			case 1:
				w.WriteHeader(504)
				io.WriteString(w, gatewayTimeout)
			case 2:
				w.WriteHeader(500)
				io.WriteString(w, `{"error":{"type":"repository_verification_exception","reason":"[r] path is not accessible on master node"},"status":500}`)
			default:
				io.WriteString(w, `{"nodes":{}}`)
			}
		case r.Method == http.MethodGet:
			io.WriteString(w, `{"r":{"type":"fs","settings":{"location":"/x"}}}`)
		default:
			io.WriteString(w, `{"acknowledged":true}`)
		}
	})
	res, err := ops.RegisterRepository(context.Background(), RepositorySpec{Name: "r", Type: "fs", Settings: map[string]any{"location": "/x"}, Verify: true})
	if err != nil || !res.Verified || res.VerifyError != "" {
		t.Fatalf("%+v %v", res, err)
	}
	if n := verifies.Load(); n != 3 {
		t.Fatalf("verify sent %d times, want 3 (504 repeated by the transport, then one more verification)", n)
	}
}
