// Command doctor is the essnap setup doctor Lambda function: every setup
// check in one invocation, changing nothing; the logic is in pkg/handler
// (Doctor) and pkg/setup.
package main

import (
	"os"
	// The nightly schedule's time zone (ESSNAP_SCHEDULE_TIMEZONE) must
	// resolve on provided.al2023, whose image may lack zoneinfo.
	_ "time/tzdata"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/wiring"
	"github.com/essnap/essnap/pkg/wiring/awsiam"
)

func main() {
	// Credentials from the environment: this bootstrap links IAM (wiring.EnvCredentials).
	creds := wiring.EnvCredentials()
	h := handler.Doctor{Deps: wiring.ProductionWith(creds), IAM: awsiam.FromEnvironment(creds, os.Getenv)}
	lambda.Start(h.Invoke)
}
