package esclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
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
	{"doesn't match any of the locations specified by path.repo", "add the directory (or a parent of it) to path.repo in elasticsearch.yml/opensearch.yml on every node and restart them, or choose a location under the existing path.repo; AWS domains have no fs repositories: use type s3"},
}

// Hint returns the operator action for a known failure, or "".
func (e *APIError) Hint() string {
	text := e.Type + " " + e.RootCause + " " + e.Reason + " " + e.CausedBy
	for _, h := range hints {
		if strings.Contains(text, h.match) {
			return h.hint
		}
	}
	return ""
}

// ParseError turns a non-2xx answer into an *APIError. It never fails and
// never shows a body raw: engine and AWS bodies are parsed, anything else
// (a proxy's HTML page, plain text, an unknown JSON shape, an empty body)
// becomes a short summary (summarize), and every text is cut to
// maxReasonBytes.
func ParseError(method, path string, status int, body []byte) *APIError {
	e := &APIError{Method: method, Path: path, Status: status, Source: SourceHTTP}
	body = bytes.TrimSpace(body)
	var probe struct {
		Error    json.RawMessage `json:"error"`
		Message  *string         `json:"message"`
		Message2 *string         `json:"Message"`
	}
	if json.Unmarshal(body, &probe) == nil {
		switch {
		case len(probe.Error) > 0 && string(probe.Error) != "null":
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
			var s string
			switch {
			case json.Unmarshal(probe.Error, &obj) == nil:
				e.Type, e.Reason = obj.Type, obj.Reason
				if len(obj.RootCause) > 0 && obj.RootCause[0].Type != obj.Type {
					e.RootCause = obj.RootCause[0].Type
				}
				for c := obj.CausedBy; c != nil; c = c.CausedBy {
					if c.Reason != "" {
						e.CausedBy = c.Reason
					}
				}
				// Without a caused_by chain, the root cause's own text is
				// the one that explains a wrapper.
				if e.CausedBy == "" && len(obj.RootCause) > 0 && obj.RootCause[0].Reason != e.Reason {
					e.CausedBy = obj.RootCause[0].Reason
				}
			case json.Unmarshal(probe.Error, &s) == nil:
				e.Reason = s
			}
			if e.Type == "" && e.Reason == "" {
				e.Reason = "an engine error without type or reason (" + summarize(status, probe.Error) + ")"
			}
			e.Reason, e.CausedBy = clip(e.Reason), clip(e.CausedBy)
			return e
		case probe.Message2 != nil && *probe.Message2 != "":
			e.Source, e.Reason = SourceIAM, clip(*probe.Message2)
			return e
		case probe.Message != nil && *probe.Message != "":
			e.Source, e.Reason = SourceSignature, clip(*probe.Message)
			return e
		}
	}
	e.Reason = summarize(status, body)
	return e
}

// maxReasonBytes bounds an error text taken from a body: engine reasons
// are a line or two, and a longer one echoes input that no log needs.
const maxReasonBytes = 1024

// clip cuts s to maxReasonBytes on a rune boundary, saying how long it was.
func clip(s string) string {
	if len(s) <= maxReasonBytes {
		return s
	}
	cut := maxReasonBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:cut], len(s))
}

// summaryBytes bounds the text a summary quotes from a body that is not
// an engine's.
const summaryBytes = 160

var (
	htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	htmlH1    = regexp.MustCompile(`(?is)<h1[^>]*>(.*?)</h1>`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
	spaces    = regexp.MustCompile(`\s+`)
)

// summarize describes a body that is not an engine or AWS error in one
// short line: a proxy's or load balancer's HTML page by its title or
// heading, plain text by its first line, anything else by its kind and
// size. The raw body never reaches a message or a log line.
func summarize(status int, body []byte) string {
	n := len(body)
	switch {
	case n == 0:
		return http.StatusText(status) + " (empty body)"
	case !utf8.Valid(body):
		return fmt.Sprintf("%s (a binary body of %d bytes, not an engine answer)", http.StatusText(status), n)
	case body[0] == '<' || bytes.Contains(bytes.ToLower(body[:min(n, 512)]), []byte("<html")):
		text := ""
		for _, re := range []*regexp.Regexp{htmlTitle, htmlH1} {
			if m := re.FindSubmatch(body); m != nil {
				text = oneLine(htmlTag.ReplaceAllString(string(m[1]), " "))
				if text != "" {
					break
				}
			}
		}
		if text == "" {
			text = oneLine(htmlTag.ReplaceAllString(string(body), " "))
		}
		if text == "" {
			return fmt.Sprintf("%s (an HTML page of %d bytes from a proxy or load balancer, not the engine)", http.StatusText(status), n)
		}
		return fmt.Sprintf("%s (an HTML page of %d bytes from a proxy or load balancer, not the engine)", text, n)
	case body[0] == '{' || body[0] == '[' || body[0] == '"':
		return fmt.Sprintf("%s (a JSON body of %d bytes without an engine error)", http.StatusText(status), n)
	}
	line, _, more := strings.Cut(string(body), "\n")
	text := oneLine(line)
	if more || len(text) < len(line) || n > len(text) {
		return fmt.Sprintf("%s (a text body of %d bytes, not an engine answer)", text, n)
	}
	return text
}

// oneLine collapses whitespace and control characters and cuts the text to
// summaryBytes.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	if len(s) > summaryBytes {
		cut := summaryBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
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
