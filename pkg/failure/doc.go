// Package failure gives every error an essnap function returns a type whose
// name tells Step Functions and operators what to do. aws-lambda-go reports
// the Go type name as errorType, so Retry and Catch match on these names:
//
//	ValidationError         bad input or config: fix the event; never retry
//	AccessDeniedError       IAM, SigV4 or fine-grained access control refused
//	RepositoryMissingError  the repository is not registered on the domain
//	SnapshotMissingError    the snapshot does not exist (or none succeeded)
//	ConcurrentSnapshotError another snapshot or deletion runs: retry later
//	IndexConflictError      restore targets already exist: rename or clean up
//	SnapshotFailedError     the snapshot ended PARTIAL or FAILED
//	VersionMismatchError    the snapshot is newer than the target engine
//	EngineUnavailableError  timeouts, 429, 5xx, lost answers: retry with backoff
//	EngineError             any other engine refusal
//	InsufficientStorageError a migration target or a drill lacks disk for the restore
//	VerificationError       restored indices differ from the source or the recorded counts
//
// Which of them Step Functions retries is declared once, in retry.go
// (Transient: ConcurrentSnapshotError, EngineUnavailableError; every other
// type is Final); the state machine's Retry and Catch blocks are checked
// against that declaration by this package's tests.
package failure
