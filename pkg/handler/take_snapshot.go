package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/drill"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/ledger"
	"github.com/essnap/essnap/pkg/migrate"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/retention"
	"github.com/essnap/essnap/pkg/snapshot"
)

// SnapshotConfig is take-snapshot's configuration; each field is declared
// once (json: event field, env: ESSNAP_ variable). {} takes the nightly
// snapshot the stack's environment describes; the schedule sends
// {"trigger":"schedule"}.
type SnapshotConfig struct {
	Domain
	Repository         string         `json:"repository" env:"REPOSITORY"`
	NameTemplate       string         `json:"snapshot" env:"SNAPSHOT_NAME"`
	Indices            []string       `json:"indices" env:"INDICES"`
	IgnoreUnavailable  bool           `json:"ignore_unavailable"`
	IncludeGlobalState bool           `json:"include_global_state"`
	Partial            bool           `json:"partial"`
	WaitForCompletion  bool           `json:"wait_for_completion"`
	Trigger            string         `json:"trigger"`
	Execution          string         `json:"execution"`
	Metadata           map[string]any `json:"metadata"`
	// Action is "snapshot" (default) or "retention" (apply retention only,
	// for a schedule of its own after the nightly snapshot has finished).
	Action    string          `json:"action"`
	Retention RetentionConfig `json:"retention" envprefix:"RETENTION_"`
	DryRun    bool            `json:"dry_run"`
	// Migration (the workflow's snapshot step) takes the indices from the
	// migration's ledger on the Ledger domain (the target) instead of
	// indices, and records the migration and their count in the snapshot's
	// metadata, never the list: the engines cap metadata at 1 KB.
	Migration string `json:"migration"`
	Ledger    Domain `json:"ledger" envprefix:"LEDGER_"`
	errs      problems
}

// Triggers essnap records in snapshot metadata.
var triggers = map[string]bool{"schedule": true, "console": true, "workflow": true, "api": true}

// LoadSnapshotConfig applies defaults, environment and event, in that order.
func LoadSnapshotConfig(getenv func(string) string, raw []byte) SnapshotConfig {
	c := SnapshotConfig{Repository: "essnap", NameTemplate: "nightly-{now/d}", Trigger: "console", IgnoreUnavailable: true, Action: "snapshot"}
	c.Retention.PolicyID = "nightly"
	c.Retention.BatchSize = retention.DefaultMaxPerRequest
	var l config.Loaded
	c.errs, l = load(&c, getenv, raw)
	if !l.Set["retention.prefix"] {
		c.Retention.Prefix = staticPrefix(c.NameTemplate)
	}
	return c
}

// Validate reports every problem at once and resolves the snapshot name.
func (c *SnapshotConfig) Validate(now func() (name string, err error)) (string, error) {
	p := append(problems(nil), c.errs...)
	c.Domain.validate(&p)
	if err := snapshot.ValidateRepositoryName("repository", c.Repository); err != nil {
		p.add("%v", err)
	}
	name, err := now()
	if err != nil {
		p.add("%v", err)
	}
	for i, ix := range c.Indices {
		if err := snapshot.ValidateIndexPattern(fmt.Sprintf("indices[%d]", i), ix); err != nil {
			p.add("%v", err)
		}
	}
	if msg := c.metadataProblem(); msg != "" {
		p.add("%s", msg)
	}
	if c.Migration != "" {
		if err := ledger.ValidateName(c.Migration); err != nil {
			p.add("%v", err)
		}
		c.Ledger.validate(&p)
	}
	if !triggers[c.Trigger] {
		p.add("trigger %q is unknown; use schedule, console, workflow or api", c.Trigger)
	}
	for k := range c.Metadata {
		if k == "essnap" || k == retention.PolicyMetadataKey {
			p.add("metadata key %q is reserved; essnap records the trigger, options and retention policy there", k)
		}
	}
	c.Retention.validate(&p)
	switch c.Action {
	case "snapshot":
	case "retention":
		if !c.Retention.enabled() {
			p.add("action \"retention\" needs a retention rule: set retention.expire_after, max_count or keep_daily/keep_weekly/keep_monthly (or ESSNAP_RETENTION_*)")
		}
	default:
		p.add("action %q is unknown; use snapshot (default) or retention", c.Action)
	}
	if len(p) > 0 {
		return "", failure.Validation("take-snapshot", p)
	}
	return name, nil
}

