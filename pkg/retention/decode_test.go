package retention

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// refDecode is the reference: encoding/json into the engine's field layout.
// present reports whether a "snapshots" array was there.
func refDecode(data []byte) (snaps []Snapshot, present bool, err error) {
	var w struct {
		Snapshots []wireSnapshot `json:"snapshots"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, false, err
	}
	if w.Snapshots == nil {
		return nil, false, nil
	}
	out := make([]Snapshot, len(w.Snapshots))
	for i := range w.Snapshots {
		out[i] = w.Snapshots[i].snapshot()
	}
	return out, true, nil
}

func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

func TestDecodeListing(t *testing.T) {
	start := time.Date(2026, 11, 23, 1, 0, 0, 123e6, time.UTC)
	end := start.Add(95 * time.Second)
	tests := []struct {
		name    string
		in      string
		want    []Snapshot
		wantErr string
	}{
		{
			name: "verbose entry as ES 7.10 writes it",
			in: `{"snapshots":[{"snapshot":"essnap-nightly-2026.11.23","uuid":"dKb54xw67gvdRctLCxSlA1","version_id":7100299,"version":"7.10.2",
				"indices":["logs-2026.11.23",".kibana_1"],"data_streams":[],"include_global_state":false,
				"metadata":{"essnap_policy":"nightly","essnap_pinned":true,"attempt":2,"tags":["a",null],"run":{"id":"x"}},
				"state":"SUCCESS","start_time":"2026-11-23T01:00:00.123Z","start_time_in_millis":1795395600123,
				"end_time":"2026-11-23T01:01:35.123Z","end_time_in_millis":1795395695123,"duration_in_millis":95000,
				"failures":[],"shards":{"total":10,"failed":0,"successful":10}}]}`,
			want: []Snapshot{{
				Name: "essnap-nightly-2026.11.23", UUID: "dKb54xw67gvdRctLCxSlA1", State: StateSuccess,
				Start: ms(start), End: ms(end),
				Metadata: map[string]any{"essnap_policy": "nightly", "essnap_pinned": true, "attempt": 2.0,
					"tags": []any{"a", nil}, "run": map[string]any{"id": "x"}},
				Indices: []string{"logs-2026.11.23", ".kibana_1"},
			}},
		},
		{
			name: "verbose=false answer has no times, no metadata",
			in:   `{"snapshots":[{"snapshot":"s1","uuid":"u1","indices":["a"],"data_streams":[],"state":"SUCCESS"},{"snapshot":"s2","uuid":"u2","indices":[],"data_streams":[]}]}`,
			want: []Snapshot{
				{Name: "s1", UUID: "u1", State: StateSuccess, Indices: []string{"a"}},
				{Name: "s2", UUID: "u2", Indices: []string{}},
			},
		},
		{
			name: "in progress: end time zero",
			in: `{"snapshots":[{"snapshot":"s","uuid":"u","indices":[],"metadata":{"essnap_policy":"p"},"state":"IN_PROGRESS",
				"start_time":"2026-11-23T01:00:00.123Z","start_time_in_millis":1795395600123,"end_time":"1970-01-01T00:00:00.000Z",
				"end_time_in_millis":0,"duration_in_millis":0,"failures":[],"shards":{"total":0,"failed":0,"successful":0}}]}`,
			want: []Snapshot{{Name: "s", UUID: "u", State: StateInProgress, Start: ms(start),
				Metadata: map[string]any{"essnap_policy": "p"}, Indices: []string{}}},
		},
		{
			name: "escapes, unicode, whitespace and nulls",
			in: "{ \"snapshots\" : [ { \"snapshot\" : \"a\\u0062c\\ud83d\\ude00\\n\" ,\n\t\"metadata\" : { \"k\\\"\" : \"\\/\\\\\\b\\f\\r\\t\" , \"bad\" : \"\\udc00x\" } ," +
				" \"uuid\" : null , \"indices\" : null , \"start_time_in_millis\" : null , \"x\" : [ 1.5e3 , -0 , true , false , null , { } ] } ] }\r\n",
			want: []Snapshot{{Name: "abc\U0001F600\n", Metadata: map[string]any{"k\"": "/\\\b\f\r\t", "bad": "\uFFFDx"}}},
		},
		{
			name: "invalid UTF-8 is replaced like encoding/json",
			in:   "{\"snapshots\":[{\"snapshot\":\"a\xffb\xe2\x82\"}]}",
			want: []Snapshot{{Name: "a\uFFFDb\uFFFD\uFFFD"}},
		},
		{
			name: "keys match case-insensitively like encoding/json",
			in:   `{"Snapshots":[{"SNAPSHOT":"s","State":"FAILED"}]}`,
			want: []Snapshot{{Name: "s", State: StateFailed}},
		},
		{name: "empty listing", in: `{"snapshots":[]}`, want: []Snapshot{}},
		{name: "null entry decodes as zero", in: `{"snapshots":[null]}`, want: []Snapshot{{}}},
		{name: "other top-level fields are skipped", in: `{"total":1,"remaining":0,"snapshots":[{"snapshot":"s"}]}`, want: []Snapshot{{Name: "s"}}},

		{name: "error response", in: `{"error":{"type":"repository_missing_exception","reason":"[r] missing"},"status":404}`, wantErr: `no "snapshots" array`},
		{name: "snapshots null", in: `{"snapshots":null}`, wantErr: `no "snapshots" array`},
		{name: "empty body", in: ``, wantErr: "unexpected end of input"},
		{name: "not an object", in: `[]`, wantErr: "expected a JSON object"},
		{name: "truncated", in: `{"snapshots":[{"snapshot":"s"`, wantErr: "unexpected end of input"},
		{name: "truncated string", in: `{"snapshots":[{"snapshot":"s`, wantErr: "unexpected end of input"},
		{name: "trailing data", in: `{"snapshots":[]} {}`, wantErr: "unexpected data after the listing"},
		{name: "trailing comma", in: `{"snapshots":[{"snapshot":"s"},]}`, wantErr: "expected a snapshot object"},
		{name: "name not a string", in: `{"snapshots":[{"snapshot":5}]}`, wantErr: "snapshot: expected a string"},
		{name: "millis not an integer", in: `{"snapshots":[{"snapshot":"s","start_time_in_millis":1.5}]}`, wantErr: "not an integer"},
		{name: "millis as string", in: `{"snapshots":[{"snapshot":"s","start_time_in_millis":"1"}]}`, wantErr: "expected an integer"},
		{name: "metadata not an object", in: `{"snapshots":[{"snapshot":"s","metadata":[]}]}`, wantErr: "metadata: expected an object"},
		{name: "indices not strings", in: `{"snapshots":[{"snapshot":"s","indices":[1]}]}`, wantErr: "indices: expected a string"},
		{name: "bad number", in: `{"snapshots":[{"snapshot":"s","x":01}]}`, wantErr: "invalid number"},
		{name: "bad literal", in: `{"snapshots":[{"snapshot":"s","x":nul}]}`, wantErr: "invalid literal"},
		{name: "bad escape", in: `{"snapshots":[{"snapshot":"\x"}]}`, wantErr: "invalid escape"},
		{name: "control character", in: "{\"snapshots\":[{\"snapshot\":\"a\nb\"}]}", wantErr: "control character"},
		{name: "number out of range", in: `{"snapshots":[{"snapshot":"s","metadata":{"n":1e999}}]}`, wantErr: "out of range"},
		{name: "missing colon", in: `{"snapshots" []}`, wantErr: "expected ':'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeListing(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				if _, _, rerr := refDecode([]byte(tc.in)); rerr == nil && !strings.Contains(tc.wantErr, "snapshots") {
					t.Errorf("encoding/json accepts this input; DecodeListing should too")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
			ref, _, err := refDecode([]byte(tc.in))
			if err != nil {
				t.Fatalf("encoding/json rejects the input: %v", err)
			}
			if !reflect.DeepEqual(got, ref) {
				t.Errorf("differs from encoding/json:\n got %#v\n ref %#v", got, ref)
			}
		})
	}
}

// TestDecodeListingReaders feeds the same body through awkward readers: the
// decoder must not depend on how the body is chunked.
func TestDecodeListingReaders(t *testing.T) {
	data, _ := genListing(300, 7)
	// Escapes and multi-byte characters make strings straddle refills.
	data = bytes.Replace(data, []byte(`"taken_by":"essnap"`), []byte(`"taken_by":"\u00e9ssnap \ud83d\ude00 \"q\""`), -1)
	want, _, err := refDecode(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range []struct {
		name string
		r    io.Reader
	}{
		{"bytes", bytes.NewReader(data)},
		{"one byte", iotest.OneByteReader(bytes.NewReader(data))},
		{"half", iotest.HalfReader(bytes.NewReader(data))},
		{"data+EOF", iotest.DataErrReader(bytes.NewReader(data))},
	} {
		t.Run(rc.name, func(t *testing.T) {
			got, err := DecodeListing(rc.r)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatal("result differs from encoding/json")
			}
		})
	}
	t.Run("read error is reported", func(t *testing.T) {
		boom := errors.New("connection reset")
		r := io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(boom))
		_, err := DecodeListing(r)
		if !errors.Is(err, boom) {
			t.Fatalf("error = %v, want %v", err, boom)
		}
	})
	t.Run("timeout mid-body is reported", func(t *testing.T) {
		_, err := DecodeListing(iotest.TimeoutReader(bytes.NewReader(data)))
		if !errors.Is(err, iotest.ErrTimeout) {
			t.Fatalf("error = %v, want %v", err, iotest.ErrTimeout)
		}
	})
}

// TestDecodeListingMatchesEncodingJSON compares a large engine-shaped body.
func TestDecodeListingMatchesEncodingJSON(t *testing.T) {
	data, _ := genListing(2000, 3)
	want, _, err := refDecode(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeListing(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("entry %d:\n got %#v\nwant %#v", i, got[i], want[i])
			}
		}
		t.Fatal("results differ")
	}
}

// TestSnapshotJSONRoundTrip checks that a Snapshot encodes in the engine's
// shape and decodes back.
func TestSnapshotJSONRoundTrip(t *testing.T) {
	s := Snapshot{Name: "n", UUID: "u", State: StatePartial, Start: time.UnixMilli(1795395600123).UTC(),
		Metadata: map[string]any{"essnap_policy": "p"}, Indices: []string{"i"}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"snapshot":"n","uuid":"u","state":"PARTIAL","start_time_in_millis":1795395600123,"metadata":{"essnap_policy":"p"},"indices":["i"]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip: %#v", back)
	}
	listing, err := DecodeListing(strings.NewReader(`{"snapshots":[` + string(b) + `]}`))
	if err != nil || !reflect.DeepEqual(listing, []Snapshot{s}) {
		t.Fatalf("DecodeListing of the encoding: %#v, %v", listing, err)
	}
}

// dupSnapshotsKey reports whether the top level repeats "snapshots" (any
// case): encoding/json then merges entries field by field, which
// DecodeListing deliberately does not imitate.
func dupSnapshotsKey(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	n := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if k, ok := tok.(string); ok && strings.EqualFold(k, "snapshots") {
			n++
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return n > 1
}

// FuzzDecodeListing checks DecodeListing against encoding/json: whatever it
// accepts, encoding/json accepts with the same result, and every listing
// encoding/json reads with a "snapshots" array, it reads too.
func FuzzDecodeListing(f *testing.F) {
	f.Add([]byte(`{"snapshots":[{"snapshot":"a","uuid":"u","state":"SUCCESS","start_time_in_millis":1,"metadata":{"essnap_policy":"p","n":[1,{"x":null}]},"indices":["i","j"]}]}`))
	f.Add([]byte(`{"snapshots":[{"snapshot":"\u00e9\ud800\udc00\ud800x","indices":[],"data_streams":[],"failures":[{"a":-1.5e-3}]}],"x":true}`))
	f.Add([]byte("{\"SNAPSHOTS\":[{\"Snapshot\":\"a\xff\",\"metadata\":null,\"end_time_in_millis\":-5}]}"))
	f.Add([]byte(`{"snapshots":[null,{"snapshot":null,"state":"FAILED"}]} `))
	f.Add([]byte(`{"error":{"reason":"x"},"status":404}`))
	small, _ := genListing(3, 1)
	f.Add(small)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeListing(bytes.NewReader(data))
		// Also through a one-byte reader: chunking must not matter.
		got1, err1 := DecodeListing(iotest.OneByteReader(bytes.NewReader(data)))
		if (err == nil) != (err1 == nil) || !reflect.DeepEqual(got, got1) {
			t.Fatalf("chunked read differs: %v / %v", err, err1)
		}
		if dupSnapshotsKey(data) {
			return
		}
		ref, present, rerr := refDecode(data)
		if err == nil {
			if rerr != nil {
				t.Fatalf("DecodeListing accepted input encoding/json rejects (%v)", rerr)
			}
			if !reflect.DeepEqual(got, ref) {
				t.Fatalf("differs from encoding/json:\n got %#v\n ref %#v", got, ref)
			}
			return
		}
		if rerr == nil && present {
			t.Fatalf("DecodeListing rejected a listing encoding/json reads: %v", err)
		}
	})
}
