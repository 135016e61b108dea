package esclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

var testCreds = credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "SESSIONTOKEN")

// The three GET / answers of AWS domain kinds (field notes §2), none with
// X-Elastic-Product: the plain v7 client refuses all three.
var productBodies = map[string]string{
	"aws-es-7.10-oss":   `{"name":"x","cluster_name":"123:logs","version":{"number":"7.10.2","build_flavor":"oss","build_type":"tar","lucene_version":"8.7.0"},"tagline":"You Know, for Search"}`,
	"opensearch-2":      `{"name":"x","cluster_name":"123:logs","version":{"distribution":"opensearch","number":"2.11.0","lucene_version":"9.7.0"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`,
	"opensearch-compat": `{"name":"x","cluster_name":"123:logs","version":{"number":"7.10.2","build_type":"tar","lucene_version":"9.7.0"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`,
}

// recorder is a fake domain that records every request it receives.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, uri string
	header      http.Header
	body        string
}

func (r *recorder) record(req *http.Request) recorded {
	b, _ := io.ReadAll(req.Body)
	rec := recorded{req.Method, req.RequestURI, req.Header.Clone(), string(b)}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return rec
}

func (r *recorder) count(method, prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.reqs {
		if q.method == method && strings.HasPrefix(q.uri, prefix) {
			n++
		}
	}
	return n
}

func newTestClient(t *testing.T, url string, signed bool, now func() time.Time) *Client {
	t.Helper()
	cfg := Config{Endpoint: url, Unsigned: !signed, Region: "eu-west-1", Credentials: testCreds, Now: now,
		Sleep: func(context.Context, time.Duration) error { return nil }}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestProductCheckPassesOnEveryAWSDomainKind(t *testing.T) {
	for kind, body := range productBodies {
		t.Run(kind, func(t *testing.T) {
			rec := &recorder{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec.record(r)
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Path == "/" {
					io.WriteString(w, body)
					return
				}
				io.WriteString(w, `{"accepted":true}`)
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, true, time.Now)
			if err := c.Do(context.Background(), "PUT", Path("_snapshot", "r", "s"), nil, map[string]any{"indices": "logs-*"}, nil); err != nil {
				t.Fatalf("executed snapshot PUT reported as failure: %v", err)
			}
			if n := rec.count("PUT", "/_snapshot/r/s"); n != 1 {
				t.Fatalf("snapshot PUT sent %d times", n)
			}
			if err := c.Do(context.Background(), "GET", "/_cat/indices", nil, nil, nil); err != nil {
				t.Fatal(err)
			}
			if n := rec.count("GET", "/"); n < 1 || rec.count("GET", "/_cat") != 1 {
				t.Fatalf("unexpected requests %v", rec.reqs)
			}
		})
	}
}

// Field notes §3: the 403 bodies of AWS, each typed and with the fix.
func TestAWS403Bodies(t *testing.T) {
	cases := []struct {
		name, body string
		source     Source
		hint       string
	}{
		{"wrong service", `{"message":"Credential should be scoped to correct service: 'es'. "}`, SourceSignature, "service 'es'"},
		{"wrong region", `{"message":"Credential should be scoped to a valid region, not 'us-east-1'. "}`, SourceSignature, "ESSNAP_REGION"},
		{"no session token", `{"message":"The security token included in the request is invalid."}`, SourceSignature, "session token"},
		{"unsigned", `{"Message":"User: anonymous is not authorized to perform: es:ESHttpPut"}`, SourceIAM, "unsigned"},
		{"no passrole", `{"Message":"User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/SnapshotRole"}`, SourceIAM, "iam:PassRole on the SnapshotRole"},
		{"no role_arn", `{"Message":"settings.role_arn is needed for snapshot registration."}`, SourceIAM, "ESSNAP_ROLE_ARN"},
		{"no ESHttp", `{"Message":"User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: es:ESHttpPut on resource: arn:aws:es:eu-west-1:123456789012:domain/logs/_snapshot/r"}`, SourceIAM, "es:ESHttp*"},
		{"fgac", `{"error":{"root_cause":[{"type":"security_exception","reason":"no permissions for [cluster:admin/repository/put] and User [name=arn:aws:iam::123456789012:role/fn, backend_roles=[arn:aws:iam::123456789012:role/fn], requestedTenant=null]"}],"type":"security_exception","reason":"no permissions for [cluster:admin/repository/put] and User [name=arn:aws:iam::123456789012:role/fn, backend_roles=[arn:aws:iam::123456789012:role/fn], requestedTenant=null]"},"status":403}`, SourceEngine, "manage_snapshots"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/" {
					io.WriteString(w, productBodies["opensearch-2"])
					return
				}
				w.WriteHeader(403)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, true, time.Now)
			err := c.Do(context.Background(), "PUT", Path("_snapshot", "r"), nil, map[string]any{"type": "s3"}, nil)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("not an APIError: %v", err)
			}
			if ae.Status != 403 || ae.Source != tc.source || ae.Reason == "" {
				t.Fatalf("parsed %+v", ae)
			}
			if !strings.Contains(err.Error(), tc.hint) {
				t.Fatalf("message lacks the fix %q: %v", tc.hint, err)
			}
		})
	}
}

