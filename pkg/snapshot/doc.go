// Package snapshot holds the pure policies behind snapshots and restores:
// snapshot naming with date math, name validation, index selection with
// the engines' wildcard and exclusion rules, and restore renaming with the
// engine's Java regex semantics. Nothing here talks to a domain; pkg/engine
// does, and calls these rules before it sends anything.
package snapshot
