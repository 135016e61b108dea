package failure

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"syscall"

	"github.com/essnap/essnap/pkg/esclient"
)

// Detail is what every typed error carries: the message plus, when an
// engine answered, its status, error type and reason.
type Detail struct {
	Message string `json:"message"`
	Status  int    `json:"status,omitempty"`
	Type    string `json:"type,omitempty"`
	Reason  string `json:"reason,omitempty"`
	cause   error
}

// Error returns the message, which already names the failed operation.
func (d *Detail) Error() string { return d.Message }

// Unwrap keeps the cause reachable with errors.Is/As.
func (d *Detail) Unwrap() error { return d.cause }

// Each type below is distinct only by name, which is what Step Functions sees.
type (
	// ValidationError: fix the input; retrying cannot help.
	ValidationError struct{ *Detail }
	// AccessDeniedError: fix IAM or role mapping; retrying cannot help.
	AccessDeniedError struct{ *Detail }
	// RepositoryMissingError: run register-repo first.
	RepositoryMissingError struct{ *Detail }
	// SnapshotMissingError: the named snapshot, or any SUCCESS one, is absent.
	SnapshotMissingError struct{ *Detail }
	// ConcurrentSnapshotError: wait and retry; something else holds the repository.
	ConcurrentSnapshotError struct{ *Detail }
	// IndexConflictError: restore targets exist; rename or remove them.
	IndexConflictError struct{ *Detail }
	// SnapshotFailedError: the snapshot is PARTIAL or FAILED; never build on it.
	SnapshotFailedError struct{ *Detail }
	// VersionMismatchError: the target engine is older than the source.
	VersionMismatchError struct{ *Detail }
	// EngineUnavailableError: transient; retry with backoff.
	EngineUnavailableError struct{ *Detail }
	// EngineError: any other refusal, with the engine's type and reason.
	EngineError struct{ *Detail }
	// InsufficientStorageError: the migration target lacks the disk space
	// the restore needs; add storage first. Found by the pre-flight, before
	// anything is written. A restore drill refuses with it too when its
	// sample would cross the low disk watermark.
	InsufficientStorageError struct{ *Detail }
	// VerificationError: a migration's restored indices do not hold what the
	// source holds (counts, ids or health); nothing was deleted, so the
	// report tells the operator what to look at. A restore drill fails with
	// it when a restored index is red, holds fewer documents than recorded
	// at snapshot time, or does not recover in time.
	VerificationError struct{ *Detail }
	// ReindexFailedError: a reindex part failed for good: the target
	// refused documents (a mapping conflict repeats the same way on every
	// run), or its task broke max_attempts times. It names the index, the
	// range and the first failures. Nothing is deleted: what was copied
	// stays, and a rerun skips it (op_type create).
	ReindexFailedError struct{ *Detail }
	// SourceUnreachableError: the target cannot read the source for a
	// remote reindex (network, reindex.remote.allowlist, or the source's
	// authorisation); found by the pre-flight's probe, before anything is
	// written.
	SourceUnreachableError struct{ *Detail }
)

func detail(msg string, cause error) *Detail {
	d := &Detail{Message: msg, cause: cause}
	var ae *esclient.APIError
	if errors.As(cause, &ae) {
		d.Status, d.Type, d.Reason = ae.Status, ae.Type, ae.Reason
	}
	return d
}

// Validation builds a ValidationError from a list of problems, so that all
// of them are reported at once.
func Validation(what string, problems []string) error {
	return &ValidationError{detail(what+": "+strings.Join(problems, "; "), nil)}
}

// SnapshotFailed builds the error for a snapshot that ended badly.
func SnapshotFailed(msg string) error { return &SnapshotFailedError{detail(msg, nil)} }

// VersionMismatch builds the error for an impossible migration direction.
func VersionMismatch(msg string) error { return &VersionMismatchError{detail(msg, nil)} }

// VersionMismatchCause is VersionMismatch for an engine's refusal, keeping
// the engine's status, type and reason.
func VersionMismatchCause(msg string, cause error) error {
	return &VersionMismatchError{detail(msg, cause)}
}

// InsufficientStorage builds the error for a target without room for the restore.
func InsufficientStorage(msg string) error { return &InsufficientStorageError{detail(msg, nil)} }

// IndexConflict builds the error for restore targets that already exist,
// when the conflict is found before any restore is planned (pre-flight).
func IndexConflict(msg string) error { return &IndexConflictError{detail(msg, nil)} }

