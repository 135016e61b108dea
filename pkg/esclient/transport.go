package esclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// emptySHA256 is the payload hash of a request without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// roundTripFunc lets a closure stand in as a RoundTripper in decorators and tests.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// readBody returns the full body of req without consuming the caller's copy:
// it reads through GetBody when it can, so each retry sees the whole body.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("re-read request body: %w", err)
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	defer req.Body.Close()
	return io.ReadAll(req.Body)
}

// withBody returns a clone of req carrying buf as a replayable body with an
// exact Content-Length, which signed requests need (no chunked encoding).
func withBody(req *http.Request, buf []byte) *http.Request {
	r := req.Clone(req.Context())
	r.ContentLength = int64(len(buf))
	if len(buf) == 0 {
		r.Body, r.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Header.Set("Content-Length", "0")
		}
		return r
	}
	r.Body = io.NopCloser(bytes.NewReader(buf))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return r
}

// signer signs each request it sees with SigV4 for service "es". It sits
// innermost so that a retried request gets a fresh timestamp and signature.
type signer struct {
	next   http.RoundTripper
	creds  aws.CredentialsProvider
	v4     *v4.Signer
	region string
	now    func() time.Time
}

func (s *signer) RoundTrip(req *http.Request) (*http.Response, error) {
	buf, err := readBody(req)
	if err != nil {
		return nil, err
	}
	r := withBody(req, buf)
	hash := emptySHA256
	if len(buf) > 0 {
		sum := sha256.Sum256(buf)
		hash = hex.EncodeToString(sum[:])
	}
	r.Header.Set("X-Amz-Content-Sha256", hash)
	r.Header.Del("Authorization")
	creds, err := s.creds.Retrieve(r.Context())
	if err != nil {
		return nil, fmt.Errorf("retrieve AWS credentials: %w", err)
	}
	if err := s.v4.SignHTTP(r.Context(), creds, r, hash, "es", s.region, s.now().UTC()); err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	return s.next.RoundTrip(r)
}

// hygiene removes the Elastic compatibility media type that
// ELASTIC_CLIENT_APIVERSIONING=true makes the v7 client send and OpenSearch
// answers with 406. It runs before signing so the signed headers are final.
type hygiene struct{ next http.RoundTripper }

func (h hygiene) RoundTrip(req *http.Request) (*http.Response, error) {
	ct, acc := req.Header.Get("Content-Type"), req.Header.Get("Accept")
	if !strings.Contains(ct, "compatible-with") && !strings.Contains(acc, "compatible-with") {
		return h.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	if strings.Contains(ct, "compatible-with") {
		r.Header.Set("Content-Type", "application/json")
	}
	if strings.Contains(acc, "compatible-with") {
		r.Header.Set("Accept", "application/json")
	}
	return h.next.RoundTrip(r)
}

// productHeader makes go-elasticsearch's product check accept every AWS
// domain kind: it adds X-Elastic-Product to answers that lack it. The check
// then passes on the first request, so an executed request is never reported
// as failed (the trap of UseResponseCheckOnly).
type productHeader struct{ next http.RoundTripper }

func (p productHeader) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := p.next.RoundTrip(req)
	if res != nil && res.Header.Get("X-Elastic-Product") == "" {
		if res.Header == nil {
			res.Header = http.Header{}
		}
		res.Header.Set("X-Elastic-Product", "Elasticsearch")
	}
	return res, err
}

// deadline bounds each attempt by the request timeout and by the caller's
// deadline (the Lambda deadline) less a margin, so the function can still
// report what happened before Lambda kills it. A long request
// (WithLongRequest) is bounded by the deadline only, and leaves reserve
// free besides the margin, so that the caller's follow-up request, which
// checks what the long one did after its answer was lost, still has time.
type deadline struct {
	next    http.RoundTripper
	timeout time.Duration
	margin  time.Duration
	reserve time.Duration
	now     func() time.Time
}

func (d deadline) RoundTrip(req *http.Request) (*http.Response, error) {
	limit := d.timeout
	long, _ := req.Context().Value(longKey{}).(bool)
	if long {
		limit = 0 // bounded by the caller's deadline only
	}
	if dl, ok := req.Context().Deadline(); ok {
		left := dl.Sub(d.now()) - d.margin
		if left <= 0 {
			return nil, fmt.Errorf("%s %s: %w: %w: no time left before the function deadline", req.Method, req.URL.Path, ErrNotSent, context.DeadlineExceeded)
		}
		if long {
			left = leaveReserve(left, d.reserve)
		}
		if limit <= 0 || left < limit {
			limit = left
		}
	}
	if n, ok := req.Context().Value(attemptsKey{}).(*atomic.Int32); ok {
		n.Add(1) // this attempt goes out
	}
	if limit <= 0 {
		return d.next.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), limit)
	res, err := d.next.RoundTrip(req.WithContext(ctx))
	if err != nil || res == nil {
		cancel()
		return res, err
	}
	res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: cancel}
	return res, nil
}

// leaveReserve is the part of left a long request may use: all but reserve,
// or half when left is too short for both (the request and its follow-up
// then split what remains).
func leaveReserve(left, reserve time.Duration) time.Duration {
	if left > 2*reserve {
		return left - reserve
	}
	return left / 2
}

// cancelOnClose releases an attempt's timer only once its body is consumed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

type longKey struct{}

// WithLongRequest lifts the per-attempt RequestTimeout for a request that
// legitimately runs long (a snapshot with wait_for_completion=true); the
// caller's deadline less the margin and less Config.FollowUpReserve still
// bounds it, so a request that checks its outcome can follow.
func WithLongRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, longKey{}, true)
}

