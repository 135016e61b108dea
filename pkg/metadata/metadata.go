package metadata

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/essnap/essnap/pkg/settings"
)

// Kind is a sort of cluster metadata a migration carries. Kinds are applied
// in this order, because each may name the ones before it: a template's
// default_pipeline names a pipeline, an index template composes component
// templates.
type Kind string

// The kinds, in apply order.
const (
	Pipeline          Kind = "ingest_pipeline"
	ComponentTemplate Kind = "component_template"
	IndexTemplate     Kind = "index_template"
	LegacyTemplate    Kind = "legacy_template"
)

// Order is the apply order of the kinds.
var Order = []Kind{Pipeline, ComponentTemplate, IndexTemplate, LegacyTemplate}

// Item is one piece of metadata as the engine's GET answers it (the body a
// PUT of the same name accepts).
type Item struct {
	Kind Kind           `json:"kind"`
	Name string         `json:"name"`
	Body map[string]any `json:"-"`
}

// Status is what the diff against the target found, or why an item is not
// carried.
type Status string

// Statuses.
const (
	// Missing: not on the target; apply creates it.
	Missing Status = "missing"
	// Identical: the target has exactly this; nothing to do.
	Identical Status = "identical"
	// Conflicting: the target has another body under this name; apply
	// leaves it unless overwrite is set.
	Conflicting Status = "conflicting"
	// Skipped: owned by the engine or a plugin (the target has its own).
	Skipped Status = "skipped"
	// Refused: cannot work on the target (a processor it lacks).
	Refused Status = "refused"
)

// Decision is one item's diff and what apply does with it.
type Decision struct {
	Kind   Kind   `json:"kind"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Differs lists the dotted keys that differ from the target (conflicting).
	Differs []string `json:"differs,omitempty"`
	// Dropped lists what translation removed, each with its reason.
	Dropped []string `json:"dropped,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	// Action is what apply did or would do: create, overwrite, none.
	Action string `json:"action"`
	// Body is the translated body apply sends (missing, or conflicting with
	// overwrite).
	Body map[string]any `json:"-"`
}

// ownedPrefixes are names engines and plugins create for themselves; the
// target has its own, and copying them would fight the target's plugin.
var ownedPrefixes = []struct{ prefix, owner string }{
	{".", "hidden/system (leading dot)"},
	{"opendistro", "Open Distro plugins"},
	{"security", "the security plugin"},
	{"ilm-history", "Elasticsearch ILM"},
	{"logs-index_pattern", "Elasticsearch defaults"},
	{"metrics-", "Elasticsearch Stack defaults"},
	{"synthetics-", "Elasticsearch Stack defaults"},
	{"slm-history", "Elasticsearch SLM"},
	{"watch-history", "Elasticsearch Watcher"},
	{"monitoring", "monitoring"},
	{"ism-", "Index State Management"},
	{"kibana", "Kibana/Dashboards"},
	{"tenant_template", "the security plugin"},
}

// Owned reports whether a template or pipeline name belongs to the engine
// or a plugin, and whose it is.
func Owned(name string) (string, bool) {
	n := strings.ToLower(name)
	for _, o := range ownedPrefixes {
		if strings.HasPrefix(n, o.prefix) {
			return o.owner, true
		}
	}
	return "", false
}

// Translate prepares a source item for the target: it drops the template
// settings the target must not get (settings.Refused, the rule the reindex
// path applies to the indices it creates), each with its reason, and
// refuses a pipeline that uses a processor the target lacks (processors:
// the target's ingest processors; nil skips the check). It never changes
// src.
//
// crossFamily (Elasticsearch to OpenSearch) changes nothing any more: the
// settings rule applies to every engine pair, the stricter of the two
// rules it replaced, and the processor check reads only processors. It is
// kept so that Decide and its callers need not change.
func Translate(src Item, crossFamily bool, processors map[string]bool) (Item, []string, error) {
	out := Item{Kind: src.Kind, Name: src.Name, Body: deepCopy(src.Body)}
	var dropped []string
	if tmpl := settingsOf(out); tmpl != nil {
		flat := map[string]any{}
		flatten("", tmpl, flat)
		for key := range flat {
			full := key
			if !strings.HasPrefix(key, "index.") && !strings.HasPrefix(key, "archived.") {
				// {"number_of_shards": 1} is index.number_of_shards to the engine.
				full = "index." + key
			}
			if why, refused := settings.Refused(full); refused {
				removeKey(tmpl, strings.Split(key, "."))
				dropped = append(dropped, fmt.Sprintf("setting %s: %s", full, why))
			}
		}
	}
	sort.Strings(dropped)
	if src.Kind == Pipeline && processors != nil {
		var lacking []string
		for _, p := range processorTypes(out.Body) {
			if !processors[p] && !contains(lacking, p) {
				lacking = append(lacking, p)
			}
		}
		if len(lacking) > 0 {
			sort.Strings(lacking)
			return out, dropped, fmt.Errorf("uses processors the target lacks: %s; install the plugin that provides them on the target, or replace them in the pipeline", strings.Join(lacking, ", "))
		}
	}
	return out, dropped, nil
}

