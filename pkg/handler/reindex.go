package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/ledger"
	"github.com/essnap/essnap/pkg/metrics"
	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/reindex"
	"github.com/essnap/essnap/pkg/snapshot"
)

// ReindexConfig is the reindex function's configuration: both domains and
// the migration whose plan the ledger on the target holds. The plan never
// comes from the event, so a console invoke cannot steer the step: it
// reads what the pre-flight recorded.
type ReindexConfig struct {
	Source    Domain `json:"source"`
	Target    Domain `json:"target" envprefix:"TARGET_"`
	Migration string `json:"migration"`
	// Action is "" (advance the copy) or cleanup: the workflow's failure
	// path, which cancels the tasks the ledger started and records why.
	Action     string      `json:"action"`
	FailedStep string      `json:"failed_step"`
	Error      StepFailure `json:"error"`
	errs       problems
}

// StepFailure is a Step Functions error as Catch hands it on.
type StepFailure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
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
	if len(p) > 0 {
		// A malformed event: its own problems, nothing guessed about fields
		// it may have lost.
		return failure.Validation("reindex", p)
	}
	validateDomains(&p, c.Source, c.Target)
	switch {
	case c.Migration == "":
		p.add("migration is empty; give the migration's name from the pre-flight's answer ($.preflight.migration): the plan is read from the ledger on the target")
	default:
		if err := ledger.ValidateName(c.Migration); err != nil {
			p.add("%v", err)
		}
	}
	if c.Action != "" && c.Action != "cleanup" {
		p.add("action %q is unknown; leave it empty to advance the copy, or cleanup (the workflow's failure path)", config.Short(c.Action))
	}
	boundedText(&p, "failed_step", c.FailedStep, 128)
	if len(p) > 0 {
		return failure.Validation("reindex", p)
	}
	return nil
}

// ReindexResult is one invocation's answer: whether every index is copied
// and finished, progress counts, and once done the totals. The plan and
// each index's state are in the ledger.
type ReindexResult struct {
	Done      bool   `json:"done"`
	Migration string `json:"migration"`
	// Indices counts the reindex indices; Finished those copied and
	// finished; Running the parts with a task now.
	Indices  int   `json:"indices"`
	Finished int   `json:"finished"`
	Running  int   `json:"running"`
	Copied   int64 `json:"documents_copied"`
	// Report is the reindex path's totals, once done.
	Report *reindex.Report `json:"report,omitempty"`
	// Waiting says why this invocation made no progress (the source or
	// the target did not answer); the loop calls again.
	Waiting string `json:"waiting,omitempty"`
	Polls   int    `json:"polls"`
	// Cancelled lists the tasks a cleanup cancelled.
	Cancelled []string `json:"cancelled,omitempty"`
}

// ReindexOps are the calls the reindex step makes, on the source and the
// target alike: the handler sees both domains through them alone.
type ReindexOps interface {
	IndexDefinitions(ctx context.Context, names []string) (map[string]reindex.Definition, error)
	Refresh(ctx context.Context, names []string) error
	CreateIndex(ctx context.Context, name string, settings, mappings map[string]any) (exists bool, err error)
	Owner(ctx context.Context, index string) (migration string, exists bool, err error)
	FinishCopy(ctx context.Context, index string, settings, aliases map[string]any) error
	StartReindex(ctx context.Context, body map[string]any) (string, error)
	ReindexTask(ctx context.Context, id string) (reindex.Outcome, error)
	CancelTask(ctx context.Context, id string) error
}

// Reindex is the migration's reindex step: it creates the target indices
// (translated from the source's), runs the target's remote reindex tasks
// under max_concurrent, polls them for up to check_seconds, reruns parts
// whose task vanished or broke, and finishes each copied index (its own
// settings back, aliases for pull, refreshed). Every change is written to
// the ledger as it happens. Called in a loop by the state machine until
// Done.
type Reindex struct{ Deps }

// prepareBatch bounds the target indices one poll creates, so tasks start
// early and no invocation spends its time creating thousands of indices.
const prepareBatch = 50

