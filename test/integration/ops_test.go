//go:build integration

package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v7"
	"github.com/elastic/go-elasticsearch/v7/esapi"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/snapshot"
)

// The v7 client's product check refuses both engines on its own; through
// essnap's transport it passes, and esapi calls work.
func TestProductCheck(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			plain, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{e.URL}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := plain.Info(); err == nil || !strings.Contains(err.Error(), "not") {
				t.Fatalf("plain go-elasticsearch should fail the product check on %s, got %v", e.Name, err)
			} else {
				t.Logf("plain client on %s: %v", e.Name, err)
			}
			res, err := esapi.InfoRequest{}.Do(ctx(t), e.Ops.C.ES)
			if err != nil {
				t.Fatalf("essnap client failed the product check: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("GET / = %d", res.StatusCode)
			}
			cat, err := esapi.CatIndicesRequest{Format: "json"}.Do(ctx(t), e.Ops.C.ES)
			if err != nil || cat.StatusCode != 200 {
				t.Fatalf("esapi cat indices: %v %v", err, cat)
			}
			cat.Body.Close()
			v, err := e.Ops.EngineVersion(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"opensearch": "opensearch", "elasticsearch": "elasticsearch"}[strings.SplitN(e.Name, "-", 2)[0]]
			if want != "" && v.Distribution != want {
				t.Fatalf("distribution %q, want %q", v.Distribution, want)
			}
		})
	}
}

func TestRegisterIdempotentAndReadonly(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			loc := fsRepo(t, e, "it-reg") // created
			spec := engine.RepositorySpec{Name: "it-reg", Type: "fs", Settings: map[string]any{"location": loc}, Verify: true}
			r, err := e.Ops.RegisterRepository(ctx(t), spec)
			if err != nil || r.Status != "unchanged" || !r.Verified {
				t.Fatalf("re-register: %+v %v", r, err)
			}
			spec.Settings["compress"] = true
			if r, err = e.Ops.RegisterRepository(ctx(t), spec); err != nil || r.Status != "updated" {
				t.Fatalf("update: %+v %v", r, err)
			}
			ro := engine.RepositorySpec{Name: "it-reg-ro", Type: "fs", Settings: map[string]any{"location": loc, "readonly": true}}
			if r, err = e.Ops.RegisterRepository(ctx(t), ro); err != nil || r.Status != "created" {
				t.Fatalf("readonly: %+v %v", r, err)
			}
			t.Cleanup(func() { deleteRepo(t, e, "it-reg-ro") })
			m := mustRaw(t, e, "GET", "/_snapshot/it-reg-ro", "")
			settings := m["it-reg-ro"].(map[string]any)["settings"].(map[string]any)
			if settings["readonly"] != "true" {
				t.Fatalf("readonly not set on engine: %v", settings)
			}
			// Turning readonly off, or re-pointing the repository, needs replace.
			writable := engine.RepositorySpec{Name: "it-reg-ro", Type: "fs", Settings: map[string]any{"location": loc}}
			if _, err := e.Ops.RegisterRepository(ctx(t), writable); !errors.Is(err, failure.ErrRepositoryConflict) || typeName(failure.Classify(err)) != "ValidationError" {
				t.Fatalf("readonly turned off silently: %v", err)
			}
			moved := engine.RepositorySpec{Name: "it-reg", Type: "fs", Settings: map[string]any{"location": loc + "-elsewhere"}}
			if _, err := e.Ops.RegisterRepository(ctx(t), moved); !errors.Is(err, failure.ErrRepositoryConflict) || !strings.Contains(err.Error(), "location") {
				t.Fatalf("repository re-pointed silently: %v", err)
			}
			if m := mustRaw(t, e, "GET", "/_snapshot/it-reg-ro", ""); m["it-reg-ro"].(map[string]any)["settings"].(map[string]any)["readonly"] != "true" {
				t.Fatal("a refused registration changed the repository")
			}
			// replace re-points a repository, but never makes it a second
			// writer on a location another repository writes (issue 10).
			writable.Replace = true
			if _, err := e.Ops.RegisterRepository(ctx(t), writable); !errors.Is(err, failure.ErrRepositoryConflict) || !strings.Contains(err.Error(), "already used by repository it-reg") {
				t.Fatalf("replace made a second writer: %v", err)
			}
			writable.Settings["location"] = loc + "-own"
			if r, err := e.Ops.RegisterRepository(ctx(t), writable); err != nil || r.Status != "updated" {
				t.Fatalf("replace: %+v %v", r, err)
			}
			mustRaw(t, e, "PUT", "/_snapshot/it-reg-ro", fmt.Sprintf(`{"type":"fs","settings":{"location":%q,"readonly":true}}`, loc))
			// A snapshot into the readonly repository is refused by the engine.
			_, err = e.Ops.CreateSnapshot(ctx(t), "it-reg-ro", "nope", engine.CreateOptions{})
			if err == nil {
				t.Fatal("snapshot into a readonly repository succeeded")
			}
		})
	}
}

