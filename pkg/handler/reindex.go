package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/reindex"
	"github.com/essnap/essnap/pkg/snapshot"
)

// ReindexConfig is the reindex function's configuration: both domains and
// the plan (the pre-flight's, then each invocation's answer), which also
// says how long one invocation polls.
type ReindexConfig struct {
	Source Domain       `json:"source"`
	Target Domain       `json:"target" envprefix:"TARGET_"`
	Plan   reindex.Plan `json:"plan"`
	errs   problems
}

// LoadReindexConfig applies defaults, environment and event, in that order.
func LoadReindexConfig(getenv func(string) string, raw []byte) ReindexConfig {
	var c ReindexConfig
	c.errs, _ = load(&c, getenv, raw)
	return c
}

// Validate reports every problem at once.
func (c ReindexConfig) Validate() error {
	p := append(problems(nil), c.errs...)
	validateDomains(&p, c.Source, c.Target)
	pl := c.Plan
	validReindexTuning(&p, "plan.", pl)
	if len(pl.Items) == 0 {
		p.add("plan has no items; pass the pre-flight's reindex plan ($.preflight.reindex), then each answer's plan")
	}
	if pl.Remote.Host == "" {
		p.add("plan.remote.host is empty; the pre-flight sets it from source.endpoint (or remote_host)")
	}
	targets := map[string]bool{}
	for i, it := range pl.Items {
		if targets[it.Target] {
			p.add("plan.items[%d]: target %s appears twice", i, it.Target)
		}
		targets[it.Target] = true
		for j, pt := range it.Parts {
			switch {
			case pt.State != reindex.Pending && pt.State != reindex.Running && pt.State != reindex.Done && pt.State != reindex.Failed:
				p.add("plan.items[%d].parts[%d].state %q is not pending, running, done or failed", i, j, pt.State)
			case (pt.State == reindex.Running) != (pt.Task != ""):
				p.add("plan.items[%d].parts[%d]: a running part needs its task id, and only a running part has one", i, j)
			case pt.Gte != nil && pt.Lt != nil && *pt.Gte >= *pt.Lt:
				p.add("plan.items[%d].parts[%d]: gte %d must be below lt %d", i, j, *pt.Gte, *pt.Lt)
			case pt.Missing && j != 0:
				p.add("plan.items[%d].parts[%d]: only the first part takes the documents without the split field", i, j)
			}
		}
		for _, n := range []string{it.Source, it.Target} {
			if err := snapshot.ValidateIndexName(n); err != nil {
				p.add("plan.items[%d]: %v", i, err)
			}
		}
		if len(it.Parts) == 0 {
			p.add("plan.items[%d] (%s) has no parts", i, it.Source)
		}
	}
	if len(p) > 0 {
		return failure.Validation("reindex", p)
	}
	return nil
}

// ReindexResult is one invocation's answer: the plan to pass to the next
// one, whether every index is copied and finished, and, once done, the
// report. The state machine keeps it in place of the pre-flight's (which
// has the same form), so the plan is held once in the execution's state.
type ReindexResult struct {
	Done   bool            `json:"done"`
	Plan   *reindex.Plan   `json:"plan,omitempty"`
	Report *reindex.Report `json:"report,omitempty"`
	// Waiting says why this invocation made no progress (the source or
	// the target did not answer); the loop calls again.
	Waiting string `json:"waiting,omitempty"`
	Polls   int    `json:"polls"`
}

// ReindexOps are the calls the reindex step makes, on the source and the
// target alike: the handler sees both domains through them alone.
type ReindexOps interface {
	IndexDefinitions(ctx context.Context, names []string) (map[string]reindex.Definition, error)
	Refresh(ctx context.Context, names []string) error
	CreateIndex(ctx context.Context, name string, settings, mappings map[string]any) (exists bool, err error)
	IndexSetting(ctx context.Context, index, key string) (string, error)
	FinishCopy(ctx context.Context, index string, settings, aliases map[string]any) error
	StartReindex(ctx context.Context, body map[string]any) (string, error)
	ReindexTask(ctx context.Context, id string) (reindex.Outcome, error)
	CancelTask(ctx context.Context, id string) error
}

// Reindex is the migration's reindex step: it creates the target indices
// (translated from the source's), runs the target's remote reindex tasks
// under max_concurrent, polls them for up to wait_seconds, reruns parts
// whose task vanished or broke, and finishes each copied index (its own
// settings back, aliases for pull, refreshed). Called in a loop by the
// state machine until Done.
type Reindex struct{ Deps }

