//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/essnap/essnap/internal/testenv"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/wiring"
)

// peer is one running engine.
type peer struct {
	Name string
	URL  string
	Ops  engine.Ops
}

// engines returns the peers named in ESSNAP_TEST_ENGINES; a missing peer
// fails the test: a skipped integration test is not a passing one.
func engines(t *testing.T) []peer {
	t.Helper()
	var out []peer
	for _, p := range testenv.Engines(t, "ESSNAP_TEST_ENGINES") {
		c, err := esclient.New(esclient.Config{Endpoint: p.URL, Unsigned: true})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, peer{Name: p.Name, URL: p.URL, Ops: engine.Ops{C: c}})
	}
	return out
}

// repoRoot is the engines' shared path.repo.
func repoRoot(t *testing.T) string {
	t.Helper()
	r := os.Getenv("ESSNAP_TEST_REPO_ROOT")
	if r == "" {
		t.Fatal("ESSNAP_TEST_REPO_ROOT is not set (the engines' path.repo)")
	}
	return r
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return c
}

// raw sends a request and returns status and body, for setup and for
// asserting engine state independently of the code under test.
func raw(t *testing.T, e peer, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	if m == nil {
		m = map[string]any{"_raw": string(data)}
	}
	return res.StatusCode, m
}

func mustRaw(t *testing.T, e peer, method, path, body string) map[string]any {
	t.Helper()
	st, m := raw(t, e, method, path, body)
	if st > 299 {
		t.Fatalf("%s %s: %d %v", method, path, st, m)
	}
	return m
}

// seed creates an index with n documents (ids doc-0..), one shard, no replica.
func seed(t *testing.T, e peer, index string, n int) {
	t.Helper()
	mustRaw(t, e, "PUT", "/"+index, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "{\"index\":{\"_id\":\"doc-%d\"}}\n{\"message\":\"line %d\",\"@timestamp\":\"2026-11-23T00:00:00Z\"}\n", i, i)
	}
	req, _ := http.NewRequest("POST", e.URL+"/"+index+"/_bulk?refresh=true", strings.NewReader(b.String()))
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("bulk into %s: %v %v", index, err, res)
	}
	res.Body.Close()
}

func count(t *testing.T, e peer, index string) int {
	t.Helper()
	mustRaw(t, e, "POST", "/"+index+"/_refresh", "")
	m := mustRaw(t, e, "GET", "/"+index+"/_count", "")
	return int(m["count"].(float64))
}

func exists(t *testing.T, e peer, index string) bool {
	st, _ := raw(t, e, "HEAD", "/"+index, "")
	return st == 200
}

func deleteIndices(t *testing.T, e peer, pattern string) {
	raw(t, e, "DELETE", "/"+pattern+"?expand_wildcards=all", "")
}

// deleteRepo unregisters a repository, waiting (up to 30 s) while a
// snapshot in it still runs: the engines refuse to unregister a repository
// in use, and a leftover would fail the next run on the same engines.
func deleteRepo(t *testing.T, e peer, name string) {
	for i := 0; i < 150; i++ {
		st, _ := raw(t, e, "DELETE", "/_snapshot/"+name, "")
		if st < 300 || st == 404 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fsRepo registers a fresh fs repository for one test and removes it after.
func fsRepo(t *testing.T, e peer, name string) string {
	t.Helper()
	loc := filepath.Join(repoRoot(t), "it", e.Name, name, fmt.Sprint(time.Now().UnixNano()))
	_, err := e.Ops.RegisterRepository(ctx(t), engine.RepositorySpec{Name: name, Type: "fs", Settings: map[string]any{"location": loc}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteRepo(t, e, name) })
	return loc
}

// waitSnapshot polls until the snapshot leaves IN_PROGRESS.
func waitSnapshot(t *testing.T, e peer, repo, name string) engine.Progress {
	t.Helper()
	for i := 0; i < 300; i++ {
		p, err := e.Ops.Status(ctx(t), repo, name)
		if err != nil {
			t.Fatal(err)
		}
		if p.State != model.StateInProgress {
			return p
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("snapshot %s/%s still running after 60s", repo, name)
	return engine.Progress{}
}

// waitRestore polls restore progress until done.
func waitRestore(t *testing.T, e peer, targets []string) engine.RestoreProgress {
	t.Helper()
	for i := 0; i < 300; i++ {
		p, err := e.Ops.RestoreStatus(ctx(t), targets)
		if err == nil && p.Done {
			return p
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("restore of %v not done after 60s", targets)
	return engine.RestoreProgress{}
}

// runningClock starts at a pinned time and advances with the real one, for
// handlers whose names depend on the date and whose reports measure time
// (the drill).
type runningClock struct{ base, start time.Time }

func (c runningClock) Now() time.Time { return c.base.Add(time.Since(c.start)) }

// fixedClock pins "now" for handler tests.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// deps wires handlers to a real engine, exactly as production does.
func deps(e peer, env map[string]string, now time.Time) handler.Deps {
	return handler.Deps{
		Connect: wiring.SignedConnector(nil),
		Clock:   fixedClock{now},
		Log:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Getenv: func(k string) string {
			if k == "ESSNAP_ENDPOINT" {
				return e.URL
			}
			if k == "ESSNAP_UNSIGNED" {
				return "true"
			}
			return env[k]
		},
	}
}
