package migrate

import (
	"strings"

	"github.com/essnap/essnap/internal/golden"
	"testing"
	"time"
)

func TestCheckEngines(t *testing.T) {
	es := func(v string) Engine { return Engine{Elasticsearch, v} }
	os := func(v string) Engine { return Engine{OpenSearch, v} }
	cases := []struct {
		name     string
		src, tgt Engine
		want     string // "" = allowed; else a fragment of the reason
	}{
		{"AWS ES 7.10 to OpenSearch 2.19", es("7.10.2"), os("2.19.1"), ""},
		{"ES 7.10 to OpenSearch 3.5 (per index: reindex)", es("7.10.2"), os("3.5.0"), ""},
		{"OpenSearch to ES 7.10 refused", os("2.19.1"), es("7.10.2"), "does not read OpenSearch"},
		{"OpenSearch 1.0 to ES 7.10 refused", os("1.0.0"), es("7.10.2"), "does not read OpenSearch"},
		{"OpenSearch 3.5 to 2.19: older target", os("3.5.0"), os("2.19.1"), "older than the source"},
		{"OpenSearch 2.19 to 2.11: older target", os("2.19.1"), os("2.11.0"), "older than the source"},
		{"ES 7.10 to ES 6.8", es("7.10.2"), es("6.8.0"), "older than the source"},
		{"OpenSearch to same OpenSearch", os("2.19.1"), os("2.19.1"), ""},
		{"empty distribution is Elasticsearch", Engine{"", "7.10.2"}, os("2.19.1"), ""},
		{"snapshot suffix", os("2.19.1-SNAPSHOT"), os("2.19.1"), ""},
		{"garbage source version", os("x"), os("2.19.1"), "source engine"},
		{"garbage target version", os("2.19.1"), os(""), "target engine"},
		{"unknown distribution", Engine{"solr", "9.0.0"}, os("2.19.1"), "unknown distribution"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckEngines(c.src, c.tgt)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("allowed, want refusal containing %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("reason %q lacks %q", err, c.want)
			}
		})
	}
}

// Version ids as the real engines write them into index.version.created
// (observed on each peer of the test matrix), and the ones they would write.
func TestDecodeVersionID(t *testing.T) {
	cases := []struct {
		name string
		id   int64
		want Engine
		err  bool
	}{
		{"Elasticsearch 7.10.2 (observed)", 7100299, Engine{Elasticsearch, "7.10.2"}, false},
		{"Elasticsearch 6.8.23", 6082399, Engine{Elasticsearch, "6.8.23"}, false},
		{"Elasticsearch 6.0.0-beta1", 6000001, Engine{Elasticsearch, "6.0.0"}, false},
		{"OpenSearch 1.3.1 (observed)", 135247927, Engine{OpenSearch, "1.3.1"}, false},
		{"OpenSearch 2.19.1 (observed)", 136407927, Engine{OpenSearch, "2.19.1"}, false},
		{"OpenSearch 3.5.0 (observed)", 137267827, Engine{OpenSearch, "3.5.0"}, false},
		{"zero", 0, Engine{}, true},
		{"negative", -5, Engine{}, true},
		{"no major", 99, Engine{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeVersionID(c.id)
			if (err != nil) != c.err || got != c.want {
				t.Fatalf("DecodeVersionID(%d) = %v, %v; want %v (error %v)", c.id, got, err, c.want, c.err)
			}
		})
	}
}

// minimum_index_compatibility_version as each engine of the matrix reports
// it in GET / (observed), against the rule MinIndexCompatibility computes.
func TestMinIndexCompatibility(t *testing.T) {
	cases := []struct {
		target   Engine
		reported string
	}{
		{Engine{Elasticsearch, "7.10.2"}, "6.0.0-beta1"},
		{Engine{OpenSearch, "1.3.1"}, "6.0.0-beta1"},
		{Engine{OpenSearch, "2.19.1"}, "7.0.0"},
		{Engine{OpenSearch, "3.5.0"}, "2.0.0"},
		{Engine{OpenSearch, "4.0.0"}, "3.0.0"},
	}
	for _, c := range cases {
		t.Run(c.target.String(), func(t *testing.T) {
			got, err := MinIndexCompatibility(c.target)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ParseMinIndexCompatibility(c.target.Distribution, c.reported)
			if err != nil || got != want {
				t.Fatalf("MinIndexCompatibility(%v) = %v, engine reports %v (%v)", c.target, got, want, err)
			}
		})
	}
}

