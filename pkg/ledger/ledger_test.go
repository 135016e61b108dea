package ledger

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"derived", "m-3f2a9c0d11223344", true},
		{"operator's", "logs-2026-12", true},
		{"dots and underscores", "a.b_c", true},
		{"empty", "", false},
		{"uppercase", "Logs", false},
		{"leading dash", "-x", false},
		{"a pipe (the id separator)", "a|b", false},
		{"a slash", "a/b", false},
		{"too long", strings.Repeat("a", 65), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateName(tc.in); (err == nil) != tc.ok {
				t.Fatalf("ValidateName(%q) = %v, want ok %v", tc.in, err, tc.ok)
			}
		})
	}
}

// The same input names the same migration (a rerun resumes it); any
// change of what makes it that migration names another.
func TestDeriveName(t *testing.T) {
	base := DeriveName("https://a", "https://b", []string{"logs-*", "-logs-x"}, "push", "auto", "-restored")
	if base != DeriveName("https://a", "https://b", []string{"-logs-x", "logs-*"}, "push", "auto", "-restored") {
		t.Fatal("the selection's order changed the name")
	}
	if !strings.HasPrefix(base, "m-") || ValidateName(base) != nil {
		t.Fatalf("derived name %q is not a valid name", base)
	}
	for _, other := range []string{
		DeriveName("https://a2", "https://b", []string{"logs-*", "-logs-x"}, "push", "auto", "-restored"),
		DeriveName("https://a", "https://b2", []string{"logs-*", "-logs-x"}, "push", "auto", "-restored"),
		DeriveName("https://a", "https://b", []string{"logs-*"}, "push", "auto", "-restored"),
		DeriveName("https://a", "https://b", []string{"logs-*", "-logs-x"}, "pull", "auto", "-restored"),
		DeriveName("https://a", "https://b", []string{"logs-*", "-logs-x"}, "push", "reindex", "-restored"),
		DeriveName("https://a", "https://b", []string{"logs-*", "-logs-x"}, "push", "auto", "-copy"),
	} {
		if other == base {
			t.Fatalf("a different migration got the same name %s", base)
		}
	}
}
