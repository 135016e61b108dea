package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/model"
)

// Ops runs snapshot operations on one domain. It holds no state besides the
// client, so one value serves a whole function invocation.
type Ops struct {
	C *esclient.Client
}

// Version is what GET / says about the engine; migrations compare it.
type Version struct {
	Distribution string `json:"distribution"` // "opensearch" or "elasticsearch"
	Number       string `json:"number"`
}

// EngineVersion reads the engine's distribution and version. OpenSearch
// 1.x/2.x with compatibility mode (compatibility.override_main_response_version,
// removed in 3.0) answer GET / with number 7.10.2 and no distribution; the
// OpenSearch tagline gives them away, and the node's own version then
// comes from GET _nodes/_local (observed on 1.3.1 and 2.19.1).
func (o Ops) EngineVersion(ctx context.Context) (Version, error) {
	var r struct {
		Version struct {
			Distribution string `json:"distribution"`
			Number       string `json:"number"`
		} `json:"version"`
		Tagline string `json:"tagline"`
	}
	if err := o.C.Do(ctx, http.MethodGet, "/", nil, nil, &r); err != nil {
		return Version{}, fmt.Errorf("read engine version: %w", err)
	}
	v := Version{Distribution: r.Version.Distribution, Number: r.Version.Number}
	if v.Distribution == "" && strings.Contains(r.Tagline, "OpenSearch") {
		var nodes struct {
			Nodes map[string]struct {
				Version string `json:"version"`
			} `json:"nodes"`
		}
		q := url.Values{"filter_path": {"nodes.*.version"}}
		if err := o.C.Do(ctx, http.MethodGet, "/_nodes/_local", q, nil, &nodes); err != nil {
			return Version{}, fmt.Errorf("read engine version (OpenSearch in compatibility mode): %w", err)
		}
		for _, n := range nodes.Nodes {
			v.Distribution, v.Number = "opensearch", n.Version
		}
		if v.Distribution == "" {
			return Version{}, fmt.Errorf("read engine version: OpenSearch in compatibility mode reports %s, and GET _nodes/_local named no node version", r.Version.Number)
		}
	}
	if v.Distribution == "" {
		v.Distribution = "elasticsearch"
	}
	return v, nil
}

// CreatedVersions reads index.version.created of each named index: the
// engine version that created it, which decides whether another engine can
// restore it (field notes §8). Names are sent in batches that keep URLs
// short; a missing index is an error.
func (o Ops) CreatedVersions(ctx context.Context, names []string) (map[string]int64, error) {
	out := make(map[string]int64, len(names))
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	q := url.Values{"flat_settings": {"true"}, "expand_wildcards": {"all"}}
	for _, batch := range joinBatches(sorted, 3000) {
		var ans map[string]struct {
			Settings map[string]string `json:"settings"`
		}
		if err := o.C.Do(ctx, http.MethodGet, "/"+batch+"/_settings/index.version.created", q, nil, &ans); err != nil {
			return nil, fmt.Errorf("read index.version.created: %w", err)
		}
		for name, a := range ans {
			id, err := strconv.ParseInt(a.Settings["index.version.created"], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("read index.version.created of %s: %q is not a version id", name, a.Settings["index.version.created"])
			}
			out[name] = id
		}
	}
	for _, n := range sorted {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("read index.version.created: index %s was not in the answer", n)
		}
	}
	return out, nil
}

// RepositorySpec is a repository to register.
type RepositorySpec struct {
	Name     string
	Type     string // s3 or fs
	Settings map[string]any
	// Verify asks every node to write to the repository after registering.
	Verify bool
	// Replace allows re-pointing an existing repository (another location,
	// another type, readonly turned off); without it such a change is refused.
	Replace bool
}

// locationKeys are the settings that say where a repository's data lives.
var locationKeys = []string{"bucket", "base_path", "location", "region"}

// safeUpdate allows updates of tuning settings only: a change of type or
// location, or readonly turned off, needs Replace.
func safeUpdate(spec RepositorySpec, curType string, cur map[string]any) error {
	var changes []string
	if curType != spec.Type {
		changes = append(changes, fmt.Sprintf("type %s -> %s", curType, spec.Type))
	}
	for _, k := range locationKeys {
		if fmt.Sprint(cur[k]) != fmt.Sprint(spec.Settings[k]) && (cur[k] != nil || spec.Settings[k] != nil) {
			changes = append(changes, fmt.Sprintf("%s %v -> %v", k, orNone(cur[k]), orNone(spec.Settings[k])))
		}
	}
	if fmt.Sprint(cur["readonly"]) == "true" && fmt.Sprint(spec.Settings["readonly"]) != "true" {
		changes = append(changes, "readonly true -> false (two writers on one location corrupt a repository)")
	}
	if len(changes) == 0 {
		return nil
	}
	return fmt.Errorf("register %s: %w: it exists with other settings (%s); nothing was changed; set replace=true to re-point it, or use another repository name", spec.Name, failure.ErrRepositoryConflict, strings.Join(changes, "; "))
}

