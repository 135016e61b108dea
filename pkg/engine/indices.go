package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/reindex"
)

// DocCounts reads the document count of every index the patterns select
// (all with none; aliases and data streams select their indices, -pattern
// excludes), in one cheap request: _cat/indices docs.count, the primaries'
// documents as Lucene counts them (nested ones included, deleted ones
// not), up to the last refresh. The drill compares like with like: the
// same column of the restored index once recovery finished.
func (o Ops) DocCounts(ctx context.Context, patterns []string) (map[string]int64, error) {
	ix, err := o.catIndices(ctx, patterns, "open,hidden")
	if err != nil {
		return nil, fmt.Errorf("count documents per index: %w", err)
	}
	out := make(map[string]int64, len(ix))
	for n, s := range ix {
		out[n] = s.Docs
	}
	return out, nil
}

// DeleteIndices deletes exactly the named indices. Names with wildcards,
// commas or a leading "-" or "_" are refused before sending, so a caller's
// filter decides alone what is deleted; a name gone meanwhile is no error.
func (o Ops) DeleteIndices(ctx context.Context, names []string) error {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, n := range sorted {
		if n == "" || strings.ContainsAny(n, "*?,") || strings.HasPrefix(n, "-") || strings.HasPrefix(n, "_") {
			return fmt.Errorf("delete indices: %q is not one concrete index name; nothing was deleted", n)
		}
	}
	q := url.Values{"ignore_unavailable": {"true"}, "expand_wildcards": {"none"}}
	for _, batch := range joinBatches(sorted, 3000) {
		if err := o.C.Do(ctx, http.MethodDelete, "/"+batch, q, nil, nil); err != nil {
			return fmt.Errorf("delete indices %s: %w", batch, err)
		}
	}
	return nil
}

// Count refreshes the index (so documents indexed a moment ago count) and
// returns its document count.
func (o Ops) Count(ctx context.Context, index string) (int64, error) {
	if err := o.Refresh(ctx, []string{index}); err != nil {
		return 0, err
	}
	var ans struct {
		Count int64 `json:"count"`
	}
	if err := o.C.Do(ctx, http.MethodGet, esclient.Path(index, "_count"), nil, nil, &ans); err != nil {
		return 0, fmt.Errorf("count %s: %w", index, err)
	}
	return ans.Count, nil
}

// DocIDs calls visit with the _id of every document of the index, in
// batches, via a scroll without _source (cheap: ids only). The scroll
// context is deleted at the end; should that fail, it expires by itself
// after a minute.
func (o Ops) DocIDs(ctx context.Context, index string, visit func(ids []string) error) error {
	type page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	var p page
	body := map[string]any{"size": 5000, "_source": false, "sort": []string{"_doc"}}
	if err := o.C.Do(ctx, http.MethodPost, esclient.Path(index, "_search"), url.Values{"scroll": {"1m"}}, body, &p); err != nil {
		return fmt.Errorf("read ids of %s: %w", index, err)
	}
	// Free the scroll context on the (production) domain as soon as we are
	// done, also after a failure or cancellation, within cleanupBound.
	defer func() {
		if p.ScrollID != "" {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			_ = o.C.Do(cctx, http.MethodDelete, "/_search/scroll", nil, map[string]any{"scroll_id": []string{p.ScrollID}}, nil)
		}
	}()
	for len(p.Hits.Hits) > 0 {
		ids := make([]string, len(p.Hits.Hits))
		for i, h := range p.Hits.Hits {
			ids[i] = h.ID
		}
		if err := visit(ids); err != nil {
			return err
		}
		next := page{}
		if err := o.C.Do(ctx, http.MethodPost, "/_search/scroll", nil, map[string]any{"scroll": "1m", "scroll_id": p.ScrollID}, &next); err != nil {
			return fmt.Errorf("read ids of %s: %w", index, err)
		}
		if next.ScrollID == "" {
			next.ScrollID = p.ScrollID
		}
		p = next
	}
	return nil
}

