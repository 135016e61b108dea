package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type age time.Duration

func (a *age) UnmarshalText(b []byte) error {
	d, err := time.ParseDuration(string(b))
	*a = age(d)
	return err
}

type inner struct {
	Endpoint string `json:"endpoint" env:"ENDPOINT"`
	Unsigned bool   `json:"unsigned" env:"UNSIGNED"`
}

type embedded struct {
	Region string `json:"region" env:"REGION"`
}

type sample struct {
	embedded
	Name    string         `json:"name" env:"NAME"`
	Count   int            `json:"count" env:"COUNT"`
	Ratio   float64        `json:"ratio" env:"RATIO"`
	List    []string       `json:"list" env:"LIST"`
	Meta    map[string]any `json:"meta"`
	Age     age            `json:"age" env:"AGE"`
	Target  inner          `json:"target" envprefix:"TARGET_"`
	private string
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	cases := []struct {
		name  string
		env   map[string]string
		event string
		check func(t *testing.T, s sample, l Loaded)
		want  []string // problem fragments, in any problem
	}{
		{name: "defaults kept for {}", event: `{}`, check: func(t *testing.T, s sample, l Loaded) {
			if s.Name != "default" || len(l.Set) != 0 {
				t.Fatalf("%+v %v", s, l.Set)
			}
		}},
		{name: "empty and null events are {}", event: ` null `, check: func(t *testing.T, s sample, _ Loaded) {
			if s.Name != "default" {
				t.Fatal(s.Name)
			}
		}},
		{name: "environment then event", env: map[string]string{"ESSNAP_NAME": "env", "ESSNAP_COUNT": "3", "ESSNAP_LIST": "a, b,,c", "ESSNAP_REGION": "eu-west-1", "ESSNAP_TARGET_ENDPOINT": "http://t", "ESSNAP_AGE": "2h", "ESSNAP_RATIO": "0.5"},
			event: `{"name":"event","target":{"unsigned":true}}`,
			check: func(t *testing.T, s sample, l Loaded) {
				if s.Name != "event" || s.Count != 3 || strings.Join(s.List, "|") != "a|b|c" || s.Region != "eu-west-1" || s.Target.Endpoint != "http://t" || !s.Target.Unsigned || s.Age != age(2*time.Hour) || s.Ratio != 0.5 {
					t.Fatalf("%+v", s)
				}
				if !l.Event["name"] || l.Event["count"] || !l.Set["count"] || !l.Event["target.unsigned"] {
					t.Fatalf("set %v event %v", l.Set, l.Event)
				}
			}},
		{name: "lists and maps are replaced, not merged", event: `{"list":["x"],"meta":{"b":2}}`, check: func(t *testing.T, s sample, _ Loaded) {
			if len(s.List) != 1 || len(s.Meta) != 1 || s.Meta["b"] != float64(2) {
				t.Fatalf("%+v", s)
			}
		}},
		{name: "every environment problem at once", env: map[string]string{"ESSNAP_COUNT": "many", "ESSNAP_TARGET_UNSIGNED": "yes", "ESSNAP_AGE": "soon", "ESSNAP_RATIO": "half"},
			want: []string{`ESSNAP_COUNT="many" is not a whole number`, `ESSNAP_TARGET_UNSIGNED="yes" is not a boolean`, `ESSNAP_AGE="soon" is invalid`, `ESSNAP_RATIO="half" is not a number`}},
		{name: "unknown field lists the known ones", event: `{"nmae":"x"}`, want: []string{`field "nmae" is unknown; known fields: age, count, list, meta, name, ratio, region, target`}},
		{name: "case differs", event: `{"Name":"x","TARGET":{}}`, want: []string{`field "Name" is unknown: field names are case-sensitive; did you mean "name"?`, `did you mean "target"?`}},
		{name: "nested unknown", event: `{"target":{"endpont":"x"}}`, want: []string{`field "target.endpont" is unknown; known fields of "target": endpoint, unsigned`}},
		{name: "unexported fields are not fields", event: `{"private":"x"}`, want: []string{`field "private" is unknown`}, check: func(t *testing.T, s sample, _ Loaded) {
			if s.private != "" {
				t.Fatal("an unexported field was set")
			}
		}},
		{name: "null is refused", event: `{"name":null,"target":null}`, want: []string{`field "name" is null`, `field "target" is null`}},
		{name: "type errors name field and kinds", event: `{"count":"3","list":"a","target":[],"meta":1,"age":5}`,
			want: []string{`field "count" must be a whole number, got JSON string`, `field "list" must be a list of strings, got JSON string`, `field "target" must be a JSON object {...}, got JSON array`, `field "meta" must be an object, got JSON number`, `field "age" must be a string, got JSON number`}},
		{name: "text parser errors", event: `{"age":"soon"}`, want: []string{`field "age"`, "invalid duration"}},
		{name: "not JSON names the byte", event: `{"name": x}`, want: []string{"the event is not valid JSON", "at byte 10"}},
		{name: "truncated", event: `{"name":"x"`, want: []string{"the event is not valid JSON"}},
		{name: "array at the top", event: `["name"]`, want: []string{"the event must be a JSON object {...}, got an array"}},
		{name: "string at the top", event: `"name"`, want: []string{"got a string"}},
		{name: "number at the top", event: `42`, want: []string{"got a number"}},
		{name: "two values", event: `{} {}`, want: []string{"after top-level value"}},
		{name: "duplicate key", event: `{"name":"a","count":1,"name":"b"}`, want: []string{`the key "name" twice`}},
		{name: "duplicate key nested", event: `{"meta":{"a":1,"a":2}}`, want: []string{`the key "a" twice`}},
		{name: "same key in sibling objects is fine", event: `{"meta":{"a":{"x":1},"b":{"x":1}}}`},
		{name: "too deep", event: `{"meta":` + strings.Repeat(`{"a":`, MaxDepth) + `1` + strings.Repeat(`}`, MaxDepth) + `}`, want: []string{"nests deeper than 32 levels"}},
		{name: "long keys are cut in messages", event: `{"` + strings.Repeat("k", 5000) + `":1}`, check: nil, want: []string{"...(5000 bytes)"}},
		{name: "oversized event", event: `{"name":"` + strings.Repeat("x", MaxEventBytes) + `"}`, want: []string{"bytes; an essnap event is a small JSON object"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := sample{Name: "default"}
			l := Load(&s, getenv(tc.env), []byte(tc.event))
			all := strings.Join(l.Problems, "\n")
			if len(tc.want) == 0 && len(l.Problems) > 0 {
				t.Fatalf("problems: %s", all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems lack %q:\n%s", w, all)
				}
			}
			for _, p := range l.Problems {
				if len(p) > 600 {
					t.Errorf("problem of %d bytes quotes too much: %.200s", len(p), p)
				}
			}
			if tc.check != nil {
				tc.check(t, s, l)
			}
		})
	}
}

