//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/migrate"
)

// The engine matrix scripts/test.sh starts; tests that need one engine in
// particular name it, and fail when it is absent.
const (
	es710 = "elasticsearch-7.10"
	os13  = "opensearch-1.3"
	os219 = "opensearch-2.19"
	os35  = "opensearch-3.5"
)

func engineNamed(t *testing.T, name string) peer {
	t.Helper()
	for _, e := range engines(t) {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("engine %s is not in ESSNAP_TEST_ENGINES; scripts/test.sh starts the whole matrix", name)
	return peer{}
}

// Each engine writes its own version into index.version.created, and
// reports as minimum_index_compatibility_version what
// migrate.MinIndexCompatibility computes for it: the decision rules are
// checked against every real engine, not only against the field notes.
func TestCreatedVersionAndMinIndexCompatibility(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "vc-*")
			t.Cleanup(func() { deleteIndices(t, e, "vc-*") })
			seed(t, e, "vc-a", 1)
			v, err := e.Ops.EngineVersion(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			created, err := e.Ops.CreatedVersions(ctx(t), []string{"vc-a"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := migrate.DecodeVersionID(created["vc-a"])
			if err != nil || got != (migrate.Engine{Distribution: v.Distribution, Number: v.Number}) {
				t.Fatalf("index.version.created %d decodes to %v (%v); the engine is %v", created["vc-a"], got, err, v)
			}
			if _, err := e.Ops.CreatedVersions(ctx(t), []string{"vc-a", "vc-missing"}); err == nil {
				t.Fatal("a missing index must be an error")
			}
			root := mustRaw(t, e, "GET", "/", "")
			reported := root["version"].(map[string]any)["minimum_index_compatibility_version"].(string)
			want, err := migrate.ParseMinIndexCompatibility(v.Distribution, reported)
			if err != nil {
				t.Fatal(err)
			}
			computed, err := migrate.MinIndexCompatibility(migrate.Engine{Distribution: v.Distribution, Number: v.Number})
			if err != nil || computed != want {
				t.Fatalf("MinIndexCompatibility(%v) = %v (%v); the engine reports %q = %v", v, computed, err, reported, want)
			}
			t.Logf("%v: index.version.created %d, minimum_index_compatibility_version %s", v, created["vc-a"], reported)
		})
	}
}

// OpenSearch 1.x/2.x in compatibility mode answer GET / as Elasticsearch
// 7.10.2; essnap still reads the real engine. OpenSearch 3.x removed the
// setting (the engine refuses it), and Elasticsearch never had it.
func TestEngineVersionInCompatibilityMode(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			want, err := e.Ops.EngineVersion(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			st, body := raw(t, e, "PUT", "/_cluster/settings", `{"persistent":{"compatibility.override_main_response_version":true}}`)
			t.Cleanup(func() {
				raw(t, e, "PUT", "/_cluster/settings", `{"persistent":{"compatibility.override_main_response_version":null}}`)
			})
			switch {
			case e.Name == os35 || e.Name == es710:
				if st != 400 || !strings.Contains(fmt.Sprint(body), "not recognized") {
					t.Fatalf("%s should refuse the compatibility-mode setting: %d %v", e.Name, st, body)
				}
			case st != 200:
				t.Fatalf("%s refused the compatibility-mode setting: %d %v", e.Name, st, body)
			default:
				root := mustRaw(t, e, "GET", "/", "")
				if n := root["version"].(map[string]any)["number"]; n != "7.10.2" {
					t.Fatalf("compatibility mode should report 7.10.2, got %v", n)
				}
			}
			got, err := e.Ops.EngineVersion(ctx(t))
			if err != nil || got != want {
				t.Fatalf("EngineVersion = %+v (%v), want %+v", got, err, want)
			}
		})
	}
}

// trap builds on OpenSearch 2.19 what an in-place upgrade from
// Elasticsearch 7.10 leaves: an index Elasticsearch created (restored from
// its snapshot) beside one 2.19 created. It returns the shared repository
// location.
func trap(t *testing.T, es, src peer, prefix string) string {
	t.Helper()
	deleteIndices(t, es, prefix+"*")
	deleteIndices(t, src, prefix+"*")
	t.Cleanup(func() { deleteIndices(t, es, prefix+"*"); deleteIndices(t, src, prefix+"*") })
	seed(t, es, prefix+"old", 5)
	loc := filepath.Join(repoRoot(t), "it", "trap", fmt.Sprint(time.Now().UnixNano()))
	mustRaw(t, es, "PUT", "/_snapshot/it-trap", fmt.Sprintf(`{"type":"fs","settings":{"location":%q}}`, loc))
	mustRaw(t, src, "PUT", "/_snapshot/it-trap", fmt.Sprintf(`{"type":"fs","settings":{"location":%q,"readonly":true}}`, loc))
	t.Cleanup(func() {
		deleteRepo(t, es, "it-trap")
		deleteRepo(t, src, "it-trap")
	})
	mustRaw(t, es, "PUT", "/_snapshot/it-trap/s?wait_for_completion=true", fmt.Sprintf(`{"indices":%q}`, prefix+"old"))
	mustRaw(t, src, "POST", "/_snapshot/it-trap/s/_restore?wait_for_completion=true", fmt.Sprintf(`{"indices":%q}`, prefix+"old"))
	seed(t, src, prefix+"new", 3)
	return loc
}

