package handler_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/essnap/essnap/internal/golden"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/model"

	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/snapshot"
)

// fixedNow is the handlers' clock: 03:00 UTC, when the nightly schedule runs.
var fixedNow = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// call is one recorded Operations call.
type call struct {
	Op      string
	Repo    string
	Name    string
	Verbose bool
	Spec    engine.RepositorySpec
	Create  engine.CreateOptions
	Restore engine.RestoreOptions
	Names   []string
}

// fakeOps is the domain of the snapshot functions' tests (register-repo,
// take-snapshot, restore, check-progress, verify, drill). Each hook, when set, answers its
// operation; otherwise a plausible default does. Every call is recorded.
type fakeOps struct {
	mu    sync.Mutex
	calls []call

	// snapshotIndices are the indices of the fake's snapshots.
	snapshotIndices []string
	// existing are the domain's indices, by name, with their status.
	existing map[string]string

	register      func(engine.RepositorySpec) (engine.RegisterResult, error)
	create        func(repo, name string, opt engine.CreateOptions) (engine.CreateResult, error)
	status        func(repo, name string) (engine.Progress, error)
	restore       func(repo, name string, opt engine.RestoreOptions) (engine.RestoreResult, error)
	restoreStatus func(targets []string) (engine.RestoreProgress, error)

	// listing answers ListSnapshots.
	listing []model.Snapshot
	// docCounts answers DocCounts (take-snapshot's recorded counts).
	docCounts map[string]int64
}

var (
	_ handler.RegisterRepoOps  = (*fakeOps)(nil)
	_ handler.TakeSnapshotOps  = (*fakeOps)(nil)
	_ handler.RestoreOps       = (*fakeOps)(nil)
	_ handler.CheckProgressOps = (*fakeOps)(nil)
	_ handler.VerifyOps        = (*fakeOps)(nil)
	_ handler.DrillOps         = (*fakeOps)(nil)
)

// Verify's and the drill's reads are exercised on the real engines
// (test/integration, test/workflow); the fake answers them as an empty domain.
func (f *fakeOps) Disk(context.Context) ([]engine.NodeDisk, error) { return nil, nil }

func (f *fakeOps) Count(context.Context, string) (int64, error) { return 0, nil }

func (f *fakeOps) DocIDs(context.Context, string, func([]string) error) error {
	return nil
}

func (f *fakeOps) TakenNames(ctx context.Context) (map[string]string, map[string][]string, error) {
	ix, err := f.Indices(ctx, "*")
	taken := map[string]string{}
	for n, s := range ix {
		taken[n] = s.Status
	}
	return taken, map[string][]string{}, err
}

// The replica step is exercised with replicaOps (throughput_test.go) and on
// the real engines; the plain fake has nothing to set.
func (f *fakeOps) SetReplicas(context.Context, map[string]int) error { return nil }

func (f *fakeOps) ReplicaStatus(context.Context, map[string]int) (engine.ReplicasResult, error) {
	return engine.ReplicasResult{Done: true}, nil
}

// The drill's reads are exercised on the real engines (test/integration);
// the fake counts nothing and has room for anything.
func (f *fakeOps) DocCounts(context.Context, []string) (map[string]int64, error) {
	if f.docCounts != nil {
		return f.docCounts, nil
	}
	return map[string]int64{}, nil
}

func (f *fakeOps) SnapshotIndexSizes(context.Context, string, string) (map[string]int64, error) {
	return map[string]int64{}, nil
}

func (f *fakeOps) LowWatermark(context.Context) (string, error) { return "85%", nil }

func (f *fakeOps) DeleteIndices(_ context.Context, names []string) error {
	f.record(call{Op: "DeleteIndices", Names: names})
	return nil
}