type attemptsKey struct{}

// WithAttemptCount makes the transport count the attempts it sends for
// requests made with the returned context (its own repeats included, an
// attempt refused for lack of time not), so that a message can say
// truthfully how often a request was tried. The client's one-time product
// check (GET /) runs with the context of the first request and counts too
// when that request carries the counter.
func WithAttemptCount(ctx context.Context) (context.Context, *atomic.Int32) {
	n := new(atomic.Int32)
	return context.WithValue(ctx, attemptsKey{}, n), n
}

type idempotentKey struct{}

// WithIdempotent marks a request as safe to repeat although its method is not
// GET or HEAD (e.g. PUT _snapshot/repo, which only overwrites settings).
func WithIdempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

func idempotent(req *http.Request) bool {
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return true
	}
	v, _ := req.Context().Value(idempotentKey{}).(bool)
	return v
}

// repeat says which requests the transport may send again after a failed
// attempt, by what the failure proves about whether the request ran. The
// zero value (a status not in repeatOn) never repeats.
type repeat int

const (
	// repeatIdempotent: the request may have run and its answer was lost, so
	// only a request that is safe to run twice is sent again (GET, HEAD, or
	// marked WithIdempotent).
	repeatIdempotent repeat = iota + 1
	// repeatIdempotentOrRefused: as repeatIdempotent, and any request whose
	// answer is an engine error body: the engine answered and refused, so
	// nothing ran.
	repeatIdempotentOrRefused
	// repeatAlways: nothing ran (throttled before running, never connected).
	repeatAlways
)

// repeatOn is the transport's one table of which HTTP statuses it repeats
// within one invocation, with backoff and within the deadline; any status
// not listed is never repeated. After a 502/504 a snapshot create or a
// restore is returned to the caller, which checks the resulting state
// instead of sending it again.
//
// It is the inner of two retry layers: what the transport gives up on
// reaches the caller, pkg/failure classifies it, and pkg/failure's one
// declaration (Transient: ConcurrentSnapshotError, EngineUnavailableError)
// says which types Step Functions retries as whole invocations.
var repeatOn = map[int]repeat{
	http.StatusTooManyRequests:    repeatAlways,
	http.StatusServiceUnavailable: repeatIdempotentOrRefused,
	http.StatusBadGateway:         repeatIdempotent,
	http.StatusGatewayTimeout:     repeatIdempotent,
}

// The same rule for attempts that got no answer at all: a failed dial sent
// nothing; any other network error or attempt timeout may have lost the
// answer of a request that ran.
const (
	repeatOnDialError    = repeatAlways
	repeatOnNetworkError = repeatIdempotent
)

// allows applies the rule to one request and, for
// repeatIdempotentOrRefused, to its answer.
func (r repeat) allows(req *http.Request, res *http.Response) bool {
	switch r {
	case repeatAlways:
		return true
	case repeatIdempotent:
		return idempotent(req)
	case repeatIdempotentOrRefused:
		return idempotent(req) || (res != nil && engineRefused(res))
	}
	return false
}

// retry repeats failed attempts as repeatOn, repeatOnDialError and
// repeatOnNetworkError allow, at most maxAttempts times, never past the
// caller's deadline (read on the injected clock).
type retry struct {
	next        http.RoundTripper
	maxAttempts int
	base, max   time.Duration
	sleep       func(context.Context, time.Duration) error
	jitter      func(time.Duration) time.Duration
	now         func() time.Time
}

func (t *retry) RoundTrip(req *http.Request) (*http.Response, error) {
	buf, err := readBody(req)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		res, err := t.next.RoundTrip(withBody(req, buf))
		again, wait := t.decide(req, res, err)
		if !again || attempt >= t.maxAttempts {
			return res, err
		}
		if res != nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		if wait <= 0 {
			wait = t.backoff(attempt)
		}
		if dl, ok := req.Context().Deadline(); ok && dl.Sub(t.now()) < wait {
			// No time for another attempt: report this one as it is.
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%s %s: status %d, and no time left to retry before the deadline: %w", req.Method, req.URL.Path, res.StatusCode, context.DeadlineExceeded)
		}
		if serr := t.sleep(req.Context(), wait); serr != nil {
			if err != nil {
				return nil, err
			}
			return nil, serr
		}
	}
}

func (t *retry) backoff(attempt int) time.Duration {
	d := t.base << (attempt - 1)
	if d > t.max || d <= 0 {
		d = t.max
	}
	return t.jitter(d)
}

// decide reports whether to retry, and the server-requested wait if any.
func (t *retry) decide(req *http.Request, res *http.Response, err error) (bool, time.Duration) {
	if err != nil {
		if errors.Is(err, context.Canceled) || req.Context().Err() != nil {
			return false, 0
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return repeatOnDialError.allows(req, nil), 0
		}
		return repeatOnNetworkError.allows(req, nil), 0
	}
	rule, ok := repeatOn[res.StatusCode]
	if !ok {
		return false, 0
	}
	return rule.allows(req, res), retryAfter(res.Header.Get("Retry-After"))
}

// engineRefused peeks at a 503 body and keeps it readable for the caller.
func engineRefused(res *http.Response) bool {
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	e := ParseError("", "", res.StatusCode, body)
	return e.Source == SourceEngine && e.Type != ""
}

func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 && s <= 60 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// Sleep waits d or until ctx ends, whichever comes first: the one
// cancellable wait of essnap's retries and polls.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fullJitter spreads retries of many functions hitting one busy domain.
func fullJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}