// Invoke advances the plan. A domain that becomes unavailable mid-way is
// not an error: the plan so far is returned with Waiting, because an
// error would lose the ids of tasks this invocation started. Refused
// documents or parts that failed max_attempts times are a
// ReindexFailedError; running tasks are cancelled first.
func (h Reindex) Invoke(ctx context.Context, raw json.RawMessage) (ReindexResult, error) {
	c := LoadReindexConfig(h.Getenv, raw)
	if err := c.Validate(); err != nil {
		return ReindexResult{}, err
	}
	src, tgt, err := bothDomains[ReindexOps](ctx, h.Deps, c.Source, c.Target)
	if err != nil {
		return ReindexResult{}, err
	}
	plan := c.Plan
	nowMs := func() int64 { return h.Clock.Now().UnixMilli() }
	if plan.StartMs == 0 {
		plan.StartMs = nowMs()
	}
	res := ReindexResult{}
	transient := func(err error) bool {
		if failure.Retryable(failure.Classify(err)) {
			res.Waiting = err.Error()
			h.Log.WarnContext(ctx, "reindex: a domain is unavailable, the loop calls again", "error", err.Error())
			return true
		}
		return false
	}
	step := func() (bool, error) {
		if err := h.prepare(ctx, src, tgt, &plan); err != nil {
			if transient(err) {
				return false, nil
			}
			return true, err
		}
		if err := h.advance(ctx, tgt, &plan, nowMs); err != nil {
			if transient(err) {
				return false, nil
			}
			return true, err
		}
		res.Waiting = ""
		return plan.Done() || len(plan.Failures()) > 0, nil
	}
	res.Polls, err = h.poll(ctx, time.Duration(plan.CheckSeconds)*time.Second, step)
	if err != nil {
		return h.reindexFailed(ctx, tgt, plan, err)
	}
	if f := plan.Failures(); len(f) > 0 {
		return h.reindexFailed(ctx, tgt, plan, failure.ReindexFailed(fmt.Sprintf("reindex: %d part(s) failed: %s. Nothing was deleted: what was copied stays on the target; fix the cause (for refused documents, the target index's mapping), then run the migration again (pull: a rerun skips documents already there; push: delete the half-copied target indices first)",
			len(f), strings.Join(f, "; "))))
	}
	rep := plan.MakeReport(nowMs())
	res.Done, res.Plan = plan.Done(), &plan
	if res.Done {
		res.Report = &rep
	}
	h.Log.InfoContext(ctx, "reindex", "done", res.Done, "running", plan.Running(), "documents", rep.Total.Documents, "polls", res.Polls, "waiting", res.Waiting != "")
	return res, nil
}

// reindexFailed cancels the plan's running tasks (best effort) and types err.
func (h Reindex) reindexFailed(ctx context.Context, tgt ReindexOps, plan reindex.Plan, err error) (ReindexResult, error) {
	for _, it := range plan.Items {
		for _, pt := range it.Parts {
			if pt.State == reindex.Running && pt.Task != "" {
				if cerr := tgt.CancelTask(ctx, pt.Task); cerr != nil {
					h.Log.WarnContext(ctx, "reindex: cancel failed", "task", pt.Task, "error", cerr.Error())
				}
			}
		}
	}
	rep := plan.MakeReport(h.Clock.Now().UnixMilli())
	return ReindexResult{Plan: &plan, Report: &rep}, h.fail(ctx, "reindex", err)
}

// prepare creates every target index the plan has not prepared yet; once
// all are, it costs nothing.
func (h Reindex) prepare(ctx context.Context, src, tgt ReindexOps, plan *reindex.Plan) error {
	var names []string
	for _, it := range plan.Items {
		if !it.Prepared {
			names = append(names, it.Source)
		}
	}
	if len(names) == 0 {
		return nil
	}
	defs, err := src.IndexDefinitions(ctx, names)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	var fresh []string
	for i := range plan.Items {
		it := &plan.Items[i]
		if it.Prepared {
			continue
		}
		fresh = append(fresh, it.Source)
		// Pull into an index that exists (the poller's) goes through here
		// too: createTarget uses it as it is, unless it carries the copy's
		// settings, left by an earlier run of this migration that failed.
		if err := h.createTarget(ctx, tgt, it, defs[it.Source]); err != nil {
			return err
		}
	}
	// The copy reads what a search sees: refresh the sources first, so
	// every document acknowledged before the copy is in it (seen on
	// Elasticsearch 7.10 and OpenSearch 1.3: a copy started right after
	// a bulk load read 0 documents).
	if err := src.Refresh(ctx, fresh); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	for i := range plan.Items {
		plan.Items[i].Prepared = true
	}
	return nil
}

