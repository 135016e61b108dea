//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/model"
)

// paths lists every key path of a JSON value ("snapshots[].shards.total"),
// so two answers can be compared by shape, whatever their values.
func paths(v any, prefix string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			paths(c, prefix+"."+k, out)
		}
	case []any:
		for _, c := range x {
			paths(c, prefix+"[]", out)
		}
	default:
		out[prefix] = true
	}
}

func shape(t *testing.T, b []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	m := map[string]bool{}
	paths(v, "", m)
	var out []string
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Every engine answers the narrowed listing (filter_path =
// model.ListingFilter) with exactly the fields retention reads; the answer
// of each engine is recorded under pkg/model/testdata (ESSNAP_RECORD=1
// rewrites them) and checked here against the live engine by shape, so the
// fixtures the unit tests and the 10k benchmark rely on stay true.
func TestNarrowedListingFixtures(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "nl-*")
			t.Cleanup(func() { deleteIndices(t, e, "nl-*") })
			seed(t, e, "nl-logs", 3)
			fsRepo(t, e, "it-nl")
			for i, meta := range []map[string]any{
				{model.PolicyMetadataKey: "nightly", model.OriginMetadataKey: map[string]any{"trigger": "schedule", "indices": []string{"nl-*"}}},
				{model.PolicyMetadataKey: "nightly", model.DefaultPinKey: true, "ticket": "OPS-1"},
			} {
				if _, err := e.Ops.CreateSnapshot(ctx(t), "it-nl", fmt.Sprintf("nightly-%d", i), engine.CreateOptions{Indices: []string{"nl-logs"}, Metadata: meta, WaitForCompletion: true}); err != nil {
					t.Fatal(err)
				}
			}
			q := url.Values{"filter_path": {model.ListingFilter(model.PolicyMetadataKey, model.DefaultPinKey)}}
			st, body := rawBytes(t, e, "GET", "/_snapshot/it-nl/_all?"+q.Encode())
			if st != 200 {
				t.Fatalf("%d %s", st, body)
			}
			file := filepath.Join("..", "..", "pkg", "model", "testdata", "listing-"+e.Name+".json")
			if os.Getenv("ESSNAP_RECORD") != "" {
				var pretty any
				_ = json.Unmarshal(body, &pretty)
				b, _ := json.MarshalIndent(pretty, "", "  ")
				if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			recorded, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("no recorded answer for %s (run with ESSNAP_RECORD=1): %v", e.Name, err)
			}
			if got, want := shape(t, body), shape(t, recorded); !slices.Equal(got, want) {
				t.Fatalf("%s answers the narrowed listing with\n%v\nthe recorded answer has\n%v", e.Name, got, want)
			}
			// And through the operation essnap uses.
			snaps, err := e.Ops.ListSnapshots(ctx(t), "it-nl", model.PolicyMetadataKey, model.DefaultPinKey)
			if err != nil || len(snaps) != 2 || snaps[0].Name != "nightly-0" || snaps[1].Metadata[model.DefaultPinKey] != true || snaps[0].Shards.Total != 1 {
				t.Fatalf("ListSnapshots: %+v %v", snaps, err)
			}
			// An empty repository answers {} to a narrowed listing.
			fsRepo(t, e, "it-nl-empty")
			if snaps, err := e.Ops.ListSnapshots(ctx(t), "it-nl-empty"); err != nil || len(snaps) != 0 {
				t.Fatalf("empty repository: %+v %v", snaps, err)
			}
		})
	}
}

// rawBytes sends a request and returns status and the body as sent.
func rawBytes(t *testing.T, e peer, method, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, e.URL+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}
