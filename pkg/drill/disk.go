package drill

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Watermark is the engine's low disk watermark, in one of its two forms:
// a share of the disk that may be used (Used, from "85%" or "0.85"), or an
// amount that must stay free (Free, from "500mb"). The engine allocates no
// shard (restored ones included) to a node past it.
type Watermark struct {
	Used float64 `json:"used_fraction,omitempty"`
	Free int64   `json:"free_bytes,omitempty"`
	Raw  string  `json:"raw"`
}

// byteUnits are the engines' byte-size suffixes (ByteSizeValue), longest first.
var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"pb", 1 << 50}, {"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10},
	{"p", 1 << 50}, {"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1},
}

// ParseWatermark reads a watermark as the engines write it: "85%",
// "85.5%", a ratio "0.85", or a byte size "500mb", "10gb", "1024b".
func ParseWatermark(s string) (Watermark, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	w := Watermark{Raw: s}
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f < 0 || f > 100 {
			return w, fmt.Errorf("low watermark %q: not a percentage", s)
		}
		w.Used = f / 100
		return w, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || f > 1 {
			return w, fmt.Errorf("low watermark %q: a ratio must be in [0, 1]", s)
		}
		w.Used = f
		return w, nil
	}
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err != nil || f < 0 {
				break
			}
			w.Free = int64(math.Ceil(f * u.mult))
			return w, nil
		}
	}
	return w, fmt.Errorf("low watermark %q: neither a percentage, a ratio nor a byte size", s)
}

// Node is one data node's disk.
type Node struct {
	Node  string `json:"node"`
	Total int64  `json:"total"`
	Avail int64  `json:"avail"`
}

// DiskCheck is the drill's disk verdict, in its report.
type DiskCheck struct {
	Watermark Watermark `json:"low_watermark"`
	// Room is what the data nodes can take before the low watermark:
	// per node, available minus what the watermark keeps free, summed.
	Room int64 `json:"room_bytes"`
	// Need is the sample's size in the snapshot (replicas 0: one copy).
	Need int64 `json:"need_bytes"`
	Fits bool  `json:"fits"`
}

// CheckDisk decides whether need bytes fit on the nodes below the low
// watermark. The sum over nodes is the best case (the engine balances
// shards, not bytes); a drill that fits only just may still leave a shard
// unassigned, which the drill then reports as not recovered.
func CheckDisk(nodes []Node, w Watermark, need int64) (DiskCheck, error) {
	c := DiskCheck{Watermark: w, Need: need}
	for _, n := range nodes {
		if n.Total <= 0 {
			continue // the row for unassigned shards
		}
		keep := w.Free
		if w.Free == 0 {
			keep = n.Total - int64(math.Floor(float64(n.Total)*w.Used+1e-9))
		}
		if r := n.Avail - keep; r > 0 {
			c.Room += r
		}
	}
	c.Fits = need <= c.Room
	if !c.Fits {
		return c, fmt.Errorf("the drill would restore %d bytes, but the data nodes have room for %d bytes before the low disk watermark (%s); lower max_bytes, restore fewer indices, or add disk", need, c.Room, w.Raw)
	}
	return c, nil
}
