package handler

import (
	"context"

	"github.com/essnap/essnap/pkg/drill"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/snapshot"
)

// recordCounts adds to the snapshot metadata each selected index's
// document count, read just before the snapshot is requested, for the
// restore drill to compare the restored counts with (docs/drill.md).
// System indices are left out (the drill does not restore them). The
// counts share the metadata's 1024-byte limit: as many as fit are kept
// (drill.FitCounts: newest names first) and counts_omitted says how many
// did not. A count that cannot be read is not worth failing the snapshot
// for: it is logged, and the drill then checks health only.
func (h TakeSnapshot) recordCounts(ctx context.Context, ops Operations, c *SnapshotConfig, meta map[string]any) {
	counts, err := ops.DocCounts(ctx, c.Indices)
	if err != nil {
		h.Log.WarnContext(ctx, "take-snapshot: document counts not recorded; the restore drill will check health only", "error", err.Error())
		return
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	plan, err := snapshot.PlanRestore(names, nil, false, nil, nil)
	if err != nil || len(plan.Indices) == 0 {
		return
	}
	keep := make(map[string]int64, len(plan.Indices))
	for _, n := range plan.Sources() {
		keep[n] = counts[n]
	}
	origin, ok := meta[model.OriginMetadataKey].(map[string]any)
	if !ok {
		return
	}
	kept, omitted := drill.FitCounts(keep, maxMetadataBytes-jsonSize(meta))
	origin[drill.CountsKey] = kept
	if omitted > 0 {
		origin[drill.CountsOmittedKey] = omitted
	}
	if jsonSize(meta) > maxMetadataBytes { // never: FitCounts kept within the room
		delete(origin, drill.CountsKey)
		delete(origin, drill.CountsOmittedKey)
	}
}