func TestParseErrorShapes(t *testing.T) {
	cases := []struct {
		name, body        string
		status            int
		src               Source
		typ, reason, root string
	}{
		{"engine", `{"error":{"root_cause":[{"type":"snapshot_missing_exception","reason":"[r:s] is missing"}],"type":"snapshot_missing_exception","reason":"[r:s] is missing"},"status":404}`, 404, SourceEngine, "snapshot_missing_exception", "[r:s] is missing", ""},
		{"engine nested root", `{"error":{"root_cause":[{"type":"repository_verification_exception","reason":"x"}],"type":"repository_exception","reason":"y"},"status":500}`, 500, SourceEngine, "repository_exception", "y", "repository_verification_exception"},
		{"engine string error", `{"error":"Incorrect HTTP method","status":405}`, 405, SourceEngine, "", "Incorrect HTTP method", ""},
		{"iam", `{"Message":"User: x is not authorized"}`, 403, SourceIAM, "", "User: x is not authorized", ""},
		{"sigv4", `{"message":"Signature expired"}`, 403, SourceSignature, "", "Signature expired", ""},
		{"html 504", `<html><body><h1>504 Gateway Time-out</h1></body></html>`, 504, SourceHTTP, "", "504 Gateway Time-out (an HTML page of 55 bytes from a proxy or load balancer, not the engine)", ""},
		{"empty", ``, 502, SourceHTTP, "", "Bad Gateway (empty body)", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := ParseError("GET", "/x", tc.status, []byte(tc.body))
			if e.Status != tc.status || e.Source != tc.src || e.Type != tc.typ || e.Reason != tc.reason || e.RootCause != tc.root {
				t.Fatalf("got %+v", e)
			}
		})
	}
}

