// Package engine is essnap's one way of talking to a domain: every call to
// Elasticsearch 7.10 or OpenSearch 1.3, 2.x and 3.x goes through Ops, over
// the signed client of pkg/esclient. Its files follow the engines' API
// families: repositories and snapshots, restore, indices and settings,
// replicas, reindex and tasks, templates and pipelines, cluster and nodes,
// security reads.
//
// Operations check before they act: a create whose answer was lost looks
// for the snapshot instead of sending the create again, and a restore lists
// every index it would collide with before it sends anything. Errors carry
// pkg/failure's causes (failure.ErrOutcomeUnknown, ...) so failure can type
// them without importing this package. The pure policies behind the calls
// (naming, selection, renaming, retention, reindex plans) live in their own
// packages and never touch the network.
package engine
