package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/snapshot"
)

// RestoreOptions describe a restore. The zero value restores every
// non-system index of the snapshot under its own name, without aliases'
// global state.
type RestoreOptions struct {
	Indices             []string
	Rename              *snapshot.Renamer
	IndexSettings       map[string]any
	IgnoreIndexSettings []string
	IncludeAliases      bool
	IncludeGlobalState  bool
	IncludeSystem       bool
	Partial             bool
	// DryRun plans and checks but sends no restore.
	DryRun bool
}

// RestoreResult is what a restore started.
type RestoreResult struct {
	Repository string `json:"repository"`
	Snapshot   string `json:"snapshot"`
	// Count is how many indices a migration's restore covers, when the
	// list itself stays in the ledger.
	Count int `json:"indices_count,omitempty"`
	snapshot.RestorePlan
	Accepted  bool `json:"accepted"`
	DryRun    bool `json:"dry_run,omitempty"`
	Recovered bool `json:"recovered,omitempty"`
	// Existing is true when an earlier run of this same restore (same
	// snapshot, same targets, recovery source this snapshot) had already
	// started every target: a rerun after a lost answer, nothing was sent.
	Existing bool `json:"existing,omitempty"`
	// AlreadyRestored lists the targets an earlier run of this restore
	// created; they are neither conflicts nor restored again.
	AlreadyRestored []string `json:"already_restored,omitempty"`
	// Replicas is the answer of the replica step (restore action
	// "replicas"); no restore was started then.
	Replicas *ReplicasResult `json:"replicas,omitempty"`
}

// ResolveSnapshot finds the snapshot to restore: a given name, or with ""
// or "latest" the newest SUCCESS one (model.Newest; never a PARTIAL or
// FAILED one), read in full with GetSnapshot after a narrowed listing.
func (o Ops) ResolveSnapshot(ctx context.Context, repo, name string) (model.Snapshot, error) {
	if name != "" && name != "latest" && name != "_latest" {
		return o.GetSnapshot(ctx, repo, name)
	}
	snaps, err := o.ListSnapshots(ctx, repo)
	if err != nil {
		return model.Snapshot{}, err
	}
	latest, ok := model.Newest(snaps, model.Succeeded)
	if !ok {
		return model.Snapshot{}, &esclient.APIError{Method: http.MethodGet, Path: esclient.Path("_snapshot", repo, "_all"), Status: 404, Source: esclient.SourceEngine, Type: "snapshot_missing_exception", Reason: fmt.Sprintf("repository [%s] has no SUCCESS snapshot (%d snapshots in all)", repo, len(snaps))}
	}
	return o.GetSnapshot(ctx, repo, latest.Name)
}

