//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/model"
)

// fault is what the fault proxy does with one request.
type fault int

const (
	pass          fault = iota // forward and relay the answer
	after504                   // forward (the engine runs it), then answer 504 with a gateway page
	after503Empty              // forward, then answer 503 with an empty body
	afterReset                 // forward, then reset the connection (TCP RST)
	afterStall                 // forward, then answer nothing until the client gives up
)

// faultProxy is an httptest reverse proxy in front of a real engine that
// injects faults per request (choose), as a load balancer or a flaky
// network does in front of an AWS domain, and counts what it sees per
// "METHOD path".
type faultProxy struct {
	URL    string
	mu     sync.Mutex
	seen   map[string]int
	choose func(r *http.Request) fault
}

func newFaultProxy(t *testing.T, e peer, choose func(r *http.Request) fault) *faultProxy {
	t.Helper()
	p := &faultProxy{seen: map[string]int{}, choose: choose}
	target, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.seen[r.Method+" "+r.URL.Path]++
		p.mu.Unlock()
		f := p.choose(r)
		out, _ := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, target.Scheme+"://"+target.Host+r.URL.RequestURI(), bytes.NewReader(body))
		out.Header = r.Header.Clone()
		res, err := client.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		answer, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch f {
		case after504:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusGatewayTimeout)
			io.WriteString(w, "<html><head><title>504 Gateway Time-out</title></head><body><h1>504 Gateway Time-out</h1></body></html>")
		case after503Empty:
			w.WriteHeader(http.StatusServiceUnavailable)
		case afterReset:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				if tcp, ok := conn.(*net.TCPConn); ok {
					_ = tcp.SetLinger(0)
				}
				conn.Close()
			}
		case afterStall:
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		default:
			for k, v := range res.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(res.StatusCode)
			w.Write(answer)
		}
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	p.URL = srv.URL
	return p
}

// count is how many requests the proxy saw for "METHOD path".
func (p *faultProxy) count(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[key]
}

// proxyDeps wires handlers to the proxy with short attempt timeouts and
// backoff, so that stalls and retries fit in a test.
func proxyDeps(proxyURL string, env map[string]string, timeout time.Duration) handler.Deps {
	return handler.Deps{
		Connect: func(_ context.Context, d handler.Domain) (any, error) {
			c, err := esclient.New(esclient.Config{Endpoint: d.Endpoint, Unsigned: true, RequestTimeout: timeout,
				BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
			if err != nil {
				return nil, err
			}
			return engine.Ops{C: c}, nil
		},
		Clock: fixedClock{time.Now()},
		Log:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Getenv: func(k string) string {
			switch k {
			case "ESSNAP_ENDPOINT":
				return proxyURL
			case "ESSNAP_UNSIGNED":
				return "true"
			}
			return env[k]
		},
	}
}

// snapshotNames lists a repository's snapshot names straight from the engine.
func snapshotNames(t *testing.T, e peer, repo string) []string {
	t.Helper()
	m := mustRaw(t, e, "GET", "/_snapshot/"+repo+"/_all?verbose=false", "")
	var out []string
	for _, s := range m["snapshots"].([]any) {
		out = append(out, s.(map[string]any)["snapshot"].(string))
	}
	return out
}

// Names the engines accept but essnap refuses before sending: "." and
// NUL are taken by the engine (it makes a snapshot named "."), while every
// function refuses them, an index pattern or rename with control
// characters, and an endpoint with a path, query or fragment, all with a
// ValidationError and nothing sent.
func TestHostileNamesRefusedBeforeSending(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			fsRepo(t, e, "it-hn")
			deleteIndices(t, e, "hn-*")
			t.Cleanup(func() { deleteIndices(t, e, "hn-*") })
			seed(t, e, "hn-logs", 2)
			// The engine itself takes "." as a snapshot name.
			if st, m := raw(t, e, "PUT", "/_snapshot/it-hn/%2E?wait_for_completion=true", `{"indices":"hn-logs"}`); st != 200 {
				t.Fatalf("the engine refused '.' itself (%d %v); this test shows essnap refusing what the engine accepts", st, m)
			}
			mustRaw(t, e, "DELETE", "/_snapshot/it-hn/%2E", "")
			if _, err := e.Ops.CreateSnapshot(ctx(t), "it-hn", "s1", engine.CreateOptions{Indices: []string{"hn-logs"}, WaitForCompletion: true}); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"ESSNAP_REPOSITORY": "it-hn"}
			cases := []struct {
				name   string
				invoke func(d handler.Deps, raw json.RawMessage) error
				raw    string
				want   string
			}{
				{"snapshot dot", takeInvoke, `{"snapshot":"."}`, "must not be '.' or '..'"},
				{"snapshot dotdot", takeInvoke, `{"snapshot":".."}`, "must not be '.' or '..'"},
				{"snapshot NUL", takeInvoke, `{"snapshot":"a\u0000b"}`, "control characters"},
				{"repository dotdot", takeInvoke, `{"repository":".."}`, "must not be '.' or '..'"},
				{"index pattern NUL", takeInvoke, `{"indices":["hn-\u0000"]}`, "control characters"},
				{"restore snapshot dot", restoreInvoke, `{"snapshot":"."}`, "must not be '.' or '..'"},
				{"rename target NUL", restoreInvoke, `{"snapshot":"s1","rename_suffix":"\u0000"}`, "control characters"},
				{"endpoint query", takeInvoke, `{"endpoint":"` + e.URL + `/?pretty"}`, "has a query"},
				{"endpoint fragment", restoreInvoke, `{"endpoint":"` + e.URL + `#x"}`, "has a fragment"},
				{"endpoint path", takeInvoke, `{"endpoint":"` + e.URL + `/_snapshot"}`, "has a path"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					err := c.invoke(deps(e, env, time.Now()), json.RawMessage(c.raw))
					if typeName(err) != "ValidationError" || !strings.Contains(err.Error(), c.want) {
						t.Fatalf("%T %v", err, err)
					}
				})
			}
			if names := snapshotNames(t, e, "it-hn"); len(names) != 1 || names[0] != "s1" {
				t.Fatalf("the repository changed: %v", names)
			}
		})
	}
}

