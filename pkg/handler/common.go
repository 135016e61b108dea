package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/metrics"
	"github.com/essnap/essnap/pkg/retention"
	"github.com/essnap/essnap/pkg/snapshot"
)

// Clock is injected so naming and retention decisions are testable.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// Domain is where to connect; it comes from environment and event.
type Domain struct {
	Endpoint string
	Region   string
	Unsigned bool
}

// Operations is what handlers need from a domain; *snapshot.Ops implements
// it, and tests substitute fakes for paths the engines cannot produce.
type Operations interface {
	EngineVersion(ctx context.Context) (snapshot.Version, error)
	RegisterRepository(ctx context.Context, spec snapshot.RepositorySpec) (snapshot.RegisterResult, error)
	CreateSnapshot(ctx context.Context, repo, name string, opt snapshot.CreateOptions) (snapshot.CreateResult, error)
	GetSnapshot(ctx context.Context, repo, name string) (snapshot.Info, error)
	Status(ctx context.Context, repo, name string) (snapshot.Progress, error)
	ListSnapshots(ctx context.Context, repo string, verbose bool) ([]snapshot.Info, error)
	DeleteSnapshots(ctx context.Context, repo string, names []string) error
	Restore(ctx context.Context, repo, name string, opt snapshot.RestoreOptions) (snapshot.RestoreResult, error)
	RestoreStatus(ctx context.Context, targets []string) (snapshot.RestoreProgress, error)
	Indices(ctx context.Context, pattern string) (map[string]snapshot.IndexState, error)
	ListForRetention(ctx context.Context, repo string) ([]retention.Snapshot, error)
}

// Connector opens Operations on a domain. Production builds a signed client.
type Connector func(ctx context.Context, d Domain) (Operations, error)

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

// domainFields are the connection fields every event may carry.
type domainFields struct {
	Endpoint *string `json:"endpoint"`
	Region   *string `json:"region"`
	Unsigned *bool   `json:"unsigned"`
}

// problems collects configuration errors so Validate reports all at once.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// env reads ESSNAP_* variables into typed values, noting bad ones.
type env struct {
	get  func(string) string
	errs *problems
}

func (e env) str(name string, dst *string) {
	if v := strings.TrimSpace(e.get(name)); v != "" {
		*dst = v
	}
}

func (e env) boolean(name string, dst *bool) {
	if v := strings.TrimSpace(e.get(name)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			e.errs.add("environment %s=%q is not a boolean; use true or false", name, v)
			return
		}
		*dst = b
	}
}

func (e env) integer(name string, dst *int) {
	if v := strings.TrimSpace(e.get(name)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			e.errs.add("environment %s=%q is not a whole number", name, v)
			return
		}
		*dst = n
	}
}

func (e env) list(name string, dst *[]string) {
	if v := strings.TrimSpace(e.get(name)); v != "" {
		*dst = splitList(v)
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// domainConfig is the resolved connection config.
type domainConfig struct{ Domain }

func (d *domainConfig) fromEnv(e env) {
	e.str("ESSNAP_ENDPOINT", &d.Endpoint)
	e.str("ESSNAP_REGION", &d.Region)
	e.boolean("ESSNAP_UNSIGNED", &d.Unsigned)
}

func (d *domainConfig) fromEvent(f domainFields) {
	set(&d.Endpoint, f.Endpoint)
	set(&d.Region, f.Region)
	set(&d.Unsigned, f.Unsigned)
}

func (d *domainConfig) validate(p *problems) {
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

// decodeEvent decodes strictly into ev; "" and null mean "{}".
func decodeEvent(raw json.RawMessage, ev any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ev); err != nil {
		msg := err.Error()
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field[strings.LastIndexByte(te.Field, '.')+1:] // drop embedded Go struct names
			msg = fmt.Sprintf("field %q must be %s, got JSON %s", field, jsonKind(te.Type), te.Value)
		} else if strings.HasPrefix(msg, "json: unknown field") {
			msg = fmt.Sprintf("%s; known fields: %s", strings.TrimPrefix(msg, "json: "), strings.Join(knownFields(ev), ", "))
		}
		return failure.Validation("invalid event", []string{msg})
	}
	return nil
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean (true/false)"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

func knownFields(v any) []string {
	var out []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			if tag := strings.Split(f.Tag.Get("json"), ",")[0]; tag != "" && tag != "-" {
				out = append(out, tag)
			}
		}
	}
	walk(reflect.TypeOf(v))
	sort.Strings(out)
	return out
}

// connect opens the domain, typing connection failures.
func (d Deps) connect(ctx context.Context, dom Domain) (Operations, error) {
	ops, err := d.Connect(ctx, dom)
	if err != nil {
		return nil, failure.Validation("connect", []string{err.Error()})
	}
	return ops, nil
}

// fail logs and types an error; the log line carries no credentials.
func (d Deps) fail(ctx context.Context, op string, err error) error {
	typed := failure.Classify(err)
	d.Log.ErrorContext(ctx, op+" failed", "error_type", reflect.TypeOf(typed).Elem().Name(), "error", typed.Error())
	return typed
}