func TestFields(t *testing.T) {
	var got []string
	for _, f := range Fields(&sample{}) {
		got = append(got, f.Path+"="+f.Env)
	}
	want := "region=ESSNAP_REGION name=ESSNAP_NAME count=ESSNAP_COUNT ratio=ESSNAP_RATIO list=ESSNAP_LIST meta= age=ESSNAP_AGE target= target.endpoint=ESSNAP_TARGET_ENDPOINT target.unsigned=ESSNAP_TARGET_UNSIGNED"
	if strings.Join(got, " ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

// FuzzLoad: whatever the event, Load never panics, and a refused event
// leaves a problem that says so.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"x"}`, `[`, `{"target":{"endpoint":1}}`, `{"meta":{"a":[1,{"b":null}]}}`, `"x"`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := sample{}
		_ = Load(&s, getenv(nil), b)
	})
}

func TestShortList(t *testing.T) {
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf("logs-%02d", i)
	}
	for _, tc := range []struct {
		name  string
		items []string
		want  string
	}{
		{"none", nil, ""},
		{"a few", []string{"a", "b"}, "a, b"},
		{"exactly the bound", many[:MaxListed], strings.Join(many[:MaxListed], ", ")},
		{"more", many, strings.Join(many[:MaxListed], ", ") + " and 5 more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ShortList(tc.items); got != tc.want {
				t.Fatalf("ShortList = %q, want %q", got, tc.want)
			}
		})
	}
}