// The per-index verdicts over the engine matrix, with a golden file so every
// reason an operator reads is reviewed.
func TestDecideIndexGolden(t *testing.T) {
	es := func(v string) Engine { return Engine{Elasticsearch, v} }
	os := func(v string) Engine { return Engine{OpenSearch, v} }
	const es710, es68, es56, os131, os2191, os350 = 7100299, 6082399, 5061699, 135247927, 136407927, 137267827
	cases := []struct {
		name     string
		src, tgt Engine
		created  int64
		want     Verdict
	}{
		{"es7.10 index, es7.10 to os2.19", es("7.10.2"), os("2.19.1"), es710, Snapshot},
		{"es7.10 index, es7.10 to os1.3", es("7.10.2"), os("1.3.1"), es710, Snapshot},
		{"es7.10 index, es7.10 to os3.5", es("7.10.2"), os("3.5.0"), es710, Reindex},
		{"es6.8 index, es7.10 to os2.19", es("7.10.2"), os("2.19.1"), es68, Reindex},
		{"es6.8 index, es7.10 to os1.3", es("7.10.2"), os("1.3.1"), es68, Snapshot},
		{"es5.6 index, es6.8 to os1.3", es("6.8.23"), os("1.3.1"), es56, Reindex},
		{"es6.5 source to os1.0", es("6.5.4"), os("1.0.0"), 6050499, Reindex},
		{"es7.17 source to os2.19", es("7.17.9"), os("2.19.1"), 7170999, Reindex},
		{"os1.3 index, os1.3 to os2.19", os("1.3.1"), os("2.19.1"), os131, Snapshot},
		{"os1.3 index, os1.3 to os3.5", os("1.3.1"), os("3.5.0"), os131, Reindex},
		{"es7.10 index in os2.19 (upgraded in place) to os3.5", os("2.19.1"), os("3.5.0"), es710, Reindex},
		{"os1.3 index in os2.19 to os3.5", os("2.19.1"), os("3.5.0"), os131, Reindex},
		{"os2.19 index, os2.19 to os3.5", os("2.19.1"), os("3.5.0"), os2191, Snapshot},
		{"os2.19 index, os2.19 to os2.19", os("2.19.1"), os("2.19.1"), os2191, Snapshot},
		{"os3.5 index, os3.5 to os3.5", os("3.5.0"), os("3.5.0"), os350, Snapshot},
		{"es7.10 index, es7.10 to es7.10", es("7.10.2"), es("7.10.2"), es710, Snapshot},
		{"es6.8 index, es6.8 to es7.10", es("6.8.23"), es("7.10.2"), es68, Snapshot},
		{"es5.6 index, es6.8 to es7.10", es("6.8.23"), es("7.10.2"), es56, Reindex},
		{"os2.19 to es7.10", os("2.19.1"), es("7.10.2"), os2191, Refused},
		{"es7.10 index in os2.19 to es7.10", os("2.19.1"), es("7.10.2"), es710, Refused},
		{"os3.5 to os2.19", os("3.5.0"), os("2.19.1"), os350, Refused},
		{"os2.19 index in os3.5 to os2.19", os("3.5.0"), os("2.19.1"), os2191, Refused},
		{"es7.10 to es6.8", es("7.10.2"), es("6.8.23"), es68, Refused},
		{"unreadable created version", os("2.19.1"), os("3.5.0"), 0, Refused},
	}
	var all []IndexCompat
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := DecideIndex(c.src, c.tgt, "logs", c.created)
			if got.Verdict != c.want {
				t.Fatalf("verdict %s (%s), want %s", got.Verdict, got.Reason, c.want)
			}
			if got.Reason == "" {
				t.Fatal("no reason")
			}
			got.Index = c.name
			all = append(all, got)
		})
	}
	golden.JSON(t, "testdata/decide_index.golden.json", all)
}

