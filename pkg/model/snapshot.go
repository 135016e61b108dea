package model

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Snapshot states as the engine spells them; callers compare against these
// instead of string literals.
const (
	StateSuccess      = "SUCCESS"
	StatePartial      = "PARTIAL"
	StateFailed       = "FAILED"
	StateInProgress   = "IN_PROGRESS"
	StateIncompatible = "INCOMPATIBLE"
)

// Metadata keys essnap writes when it takes a snapshot. They are the only
// proof that a snapshot belongs to a policy, so retention refuses to judge a
// snapshot without them.
const (
	// PolicyMetadataKey holds the id of the policy that took the snapshot.
	PolicyMetadataKey = "essnap_policy"
	// DefaultPinKey is the metadata key that protects a snapshot from
	// deletion, so an operator can keep a snapshot (before a migration, for
	// an audit) without editing the policy.
	DefaultPinKey = "essnap_pinned"
	// OriginMetadataKey holds how essnap took the snapshot (trigger,
	// template, time, indices).
	OriginMetadataKey = "essnap"
)

// ShardFailure is one failed shard of a snapshot.
type ShardFailure struct {
	Index   string `json:"index"`
	ShardID int    `json:"shard_id"`
	Reason  string `json:"reason"`
	Status  string `json:"status"`
}

// Shards counts a snapshot's shards.
type Shards struct {
	Total      int `json:"total"`
	Failed     int `json:"failed"`
	Successful int `json:"successful"`
}

// Snapshot is one snapshot as the engines report it (GET _snapshot/r/s, a
// listing entry, the answer of a blocking create). Only Name is always
// there: narrowed listings (filter_path) and verbose=false listings carry
// a few fields, so every other field is optional. Times have millisecond
// precision, as on the wire; a zero time means the engine did not report
// one.
//
// The JSON form is the engine's (snapshot, start_time_in_millis, ...), so
// listings decode into it and fixtures and plans read like listings.
type Snapshot struct {
	Name     string
	UUID     string
	State    string
	Version  string
	Indices  []string
	Start    time.Time
	End      time.Time
	Duration time.Duration
	Shards   Shards
	Failures []ShardFailure
	Metadata map[string]any
}

