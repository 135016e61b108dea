package retention

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// now is the clock of the rule tests: Monday 2026-11-23 12:00 UTC.
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// snapOpt adjusts a test snapshot.
type snapOpt func(*Snapshot)

// mk builds a candidate of policy "nightly" started at start.
func mk(name, state string, start time.Time, opts ...snapOpt) Snapshot {
	s := Snapshot{
		Name:     name,
		UUID:     "uuid-" + name,
		State:    state,
		Start:    start,
		Metadata: map[string]any{PolicyMetadataKey: "nightly"},
	}
	if !start.IsZero() && state != StateInProgress {
		s.End = start.Add(2 * time.Minute)
	}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// ago is a start time d before now.
func ago(d time.Duration) time.Time { return now.Add(-d) }

func pinnedBy(key string) snapOpt { return func(s *Snapshot) { s.Metadata[key] = true } }

var pin = pinnedBy(DefaultPinKey)

func meta(m map[string]any) snapOpt { return func(s *Snapshot) { s.Metadata = m } }

// want is the expected verdict and, optionally, an exact reason list.
type want struct {
	verdict string // keep, delete, ignored
	reasons []string
}

func k(reasons ...string) want   { return want{"keep", reasons} }
func del(reasons ...string) want { return want{"delete", reasons} }
func ign(reasons ...string) want { return want{"ignored", reasons} }

func TestApplyRules(t *testing.T) {
	base := Policy{Prefix: "essnap-", PolicyID: "nightly"}
	with := func(f func(*Policy)) Policy { p := base; f(&p); return p }
	tokyo := time.FixedZone("UTC+9", 9*3600)

	tests := []struct {
		name   string
		policy Policy
		snaps  []Snapshot
		want   map[string]want // by name; every snapshot must be listed
	}{
		{
			name:   "non-candidates are ignored, never deleted",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day) }),
			snaps: []Snapshot{
				mk("essnap-new", StateSuccess, ago(time.Hour)),
				mk("essnap-old", StateSuccess, ago(10*day)),
				mk("other-old", StateSuccess, ago(10*day)),
				mk("essnap-other-policy", StateSuccess, ago(10*day), meta(map[string]any{PolicyMetadataKey: "hourly"})),
				mk("essnap-nonverbose", StateSuccess, time.Time{}, meta(nil)),
				mk("essnap-no-policy-key", StateSuccess, ago(10*day), meta(map[string]any{"taken_by": "ops"})),
				mk("essnap-numeric-policy", StateFailed, ago(10*day), meta(map[string]any{PolicyMetadataKey: 1.0})),
				mk("2026-11-20t01-00-00.3e2f9a1b", StateSuccess, ago(3*day), meta(nil)),
			},
			want: map[string]want{
				"essnap-new":                   k("newest successful snapshot", "within expire_after 1d"),
				"essnap-old":                   del("expired: older than expire_after 1d"),
				"other-old":                    ign("not created by policy nightly", `name does not start with "essnap-"`),
				"essnap-other-policy":          ign("not created by policy nightly", `essnap_policy metadata is "hourly"`),
				"essnap-nonverbose":            ign("not created by policy nightly", "no metadata (listed with verbose=false, or not taken by essnap)"),
				"essnap-no-policy-key":         ign("not created by policy nightly", "no essnap_policy metadata"),
				"essnap-numeric-policy":        ign("not created by policy nightly", "essnap_policy metadata is 1"),
				"2026-11-20t01-00-00.3e2f9a1b": ign("not created by policy nightly", `name does not start with "essnap-"`),
			},
		},
		{
			name:   "in progress is always kept",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day); p.MaxCount = 1 }),
			snaps: []Snapshot{
				mk("essnap-running", StateInProgress, ago(5*day)),
				mk("essnap-done", StateSuccess, ago(6*day)),
			},
			want: map[string]want{
				"essnap-running": k("in progress"),
				"essnap-done":    k("newest successful snapshot"),
			},
		},
		{
			name:   "newest success survives expiry",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(7 * day) }),
			snaps: []Snapshot{
				mk("essnap-a", StateSuccess, ago(20*day)),
				mk("essnap-b", StateSuccess, ago(30*day)),
			},
			want: map[string]want{
				"essnap-a": k("newest successful snapshot"),
				"essnap-b": del("expired: older than expire_after 1w"),
			},
		},
		{
			name:   "pinned is kept whatever its state and age",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day); p.MaxCount = 1 }),
			snaps: []Snapshot{
				mk("essnap-new", StateSuccess, ago(time.Hour)),
				mk("essnap-pinned", StateSuccess, ago(90*day), pin),
				mk("essnap-pinned-failed", StateFailed, ago(91*day), pin),
				mk("essnap-pin-string", StateSuccess, ago(92*day), meta(map[string]any{PolicyMetadataKey: "nightly", DefaultPinKey: "true"})),
			},
			want: map[string]want{
				"essnap-new":           k("newest successful snapshot", "within expire_after 1d"),
				"essnap-pinned":        k("pinned"),
				"essnap-pinned-failed": k("pinned"),
				"essnap-pin-string":    del("expired: older than expire_after 1d"),
			},
		},
		{
			name:   "custom pin key",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day); p.PinKey = "legal_hold" }),
			snaps: []Snapshot{
				mk("essnap-new", StateSuccess, ago(time.Hour)),
				mk("essnap-hold", StateSuccess, ago(9*day), pinnedBy("legal_hold")),
				mk("essnap-default-pin", StateSuccess, ago(9*day), pin),
			},
			want: map[string]want{
				"essnap-new":         k("newest successful snapshot", "within expire_after 1d"),
				"essnap-hold":        k("pinned"),
				"essnap-default-pin": del("expired: older than expire_after 1d"),
			},
		},
		{
			name:   "failed and partial: deleted once a newer success exists, whatever their age",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(30 * day); p.MinCount = 5 }),
			snaps: []Snapshot{
				mk("essnap-failed-newest", StateFailed, ago(time.Hour)),
				mk("essnap-partial-newer", StatePartial, ago(2*time.Hour)),
				mk("essnap-ok", StateSuccess, ago(3*time.Hour)),
				mk("essnap-failed-young", StateFailed, ago(4*time.Hour)),
				mk("essnap-partial-old", StatePartial, ago(40*day)),
			},
			want: map[string]want{
				"essnap-failed-newest": k("failed snapshot kept: no newer successful snapshot"),
				"essnap-partial-newer": k("partial snapshot kept: no newer successful snapshot"),
				"essnap-ok":            k("newest successful snapshot", "within min_count 5", "within expire_after 30d"),
				"essnap-failed-young":  del("failed snapshot superseded by a newer success"),
				"essnap-partial-old":   del("partial snapshot superseded by a newer success"),
			},
		},
		{
			name:   "failed kept while no success exists",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day) }),
			snaps: []Snapshot{
				mk("essnap-f1", StateFailed, ago(10*day)),
				mk("essnap-f2", StatePartial, ago(20*day)),
			},
			want: map[string]want{
				"essnap-f1": k("failed snapshot kept: no newer successful snapshot"),
				"essnap-f2": k("partial snapshot kept: no newer successful snapshot"),
			},
		},
		{
			name:   "failed with the same start as the newest success is not superseded",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day) }),
			snaps: []Snapshot{
				mk("essnap-ok", StateSuccess, ago(time.Hour)),
				mk("essnap-tie", StateFailed, ago(time.Hour)),
			},
			want: map[string]want{
				"essnap-ok":  k("newest successful snapshot", "within expire_after 1d"),
				"essnap-tie": k("failed snapshot kept: no newer successful snapshot"),
			},
		},
		{
			name:   "failed and partial do not count toward min_count",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day); p.MinCount = 2 }),
			snaps: []Snapshot{
				mk("essnap-s1", StateSuccess, ago(5*day)),
				mk("essnap-f", StateFailed, ago(6*day)),
				mk("essnap-p", StatePartial, ago(7*day)),
				mk("essnap-s2", StateSuccess, ago(8*day)),
				mk("essnap-s3", StateSuccess, ago(9*day)),
			},
			want: map[string]want{
				"essnap-s1": k("newest successful snapshot", "within min_count 2"),
				"essnap-f":  del("failed snapshot superseded by a newer success"),
				"essnap-p":  del("partial snapshot superseded by a newer success"),
				"essnap-s2": k("within min_count 2"),
				"essnap-s3": del("expired: older than expire_after 1d"),
			},
		},
		{
			name:   "expire_after boundary is inclusive",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(7 * day) }),
			snaps: []Snapshot{
				mk("essnap-new", StateSuccess, ago(time.Hour)),
				mk("essnap-at-cutoff", StateSuccess, ago(7*day)),
				mk("essnap-past-cutoff", StateSuccess, ago(7*day+time.Millisecond)),
			},
			want: map[string]want{
				"essnap-new":         k("newest successful snapshot", "within expire_after 1w"),
				"essnap-at-cutoff":   k("within expire_after 1w"),
				"essnap-past-cutoff": del("expired: older than expire_after 1w"),
			},
		},
		{
			name:   "keep rules win over expire_after",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day); p.KeepDaily = 3 }),
			snaps: []Snapshot{
				mk("essnap-d0", StateSuccess, ago(time.Hour)),
				mk("essnap-d2-late", StateSuccess, ago(2*day)),
				mk("essnap-d2-early", StateSuccess, ago(2*day+time.Hour)),
				mk("essnap-d5", StateSuccess, ago(5*day)),
				mk("essnap-d6", StateSuccess, ago(6*day)),
			},
			want: map[string]want{
				"essnap-d0":       k("newest successful snapshot", "within expire_after 1d", "daily snapshot 2026-11-23"),
				"essnap-d2-late":  k("daily snapshot 2026-11-21"),
				"essnap-d2-early": del("expired: older than expire_after 1d"),
				"essnap-d5":       k("daily snapshot 2026-11-18"),
				"essnap-d6":       del("expired: older than expire_after 1d"),
			},
		},
		{
			name:   "calendar rules alone delete what they do not keep (restic)",
			policy: with(func(p *Policy) { p.KeepDaily = 2; p.KeepWeekly = 2; p.KeepMonthly = 2 }),
			snaps: []Snapshot{
				mk("essnap-mon", StateSuccess, ago(2*time.Hour)),     // 2026-11-23, W48
				mk("essnap-sun", StateSuccess, ago(day+2*time.Hour)), // 2026-11-22, W47
				mk("essnap-sat", StateSuccess, ago(2*day)),           // 2026-11-21, W47
				mk("essnap-w46", StateSuccess, time.Date(2026, 11, 12, 9, 0, 0, 0, time.UTC)),
				mk("essnap-oct", StateSuccess, time.Date(2026, 10, 30, 9, 0, 0, 0, time.UTC)),
				mk("essnap-oct-early", StateSuccess, time.Date(2026, 10, 2, 9, 0, 0, 0, time.UTC)),
				mk("essnap-sep", StateSuccess, time.Date(2026, 9, 30, 9, 0, 0, 0, time.UTC)),
			},
			want: map[string]want{
				"essnap-mon":       k("newest successful snapshot", "daily snapshot 2026-11-23", "weekly snapshot 2026-W48", "monthly snapshot 2026-11"),
				"essnap-sun":       k("daily snapshot 2026-11-22", "weekly snapshot 2026-W47"),
				"essnap-sat":       del("not retained by keep_daily 2, keep_weekly 2, keep_monthly 2"),
				"essnap-w46":       del("not retained by keep_daily 2, keep_weekly 2, keep_monthly 2"),
				"essnap-oct":       k("monthly snapshot 2026-10"),
				"essnap-oct-early": del("not retained by keep_daily 2, keep_weekly 2, keep_monthly 2"),
				"essnap-sep":       del("not retained by keep_daily 2, keep_weekly 2, keep_monthly 2"),
			},
		},
		{
			name:   "calendar buckets count periods that have snapshots, skipping gaps",
			policy: with(func(p *Policy) { p.KeepDaily = 3 }),
			snaps: []Snapshot{
				mk("essnap-a", StateSuccess, ago(time.Hour)),
				mk("essnap-b", StateSuccess, ago(10*day)),
				mk("essnap-c", StateSuccess, ago(40*day)),
				mk("essnap-d", StateSuccess, ago(41*day)),
			},
			want: map[string]want{
				"essnap-a": k("newest successful snapshot", "daily snapshot 2026-11-23"),
				"essnap-b": k("daily snapshot 2026-11-13"),
				"essnap-c": k("daily snapshot 2026-10-14"),
				"essnap-d": del("not retained by keep_daily 3"),
			},
		},
		{
			name:   "ISO weeks span the new year",
			policy: with(func(p *Policy) { p.KeepWeekly = 2 }),
			snaps: []Snapshot{
				mk("essnap-jan1", StateSuccess, time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)),    // Fri, 2026-W53
				mk("essnap-dec28", StateSuccess, time.Date(2026, 12, 28, 9, 0, 0, 0, time.UTC)), // Mon, 2026-W53
				mk("essnap-dec27", StateSuccess, time.Date(2026, 12, 27, 9, 0, 0, 0, time.UTC)), // Sun, 2026-W52
			},
			want: map[string]want{
				"essnap-jan1":  k("newest successful snapshot", "weekly snapshot 2026-W53"),
				"essnap-dec28": del("not retained by keep_weekly 2"),
				"essnap-dec27": k("weekly snapshot 2026-W52"),
			},
		},
		{
			name:   "location decides where days begin",
			policy: with(func(p *Policy) { p.KeepDaily = 2; p.Timezone = Zone{tokyo} }),
			snaps: []Snapshot{
				mk("essnap-utc-23", StateSuccess, time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)),   // Tokyo 11-23 10:00
				mk("essnap-utc-22", StateSuccess, time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC)),  // Tokyo 11-23 01:00
				mk("essnap-utc-22b", StateSuccess, time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)), // Tokyo 11-22 23:00
			},
			want: map[string]want{
				"essnap-utc-23":  k("newest successful snapshot", "daily snapshot 2026-11-23"),
				"essnap-utc-22":  del("not retained by keep_daily 2"),
				"essnap-utc-22b": k("daily snapshot 2026-11-22"),
			},
		},
		{
			name:   "min_count keeps expired snapshots",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day); p.MinCount = 3 }),
			snaps: []Snapshot{
				mk("essnap-1", StateSuccess, ago(10*day)),
				mk("essnap-2", StateSuccess, ago(11*day)),
				mk("essnap-3", StateSuccess, ago(12*day)),
				mk("essnap-4", StateSuccess, ago(13*day)),
			},
			want: map[string]want{
				"essnap-1": k("newest successful snapshot", "within min_count 3"),
				"essnap-2": k("within min_count 3"),
				"essnap-3": k("within min_count 3"),
				"essnap-4": del("expired: older than expire_after 1d"),
			},
		},
		{
			name:   "max_count alone trims the oldest",
			policy: with(func(p *Policy) { p.MaxCount = 2 }),
			snaps: []Snapshot{
				mk("essnap-1", StateSuccess, ago(1*day)),
				mk("essnap-2", StateSuccess, ago(2*day)),
				mk("essnap-3", StateSuccess, ago(3*day)),
				mk("essnap-f", StateFailed, ago(4*day)),
			},
			want: map[string]want{
				"essnap-1": k("newest successful snapshot"),
				"essnap-2": k("within max_count 2"),
				"essnap-3": del("max_count 2 exceeded"),
				"essnap-f": del("failed snapshot superseded by a newer success"),
			},
		},
		{
			name:   "max_count overrides calendar and expire_after keeps",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(30 * day); p.KeepDaily = 5; p.MaxCount = 2 }),
			snaps: []Snapshot{
				mk("essnap-1", StateSuccess, ago(time.Hour)),
				mk("essnap-2", StateSuccess, ago(day+time.Hour)),
				mk("essnap-3", StateSuccess, ago(2*day+time.Hour)),
				mk("essnap-4", StateSuccess, ago(40*day)),
			},
			want: map[string]want{
				"essnap-1": k("newest successful snapshot", "within expire_after 30d", "daily snapshot 2026-11-23"),
				"essnap-2": k("within expire_after 30d", "daily snapshot 2026-11-22"),
				"essnap-3": del("max_count 2 exceeded", "overrides: within expire_after 30d, daily snapshot 2026-11-21"),
				"essnap-4": del("max_count 2 exceeded", "overrides: daily snapshot 2026-10-14"),
			},
		},
		{
			name:   "max_count never removes pinned, newest or min_count",
			policy: with(func(p *Policy) { p.MaxCount = 2; p.MinCount = 2 }),
			snaps: []Snapshot{
				mk("essnap-1", StateSuccess, ago(1*day)),
				mk("essnap-2", StateSuccess, ago(2*day)),
				mk("essnap-3", StateSuccess, ago(3*day)),
				mk("essnap-4", StateSuccess, ago(4*day), pin),
				mk("essnap-5", StateSuccess, ago(5*day)),
			},
			want: map[string]want{
				"essnap-1": k("newest successful snapshot", "within min_count 2"),
				"essnap-2": k("within min_count 2"),
				"essnap-3": del("max_count 2 exceeded"),
				"essnap-4": k("pinned"),
				"essnap-5": del("max_count 2 exceeded"),
			},
		},
		{
			name:   "snapshots retention cannot judge are kept and counted",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day); p.MaxCount = 1 }),
			snaps: []Snapshot{
				mk("essnap-ok", StateSuccess, ago(time.Hour)),
				mk("essnap-incompatible", StateIncompatible, ago(30*day)),
				mk("essnap-blank", "", ago(30*day)),
				mk("essnap-weird", "ABORTED", ago(30*day)),
				mk("essnap-no-start", StateSuccess, time.Time{}),
				mk("essnap-failed-no-start", StateFailed, time.Time{}),
			},
			want: map[string]want{
				"essnap-ok":              k("newest successful snapshot", "within expire_after 1d"),
				"essnap-incompatible":    k("state INCOMPATIBLE; retention never deletes what it cannot judge"),
				"essnap-blank":           k("state unknown; retention never deletes what it cannot judge"),
				"essnap-weird":           k("state ABORTED; retention never deletes what it cannot judge"),
				"essnap-no-start":        k("start time unknown"),
				"essnap-failed-no-start": k("start time unknown"),
			},
		},
		{
			name:   "invalid policy deletes nothing",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day); p.MinCount = -1 }),
			snaps: []Snapshot{
				mk("essnap-1", StateSuccess, ago(90*day)),
				mk("essnap-f", StateFailed, ago(91*day)),
				mk("foreign", StateSuccess, ago(90*day)),
			},
			want: map[string]want{
				"essnap-1": k("policy invalid, nothing is deleted: invalid retention policy: min_count: must not be negative (got -1)"),
				"essnap-f": k("policy invalid, nothing is deleted: invalid retention policy: min_count: must not be negative (got -1)"),
				"foreign":  ign("not created by policy nightly", `name does not start with "essnap-"`),
			},
		},
		{
			name:   "policy that keeps everything is invalid and deletes nothing",
			policy: with(func(p *Policy) { p.MinCount = 1 }),
			snaps:  []Snapshot{mk("essnap-1", StateSuccess, ago(90*day)), mk("essnap-2", StateSuccess, ago(91*day))},
			want: map[string]want{
				"essnap-1": k("policy invalid, nothing is deleted: invalid retention policy: retention policy keeps everything; set expire_after, max_count or keep_*"),
				"essnap-2": k("policy invalid, nothing is deleted: invalid retention policy: retention policy keeps everything; set expire_after, max_count or keep_*"),
			},
		},
		{
			name:   "empty listing",
			policy: with(func(p *Policy) { p.ExpireAfter = Age(day) }),
			want:   map[string]want{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := checkApply(t, tc.policy, tc.snaps, now, nil)
			got := map[string]want{}
			for verdict, list := range map[string][]Decision{"keep": plan.Keep, "delete": plan.Delete, "ignored": plan.Ignored} {
				for _, d := range list {
					got[d.Snapshot.Name] = want{verdict, d.Reasons}
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("plan has %d snapshots, test lists %d", len(got), len(tc.want))
			}
			for name, w := range tc.want {
				g, ok := got[name]
				switch {
				case !ok:
					t.Errorf("%s missing from plan", name)
				case g.verdict != w.verdict:
					t.Errorf("%s: %s %q, want %s", name, g.verdict, g.reasons, w.verdict)
				case w.reasons != nil && !slices.Equal(g.reasons, w.reasons):
					t.Errorf("%s reasons:\n got %q\nwant %q", name, g.reasons, w.reasons)
				}
			}
		})
	}
}