// Invoke advances the copy. A domain that becomes unavailable mid-way is
// not an error: the ledger holds what was done, and Waiting says why the
// loop calls again. Refused documents or parts that failed max_attempts
// times are a ReindexFailedError; running tasks are cancelled first. A
// ledger that breaks the plan's rules (changed by hand) is refused before
// anything is sent.
func (h Reindex) Invoke(ctx context.Context, raw json.RawMessage) (ReindexResult, error) {
	c := LoadReindexConfig(h.Getenv, raw)
	if err := c.Validate(); err != nil {
		return ReindexResult{}, err
	}
	b, err := openBook(ctx, h.Deps, c.Target, c.Migration)
	if err != nil {
		return ReindexResult{}, h.fail(ctx, "reindex", err)
	}
	src, tgt, err := bothDomains[ReindexOps](ctx, h.Deps, c.Source, c.Target)
	if err != nil {
		return ReindexResult{}, err
	}
	if c.Action == "cleanup" {
		return h.cleanup(ctx, c, b, tgt)
	}
	plan := b.mig.Reindex
	var p problems
	validReindexTuning(&p, "ledger reindex.", plan)
	if plan.Remote.Host == "" {
		p.add("ledger reindex.remote.host is empty")
	}
	if len(p) > 0 {
		return ReindexResult{}, h.fail(ctx, "reindex", failure.Validation("reindex: the ledger's plan of "+c.Migration+" was changed by hand", p))
	}
	docs, err := b.indices(ctx, engine.LedgerQuery{Method: string(migrate.Reindex), Unfinished: true})
	if err != nil {
		return ReindexResult{}, h.fail(ctx, "reindex", err)
	}
	// Largest first: their long parts start while the small ones fill the
	// other slots.
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].Docs > docs[j].Docs })
	for _, d := range docs {
		if d.Item == nil {
			p.add("%s has method reindex but no reindex item", d.Source)
			continue
		}
		checkItem(&p, *d.Item, d.Source, b.mig)
	}
	if len(p) > 0 {
		return ReindexResult{}, h.fail(ctx, "reindex", failure.Validation("reindex: the ledger of "+c.Migration+" breaks the plan's rules (changed by hand?); nothing was sent", p))
	}
	nowMs := func() int64 { return h.Clock.Now().UnixMilli() }
	if plan.StartMs == 0 || b.mig.Phase != ledger.PhaseReindex {
		start := nowMs()
		if err := b.update(ctx, func(m *ledger.Migration) {
			m.Phase = ledger.PhaseReindex
			if m.Reindex.StartMs == 0 {
				m.Reindex.StartMs = start
			}
		}); err != nil {
			return ReindexResult{}, h.fail(ctx, "reindex", err)
		}
		plan.StartMs = b.mig.Reindex.StartMs
	}
	plan.Items = make([]reindex.Item, len(docs))
	for i, d := range docs {
		plan.Items[i] = *d.Item
	}
	sync := func() error {
		for i, d := range docs {
			it := plan.Items[i]
			d.Item, d.Finished = &it, it.Finished
		}
		return b.save(ctx, docs)
	}
	res := ReindexResult{Migration: c.Migration}
	transient := func(err error) bool {
		if failure.Retryable(failure.Classify(err)) && !errors.Is(err, failure.ErrLedgerConflict) {
			res.Waiting = err.Error()
			h.Log.WarnContext(ctx, "reindex: a domain is unavailable, the loop calls again", "error", err.Error())
			return true
		}
		return false
	}
	step := func() (bool, error) {
		err := h.prepare(ctx, src, tgt, &plan, b.mig)
		if err == nil {
			err = h.advance(ctx, tgt, &plan, b.mig, nowMs)
		}
		// Whatever happened, the ledger records it before anything else:
		// a task started and not recorded would be lost with this
		// invocation.
		if serr := sync(); serr != nil {
			return true, serr
		}
		if err != nil {
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
		return h.reindexFailed(ctx, tgt, b, plan, err)
	}
	if f := plan.Failures(); len(f) > 0 {
		if len(f) > 20 {
			f = append(f[:20], fmt.Sprintf("and %d more", len(f)-20))
		}
		return h.reindexFailed(ctx, tgt, b, plan, failure.ReindexFailed(fmt.Sprintf("reindex: %d part(s) failed: %s. Nothing was deleted: what was copied stays on the target; fix the cause (for refused documents, the target index's mapping), then run the migration again (pull: a rerun skips documents already there; push: delete the half-copied target indices first)",
			len(plan.Failures()), strings.Join(f, "; "))))
	}
	rep := plan.MakeReport(nowMs())
	res.Done, res.Running, res.Copied = plan.Done(), plan.Running(), rep.Total.Documents
	res.Indices, res.Finished = b.mig.Counts.Reindex, b.mig.Counts.Reindex-len(plan.Items)
	for _, it := range plan.Items {
		if it.Finished {
			res.Finished++
		}
	}
	if res.Done {
		total, err := h.totals(ctx, b, nowMs())
		if err != nil {
			return res, h.fail(ctx, "reindex", err)
		}
		res.Report, res.Copied = &total, total.Total.Documents
	}
	h.publishProgress(b, res, plan.StartMs, nowMs())
	h.Log.InfoContext(ctx, "reindex", "migration", c.Migration, "done", res.Done, "finished", res.Finished, "of", res.Indices, "running", res.Running, "polls", res.Polls, "waiting", res.Waiting != "")
	return res, nil
}

