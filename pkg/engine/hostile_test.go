package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/snapshot"
)

// A writable repository must not share its location with another; x/../
// spellings and trailing slashes are the same place; readonly may share.
func TestSharedLocation(t *testing.T) {
	all := map[string]repositoryInfo{
		"fs-writer": {Type: "fs", Settings: map[string]any{"location": "/srv/repo/a"}},
		"fs-reader": {Type: "fs", Settings: map[string]any{"location": "/srv/repo/b", "readonly": "true"}},
		"s3-writer": {Type: "s3", Settings: map[string]any{"bucket": "snaps", "base_path": "logs/prod"}},
		"s3-root":   {Type: "s3", Settings: map[string]any{"bucket": "root-only"}},
	}
	fs := func(name, loc string, ro bool) RepositorySpec {
		s := RepositorySpec{Name: name, Type: "fs", Settings: map[string]any{"location": loc}}
		if ro {
			s.Settings["readonly"] = true
		}
		return s
	}
	s3 := func(name, bucket, base string) RepositorySpec {
		s := RepositorySpec{Name: name, Type: "s3", Settings: map[string]any{"bucket": bucket}}
		if base != "" {
			s.Settings["base_path"] = base
		}
		return s
	}
	cases := []struct {
		name string
		spec RepositorySpec
		want []string
	}{
		{"same fs location", fs("second", "/srv/repo/a", false), []string{"register second", "fs location /srv/repo/a", "fs-writer (writable, fs location /srv/repo/a)", "readonly=true", "unregister fs-writer", "nothing was changed"}},
		{"x/../ spelling", fs("second", "/srv/repo/x/../a", false), []string{"fs-writer"}},
		{"trailing slash and dot", fs("second", "/srv/repo/./a/", false), []string{"fs-writer"}},
		{"onto a readonly one", fs("second", "/srv/repo/b", false), []string{"fs-reader (readonly"}},
		{"readonly second is fine", fs("second", "/srv/repo/a", true), nil},
		{"other location is fine", fs("second", "/srv/repo/c", false), nil},
		{"nested location is fine", fs("second", "/srv/repo/a/sub", false), nil},
		{"re-registering itself is fine", fs("fs-writer", "/srv/repo/a", false), nil},
		{"same bucket and base_path", s3("second", "snaps", "logs/prod"), []string{"s3-writer", `base_path "logs/prod"`}},
		{"base_path spelled differently", s3("second", "snaps", "logs/x/../prod/"), []string{"s3-writer"}},
		{"bucket root", s3("second", "root-only", "/"), []string{"s3-root"}},
		{"other base_path is fine", s3("second", "snaps", "logs/dev"), nil},
		{"other bucket is fine", s3("second", "other", "logs/prod"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := sharedLocation(c.spec, all)
			if len(c.want) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(c.want) > 0 && err == nil {
				t.Fatalf("no error; want one containing %q", c.want)
			}
			for _, f := range c.want {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not contain %q", err, f)
				}
			}
			if err != nil && !errors.Is(err, failure.ErrRepositoryConflict) {
				t.Errorf("not a repository conflict: %v", err)
			}
		})
	}
	t.Run("nothing is sent", func(t *testing.T) {
		ops, writes := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/_snapshot" {
				io.WriteString(w, `{"old":{"type":"fs","settings":{"location":"/srv/repo/a"}}}`)
				return
			}
			io.WriteString(w, `{"acknowledged":true}`)
		})
		_, err := ops.RegisterRepository(context.Background(), fs("new", "/srv/repo/z/../a", false))
		if !errors.Is(err, failure.ErrRepositoryConflict) || writes.Load() != 0 {
			t.Fatalf("err %v, %d writes", err, writes.Load())
		}
	})
}

