package handler_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/model"

	"github.com/essnap/essnap/pkg/handler"
)

// published records metrics.
type published struct {
	mu   sync.Mutex
	vals []map[string]float64
}

func (p *published) Publish(_ string, v map[string]float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.vals = append(p.vals, v)
}

func (p *published) sum(name string) (float64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s float64
	seen := false
	for _, v := range p.vals {
		if x, ok := v[name]; ok {
			s, seen = s+x, true
		}
	}
	return s, seen
}

// nightlies makes n daily SUCCESS snapshots of policy "nightly", newest last,
// ending at end, plus two foreign ones that retention must never touch.
func nightlies(n int, end time.Time, newestState string) []model.Snapshot {
	var out []model.Snapshot
	for i := n - 1; i >= 0; i-- {
		day := end.AddDate(0, 0, -i)
		st := model.StateSuccess
		if i == 0 {
			st = newestState
		}
		out = append(out, model.Snapshot{Name: "nightly-" + day.Format("2006.01.02"), State: st, Start: day,
			Indices: []string{"logs-" + day.Format("2006.01.02")}, Metadata: map[string]any{"essnap_policy": "nightly"}})
	}
	out = append(out,
		model.Snapshot{Name: "cs-automated-x", State: model.StateSuccess, Start: end.AddDate(-1, 0, 0)},
		model.Snapshot{Name: "nightly-handmade", State: model.StateSuccess, Start: end.AddDate(-1, 0, 0)},
	)
	return out
}

func retentionHarness(t *testing.T, env map[string]string, listing []model.Snapshot) (*harness, *published) {
	h := newHarness(t, env)
	h.ops.listing = listing
	pub := &published{}
	h.deps.Metrics = pub
	return h, pub
}

