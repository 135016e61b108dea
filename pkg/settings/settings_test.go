package settings

import "testing"

// One row per entry of the list (a key each entry refuses, with the reason
// it gives), the overlaps where the more specific reason must win, and
// settings a target must keep. TestEveryRuleHasARow holds the table to the
// list.
var cases = []struct {
	name, key string
	refused   bool
	why       string
}{
	{"uuid", "index.uuid", true, "engine-owned"},
	{"creation date", "index.creation_date", true, "engine-owned"},
	{"provided name", "index.provided_name", true, "engine-owned"},
	{"version", "index.version.created", true, "engine-owned"},
	{"history uuid", "index.history.uuid", true, "engine-owned"},
	{"resize", "index.resize.source.name", true, "engine-owned"},
	{"shrink", "index.shrink.source.uuid", true, "engine-owned"},
	{"verified before close", "index.verified_before_close", true, "engine-owned"},
	{"format", "index.format", true, "engine-owned"},
	{"archived", "archived.index.unknown_plugin.setting", true, "archived by the source engine"},
	{"frozen", "index.frozen", true, "Elasticsearch-only"},
	{"search throttled", "index.search.throttled", true, "Elasticsearch-only"},
	{"soft deletes", "index.soft_deletes.enabled", true, "OpenSearch 2 and later always keep soft deletes"},
	{"translog retention", "index.translog.retention.size", true, "ignored since soft deletes"},
	{"mapper dynamic", "index.mapper.dynamic", true, "removed setting"},
	{"ILM", "index.lifecycle.name", true, "Elasticsearch ILM; lifecycle policies do not travel: create an ISM policy on the target (docs/migration.md)"},
	{"allocation filter", "index.routing.allocation.require.box", true, "names the source's nodes or tiers"},
	{"allocation filter by name", "index.routing.allocation.include._name", true, "names the source's nodes or tiers"},
	{"tier include", "index.routing.allocation.include._tier", true, tierWhy},
	{"tier preference", "index.routing.allocation.include._tier_preference", true, tierWhy},
	{"tier require", "index.routing.allocation.require._tier", true, tierWhy},
	{"tier exclude", "index.routing.allocation.exclude._tier", true, "Elasticsearch data tiers; on OpenSearch it is a node attribute no node has, so it excludes nothing"},
	{"write block", "index.blocks.write", true, "a write or read-only block would stop the copy and every write to the target"},
	{"ISM", "index.plugins.index_state_management.policy_id", true, ismWhy},
	{"Open Distro ISM", "index.opendistro.index_state_management.policy_id", true, ismWhy},

	// Kept: what an index is (shards, codec, analysis, mappings limits) and
	// what the copy sets aside and puts back (replicas, refresh).
	{"number of shards", "index.number_of_shards", false, ""},
	{"number of replicas", "index.number_of_replicas", false, ""},
	{"codec", "index.codec", false, ""},
	{"refresh interval", "index.refresh_interval", false, ""},
	{"auto expand replicas", "index.auto_expand_replicas", false, ""},
	{"analysis", "index.analysis.analyzer.lower.tokenizer", false, ""},
	{"default pipeline", "index.default_pipeline", false, ""},
	{"field limit", "index.mapping.total_fields.limit", false, ""},
	// A subtree entry does not take a sibling that shares its first letters.
	{"uuid lookalike", "index.uuids_are_mine", false, ""},
	{"version lookalike", "index.versioning", false, ""},
	{"blocks without a block", "index.blocks", false, ""},
	{"routing partition", "index.routing_partition_size", false, ""},
	{"not archived under index", "index.archived", false, ""},
}

func TestRefused(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			why, refused := Refused(tc.key)
			if refused != tc.refused || why != tc.why {
				t.Fatalf("Refused(%q) = %q, %v; want %q, %v", tc.key, why, refused, tc.why, tc.refused)
			}
		})
	}
}

// Every entry of the list gives the reason for at least one row, so a new
// entry comes with its test and an entry nothing reaches is noticed.
func TestEveryRuleHasARow(t *testing.T) {
	for _, r := range rules {
		found := false
		for _, tc := range cases {
			if tc.refused && matches(r.key, tc.key) && tc.why == r.why && longest(tc.key) == r.key {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no row of the table is refused by %q", r.key)
		}
	}
}

// longest is the key of the entry that gives a setting's reason.
func longest(key string) string {
	out := ""
	for _, r := range rules {
		if matches(r.key, key) && len(r.key) > len(out) {
			out = r.key
		}
	}
	return out
}

// Two entries with one key would make the reason depend on the order.
func TestNoDuplicateKeys(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.key] {
			t.Errorf("%q listed twice", r.key)
		}
		seen[r.key] = true
		if r.why == "" {
			t.Errorf("%q has no reason", r.key)
		}
	}
}
