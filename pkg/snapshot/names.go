package snapshot

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/essnap/essnap/pkg/config"
)

// MaxNameBytes is the longest snapshot, repository or index name essnap
// accepts: the engines' own limit for index names (255 bytes), applied to
// snapshot and repository names too, which become file and S3 key names.
const MaxNameBytes = 255

// MaxLocationBytes bounds an fs location or an S3 base_path: far beyond
// any real path (Linux PATH_MAX is 4096), so a runaway value is refused
// before it reaches the engine or a log line.
const MaxLocationBytes = 4096

// controlChar finds the first control character that is not whitespace
// (NUL, DEL, ESC ...): such names cannot be typed back, print oddly in
// logs, and in a URL path are signed differently than AWS normalises them.
func controlChar(s string) (int, rune, bool) {
	i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) })
	if i < 0 {
		return 0, 0, false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return i, r, true
}

// ValidateName applies the engine's snapshot-name rules locally, so a bad
// name fails before anything is sent and the error says how to fix it.
// It also refuses what the engines accept but cannot serve safely: "." and
// ".." (as a URL path segment they name another endpoint, and SigV4 signs
// a path that AWS normalises differently), control characters, and names
// over MaxNameBytes. Messages quote at most a short prefix of the name.
func ValidateName(field, name string) error {
	var probs []string
	switch {
	case name == "":
		return fmt.Errorf("%s is empty; give a name such as nightly-{now/d}", field)
	case name == "." || name == "..":
		probs = append(probs, "must not be '.' or '..' (in a URL path they mean another endpoint)")
	case strings.HasPrefix(name, "_"):
		probs = append(probs, "must not start with '_'")
	}
	if name != strings.ToLower(name) {
		probs = append(probs, "must be lowercase")
	}
	if strings.IndexFunc(name, unicode.IsSpace) >= 0 {
		probs = append(probs, "must not contain whitespace")
	}
	if i, r, ok := controlChar(name); ok {
		probs = append(probs, fmt.Sprintf("must not contain control characters (%U at byte %d)", r, i))
	}
	if i := strings.IndexAny(name, `,#\/*?"<>|`); i >= 0 {
		probs = append(probs, fmt.Sprintf("must not contain %q (none of , # \\ / * ? \" < > |)", name[i]))
	}
	if len(name) > MaxNameBytes {
		probs = append(probs, fmt.Sprintf("is %d bytes; at most %d are allowed", len(name), MaxNameBytes))
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s %q %s", field, config.Short(name), strings.Join(probs, "; "))
	}
	return nil
}

// ValidateRepositoryName rejects names the engine or AWS refuse; AWS reserves
// the cs- prefix for its automated snapshots.
func ValidateRepositoryName(field, name string) error {
	if err := ValidateName(field, name); err != nil {
		return err
	}
	if strings.HasPrefix(name, "cs-") {
		return fmt.Errorf("%s %q starts with \"cs-\", which AWS reserves for its automated snapshot repositories; choose another name, e.g. essnap", field, name)
	}
	return nil
}

// ValidateIndexPattern checks one entry of an indices list (a name, a
// wildcard pattern, or an exclusion -pattern) before anything is sent:
// not empty, one pattern per entry (the list is joined with commas for
// the engine), no control characters, and no longer than an index name.
func ValidateIndexPattern(field, pattern string) error {
	p := strings.TrimSpace(pattern)
	switch {
	case p == "":
		return fmt.Errorf("%s is empty; remove it or give a pattern such as logs-*", field)
	case len(strings.TrimPrefix(p, "-")) > MaxNameBytes:
		return fmt.Errorf("%s %q is %d bytes; an index name or pattern has at most %d", field, config.Short(p), len(p), MaxNameBytes)
	case strings.Contains(p, ","):
		return fmt.Errorf("%s %q holds ','; give each pattern as its own list entry, e.g. [\"logs-*\", \"metrics-*\"]", field, config.Short(p))
	}
	if i, r, ok := controlChar(p); ok {
		return fmt.Errorf("%s %q must not contain control characters (%U at byte %d)", field, config.Short(p), r, i)
	}
	return nil
}

var dateMathExpr = regexp.MustCompile(`^now((?:[+-]\d+[yMwdhHms])*)(?:/([yMwdhHms]))?(?:\{([^}|]*)(?:\|([^}]*))?\})?$`)

