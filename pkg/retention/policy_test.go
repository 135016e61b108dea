package retention

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// validPolicy is the smallest policy that passes Validate.
func validPolicy() Policy {
	return Policy{Prefix: "essnap-", PolicyID: "nightly", ExpireAfter: Age(30 * day)}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Policy)
		want   []string // substrings, one per expected problem, in order
	}{
		{name: "valid expire_after", mutate: func(*Policy) {}},
		{name: "valid max_count only", mutate: func(p *Policy) { p.ExpireAfter, p.MaxCount = 0, 10 }},
		{name: "valid keep_daily only", mutate: func(p *Policy) { p.ExpireAfter, p.KeepDaily = 0, 7 }},
		{name: "valid keep_weekly only", mutate: func(p *Policy) { p.ExpireAfter, p.KeepWeekly = 0, 4 }},
		{name: "valid keep_monthly only", mutate: func(p *Policy) { p.ExpireAfter, p.KeepMonthly = 0, 12 }},
		{name: "min_count equal to max_count", mutate: func(p *Policy) { p.MinCount, p.MaxCount = 5, 5 }},
		{name: "min_count without max_count", mutate: func(p *Policy) { p.MinCount = 50 }},
		{name: "empty policy_id", mutate: func(p *Policy) { p.PolicyID = "" }, want: []string{"policy_id: must not be empty"}},
		{name: "empty prefix", mutate: func(p *Policy) { p.Prefix = "" }, want: []string{"prefix: must not be empty"}},
		{name: "prefix with date math", mutate: func(p *Policy) { p.Prefix = "<nightly-{now/d}>" }, want: []string{`prefix: "<nightly-{now/d}>" contains '<'`}},
		{name: "prefix uppercase", mutate: func(p *Policy) { p.Prefix = "Nightly-" }, want: []string{"prefix: \"Nightly-\" has uppercase"}},
		{name: "prefix underscore", mutate: func(p *Policy) { p.Prefix = "_x" }, want: []string{"prefix: \"_x\" starts with '_'"}},
		{name: "prefix whitespace", mutate: func(p *Policy) { p.Prefix = "a b" }, want: []string{"prefix: \"a b\" contains whitespace"}},
		{name: "negative expire_after", mutate: func(p *Policy) { p.ExpireAfter = Age(-time.Hour); p.MaxCount = 1 }, want: []string{"expire_after: must not be negative"}},
		{name: "negative min_count", mutate: func(p *Policy) { p.MinCount = -1 }, want: []string{"min_count: must not be negative (got -1)"}},
		{name: "negative max_count", mutate: func(p *Policy) { p.MaxCount = -2 }, want: []string{"max_count: must not be negative (got -2)"}},
		{name: "negative keep_daily", mutate: func(p *Policy) { p.KeepDaily = -1 }, want: []string{"keep_daily: must not be negative"}},
		{name: "negative keep_weekly", mutate: func(p *Policy) { p.KeepWeekly = -1 }, want: []string{"keep_weekly: must not be negative"}},
		{name: "negative keep_monthly", mutate: func(p *Policy) { p.KeepMonthly = -1 }, want: []string{"keep_monthly: must not be negative"}},
		{name: "min_count above max_count", mutate: func(p *Policy) { p.MinCount, p.MaxCount = 6, 5 }, want: []string{"min_count (6) must not exceed max_count (5)"}},
		{
			name:   "nothing configured",
			mutate: func(p *Policy) { p.ExpireAfter = Age(0); p.MinCount = 3 },
			want:   []string{"retention policy keeps everything; set expire_after, max_count or keep_*"},
		},
		{
			name: "every problem at once",
			mutate: func(p *Policy) {
				*p = Policy{Prefix: "A*", ExpireAfter: Age(-1), MinCount: -1, MaxCount: -1, KeepDaily: -1, KeepWeekly: -1, KeepMonthly: -1}
			},
			want: []string{"policy_id", "prefix", "prefix", "expire_after", "min_count", "max_count", "keep_daily", "keep_weekly", "keep_monthly", "keeps everything"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPolicy()
			tc.mutate(&p)
			err := p.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != len(tc.want) {
				t.Fatalf("problems = %q, want %d", ve.Problems, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(ve.Problems[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, ve.Problems[i], w)
				}
			}
			if len(tc.want) > 1 && !strings.Contains(err.Error(), "(2) ") {
				t.Errorf("Error() = %q, want numbered problems on one line", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Error() spans lines: %q", err)
			}
		})
	}
}

func TestParseAge(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "30d", want: 30 * day},
		{in: "2w", want: 2 * week},
		{in: "720h", want: 720 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "1w2d3h4m5s", want: week + 2*day + 3*time.Hour + 4*time.Minute + 5*time.Second},
		{in: "1.5d", want: 36 * time.Hour},
		{in: "0.5w", want: 84 * time.Hour},
		{in: "90m", want: 90 * time.Minute},
		{in: "1500ms", want: 1500 * time.Millisecond},
		{in: "3us", want: 3 * time.Microsecond},
		{in: "3µs", want: 3 * time.Microsecond},
		{in: "7ns", want: 7},
		{in: "0", want: 0},
		{in: "0d", want: 0},
		{in: " 30d ", want: 30 * day},
		{in: "+1d", want: day},
		{in: "106751d", want: 106751 * day},
		{in: "", wantErr: "empty age"},
		{in: "-1d", wantErr: "negative"},
		{in: "30", wantErr: "missing unit"},
		{in: "30x", wantErr: `unknown unit "x"`},
		{in: "30D", wantErr: `unknown unit "D"`},
		{in: "1y", wantErr: `unknown unit "y"`},
		{in: "d", wantErr: "expected a number"},
		{in: "1..5d", wantErr: "bad number"},
		{in: "1d-2h", wantErr: `unknown unit "d-"`},
		{in: "106752d", wantErr: "too large"},
		{in: "15251w", wantErr: "too large"},
		{in: "106750d48h", wantErr: "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAge(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseAge(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseAge(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestFormatAge(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{week, "1w"},
		{14 * day, "2w"},
		{30 * day, "30d"},
		{36 * time.Hour, "36h"},
		{12 * time.Hour, "12h"},
		{90 * time.Minute, "90m"},
		{90 * time.Second, "90s"},
		{time.Hour + 30*time.Minute + 15*time.Second + time.Millisecond, "1h30m15.001s"},
		{math.MaxInt64, time.Duration(math.MaxInt64).String()},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got := FormatAge(tc.in)
			if got != tc.want {
				t.Fatalf("FormatAge(%v) = %q, want %q", tc.in, got, tc.want)
			}
			back, err := ParseAge(got)
			if err != nil || back != tc.in {
				t.Fatalf("ParseAge(FormatAge(%v)) = %v, %v", tc.in, back, err)
			}
		})
	}
}