// Bodies that are not an engine's or AWS's error never reach a message
// raw: a proxy's page is named by its title or heading, text by its first
// line, anything else by kind and size; engine texts are cut, and an
// engine error's root cause is kept when no caused_by explains it.
func TestParseErrorNeverShowsRawBodies(t *testing.T) {
	long := strings.Repeat("x", 5000)
	cases := []struct {
		name, body string
		status     int
		src        Source
		want       []string
		wantNot    []string
	}{
		{name: "html with title", status: 502, body: "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
			src: SourceHTTP, want: []string{"502 Bad Gateway", "HTML page", "not the engine"}, wantNot: []string{"<", "color:red", "nginx"}},
		{name: "html without title or heading", status: 503, body: "<html><body><p>Service   is\n down</p></body></html>",
			src: SourceHTTP, want: []string{"Service is down", "HTML page"}, wantNot: []string{"<p>"}},
		{name: "huge html", status: 504, body: "<html><body>" + long + "</body></html>",
			src: SourceHTTP, want: []string{"HTML page of 5026 bytes", "..."}, wantNot: []string{long[:200]}},
		{name: "plain text", status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: connection termination\nsecond line",
			src: SourceHTTP, want: []string{"upstream connect error", "a text body of"}, wantNot: []string{"second line"}},
		{name: "short plain text", status: 429, body: "Too Many Requests", src: SourceHTTP, want: []string{"Too Many Requests"}},
		{name: "unknown json", status: 500, body: `{"foo":{"bar":"` + long + `"}}`, src: SourceHTTP, want: []string{"Internal Server Error", "JSON body of 5018 bytes without an engine error"}, wantNot: []string{"foo", "xxxx"}},
		{name: "json array", status: 500, body: `[1,2,3]`, src: SourceHTTP, want: []string{"JSON body of 7 bytes"}},
		{name: "binary", status: 502, body: "\xff\xfe\x00\x01", src: SourceHTTP, want: []string{"binary body of 4 bytes"}},
		{name: "error null", status: 500, body: `{"error":null,"status":500}`, src: SourceHTTP, want: []string{"JSON body"}},
		{name: "error a number", status: 500, body: `{"error":42,"status":500}`, src: SourceEngine, want: []string{"an engine error without type or reason"}},
		{name: "empty IAM message", status: 403, body: `{"Message":""}`, src: SourceHTTP, want: []string{"Forbidden", "JSON body"}},
		{name: "long engine reason", status: 400, body: `{"error":{"type":"x_exception","reason":"` + long + `"},"status":400}`, src: SourceEngine, want: []string{"x_exception", "...(5000 bytes)"}},
		{name: "root cause kept", status: 500, body: `{"error":{"root_cause":[{"type":"repository_exception","reason":"[r] location [/x] doesn't match any of the locations specified by path.repo"}],"type":"repository_exception","reason":"[r] failed to create repository"},"status":500}`,
			src: SourceEngine, want: []string{"failed to create repository", "caused by: [r] location [/x] doesn't match", "fix: add the directory", "use type s3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := ParseError("GET", "/x", tc.status, []byte(tc.body))
			msg := e.Error()
			if e.Source != tc.src {
				t.Errorf("source %s, want %s", e.Source, tc.src)
			}
			if len(msg) > 1500 {
				t.Errorf("message is %d bytes", len(msg))
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q: %s", w, msg)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(msg, w) {
					t.Errorf("message shows %q: %s", w, msg)
				}
			}
		})
	}
}

// A 504 on snapshot create is never answered by a second create: the
// caller gets the error and checks state (see snapshot.CreateSnapshot).
func TestNoRetryOfNonIdempotentAfter504(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		if r.URL.Path == "/" {
			io.WriteString(w, productBodies["aws-es-7.10-oss"])
			return
		}
		w.WriteHeader(504)
		io.WriteString(w, `<html>504 Gateway Time-out</html>`)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, true, time.Now)
	err := c.Do(context.Background(), "PUT", Path("_snapshot", "r", "s"), nil, map[string]any{}, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 504 {
		t.Fatalf("want 504 APIError, got %v", err)
	}
	if n := rec.count("PUT", "/_snapshot/r/s"); n != 1 {
		t.Fatalf("PUT sent %d times after a 504", n)
	}
	// A GET is retried on 504.
	_ = c.Do(context.Background(), "GET", Path("_snapshot", "r", "s"), nil, nil, nil)
	if n := rec.count("GET", "/_snapshot/r/s"); n != 4 {
		t.Fatalf("GET attempts = %d, want 4", n)
	}
}

// Every retry is re-signed: fresh X-Amz-Date, new signature, and the hash
// and body of the whole payload each time.
func TestRetriesAreResignedWithFullBody(t *testing.T) {
	rec := &recorder{}
	attempts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			io.WriteString(w, productBodies["opensearch-2"])
			return
		}
		rec.record(r)
		attempts++
		if attempts < 3 {
			w.WriteHeader(429)
			io.WriteString(w, `{"error":{"type":"es_rejected_execution_exception","reason":"rejected"},"status":429}`)
			return
		}
		io.WriteString(w, `{"accepted":true}`)
	}))
	defer srv.Close()
	clock := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(7 * time.Second); return clock }
	c := newTestClient(t, srv.URL, true, now)
	body := map[string]any{"indices": strings.Repeat("logs-2026.11.", 200) + "x", "ignore_unavailable": true}
	if err := c.Do(context.Background(), "POST", Path("_snapshot", "r", "s", "_restore"), nil, body, nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.reqs) != 3 {
		t.Fatalf("attempts %d", len(rec.reqs))
	}
	seenDate, seenSig := map[string]bool{}, map[string]bool{}
	for i, q := range rec.reqs {
		sum := sha256.Sum256([]byte(q.body))
		if got := q.header.Get("X-Amz-Content-Sha256"); got != hex.EncodeToString(sum[:]) {
			t.Fatalf("attempt %d: hash %s does not match body of %d bytes", i, got, len(q.body))
		}
		if len(q.body) < 2400 || q.header.Get("Content-Length") == "" && len(q.body) > 0 {
			t.Fatalf("attempt %d: body %d bytes, Content-Length %q", i, len(q.body), q.header.Get("Content-Length"))
		}
		if q.body != rec.reqs[0].body {
			t.Fatalf("attempt %d sent a different body", i)
		}
		seenDate[q.header.Get("X-Amz-Date")] = true
		seenSig[q.header.Get("Authorization")] = true
		if !strings.Contains(q.header.Get("Authorization"), "/eu-west-1/es/aws4_request") {
			t.Fatalf("scope: %s", q.header.Get("Authorization"))
		}
		if q.header.Get("X-Amz-Security-Token") != "SESSIONTOKEN" {
			t.Fatal("session token not sent")
		}
	}
	if len(seenDate) != 3 || len(seenSig) != 3 {
		t.Fatalf("retries not re-signed: %d dates, %d signatures", len(seenDate), len(seenSig))
	}
}