// totals sums every reindex index of the migration (the finished ones of
// earlier invocations too): the report's totals, without the per-index
// rows, which stay in the ledger.
func (h Reindex) totals(ctx context.Context, b *book, nowMs int64) (reindex.Report, error) {
	docs, err := b.indices(ctx, engine.LedgerQuery{Method: string(migrate.Reindex)})
	if err != nil {
		return reindex.Report{}, err
	}
	all := reindex.Plan{Items: make([]reindex.Item, 0, len(docs))}
	for _, d := range docs {
		if d.Item != nil {
			all.Items = append(all.Items, *d.Item)
		}
	}
	rep := all.MakeReport(nowMs)
	rep.Indices = nil
	return rep, nil
}

// publishProgress emits the loop turn's progress as EMF metrics.
func (h Reindex) publishProgress(b *book, res ReindexResult, startMs, nowMs int64) {
	v := map[string]float64{
		metrics.MigrationIndicesDone:     float64(res.Finished),
		metrics.MigrationIndicesTotal:    float64(res.Indices),
		metrics.MigrationDocumentsCopied: float64(res.Copied),
	}
	if c := b.mig.Counts; c.Docs > 0 {
		// Estimated from the source's average document size.
		v[metrics.MigrationBytesCopied] = float64(res.Copied) * float64(c.Bytes) / float64(c.Docs)
	}
	if secs := float64(nowMs-startMs) / 1000; secs > 0 && res.Copied > 0 {
		rate := float64(res.Copied) / secs
		v[metrics.MigrationDocsPerSecond] = rate
		if left := float64(b.mig.Counts.Docs) - float64(res.Copied); left > 0 {
			v[metrics.MigrationEtaSeconds] = left / rate
		}
	}
	h.publish(b.mig.Migration, v)
}