// TakeSnapshotOps are the calls take-snapshot makes (snapshot, recorded
// counts, retention): the handler sees the domain through them alone.
type TakeSnapshotOps interface {
	CreateSnapshot(ctx context.Context, repo, name string, opt engine.CreateOptions) (engine.CreateResult, error)
	Status(ctx context.Context, repo, name string) (engine.Progress, error)
	// ListSnapshots is the narrowed listing (model.ListingPaths plus these metadata keys).
	ListSnapshots(ctx context.Context, repo string, metadataKeys ...string) ([]model.Snapshot, error)
	DeleteSnapshots(ctx context.Context, repo string, names []string) error
	// TakenNames are the index and alias names on the domain.
	TakenNames(ctx context.Context) (taken map[string]string, aliases map[string][]string, err error)
	DocCounts(ctx context.Context, patterns []string) (map[string]int64, error)
}

// TakeSnapshot is the take-snapshot handler.
type TakeSnapshot struct{ Deps }

// SnapshotResult is what take-snapshot returns: enough for Step Functions to
// poll (repository, snapshot, state) and for an operator to read.
type SnapshotResult struct {
	Repository string               `json:"repository"`
	Snapshot   string               `json:"snapshot"`
	State      string               `json:"state"`
	Existing   bool                 `json:"existing"`
	Recovered  bool                 `json:"recovered,omitempty"`
	Indices    []string             `json:"indices,omitempty"`
	StartTime  string               `json:"start_time,omitempty"`
	Shards     model.Shards         `json:"shards"`
	Failures   []model.ShardFailure `json:"failures,omitempty"`
	Retention  *RetentionResult     `json:"retention,omitempty"`
}

// Invoke starts (or finds) the snapshot for this period.
func (h TakeSnapshot) Invoke(ctx context.Context, raw json.RawMessage) (SnapshotResult, error) {
	c := LoadSnapshotConfig(h.Getenv, raw)
	now := h.Clock.Now()
	name, err := c.Validate(func() (string, error) { return snapshot.ResolveName("snapshot", c.NameTemplate, now) })
	if err != nil {
		return SnapshotResult{}, err
	}
	ops, err := connect[TakeSnapshotOps](ctx, h.Deps, c.Domain)
	if err != nil {
		return SnapshotResult{}, err
	}
	if c.Action == "retention" {
		r, err := h.applyRetention(ctx, ops, c.Repository, c.Retention, now, c.DryRun)
		out := SnapshotResult{Repository: c.Repository, Retention: &r}
		if err != nil {
			return out, h.fail(ctx, "take-snapshot retention", err)
		}
		return out, nil
	}
	if c.Migration != "" {
		if c.Indices, err = h.migrationIndices(ctx, c); err != nil {
			return SnapshotResult{}, h.fail(ctx, "take-snapshot", err)
		}
	}
	if err := h.checkSelection(ctx, ops, &c); err != nil {
		return SnapshotResult{}, h.fail(ctx, "take-snapshot", err)
	}
	meta := c.snapshotMetadata(now)
	h.recordCounts(ctx, ops, &c, meta)
	res, err := ops.CreateSnapshot(ctx, c.Repository, name, engine.CreateOptions{
		Indices: c.Indices, IgnoreUnavailable: c.IgnoreUnavailable, IncludeGlobalState: c.IncludeGlobalState,
		Partial: c.Partial, Metadata: meta, WaitForCompletion: c.WaitForCompletion,
	})
	if err != nil {
		return SnapshotResult{}, h.fail(ctx, "take-snapshot", err)
	}
	snap := res.Snapshot
	out := SnapshotResult{Repository: c.Repository, Snapshot: snap.Name, State: snap.State, Existing: res.Existing, Recovered: res.Recovered, Indices: snap.Indices, Failures: snap.Failures, Shards: snap.Shards}
	if c.Migration != "" {
		// The execution's payload stays small at any size: the ledger
		// names the indices.
		out.Indices, out.Failures = nil, firstFailures(out.Failures)
	}
	if !snap.Start.IsZero() {
		out.StartTime = snap.Start.Format("2006-01-02T15:04:05Z")
	}
	h.Log.InfoContext(ctx, "snapshot", "repository", c.Repository, "snapshot", out.Snapshot, "state", out.State, "existing", out.Existing, "trigger", c.Trigger)
	switch out.State {
	case model.StatePartial, model.StateFailed:
		h.publish(c.Repository, map[string]float64{"SnapshotFailed": 1, "ShardsFailed": float64(out.Shards.Failed)})
		return out, h.fail(ctx, "take-snapshot", failure.SnapshotFailed(fmt.Sprintf("snapshot %s/%s ended %s: %d of %d shards failed%s; retention was not applied", c.Repository, out.Snapshot, out.State, out.Shards.Failed, out.Shards.Total, firstFailure(out.Failures))))
	case model.StateSuccess:
		if snap.Empty() {
			// An empty SUCCESS (patterns matched nothing) must not push real
			// snapshots out of retention.
			h.publish(c.Repository, map[string]float64{"SnapshotFailed": 1})
			return out, h.fail(ctx, "take-snapshot", failure.SnapshotFailed(fmt.Sprintf("snapshot %s/%s succeeded but holds no index: indices %v matched nothing; check the patterns; retention was not applied", c.Repository, out.Snapshot, c.Indices)))
		}
		h.publishSuccess(ctx, ops, c.Repository, snap, now)
		if c.Retention.enabled() {
			r, err := h.applyRetention(ctx, ops, c.Repository, c.Retention, now, c.DryRun)
			out.Retention = &r
			if err != nil {
				return out, h.fail(ctx, "take-snapshot retention", err)
			}
		}
	default:
		if c.Retention.enabled() {
			out.Retention = &RetentionResult{PolicyID: c.Retention.PolicyID, Deleted: []RetentionDecision{},
				Deferred: "the snapshot is " + out.State + "; retention runs only after a SUCCESS: invoke with {\"action\":\"retention\"} once it has finished"}
		}
	}
	return out, nil
}