// A date-math name travels escaped, and the signature covers the escaped
// path exactly as received: the server re-signs what it got and compares.
func TestDateMathNameEscapedAndSigned(t *testing.T) {
	var got recorded
	var verifyErr error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			io.WriteString(w, productBodies["opensearch-2"])
			return
		}
		got = (&recorder{}).record(r)
		verifyErr = verifySignature(r, got)
		io.WriteString(w, `{"accepted":true}`)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, true, time.Now)
	if err := c.Do(context.Background(), "PUT", Path("_snapshot", "r", "<nightly-{now/d}>"), nil, map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	if got.uri != "/_snapshot/r/%3Cnightly-%7Bnow%2Fd%7D%3E" {
		t.Fatalf("sent %s", got.uri)
	}
	if verifyErr != nil {
		t.Fatal(verifyErr)
	}
}

// verifySignature recomputes the SigV4 signature of a received request.
func verifySignature(r *http.Request, rec recorded) error {
	when, err := time.Parse("20060102T150405Z", rec.header.Get("X-Amz-Date"))
	if err != nil {
		return err
	}
	auth := rec.header.Get("Authorization")
	i := strings.Index(auth, "SignedHeaders=")
	signed := strings.Split(strings.SplitN(auth[i+len("SignedHeaders="):], ",", 2)[0], ";")
	req, _ := http.NewRequest(r.Method, "http://"+r.Host+r.RequestURI, strings.NewReader(rec.body))
	for _, h := range signed {
		if h == "host" {
			continue
		}
		req.Header.Set(h, rec.header.Get(h))
	}
	req.ContentLength = int64(len(rec.body))
	creds, _ := testCreds.Retrieve(context.Background())
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, rec.header.Get("X-Amz-Content-Sha256"), "es", "eu-west-1", when); err != nil {
		return err
	}
	if req.Header.Get("Authorization") != auth {
		return errors.New("signature of the received request differs:\n got  " + auth + "\n want " + req.Header.Get("Authorization"))
	}
	return nil
}

func TestRegionFromHost(t *testing.T) {
	cases := []struct{ host, want string }{
		{"search-logs-abc123.eu-west-1.es.amazonaws.com", "eu-west-1"},
		{"vpc-logs-abc123.ap-northeast-1.es.amazonaws.com", "ap-northeast-1"},
		{"search-logs-abc123.cn-north-1.es.amazonaws.com.cn", "cn-north-1"},
		{"search-logs-abc123.aos.us-east-2.on.aws", "us-east-2"},
		{"search-logs-abc123.eu-west-1.es.amazonaws.com:443", "eu-west-1"},
		{"localhost:9200", ""},
		{"logs.example.com", ""},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			got, err := RegionFromHost(tc.host)
			if got != tc.want || (tc.want == "") != (err != nil) {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestRetryDecision(t *testing.T) {
	r := &retry{}
	engine503 := `{"error":{"type":"concurrent_snapshot_execution_exception","reason":"x"},"status":503}`
	cases := []struct {
		name, method string
		status       int
		body         string
		idem         bool
		want         bool
	}{
		{"GET 503", "GET", 503, "", false, true},
		{"GET 504", "GET", 504, "", false, true},
		{"GET 500", "GET", 500, "", false, false},
		{"PUT 429", "PUT", 429, "", false, true},
		{"PUT 502", "PUT", 502, "", false, false},
		{"PUT 504", "PUT", 504, "", false, false},
		{"POST 503 from load balancer", "POST", 503, "<html>Service Unavailable</html>", false, false},
		{"PUT 503 engine refused", "PUT", 503, engine503, false, true},
		{"idempotent PUT 504", "PUT", 504, "", true, true},
		{"PUT 400", "PUT", 400, "", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.idem {
				ctx = WithIdempotent(ctx)
			}
			req, _ := http.NewRequestWithContext(ctx, tc.method, "http://x/y", nil)
			res := &http.Response{StatusCode: tc.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tc.body))}
			if got, _ := r.decide(req, res, nil); got != tc.want {
				t.Fatalf("retry = %v", got)
			}
			if b, _ := io.ReadAll(res.Body); string(b) != tc.body {
				t.Fatal("decision consumed the body")
			}
		})
	}
}