func (f *fakeOps) record(c call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

// recorded returns the calls of one operation.
func (f *fakeOps) recorded(op string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeOps) RegisterRepository(_ context.Context, spec engine.RepositorySpec) (engine.RegisterResult, error) {
	f.record(call{Op: "RegisterRepository", Repo: spec.Name, Spec: spec})
	if f.register != nil {
		return f.register(spec)
	}
	return engine.RegisterResult{Repository: spec.Name, Status: "created", Verified: spec.Verify}, nil
}

func (f *fakeOps) CreateSnapshot(_ context.Context, repo, name string, opt engine.CreateOptions) (engine.CreateResult, error) {
	f.record(call{Op: "CreateSnapshot", Repo: repo, Name: name, Create: opt})
	if f.create != nil {
		return f.create(repo, name, opt)
	}
	return engine.CreateResult{Snapshot: model.Snapshot{Name: name, State: model.StateInProgress}}, nil
}

func (f *fakeOps) GetSnapshot(_ context.Context, repo, name string) (model.Snapshot, error) {
	f.record(call{Op: "GetSnapshot", Repo: repo, Name: name})
	return model.Snapshot{Name: name, State: model.StateSuccess, Indices: f.snapshotIndices}, nil
}

func (f *fakeOps) Status(_ context.Context, repo, name string) (engine.Progress, error) {
	f.record(call{Op: "Status", Repo: repo, Name: name})
	if f.status != nil {
		return f.status(repo, name)
	}
	return engine.Progress{Snapshot: model.Snapshot{Name: name, State: model.StateSuccess}}, nil
}

func (f *fakeOps) ListSnapshots(_ context.Context, repo string, _ ...string) ([]model.Snapshot, error) {
	f.record(call{Op: "ListSnapshots", Repo: repo})
	return f.listing, nil
}

func (f *fakeOps) DeleteSnapshots(_ context.Context, repo string, names []string) error {
	f.record(call{Op: "DeleteSnapshots", Repo: repo, Names: names})
	return nil
}

// Restore plans with the real planner against the fake snapshot and domain,
// as engine.Ops does, and starts nothing on a dry run.
func (f *fakeOps) Restore(_ context.Context, repo, name string, opt engine.RestoreOptions) (engine.RestoreResult, error) {
	f.record(call{Op: "Restore", Repo: repo, Name: name, Restore: opt})
	if f.restore != nil {
		return f.restore(repo, name, opt)
	}
	snap := name
	if snap == "latest" || snap == "" {
		snap = "nightly-2026.11.24"
	}
	res := engine.RestoreResult{Repository: repo, Snapshot: snap, DryRun: opt.DryRun}
	plan, err := snapshot.PlanRestore(f.snapshotIndices, opt.Indices, opt.IncludeSystem, opt.Rename, f.existing)
	res.RestorePlan = plan
	if err != nil {
		return res, err
	}
	if len(plan.Collisions) > 0 {
		return res, &snapshot.CollisionError{Repository: repo, Snapshot: snap, Collisions: plan.Collisions}
	}
	res.Accepted = !opt.DryRun
	return res, nil
}

func (f *fakeOps) RestoreStatus(_ context.Context, targets []string) (engine.RestoreProgress, error) {
	f.record(call{Op: "RestoreStatus", Names: targets})
	if f.restoreStatus != nil {
		return f.restoreStatus(targets)
	}
	return engine.RestoreProgress{Done: true}, nil
}

func (f *fakeOps) Indices(_ context.Context, pattern string) (map[string]engine.IndexState, error) {
	f.record(call{Op: "Indices", Name: pattern})
	out := map[string]engine.IndexState{}
	for n, s := range f.existing {
		out[n] = engine.IndexState{Index: n, Status: s}
	}
	return out, nil
}

// harness is a fake domain plus the Deps that reach it.
type harness struct {
	ops     *fakeOps
	deps    handler.Deps
	domains []handler.Domain
}

// awsEndpoint is a public AWS domain endpoint in eu-west-1.
const awsEndpoint = "https://search-logs-abc.eu-west-1.es.amazonaws.com"

// baseEnv is the environment every function of the stack gets.
func baseEnv() map[string]string {
	return map[string]string{
		"ESSNAP_ENDPOINT": awsEndpoint,
		"ESSNAP_BUCKET":   "essnap-snapshots",
		"ESSNAP_ROLE_ARN": "arn:aws:iam::123456789012:role/SnapshotRole",
	}
}

func newHarness(t *testing.T, env map[string]string) *harness {
	t.Helper()
	h := &harness{ops: &fakeOps{
		snapshotIndices: []string{"logs-2026.11.22", "logs-2026.11.23", "metrics-2026.11.23", ".kibana_1", ".opendistro_security"},
		existing:        map[string]string{"logs-2026.11.24": "open", ".kibana_1": "open"},
	}}
	var mu sync.Mutex
	h.deps = handler.Deps{
		Connect: func(_ context.Context, d handler.Domain) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			h.domains = append(h.domains, d)
			return h.ops, nil
		},
		Clock:  fixedClock{fixedNow},
		Log:    slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Getenv: mapGetenv(env),
	}
	return h
}

func mapGetenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// typeName is the Lambda errorType of err: its Go type name.
func typeName(err error) string {
	if err == nil {
		return "<nil>"
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// wantErr checks err's type name and that its message holds every fragment.
func wantErr(t *testing.T, err error, typ string, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s containing %q", typ, fragments)
	}
	if n := typeName(err); n != typ {
		t.Fatalf("error type %s (%v), want %s", n, err, typ)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err, f)
		}
	}
}

func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	golden.JSON(t, filepath.Join("testdata", name), v)
}
