package handler

import (
	"context"
	"regexp"
	"strconv"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/snapshot"
)

// byteRate is a byte size as the engines parse repository throttles:
// "0" (unthrottled), or a number with a unit (b, kb, mb, gb, tb, pb).
var byteRate = regexp.MustCompile(`^(0|[0-9]+(\.[0-9]+)?(b|kb|mb|gb|tb|pb))$`)

// validateRate checks a repository throttle before it is sent, so a typo
// is a ValidationError and not an engine refusal after the pre-check.
func validateRate(p *problems, field, v string) {
	if v != "" && !byteRate.MatchString(v) {
		p.add("%s %q is not a byte rate; use e.g. \"40mb\", \"1gb\", or \"0\" for unthrottled", field, config.Short(v))
	}
}

// sourceReplicas reads each source index's number_of_replicas, keyed by
// the name the restore gives it on the target. A value the engine does
// not report counts as 1, the engines' default.
func sourceReplicas(ctx context.Context, src Operations, indices []snapshot.IndexMapping) (map[string]int, error) {
	names := make([]string, len(indices))
	for i, m := range indices {
		names[i] = m.Source
	}
	out := map[string]int{}
	if len(names) == 0 {
		return out, nil
	}
	set, err := src.FlatSettings(ctx, names)
	if err != nil {
		return nil, err
	}
	for _, m := range indices {
		n, err := strconv.Atoi(set[m.Source]["index.number_of_replicas"])
		if err != nil || n < 0 {
			n = 1
		}
		out[m.Target] = n
	}
	return out, nil
}