// Restore plans, checks for collisions and starts a non-blocking restore.
// Explicit index names are sent (never patterns), so what runs is exactly
// what was planned. After a lost answer it checks whether the targets
// appeared instead of sending the restore again, and a rerun recognises
// targets its own earlier run created (RestoredFrom) instead of calling
// them conflicts.
func (o Ops) Restore(ctx context.Context, repo, name string, opt RestoreOptions) (RestoreResult, error) {
	info, err := o.ResolveSnapshot(ctx, repo, name)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("restore %s/%s: %w", repo, name, err)
	}
	res := RestoreResult{Repository: repo, Snapshot: info.Name, DryRun: opt.DryRun}
	if info.State != model.StateSuccess && !(opt.Partial && info.State == model.StatePartial) {
		return res, fmt.Errorf("restore %s/%s: %w: snapshot state is %s; only SUCCESS snapshots are restored (set partial=true to restore a PARTIAL one)", repo, info.Name, failure.ErrNotRestorable, info.State)
	}
	taken, aliases, err := o.TakenNames(ctx)
	if err != nil {
		return res, fmt.Errorf("restore %s/%s: pre-flight: %w", repo, info.Name, err)
	}
	plan, err := snapshot.PlanRestore(info.Indices, opt.Indices, opt.IncludeSystem, opt.Rename, taken)
	for i, c := range plan.Collisions {
		if c.Status == snapshot.StatusAlias {
			plan.Collisions[i].AliasOf = aliases[c.Index]
		}
	}
	res.RestorePlan = plan
	if err != nil {
		return res, fmt.Errorf("restore %s/%s: %w: %w", repo, info.Name, failure.ErrBadRestoreRequest, err)
	}
	send := plan
	if len(plan.Collisions) > 0 {
		// A target that an earlier run of this restore created (a rerun
		// after a lost answer) is this restore, not a conflict.
		own, foreign, err := o.ownCollisions(ctx, repo, info.Name, plan.Collisions)
		if err != nil {
			return res, fmt.Errorf("restore %s/%s: %d target names are taken, and checking whether an earlier run of this restore took them failed: %w", repo, info.Name, len(plan.Collisions), err)
		}
		if len(foreign) > 0 {
			res.Collisions = foreign
			return res, &snapshot.CollisionError{Repository: repo, Snapshot: info.Name, Collisions: foreign}
		}
		res.Collisions, res.AlreadyRestored = nil, sortedKeys(own)
		send = snapshot.RestorePlan{Indices: withoutTargets(plan.Indices, own)}
		if len(send.Indices) == 0 {
			res.Accepted, res.Existing = !opt.DryRun, true
			return res, nil
		}
	}
	if opt.DryRun {
		return res, nil
	}
	body := map[string]any{
		"indices":              strings.Join(send.Sources(), ","),
		"include_aliases":      opt.IncludeAliases,
		"include_global_state": opt.IncludeGlobalState,
		"partial":              opt.Partial,
	}
	if opt.Rename != nil {
		body["rename_pattern"], body["rename_replacement"] = opt.Rename.EngineFields()
	}
	if len(opt.IndexSettings) > 0 {
		body["index_settings"] = opt.IndexSettings
	}
	if len(opt.IgnoreIndexSettings) > 0 {
		body["ignore_index_settings"] = strings.Join(opt.IgnoreIndexSettings, ",")
	}
	q := url.Values{"wait_for_completion": {"false"}}
	err = o.C.Do(ctx, http.MethodPost, esclient.Path("_snapshot", repo, info.Name, "_restore"), q, body, nil)
	if err != nil && outcomeUnknown(err) && ctx.Err() == nil && !esclient.IsType(err, "snapshot_restore_exception") {
		// The answer was lost: look at the domain before answering.
		const rerun = "the migration state machine retries this error (EngineUnavailableError), and a rerun, retried or by hand, first looks for its target indices: if this restore did start after all, the rerun recognises it by their recovery source (this snapshot) and reports it as started instead of restoring twice"
		after, cerr := o.Indices(ctx, "*")
		if cerr == nil && allPresent(after, send.Targets()) {
			var started bool
			if started, cerr = o.startedFrom(ctx, repo, info.Name, send.Indices); cerr == nil && started {
				res.Accepted, res.Recovered = true, true
				return res, nil
			}
		}
		if cerr != nil {
			return res, fmt.Errorf("restore %s/%s: %w: the restore's answer was lost (%v), and the check whether it started failed too (%v), so it may or may not be running; %s: %w", repo, info.Name, failure.ErrOutcomeUnknown, err, cerr, rerun, err)
		}
		return res, fmt.Errorf("restore %s/%s: %w: the restore's answer was lost (%v) and its indices have not appeared from this snapshot; %s: %w", repo, info.Name, failure.ErrOutcomeUnknown, err, rerun, err)
	}
	if err != nil {
		return res, fmt.Errorf("restore %s/%s: %w", repo, info.Name, err)
	}
	res.Accepted = true
	return res, nil
}

// TakenNames maps every name a restored index cannot take to what holds
// it: each index's status (open or close) and snapshot.StatusAlias for each alias
// that is not also an index name; aliases maps each alias to its indices.
// Hidden and closed indices count too.
func (o Ops) TakenNames(ctx context.Context) (taken map[string]string, aliases map[string][]string, err error) {
	existing, err := o.Indices(ctx, "*")
	if err != nil {
		return nil, nil, err
	}
	if aliases, err = o.Aliases(ctx); err != nil {
		return nil, nil, err
	}
	taken = make(map[string]string, len(existing)+len(aliases))
	for n, s := range existing {
		taken[n] = s.Status
	}
	for a := range aliases {
		if _, isIndex := taken[a]; !isIndex {
			taken[a] = snapshot.StatusAlias
		}
	}
	return taken, aliases, nil
}

// Aliases lists every alias on the domain with the indices it points to
// (sorted), hidden and closed indices included, because an alias blocks a
// restored index of its name as surely as an index does.
func (o Ops) Aliases(ctx context.Context) (map[string][]string, error) {
	var ans map[string]struct {
		Aliases map[string]json.RawMessage `json:"aliases"`
	}
	q := url.Values{"expand_wildcards": {"all"}}
	if err := o.C.Do(ctx, http.MethodGet, "/_alias", q, nil, &ans); err != nil {
		return nil, fmt.Errorf("list aliases: %w", err)
	}
	out := map[string][]string{}
	for index, a := range ans {
		for name := range a.Aliases {
			out[name] = append(out[name], index)
		}
	}
	for _, ix := range out {
		sort.Strings(ix)
	}
	return out, nil
}

func allPresent(have map[string]IndexState, want []string) bool {
	for _, w := range want {
		if _, ok := have[w]; !ok {
			return false
		}
	}
	return len(want) > 0
}

// IndexProgress is one restored index's recovery.
type IndexProgress struct {
	Index          string `json:"index"`
	Shards         int    `json:"shards"`
	ShardsDone     int    `json:"shards_done"`
	TotalBytes     int64  `json:"total_bytes"`
	RecoveredBytes int64  `json:"recovered_bytes"`
	Health         string `json:"health"`
	Docs           int64  `json:"docs"`
}

// RestoreProgress reports the restore of some indices.
type RestoreProgress struct {
	Done    bool            `json:"done"`
	Indices []IndexProgress `json:"indices"`
	Shards  int             `json:"shards"`
	Bytes   int64           `json:"bytes"`
	Docs    int64           `json:"docs"`
	// Failed lists indices whose health is red after recovery finished.
	Failed []string `json:"failed,omitempty"`
}