// Policy is read from events, the environment and golden files by
// encoding/json alone: Age and Zone parse themselves (one parser each).
func TestPolicyJSON(t *testing.T) {
	tokyo := time.FixedZone("UTC+9", 9*3600)
	tests := []struct {
		name    string
		in      string
		want    Policy
		wantErr string
	}{
		{
			name: "all fields",
			in: `{"prefix":"essnap-","policy_id":"nightly","expire_after":"30d","min_count":3,"max_count":100,
				"keep_daily":7,"keep_weekly":4,"keep_monthly":12,"timezone":"UTC","pin_key":"keep_me"}`,
			want: Policy{Prefix: "essnap-", PolicyID: "nightly", ExpireAfter: Age(30 * day), MinCount: 3, MaxCount: 100,
				KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12, Timezone: Zone{time.UTC}, PinKey: "keep_me"},
		},
		{name: "expire_after in hours", in: `{"prefix":"p","policy_id":"i","expire_after":"720h"}`, want: Policy{Prefix: "p", PolicyID: "i", ExpireAfter: Age(720 * time.Hour)}},
		{name: "expire_after as number", in: `{"prefix":"p","policy_id":"i","expire_after":30}`, wantErr: "cannot unmarshal number"},
		{name: "expire_after bad unit", in: `{"prefix":"p","policy_id":"i","expire_after":"30 days"}`, wantErr: "invalid age"},
		{name: "bad time zone", in: `{"prefix":"p","policy_id":"i","timezone":"Mars/Olympus"}`, wantErr: "not an IANA time zone"},
		{name: "count as string", in: `{"prefix":"p","policy_id":"i","min_count":"3"}`, wantErr: "min_count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got Policy
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Timezone.Loc().String() != tc.want.Timezone.Loc().String() {
				t.Fatalf("location %v, want %v", got.Timezone, tc.want.Timezone)
			}
			got.Timezone, tc.want.Timezone = Zone{}, Zone{}
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}

	t.Run("round trip", func(t *testing.T) {
		p := Policy{Prefix: "essnap-", PolicyID: "hourly", ExpireAfter: Age(36 * time.Hour), MinCount: 1, MaxCount: 9,
			KeepDaily: 2, KeepWeekly: 3, KeepMonthly: 4, Timezone: Zone{tokyo}, PinKey: "pin"}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		const want = `{"prefix":"essnap-","policy_id":"hourly","expire_after":"36h","min_count":1,"max_count":9,"keep_daily":2,"keep_weekly":3,"keep_monthly":4,"timezone":"UTC+9","pin_key":"pin"}`
		if string(b) != want {
			t.Fatalf("got  %s\nwant %s", b, want)
		}
		p.Timezone = Zone{}
		b, _ = json.Marshal(p)
		var back Policy
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back != p {
			t.Fatalf("round trip: %+v", back)
		}
	})
}
