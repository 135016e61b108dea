// Command drill is the essnap restore-drill Lambda function: it restores
// the newest SUCCESS snapshot (or a sample of it) under its own prefix,
// verifies it and deletes it again; the logic is in pkg/handler.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/wiring"
)

func main() {
	h := handler.Drill{Deps: wiring.Production()}
	lambda.Start(h.Invoke)
}