// wire is the engine's field layout; times travel as epoch milliseconds.
type wire struct {
	Snapshot string         `json:"snapshot"`
	UUID     string         `json:"uuid,omitempty"`
	State    string         `json:"state,omitempty"`
	Version  string         `json:"version,omitempty"`
	Indices  []string       `json:"indices,omitempty"`
	Start    int64          `json:"start_time_in_millis,omitempty"`
	End      int64          `json:"end_time_in_millis,omitempty"`
	Duration int64          `json:"duration_in_millis,omitempty"`
	Failures []ShardFailure `json:"failures,omitempty"`
	Shards   *Shards        `json:"shards,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// fromMillis maps the engine's "0 = not set" convention onto the zero time.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// MarshalJSON writes the engine's field names and epoch-millisecond times.
func (s Snapshot) MarshalJSON() ([]byte, error) {
	w := wire{Snapshot: s.Name, UUID: s.UUID, State: s.State, Version: s.Version, Indices: s.Indices,
		Start: toMillis(s.Start), End: toMillis(s.End), Duration: s.Duration.Milliseconds(), Failures: s.Failures, Metadata: s.Metadata}
	if s.Shards != (Shards{}) {
		w.Shards = &s.Shards
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads one snapshot in the engine's form.
func (s *Snapshot) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = w.snapshot()
	return nil
}

func (w *wire) snapshot() Snapshot {
	s := Snapshot{Name: w.Snapshot, UUID: w.UUID, State: w.State, Version: w.Version, Indices: w.Indices,
		Start: fromMillis(w.Start), End: fromMillis(w.End), Duration: time.Duration(w.Duration) * time.Millisecond,
		Failures: w.Failures, Metadata: w.Metadata}
	if w.Shards != nil {
		s.Shards = *w.Shards
	}
	return s
}

// Empty reports a finished snapshot that holds nothing: its patterns matched
// no index. Narrowed listings carry shards.total for this, not the
// (possibly long) index list.
func (s Snapshot) Empty() bool { return s.Shards.Total == 0 && len(s.Indices) == 0 }

// DecodeListing reads a GET _snapshot/<repo>/_all answer ({"snapshots":
// [...]}), narrowed or not, with encoding/json. An error body is an error,
// so a failed request never looks like an empty repository; {} is what a
// narrowed listing of an empty repository looks like. Asking the engine for less
// (filter_path) is what keeps a 10,000-snapshot listing within the
// function's CPU and memory budget (docs/benchmarks.md).
func DecodeListing(r io.Reader) ([]Snapshot, error) {
	// Entries decode straight into the wire form: going through
	// Snapshot.UnmarshalJSON would scan every entry twice.
	var ans struct {
		Snapshots *[]wire         `json:"snapshots"`
		Error     json.RawMessage `json:"error"`
	}
	if err := json.NewDecoder(r).Decode(&ans); err != nil {
		return nil, fmt.Errorf("decode snapshot listing: %w", err)
	}
	switch {
	case ans.Error != nil:
		return nil, fmt.Errorf("decode snapshot listing: the answer is an error: %.300s", ans.Error)
	case ans.Snapshots == nil:
		// filter_path drops an empty array: {} is an empty repository.
		return []Snapshot{}, nil
	}
	out := make([]Snapshot, len(*ans.Snapshots))
	for i := range *ans.Snapshots {
		out[i] = (*ans.Snapshots)[i].snapshot()
	}
	return out, nil
}

// Newest is the one definition of "the newest snapshot": of those keep
// accepts (nil keeps all), the one with the latest start; on equal starts
// the later in the list, which for ListSnapshots is the engine's order.
// Equal starts are real: Elasticsearch 7.10 reports start times with its
// cached clock's resolution, and snapshots taken back to back share one
// (observed). Restore's latest, retention's guard and its age metric all
// ask it; NewestTied returns every snapshot that shares that start.
func Newest(snaps []Snapshot, keep func(Snapshot) bool) (Snapshot, bool) {
	var best Snapshot
	found := false
	for _, s := range snaps {
		if keep != nil && !keep(s) {
			continue
		}
		if !found || !s.Start.Before(best.Start) {
			best, found = s, true
		}
	}
	return best, found
}

// NewestTied returns the snapshots keep accepts whose start equals the
// newest one's, in list order, so a guard can refuse when any of them
// (not only the one Newest picks) is running or failed.
func NewestTied(snaps []Snapshot, keep func(Snapshot) bool) []Snapshot {
	newest, ok := Newest(snaps, keep)
	if !ok {
		return nil
	}
	var out []Snapshot
	for _, s := range snaps {
		if (keep == nil || keep(s)) && s.Start.Equal(newest.Start) {
			out = append(out, s)
		}
	}
	return out
}

// Succeeded keeps SUCCESS snapshots, for Newest.
func Succeeded(s Snapshot) bool { return s.State == StateSuccess }

// ListingPaths are the fields of a listing entry essnap reads: enough for
// retention (name, state, times, policy and pin metadata, shards.total for
// the empty-snapshot guard) and for picking the newest SUCCESS snapshot.
// Listing asks the engine for these alone (filter_path), which on 10,000
// snapshots cuts the body about ninefold; the index lists, failures and
// origin metadata stay on the server.
var ListingPaths = []string{"snapshot", "uuid", "state", "start_time_in_millis", "end_time_in_millis", "shards.total"}

// ListingFilter is the filter_path value for a narrowed listing that also
// keeps the given metadata keys (the policy id and the pin key). Keys with
// characters filter_path treats specially are left out.
func ListingFilter(metadataKeys ...string) string {
	paths := make([]string, 0, len(ListingPaths)+len(metadataKeys))
	for _, p := range ListingPaths {
		paths = append(paths, "snapshots."+p)
	}
	for _, k := range metadataKeys {
		if k == "" || strings.ContainsAny(k, ",*.\\ ") {
			continue
		}
		paths = append(paths, "snapshots.metadata."+k)
	}
	return strings.Join(paths, ",")
}