// ResolveName turns a name template into a concrete snapshot name at now.
// It accepts the engine's date-math form (<nightly-{now/d}>) and the same
// without angle brackets (nightly-{now/d}), so the name is known before the
// request: reruns find the snapshot they already took. Supported: now,
// offsets (+1d, -1h, units y M w d h H m s), rounding (/d), a format in
// Java style (yyyy MM dd HH mm ss, default yyyy.MM.dd) and a time zone
// ({now/d{yyyy.MM.dd|Asia/Tokyo}}). The result is validated.
func ResolveName(field, tmpl string, now time.Time) (string, error) {
	s := tmpl
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
		s = s[1 : len(s)-1]
	}
	var out strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			if strings.ContainsAny(s, "}") {
				return "", fmt.Errorf("%s %q has an unmatched '}'", field, tmpl)
			}
			out.WriteString(s)
			break
		}
		out.WriteString(s[:i])
		end, err := closingBrace(s, i)
		if err != nil {
			return "", fmt.Errorf("%s %q: %w", field, tmpl, err)
		}
		v, err := evalDateMath(s[i+1:end], now)
		if err != nil {
			return "", fmt.Errorf("%s %q: %w", field, tmpl, err)
		}
		out.WriteString(v)
		s = s[end+1:]
	}
	name := out.String()
	if err := ValidateName(field, name); err != nil {
		return "", fmt.Errorf("%w (template %q)", err, config.Short(tmpl))
	}
	return name, nil
}

func closingBrace(s string, open int) (int, error) {
	depth := 0
	for j := open; j < len(s); j++ {
		switch s[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return j, nil
			}
		}
	}
	return 0, errors.New("unclosed '{'")
}

func evalDateMath(expr string, now time.Time) (string, error) {
	m := dateMathExpr.FindStringSubmatch(expr)
	if m == nil {
		return "", fmt.Errorf("date math {%s} is not of the form {now[+-N unit][/unit][{format|timezone}]}, e.g. {now/d} or {now-1d/d{yyyy.MM.dd|UTC}}", expr)
	}
	loc := time.UTC
	if m[4] != "" {
		l, err := parseZone(m[4])
		if err != nil {
			return "", err
		}
		loc = l
	}
	t := now.In(loc)
	for _, off := range regexp.MustCompile(`[+-]\d+[yMwdhHms]`).FindAllString(m[1], -1) {
		n, _ := strconv.Atoi(off[1 : len(off)-1])
		if off[0] == '-' {
			n = -n
		}
		t = addUnit(t, off[len(off)-1], n)
	}
	if m[2] != "" {
		t = roundDown(t, m[2][0])
	}
	format := m[3]
	if format == "" {
		format = "yyyy.MM.dd"
	}
	return formatJava(t, format)
}

func parseZone(z string) (*time.Location, error) {
	if t, err := time.Parse("-07:00", z); err == nil {
		_, off := t.Zone()
		return time.FixedZone(z, off), nil
	}
	l, err := time.LoadLocation(z)
	if err != nil {
		return nil, fmt.Errorf("time zone %q is unknown; use an IANA name (Asia/Tokyo) or an offset (+09:00)", z)
	}
	return l, nil
}

func addUnit(t time.Time, unit byte, n int) time.Time {
	switch unit {
	case 'y':
		return addMonths(t, 12*n)
	case 'M':
		return addMonths(t, n)
	case 'w':
		return t.AddDate(0, 0, 7*n)
	case 'd':
		return t.AddDate(0, 0, n)
	case 'h', 'H':
		return t.Add(time.Duration(n) * time.Hour)
	case 'm':
		return t.Add(time.Duration(n) * time.Minute)
	default: // 's'
		return t.Add(time.Duration(n) * time.Second)
	}
}

// addMonths moves by whole months and, like Java's plusMonths (which the
// engine uses), stops at the last day of a shorter month instead of rolling
// over: 2026-03-31 minus one month is 2026-02-28, not 2026-03-03.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	if d > last {
		d = last
	}
	return first.AddDate(0, 0, d-1)
}

func roundDown(t time.Time, unit byte) time.Time {
	y, mo, d := t.Date()
	loc := t.Location()
	switch unit {
	case 'y':
		return time.Date(y, 1, 1, 0, 0, 0, 0, loc)
	case 'M':
		return time.Date(y, mo, 1, 0, 0, 0, 0, loc)
	case 'w': // ISO weeks start on Monday, as in the engine
		wd := (int(t.Weekday()) + 6) % 7
		return time.Date(y, mo, d-wd, 0, 0, 0, 0, loc)
	case 'd':
		return time.Date(y, mo, d, 0, 0, 0, 0, loc)
	case 'h', 'H':
		return time.Date(y, mo, d, t.Hour(), 0, 0, 0, loc)
	case 'm':
		return time.Date(y, mo, d, t.Hour(), t.Minute(), 0, 0, loc)
	default:
		return time.Date(y, mo, d, t.Hour(), t.Minute(), t.Second(), 0, loc)
	}
}

// javaTokens maps the Java DateTimeFormatter letters essnap supports.
var javaTokens = []struct{ tok, layout string }{
	{"yyyy", "2006"}, {"yy", "06"}, {"MM", "01"}, {"dd", "02"},
	{"HH", "15"}, {"mm", "04"}, {"ss", "05"},
}

func formatJava(t time.Time, f string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); {
		matched := false
		for _, tk := range javaTokens {
			if strings.HasPrefix(f[i:], tk.tok) {
				b.WriteString(t.Format(tk.layout))
				i += len(tk.tok)
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		c := f[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			return "", fmt.Errorf("date format %q: letter %q is not supported; use yyyy, yy, MM, dd, HH, mm, ss", f, c)
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), nil
}
