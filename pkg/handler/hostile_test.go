package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/handler"
)

// Hostile events are refused with a ValidationError that says what is
// wrong, before the domain is even connected to; long values are quoted
// short.
func TestHostileEventsRefusedBeforeSending(t *testing.T) {
	long := strings.Repeat("x", 5000)
	cases := []struct {
		name   string
		invoke invoker
		raw    string
		want   []string
	}{
		{"snapshot dot", invokeTake, `{"snapshot":"."}`, []string{`snapshot "."`, "must not be '.' or '..'"}},
		{"snapshot dotdot", invokeTake, `{"snapshot":".."}`, []string{"must not be '.' or '..'"}},
		{"snapshot NUL", invokeTake, `{"snapshot":"a\u0000b"}`, []string{"control characters", "U+0000"}},
		{"snapshot too long", invokeTake, `{"snapshot":"` + long + `"}`, []string{"5000 bytes", "at most 255", "...(5000 bytes)"}},
		{"repository dotdot", invokeTake, `{"repository":".."}`, []string{`repository ".."`, "must not be '.' or '..'"}},
		{"repository control", invokeRegister, `{"repository":"r\u0007"}`, []string{"control characters", "U+0007"}},
		{"index pattern NUL", invokeTake, `{"indices":["logs-\u0000"]}`, []string{"indices[0]", "control characters"}},
		{"index pattern too long", invokeTake, `{"indices":["` + long + `"]}`, []string{"indices[0]", "at most 255"}},
		{"index pattern with comma", invokeTake, `{"indices":["a,b"]}`, []string{"own list entry"}},
		{"restore snapshot dot", invokeRestore, `{"snapshot":"."}`, []string{"must not be '.' or '..'"}},
		{"restore pattern NUL", invokeRestore, `{"indices":["\u0001"]}`, []string{"control characters"}},
		{"rename target with NUL", invokeRestore, `{"rename_suffix":"-\u0000"}`, []string{"rename_suffix", "control characters"}},
		{"rename too long", invokeRestore, `{"rename_prefix":"` + long + `"}`, []string{"rename_prefix", "5000 bytes"}},
		{"progress snapshot dotdot", invokeProgress, `{"snapshot":".."}`, []string{"must not be '.' or '..'"}},
		{"progress index NUL", invokeProgress, `{"indices":["a\u0000"]}`, []string{"control characters"}},
		{"endpoint query", invokeTake, `{"endpoint":"https://search-x.eu-west-1.es.amazonaws.com/?pretty"}`, []string{"has a query"}},
		{"endpoint fragment", invokeRestore, `{"endpoint":"https://search-x.eu-west-1.es.amazonaws.com#top"}`, []string{"has a fragment"}},
		{"endpoint path", invokeRegister, `{"endpoint":"https://search-x.eu-west-1.es.amazonaws.com/_dashboards"}`, []string{"has a path"}},
		{"location too long", invokeRegister, `{"type":"fs","location":"/` + strings.Repeat("d", 5000) + `"}`, []string{"location", "5001 bytes", "at most 4096"}},
		{"location control", invokeRegister, `{"type":"fs","location":"/srv/\u001b"}`, []string{"location", "control characters"}},
		{"bucket too long", invokeRegister, `{"bucket":"` + strings.Repeat("b", 64) + `"}`, []string{"bucket", "64 bytes", "at most 63"}},
		{"base_path too long", invokeRegister, `{"base_path":"` + long + `"}`, []string{"base_path", "at most 4096"}},
		{"role_arn quoted short", invokeRegister, `{"role_arn":"` + long + `"}`, []string{"role_arn", "...(5000 bytes)"}},
		{"execution too large", invokeTake, `{"execution":"` + strings.Repeat("e", 1100) + `"}`, []string{"execution makes the snapshot metadata too large", "refuse more than 1024", "execution 1115", "shorten execution"}},
		{"migration name with a slash", invokeTake, `{"migration":"../x","ledger":{"endpoint":"https://search-x.eu-west-1.es.amazonaws.com"}}`, []string{`migration "../x"`, "a-z, 0-9"}},
		{"migration name too long", invokeRestore, `{"migration":"` + long + `"}`, []string{"migration", "...(5000 bytes)"}},
		{"migration without its ledger domain", invokeTake, `{"migration":"m-1"}`, []string{"endpoint is empty"}},
		{"ledger endpoint with a planted secret", invokeTake, `{"migration":"m-1","ledger":{"endpoint":"https://u:planted-secret-42@search-x.eu-west-1.es.amazonaws.com"}}`, []string{"carries credentials"}},
		{"migration with indices (restore)", invokeRestore, `{"migration":"m-1","indices":["a"]}`, []string{"leave indices out"}},
		{"migration with indices (progress)", invokeProgress, `{"migration":"m-1","indices":["a"]}`, []string{"leave indices out"}},
		{"migration replicas with counts", invokeRestore, `{"action":"replicas","migration":"m-1","replicas":{"a":1}}`, []string{"leave replicas out"}},
		{"migration replicas bad started_at", invokeRestore, `{"action":"replicas","migration":"m-1","started_at":"yesterday"}`, []string{`started_at "yesterday"`}},
		{"metadata too large", invokeTake, `{"metadata":{"note":"` + strings.Repeat("m", 1000) + `"},"execution":"run-1"}`, []string{"metadata makes the snapshot metadata too large", "metadata 1010", "execution 20", "shorten metadata"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, baseEnv())
			err := c.invoke(h, json.RawMessage(c.raw))
			wantErr(t, err, "ValidationError", c.want...)
			if len(h.domains) != 0 {
				t.Fatalf("connected to %v before refusing", h.domains)
			}
			if n := len(err.Error()); n > 2000 {
				t.Errorf("message is %d bytes", n)
			}
			if strings.Contains(err.Error(), long[:100]) {
				t.Error("message quotes a long value whole")
			}
			if strings.Contains(err.Error(), "planted-secret") {
				t.Errorf("message echoes a credential: %v", err)
			}
		})
	}
}