func TestSnapshotSomeAndAllIdempotent(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "sa-*")
			t.Cleanup(func() { deleteIndices(t, e, "sa-*") })
			seed(t, e, "sa-logs-2026.11.22", 30)
			seed(t, e, "sa-logs-2026.11.23", 20)
			seed(t, e, "sa-metrics", 5)
			fsRepo(t, e, "it-sa")

			some, err := e.Ops.CreateSnapshot(ctx(t), "it-sa", "some", engine.CreateOptions{Indices: []string{"sa-logs-*"}})
			if err != nil || some.Existing {
				t.Fatalf("create: %+v %v", some, err)
			}
			p := waitSnapshot(t, e, "it-sa", "some")
			if p.State != model.StateSuccess {
				t.Fatalf("state %s", p.State)
			}
			slices.Sort(p.Indices)
			if !slices.Equal(p.Indices, []string{"sa-logs-2026.11.22", "sa-logs-2026.11.23"}) {
				t.Fatalf("indices %v", p.Indices)
			}
			if p.TotalBytes <= 0 || p.ShardsTotal != 2 || p.ShardsDone != 2 {
				t.Fatalf("progress %+v", p)
			}
			again, err := e.Ops.CreateSnapshot(ctx(t), "it-sa", "some", engine.CreateOptions{Indices: []string{"sa-logs-*"}})
			if err != nil || !again.Existing || again.Snapshot.UUID != some.Snapshot.UUID && some.Snapshot.UUID != "" {
				t.Fatalf("rerun should return the existing snapshot: %+v %v", again, err)
			}
			all, err := e.Ops.CreateSnapshot(ctx(t), "it-sa", "all", engine.CreateOptions{WaitForCompletion: true, Metadata: map[string]any{"by": "it"}})
			if err != nil || all.Snapshot.State != model.StateSuccess {
				t.Fatalf("all: %+v %v", all, err)
			}
			for _, want := range []string{"sa-logs-2026.11.22", "sa-logs-2026.11.23", "sa-metrics"} {
				if !slices.Contains(all.Snapshot.Indices, want) {
					t.Fatalf("snapshot of all lacks %s: %v", want, all.Snapshot.Indices)
				}
			}
			list, err := e.Ops.ListSnapshots(ctx(t), "it-sa", "by")
			if err != nil || len(list) != 2 || list[1].Metadata["by"] != "it" {
				t.Fatalf("list: %+v %v", list, err)
			}
			brief, err := e.Ops.ListSnapshots(ctx(t), "it-sa")
			if err != nil || len(brief) != 2 || brief[1].Metadata != nil {
				t.Fatalf("list without metadata keys: %+v %v", brief, err)
			}
			if err := e.Ops.DeleteSnapshots(ctx(t), "it-sa", []string{"some", "all"}); err != nil {
				t.Fatal(err)
			}
			if list, _ = e.Ops.ListSnapshots(ctx(t), "it-sa"); len(list) != 0 {
				t.Fatalf("after batch delete: %v", list)
			}
		})
	}
}