func TestCheckVerdicts(t *testing.T) {
	src, tgt := Engine{OpenSearch, "2.19.1"}, Engine{OpenSearch, "3.5.0"}
	vs := []IndexCompat{
		DecideIndex(src, tgt, "logs-old", 7100299),
		DecideIndex(src, tgt, "logs-new", 136407927),
		DecideIndex(src, tgt, "logs-1x", 135247927),
	}
	// Reindex is a path since issue 12: only refusals stop the migration.
	if err := CheckVerdicts(src, tgt, vs); err != nil {
		t.Fatalf("reindex verdicts must pass: %v", err)
	}
	ChooseMethods(vs, MethodAuto)
	if vs[0].Method != Reindex || vs[1].Method != Snapshot || vs[2].Method != Reindex {
		t.Fatalf("auto methods: %+v", vs)
	}
	ChooseMethods(vs, MethodReindex)
	if vs[1].Method != Reindex {
		t.Fatalf("forced reindex left %s", vs[1].Method)
	}
	if err := CheckVerdicts(src, tgt, vs[1:2]); err != nil {
		t.Fatalf("all snapshot: %v", err)
	}
	ref := []IndexCompat{DecideIndex(tgt, src, "x", 137267827)}
	if err := CheckVerdicts(tgt, src, ref); err == nil || !strings.Contains(err.Error(), "refused: x (created by opensearch 3.5.0)") || !strings.Contains(err.Error(), "older than the source") {
		t.Fatalf("refused: %v", err)
	}
}

func TestCheckDisk(t *testing.T) {
	const gib = 1 << 30
	cases := []struct {
		name     string
		needed   int64
		nodes    []NodeDisk
		headroom float64
		ok       bool
		remain   int64
	}{
		{"plenty", 10 * gib, []NodeDisk{{"n1", 100 * gib, 80 * gib}}, 0.15, true, 70 * gib},
		{"exactly the headroom left", 65 * gib, []NodeDisk{{"n1", 100 * gib, 80 * gib}}, 0.15, true, 15 * gib},
		{"one byte over", 65*gib + 1, []NodeDisk{{"n1", 100 * gib, 80 * gib}}, 0.15, false, 15*gib - 1},
		{"summed over nodes", 100 * gib, []NodeDisk{{"n1", 100 * gib, 60 * gib}, {"n2", 100 * gib, 60 * gib}}, 0.1, true, 20 * gib},
		{"unassigned row ignored", 1, []NodeDisk{{"n1", 10, 9}, {"UNASSIGNED", 0, 0}}, 0, true, 8},
		{"no node with figures", 1, []NodeDisk{{"UNASSIGNED", 0, 0}}, 0.15, false, 0},
		{"nothing needed, full disk", 0, []NodeDisk{{"n1", 100, 5}}, 0.15, false, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CheckDisk(c.needed, c.nodes, c.headroom)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
			if got.RemainingBytes != c.remain {
				t.Errorf("remaining %d, want %d", got.RemainingBytes, c.remain)
			}
			if err != nil && c.name != "no node with figures" && !strings.Contains(err.Error(), "must stay free") {
				t.Errorf("message %q does not say what must stay free", err)
			}
		})
	}
}