func orNone(v any) any {
	if v == nil {
		return "(none)"
	}
	return v
}

// RegisterResult says what registration changed.
type RegisterResult struct {
	Repository  string `json:"repository"`
	Status      string `json:"status"` // created, updated or unchanged
	Verified    bool   `json:"verified"`
	VerifyError string `json:"verify_error,omitempty"`
	// VerifyAttempts is how many POST _verify requests were sent, counted
	// by the transport (its own repeats included), so a message about a
	// failed verification can say truthfully how often it was tried.
	VerifyAttempts int `json:"verify_attempts,omitempty"`
	// VerifyCause is the engine's refusal of the last verification (the
	// error behind VerifyError), so callers can type it.
	VerifyCause error `json:"-"`
}

// RegisterRepository registers a repository idempotently: an identical one
// is left alone, a different one updated. Registration itself never verifies
// (on AWS a failed verification can leave the repository registered anyway);
// verification runs after, retried once, and is reported separately.
func (o Ops) RegisterRepository(ctx context.Context, spec RepositorySpec) (RegisterResult, error) {
	res := RegisterResult{Repository: spec.Name}
	p := esclient.Path("_snapshot", spec.Name)
	// Every repository, not only this one: a writable registration must not
	// share its location with another repository (sharedLocation).
	var all map[string]repositoryInfo
	if err := o.C.Do(ctx, http.MethodGet, "/_snapshot", nil, nil, &all); err != nil {
		return res, fmt.Errorf("register %s: read current repositories: %w", spec.Name, err)
	}
	c, ok := all[spec.Name]
	switch {
	case !ok:
		res.Status = "created"
	case c.Type == spec.Type && sameSettings(c.Settings, spec.Settings):
		res.Status = "unchanged"
	case !spec.Replace:
		if err := safeUpdate(spec, c.Type, c.Settings); err != nil {
			return res, err
		}
		res.Status = "updated"
	default:
		res.Status = "updated"
	}
	if res.Status != "unchanged" {
		if err := sharedLocation(spec, all); err != nil {
			return res, err
		}
		body := map[string]any{"type": spec.Type, "settings": spec.Settings}
		q := url.Values{"verify": {"false"}}
		if err := o.C.Do(esclient.WithIdempotent(ctx), http.MethodPut, p, q, body, nil); err != nil {
			return res, fmt.Errorf("register %s: %w", spec.Name, err)
		}
	}
	if spec.Verify {
		var verr error
		// Verification only writes and deletes a test file: the transport may
		// repeat it after a lost answer like any read (its repeatOn table),
		// and counts what it sends, so a message says how often it was tried.
		vctx, sent := esclient.WithAttemptCount(esclient.WithIdempotent(ctx))
		for attempt := 0; attempt < verifyAttempts; attempt++ {
			if verr = o.C.Do(vctx, http.MethodPost, p+"/_verify", nil, nil, nil); verr == nil {
				res.Verified = true
				break
			}
			if !verificationRan(verr) || !esclient.IsType(verr, "repository_verification_exception") || ctx.Err() != nil {
				break
			}
		}
		res.VerifyAttempts = int(sent.Load())
		if verr != nil && !res.Verified {
			if !verificationRan(verr) {
				return res, fmt.Errorf("register %s: the repository is registered (%s), but %w: %s POST %s/_verify got no answer from the engine itself, so this says nothing about the repository's storage or permissions; rerunning is safe (registration is idempotent); the last failure: %w",
					spec.Name, res.Status, failure.ErrVerifyNotRun, attemptsText(res.VerifyAttempts), p, verr)
			}
			res.VerifyError = verr.Error()
			res.VerifyCause = verr
		}
	}
	return res, nil
}

// verificationRan reports whether err is the engine's own answer to a
// verification, as opposed to no answer: a network error, a timeout, 429,
// 502, 503, 504, or a 5xx whose body is not the engine's (a proxy's page).
func verificationRan(err error) bool {
	var ae *esclient.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch {
	case ae.Status == http.StatusTooManyRequests, ae.Status == http.StatusBadGateway,
		ae.Status == http.StatusServiceUnavailable, ae.Status == http.StatusGatewayTimeout:
		return false
	case ae.Status >= 500 && ae.Source != esclient.SourceEngine:
		return false
	}
	return true
}

