package retention

import (
	"encoding/json"
	"time"
)

// Snapshot states as the engine spells them. Retention treats each one
// differently, so callers compare against these instead of string literals.
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
	// PolicyMetadataKey holds the id of the policy that took the snapshot;
	// a candidate for deletion must carry Policy.PolicyID under it.
	PolicyMetadataKey = "essnap_policy"
	// DefaultPinKey is the metadata key that protects a snapshot from
	// deletion when Policy.PinKey is empty, so an operator can keep a
	// snapshot (before a migration, for an audit) without editing the policy.
	DefaultPinKey = "essnap_pinned"
)

// Snapshot is one entry of a repository listing, reduced to what retention
// needs to judge it, so the policy can be tested without a cluster. Times have
// millisecond precision, as on the wire; a zero time means the engine did not
// report one (verbose=false listings, running snapshots' end time).
//
// The JSON form is the engine's: GET _snapshot/<repo>/_all entries decode into
// it and a Snapshot encodes back to the same field names.
type Snapshot struct {
	Name     string         `json:"snapshot"`
	UUID     string         `json:"uuid,omitempty"`
	State    string         `json:"state,omitempty"`
	Start    time.Time      `json:"start_time_in_millis,omitzero"`
	End      time.Time      `json:"end_time_in_millis,omitzero"`
	Metadata map[string]any `json:"metadata,omitempty"`
	Indices  []string       `json:"indices,omitempty"`
}

// wireSnapshot is the engine's field layout; times travel as epoch
// milliseconds.
type wireSnapshot struct {
	Snapshot string         `json:"snapshot"`
	UUID     string         `json:"uuid,omitempty"`
	State    string         `json:"state,omitempty"`
	Start    int64          `json:"start_time_in_millis,omitempty"`
	End      int64          `json:"end_time_in_millis,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	Indices  []string       `json:"indices,omitempty"`
}

func (w *wireSnapshot) snapshot() Snapshot {
	return Snapshot{
		Name:     w.Snapshot,
		UUID:     w.UUID,
		State:    w.State,
		Start:    fromMillis(w.Start),
		End:      fromMillis(w.End),
		Metadata: w.Metadata,
		Indices:  w.Indices,
	}
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

// MarshalJSON writes the engine's field names and epoch-millisecond times, so
// plans and test fixtures read like the listings they came from.
func (s Snapshot) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireSnapshot{
		Snapshot: s.Name,
		UUID:     s.UUID,
		State:    s.State,
		Start:    toMillis(s.Start),
		End:      toMillis(s.End),
		Metadata: s.Metadata,
		Indices:  s.Indices,
	})
}

// UnmarshalJSON reads one entry of an engine listing (for example the
// "snapshot" object of a create response); whole listings should go through
// DecodeListing, which is much faster.
func (s *Snapshot) UnmarshalJSON(b []byte) error {
	var w wireSnapshot
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = w.snapshot()
	return nil
}