// ReindexFailed builds the error for reindex parts that failed for good.
func ReindexFailed(msg string) error { return &ReindexFailedError{detail(msg, nil)} }

// SourceUnreachable builds the pre-flight's error for a target that cannot
// read the source, keeping the engine's status, type and reason.
func SourceUnreachable(msg string, cause error) error {
	return &SourceUnreachableError{detail(msg, cause)}
}

// Verification builds the error for a migration whose result differs from its source.
func Verification(msg string) error { return &VerificationError{detail(msg, nil)} }

// Classify turns any error into one of the typed errors, keeping the
// message (with its context) and the cause.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if typed := findTyped(err); typed != nil {
		return typed
	}
	msg := err.Error()
	d := detail(msg, err)
	switch {
	case errors.Is(err, ErrIndexConflict):
		return &IndexConflictError{d}
	case errors.Is(err, ErrRepositoryConflict), errors.Is(err, ErrBadRestoreRequest):
		return &ValidationError{d}
	case errors.Is(err, ErrNotRestorable):
		return &SnapshotFailedError{d}
	case errors.Is(err, ErrOutcomeUnknown), errors.Is(err, ErrVerifyNotRun), errors.Is(err, ErrLedgerConflict),
		errors.Is(err, esclient.ErrNotSent), errors.Is(err, context.DeadlineExceeded):
		// Transient: nothing ran (not sent), or what ran was checked, or a
		// verification got no answer; every rerun is safe.
		return &EngineUnavailableError{d}
	}
	var ae *esclient.APIError
	if !errors.As(err, &ae) {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
			errors.Is(err, syscall.ECONNRESET) || strings.Contains(msg, "cannot retrieve informations from Elasticsearch") {
			return &EngineUnavailableError{d}
		}
		return &EngineError{d}
	}
	text := ae.Type + " " + ae.RootCause + " " + ae.Reason
	switch {
	case ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden || ae.Type == "security_exception" ||
		strings.Contains(ae.Reason, "not authorized") || strings.Contains(ae.Reason, "role_arn is needed"):
		return &AccessDeniedError{d}
	case strings.Contains(text, "repository_missing_exception"):
		return &RepositoryMissingError{d}
	case strings.Contains(text, "snapshot_missing_exception") || strings.Contains(ae.Reason, "snapshot does not exist"):
		return &SnapshotMissingError{d}
	case strings.Contains(text, "concurrent_snapshot_execution_exception") || strings.Contains(text, "snapshot_in_progress_exception") ||
		strings.Contains(ae.Reason, "is already running") || (ae.Status == http.StatusServiceUnavailable && strings.Contains(ae.Reason, "delet")):
		return &ConcurrentSnapshotError{d}
	case strings.Contains(ae.Reason, "an open index with same name already exists") || strings.Contains(ae.Reason, "are renamed into the same index") ||
		strings.Contains(ae.Reason, "alias") && strings.Contains(ae.Type, "restore") ||
		strings.Contains(ae.Reason+" "+ae.CausedBy, "already exists as alias"):
		return &IndexConflictError{d}
	case strings.Contains(ae.Reason, "which is higher than the version of this node") || strings.Contains(ae.Reason, "cannot restore index") && strings.Contains(ae.Reason, "version"):
		return &VersionMismatchError{d}
	case ae.Status == http.StatusTooManyRequests || ae.Status >= 500 && (ae.Source == esclient.SourceHTTP || ae.Status != http.StatusInternalServerError):
		return &EngineUnavailableError{d}
	case ae.Status == http.StatusBadRequest:
		return &ValidationError{d}
	}
	return &EngineError{d}
}

// IsTyped reports whether err already is one of this package's types.
func IsTyped(err error) bool {
	if err == nil {
		return false
	}
	_, ok := dispositions[reflect.TypeOf(err)]
	return ok
}

// findTyped returns the first typed error in err's chain, so wrapping a
// typed error with context never hides its type from Step Functions.
func findTyped(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if IsTyped(e) {
			return e
		}
	}
	return nil
}

// Retryable reports whether Step Functions retries err once it is
// classified: it reads the one declaration (retry.go), as the state
// machine's Retry blocks must.
func Retryable(err error) bool {
	d, _ := DispositionOf(TypeName(Classify(err)))
	return d == Transient
}
