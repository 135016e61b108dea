package snapshot

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// assertErr checks that err is nil when no fragments are given, and
// otherwise that it is non-nil and contains every fragment.
func assertErr(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if len(fragments) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error; want one containing %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err, f)
		}
	}
}

func TestValidateName(t *testing.T) {
	type tc struct {
		name, in string
		want     []string // fragments of the error; none means valid
	}
	cases := []tc{
		{name: "plain", in: "nightly-2026.11.24"},
		{name: "single letter", in: "a"},
		{name: "underscore inside", in: "logs_2026"},
		{name: "dot and plus", in: "weekly.2026+1"},
		{name: "empty", in: "", want: []string{"snapshot is empty", "nightly-{now/d}"}},
		{name: "leading underscore", in: "_nightly", want: []string{`snapshot "_nightly"`, "must not start with '_'"}},
		{name: "uppercase", in: "Nightly", want: []string{`snapshot "Nightly"`, "must be lowercase"}},
		{name: "space", in: "night ly", want: []string{"must not contain whitespace"}},
		{name: "tab", in: "night\tly", want: []string{"must not contain whitespace"}},
		{name: "newline", in: "nightly\n", want: []string{"must not contain whitespace"}},
		{name: "several problems at once", in: "_Night ly", want: []string{"must not start with '_'", "must be lowercase", "must not contain whitespace"}},
	}
	for _, c := range `,#\/*?"<>|` {
		cases = append(cases, tc{
			name: fmt.Sprintf("char %c", c),
			in:   "a" + string(c) + "b",
			want: []string{fmt.Sprintf("snapshot %q", "a"+string(c)+"b"), fmt.Sprintf("must not contain %q", byte(c))},
		})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertErr(t, ValidateName("snapshot", c.in), c.want...)
		})
	}
	t.Run("error names the field", func(t *testing.T) {
		assertErr(t, ValidateName("event field name", "A"), "event field name")
		assertErr(t, ValidateName("event field name", ""), "event field name")
	})
}

func TestValidateRepositoryName(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
	}{
		{name: "default", in: "essnap"},
		{name: "cs without dash", in: "cs"},
		{name: "cs- inside", in: "my-cs-repo"},
		{name: "csv prefix", in: "csv-exports"},
		{name: "cs- prefix", in: "cs-x", want: []string{`repository "cs-x"`, `starts with "cs-"`, "AWS reserves"}},
		{name: "cs-automated", in: "cs-automated", want: []string{`starts with "cs-"`}},
		{name: "cs-automated-enc", in: "cs-automated-enc", want: []string{`starts with "cs-"`}},
		{name: "empty", in: "", want: []string{"repository is empty"}},
		{name: "uppercase", in: "Essnap", want: []string{`repository "Essnap"`, "must be lowercase"}},
		{name: "leading underscore", in: "_essnap", want: []string{"must not start with '_'"}},
		{name: "slash", in: "ess/nap", want: []string{"must not contain '/'"}},
		{name: "whitespace", in: "ess nap", want: []string{"whitespace"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertErr(t, ValidateRepositoryName("repository", c.in), c.want...)
		})
	}
}

func TestValidateIndexName(t *testing.T) {
	type tc struct {
		name, in string
		want     []string
	}
	cases := []tc{
		{name: "plain", in: "logs-2026.11.24"},
		{name: "restored", in: "logs-2026.11.24-restored"},
		{name: "system index", in: ".kibana_1"},
		{name: "dollar", in: "$logs"},
		{name: "255 bytes", in: strings.Repeat("a", 255)},
		{name: "empty", in: "", want: []string{"index name is empty"}},
		{name: "dot", in: ".", want: []string{`index name "."`, "must not be '.' or '..'"}},
		{name: "dotdot", in: "..", want: []string{"must not be '.' or '..'"}},
		{name: "leading underscore", in: "_logs", want: []string{`index name "_logs"`, "must not start with '-', '_' or '+'"}},
		{name: "leading dash", in: "-logs", want: []string{"must not start with '-', '_' or '+'"}},
		{name: "leading plus", in: "+logs", want: []string{"must not start with '-', '_' or '+'"}},
		{name: "uppercase", in: "Logs", want: []string{`index name "Logs"`, "must be lowercase"}},
		{name: "space", in: "lo gs", want: []string{"must not contain ' '"}},
		{name: "256 bytes", in: strings.Repeat("a", 256), want: []string{"at most 255 bytes"}},
		{name: "256 bytes multibyte", in: strings.Repeat("é", 128), want: []string{"at most 255 bytes"}},
		{name: "several problems", in: "_Lo gs", want: []string{"must not start", "must be lowercase", "must not contain ' '"}},
	}
	for _, c := range `,#\/*?"<>|:` {
		cases = append(cases, tc{
			name: fmt.Sprintf("char %c", c),
			in:   "a" + string(c) + "b",
			want: []string{"index name", fmt.Sprintf("must not contain %q", byte(c))},
		})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertErr(t, ValidateIndexName(c.in), c.want...)
		})
	}
}

// resolveNow is a Tuesday evening in UTC, which is already Wednesday in Tokyo.
var resolveNow = time.Date(2026, 11, 24, 20, 30, 45, 0, time.UTC)

