// Package integration runs essnap's operations and handlers against real
// OpenSearch 2.x and Elasticsearch 7.10 engines started by scripts/peers.sh.
// The tests need the build tag "integration" and the variable
// ESSNAP_TEST_ENGINES (name=url,...); without it they fail, never skip.
package integration
