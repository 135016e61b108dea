// Package drill holds the pure policy of a restore drill, which proves on
// a schedule that a snapshot restores and measures how long it takes: the
// names a drill restores under (essnap-drill-<yyyy.MM.dd>-<index>) and the
// filter that decides which indices a drill may delete, the sample it
// restores (indices, max_bytes), the free-disk check against the low
// watermark, the document counts take-snapshot records and what a restored
// count means (fewer fails, more is normal for an index still written).
//
// Nothing here talks to a domain; the drill handler (pkg/handler) feeds it
// what engine.Ops read, so every decision is table-tested.
package drill
