// Package handler holds the Lambda handlers' logic as plain structs with
// injected dependencies (domain connector, clock, logger, environment), so
// that every path runs in tests without AWS. functions/*/main.go only wires
// them to aws-lambda-go.
//
// Configuration follows one path: defaults, then environment (ESSNAP_*),
// then the event, then Validate, which reports every problem at once.
// Events are decoded strictly: an unknown field is an error naming the
// known ones, so a typo never silently falls back to a default.
package handler