func TestApplyOrdering(t *testing.T) {
	p := Policy{Prefix: "essnap-", PolicyID: "nightly", MaxCount: 10}
	same := ago(time.Hour)
	snaps := []Snapshot{
		mk("essnap-a", StateSuccess, same),
		mk("essnap-c", StateSuccess, ago(2*time.Hour)),
		mk("essnap-b", StateSuccess, same),
		mk("essnap-b", StateSuccess, same, func(s *Snapshot) { s.UUID = "uuid-z" }),
		mk("essnap-d", StateSuccess, ago(30*time.Minute)),
	}
	plan := checkApply(t, p, snaps, now, nil)
	var got []string
	for _, d := range plan.Keep {
		got = append(got, d.Snapshot.Name+"/"+d.Snapshot.UUID)
	}
	want := []string{"essnap-d/uuid-essnap-d", "essnap-b/uuid-z", "essnap-b/uuid-essnap-b", "essnap-a/uuid-essnap-a", "essnap-c/uuid-essnap-c"}
	if !slices.Equal(got, want) {
		t.Fatalf("order:\n got %q\nwant %q", got, want)
	}
}

func TestPlanDeleteNames(t *testing.T) {
	p := Policy{Prefix: "essnap-", PolicyID: "nightly", MaxCount: 1}
	plan := Apply(p, []Snapshot{
		mk("essnap-3", StateSuccess, ago(3*day)),
		mk("essnap-1", StateSuccess, ago(1*day)),
		mk("essnap-2", StateSuccess, ago(2*day)),
	}, now)
	if got := plan.DeleteNames(); !reflect.DeepEqual(got, []string{"essnap-2", "essnap-3"}) {
		t.Fatalf("DeleteNames() = %q", got)
	}
}

// TestApplyReasonsAreIndependent guards the shared reason arena: appending to
// one decision's reasons must not change another's.
func TestApplyReasonsAreIndependent(t *testing.T) {
	p := Policy{Prefix: "essnap-", PolicyID: "nightly", ExpireAfter: Age(day)}
	plan := Apply(p, []Snapshot{
		mk("essnap-1", StateSuccess, ago(time.Hour)),
		mk("essnap-2", StateSuccess, ago(2*day)),
		mk("essnap-3", StateSuccess, ago(3*day)),
	}, now)
	before := strings.Join(plan.Delete[1].Reasons, "|")
	plan.Delete[0].Reasons = append(plan.Delete[0].Reasons, "extra")
	plan.Keep[0].Reasons = append(plan.Keep[0].Reasons, "extra")
	if after := strings.Join(plan.Delete[1].Reasons, "|"); after != before {
		t.Fatalf("reasons changed from %q to %q", before, after)
	}
}
