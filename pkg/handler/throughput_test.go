package handler_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/model"
)

// steppingClock is a handler.Sleeper: Sleep advances Now instead of
// sleeping, and every sleep is recorded.
type steppingClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *steppingClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	return nil
}

// TestCheckProgressPollsInsideInvocation: with wait_seconds the check
// polls every 200 ms and answers at the first read that sees the
// snapshot done, not at a whole second.
func TestCheckProgressPollsInsideInvocation(t *testing.T) {
	h := newHarness(t, baseEnv())
	clock := &steppingClock{t: fixedNow}
	h.deps.Clock = clock
	reads := 0
	h.ops.status = func(repo, name string) (engine.Progress, error) {
		reads++
		state := model.StateInProgress
		if reads == 4 {
			state = model.StateSuccess
		}
		return engine.Progress{Snapshot: model.Snapshot{Name: name, State: state}}, nil
	}
	res, err := handler.CheckProgress{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{"snapshot":"s1","wait_seconds":20}`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Done || res.Polls != 4 || reads != 4 {
		t.Fatalf("done=%v polls=%d reads=%d; want done after 4 reads", res.Done, res.Polls, reads)
	}
	if got := clock.t.Sub(fixedNow); got != 600*time.Millisecond {
		t.Fatalf("answered after %v; want 600ms (3 sleeps of 200ms)", got)
	}
	for _, d := range clock.sleeps {
		if d != handler.PollInterval {
			t.Fatalf("slept %v; want %v", d, handler.PollInterval)
		}
	}
}

// TestCheckProgressWaitIsBounded: work that does not finish ends the
// invocation after wait_seconds with done false; 0 reads once.
func TestCheckProgressWaitIsBounded(t *testing.T) {
	h := newHarness(t, baseEnv())
	clock := &steppingClock{t: fixedNow}
	h.deps.Clock = clock
	h.ops.restoreStatus = func([]string) (engine.RestoreProgress, error) { return engine.RestoreProgress{}, nil }
	res, err := handler.CheckProgress{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{"indices":["a"],"wait_seconds":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Done || res.Polls != 11 || clock.t.Sub(fixedNow) != 2*time.Second {
		t.Fatalf("done=%v polls=%d after %v; want not done, 11 reads in 2s", res.Done, res.Polls, clock.t.Sub(fixedNow))
	}
	res, err = handler.CheckProgress{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{"indices":["a"]}`))
	if err != nil || res.Polls != 1 {
		t.Fatalf("wait_seconds 0: polls=%d err=%v; want one read", res.Polls, err)
	}
	// The invocation's deadline bounds the wait too.
	ctx, cancel := context.WithDeadline(context.Background(), fixedNow.Add(6*time.Second))
	defer cancel()
	clock.t = fixedNow
	res, err = handler.CheckProgress{Deps: h.deps}.Invoke(ctx, json.RawMessage(`{"indices":["a"],"wait_seconds":200}`))
	if err != nil || clock.t.Sub(fixedNow) > time.Second {
		t.Fatalf("with 6s left: waited %v (err %v); want at most 1s (5s margin)", clock.t.Sub(fixedNow), err)
	}
	_, err = handler.CheckProgress{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{"indices":["a"],"wait_seconds":999}`))
	wantErr(t, err, "ValidationError", "wait_seconds 999")
}

// TestRegisterThrottles: the throttles reach the repository settings;
// empty keeps the engine default; a malformed one is refused before sending.
func TestRegisterThrottles(t *testing.T) {
	c := handler.LoadRegisterConfig(mapGetenv(baseEnv()), []byte(`{"max_snapshot_bytes_per_sec":"0","max_restore_bytes_per_sec":"500mb"}`))
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s := c.Spec().Settings
	if s["max_snapshot_bytes_per_sec"] != "0" || s["max_restore_bytes_per_sec"] != "500mb" {
		t.Fatalf("settings %v", s)
	}
	c = handler.LoadRegisterConfig(mapGetenv(baseEnv()), []byte(`{}`))
	if _, ok := c.Spec().Settings["max_snapshot_bytes_per_sec"]; ok {
		t.Fatalf("default sets a throttle: %v", c.Spec().Settings)
	}
	env := baseEnv()
	env["ESSNAP_MAX_SNAPSHOT_BYTES_PER_SEC"] = "100mb"
	if s := handler.LoadRegisterConfig(mapGetenv(env), []byte(`{}`)).Spec().Settings; s["max_snapshot_bytes_per_sec"] != "100mb" {
		t.Fatalf("env throttle not applied: %v", s)
	}
	err := handler.LoadRegisterConfig(mapGetenv(baseEnv()), []byte(`{"max_snapshot_bytes_per_sec":"fast","max_restore_bytes_per_sec":"40 mb"}`)).Validate()
	wantErr(t, err, "ValidationError", "max_snapshot_bytes_per_sec \"fast\"", "max_restore_bytes_per_sec \"40 mb\"")
}

// replicaOps adds the replica step's operations to the fake: health
// reaches the expected state after ready reads.
type replicaOps struct {
	*fakeOps
	set   []map[string]int
	reads int
	ready int
}

func (r *replicaOps) SetReplicas(_ context.Context, want map[string]int) error {
	r.set = append(r.set, want)
	return nil
}

func (r *replicaOps) ReplicaStatus(_ context.Context, want map[string]int) (engine.ReplicasResult, error) {
	r.reads++
	res := engine.ReplicasResult{Done: r.reads >= r.ready, DataNodes: 1}
	for ix, n := range want {
		res.Indices = append(res.Indices, engine.ReplicaHealth{Index: ix, Replicas: n, Applied: n, Expected: engine.ExpectedHealth(n, 1), Status: "yellow", Done: res.Done})
	}
	return res, nil
}

// TestRestoreReplicasAction: the replica step sets the counts, polls
// health inside the invocation and reports its duration from started_at.
func TestRestoreReplicasAction(t *testing.T) {
	h := newHarness(t, baseEnv())
	clock := &steppingClock{t: fixedNow}
	h.deps.Clock = clock
	ro := &replicaOps{fakeOps: h.ops, ready: 3}
	h.deps.Connect = func(context.Context, handler.Domain) (any, error) { return ro, nil }
	started := fixedNow.Add(-10 * time.Second).Format(time.RFC3339Nano)
	res, err := handler.Restore{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{"action":"replicas","replicas":{"a-restored":1,"b-restored":0},"wait_seconds":5,"started_at":"`+started+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	r := res.Replicas
	if r == nil || !r.Done || r.Polls != 3 || len(ro.set) != 1 || ro.set[0]["a-restored"] != 1 || ro.set[0]["b-restored"] != 0 {
		t.Fatalf("result %+v set %v", r, ro.set)
	}
	if r.Seconds != 10.4 {
		t.Fatalf("seconds %v; want 10.4 (10 s before, 2 polls of 200 ms)", r.Seconds)
	}
	for _, ix := range r.Indices {
		want := map[string]string{"a-restored": "yellow", "b-restored": "green"}[ix.Index]
		if ix.Expected != want {
			t.Fatalf("%s expected %s; want %s on one data node", ix.Index, ix.Expected, want)
		}
	}
	for _, c := range h.ops.calls {
		if c.Op == "Restore" {
			t.Fatal("action replicas started a restore")
		}
	}
	_, err = handler.Restore{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{"action":"replicas","replicas":{"a":-1},"started_at":"yesterday"}`))
	wantErr(t, err, "ValidationError", "replicas[\"a\"] -1", "started_at \"yesterday\"")
	_, err = handler.Restore{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{"action":"replicate"}`))
	wantErr(t, err, "ValidationError", "action \"replicate\"")
	if !strings.Contains(engine.ExpectedHealth(1, 2), "green") {
		t.Fatal("1 replica on 2 data nodes can be green")
	}
}