// Local date-math resolution gives the same name the engine gives, and a
// date-math name sent as such is escaped correctly on the wire.
func TestDateMathNames(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			fsRepo(t, e, "it-dm")
			before := time.Now()
			local, err := snapshot.ResolveName("snapshot", "<dm-{now/d}>", before)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Ops.CreateSnapshot(ctx(t), "it-dm", "<dm-{now/d}>", engine.CreateOptions{Indices: []string{"nothing-*"}, IgnoreUnavailable: true, WaitForCompletion: true}); err != nil {
				t.Fatalf("engine-side date math: %v", err)
			}
			after, _ := snapshot.ResolveName("snapshot", "<dm-{now/d}>", time.Now())
			got, err := e.Ops.GetSnapshot(ctx(t), "it-dm", local)
			if err != nil && after != local { // the day changed during the request
				got, err = e.Ops.GetSnapshot(ctx(t), "it-dm", after)
				local = after
			}
			if err != nil || got.Name != local {
				t.Fatalf("engine resolved to a different name than %s: %+v %v", local, got, err)
			}
			// The template form without angle brackets, resolved locally with a zone.
			name, err := snapshot.ResolveName("snapshot", "tz-{now/d{yyyy.MM.dd|+09:00}}", time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC))
			if err != nil || name != "tz-2026.11.24" {
				t.Fatalf("tz name %q %v", name, err)
			}
			if _, err := e.Ops.CreateSnapshot(ctx(t), "it-dm", "<tz-{now/d{yyyy.MM.dd|+09:00}}>", engine.CreateOptions{Indices: []string{"nothing-*"}, IgnoreUnavailable: true, WaitForCompletion: true}); err != nil {
				t.Fatalf("engine-side date math with zone: %v", err)
			}
			want, _ := snapshot.ResolveName("snapshot", "tz-{now/d{yyyy.MM.dd|+09:00}}", time.Now())
			if _, err := e.Ops.GetSnapshot(ctx(t), "it-dm", want); err != nil {
				t.Fatalf("engine and essnap disagree on %s: %v", want, err)
			}
		})
	}
}

func TestRestoreWithAndWithoutRename(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "rs-*")
			t.Cleanup(func() { deleteIndices(t, e, "rs-*") })
			seed(t, e, "rs-logs-a", 40)
			seed(t, e, "rs-logs-b", 10)
			fsRepo(t, e, "it-rs")
			if _, err := e.Ops.CreateSnapshot(ctx(t), "it-rs", "s1", engine.CreateOptions{Indices: []string{"rs-*"}, WaitForCompletion: true}); err != nil {
				t.Fatal(err)
			}

			// With rename (suffix), originals still present.
			rn, err := snapshot.Rename{Suffix: "-restored"}.Compile()
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Ops.Restore(ctx(t), "it-rs", "latest", engine.RestoreOptions{Indices: []string{"rs-logs-*"}, Rename: rn, IndexSettings: map[string]any{"index.number_of_replicas": 0}})
			if err != nil || !res.Accepted || res.Snapshot != "s1" {
				t.Fatalf("restore renamed: %+v %v", res, err)
			}
			prog := waitRestore(t, e, res.Targets())
			if prog.Docs != 50 || prog.Shards != 2 {
				t.Fatalf("progress %+v", prog)
			}
			if count(t, e, "rs-logs-a-restored") != 40 || count(t, e, "rs-logs-b-restored") != 10 {
				t.Fatal("renamed counts differ")
			}

			// With a regex rename.
			rn2, err := snapshot.Rename{Pattern: "rs-(.+)", Replacement: "rs-copy-$1"}.Compile()
			if err != nil {
				t.Fatal(err)
			}
			res, err = e.Ops.Restore(ctx(t), "it-rs", "s1", engine.RestoreOptions{Indices: []string{"rs-logs-a"}, Rename: rn2})
			if err != nil || res.Indices[0].Target != "rs-copy-logs-a" {
				t.Fatalf("regex rename: %+v %v", res, err)
			}
			waitRestore(t, e, res.Targets())
			if count(t, e, "rs-copy-logs-a") != 40 {
				t.Fatal("regex-renamed count differs")
			}

			// Without rename, after the originals are gone.
			deleteIndices(t, e, "rs-logs-a")
			deleteIndices(t, e, "rs-logs-b")
			res, err = e.Ops.Restore(ctx(t), "it-rs", "s1", engine.RestoreOptions{})
			if err != nil || len(res.Indices) != 2 || res.Indices[0].Target != "rs-logs-a" {
				t.Fatalf("plain restore: %+v %v", res, err)
			}
			waitRestore(t, e, res.Targets())
			if count(t, e, "rs-logs-a") != 40 || count(t, e, "rs-logs-b") != 10 {
				t.Fatal("restored counts differ")
			}
		})
	}
}

