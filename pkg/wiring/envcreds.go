package wiring

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// EnvCredentials reads the credentials Lambda puts into every function's
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)
// at each retrieval; on Lambda that is what the default chain
// (LazyCredentials) finds first too. It exists for the bootstraps that also
// link the IAM client (register-repo, doctor): the default chain's other
// providers (shared files, SSO, web identity, IMDS, containers) weigh about
// 1 MB, which with IAM would push them past the 10 MB bootstrap limit
// (docs/benchmarks.md). Outside Lambda, export the variables
// (eval "$(aws configure export-credentials --format env)").
func EnvCredentials() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			return aws.Credentials{}, errNoEnvCredentials
		}
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: os.Getenv("AWS_SESSION_TOKEN"), Source: "EnvCredentials"}, nil
	})
}

var errNoEnvCredentials = errors.New("no AWS credentials in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are unset); Lambda sets them from the function's role")