// A verification that gets no answer from the engine (gateway errors, an
// empty 503, a reset connection) is failure.ErrVerifyNotRun, with the number of
// requests really sent; one the engine refuses is reported as before.
func TestVerifyWithoutAnswerIsNotAVerificationFailure(t *testing.T) {
	answers := map[string]func(w http.ResponseWriter){
		"504":       func(w http.ResponseWriter) { w.WriteHeader(504); io.WriteString(w, gatewayTimeout) },
		"empty 503": func(w http.ResponseWriter) { w.WriteHeader(503) },
		"reset": func(w http.ResponseWriter) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		},
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			var verifies atomic.Int32
			ops, _ := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasSuffix(r.URL.Path, "/_verify"):
					verifies.Add(1)
					answer(w)
				case r.Method == http.MethodGet:
					io.WriteString(w, `{}`)
				default:
					io.WriteString(w, `{"acknowledged":true}`)
				}
			})
			res, err := ops.RegisterRepository(context.Background(), RepositorySpec{Name: "r", Type: "fs", Settings: map[string]any{"location": "/x"}, Verify: true})
			if !errors.Is(err, failure.ErrVerifyNotRun) {
				t.Fatalf("err %v", err)
			}
			n := int(verifies.Load())
			if res.VerifyAttempts != n || n != 4 {
				t.Fatalf("result says %d attempts, the domain saw %d (want 4, the transport's attempts)", res.VerifyAttempts, n)
			}
			msg := err.Error()
			for _, want := range []string{"registered (created)", "verification could not run", "4 attempts of POST /_snapshot/r/_verify", "says nothing about the repository's storage or permissions"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q: %s", want, msg)
				}
			}
			if strings.Contains(msg, "S3") {
				t.Errorf("message blames S3: %s", msg)
			}
		})
	}
	t.Run("engine refusal counted", func(t *testing.T) {
		ops, _ := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/_verify"):
				w.WriteHeader(500)
				io.WriteString(w, `{"error":{"type":"repository_verification_exception","reason":"[r] path is not accessible on master node"},"status":500}`)
			case r.Method == http.MethodGet:
				io.WriteString(w, `{}`)
			default:
				io.WriteString(w, `{"acknowledged":true}`)
			}
		})
		res, err := ops.RegisterRepository(context.Background(), RepositorySpec{Name: "r", Type: "fs", Settings: map[string]any{"location": "/x"}, Verify: true})
		if err != nil || res.Verified || res.VerifyAttempts != 2 || !esclient.IsType(res.VerifyCause, "repository_verification_exception") {
			t.Fatalf("%+v %v", res, err)
		}
	})
}

// A lost restore answer as a proxy's empty 503 is checked like a 504; a
// connection that was never opened sent nothing, so nothing is checked and
// the message says so.
func TestRestoreOutcomeByFailureKind(t *testing.T) {
	t.Run("empty 503 after running", func(t *testing.T) {
		restored := false
		ops, writes := fakeDomain(t, ownRestoreDomain(&restored, func(w http.ResponseWriter) { w.WriteHeader(503) }))
		rn, _ := snapshot.Rename{Suffix: "-restored"}.Compile()
		res, err := ops.Restore(context.Background(), "r", "s", RestoreOptions{Rename: rn})
		if err != nil || !res.Accepted || !res.Recovered || writes.Load() != 1 {
			t.Fatalf("%+v %v (%d writes)", res, err, writes.Load())
		}
	})
	t.Run("connection refused: nothing was sent", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		c, err := esclient.New(esclient.Config{Endpoint: "http://" + addr, Unsigned: true, MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		ops := Ops{C: c}
		_, err = ops.CreateSnapshot(context.Background(), "r", "s", CreateOptions{})
		if !errors.Is(err, esclient.ErrNotSent) || errors.Is(err, failure.ErrOutcomeUnknown) {
			t.Fatalf("err %v", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "nothing was sent (the connection could not be opened)") || strings.Contains(msg, "outcome unknown") {
			t.Fatalf("message %s", msg)
		}
		_, err = ops.Restore(context.Background(), "r", "s", RestoreOptions{})
		if !errors.Is(err, esclient.ErrNotSent) || errors.Is(err, failure.ErrOutcomeUnknown) {
			t.Fatalf("restore: %v", err)
		}
	})
}

// ownRestoreDomain is a fake domain whose restore, once sent, creates
// logs-restored from r/s (visible in the routing table), and answers the
// restore with lost.
func ownRestoreDomain(restored *bool, lost func(w http.ResponseWriter)) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/_restore"):
			*restored = true
			lost(w)
		case strings.HasPrefix(r.URL.Path, "/_cat/indices"):
			if *restored {
				io.WriteString(w, `[{"index":"logs-restored","status":"open","health":"yellow","docs.count":"0","store.size":"0"}]`)
			} else {
				io.WriteString(w, `[]`)
			}
		case r.URL.Path == "/_alias":
			io.WriteString(w, `{}`)
		case strings.HasPrefix(r.URL.Path, "/_cluster/state/routing_table/"):
			io.WriteString(w, `{"routing_table":{"indices":{"logs-restored":{"shards":{"0":[{"primary":true,"shard":0}]}}}}}`)
		case strings.HasSuffix(r.URL.Path, "/_recovery"):
			io.WriteString(w, `{"logs-restored":{"shards":[{"id":0,"type":"SNAPSHOT","primary":true,"source":{"repository":"r","snapshot":"s","index":"logs"}}]}}`)
		default:
			io.WriteString(w, `{"snapshots":[{"snapshot":"s","state":"SUCCESS","indices":["logs"]}]}`)
		}
	}
}