func TestHygieneDropsCompatibilityMediaType(t *testing.T) {
	var seen http.Header
	h := hygiene{next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = r.Header
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
	})}
	req, _ := http.NewRequest("GET", "http://x/", nil)
	req.Header.Set("Accept", "application/vnd.elasticsearch+json;compatible-with=7")
	req.Header.Set("Content-Type", "application/vnd.elasticsearch+json;compatible-with=7")
	if _, err := h.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if seen.Get("Accept") != "application/json" || seen.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", seen)
	}
	if !strings.Contains(req.Header.Get("Accept"), "compatible") {
		t.Fatal("caller's request was modified instead of cloned")
	}
}

func TestDeadlineLeavesMarginAndSendsNothingLate(t *testing.T) {
	sent := 0
	d := deadline{timeout: time.Minute, margin: 2 * time.Second, now: time.Now, next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent++
		dl, _ := r.Context().Deadline()
		if time.Until(dl) > 9*time.Second {
			t.Errorf("attempt deadline %v ignores the margin", time.Until(dl))
		}
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://x/", nil)
	res, err := d.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	late, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	req, _ = http.NewRequestWithContext(late, "GET", "http://x/", nil)
	if _, err := d.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) || sent != 1 {
		t.Fatalf("late request: %v, sent %d", err, sent)
	}
}

func TestValidateEndpoint(t *testing.T) {
	for _, bad := range []string{"", "search-x.eu-west-1.es.amazonaws.com", "https://h/prefix", "ftp://h", "https://u:p@h"} {
		if _, err := ValidateEndpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := New(Config{Endpoint: "https://h.example.com", Credentials: testCreds}); err == nil {
		t.Error("custom host without region accepted")
	}
	if _, err := New(Config{Endpoint: "https://search-x.eu-west-1.es.amazonaws.com"}); err == nil {
		t.Error("signed client without credentials accepted")
	}
	var _ aws.CredentialsProvider = testCreds
}

// A long request (wait_for_completion) leaves FollowUpReserve free besides
// the margin, so the state check after a lost answer still has time; a
// deadline too short for both is split between them.
func TestLongRequestLeavesFollowUpReserve(t *testing.T) {
	// The attempt's context is built on the wall clock, so the injected
	// clock starts there.
	start := time.Now()
	now := func() time.Time { return start }
	var got time.Duration
	d := deadline{timeout: 30 * time.Second, margin: 2 * time.Second, reserve: 5 * time.Second, now: now,
		next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			dl, _ := r.Context().Deadline()
			got = dl.Sub(start)
			return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
		})}
	cases := []struct {
		name string
		left time.Duration
		long bool
		want time.Duration
	}{
		{"long: deadline less margin and reserve", 300 * time.Second, true, 293 * time.Second},
		{"long: too short for both, split", 10 * time.Second, true, 4 * time.Second},
		{"short request: the request timeout", 300 * time.Second, false, 30 * time.Second},
		{"short request near the deadline: no reserve", 10 * time.Second, false, 8 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithDeadline(context.Background(), start.Add(c.left))
			defer cancel()
			if c.long {
				ctx = WithLongRequest(ctx)
			}
			req, _ := http.NewRequestWithContext(ctx, "PUT", "http://x/_snapshot/r/s", nil)
			res, err := d.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			// The attempt context is built on the real clock; allow its drift.
			if got < c.want-time.Second || got > c.want+time.Second {
				t.Fatalf("attempt may run %v, want %v", got, c.want)
			}
		})
	}
}