// The pre-flight decides per index by the version that created it: on an
// OpenSearch 2.19 source, the index Elasticsearch 7.10 created goes by
// reindex to OpenSearch 3.5, the one 2.19 created by snapshot; method
// reindex sends both by reindex.
func TestPreflightDecidesPerIndex(t *testing.T) {
	es, src, tgt := engineNamed(t, es710), engineNamed(t, os219), engineNamed(t, os35)
	trap(t, es, src, "pf-trap-")
	d := deps(src, nil, time.Now())
	ev := fmt.Sprintf(`{"source":{"endpoint":%q,"unsigned":true},"target":{"endpoint":%q,"unsigned":true},"indices":["pf-trap-*"],"strategy":"pull"}`, src.URL, tgt.URL)
	res, err := (handler.Preflight{Deps: d}).Invoke(context.Background(), json.RawMessage(ev))
	if err != nil {
		t.Fatalf("preflight: %T %v", err, err)
	}
	if res.Methods != (handler.MethodCounts{Snapshot: 1, Reindex: 1}) || len(res.SnapshotIndices) != 1 || res.SnapshotIndices[0] != "pf-trap-new" ||
		res.Reindex == nil || len(res.Reindex.Items) != 1 || res.Reindex.Items[0].Source != "pf-trap-old" || res.Reindex.Remote.Host != src.URL {
		t.Fatalf("methods %+v, snapshot %v, reindex %+v", res.Methods, res.SnapshotIndices, res.Reindex)
	}
	forced, err := (handler.Preflight{Deps: d}).Invoke(context.Background(), json.RawMessage(strings.Replace(ev, `"strategy"`, `"method":"reindex","strategy"`, 1)))
	if err != nil || forced.Methods != (handler.MethodCounts{Reindex: 2}) || forced.Snapshot != "" {
		t.Fatalf("method reindex: %+v %q %v", forced.Methods, forced.Snapshot, err)
	}
	got := map[string]migrate.IndexCompat{}
	for _, c := range res.Compatibility {
		got[c.Index] = c
	}
	if c := got["pf-trap-old"]; c.Verdict != migrate.Reindex || c.Method != migrate.Reindex || c.CreatedBy != (migrate.Engine{Distribution: "elasticsearch", Number: "7.10.2"}) || c.CreatedVersionID != 7100299 {
		t.Fatalf("pf-trap-old: %+v", c)
	}
	if c := got["pf-trap-new"]; c.Verdict != migrate.Snapshot || c.CreatedBy != (migrate.Engine{Distribution: "opensearch", Number: "2.19.1"}) {
		t.Fatalf("pf-trap-new: %+v", c)
	}
	// The same source to OpenSearch 2.19's peer line: both by snapshot.
	ev = fmt.Sprintf(`{"source":{"endpoint":%q,"unsigned":true},"target":{"endpoint":%q,"unsigned":true},"indices":["pf-trap-*"],"strategy":"push"}`, es.URL, src.URL)
	res, err = (handler.Preflight{Deps: d}).Invoke(context.Background(), json.RawMessage(strings.Replace(ev, "pf-trap-*", "pf-trap-old", 1)))
	if err != nil || len(res.Compatibility) != 1 || res.Compatibility[0].Verdict != migrate.Snapshot {
		t.Fatalf("elasticsearch 7.10 to opensearch 2.19: %+v %v", res.Compatibility, err)
	}
}