// FlatSettings reads the named indices' settings (flat keys), for the
// lifecycle policies they name.
func (o Ops) FlatSettings(ctx context.Context, names []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	q := url.Values{"flat_settings": {"true"}, "expand_wildcards": {"all"}}
	for _, batch := range joinBatches(sorted, 3000) {
		var ans map[string]struct {
			Settings map[string]any `json:"settings"`
		}
		if err := o.C.Do(ctx, http.MethodGet, "/"+batch+"/_settings", q, nil, &ans); err != nil {
			return nil, fmt.Errorf("read index settings: %w", err)
		}
		for index, a := range ans {
			m := map[string]string{}
			for k, v := range a.Settings {
				if s, ok := v.(string); ok {
					m[k] = s
				}
			}
			out[index] = m
		}
	}
	return out, nil
}

// CreatedVersions reads index.version.created of each named index: the
// engine version that created it, which decides whether another engine can
// restore it (field notes §8). Names are sent in batches that keep URLs
// short; a missing index is an error.
func (o Ops) CreatedVersions(ctx context.Context, names []string) (map[string]int64, error) {
	out := make(map[string]int64, len(names))
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	q := url.Values{"flat_settings": {"true"}, "expand_wildcards": {"all"}}
	for _, batch := range joinBatches(sorted, 3000) {
		var ans map[string]struct {
			Settings map[string]string `json:"settings"`
		}
		if err := o.C.Do(ctx, http.MethodGet, "/"+batch+"/_settings/index.version.created", q, nil, &ans); err != nil {
			return nil, fmt.Errorf("read index.version.created: %w", err)
		}
		for name, a := range ans {
			id, err := strconv.ParseInt(a.Settings["index.version.created"], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("read index.version.created of %s: %q is not a version id", name, a.Settings["index.version.created"])
			}
			out[name] = id
		}
	}
	for _, n := range sorted {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("read index.version.created: index %s was not in the answer", n)
		}
	}
	return out, nil
}

// IndexState is an existing index's status and size.
type IndexState struct {
	Index  string `json:"index"`
	Status string `json:"status"`
	Docs   int64  `json:"docs"`
	Bytes  int64  `json:"bytes"`
	Health string `json:"health"`
}

// Indices lists the domain's indices matching pattern ("*" for all,
// including hidden and closed ones).
func (o Ops) Indices(ctx context.Context, pattern string) (map[string]IndexState, error) {
	var patterns []string
	if pattern != "" && pattern != "*" {
		patterns = []string{pattern}
	}
	out, err := o.catIndices(ctx, patterns, "all")
	if err != nil {
		return nil, fmt.Errorf("list indices: %w", err)
	}
	return out, nil
}

// catIndices is the one reader of _cat/indices: status, health, documents
// and store bytes of every index the patterns select (all with none;
// -pattern excludes), in one request. A selection that matches nothing is
// an empty map, not an error.
func (o Ops) catIndices(ctx context.Context, patterns []string, expand string) (map[string]IndexState, error) {
	var rows []struct {
		Index  string `json:"index"`
		Status string `json:"status"`
		Health string `json:"health"`
		Docs   string `json:"docs.count"`
		Store  string `json:"store.size"`
	}
	q := url.Values{"format": {"json"}, "h": {"index,status,health,docs.count,store.size"}, "bytes": {"b"}, "expand_wildcards": {expand}}
	p := "/_cat/indices"
	if len(patterns) > 0 {
		esc := make([]string, len(patterns))
		for i, pt := range patterns {
			esc[i] = url.PathEscape(pt)
		}
		p += "/" + strings.Join(esc, ",")
	}
	if err := o.C.Do(ctx, http.MethodGet, p, q, nil, &rows); err != nil {
		if esclient.IsType(err, "index_not_found_exception") {
			return map[string]IndexState{}, nil
		}
		return nil, err
	}
	out := make(map[string]IndexState, len(rows))
	for _, r := range rows {
		d, _ := strconv.ParseInt(r.Docs, 10, 64)
		b, _ := strconv.ParseInt(r.Store, 10, 64)
		out[r.Index] = IndexState{Index: r.Index, Status: r.Status, Docs: d, Bytes: b, Health: r.Health}
	}
	return out, nil
}

// IndexDefinitions reads the named indices' flat settings, mappings and
// aliases in one request per batch: what the reindex path creates the
// target indices from, and what the pre-flight checks (_source, the split
// field's type).
func (o Ops) IndexDefinitions(ctx context.Context, names []string) (map[string]reindex.Definition, error) {
	out := map[string]reindex.Definition{}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	q := url.Values{"flat_settings": {"true"}, "expand_wildcards": {"all"}}
	for _, batch := range joinBatches(sorted, 3000) {
		var ans map[string]reindex.Definition
		if err := o.C.Do(ctx, http.MethodGet, "/"+batch, q, nil, &ans); err != nil {
			return nil, fmt.Errorf("read index definitions: %w", err)
		}
		for n, d := range ans {
			out[n] = d
		}
	}
	for _, n := range sorted {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("read index definitions: index %s was not in the answer", n)
		}
	}
	return out, nil
}

