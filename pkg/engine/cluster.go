package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Health is the summary of GET _cluster/health.
type Health struct {
	Cluster    string `json:"cluster_name"`
	Status     string `json:"status"` // green, yellow or red
	Nodes      int    `json:"number_of_nodes"`
	Unassigned int    `json:"unassigned_shards"`
}

// Health reads the cluster's health without waiting for any status.
func (o Ops) Health(ctx context.Context) (Health, error) {
	var h Health
	if err := o.C.Do(ctx, http.MethodGet, "/_cluster/health", nil, nil, &h); err != nil {
		return Health{}, fmt.Errorf("read cluster health: %w", err)
	}
	return h, nil
}

// LowWatermark reads cluster.routing.allocation.disk.watermark.low as the
// engine applies it, as written ("85%", "0.85" or "500mb").
func (o Ops) LowWatermark(ctx context.Context) (string, error) {
	w, err := o.clusterSetting(ctx, "cluster.routing.allocation.disk.watermark.low")
	if err != nil {
		return "", fmt.Errorf("read the low disk watermark: %w", err)
	}
	if w == "" {
		return "85%", nil // the engines' default, when the answer names none
	}
	return w, nil
}

// clusterSetting reads one cluster setting as the engine applies it:
// transient over persistent over the default (include_defaults), asking
// only for that setting; "" when the answer names none.
func (o Ops) clusterSetting(ctx context.Context, key string) (string, error) {
	path := strings.Split(key, ".")
	var ans map[string]any
	q := url.Values{"include_defaults": {"true"}, "filter_path": {"**." + path[len(path)-1]}}
	if err := o.C.Do(ctx, http.MethodGet, "/_cluster/settings", q, nil, &ans); err != nil {
		return "", err
	}
	for _, level := range []string{"transient", "persistent", "defaults"} {
		v := ans[level]
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = m[p]
		}
		if v != nil {
			return fmt.Sprint(v), nil
		}
	}
	return "", nil
}

// NodeDisk is one node's disk as GET _cat/allocation reports it; the row
// for unassigned shards has no disk figures (zero here).
type NodeDisk struct {
	Node  string
	Total int64
	Avail int64
}

// Disk reads every data node's disk usage, for the migration pre-flight.
// _cat/allocation answers on ES 7.10 and OpenSearch alike and on AWS.
func (o Ops) Disk(ctx context.Context) ([]NodeDisk, error) {
	var rows []struct {
		Node  string  `json:"node"`
		Total *string `json:"disk.total"`
		Avail *string `json:"disk.avail"`
	}
	q := url.Values{"format": {"json"}, "bytes": {"b"}, "h": {"node,disk.total,disk.avail"}}
	if err := o.C.Do(ctx, http.MethodGet, "/_cat/allocation", q, nil, &rows); err != nil {
		return nil, fmt.Errorf("read disk allocation: %w", err)
	}
	out := make([]NodeDisk, 0, len(rows))
	for _, r := range rows {
		d := NodeDisk{Node: r.Node}
		if r.Total != nil {
			d.Total, _ = strconv.ParseInt(*r.Total, 10, 64)
		}
		if r.Avail != nil {
			d.Avail, _ = strconv.ParseInt(*r.Avail, 10, 64)
		}
		out = append(out, d)
	}
	return out, nil
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

// ShardCapacity is what bounds the shards a domain can add: the per-node
// limit (cluster.max_shards_per_node, 1,000 by default and on AWS), the
// data nodes it multiplies, and the shards of open indices already there.
type ShardCapacity struct {
	PerNode   int `json:"max_shards_per_node"`
	DataNodes int `json:"data_nodes"`
	Shards    int `json:"shards"`
}

// Free is how many more shards the domain accepts.
func (c ShardCapacity) Free() int { return c.PerNode*c.DataNodes - c.Shards }

// ShardCapacity reads the limit as the engine applies it (transient over
// persistent over default) and the shard count from cluster health.
func (o Ops) ShardCapacity(ctx context.Context) (ShardCapacity, error) {
	limit, err := o.clusterSetting(ctx, "cluster.max_shards_per_node")
	if err != nil {
		return ShardCapacity{}, fmt.Errorf("read cluster.max_shards_per_node: %w", err)
	}
	c := ShardCapacity{PerNode: 1000}
	if n, err := strconv.Atoi(limit); err == nil && n > 0 {
		c.PerNode = n
	}
	var h struct {
		DataNodes    int `json:"number_of_data_nodes"`
		Active       int `json:"active_shards"`
		Initializing int `json:"initializing_shards"`
		Unassigned   int `json:"unassigned_shards"`
	}
	if err := o.C.Do(ctx, http.MethodGet, "/_cluster/health", nil, nil, &h); err != nil {
		return ShardCapacity{}, fmt.Errorf("read cluster health: %w", err)
	}
	c.DataNodes = h.DataNodes
	// The limit counts every shard of an open index, assigned or not.
	c.Shards = h.Active + h.Initializing + h.Unassigned
	return c, nil
}
