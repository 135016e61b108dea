// Package arch holds tests that keep the layout docs/architecture.md
// describes: which package may import which, and how small the handlers'
// interfaces stay. They read the source, so a change that breaks the
// layout fails `go test ./...` before review has to catch it.
package arch
