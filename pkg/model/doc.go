// Package model is what essnap knows about a snapshot, shared by the
// operations (pkg/engine), the pure retention policy (pkg/retention) and
// the handlers: one Snapshot type with the engine's JSON form, the states,
// the metadata keys essnap writes, and the one rule for "the newest
// snapshot" that restore's latest, retention and take-snapshot all use. It
// imports nothing of essnap, so policies and operations both sit on top of
// it and never on each other.
package model