// The retry decorator judges "time left for another attempt" on the
// injected clock, as the deadline decorator does, not on the wall clock.
func TestRetryReadsInjectedClock(t *testing.T) {
	dl := time.Now().Add(time.Hour)
	attempts := 0
	r := &retry{maxAttempts: 4, base: time.Second, max: time.Second,
		sleep:  func(context.Context, time.Duration) error { return nil },
		jitter: func(d time.Duration) time.Duration { return d },
		now:    func() time.Time { return dl.Add(-2 * time.Second) }, // 2 s left on the function's clock
		next: roundTripFunc(func(*http.Request) (*http.Response, error) {
			attempts++
			h := http.Header{}
			h.Set("Retry-After", "5")
			return &http.Response{StatusCode: 503, Header: h, Body: http.NoBody}, nil
		})}
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://x/_snapshot/r/s", nil)
	_, err := r.RoundTrip(req)
	if attempts != 1 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("attempts %d, err %v: a 5 s wait with 2 s left must end the retries", attempts, err)
	}
}

// The one table (repeatOn and the network-error rules) decides for every
// status and failure kind; a status not in it is never repeated.
func TestRepeatTable(t *testing.T) {
	r := &retry{}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	cases := []struct {
		name, method string
		err          error
		want         bool
	}{
		{"PUT never connected", "PUT", dial, true},
		{"PUT connection reset", "PUT", reset, false},
		{"GET connection reset", "GET", reset, true},
		{"PUT attempt timeout", "PUT", context.DeadlineExceeded, false},
		{"GET attempt timeout", "GET", context.DeadlineExceeded, true},
		{"canceled", "GET", context.Canceled, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, "http://x/y", nil)
			if got, _ := r.decide(req, nil, c.err); got != c.want {
				t.Fatalf("retry = %v", got)
			}
		})
	}
	for status := 100; status < 600; status++ {
		req, _ := http.NewRequest("GET", "http://x/y", nil)
		res := &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody}
		got, _ := r.decide(req, res, nil)
		if _, listed := repeatOn[status]; got != listed {
			t.Errorf("GET %d: retry = %v, listed in repeatOn = %v", status, got, listed)
		}
	}
}

// Endpoints with user information never reach a message with it.
func TestValidateEndpointRedactsCredentials(t *testing.T) {
	for _, raw := range []string{
		"https://alice:s3cr3t@search-x.eu-west-1.es.amazonaws.com",
		"https://alice:s3cr3t@search-x.eu-west-1.es.amazonaws.com/prefix",
		"ftp://alice:s3cr3t@search-x.eu-west-1.es.amazonaws.com",
		"https://alice:s3cr3t@search-x.eu-west-1.es.amazonaws.com/%zz",
		"alice:s3cr3t@search-x.eu-west-1.es.amazonaws.com",
		" https://alice:s3cr3t@h:9200 ",
	} {
		_, err := ValidateEndpoint(raw)
		if err == nil {
			t.Fatalf("%q accepted", raw)
		}
		if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "alice") {
			t.Errorf("%q: message shows the credentials: %v", raw, err)
		}
		if _, err := New(Config{Endpoint: raw, Unsigned: true}); err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%q: New: %v", raw, err)
		}
	}
}

func TestRedactEndpoint(t *testing.T) {
	cases := map[string]string{
		"https://alice:s3cr3t@h.example.com":          "https://xxxxx@h.example.com",
		"https://alice@h.example.com/x?y=1":           "https://xxxxx@h.example.com/x?y=1",
		"https://alice:s3cr3t@h.example.com/%zz":      "https://xxxxx@h.example.com/%zz",
		"alice:s3cr3t@h.example.com/p":                "xxxxx@h.example.com/p",
		"https://a:b@c@h.example.com":                 "https://xxxxx@h.example.com",
		"https://h.example.com/path@x":                "https://h.example.com/path@x",
		"https://search-x.eu-west-1.es.amazonaws.com": "https://search-x.eu-west-1.es.amazonaws.com",
		"": "",
	}
	for in, want := range cases {
		if got := RedactEndpoint(in); got != want {
			t.Errorf("RedactEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}
