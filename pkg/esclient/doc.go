// Package esclient builds the one HTTP client every essnap function uses to talk
// to an Amazon OpenSearch Service or Elasticsearch domain.
//
// The client is a go-elasticsearch v7 client whose transport is a stack of
// http.RoundTripper decorators, outermost first:
//
//	retry      -> repeats only what is safe to repeat, with backoff
//	deadline   -> bounds each attempt by the Lambda deadline
//	product    -> lets the v7 product check accept AWS domains and OpenSearch
//	hygiene    -> strips headers OpenSearch refuses (compatibility mode)
//	sign       -> SigV4 (service "es"), innermost so every attempt is re-signed
//	http.Transport
//
// Non-2xx answers become *APIError values carrying status, error type and
// reason, parsed from any of the three body shapes AWS domains produce.
package esclient