// A rerun finds its own restore (targets whose recovery source is this
// snapshot and their planned source) and answers it as the running
// restore, sending nothing; a target of the same name from elsewhere is
// still a conflict, listed alone; a partly present own restore restores
// only the rest.
func TestRestoreRerunRecognisesItsOwnRestore(t *testing.T) {
	type shard struct{ typ, repo, snap, index string }
	domain := func(existing map[string]shard, sent *atomic.Value) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/_restore"):
				b, _ := io.ReadAll(r.Body)
				sent.Store(string(b))
				io.WriteString(w, `{"accepted":true}`)
			case strings.HasPrefix(r.URL.Path, "/_cat/indices"):
				var rows []string
				for n := range existing {
					rows = append(rows, `{"index":"`+n+`","status":"open","health":"green","docs.count":"1","store.size":"1"}`)
				}
				io.WriteString(w, "["+strings.Join(rows, ",")+"]")
			case r.URL.Path == "/_alias":
				io.WriteString(w, `{}`)
			case strings.HasPrefix(r.URL.Path, "/_cluster/state/routing_table/"):
				var parts []string
				for n, s := range existing {
					if s.typ == "UNASSIGNED-SNAPSHOT" { // not started: the routing table carries the source
						parts = append(parts, `"`+n+`":{"shards":{"0":[{"primary":true,"shard":0,"recovery_source":{"type":"SNAPSHOT","repository":"`+s.repo+`","snapshot":"`+s.snap+`","index":"`+s.index+`"}}]}}`)
						continue
					}
					parts = append(parts, `"`+n+`":{"shards":{"0":[{"primary":true,"shard":0},{"primary":false,"shard":0}]}}`)
				}
				io.WriteString(w, `{"routing_table":{"indices":{`+strings.Join(parts, ",")+`}}}`)
			case strings.HasSuffix(r.URL.Path, "/_recovery"):
				var parts []string
				for n, s := range existing {
					if s.typ == "UNASSIGNED-SNAPSHOT" {
						continue
					}
					parts = append(parts, `"`+n+`":{"shards":[{"id":0,"type":"PEER","primary":false,"source":{}},{"id":0,"type":"`+s.typ+`","primary":true,"source":{"repository":"`+s.repo+`","snapshot":"`+s.snap+`","index":"`+s.index+`"}}]}`)
				}
				io.WriteString(w, "{"+strings.Join(parts, ",")+"}")
			default:
				io.WriteString(w, `{"snapshots":[{"snapshot":"s","state":"SUCCESS","indices":["logs","metrics"]}]}`)
			}
		}
	}
	own := func(src string) shard { return shard{"SNAPSHOT", "r", "s", src} }
	cases := []struct {
		name      string
		existing  map[string]shard
		existingR bool
		conflicts string
		sentIdx   string
	}{
		{name: "every target is its own, started", existing: map[string]shard{"logs-restored": own("logs"), "metrics-restored": own("metrics")}, existingR: true},
		{name: "every target is its own, not yet allocated", existing: map[string]shard{"logs-restored": {"UNASSIGNED-SNAPSHOT", "r", "s", "logs"}, "metrics-restored": own("metrics")}, existingR: true},
		{name: "another snapshot's restore is a conflict", existing: map[string]shard{"logs-restored": {"SNAPSHOT", "r", "other", "logs"}, "metrics-restored": own("metrics")}, conflicts: "logs-restored"},
		{name: "another source index is a conflict", existing: map[string]shard{"logs-restored": own("metrics"), "metrics-restored": own("metrics")}, conflicts: "logs-restored"},
		{name: "an index made by hand is a conflict", existing: map[string]shard{"logs-restored": {"EMPTY_STORE", "", "", ""}}, conflicts: "logs-restored"},
		{name: "part of its own restore: the rest is restored", existing: map[string]shard{"logs-restored": own("logs")}, sentIdx: `"indices":"metrics"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sent atomic.Value
			ops, writes := fakeDomain(t, domain(c.existing, &sent))
			rn, _ := snapshot.Rename{Suffix: "-restored"}.Compile()
			res, err := ops.Restore(context.Background(), "r", "s", RestoreOptions{Rename: rn})
			switch {
			case c.conflicts != "":
				var ce *snapshot.CollisionError
				if !errors.As(err, &ce) || len(ce.Collisions) != 1 || ce.Collisions[0].Index != c.conflicts {
					t.Fatalf("want a conflict on %s only, got %v", c.conflicts, err)
				}
				if writes.Load() != 0 {
					t.Fatal("a restore was sent despite a conflict")
				}
			case c.existingR:
				if err != nil || !res.Existing || !res.Accepted || writes.Load() != 0 || len(res.AlreadyRestored) != 2 {
					t.Fatalf("%+v %v (%d writes)", res, err, writes.Load())
				}
			default:
				if err != nil || res.Existing || !res.Accepted || writes.Load() != 1 {
					t.Fatalf("%+v %v (%d writes)", res, err, writes.Load())
				}
				if body, _ := sent.Load().(string); !strings.Contains(body, c.sentIdx) {
					t.Fatalf("sent %s, want %s", body, c.sentIdx)
				}
			}
		})
	}
}

// Where recovery sources may not be read (403: fine-grained access control
// without cluster:monitor/state), a taken name stays a conflict, and after
// a lost answer the targets' presence decides, as before.
func TestRecoverySourceDenied(t *testing.T) {
	deny := func(w http.ResponseWriter) {
		w.WriteHeader(403)
		io.WriteString(w, `{"error":{"type":"security_exception","reason":"no permissions for [cluster:monitor/state]"},"status":403}`)
	}
	t.Run("taken name", func(t *testing.T) {
		ops, writes := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasPrefix(r.URL.Path, "/_cat/indices"):
				io.WriteString(w, `[{"index":"logs-restored","status":"open","health":"green","docs.count":"1","store.size":"1"}]`)
			case r.URL.Path == "/_alias":
				io.WriteString(w, `{}`)
			case strings.HasPrefix(r.URL.Path, "/_cluster/state/"):
				deny(w)
			default:
				io.WriteString(w, `{"snapshots":[{"snapshot":"s","state":"SUCCESS","indices":["logs"]}]}`)
			}
		})
		rn, _ := snapshot.Rename{Suffix: "-restored"}.Compile()
		_, err := ops.Restore(context.Background(), "r", "s", RestoreOptions{Rename: rn})
		var ce *snapshot.CollisionError
		if !errors.As(err, &ce) || writes.Load() != 0 {
			t.Fatalf("%v (%d writes)", err, writes.Load())
		}
	})
	t.Run("lost answer", func(t *testing.T) {
		restored := false
		inner := ownRestoreDomain(&restored, func(w http.ResponseWriter) { w.WriteHeader(504) })
		ops, _ := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/_cluster/state/") {
				deny(w)
				return
			}
			inner(w, r)
		})
		rn, _ := snapshot.Rename{Suffix: "-restored"}.Compile()
		res, err := ops.Restore(context.Background(), "r", "s", RestoreOptions{Rename: rn})
		if err != nil || !res.Recovered {
			t.Fatalf("%+v %v", res, err)
		}
	})
}
