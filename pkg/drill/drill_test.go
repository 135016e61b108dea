package drill

import (
	"encoding/json"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/essnap/essnap/internal/golden"
)

var day = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

func TestTargetIsOwned(t *testing.T) {
	for _, ix := range []string{"logs", "a", "logs-2026.11.23", "essnap-drill-2026.11.20-x", ".ds-logs-000001"} {
		n := Target(day, ix)
		if !strings.HasPrefix(n, "essnap-drill-2026.11.24-") || !Owned(n) {
			t.Errorf("Target(%q) = %q, not owned", ix, n)
		}
	}
}

func TestOwnedTable(t *testing.T) {
	for name, want := range map[string]bool{
		"essnap-drill-2026.11.24-logs":   true,
		"essnap-drill-2026.01.01-a":      true,
		"essnap-drill-2026.11.24-":       false,
		"essnap-drill-2026.11.24":        false,
		"essnap-drill-":                  false,
		"essnap-drill":                   false,
		"essnap-drill-notes":             false,
		"essnap-drill-2026.13.01-a":      false,
		"essnap-drill-2026.11.32-a":      false,
		"essnap-drill-26.11.24-a":        false,
		"essnap-drill-2026-11-24-a":      false,
		"x-essnap-drill-2026.11.24-a":    false,
		" essnap-drill-2026.11.24-a":     false,
		"Essnap-drill-2026.11.24-a":      false,
		"essnap-drill-*":                 false,
		"essnap-drill-2026.11.24-a\nb":   false,
		"logs-essnap-drill-2026.11.24-a": false,
		"":                               false,
	} {
		if got := Owned(name); got != want {
			t.Errorf("Owned(%q) = %v, want %v", name, got, want)
		}
	}
}

// Property: the filter matches exactly the names Target makes. A name
// that is not Prefix + a real date + "-" + something is never matched,
// whatever it is; and every Target is.
func TestOwnedProperty(t *testing.T) {
	cfg := &quick.Config{MaxCount: 20000, Rand: rand.New(rand.NewSource(1))}
	isTarget := func(s string) bool {
		rest, ok := strings.CutPrefix(s, Prefix)
		if !ok || len(rest) < 12 || rest[10] != '-' {
			return false
		}
		d, err := time.Parse(dateLayout, rest[:10])
		if err != nil || d.Format(dateLayout) != rest[:10] {
			return false
		}
		return rest[11:] != ""
	}
	// Arbitrary strings, and strings built from the prefix's pieces.
	pieces := []string{"essnap", "-", "drill", "2026", ".", "11", "24", "13", "00", "x", "*", "\n", "E", "essnap-drill-"}
	gen := func(r *rand.Rand) string {
		var b strings.Builder
		for i := r.Intn(12); i > 0; i-- {
			b.WriteString(pieces[r.Intn(len(pieces))])
		}
		return b.String()
	}
	if err := quick.Check(func(s string) bool { return !Owned(s) || isTarget(s) }, cfg); err != nil {
		t.Error(err)
	}
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 50000; i++ {
		s := gen(r)
		if Owned(s) && !isTarget(s) {
			t.Fatalf("Owned(%q) but it is not a drill target", s)
		}
		if !strings.HasPrefix(s, Prefix) && Owned(s) {
			t.Fatalf("Owned(%q) without the prefix", s)
		}
	}
	// Every target of any source name on any day is owned.
	if err := quick.Check(func(src string, days uint16) bool {
		if src == "" || strings.Contains(src, "\n") {
			return true
		}
		return Owned(Target(day.AddDate(0, 0, int(days)), src))
	}, cfg); err != nil {
		t.Error(err)
	}
}

func TestLeftovers(t *testing.T) {
	got := Leftovers([]string{"logs", "essnap-drill-2026.11.20-logs", "essnap-drill-notes", "essnap-drill-2026.11.24-m"})
	if strings.Join(got, ",") != "essnap-drill-2026.11.20-logs,essnap-drill-2026.11.24-m" {
		t.Fatal(got)
	}
}

func TestSample(t *testing.T) {
	cands := []string{"logs-a", "logs-b", "logs-c", "big"}
	sizes := map[string]int64{"logs-a": 100, "logs-b": 300, "logs-c": 200, "big": 10000}
	type out struct {
		Take    []string  `json:"take"`
		Skipped []Skipped `json:"skipped"`
		Bytes   int64     `json:"bytes"`
	}
	res := map[string]out{}
	for name, tc := range map[string]struct {
		max      int64
		recorded map[string]int64
	}{
		"all":                {0, nil},
		"budget-400":         {400, nil},
		"budget-recorded":    {400, map[string]int64{"logs-c": 1, "logs-b": 1}},
		"budget-too-small":   {50, nil},
		"budget-exact-total": {10600, nil},
	} {
		take, sk, b := Sample(cands, sizes, tc.recorded, tc.max)
		res[name] = out{take, sk, b}
	}
	golden.JSON(t, filepath.Join("testdata", "sample.golden.json"), res)
}

