package esclient

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Source says who produced an error body, because the fix differs: an engine
// error is about the request, an AWS one about IAM or signing.
type Source string

// Error body producers seen on AWS domains (field notes §3).
const (
	SourceEngine    Source = "engine"    // {"error":{"type","reason"},"status":N}
	SourceIAM       Source = "aws_iam"   // {"Message":"User: ... is not authorized ..."}
	SourceSignature Source = "aws_sigv4" // {"message":"..."}
	SourceHTTP      Source = "http"      // anything else: load balancer pages, empty bodies
)

// APIError is every non-2xx answer, typed so callers can branch on status and
// engine error type instead of matching strings.
type APIError struct {
	Method string
	Path   string
	Status int
	Source Source
	// Type is the engine's error type (e.g. snapshot_missing_exception); for
	// AWS bodies it is empty.
	Type string
	// Reason is the human text of the error.
	Reason string
	// RootCause is the first root cause type when it differs from Type.
	RootCause string
	// CausedBy is the innermost caused_by reason, where engines put the
	// text that explains a wrapper: OpenSearch 3.x answers a too-old index
	// with "cannot restore index [x] because it cannot be upgraded" and
	// says why only in caused_by.
	CausedBy string
}

// Error formats the error with the hint an operator needs to fix it.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.Status)
	if e.Type != "" {
		fmt.Fprintf(&b, " %s", e.Type)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	if e.CausedBy != "" {
		fmt.Fprintf(&b, " (caused by: %s)", e.CausedBy)
	}
	if h := e.Hint(); h != "" {
		fmt.Fprintf(&b, " (fix: %s)", h)
	}
	return b.String()
}

// hints maps known failure texts to the action that fixes them. Matching is
// by substring of "type reason"; the first hit wins.
var hints = []struct{ match, hint string }{
	{"iam:PassRole", "grant the function's role iam:PassRole on the SnapshotRole, with condition iam:PassedToService = es.amazonaws.com"},
	{"role_arn is needed", "set role_arn (ESSNAP_ROLE_ARN) to the SnapshotRole ARN the domain assumes to reach S3"},
	{"Credential should be scoped to correct service", "sign with service 'es'; a proxy in between may be re-signing the request"},
	{"Credential should be scoped to a valid region", "set region (ESSNAP_REGION) to the domain's region; essnap parses it from the endpoint host"},
	{"security token included in the request is invalid", "the credentials lack their session token or have expired; use the function role's credentials"},
	{"User: anonymous is not authorized", "the request was unsigned; do not set unsigned=true for AWS domains"},
	{"not authorized to perform: es:ESHttp", "grant the function's role es:ESHttp* on the domain ARN (arn:aws:es:REGION:ACCOUNT:domain/NAME/*)"},
	{"no permissions for [cluster:admin/repository", "fine-grained access control: map the function's role to the manage_snapshots role (backend role) in OpenSearch security"},
	{"no permissions for [cluster:admin/snapshot", "fine-grained access control: map the function's role to the manage_snapshots role (backend role) in OpenSearch security"},
	{"no permissions for", "fine-grained access control: map the function's role to a role with these permissions (backend role)"},
	{"concurrent_snapshot_execution_exception", "another snapshot or deletion is running (AWS takes hourly cs-automated snapshots); retry later"},
	{"repository_missing_exception", "register the repository first (register-repo function)"},
}

// Hint returns the operator action for a known failure, or "".
func (e *APIError) Hint() string {
	text := e.Type + " " + e.RootCause + " " + e.Reason
	for _, h := range hints {
		if strings.Contains(text, h.match) {
			return h.hint
		}
	}
	return ""
}

// ParseError turns a non-2xx answer into an *APIError. It never fails: an
// unparseable body becomes the reason, trimmed.
func ParseError(method, path string, status int, body []byte) *APIError {
	e := &APIError{Method: method, Path: path, Status: status, Source: SourceHTTP}
	var probe struct {
		Error    json.RawMessage `json:"error"`
		Message  *string         `json:"message"`
		Message2 *string         `json:"Message"`
	}
	if json.Unmarshal(body, &probe) == nil {
		switch {
		case len(probe.Error) > 0:
			e.Source = SourceEngine
			var obj struct {
				Type      string `json:"type"`
				Reason    string `json:"reason"`
				RootCause []struct {
					Type   string `json:"type"`
					Reason string `json:"reason"`
				} `json:"root_cause"`
				CausedBy *causedBy `json:"caused_by"`
			}
			if json.Unmarshal(probe.Error, &obj) == nil {
				e.Type, e.Reason = obj.Type, obj.Reason
				if len(obj.RootCause) > 0 && obj.RootCause[0].Type != obj.Type {
					e.RootCause = obj.RootCause[0].Type
				}
				for c := obj.CausedBy; c != nil; c = c.CausedBy {
					if c.Reason != "" {
						e.CausedBy = c.Reason
					}
				}
			} else {
				var s string
				_ = json.Unmarshal(probe.Error, &s)
				e.Reason = s
			}
			return e
		case probe.Message2 != nil:
			e.Source, e.Reason = SourceIAM, *probe.Message2
			return e
		case probe.Message != nil:
			e.Source, e.Reason = SourceSignature, *probe.Message
			return e
		}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	if text == "" {
		text = http.StatusText(status)
	}
	e.Reason = text
	return e
}

// causedBy is one link of an engine error's caused_by chain.
type causedBy struct {
	Reason   string    `json:"reason"`
	CausedBy *causedBy `json:"caused_by"`
}

// IsType reports whether err is an *APIError of one of the given engine types
// (matching the root cause too, since engines nest the interesting one).
func IsType(err error, types ...string) bool {
	var e *APIError
	if !asAPIError(err, &e) {
		return false
	}
	for _, t := range types {
		if e.Type == t || e.RootCause == t {
			return true
		}
	}
	return false
}