// Metadata within the engines' limit is accepted as it is.
func TestTakeSnapshotMetadataWithinLimit(t *testing.T) {
	h := newHarness(t, baseEnv())
	if err := invokeTake(h, json.RawMessage(`{"metadata":{"note":"`+strings.Repeat("m", 700)+`"},"execution":"arn:aws:states:eu-west-1:123456789012:execution:m:run-1"}`)); err != nil {
		t.Fatal(err)
	}
	if len(h.ops.recorded("CreateSnapshot")) != 1 {
		t.Fatal("no snapshot")
	}
}

// take-snapshot never makes an empty snapshot: patterns that select no
// index, alias or data stream are refused before anything is created;
// with ignore_unavailable (the default) missing concrete names are skipped
// as the engine skips them, without it they are refused.
func TestTakeSnapshotRefusesPatternsThatMatchNothing(t *testing.T) {
	cases := []struct {
		name     string
		existing map[string]string
		raw      string
		want     []string // none: the snapshot is created
	}{
		{name: "wildcard matching nothing", raw: `{"indices":["zzz-*"]}`, want: []string{`indices ["zzz-*"] match no index, alias or data stream`, "2 indices", "nothing was created"}},
		{name: "every pattern matching nothing", raw: `{"indices":["zzz-*","nope","-logs-*"]}`, want: []string{"match no index"}},
		{name: "exclusion leaves nothing", raw: `{"indices":["logs-*","-logs-*"]}`, want: []string{"match no index"}},
		{name: "a missing name beside a match is skipped", raw: `{"indices":["logs-*","nope"]}`},
		{name: "missing name without ignore_unavailable", raw: `{"indices":["logs-*","nope"],"ignore_unavailable":false}`, want: []string{`indices ["nope"] do not exist`, "ignore_unavailable=false"}},
		{name: "a match", raw: `{"indices":["logs-2026.11.24"],"ignore_unavailable":false}`},
		{name: "data stream by name", existing: map[string]string{".ds-app-logs-000001": "open"}, raw: `{"indices":["app-logs"],"ignore_unavailable":false}`},
		{name: "dated data stream backing index", existing: map[string]string{".ds-web-2026.11.24-000003": "open"}, raw: `{"indices":["web*"]}`},
		{name: "empty domain", existing: map[string]string{}, raw: `{}`, want: []string{"the domain has no index"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, baseEnv())
			if c.existing != nil {
				h.ops.existing = c.existing
			}
			err := invokeTake(h, json.RawMessage(c.raw))
			creates := len(h.ops.recorded("CreateSnapshot"))
			if len(c.want) == 0 {
				if err != nil || creates != 1 {
					t.Fatalf("%v (%d creates)", err, creates)
				}
				return
			}
			wantErr(t, err, "ValidationError", c.want...)
			if creates != 0 {
				t.Fatal("a snapshot was created")
			}
		})
	}
}

