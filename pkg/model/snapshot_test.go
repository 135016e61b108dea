package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func at(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Newest is the one "newest SUCCESS" rule: restore's latest, retention's
// guard and its age metric all go through it.
func TestNewest(t *testing.T) {
	snaps := []Snapshot{
		{Name: "nightly-2026.11.21", State: StateSuccess, Start: at(100)},
		{Name: "nightly-2026.11.24", State: StateInProgress, Start: at(400)},
		{Name: "nightly-2026.11.23", State: StatePartial, Start: at(300)},
		{Name: "nightly-2026.11.22", State: StateSuccess, Start: at(200)},
		{Name: "weekly-2026.11.23", State: StateSuccess, Start: at(250)},
		{Name: "nightly-2026.11.25", State: StateFailed, Start: at(500)},
		{Name: "manual-x", State: StateIncompatible, Start: at(600)},
	}
	prefix := func(p string) func(Snapshot) bool {
		return func(s Snapshot) bool { return Succeeded(s) && strings.HasPrefix(s.Name, p) }
	}
	cases := []struct {
		name  string
		snaps []Snapshot
		keep  func(Snapshot) bool
		want  string
		found bool
	}{
		{name: "newest SUCCESS of any name", snaps: snaps, keep: Succeeded, want: "weekly-2026.11.23", found: true},
		{name: "newest of any state", snaps: snaps, want: "manual-x", found: true},
		{name: "prefix filter", snaps: snaps, keep: prefix("nightly-"), want: "nightly-2026.11.22", found: true},
		{name: "prefix without SUCCESS", snaps: snaps, keep: prefix("manual-"), found: false},
		{name: "order of the list does not matter", snaps: []Snapshot{snaps[4], snaps[0], snaps[3]}, keep: Succeeded, want: "weekly-2026.11.23", found: true},
		{name: "equal starts: the later in the list", snaps: []Snapshot{{Name: "b", State: StateSuccess, Start: at(1)}, {Name: "a", State: StateSuccess, Start: at(1)}}, keep: Succeeded, want: "a", found: true},
		{name: "equal starts reversed", snaps: []Snapshot{{Name: "a", State: StateSuccess, Start: at(1)}, {Name: "b", State: StateSuccess, Start: at(1)}}, keep: Succeeded, want: "b", found: true},
		{name: "only PARTIAL, FAILED and IN_PROGRESS", snaps: []Snapshot{snaps[1], snaps[2], snaps[5]}, keep: Succeeded, found: false},
		{name: "empty", snaps: nil, keep: Succeeded, found: false},
		{name: "lowercase state is not SUCCESS", snaps: []Snapshot{{Name: "x", State: "success", Start: at(1)}}, keep: Succeeded, found: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Newest(c.snaps, c.keep)
			if ok != c.found || (ok && got.Name != c.want) {
				t.Fatalf("Newest = %q, %v; want %q, %v", got.Name, ok, c.want, c.found)
			}
		})
	}
}

func TestNewestTied(t *testing.T) {
	snaps := []Snapshot{
		{Name: "a", State: StateSuccess, Start: at(1)},
		{Name: "nightly-2", State: StatePartial, Start: at(2)},
		{Name: "nightly-old", State: StateSuccess, Start: at(2)},
	}
	got := NewestTied(snaps, nil)
	if len(got) != 2 || got[0].Name != "nightly-2" || got[1].Name != "nightly-old" {
		t.Fatalf("%+v", got)
	}
	if NewestTied(nil, nil) != nil {
		t.Fatal("empty")
	}
}

// Every engine's real answer to the narrowed listing (recorded by
// test/integration TestNarrowedListingFixtures) decodes into the model with
// the fields retention reads.
func TestDecodeRecordedListings(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "listing-*.json"))
	if len(files) < 4 {
		t.Fatalf("found %d recorded listings, want one per engine (4)", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			snaps, err := DecodeListing(r)
			if err != nil {
				t.Fatal(err)
			}
			if len(snaps) != 2 {
				t.Fatalf("%d snapshots, want 2", len(snaps))
			}
			for _, s := range snaps {
				if s.Name == "" || s.UUID == "" || s.State != StateSuccess || s.Start.IsZero() || s.End.IsZero() || s.Shards.Total == 0 || s.Metadata[PolicyMetadataKey] != "nightly" {
					t.Errorf("incomplete: %+v", s)
				}
				if len(s.Indices) != 0 || s.Metadata[OriginMetadataKey] != nil {
					t.Errorf("the engine sent more than the filter asked for: %+v", s)
				}
			}
			if snaps[1].Metadata[DefaultPinKey] != true {
				t.Errorf("pin key not kept: %+v", snaps[1].Metadata)
			}
		})
	}
}

func TestDecodeListingEdges(t *testing.T) {
	cases := []struct {
		name, body string
		n          int
		err        string
	}{
		{"narrowed empty repository", `{}`, 0, ""},
		{"verbose empty repository", `{"snapshots":[]}`, 0, ""},
		{"error body", `{"error":{"type":"repository_missing_exception","reason":"[r] missing"},"status":404}`, 0, "the answer is an error"},
		{"not JSON", `<html>`, 0, "decode snapshot listing"},
		{"verbose=false entry", `{"snapshots":[{"snapshot":"s","uuid":"u","indices":["a"],"data_streams":[],"state":"SUCCESS"}]}`, 1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeListing(strings.NewReader(c.body))
			if (err != nil) != (c.err != "") || (err != nil && !strings.Contains(err.Error(), c.err)) || len(got) != c.n {
				t.Fatalf("got %d, %v; want %d, %q", len(got), err, c.n, c.err)
			}
		})
	}
}

func TestSnapshotJSONRoundTrip(t *testing.T) {
	in := Snapshot{Name: "s", UUID: "u", State: StateSuccess, Version: "2.19.1", Indices: []string{"a"}, Start: at(1000), End: at(3500),
		Duration: 2500 * time.Millisecond, Shards: Shards{Total: 2, Successful: 2}, Metadata: map[string]any{"k": "v"}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"snapshot":"s","uuid":"u","state":"SUCCESS","version":"2.19.1","indices":["a"],"start_time_in_millis":1000,"end_time_in_millis":3500,"duration_in_millis":2500,"shards":{"total":2,"failed":0,"successful":2},"metadata":{"k":"v"}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Name != in.Name || !back.Start.Equal(in.Start) || back.Duration != in.Duration || back.Shards != in.Shards {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestListingFilter(t *testing.T) {
	got := ListingFilter(PolicyMetadataKey, DefaultPinKey, "bad,key", "")
	want := "snapshots.snapshot,snapshots.uuid,snapshots.state,snapshots.start_time_in_millis,snapshots.end_time_in_millis,snapshots.shards.total,snapshots.metadata.essnap_policy,snapshots.metadata.essnap_pinned"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
