package retention

import (
	"bytes"
	"fmt"
	"github.com/essnap/essnap/pkg/model"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The invariants below are checked against an independent reading of the
// rules, not against Apply's internals.

// isCandidate restates the candidate rule.
func isCandidate(p Policy, s *Snapshot) bool {
	if len(s.Name) < len(p.Prefix) || s.Name[:len(p.Prefix)] != p.Prefix {
		return false
	}
	id, ok := s.Metadata[PolicyMetadataKey].(string)
	return ok && id == p.PolicyID
}

func isPinned(p Policy, s *Snapshot) bool {
	key := p.PinKey
	if key == "" {
		key = DefaultPinKey
	}
	v, ok := s.Metadata[key].(bool)
	return ok && v
}

// snapKey identifies an input entry for the partition check.
type snapKey struct {
	name, uuid, state string
	start, end        time.Time
}

func keyOf(s *Snapshot) snapKey { return snapKey{s.Name, s.UUID, s.State, s.Start, s.End} }

// checkPlan verifies every invariant of Apply's result.
func checkPlan(t testing.TB, p Policy, snaps []Snapshot, now time.Time, plan Plan) {
	t.Helper()
	valid := p.Validate() == nil

	// Keep ∪ Delete ∪ Ignored is exactly the input: nothing lost, nothing
	// duplicated, nothing invented.
	count := map[snapKey]int{}
	for i := range snaps {
		count[keyOf(&snaps[i])]++
	}
	verdict := map[snapKey]string{}
	for _, list := range []struct {
		name string
		ds   []Decision
	}{{"keep", plan.Keep}, {"delete", plan.Delete}, {"ignored", plan.Ignored}} {
		for k, d := range list.ds {
			key := keyOf(&d.Snapshot)
			count[key]--
			if v, ok := verdict[key]; ok && v != list.name {
				t.Errorf("%s is in both %s and %s", d.Snapshot.Name, v, list.name)
			}
			verdict[key] = list.name
			if len(d.Reasons) == 0 {
				t.Errorf("%s (%s) has no reason", d.Snapshot.Name, list.name)
			}
			for _, r := range d.Reasons {
				if r == "" {
					t.Errorf("%s (%s) has an empty reason", d.Snapshot.Name, list.name)
				}
			}
			if k > 0 && newer(&list.ds[k-1].Snapshot, &d.Snapshot) > 0 {
				t.Errorf("%s list not sorted newest first at %d", list.name, k)
			}
		}
	}
	for k, c := range count {
		if c != 0 {
			t.Errorf("%s: %+d decisions compared with the input", k.name, -c)
		}
	}

	// Exactly the non-candidates are ignored.
	for _, d := range plan.Ignored {
		if isCandidate(p, &d.Snapshot) {
			t.Errorf("candidate %s ignored", d.Snapshot.Name)
		}
	}
	for _, list := range [][]Decision{plan.Keep, plan.Delete} {
		for _, d := range list {
			if !isCandidate(p, &d.Snapshot) {
				t.Errorf("non-candidate %s was judged (%v)", d.Snapshot.Name, d.Reasons)
			}
		}
	}

	if !valid && len(plan.Delete) > 0 {
		t.Errorf("invalid policy deleted %d snapshots", len(plan.Delete))
	}

	// SUCCESS candidates with a known start, newest first, as documented.
	var succ []*Snapshot
	remaining, successCandidates, forcedExtra := 0, 0, 0
	for i := range snaps {
		s := &snaps[i]
		if !isCandidate(p, s) || s.State != StateSuccess {
			continue
		}
		successCandidates++
		if s.Start.IsZero() {
			forcedExtra++
		} else {
			succ = append(succ, s)
		}
		if verdict[keyOf(s)] != "delete" {
			remaining++
		}
	}
	slices.SortStableFunc(succ, newer)
	if len(succ) > 0 && verdict[keyOf(succ[0])] == "delete" {
		t.Errorf("newest successful snapshot %s deleted", succ[0].Name)
	}
	for k, s := range succ {
		if k < p.MinCount && verdict[keyOf(s)] == "delete" {
			t.Errorf("%s is within min_count %d but deleted", s.Name, p.MinCount)
		}
	}
	if want := min(p.MinCount, successCandidates); remaining < want {
		t.Errorf("%d SUCCESS candidates remain, min_count wants %d", remaining, want)
	}
	if valid && p.MaxCount > 0 {
		forced := forcedExtra
		for k, s := range succ {
			if k < max(p.MinCount, 1) || isPinned(p, s) {
				forced++
			}
		}
		if remaining > max(p.MaxCount, forced) {
			t.Errorf("%d SUCCESS candidates remain, max_count %d (forced keeps %d)", remaining, p.MaxCount, forced)
		}
	}

	for _, d := range plan.Delete {
		s := &d.Snapshot
		switch {
		case s.State == StateInProgress:
			t.Errorf("in-progress %s deleted", s.Name)
		case isPinned(p, s):
			t.Errorf("pinned %s deleted", s.Name)
		case s.Start.IsZero():
			t.Errorf("%s with unknown start deleted", s.Name)
		case s.State == StateFailed || s.State == StatePartial:
			// Only once a newer SUCCESS candidate exists and is kept.
			superseded := false
			for _, o := range succ {
				if o.Start.After(s.Start) && verdict[keyOf(o)] == "keep" {
					superseded = true
				}
			}
			if !superseded {
				t.Errorf("%s %s deleted without a newer kept success", s.State, s.Name)
			}
		case s.State == StateSuccess:
			// Inside expire_after only max_count may delete.
			if p.ExpireAfter > 0 && !s.Start.Before(now.Add(-p.ExpireAfter.Duration())) &&
				(len(d.Reasons) == 0 || d.Reasons[0] != fmt.Sprintf("max_count %d exceeded", p.MaxCount)) {
				t.Errorf("%s within expire_after deleted: %v", s.Name, d.Reasons)
			}
		default:
			t.Errorf("%s in state %q deleted", s.Name, s.State)
		}
	}
}

// checkApply runs Apply and checks purity on top of checkPlan: the input is
// untouched, a second run gives the same plan, and so does shuffled input
// when entries are distinguishable.
func checkApply(t testing.TB, p Policy, snaps []Snapshot, now time.Time, shuffle *rand.Rand) Plan {
	t.Helper()
	before := slices.Clone(snaps)
	plan := Apply(p, snaps, now)
	if !reflect.DeepEqual(before, snaps) {
		t.Fatal("Apply modified its input")
	}
	checkPlan(t, p, snaps, now, plan)
	if again := Apply(p, snaps, now); !reflect.DeepEqual(plan, again) {
		t.Fatal("Apply is not deterministic")
	}
	if shuffle != nil {
		seen := map[snapKey]bool{}
		distinct := true
		for i := range snaps {
			k := keyOf(&snaps[i])
			k.state, k.end = "", time.Time{} // order ignores these
			distinct = distinct && !seen[k]
			seen[k] = true
		}
		if distinct {
			mixed := slices.Clone(snaps)
			shuffle.Shuffle(len(mixed), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })
			if other := Apply(p, mixed, now); !reflect.DeepEqual(plan, other) {
				t.Fatal("plan depends on input order")
			}
		}
	}
	return plan
}

