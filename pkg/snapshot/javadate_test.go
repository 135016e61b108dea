package snapshot

import (
	"slices"
	"testing"
	"time"
)

// Month and year offsets stop at the end of a shorter month, as Java's
// plusMonths does in the engine's date math.
func TestDateMathMonthOffsetsClampLikeJava(t *testing.T) {
	cases := []struct {
		name, tmpl string
		now        time.Time
		want       string
	}{
		{"last month from the 31st", "m-{now-1M/M{yyyy.MM}}", time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC), "m-2026.02"},
		{"minus a month on the 31st", "d-{now-1M{yyyy.MM.dd}}", time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC), "d-2026.02.28"},
		{"minus a year from leap day", "y-{now-1y{yyyy.MM.dd}}", time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC), "y-2023.02.28"},
		{"plus a month into a leap February", "p-{now+1M{yyyy.MM.dd}}", time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC), "p-2024.02.29"},
		{"across the year", "x-{now+2M{yyyy.MM.dd}}", time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), "x-2027.02.28"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveName("snapshot", tc.tmpl, tc.now)
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// A list that starts with an exclusion means "everything except", as the
// engine's SnapshotUtils.filterIndices does.
func TestSelectIndicesLeadingExclusion(t *testing.T) {
	got, err := SelectIndices([]string{"foo", "bar", "baz"}, []string{"-bar"})
	if err != nil || !slices.Equal(got, []string{"baz", "foo"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	got, err = SelectIndices([]string{"foo", "bar", "baz"}, []string{"-ba*", "baz"})
	if err != nil || !slices.Equal(got, []string{"baz", "foo"}) {
		t.Fatalf("got %v, %v", got, err)
	}
}
