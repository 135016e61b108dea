package reindex

import "math"

// IndexReport is one index's copy: documents created (conflicts are
// documents already there: the poller's, or a rerun's), bytes (the
// source's primary store size), wall-clock seconds from its first task's
// start to its last task's end, and the rates.
type IndexReport struct {
	Source       string  `json:"source"`
	Target       string  `json:"target"`
	Method       string  `json:"method"`
	Parts        int     `json:"parts"`
	Attempts     int     `json:"attempts"`
	Documents    int64   `json:"documents"`
	Conflicts    int64   `json:"conflicts"`
	Bytes        int64   `json:"bytes"`
	Seconds      float64 `json:"seconds"`
	DocsPerSec   float64 `json:"docs_per_second"`
	MBPerSec     float64 `json:"mb_per_second"`
	Done         bool    `json:"done"`
	DroppedCount int     `json:"dropped_settings"`
}

// Report is the reindex path's part of the migration report.
type Report struct {
	// Skipped: no index went by reindex.
	Skipped bool          `json:"skipped,omitempty"`
	Indices []IndexReport `json:"indices,omitempty"`
	Total   *IndexReport  `json:"total,omitempty"`
}

// MakeReport sums the plan; nowMs ends parts still running.
func (p Plan) MakeReport(nowMs int64) Report {
	r := Report{Indices: []IndexReport{}, Total: &IndexReport{Source: "*", Target: "*", Method: "reindex", Done: true}}
	var first, last int64
	for _, it := range p.Items {
		ir := IndexReport{Source: it.Source, Target: it.Target, Method: "reindex", Parts: len(it.Parts), Bytes: it.Bytes, Done: it.Finished, DroppedCount: it.Dropped}
		var s, e int64
		for _, pt := range it.Parts {
			ir.Documents += pt.Created
			ir.Conflicts += pt.Conflicts
			ir.Attempts += pt.Attempts
			if pt.StartMs > 0 && (s == 0 || pt.StartMs < s) {
				s = pt.StartMs
			}
			end := pt.EndMs
			if end == 0 && pt.StartMs > 0 {
				end = nowMs
			}
			if end > e {
				e = end
			}
		}
		ir.rates(s, e)
		if s > 0 && (first == 0 || s < first) {
			first = s
		}
		if e > last {
			last = e
		}
		r.Total.Parts += ir.Parts
		r.Total.Attempts += ir.Attempts
		r.Total.Documents += ir.Documents
		r.Total.Conflicts += ir.Conflicts
		r.Total.Bytes += ir.Bytes
		r.Total.DroppedCount += ir.DroppedCount
		r.Total.Done = r.Total.Done && ir.Done
		r.Indices = append(r.Indices, ir)
	}
	r.Total.rates(first, last)
	return r
}

func (ir *IndexReport) rates(startMs, endMs int64) {
	if startMs <= 0 || endMs < startMs {
		return
	}
	ir.Seconds = float64(endMs-startMs) / 1000
	if ir.Seconds > 0 {
		ir.DocsPerSec = math.Round(float64(ir.Documents) / ir.Seconds)
		ir.MBPerSec = math.Round(float64(ir.Bytes)/ir.Seconds/1e6*100) / 100
	}
}
