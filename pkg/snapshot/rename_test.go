package snapshot

import (
	"fmt"
	"strings"
	"testing"
)

// fixHint is the working alternative every rename error must offer.
var fixHint = []string{`"(.+)"`, `"$1-restored"`}

func TestRenameEnabled(t *testing.T) {
	cases := []struct {
		name string
		r    Rename
		want bool
	}{
		{name: "zero", r: Rename{}, want: false},
		{name: "pattern", r: Rename{Pattern: "x"}, want: true},
		{name: "replacement", r: Rename{Replacement: "x"}, want: true},
		{name: "prefix", r: Rename{Prefix: "x"}, want: true},
		{name: "suffix", r: Rename{Suffix: "x"}, want: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.r.Enabled(); got != c.want {
				t.Fatalf("Enabled() = %v, want %v", got, c.want)
			}
		})
	}
}

func TestRenameDisabledKeepsNames(t *testing.T) {
	rn, err := Rename{}.Compile()
	if err != nil || rn != nil {
		t.Fatalf("Compile() = %v, %v; want nil, nil", rn, err)
	}
	if got := rn.Apply("logs-2026.11.24"); got != "logs-2026.11.24" {
		t.Fatalf("nil Renamer renamed to %q", got)
	}
}

func TestRenameCompileAndApply(t *testing.T) {
	cases := []struct {
		name string
		r    Rename
		// apply maps index names to their expected targets.
		apply map[string]string
		// pattern/replacement are the engine fields, checked when set.
		pattern, replacement string
	}{
		{
			name:    "suffix",
			r:       Rename{Suffix: "-restored"},
			apply:   map[string]string{"logs-2026.11.24": "logs-2026.11.24-restored", "a": "a-restored"},
			pattern: "(.+)", replacement: "$1-restored",
		},
		{
			name:    "prefix",
			r:       Rename{Prefix: "restored-"},
			apply:   map[string]string{"logs-2026.11.24": "restored-logs-2026.11.24"},
			pattern: "(.+)", replacement: "restored-$1",
		},
		{
			name:  "prefix and suffix",
			r:     Rename{Prefix: "old-", Suffix: "-copy"},
			apply: map[string]string{"logs": "old-logs-copy"},
		},
		{
			name:    "suffix starting with a digit",
			r:       Rename{Suffix: "2"},
			apply:   map[string]string{"logs": "logs2", "logs-2026.11.24": "logs-2026.11.242"},
			pattern: "(.+)",
		},
		{
			name:  "suffix of digits only",
			r:     Rename{Suffix: "2026"},
			apply: map[string]string{"logs-": "logs-2026"},
		},
		{
			name:  "suffix starting with a digit after a prefix",
			r:     Rename{Prefix: "p", Suffix: "1$"},
			apply: map[string]string{"logs": "plogs1$"},
		},
		{
			name:    "dollar and backslash in prefix and suffix are literal",
			r:       Rename{Prefix: "$1", Suffix: `\$0`},
			apply:   map[string]string{"logs": `$1logs\$0`},
			pattern: "(.+)", replacement: `\$1$1\\\$0`,
		},
		{
			name:    "working pattern from the field notes",
			r:       Rename{Pattern: "(.+)", Replacement: "$1-restored"},
			apply:   map[string]string{"logs-2026.11.23": "logs-2026.11.23-restored"},
			pattern: "(.+)", replacement: "$1-restored",
		},
		{
			name:  "whole match $0",
			r:     Rename{Pattern: "logs", Replacement: "r_$0"},
			apply: map[string]string{"logs": "r_logs", "logs-a": "r_logs-a", "metrics": "metrics"},
		},
		{
			name:  "$12 with one group is group 1 then 2 (Java)",
			r:     Rename{Pattern: "(.+)", Replacement: "$12"},
			apply: map[string]string{"logs": "logs2"},
		},
		{
			name:  "$12 with twelve groups is group 12",
			r:     Rename{Pattern: "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)", Replacement: "$12-$1-$10"},
			apply: map[string]string{"abcdefghijkl": "l-a-j"},
		},
		{
			name:  "$123 with twelve groups is group 12 then 3",
			r:     Rename{Pattern: "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)", Replacement: "$123"},
			apply: map[string]string{"abcdefghijkl": "l3"},
		},
		{
			name:  "named groups",
			r:     Rename{Pattern: `(?<base>.+)-(?<date>\d{4}\.\d{2}\.\d{2})`, Replacement: "${base}-restored-${date}"},
			apply: map[string]string{"logs-2026.11.24": "logs-restored-2026.11.24", "logs": "logs"},
		},
		{
			name:  "named groups, Go spelling",
			r:     Rename{Pattern: `(?P<base>[a-z]+)`, Replacement: "x${base}"},
			apply: map[string]string{"logs-1": "xlogs-1"},
		},
		{
			name:  "escaped dollar is literal",
			r:     Rename{Pattern: "(.+)", Replacement: `$1\$x`},
			apply: map[string]string{"logs": "logs$x"},
		},
		{
			name:  "escaped backslash and letter",
			r:     Rename{Pattern: "(.+)", Replacement: `\r$1\\`},
			apply: map[string]string{"logs": `rlogs\`},
		},
		{
			name:  "every match is replaced",
			r:     Rename{Pattern: "-", Replacement: "_"},
			apply: map[string]string{"logs-2026-11-24": "logs_2026_11_24", "logs": "logs"},
		},
		{
			name:  "every match with groups",
			r:     Rename{Pattern: `(\d+)`, Replacement: "<$1>"},
			apply: map[string]string{"a1b22c333": "a<1>b<22>c<333>"},
		},
		{
			name:  "pattern that matches nothing keeps the name",
			r:     Rename{Pattern: "^metrics-(.+)$", Replacement: "m-$1"},
			apply: map[string]string{"logs-1": "logs-1", "metrics-1": "m-1"},
		},
		{
			name:  "optional group that did not take part is empty",
			r:     Rename{Pattern: `(logs)(-old)?`, Replacement: "$1$2-new"},
			apply: map[string]string{"logs": "logs-new", "logs-old": "logs-old-new"},
		},
		{
			name:  "anchored replacement of a part",
			r:     Rename{Pattern: `^logs-`, Replacement: "archive-logs-"},
			apply: map[string]string{"logs-logs-1": "archive-logs-logs-1"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rn, err := c.r.Compile()
			if err != nil {
				t.Fatalf("Compile(%+v): %v", c.r, err)
			}
			if rn == nil {
				t.Fatalf("Compile(%+v) returned a nil Renamer", c.r)
			}
			for in, want := range c.apply {
				if got := rn.Apply(in); got != want {
					t.Errorf("Apply(%q) = %q, want %q", in, got, want)
				}
			}
			p, r := rn.EngineFields()
			if c.pattern != "" && p != c.pattern {
				t.Errorf("engine rename_pattern = %q, want %q", p, c.pattern)
			}
			if c.replacement != "" && r != c.replacement {
				t.Errorf("engine rename_replacement = %q, want %q", r, c.replacement)
			}
			if c.r.Pattern != "" && (p != c.r.Pattern || r != c.r.Replacement) {
				t.Errorf("engine fields %q/%q differ from the given %q/%q", p, r, c.r.Pattern, c.r.Replacement)
			}
		})
	}
}

// TestRenamePrefixSuffixEngineFieldsRoundTrip compiles the fields essnap
// sends for a prefix/suffix as a pattern/replacement again: the engine must
// produce the same names essnap planned.
func TestRenamePrefixSuffixEngineFieldsRoundTrip(t *testing.T) {
	cases := []struct{ name, prefix, suffix string }{
		{"suffix", "", "-restored"},
		{"digit suffix", "", "7-restored"},
		{"dollar prefix", "$", ""},
		{"backslash suffix", "", `\`},
		{"dollar digit", "$1", "$2"},
		{"braces", "${x}", "{0}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rn, err := Rename{Prefix: c.prefix, Suffix: c.suffix}.Compile()
			if err != nil {
				t.Fatal(err)
			}
			p, r := rn.EngineFields()
			again, err := Rename{Pattern: p, Replacement: r}.Compile()
			if err != nil {
				t.Fatalf("engine fields %q/%q do not compile: %v", p, r, err)
			}
			for _, in := range []string{"logs", "logs-2026.11.24", ".kibana_1"} {
				want := c.prefix + in + c.suffix
				if got := rn.Apply(in); got != want {
					t.Errorf("Apply(%q) = %q, want %q", in, got, want)
				}
				if got := again.Apply(in); got != want {
					t.Errorf("engine fields %q/%q give %q for %q, want %q", p, r, got, in, want)
				}
			}
		})
	}
}

func TestRenameCompileErrors(t *testing.T) {
	cases := []struct {
		name string
		r    Rename
		want []string
	}{
		{name: "star", r: Rename{Pattern: "*", Replacement: "$1-restored"}, want: append([]string{`rename_pattern "*"`, "Dangling meta character '*'"}, fixHint...)},
		{name: "plus", r: Rename{Pattern: "+", Replacement: "x"}, want: []string{"Dangling meta character '+'"}},
		{name: "question mark", r: Rename{Pattern: "?x", Replacement: "x"}, want: []string{"Dangling meta character '?'"}},
		{name: "star with suffix text", r: Rename{Pattern: "*-logs", Replacement: "x"}, want: []string{"Dangling meta character '*'"}},
		{name: "dot star matches empty", r: Rename{Pattern: ".*", Replacement: "r_$0"}, want: append([]string{`rename_pattern ".*"`, "matches the empty string", "r_logsr_"}, fixHint...)},
		{name: "group dot star matches empty", r: Rename{Pattern: "(.*)", Replacement: "$1-restored"}, want: append([]string{`rename_pattern "(.*)"`, "matches the empty string"}, fixHint...)},
		{name: "optional matches empty", r: Rename{Pattern: "(logs)?", Replacement: "x"}, want: []string{"matches the empty string"}},
		{name: "anchor matches empty", r: Rename{Pattern: "^", Replacement: "x"}, want: []string{"matches the empty string"}},
		{name: "pattern without replacement", r: Rename{Pattern: "(.+)"}, want: append([]string{"rename_replacement is empty", "only when both are set"}, fixHint...)},
		{name: "replacement without pattern", r: Rename{Replacement: "$1-restored"}, want: append([]string{"rename_pattern is empty", "only when both are set"}, fixHint...)},
		{name: "prefix with pattern", r: Rename{Prefix: "r-", Pattern: "(.+)", Replacement: "$1"}, want: []string{"cannot be combined"}},
		{name: "suffix with replacement", r: Rename{Suffix: "-r", Replacement: "$1"}, want: []string{"cannot be combined"}},
		{name: "suffix with pattern", r: Rename{Suffix: "-r", Pattern: "(.+)"}, want: []string{"cannot be combined"}},
		{name: "$2 with one group", r: Rename{Pattern: "(.+)", Replacement: "$2"}, want: append([]string{`rename_replacement "$2"`, "no group 2", "it has 1"}, fixHint...)},
		{name: "$1 without groups", r: Rename{Pattern: "logs", Replacement: "$1-x"}, want: []string{"no group 1", "it has 0"}},
		{name: "unknown named group", r: Rename{Pattern: "(?<base>.+)", Replacement: "${nope}"}, want: []string{"no group with name {nope}"}},
		{name: "named group without closing brace", r: Rename{Pattern: "(?<base>.+)", Replacement: "${base"}, want: []string{"missing trailing '}'"}},
		{name: "empty group name", r: Rename{Pattern: "(.+)", Replacement: "${}"}, want: []string{"no group with name {}"}},
		{name: "trailing backslash", r: Rename{Pattern: "(.+)", Replacement: `$1\`}, want: []string{"trailing backslash"}},
		{name: "dollar at the end", r: Rename{Pattern: "(.+)", Replacement: "$1$"}, want: []string{"'$' at the end"}},
		{name: "dollar before a letter", r: Rename{Pattern: "(.+)", Replacement: "$x"}, want: []string{`illegal group reference "$x"`, `\$`}},
		{name: "does not compile", r: Rename{Pattern: "(logs", Replacement: "x"}, want: append([]string{`rename_pattern "(logs"`, "does not compile"}, fixHint...)},
		{name: "look-ahead is not RE2", r: Rename{Pattern: "logs(?=-)", Replacement: "x"}, want: []string{"does not compile", "RE2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rn, err := c.r.Compile()
			if rn != nil {
				t.Errorf("Compile returned a Renamer with the error")
			}
			assertErr(t, err, c.want...)
		})
	}
}

// TestRenameGolden records index -> target for several renames over the
// index names operators restore, so any change in renaming shows in review.
func TestRenameGolden(t *testing.T) {
	indices := []string{
		"logs-2026.11.23",
		"logs-2026.11.24",
		"logs-2026-11-24",
		"metrics-app1-2026.11",
		"app",
		".kibana_1",
		".opendistro-job-scheduler-lock",
		"a1b2",
	}
	renames := []struct {
		Label string `json:"label"`
		Rename
	}{
		{Label: "suffix -restored", Rename: Rename{Suffix: "-restored"}},
		{Label: "prefix restored-", Rename: Rename{Prefix: "restored-"}},
		{Label: "digit suffix", Rename: Rename{Suffix: "2"}},
		{Label: "literal dollar prefix", Rename: Rename{Prefix: "$1-"}},
		{Label: "pattern (.+)", Rename: Rename{Pattern: "(.+)", Replacement: "$1-restored"}},
		{Label: "dashes to underscores", Rename: Rename{Pattern: "-", Replacement: "_"}},
		{Label: "logs only", Rename: Rename{Pattern: "^logs-(.+)$", Replacement: "archive-$1"}},
		{Label: "named groups", Rename: Rename{Pattern: `(?<base>[a-z]+)-(?<rest>.+)`, Replacement: "${rest}-${base}"}},
		{Label: "java $12", Rename: Rename{Pattern: "(.+)", Replacement: "$12"}},
		{Label: "digits bracketed", Rename: Rename{Pattern: `(\d)`, Replacement: "[$1]"}},
	}
	type entry struct {
		Label       string            `json:"label"`
		Pattern     string            `json:"rename_pattern"`
		Replacement string            `json:"rename_replacement"`
		Targets     map[string]string `json:"targets"`
	}
	out := []entry{}
	for _, r := range renames {
		rn, err := r.Compile()
		if err != nil {
			t.Fatalf("%s: %v", r.Label, err)
		}
		p, repl := rn.EngineFields()
		e := entry{Label: r.Label, Pattern: p, Replacement: repl, Targets: map[string]string{}}
		for _, ix := range indices {
			e.Targets[ix] = rn.Apply(ix)
		}
		out = append(out, e)
	}
	checkGolden(t, "rename.golden.json", out)
}

func TestRenameErrorsNameTheField(t *testing.T) {
	for i, r := range []Rename{
		{Pattern: "*", Replacement: "x"},
		{Pattern: ".*", Replacement: "x"},
		{Pattern: "(", Replacement: "x"},
		{Pattern: "(.+)", Replacement: "$9"},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, err := r.Compile()
			if err == nil || !strings.Contains(err.Error(), "rename_") {
				t.Fatalf("error %v does not name rename_pattern or rename_replacement", err)
			}
		})
	}
}