func takeInvoke(d handler.Deps, raw json.RawMessage) error {
	_, err := handler.TakeSnapshot{Deps: d}.Invoke(context.Background(), raw)
	return err
}

func restoreInvoke(d handler.Deps, raw json.RawMessage) error {
	_, err := handler.Restore{Deps: d}.Invoke(context.Background(), raw)
	return err
}

func registerInvoke(d handler.Deps, raw json.RawMessage) error {
	_, err := handler.RegisterRepo{Deps: d}.Invoke(context.Background(), raw)
	return err
}

// A second writable repository on a location another one uses is refused
// (the engines accept it), through x/../ spellings too, naming both;
// a readonly second registration is fine.
func TestSecondWritableRepositoryOnOneLocation(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			loc := fsRepo(t, e, "it-loc-a")
			for _, n := range []string{"it-loc-b", "it-loc-c", "it-loc-engine"} {
				t.Cleanup(func() { deleteRepo(t, e, n) })
			}
			// The engine accepts a second writer on the same location.
			mustRaw(t, e, "PUT", "/_snapshot/it-loc-engine?verify=false", fmt.Sprintf(`{"type":"fs","settings":{"location":%q}}`, loc))
			deleteRepo(t, e, "it-loc-engine")

			spelled := filepath.Dir(loc) + "/x/../" + filepath.Base(loc) + "/"
			cases := []struct {
				name, raw, want string
				created         bool
			}{
				{"same location", fmt.Sprintf(`{"repository":"it-loc-b","type":"fs","location":%q}`, loc), "already used by repository it-loc-a (writable", false},
				{"x/../ spelling", fmt.Sprintf(`{"repository":"it-loc-b","type":"fs","location":%q}`, spelled), "register it-loc-b", false},
				{"readonly is fine", fmt.Sprintf(`{"repository":"it-loc-c","type":"fs","location":%q,"readonly":true}`, spelled), "", true},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					err := registerInvoke(deps(e, nil, time.Now()), json.RawMessage(c.raw))
					if c.created {
						if err != nil {
							t.Fatal(err)
						}
						return
					}
					if typeName(err) != "ValidationError" || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "readonly=true") || !strings.Contains(err.Error(), "it-loc-a") {
						t.Fatalf("%T %v", err, err)
					}
					if st, _ := raw(t, e, "GET", "/_snapshot/it-loc-b", ""); st != 404 {
						t.Fatalf("it-loc-b was registered (%d)", st)
					}
				})
			}
		})
	}
}

