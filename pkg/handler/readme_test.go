package handler

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/essnap/essnap/pkg/config"
)

// readmeTables reads the README's event tables: the common fields and one
// table per function section, each row field -> env ("" when none).
func readmeTables(t *testing.T) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile("`([^`]*)`")
	out := map[string]map[string]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "Common fields"):
			section = "common"
		case strings.HasPrefix(line, "### "):
			section = strings.TrimPrefix(line, "### ")
		case strings.HasPrefix(line, "## "):
			section = ""
		case section != "" && strings.HasPrefix(line, "| `"):
			cells := strings.Split(line, "|")
			if len(cells) < 4 {
				continue
			}
			f := code.FindStringSubmatch(cells[1])
			if f == nil {
				continue
			}
			env := ""
			if e := code.FindStringSubmatch(cells[2]); e != nil {
				env = e[1]
			}
			if out[section] == nil {
				out[section] = map[string]string{}
			}
			out[section][f[1]] = env
		}
	}
	return out
}

// The README's event tables are the code's field declarations: every
// declared field (and its variable) is documented, and nothing else is.
func TestReadmeEventTables(t *testing.T) {
	tables := readmeTables(t)
	common := tables["common"]
	if len(common) == 0 {
		t.Fatal("README has no common fields table")
	}
	for _, fn := range []struct {
		section string
		cfg     any
	}{
		{"register-repo", &RegisterConfig{}},
		{"take-snapshot", &SnapshotConfig{}},
		{"restore", &RestoreConfig{}},
		{"check-progress", &ProgressConfig{}},
		{"doctor", &DoctorConfig{}},
		{"migrate-metadata", &MetadataConfig{}},
		{"drill", &DrillConfig{}},
	} {
		t.Run(fn.section, func(t *testing.T) {
			doc := tables[fn.section]
			if len(doc) == 0 {
				t.Fatalf("README has no table under ### %s", fn.section)
			}
			var declared []string
			for _, f := range config.Fields(fn.cfg) {
				declared = append(declared, f.Path)
				env, ok := doc[f.Path]
				if !ok {
					env, ok = common[f.Path]
				}
				switch {
				case !ok:
					t.Errorf("field %q (env %q) is declared but not in the README's %s or common table", f.Path, f.Env, fn.section)
				case env != f.Env:
					t.Errorf("field %q: README says env %q, the code reads %q", f.Path, env, f.Env)
				}
			}
			for field := range doc {
				if !slices.Contains(declared, field) {
					t.Errorf("README documents %q under %s, but the function has no such field", field, fn.section)
				}
			}
		})
	}
}
