package setup

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/model"
)

// CheckAutomated is the verdict on the nightly schedule against AWS's
// automated snapshots (cs-automated, cs-automated-enc), which hold the
// repository lock while they run: a nightly snapshot started then waits
// (ConcurrentSnapshotError, retried) or, past its retries, is missed.
const CheckAutomated = "automated_snapshot_hour"

// collisionMargin widens each automated snapshot's observed run, since
// their start drifts by a few minutes from day to day.
const collisionMargin = 5

// lookBack is how far back automated snapshots are considered.
const lookBack = 7 * 24 * time.Hour

var dailyCron = regexp.MustCompile(`^cron\(\s*(\d{1,2})\s+(\d{1,2})\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*\)$`)

// DailyTime reads the time of day of an EventBridge Scheduler expression
// cron(MIN HOUR DOM MONTH DOW YEAR) with a single minute and hour. ok is
// false for rate(), at() and cron expressions with lists, ranges or steps
// in minute or hour, which run at no single time of day.
func DailyTime(expr string) (hour, minute int, ok bool) {
	m := dailyCron.FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		return 0, 0, false
	}
	minute, _ = strconv.Atoi(m[1])
	hour, _ = strconv.Atoi(m[2])
	if minute > 59 || hour > 23 {
		return 0, 0, false
	}
	return hour, minute, true
}

// AutomatedCollision judges whether the nightly schedule (expr in tz)
// starts while AWS's automated snapshots usually run, from the automated
// snapshots seen in the last 7 days (their start and end). Hourly
// automated snapshots (current domains) are compared by minute of the
// hour, daily ones (old Elasticsearch domains, automated_snapshot_start_hour)
// by time of day. A collision is a warning with a schedule that avoids it.
func AutomatedCollision(expr string, tz *time.Location, now time.Time, automated []model.Snapshot) Check {
	c := Check{Check: CheckAutomated, Status: OK}
	if expr == "" {
		c.Detail = "not checked: no nightly schedule given (schedule, ESSNAP_SCHEDULE)"
		return c
	}
	hour, minute, ok := DailyTime(expr)
	if !ok {
		c.Detail = fmt.Sprintf("not checked: %s runs at no single time of day", expr)
		return c
	}
	local := now.In(tz)
	nightly := time.Date(local.Year(), local.Month(), local.Day(), hour, minute, 0, 0, tz).UTC()
	var runs []model.Snapshot
	hours := map[int]bool{}
	for _, s := range automated {
		if s.Start.IsZero() || now.Sub(s.Start) > lookBack || s.Start.After(now) {
			continue
		}
		runs = append(runs, s)
		hours[s.Start.UTC().Hour()] = true
	}
	when := fmt.Sprintf("the nightly snapshot at %02d:%02d %s", hour, minute, tz)
	if nightly.Format("15:04") != fmt.Sprintf("%02d:%02d", hour, minute) {
		when += fmt.Sprintf(" (%s UTC)", nightly.Format("15:04"))
	}
	if len(runs) == 0 {
		c.Detail = when + " meets no automated snapshot: none seen in cs-automated repositories in the last 7 days"
		return c
	}
	period, unit := 24*60, "daily"
	if len(hours) >= 12 {
		period, unit = 60, "hourly"
	}
	of := func(t time.Time) int {
		t = t.UTC()
		return (t.Hour()*60 + t.Minute()) % period
	}
	covered := make([]bool, period)
	var starts []int
	for _, s := range runs {
		end := s.End
		if end.IsZero() || end.Before(s.Start) {
			end = s.Start.Add(time.Minute)
		}
		span := int(end.Sub(s.Start).Minutes()) + 2*collisionMargin
		if span > period {
			span = period
		}
		first := of(s.Start) - collisionMargin
		for i := 0; i <= span; i++ {
			covered[((first+i)%period+period)%period] = true
		}
		starts = appendInt(starts, of(s.Start))
	}
	sort.Ints(starts)
	seen := fmt.Sprintf("AWS's automated snapshots (%s, starting at %s UTC; %d seen in the last 7 days)", unit, clockList(starts, period), len(runs))
	if !covered[of(nightly)] {
		c.Detail = when + " is clear of " + seen
		return c
	}
	c.Status = Warn
	c.Detail = when + " falls within " + seen + "; take-snapshot then waits for them (ConcurrentSnapshotError, retried)"
	free, ok := farthestFree(covered)
	if !ok {
		c.Fix = "Automated snapshots cover every minute; keep the retries (the schedule's RetryPolicy) generous."
		return c
	}
	sugg := nightly
	if period == 60 {
		sugg = time.Date(nightly.Year(), nightly.Month(), nightly.Day(), nightly.Hour(), free, 0, 0, time.UTC)
	} else {
		sugg = time.Date(nightly.Year(), nightly.Month(), nightly.Day(), free/60, free%60, 0, 0, time.UTC)
	}
	s := sugg.In(tz)
	c.Fix = fmt.Sprintf("Move the nightly schedule clear of them, e.g. ScheduleExpression cron(%d %d * * ? *) in %s (%s UTC).", s.Minute(), s.Hour(), tz, sugg.Format("15:04"))
	return c
}

// farthestFree returns the free slot farthest from any covered one
// (circularly), false when every slot is covered.
func farthestFree(covered []bool) (int, bool) {
	n := len(covered)
	best, bestDist := -1, -1
	for i := 0; i < n; i++ {
		if covered[i] {
			continue
		}
		d := n
		for j := 1; j < n; j++ {
			if covered[(i+j)%n] || covered[(i-j%n+n)%n] {
				d = j
				break
			}
		}
		if d > bestDist {
			best, bestDist = i, d
		}
	}
	return best, best >= 0
}

func appendInt(list []int, v int) []int {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// clockList formats minute offsets as :MM (hourly) or HH:MM (daily), at
// most five of them.
func clockList(mins []int, period int) string {
	var out []string
	for i, m := range mins {
		if i == 5 {
			out = append(out, fmt.Sprintf("and %d more", len(mins)-5))
			break
		}
		if period == 60 {
			out = append(out, fmt.Sprintf(":%02d", m))
		} else {
			out = append(out, fmt.Sprintf("%02d:%02d", m/60, m%60))
		}
	}
	return strings.Join(out, ", ")
}
