// Package retention decides which snapshots of a repository to delete.
//
// It exists because operators complain that retention tools delete snapshots
// they did not create, or keep more or fewer than configured (field notes 6.4,
// 6.5). The policy is a pure function, [Apply], from a repository listing
// (the shared model.Snapshot, as ListSnapshots reads it narrowed from GET _snapshot/<repo>/_all) and a clock to a [Plan],
// so every decision can be tested and explained without a cluster; the caller
// performs the deletions ([Batches] groups them into multi-name DELETE
// requests). It combines restic's "forget" policy (calendar buckets, a reason
// for every decision) with Elasticsearch SLM retention (expire_after,
// min_count, max_count).
//
// # Candidates
//
// Only candidates can ever be deleted: snapshots whose name starts with
// [Policy.Prefix] and whose metadata carries "essnap_policy" equal to
// [Policy.PolicyID]. Everything else (other policies, AWS cs-automated
// snapshots, hand-made ones, and every snapshot of a verbose=false listing,
// which has no metadata) goes to [Plan.Ignored] and is never touched.
//
// # Rules, in order of strength
//
//  1. Forced keeps, which nothing overrides: IN_PROGRESS snapshots ("in
//     progress"); pinned snapshots, whose metadata[PinKey] is the JSON
//     boolean true ("pinned"; the string "true" does not pin); the newest
//     SUCCESS candidate ("newest successful snapshot"); the newest min_count
//     SUCCESS candidates ("within min_count N"); and candidates retention
//     cannot judge: unknown start time, or a state other than SUCCESS,
//     FAILED, PARTIAL and IN_PROGRESS (INCOMPATIBLE, empty, unknown).
//  2. max_count: while more than max_count SUCCESS candidates would remain,
//     the oldest one that is not a forced keep is deleted, even if a calendar
//     rule or expire_after would keep it ("max_count N exceeded", followed by
//     "overrides: ..." naming the keep reasons it beat). max_count is a hard
//     ceiling on repository size; only forced keeps (which it counts) can
//     push the count above it.
//  3. Keep rules: keep_daily, keep_weekly and keep_monthly keep the newest
//     SUCCESS candidate (pinned ones included) of each of the last N days,
//     ISO weeks or months that have one, with calendar boundaries in
//     [Policy.Location] (restic semantics: "daily snapshot 2026-11-23",
//     "weekly snapshot 2026-W48", "monthly snapshot 2026-11"); and a
//     SUCCESS candidate started at or after now-expire_after is kept
//     ("within expire_after 30d").
//  4. Deletion: when expire_after or any keep_* is set, a SUCCESS candidate
//     that no rule keeps is deleted ("expired: older than expire_after 30d",
//     or "not retained by keep_daily 7, ..." when expire_after is unset, as in
//     restic). When only max_count is set, SUCCESS candidates are kept
//     ("within max_count N") unless max_count trims them.
//
// So keep rules win over expire_after, and max_count wins over keep rules but
// not over forced keeps.
//
// FAILED and PARTIAL candidates never count toward min_count, max_count or the
// calendar buckets. They are deleted once the newest SUCCESS candidate started
// strictly after them ("failed snapshot superseded by a newer success"),
// whatever their age, and kept otherwise: while nothing better exists, a
// PARTIAL snapshot may be the only copy of some data and a FAILED one the only
// record of the failure. A pinned one is kept.
//
// A [Policy] that fails [Policy.Validate] deletes nothing: Apply keeps every
// candidate with a reason quoting the validation error.
//
// # Ordering
//
// "Newer" means a later start time. Plan lists are sorted newest first; ties
// are broken by name (descending), then UUID (descending), then input order,
// so the same input always yields the same plan.
package retention
