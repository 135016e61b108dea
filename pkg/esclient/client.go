package esclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/elastic/go-elasticsearch/v7"
	"github.com/elastic/go-elasticsearch/v7/estransport"
	"github.com/essnap/essnap/pkg/config"
)

// Config describes one domain connection. Zero values are the defaults.
type Config struct {
	// Endpoint is the domain URL, e.g. https://search-logs-abc.eu-west-1.es.amazonaws.com.
	// Plain http:// is accepted for local engines.
	Endpoint string
	// Region overrides the region parsed from the endpoint host.
	Region string
	// Unsigned sends requests without SigV4, for local engines.
	Unsigned bool
	// Credentials signs requests; required unless Unsigned. Wrap it in
	// aws.NewCredentialsCache so Lambda's temporary credentials are reused.
	Credentials aws.CredentialsProvider
	// RequestTimeout bounds one attempt (default 30s); the context deadline
	// less DeadlineMargin bounds it further.
	RequestTimeout time.Duration
	// DeadlineMargin is kept free before the context deadline (default 2s).
	DeadlineMargin time.Duration
	// FollowUpReserve is kept free, besides DeadlineMargin, by a long
	// request (WithLongRequest) for the request that checks its outcome
	// when its answer is lost (default 5s): a blocking snapshot create that
	// runs into the deadline then still reports the snapshot IN_PROGRESS.
	FollowUpReserve time.Duration
	// MaxAttempts is the most attempts per request (default 4).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape exponential backoff (default 250ms, 8s).
	BaseBackoff, MaxBackoff time.Duration
	// Base is the innermost transport (default: a clone of http.DefaultTransport).
	Base http.RoundTripper
	// Now and Sleep are injectable for tests.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
}

// Client is a go-elasticsearch client plus the small request helper essnap's
// operations use, so that names are escaped and errors typed in one place.
type Client struct {
	// ES is the v7 client without its typed API fields (ES.API is nil, see
	// New): use ES.Perform, or esapi.XxxRequest{...}.Do(ctx, ES).
	ES       *elasticsearch.Client
	endpoint *url.URL
	// Region is the signing region in use ("" when unsigned).
	Region string
}

// ValidateEndpoint checks an endpoint URL and returns it parsed; the error
// names the problem and the expected form. Errors never echo credentials
// the endpoint carries (RedactEndpoint).
func ValidateEndpoint(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("endpoint is empty; set it to the domain endpoint, e.g. https://search-logs-abc123.eu-west-1.es.amazonaws.com")
	}
	shown := config.Short(RedactEndpoint(raw))
	if len(raw) > maxEndpointBytes {
		return nil, fmt.Errorf("endpoint %q is %d bytes; a domain endpoint is scheme and host only, e.g. https://search-logs-abc123.eu-west-1.es.amazonaws.com", shown, len(raw))
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("endpoint %q is not a URL; use https://HOST (the domain endpoint from the console, with https://)", shown)
	}
	if u.User != nil {
		return nil, fmt.Errorf("endpoint %q carries credentials; remove them: essnap signs with IAM", shown)
	}
	// Every request path is appended to the endpoint and signed as sent: a
	// path would be silently dropped, and a query or fragment would be
	// sent (or signed) with no request meaning it.
	var extra []string
	if u.Path != "" && u.Path != "/" || u.RawPath != "" {
		extra = append(extra, "a path")
	}
	if u.RawQuery != "" || u.ForceQuery {
		extra = append(extra, "a query")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		extra = append(extra, "a fragment")
	}
	if len(extra) > 0 {
		return nil, fmt.Errorf("endpoint %q has %s; use only scheme and host, e.g. %s://%s", shown, strings.Join(extra, " and "), u.Scheme, u.Host)
	}
	u.Path = ""
	return u, nil
}

// maxEndpointBytes bounds an endpoint: a host name has at most 253 bytes.
const maxEndpointBytes = 512

// redactedUser stands in for the user information of a printed endpoint.
const redactedUser = "xxxxx"