// checkItem refuses a ledger item the pre-flight could not have written:
// the rules hold whatever the ledger says, so a document edited by hand
// cannot make the step write elsewhere, leave part of an index out, or
// change a live index's settings.
func checkItem(p *problems, it reindex.Item, doc string, m ledger.Migration) {
	add := func(format string, args ...any) { p.add("%s: "+format, append([]any{doc}, args...)...) }
	if it.Source != doc {
		add("item source %s is not the document's index", it.Source)
	}
	want := it.Source
	if m.Strategy == migrate.Push {
		want = it.Source + m.RenameSuffix
		if it.Existing {
			add("push never writes into an existing index, but the item is marked existing")
		}
	}
	if it.Target != want {
		add("target %s is not %s, the name the %s strategy gives it", it.Target, want, m.Strategy)
	}
	if snapshot.IsSystem(it.Source) {
		add("source %s is a system index; the pre-flight never selects one", it.Source)
	}
	if strings.HasPrefix(it.Target, ".") && !strings.HasPrefix(it.Source, ".") {
		add("target %s is hidden or a system index, its source %s is not", it.Target, it.Source)
	}
	if msg := it.CheckParts(); msg != "" {
		add("%s", msg)
	}
	for k := range it.After {
		if !reindex.AfterSetting(k) {
			add("after-copy setting %s is not one the copy changes; the step puts back only refresh_interval and auto_expand_replicas", k)
		}
	}
	if len(it.Aliases) > 0 && m.Strategy != migrate.Pull {
		add("aliases are added only under pull")
	}
	for a, d := range it.Aliases {
		if dm, ok := d.(map[string]any); ok {
			for k := range dm {
				if k != "filter" && k != "routing" && k != "index_routing" && k != "search_routing" && k != "is_hidden" {
					add("alias %s carries %s, which the copy never sets", a, k)
				}
			}
		}
	}
}

// reindexFailed cancels the plan's running tasks (best effort), records
// them in the ledger and types err.
func (h Reindex) reindexFailed(ctx context.Context, tgt ReindexOps, b *book, plan reindex.Plan, err error) (ReindexResult, error) {
	res := ReindexResult{Migration: b.mig.Migration}
	for i := range plan.Items {
		it := &plan.Items[i]
		for j := range it.Parts {
			pt := &it.Parts[j]
			if pt.State == reindex.Running && pt.Task != "" {
				if h.cancelOwn(ctx, tgt, *it, pt.Task) {
					res.Cancelled = append(res.Cancelled, pt.Task)
				}
			}
		}
	}
	rep := plan.MakeReport(h.Clock.Now().UnixMilli())
	rep.Indices = nil
	res.Report = &rep
	return res, h.fail(ctx, "reindex", err)
}

// cancelOwn cancels a part's task only if the engine describes it as a
// reindex into the part's target: a task id the ledger holds is never
// trusted alone, so essnap cancels no task it did not start.
func (h Reindex) cancelOwn(ctx context.Context, tgt ReindexOps, it reindex.Item, task string) bool {
	o, err := tgt.ReindexTask(ctx, task)
	if err != nil || o.Vanished || o.Completed {
		return false
	}
	if !reindex.TaskOf(o.Description, it.Target) {
		h.Log.WarnContext(ctx, "reindex: not cancelling a task that is not this part's", "task", task, "target", it.Target, "description", o.Description)
		return false
	}
	if err := tgt.CancelTask(ctx, task); err != nil {
		h.Log.WarnContext(ctx, "reindex: cancel failed", "task", task, "error", err.Error())
		return false
	}
	return true
}

// cleanup is the workflow's failure path: every Catch comes here. It
// cancels the reindex tasks the ledger records as running (each checked to
// be the part's own), marks their parts pending for a rerun, and records
// the failure in the migration document, so a rerun resumes and an
// operator reading the ledger sees why it stopped.
func (h Reindex) cleanup(ctx context.Context, c ReindexConfig, b *book, tgt ReindexOps) (ReindexResult, error) {
	res := ReindexResult{Migration: c.Migration}
	docs, err := b.indices(ctx, engine.LedgerQuery{Method: string(migrate.Reindex), Unfinished: true})
	if err != nil {
		return res, h.fail(ctx, "cleanup", err)
	}
	for _, d := range docs {
		if d.Item == nil {
			continue
		}
		it := *d.Item
		it.Parts = append([]reindex.Part(nil), it.Parts...)
		for j := range it.Parts {
			pt := &it.Parts[j]
			if pt.State != reindex.Running || pt.Task == "" {
				continue
			}
			if h.cancelOwn(ctx, tgt, it, pt.Task) {
				res.Cancelled = append(res.Cancelled, pt.Task)
			}
			pt.State, pt.Task = reindex.Pending, ""
		}
		d.Item = &it
	}
	if err := b.save(ctx, docs); err != nil {
		return res, h.fail(ctx, "cleanup", err)
	}
	at := h.Clock.Now().UTC().Format(time.RFC3339)
	cause := c.Error.Cause
	if len(cause) > 4000 {
		cause = cause[:4000] + "..."
	}
	if err := b.update(ctx, func(m *ledger.Migration) {
		m.Status = ledger.Failed
		m.Failure = &ledger.Failure{Step: c.FailedStep, Error: c.Error.Error, Cause: cause, At: at, Cancelled: res.Cancelled}
	}); err != nil {
		return res, h.fail(ctx, "cleanup", err)
	}
	h.Log.InfoContext(ctx, "cleanup: migration failed and recorded", "migration", c.Migration, "step", c.FailedStep, "error", c.Error.Error, "cancelled", len(res.Cancelled))
	return res, nil
}