// publishSuccess reports a finished SUCCESS snapshot; its size needs one
// more request, which is skipped (not failed) when it errors.
func (h TakeSnapshot) publishSuccess(ctx context.Context, ops TakeSnapshotOps, repo string, info model.Snapshot, now time.Time) {
	vals := map[string]float64{"SnapshotSucceeded": 1, "ShardsFailed": float64(info.Shards.Failed), "LastSuccessAgeSeconds": now.Sub(info.Start).Seconds()}
	if info.Duration > 0 {
		vals["SnapshotDurationSeconds"] = info.Duration.Seconds()
	}
	if p, err := ops.Status(ctx, repo, info.Name); err == nil {
		vals["SnapshotSizeBytes"] = float64(p.TotalBytes)
	}
	h.publish(repo, vals)
}

// migrationIndices reads the indices the migration moves by snapshot from
// its ledger, and records that the snapshot phase has begun.
func (h TakeSnapshot) migrationIndices(ctx context.Context, c SnapshotConfig) ([]string, error) {
	b, err := openBook(ctx, h.Deps, c.Ledger, c.Migration)
	if err != nil {
		return nil, err
	}
	names, err := b.sources(ctx, migrate.Snapshot)
	if err != nil {
		return nil, err
	}
	if err := b.update(ctx, func(m *ledger.Migration) { m.Phase = ledger.PhaseSnapshot }); err != nil {
		return nil, err
	}
	return names, nil
}

// firstFailures keeps a few shard failures: the answer names the first
// ones, the snapshot holds them all.
func firstFailures(f []model.ShardFailure) []model.ShardFailure {
	if len(f) > 5 {
		return f[:5]
	}
	return f
}

func firstFailure(f []model.ShardFailure) string {
	if len(f) == 0 {
		return ""
	}
	return fmt.Sprintf(" (first: index %s shard %d: %s)", f[0].Index, f[0].ShardID, f[0].Reason)
}

// maxMetadataBytes is the engines' limit for a snapshot's metadata, as
// they count it (its JSON): Elasticsearch 7.10 and OpenSearch 1.3 to 3.5
// accept 1024 bytes and refuse 1025 with "metadata must be smaller than
// 1024 bytes" (seen on the real engines, test/integration).
const maxMetadataBytes = 1024

// snapshotMetadata is the metadata take-snapshot records: the event's own
// metadata, essnap's record of the request (trigger, template, time,
// execution, indices) and the retention policy id.
func (c *SnapshotConfig) snapshotMetadata(now time.Time) map[string]any {
	meta := maps.Clone(c.Metadata)
	if meta == nil {
		meta = map[string]any{}
	}
	origin := map[string]any{
		"trigger":      c.Trigger,
		"template":     c.NameTemplate,
		"requested_at": now.UTC().Format("2006-01-02T15:04:05Z"),
	}
	if c.Execution != "" {
		origin["execution"] = c.Execution
	}
	switch {
	case c.Migration != "":
		origin["migration"], origin["indices"] = c.Migration, len(c.Indices)
	case len(c.Indices) > 0:
		origin["indices"] = c.Indices
	}
	meta["essnap"] = origin
	meta[retention.PolicyMetadataKey] = c.Retention.PolicyID
	return meta
}