func TestRestoreCollisionRefusedAndNothingChanged(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "co-*")
			t.Cleanup(func() { deleteIndices(t, e, "co-*") })
			seed(t, e, "co-a", 3)
			seed(t, e, "co-b", 3)
			seed(t, e, "co-c", 3)
			fsRepo(t, e, "it-co")
			if _, err := e.Ops.CreateSnapshot(ctx(t), "it-co", "s1", engine.CreateOptions{Indices: []string{"co-*"}, WaitForCompletion: true}); err != nil {
				t.Fatal(err)
			}
			deleteIndices(t, e, "co-c")
			mustRaw(t, e, "POST", "/co-b/_close", "")
			seed(t, e, "co-a-restored", 1)
			before, _ := e.Ops.Indices(ctx(t), "*")

			_, err := e.Ops.Restore(ctx(t), "it-co", "s1", engine.RestoreOptions{})
			var ce *snapshot.CollisionError
			if !errors.As(err, &ce) || len(ce.Collisions) != 2 {
				t.Fatalf("want one error naming co-a and co-b, got %v", err)
			}
			if !strings.Contains(err.Error(), "co-a") || !strings.Contains(err.Error(), "co-b") || !strings.Contains(err.Error(), "close") {
				t.Fatalf("message: %v", err)
			}
			if _, ok := failure.Classify(err).(*failure.IndexConflictError); !ok {
				t.Fatalf("not typed IndexConflictError: %T", failure.Classify(err))
			}
			rn, _ := snapshot.Rename{Suffix: "-restored"}.Compile()
			_, err = e.Ops.Restore(ctx(t), "it-co", "s1", engine.RestoreOptions{Rename: rn})
			if !errors.As(err, &ce) || len(ce.Collisions) != 1 || ce.Collisions[0].Index != "co-a-restored" {
				t.Fatalf("renamed collision: %v", err)
			}
			after, _ := e.Ops.Indices(ctx(t), "*")
			if len(after) != len(before) || exists(t, e, "co-c") {
				t.Fatalf("a refused restore changed the domain: %d -> %d indices", len(before), len(after))
			}
			if count(t, e, "co-a-restored") != 1 {
				t.Fatal("existing index was touched")
			}
			// The engine's own refusal, for a restore sent without the pre-flight, is typed too.
			_, m := raw(t, e, "POST", "/_snapshot/it-co/s1/_restore", `{"indices":"co-a"}`)
			aerr := esclient.ParseError("POST", "/_snapshot/it-co/s1/_restore", 500, mustJSON(m))
			if _, ok := failure.Classify(aerr).(*failure.IndexConflictError); !ok {
				t.Fatalf("engine collision %v classified %T", aerr, failure.Classify(aerr))
			}
		})
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// The engine really rejects "*" and really mangles names with ".*"; essnap
// refuses both before sending.
func TestRenameValidationMatchesEngine(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "rv-*")
			deleteIndices(t, e, "r_*")
			t.Cleanup(func() { deleteIndices(t, e, "rv-*"); deleteIndices(t, e, "r_*") })
			seed(t, e, "rv-logs", 2)
			fsRepo(t, e, "it-rv")
			if _, err := e.Ops.CreateSnapshot(ctx(t), "it-rv", "s1", engine.CreateOptions{Indices: []string{"rv-logs"}, WaitForCompletion: true}); err != nil {
				t.Fatal(err)
			}
			st, m := raw(t, e, "POST", "/_snapshot/it-rv/s1/_restore", `{"indices":"rv-logs","rename_pattern":"*","rename_replacement":"$1-restored"}`)
			if st < 400 || !strings.Contains(string(mustJSON(m)), "Dangling meta character") {
				t.Fatalf("engine accepted \"*\": %d %v", st, m)
			}
			if _, err := (snapshot.Rename{Pattern: "*", Replacement: "$1-restored"}).Compile(); err == nil || !strings.Contains(err.Error(), "Dangling meta character") {
				t.Fatalf("essnap accepted \"*\": %v", err)
			}
			mustRaw(t, e, "POST", "/_snapshot/it-rv/s1/_restore?wait_for_completion=true", `{"indices":"rv-logs","rename_pattern":".*","rename_replacement":"r_$0"}`)
			if !exists(t, e, "r_rv-logsr_") {
				t.Fatal("engine did not produce r_rv-logsr_ for \".*\"; essnap's refusal reason would be wrong")
			}
			if _, err := (snapshot.Rename{Pattern: ".*", Replacement: "r_$0"}).Compile(); err == nil || !strings.Contains(err.Error(), "empty string") {
				t.Fatalf("essnap accepted \".*\": %v", err)
			}
			// And essnap's own mapping equals the engine's for the working form.
			rn, _ := snapshot.Rename{Pattern: "(.+)", Replacement: "$1-restored"}.Compile()
			res, err := e.Ops.Restore(ctx(t), "it-rv", "s1", engine.RestoreOptions{Rename: rn})
			if err != nil {
				t.Fatal(err)
			}
			waitRestore(t, e, res.Targets())
			if !exists(t, e, "rv-logs-restored") || res.Indices[0].Target != "rv-logs-restored" {
				t.Fatalf("mapping %v", res.Indices)
			}
			// A rename producing an invalid index name is refused locally.
			bad, _ := snapshot.Rename{Pattern: "(.+)", Replacement: "X$1"}.Compile()
			if _, err := e.Ops.Restore(ctx(t), "it-rv", "s1", engine.RestoreOptions{Rename: bad}); err == nil || !strings.Contains(err.Error(), "lowercase") {
				t.Fatalf("invalid target name accepted: %v", err)
			}
		})
	}
}

