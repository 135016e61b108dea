package drill

import (
	"fmt"
	"sort"
)

// Skipped is an index of the snapshot the drill did not restore, and why.
type Skipped struct {
	Index  string `json:"index"`
	Bytes  int64  `json:"bytes"`
	Reason string `json:"reason"`
}

// Sample picks which of the candidate indices (already narrowed by the
// indices patterns, system indices left out) a drill restores. Without a
// budget (maxBytes <= 0) it takes all. With one, it goes through the
// candidates, those with a recorded document count first (a drill can
// only check their counts), each group in name order, and takes every
// index that still fits: the sample is deterministic, and one large index
// does not crowd out the smaller ones after it. sizes are the snapshot's
// per-index sizes; an index without a size counts as 0 bytes.
func Sample(candidates []string, sizes map[string]int64, recorded map[string]int64, maxBytes int64) (take []string, skipped []Skipped, bytes int64) {
	order := append([]string(nil), candidates...)
	sort.SliceStable(order, func(i, j int) bool {
		_, ri := recorded[order[i]]
		_, rj := recorded[order[j]]
		if ri != rj {
			return ri
		}
		return order[i] < order[j]
	})
	for _, n := range order {
		sz := sizes[n]
		if maxBytes > 0 && bytes+sz > maxBytes {
			skipped = append(skipped, Skipped{Index: n, Bytes: sz, Reason: fmt.Sprintf("does not fit max_bytes %d (%d bytes already taken)", maxBytes, bytes)})
			continue
		}
		take = append(take, n)
		bytes += sz
	}
	sort.Strings(take)
	return take, skipped, bytes
}
