package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/essnap/essnap/pkg/esclient"
)

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
