// Package settings is the one rule for the index settings a migration
// target must not get. Two steps create things on the target from the
// source's settings: the reindex path creates each target index from the
// source's definition (pkg/reindex), and the metadata step carries index,
// component and legacy templates (pkg/metadata). They used to keep a list
// each, and the lists disagreed: a template kept allocation filters and
// write blocks a created index lost, and kept ILM settings between engines
// of one family. Both now ask Refused, so a setting is refused in both
// places or in neither, with the same reason, for every engine pair.
//
// It is pure: no I/O, no state besides the list.
package settings