// CreateIndex creates an index; an index that exists is reported by
// exists true and no error, so a rerun goes on.
func (o Ops) CreateIndex(ctx context.Context, name string, settings, mappings map[string]any) (exists bool, err error) {
	body := map[string]any{"settings": settings}
	if len(mappings) > 0 {
		body["mappings"] = mappings
	}
	err = o.C.Do(ctx, http.MethodPut, esclient.Path(name), nil, body, nil)
	var ae *esclient.APIError
	if errors.As(err, &ae) && ae.Type == "resource_already_exists_exception" {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("create index %s: %w", name, err)
	}
	return false, nil
}

// IndexSetting reads one flat setting of an index ("" when unset).
func (o Ops) IndexSetting(ctx context.Context, index, key string) (string, error) {
	var ans map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	q := url.Values{"flat_settings": {"true"}}
	if err := o.C.Do(ctx, http.MethodGet, esclient.Path(index, "_settings", key), q, nil, &ans); err != nil {
		return "", fmt.Errorf("read %s of %s: %w", key, index, err)
	}
	for _, a := range ans {
		if v, ok := a.Settings[key]; ok {
			return fmt.Sprint(v), nil
		}
	}
	return "", nil
}

// FinishCopy puts an index's own settings back after the copy (null
// values reset to the engine default), adds aliases, and refreshes it so
// counts read right after see every document.
func (o Ops) FinishCopy(ctx context.Context, index string, settings map[string]any, aliases map[string]any) error {
	if len(settings) > 0 {
		if err := o.C.Do(ctx, http.MethodPut, esclient.Path(index, "_settings"), nil, settings, nil); err != nil {
			return fmt.Errorf("put settings back on %s: %w", index, err)
		}
	}
	if len(aliases) > 0 {
		names := make([]string, 0, len(aliases))
		for a := range aliases {
			names = append(names, a)
		}
		sort.Strings(names)
		var actions []any
		for _, a := range names {
			add := map[string]any{"index": index, "alias": a}
			if d, ok := aliases[a].(map[string]any); ok {
				for k, v := range d { // filter, routing, is_hidden
					add[k] = v
				}
			}
			actions = append(actions, map[string]any{"add": add})
		}
		if err := o.C.Do(ctx, http.MethodPost, "/_aliases", nil, map[string]any{"actions": actions}, nil); err != nil {
			return fmt.Errorf("add aliases to %s: %w", index, err)
		}
	}
	return o.Refresh(ctx, []string{index})
}

// Refresh makes every acknowledged document of the indices searchable.
// Reindex reads through a scroll, which sees refreshed documents only:
// without it, documents written in the last refresh interval before the
// copy (or all of them, on a search-idle shard) would be missed, although
// a pull poller's checkpoint counts them as delivered.
func (o Ops) Refresh(ctx context.Context, names []string) error {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, batch := range joinBatches(sorted, 3000) {
		if err := o.C.Do(ctx, http.MethodPost, "/"+batch+"/_refresh", nil, nil, nil); err != nil {
			return fmt.Errorf("refresh %s: %w", batch, err)
		}
	}
	return nil
}

// Owner reads which migration created an index: essnap puts
// _meta.essnap.migration into the mapping of every index it creates, so a
// step can tell its own index from a live one of the same name. exists is
// false when there is no such index.
func (o Ops) Owner(ctx context.Context, index string) (migration string, exists bool, err error) {
	var ans map[string]struct {
		Mappings struct {
			Meta struct {
				Essnap struct {
					Migration string `json:"migration"`
				} `json:"essnap"`
			} `json:"_meta"`
		} `json:"mappings"`
	}
	err = o.C.Do(ctx, http.MethodGet, esclient.Path(index, "_mapping"), nil, nil, &ans)
	if notFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read the mapping of %s: %w", index, err)
	}
	a, ok := ans[index]
	if !ok {
		// An alias of that name: not an index essnap created.
		return "", true, nil
	}
	return a.Mappings.Meta.Essnap.Migration, true, nil
}
