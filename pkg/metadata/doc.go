// Package metadata holds the pure policy of carrying cluster metadata a
// migration needs besides documents: ingest pipelines, component, composable
// and legacy index templates. A snapshot taken with include_global_state
// false (the only safe choice between engine families) carries none of
// them, and in the push cut-over the shippers create the first new daily
// index on the target before the restore: without the source's templates it
// gets dynamic mappings, no pipeline and no alias.
//
// It decides, per item and without I/O: skip what the engine or a plugin
// owns; translate (drop the settings a target must not get, each with its
// reason: the one rule in pkg/settings, shared with the reindex path and
// applied for every engine pair); refuse a pipeline whose processors the
// target lacks; diff against the target (missing, identical, conflicting
// with the differing keys); and what apply does (create, overwrite only when
// asked, nothing). Lifecycle policies are reported, never translated. The
// handler in pkg/handler reads the engines and applies the plan.
package metadata