// fuzzNow is the clock of generated cases.
var fuzzNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// byteSource turns fuzz bytes into choices; exhausted input reads as zeros.
type byteSource []byte

func (b *byteSource) next() byte {
	if len(*b) == 0 {
		return 0
	}
	c := (*b)[0]
	*b = (*b)[1:]
	return c
}

// caseFromBytes builds a policy and a listing from arbitrary bytes, biased
// towards the situations the rules distinguish: few start times (ties), a
// span of about two months (calendar buckets, expiry), all states, foreign
// and pinned snapshots, and sometimes an invalid policy.
func caseFromBytes(data []byte) (Policy, []Snapshot) {
	b := byteSource(data)
	ages := []time.Duration{0, time.Hour, 36 * time.Hour, 7 * day, 30 * day}
	p := Policy{
		Prefix:      "essnap-",
		PolicyID:    "p",
		ExpireAfter: Age(ages[int(b.next())%len(ages)]),
		MinCount:    int(b.next() % 6),
		MaxCount:    int(b.next() % 12),
		KeepDaily:   int(b.next() % 5),
		KeepWeekly:  int(b.next() % 4),
		KeepMonthly: int(b.next() % 3),
	}
	switch f := b.next(); f % 8 {
	case 1:
		p.Timezone = Zone{time.FixedZone("UTC-7", -7*3600)}
	case 2:
		p.Timezone = Zone{time.FixedZone("UTC+13", 13*3600)}
	case 3:
		p.PinKey = "keep"
	case 4:
		p.MinCount = -1 // invalid
	case 5:
		p.MinCount, p.MaxCount = 5, 2 // invalid
	}
	states := []string{StateSuccess, StateSuccess, StateSuccess, StateFailed, StatePartial, StateInProgress, StateIncompatible, ""}
	n := int(b.next() % 48)
	snaps := make([]Snapshot, 0, n)
	for i := range n {
		st, when, flags, tie := b.next(), b.next(), b.next(), b.next()
		s := Snapshot{
			Name:  fmt.Sprintf("essnap-%03d", i),
			UUID:  fmt.Sprintf("u%d", i),
			State: states[int(st)%len(states)],
		}
		if when != 255 {
			// 0..254 steps of 6h back from now, plus a few minutes.
			s.Start = fuzzNow.Add(-time.Duration(when)*6*time.Hour - time.Duration(tie%4)*time.Minute)
			s.End = s.Start.Add(time.Minute)
		}
		if tie&0x80 != 0 {
			s.Name = fmt.Sprintf("essnap-%03d", tie%8) // name ties
		}
		switch flags % 8 {
		case 0, 1, 2, 3:
			s.Metadata = map[string]any{PolicyMetadataKey: "p"}
		case 4:
			s.Metadata = map[string]any{PolicyMetadataKey: "q"}
		case 5:
			s.Metadata = map[string]any{PolicyMetadataKey: 1.0}
		case 6:
			s.Name = "cs-" + s.Name[len("essnap-"):]
			s.Metadata = map[string]any{PolicyMetadataKey: "p"}
		case 7: // verbose=false listing: no metadata
		}
		if s.Metadata != nil {
			switch (flags >> 3) % 8 {
			case 0:
				s.Metadata[DefaultPinKey] = true
			case 1:
				s.Metadata["keep"] = true
			case 2:
				s.Metadata[DefaultPinKey] = "true" // not a pin: must be a boolean
			}
		}
		snaps = append(snaps, s)
	}
	return p, snaps
}