func TestResolveName(t *testing.T) {
	cases := []struct {
		name string
		tmpl string
		now  time.Time
		want string
		err  []string
	}{
		{name: "date math in angle brackets", tmpl: "<nightly-{now/d}>", now: resolveNow, want: "nightly-2026.11.24"},
		{name: "date math without brackets", tmpl: "nightly-{now/d}", now: resolveNow, want: "nightly-2026.11.24"},
		{name: "bare now", tmpl: "{now}", now: resolveNow, want: "2026.11.24"},
		{name: "yesterday", tmpl: "{now-1d/d}", now: resolveNow, want: "2026.11.23"},
		{name: "yesterday across a month", tmpl: "d-{now-1d/d}", now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), want: "d-2026.11.30"},
		{name: "tomorrow across a year", tmpl: "d-{now+1d/d}", now: time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), want: "d-2027.01.01"},
		{name: "several offsets", tmpl: "x-{now+1d-2h{yyyy.MM.dd.HH}}", now: resolveNow, want: "x-2026.11.25.18"},
		{name: "hour offset with H", tmpl: "x-{now-3H{HH}}", now: resolveNow, want: "x-17"},
		{name: "month rounding with format", tmpl: "monthly-{now/M{yyyy.MM}}", now: resolveNow, want: "monthly-2026.11"},
		{name: "year rounding", tmpl: "yearly-{now/y{yyyy}}", now: resolveNow, want: "yearly-2026"},
		{name: "last month mid-month", tmpl: "m-{now-1M/M{yyyy.MM}}", now: resolveNow, want: "m-2026.10"},
		{name: "two-digit year", tmpl: "s-{now{yy.MM.dd}}", now: resolveNow, want: "s-26.11.24"},
		{name: "time of day", tmpl: "hourly-{now/h{yyyy.MM.dd-HH.mm.ss}}", now: resolveNow, want: "hourly-2026.11.24-20.00.00"},
		{name: "minute rounding", tmpl: "m-{now/m{HH.mm.ss}}", now: resolveNow, want: "m-20.30.00"},
		{name: "second rounding", tmpl: "s-{now/s{HH.mm.ss}}", now: resolveNow.Add(999 * time.Millisecond), want: "s-20.30.45"},
		{name: "format with literal separators", tmpl: "n-{now/d{yyyy-MM-dd}}", now: resolveNow, want: "n-2026-11-24"},
		{name: "two expressions", tmpl: "from-{now-7d/d}-to-{now/d}", now: resolveNow, want: "from-2026.11.17-to-2026.11.24"},
		{name: "now in another location is read as UTC", tmpl: "n-{now/d}", now: resolveNow.In(time.FixedZone("X", 9*3600)), want: "n-2026.11.24"},

		// Time zones: the offset or zone decides the day around midnight UTC.
		{name: "+09:00 before local midnight", tmpl: "n-{now/d{yyyy.MM.dd|+09:00}}", now: time.Date(2026, 11, 23, 14, 59, 59, 0, time.UTC), want: "n-2026.11.23"},
		{name: "+09:00 after local midnight", tmpl: "n-{now/d{yyyy.MM.dd|+09:00}}", now: time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC), want: "n-2026.11.24"},
		{name: "UTC at the same instant", tmpl: "n-{now/d}", now: time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC), want: "n-2026.11.23"},
		{name: "-05:00 just after midnight UTC", tmpl: "n-{now/d{yyyy.MM.dd|-05:00}}", now: time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC), want: "n-2026.11.23"},
		{name: "Asia/Tokyo", tmpl: "n-{now/d{yyyy.MM.dd|Asia/Tokyo}}", now: resolveNow, want: "n-2026.11.25"},
		{name: "Asia/Tokyo hour", tmpl: "n-{now{HH|Asia/Tokyo}}", now: resolveNow, want: "n-05"},
		{name: "UTC zone name", tmpl: "n-{now/d{yyyy.MM.dd|UTC}}", now: resolveNow, want: "n-2026.11.24"},
		{name: "empty format keeps the default", tmpl: "n-{now/d{|+09:00}}", now: resolveNow, want: "n-2026.11.25"},

		// Weeks round down to Monday (ISO), as the engine does.
		{name: "week from Tuesday", tmpl: "weekly-{now/w}", now: resolveNow, want: "weekly-2026.11.23"},
		{name: "week from Monday", tmpl: "weekly-{now/w}", now: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), want: "weekly-2026.11.23"},
		{name: "week from Sunday", tmpl: "weekly-{now/w}", now: time.Date(2026, 11, 29, 23, 59, 59, 0, time.UTC), want: "weekly-2026.11.23"},
		{name: "week across a month", tmpl: "weekly-{now/w}", now: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC), want: "weekly-2026.11.30"},
		{name: "last week", tmpl: "weekly-{now-1w/w}", now: resolveNow, want: "weekly-2026.11.16"},
		{name: "week in Tokyo on Sunday evening UTC", tmpl: "weekly-{now/w{yyyy.MM.dd|Asia/Tokyo}}", now: time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC), want: "weekly-2026.11.30"},

		// Static names pass through, validated.
		{name: "static", tmpl: "before-upgrade", now: resolveNow, want: "before-upgrade"},
		{name: "static in brackets", tmpl: "<before-upgrade>", now: resolveNow, want: "before-upgrade"},

		// Errors name the field and the template.
		{name: "unclosed brace", tmpl: "nightly-{now/d", now: resolveNow, err: []string{"snapshot", `"nightly-{now/d"`, "unclosed '{'"}},
		{name: "unclosed format brace", tmpl: "nightly-{now/d{yyyy}", now: resolveNow, err: []string{"unclosed '{'"}},
		{name: "unmatched closing brace", tmpl: "nightly-now/d}", now: resolveNow, err: []string{"snapshot", "unmatched '}'"}},
		{name: "unknown unit", tmpl: "nightly-{now-1x/d}", now: resolveNow, err: []string{"snapshot", "date math {now-1x/d}", "{now/d}"}},
		{name: "unknown rounding unit", tmpl: "nightly-{now/q}", now: resolveNow, err: []string{"date math {now/q}"}},
		{name: "not now", tmpl: "nightly-{today}", now: resolveNow, err: []string{"date math {today}"}},
		{name: "empty expression", tmpl: "nightly-{}", now: resolveNow, err: []string{"date math {}"}},
		{name: "unsupported format letter", tmpl: "nightly-{now/d{yyyy.MM.dd.EEE}}", now: resolveNow, err: []string{"snapshot", "letter 'E' is not supported", "yyyy, yy, MM, dd, HH, mm, ss"}},
		{name: "lowercase hour letter", tmpl: "nightly-{now{hh}}", now: resolveNow, err: []string{"letter 'h' is not supported"}},
		{name: "unknown time zone", tmpl: "nightly-{now/d{yyyy.MM.dd|Mars/Olympus}}", now: resolveNow, err: []string{`time zone "Mars/Olympus" is unknown`}},
		{name: "uppercase static part", tmpl: "Nightly-{now/d}", now: resolveNow, err: []string{`snapshot "Nightly-2026.11.24"`, "must be lowercase", `(template "Nightly-{now/d}")`}},
		{name: "result with a forbidden character", tmpl: "nightly {now/d}", now: resolveNow, err: []string{"whitespace", `template "nightly {now/d}"`}},
		{name: "result with a comma from the format", tmpl: "n-{now/d{yyyy,MM}}", now: resolveNow, err: []string{"must not contain ','"}},
		{name: "empty result", tmpl: "<>", now: resolveNow, err: []string{"snapshot is empty"}},
		{name: "leading underscore", tmpl: "_n-{now/d}", now: resolveNow, err: []string{"must not start with '_'"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ResolveName("snapshot", c.tmpl, c.now)
			assertErr(t, err, c.err...)
			if err == nil && got != c.want {
				t.Errorf("ResolveName(%q, %s) = %q, want %q", c.tmpl, c.now.Format(time.RFC3339), got, c.want)
			}
		})
	}
}

