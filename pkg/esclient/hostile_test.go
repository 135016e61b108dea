package esclient

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An endpoint is scheme and host only: a path, a query or a fragment is
// refused, credentials stay redacted, and a runaway value is quoted short.
func TestValidateEndpointRefusesPathQueryFragment(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
	}{
		{"host only", "https://search-logs-abc.eu-west-1.es.amazonaws.com", nil},
		{"trailing slash", "https://search-logs-abc.eu-west-1.es.amazonaws.com/", nil},
		{"port", "http://127.0.0.1:9200", nil},
		{"path", "https://h.eu-west-1.es.amazonaws.com/_plugin/kibana", []string{"has a path", "https://h.eu-west-1.es.amazonaws.com"}},
		{"query", "https://h.eu-west-1.es.amazonaws.com?x=1", []string{"has a query"}},
		{"empty query", "https://h.eu-west-1.es.amazonaws.com/?", []string{"has a query"}},
		{"fragment", "https://h.eu-west-1.es.amazonaws.com#frag", []string{"has a fragment"}},
		{"empty fragment", "https://h.eu-west-1.es.amazonaws.com/#", []string{"has a fragment"}},
		{"all three", "https://h.eu-west-1.es.amazonaws.com/p?q=1#f", []string{"has a path and a query and a fragment"}},
		{"encoded path", "https://h.eu-west-1.es.amazonaws.com/%2F", []string{"has a path"}},
		{"credentials with query", "https://user:secret@h.eu-west-1.es.amazonaws.com?x", []string{"carries credentials", "xxxxx"}},
		{"runaway", "https://h.eu-west-1.es.amazonaws.com/" + strings.Repeat("p", 5000), []string{"5037 bytes", "...("}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ValidateEndpoint(c.in)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") || len(err.Error()) > 400 {
				t.Errorf("error shows too much: %s", err)
			}
		})
	}
}

// A request that never left (refused connection, DNS failure, TLS
// handshake failure) says "nothing was sent" and is marked ErrNotSent; a
// timeout after sending is not.
func TestNothingWasSent(t *testing.T) {
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "{}") }))
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "{}") }))
	t.Cleanup(tlsSrv.Close)
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			io.WriteString(w, productBodies["opensearch-2"])
			return
		}
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leave
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(stall.Close)
	cases := []struct {
		name, endpoint string
		notSent        bool
		want           string
	}{
		{"connection refused", "http://" + closed(), true, "nothing was sent (the connection could not be opened)"},
		{"DNS", "http://no-such-host.invalid", true, "nothing was sent (DNS lookup"},
		{"TLS to a plain HTTP server", "https://" + strings.TrimPrefix(plain.URL, "http://"), true, "nothing was sent (TLS handshake failed: the endpoint does not speak TLS"},
		{"untrusted certificate", tlsSrv.URL, true, "nothing was sent (TLS handshake failed: the endpoint's certificate is not trusted)"},
		{"timeout after sending", stall.URL, false, "context deadline exceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, err := New(Config{Endpoint: c.endpoint, Unsigned: true, MaxAttempts: 1, RequestTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			err = cl.Do(context.Background(), http.MethodPut, "/_snapshot/r/s", nil, map[string]any{}, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrNotSent) != c.notSent || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("notSent=%v: %v", errors.Is(err, ErrNotSent), err)
			}
		})
	}
}

// The attempt counter counts what the transport really sends, its own
// repeats included.
func TestAttemptCount(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			io.WriteString(w, productBodies["opensearch-2"])
			return
		}
		hits++
		w.WriteHeader(http.StatusGatewayTimeout)
	}))
	t.Cleanup(srv.Close)
	cl, err := New(Config{Endpoint: srv.URL, Unsigned: true, MaxAttempts: 3, Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	_ = cl.Do(context.Background(), http.MethodGet, "/", nil, nil, nil) // the client's product check
	hits = 0
	ctx, n := WithAttemptCount(context.Background())
	_ = cl.Do(ctx, http.MethodGet, "/x", nil, nil, nil)
	if n.Load() != 3 || hits != 3 {
		t.Fatalf("counted %d, sent %d", n.Load(), hits)
	}
}
