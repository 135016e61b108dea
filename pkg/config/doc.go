// Package config loads every essnap function's configuration along one
// path: defaults (the struct literal the caller starts from), then ESSNAP_*
// environment variables, then the invocation event, then the caller's
// Validate, which reports every problem at once.
//
// Each field is declared once, as a tagged field of the function's config
// struct (`json` for the event, `env` for the variable): no parallel event
// struct of pointers, no per-field copy code, and Fields lists them for the
// README check. Events are decoded strictly, because a console event typed
// by hand is where typos live: unknown keys, keys that differ from a field
// only in case, duplicate keys and nulls are reported, never ignored.
package config