// A rename whose target is a system or hidden name is refused before the
// restore (the engine would restore it), unless include_system_indices.
func TestRenameOntoSystemIndexRefused(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "rs-*")
			deleteIndices(t, e, ".kibana-rs-*")
			deleteIndices(t, e, ".rs-*")
			t.Cleanup(func() { deleteIndices(t, e, "rs-*"); deleteIndices(t, e, ".kibana-rs-*"); deleteIndices(t, e, ".rs-*") })
			seed(t, e, "rs-logs", 3)
			fsRepo(t, e, "it-rs")
			if _, err := e.Ops.CreateSnapshot(ctx(t), "it-rs", "s1", engine.CreateOptions{Indices: []string{"rs-logs"}, WaitForCompletion: true}); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"ESSNAP_REPOSITORY": "it-rs"}
			for _, c := range []struct{ name, raw, target string }{
				{"onto .kibana", `{"snapshot":"s1","rename_pattern":"rs-(.+)","rename_replacement":".kibana-rs-$1"}`, ".kibana-rs-logs"},
				{"leading dot", `{"snapshot":"s1","rename_prefix":"."}`, ".rs-logs"},
			} {
				t.Run(c.name, func(t *testing.T) {
					err := restoreInvoke(deps(e, env, time.Now()), json.RawMessage(c.raw))
					if typeName(err) != "ValidationError" || !strings.Contains(err.Error(), "system or hidden index names") || !strings.Contains(err.Error(), c.target) {
						t.Fatalf("%T %v", err, err)
					}
					if exists(t, e, c.target) {
						t.Fatal("restored anyway")
					}
				})
			}
			t.Run("explicitly included", func(t *testing.T) {
				err := restoreInvoke(deps(e, env, time.Now()), json.RawMessage(`{"snapshot":"s1","rename_prefix":".","include_system_indices":true}`))
				if err != nil {
					t.Fatal(err)
				}
				waitRestore(t, e, []string{".rs-logs"})
				if n := count(t, e, ".rs-logs"); n != 3 {
					t.Fatalf("%d documents", n)
				}
			})
		})
	}
}

// take-snapshot refuses patterns that select nothing before creating
// anything; the engine itself would make an empty SUCCESS snapshot. An
// alias counts as a match.
func TestTakeSnapshotRefusesEmptySelection(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "es-*")
			t.Cleanup(func() { deleteIndices(t, e, "es-*") })
			seed(t, e, "es-logs", 2)
			mustRaw(t, e, "POST", "/_aliases", `{"actions":[{"add":{"index":"es-logs","alias":"es-current"}}]}`)
			fsRepo(t, e, "it-es")
			// What the engine does with such patterns: an empty SUCCESS.
			m := mustRaw(t, e, "PUT", "/_snapshot/it-es/engine-empty?wait_for_completion=true", `{"indices":"zzz-nothing-*"}`)
			if s := m["snapshot"].(map[string]any); s["state"] != "SUCCESS" || len(s["indices"].([]any)) != 0 {
				t.Fatalf("the engine made %v", s)
			}
			mustRaw(t, e, "DELETE", "/_snapshot/it-es/engine-empty", "")

			env := map[string]string{"ESSNAP_REPOSITORY": "it-es"}
			for _, c := range []struct{ name, raw, want string }{
				{"wildcard", `{"snapshot":"es-1","indices":["zzz-nothing-*"]}`, `indices ["zzz-nothing-*"] match no index`},
				{"missing names", `{"snapshot":"es-2","indices":["zzz-a","zzz-b"]}`, "match no index"},
				{"missing name without ignore_unavailable", `{"snapshot":"es-3","indices":["es-logs","zzz-a"],"ignore_unavailable":false}`, `indices ["zzz-a"] do not exist`},
			} {
				t.Run(c.name, func(t *testing.T) {
					err := takeInvoke(deps(e, env, time.Now()), json.RawMessage(c.raw))
					if typeName(err) != "ValidationError" || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was created") {
						t.Fatalf("%T %v", err, err)
					}
				})
			}
			if names := snapshotNames(t, e, "it-es"); len(names) != 0 {
				t.Fatalf("snapshots were made: %v", names)
			}
			res, err := handler.TakeSnapshot{Deps: deps(e, env, time.Now())}.Invoke(ctx(t), json.RawMessage(`{"snapshot":"es-alias","indices":["es-current","zzz-missing"],"wait_for_completion":true}`))
			if err != nil || res.State != model.StateSuccess || len(res.Indices) != 1 || res.Indices[0] != "es-logs" {
				t.Fatalf("alias: %+v %v", res, err)
			}
		})
	}
}

