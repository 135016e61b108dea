package handler

import (
	"context"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/snapshot"
)

// Sleeper is a Clock that can also wait. The in-invocation polls
// (check-progress wait_seconds, the replica step) sleep through it, so a
// test clock advances instead of sleeping; a Clock without it sleeps on a
// real timer.
type Sleeper interface {
	Sleep(ctx context.Context, d time.Duration) error
}

// Sleep waits d or until ctx ends: SystemClock is a Sleeper.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error { return esclient.Sleep(ctx, d) }

// sleep waits through the clock when it can (a test clock advances), else
// on a real timer.
func (d Deps) sleep(ctx context.Context, wait time.Duration) error {
	if s, ok := d.Clock.(Sleeper); ok {
		return s.Sleep(ctx, wait)
	}
	return esclient.Sleep(ctx, wait)
}

// PollInterval is the in-invocation poll period: short enough that a
// finished snapshot or restore is seen within a fifth of a second, long
// enough that a 20 s wait costs the engine 100 light reads.
const PollInterval = 200 * time.Millisecond

// MaxWaitSeconds bounds wait_seconds well inside the functions' 300 s
// timeout (template.yaml), leaving room for the last read and the answer.
const MaxWaitSeconds = 240

// pollMargin is kept free before the invocation's deadline.
const pollMargin = 5 * time.Second

// poll calls check until it reports done, at most for wait (counted in
// PollInterval steps, so a clock that never moves still ends), and never
// past the context's deadline minus pollMargin. It returns the number of
// checks made and check's last error.
func (d Deps) poll(ctx context.Context, wait time.Duration, check func() (bool, error)) (int, error) {
	steps := int(wait / PollInterval)
	for n := 1; ; n++ {
		done, err := check()
		if err != nil || done || n > steps {
			return n, err
		}
		if dl, ok := ctx.Deadline(); ok && dl.Sub(d.Clock.Now()) < pollMargin+PollInterval {
			return n, nil
		}
		if d.sleep(ctx, PollInterval) != nil {
			return n, nil
		}
	}
}

// validWait checks a wait_seconds field.
func validWait(p *problems, field string, v int) {
	if v < 0 || v > MaxWaitSeconds {
		p.add("%s %d must be between 0 and %d (the function times out after 300 s)", field, v, MaxWaitSeconds)
	}
}

// validateReplicas checks the restore action "replicas" fields.
func (c RestoreConfig) validateReplicas(p *problems) {
	if len(c.Replicas) == 0 {
		p.add("action replicas needs replicas, an object of index name to number_of_replicas, e.g. {\"logs-a-restored\": 1}")
	}
	for ix, n := range c.Replicas {
		if err := snapshot.ValidateIndexPattern("replicas key", ix); err != nil {
			p.add("%v", err)
		}
		if n < 0 || n > 100 {
			p.add("replicas[%q] %d must be between 0 and 100", ix, n)
		}
	}
	if c.StartedAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, c.StartedAt); err != nil {
			p.add("started_at %q is not an RFC 3339 time (e.g. 2026-11-30T09:00:00.000Z)", c.StartedAt)
		}
	}
}

// setReplicas is the migration's replica step (restore action
// "replicas"): after verification, each restored index gets its source's
// number_of_replicas back; the call then polls health up to wait_seconds
// until every index is green, or yellow where the domain has too few data
// nodes for its replicas (engine.ExpectedHealth). Done false asks the
// caller (a Wait loop) to call again; repeating it is safe.
func (h Restore) setReplicas(ctx context.Context, c RestoreConfig) (engine.RestoreResult, error) {
	started := h.Clock.Now()
	if c.StartedAt != "" {
		started, _ = time.Parse(time.RFC3339Nano, c.StartedAt)
	}
	ops, err := h.connect(ctx, c.Domain)
	if err != nil {
		return engine.RestoreResult{}, err
	}
	ro := ops
	if err := ro.SetReplicas(ctx, c.Replicas); err != nil {
		return engine.RestoreResult{}, h.fail(ctx, "restore", err)
	}
	var st engine.ReplicasResult
	polls, err := h.poll(ctx, time.Duration(c.WaitSeconds)*time.Second, func() (bool, error) {
		var err error
		st, err = ro.ReplicaStatus(ctx, c.Replicas)
		return st.Done, err
	})
	if err != nil {
		return engine.RestoreResult{}, h.fail(ctx, "restore", err)
	}
	for _, ix := range st.Indices {
		if ix.Status == "missing" {
			return engine.RestoreResult{}, h.fail(ctx, "restore", failure.Validation("restore", []string{"replicas: index " + ix.Index + " does not exist on the domain"}))
		}
	}
	st.Polls = polls
	st.StartedAt = started.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	st.Seconds = h.Clock.Now().Sub(started).Seconds()
	h.Log.InfoContext(ctx, "replicas", "indices", len(st.Indices), "done", st.Done, "polls", polls, "seconds", st.Seconds)
	return engine.RestoreResult{Repository: c.Repository, Replicas: &st}, nil
}