// prepare creates the next target indices, refreshing their sources: just
// enough that the task slots never wait for an index (twice
// max_concurrent ready to start), and at most prepareBatch per poll, so
// polling the running tasks is never held up by thousands of creations.
// Once all are prepared, it costs nothing.
func (h Reindex) prepare(ctx context.Context, src, tgt ReindexOps, plan *reindex.Plan, m ledger.Migration) error {
	ready := 0
	for _, it := range plan.Items {
		if it.Prepared && slices.ContainsFunc(it.Parts, func(p reindex.Part) bool { return p.State == reindex.Pending }) {
			ready++
		}
	}
	want := min(prepareBatch, 2*plan.MaxConcurrent-ready)
	var todo []int
	for i, it := range plan.Items {
		if !it.Prepared && len(todo) < want {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	names := make([]string, len(todo))
	for k, i := range todo {
		names[k] = plan.Items[i].Source
	}
	defs, err := src.IndexDefinitions(ctx, names)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	for _, i := range todo {
		it := &plan.Items[i]
		// Pull into an index that exists (the poller's) goes through here
		// too: createTarget uses it as it is; push refuses it.
		if err := h.createTarget(ctx, tgt, it, defs[it.Source], m); err != nil {
			return err
		}
	}
	// The copy reads what a search sees: refresh the sources first, so
	// every document acknowledged before the copy is in it (seen on
	// Elasticsearch 7.10 and OpenSearch 1.3: a copy started right after
	// a bulk load read 0 documents).
	if err := src.Refresh(ctx, names); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	for _, i := range todo {
		plan.Items[i].Prepared = true
	}
	return nil
}

// createTarget creates one target index from the source's definition,
// marked as this migration's (_meta.essnap.migration), dropping (and
// reporting) each setting the target refuses. An index of that name that
// another migration or someone else created is used as it is under pull
// (the poller's) and refused under push.
func (h Reindex) createTarget(ctx context.Context, tgt ReindexOps, it *reindex.Item, def reindex.Definition, m ledger.Migration) error {
	cr := reindex.Translate(def)
	mappings := markOwned(cr.Mappings, m.Migration)
	for range 20 {
		exists, err := tgt.CreateIndex(ctx, it.Target, cr.Settings, mappings)
		var ae *esclient.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && cr.DropRefused(ae.Reason+" "+ae.CausedBy) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reindex %s -> %s: target: %w", it.Source, it.Target, err)
		}
		if exists {
			// An earlier invocation of this migration created it and lost
			// the answer, or something else did.
			owner, _, err := tgt.Owner(ctx, it.Target)
			if err != nil {
				return fmt.Errorf("reindex %s -> %s: target: %w", it.Source, it.Target, err)
			}
			if owner != m.Migration {
				if m.Strategy == migrate.Push {
					return failure.IndexConflict(fmt.Sprintf("reindex %s -> %s: the target index exists and this migration did not create it; push never writes into an existing index: remove it or pick another rename_suffix; nothing was written to it", it.Source, it.Target))
				}
				it.Existing = true
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
				if dm, ok := d.(map[string]any); ok {
					delete(dm, "is_write_index")
				}
				it.Aliases[a] = d
			}
		}
		h.Log.InfoContext(ctx, "reindex: target index created", "index", it.Target, "dropped_settings", strings.Join(cr.Dropped, "; "))
		return nil
	}
	return fmt.Errorf("reindex %s -> %s: the target refused the index's settings 20 times; dropped so far: %s", it.Source, it.Target, strings.Join(cr.Dropped, ", "))
}

// errTargetGone says a prepared target index no longer exists; the item
// was sent back to the start.
var errTargetGone = errors.New("target index gone")

// markOwned adds _meta.essnap.migration to a mapping (keeping the source's
// own _meta), so every later step can tell the index is this migration's.
func markOwned(mappings map[string]any, migration string) map[string]any {
	out := make(map[string]any, len(mappings)+1)
	for k, v := range mappings {
		out[k] = v
	}
	meta := map[string]any{}
	if old, ok := out["_meta"].(map[string]any); ok {
		for k, v := range old {
			meta[k] = v
		}
	}
	meta["essnap"] = map[string]any{"migration": migration}
	out["_meta"] = meta
	return out
}

// advance reads the running tasks, starts parts up to max_concurrent and
// finishes copied indices: one poll of the loop.
func (h Reindex) advance(ctx context.Context, tgt ReindexOps, plan *reindex.Plan, m ledger.Migration, nowMs func() int64) error {
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
			if !o.Vanished && !reindex.TaskOf(o.Description, plan.Items[i].Target) {
				// Not this part's task (a ledger edited by hand, or an id
				// reused after a restart): its outcome says nothing about
				// the part, which runs again; the task is left alone.
				h.Log.WarnContext(ctx, "reindex: the ledger's task is not this part's; the part runs again", "index", plan.Items[i].Source, "task", pt.Task, "description", o.Description)
				o = reindex.Outcome{Vanished: true, EndMs: nowMs()}
				plan.Items[i].Parts[j].MissedMs = nowMs() - reindex.VanishAfterMs
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
	owned := map[int]bool{}
	ours := func(i int) (bool, error) {
		it := plan.Items[i]
		if v, ok := owned[i]; ok {
			return v, nil
		}
		owner, exists, err := tgt.Owner(ctx, it.Target)
		if err != nil {
			return false, fmt.Errorf("reindex %s -> %s: target: %w", it.Source, it.Target, err)
		}
		if !exists {
			// Removed since it was prepared (an operator deleted a
			// half-copied target, or the poller's index with a wrong
			// mapping, before a rerun): create it again and copy every
			// part again.
			h.Log.WarnContext(ctx, "reindex: the target index is gone; it is created and copied again", "index", it.Target)
			plan.Items[i].Restart()
			return false, errTargetGone
		}
		// Pull into the poller's index is the one write into an index
		// essnap did not create.
		owned[i] = owner == m.Migration || (it.Existing && m.Strategy == migrate.Pull)
		return owned[i], nil
	}
	for _, r := range plan.Startable() {
		it := plan.Items[r.Item]
		if !it.Prepared {
			continue // restarted by an earlier part of this loop
		}
		if ok, err := ours(r.Item); errors.Is(err, errTargetGone) {
			continue
		} else if err != nil {
			return err
		} else if !ok {
			return failure.IndexConflict(fmt.Sprintf("reindex %s -> %s: the target index is not this migration's (no _meta.essnap.migration %s) although the ledger says it prepared it; nothing was written to it: the ledger was changed by hand or the index replaced; remove the index or run a new migration", it.Source, it.Target, m.Migration))
		}
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
			if ok, err := ours(i); errors.Is(err, errTargetGone) {
				continue
			} else if err != nil {
				return err
			} else if !ok {
				return failure.IndexConflict(fmt.Sprintf("reindex %s -> %s: the target index is not this migration's; its settings and aliases are left alone", it.Source, it.Target))
			}
			after, aliases = it.After, it.Aliases
		}
		if err := tgt.FinishCopy(ctx, it.Target, after, aliases); err != nil {
			return fmt.Errorf("reindex %s -> %s: target: %w", it.Source, it.Target, err)
		}
		it.Finished = true
	}
	return nil
}
