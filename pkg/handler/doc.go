// Package handler holds the Lambda handlers' logic as plain structs with
// injected dependencies (domain connector, clock, logger, environment), so
// that every path runs in tests without AWS.
//
// Each function has one file named as its functions/ folder
// (register_repo.go, take_snapshot.go, restore.go, check_progress.go,
// preflight.go, migrate_metadata.go, reindex.go, verify.go, drill.go,
// doctor.go) holding its config struct, Validate, Invoke and the small
// interface of domain calls it makes (RegisterRepoOps, DrillOps, ...).
// What several functions share lives in the shared_*.go files: shared.go
// (Deps, Domain, connecting, configuration problems, polling),
// shared_iam.go (the IAM role checks of register-repo and the doctor) and
// shared_migration.go (both domains of a migration step, the metadata
// plan). Production wiring lives in pkg/wiring; functions/*/main.go only
// calls lambda.Start.
//
// Configuration follows one path: defaults (the config struct literal),
// then environment (ESSNAP_*), then the event, both applied by
// config.Load from the struct's tags, then Validate, which reports every
// problem at once. Each event field is declared once, as a tagged field.
package handler
