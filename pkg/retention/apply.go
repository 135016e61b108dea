package retention

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Decision is the verdict on one snapshot with every reason that led to it,
// so an operator can see why a snapshot was kept or deleted (restic prints the
// same). The Snapshot shares its Metadata and Indices with the input.
type Decision struct {
	Snapshot Snapshot `json:"snapshot"`
	Reasons  []string `json:"reasons"`
}

// Plan is what Apply decided: the caller deletes Delete and nothing else.
// Keep, Delete and Ignored together hold each input snapshot exactly once,
// each sorted newest first.
type Plan struct {
	Keep   []Decision `json:"keep"`
	Delete []Decision `json:"delete"`
	// Ignored holds snapshots this policy did not create; they are reported
	// so an operator can see that retention saw them and left them alone.
	Ignored []Decision `json:"ignored"`
}

// DeleteNames lists the names to delete, in plan order, so the caller can
// hand them to Batches without walking the plan.
func (p Plan) DeleteNames() []string {
	names := make([]string, len(p.Delete))
	for i, d := range p.Delete {
		names[i] = d.Snapshot.Name
	}
	return names
}

type verdict uint8

const (
	vKeep verdict = iota
	vDelete
	vIgnore
)

// judged is the working state for one snapshot. The first reasons live in a
// small array so judging 10,000 snapshots does not allocate 10,000 slices.
type judged struct {
	v      verdict
	pinned bool
	forced bool
	n      uint8
	r      [3]string
	more   []string
}

func (j *judged) add(r string) {
	if int(j.n) < len(j.r) {
		j.r[j.n] = r
		j.n++
		return
	}
	j.more = append(j.more, r)
}

func (j *judged) count() int { return int(j.n) + len(j.more) }

func (j *judged) appendTo(dst []string) []string {
	return append(append(dst, j.r[:j.n]...), j.more...)
}

// set replaces all reasons.
func (j *judged) set(rs ...string) {
	j.n, j.more = 0, nil
	for _, r := range rs {
		j.add(r)
	}
}

// newer orders snapshots newest first, deterministically (see the package
// documentation).
func newer(a, b *Snapshot) int {
	if c := b.Start.Compare(a.Start); c != 0 {
		return c
	}
	if c := strings.Compare(b.Name, a.Name); c != 0 {
		return c
	}
	return strings.Compare(b.UUID, a.UUID)
}

// Apply decides which snapshots to keep and delete at time now (see the
// package documentation for the rules). It is pure, with no I/O, no clock
// and no change to its input, so a plan can be shown before anything is
// deleted, a run can be replayed from a saved listing, and the same arguments
// always give the same plan. With an invalid policy it deletes nothing.
func Apply(p Policy, snaps []Snapshot, now time.Time) Plan {
	n := len(snaps)
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return newer(&snaps[a], &snaps[b]) })

	js := make([]judged, n)
	var invalid string
	if err := p.Validate(); err != nil {
		invalid = "policy invalid, nothing is deleted: " + err.Error()
	}
	notOurs := "not created by policy " + p.PolicyID
	noPrefix := fmt.Sprintf("name does not start with %q", p.Prefix)
	pinKey := p.PinKeyOrDefault()

	// Classify. succ holds counted SUCCESS candidates and bad the FAILED and
	// PARTIAL ones that may be deleted, both newest first.
	var succ, bad []int32
	unknownSuccess := 0 // kept SUCCESS candidates max_count must still count
	for _, i := range order {
		s, j := &snaps[i], &js[i]
		if why := foreign(p, s, noPrefix); why != "" {
			j.v = vIgnore
			j.set(notOurs, why)
			continue
		}
		if invalid != "" {
			j.add(invalid)
			continue
		}
		if pin, _ := s.Metadata[pinKey].(bool); pin {
			j.pinned = true
			j.add("pinned")
		}
		switch {
		case s.State == StateInProgress:
			j.add("in progress")
		case s.State != StateSuccess && s.State != StateFailed && s.State != StatePartial:
			if s.State == "" {
				j.add("state unknown; retention never deletes what it cannot judge")
			} else {
				j.add("state " + s.State + "; retention never deletes what it cannot judge")
			}
		case s.Start.IsZero():
			j.add("start time unknown")
			if s.State == StateSuccess {
				unknownSuccess++
			}
		case s.State == StateSuccess:
			succ = append(succ, i)
		case !j.pinned:
			bad = append(bad, i)
		}
	}

	if len(succ) > 0 {
		applySuccess(p, snaps, now, succ, unknownSuccess, js)
	}

	for _, i := range bad {
		kind := "failed"
		if snaps[i].State == StatePartial {
			kind = "partial"
		}
		if len(succ) > 0 && snaps[succ[0]].Start.After(snaps[i].Start) {
			js[i].v = vDelete
			js[i].add(kind + " snapshot superseded by a newer success")
		} else {
			js[i].add(kind + " snapshot kept: no newer successful snapshot")
		}
	}

	// Assemble: one backing array for all reasons, exact-size lists.
	var counts [3]int
	total := 0
	for i := range js {
		counts[js[i].v]++
		total += js[i].count()
	}
	arena := make([]string, 0, total)
	plan := Plan{
		Keep:    make([]Decision, 0, counts[vKeep]),
		Delete:  make([]Decision, 0, counts[vDelete]),
		Ignored: make([]Decision, 0, counts[vIgnore]),
	}
	for _, i := range order {
		j := &js[i]
		from := len(arena)
		arena = j.appendTo(arena)
		d := Decision{Snapshot: snaps[i], Reasons: arena[from:len(arena):len(arena)]}
		switch j.v {
		case vKeep:
			plan.Keep = append(plan.Keep, d)
		case vDelete:
			plan.Delete = append(plan.Delete, d)
		default:
			plan.Ignored = append(plan.Ignored, d)
		}
	}
	return plan
}