// attemptsText says how many requests were sent, for messages.
func attemptsText(n int) string {
	if n == 1 {
		return "1 attempt of"
	}
	return fmt.Sprintf("%d attempts of", n)
}

// verifyAttempts is how often registration verifies a repository. It is
// not a transient-error rule and so not part of pkg/failure's declaration
// or the transport's table: repository_verification_exception is final in
// general (the SnapshotRole cannot reach the bucket), but right after a
// registration AWS can fail the first verification while the domain's view
// of the role settles, so this one operation asks once more and reports a
// second failure (RegisterResult.VerifyError) instead of an error type.
const verifyAttempts = 2

// sameSettings compares settings as strings, since engines echo every
// setting back as a string ("readonly":"true").
func sameSettings(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if fmt.Sprint(a[k]) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

// CreateOptions are the snapshot request's options.
type CreateOptions struct {
	Indices            []string
	IgnoreUnavailable  bool
	IncludeGlobalState bool
	Partial            bool
	Metadata           map[string]any
	WaitForCompletion  bool
}

// CreateResult is the snapshot a create produced or found.
type CreateResult struct {
	Snapshot model.Snapshot
	// Existing is true when the snapshot already existed or was running:
	// a rerun or duplicate delivery, nothing new was started.
	Existing bool `json:"existing"`
	// Recovered is true when the create's answer was lost (502/504/timeout)
	// and the snapshot was found by checking instead of sending it again.
	Recovered bool `json:"recovered,omitempty"`
}

// outcomeUnknown reports whether err means the request may or may not have
// run: a gateway error, a 5xx that is not the engine's own answer (a
// proxy's empty 503 after forwarding), or a transport failure after
// sending. A request that provably never went out (esclient.ErrNotSent:
// refused connection, DNS, TLS handshake) did not run.
func outcomeUnknown(err error) bool {
	if err == nil || errors.Is(err, esclient.ErrNotSent) {
		return false
	}
	var ae *esclient.APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusBadGateway || ae.Status == http.StatusGatewayTimeout ||
			ae.Status >= 500 && ae.Source != esclient.SourceEngine
	}
	return true
}

// CreateSnapshot starts a snapshot (non-blocking unless asked). A snapshot of
// the same name that exists or runs is returned instead of an error; after a
// lost answer the state is checked rather than the create sent again.
func (o Ops) CreateSnapshot(ctx context.Context, repo, name string, opt CreateOptions) (CreateResult, error) {
	body := map[string]any{
		"ignore_unavailable":   opt.IgnoreUnavailable,
		"include_global_state": opt.IncludeGlobalState,
		"partial":              opt.Partial,
	}
	if len(opt.Indices) > 0 {
		body["indices"] = strings.Join(opt.Indices, ",")
	}
	if len(opt.Metadata) > 0 {
		body["metadata"] = opt.Metadata
	}
	q := url.Values{"wait_for_completion": {strconv.FormatBool(opt.WaitForCompletion)}}
	var ans struct {
		Snapshot *model.Snapshot `json:"snapshot"`
	}
	putCtx := ctx
	if opt.WaitForCompletion {
		putCtx = esclient.WithLongRequest(ctx)
	}
	err := o.C.Do(putCtx, http.MethodPut, esclient.Path("_snapshot", repo, name), q, body, &ans)
	switch {
	case err == nil:
		if ans.Snapshot != nil {
			return CreateResult{Snapshot: *ans.Snapshot}, nil
		}
		info, gerr := o.GetSnapshot(ctx, repo, name)
		if gerr != nil {
			return CreateResult{Snapshot: model.Snapshot{Name: name, State: model.StateInProgress}}, nil
		}
		return CreateResult{Snapshot: info}, nil
	case esclient.IsType(err, "invalid_snapshot_name_exception") && (strings.Contains(err.Error(), "already exists") || strings.Contains(err.Error(), "already in-progress")):
		info, gerr := o.GetSnapshot(ctx, repo, name)
		if gerr != nil {
			return CreateResult{}, fmt.Errorf("snapshot %s/%s exists but cannot be read: %w", repo, name, gerr)
		}
		return CreateResult{Snapshot: info, Existing: true}, nil
	case outcomeUnknown(err) && ctx.Err() == nil:
		// The answer was lost (gateway error, attempt timeout, broken
		// connection): look instead of sending the create again.
		info, gerr := o.GetSnapshot(ctx, repo, name)
		if gerr == nil {
			return CreateResult{Snapshot: info, Recovered: true}, nil
		}
		if !esclient.IsType(gerr, "snapshot_missing_exception") {
			return CreateResult{}, fmt.Errorf("snapshot %s/%s: %w: the create failed (%v) and the check failed too: %v", repo, name, failure.ErrOutcomeUnknown, err, gerr)
		}
		return CreateResult{}, fmt.Errorf("snapshot %s/%s: %w: the create failed (%v) and no such snapshot exists; rerunning is safe: %w", repo, name, failure.ErrOutcomeUnknown, err, err)
	default:
		return CreateResult{}, fmt.Errorf("snapshot %s/%s: %w", repo, name, err)
	}
}

