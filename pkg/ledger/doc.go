// Package ledger is the migration's durable record: the plan, each index's
// state (method, parts, tasks, attempts, counts, verification, replicas)
// and the final report. It lives in a hidden index on the target domain
// (Name), so a migration of thousands of indices never travels in the
// Step Functions payload (256 KB), survives a lost invocation, and can be
// read by an operator with GET. This package holds the documents and the
// pure rules about them; pkg/engine reads and writes them.
package ledger
