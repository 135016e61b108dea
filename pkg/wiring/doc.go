// Package wiring builds the production dependencies of the handlers: the
// AWS credential chain, SigV4-signed clients cached per domain, JSON logs
// and CloudWatch EMF metrics on stdout. It is kept apart from pkg/handler so
// the handlers' logic never needs the AWS SDK's configuration loading, and
// each functions/<name>/main.go is one line of wiring.
package wiring
