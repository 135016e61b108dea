package retention

import (
	"bytes"
	"encoding/json"
	"github.com/essnap/essnap/internal/golden"
	"github.com/essnap/essnap/pkg/model"
	"os"
	"path/filepath"
	"testing"
	"time"
	_ "time/tzdata" // golden cases name IANA zones; do not depend on the host's zoneinfo
)

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
			snaps, err := model.DecodeListing(f)
			if err != nil {
				t.Fatal(err)
			}
			plan := checkApply(t, gc.Policy, snaps, gc.Now, nil)
			got, err := renderPlan(plan)
			if err != nil {
				t.Fatal(err)
			}
			golden.Bytes(t, filepath.Join(dir, "plan.json"), got)
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