// The engines refuse snapshot metadata over 1024 bytes; take-snapshot
// counts the same bytes and refuses first, naming the field. At the
// largest size it accepts, the engine accepts too, and one byte more the
// engine refuses with the same count.
func TestSnapshotMetadataLimitMatchesTheEngines(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "md1-*")
			t.Cleanup(func() { deleteIndices(t, e, "md1-*") })
			seed(t, e, "md1-logs", 1)
			fsRepo(t, e, "it-md1")
			env := map[string]string{"ESSNAP_REPOSITORY": "it-md1"}
			event := func(n int) string {
				return fmt.Sprintf(`{"snapshot":"md-limit","indices":["md1-logs"],"wait_for_completion":true,"execution":"run-1","metadata":{"note":%q}}`, strings.Repeat("n", n))
			}
			accepts := func(n int) bool {
				c := handler.LoadSnapshotConfig(deps(e, env, time.Now()).Getenv, []byte(event(n)))
				_, err := c.Validate(func() (string, error) { return "md", nil })
				return err == nil
			}
			n := 0
			for accepts(n + 1) {
				n++
			}
			res, err := handler.TakeSnapshot{Deps: deps(e, env, time.Now())}.Invoke(ctx(t), json.RawMessage(event(n)))
			if err != nil || res.State != model.StateSuccess {
				t.Fatalf("at the limit (note of %d bytes): %+v %v", n, res, err)
			}
			err = takeInvoke(deps(e, env, time.Now()), json.RawMessage(event(n+1)))
			if typeName(err) != "ValidationError" || !strings.Contains(err.Error(), "metadata makes the snapshot metadata too large: it would be 1025 bytes") {
				t.Fatalf("one byte over: %T %v", err, err)
			}
			// The engine counts the same: the accepted metadata plus one byte is refused.
			got := mustRaw(t, e, "GET", "/_snapshot/it-md1/md-limit", "")
			meta := got["snapshots"].([]any)[0].(map[string]any)["metadata"].(map[string]any)
			meta["note"] = meta["note"].(string) + "n"
			body, _ := json.Marshal(map[string]any{"indices": "md1-logs", "metadata": meta})
			st, ans := raw(t, e, "PUT", "/_snapshot/it-md1/engine-over?wait_for_completion=true", string(body))
			if st != 400 || !strings.Contains(fmt.Sprint(ans), "metadata must be smaller than 1024 bytes, but was [1025]") {
				t.Fatalf("engine: %d %v", st, ans)
			}
		})
	}
}

// An fs location outside path.repo keeps the engine's root cause and says
// how to fix it.
func TestLocationOutsidePathRepo(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Cleanup(func() { deleteRepo(t, e, "it-outside") })
			err := registerInvoke(deps(e, nil, time.Now()), json.RawMessage(`{"repository":"it-outside","type":"fs","location":"/tmp/essnap-not-in-path-repo"}`))
			if err == nil {
				t.Fatal("registered")
			}
			for _, want := range []string{"location [/tmp/essnap-not-in-path-repo] doesn't match any of the locations specified by path.repo", "add the directory", "path.repo", "use type s3"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message lacks %q: %v", want, err)
				}
			}
		})
	}
}

