// Command migrate-metadata is the essnap migrate-metadata Lambda function; the logic is in pkg/handler.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/wiring"
)

func main() {
	h := handler.Metadata{Deps: wiring.Production()}
	lambda.Start(h.Invoke)
}
