// Package awsiam is the production IAM and STS client of register-repo's
// role pre-check and of the doctor (handler.IAM), on aws-sdk-go-v2's iam and
// sts services. It translates their answers into pkg/setup's types and
// their errors into setup.ErrNoSuchEntity and setup.ErrNotPermitted, so the
// handlers never see the SDK.
//
// It is a package of its own, apart from pkg/wiring, so that only the
// bootstraps that check roles (functions/register-repo and functions/doctor)
// link the IAM client; every other function stays as small as before
// (bench/size.sh).
package awsiam
