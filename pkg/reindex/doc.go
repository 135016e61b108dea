// Package reindex is the policy of the migration's reindex path (issue 12):
// the indices a snapshot cannot carry (OpenSearch 3.x reads no index that
// Elasticsearch 7.x or OpenSearch 1.x created) are copied by the target's
// own remote reindex, several tasks at once, a large index split by ranges
// of a date or numeric field because remote reindex cannot slice.
//
// Everything here is pure: translating a source index definition into the
// target's create body, splitting an index into parts, scheduling parts
// under max_concurrent, recording task outcomes (a vanished or failed task
// reruns its part; op_type create makes reruns skip what is there), and
// the report. The handler in pkg/handler talks to the engines.
package reindex
