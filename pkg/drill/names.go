package drill

import (
	"regexp"
	"time"
)

// Prefix starts every index a drill creates. It is reserved: a drill
// deletes any index named Prefix + <yyyy.MM.dd> + "-" + <anything>, and
// nothing else.
const Prefix = "essnap-drill-"

// dateLayout is the drill date in target names, the nightly snapshots'
// yyyy.MM.dd, in UTC.
const dateLayout = "2006.01.02"

// owned is the one test of whether the drill owns an index. It is anchored
// at both ends and needs the date and a non-empty source name, so a user's
// "essnap-drill", "essnap-drill-notes" or "x-essnap-drill-2026.11.24-a"
// never matches.
var owned = regexp.MustCompile(`^essnap-drill-[0-9]{4}\.(0[1-9]|1[0-2])\.(0[1-9]|[12][0-9]|3[01])-.+$`)

// TargetPrefix is the prefix a drill on day now adds to each source index
// name (the restore's rename_prefix).
func TargetPrefix(now time.Time) string {
	return Prefix + now.UTC().Format(dateLayout) + "-"
}

// Target is the name a drill on day now restores index under.
func Target(now time.Time, index string) string { return TargetPrefix(now) + index }

// Owned reports whether a drill created the index, so may delete it: the
// only gate between a drill and DELETE. The name must be exactly a Target.
func Owned(index string) bool { return owned.MatchString(index) }

// Leftovers are the names among existing that a drill owns: what an
// earlier drill that died left, and what a drill deletes before it starts.
func Leftovers(existing []string) []string {
	var out []string
	for _, n := range existing {
		if Owned(n) {
			out = append(out, n)
		}
	}
	return out
}
