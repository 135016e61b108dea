// Package snapshot holds essnap's snapshot operations (register, create,
// status, list, delete, restore, restore progress) and the pure policies
// behind them: snapshot naming with date math, index selection, and restore
// renaming with the engine's Java regex semantics.
//
// Operations check before they act: a create whose answer was lost looks
// for the snapshot instead of sending the create again, and a restore lists
// every index it would collide with before it sends anything.
package snapshot