// A verification the engine refused says how often it ran and the fix for
// the repository's type; one that got no answer is EngineUnavailableError
// and blames nothing.
func TestRegisterVerificationWording(t *testing.T) {
	refusal := esclient.ParseError("POST", "/_snapshot/essnap/_verify", 500, []byte(`{"error":{"type":"repository_verification_exception","reason":"[essnap] path is not accessible on master node"},"status":500}`))
	cases := []struct {
		name    string
		raw     string
		res     engine.RegisterResult
		err     error
		typ     string
		want    []string
		wantNot []string
	}{
		{name: "s3 refusal", raw: `{}`, res: engine.RegisterResult{Status: "created", VerifyAttempts: 2, VerifyError: refusal.Error(), VerifyCause: refusal},
			typ: "EngineError", want: []string{"registered (created) but verification failed (2 attempts)", "SnapshotRole's S3 permissions", "not accessible on master node"}},
		{name: "fs refusal", raw: `{"type":"fs","location":"/srv/repo","bucket":"","role_arn":""}`, res: engine.RegisterResult{Status: "unchanged", VerifyAttempts: 1, VerifyError: refusal.Error(), VerifyCause: refusal},
			typ: "EngineError", want: []string{"verification failed (1 attempt)", "exists on every node"}, wantNot: []string{"S3", "SnapshotRole", "twice"}},
		{name: "no answer", raw: `{}`, err: fmt.Errorf("register essnap: the repository is registered (created), but %w: 4 attempts of POST /_snapshot/essnap/_verify got no answer", failure.ErrVerifyNotRun),
			typ: "EngineUnavailableError", want: []string{"verification could not run", "4 attempts"}, wantNot: []string{"S3 permissions"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, baseEnv())
			h.ops.register = func(spec engine.RepositorySpec) (engine.RegisterResult, error) {
				r := c.res
				r.Repository = spec.Name
				return r, c.err
			}
			err := invokeRegister(h, json.RawMessage(c.raw))
			wantErr(t, err, c.typ, c.want...)
			for _, w := range c.wantNot {
				if strings.Contains(err.Error(), w) {
					t.Errorf("message says %q: %v", w, err)
				}
			}
		})
	}
}

// A failure that sent nothing is retried as EngineUnavailableError and
// says so.
func TestNothingSentIsTransient(t *testing.T) {
	h := newHarness(t, baseEnv())
	h.ops.create = func(repo, name string, _ engine.CreateOptions) (engine.CreateResult, error) {
		return engine.CreateResult{}, fmt.Errorf("snapshot %s/%s: PUT /_snapshot/%s/%s: %w (TLS handshake failed): %w", repo, name, repo, name, esclient.ErrNotSent, errors.New("tls: first record does not look like a TLS handshake"))
	}
	wantErr(t, invokeTake(h, nil), "EngineUnavailableError", "nothing was sent (TLS handshake failed)")
}

// deniedListing is a domain where listing indices is denied (fine-grained
// access control mapped to manage_snapshots only).
type deniedListing struct{ *fakeOps }

func (deniedListing) TakenNames(context.Context) (map[string]string, map[string][]string, error) {
	return nil, nil, esclient.ParseError("GET", "/_cat/indices", 403, []byte(`{"error":{"type":"security_exception","reason":"no permissions for [indices:monitor/settings/get]"},"status":403}`))
}

// A caller that may not list indices cannot check the patterns: the
// snapshot is taken (an empty result is still caught after it) rather
// than refused for a permission take-snapshot never needed before.
func TestTakeSnapshotPatternCheckSkippedWhenListingDenied(t *testing.T) {
	h := newHarness(t, baseEnv())
	h.deps.Connect = func(context.Context, handler.Domain) (any, error) { return deniedListing{h.ops}, nil }
	if err := invokeTake(h, json.RawMessage(`{"indices":["zzz-*"]}`)); err != nil {
		t.Fatal(err)
	}
	if len(h.ops.recorded("CreateSnapshot")) != 1 {
		t.Fatal("no snapshot")
	}
}
