package failure_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/snapshot"
)

// typeName is what aws-lambda-go reports as errorType: the Go type name.
func typeName(err error) string {
	if err == nil {
		return "<nil>"
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// detailOf returns the *failure.Detail a typed error embeds.
func detailOf(t *testing.T, err error) *failure.Detail {
	t.Helper()
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		t.Fatalf("%T is not a pointer to a struct", err)
	}
	f := v.Elem().FieldByName("Detail")
	if !f.IsValid() {
		t.Fatalf("%T has no Detail", err)
	}
	d, ok := f.Interface().(*failure.Detail)
	if !ok || d == nil {
		t.Fatalf("%T has no *Detail", err)
	}
	return d
}

func apiErr(method, path string, status int, body string) *esclient.APIError {
	return esclient.ParseError(method, path, status, []byte(body))
}

// Realistic bodies from AWS domains and the engines (field notes §3, §4).
const (
	bodyPassRole   = `{"Message":"User: arn:aws:sts::123:assumed-role/x/y is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123:role/SnapshotRole"}`
	bodyBadToken   = `{"message":"The security token included in the request is invalid."}`
	bodyFGAC       = `{"error":{"root_cause":[{"type":"security_exception","reason":"no permissions for [cluster:admin/repository/put] and User [name=arn:aws:iam::123:role/fn, backend_roles=[], requestedTenant=null]"}],"type":"security_exception","reason":"no permissions for [cluster:admin/repository/put] and User [name=arn:aws:iam::123:role/fn, backend_roles=[], requestedTenant=null]"},"status":403}`
	bodyRoleARN    = `{"Message":"settings.role_arn is needed for snapshot registration."}`
	bodyESHttp     = `{"Message":"User: arn:aws:sts::123456789012:assumed-role/fn-role/fn is not authorized to perform: es:ESHttpPut on resource: arn:aws:es:eu-west-1:123456789012:domain/logs/_snapshot/essnap"}`
	bodyAnonymous  = `{"Message":"User: anonymous is not authorized to perform: es:ESHttpGet"}`
	bodyService    = `{"message":"Credential should be scoped to correct service: 'es'. "}`
	bodyRegion     = `{"message":"Credential should be scoped to a valid region, not 'us-east-1'. "}`
	bodyRepoMiss   = `{"error":{"root_cause":[{"type":"repository_missing_exception","reason":"[r] missing"}],"type":"repository_missing_exception","reason":"[r] missing"},"status":404}`
	bodySnapMiss   = `{"error":{"root_cause":[{"type":"snapshot_missing_exception","reason":"[r:s] is missing"}],"type":"snapshot_missing_exception","reason":"[r:s] is missing"},"status":404}`
	bodyNoSnap     = `{"error":{"root_cause":[{"type":"snapshot_restore_exception","reason":"[r:s] snapshot does not exist"}],"type":"snapshot_restore_exception","reason":"[r:s] snapshot does not exist"},"status":500}`
	bodyConcurrent = `{"error":{"root_cause":[{"type":"concurrent_snapshot_execution_exception","reason":"[r:s] cannot snapshot while a snapshot deletion is in-progress in [SnapshotDeletionsInProgress[]]"}],"type":"concurrent_snapshot_execution_exception","reason":"[r:s] cannot snapshot while a snapshot deletion is in-progress in [SnapshotDeletionsInProgress[]]"},"status":503}`
	bodyRunning    = `{"error":{"root_cause":[{"type":"concurrent_snapshot_execution_exception","reason":"[r:s2] a snapshot is already running"}],"type":"concurrent_snapshot_execution_exception","reason":"[r:s2] a snapshot is already running"},"status":503}`
	bodyInProgress = `{"error":{"root_cause":[{"type":"snapshot_in_progress_exception","reason":"Cannot delete indices that are being snapshotted: [[logs/abc]]. Try again after snapshot finishes or cancel the currently running snapshot."}],"type":"snapshot_in_progress_exception","reason":"Cannot delete indices that are being snapshotted: [[logs/abc]]. Try again after snapshot finishes or cancel the currently running snapshot."},"status":400}`
	bodyOpenIndex  = `{"error":{"root_cause":[{"type":"snapshot_restore_exception","reason":"[r:s/uuid] cannot restore index [x] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name"}],"type":"snapshot_restore_exception","reason":"[r:s/uuid] cannot restore index [x] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name"},"status":500}`
	bodySameIndex  = `{"error":{"root_cause":[{"type":"snapshot_restore_exception","reason":"[r:s] indices [a] and [b] are renamed into the same index [x]"}],"type":"snapshot_restore_exception","reason":"[r:s] indices [a] and [b] are renamed into the same index [x]"},"status":500}`
	bodyVersion    = `{"error":{"root_cause":[{"type":"snapshot_restore_exception","reason":"[r:s/uuid] the snapshot was created with Elasticsearch version [7.10.2] which is higher than the version of this node [6.8.0]"}],"type":"snapshot_restore_exception","reason":"[r:s/uuid] the snapshot was created with Elasticsearch version [7.10.2] which is higher than the version of this node [6.8.0]"},"status":500}`
	bodyGateway    = `<html><body><h1>504 Gateway Time-out</h1>The server didn't respond in time.</body></html>`
	bodyTooMany    = `{"error":{"root_cause":[{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}],"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"},"status":429}`
	bodyBadName    = `{"error":{"root_cause":[{"type":"invalid_snapshot_name_exception","reason":"[r:Nightly] Invalid snapshot name [Nightly], must be lowercase"}],"type":"invalid_snapshot_name_exception","reason":"[r:Nightly] Invalid snapshot name [Nightly], must be lowercase"},"status":400}`
	bodyVerify     = `{"error":{"root_cause":[{"type":"repository_verification_exception","reason":"[r] path  is not accessible on master node"}],"type":"repository_verification_exception","reason":"[r] path  is not accessible on master node"},"status":500}`
	bodyAliasName  = `{"error":{"root_cause":[{"type":"invalid_index_name_exception","reason":"Invalid index name [logs-restored], already exists as alias","index_uuid":"_na_","index":"logs-restored"}],"type":"invalid_index_name_exception","reason":"Invalid index name [logs-restored], already exists as alias","index_uuid":"_na_","index":"logs-restored"},"status":400}`
	bodyNoIndex    = `{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [x]"}],"type":"index_not_found_exception","reason":"no such index [x]","index":"x"},"status":404}`
)

func TestClassifyAPIErrors(t *testing.T) {
	cases := []struct {
		name   string
		err    *esclient.APIError
		want   string
		status int
		typ    string
		reason string // fragment of the carried reason
	}{
		{"IAM PassRole", apiErr("PUT", "/_snapshot/r", 403, bodyPassRole), "AccessDeniedError", 403, "", "iam:PassRole"},
		{"invalid security token", apiErr("GET", "/_snapshot/r", 403, bodyBadToken), "AccessDeniedError", 403, "", "security token"},
		{"fine-grained access control", apiErr("PUT", "/_snapshot/r", 403, bodyFGAC), "AccessDeniedError", 403, "security_exception", "cluster:admin/repository/put"},
		{"role_arn missing is a 400", apiErr("PUT", "/_snapshot/r", 400, bodyRoleARN), "AccessDeniedError", 400, "", "role_arn is needed"},
		{"es:ESHttp denied", apiErr("PUT", "/_snapshot/essnap", 403, bodyESHttp), "AccessDeniedError", 403, "", "es:ESHttpPut"},
		{"anonymous", apiErr("GET", "/", 403, bodyAnonymous), "AccessDeniedError", 403, "", "anonymous"},
		{"wrong signing service", apiErr("GET", "/", 403, bodyService), "AccessDeniedError", 403, "", "correct service"},
		{"401", apiErr("GET", "/", 401, `{"message":"Unauthorized"}`), "AccessDeniedError", 401, "", "Unauthorized"},
		{"repository missing", apiErr("GET", "/_snapshot/r", 404, bodyRepoMiss), "RepositoryMissingError", 404, "repository_missing_exception", "[r] missing"},
		{"snapshot missing", apiErr("GET", "/_snapshot/r/s", 404, bodySnapMiss), "SnapshotMissingError", 404, "snapshot_missing_exception", "[r:s] is missing"},
		{"restore of a missing snapshot is a 500", apiErr("POST", "/_snapshot/r/s/_restore", 500, bodyNoSnap), "SnapshotMissingError", 500, "snapshot_restore_exception", "snapshot does not exist"},
		{"concurrent snapshot", apiErr("PUT", "/_snapshot/r/s", 503, bodyConcurrent), "ConcurrentSnapshotError", 503, "concurrent_snapshot_execution_exception", "deletion is in-progress"},
		{"a snapshot is already running", apiErr("PUT", "/_snapshot/r/s2", 503, bodyRunning), "ConcurrentSnapshotError", 503, "concurrent_snapshot_execution_exception", "already running"},
		{"index being snapshotted", apiErr("DELETE", "/logs", 400, bodyInProgress), "ConcurrentSnapshotError", 400, "snapshot_in_progress_exception", "being snapshotted"},
		{"open index with same name", apiErr("POST", "/_snapshot/r/s/_restore", 500, bodyOpenIndex), "IndexConflictError", 500, "snapshot_restore_exception", "an open index with same name already exists"},
		{"renamed into the same index", apiErr("POST", "/_snapshot/r/s/_restore", 500, bodySameIndex), "IndexConflictError", 500, "snapshot_restore_exception", "renamed into the same index [x]"},
		{"restore onto an alias's name", apiErr("POST", "/_snapshot/r/s/_restore", 400, bodyAliasName), "IndexConflictError", 400, "invalid_index_name_exception", "already exists as alias"},
		{"newer snapshot version", apiErr("POST", "/_snapshot/r/s/_restore", 500, bodyVersion), "VersionMismatchError", 500, "snapshot_restore_exception", "[7.10.2] which is higher"},
		{"504 HTML body", apiErr("PUT", "/_snapshot/r/s", 504, bodyGateway), "EngineUnavailableError", 504, "", "Gateway Time-out"},
		{"502 empty body", apiErr("PUT", "/_snapshot/r/s", 502, ``), "EngineUnavailableError", 502, "", "Bad Gateway"},
		{"503 from the load balancer", apiErr("GET", "/_snapshot/r/s", 503, `<html>Service Unavailable</html>`), "EngineUnavailableError", 503, "", "Service Unavailable"},
		{"429 engine", apiErr("POST", "/_snapshot/r/s/_restore", 429, bodyTooMany), "EngineUnavailableError", 429, "es_rejected_execution_exception", "rejected execution"},
		{"429 AWS", apiErr("GET", "/_cat/indices", 429, `{"message":"Too Many Requests"}`), "EngineUnavailableError", 429, "", "Too Many Requests"},
		{"invalid snapshot name", apiErr("PUT", "/_snapshot/r/Nightly", 400, bodyBadName), "ValidationError", 400, "invalid_snapshot_name_exception", "must be lowercase"},
		{"verification failure", apiErr("POST", "/_snapshot/r/_verify", 500, bodyVerify), "EngineError", 500, "repository_verification_exception", "not accessible"},
		{"index not found", apiErr("GET", "/x/_recovery", 404, bodyNoIndex), "EngineError", 404, "index_not_found_exception", "no such index"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wrappers := map[string]error{
				"bare":          c.err,
				"wrapped":       fmt.Errorf("restore r/s: %w", c.err),
				"wrapped twice": fmt.Errorf("register r: %w", fmt.Errorf("read current repository: %w", c.err)),
			}
			for how, in := range wrappers {
				got := failure.Classify(in)
				if n := typeName(got); n != c.want {
					t.Fatalf("%s: Classify(%v) is %s, want %s", how, in, n, c.want)
				}
				if !failure.IsTyped(got) {
					t.Errorf("%s: IsTyped(%T) = false", how, got)
				}
				if got.Error() != in.Error() {
					t.Errorf("%s: message changed:\n got %q\nwant %q", how, got.Error(), in.Error())
				}
				d := detailOf(t, got)
				if d.Message != in.Error() || d.Status != c.status || d.Type != c.typ || !strings.Contains(d.Reason, c.reason) {
					t.Errorf("%s: detail = %+v; want status %d, type %q, reason containing %q", how, *d, c.status, c.typ, c.reason)
				}
				var ae *esclient.APIError
				if !errors.As(got, &ae) || ae != c.err {
					t.Errorf("%s: the *APIError is not reachable with errors.As", how)
				}
				if !errors.Is(got, in) {
					t.Errorf("%s: errors.Is(classified, original) = false", how)
				}
			}
		})
	}
}

