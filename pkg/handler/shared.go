package handler

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/metrics"
)

// Clock is injected so naming and retention decisions are testable.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// Domain is where to connect; it comes from environment and event.
type Domain struct {
	Endpoint string `json:"endpoint" env:"ENDPOINT"`
	Region   string `json:"region" env:"REGION"`
	Unsigned bool   `json:"unsigned" env:"UNSIGNED"`
}

// Connector opens a domain. Production returns engine.Ops on a signed
// client; tests return fakes. Each handler reaches the value only through
// its own small interface (DrillOps, VerifyOps, ...), so a fake implements
// just what its handler calls; pkg/wiring proves at compile time that
// engine.Ops serves every one of them.
type Connector func(ctx context.Context, d Domain) (any, error)

// Deps are what every handler is built from.
type Deps struct {
	Connect Connector
	Clock   Clock
	Log     *slog.Logger
	// Getenv reads configuration; os.Getenv in production.
	Getenv func(string) string
	// Metrics receives CloudWatch metrics; nil publishes nothing.
	Metrics metrics.Publisher
}

// publish sends metrics when a publisher is wired.
func (d Deps) publish(repo string, values map[string]float64) {
	if d.Metrics != nil {
		d.Metrics.Publish(repo, values)
	}
}

// problems collects configuration errors so Validate reports all at once.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// load fills cfg (holding the defaults) from the environment, then the
// event (config.Load), and returns the problems found and what was set.
func load(cfg any, getenv func(string) string, raw []byte) (problems, config.Loaded) {
	l := config.Load(cfg, getenv, raw)
	return problems(l.Problems), l
}

// validate checks where to connect.
func (d Domain) validate(p *problems) {
	if d.Endpoint == "" {
		p.add("endpoint is empty; set event field \"endpoint\" or ESSNAP_ENDPOINT to the domain endpoint, e.g. https://search-logs-abc123.eu-west-1.es.amazonaws.com")
		return
	}
	u, err := esclient.ValidateEndpoint(d.Endpoint)
	if err != nil {
		p.add("%v", err)
		return
	}
	if !d.Unsigned && d.Region == "" {
		if _, err := esclient.RegionFromHost(u.Host); err != nil {
			p.add("%v", err)
		}
	}
	if _, awsErr := esclient.RegionFromHost(u.Host); d.Unsigned && awsErr == nil {
		p.add("unsigned=true with AWS endpoint %s: AWS domains need SigV4; remove unsigned", u.Host)
	}
}

// connect opens the domain as the handler's interface T, typing connection
// failures. A connector whose value lacks T's methods is a wiring mistake,
// reported as such before anything is sent.
func connect[T any](ctx context.Context, d Deps, dom Domain) (T, error) {
	var zero T
	c, err := d.Connect(ctx, dom)
	if err != nil {
		return zero, failure.Validation("connect", []string{err.Error()})
	}
	ops, ok := c.(T)
	if !ok {
		return zero, fmt.Errorf("connect: %T does not implement %s; fix the wiring", c, reflect.TypeFor[T]())
	}
	return ops, nil
}

// fail logs and types an error; the log line carries no credentials.
func (d Deps) fail(ctx context.Context, op string, err error) error {
	typed := failure.Classify(err)
	d.Log.ErrorContext(ctx, op+" failed", "error_type", reflect.TypeOf(typed).Elem().Name(), "error", typed.Error())
	return typed
}

// Sleeper is a Clock that can also wait. The in-invocation polls
// (check-progress wait_seconds, the replica step) sleep through it, so a
// test clock advances instead of sleeping; a Clock without it sleeps on a
// real timer.
type Sleeper interface {
	Sleep(ctx context.Context, d time.Duration) error
}

// Sleep waits d or until ctx ends: SystemClock is a Sleeper.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error { return esclient.Sleep(ctx, d) }

// sleep waits through the clock when it can (a test clock advances), else
// on a real timer.
func (d Deps) sleep(ctx context.Context, wait time.Duration) error {
	if s, ok := d.Clock.(Sleeper); ok {
		return s.Sleep(ctx, wait)
	}
	return esclient.Sleep(ctx, wait)
}

// PollInterval is the in-invocation poll period: short enough that a
// finished snapshot or restore is seen within a fifth of a second, long
// enough that a 20 s wait costs the engine 100 light reads.
const PollInterval = 200 * time.Millisecond

// MaxWaitSeconds bounds wait_seconds well inside the functions' 300 s
// timeout (template.yaml), leaving room for the last read and the answer.
const MaxWaitSeconds = 240

// pollMargin is kept free before the invocation's deadline.
const pollMargin = 5 * time.Second

// poll calls check until it reports done, at most for wait (counted in
// PollInterval steps, so a clock that never moves still ends), and never
// past the context's deadline minus pollMargin. It returns the number of
// checks made and check's last error.
func (d Deps) poll(ctx context.Context, wait time.Duration, check func() (bool, error)) (int, error) {
	steps := int(wait / PollInterval)
	for n := 1; ; n++ {
		done, err := check()
		if err != nil || done || n > steps {
			return n, err
		}
		if dl, ok := ctx.Deadline(); ok && dl.Sub(d.Clock.Now()) < pollMargin+PollInterval {
			return n, nil
		}
		if d.sleep(ctx, PollInterval) != nil {
			return n, nil
		}
	}
}

// validWait checks a wait_seconds field.
func validWait(p *problems, field string, v int) {
	if v < 0 || v > MaxWaitSeconds {
		p.add("%s %d must be between 0 and %d (the function times out after 300 s)", field, v, MaxWaitSeconds)
	}
}

// boundedText refuses a value longer than max bytes or holding control
// characters, quoting at most a short prefix of it.
func boundedText(p *problems, field, v string, max int) {
	if len(v) > max {
		p.add("%s %q is %d bytes; at most %d are allowed", field, config.Short(v), len(v), max)
		return
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		p.add("%s %q must not contain control characters (byte %d)", field, config.Short(v), i)
	}
}

// oneLine is an error's text for a check's detail, typed as the other
// functions would report it.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
