package reindex

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Part states.
const (
	Pending = "pending"
	Running = "running"
	Done    = "done"
	Failed  = "failed"
)

// Remote is where the target reaches the source (field notes §9): the
// source endpoint with an explicit port, and its region when it differs
// from the target's.
type Remote struct {
	Host   string `json:"host"`
	Region string `json:"region,omitempty"`
}

// Part is one task's share of an index: all of it, or a range of the
// split field. Lt and Gte are bounds on the field (epoch milliseconds for
// dates); the first part also takes the documents without the field, so
// the parts together hold every document exactly once.
type Part struct {
	Gte     *int64 `json:"gte,omitempty"`
	Lt      *int64 `json:"lt,omitempty"`
	Missing bool   `json:"missing,omitempty"`
	State   string `json:"state"`
	Task    string `json:"task,omitempty"`
	// Attempts counts the starts; a part that vanished (the target
	// restarted) or whose task failed as a whole is started again.
	Attempts int `json:"attempts,omitempty"`
	// MissedMs is when the target first did not know the task: a task is
	// vanished only when it is still unknown VanishAfterMs later, because
	// an engine may answer 404 in the moment between a task's end and the
	// storing of its result.
	MissedMs  int64  `json:"missed_ms,omitempty"`
	Total     int64  `json:"total,omitempty"`
	Created   int64  `json:"created,omitempty"`
	Conflicts int64  `json:"conflicts,omitempty"`
	StartMs   int64  `json:"start_ms,omitempty"`
	EndMs     int64  `json:"end_ms,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Item is one index copied by reindex.
type Item struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// Field splits the index into Parts; empty when it is one part.
	Field     string `json:"field,omitempty"`
	FieldType string `json:"field_type,omitempty"`
	Docs      int64  `json:"docs"`
	Bytes     int64  `json:"bytes"`
	// Existing: the target index was there (pull: the switched poller or
	// a template made it); it is used as it is, its settings untouched.
	// An index with the copy's settings (refresh_interval -1), left by an
	// earlier run that failed, is taken over instead.
	Existing bool `json:"existing,omitempty"`
	// Prepared: the target index exists with the copy's settings;
	// Finished: the source's settings are back and the index refreshed.
	Prepared bool `json:"prepared,omitempty"`
	Finished bool `json:"finished,omitempty"`
	// After are the settings Finished puts back (Translate's After).
	After map[string]any `json:"after,omitempty"`
	// Aliases are added once the copy is done, with their filter and
	// routing (pull only: under push the live indices hold the names).
	Aliases map[string]any `json:"aliases,omitempty"`
	// Dropped counts the source settings the target index did not get;
	// the reindex function logs each with its reason (the plan travels in
	// the execution's state, which must stay small).
	Dropped int    `json:"dropped_settings,omitempty"`
	Parts   []Part `json:"parts"`
}

// Plan is the reindex path's whole state. The state machine carries it
// from one invocation to the next, so every invocation starts where the
// last one ended and a lost invocation costs only the tasks it started
// (their parts run again; op_type create skips what they wrote).
type Plan struct {
	Remote        Remote `json:"remote"`
	MaxConcurrent int    `json:"max_concurrent"`
	BatchSize     int    `json:"batch_size"`
	MaxAttempts   int    `json:"max_attempts"`
	// CheckSeconds is how long one invocation polls its tasks.
	CheckSeconds int    `json:"check_seconds"`
	Items        []Item `json:"items"`
	StartMs      int64  `json:"start_ms,omitempty"`
}

// Defaults for the pre-flight's reindex fields.
const (
	DefaultMaxConcurrent = 4
	DefaultBatchSize     = 5000
	DefaultSplitDocs     = 250_000
	DefaultMaxAttempts   = 3
	DefaultCheckSeconds  = 240
	// VanishAfterMs is how long a task must stay unknown to the target
	// before its part runs again.
	VanishAfterMs = 2000
	// MaxParts bounds one index's split: enough to keep every task slot of
	// a large domain busy, few enough that the plan stays small.
	MaxParts = 16
)

// PartCount is how many parts an index of docs documents is split into:
// one per splitDocs, at most MaxParts, one when splitDocs is 0.
func PartCount(docs, splitDocs int64) int {
	if splitDocs <= 0 || docs <= splitDocs {
		return 1
	}
	n := (docs + splitDocs - 1) / splitDocs
	if n > MaxParts {
		n = MaxParts
	}
	return int(n)
}

// Percents are the percentiles whose values cut an index into n parts of
// about equal document counts.
func Percents(n int) []float64 {
	out := make([]float64, 0, n-1)
	for i := 1; i < n; i++ {
		out = append(out, math.Round(10000*float64(i)/float64(n))/100)
	}
	return out
}

// SplitParts cuts the field's line at the given values (percentiles, in
// any order, duplicates allowed): the first part takes everything below
// the first cut and every document without the field, the last everything
// from the last cut up. Whatever the values, each document falls in
// exactly one part ("lt b" and "gte b" are complements).
func SplitParts(values []float64) []Part {
	var cuts []int64
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		cuts = append(cuts, int64(math.Round(v)))
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i] < cuts[j] })
	cuts = dedupe(cuts)
	parts := make([]Part, 0, len(cuts)+1)
	var lo *int64
	for i := range cuts {
		hi := cuts[i]
		parts = append(parts, Part{Gte: lo, Lt: &hi, State: Pending})
		lo = &cuts[i]
	}
	parts = append(parts, Part{Gte: lo, State: Pending})
	parts[0].Missing = len(parts) > 1
	return parts
}

func dedupe(s []int64) []int64 {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Query is the part's source query; nil for a whole index.
func (it Item) Query(p Part) map[string]any {
	if it.Field == "" || (p.Gte == nil && p.Lt == nil) {
		return nil
	}
	r := map[string]any{}
	if p.Gte != nil {
		r["gte"] = *p.Gte
	}
	if p.Lt != nil {
		r["lt"] = *p.Lt
	}
	if it.FieldType == "date" || it.FieldType == "date_nanos" {
		r["format"] = "epoch_millis"
	}
	rq := map[string]any{"range": map[string]any{it.Field: r}}
	if !p.Missing {
		return rq
	}
	return map[string]any{"bool": map[string]any{"minimum_should_match": 1, "should": []any{
		rq, map[string]any{"bool": map[string]any{"must_not": map[string]any{"exists": map[string]any{"field": it.Field}}}},
	}}}
}

// Request is the _reindex body of one part: the target pulls from the
// source (remote), writes with op_type create and goes on past conflicts,
// so a rerun, or the switched poller's copy of a document, is skipped and
// never duplicated.
func (p Plan) Request(it Item, part Part) map[string]any {
	remote := map[string]any{"host": p.Remote.Host}
	if p.Remote.Region != "" {
		remote["region"] = p.Remote.Region
	}
	src := map[string]any{"remote": remote, "index": it.Source, "size": p.BatchSize}
	if q := it.Query(part); q != nil {
		src["query"] = q
	}
	return map[string]any{"source": src, "dest": map[string]any{"index": it.Target, "op_type": "create"}, "conflicts": "proceed"}
}

// Ref names one part of one item.
type Ref struct{ Item, Part int }

// Running counts the parts with a task.
func (p Plan) Running() int {
	n := 0
	for _, it := range p.Items {
		for _, pt := range it.Parts {
			if pt.State == Running {
				n++
			}
		}
	}
	return n
}

// Startable lists the parts to start now: pending parts of prepared items,
// in plan order (the pre-flight puts the largest index first, so its long
// parts start early), up to max_concurrent running at once.
func (p Plan) Startable() []Ref {
	free := p.MaxConcurrent - p.Running()
	var out []Ref
	for i, it := range p.Items {
		if !it.Prepared {
			continue
		}
		for j, pt := range it.Parts {
			if free <= 0 {
				return out
			}
			if pt.State == Pending {
				out = append(out, Ref{i, j})
				free--
			}
		}
	}
	return out
}

// Outcome is what a task's status says about a part.
type Outcome struct {
	// Vanished: the target knows no such task (it restarted).
	Vanished  bool
	Completed bool
	Total     int64
	Created   int64
	Conflicts int64
	// Error is the task's own failure (the remote read broke, the task was
	// cancelled); Failures are documents the target refused.
	Error    string
	Failures []string
	EndMs    int64
	// Description is the engine's description of the task ("reindex from
	// [...] to [target]"): a task whose description does not name the
	// part's target is not the part's task.
	Description string
}

// TaskOf reports whether a task's description names target as where it
// writes: the engines describe a reindex as "reindex from [...] to
// [target]" (a trailing "[_doc]" on Elasticsearch 7.10 and OpenSearch 1.x).
func TaskOf(description, target string) bool {
	return strings.HasPrefix(description, "reindex from ") && strings.Contains(description, " to ["+target+"]")
}

// Record applies a task outcome to a part: done; refused documents fail
// the part for good (a mapping conflict repeats the same way); a vanished
// or broken task sends the part back to pending until MaxAttempts.
func (p *Plan) Record(r Ref, o Outcome) {
	pt := &p.Items[r.Item].Parts[r.Part]
	if o.Vanished && (pt.MissedMs == 0 || o.EndMs-pt.MissedMs < VanishAfterMs) {
		if pt.MissedMs == 0 {
			pt.MissedMs = o.EndMs
		}
		return // still running as far as the plan knows; asked again next poll
	}
	pt.MissedMs = 0
	if !o.Vanished && !o.Completed {
		pt.Total, pt.Created, pt.Conflicts = o.Total, o.Created, o.Conflicts
		return
	}
	switch {
	case len(o.Failures) > 0:
		pt.State, pt.Task, pt.EndMs = Failed, "", o.EndMs
		pt.Created, pt.Conflicts, pt.Total = o.Created, o.Conflicts, o.Total
		pt.Error = fmt.Sprintf("the target refused documents: %s", strings.Join(o.Failures, "; "))
	case o.Vanished || o.Error != "":
		why := o.Error
		if o.Vanished {
			why = "the task vanished (the target restarted or lost it)"
		}
		pt.Task = ""
		if pt.Attempts >= p.MaxAttempts {
			pt.State, pt.EndMs = Failed, o.EndMs
			pt.Error = fmt.Sprintf("%s; gave up after %d attempts", why, pt.Attempts)
			return
		}
		pt.State, pt.Error = Pending, why
	default:
		pt.State, pt.Task, pt.Error, pt.EndMs = Done, "", "", o.EndMs
		pt.Total, pt.Created, pt.Conflicts = o.Total, o.Created, o.Conflicts
	}
}

// Copied reports whether every part of an item is done.
func (it Item) Copied() bool {
	for _, pt := range it.Parts {
		if pt.State != Done {
			return false
		}
	}
	return true
}

// Done reports whether every item is copied and finished.
func (p Plan) Done() bool {
	for _, it := range p.Items {
		if !it.Finished {
			return false
		}
	}
	return true
}

// Failures lists the failed parts as "index [range]: error".
func (p Plan) Failures() []string {
	var out []string
	for _, it := range p.Items {
		for _, pt := range it.Parts {
			if pt.State == Failed {
				out = append(out, fmt.Sprintf("%s -> %s%s: %s", it.Source, it.Target, it.rangeText(pt), pt.Error))
			}
		}
	}
	return out
}

func (it Item) rangeText(pt Part) string {
	if it.Field == "" || (pt.Gte == nil && pt.Lt == nil) {
		return ""
	}
	lo, hi := "-inf", "+inf"
	if pt.Gte != nil {
		lo = fmt.Sprint(*pt.Gte)
	}
	if pt.Lt != nil {
		hi = fmt.Sprint(*pt.Lt)
	}
	return fmt.Sprintf(" [%s %s, %s)", it.Field, lo, hi)
}

// AfterSetting reports whether Translate can put key into After: the
// settings the copy changes and the finish puts back. Anything else in an
// item's After did not come from Translate.
func AfterSetting(key string) bool {
	return key == "index.refresh_interval" || key == "index.auto_expand_replicas"
}

// CheckParts says what is wrong with an item's parts, or "": the parts
// must hold every document exactly once, as SplitParts makes them. One
// part is the whole index; split parts go from no lower bound to no upper
// bound, each starting where the last ended, the first also taking the
// documents without the field.
func (it Item) CheckParts() string {
	for i, pt := range it.Parts {
		if pt.State != Pending && pt.State != Running && pt.State != Done && pt.State != Failed {
			return fmt.Sprintf("part %d has state %q", i, pt.State)
		}
		if (pt.State == Running) != (pt.Task != "") {
			return fmt.Sprintf("part %d: a running part needs its task id, and only a running part has one", i)
		}
	}
	n := len(it.Parts)
	switch {
	case n == 0:
		return "no parts"
	case n > MaxParts:
		return fmt.Sprintf("%d parts, more than %d", n, MaxParts)
	case n == 1:
		pt := it.Parts[0]
		if pt.Gte != nil || pt.Lt != nil || pt.Missing {
			return "its one part is a range; a one-part index is copied whole"
		}
		return ""
	}
	if it.Field == "" {
		return "split into parts without a split field"
	}
	if it.Parts[0].Gte != nil || !it.Parts[0].Missing {
		return "the first part must start at no lower bound and take the documents without the split field"
	}
	if it.Parts[n-1].Lt != nil {
		return "the last part must end at no upper bound"
	}
	for i := 0; i < n-1; i++ {
		a, b := it.Parts[i], it.Parts[i+1]
		if a.Lt == nil || b.Gte == nil || *a.Lt != *b.Gte {
			return fmt.Sprintf("parts %d and %d leave a gap or overlap: each part must start where the last ended", i, i+1)
		}
		if b.Missing {
			return "only the first part takes the documents without the split field"
		}
		if b.Lt != nil && *b.Gte >= *b.Lt {
			return fmt.Sprintf("part %d is empty or reversed", i+1)
		}
	}
	return ""
}

// Restart sends an item back to the start: its target index is to be
// created again and every part copied again (op_type create skips what is
// already there), as when the target index was removed after a failure.
func (it *Item) Restart() {
	it.Prepared, it.Finished, it.Existing = false, false, false
	for i := range it.Parts {
		it.Parts[i].Retry()
	}
}

// Retry sends a part back to pending with its attempts and counts cleared,
// for a rerun of the migration after the cause of its failure was fixed.
func (p *Part) Retry() {
	*p = Part{Gte: p.Gte, Lt: p.Lt, Missing: p.Missing, State: Pending}
}
