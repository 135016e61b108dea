package snapshot

import (
	"reflect"
	"strings"
	"testing"
)

var snapIndices = []string{
	"logs-2026.11.22",
	"logs-2026.11.23",
	"logs-2026.11.24",
	"metrics-2026.11.24",
	".kibana_1",
}

func TestSelectIndices(t *testing.T) {
	all := []string{".kibana_1", "logs-2026.11.22", "logs-2026.11.23", "logs-2026.11.24", "metrics-2026.11.24"}
	cases := []struct {
		name  string
		exprs []string
		want  []string
		err   []string
	}{
		{name: "nil selects all", exprs: nil, want: all},
		{name: "empty list selects all", exprs: []string{}, want: all},
		{name: "star", exprs: []string{"*"}, want: all},
		{name: "_all", exprs: []string{"_all"}, want: all},
		{name: "wildcard", exprs: []string{"logs-*"}, want: []string{"logs-2026.11.22", "logs-2026.11.23", "logs-2026.11.24"}},
		{name: "wildcard in the middle", exprs: []string{"*-2026.11.24"}, want: []string{"logs-2026.11.24", "metrics-2026.11.24"}},
		{name: "question mark", exprs: []string{"logs-2026.11.2?"}, want: []string{"logs-2026.11.22", "logs-2026.11.23", "logs-2026.11.24"}},
		{name: "concrete names", exprs: []string{"metrics-2026.11.24", "logs-2026.11.22"}, want: []string{"logs-2026.11.22", "metrics-2026.11.24"}},
		{name: "duplicates collapse", exprs: []string{"logs-2026.11.24", "logs-*", "logs-2026.11.24"}, want: []string{"logs-2026.11.22", "logs-2026.11.23", "logs-2026.11.24"}},
		{name: "spaces are trimmed", exprs: []string{" logs-2026.11.24 "}, want: []string{"logs-2026.11.24"}},
		{name: "exclusion", exprs: []string{"logs-*", "-logs-2026.11.22"}, want: []string{"logs-2026.11.23", "logs-2026.11.24"}},
		{name: "exclusion by wildcard", exprs: []string{"*", "-.*"}, want: []string{"logs-2026.11.22", "logs-2026.11.23", "logs-2026.11.24", "metrics-2026.11.24"}},
		{name: "exclusions in order: re-added after exclusion", exprs: []string{"logs-*", "-logs-2026.11.2*", "logs-2026.11.24"}, want: []string{"logs-2026.11.24"}},
		{name: "exclusions in order: excluded after adding", exprs: []string{"logs-2026.11.24", "metrics-*", "-*-2026.11.24"}, want: []string{}},
		{name: "exclusion of an absent name is fine", exprs: []string{"logs-*", "-nope"}, want: []string{"logs-2026.11.22", "logs-2026.11.23", "logs-2026.11.24"}},
		{name: "wildcard that matches nothing", exprs: []string{"zzz-*"}, want: []string{}},
		{name: "missing concrete name", exprs: []string{"logs-2026.11.25"}, err: []string{"logs-2026.11.25", "not in the snapshot", "5 indices"}},
		{name: "every missing name is listed", exprs: []string{"logs-*", "nope", "other"}, err: []string{"indices nope, other are not in the snapshot"}},
		{name: "missing name next to a wildcard", exprs: []string{"logs-*", "logs-2026.11.2"}, err: []string{"logs-2026.11.2 are not in the snapshot"}},
		{name: "empty element", exprs: []string{"logs-*", ""}, err: []string{"indices[1] is empty", "logs-*"}},
		{name: "blank element", exprs: []string{"  "}, err: []string{"indices[0] is empty"}},
		{name: "bad pattern", exprs: []string{"logs-["}, err: []string{`indices[0] "logs-["`, "not a valid pattern"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := SelectIndices(snapIndices, c.exprs)
			assertErr(t, err, c.err...)
			if err == nil && !reflect.DeepEqual(got, c.want) {
				t.Errorf("SelectIndices(%q) = %q, want %q", c.exprs, got, c.want)
			}
		})
	}
}

func TestSelectIndicesDoesNotModifyInput(t *testing.T) {
	avail := append([]string(nil), snapIndices...)
	exprs := []string{" logs-* ", "_all"}
	if _, err := SelectIndices(avail, exprs); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(avail, snapIndices) || exprs[0] != " logs-* " || exprs[1] != "_all" {
		t.Fatalf("inputs modified: %q %q", avail, exprs)
	}
}

