package retention

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
	_ "time/tzdata" // golden cases name IANA zones; do not depend on the host's zoneinfo
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*/plan.json from the current code")

// goldenCase is testdata/golden/<name>/case.json: the policy as operators
// write it and the clock.
type goldenCase struct {
	Now    time.Time `json:"now"`
	Policy Policy    `json:"policy"`
}

// TestGolden runs Apply on recorded-style listings and compares the plan with
// testdata/golden/<case>/plan.json. Review the diff after go test -update.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 4 {
		t.Fatalf("found %d golden cases, want at least 4", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var gc goldenCase
			raw, err := os.ReadFile(filepath.Join(dir, "case.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &gc); err != nil {
				t.Fatal(err)
			}
			if err := gc.Policy.Validate(); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(filepath.Join(dir, "listing.json"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			snaps, err := DecodeListing(f)
			if err != nil {
				t.Fatal(err)
			}
			plan := checkApply(t, gc.Policy, snaps, gc.Now, nil)
			got, err := renderPlan(plan)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "plan.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("plan differs from %s (run go test -run TestGolden -update and review the diff):\n%s", path, firstDiff(got, want))
			}
		})
	}
}

// renderPlan is json.Marshal(plan) with one decision per line, so golden
// diffs show which snapshot changed.
func renderPlan(p Plan) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, l := range []struct {
		name string
		ds   []Decision
	}{{"keep", p.Keep}, {"delete", p.Delete}, {"ignored", p.Ignored}} {
		b.WriteString(`  "` + l.name + `": [`)
		for j, d := range l.ds {
			line, err := json.Marshal(d)
			if err != nil {
				return nil, err
			}
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString("\n    ")
			b.Write(line)
		}
		if len(l.ds) > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString("]")
		if i < 2 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	if !json.Valid(b.Bytes()) {
		panic("renderPlan produced invalid JSON")
	}
	return b.Bytes(), nil
}

// firstDiff shows the first differing line.
func firstDiff(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			return "line " + strconv.Itoa(i+1) + "\n got: " + string(gl) + "\nwant: " + string(wl)
		}
	}
	return "(no line differs)"
}
