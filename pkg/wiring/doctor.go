package wiring

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/essnap/essnap/pkg/handler"
)

// DoctorConnector opens the doctor's reads (handler.DoctorOperations) with
// the same signed, per-domain cached clients as SignedConnector.
func DoctorConnector(creds aws.CredentialsProvider) handler.DoctorConnector {
	open := signedOps(creds)
	return func(ctx context.Context, d handler.Domain) (handler.DoctorOperations, error) {
		return open(ctx, d)
	}
}
