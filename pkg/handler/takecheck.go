package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/retention"
	"github.com/essnap/essnap/pkg/snapshot"
)

// maxMetadataBytes is the engines' limit for a snapshot's metadata, as
// they count it (its JSON): Elasticsearch 7.10 and OpenSearch 1.3 to 3.5
// accept 1024 bytes and refuse 1025 with "metadata must be smaller than
// 1024 bytes" (seen on the real engines, test/integration).
const maxMetadataBytes = 1024

// snapshotMetadata is the metadata take-snapshot records: the event's own
// metadata, essnap's record of the request (trigger, template, time,
// execution, indices) and the retention policy id.
func (c *SnapshotConfig) snapshotMetadata(now time.Time) map[string]any {
	meta := maps.Clone(c.Metadata)
	if meta == nil {
		meta = map[string]any{}
	}
	origin := map[string]any{
		"trigger":      c.Trigger,
		"template":     c.NameTemplate,
		"requested_at": now.UTC().Format("2006-01-02T15:04:05Z"),
	}
	if c.Execution != "" {
		origin["execution"] = c.Execution
	}
	if len(c.Indices) > 0 {
		origin["indices"] = c.Indices
	}
	meta["essnap"] = origin
	meta[retention.PolicyMetadataKey] = c.Retention.PolicyID
	return meta
}

// jsonSize is how many bytes the engines count for v: its compact JSON,
// non-ASCII as UTF-8 (as Jackson writes it), so not HTML-escaped.
func jsonSize(v any) int {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return 0
	}
	return b.Len() - 1 // Encode's newline
}

// metadataProblem says, before anything is sent, that the snapshot
// metadata would exceed the engines' limit, and which field made it too
// large: each event field's share is measured by leaving it out.
func (c *SnapshotConfig) metadataProblem() string {
	var zero time.Time // requested_at has the same width at any time
	total := jsonSize(c.snapshotMetadata(zero))
	if total <= maxMetadataBytes {
		return ""
	}
	share := func(drop func(*SnapshotConfig)) int {
		d := *c
		drop(&d)
		return total - jsonSize(d.snapshotMetadata(zero))
	}
	parts := []struct {
		field string
		bytes int
	}{
		{"metadata", share(func(d *SnapshotConfig) { d.Metadata = nil })},
		{"execution", share(func(d *SnapshotConfig) { d.Execution = "" })},
		{"indices", share(func(d *SnapshotConfig) { d.Indices = nil })},
		{"snapshot", share(func(d *SnapshotConfig) { d.NameTemplate = "" })},
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].bytes > parts[j].bytes })
	var shares []string
	for _, p := range parts {
		if p.bytes > 0 {
			shares = append(shares, fmt.Sprintf("%s %d", p.field, p.bytes))
		}
	}
	return fmt.Sprintf("%s makes the snapshot metadata too large: it would be %d bytes of JSON, and the engines refuse more than %d (bytes by field: %s; essnap's own record takes the rest); shorten %s",
		parts[0].field, total, maxMetadataBytes, strings.Join(shares, ", "), parts[0].field)
}

// checkSelection refuses, before anything is created, a snapshot whose
// index patterns select nothing on the domain: the engine would make an
// empty SUCCESS snapshot, which restores nothing and would count toward
// retention. Patterns match as for restore selection (snapshot.MatchIndices)
// against the domain's indices, aliases and data streams. With
// ignore_unavailable (the default) a concrete name that does not exist is
// skipped, as the engine skips it, and only a list that selects nothing is
// refused; without it, any missing concrete name is refused, as the engine
// would refuse the whole snapshot.
//
// A caller that may not list indices or aliases (fine-grained access
// control mapped to manage_snapshots only) cannot check: the snapshot is
// then taken, and an empty SUCCESS is still caught after it (Invoke).
func (h TakeSnapshot) checkSelection(ctx context.Context, ops Operations, c *SnapshotConfig) error {
	taken, _, err := ops.TakenNames(ctx)
	var ae *esclient.APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) {
		h.Log.WarnContext(ctx, "take-snapshot: the patterns were not checked before the snapshot: listing indices was denied", "error", err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("take-snapshot: read the domain's indices to check the patterns: %w", err)
	}
	available := make([]string, 0, len(taken))
	indices := 0
	for n, status := range taken {
		available = append(available, n)
		if status != snapshot.StatusAlias {
			indices++
			if ds, ok := dataStreamOf(n); ok {
				available = append(available, ds)
			}
		}
	}
	selected, missing, err := snapshot.MatchIndices(available, c.Indices)
	if err != nil {
		return failure.Validation("take-snapshot", []string{err.Error()})
	}
	var p problems
	switch {
	case len(missing) > 0 && !c.IgnoreUnavailable:
		p.add("indices %s do not exist on the domain (no index, alias or data stream of that name); with ignore_unavailable=false the engine refuses the whole snapshot; fix the names, or set ignore_unavailable=true to skip missing ones; nothing was created", quoteAll(missing))
	case len(selected) == 0 && len(c.Indices) == 0:
		p.add("the domain has no index, so the snapshot would be empty; nothing was created")
	case len(selected) == 0:
		p.add("indices %s match no index, alias or data stream of the domain (it has %d indices), so the snapshot would succeed empty; check the patterns (GET _cat/indices); nothing was created", quoteAll(c.Indices), indices)
	}
	if len(p) > 0 {
		return failure.Validation("take-snapshot", p)
	}
	return nil
}

// dataStreamOf names the data stream a backing index belongs to
// (.ds-<stream>-000001, or .ds-<stream>-<yyyy.MM.dd>-000001 on newer
// engines), so a pattern naming the stream counts as matching.
func dataStreamOf(index string) (string, bool) {
	rest, ok := strings.CutPrefix(index, ".ds-")
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", false
	}
	stream := rest[:i]
	if j := strings.LastIndexByte(stream, '-'); j > 0 {
		if _, err := time.Parse("2006.01.02", stream[j+1:]); err == nil {
			stream = stream[:j]
		}
	}
	return stream, true
}

// quoteAll quotes the first values (each cut with config.Short) for a
// message, and counts the rest.
func quoteAll(vals []string) string {
	const shown = 10
	var q []string
	for i, v := range vals {
		if i == shown {
			q = append(q, fmt.Sprintf("and %d more", len(vals)-shown))
			break
		}
		q = append(q, fmt.Sprintf("%q", config.Short(v)))
	}
	return "[" + strings.Join(q, ", ") + "]"
}
