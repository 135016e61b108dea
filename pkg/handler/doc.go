// Package handler holds the Lambda handlers' logic as plain structs with
// injected dependencies (domain connector, clock, logger, environment), so
// that every path runs in tests without AWS. Each function has its own file
// (register.go, take.go with retention.go, restore.go, progress.go,
// preflight.go, verify.go, drill.go with takecounts.go) holding its config struct, Validate and Invoke;
// common.go has what they share (Deps, Operations, Domain). Production
// wiring lives in pkg/wiring; functions/*/main.go only calls lambda.Start.
//
// Configuration follows one path: defaults (the config struct literal),
// then environment (ESSNAP_*), then the event, both applied by
// config.Load from the struct's tags, then Validate, which reports every
// problem at once. Each event field is declared once, as a tagged field.
package handler