// jsonSize is how many bytes the engines count for v: its compact JSON,
// non-ASCII as UTF-8 (as Jackson writes it), so not HTML-escaped.
func jsonSize(v any) int {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return 0
	}
	return b.Len() - 1 // Encode's newline
}

// metadataProblem says, before anything is sent, that the snapshot
// metadata would exceed the engines' limit, and which field made it too
// large: each event field's share is measured by leaving it out.
func (c *SnapshotConfig) metadataProblem() string {
	var zero time.Time // requested_at has the same width at any time
	total := jsonSize(c.snapshotMetadata(zero))
	if total <= maxMetadataBytes {
		return ""
	}
	share := func(drop func(*SnapshotConfig)) int {
		d := *c
		drop(&d)
		return total - jsonSize(d.snapshotMetadata(zero))
	}
	parts := []struct {
		field string
		bytes int
	}{
		{"metadata", share(func(d *SnapshotConfig) { d.Metadata = nil })},
		{"execution", share(func(d *SnapshotConfig) { d.Execution = "" })},
		{"indices", share(func(d *SnapshotConfig) { d.Indices = nil })},
		{"snapshot", share(func(d *SnapshotConfig) { d.NameTemplate = "" })},
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].bytes > parts[j].bytes })
	var shares []string
	for _, p := range parts {
		if p.bytes > 0 {
			shares = append(shares, fmt.Sprintf("%s %d", p.field, p.bytes))
		}
	}
	return fmt.Sprintf("%s makes the snapshot metadata too large: it would be %d bytes of JSON, and the engines refuse more than %d (bytes by field: %s; essnap's own record takes the rest); shorten %s",
		parts[0].field, total, maxMetadataBytes, strings.Join(shares, ", "), parts[0].field)
}

// checkSelection refuses, before anything is created, a snapshot whose
// index patterns select nothing on the domain: the engine would make an
// empty SUCCESS snapshot, which restores nothing and would count toward
// retention. Patterns match as for restore selection (snapshot.MatchIndices)
// against the domain's indices, aliases and data streams. With
// ignore_unavailable (the default) a concrete name that does not exist is
// skipped, as the engine skips it, and only a list that selects nothing is
// refused; without it, any missing concrete name is refused, as the engine
// would refuse the whole snapshot.
//
// A caller that may not list indices or aliases (fine-grained access
// control mapped to manage_snapshots only) cannot check: the snapshot is
// then taken, and an empty SUCCESS is still caught after it (Invoke).
func (h TakeSnapshot) checkSelection(ctx context.Context, ops TakeSnapshotOps, c *SnapshotConfig) error {
	taken, _, err := ops.TakenNames(ctx)
	var ae *esclient.APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) {
		h.Log.WarnContext(ctx, "take-snapshot: the patterns were not checked before the snapshot: listing indices was denied", "error", err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("take-snapshot: read the domain's indices to check the patterns: %w", err)
	}
	available := make([]string, 0, len(taken))
	indices := 0
	for n, status := range taken {
		available = append(available, n)
		if status != snapshot.StatusAlias {
			indices++
			if ds, ok := dataStreamOf(n); ok {
				available = append(available, ds)
			}
		}
	}
	selected, missing, err := snapshot.MatchIndices(available, c.Indices)
	if err != nil {
		return failure.Validation("take-snapshot", []string{err.Error()})
	}
	var p problems
	switch {
	case len(missing) > 0 && !c.IgnoreUnavailable:
		p.add("indices %s do not exist on the domain (no index, alias or data stream of that name); with ignore_unavailable=false the engine refuses the whole snapshot; fix the names, or set ignore_unavailable=true to skip missing ones; nothing was created", quoteAll(missing))
	case len(selected) == 0 && len(c.Indices) == 0:
		p.add("the domain has no index, so the snapshot would be empty; nothing was created")
	case len(selected) == 0:
		p.add("indices %s match no index, alias or data stream of the domain (it has %d indices), so the snapshot would succeed empty; check the patterns (GET _cat/indices); nothing was created", quoteAll(c.Indices), indices)
	}
	if len(p) > 0 {
		return failure.Validation("take-snapshot", p)
	}
	return nil
}

