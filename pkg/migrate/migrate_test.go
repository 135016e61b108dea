package migrate

import (
	"strings"
	"testing"
	"time"
)

func TestCheckVersions(t *testing.T) {
	es := func(v string) Engine { return Engine{Elasticsearch, v} }
	os := func(v string) Engine { return Engine{OpenSearch, v} }
	cases := []struct {
		name     string
		src, tgt Engine
		want     string // "" = allowed; else a fragment of the reason
	}{
		{"AWS ES 7.10 to OpenSearch 2.19", es("7.10.2"), os("2.19.1"), ""},
		{"ES 7.10 to OpenSearch 1.3", es("7.10.2"), os("1.3.20"), ""},
		{"ES 6.8 to OpenSearch 1.3", es("6.8.23"), os("1.3.20"), ""},
		{"ES 6.8 to OpenSearch 2.x: indices too old", es("6.8.23"), os("2.11.0"), "created by Elasticsearch 7.x"},
		{"ES 6.5 to OpenSearch 1.x", es("6.5.4"), os("1.0.0"), "6.8 and later"},
		{"ES 7.17 to OpenSearch: newer than the fork", es("7.17.9"), os("2.19.1"), "up to 7.10.2"},
		{"OpenSearch to ES 7.10 refused", os("2.19.1"), es("7.10.2"), "does not read OpenSearch"},
		{"OpenSearch 1.0 to ES 7.10 refused", os("1.0.0"), es("7.10.2"), "does not read OpenSearch"},
		{"OpenSearch to same OpenSearch", os("2.19.1"), os("2.19.1"), ""},
		{"OpenSearch 2.11 to 2.19", os("2.11.0"), os("2.19.1"), ""},
		{"OpenSearch 1.3 to 2.19", os("1.3.20"), os("2.19.1"), ""},
		{"OpenSearch 2.19 to 2.11: older target", os("2.19.1"), os("2.11.0"), "older than the source"},
		{"OpenSearch 1.3 to 3.0: two majors", os("1.3.0"), os("3.0.0"), "more than one major"},
		{"ES 7.10 to ES 7.10", es("7.10.2"), es("7.10.2"), ""},
		{"ES 6.8 to ES 7.10", es("6.8.0"), es("7.10.2"), ""},
		{"ES 7.10 to ES 6.8", es("7.10.2"), es("6.8.0"), "older than the source"},
		{"ES 5.6 to ES 7.10", es("5.6.16"), es("7.10.2"), "more than one major"},
		{"empty distribution is Elasticsearch", Engine{"", "7.10.2"}, os("2.19.1"), ""},
		{"snapshot suffix", os("2.19.1-SNAPSHOT"), os("2.19.1"), ""},
		{"garbage source version", os("x"), os("2.19.1"), "source engine"},
		{"garbage target version", os("2.19.1"), os(""), "target engine"},
		{"unknown distribution", Engine{"solr", "9.0.0"}, os("2.19.1"), "unknown distribution"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckVersions(c.src, c.tgt)
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