// A standalone restore the engine refuses because an older engine created
// the index is a VersionMismatchError that names the index and says to
// reindex; nothing is restored. On OpenSearch 3.5: an index Elasticsearch
// created (the engine names no index: "Version id 7100299 must contain
// OpenSearch mask") and one OpenSearch 1.3 created ("cannot be upgraded").
func TestRestoreTooOldIsVersionMismatch(t *testing.T) {
	es, o219, o13, tgt := engineNamed(t, es710), engineNamed(t, os219), engineNamed(t, os13), engineNamed(t, os35)
	trap(t, es, o219, "rt-trap-")
	deleteIndices(t, o13, "rt-trap-*")
	deleteIndices(t, tgt, "rt-trap-*")
	t.Cleanup(func() { deleteIndices(t, o13, "rt-trap-*"); deleteIndices(t, tgt, "rt-trap-*") })
	seed(t, o13, "rt-trap-1x", 2)

	for _, c := range []struct {
		name    string
		src     peer
		indices string
		want    []string
	}{
		{"elasticsearch-created index via opensearch 2.19", o219, "rt-trap-old", []string{"created by elasticsearch 7.10.2", "rt-trap-old", "re-index"}},
		{"opensearch 1.3 index", o13, "rt-trap-1x", []string{"cannot read index rt-trap-1x", "created by version 1.3.1", "2.0.0 or later", "re-index it"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			loc := filepath.Join(repoRoot(t), "it", "too-old", fmt.Sprint(time.Now().UnixNano()))
			mustRaw(t, c.src, "PUT", "/_snapshot/it-old", fmt.Sprintf(`{"type":"fs","settings":{"location":%q}}`, loc))
			t.Cleanup(func() { deleteRepo(t, c.src, "it-old") })
			mustRaw(t, c.src, "PUT", "/_snapshot/it-old/s?wait_for_completion=true", fmt.Sprintf(`{"indices":%q}`, c.indices))
			env := map[string]string{"ESSNAP_REPOSITORY": "it-old"}
			mustRaw(t, tgt, "PUT", "/_snapshot/it-old", fmt.Sprintf(`{"type":"fs","settings":{"location":%q,"readonly":true}}`, loc))
			t.Cleanup(func() { deleteRepo(t, tgt, "it-old") })
			_, err := (handler.Restore{Deps: deps(tgt, env, time.Now())}).Invoke(context.Background(), json.RawMessage(`{"snapshot":"s"}`))
			if typeName(err) != "VersionMismatchError" {
				t.Fatalf("restore: %T %v", err, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			if exists(t, tgt, c.indices) {
				t.Fatal("the index was restored")
			}
		})
	}
}

// Verify sees a duplicate _id on the pull target: a poller replay that
// omits a document's custom routing writes a second copy into another shard
// (op_type create checks only the shard the routing points to), and the
// counts alone look fine. On every target engine, from the engine beside it.
func TestVerifyFindsDuplicateIDs(t *testing.T) {
	all := engines(t)
	for i, tgt := range all {
		src := all[(i+1)%len(all)]
		t.Run(src.Name+"-to-"+tgt.Name, func(t *testing.T) {
			deleteIndices(t, src, "vd-*")
			deleteIndices(t, tgt, "vd-*")
			t.Cleanup(func() { deleteIndices(t, src, "vd-*"); deleteIndices(t, tgt, "vd-*") })
			var bulk, replay strings.Builder
			for j := 0; j < 20; j++ {
				fmt.Fprintf(&bulk, "{\"index\":{\"_id\":\"d%d\",\"routing\":\"tenant-a\"}}\n{\"m\":%d}\n", j, j)
				fmt.Fprintf(&replay, "{\"create\":{\"_id\":\"d%d\"}}\n{\"m\":%d}\n", j, j)
			}
			for _, e := range []peer{src, tgt} {
				mustRaw(t, e, "PUT", "/vd-logs", `{"settings":{"number_of_shards":3,"number_of_replicas":0}}`)
				bulkNDJSON(t, e, "/vd-logs/_bulk?refresh=true", bulk.String())
			}
			// The replay without routing: op_type create accepts the ids whose
			// default shard differs from tenant-a's.
			bulkNDJSON(t, tgt, "/vd-logs/_bulk?refresh=true", replay.String())
			if n := count(t, tgt, "vd-logs"); n <= 20 {
				t.Fatalf("the replay created no second copy (%d documents); the test needs one", n)
			}
			ev := fmt.Sprintf(`{"source":{"endpoint":%q,"unsigned":true},"target":{"endpoint":%q,"unsigned":true},"strategy":"pull","indices":[{"source":"vd-logs","target":"vd-logs"}]}`, src.URL, tgt.URL)
			rep, err := (handler.Verify{Deps: deps(src, nil, time.Now())}).Invoke(context.Background(), json.RawMessage(ev))
			if typeName(err) != "VerificationError" || !strings.Contains(err.Error(), "_ids appear more than once on the target vd-logs") || !strings.Contains(err.Error(), "routing") {
				t.Fatalf("verify: %T %v", err, err)
			}
			if len(rep.Indices) != 1 || rep.Indices[0].DuplicateIDs == 0 || rep.Indices[0].MissingIDs != 0 {
				t.Fatalf("report: %+v", rep.Indices)
			}
		})
	}
}

func bulkNDJSON(t *testing.T, e peer, path, body string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("bulk %s: %v %v", path, err, res)
	}
	res.Body.Close()
}