// GetSnapshot reads one snapshot. Unlike _status, it reports PARTIAL.
func (o Ops) GetSnapshot(ctx context.Context, repo, name string) (model.Snapshot, error) {
	var ans struct {
		Snapshots []model.Snapshot `json:"snapshots"`
	}
	if err := o.C.Do(ctx, http.MethodGet, esclient.Path("_snapshot", repo, name), nil, nil, &ans); err != nil {
		return model.Snapshot{}, fmt.Errorf("get snapshot %s/%s: %w", repo, name, err)
	}
	if len(ans.Snapshots) == 0 {
		return model.Snapshot{}, &esclient.APIError{Method: http.MethodGet, Path: esclient.Path("_snapshot", repo, name), Status: 404, Source: esclient.SourceEngine, Type: "snapshot_missing_exception", Reason: fmt.Sprintf("[%s:%s] is missing", repo, name)}
	}
	return ans.Snapshots[0], nil
}

// Progress is a running snapshot's progress from _status; State comes from
// GET _snapshot, because _status reports a finished PARTIAL as SUCCESS.
type Progress struct {
	model.Snapshot
	TotalBytes     int64 `json:"total_bytes"`
	ProcessedBytes int64 `json:"processed_bytes"`
	TotalFiles     int64 `json:"total_files"`
	ShardsDone     int   `json:"shards_done"`
	ShardsTotal    int   `json:"shards_total"`
}

// progressFields are Progress's own JSON fields.
type progressFields struct {
	TotalBytes     int64 `json:"total_bytes"`
	ProcessedBytes int64 `json:"processed_bytes"`
	TotalFiles     int64 `json:"total_files"`
	ShardsDone     int   `json:"shards_done"`
	ShardsTotal    int   `json:"shards_total"`
}

// MarshalJSON writes one flat object, the snapshot's engine fields beside
// the progress figures, which the state machine reads
// (snapshot.start_time_in_millis, end_time_in_millis, total_bytes).
func (p Progress) MarshalJSON() ([]byte, error) {
	snap, err := json.Marshal(p.Snapshot)
	if err != nil {
		return nil, err
	}
	own, err := json.Marshal(progressFields{p.TotalBytes, p.ProcessedBytes, p.TotalFiles, p.ShardsDone, p.ShardsTotal})
	if err != nil {
		return nil, err
	}
	return append(append(snap[:len(snap)-1], ','), own[1:]...), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Progress) UnmarshalJSON(b []byte) error {
	var f progressFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &p.Snapshot); err != nil {
		return err
	}
	p.TotalBytes, p.ProcessedBytes, p.TotalFiles, p.ShardsDone, p.ShardsTotal = f.TotalBytes, f.ProcessedBytes, f.TotalFiles, f.ShardsDone, f.ShardsTotal
	return nil
}

// Status combines GET _snapshot (truthful state) with _status (sizes).
func (o Ops) Status(ctx context.Context, repo, name string) (Progress, error) {
	info, err := o.GetSnapshot(ctx, repo, name)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Snapshot: info}
	var ans struct {
		Snapshots []struct {
			ShardsStats struct {
				Done  int `json:"done"`
				Total int `json:"total"`
			} `json:"shards_stats"`
			Stats struct {
				Total struct {
					FileCount   int64 `json:"file_count"`
					SizeInBytes int64 `json:"size_in_bytes"`
				} `json:"total"`
				Processed struct {
					SizeInBytes int64 `json:"size_in_bytes"`
				} `json:"processed"`
			} `json:"stats"`
		} `json:"snapshots"`
	}
	if err := o.C.Do(ctx, http.MethodGet, esclient.Path("_snapshot", repo, name, "_status"), nil, nil, &ans); err != nil {
		return p, fmt.Errorf("snapshot status %s/%s: %w", repo, name, err)
	}
	if len(ans.Snapshots) > 0 {
		s := ans.Snapshots[0]
		p.TotalBytes, p.TotalFiles = s.Stats.Total.SizeInBytes, s.Stats.Total.FileCount
		p.ProcessedBytes = s.Stats.Processed.SizeInBytes
		if info.State != model.StateInProgress {
			p.ProcessedBytes = p.TotalBytes
		}
		p.ShardsDone, p.ShardsTotal = s.ShardsStats.Done, s.ShardsStats.Total
	}
	return p, nil
}

