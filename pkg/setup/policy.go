package setup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// StringList is a policy value that IAM writes as one string or an array
// ("Action": "s3:GetObject" or ["s3:GetObject", ...]); condition values
// may also be JSON booleans or numbers, kept in their text form.
type StringList []string

// UnmarshalJSON accepts a scalar or an array of scalars.
func (l *StringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		out := make(StringList, 0, len(raw))
		for _, r := range raw {
			s, err := scalar(r)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	s, err := scalar(b)
	if err != nil {
		return err
	}
	*l = StringList{s}
	return nil
}

// MarshalJSON writes one value as a string and several as an array, as
// IAM's own examples do.
func (l StringList) MarshalJSON() ([]byte, error) {
	if len(l) == 1 {
		return json.Marshal(l[0])
	}
	return json.Marshal([]string(l))
}

func scalar(b []byte) (string, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case bool, float64:
		return string(bytes.TrimSpace(b)), nil
	}
	return "", fmt.Errorf("policy value %s is not a string, number or boolean", b)
}

// PolicyPrincipal is a statement's Principal: "*" (anyone) or principals
// by kind ("Service", "AWS", "Federated").
type PolicyPrincipal struct {
	Any  bool
	ByID map[string]StringList
}

// UnmarshalJSON reads "*" or {"Service": ..., "AWS": ...}.
func (p *PolicyPrincipal) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != "*" {
			return fmt.Errorf("principal %q: a string principal must be \"*\"", short(s))
		}
		p.Any = true
		return nil
	}
	return json.Unmarshal(b, &p.ByID)
}

// MarshalJSON writes the principal as IAM does.
func (p PolicyPrincipal) MarshalJSON() ([]byte, error) {
	if p.Any {
		return []byte(`"*"`), nil
	}
	return json.Marshal(p.ByID)
}

// Statement is one policy statement, read from a trust policy or written
// as a fix to paste. Fields appear in IAM's customary order.
type Statement struct {
	Sid          string                           `json:"Sid,omitempty"`
	Effect       string                           `json:"Effect"`
	Principal    *PolicyPrincipal                 `json:"Principal,omitempty"`
	NotPrincipal json.RawMessage                  `json:"NotPrincipal,omitempty"`
	Action       StringList                       `json:"Action,omitempty"`
	NotAction    StringList                       `json:"NotAction,omitempty"`
	Resource     StringList                       `json:"Resource,omitempty"`
	Condition    map[string]map[string]StringList `json:"Condition,omitempty"`
}

// JSON is the statement as one line of JSON, ready to paste into a policy's
// Statement array.
func (s Statement) JSON() string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSpace(buf.String())
}

// Document is a policy document; Statement may be one object or an array.
type Document struct {
	Version   string
	Statement []Statement
}

// UnmarshalJSON reads both forms of Statement.
func (d *Document) UnmarshalJSON(b []byte) error {
	var raw struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	d.Version = raw.Version
	st := bytes.TrimSpace(raw.Statement)
	switch {
	case len(st) == 0:
		return fmt.Errorf("the policy has no Statement")
	case st[0] == '[':
		return json.Unmarshal(st, &d.Statement)
	}
	var one Statement
	if err := json.Unmarshal(st, &one); err != nil {
		return err
	}
	d.Statement = []Statement{one}
	return nil
}

// ParseDocument reads a policy as IAM returns it: GetRole's
// AssumeRolePolicyDocument is URL-encoded JSON (RFC 3986), other sources
// give plain JSON.
func ParseDocument(s string) (Document, error) {
	text := strings.TrimSpace(s)
	if strings.HasPrefix(text, "%") {
		dec, err := url.QueryUnescape(text)
		if err != nil {
			return Document{}, fmt.Errorf("the policy is not URL-encoded JSON: %v", err)
		}
		text = dec
	}
	var d Document
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		return Document{}, fmt.Errorf("the policy is not valid policy JSON: %v", err)
	}
	return d, nil
}

