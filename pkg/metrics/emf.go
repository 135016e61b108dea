package metrics

import (
	"encoding/json"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Metric names, shared with template.yaml's alarms.
const (
	SnapshotSucceeded       = "SnapshotSucceeded"
	SnapshotFailed          = "SnapshotFailed"
	SnapshotDurationSeconds = "SnapshotDurationSeconds"
	SnapshotSizeBytes       = "SnapshotSizeBytes"
	ShardsFailed            = "ShardsFailed"
	LastSuccessAgeSeconds   = "LastSuccessAgeSeconds"
	RetentionDeletions      = "RetentionDeletions"
	// Restore drills (the drill function): a passed or failed drill, its
	// time from the restore request to recovery done, and the measured
	// recovery rate; the dashboard and the drill alarms read them.
	RestoreDrillSucceeded      = "RestoreDrillSucceeded"
	RestoreDrillFailed         = "RestoreDrillFailed"
	RestoreDrillSeconds        = "RestoreDrillSeconds"
	RestoreDrillBytesPerSecond = "RestoreDrillBytesPerSecond"
	// A migration's progress, published by every turn of its loops (the
	// reindex step, verify, the replica step) under the Migration
	// dimension: indices finished of all, documents and bytes copied, the
	// copy rate and the time it still needs at that rate.
	MigrationIndicesDone     = "MigrationIndicesDone"
	MigrationIndicesTotal    = "MigrationIndicesTotal"
	MigrationDocumentsCopied = "MigrationDocumentsCopied"
	MigrationBytesCopied     = "MigrationBytesCopied"
	MigrationDocsPerSecond   = "MigrationDocsPerSecond"
	MigrationEtaSeconds      = "MigrationEtaSeconds"
	MigrationIndicesVerified = "MigrationIndicesVerified"
)

// MigrationPrefix starts the name of every migration metric: those carry
// the dimension Migration (the migration's name), the others Repository.
const MigrationPrefix = "Migration"

// units gives each metric its CloudWatch unit, so graphs and alarms read right.
var units = map[string]string{
	SnapshotSucceeded: "Count", SnapshotFailed: "Count", ShardsFailed: "Count", RetentionDeletions: "Count",
	SnapshotDurationSeconds: "Seconds", LastSuccessAgeSeconds: "Seconds", SnapshotSizeBytes: "Bytes",
	RestoreDrillSucceeded: "Count", RestoreDrillFailed: "Count", RestoreDrillSeconds: "Seconds", RestoreDrillBytesPerSecond: "Bytes/Second",
	MigrationIndicesDone: "Count", MigrationIndicesTotal: "Count", MigrationDocumentsCopied: "Count", MigrationBytesCopied: "Bytes",
	MigrationDocsPerSecond: "Count/Second", MigrationEtaSeconds: "Seconds", MigrationIndicesVerified: "Count",
}

// Publisher is what handlers publish through; a nil Publisher is valid and
// publishes nothing, so tests need not care.
type Publisher interface {
	Publish(repository string, values map[string]float64)
}

// EMF writes Embedded Metric Format lines.
type EMF struct {
	W         io.Writer
	Namespace string
	Now       func() time.Time
	mu        sync.Mutex
}

// Publish writes one EMF document for values under dimension Repository.
func (e *EMF) Publish(repository string, values map[string]float64) {
	if e == nil || len(values) == 0 {
		return
	}
	line, err := Format(e.Namespace, repository, values, e.Now())
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.W.Write(append(line, '\n'))
}

// Format builds one EMF document; pure, so its shape is tested exactly.
func Format(namespace, repository string, values map[string]float64, now time.Time) ([]byte, error) {
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	defs := make([]map[string]string, len(names))
	dim := "Repository"
	if len(names) > 0 && strings.HasPrefix(names[0], MigrationPrefix) {
		dim = "Migration"
	}
	doc := map[string]any{dim: repository}
	for i, n := range names {
		unit := units[n]
		if unit == "" {
			unit = "None"
		}
		defs[i] = map[string]string{"Name": n, "Unit": unit}
		doc[n] = values[n]
	}
	doc["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  namespace,
			"Dimensions": [][]string{{dim}},
			"Metrics":    defs,
		}},
	}
	return json.Marshal(doc)
}