// dataStreamOf names the data stream a backing index belongs to
// (.ds-<stream>-000001, or .ds-<stream>-<yyyy.MM.dd>-000001 on newer
// engines), so a pattern naming the stream counts as matching.
func dataStreamOf(index string) (string, bool) {
	rest, ok := strings.CutPrefix(index, ".ds-")
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", false
	}
	stream := rest[:i]
	if j := strings.LastIndexByte(stream, '-'); j > 0 {
		if _, err := time.Parse("2006.01.02", stream[j+1:]); err == nil {
			stream = stream[:j]
		}
	}
	return stream, true
}

// quoteAll quotes the first values (each cut with config.Short) for a
// message, and counts the rest.
func quoteAll(vals []string) string {
	const shown = 10
	var q []string
	for i, v := range vals {
		if i == shown {
			q = append(q, fmt.Sprintf("and %d more", len(vals)-shown))
			break
		}
		q = append(q, fmt.Sprintf("%q", config.Short(v)))
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// recordCounts adds to the snapshot metadata each selected index's
// document count, read just before the snapshot is requested, for the
// restore drill to compare the restored counts with (docs/drill.md).
// System indices are left out (the drill does not restore them). The
// counts share the metadata's 1024-byte limit: as many as fit are kept
// (drill.FitCounts: newest names first) and counts_omitted says how many
// did not. A count that cannot be read is not worth failing the snapshot
// for: it is logged, and the drill then checks health only.
func (h TakeSnapshot) recordCounts(ctx context.Context, ops TakeSnapshotOps, c *SnapshotConfig, meta map[string]any) {
	counts, err := ops.DocCounts(ctx, c.Indices)
	if err != nil {
		h.Log.WarnContext(ctx, "take-snapshot: document counts not recorded; the restore drill will check health only", "error", err.Error())
		return
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	plan, err := snapshot.PlanRestore(names, nil, false, nil, nil)
	if err != nil || len(plan.Indices) == 0 {
		return
	}
	keep := make(map[string]int64, len(plan.Indices))
	for _, n := range plan.Sources() {
		keep[n] = counts[n]
	}
	origin, ok := meta[model.OriginMetadataKey].(map[string]any)
	if !ok {
		return
	}
	kept, omitted := drill.FitCounts(keep, maxMetadataBytes-jsonSize(meta))
	origin[drill.CountsKey] = kept
	if omitted > 0 {
		origin[drill.CountsOmittedKey] = omitted
	}
	if jsonSize(meta) > maxMetadataBytes { // never: FitCounts kept within the room
		delete(origin, drill.CountsKey)
		delete(origin, drill.CountsOmittedKey)
	}
}

// RetentionConfig is the "retention" object of a take-snapshot event and
// its ESSNAP_RETENTION_* variables: the policy (declared, with its field
// names and parsers, in retention.Policy) plus how to apply it.
type RetentionConfig struct {
	retention.Policy
	// BatchSize is how many snapshots one DELETE names.
	BatchSize int `json:"batch_size" env:"BATCH_SIZE"`
}

// enabled reports whether any rule can delete: min_count alone cannot.
func (r RetentionConfig) enabled() bool {
	p := r.Policy
	return p.ExpireAfter > 0 || p.MaxCount > 0 || p.KeepDaily > 0 || p.KeepWeekly > 0 || p.KeepMonthly > 0
}

// staticPrefix is the fixed start of a name template ("nightly-" for
// "<nightly-{now/d}>"), the default prefix of retention candidates.
func staticPrefix(tmpl string) string {
	tmpl = strings.TrimPrefix(tmpl, "<")
	if i := strings.IndexByte(tmpl, '{'); i >= 0 {
		return tmpl[:i]
	}
	return strings.TrimSuffix(tmpl, ">")
}

// validate checks the batch size, and the policy when it can delete.
func (r RetentionConfig) validate(p *problems) {
	if r.BatchSize < 1 || r.BatchSize > 200 {
		p.add("retention.batch_size %d must be between 1 and 200", r.BatchSize)
	}
	if r.enabled() {
		if err := r.Policy.Validate(); err != nil {
			p.add("%v", err)
		}
	}
}

// RetentionDecision is one snapshot retention deleted (or would delete).
type RetentionDecision struct {
	Snapshot string   `json:"snapshot"`
	State    string   `json:"state"`
	Reasons  []string `json:"reasons"`
}

// RetentionResult reports a retention pass; every decision has its reasons.
type RetentionResult struct {
	PolicyID string              `json:"policy_id"`
	DryRun   bool                `json:"dry_run,omitempty"`
	Deferred string              `json:"deferred,omitempty"`
	Deleted  []RetentionDecision `json:"deleted"`
	Kept     int                 `json:"kept"`
	Ignored  int                 `json:"ignored"`
	Requests int                 `json:"requests"`
}

// ours keeps the snapshots the policy created (name prefix and policy
// metadata), optionally only in the given states, for model.Newest.
func ours(p retention.Policy, states ...string) func(model.Snapshot) bool {
	return func(s model.Snapshot) bool {
		return strings.HasPrefix(s.Name, p.Prefix) && s.Metadata[model.PolicyMetadataKey] == p.PolicyID &&
			(len(states) == 0 || slices.Contains(states, s.State))
	}
}

// applyRetention lists the repository once, refuses to delete while the
// policy's newest snapshot is running or unhealthy, and deletes the plan in
// batched multi-name requests: 1 list + ceil(deletions/batch) requests.
func (h TakeSnapshot) applyRetention(ctx context.Context, ops TakeSnapshotOps, repo string, rc RetentionConfig, now time.Time, dryRun bool) (RetentionResult, error) {
	res := RetentionResult{PolicyID: rc.PolicyID, DryRun: dryRun, Deleted: []RetentionDecision{}}
	snaps, err := ops.ListSnapshots(ctx, repo, model.PolicyMetadataKey, rc.PinKeyOrDefault())
	res.Requests++
	if err != nil {
		return res, fmt.Errorf("retention on %s: %w", repo, err)
	}
	// The guard looks at every snapshot sharing the newest start time:
	// Elasticsearch 7.10 gives back-to-back snapshots the same start.
	// Running first, then failed, then empty: the worst one decides.
	tied := model.NewestTied(snaps, ours(rc.Policy))
	for _, last := range tied {
		if last.State == model.StateInProgress {
			return res, &failure.ConcurrentSnapshotError{Detail: &failure.Detail{Message: fmt.Sprintf("retention on %s waits: the policy's newest snapshot %s is still running; retry after it finishes", repo, last.Name)}}
		}
	}
	for _, last := range tied {
		switch {
		case last.State == model.StatePartial || last.State == model.StateFailed:
			h.publish(repo, map[string]float64{"SnapshotFailed": 1})
			return res, failure.SnapshotFailed(fmt.Sprintf("retention on %s not applied: the policy's newest snapshot %s is %s; fix the cause and take a successful snapshot first", repo, last.Name, last.State))
		case last.State == model.StateSuccess && last.Empty():
			h.publish(repo, map[string]float64{"SnapshotFailed": 1})
			return res, failure.SnapshotFailed(fmt.Sprintf("retention on %s not applied: the policy's newest snapshot %s holds no index (its patterns matched nothing)", repo, last.Name))
		}
	}
	if last, ok := model.Newest(snaps, ours(rc.Policy, model.StateSuccess)); ok {
		age := now.Sub(last.Start)
		vals := map[string]float64{"LastSuccessAgeSeconds": age.Seconds()}
		if age < 24*time.Hour {
			vals["SnapshotSucceeded"] = 1
		}
		h.publish(repo, vals)
	}
	plan := retention.Apply(rc.Policy, snaps, now)
	res.Kept, res.Ignored = len(plan.Keep), len(plan.Ignored)
	for _, d := range plan.Delete {
		res.Deleted = append(res.Deleted, RetentionDecision{Snapshot: d.Snapshot.Name, State: d.Snapshot.State, Reasons: d.Reasons})
	}
	if dryRun || len(plan.Delete) == 0 {
		return res, nil
	}
	done := 0
	for _, batch := range retention.Batches(plan.DeleteNames(), rc.BatchSize, retention.DefaultMaxPathBytes) {
		res.Requests++
		if err := ops.DeleteSnapshots(ctx, repo, batch); err != nil {
			res.Deleted = res.Deleted[:done]
			h.publish(repo, map[string]float64{"RetentionDeletions": float64(done)})
			return res, fmt.Errorf("retention on %s: deleted %d of %d, then: %w", repo, done, len(plan.Delete), err)
		}
		done += len(batch)
	}
	h.publish(repo, map[string]float64{"RetentionDeletions": float64(done)})
	h.Log.InfoContext(ctx, "retention applied", "repository", repo, "policy_id", rc.PolicyID, "deleted", done, "kept", res.Kept, "ignored", res.Ignored, "requests", res.Requests)
	return res, nil
}