func TestClassifyOtherErrors(t *testing.T) {
	collision := &snapshot.CollisionError{Repository: "r", Snapshot: "s", Collisions: []snapshot.Collision{{Index: "logs", Source: "logs", Status: "open"}}}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"outcome unknown", fmt.Errorf("snapshot r/s: %w: the create failed (x) and no such snapshot exists; rerunning is safe", failure.ErrOutcomeUnknown), "EngineUnavailableError"},
		{"outcome unknown bare", failure.ErrOutcomeUnknown, "EngineUnavailableError"},
		{"outcome unknown with a 504 inside", fmt.Errorf("restore r/s: %w: the restore failed: %w", failure.ErrOutcomeUnknown, apiErr("POST", "/_snapshot/r/s/_restore", 504, bodyGateway)), "EngineUnavailableError"},
		{"deadline exceeded", context.DeadlineExceeded, "EngineUnavailableError"},
		{"deadline exceeded wrapped", fmt.Errorf("GET /_snapshot/r/s: %w", context.DeadlineExceeded), "EngineUnavailableError"},
		{"collision", collision, "IndexConflictError"},
		{"collision wrapped", fmt.Errorf("restore: %w", collision), "IndexConflictError"},
		{"connection refused", fmt.Errorf("GET /_snapshot/r: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), "EngineUnavailableError"},
		{"a name containing connect is not a network error", errors.New("indices kafka-connect-2026 are not in the snapshot"), "EngineError"},
		{"bad restore request", fmt.Errorf("restore r/s: %w: %w", failure.ErrBadRestoreRequest, errors.New("indices x are not in the snapshot")), "ValidationError"},
		{"repository conflict", fmt.Errorf("register r: %w", failure.ErrRepositoryConflict), "ValidationError"},
		{"partial snapshot not restorable", fmt.Errorf("restore r/s: %w", failure.ErrNotRestorable), "SnapshotFailedError"},
		{"EOF", fmt.Errorf("PUT /_snapshot/r/s: %w", io.EOF), "EngineUnavailableError"},
		{"anything else", errors.New("decode answer: invalid character 'x'"), "EngineError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := failure.Classify(c.err)
			if n := typeName(got); n != c.want {
				t.Fatalf("Classify(%v) is %s, want %s", c.err, n, c.want)
			}
			if got.Error() != c.err.Error() {
				t.Errorf("message changed: %q", got.Error())
			}
			if !errors.Is(got, c.err) {
				t.Errorf("cause not reachable with errors.Is")
			}
			if d := detailOf(t, got); d.Message != c.err.Error() {
				t.Errorf("detail message %q", d.Message)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		if got := failure.Classify(nil); got != nil {
			t.Fatalf("Classify(nil) = %v", got)
		}
	})
	t.Run("collision keeps the list", func(t *testing.T) {
		var ce *snapshot.CollisionError
		if !errors.As(failure.Classify(collision), &ce) || ce != collision {
			t.Fatal("*CollisionError not reachable")
		}
	})
}

func TestClassifyPassesTypedErrorsThrough(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"validation", failure.Validation("take-snapshot", []string{"a", "b"}), "ValidationError"},
		{"snapshot failed", failure.SnapshotFailed("snapshot r/s ended PARTIAL"), "SnapshotFailedError"},
		{"version mismatch", failure.VersionMismatch("7.10 cannot restore 2.x"), "VersionMismatchError"},
		{"classified 403", failure.Classify(apiErr("GET", "/", 403, bodyAnonymous)), "AccessDeniedError"},
		{"classified 503", failure.Classify(apiErr("PUT", "/_snapshot/r/s", 503, bodyConcurrent)), "ConcurrentSnapshotError"},
		{"literal engine error", &failure.EngineError{Detail: &failure.Detail{Message: "x", Status: 503}}, "EngineError"},
		{"literal repository missing", &failure.RepositoryMissingError{Detail: &failure.Detail{Message: "x"}}, "RepositoryMissingError"},
		{"literal snapshot missing", &failure.SnapshotMissingError{Detail: &failure.Detail{Message: "x"}}, "SnapshotMissingError"},
		{"literal index conflict", &failure.IndexConflictError{Detail: &failure.Detail{Message: "x"}}, "IndexConflictError"},
		{"literal unavailable", &failure.EngineUnavailableError{Detail: &failure.Detail{Message: "x"}}, "EngineUnavailableError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !failure.IsTyped(c.err) {
				t.Fatalf("IsTyped(%T) = false", c.err)
			}
			got := failure.Classify(c.err)
			if got != c.err {
				t.Fatalf("Classify changed %T %v into %T %v", c.err, c.err, got, got)
			}
			if n := typeName(got); n != c.want {
				t.Fatalf("type %s, want %s", n, c.want)
			}
		})
	}
	t.Run("not typed", func(t *testing.T) {
		for _, err := range []error{errors.New("x"), apiErr("GET", "/", 500, "")} {
			if failure.IsTyped(err) {
				t.Errorf("IsTyped(%T) = true", err)
			}
		}
	})
}