// ErrIndexMissing means a restored index is not on the domain at all.
var ErrIndexMissing = errors.New("restored index missing")

// RestoreStatus reads _recovery for the targets: done when every primary
// and replica shard finished recovering (stage DONE), the cluster state
// shows every primary started and none initializing, and no index is red.
// Health and counts are read only after recovery finished, so a done
// answer never carries the counts of a shard still recovering: reading them
// first showed 0 documents and yellow beside a DONE recovery on
// Elasticsearch 7.10 and OpenSearch 3.5 (issue 8).
func (o Ops) RestoreStatus(ctx context.Context, targets []string) (RestoreProgress, error) {
	var out RestoreProgress
	if len(targets) == 0 {
		return out, errors.New("restore progress: no indices given")
	}
	sorted := append([]string(nil), targets...)
	sort.Strings(sorted)
	have, err := o.Indices(ctx, "*")
	if err != nil {
		return out, fmt.Errorf("restore progress: %w", err)
	}
	var missing []string
	for _, t := range sorted {
		if _, ok := have[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("restore progress: %w: %s", ErrIndexMissing, strings.Join(missing, ", "))
	}
	rec := recoveryAnswer{}
	recovered := true
	for _, batch := range joinBatches(sorted, 3000) {
		part := recoveryAnswer{}
		// Only the fields read: a full answer is kilobytes per shard.
		q := url.Values{"filter_path": {"*.shards.type,*.shards.stage,*.shards.index.size.total_in_bytes,*.shards.index.size.recovered_in_bytes"}}
		if err := o.C.Do(ctx, http.MethodGet, "/"+batch+"/_recovery", q, nil, &part); err != nil {
			return out, fmt.Errorf("restore progress: %w", err)
		}
		for k, v := range part {
			rec[k] = v
		}
	}
	for _, t := range sorted {
		r := rec[t]
		done := 0
		for _, s := range r.Shards {
			if s.Stage == "DONE" {
				done++
			}
		}
		if len(r.Shards) == 0 || done < len(r.Shards) {
			recovered = false
		}
	}
	started := map[string]bool{}
	if recovered {
		// Recovery has finished: now the cluster state and counts are final.
		for _, batch := range joinBatches(sorted, 3000) {
			var h struct {
				Indices map[string]struct {
					Status        string `json:"status"`
					Primaries     int    `json:"number_of_shards"`
					ActivePrimary int    `json:"active_primary_shards"`
					Initializing  int    `json:"initializing_shards"`
				} `json:"indices"`
			}
			q := url.Values{"level": {"indices"}, "expand_wildcards": {"all"},
				"filter_path": {"indices.*.status,indices.*.number_of_shards,indices.*.active_primary_shards,indices.*.initializing_shards"}}
			if err := o.C.Do(ctx, http.MethodGet, "/_cluster/health/"+batch, q, nil, &h); err != nil {
				return out, fmt.Errorf("restore progress: %w", err)
			}
			for n, ix := range h.Indices {
				started[n] = ix.Status != "red" && ix.Initializing == 0 && ix.ActivePrimary == ix.Primaries && ix.Primaries > 0
			}
		}
		if have, err = o.Indices(ctx, "*"); err != nil {
			return out, fmt.Errorf("restore progress: %w", err)
		}
	}
	done := recovered
	for _, t := range sorted {
		r := rec[t]
		ip := IndexProgress{Index: t, Shards: len(r.Shards), Health: have[t].Health, Docs: have[t].Docs}
		for _, s := range r.Shards {
			ip.TotalBytes += s.Index.Size.Total
			ip.RecoveredBytes += s.Index.Size.Recovered
			if s.Stage == "DONE" {
				ip.ShardsDone++
			}
		}
		if recovered && !started[t] {
			done = false
		}
		if ip.Health == "red" && ip.Shards > 0 && ip.ShardsDone == ip.Shards {
			out.Failed = append(out.Failed, t)
		}
		out.Shards += ip.Shards
		out.Bytes += ip.RecoveredBytes
		out.Docs += ip.Docs
		out.Indices = append(out.Indices, ip)
	}
	out.Done = done && len(out.Failed) == 0
	return out, nil
}

// recoveryAnswer is the part of GET <indices>/_recovery essnap reads.
type recoveryAnswer map[string]struct {
	Shards []struct {
		Type  string `json:"type"`
		Stage string `json:"stage"`
		Index struct {
			Size struct {
				Total     int64 `json:"total_in_bytes"`
				Recovered int64 `json:"recovered_in_bytes"`
			} `json:"size"`
		} `json:"index"`
	} `json:"shards"`
}

// joinBatches joins escaped names with commas into chunks that keep URLs short.
func joinBatches(names []string, maxLen int) []string {
	var out []string
	var b strings.Builder
	for _, n := range names {
		e := url.PathEscape(n)
		if b.Len() > 0 && b.Len()+1+len(e) > maxLen {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}
