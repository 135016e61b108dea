package retention

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Policy says which snapshots a repository should keep. It is configuration
// written by operators (JSON field names in the tags), so Validate reports
// problems with those names. The rules and how they interact are described in
// the package documentation.
type Policy struct {
	// Prefix and PolicyID together identify the snapshots this policy took;
	// both must match before anything can be deleted, so a second policy, a
	// hand-made snapshot or an AWS cs-automated one is never touched.
	Prefix   string `json:"prefix" env:"PREFIX"`
	PolicyID string `json:"policy_id" env:"POLICY_ID"`

	// ExpireAfter deletes SUCCESS candidates that started longer ago, unless
	// another rule keeps them. Written as "30d", "2w" or "720h" in JSON.
	ExpireAfter Age `json:"expire_after,omitempty" env:"EXPIRE_AFTER"`
	// MinCount keeps the newest MinCount SUCCESS candidates whatever their
	// age, so a stalled schedule cannot expire the last good backups.
	MinCount int `json:"min_count,omitempty" env:"MIN_COUNT"`
	// MaxCount bounds the number of SUCCESS candidates (0 = no bound), which
	// bounds repository size and listing time.
	MaxCount int `json:"max_count,omitempty" env:"MAX_COUNT"`

	// KeepDaily, KeepWeekly and KeepMonthly keep the newest SUCCESS candidate
	// of each of the last N days, ISO weeks and months that have one, for
	// long-term coverage with few snapshots.
	KeepDaily   int `json:"keep_daily,omitempty" env:"KEEP_DAILY"`
	KeepWeekly  int `json:"keep_weekly,omitempty" env:"KEEP_WEEKLY"`
	KeepMonthly int `json:"keep_monthly,omitempty" env:"KEEP_MONTHLY"`

	// Timezone decides where calendar days begin (zero = UTC), so "daily"
	// matches the operator's day: an IANA name; the program must have time
	// zone data (embed time/tzdata on Lambda).
	Timezone Zone `json:"timezone,omitzero" env:"TIMEZONE"`

	// PinKey names the metadata flag that protects a snapshot; empty means
	// DefaultPinKey.
	PinKey string `json:"pin_key,omitempty"`
}

// ValidationError lists every problem of a Policy, so an operator fixes a
// configuration in one round trip instead of one error at a time.
type ValidationError struct {
	// Problems each start with the JSON field name they concern.
	Problems []string
}

// Error puts all problems on one line, numbered, for log lines and API
// answers.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid retention policy: " + e.Problems[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid retention policy (%d problems):", len(e.Problems))
	for i, p := range e.Problems {
		fmt.Fprintf(&b, " (%d) %s", i+1, p)
	}
	return b.String()
}

// Validate checks the policy before it is used, because Apply deletes nothing
// with an invalid policy and a silent no-op would let a repository grow
// unnoticed. The error is a *ValidationError naming JSON fields.
func (p Policy) Validate() error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	if p.PolicyID == "" {
		add("policy_id: must not be empty; it is the %s metadata value that marks the snapshots this policy may delete", PolicyMetadataKey)
	}
	switch {
	case p.Prefix == "":
		add("prefix: must not be empty; only snapshots whose name starts with it can be deleted")
	default:
		if strings.HasPrefix(p.Prefix, "_") {
			add("prefix: %q starts with '_', which no snapshot name can", p.Prefix)
		}
		if p.Prefix != strings.ToLower(p.Prefix) {
			add("prefix: %q has uppercase letters; snapshot names are lowercase", p.Prefix)
		}
		if strings.IndexFunc(p.Prefix, unicode.IsSpace) >= 0 {
			add("prefix: %q contains whitespace, which no snapshot name can", p.Prefix)
		}
		if i := strings.IndexAny(p.Prefix, `,#\/*?"<>|{}`); i >= 0 {
			add("prefix: %q contains %q; give the literal start of the resolved names (for <nightly-{now/d}> use \"nightly-\")", p.Prefix, p.Prefix[i])
		}
	}
	if p.ExpireAfter < 0 {
		add("expire_after: must not be negative (got %s)", p.ExpireAfter.Duration())
	}
	for _, c := range []struct {
		field string
		n     int
	}{
		{"min_count", p.MinCount},
		{"max_count", p.MaxCount},
		{"keep_daily", p.KeepDaily},
		{"keep_weekly", p.KeepWeekly},
		{"keep_monthly", p.KeepMonthly},
	} {
		if c.n < 0 {
			add("%s: must not be negative (got %d)", c.field, c.n)
		}
	}
	if p.MaxCount > 0 && p.MinCount > p.MaxCount {
		add("min_count (%d) must not exceed max_count (%d)", p.MinCount, p.MaxCount)
	}
	if p.ExpireAfter <= 0 && p.MaxCount <= 0 && p.KeepDaily <= 0 && p.KeepWeekly <= 0 && p.KeepMonthly <= 0 {
		add("retention policy keeps everything; set expire_after, max_count or keep_*")
	}
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