// RedactEndpoint returns raw fit for messages and logs: user information
// (user:password@) is replaced by xxxxx, whether or not the rest parses as
// a URL, because an endpoint is echoed in errors that reach logs,
// Step Functions histories and alarms.
func RedactEndpoint(raw string) string {
	s := strings.TrimSpace(raw)
	if u, err := url.Parse(s); err == nil && u.User != nil && u.Host != "" {
		u.User = url.User(redactedUser)
		return u.String()
	}
	// Unparsable or without a host: cut the authority by hand.
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	end := len(s)
	if i := strings.IndexAny(s[start:], "/?#"); i >= 0 {
		end = start + i
	}
	if at := strings.LastIndex(s[start:end], "@"); at >= 0 {
		return s[:start] + redactedUser + s[start+at:]
	}
	return s
}

// New builds the decorated transport and the go-elasticsearch client.
func New(cfg Config) (*Client, error) {
	u, err := ValidateEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = Sleep
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.DeadlineMargin == 0 {
		cfg.DeadlineMargin = 2 * time.Second
	}
	if cfg.FollowUpReserve == 0 {
		cfg.FollowUpReserve = 5 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 8 * time.Second
	}
	base := cfg.Base
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	c := &Client{endpoint: u}
	rt := base
	if !cfg.Unsigned {
		if cfg.Credentials == nil {
			return nil, errors.New("no AWS credentials provider; set unsigned=true only for local engines")
		}
		if c.Region, err = Region(cfg.Region, u.Host); err != nil {
			return nil, err
		}
		rt = &signer{next: rt, creds: cfg.Credentials, v4: v4.NewSigner(), region: c.Region, now: cfg.Now}
	}
	rt = hygiene{next: rt}
	rt = productHeader{next: rt}
	rt = deadline{next: rt, timeout: cfg.RequestTimeout, margin: cfg.DeadlineMargin, reserve: cfg.FollowUpReserve, now: cfg.Now}
	rt = &retry{next: rt, maxAttempts: cfg.MaxAttempts, base: cfg.BaseBackoff, max: cfg.MaxBackoff, sleep: cfg.Sleep, jitter: fullJitter, now: cfg.Now}

	// The client is assembled from its parts rather than with
	// elasticsearch.NewClient, which also calls esapi.New: that one call links
	// every typed API of esapi (≈1.9 MB of each bootstrap, docs/benchmarks.md).
	// Perform, and with it the product check (an esapi.InfoRequest sent through
	// rt), is unchanged. Typed APIs are used as esapi.XxxRequest{}.Do(ctx, c.ES).
	addr := *u
	tp, err := estransport.New(estransport.Config{
		URLs:         []*url.URL{&addr},
		Transport:    rt,
		DisableRetry: true, // the retry decorator owns retries
	})
	if err != nil {
		return nil, fmt.Errorf("build client for %s: %w", u.Host, err)
	}
	c.ES = &elasticsearch.Client{Transport: tp}
	return c, nil
}

// Path joins escaped path segments, so that names with date math
// (<nightly-{now/d}>) or slashes reach the engine intact and are signed as sent.
func Path(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// NDJSON is a request body sent as it is, one JSON document per line
// (_bulk, _msearch), instead of being encoded as one JSON value.
type NDJSON []byte

// Do sends one request and decodes a 2xx JSON answer into out (if not nil).
// path must come from Path. Non-2xx answers return *APIError.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	return c.DoStream(ctx, method, path, query, body, func(r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("read answer: %w", err)
		}
		if out == nil || len(data) == 0 {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
		return nil
	})
}

// DoStream sends one request and hands a 2xx answer's body to read, so big
// answers (a 10,000-snapshot listing) are decoded without buffering twice.
func (c *Client) DoStream(ctx context.Context, method, path string, query url.Values, body any, read func(io.Reader) error) error {
	var rd io.Reader
	contentType := "application/json"
	if nd, ok := body.(NDJSON); ok {
		rd, contentType = bytes.NewReader(nd), "application/x-ndjson"
	} else if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(buf)
	}
	u := *c.endpoint
	u.RawPath = path
	p, err := url.PathUnescape(path)
	if err != nil {
		return fmt.Errorf("bad path %q: %w", path, err)
	}
	u.Path = p
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.ES.Perform(req)
	if err != nil {
		if why := notSentReason(err); why != "" && !errors.Is(err, ErrNotSent) {
			return fmt.Errorf("%s %s: %w (%s): %w", method, path, ErrNotSent, why, err)
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return ParseError(method, path, res.StatusCode, data)
	}
	if err := read(res.Body); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

func asAPIError(err error, target **APIError) bool { return errors.As(err, target) }
