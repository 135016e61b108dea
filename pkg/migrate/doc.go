// Package migrate holds the pure policies of the migration workflow
// (statemachine/migration.asl.json): which engine may restore which
// engine's snapshot, whether the target has room, what the migration's
// snapshot is called and what verification compares for each cut-over
// strategy. It does no I/O, so every decision is table-tested; the
// preflight and verify handlers in pkg/handler feed it what the engines
// report.
package migrate
