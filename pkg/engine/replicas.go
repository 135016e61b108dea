package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
)

// ReplicaHealth is one index's state after its replica count was set:
// what the replica step of a migration waits on.
type ReplicaHealth struct {
	Index string `json:"index"`
	// Replicas is the wanted number_of_replicas; Applied is what the
	// engine's health reports for the index now.
	Replicas int `json:"replicas"`
	Applied  int `json:"applied"`
	// Status is the index's health; Expected is what it can reach on this
	// domain: green when it has at least Replicas+1 data nodes, else yellow
	// (a replica is never allocated on the node holding its primary).
	Status       string `json:"status"`
	Expected     string `json:"expected"`
	Initializing int    `json:"initializing_shards"`
	Relocating   int    `json:"relocating_shards"`
	Unassigned   int    `json:"unassigned_shards"`
	Done         bool   `json:"done"`
}

// ReplicasResult is the replica step's answer (restore action "replicas").
type ReplicasResult struct {
	Done      bool            `json:"done"`
	DataNodes int             `json:"data_nodes"`
	Indices   []ReplicaHealth `json:"indices"`
	// StartedAt is when the step began (the first invocation of a loop),
	// Seconds the time from then until this answer.
	StartedAt string  `json:"started_at"`
	Seconds   float64 `json:"seconds"`
	// Polls counts the health reads of this invocation.
	Polls int `json:"polls"`
	// Remaining counts the migration's indices whose replicas are not set
	// yet (ledger batches; the list of indices stays in the ledger).
	Remaining int `json:"remaining,omitempty"`
}

// statusRank orders health so "at least yellow" can be compared.
func statusRank(s string) int {
	switch s {
	case "green":
		return 2
	case "yellow":
		return 1
	}
	return 0
}

// SetReplicas sets index.number_of_replicas per index (one request per
// distinct count). It is idempotent, so a retried or looped call is safe.
func (o Ops) SetReplicas(ctx context.Context, want map[string]int) error {
	byCount := map[int][]string{}
	for ix, n := range want {
		byCount[n] = append(byCount[n], ix)
	}
	counts := make([]int, 0, len(byCount))
	for n := range byCount {
		counts = append(counts, n)
	}
	sort.Ints(counts)
	for _, n := range counts {
		names := byCount[n]
		sort.Strings(names)
		for _, batch := range joinBatches(names, 3000) {
			body := map[string]any{"index": map[string]any{"number_of_replicas": n}}
			if err := o.C.Do(ctx, http.MethodPut, "/"+batch+"/_settings", nil, body, nil); err != nil {
				return fmt.Errorf("set number_of_replicas=%d on %s: %w", n, batch, err)
			}
		}
	}
	return nil
}

// ReplicaStatus reads the indices' health against their wanted replica
// counts (one cluster health read per batch, level=indices).
func (o Ops) ReplicaStatus(ctx context.Context, want map[string]int) (ReplicasResult, error) {
	var res ReplicasResult
	var cl struct {
		DataNodes int `json:"number_of_data_nodes"`
	}
	if err := o.C.Do(ctx, http.MethodGet, "/_cluster/health", nil, nil, &cl); err != nil {
		return res, fmt.Errorf("read cluster health: %w", err)
	}
	res.DataNodes = cl.DataNodes
	names := make([]string, 0, len(want))
	for ix := range want {
		names = append(names, ix)
	}
	sort.Strings(names)
	type ixHealth struct {
		Status       string `json:"status"`
		Replicas     int    `json:"number_of_replicas"`
		Initializing int    `json:"initializing_shards"`
		Relocating   int    `json:"relocating_shards"`
		Unassigned   int    `json:"unassigned_shards"`
	}
	got := map[string]ixHealth{}
	q := url.Values{"level": {"indices"}, "expand_wildcards": {"all"}}
	for _, batch := range joinBatches(names, 3000) {
		var h struct {
			Indices map[string]ixHealth `json:"indices"`
		}
		if err := o.C.Do(ctx, http.MethodGet, "/_cluster/health/"+batch, q, nil, &h); err != nil {
			return res, fmt.Errorf("read index health: %w", err)
		}
		for k, v := range h.Indices {
			got[k] = v
		}
	}
	res.Done = true
	for _, ix := range names {
		h, ok := got[ix]
		r := ReplicaHealth{Index: ix, Replicas: want[ix], Expected: ExpectedHealth(want[ix], res.DataNodes)}
		if ok {
			r.Applied, r.Status, r.Initializing, r.Relocating, r.Unassigned = h.Replicas, h.Status, h.Initializing, h.Relocating, h.Unassigned
		} else {
			r.Status = "missing"
		}
		r.Done = ok && r.Applied == r.Replicas && statusRank(r.Status) >= statusRank(r.Expected) && r.Initializing == 0 && r.Relocating == 0
		res.Done = res.Done && r.Done
		res.Indices = append(res.Indices, r)
	}
	return res, nil
}

// ExpectedHealth is the best health an index with this many replicas can
// reach on a domain with this many data nodes: green when every copy fits
// on its own node, else yellow (the replicas that do not fit stay
// unassigned; the data is still served by the primaries).
func ExpectedHealth(replicas, dataNodes int) string {
	if replicas+1 <= dataNodes {
		return "green"
	}
	return "yellow"
}
