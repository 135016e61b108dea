package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/essnap/essnap/pkg/esclient"
)

// The reads of the setup doctor (pkg/handler's Doctor). None of them
// changes the domain; VerifyRepository has every node write and delete a
// test blob in the repository, as registration's own verification does.

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

// RepositoryInfo is one registered repository as GET _snapshot lists it
// (settings come back as strings).
type RepositoryInfo struct {
	Type     string         `json:"type"`
	Settings map[string]any `json:"settings"`
}

// Repositories lists every registered repository, AWS's cs-automated ones
// included.
func (o Ops) Repositories(ctx context.Context) (map[string]RepositoryInfo, error) {
	var all map[string]RepositoryInfo
	if err := o.C.Do(ctx, http.MethodGet, "/_snapshot", nil, nil, &all); err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	if all == nil {
		all = map[string]RepositoryInfo{}
	}
	return all, nil
}

// VerifyRepository asks every node to write to and read from the repository
// (POST _snapshot/<name>/_verify) and returns how many nodes did.
func (o Ops) VerifyRepository(ctx context.Context, name string) (int, error) {
	var ans struct {
		Nodes map[string]any `json:"nodes"`
	}
	p := esclient.Path("_snapshot", name, "_verify")
	if err := o.C.Do(esclient.WithIdempotent(ctx), http.MethodPost, p, nil, nil, &ans); err != nil {
		return 0, fmt.Errorf("verify repository %s: %w", name, err)
	}
	return len(ans.Nodes), nil
}

// SecurityInfo is what the security plugin (fine-grained access control)
// says about the caller: GET _plugins/_security/authinfo.
type SecurityInfo struct {
	User         string   `json:"user_name"`
	BackendRoles []string `json:"backend_roles"`
	Roles        []string `json:"roles"`
}

// ErrNoSecurityPlugin marks a domain without fine-grained access control:
// no security plugin serves authinfo.
var ErrNoSecurityPlugin = errors.New("no security plugin")

// SecurityInfo reads the caller's user, backend roles and security roles.
// OpenSearch serves _plugins/_security; Elasticsearch 7.10 domains on AWS
// serve the same API under _opendistro/_security. When neither path has a
// handler (400 "no handler found", or 404) the domain has no fine-grained
// access control: ErrNoSecurityPlugin.
func (o Ops) SecurityInfo(ctx context.Context) (SecurityInfo, error) {
	var lastErr error
	for _, prefix := range []string{"_plugins", "_opendistro"} {
		var info SecurityInfo
		err := o.C.Do(ctx, http.MethodGet, esclient.Path(prefix, "_security", "authinfo"), nil, nil, &info)
		if err == nil {
			return info, nil
		}
		if !noHandler(err) {
			return SecurityInfo{}, fmt.Errorf("read fine-grained access control info: %w", err)
		}
		lastErr = err
	}
	return SecurityInfo{}, fmt.Errorf("read fine-grained access control info: %w (%v)", ErrNoSecurityPlugin, lastErr)
}

// noHandler reports an engine answer that says no plugin serves the path:
// 400 "no handler found" (OpenSearch 2.x, 3.x), 404 index_not_found_exception
// (Elasticsearch 7.10 and OpenSearch 1.3 read /_plugins/... as a document
// GET in an index named _plugins; observed), or a bare 404.
func noHandler(err error) bool {
	var ae *esclient.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch {
	case ae.Status == http.StatusBadRequest:
		return strings.Contains(ae.Reason, "no handler found")
	case ae.Status == http.StatusNotFound:
		return ae.Type == "" || ae.Type == "index_not_found_exception"
	}
	return false
}
