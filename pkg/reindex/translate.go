package reindex

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/essnap/essnap/pkg/settings"
)

// Definition is a source index as the engine describes it: flat settings
// (flat_settings=true), mappings and aliases.
type Definition struct {
	Settings map[string]any `json:"settings"`
	Mappings map[string]any `json:"mappings"`
	Aliases  map[string]any `json:"aliases,omitempty"`
}

// Create is the target index's create body for the copy and the settings
// put back once the copy is done.
type Create struct {
	Settings map[string]any `json:"settings"`
	Mappings map[string]any `json:"mappings,omitempty"`
	// After is applied when every part is copied: the source's
	// refresh_interval (null = the engine default) and auto_expand_replicas.
	// Replicas come back in the workflow's replica step, after verify.
	After map[string]any `json:"after"`
	// Dropped are the source settings the target does not get, each with why.
	Dropped []string `json:"dropped,omitempty"`
}

// Translate turns a source index definition into the target's create body:
// the settings a target must not get dropped, each with its reason (the
// one rule, settings.Refused, that the metadata step applies to templates
// too), no replicas and no refresh during the copy (each document is
// written once and no segment is built per second), the source's values
// put back afterwards (Create.After). The mappings travel
// as they are: the typeless mappings of Elasticsearch 7.10 and OpenSearch
// are what every OpenSearch version reads.
func Translate(d Definition) Create {
	c := Create{Settings: map[string]any{}, Mappings: d.Mappings, After: map[string]any{"index.refresh_interval": nil}}
	keys := make([]string, 0, len(d.Settings))
	for k := range d.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := d.Settings[k]
		if why, refused := settings.Refused(k); refused {
			c.Dropped = append(c.Dropped, fmt.Sprintf("%s (%s)", k, why))
			continue
		}
		switch k {
		case "index.number_of_replicas":
			continue // 0 during the copy; the replica step sets it back
		case "index.refresh_interval":
			c.After[k] = v
			continue
		case "index.auto_expand_replicas":
			c.After[k] = v
			continue // would override the copy's 0 replicas
		}
		c.Settings[k] = v
	}
	c.Settings["index.number_of_replicas"] = "0"
	c.Settings["index.refresh_interval"] = "-1"
	if _, ok := c.After["index.auto_expand_replicas"]; ok {
		c.Settings["index.auto_expand_replicas"] = "false"
	}
	return c
}

// refusedSetting finds the setting a create was refused for: the engines
// answer "unknown setting [index.x] ..." (a plugin the target lacks) or
// "... [index.x] ..." for a value it no longer accepts.
var refusedSetting = regexp.MustCompile(`(?:unknown setting|unsupported setting|setting) \[(index\.[^\]]+)\]`)

// DropRefused removes the setting a refusal names and says so in Dropped;
// ok is false when the reason names no setting the body has, so the
// refusal is final. Anything the target refuses is dropped and reported,
// never silently changed.
func (c *Create) DropRefused(reason string) bool {
	m := refusedSetting.FindStringSubmatch(reason)
	if m == nil {
		return false
	}
	k := m[1]
	if _, ok := c.Settings[k]; !ok {
		return false
	}
	delete(c.Settings, k)
	c.Dropped = append(c.Dropped, fmt.Sprintf("%s (the target refused it: %s)", k, reason))
	return true
}

// SourceMode says whether reindex can read an index's documents: it copies
// _source, so "disabled" cannot travel and "partial" (includes or
// excludes) loses the fields _source leaves out.
func SourceMode(mappings map[string]any) string {
	src, _ := mappings["_source"].(map[string]any)
	if src == nil {
		return "full"
	}
	if e, ok := src["enabled"]; ok && (e == false || e == "false") {
		return "disabled"
	}
	for _, k := range []string{"includes", "excludes"} {
		if l, ok := src[k].([]any); ok && len(l) > 0 {
			return "partial"
		}
	}
	return "full"
}

// splittable are the field types a range query splits evenly.
var splittable = map[string]bool{"date": true, "date_nanos": true, "long": true, "integer": true, "short": true, "byte": true,
	"double": true, "float": true, "half_float": true, "scaled_float": true, "unsigned_long": true}

// FieldType is the mapped type of a (dotted) field, "" when unmapped.
func FieldType(mappings map[string]any, field string) string {
	f := fieldMapping(mappings, field)
	if f == nil {
		return ""
	}
	t, _ := f["type"].(string)
	if t == "" && f["properties"] != nil {
		return "object"
	}
	return t
}

// Splittable reports whether an index can be split on a field of this type.
func Splittable(fieldType string) bool { return splittable[fieldType] }

// SplitFieldType is the split field's type, and why the index cannot be
// split on it ("" when it can): a range query needs the field indexed, the
// percentiles need its doc values.
func SplitFieldType(mappings map[string]any, field string) (fieldType, whyNot string) {
	ft := FieldType(mappings, field)
	switch {
	case ft == "":
		return "", "is unmapped there"
	case !Splittable(ft):
		return ft, "is of type " + ft + " there, not a date or numeric field"
	}
	m := fieldMapping(mappings, field)
	for _, k := range []string{"index", "doc_values"} {
		if v, ok := m[k]; ok && (v == false || v == "false") {
			return ft, "has " + k + ": false there"
		}
	}
	return ft, ""
}

// fieldMapping is a (dotted) field's own mapping object; a dotted name
// may also be mapped as one key.
func fieldMapping(mappings map[string]any, field string) map[string]any {
	cur := mappings
	parts := strings.Split(field, ".")
	for i, p := range parts {
		props, _ := cur["properties"].(map[string]any)
		f, _ := props[p].(map[string]any)
		if f == nil {
			f, _ = props[strings.Join(parts[i:], ".")].(map[string]any)
			return f
		}
		if i == len(parts)-1 {
			return f
		}
		cur = f
	}
	return nil
}
