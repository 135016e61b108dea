package engine

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/essnap/essnap/pkg/esclient"
)

// Ops is every call essnap makes to one domain. It holds no state besides
// the signed client, so one value serves a whole function invocation, and
// each handler sees it through the few methods its own interface declares.
type Ops struct {
	C *esclient.Client
}

// cleanupBound is the most a best-effort cleanup request may take: the
// resource it frees expires by itself, so it never holds up the report.
const cleanupBound = 5 * time.Second

// cleanupContext is for a request that frees something after ctx may have
// been canceled (an error, an abandoned walk): it survives that
// cancellation but keeps ctx's deadline (the Lambda deadline, which the
// transport turns into "no time left") and lasts at most cleanupBound.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	c := context.WithoutCancel(ctx)
	cancelDeadline := context.CancelFunc(func() {})
	if dl, ok := ctx.Deadline(); ok {
		c, cancelDeadline = context.WithDeadline(c, dl)
	}
	c, cancel := context.WithTimeout(c, cleanupBound)
	return c, func() { cancel(); cancelDeadline() }
}

// notFound reports an engine 404: an absent index, template or task is an
// answer, not a failure, for the callers that ask.
func notFound(err error) bool {
	var ae *esclient.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}