// FuzzApply checks the invariants of checkPlan on arbitrary listings and
// policies.
func FuzzApply(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 5, 3, 2, 1, 0, 20, 0, 0, 0, 0, 0, 1, 0, 0, 3, 2, 0, 0, 1, 40, 0, 0})
	f.Add([]byte{2, 0, 3, 0, 0, 0, 0, 30, 3, 4, 0, 1, 0, 5, 0, 1, 4, 9, 1, 0, 0, 200, 0, 0})
	f.Add([]byte{0, 0, 0, 4, 3, 2, 1, 10, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 255, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, snaps := caseFromBytes(data)
		checkApply(t, p, snaps, fuzzNow, rand.New(rand.NewPCG(uint64(len(data)), 1)))
	})
}

// TestApplyProperties runs the fuzz invariants on seeded random cases, so
// plain go test covers them.
func TestApplyProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(20261123, 42))
	cases := 3000
	if testing.Short() {
		cases = 300
	}
	buf := make([]byte, 0, 256)
	for i := range cases {
		buf = buf[:0]
		for range 8 + r.IntN(200) {
			buf = append(buf, byte(r.Uint32()))
		}
		p, snaps := caseFromBytes(buf)
		ok := t.Run(fmt.Sprint(i), func(t *testing.T) {
			checkApply(t, p, snaps, fuzzNow, r)
		})
		if !ok {
			t.Fatalf("case %d failed; bytes %v", i, buf)
		}
	}
}

// TestApplyProperties10k checks the invariants on the benchmark listing.
func TestApplyProperties10k(t *testing.T) {
	if testing.Short() {
		t.Skip("large listing")
	}
	data, last := genListing(10_000, 1)
	snaps, err := model.DecodeListing(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	plan := checkApply(t, benchPolicy, snaps, last.Add(time.Hour), nil)
	if len(plan.Delete) == 0 || len(plan.Ignored) == 0 || len(plan.Keep) == 0 {
		t.Fatalf("degenerate plan: keep %d delete %d ignored %d", len(plan.Keep), len(plan.Delete), len(plan.Ignored))
	}
}