func TestParseWatermark(t *testing.T) {
	for in, want := range map[string]Watermark{
		"85%":   {Used: 0.85, Raw: "85%"},
		"0.9":   {Used: 0.9, Raw: "0.9"},
		"500mb": {Free: 500 << 20, Raw: "500mb"},
		"1gb":   {Free: 1 << 30, Raw: "1gb"},
		"10b":   {Free: 10, Raw: "10b"},
		"1.5kb": {Free: 1536, Raw: "1.5kb"},
	} {
		got, err := ParseWatermark(in)
		if err != nil || got != want {
			t.Errorf("ParseWatermark(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "120%", "2", "-1mb", "mb"} {
		if _, err := ParseWatermark(bad); err == nil {
			t.Errorf("ParseWatermark(%q) accepted", bad)
		}
	}
}

func TestCheckDisk(t *testing.T) {
	nodes := []Node{{"a", 1000, 400}, {"b", 1000, 100}, {"unassigned", 0, 0}}
	type row struct {
		Check DiskCheck `json:"check"`
		Error string    `json:"error,omitempty"`
	}
	res := map[string]row{}
	for name, tc := range map[string]struct {
		wm   string
		need int64
	}{
		"percent-fits":    {"85%", 250},
		"percent-refuses": {"85%", 251},
		"absolute-fits":   {"50b", 400},
		"absolute-refuse": {"50b", 401},
		"lowered":         {"1%", 1},
	} {
		w, err := ParseWatermark(tc.wm)
		if err != nil {
			t.Fatal(err)
		}
		c, err := CheckDisk(nodes, w, tc.need)
		r := row{Check: c}
		if err != nil {
			r.Error = err.Error()
		}
		res[name] = r
	}
	golden.JSON(t, filepath.Join("testdata", "disk.golden.json"), res)
}

func TestFitCounts(t *testing.T) {
	counts := map[string]int64{}
	for i := 0; i < 200; i++ {
		counts["logs-2026.11."+strings.Repeat("0", 3-len(itoa(i)))+itoa(i)] = int64(i * 1000)
	}
	for _, room := range []int{0, 30, 100, 500, 100000} {
		kept, omitted := FitCounts(counts, room)
		if len(kept)+omitted != len(counts) {
			t.Fatalf("room %d: %d kept + %d omitted != %d", room, len(kept), omitted, len(counts))
		}
		origin := map[string]any{}
		if len(kept) > 0 || omitted > 0 {
			origin[CountsKey] = kept
		}
		if omitted > 0 {
			origin[CountsOmittedKey] = omitted
		}
		b, _ := json.Marshal(origin)
		// {} plus the fitted entries must stay within the room (+2 for
		// the braces of this test's own object, minus the leading comma).
		if len(b)-2+1 > room && room >= 40 {
			t.Errorf("room %d: counts take %d bytes", room, len(b)-1)
		}
		if room == 100000 && omitted != 0 {
			t.Errorf("room %d: %d omitted", room, omitted)
		}
		// Newest first: every kept name sorts after every omitted one.
		for n := range kept {
			for m := range counts {
				if _, k := kept[m]; !k && m > n {
					t.Errorf("room %d: kept %s but omitted the newer %s", room, n, m)
				}
			}
		}
	}
	kept, omitted := FitCounts(map[string]int64{"a": 1, "b": 2, "c": 3}, len(`,"counts":{}`)+len(`,"counts_omitted":1`)+len(`"c":3`))
	if len(kept) != 1 || kept["c"] != 3 || omitted != 2 {
		t.Fatalf("kept %v omitted %d", kept, omitted)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestRecordedCountsRoundTrip(t *testing.T) {
	var origin any
	_ = json.Unmarshal([]byte(`{"trigger":"schedule","counts":{"a":3,"b":0,"bad":-1,"frac":1.5},"counts_omitted":4}`), &origin)
	c, om, ok := RecordedCounts(origin)
	if !ok || om != 4 || len(c) != 2 || c["a"] != 3 || c["b"] != 0 {
		t.Fatalf("%v %d %v", c, om, ok)
	}
	if _, _, ok := RecordedCounts(map[string]any{"trigger": "x"}); ok {
		t.Fatal("counts found where none are")
	}
	if _, _, ok := RecordedCounts(nil); ok {
		t.Fatal("counts found in nil")
	}
}

func TestJudge(t *testing.T) {
	rec := map[string]int64{"a": 10, "b": 10, "c": 10}
	res := []Check{
		Judge("a", "essnap-drill-2026.11.24-a", "green", 10, rec),
		Judge("b", "essnap-drill-2026.11.24-b", "green", 12, rec),
		Judge("c", "essnap-drill-2026.11.24-c", "green", 9, rec),
		Judge("d", "essnap-drill-2026.11.24-d", "green", 5, rec),
		Judge("a", "essnap-drill-2026.11.24-a", "red", 10, rec),
	}
	golden.JSON(t, filepath.Join("testdata", "judge.golden.json"), res)
}
