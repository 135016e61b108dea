package failure_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/essnap/essnap/pkg/failure"
)

// aslDefinition is the migration state machine, relative to this package.
var aslDefinition = filepath.Join("..", "..", "statemachine", "migration.asl.json")

// TestDeclarationCoversEveryType: each declared name is a real type name
// (TypeName of a value of it), IsTyped agrees with the declaration, and the
// two dispositions split the types with nothing left over.
func TestDeclarationCoversEveryType(t *testing.T) {
	d := &failure.Detail{Message: "x"}
	values := []error{
		&failure.ValidationError{Detail: d}, &failure.AccessDeniedError{Detail: d}, &failure.RepositoryMissingError{Detail: d},
		&failure.SnapshotMissingError{Detail: d}, &failure.ConcurrentSnapshotError{Detail: d}, &failure.IndexConflictError{Detail: d},
		&failure.SnapshotFailedError{Detail: d}, &failure.VersionMismatchError{Detail: d}, &failure.EngineUnavailableError{Detail: d},
		&failure.EngineError{Detail: d}, &failure.InsufficientStorageError{Detail: d}, &failure.VerificationError{Detail: d},
		&failure.ReindexFailedError{Detail: d}, &failure.SourceUnreachableError{Detail: d},
	}
	var names []string
	for _, v := range values {
		n := failure.TypeName(v)
		if n != typeName(v) {
			t.Errorf("TypeName(%T) = %q, aws-lambda-go reports %q", v, n, typeName(v))
		}
		if _, ok := failure.DispositionOf(n); !ok {
			t.Errorf("%s is not declared", n)
		}
		if !failure.IsTyped(v) {
			t.Errorf("IsTyped(%T) = false", v)
		}
		names = append(names, n)
	}
	all := append(failure.Names(failure.Final), failure.Names(failure.Transient)...)
	slices.Sort(all)
	slices.Sort(names)
	if !slices.Equal(all, names) {
		t.Fatalf("declared %v, types %v", all, names)
	}
	if got := failure.Names(failure.Transient); !slices.Equal(got, []string{"ConcurrentSnapshotError", "EngineUnavailableError"}) {
		t.Fatalf("transient types %v; a change here must change the state machine's Retry blocks and the README table", got)
	}
	if _, ok := failure.DispositionOf("CollisionError"); ok {
		t.Fatal("an undeclared name is declared")
	}
	if failure.IsTyped(nil) || failure.TypeName(nil) != "" {
		t.Fatal("nil is typed")
	}
}

// TestStateMachineRetriesOnlyTransientTypes walks every Retry and Catch of
// every state of statemachine/migration.asl.json (Parallel branches and Map
// processors included) against the Go declaration.
func TestStateMachineRetriesOnlyTransientTypes(t *testing.T) {
	raw, err := os.ReadFile(aslDefinition)
	if err != nil {
		t.Fatal(err)
	}
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatalf("%s: %v", aslDefinition, err)
	}
	rep := checkASL(def)
	for _, p := range rep.problems {
		t.Error(p)
	}
	if rep.tasks < 8 || rep.retries == 0 || rep.catches == 0 {
		t.Fatalf("walked %d function tasks, %d Retry and %d Catch entries: the walk missed the states", rep.tasks, rep.retries, rep.catches)
	}
}

