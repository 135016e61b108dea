package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/snapshot"
)

// recoverySource is where a shard copy recovers from; for a restore the
// engines name the repository, the snapshot and the snapshot's index.
type recoverySource struct {
	Type       string `json:"type"`
	Repository string `json:"repository"`
	Snapshot   string `json:"snapshot"`
	Index      string `json:"index"`
}

// from reports whether the source is the restore of src from repo/snap.
func (s recoverySource) from(repo, snap, src string) bool {
	return s.Repository == repo && s.Snapshot == snap && s.Index == src
}

// RestoredFrom reports which of the mappings' targets exist as the restore
// of their source index from repo/snap: every primary shard recovers, or
// recovered, from that snapshot. It is how a rerun tells its own restore
// (in progress or done, after a lost answer) from an index that merely
// has the same name, and so never reports its own restore as a conflict.
//
// Shards not yet started carry their recovery source in the routing table
// (GET _cluster/state/routing_table: a shard still unassigned has no
// recovery yet, seen on Elasticsearch 7.10 and OpenSearch 3.5); started
// ones in GET <targets>/_recovery (type SNAPSHOT, source repository,
// snapshot and index). Both are read, in batches that keep URLs short.
func (o Ops) RestoredFrom(ctx context.Context, repo, snap string, mappings []snapshot.IndexMapping) (map[string]bool, error) {
	out := map[string]bool{}
	if len(mappings) == 0 {
		return out, nil
	}
	names := make([]string, len(mappings))
	for i, m := range mappings {
		names[i] = m.Target
	}
	sort.Strings(names)
	type routing struct {
		Primary bool            `json:"primary"`
		Shard   int             `json:"shard"`
		Source  *recoverySource `json:"recovery_source"`
	}
	type recovery struct {
		ID      int            `json:"id"`
		Type    string         `json:"type"`
		Primary bool           `json:"primary"`
		Source  recoverySource `json:"source"`
	}
	table := map[string]map[string][]routing{}
	recs := map[string][]recovery{}
	rq := url.Values{"filter_path": {"routing_table.indices.*.shards.*.primary,routing_table.indices.*.shards.*.shard,routing_table.indices.*.shards.*.recovery_source"}}
	cq := url.Values{"filter_path": {"*.shards.id,*.shards.type,*.shards.primary,*.shards.source"}}
	for _, batch := range joinBatches(names, 3000) {
		var rt struct {
			RoutingTable struct {
				Indices map[string]struct {
					Shards map[string][]routing `json:"shards"`
				} `json:"indices"`
			} `json:"routing_table"`
		}
		if err := o.C.Do(ctx, http.MethodGet, "/_cluster/state/routing_table/"+batch, rq, nil, &rt); err != nil {
			return nil, fmt.Errorf("read the recovery source of %d indices: %w", len(names), err)
		}
		for n, ix := range rt.RoutingTable.Indices {
			table[n] = ix.Shards
		}
		var rc map[string]struct {
			Shards []recovery `json:"shards"`
		}
		if err := o.C.Do(ctx, http.MethodGet, "/"+batch+"/_recovery", cq, nil, &rc); err != nil {
			return nil, fmt.Errorf("read the recovery source of %d indices: %w", len(names), err)
		}
		for n, ix := range rc {
			recs[n] = ix.Shards
		}
	}
	for _, m := range mappings {
		shards := table[m.Target]
		own := len(shards) > 0
		for _, copies := range shards {
			found := false
			for _, c := range copies {
				if !c.Primary {
					continue
				}
				if c.Source != nil {
					// Not started yet: the routing table says where from.
					found = c.Source.Type == "SNAPSHOT" && c.Source.from(repo, snap, m.Source)
					break
				}
				for _, r := range recs[m.Target] {
					if r.Primary && r.ID == c.Shard {
						found = r.Type == "SNAPSHOT" && r.Source.from(repo, snap, m.Source)
					}
				}
			}
			own = own && found
		}
		if own {
			out[m.Target] = true
		}
	}
	return out, nil
}

// ownCollisions splits collisions into the targets an earlier run of this
// same restore created (open indices restored from repo/snap, from the
// planned source) and the rest, which are real conflicts.
func (o Ops) ownCollisions(ctx context.Context, repo, snap string, collisions []snapshot.Collision) (own map[string]bool, foreign []snapshot.Collision, err error) {
	var candidates []snapshot.IndexMapping
	for _, c := range collisions {
		if c.Status == "open" {
			candidates = append(candidates, snapshot.IndexMapping{Source: c.Source, Target: c.Index})
		}
	}
	if own, err = o.RestoredFrom(ctx, repo, snap, candidates); denied(err) {
		// Without the right to read recovery sources (fine-grained access
		// control mapped to manage_snapshots only), every taken name stays
		// a conflict, as before essnap could tell its own restore.
		own, err = map[string]bool{}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, c := range collisions {
		if !own[c.Index] {
			foreign = append(foreign, c)
		}
	}
	return own, foreign, nil
}

// startedFrom reports, after a lost answer, whether every target exists as
// the restore of this snapshot. Where recovery sources may not be read
// (denied), the targets' presence decides, since they did not exist before
// the restore was sent.
func (o Ops) startedFrom(ctx context.Context, repo, snap string, mappings []snapshot.IndexMapping) (bool, error) {
	own, err := o.RestoredFrom(ctx, repo, snap, mappings)
	if denied(err) {
		return true, nil
	}
	return err == nil && len(own) == len(mappings), err
}

// denied reports whether err is the engine's or AWS's refusal to let the
// caller read something (401 or 403).
func denied(err error) bool {
	var ae *esclient.APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden)
}

// withoutTargets returns the mappings whose targets are not in skip.
func withoutTargets(m []snapshot.IndexMapping, skip map[string]bool) []snapshot.IndexMapping {
	var out []snapshot.IndexMapping
	for _, x := range m {
		if !skip[x.Target] {
			out = append(out, x)
		}
	}
	return out
}

// sortedKeys lists a set's members in order.
func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