// ListSnapshots lists a repository's snapshots, oldest first, narrowed by
// filter_path to model.ListingPaths plus the given metadata keys: on 10,000
// snapshots the body shrinks from about 19 MB to about 2 MB, and plain
// encoding/json decodes it within retention's CPU and memory budget
// (docs/benchmarks.md). Callers that need a snapshot's indices or failures
// read it with GetSnapshot.
func (o Ops) ListSnapshots(ctx context.Context, repo string, metadataKeys ...string) ([]model.Snapshot, error) {
	var out []model.Snapshot
	q := url.Values{"filter_path": {model.ListingFilter(metadataKeys...)}}
	err := o.C.DoStream(ctx, http.MethodGet, esclient.Path("_snapshot", repo, "_all"), q, nil, func(r io.Reader) error {
		var err error
		out, err = model.DecodeListing(r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots of %s: %w", repo, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// DeleteSnapshots deletes several snapshots in one request (ES 7.8+ and
// OpenSearch). If one name is missing the engine deletes none.
func (o Ops) DeleteSnapshots(ctx context.Context, repo string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	esc := make([]string, len(names))
	for i, n := range names {
		esc[i] = url.PathEscape(n)
	}
	p := esclient.Path("_snapshot", repo) + "/" + strings.Join(esc, ",")
	if err := o.C.Do(ctx, http.MethodDelete, p, nil, nil, nil); err != nil {
		return fmt.Errorf("delete %d snapshots from %s: %w", len(names), repo, err)
	}
	return nil
}

// IndexState is an existing index's status and size.
type IndexState struct {
	Index  string `json:"index"`
	Status string `json:"status"`
	Docs   int64  `json:"docs"`
	Bytes  int64  `json:"bytes"`
	Health string `json:"health"`
}

// Indices lists the domain's indices matching pattern ("*" for all,
// including hidden and closed ones).
func (o Ops) Indices(ctx context.Context, pattern string) (map[string]IndexState, error) {
	var patterns []string
	if pattern != "" && pattern != "*" {
		patterns = []string{pattern}
	}
	out, err := o.catIndices(ctx, patterns, "all")
	if err != nil {
		return nil, fmt.Errorf("list indices: %w", err)
	}
	return out, nil
}

// catIndices is the one reader of _cat/indices: status, health, documents
// and store bytes of every index the patterns select (all with none;
// -pattern excludes), in one request. A selection that matches nothing is
// an empty map, not an error.
func (o Ops) catIndices(ctx context.Context, patterns []string, expand string) (map[string]IndexState, error) {
	var rows []struct {
		Index  string `json:"index"`
		Status string `json:"status"`
		Health string `json:"health"`
		Docs   string `json:"docs.count"`
		Store  string `json:"store.size"`
	}
	q := url.Values{"format": {"json"}, "h": {"index,status,health,docs.count,store.size"}, "bytes": {"b"}, "expand_wildcards": {expand}}
	p := "/_cat/indices"
	if len(patterns) > 0 {
		esc := make([]string, len(patterns))
		for i, pt := range patterns {
			esc[i] = url.PathEscape(pt)
		}
		p += "/" + strings.Join(esc, ",")
	}
	if err := o.C.Do(ctx, http.MethodGet, p, q, nil, &rows); err != nil {
		if esclient.IsType(err, "index_not_found_exception") {
			return map[string]IndexState{}, nil
		}
		return nil, err
	}
	out := make(map[string]IndexState, len(rows))
	for _, r := range rows {
		d, _ := strconv.ParseInt(r.Docs, 10, 64)
		b, _ := strconv.ParseInt(r.Store, 10, 64)
		out[r.Index] = IndexState{Index: r.Index, Status: r.Status, Docs: d, Bytes: b, Health: r.Health}
	}
	return out, nil
}
