package failure

import "errors"

// Causes that the engine package wraps into its errors. They live here,
// below the operations, so that Classify types an error by its cause
// without importing the package that produced it.
var (
	// ErrRepositoryConflict marks a registration that would silently change
	// what an existing repository is: two writers on one location corrupt it.
	ErrRepositoryConflict = errors.New("repository conflict")
	// ErrVerifyNotRun marks a verification that got no answer from the engine
	// (a gateway or proxy error, a reset connection, a timeout): it is
	// transient, and unlike a repository_verification_exception it proves
	// nothing about the repository's storage or the SnapshotRole.
	ErrVerifyNotRun = errors.New("verification could not run")
	// ErrOutcomeUnknown marks a create or restore whose answer was lost and
	// whose effect could not be seen afterwards: a rerun is safe (names are
	// fixed) but nothing can be claimed.
	ErrOutcomeUnknown = errors.New("outcome unknown")
	// ErrNotRestorable marks a snapshot whose state forbids restoring it.
	ErrNotRestorable = errors.New("snapshot not restorable")
	// ErrBadRestoreRequest marks a restore the request itself makes impossible
	// (indices not in the snapshot, a rename that merges or breaks names).
	ErrBadRestoreRequest = errors.New("invalid restore request")
	// ErrIndexConflict marks a restore refused before it was sent because
	// its targets are taken (snapshot.CollisionError matches it).
	ErrIndexConflict = errors.New("index conflict")
	// ErrLedgerConflict marks a ledger write that lost against another
	// write of the same document (a retried or duplicated invocation): the
	// step reads the ledger again on its next invocation, so it is
	// transient.
	ErrLedgerConflict = errors.New("ledger conflict")
)