// A TLS handshake or a refused connection sends nothing, and says so:
// "nothing was sent", not "outcome unknown"; the repository is unchanged.
func TestNothingWasSentToTheEngine(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "ns-*")
			t.Cleanup(func() { deleteIndices(t, e, "ns-*") })
			seed(t, e, "ns-logs", 1)
			fsRepo(t, e, "it-ns")
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			refused := "http://" + l.Addr().String()
			l.Close()
			for _, c := range []struct{ name, endpoint, why string }{
				{"https to the engine's plain port", "https://" + strings.TrimPrefix(e.URL, "http://"), "TLS handshake failed"},
				{"connection refused", refused, "the connection could not be opened"},
			} {
				t.Run(c.name, func(t *testing.T) {
					cl, err := esclient.New(esclient.Config{Endpoint: c.endpoint, Unsigned: true, MaxAttempts: 2, BaseBackoff: 10 * time.Millisecond})
					if err != nil {
						t.Fatal(err)
					}
					_, err = engine.Ops{C: cl}.CreateSnapshot(ctx(t), "it-ns", "ns-1", engine.CreateOptions{Indices: []string{"ns-logs"}})
					if err == nil || !strings.Contains(err.Error(), "nothing was sent ("+c.why) || strings.Contains(err.Error(), "outcome unknown") {
						t.Fatalf("create: %v", err)
					}
					other := peer{Name: e.Name, URL: c.endpoint}
					err = takeInvoke(deps(other, map[string]string{"ESSNAP_REPOSITORY": "it-ns"}, time.Now()), json.RawMessage(`{"snapshot":"ns-2","indices":["ns-logs"]}`))
					if typeName(err) != "EngineUnavailableError" || !strings.Contains(err.Error(), "nothing was sent") {
						t.Fatalf("handler: %T %v", err, err)
					}
				})
			}
			if names := snapshotNames(t, e, "it-ns"); len(names) != 0 {
				t.Fatalf("snapshots: %v", names)
			}
		})
	}
}

// register-repo through a fault proxy: a 504, an empty 503, a reset or a
// stall on POST _verify is EngineUnavailableError saying that verification
// could not run, with the attempts the proxy really saw, blaming nothing;
// without the fault a rerun verifies and converges.
func TestVerifyFaultsConverge(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			for _, c := range []struct {
				name string
				f    fault
			}{{"504 after forwarding", after504}, {"empty 503", after503Empty}, {"connection reset", afterReset}, {"stall past the attempt timeout", afterStall}} {
				t.Run(c.name, func(t *testing.T) {
					repo := "it-vf"
					t.Cleanup(func() { deleteRepo(t, e, repo) })
					loc := filepath.Join(repoRoot(t), "it", e.Name, repo, fmt.Sprint(time.Now().UnixNano()))
					var mu sync.Mutex
					faulty := true
					p := newFaultProxy(t, e, func(r *http.Request) fault {
						mu.Lock()
						defer mu.Unlock()
						if faulty && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_verify") {
							return c.f
						}
						return pass
					})
					d := proxyDeps(p.URL, nil, time.Second)
					ev := json.RawMessage(fmt.Sprintf(`{"repository":%q,"type":"fs","location":%q}`, repo, loc))
					_, err := handler.RegisterRepo{Deps: d}.Invoke(ctx(t), ev)
					seen := p.count("POST /_snapshot/" + repo + "/_verify")
					if typeName(err) != "EngineUnavailableError" {
						t.Fatalf("%T %v", err, err)
					}
					msg := err.Error()
					if !strings.Contains(msg, "verification could not run") || !strings.Contains(msg, fmt.Sprintf("%d attempts of POST", seen)) || strings.Contains(msg, "S3") || strings.Contains(msg, "twice") {
						t.Fatalf("proxy saw %d verifications; message: %s", seen, msg)
					}
					mu.Lock()
					faulty = false
					mu.Unlock()
					res, err := handler.RegisterRepo{Deps: d}.Invoke(ctx(t), ev)
					if err != nil || !res.Verified || res.Status != "unchanged" || res.VerifyAttempts != 1 {
						t.Fatalf("rerun: %+v %v", res, err)
					}
				})
			}
		})
	}
}