// match reports whether value matches an IAM pattern, where * is any run of
// characters and ? one character (StringLike, ArnLike, actions, resources).
func match(pattern, value string, foldCase bool) bool {
	if foldCase {
		pattern, value = strings.ToLower(pattern), strings.ToLower(value)
	}
	// Iterative wildcard matching with backtracking to the last *.
	p, v, star, mark := 0, 0, -1, 0
	for v < len(value) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == value[v]):
			p++
			v++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, v
			p++
		case star >= 0:
			p = star + 1
			mark++
			v = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// anyMatch reports whether any pattern matches value.
func anyMatch(patterns []string, value string, foldCase bool) bool {
	for _, p := range patterns {
		if match(p, value, foldCase) {
			return true
		}
	}
	return false
}

// covers reports whether a statement's Action/NotAction applies to action
// (action names are case-insensitive).
func (s Statement) covers(action string) bool {
	if len(s.NotAction) > 0 {
		return !anyMatch(s.NotAction, action, true)
	}
	return anyMatch(s.Action, action, true)
}

// condResult is what one condition block gave: true, false, or unknown
// (a key or operator this package cannot evaluate), with the reason.
type condResult struct {
	ok, known bool
	why       string
}

// evalConditions evaluates a statement's Condition against ctx (lower-case
// key -> value; a key absent from ctx is unknown). Blocks are ANDed; the
// values of one key are ORed (negated operators: none may match).
func evalConditions(cond map[string]map[string]StringList, ctx map[string]string) condResult {
	res := condResult{ok: true, known: true}
	var unknown []string
	for _, op := range sortedKeys(cond) {
		for _, key := range sortedKeys(cond[op]) {
			r := evalCondition(op, key, cond[op][key], ctx)
			switch {
			case !r.known:
				unknown = append(unknown, r.why)
			case !r.ok:
				return r
			}
		}
	}
	if len(unknown) > 0 {
		return condResult{known: false, why: strings.Join(unknown, "; ")}
	}
	return res
}

func evalCondition(op, key string, values StringList, ctx map[string]string) condResult {
	base := op
	for _, p := range []string{"ForAnyValue:", "ForAllValues:"} {
		base = strings.TrimPrefix(base, p)
	}
	base = strings.TrimSuffix(base, "IfExists")
	clause := fmt.Sprintf("%s %s %v", op, key, []string(values))
	v, have := ctx[strings.ToLower(key)]
	if base == "Null" {
		if !have {
			return condResult{why: clause + " (cannot tell whether the key is present)"}
		}
		// "Null": "false" demands the key; the domain always sends it.
		want := len(values) == 1 && strings.EqualFold(values[0], "false")
		return condResult{ok: want, known: true, why: clause + " does not hold: the domain sends " + key}
	}
	if !have {
		// The domain sends aws:SourceArn and aws:SourceAccount, so IfExists
		// changes nothing for them; any other key is unknown here.
		return condResult{why: clause + " (not evaluated: " + key + " is not known here)"}
	}
	var hit bool
	negate := false
	switch base {
	case "StringEquals", "ArnEquals":
		hit = contains(values, v, false)
	case "StringEqualsIgnoreCase":
		hit = contains(values, v, true)
	case "StringLike", "ArnLike":
		hit = anyMatch(values, v, false)
	case "StringNotEquals", "ArnNotEquals":
		hit, negate = contains(values, v, false), true
	case "StringNotEqualsIgnoreCase":
		hit, negate = contains(values, v, true), true
	case "StringNotLike", "ArnNotLike":
		hit, negate = anyMatch(values, v, false), true
	default:
		return condResult{why: clause + " (operator " + op + " is not evaluated)"}
	}
	ok := hit != negate
	return condResult{ok: ok, known: true, why: fmt.Sprintf("%s does not match %s %s", clause, key, v)}
}

func contains(values []string, v string, fold bool) bool {
	for _, x := range values {
		if x == v || fold && strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
