// Package setup judges an essnap installation: the SnapshotRole's trust
// policy, the IAM permissions the domain and the functions need, the
// fine-grained access mapping, the age of the newest snapshot and the
// nightly schedule against AWS's automated snapshots.
//
// It exists because repository registration is where operators fail most
// (field notes §6.9): a SnapshotRole that es.amazonaws.com may not assume,
// a missing iam:PassRole, a domain access policy or a fine-grained access
// mapping that leaves the caller out. Each mistake used to surface alone, as
// an engine 403 on the next invocation. The register-repo pre-check and the
// doctor function (pkg/handler) gather the facts (IAM GetRole and
// SimulatePrincipalPolicy, STS GetCallerIdentity, the domain's answers);
// this package turns those facts into verdicts, each a [Check] with a fix
// that can be pasted: the missing policy statement as JSON, the mapping
// request, the schedule to use.
//
// Everything here is a pure function of its inputs (no AWS SDK, no HTTP, no
// clock), so each verdict is tested with tables and golden files
// (testdata/). The types that carry IAM facts ([Identity], [Role],
// [Simulation], [Evaluation]) are this package's own, so the handlers and
// their fakes never need the IAM SDK; pkg/wiring/awsiam translates.
package setup