// createTarget creates one target index from the source's definition,
// dropping (and reporting) each setting the target refuses.
func (h Reindex) createTarget(ctx context.Context, tgt ReindexOps, it *reindex.Item, def reindex.Definition) error {
	cr := reindex.Translate(def)
	for range 20 {
		exists, err := tgt.CreateIndex(ctx, it.Target, cr.Settings, cr.Mappings)
		var ae *esclient.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && cr.DropRefused(ae.Reason+" "+ae.CausedBy) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reindex %s -> %s: target: %w", it.Source, it.Target, err)
		}
		if exists {
			// An earlier invocation of this run created it and lost the
			// answer, or something else did: only an index with the copy's
			// settings is taken as ours and given its settings back.
			v, err := tgt.IndexSetting(ctx, it.Target, "index.refresh_interval")
			if err != nil {
				return fmt.Errorf("reindex %s -> %s: target: %w", it.Source, it.Target, err)
			}
			if it.Existing = v != "-1"; it.Existing {
				h.Log.WarnContext(ctx, "reindex: target index exists and is used as it is", "index", it.Target)
				return nil
			}
		}
		it.After, it.Dropped, it.Aliases = cr.After, len(cr.Dropped), nil
		if it.Target == it.Source && len(def.Aliases) > 0 { // pull: the index takes its source's aliases
			it.Aliases = map[string]any{}
			for a, d := range def.Aliases {
				// is_write_index is left out: the target may already have a
				// write index for the alias (the switched poller's).
				if m, ok := d.(map[string]any); ok {
					delete(m, "is_write_index")
				}
				it.Aliases[a] = d
			}
		}
		h.Log.InfoContext(ctx, "reindex: target index created", "index", it.Target, "dropped_settings", strings.Join(cr.Dropped, "; "))
		return nil
	}
	return fmt.Errorf("reindex %s -> %s: the target refused the index's settings 20 times; dropped so far: %s", it.Source, it.Target, strings.Join(cr.Dropped, ", "))
}

// advance reads the running tasks, starts parts up to max_concurrent and
// finishes copied indices: one poll of the loop.
func (h Reindex) advance(ctx context.Context, tgt ReindexOps, plan *reindex.Plan, nowMs func() int64) error {
	for i := range plan.Items {
		for j := range plan.Items[i].Parts {
			pt := plan.Items[i].Parts[j]
			if pt.State != reindex.Running {
				continue
			}
			o, err := tgt.ReindexTask(ctx, pt.Task)
			if err != nil {
				return fmt.Errorf("reindex %s: target: %w", plan.Items[i].Source, err)
			}
			if (o.Completed || o.Vanished) && o.EndMs == 0 {
				o.EndMs = nowMs()
			}
			if o.Vanished {
				h.Log.WarnContext(ctx, "reindex: task vanished, its part runs again", "index", plan.Items[i].Source, "task", pt.Task)
			}
			plan.Record(reindex.Ref{Item: i, Part: j}, o)
		}
	}
	if len(plan.Failures()) > 0 {
		return nil
	}
	for _, r := range plan.Startable() {
		it := plan.Items[r.Item]
		id, err := tgt.StartReindex(ctx, plan.Request(it, it.Parts[r.Part]))
		if err != nil {
			return fmt.Errorf("reindex %s -> %s: target: %w", it.Source, it.Target, err)
		}
		pt := &plan.Items[r.Item].Parts[r.Part]
		pt.State, pt.Task = reindex.Running, id
		pt.Attempts++
		if pt.StartMs == 0 {
			pt.StartMs = nowMs()
		}
	}
	for i := range plan.Items {
		it := &plan.Items[i]
		if it.Finished || !it.Copied() {
			continue
		}
		var after, aliases map[string]any
		if !it.Existing {
			after, aliases = it.After, it.Aliases
		}
		if err := tgt.FinishCopy(ctx, it.Target, after, aliases); err != nil {
			return fmt.Errorf("reindex %s -> %s: target: %w", it.Source, it.Target, err)
		}
		it.Finished = true
	}
	return nil
}
