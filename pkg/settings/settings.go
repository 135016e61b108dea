package settings

import "strings"

// tierWhy is why the data-tier allocation filters are refused: on
// OpenSearch _tier and _tier_preference are plain node attributes no node
// has.
const tierWhy = "Elasticsearch data tiers; on OpenSearch it is a node attribute no node has, so shards would stay unassigned"

// ismWhy is why ISM settings are refused: which policy manages an index is
// the target's own ISM policies' business, not a copy of the source's.
const ismWhy = "ISM assignment belongs to the target's own ISM policy"

// rules is the one list, each entry with the reason reported for a
// setting it refuses. A key ending in "." refuses everything under it; a
// key ending in "*" refuses every key that starts with the rest; any other
// key refuses itself and everything under it. Where entries overlap, the
// longest match gives the reason (the data-tier filters within the
// allocation filters).
var rules = []struct{ key, why string }{
	// Set by the engine itself: a create request carrying them is refused.
	{"index.uuid", "engine-owned"},
	{"index.creation_date", "engine-owned"},
	{"index.provided_name", "engine-owned"},
	{"index.version.", "engine-owned"},
	{"index.history.uuid", "engine-owned"},
	{"index.resize.", "engine-owned"},
	{"index.shrink.", "engine-owned"},
	{"index.verified_before_close", "engine-owned"},
	{"index.format", "engine-owned"},
	{"archived.", "archived by the source engine"},
	// Elasticsearch-only or gone from the engines a migration targets.
	{"index.frozen", "Elasticsearch-only"},
	{"index.search.throttled", "Elasticsearch-only"},
	{"index.soft_deletes.enabled", "OpenSearch 2 and later always keep soft deletes"},
	{"index.translog.retention.", "ignored since soft deletes"},
	{"index.mapper.dynamic", "removed setting"},
	// The source cluster's nodes, lifecycle and state.
	{"index.lifecycle.", "Elasticsearch ILM; lifecycle policies do not travel: create an ISM policy on the target (docs/migration.md)"},
	{"index.routing.allocation.", "names the source's nodes or tiers"},
	{"index.routing.allocation.include._tier*", tierWhy},
	{"index.routing.allocation.require._tier*", tierWhy},
	{"index.routing.allocation.exclude._tier*", "Elasticsearch data tiers; on OpenSearch it is a node attribute no node has, so it excludes nothing"},
	{"index.blocks.", "a write or read-only block would stop the copy and every write to the target"},
	{"index.plugins.index_state_management.", ismWhy},
	{"index.opendistro.index_state_management.", ismWhy},
}

// Refused reports whether a target index or template must not get the
// setting, and why, for every engine pair: the reindex path and the
// metadata step both ask it, so neither can carry what the other drops,
// and the reason an operator reads is the same in both reports. key is the flat full key as a
// flat_settings answer names it ("index.routing.allocation.require.box",
// "archived.index.x"): callers holding nested templates or keys without
// the "index." prefix normalize first. Values do not matter: a refused
// setting is refused whatever it is set to.
func Refused(key string) (why string, refused bool) {
	best := -1
	for _, r := range rules {
		if len(r.key) > best && matches(r.key, key) {
			best, why = len(r.key), r.why
		}
	}
	return why, best >= 0
}

// matches applies one entry's key to a setting key (see rules).
func matches(rule, key string) bool {
	switch {
	case strings.HasSuffix(rule, "*"):
		return strings.HasPrefix(key, strings.TrimSuffix(rule, "*"))
	case strings.HasSuffix(rule, "."):
		return strings.HasPrefix(key, rule)
	default:
		return key == rule || strings.HasPrefix(key, rule+".")
	}
}
