package migrate

import "fmt"

// IndexCounts is what verify reads for one migrated index.
type IndexCounts struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// SourceDocs is the source index's document count at verification time.
	SourceDocs int64 `json:"source_docs"`
	// TargetDocs is the target index's document count (the restored copy
	// for push; the restored index plus what the poller added for pull).
	TargetDocs   int64  `json:"target_docs"`
	TargetHealth string `json:"target_health"`
	TargetBytes  int64  `json:"target_bytes"`
	// IDsChecked is true when every source _id was looked up on the target;
	// MissingIDs counts those absent and Missing shows a few.
	IDsChecked bool     `json:"ids_checked"`
	MissingIDs int64    `json:"missing_ids"`
	Missing    []string `json:"missing_sample,omitempty"`
	// DuplicateIDs counts target documents whose _id another target
	// document already has (pull: a replay without the original routing);
	// Duplicates shows a few.
	DuplicateIDs int64    `json:"duplicate_ids"`
	Duplicates   []string `json:"duplicate_sample,omitempty"`
}

// IndexVerdict is IndexCounts judged: OK, or the problem in words.
type IndexVerdict struct {
	IndexCounts
	OK      bool   `json:"ok"`
	Problem string `json:"problem,omitempty"`
	Note    string `json:"note,omitempty"`
}

// Judge applies the strategy's comparison to one index. It is the single
// definition of "verified" (docs/migration.md repeats it):
//
// push: nothing writes to the source after the shippers were switched, so
// the restored copy must hold exactly the source index's documents:
// target count == source count. More on the source means documents arrived
// after the snapshot (a shipper was not switched); they are not on the
// target.
//
// pull: the restored index also receives the poller's documents after the
// switch, so target count >= source count, and every source _id must be on
// the target exactly once (checked when the index is small enough). The
// same _id can exist twice in one index: op_type create checks only the
// shard the routing points to, so a replay that drops a document's custom
// routing creates a second copy in another shard.
//
// Both: the target index must not be red.
func Judge(strategy string, c IndexCounts) IndexVerdict {
	v := IndexVerdict{IndexCounts: c, OK: true}
	fail := func(format string, args ...any) {
		if v.OK {
			v.OK, v.Problem = false, fmt.Sprintf(format, args...)
		}
	}
	if c.TargetHealth == "red" {
		fail("target index %s is red: some primary shards are not allocated", c.Target)
	}
	switch strategy {
	case Push:
		switch {
		case c.SourceDocs > c.TargetDocs:
			fail("source index %s has %d documents, its restored copy %s %d: %d documents reached the source after the snapshot (was every shipper switched to the target first?)", c.Source, c.SourceDocs, c.Target, c.TargetDocs, c.SourceDocs-c.TargetDocs)
		case c.SourceDocs < c.TargetDocs:
			fail("restored copy %s has %d documents, more than the source index %s (%d): something wrote to the restored copy or deleted from the source", c.Target, c.TargetDocs, c.Source, c.SourceDocs)
		}
	case Pull:
		if c.TargetDocs < c.SourceDocs {
			fail("target index %s has %d documents, fewer than the source index %s (%d)", c.Target, c.TargetDocs, c.Source, c.SourceDocs)
		}
		if c.IDsChecked && c.MissingIDs > 0 {
			fail("%d documents of source index %s are missing on the target %s (e.g. %v): the poller did not replay everything written after the snapshot", c.MissingIDs, c.Source, c.Target, c.Missing)
		}
		if c.IDsChecked && c.DuplicateIDs > 0 {
			fail("%d _ids appear more than once on the target %s (e.g. %v): the poller's replay wrote second copies into other shards, which happens when it omits the documents' original routing; delete the copies without routing, and make the replay carry each document's routing", c.DuplicateIDs, c.Target, c.Duplicates)
		}
		if !c.IDsChecked {
			v.Note = "document ids not compared (index larger than max_id_check); counts only"
		}
	default:
		fail("unknown strategy %q", strategy)
	}
	return v
}
