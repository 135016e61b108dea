// Command register-repo is the essnap register-repo Lambda function; the logic is in pkg/handler.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/wiring"
	"github.com/essnap/essnap/pkg/wiring/awsiam"
)

func main() {
	// Credentials from the environment: this bootstrap links IAM for the
	// role pre-check (wiring.EnvCredentials).
	creds := wiring.EnvCredentials()
	h := handler.RegisterRepo{Deps: wiring.ProductionWith(creds), IAM: awsiam.FromEnvironment(creds, os.Getenv)}
	lambda.Start(h.Invoke)
}