// A snapshot of an index whose primary cannot be allocated ends PARTIAL;
// _status calls it SUCCESS, essnap reports PARTIAL.
func TestPartialReportedTruthfully(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "pa-*")
			t.Cleanup(func() { deleteIndices(t, e, "pa-*") })
			seed(t, e, "pa-ok", 5)
			mustRaw(t, e, "PUT", "/pa-red?wait_for_active_shards=0", `{"settings":{"number_of_shards":1,"number_of_replicas":0,"index.routing.allocation.require._name":"no-such-node"}}`)
			fsRepo(t, e, "it-pa")
			res, err := e.Ops.CreateSnapshot(ctx(t), "it-pa", "p1", engine.CreateOptions{Indices: []string{"pa-*"}, Partial: true, WaitForCompletion: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Snapshot.State != model.StatePartial || res.Snapshot.Shards.Failed != 1 {
				t.Fatalf("want PARTIAL with 1 failed shard, got %+v", res.Snapshot)
			}
			m := mustRaw(t, e, "GET", "/_snapshot/it-pa/p1/_status", "")
			raw := m["snapshots"].([]any)[0].(map[string]any)["state"]
			t.Logf("_status says %v for a PARTIAL snapshot", raw)
			p, err := e.Ops.Status(ctx(t), "it-pa", "p1")
			if err != nil || p.State != model.StatePartial {
				t.Fatalf("Status: %+v %v", p, err)
			}
			// Without partial the engine refuses the snapshot outright: nothing half-done.
			_, err = e.Ops.CreateSnapshot(ctx(t), "it-pa", "p2", engine.CreateOptions{Indices: []string{"pa-*"}, WaitForCompletion: true})
			if err == nil {
				info, _ := e.Ops.GetSnapshot(ctx(t), "it-pa", "p2")
				if info.State != model.StateFailed && info.State != model.StatePartial {
					t.Fatalf("unavailable primary without partial: %+v", info)
				}
			}
		})
	}
}

func TestEngineErrorsAreTyped(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			fsRepo(t, e, "it-er")
			cases := []struct {
				name string
				run  func() error
				want string
			}{
				{"repository missing", func() error { _, err := e.Ops.GetSnapshot(ctx(t), "no-such-repo", "x"); return err }, "RepositoryMissingError"},
				{"snapshot missing", func() error { _, err := e.Ops.GetSnapshot(ctx(t), "it-er", "no-such-snap"); return err }, "SnapshotMissingError"},
				{"restore of missing snapshot", func() error {
					_, err := e.Ops.Restore(ctx(t), "it-er", "no-such-snap", engine.RestoreOptions{})
					return err
				}, "SnapshotMissingError"},
				{"latest of an empty repository", func() error {
					_, err := e.Ops.Restore(ctx(t), "it-er", "latest", engine.RestoreOptions{})
					return err
				}, "SnapshotMissingError"},
				{"invalid name sent to the engine", func() error {
					_, err := e.Ops.CreateSnapshot(ctx(t), "it-er", "Upper Case", engine.CreateOptions{})
					return err
				}, "ValidationError"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					err := tc.run()
					if err == nil {
						t.Fatal("no error")
					}
					got := failure.Classify(err)
					if name := typeName(got); name != tc.want {
						t.Fatalf("%v classified as %s, want %s", err, name, tc.want)
					}
					var ae *esclient.APIError
					if errors.As(err, &ae) && (ae.Status == 0 || ae.Type == "") {
						t.Fatalf("APIError without status/type: %+v", ae)
					}
				})
			}
		})
	}
}
