package snapshot

import (
	"strings"
	"testing"
)

// Names the engines accept but essnap must not send: "." and ".." (another
// endpoint once in a URL path), control characters, and runaway lengths;
// messages quote only a short prefix.
func TestValidateNameRefusesHostileNames(t *testing.T) {
	long := strings.Repeat("a", 300)
	cases := []struct {
		name, in string
		want     []string
	}{
		{"dot", ".", []string{`"."`, "must not be '.' or '..'"}},
		{"dotdot", "..", []string{"must not be '.' or '..'"}},
		{"NUL", "a\x00b", []string{"control characters", "U+0000", "byte 1"}},
		{"escape", "nightly-\x1b[31m", []string{"control characters", "U+001B"}},
		{"DEL", "a\x7f", []string{"control characters", "U+007F"}},
		{"C1 control", "a\u0080b", []string{"U+0080"}},
		{"255 bytes is fine", strings.Repeat("a", 255), nil},
		{"256 bytes", strings.Repeat("a", 256), []string{"is 256 bytes; at most 255"}},
		{"long name quoted short", long, []string{"...(300 bytes)"}},
		{"dot inside is fine", "nightly.1", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateName("snapshot", c.in)
			assertErr(t, err, c.want...)
			if err != nil && strings.Contains(err.Error(), long) {
				t.Errorf("message quotes the whole value: %d bytes", len(err.Error()))
			}
			rerr := ValidateRepositoryName("repository", c.in)
			if (rerr == nil) != (err == nil) {
				t.Errorf("repository name: %v, snapshot name: %v", rerr, err)
			}
		})
	}
	t.Run("template", func(t *testing.T) {
		_, err := ResolveName("snapshot", "nightly-\x00-{now/d}", resolveNow)
		assertErr(t, err, "control characters")
	})
}

func TestValidateIndexPattern(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
	}{
		{"wildcard", "logs-*", nil},
		{"exclusion", "-logs-2026.11.2*", nil},
		{"hidden", ".ds-logs-*", nil},
		{"empty", "", []string{"indices[0] is empty", "logs-*"}},
		{"blank", "  ", []string{"indices[0] is empty"}},
		{"NUL", "logs-\x00", []string{`indices[0] "logs-\x00"`, "control characters"}},
		{"comma", "logs-*,metrics-*", []string{"holds ','", "own list entry"}},
		{"256 bytes", strings.Repeat("a", 256), []string{"256 bytes", "at most 255", "...(256 bytes)"}},
		{"exclusion of 255 bytes", "-" + strings.Repeat("a", 255), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertErr(t, ValidateIndexPattern("indices[0]", c.in), c.want...)
		})
	}
}

func TestIndexNamesAndRenamesRefuseControlCharacters(t *testing.T) {
	assertErr(t, ValidateIndexName("logs\x00"), "control characters", "U+0000")
	assertErr(t, ValidateIndexName(strings.Repeat("x", 400)), "at most 255 bytes (it is 400)", "...(400 bytes)")
	for _, r := range []Rename{
		{Suffix: "-\x00"}, {Prefix: "\x01"}, {Pattern: "(.+)", Replacement: "$1\x7f"}, {Pattern: "(.+)\x00", Replacement: "$1"},
	} {
		_, err := r.Compile()
		assertErr(t, err, "must not contain control characters")
	}
	_, err := Rename{Suffix: strings.Repeat("s", 300)}.Compile()
	assertErr(t, err, "rename_suffix", "300 bytes", "...(300 bytes)")
}

// A rename onto a system or hidden name is refused before anything is
// sent, unless system indices are included on purpose; a hidden source
// keeps its dot without being refused.
func TestPlanRestoreRefusesSystemAndHiddenRenameTargets(t *testing.T) {
	snap := []string{"logs-a", "logs-b", ".audit"}
	compile := func(r Rename) *Renamer {
		t.Helper()
		rn, err := r.Compile()
		if err != nil {
			t.Fatal(err)
		}
		return rn
	}
	cases := []struct {
		name   string
		rename Rename
		exprs  []string
		system bool
		want   []string
	}{
		{"leading dot prefix", Rename{Prefix: "."}, []string{"logs-*"}, false, []string{"system or hidden index names", "logs-a -> .logs-a", "logs-b -> .logs-b", "include_system_indices"}},
		{"onto .kibana", Rename{Pattern: "logs-a", Replacement: ".kibana_1"}, []string{"logs-a"}, false, []string{"logs-a -> .kibana_1"}},
		{"onto .opendistro", Rename{Pattern: "^logs-(.+)", Replacement: ".opendistro-$1"}, []string{"logs-*"}, false, []string{".opendistro-a"}},
		{"onto .plugins", Rename{Pattern: "^logs-(.+)", Replacement: ".plugins-ml-$1"}, []string{"logs-*"}, false, []string{".plugins-ml-a"}},
		{"onto .security", Rename{Pattern: "logs-a", Replacement: ".security-7"}, []string{"logs-a"}, false, []string{".security-7"}},
		{"onto .opensearch", Rename{Pattern: "logs-a", Replacement: ".opensearch-observability"}, []string{"logs-a"}, false, []string{".opensearch-observability"}},
		{"hidden source onto a system name", Rename{Pattern: "audit", Replacement: "kibana"}, []string{".audit"}, false, []string{".audit -> .kibana"}},
		{"allowed with include_system_indices", Rename{Prefix: "."}, []string{"logs-*"}, true, nil},
		{"hidden source keeps its dot", Rename{Suffix: "-r"}, []string{".audit"}, false, nil},
		{"plain rename", Rename{Suffix: "-restored"}, nil, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := PlanRestore(snap, c.exprs, c.system, compile(c.rename), nil)
			assertErr(t, err, c.want...)
		})
	}
}

func TestMatchIndicesReportsMissingConcreteNames(t *testing.T) {
	sel, missing, err := MatchIndices([]string{"logs-a", "logs-b"}, []string{"logs-*", "nope", "zzz-*"})
	if err != nil || strings.Join(sel, ",") != "logs-a,logs-b" || strings.Join(missing, ",") != "nope" {
		t.Fatalf("%q %q %v", sel, missing, err)
	}
	sel, missing, err = MatchIndices([]string{"logs-a"}, []string{"zzz-*"})
	if err != nil || len(sel) != 0 || len(missing) != 0 {
		t.Fatalf("%q %q %v", sel, missing, err)
	}
}
