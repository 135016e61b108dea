// Command take-snapshot is the essnap take-snapshot Lambda function; the logic is in pkg/handler.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/wiring"
)

func main() {
	h := handler.TakeSnapshot{Deps: wiring.Production()}
	lambda.Start(h.Invoke)
}