// settingsOf finds the settings object of a template body, whatever its
// kind (legacy: settings; composable and component: template.settings).
func settingsOf(it Item) map[string]any {
	switch it.Kind {
	case LegacyTemplate:
		s, _ := it.Body["settings"].(map[string]any)
		return s
	case IndexTemplate, ComponentTemplate:
		t, _ := it.Body["template"].(map[string]any)
		s, _ := t["settings"].(map[string]any)
		return s
	}
	return nil
}

// processorTypes lists every processor type a pipeline uses, on_failure
// handlers and foreach bodies included.
func processorTypes(body map[string]any) []string {
	var out []string
	var walk func(list any)
	walk = func(list any) {
		procs, _ := list.([]any)
		for _, p := range procs {
			m, _ := p.(map[string]any)
			for typ, cfg := range m {
				out = append(out, typ)
				c, _ := cfg.(map[string]any)
				walk(c["on_failure"])
				if inner, ok := c["processor"].(map[string]any); ok {
					walk([]any{inner})
				}
			}
		}
	}
	walk(body["processors"])
	walk(body["on_failure"])
	return out
}

// Diff compares a translated source body with the target's body of the
// same name and returns the dotted keys that differ (none: identical).
// Setting values are compared as the engines return them (strings).
func Diff(want, have map[string]any) []string {
	w, h := map[string]any{}, map[string]any{}
	flatten("", want, w)
	flatten("", have, h)
	var out []string
	for k, v := range w {
		if hv, ok := h[k]; !ok || !reflect.DeepEqual(normal(v), normal(hv)) {
			out = append(out, k)
		}
	}
	for k := range h {
		if _, ok := w[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Decide is the diff and the plan for one item: skipped if owned,
// refused if translation refuses, else missing, identical or conflicting
// against have (nil: not on the target), with the action apply takes.
func Decide(src Item, have map[string]any, crossFamily bool, processors map[string]bool, overwrite bool) Decision {
	d := Decision{Kind: src.Kind, Name: src.Name, Action: "none"}
	if owner, ok := Owned(src.Name); ok {
		d.Status, d.Reason = Skipped, "owned by "+owner+"; the target has its own"
		return d
	}
	tr, dropped, err := Translate(src, crossFamily, processors)
	d.Dropped = dropped
	if err != nil {
		d.Status, d.Reason = Refused, err.Error()
		return d
	}
	d.Body = tr.Body
	switch {
	case have == nil:
		d.Status, d.Action = Missing, "create"
	default:
		d.Differs = Diff(tr.Body, have)
		switch {
		case len(d.Differs) == 0:
			d.Status = Identical
		case overwrite:
			d.Status, d.Action = Conflicting, "overwrite"
		default:
			d.Status, d.Reason = Conflicting, "the target has another body under this name; left unchanged (set overwrite: true to replace it)"
		}
	}
	return d
}

// Policy is a lifecycle policy the selected indices use: reported, never
// translated (ILM and ISM differ too much to map safely).
type Policy struct {
	Policy  string   `json:"policy"`
	Engine  string   `json:"engine"` // ilm or ism
	Indices []string `json:"indices"`
	Advice  string   `json:"advice"`
}

// policySettings are the index settings that name a lifecycle policy.
var policySettings = map[string]string{
	"index.lifecycle.name":                              "ilm",
	"index.plugins.index_state_management.policy_id":    "ism",
	"index.opendistro.index_state_management.policy_id": "ism",
}

// Policies groups the selected indices by the lifecycle policy their flat
// settings name, so the report says which policy the target must recreate.
func Policies(flatSettings map[string]map[string]string) []Policy {
	by := map[string]*Policy{}
	for index, settings := range flatSettings {
		for key, engine := range policySettings {
			name := settings[key]
			if name == "" {
				continue
			}
			k := engine + "/" + name
			if by[k] == nil {
				by[k] = &Policy{Policy: name, Engine: engine, Advice: fmt.Sprintf("create an ISM policy on the target for what %s policy %q does and attach it to the migrated indices; essnap does not translate lifecycle policies", strings.ToUpper(engine), name)}
			}
			by[k].Indices = append(by[k].Indices, index)
		}
	}
	out := make([]Policy, 0, len(by))
	for _, p := range by {
		sort.Strings(p.Indices)
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Engine+out[i].Policy < out[j].Engine+out[j].Policy })
	return out
}

// flatten writes nested maps as dotted keys.
func flatten(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		if prefix != "" {
			out[prefix] = v
		}
		return
	}
	for k, c := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		flatten(p, c, out)
	}
}

// normal makes numbers and their string forms compare equal, as engines
// return setting values as strings.
func normal(v any) any {
	switch x := v.(type) {
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%f", x), "0"), ".")
	case bool:
		return fmt.Sprint(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normal(e)
		}
		return out
	}
	return v
}

// removeKey deletes a dotted key from a settings object however the
// engine or the template's author wrote it: nested ({"index":{"lifecycle":
// {"name":…}}}), flat ("index.lifecycle.name") or any mix of the two
// ({"index.lifecycle":{"name":…}}), and prunes the objects it empties.
func removeKey(m map[string]any, parts []string) {
	for i := len(parts); i >= 1; i-- {
		head := strings.Join(parts[:i], ".")
		if i == len(parts) {
			delete(m, head)
			continue
		}
		child, ok := m[head].(map[string]any)
		if !ok {
			continue
		}
		removeKey(child, parts[i:])
		if len(child) == 0 {
			delete(m, head)
		}
	}
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
