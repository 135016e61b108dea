package failure

import (
	"reflect"
	"slices"
)

// Disposition is what Step Functions does with an error type: retry the
// invocation later, or catch the error and stop.
type Disposition int

// The two dispositions. The zero value means "not declared".
const (
	// Final: the same invocation fails the same way again (bad input,
	// permissions, a missing or failed snapshot, a conflict); retrying only
	// delays the report, so Retry blocks must never name it.
	Final Disposition = iota + 1
	// Transient: the same invocation can succeed later (another snapshot
	// runs; the engine was throttled, down or its answer was lost, and the
	// operation already checked what it did). Every Task retries it with
	// backoff; reruns are safe because every essnap operation is idempotent.
	Transient
)

// String names the disposition as the declaration and test messages do.
func (d Disposition) String() string {
	switch d {
	case Final:
		return "final"
	case Transient:
		return "transient"
	}
	return "undeclared"
}

// declared is the one declaration of every errorType an essnap function
// returns and whether Step Functions retries it. Everything else derives
// from it: IsTyped, Retryable, and the Retry/Catch blocks of
// statemachine/migration.asl.json, which retry_test.go checks against it
// (only Transient names in Retry, only declared names anywhere, every
// Transient name retried by every Task that calls a function).
//
// It is the outer of two retry layers. Inside one invocation, the esclient
// transport repeats single HTTP requests by its own table (esclient's
// repeatOn: which answers, for which requests) and gives up early enough to
// report; what it gives up on is classified here and, if Transient, retried
// by Step Functions as a whole invocation.
var declared = []struct {
	// Type is a nil pointer of the error type; its name is the errorType.
	Type        error
	Disposition Disposition
}{
	{(*ValidationError)(nil), Final},
	{(*AccessDeniedError)(nil), Final},
	{(*RepositoryMissingError)(nil), Final},
	{(*SnapshotMissingError)(nil), Final},
	{(*ConcurrentSnapshotError)(nil), Transient},
	{(*IndexConflictError)(nil), Final},
	{(*SnapshotFailedError)(nil), Final},
	{(*VersionMismatchError)(nil), Final},
	{(*EngineUnavailableError)(nil), Transient},
	{(*EngineError)(nil), Final},
	{(*InsufficientStorageError)(nil), Final},
	{(*VerificationError)(nil), Final},
	{(*ReindexFailedError)(nil), Final},
	{(*SourceUnreachableError)(nil), Final},
}

// dispositions and byName index declared by Go type and by errorType.
var (
	dispositions = map[reflect.Type]Disposition{}
	byName       = map[string]Disposition{}
)

func init() {
	for _, d := range declared {
		dispositions[reflect.TypeOf(d.Type)] = d.Disposition
		byName[TypeName(d.Type)] = d.Disposition
	}
}

// TypeName is the errorType aws-lambda-go reports for err (the Go type name
// without the pointer), which Step Functions' ErrorEquals matches.
func TypeName(err error) string {
	if err == nil {
		return ""
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// DispositionOf looks an errorType up in the declaration; ok is false for a name
// no essnap function returns.
func DispositionOf(errorType string) (d Disposition, ok bool) {
	d, ok = byName[errorType]
	return d, ok
}

// Names lists the declared errorTypes of one disposition, sorted, for
// documentation and for checks of the state machine.
func Names(d Disposition) []string {
	var out []string
	for n, v := range byName {
		if v == d {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
