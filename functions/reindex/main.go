// Command reindex is the essnap migration's reindex step (remote reindex on the target); the logic is in pkg/handler.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/wiring"
)

func main() {
	h := handler.Reindex{Deps: wiring.Production()}
	lambda.Start(h.Invoke)
}
