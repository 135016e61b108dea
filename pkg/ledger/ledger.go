package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/reindex"
)

// Name is the ledger index on the target. It starts with a dot and is
// hidden, so no user pattern ("*", "logs-*") selects it: a migration,
// snapshot, restore or retention of the user's indices never touches it.
const Name = ".essnap-ledger"

// Document kinds.
const (
	KindMigration = "migration"
	KindIndex     = "index"
)

// Migration statuses.
const (
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
)

// Phases, in the order the workflow runs them.
const (
	PhasePlanned  = "planned"
	PhaseMetadata = "metadata"
	PhaseSnapshot = "snapshot"
	PhaseRestore  = "restore"
	PhaseReindex  = "reindex"
	PhaseVerify   = "verify"
	PhaseReplicas = "replicas"
	PhaseDone     = "done"
)

// Migration is the one document per migration: what the pre-flight
// decided for the whole run, where it is, and its report.
type Migration struct {
	Kind      string `json:"kind"`
	Migration string `json:"migration"`
	// Execution is the Step Functions execution that last ran it; a rerun
	// of the same migration replaces it and resumes.
	Execution    string         `json:"execution"`
	Runs         int            `json:"runs"`
	Status       string         `json:"status"`
	Phase        string         `json:"phase"`
	Strategy     string         `json:"strategy"`
	Method       string         `json:"method"`
	RenameSuffix string         `json:"rename_suffix,omitempty"`
	Snapshot     string         `json:"snapshot,omitempty"`
	SourceEngine migrate.Engine `json:"source_engine"`
	TargetEngine migrate.Engine `json:"target_engine"`
	// Source and Target are the endpoints, without credentials.
	Source string `json:"source"`
	Target string `json:"target"`
	// Reindex is the reindex path's tuning; its items live in the index
	// documents.
	Reindex   reindex.Plan `json:"reindex"`
	Counts    Counts       `json:"counts"`
	StartedAt string       `json:"started_at"`
	UpdatedAt string       `json:"updated_at"`
	Failure   *Failure     `json:"failure,omitempty"`
	Report    *Report      `json:"report,omitempty"`
	// Settings are cluster settings the migration changed on the target,
	// with the values to put back (issue 24 records them here).
	Settings map[string]any `json:"settings,omitempty"`
}

// Counts are the migration's sizes, from the pre-flight.
type Counts struct {
	Indices  int   `json:"indices"`
	Snapshot int   `json:"snapshot"`
	Reindex  int   `json:"reindex"`
	Docs     int64 `json:"docs"`
	Bytes    int64 `json:"bytes"`
	Shards   int   `json:"shards"`
}

// Failure is why a run stopped, recorded by the cleanup step.
type Failure struct {
	Step      string   `json:"step"`
	Error     string   `json:"error"`
	Cause     string   `json:"cause"`
	At        string   `json:"at"`
	Cancelled []string `json:"cancelled_tasks,omitempty"`
}

// Report is the finished migration's totals; the per-index rows are the
// index documents.
type Report struct {
	Status    string             `json:"status"`
	Indices   int                `json:"indices"`
	Verified  int                `json:"verified"`
	Source    int64              `json:"source_docs"`
	Target    int64              `json:"target_docs"`
	Bytes     int64              `json:"target_bytes"`
	Copied    int64              `json:"copied_docs"`
	Skipped   int64              `json:"skipped_docs"`
	Durations map[string]float64 `json:"durations_seconds,omitempty"`
	Compared  string             `json:"compared"`
	At        string             `json:"at"`
}

// Index is the one document per migrated index.
type Index struct {
	Kind      string `json:"kind"`
	Migration string `json:"migration"`
	Source    string `json:"source"`
	Target    string `json:"target"`
	// Method is snapshot or reindex (migrate.Snapshot, migrate.Reindex).
	Method   string `json:"method"`
	Created  int64  `json:"created_version_id"`
	Docs     int64  `json:"docs"`
	Bytes    int64  `json:"bytes"`
	Shards   int    `json:"shards"`
	Replicas int    `json:"replicas"`
	// Item is the reindex path's state of this index (method reindex).
	Item *reindex.Item `json:"item,omitempty"`
	// Finished is true once the copy is complete: restored, or every part
	// copied and the index's own settings back.
	Finished bool                  `json:"finished"`
	Verified bool                  `json:"verified"`
	Verdict  *migrate.IndexVerdict `json:"verdict,omitempty"`
	// ReplicasSet: the source's replica count is back on the target index.
	ReplicasSet bool `json:"replicas_set"`
}

// Mapping is the ledger index's mapping: only the fields the steps query
// are indexed; the rest is stored as it is (dynamic false), so no document
// can grow the mapping.
var Mapping = map[string]any{
	"dynamic": false,
	"properties": map[string]any{
		"kind":         map[string]any{"type": "keyword"},
		"migration":    map[string]any{"type": "keyword"},
		"source":       map[string]any{"type": "keyword"},
		"method":       map[string]any{"type": "keyword"},
		"status":       map[string]any{"type": "keyword"},
		"finished":     map[string]any{"type": "boolean"},
		"verified":     map[string]any{"type": "boolean"},
		"replicas_set": map[string]any{"type": "boolean"},
	},
}

// Settings are the ledger index's settings: hidden (no wildcard selects
// it), one shard, a replica where the domain has a second node.
var Settings = map[string]any{
	"index.hidden":               true,
	"index.number_of_shards":     1,
	"index.auto_expand_replicas": "0-1",
}

// MigrationID is the document id of a migration.
func MigrationID(migration string) string { return migration }

// IndexID is the document id of one index of a migration.
func IndexID(migration, source string) string { return migration + "|" + source }

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidateName checks an operator-given migration name.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("migration %q must be 1-64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit", config.Short(name))
	}
	return nil
}

// DeriveName names a migration from what makes it the same migration:
// both endpoints, the selection, strategy, method and suffix. A rerun with
// the same input finds the same ledger documents and resumes.
func DeriveName(source, target string, indices []string, strategy, method, suffix string) string {
	sel := append([]string(nil), indices...)
	sort.Strings(sel)
	h := sha256.Sum256([]byte(strings.Join([]string{source, target, strings.Join(sel, ","), strategy, method, suffix}, "\n")))
	return "m-" + hex.EncodeToString(h[:8])
}
