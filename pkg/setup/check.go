package setup

import (
	"errors"
	"strings"
)

// Status is a check's verdict.
type Status string

// The three verdicts, from good to bad. A warning is something that may
// work but could not be confirmed, or works with a known risk; a failure
// is something that will make a snapshot or a registration fail.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// rank orders statuses so the worst of several can be taken.
func (s Status) rank() int {
	switch s {
	case OK:
		return 0
	case Warn:
		return 1
	}
	return 2
}

// Worse returns the worse of two statuses.
func Worse(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Check is one verdict of the doctor or the pre-check, in the shape the
// doctor returns: which check, its status, what was found, and the fix.
type Check struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	// Fix is what to do, with any statement to paste; empty when ok.
	Fix string `json:"fix,omitempty"`
}

// Worst is the worst status of checks (OK when there are none).
func Worst(checks []Check) Status {
	s := OK
	for _, c := range checks {
		s = Worse(s, c.Status)
	}
	return s
}

// Merge folds several verdicts of one check into one: the worst status,
// the details and fixes of the non-ok parts (or of all when all are ok).
func Merge(name string, parts ...Check) Check {
	out := Check{Check: name, Status: Worst(parts)}
	var details, fixes []string
	for _, p := range parts {
		if out.Status != OK && p.Status == OK {
			continue
		}
		if p.Detail != "" {
			details = append(details, p.Detail)
		}
		if p.Fix != "" {
			fixes = append(fixes, p.Fix)
		}
	}
	out.Detail = strings.Join(details, "; ")
	out.Fix = strings.Join(fixes, " ")
	return out
}

// ErrNoSuchEntity marks an IAM answer that the named role or user does not
// exist (NoSuchEntity): a failure of the setup, not of the check.
var ErrNoSuchEntity = errors.New("no such IAM entity")

// ErrNotPermitted marks an IAM or STS call the caller may not make
// (AccessDenied): the check cannot run, which is a warning, not a failure.
var ErrNotPermitted = errors.New("not permitted to call IAM")
