package migrate

import (
	"fmt"
	"strings"
	"time"
)

// Cut-over strategies (field notes §1).
const (
	// Push: shippers already write to the target, so the snapshot's indices
	// are restored beside the live ones under a suffix.
	Push = "push"
	// Pull: the snapshot is restored under its own names first, then the
	// poller is switched and drops documents whose index and _id exist.
	Pull = "pull"
)

// DefaultRenameSuffix is what push appends to restored index names.
const DefaultRenameSuffix = "-restored"

// SnapshotName names the migration's snapshot after the time the
// pre-flight ran, to the second, so every execution gets its own snapshot
// and a rerun never restores an older execution's one by accident.
func SnapshotName(prefix string, now time.Time) string {
	if prefix == "" {
		prefix = "migration"
	}
	return strings.ToLower(prefix) + "-" + now.UTC().Format("2006.01.02-150405")
}

// NodeDisk is one data node's disk as _cat/allocation reports it.
type NodeDisk struct {
	Node  string `json:"node"`
	Total int64  `json:"total_bytes"`
	Avail int64  `json:"avail_bytes"`
}

// DiskCheck is the result of CheckDisk, reported by the pre-flight.
type DiskCheck struct {
	NeededBytes    int64   `json:"needed_bytes"`
	AvailBytes     int64   `json:"avail_bytes"`
	TotalBytes     int64   `json:"total_bytes"`
	HeadroomRatio  float64 `json:"headroom_ratio"`
	RemainingBytes int64   `json:"remaining_bytes_after_restore"`
}

// CheckDisk decides whether the target can take needed bytes (the source
// indices' store size, primaries and replicas) and still keep headroom (a
// fraction of its total disk) free, so the restore does not push the
// domain past its high disk watermark, where the engine stops allocating
// shards and the restore would hang half done. Nodes without disk figures
// (the UNASSIGNED row) are ignored; no node with figures is an error.
func CheckDisk(needed int64, nodes []NodeDisk, headroom float64) (DiskCheck, error) {
	c := DiskCheck{NeededBytes: needed, HeadroomRatio: headroom}
	n := 0
	for _, d := range nodes {
		if d.Total <= 0 {
			continue
		}
		n++
		c.TotalBytes += d.Total
		c.AvailBytes += d.Avail
	}
	if n == 0 {
		return c, fmt.Errorf("the target reports no data node with disk figures; cannot check free space")
	}
	c.RemainingBytes = c.AvailBytes - needed
	keep := int64(float64(c.TotalBytes) * headroom)
	if c.RemainingBytes < keep {
		return c, fmt.Errorf("the target lacks disk space: the restore needs %s, %s are free of %s, and %s (%.0f%%) must stay free; add storage to the target or migrate fewer indices",
			bytesString(needed), bytesString(c.AvailBytes), bytesString(c.TotalBytes), bytesString(keep), headroom*100)
	}
	return c, nil
}

func bytesString(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
