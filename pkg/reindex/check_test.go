package reindex

import (
	"strings"
	"testing"
)

func ptr(v int64) *int64 { return &v }

func TestCheckParts(t *testing.T) {
	whole := Item{Parts: []Part{{State: Pending}}}
	split := Item{Field: "n", Parts: SplitParts([]float64{10, 20})}
	for _, tc := range []struct {
		name string
		it   Item
		want string
	}{
		{"whole index", whole, ""},
		{"split parts from SplitParts", split, ""},
		{"no parts", Item{}, "no parts"},
		{"one part that is a range", Item{Field: "n", Parts: []Part{{Gte: ptr(0), Lt: ptr(10), State: Pending}}}, "copied whole"},
		{"split without a field", Item{Parts: SplitParts([]float64{10})}, "without a split field"},
		{"first part with a lower bound", Item{Field: "n", Parts: []Part{{Gte: ptr(0), Lt: ptr(10), Missing: true, State: Pending}, {Gte: ptr(10), State: Pending}}}, "no lower bound"},
		{"first part without the missing documents", Item{Field: "n", Parts: []Part{{Lt: ptr(10), State: Pending}, {Gte: ptr(10), State: Pending}}}, "without the split field"},
		{"last part with an upper bound", Item{Field: "n", Parts: []Part{{Lt: ptr(10), Missing: true, State: Pending}, {Gte: ptr(10), Lt: ptr(20), State: Pending}}}, "no upper bound"},
		{"a gap", Item{Field: "n", Parts: []Part{{Lt: ptr(10), Missing: true, State: Pending}, {Gte: ptr(11), State: Pending}}}, "gap or overlap"},
		{"an overlap", Item{Field: "n", Parts: []Part{{Lt: ptr(10), Missing: true, State: Pending}, {Gte: ptr(9), Lt: ptr(20), State: Pending}, {Gte: ptr(20), State: Pending}}}, "gap or overlap"},
		{"missing twice", Item{Field: "n", Parts: []Part{{Lt: ptr(10), Missing: true, State: Pending}, {Gte: ptr(10), Missing: true, State: Pending}}}, "only the first part"},
		{"unknown state", Item{Parts: []Part{{State: "copied"}}}, `state "copied"`},
		{"running without a task", Item{Parts: []Part{{State: Running}}}, "needs its task id"},
		{"a task on a pending part", Item{Parts: []Part{{State: Pending, Task: "n:1"}}}, "needs its task id"},
		{"too many parts", Item{Field: "n", Parts: SplitParts([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})}, "more than 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.it.CheckParts()
			if (tc.want == "") != (got == "") || (tc.want != "" && !strings.Contains(got, tc.want)) {
				t.Fatalf("CheckParts() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TaskOf reads the descriptions the engines give a reindex task.
func TestTaskOf(t *testing.T) {
	for _, tc := range []struct {
		name, desc, target string
		want               bool
	}{
		{"Elasticsearch 7.10 and OpenSearch 1.x", "reindex from [host=127.0.0.1 port=9211 query={\"match_all\":{}}][logs] to [logs-restored][_doc]", "logs-restored", true},
		{"OpenSearch 2.x and 3.x", "reindex from [host=127.0.0.1 port=9211 query={}][logs] to [logs-restored]", "logs-restored", true},
		{"another target", "reindex from [logs] to [logs-restored-2]", "logs-restored", false},
		{"a prefix of the target", "reindex from [logs] to [logs]", "logs-restored", false},
		{"not a reindex", "indices:data/write/bulk[s]", "logs", false},
		{"no description", "", "logs", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TaskOf(tc.desc, tc.target); got != tc.want {
				t.Fatalf("TaskOf(%q, %q) = %v, want %v", tc.desc, tc.target, got, tc.want)
			}
		})
	}
}