// foreign explains why s is not a candidate, or returns "".
func foreign(p Policy, s *Snapshot, noPrefix string) string {
	if !strings.HasPrefix(s.Name, p.Prefix) {
		return noPrefix
	}
	if s.Metadata == nil {
		return "no metadata (listed with verbose=false, or not taken by essnap)"
	}
	v, ok := s.Metadata[PolicyMetadataKey]
	if !ok {
		return "no " + PolicyMetadataKey + " metadata"
	}
	if id, ok := v.(string); !ok || id != p.PolicyID {
		return fmt.Sprintf("%s metadata is %s", PolicyMetadataKey, quoteAny(v))
	}
	return ""
}

func quoteAny(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%v", v)
}

// bucket is one restic-style calendar rule: it keeps the newest snapshot of
// each period until its count runs out.
type bucket struct {
	left int
	last int // period key of the last kept snapshot
}

// take reports whether a snapshot in period key is kept.
func (b *bucket) take(key int) bool {
	if b.left <= 0 || key == b.last {
		return false
	}
	b.left--
	b.last = key
	return true
}

// applySuccess decides the counted SUCCESS candidates (succ, newest first);
// alsoKept more SUCCESS candidates are kept regardless and count toward
// max_count.
func applySuccess(p Policy, snaps []Snapshot, now time.Time, succ []int32, alsoKept int, js []judged) {
	loc := p.Timezone.Location
	if loc == nil {
		loc = time.UTC
	}
	selective := p.ExpireAfter > 0 || p.KeepDaily > 0 || p.KeepWeekly > 0 || p.KeepMonthly > 0
	cutoff := now.Add(-p.ExpireAfter.Duration())
	age := p.ExpireAfter.String()
	withinExpire := "within expire_after " + age
	minCount := "within min_count " + strconv.Itoa(p.MinCount)
	var dropped string
	if p.ExpireAfter > 0 {
		dropped = "expired: older than expire_after " + age
	} else {
		var rules []string
		for _, r := range []struct {
			name string
			n    int
		}{{"keep_daily", p.KeepDaily}, {"keep_weekly", p.KeepWeekly}, {"keep_monthly", p.KeepMonthly}} {
			if r.n > 0 {
				rules = append(rules, r.name+" "+strconv.Itoa(r.n))
			}
		}
		dropped = "not retained by " + strings.Join(rules, ", ")
	}
	daily := bucket{left: p.KeepDaily, last: -1}
	weekly := bucket{left: p.KeepWeekly, last: -1}
	monthly := bucket{left: p.KeepMonthly, last: -1}

	kept := alsoKept
	for k, i := range succ {
		s, j := &snaps[i], &js[i] // j may already say "pinned"
		j.forced = j.pinned
		if k == 0 {
			j.add("newest successful snapshot")
			j.forced = true
		}
		if k < p.MinCount {
			j.add(minCount)
			j.forced = true
		}
		if p.ExpireAfter > 0 && !s.Start.Before(cutoff) {
			j.add(withinExpire)
		}
		if daily.left > 0 || weekly.left > 0 || monthly.left > 0 {
			t := s.Start.In(loc)
			y, m, d := t.Date()
			if daily.take(y*10000 + int(m)*100 + d) {
				j.add("daily snapshot " + t.Format("2006-01-02"))
			}
			if wy, w := t.ISOWeek(); weekly.take(wy*100 + w) {
				j.add(fmt.Sprintf("weekly snapshot %04d-W%02d", wy, w))
			}
			if monthly.take(y*100 + int(m)) {
				j.add("monthly snapshot " + t.Format("2006-01"))
			}
		}
		if selective && j.count() == 0 {
			j.v = vDelete
			j.add(dropped)
		} else {
			kept++
		}
	}

	if p.MaxCount > 0 {
		exceeded := "max_count " + strconv.Itoa(p.MaxCount) + " exceeded"
		for k := len(succ) - 1; k >= 0 && kept > p.MaxCount; k-- {
			j := &js[succ[k]]
			if j.forced || j.v == vDelete {
				continue
			}
			j.v = vDelete
			if j.count() > 0 {
				j.set(exceeded, "overrides: "+strings.Join(j.appendTo(nil), ", "))
			} else {
				j.set(exceeded)
			}
			kept--
		}
		within := "within max_count " + strconv.Itoa(p.MaxCount)
		for _, i := range succ {
			if j := &js[i]; j.v == vKeep && j.count() == 0 {
				j.add(within)
			}
		}
	}
}
