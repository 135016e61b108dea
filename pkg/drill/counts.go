package drill

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Metadata keys take-snapshot writes inside its origin record
// (model.OriginMetadataKey): each index's document count just before the
// snapshot was requested, and how many indices did not fit.
const (
	CountsKey        = "counts"
	CountsOmittedKey = "counts_omitted"
)

// FitCounts keeps as many counts as fit in room bytes of JSON (the
// snapshot metadata's 1024-byte limit less what the rest of it takes):
// the engines refuse larger metadata, so a snapshot of many indices
// records only some. It keeps names in reverse name order, so of dated
// indices (logs-2026.11.24) the newest, which a recovery needs first.
// omitted counts the rest; room for its own entry is kept whenever
// something is left out.
func FitCounts(counts map[string]int64, room int) (kept map[string]int64, omitted int) {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	kept = map[string]int64{}
	// ,"counts":{} and, in the worst case, ,"counts_omitted":<digits>
	used := len(`,"`+CountsKey+`":{}`) + len(`,"`+CountsOmittedKey+`":`) + len(strconv.Itoa(len(names)))
	for _, n := range names {
		k, _ := json.Marshal(n)
		entry := len(k) + 1 + len(strconv.FormatInt(counts[n], 10))
		if len(kept) > 0 {
			entry++ // comma
		}
		if used+entry > room {
			omitted++
			continue
		}
		used += entry
		kept[n] = counts[n]
	}
	return kept, omitted
}

// RecordedCounts reads the counts back from a snapshot's origin record
// (JSON numbers arrive as float64); ok is false when the snapshot has none
// (taken before essnap recorded counts, or by another tool).
func RecordedCounts(origin any) (counts map[string]int64, omitted int, ok bool) {
	o, isMap := origin.(map[string]any)
	if !isMap {
		return nil, 0, false
	}
	raw, isMap := o[CountsKey].(map[string]any)
	if !isMap {
		return nil, 0, false
	}
	counts = make(map[string]int64, len(raw))
	for n, v := range raw {
		if f, isNum := v.(float64); isNum && f >= 0 && f == math.Trunc(f) {
			counts[n] = int64(f)
		}
	}
	if f, isNum := o[CountsOmittedKey].(float64); isNum {
		omitted = int(f)
	}
	return counts, omitted, true
}

// Verdicts of one restored index.
const (
	VerdictOK         = "ok"         // as many documents as recorded
	VerdictMore       = "more"       // more: written between count and snapshot; normal
	VerdictUnrecorded = "unrecorded" // no recorded count: health checked only
	VerdictFewer      = "fewer"      // fewer than recorded: documents lost; fails
	VerdictRed        = "red"        // not every primary shard recovered; fails
)

// Check is one restored index in the drill's report: both counts, so an
// operator sees the difference, not only a verdict.
type Check struct {
	Index    string `json:"index"`
	Target   string `json:"target"`
	Health   string `json:"health"`
	Recorded *int64 `json:"recorded_docs"`
	Restored int64  `json:"restored_docs"`
	Bytes    int64  `json:"bytes"`
	Verdict  string `json:"verdict"`
	Passed   bool   `json:"passed"`
	Reason   string `json:"reason,omitempty"`
}

// Judge decides one restored index. The recorded count was taken just
// before the snapshot was requested, so an index still being written has
// more documents in the snapshot than recorded (normal); fewer means the
// snapshot lost documents, or documents were deleted in between, and fails.
func Judge(index, target, health string, restored int64, recorded map[string]int64) Check {
	c := Check{Index: index, Target: target, Health: health, Restored: restored, Verdict: VerdictOK, Passed: true}
	if r, ok := recorded[index]; ok {
		c.Recorded = &r
		switch {
		case restored < r:
			c.Verdict, c.Passed = VerdictFewer, false
			c.Reason = fmt.Sprintf("%d documents restored, %d recorded before the snapshot: %d missing", restored, r, r-restored)
		case restored > r:
			c.Verdict = VerdictMore
			c.Reason = fmt.Sprintf("%d more than recorded: written between the count and the snapshot", restored-r)
		}
	} else {
		c.Verdict = VerdictUnrecorded
	}
	if health != "green" && health != "yellow" {
		c.Verdict, c.Passed = VerdictRed, false
		c.Reason = fmt.Sprintf("health %q after recovery", health)
	}
	return c
}
