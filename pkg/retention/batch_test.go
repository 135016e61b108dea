package retention

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

func TestBatches(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name     string
		in       []string
		perReq   int
		maxBytes int
		want     [][]string
	}{
		{name: "nothing to delete", in: nil, want: nil},
		{name: "only empty names", in: []string{"", ""}, want: nil},
		{name: "one batch", in: []string{"a", "b", "c"}, want: [][]string{{"a", "b", "c"}}},
		{name: "count bound", in: []string{"a", "b", "c", "d", "e"}, perReq: 2, want: [][]string{{"a", "b"}, {"c", "d"}, {"e"}}},
		// "aaa,bbb" is 7 bytes, "aaa,bbb,ccc" 11.
		{name: "byte bound counts commas", in: []string{"aaa", "bbb", "ccc"}, maxBytes: 10, want: [][]string{{"aaa", "bbb"}, {"ccc"}}},
		{name: "byte bound exact fit", in: []string{"aaa", "bbb", "ccc"}, maxBytes: 11, want: [][]string{{"aaa", "bbb", "ccc"}}},
		{name: "oversized name gets its own batch", in: []string{"a", long, "b"}, maxBytes: 100, want: [][]string{{"a"}, {long}, {"b"}}},
		// "a+b" needs no escaping in a path; "a%b" becomes "a%25b" (5 bytes).
		{name: "percent-encoding counts", in: []string{"a%b", "c"}, maxBytes: 6, want: [][]string{{"a%b"}, {"c"}}},
		{name: "duplicates and empties dropped, order kept", in: []string{"b", "a", "", "b", "c", "a"}, want: [][]string{{"b", "a", "c"}}},
		{name: "defaults", in: names("essnap-hourly-2026.11.23-", 120), want: [][]string{
			names("essnap-hourly-2026.11.23-", 120)[:50], names("essnap-hourly-2026.11.23-", 120)[50:100], names("essnap-hourly-2026.11.23-", 120)[100:],
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Batches(tc.in, tc.perReq, tc.maxBytes)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Batches() =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestBatchesProperties: every distinct non-empty name is in exactly one
// batch, in order, and every batch respects both bounds unless it holds a
// single oversized name.
func TestBatchesProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 500 {
		n := r.IntN(400)
		in := make([]string, n)
		for j := range in {
			in[j] = strings.Repeat(string(rune('a'+r.IntN(26))), r.IntN(80)) + fmt.Sprint(r.IntN(300))
		}
		perReq, maxBytes := r.IntN(60)-5, r.IntN(3000)-100
		got := Batches(in, perReq, maxBytes)
		if perReq <= 0 {
			perReq = DefaultMaxPerRequest
		}
		if maxBytes <= 0 {
			maxBytes = DefaultMaxPathBytes
		}
		var flat []string
		for _, b := range got {
			if len(b) == 0 || len(b) > perReq {
				t.Fatalf("case %d: batch of %d names (max %d)", i, len(b), perReq)
			}
			size := len(b) - 1
			for _, name := range b {
				size += len(url.PathEscape(name))
			}
			if size > maxBytes && len(b) > 1 {
				t.Fatalf("case %d: batch takes %d bytes (max %d)", i, size, maxBytes)
			}
			flat = append(flat, b...)
		}
		var want []string
		seen := map[string]bool{}
		for _, name := range in {
			if name != "" && !seen[name] {
				seen[name] = true
				want = append(want, name)
			}
		}
		if !reflect.DeepEqual(flat, want) {
			t.Fatalf("case %d: batches do not cover the names in order", i)
		}
	}
}

// TestBatchesAreIndependent: appending to one batch must not overwrite the
// next one (they share a backing array).
func TestBatchesAreIndependent(t *testing.T) {
	got := Batches([]string{"a", "b", "c", "d"}, 2, 0)
	got[0] = append(got[0], "x")
	if !reflect.DeepEqual(got[1], []string{"c", "d"}) {
		t.Fatalf("second batch changed: %q", got[1])
	}
}
