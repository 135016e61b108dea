package iamsim

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Query is one action on one resource that a simulation asks about.
type Query struct {
	Principal string
	Action    string
	Resource  string
	// Context holds the request's context entries, key -> values.
	Context map[string][]string
}

// Decision is the answer to a Query: "allowed", "implicitDeny" or
// "explicitDeny", the policies whose statements decided, and condition
// keys the policies wanted but the request lacked.
type Decision struct {
	Decision       string
	Matched        []string
	MissingContext []string
}

// Decide answers one Query.
type Decide func(q Query) Decision

// Handler answers SimulatePrincipalPolicy with decide and passes every
// other request to next (nil: 400 InvalidAction). PageSize > 0 splits the
// results into pages (IsTruncated, Marker), as IAM does.
type Handler struct {
	Decide   Decide
	Next     http.Handler
	PageSize int

	mu   sync.Mutex
	seen []Query
}

// Queries returns every Query answered so far.
func (h *Handler) Queries() []Query {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Query(nil), h.seen...)
}

// ServeHTTP answers one Query-protocol request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form, _ := url.ParseQuery(string(body))
	if form.Get("Action") != "SimulatePrincipalPolicy" {
		if h.Next == nil {
			writeError(w, "InvalidAction", "iamsim answers SimulatePrincipalPolicy only")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		h.Next.ServeHTTP(w, r)
		return
	}
	principal := form.Get("PolicySourceArn")
	actions, resources := members(form, "ActionNames"), members(form, "ResourceArns")
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	ctx := map[string][]string{}
	for i := 1; form.Get(fmt.Sprintf("ContextEntries.member.%d.ContextKeyName", i)) != ""; i++ {
		p := fmt.Sprintf("ContextEntries.member.%d.", i)
		ctx[form.Get(p+"ContextKeyName")] = members(form, p+"ContextKeyValues")
	}
	var results []result
	for _, a := range actions {
		for _, res := range resources {
			q := Query{Principal: principal, Action: a, Resource: res, Context: ctx}
			h.mu.Lock()
			h.seen = append(h.seen, q)
			h.mu.Unlock()
			d := h.Decide(q)
			rs := result{Action: a, Resource: res, Decision: d.Decision}
			for _, m := range d.Matched {
				rs.Matched = append(rs.Matched, statement{SourcePolicyID: m, SourcePolicyType: "IAM Policy", Start: position{1, 1}, End: position{1, 200}})
			}
			rs.Missing = append(rs.Missing, d.MissingContext...)
			results = append(results, rs)
		}
	}
	start, _ := strconv.Atoi(form.Get("Marker"))
	end := len(results)
	out := response{XMLNS: "https://iam.amazonaws.com/doc/2010-05-08/", RequestID: "iamsim-0"}
	if h.PageSize > 0 && start+h.PageSize < end {
		end = start + h.PageSize
		out.Result.IsTruncated = true
		out.Result.Marker = strconv.Itoa(end)
	}
	if start < end {
		out.Result.Results = results[start:end]
	}
	w.Header().Set("Content-Type", "text/xml")
	_ = xml.NewEncoder(w).Encode(out)
}

// members reads a Query-protocol list: NAME.member.1, NAME.member.2, ...
func members(form url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[fmt.Sprintf("%s.member.%d", name, i)]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}

type position struct {
	Line   int `xml:"Line"`
	Column int `xml:"Column"`
}

type statement struct {
	SourcePolicyID   string   `xml:"SourcePolicyId"`
	SourcePolicyType string   `xml:"SourcePolicyType"`
	Start            position `xml:"StartPosition"`
	End              position `xml:"EndPosition"`
}

type result struct {
	Resource string      `xml:"EvalResourceName"`
	Decision string      `xml:"EvalDecision"`
	Matched  []statement `xml:"MatchedStatements>member"`
	Missing  []string    `xml:"MissingContextValues>member"`
	Action   string      `xml:"EvalActionName"`
}

type response struct {
	XMLName xml.Name `xml:"SimulatePrincipalPolicyResponse"`
	XMLNS   string   `xml:"xmlns,attr"`
	Result  struct {
		IsTruncated bool     `xml:"IsTruncated"`
		Results     []result `xml:"EvaluationResults>member"`
		Marker      string   `xml:"Marker,omitempty"`
	} `xml:"SimulatePrincipalPolicyResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func writeError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>iamsim-0</RequestId></ErrorResponse>`,
		code, xmlEscape(msg))
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Table decides from a map "principal action" -> decision; anything not
// in it is allowed, matched by the policy named allow.
func Table(t map[string]string) Decide {
	return func(q Query) Decision {
		if d, ok := t[q.Principal+" "+q.Action]; ok {
			out := Decision{Decision: d}
			if d == "explicitDeny" {
				out.Matched = []string{"deny-" + strings.ReplaceAll(q.Action, ":", "-")}
			}
			return out
		}
		return Decision{Decision: "allowed", Matched: []string{"allow"}}
	}
}
