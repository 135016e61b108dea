//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/handler"
)

// The handlers, wired as in production but unsigned, stop on a PARTIAL
// snapshot with SnapshotFailedError: a workflow never restores it.
func TestHandlersReportPartialAsFailure(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "hp-*")
			t.Cleanup(func() { deleteIndices(t, e, "hp-*") })
			seed(t, e, "hp-ok", 3)
			mustRaw(t, e, "PUT", "/hp-red?wait_for_active_shards=0", `{"settings":{"number_of_shards":1,"number_of_replicas":0,"index.routing.allocation.require._name":"no-such-node"}}`)
			now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
			env := map[string]string{
				"ESSNAP_REPOSITORY": "it-hp", "ESSNAP_REPOSITORY_TYPE": "fs",
				"ESSNAP_FS_LOCATION": filepath.Join(repoRoot(t), "it", e.Name, "hp", time.Now().Format("150405.000")),
			}
			d := deps(e, env, now)
			t.Cleanup(func() { deleteRepo(t, e, "it-hp") })
			if _, err := (handler.RegisterRepo{Deps: d}).Invoke(context.Background(), json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			_, err := (handler.TakeSnapshot{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"indices":["hp-*"],"partial":true,"wait_for_completion":true}`))
			if typeName(err) != "SnapshotFailedError" {
				t.Fatalf("PARTIAL snapshot: %T %v", err, err)
			}
			_, err = (handler.CheckProgress{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"snapshot":"nightly-2026.11.24"}`))
			if typeName(err) != "SnapshotFailedError" {
				t.Fatalf("check-progress on PARTIAL: %T %v", err, err)
			}
			// The restore of "latest" skips the PARTIAL snapshot: none succeeded.
			_, err = (handler.Restore{Deps: d}).Invoke(context.Background(), json.RawMessage(`{"rename_suffix":"-r"}`))
			if typeName(err) != "SnapshotMissingError" {
				t.Fatalf("restore latest with only a PARTIAL snapshot: %T %v", err, err)
			}
		})
	}
}
