// Package workflow runs the migration state machine
// (statemachine/migration.asl.json) end to end on real engines: the
// definition executes in aws-local-stepfunctions (run.mjs), its Task states
// call the real bootstraps under the Lambda Runtime Interface Emulator, and
// a writer keeps indexing documents with known _ids while the migration
// runs. Build tag integration; scripts/test.sh starts the engines and sets
// ESSNAP_WORKFLOW_ENGINES. A missing engine, emulator or npm package fails
// the tests.
package workflow