// TestASLCheckFindsNestedMistakes proves the walk on a definition with
// mistakes in a Parallel branch and in Map processors (old and new form),
// which the real definition may not have.
func TestASLCheckFindsNestedMistakes(t *testing.T) {
	fn := func(retry, catch []string) map[string]any {
		s := map[string]any{"Type": "Task", "Resource": "${VerifyFunctionArn}", "End": true}
		if retry != nil {
			s["Retry"] = []any{map[string]any{"ErrorEquals": toAny(retry)}}
		}
		if catch != nil {
			s["Catch"] = []any{map[string]any{"ErrorEquals": toAny(catch), "Next": "X"}}
		}
		return s
	}
	transient := failure.Names(failure.Transient)
	def := map[string]any{"States": map[string]any{
		"Ok": fn(append(transient, "Lambda.ServiceException", "States.Timeout"), []string{"States.ALL"}),
		"P": map[string]any{"Type": "Parallel", "Branches": []any{
			map[string]any{"States": map[string]any{"FinalRetried": fn(append([]string{"ValidationError"}, transient...), nil)}},
		}},
		"M": map[string]any{"Type": "Map", "Iterator": map[string]any{"States": map[string]any{
			"Everything": fn(append([]string{"States.ALL"}, transient...), nil),
		}}},
		"M2": map[string]any{"Type": "Map", "ItemProcessor": map[string]any{"States": map[string]any{
			"Typo":     fn(append([]string{"EngineUnavaillableError"}, transient...), []string{"SnapshotFaildError"}),
			"NoRetry":  fn(nil, nil),
			"Catching": fn(transient, []string{"IndexConflictError", "States.TaskFailed"}),
		}}},
	}}
	rep := checkASL(def)
	want := []string{
		"P[0]/FinalRetried: Retry[0] retries ValidationError, which is final",
		"M/Everything: Retry[0] retries States.ALL",
		"M2/Typo: Retry[0] names EngineUnavaillableError, which no essnap function returns",
		"M2/Typo: Catch[0] names SnapshotFaildError, which no essnap function returns",
		"M2/NoRetry: never retries EngineUnavailableError",
	}
	for _, w := range want {
		if !slices.ContainsFunc(rep.problems, func(p string) bool { return strings.HasPrefix(p, w) }) {
			t.Errorf("missing problem %q in %q", w, rep.problems)
		}
	}
	if len(rep.problems) != len(want) {
		t.Errorf("problems %q, want %d", rep.problems, len(want))
	}
	only := checkASL(map[string]any{"States": map[string]any{"T": fn([]string{"EngineUnavailableError"}, nil)}})
	if !slices.Equal(only.problems, []string{"no state retries ConcurrentSnapshotError, which is transient"}) {
		t.Errorf("a transient type retried nowhere: problems %q", only.problems)
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

type aslReport struct {
	problems                []string
	tasks, retries, catches int
}

// checkASL checks a state machine definition against failure's declaration:
//   - Retry names only Transient types, Lambda.* service errors or the
//     narrow States.* errors (never States.ALL or States.TaskFailed, which
//     match every function error, final ones included);
//   - Catch names only declared types, Lambda.* or States.*;
//   - every Task that invokes an essnap function retries
//     EngineUnavailableError (each function talks to a domain, and the
//     transport types an unreachable or overloaded one so);
//   - every Transient type is retried by some Task, so the declaration and
//     the state machine agree both ways. ConcurrentSnapshotError is retried
//     only where snapshots are taken and restored (docs/migration.md), with a
//     longer backoff.
func checkASL(def map[string]any) aslReport {
	var r aslReport
	retried := map[string]bool{}
	r.walk("", def, retried)
	for _, n := range failure.Names(failure.Transient) {
		if !retried[n] {
			r.problems = append(r.problems, fmt.Sprintf("no state retries %s, which is transient", n))
		}
	}
	return r
}

func (r *aslReport) walk(prefix string, machine map[string]any, anywhere map[string]bool) {
	states, _ := machine["States"].(map[string]any)
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		s, _ := states[name].(map[string]any)
		at := prefix + name
		retried := map[string]bool{}
		for i, e := range list(s["Retry"]) {
			r.retries++
			for _, n := range errorEquals(e) {
				retried[n], anywhere[n] = true, true
				r.checkRetry(fmt.Sprintf("%s: Retry[%d]", at, i), n)
			}
		}
		for i, e := range list(s["Catch"]) {
			r.catches++
			for _, n := range errorEquals(e) {
				if !service(n) {
					if _, ok := failure.DispositionOf(n); !ok {
						r.problems = append(r.problems, fmt.Sprintf("%s: Catch[%d] names %s, which no essnap function returns", at, i, n))
					}
				}
			}
		}
		if res, _ := s["Resource"].(string); s["Type"] == "Task" && strings.HasPrefix(res, "${") && strings.HasSuffix(res, "FunctionArn}") {
			r.tasks++
			if !retried["EngineUnavailableError"] {
				r.problems = append(r.problems, fmt.Sprintf("%s: never retries EngineUnavailableError, which is transient", at))
			}
		}
		for i, b := range list(s["Branches"]) {
			m, _ := b.(map[string]any)
			r.walk(fmt.Sprintf("%s[%d]/", at, i), m, anywhere)
		}
		for _, key := range []string{"Iterator", "ItemProcessor"} {
			if m, ok := s[key].(map[string]any); ok {
				r.walk(at+"/", m, anywhere)
			}
		}
	}
}

func (r *aslReport) checkRetry(at, n string) {
	switch {
	case n == "States.ALL" || n == "States.TaskFailed":
		r.problems = append(r.problems, fmt.Sprintf("%s retries %s, which matches final types too", at, n))
	case service(n):
	default:
		d, ok := failure.DispositionOf(n)
		switch {
		case !ok:
			r.problems = append(r.problems, fmt.Sprintf("%s names %s, which no essnap function returns", at, n))
		case d != failure.Transient:
			r.problems = append(r.problems, fmt.Sprintf("%s retries %s, which is %s", at, n, d))
		}
	}
}

// service reports whether n is a Step Functions or Lambda service error
// rather than an essnap errorType.
func service(n string) bool {
	return strings.HasPrefix(n, "States.") || strings.HasPrefix(n, "Lambda.")
}

func list(v any) []any { l, _ := v.([]any); return l }

func errorEquals(v any) []string {
	m, _ := v.(map[string]any)
	var out []string
	for _, n := range list(m["ErrorEquals"]) {
		s, _ := n.(string)
		out = append(out, s)
	}
	return out
}