// pinKey returns the effective pin metadata key.
// PinKeyOrDefault is the metadata key that pins a snapshot: PinKey, or
// DefaultPinKey when empty. Listings ask the engine for this key.
func (p Policy) PinKeyOrDefault() string {
	if p.PinKey == "" {
		return DefaultPinKey
	}
	return p.PinKey
}

// Age is a retention age as operators write it, "30d", "2w" or "720h"
// (ParseAge), in events, environment and JSON alike; Go durations stop at
// hours, and an age read as a bare number of nanoseconds would be a trap.
type Age time.Duration

// Duration is the age as a time.Duration.
func (a Age) Duration() time.Duration { return time.Duration(a) }

// String formats the age the way operators write it.
func (a Age) String() string { return FormatAge(time.Duration(a)) }

// UnmarshalText parses an age with ParseAge.
func (a *Age) UnmarshalText(b []byte) error {
	d, err := ParseAge(string(b))
	if err != nil {
		return err
	}
	*a = Age(d)
	return nil
}

// MarshalText writes the age as ParseAge reads it.
func (a Age) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Zone is a time zone named the IANA way ("Asia/Tokyo"); the zero Zone is
// UTC. It parses when the configuration is read, so a bad name is a
// configuration problem, not a failure at the first calendar decision.
type Zone struct{ *time.Location }

// Loc is the zone's location, UTC for the zero Zone.
func (z Zone) Loc() *time.Location {
	if z.Location == nil {
		return time.UTC
	}
	return z.Location
}

// IsZero reports an unset zone, so JSON output omits it.
func (z Zone) IsZero() bool { return z.Location == nil }

// UnmarshalText loads the named zone.
func (z *Zone) UnmarshalText(b []byte) error {
	loc, err := time.LoadLocation(string(b))
	if err != nil {
		return fmt.Errorf("%q is not an IANA time zone such as Asia/Tokyo", string(b))
	}
	z.Location = loc
	return nil
}

// MarshalText writes the zone's name.
func (z Zone) MarshalText() ([]byte, error) {
	if z.Location == nil {
		return nil, nil
	}
	return []byte(z.Location.String()), nil
}

const (
	day  = 24 * time.Hour
	week = 7 * day
)

// ParseAge reads an age such as "30d", "2w", "720h" or "1d12h", because
// retention ages are written in days and weeks but Go durations stop at
// hours. It accepts everything time.ParseDuration does (units ns, us, ms, s,
// m, h, fractions, sequences) plus d (24h) and w (7d). Negative ages are
// rejected: an age in the future would make every snapshot expired.
func ParseAge(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+")
	switch {
	case s == "":
		return 0, fmt.Errorf("empty age; use a value such as 30d, 2w or 720h")
	case s[0] == '-':
		return 0, fmt.Errorf("age %q is negative", orig)
	case s == "0":
		return 0, nil
	}
	isNumByte := func(c byte) bool { return '0' <= c && c <= '9' || c == '.' }
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && isNumByte(s[i]) {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid age %q: expected a number at %q", orig, s)
		}
		num := s[:i]
		j := i
		for j < len(s) && !isNumByte(s[j]) {
			j++
		}
		unit := s[i:j]
		s = s[j:]
		mult := time.Duration(1)
		goUnit := unit
		switch unit {
		case "d":
			goUnit, mult = "h", 24
		case "w":
			goUnit, mult = "h", 24*7
		case "ns", "us", "µs", "μs", "ms", "s", "m", "h":
		case "":
			return 0, fmt.Errorf("invalid age %q: missing unit after %s (use d, w, h, m, s, ms, us or ns)", orig, num)
		default:
			return 0, fmt.Errorf("invalid age %q: unknown unit %q (use d, w, h, m, s, ms, us or ns)", orig, unit)
		}
		part, err := time.ParseDuration(num + goUnit)
		if err != nil {
			return 0, fmt.Errorf("invalid age %q: bad number %q", orig, num)
		}
		if part > math.MaxInt64/mult {
			return 0, fmt.Errorf("invalid age %q: too large", orig)
		}
		part *= mult
		if total > math.MaxInt64-part {
			return 0, fmt.Errorf("invalid age %q: too large", orig)
		}
		total += part
	}
	return total, nil
}

// FormatAge writes an age the way operators write it ("30d", "2w", "12h",
// "90m"), falling back to Go's form ("1h30m15s"), so reasons and marshalled
// policies read like the configuration. ParseAge(FormatAge(d)) == d for
// d >= 0.
func FormatAge(d time.Duration) string {
	if d <= 0 {
		if d == 0 {
			return "0s"
		}
		return d.String()
	}
	for _, u := range []struct {
		size time.Duration
		name string
	}{{week, "w"}, {day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.size == 0 {
			return strconv.FormatInt(int64(d/u.size), 10) + u.name
		}
	}
	return d.String()
}