func TestValidationListsEveryProblem(t *testing.T) {
	err := failure.Validation("register-repo", []string{"endpoint is empty", "bucket is empty", "role_arn is empty"})
	if typeName(err) != "ValidationError" {
		t.Fatalf("type %T", err)
	}
	if got, want := err.Error(), "register-repo: endpoint is empty; bucket is empty; role_arn is empty"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	if d := detailOf(t, err); d.Status != 0 || d.Type != "" || d.Unwrap() != nil {
		t.Fatalf("detail %+v", *d)
	}
}

func TestRetryable(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"concurrent snapshot", apiErr("PUT", "/_snapshot/r/s", 503, bodyConcurrent), true},
		{"concurrent snapshot wrapped", fmt.Errorf("x: %w", apiErr("PUT", "/_snapshot/r/s", 503, bodyConcurrent)), true},
		{"504", apiErr("PUT", "/_snapshot/r/s", 504, bodyGateway), true},
		{"429", apiErr("PUT", "/_snapshot/r/s", 429, bodyTooMany), true},
		{"deadline", context.DeadlineExceeded, true},
		{"outcome unknown", failure.ErrOutcomeUnknown, true},
		{"typed concurrent", failure.Classify(apiErr("PUT", "/_snapshot/r/s", 503, bodyRunning)), true},
		{"access denied", apiErr("PUT", "/_snapshot/r", 403, bodyPassRole), false},
		{"repository missing", apiErr("GET", "/_snapshot/r", 404, bodyRepoMiss), false},
		{"snapshot missing", apiErr("GET", "/_snapshot/r/s", 404, bodySnapMiss), false},
		{"index conflict", apiErr("POST", "/_snapshot/r/s/_restore", 500, bodyOpenIndex), false},
		{"version mismatch", apiErr("POST", "/_snapshot/r/s/_restore", 500, bodyVersion), false},
		{"validation", failure.Validation("x", []string{"y"}), false},
		{"bad name", apiErr("PUT", "/_snapshot/r/Nightly", 400, bodyBadName), false},
		{"snapshot failed", failure.SnapshotFailed("PARTIAL"), false},
		{"engine error", errors.New("something else"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := failure.Retryable(c.err); got != c.want {
				t.Fatalf("Retryable(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

// TestAPIErrorHint covers the 403 texts of field notes §3: each gets the
// action that fixes it, in Hint() and in the error message.
func TestAPIErrorHint(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		source esclient.Source
		hint   string // fragment; "" means no hint
	}{
		{"PassRole", 403, bodyPassRole, esclient.SourceIAM, "iam:PassRole on the SnapshotRole"},
		{"role_arn", 400, bodyRoleARN, esclient.SourceIAM, "set role_arn (ESSNAP_ROLE_ARN)"},
		{"fine-grained access control", 403, bodyFGAC, esclient.SourceEngine, "manage_snapshots"},
		{"FGAC on snapshot create", 403, strings.ReplaceAll(bodyFGAC, "cluster:admin/repository/put", "cluster:admin/snapshot/create"), esclient.SourceEngine, "manage_snapshots"},
		{"FGAC on something else", 403, strings.ReplaceAll(bodyFGAC, "cluster:admin/repository/put", "indices:admin/close"), esclient.SourceEngine, "fine-grained access control"},
		{"wrong service", 403, bodyService, esclient.SourceSignature, "sign with service 'es'"},
		{"wrong region", 403, bodyRegion, esclient.SourceSignature, "set region (ESSNAP_REGION)"},
		{"anonymous", 403, bodyAnonymous, esclient.SourceIAM, "the request was unsigned"},
		{"session token", 403, bodyBadToken, esclient.SourceSignature, "session token"},
		{"es:ESHttp", 403, bodyESHttp, esclient.SourceIAM, "es:ESHttp* on the domain ARN"},
		{"concurrent", 503, bodyConcurrent, esclient.SourceEngine, "retry later"},
		{"repository missing", 404, bodyRepoMiss, esclient.SourceEngine, "register the repository first"},
		{"no hint for a gateway page", 504, bodyGateway, esclient.SourceHTTP, ""},
		{"no hint for a bad name", 400, bodyBadName, esclient.SourceEngine, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := apiErr(http.MethodPut, "/_snapshot/r", c.status, c.body)
			if e.Source != c.source {
				t.Errorf("source %q, want %q", e.Source, c.source)
			}
			h := e.Hint()
			if c.hint == "" {
				if h != "" {
					t.Fatalf("unexpected hint %q", h)
				}
				if strings.Contains(e.Error(), "(fix:") {
					t.Fatalf("message has a fix: %q", e.Error())
				}
				return
			}
			if !strings.Contains(h, c.hint) {
				t.Fatalf("Hint() = %q, want it to contain %q", h, c.hint)
			}
			if !strings.Contains(e.Error(), "(fix: "+h+")") {
				t.Fatalf("Error() %q lacks the hint", e.Error())
			}
		})
	}
}

func TestHintSurvivesClassification(t *testing.T) {
	in := fmt.Errorf("register essnap: %w", apiErr("PUT", "/_snapshot/essnap", 403, bodyPassRole))
	got := failure.Classify(in)
	if !strings.Contains(got.Error(), "iam:PassedToService") {
		t.Fatalf("classified message lost the hint: %q", got.Error())
	}
}