func TestRetentionAction(t *testing.T) {
	env := baseEnv()
	env["ESSNAP_RETENTION_MAX_COUNT"] = "30"
	env["ESSNAP_RETENTION_BATCH_SIZE"] = "50"
	cases := []struct {
		name        string
		newest      string
		event       string
		wantErr     string
		wantDeleted int
		wantReqs    int
	}{
		{"deletes beyond max_count in batches", model.StateSuccess, `{"action":"retention"}`, "", 170, 1 + 4},
		{"dry run deletes nothing", model.StateSuccess, `{"action":"retention","dry_run":true}`, "", 170, 1},
		{"expire_after alone is a rule", model.StateSuccess, `{"action":"retention","retention":{"max_count":0,"expire_after":"150d"}}`, "", 49, 1 + 1},
		{"event overrides the environment", model.StateSuccess, `{"action":"retention","retention":{"max_count":195,"batch_size":2}}`, "", 5, 1 + 3},
		{"newest running: retryable wait", model.StateInProgress, `{"action":"retention"}`, "ConcurrentSnapshotError", 0, 1},
		{"newest PARTIAL: nothing deleted", model.StatePartial, `{"action":"retention"}`, "SnapshotFailedError", 0, 1},
		{"newest FAILED: nothing deleted", model.StateFailed, `{"action":"retention"}`, "SnapshotFailedError", 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, pub := retentionHarness(t, env, nightlies(200, fixedNow, tc.newest))
			res, err := handler.TakeSnapshot{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(tc.event))
			if tc.wantErr != "" {
				wantErr(t, err, tc.wantErr)
				if n := len(h.ops.recorded("DeleteSnapshots")); n != 0 {
					t.Fatalf("%d delete requests after %s", n, tc.newest)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := res.Retention
			if len(r.Deleted) != tc.wantDeleted || r.Requests != tc.wantReqs || r.Ignored != 2 {
				t.Fatalf("deleted %d, requests %d, ignored %d", len(r.Deleted), r.Requests, r.Ignored)
			}
			deleted := 0
			for _, c := range h.ops.recorded("DeleteSnapshots") {
				deleted += len(c.Names)
				for _, n := range c.Names {
					if n == "cs-automated-x" || n == "nightly-handmade" || n == "nightly-2026.11.24" {
						t.Fatalf("deleted %s", n)
					}
				}
			}
			if r.DryRun != (deleted == 0) || (!r.DryRun && deleted != tc.wantDeleted) {
				t.Fatalf("dry_run %v but %d deleted", r.DryRun, deleted)
			}
			for _, d := range r.Deleted {
				if len(d.Reasons) == 0 {
					t.Fatalf("%s deleted without a reason", d.Snapshot)
				}
			}
			if v, _ := pub.sum("SnapshotSucceeded"); v != 1 {
				t.Fatalf("SnapshotSucceeded %v", v)
			}
			if v, ok := pub.sum("RetentionDeletions"); !r.DryRun && (!ok || v != float64(tc.wantDeleted)) {
				t.Fatalf("RetentionDeletions %v", v)
			}
		})
	}
}

func TestRetentionAfterSnapshotOnlyOnSuccess(t *testing.T) {
	env := baseEnv()
	env["ESSNAP_RETENTION_MAX_COUNT"] = "10"
	for _, state := range []string{model.StateSuccess, model.StateInProgress, model.StatePartial, model.StateFailed} {
		t.Run(state, func(t *testing.T) {
			h, pub := retentionHarness(t, env, nightlies(20, fixedNow, model.StateSuccess))
			h.ops.create = func(repo, name string, opt engine.CreateOptions) (engine.CreateResult, error) {
				if opt.Metadata["essnap_policy"] != "nightly" {
					t.Errorf("snapshot metadata lacks the policy id: %v", opt.Metadata)
				}
				return engine.CreateResult{Snapshot: model.Snapshot{Name: name, State: state, Indices: []string{"logs"}, Start: fixedNow, Duration: 1500 * time.Millisecond}}, nil
			}
			res, err := handler.TakeSnapshot{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{"trigger":"schedule","wait_for_completion":true}`))
			deletes := len(h.ops.recorded("DeleteSnapshots"))
			switch state {
			case model.StateSuccess:
				if err != nil || res.Retention == nil || len(res.Retention.Deleted) != 10 || deletes != 1 {
					t.Fatalf("%v %+v deletes=%d", err, res.Retention, deletes)
				}
				if v, _ := pub.sum("SnapshotDurationSeconds"); v != 1.5 {
					t.Fatalf("duration metric %v", v)
				}
			case model.StateInProgress:
				if err != nil || res.Retention == nil || res.Retention.Deferred == "" || deletes != 0 {
					t.Fatalf("%v %+v deletes=%d", err, res.Retention, deletes)
				}
			default:
				wantErr(t, err, "SnapshotFailedError", "retention was not applied")
				if deletes != 0 || len(h.ops.recorded("ListSnapshots")) != 0 {
					t.Fatal("retention ran after a bad snapshot")
				}
				if v, _ := pub.sum("SnapshotFailed"); v != 1 {
					t.Fatalf("SnapshotFailed metric %v", v)
				}
			}
		})
	}
}

func TestRetentionConfigErrors(t *testing.T) {
	cases := []struct{ name, event, want string }{
		{"retention action without rules", `{"action":"retention"}`, "needs a retention rule"},
		{"unknown action", `{"action":"purge"}`, `action "purge" is unknown`},
		{"bad age", `{"retention":{"expire_after":"a month"}}`, "retention.expire_after"},
		{"bad zone", `{"retention":{"max_count":3,"timezone":"Mars/Base"}}`, "retention.timezone"},
		{"bad batch", `{"retention":{"max_count":3,"batch_size":0}}`, "batch_size"},
		{"reserved metadata", `{"metadata":{"essnap_policy":"x"}}`, "reserved"},
		{"unknown retention field", `{"retention":{"keep_dayly":3}}`, "keep_dayly"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := retentionHarness(t, baseEnv(), nil)
			_, err := handler.TakeSnapshot{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(tc.event))
			wantErr(t, err, "ValidationError", tc.want)
		})
	}
	env := baseEnv()
	env["ESSNAP_RETENTION_MAX_COUNT"] = "many"
	h, _ := retentionHarness(t, env, nil)
	_, err := handler.TakeSnapshot{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{}`))
	wantErr(t, err, "ValidationError", "ESSNAP_RETENTION_MAX_COUNT")
}

// A SUCCESS snapshot that holds no index (patterns that matched nothing)
// fails loudly and never feeds retention.
func TestEmptySnapshotNeverFeedsRetention(t *testing.T) {
	env := baseEnv()
	env["ESSNAP_RETENTION_MAX_COUNT"] = "3"
	h, pub := retentionHarness(t, env, nightlies(10, fixedNow, model.StateSuccess))
	h.ops.create = func(repo, name string, opt engine.CreateOptions) (engine.CreateResult, error) {
		return engine.CreateResult{Snapshot: model.Snapshot{Name: name, State: model.StateSuccess}}, nil
	}
	// The pattern matches a closed index, so the check before creating
	// passes; the engine still snapshots nothing.
	h.ops.existing["log-closed"] = "close"
	_, err := handler.TakeSnapshot{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{"indices":["log-*"],"wait_for_completion":true}`))
	wantErr(t, err, "SnapshotFailedError", "holds no index", "log-*")
	if len(h.ops.recorded("DeleteSnapshots")) != 0 {
		t.Fatal("retention ran after an empty snapshot")
	}
	if v, _ := pub.sum("SnapshotFailed"); v != 1 {
		t.Fatalf("SnapshotFailed %v", v)
	}
	listing := nightlies(10, fixedNow, model.StateSuccess)
	listing[9].Indices = nil // the newest one is empty
	h, _ = retentionHarness(t, env, listing)
	_, err = handler.TakeSnapshot{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{"action":"retention"}`))
	wantErr(t, err, "SnapshotFailedError", "holds no index")
	if len(h.ops.recorded("DeleteSnapshots")) != 0 {
		t.Fatal("retention ran after an empty snapshot")
	}
}

// Elasticsearch 7.10 gives snapshots taken back to back the same start
// time: a PARTIAL snapshot tied with the newest SUCCESS one still stops
// retention, whatever the listing order.
func TestRetentionRefusesTiedPartial(t *testing.T) {
	env := baseEnv()
	env["ESSNAP_RETENTION_MAX_COUNT"] = "3"
	for _, partialFirst := range []bool{true, false} {
		listing := nightlies(10, fixedNow, model.StateSuccess)
		tie := listing[9]
		tie.Name, tie.State = "nightly-zz-partial", model.StatePartial
		if partialFirst {
			listing = append(listing[:9], tie, listing[9])
		} else {
			listing = append(listing, tie)
		}
		h, _ := retentionHarness(t, env, listing)
		_, err := handler.TakeSnapshot{Deps: h.deps}.Invoke(context.Background(), json.RawMessage(`{"action":"retention"}`))
		wantErr(t, err, "SnapshotFailedError", "nightly-zz-partial is PARTIAL")
		if len(h.ops.recorded("DeleteSnapshots")) != 0 {
			t.Fatal("retention ran beside a PARTIAL snapshot")
		}
	}
}
