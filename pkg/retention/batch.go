package retention

import "net/url"

// Defaults for Batches. One DELETE per name would rewrite the repository
// metadata once per snapshot; one DELETE for everything can outlive the
// request timeout (AWS answers 504) and exceed the engine's request-line limit
// (http.max_initial_line_length, 4 KB by default). 4000 bytes of names leave
// room for "DELETE /_snapshot/<repo>/ HTTP/1.1" with a short repository name.
const (
	DefaultMaxPerRequest = 50
	DefaultMaxPathBytes  = 4000
)

// Batches splits snapshot names into groups for comma-joined multi-snapshot
// deletes (DELETE _snapshot/<repo>/a,b,c; ES 7.8+ and OpenSearch), because a
// single missing name fails the whole request and one huge request can time
// out. Each group holds at most maxPerRequest names, and its names,
// percent-encoded and joined with commas, take at most maxPathBytes bytes (a
// single longer name gets a group of its own). Values <= 0 select the
// defaults. Empty names (which would change the path's meaning) and repeated
// names are dropped; order is preserved. Callers must not percent-encode the
// commas.
func Batches(names []string, maxPerRequest, maxPathBytes int) [][]string {
	if maxPerRequest <= 0 {
		maxPerRequest = DefaultMaxPerRequest
	}
	if maxPathBytes <= 0 {
		maxPathBytes = DefaultMaxPathBytes
	}
	flat := make([]string, 0, len(names))
	seen := make(map[string]struct{}, len(names))
	var out [][]string
	start, size := 0, 0
	for _, name := range names {
		if name == "" {
			continue
		}
		if _, dup := seen[name]; dup {
			continue
		}
		seen[name] = struct{}{}
		l := len(url.PathEscape(name))
		if n := len(flat) - start; n > 0 {
			if n >= maxPerRequest || size+1+l > maxPathBytes {
				out = append(out, flat[start:len(flat):len(flat)])
				start, size = len(flat), 0
			} else {
				size++ // the comma
			}
		}
		flat = append(flat, name)
		size += l
	}
	if len(flat) > start {
		out = append(out, flat[start:len(flat):len(flat)])
	}
	return out
}
