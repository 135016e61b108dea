package retention

import "github.com/essnap/essnap/pkg/model"

// Snapshot is the shared snapshot model (pkg/model), named here because
// retention judges little else: the policy reads Name, State, Start,
// Metadata (policy id and pin) and, for the empty-snapshot guard, Shards.
type Snapshot = model.Snapshot

// The states and metadata keys retention decides on, from pkg/model.
const (
	StateSuccess      = model.StateSuccess
	StatePartial      = model.StatePartial
	StateFailed       = model.StateFailed
	StateInProgress   = model.StateInProgress
	StateIncompatible = model.StateIncompatible

	PolicyMetadataKey = model.PolicyMetadataKey
	DefaultPinKey     = model.DefaultPinKey
)