func TestResolveNameNamesTheField(t *testing.T) {
	_, err := ResolveName("ESSNAP_SNAPSHOT_NAME", "x-{now/q}", resolveNow)
	assertErr(t, err, "ESSNAP_SNAPSHOT_NAME")
	_, err = ResolveName("ESSNAP_SNAPSHOT_NAME", "X", resolveNow)
	assertErr(t, err, "ESSNAP_SNAPSHOT_NAME")
}

// TestResolveNameGolden maps templates to names at resolveNow, so a change in
// naming (which decides whether reruns find their snapshot) shows in review.
func TestResolveNameGolden(t *testing.T) {
	templates := []string{
		"<nightly-{now/d}>",
		"nightly-{now/d}",
		"nightly-{now-1d/d}",
		"{now/d}",
		"<logs-{now/d}-snap>",
		"hourly-{now/h{yyyy.MM.dd.HH}}",
		"weekly-{now/w}",
		"weekly-{now-1w/w}",
		"monthly-{now/M{yyyy.MM}}",
		"yearly-{now/y{yyyy}}",
		"tokyo-{now/d{yyyy.MM.dd|Asia/Tokyo}}",
		"tokyo-{now/d{yyyy.MM.dd|+09:00}}",
		"ny-{now/d{yyyy.MM.dd|America/New_York}}",
		"stamp-{now{yyyyMMdd-HHmmss}}",
		"before-upgrade",
		"Nightly-{now/d}",
		"nightly-{now/d",
		"nightly-{now/fortnight}",
		"nightly-{now/d{EEE}}",
	}
	type row struct {
		Template string `json:"template"`
		Name     string `json:"name,omitempty"`
		Error    string `json:"error,omitempty"`
	}
	rows := []row{}
	for _, tmpl := range templates {
		r := row{Template: tmpl}
		name, err := ResolveName("snapshot", tmpl, resolveNow)
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Name = name
		}
		rows = append(rows, r)
	}
	checkGolden(t, "resolve_name.golden.json", map[string]any{
		"now":   resolveNow.Format(time.RFC3339),
		"names": rows,
	})
}