// restore through a fault proxy that loses the answer after the engine
// ran the restore (504, empty 503, a stall past the attempt timeout): the
// restore checks the domain and reports itself started (recovered); when
// that check fails too, it says so; a rerun recognises its own restore,
// in progress or done, by the targets' recovery source and answers it as
// the running restore, never IndexConflictError.
func TestRestoreLostAnswerConverges(t *testing.T) {
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "rl-*")
			t.Cleanup(func() { deleteIndices(t, e, "rl-*") })
			seed(t, e, "rl-logs", 5)
			seed(t, e, "rl-metrics", 3)
			fsRepo(t, e, "it-rl")
			if _, err := e.Ops.CreateSnapshot(ctx(t), "it-rl", "s1", engine.CreateOptions{Indices: []string{"rl-logs", "rl-metrics"}, WaitForCompletion: true}); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"ESSNAP_REPOSITORY": "it-rl"}
			cases := []struct {
				name       string
				f          fault
				checkFails bool
				settings   string // index_settings: a restore that never finishes stays in progress
				suffix     string
			}{
				{name: "504 after the engine ran it", f: after504, suffix: "-r504"},
				{name: "empty 503 after the engine ran it", f: after503Empty, suffix: "-r503"},
				{name: "stall past the attempt timeout", f: afterStall, suffix: "-rstall"},
				{name: "the check fails too", f: after504, checkFails: true, suffix: "-rcheck"},
				{name: "rerun while shards wait for allocation", f: after504, suffix: "-rwait", settings: `,"index_settings":{"index.routing.allocation.require._name":"no-such-node"}`},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					targets := []string{"rl-logs" + c.suffix, "rl-metrics" + c.suffix}
					var mu sync.Mutex
					faulty, restored := true, false
					p := newFaultProxy(t, e, func(r *http.Request) fault {
						mu.Lock()
						defer mu.Unlock()
						switch {
						case !faulty:
							return pass
						case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_restore"):
							restored = true
							return c.f
						case c.checkFails && restored && r.Method == http.MethodGet:
							return after503Empty
						}
						return pass
					})
					d := proxyDeps(p.URL, env, 2*time.Second)
					ev := json.RawMessage(`{"snapshot":"s1","rename_suffix":"` + c.suffix + `"` + c.settings + `}`)
					res, err := handler.Restore{Deps: d}.Invoke(ctx(t), ev)
					if n := p.count("POST /_snapshot/it-rl/s1/_restore"); n != 1 {
						t.Fatalf("restore sent %d times", n)
					}
					if c.checkFails {
						if typeName(err) != "EngineUnavailableError" || !strings.Contains(err.Error(), "the check whether it started failed too") || !strings.Contains(err.Error(), "recognises it by their recovery source") {
							t.Fatalf("%T %v", err, err)
						}
					} else if err != nil || !res.Accepted || !res.Recovered {
						t.Fatalf("%+v %v", res, err)
					}
					mu.Lock()
					faulty = false
					mu.Unlock()
					// The rerun (a Step Functions retry or by hand) finds its own restore.
					res, err = handler.Restore{Deps: d}.Invoke(ctx(t), ev)
					if err != nil || !res.Existing || !res.Accepted || len(res.AlreadyRestored) != 2 {
						t.Fatalf("rerun: %T %v %+v", err, err, res)
					}
					if n := p.count("POST /_snapshot/it-rl/s1/_restore"); n != 1 {
						t.Fatalf("the rerun restored again (%d restores)", n)
					}
					if c.settings == "" {
						waitRestore(t, e, targets)
						if count(t, e, targets[0]) != 5 || count(t, e, targets[1]) != 3 {
							t.Fatal("counts differ")
						}
						// Once done, a rerun still answers it as its own.
						if res, err = (handler.Restore{Deps: d}).Invoke(ctx(t), ev); err != nil || !res.Existing {
							t.Fatalf("rerun after done: %v %+v", err, res)
						}
					}
					// Another snapshot's restore under the same names is a conflict.
					if _, err := e.Ops.CreateSnapshot(ctx(t), "it-rl", "s2"+c.suffix, engine.CreateOptions{Indices: []string{"rl-logs", "rl-metrics"}, WaitForCompletion: true}); err != nil {
						t.Fatal(err)
					}
					_, err = handler.Restore{Deps: d}.Invoke(ctx(t), json.RawMessage(`{"snapshot":"s2`+c.suffix+`","rename_suffix":"`+c.suffix+`"}`))
					if typeName(err) != "IndexConflictError" {
						t.Fatalf("other snapshot: %T %v", err, err)
					}
					deleteIndices(t, e, "rl-*"+c.suffix)
				})
			}
		})
	}
}
