package engine

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/snapshot"
)

// fakeDomain answers GET / like an AWS OpenSearch domain and hands the rest
// to h; it counts snapshot creates and restores.
func fakeDomain(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) (Ops, *atomic.Int32) {
	t.Helper()
	var writes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			io.WriteString(w, `{"version":{"distribution":"opensearch","number":"2.11.0"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`)
			return
		}
		if r.Method == "PUT" || r.Method == "POST" {
			writes.Add(1)
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := esclient.New(esclient.Config{Endpoint: srv.URL, Region: "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", "TOKEN"),
		Sleep:       func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return Ops{C: c}, &writes
}

const gatewayTimeout = `<html><body><h1>504 Gateway Time-out</h1></body></html>`

func TestCreateAfter504ChecksStateInsteadOfResending(t *testing.T) {
	t.Run("snapshot found", func(t *testing.T) {
		ops, writes := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "PUT" {
				w.WriteHeader(504)
				io.WriteString(w, gatewayTimeout)
				return
			}
			io.WriteString(w, `{"snapshots":[{"snapshot":"nightly-2026.11.24","uuid":"u1","state":"IN_PROGRESS","indices":["logs"]}]}`)
		})
		res, err := ops.CreateSnapshot(context.Background(), "r", "nightly-2026.11.24", CreateOptions{})
		if err != nil || !res.Recovered || res.Snapshot.State != model.StateInProgress {
			t.Fatalf("%+v %v", res, err)
		}
		if writes.Load() != 1 {
			t.Fatalf("create sent %d times", writes.Load())
		}
	})
	t.Run("snapshot absent", func(t *testing.T) {
		ops, writes := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "PUT" {
				w.WriteHeader(504)
				io.WriteString(w, gatewayTimeout)
				return
			}
			w.WriteHeader(404)
			io.WriteString(w, `{"error":{"type":"snapshot_missing_exception","reason":"[r:nightly-2026.11.24] is missing"},"status":404}`)
		})
		_, err := ops.CreateSnapshot(context.Background(), "r", "nightly-2026.11.24", CreateOptions{})
		if !errors.Is(err, failure.ErrOutcomeUnknown) || !strings.Contains(err.Error(), "rerunning is safe") {
			t.Fatalf("err %v", err)
		}
		if writes.Load() != 1 {
			t.Fatalf("create sent %d times", writes.Load())
		}
	})
	t.Run("already exists is returned, not an error", func(t *testing.T) {
		ops, writes := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "PUT" {
				w.WriteHeader(400)
				io.WriteString(w, `{"error":{"type":"invalid_snapshot_name_exception","reason":"[r:nightly-2026.11.24] Invalid snapshot name [nightly-2026.11.24], snapshot with the same name already exists"},"status":400}`)
				return
			}
			io.WriteString(w, `{"snapshots":[{"snapshot":"nightly-2026.11.24","state":"SUCCESS"}]}`)
		})
		res, err := ops.CreateSnapshot(context.Background(), "r", "nightly-2026.11.24", CreateOptions{})
		if err != nil || !res.Existing || res.Snapshot.State != model.StateSuccess || writes.Load() != 1 {
			t.Fatalf("%+v %v", res, err)
		}
	})
}

func TestRestoreAfter504ChecksIndicesInsteadOfResending(t *testing.T) {
	restored := false
	ops, writes := fakeDomain(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/_restore"):
			restored = true
			w.WriteHeader(504)
			io.WriteString(w, gatewayTimeout)
		case strings.HasPrefix(r.URL.Path, "/_cat/indices"):
			if restored {
				io.WriteString(w, `[{"index":"logs-restored","status":"open","health":"yellow","docs.count":"0","store.size":"0"}]`)
			} else {
				io.WriteString(w, `[]`)
			}
		case r.URL.Path == "/_alias":
			io.WriteString(w, `{}`)
		case strings.HasPrefix(r.URL.Path, "/_cluster/state/routing_table/"):
			io.WriteString(w, `{"routing_table":{"indices":{"logs-restored":{"shards":{"0":[{"primary":true,"shard":0,"recovery_source":{"type":"SNAPSHOT","repository":"r","snapshot":"s","index":"logs"}}]}}}}}`)
		case strings.HasSuffix(r.URL.Path, "/_recovery"):
			io.WriteString(w, `{}`)
		default:
			io.WriteString(w, `{"snapshots":[{"snapshot":"s","state":"SUCCESS","indices":["logs"]}]}`)
		}
	})
	rn, _ := snapshot.Rename{Suffix: "-restored"}.Compile()
	res, err := ops.Restore(context.Background(), "r", "s", RestoreOptions{Rename: rn})
	if err != nil || !res.Accepted || !res.Recovered {
		t.Fatalf("%+v %v", res, err)
	}
	if writes.Load() != 1 {
		t.Fatalf("restore sent %d times", writes.Load())
	}
}
