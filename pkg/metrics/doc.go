// Package metrics publishes CloudWatch metrics through the Embedded Metric
// Format: one JSON log line per publication, which Lambda's log pipeline
// turns into metrics. No PutMetricData call, no IAM permission, no latency
// on the function's path, and the line is readable in the logs too.
//
// Metrics (namespace from ESSNAP_METRICS_NAMESPACE, dimension Repository):
//
//	SnapshotSucceeded        Count    1 when a run sees a fresh SUCCESS snapshot
//	SnapshotFailed           Count    1 when a run sees PARTIAL or FAILED
//	SnapshotDurationSeconds  Seconds  of a finished snapshot
//	SnapshotSizeBytes        Bytes    total size of a finished snapshot
//	ShardsFailed             Count    of a finished snapshot
//	LastSuccessAgeSeconds    Seconds  age of the newest SUCCESS snapshot
//	RetentionDeletions       Count    snapshots deleted by retention
//	RestoreDrillSucceeded    Count    1 when a restore drill passed
//	RestoreDrillFailed       Count    1 when a drill failed or could not run
//	RestoreDrillSeconds      Seconds  restore request to recovery done
//	RestoreDrillBytesPerSecond Bytes/Second  the drill's recovery rate
//
// The stack's "no successful snapshot for 26 hours" alarm watches
// SnapshotSucceeded.
package metrics