func TestSnapshotName(t *testing.T) {
	now := time.Date(2026, 11, 24, 3, 4, 5, 0, time.FixedZone("JST", 9*3600))
	cases := []struct{ prefix, want string }{
		{"", "migration-2026.11.23-180405"},
		{"Migration", "migration-2026.11.23-180405"},
		{"logs-move", "logs-move-2026.11.23-180405"},
	}
	for _, c := range cases {
		t.Run(c.prefix, func(t *testing.T) {
			if got := SnapshotName(c.prefix, now); got != c.want {
				t.Fatalf("SnapshotName(%q) = %q, want %q", c.prefix, got, c.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	base := IndexCounts{Source: "logs", Target: "logs-restored", TargetHealth: "green"}
	with := func(f func(*IndexCounts)) IndexCounts { c := base; f(&c); return c }
	cases := []struct {
		name     string
		strategy string
		in       IndexCounts
		ok       bool
		problem  string
		note     string
	}{
		{"push equal", Push, with(func(c *IndexCounts) { c.SourceDocs, c.TargetDocs = 100, 100 }), true, "", ""},
		{"push empty index", Push, base, true, "", ""},
		{"push late writes on the source", Push, with(func(c *IndexCounts) { c.SourceDocs, c.TargetDocs = 105, 100 }), false, "5 documents reached the source after the snapshot", ""},
		{"push copy has more", Push, with(func(c *IndexCounts) { c.SourceDocs, c.TargetDocs = 90, 100 }), false, "more than the source", ""},
		{"push red", Push, with(func(c *IndexCounts) { c.SourceDocs, c.TargetDocs, c.TargetHealth = 1, 1, "red" }), false, "is red", ""},
		{"push yellow is fine", Push, with(func(c *IndexCounts) { c.SourceDocs, c.TargetDocs, c.TargetHealth = 1, 1, "yellow" }), true, "", ""},
		{"pull equal with ids", Pull, with(func(c *IndexCounts) { c.SourceDocs, c.TargetDocs, c.IDsChecked = 100, 100, true }), true, "", ""},
		{"pull poller added documents", Pull, with(func(c *IndexCounts) { c.SourceDocs, c.TargetDocs, c.IDsChecked = 100, 140, true }), true, "", ""},
		{"pull fewer on target", Pull, with(func(c *IndexCounts) { c.SourceDocs, c.TargetDocs, c.IDsChecked = 100, 99, true }), false, "fewer than the source", ""},
		{"pull ids missing despite counts", Pull, with(func(c *IndexCounts) {
			c.SourceDocs, c.TargetDocs, c.IDsChecked, c.MissingIDs, c.Missing = 100, 120, true, 2, []string{"a", "b"}
		}), false, "2 documents of source index logs are missing", ""},
		{"pull duplicate ids from a replay without routing", Pull, with(func(c *IndexCounts) {
			c.SourceDocs, c.TargetDocs, c.IDsChecked, c.DuplicateIDs, c.Duplicates = 100, 101, true, 1, []string{"d7"}
		}), false, "1 _ids appear more than once on the target logs-restored (e.g. [d7])", ""},
		{"pull ids unchecked", Pull, with(func(c *IndexCounts) { c.SourceDocs, c.TargetDocs = 100, 100 }), true, "", "counts only"},
		{"unknown strategy", "sideways", base, false, "unknown strategy", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Judge(c.strategy, c.in)
			if v.OK != c.ok || !strings.Contains(v.Problem, c.problem) || !strings.Contains(v.Note, c.note) {
				t.Fatalf("Judge = ok %v problem %q note %q; want ok %v problem ~%q note ~%q", v.OK, v.Problem, v.Note, c.ok, c.problem, c.note)
			}
			if c.ok && v.Problem != "" {
				t.Fatalf("ok verdict with problem %q", v.Problem)
			}
		})
	}
}

// The refusal texts the real engines answer (observed on OpenSearch 3.5.0).
func TestTooOldToRestore(t *testing.T) {
	cases := []struct {
		name, reason, causedBy string
		want                   []string // fragments; nil = not recognised
	}{
		{"elasticsearch index in an opensearch snapshot", "Version id 7100299 must contain OpenSearch mask", "",
			[]string{"created by elasticsearch 7.10.2", "(a, b)", "re-index", "nothing was restored"}},
		{"opensearch 1.3 index on 3.5", "[r:s/uuid] cannot restore index [logs-1x] because it cannot be upgraded",
			"The index [[logs-1x/pBTBjqUGR_6LxxMTxpexBg]] was created with version [1.3.1] but the minimum compatible version is [2.0.0]. It should be re-indexed in OpenSearch 2.x before upgrading to 3.5.0.",
			[]string{"cannot read index logs-1x", "created by version 1.3.1", "2.0.0 or later", "re-index it", `"-logs-1x"`}},
		{"index name alone", "[r:s/uuid] cannot restore index [x] because it cannot be upgraded", "", []string{"cannot read index x;"}},
		{"other refusal", "[r:s] snapshot does not exist", "", nil},
		{"newer snapshot is not this", "the snapshot was created with OpenSearch version [3.5.0] which is higher than the version of this node [2.19.1]", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg, ok := TooOldToRestore(c.reason, c.causedBy, []string{"a", "b"})
			if ok != (c.want != nil) {
				t.Fatalf("recognised = %v (%s)", ok, msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
		})
	}
}