func TestPlanRestore(t *testing.T) {
	system := []string{".kibana_1", ".opendistro_security", ".opendistro-job-scheduler-lock", ".plugins-ml-config", ".opensearch-observability"}
	withSystem := append(append([]string{}, snapIndices[:4]...), system[1:]...)
	withSystem = append(withSystem, ".kibana_1")
	mustRename := func(r Rename) *Renamer {
		t.Helper()
		rn, err := r.Compile()
		if err != nil {
			t.Fatal(err)
		}
		return rn
	}
	cases := []struct {
		name          string
		indices       []string
		exprs         []string
		includeSystem bool
		rn            *Renamer
		existing      map[string]string
		want          RestorePlan
		err           []string
	}{
		{
			name:    "system indices are skipped by default",
			indices: withSystem,
			want: RestorePlan{
				Indices: []IndexMapping{
					{"logs-2026.11.22", "logs-2026.11.22"}, {"logs-2026.11.23", "logs-2026.11.23"},
					{"logs-2026.11.24", "logs-2026.11.24"}, {"metrics-2026.11.24", "metrics-2026.11.24"},
				},
				SkippedSystem: []string{".kibana_1", ".opendistro-job-scheduler-lock", ".opendistro_security", ".opensearch-observability", ".plugins-ml-config"},
			},
		},
		{
			name:          "system indices are included on request",
			indices:       withSystem,
			exprs:         []string{".*"},
			includeSystem: true,
			want: RestorePlan{Indices: []IndexMapping{
				{".kibana_1", ".kibana_1"}, {".opendistro-job-scheduler-lock", ".opendistro-job-scheduler-lock"},
				{".opendistro_security", ".opendistro_security"}, {".opensearch-observability", ".opensearch-observability"},
				{".plugins-ml-config", ".plugins-ml-config"},
			}},
		},
		{
			name:    "a named system index is still skipped",
			indices: withSystem,
			exprs:   []string{"logs-2026.11.24", ".kibana_1"},
			want: RestorePlan{
				Indices:       []IndexMapping{{"logs-2026.11.24", "logs-2026.11.24"}},
				SkippedSystem: []string{".kibana_1"},
			},
		},
		{
			name:    "other dot indices are not system indices",
			indices: []string{".my-app-config", "logs"},
			want:    RestorePlan{Indices: []IndexMapping{{".my-app-config", ".my-app-config"}, {"logs", "logs"}}},
		},
		{
			name:    "rename applies to every target",
			indices: snapIndices,
			exprs:   []string{"logs-*"},
			rn:      mustRename(Rename{Suffix: "-restored"}),
			want: RestorePlan{Indices: []IndexMapping{
				{"logs-2026.11.22", "logs-2026.11.22-restored"}, {"logs-2026.11.23", "logs-2026.11.23-restored"},
				{"logs-2026.11.24", "logs-2026.11.24-restored"},
			}},
		},
		{
			name:     "collisions are listed with their status",
			indices:  snapIndices,
			exprs:    []string{"logs-*", "metrics-*"},
			existing: map[string]string{"logs-2026.11.23": "open", "metrics-2026.11.24": "close", "unrelated": "open"},
			want: RestorePlan{
				Indices: []IndexMapping{
					{"logs-2026.11.22", "logs-2026.11.22"}, {"logs-2026.11.23", "logs-2026.11.23"},
					{"logs-2026.11.24", "logs-2026.11.24"}, {"metrics-2026.11.24", "metrics-2026.11.24"},
				},
				Collisions: []Collision{
					{Index: "logs-2026.11.23", Source: "logs-2026.11.23", Status: "open"},
					{Index: "metrics-2026.11.24", Source: "metrics-2026.11.24", Status: "close"},
				},
			},
		},
		{
			name:     "collisions are checked on renamed targets",
			indices:  snapIndices,
			exprs:    []string{"logs-2026.11.24"},
			rn:       mustRename(Rename{Suffix: "-restored"}),
			existing: map[string]string{"logs-2026.11.24": "open", "logs-2026.11.24-restored": "open"},
			want: RestorePlan{
				Indices:    []IndexMapping{{"logs-2026.11.24", "logs-2026.11.24-restored"}},
				Collisions: []Collision{{Index: "logs-2026.11.24-restored", Source: "logs-2026.11.24", Status: "open"}},
			},
		},
		{
			name:    "two sources renamed into one target are refused",
			indices: snapIndices,
			exprs:   []string{"logs-*"},
			rn:      mustRename(Rename{Pattern: `^(logs)-.+$`, Replacement: "$1-all"}),
			err:     []string{"[logs-2026.11.22] and [logs-2026.11.23]", "[logs-all]"},
		},
		{
			name:    "invalid target names are refused",
			indices: snapIndices,
			exprs:   []string{"logs-2026.11.22", "metrics-*"},
			rn:      mustRename(Rename{Prefix: "_"}),
			err:     []string{"invalid index names", `logs-2026.11.22 -> index name "_logs-2026.11.22"`, "metrics-2026.11.24 ->", "must not start with"},
		},
		{
			name:    "uppercase target refused",
			indices: snapIndices,
			exprs:   []string{"logs-2026.11.24"},
			rn:      mustRename(Rename{Suffix: "-Restored"}),
			err:     []string{"invalid index names", "must be lowercase"},
		},
		{
			name:    "nothing selected",
			indices: snapIndices,
			exprs:   []string{"zzz-*"},
			err:     []string{"nothing to restore", "zzz-*"},
		},
		{
			name:    "only system indices selected",
			indices: withSystem,
			exprs:   []string{".kibana*"},
			err:     []string{"nothing to restore", "system indices skipped: [.kibana_1]"},
		},
		{
			name:    "empty snapshot",
			indices: nil,
			err:     []string{"nothing to restore"},
		},
		{
			name:    "selection errors pass through",
			indices: snapIndices,
			exprs:   []string{"logs-2026.11.30"},
			err:     []string{"logs-2026.11.30", "not in the snapshot"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := PlanRestore(c.indices, c.exprs, c.includeSystem, c.rn, c.existing)
			assertErr(t, err, c.err...)
			if err == nil && !reflect.DeepEqual(got, c.want) {
				t.Errorf("PlanRestore =\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
}

func TestSystemIndexPatternsCoverAWSIndices(t *testing.T) {
	for _, ix := range []string{
		".kibana", ".kibana_1", ".kibana_task_manager", ".opendistro_security", ".opendistro-job-scheduler-lock",
		".opendistro-alerting-config", ".plugins-ml-config", ".opensearch-observability", ".opensearch-notifications-config",
		".tasks", ".security-7",
	} {
		t.Run(ix, func(t *testing.T) {
			if !matchAny(ix, SystemIndexPatterns) {
				t.Fatalf("%s is not treated as a system index", ix)
			}
		})
	}
	for _, ix := range []string{"logs", ".my-app", "kibana", "opendistro"} {
		t.Run(ix, func(t *testing.T) {
			if matchAny(ix, SystemIndexPatterns) {
				t.Fatalf("%s is treated as a system index", ix)
			}
		})
	}
}

func TestRestorePlanTargetsAndSources(t *testing.T) {
	p := RestorePlan{Indices: []IndexMapping{{"a", "a-r"}, {"b", "b-r"}}}
	if got := p.Sources(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Sources() = %q", got)
	}
	if got := p.Targets(); !reflect.DeepEqual(got, []string{"a-r", "b-r"}) {
		t.Errorf("Targets() = %q", got)
	}
	if got := (RestorePlan{}).Targets(); len(got) != 0 {
		t.Errorf("empty plan Targets() = %q", got)
	}
}

func TestCollisionErrorListsEveryIndex(t *testing.T) {
	e := &CollisionError{Repository: "essnap", Snapshot: "nightly-2026.11.24", Collisions: []Collision{
		{Index: "logs-2026.11.23", Source: "logs-2026.11.23", Status: "open"},
		{Index: "logs-2026.11.24-restored", Source: "logs-2026.11.24", Status: "close"},
		{Index: "metrics-2026.11.24", Source: "metrics-2026.11.24", Status: "open"},
	}}
	msg := e.Error()
	for _, want := range []string{
		"essnap/nightly-2026.11.24",
		"3 target indices already exist",
		"logs-2026.11.23 (from logs-2026.11.23, open)",
		"logs-2026.11.24-restored (from logs-2026.11.24, close)",
		"metrics-2026.11.24 (from metrics-2026.11.24, open)",
		`rename_suffix "-restored"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not contain %q", msg, want)
		}
	}
}
