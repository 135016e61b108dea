package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/model"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/handler"
)

var ctx = context.Background()

// invoker runs one handler on a harness; the result is dropped.
type invoker func(h *harness, raw json.RawMessage) error

func invokeRegister(h *harness, raw json.RawMessage) error {
	_, err := handler.RegisterRepo{Deps: h.deps}.Invoke(ctx, raw)
	return err
}

func invokeTake(h *harness, raw json.RawMessage) error {
	_, err := handler.TakeSnapshot{Deps: h.deps}.Invoke(ctx, raw)
	return err
}

func invokeRestore(h *harness, raw json.RawMessage) error {
	_, err := handler.Restore{Deps: h.deps}.Invoke(ctx, raw)
	return err
}

func invokeProgress(h *harness, raw json.RawMessage) error {
	_, err := handler.CheckProgress{Deps: h.deps}.Invoke(ctx, raw)
	return err
}

func TestRegisterRepoDefaults(t *testing.T) {
	h := newHarness(t, baseEnv())
	res, err := handler.RegisterRepo{Deps: h.deps}.Invoke(ctx, json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []handler.Domain{{Endpoint: awsEndpoint}}; !reflect.DeepEqual(h.domains, want) {
		t.Errorf("connected to %+v, want %+v", h.domains, want)
	}
	calls := h.ops.recorded("RegisterRepository")
	if len(calls) != 1 {
		t.Fatalf("%d register calls", len(calls))
	}
	want := engine.RepositorySpec{Name: "essnap", Type: "s3", Verify: true, Settings: map[string]any{
		"bucket":                 "essnap-snapshots",
		"role_arn":               "arn:aws:iam::123456789012:role/SnapshotRole",
		"server_side_encryption": true,
	}}
	if !reflect.DeepEqual(calls[0].Spec, want) {
		t.Errorf("spec %+v\nwant %+v", calls[0].Spec, want)
	}
	if res.Repository != "essnap" || res.Status != "created" || !res.Verified || res.Type != "s3" || res.Readonly {
		t.Errorf("result %+v", res)
	}
}

func TestTakeSnapshotDefaults(t *testing.T) {
	h := newHarness(t, baseEnv())
	res, err := handler.TakeSnapshot{Deps: h.deps}.Invoke(ctx, json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	calls := h.ops.recorded("CreateSnapshot")
	if len(calls) != 1 {
		t.Fatalf("%d create calls", len(calls))
	}
	c := calls[0]
	if c.Repo != "essnap" || c.Name != "nightly-2026.11.24" {
		t.Errorf("created %s/%s, want essnap/nightly-2026.11.24", c.Repo, c.Name)
	}
	if !c.Create.IgnoreUnavailable || c.Create.IncludeGlobalState || c.Create.Partial || c.Create.WaitForCompletion || c.Create.Indices != nil {
		t.Errorf("options %+v", c.Create)
	}
	meta, ok := c.Create.Metadata["essnap"].(map[string]any)
	if !ok {
		t.Fatalf("metadata %+v has no essnap object", c.Create.Metadata)
	}
	for k, want := range map[string]any{"trigger": "console", "template": "nightly-{now/d}", "requested_at": "2026-11-24T03:00:00Z"} {
		if meta[k] != want {
			t.Errorf("metadata.essnap.%s = %#v, want %#v", k, meta[k], want)
		}
	}
	if len(c.Create.Metadata) != 2 || c.Create.Metadata["essnap_policy"] != "nightly" {
		t.Errorf("metadata %+v: want only the essnap object and essnap_policy=nightly (the retention policy id)", c.Create.Metadata)
	}
	if res.Repository != "essnap" || res.Snapshot != "nightly-2026.11.24" || res.State != model.StateInProgress {
		t.Errorf("result %+v", res)
	}
}

func TestTakeSnapshotRecordsTrigger(t *testing.T) {
	for _, trig := range []string{"schedule", "console", "workflow", "api"} {
		t.Run(trig, func(t *testing.T) {
			h := newHarness(t, baseEnv())
			raw := fmt.Sprintf(`{"trigger":%q,"execution":"arn:aws:states:eu-west-1:123456789012:execution:sm:run-1"}`, trig)
			if err := invokeTake(h, json.RawMessage(raw)); err != nil {
				t.Fatal(err)
			}
			meta := h.ops.recorded("CreateSnapshot")[0].Create.Metadata["essnap"].(map[string]any)
			if meta["trigger"] != trig || meta["execution"] != "arn:aws:states:eu-west-1:123456789012:execution:sm:run-1" {
				t.Fatalf("metadata.essnap %+v", meta)
			}
		})
	}
}

func TestRestoreDefaults(t *testing.T) {
	h := newHarness(t, baseEnv())
	res, err := handler.Restore{Deps: h.deps}.Invoke(ctx, json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	calls := h.ops.recorded("Restore")
	if len(calls) != 1 {
		t.Fatalf("%d restore calls", len(calls))
	}
	c := calls[0]
	if c.Repo != "essnap" || c.Name != "latest" {
		t.Errorf("restored %s/%s, want essnap/latest", c.Repo, c.Name)
	}
	o := c.Restore
	if o.Rename != nil || o.Indices != nil || o.DryRun || o.IncludeSystem || o.IncludeGlobalState || o.IncludeAliases || o.Partial || o.IndexSettings != nil {
		t.Errorf("options %+v", o)
	}
	if !res.Accepted || len(res.Indices) != 3 || len(res.SkippedSystem) != 2 {
		t.Errorf("result %+v", res)
	}
}

func TestCheckProgressDefaults(t *testing.T) {
	h := newHarness(t, baseEnv())
	res, err := handler.CheckProgress{Deps: h.deps}.Invoke(ctx, json.RawMessage(`{"snapshot":"nightly-2026.11.24"}`))
	if err != nil {
		t.Fatal(err)
	}
	calls := h.ops.recorded("Status")
	if len(calls) != 1 || calls[0].Repo != "essnap" || calls[0].Name != "nightly-2026.11.24" {
		t.Fatalf("status calls %+v", calls)
	}
	if !res.Done || res.Snapshot == nil || res.Restore != nil {
		t.Errorf("result %+v", res)
	}
}

// TestEmptyEventsActAsEmptyObject: Step Functions and the console send null
// or nothing; each must behave exactly like {}.
func TestEmptyEventsActAsEmptyObject(t *testing.T) {
	handlers := map[string]invoker{
		"register-repo":  invokeRegister,
		"take-snapshot":  invokeTake,
		"restore":        invokeRestore,
		"check-progress": invokeProgress,
	}
	raws := map[string]json.RawMessage{
		"nil":           nil,
		"empty":         json.RawMessage(""),
		"blank":         json.RawMessage(" \n\t"),
		"null":          json.RawMessage("null"),
		"spaced null":   json.RawMessage("  null\n"),
		"spaced object": json.RawMessage(" { } "),
	}
	for hn, invoke := range handlers {
		t.Run(hn, func(t *testing.T) {
			ref := newHarness(t, baseEnv())
			refErr := invoke(ref, json.RawMessage("{}"))
			for rn, raw := range raws {
				t.Run(rn, func(t *testing.T) {
					h := newHarness(t, baseEnv())
					err := invoke(h, raw)
					if fmt.Sprint(err) != fmt.Sprint(refErr) || typeName(err) != typeName(refErr) {
						t.Fatalf("error %v, with {} %v", err, refErr)
					}
					if !reflect.DeepEqual(h.ops.calls, ref.ops.calls) {
						t.Fatalf("calls %+v\nwith {} %+v", h.ops.calls, ref.ops.calls)
					}
				})
			}
		})
	}
}

func TestCheckProgressEmptyEventNeedsSnapshotOrIndices(t *testing.T) {
	for _, raw := range []string{"", "null", "{}"} {
		t.Run(fmt.Sprintf("%q", raw), func(t *testing.T) {
			h := newHarness(t, baseEnv())
			err := invokeProgress(h, json.RawMessage(raw))
			wantErr(t, err, "ValidationError", "check-progress", "give either snapshot")
			if len(h.domains) != 0 {
				t.Fatal("connected despite invalid input")
			}
		})
	}
}

func TestEventOverridesEnvironment(t *testing.T) {
	env := baseEnv()
	maps.Copy(env, map[string]string{
		"ESSNAP_REPOSITORY":            "env-repo",
		"ESSNAP_REGION":                "eu-west-1",
		"ESSNAP_SNAPSHOT_NAME":         "env-{now/d}",
		"ESSNAP_INDICES":               "env-a, env-b",
		"ESSNAP_REPOSITORY_READONLY":   "true",
		"ESSNAP_BASE_PATH":             "env/path",
		"ESSNAP_RESTORE_RENAME_SUFFIX": "-env",
	})
	const otherEndpoint = "https://search-other-xyz.us-east-2.es.amazonaws.com"
	t.Run("environment alone", func(t *testing.T) {
		h := newHarness(t, env)
		h.ops.existing["env-a"], h.ops.existing["env-b"] = "open", "open"
		if err := invokeTake(h, nil); err != nil {
			t.Fatal(err)
		}
		c := h.ops.recorded("CreateSnapshot")[0]
		if c.Repo != "env-repo" || c.Name != "env-2026.11.24" || !reflect.DeepEqual(c.Create.Indices, []string{"env-a", "env-b"}) {
			t.Fatalf("create %s/%s %q", c.Repo, c.Name, c.Create.Indices)
		}
		if h.domains[0] != (handler.Domain{Endpoint: awsEndpoint, Region: "eu-west-1"}) {
			t.Fatalf("domain %+v", h.domains[0])
		}
	})
	t.Run("take-snapshot", func(t *testing.T) {
		h := newHarness(t, env)
		h.ops.existing["ev-c"] = "open"
		raw := `{"endpoint":"` + otherEndpoint + `","region":"us-east-2","repository":"ev-repo","snapshot":"ev-{now/d}","indices":["ev-c"],"ignore_unavailable":false,"include_global_state":true,"partial":true,"wait_for_completion":true}`
		if err := invokeTake(h, json.RawMessage(raw)); err != nil {
			t.Fatal(err)
		}
		c := h.ops.recorded("CreateSnapshot")[0]
		if c.Repo != "ev-repo" || c.Name != "ev-2026.11.24" || !reflect.DeepEqual(c.Create.Indices, []string{"ev-c"}) {
			t.Fatalf("create %s/%s %q", c.Repo, c.Name, c.Create.Indices)
		}
		o := c.Create
		if o.IgnoreUnavailable || !o.IncludeGlobalState || !o.Partial || !o.WaitForCompletion {
			t.Fatalf("options %+v", o)
		}
		if h.domains[0] != (handler.Domain{Endpoint: otherEndpoint, Region: "us-east-2"}) {
			t.Fatalf("domain %+v", h.domains[0])
		}
	})
	t.Run("take-snapshot empty indices list means all", func(t *testing.T) {
		h := newHarness(t, env)
		if err := invokeTake(h, json.RawMessage(`{"indices":[]}`)); err != nil {
			t.Fatal(err)
		}
		if got := h.ops.recorded("CreateSnapshot")[0].Create.Indices; len(got) != 0 {
			t.Fatalf("indices %q", got)
		}
	})
	t.Run("register-repo", func(t *testing.T) {
		h := newHarness(t, env)
		raw := `{"repository":"ev-repo","bucket":"ev-bucket","base_path":"ev/path","bucket_region":"us-east-2","role_arn":"arn:aws:iam::210987654321:role/Other","readonly":false,"server_side_encryption":false}`
		res, err := handler.RegisterRepo{Deps: h.deps}.Invoke(ctx, json.RawMessage(raw))
		if err != nil {
			t.Fatal(err)
		}
		want := engine.RepositorySpec{Name: "ev-repo", Type: "s3", Verify: true, Settings: map[string]any{
			"bucket": "ev-bucket", "base_path": "ev/path", "region": "us-east-2",
			"role_arn": "arn:aws:iam::210987654321:role/Other", "server_side_encryption": false,
		}}
		if got := h.ops.recorded("RegisterRepository")[0].Spec; !reflect.DeepEqual(got, want) {
			t.Fatalf("spec %+v\nwant %+v", got, want)
		}
		if res.Readonly {
			t.Fatal("readonly from the environment survived the event")
		}
	})
	t.Run("restore", func(t *testing.T) {
		h := newHarness(t, env)
		if err := invokeRestore(h, json.RawMessage(`{"repository":"ev-repo","snapshot":"nightly-2026.11.23","indices":["logs-*"],"dry_run":true}`)); err != nil {
			t.Fatal(err)
		}
		c := h.ops.recorded("Restore")[0]
		if c.Repo != "ev-repo" || c.Name != "nightly-2026.11.23" || !reflect.DeepEqual(c.Restore.Indices, []string{"logs-*"}) || !c.Restore.DryRun {
			t.Fatalf("restore %+v", c)
		}
		if p, r := c.Restore.Rename.EngineFields(); p != "(.+)" || r != "$1-env" {
			t.Fatalf("rename %q/%q, want the environment's suffix", p, r)
		}
	})
	t.Run("check-progress", func(t *testing.T) {
		h := newHarness(t, env)
		if err := invokeProgress(h, json.RawMessage(`{"repository":"ev-repo","snapshot":"s1"}`)); err != nil {
			t.Fatal(err)
		}
		if c := h.ops.recorded("Status")[0]; c.Repo != "ev-repo" || c.Name != "s1" {
			t.Fatalf("status %+v", c)
		}
		h = newHarness(t, env)
		if err := invokeProgress(h, json.RawMessage(`{"snapshot":"s1"}`)); err != nil {
			t.Fatal(err)
		}
		if c := h.ops.recorded("Status")[0]; c.Repo != "env-repo" {
			t.Fatalf("status %+v", c)
		}
	})
}

func TestStrictDecoding(t *testing.T) {
	cases := []struct {
		name   string
		invoke invoker
		raw    string
		want   []string
	}{
		{"unknown field take-snapshot", invokeTake, `{"snapshto":"x"}`, []string{`field "snapshto" is unknown`, "known fields:", "snapshot", "repository", "indices", "endpoint", "trigger"}},
		{"unknown field register-repo", invokeRegister, `{"bukket":"b"}`, []string{`field "bukket" is unknown`, "known fields:", "bucket", "role_arn", "base_path"}},
		{"unknown field restore", invokeRestore, `{"rename_sufix":"-r"}`, []string{`field "rename_sufix" is unknown`, "rename_suffix", "rename_pattern", "include_system_indices"}},
		{"unknown field check-progress", invokeProgress, `{"snapshots":"s"}`, []string{`field "snapshots" is unknown`, "snapshot", "indices", "repository"}},
		{"unknown field after a valid one", invokeTake, `{"snapshot":"s","Unsigned":true,"dryrun":true}`, []string{`field "dryrun" is unknown`}},
		{"list given a string", invokeTake, `{"indices":"logs-*"}`, []string{`field "indices" must be a list`, "got JSON string"}},
		{"list given a string in restore", invokeRestore, `{"indices":"logs-*"}`, []string{`field "indices" must be a list`}},
		{"boolean given a string", invokeTake, `{"wait_for_completion":"true"}`, []string{`field "wait_for_completion" must be a boolean (true/false)`, "got JSON string"}},
		{"boolean given a number", invokeRegister, `{"readonly":1}`, []string{`field "readonly" must be a boolean`, "got JSON number"}},
		{"string given a number", invokeRegister, `{"bucket":42}`, []string{`field "bucket" must be a string`, "got JSON number"}},
		{"string given a list", invokeProgress, `{"snapshot":["a"]}`, []string{`field "snapshot" must be a string`, "got JSON array"}},
		{"object given a list", invokeRestore, `{"index_settings":["index.number_of_replicas"]}`, []string{`field "index_settings" must be an object`}},
		{"object given a string", invokeTake, `{"metadata":"x"}`, []string{`field "metadata" must be an object`}},
		{"not an object", invokeTake, `["x"]`, []string{"the event must be a JSON object", "got an array"}},
		{"not JSON", invokeRestore, `{snapshot: x}`, []string{"the event is not valid JSON", "at byte 2"}},
		{"case differs", invokeTake, `{"Snapshot":"x","Indices":["a"]}`, []string{`field "Snapshot" is unknown: field names are case-sensitive; did you mean "snapshot"?`, `did you mean "indices"?`}},
		{"duplicate key", invokeTake, `{"snapshot":"a","snapshot":"b"}`, []string{`the key "snapshot" twice`}},
		{"null for a default", invokeRestore, `{"snapshot":null}`, []string{`field "snapshot" is null`}},
		{"nested unknown", invokeTake, `{"retention":{"keep_dayly":7}}`, []string{`field "retention.keep_dayly" is unknown`, "keep_daily"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, baseEnv())
			err := c.invoke(h, json.RawMessage(c.raw))
			wantErr(t, err, "ValidationError", c.want...)
			if len(h.domains) != 0 || len(h.ops.calls) != 0 {
				t.Fatalf("invalid event reached the domain: %+v", h.ops.calls)
			}
		})
	}
}

func TestRegisterValidateReportsEveryProblem(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		raw  string
		want []string
	}{
		{
			name: "s3 without endpoint, bucket, with bad role and reserved name",
			env:  map[string]string{"ESSNAP_UNSIGNED": "maybe"},
			raw:  `{"repository":"cs-x","role_arn":"arn:aws:iam::123:role/x"}`,
			want: []string{
				"register-repo:",
				`environment ESSNAP_UNSIGNED="maybe" is not a boolean`,
				"endpoint is empty",
				`repository "cs-x" starts with "cs-"`,
				"bucket is empty",
				`role_arn "arn:aws:iam::123:role/x" is not an IAM role ARN`,
			},
		},
		{
			name: "unsupported type",
			env:  map[string]string{},
			raw:  `{"repository":"cs-x","type":"gcs","role_arn":"nope"}`,
			want: []string{"endpoint is empty", `repository "cs-x"`, `type "gcs" is not supported`},
		},
		{
			name: "role ARN that is a user",
			env:  baseEnv(),
			raw:  `{"role_arn":"arn:aws:iam::123456789012:user/alice"}`,
			want: []string{"is not an IAM role ARN"},
		},
		{
			name: "s3 bucket with scheme and path",
			env:  baseEnv(),
			raw:  `{"bucket":"s3://essnap-snapshots/logs","base_path":"/logs/"}`,
			want: []string{"must be a bucket name only", `base_path "/logs/" must not start or end with '/'`},
		},
		{
			name: "s3 with location",
			env:  baseEnv(),
			raw:  `{"location":"/mnt/snapshots"}`,
			want: []string{"location is for type fs"},
		},
		{
			name: "fs without location, with an escaping base_path",
			env:  baseEnv(),
			raw:  `{"type":"fs","base_path":"../other"}`,
			want: []string{"location is empty", `base_path "../other" must be relative without '..'`},
		},
		{
			name: "bad readonly in environment",
			env:  map[string]string{"ESSNAP_ENDPOINT": awsEndpoint, "ESSNAP_BUCKET": "b", "ESSNAP_ROLE_ARN": "arn:aws:iam::123456789012:role/R", "ESSNAP_REPOSITORY_READONLY": "yes please"},
			raw:  `{}`,
			want: []string{"ESSNAP_REPOSITORY_READONLY"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.env)
			err := invokeRegister(h, json.RawMessage(c.raw))
			wantErr(t, err, "ValidationError", c.want...)
			if len(h.domains) != 0 {
				t.Fatal("connected despite invalid configuration")
			}
		})
	}
}

// TestDomainValidation runs the connection checks every handler shares.
func TestDomainValidation(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		raw  string
		want []string // none: valid
	}{
		{name: "AWS endpoint", env: map[string]string{"ESSNAP_ENDPOINT": awsEndpoint}, raw: `{}`},
		{name: "trailing slash", env: map[string]string{"ESSNAP_ENDPOINT": awsEndpoint + "/"}, raw: `{}`},
		{name: "VPC endpoint", env: map[string]string{"ESSNAP_ENDPOINT": "https://vpc-logs-abc.ap-northeast-1.es.amazonaws.com"}, raw: `{}`},
		{name: "dual-stack endpoint", env: map[string]string{"ESSNAP_ENDPOINT": "https://search-logs-abc.aos.eu-central-1.on.aws"}, raw: `{}`},
		{name: "no endpoint", env: map[string]string{}, raw: `{}`, want: []string{"endpoint is empty", "ESSNAP_ENDPOINT"}},
		{name: "endpoint from the event", env: map[string]string{}, raw: `{"endpoint":"` + awsEndpoint + `"}`},
		{name: "unsigned AWS endpoint", env: map[string]string{"ESSNAP_ENDPOINT": awsEndpoint, "ESSNAP_UNSIGNED": "true"}, raw: `{}`, want: []string{"unsigned=true with AWS endpoint", "search-logs-abc.eu-west-1.es.amazonaws.com"}},
		{name: "unsigned AWS endpoint from the event", env: map[string]string{"ESSNAP_ENDPOINT": awsEndpoint}, raw: `{"unsigned":true}`, want: []string{"unsigned=true with AWS endpoint"}},
		{name: "event turns unsigned off", env: map[string]string{"ESSNAP_ENDPOINT": awsEndpoint, "ESSNAP_UNSIGNED": "true"}, raw: `{"unsigned":false}`},
		{name: "endpoint with a path", env: map[string]string{"ESSNAP_ENDPOINT": awsEndpoint + "/_dashboards"}, raw: `{}`, want: []string{"has a path", "https://search-logs-abc.eu-west-1.es.amazonaws.com"}},
		{name: "endpoint without scheme", env: map[string]string{"ESSNAP_ENDPOINT": "search-logs-abc.eu-west-1.es.amazonaws.com"}, raw: `{}`, want: []string{"is not a URL", "https://"}},
		{name: "endpoint with another scheme", env: map[string]string{"ESSNAP_ENDPOINT": "ftp://search-logs-abc.eu-west-1.es.amazonaws.com"}, raw: `{}`, want: []string{"is not a URL"}},
		{name: "custom host without region", env: map[string]string{"ESSNAP_ENDPOINT": "https://search.logs.example.com"}, raw: `{}`, want: []string{"cannot read the AWS region", "search.logs.example.com", "ESSNAP_REGION"}},
		{name: "custom host with region from env", env: map[string]string{"ESSNAP_ENDPOINT": "https://search.logs.example.com", "ESSNAP_REGION": "eu-west-1"}, raw: `{}`},
		{name: "custom host with region from event", env: map[string]string{"ESSNAP_ENDPOINT": "https://search.logs.example.com"}, raw: `{"region":"eu-west-1"}`},
		{name: "local engine unsigned", env: map[string]string{"ESSNAP_ENDPOINT": "http://127.0.0.1:9201", "ESSNAP_UNSIGNED": "true"}, raw: `{}`},
		{name: "bad boolean", env: map[string]string{"ESSNAP_ENDPOINT": awsEndpoint, "ESSNAP_UNSIGNED": "maybe"}, raw: `{}`, want: []string{`ESSNAP_UNSIGNED="maybe" is not a boolean`}},
	}
	handlers := map[string]invoker{
		"take-snapshot": invokeTake,
		"restore":       invokeRestore,
		"check-progress": func(h *harness, raw json.RawMessage) error {
			var ev map[string]any
			if err := json.Unmarshal(raw, &ev); err != nil {
				return err
			}
			ev["snapshot"] = "s"
			b, _ := json.Marshal(ev)
			return invokeProgress(h, b)
		},
		"register-repo": func(h *harness, raw json.RawMessage) error {
			h.deps.Getenv = withEnv(h.deps.Getenv, map[string]string{"ESSNAP_BUCKET": "b", "ESSNAP_ROLE_ARN": "arn:aws:iam::123456789012:role/R"})
			return invokeRegister(h, raw)
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for hn, invoke := range handlers {
				t.Run(hn, func(t *testing.T) {
					h := newHarness(t, c.env)
					err := invoke(h, json.RawMessage(c.raw))
					if len(c.want) == 0 {
						if err != nil {
							t.Fatal(err)
						}
						if len(h.domains) != 1 {
							t.Fatalf("connected %d times", len(h.domains))
						}
						return
					}
					wantErr(t, err, "ValidationError", c.want...)
					if len(h.domains) != 0 {
						t.Fatal("connected despite an invalid domain")
					}
				})
			}
		})
	}
}

func withEnv(base func(string) string, extra map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := extra[k]; ok {
			return v
		}
		return base(k)
	}
}

func TestRegisterReadonlyAndFS(t *testing.T) {
	t.Run("readonly disables verification", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		res, err := handler.RegisterRepo{Deps: h.deps}.Invoke(ctx, json.RawMessage(`{"readonly":true}`))
		if err != nil {
			t.Fatal(err)
		}
		spec := h.ops.recorded("RegisterRepository")[0].Spec
		if spec.Verify || spec.Settings["readonly"] != true {
			t.Fatalf("spec %+v", spec)
		}
		if !res.Readonly || res.Verified {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("readonly from the environment", func(t *testing.T) {
		env := baseEnv()
		env["ESSNAP_REPOSITORY_READONLY"] = "true"
		h := newHarness(t, env)
		if err := invokeRegister(h, nil); err != nil {
			t.Fatal(err)
		}
		spec := h.ops.recorded("RegisterRepository")[0].Spec
		if spec.Verify || spec.Settings["readonly"] != true {
			t.Fatalf("spec %+v", spec)
		}
	})
	t.Run("readonly with verify asked still skips it", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		if err := invokeRegister(h, json.RawMessage(`{"readonly":true,"verify":true}`)); err != nil {
			t.Fatal(err)
		}
		if spec := h.ops.recorded("RegisterRepository")[0].Spec; spec.Verify {
			t.Fatalf("spec %+v", spec)
		}
	})
	t.Run("verify false", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		if err := invokeRegister(h, json.RawMessage(`{"verify":false}`)); err != nil {
			t.Fatal(err)
		}
		spec := h.ops.recorded("RegisterRepository")[0].Spec
		if spec.Verify {
			t.Fatalf("spec %+v", spec)
		}
		if _, ok := spec.Settings["readonly"]; ok {
			t.Fatalf("readonly set: %+v", spec.Settings)
		}
	})
	cases := []struct {
		name, raw, location string
	}{
		{"fs with base_path", `{"type":"fs","location":"/mnt/snapshots","base_path":"domain-a"}`, "/mnt/snapshots/domain-a"},
		{"fs with trailing slash and nested base_path", `{"type":"fs","location":"/mnt/snapshots/","base_path":"x/domain-a"}`, "/mnt/snapshots/x/domain-a"},
		{"fs without base_path", `{"type":"fs","location":"/mnt/snapshots/"}`, "/mnt/snapshots"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, map[string]string{"ESSNAP_ENDPOINT": "http://127.0.0.1:9201", "ESSNAP_UNSIGNED": "true"})
			res, err := handler.RegisterRepo{Deps: h.deps}.Invoke(ctx, json.RawMessage(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			spec := h.ops.recorded("RegisterRepository")[0].Spec
			want := map[string]any{"location": c.location}
			if spec.Type != "fs" || !reflect.DeepEqual(spec.Settings, want) || !spec.Verify {
				t.Fatalf("spec %+v, want settings %v", spec, want)
			}
			if res.Type != "fs" {
				t.Fatalf("result %+v", res)
			}
		})
	}
	t.Run("fs location from the environment", func(t *testing.T) {
		h := newHarness(t, map[string]string{"ESSNAP_ENDPOINT": "http://127.0.0.1:9201", "ESSNAP_UNSIGNED": "true", "ESSNAP_REPOSITORY_TYPE": "fs", "ESSNAP_FS_LOCATION": "/srv/repo", "ESSNAP_BASE_PATH": "d1"})
		if err := invokeRegister(h, nil); err != nil {
			t.Fatal(err)
		}
		if got := h.ops.recorded("RegisterRepository")[0].Spec.Settings["location"]; got != "/srv/repo/d1" {
			t.Fatalf("location %v", got)
		}
	})
}

func TestRegisterFailures(t *testing.T) {
	t.Run("verification failed", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		h.ops.register = func(spec engine.RepositorySpec) (engine.RegisterResult, error) {
			return engine.RegisterResult{Repository: spec.Name, Status: "created", VerifyError: "POST /_snapshot/essnap/_verify: 500 repository_verification_exception: [essnap] path  is not accessible on master node"}, nil
		}
		err := invokeRegister(h, nil)
		if err == nil || !strings.Contains(err.Error(), "verification failed") || !strings.Contains(err.Error(), "not accessible") {
			t.Fatalf("err %v", err)
		}
		if !failure.IsTyped(err) {
			t.Fatalf("untyped error %T", err)
		}
	})
	t.Run("PassRole denied", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		h.ops.register = func(spec engine.RepositorySpec) (engine.RegisterResult, error) {
			return engine.RegisterResult{}, fmt.Errorf("register essnap: %w", esclient.ParseError("PUT", "/_snapshot/essnap", 403,
				[]byte(`{"Message":"User: arn:aws:sts::123:assumed-role/x/y is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123:role/SnapshotRole"}`)))
		}
		wantErr(t, invokeRegister(h, nil), "AccessDeniedError", "iam:PassRole", "iam:PassedToService")
	})
	t.Run("connect failure", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		h.deps.Connect = func(context.Context, handler.Domain) (any, error) {
			return nil, errors.New("no AWS credentials provider")
		}
		wantErr(t, invokeRegister(h, nil), "ValidationError", "connect", "no AWS credentials provider")
	})
}

func TestRestoreValidation(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		raw  string
		want []string
	}{
		{"star pattern", nil, `{"rename_pattern":"*","rename_replacement":"$1-restored"}`, []string{"restore:", "Dangling meta character '*'", `"(.+)"`, `"$1-restored"`}},
		{"dot star pattern", nil, `{"rename_pattern":".*","rename_replacement":"r_$0"}`, []string{"matches the empty string", `"(.+)"`}},
		{"pattern without replacement", nil, `{"rename_pattern":"(.+)"}`, []string{"rename_replacement is empty"}},
		{"prefix and pattern", nil, `{"rename_prefix":"r-","rename_pattern":"(.+)","rename_replacement":"$1"}`, []string{"cannot be combined"}},
		{"index_settings without index.", nil, `{"index_settings":{"number_of_replicas":0,"index.refresh_interval":"30s"}}`, []string{`index_settings key "number_of_replicas" must be a full index setting name`}},
		{"index_settings short key", nil, `{"index_settings":{"index":{"number_of_replicas":0}}}`, []string{`index_settings key "index"`}},
		{"global state with system indices", nil, `{"include_global_state":true,"include_system_indices":true}`, []string{"include_global_state with include_system_indices", "set at most one"}},
		{"reserved repository", nil, `{"repository":"cs-automated"}`, []string{`repository "cs-automated" starts with "cs-"`}},
		{"bad snapshot name", nil, `{"snapshot":"Nightly"}`, []string{`snapshot "Nightly"`, "must be lowercase", `"latest"`}},
		{"empty index pattern", nil, `{"indices":["logs-*",""]}`, []string{"indices[1] is empty"}},
		{"environment suffix with event pattern and bad settings", map[string]string{"ESSNAP_RESTORE_RENAME_SUFFIX": "-restored"}, `{"rename_pattern":"*","rename_replacement":"x","index_settings":{"replicas":0},"repository":"cs-x","unsigned":true}`, []string{"Dangling", `index_settings key "replicas"`, `repository "cs-x"`, "unsigned=true with AWS endpoint"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := baseEnv()
			maps.Copy(env, c.env)
			h := newHarness(t, env)
			wantErr(t, invokeRestore(h, json.RawMessage(c.raw)), "ValidationError", c.want...)
			if len(h.domains) != 0 {
				t.Fatal("connected despite invalid input")
			}
		})
	}
}

func TestRestoreOptions(t *testing.T) {
	cases := []struct {
		name        string
		env         map[string]string
		raw         string
		pattern     string // "" means no rename
		replacement string
		check       func(t *testing.T, o engine.RestoreOptions)
	}{
		{name: "no rename by default", raw: `{}`},
		{name: "environment suffix is the default", env: map[string]string{"ESSNAP_RESTORE_RENAME_SUFFIX": "-restored"}, raw: `{}`, pattern: "(.+)", replacement: "$1-restored"},
		{name: "event pattern replaces the environment suffix", env: map[string]string{"ESSNAP_RESTORE_RENAME_SUFFIX": "-restored"}, raw: `{"rename_pattern":"(.+)","rename_replacement":"$1-copy"}`, pattern: "(.+)", replacement: "$1-copy"},
		{name: "event prefix replaces the environment suffix", env: map[string]string{"ESSNAP_RESTORE_RENAME_SUFFIX": "-restored"}, raw: `{"rename_prefix":"old-"}`, pattern: "(.+)", replacement: "old-$1"},
		{name: "event suffix replaces the environment suffix", env: map[string]string{"ESSNAP_RESTORE_RENAME_SUFFIX": "-restored"}, raw: `{"rename_suffix":"-b"}`, pattern: "(.+)", replacement: "$1-b"},
		{name: "empty event suffix turns renaming off", env: map[string]string{"ESSNAP_RESTORE_RENAME_SUFFIX": "-restored"}, raw: `{"rename_suffix":""}`},
		{name: "working pattern", raw: `{"rename_pattern":"(.+)","rename_replacement":"$1-restored"}`, pattern: "(.+)", replacement: "$1-restored"},
		{
			name: "index settings and flags pass through",
			raw:  `{"index_settings":{"index.number_of_replicas":0},"ignore_index_settings":["index.refresh_interval"],"include_aliases":true,"include_global_state":true,"partial":true,"dry_run":true}`,
			check: func(t *testing.T, o engine.RestoreOptions) {
				if !reflect.DeepEqual(o.IndexSettings, map[string]any{"index.number_of_replicas": float64(0)}) ||
					!reflect.DeepEqual(o.IgnoreIndexSettings, []string{"index.refresh_interval"}) ||
					!o.IncludeAliases || !o.IncludeGlobalState || o.IncludeSystem || !o.Partial || !o.DryRun {
					t.Fatalf("options %+v", o)
				}
			},
		},
		{
			name: "system indices on request",
			raw:  `{"include_system_indices":true,"indices":[".kibana*"]}`,
			check: func(t *testing.T, o engine.RestoreOptions) {
				if !o.IncludeSystem || o.IncludeGlobalState {
					t.Fatalf("options %+v", o)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := baseEnv()
			maps.Copy(env, c.env)
			h := newHarness(t, env)
			h.ops.existing = nil
			if err := invokeRestore(h, json.RawMessage(c.raw)); err != nil {
				t.Fatal(err)
			}
			o := h.ops.recorded("Restore")[0].Restore
			if c.pattern == "" {
				if o.Rename != nil {
					p, r := o.Rename.EngineFields()
					t.Fatalf("rename %q/%q, want none", p, r)
				}
			} else {
				if o.Rename == nil {
					t.Fatalf("no rename, want %q/%q", c.pattern, c.replacement)
				}
				if p, r := o.Rename.EngineFields(); p != c.pattern || r != c.replacement {
					t.Fatalf("rename %q/%q, want %q/%q", p, r, c.pattern, c.replacement)
				}
			}
			if c.check != nil {
				c.check(t, o)
			}
		})
	}
}

func TestRestoreFailures(t *testing.T) {
	t.Run("collision", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		h.ops.existing = map[string]string{"logs-2026.11.23": "open", "metrics-2026.11.23": "close"}
		res, err := handler.Restore{Deps: h.deps}.Invoke(ctx, nil)
		wantErr(t, err, "IndexConflictError", "logs-2026.11.23 (from logs-2026.11.23, open)", "metrics-2026.11.23 (from metrics-2026.11.23, close)")
		if len(res.Collisions) != 2 {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("no SUCCESS snapshot", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		h.ops.restore = func(repo, name string, _ engine.RestoreOptions) (engine.RestoreResult, error) {
			return engine.RestoreResult{}, fmt.Errorf("restore %s/%s: %w", repo, name, &esclient.APIError{Method: "GET", Path: "/_snapshot/essnap/_all", Status: 404, Source: esclient.SourceEngine, Type: "snapshot_missing_exception", Reason: "repository [essnap] has no SUCCESS snapshot (3 snapshots in all)"})
		}
		wantErr(t, invokeRestore(h, nil), "SnapshotMissingError", "no SUCCESS snapshot")
	})
	t.Run("open index on the engine", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		h.ops.restore = func(repo, name string, _ engine.RestoreOptions) (engine.RestoreResult, error) {
			return engine.RestoreResult{}, fmt.Errorf("restore %s/%s: %w", repo, name, esclient.ParseError("POST", "/_snapshot/essnap/s/_restore", 500,
				[]byte(`{"error":{"type":"snapshot_restore_exception","reason":"[essnap:s/u] cannot restore index [logs] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name"},"status":500}`)))
		}
		wantErr(t, invokeRestore(h, nil), "IndexConflictError", "open index with same name")
	})
	t.Run("nothing selected", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		err := invokeRestore(h, json.RawMessage(`{"indices":["zzz-*"]}`))
		if err == nil || !strings.Contains(err.Error(), "nothing to restore") || !failure.IsTyped(err) {
			t.Fatalf("err %T %v", err, err)
		}
	})
}

func TestTakeSnapshotValidation(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		raw  string
		want []string
	}{
		{"reserved metadata key", nil, `{"metadata":{"essnap":{"x":1},"ticket":"OPS-1"}}`, []string{`metadata key "essnap" is reserved`}},
		{"unknown trigger", nil, `{"trigger":"cron"}`, []string{`trigger "cron" is unknown`, "schedule, console, workflow or api"}},
		{"empty trigger", nil, `{"trigger":""}`, []string{`trigger "" is unknown`}},
		{"uppercase template", nil, `{"snapshot":"Nightly-{now/d}"}`, []string{`snapshot "Nightly-2026.11.24" must be lowercase`, `template "Nightly-{now/d}"`}},
		{"bad date math", nil, `{"snapshot":"nightly-{now/q}"}`, []string{"date math {now/q}"}},
		{"bad template from the environment", map[string]string{"ESSNAP_SNAPSHOT_NAME": "nightly-{now"}, `{}`, []string{"unclosed '{'"}},
		{"reserved repository", map[string]string{"ESSNAP_REPOSITORY": "cs-automated"}, `{}`, []string{`repository "cs-automated"`}},
		{"empty index pattern", nil, `{"indices":[""]}`, []string{"indices[0] is empty"}},
		{
			"everything at once", map[string]string{"ESSNAP_ENDPOINT": "", "ESSNAP_UNSIGNED": "maybe"},
			`{"repository":"_x","snapshot":"a b","trigger":"cron","metadata":{"essnap":1},"indices":[""]}`,
			[]string{"take-snapshot:", "ESSNAP_UNSIGNED", "endpoint is empty", `repository "_x"`, "whitespace", "indices[0] is empty", `trigger "cron"`, `metadata key "essnap"`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := baseEnv()
			maps.Copy(env, c.env)
			h := newHarness(t, env)
			wantErr(t, invokeTake(h, json.RawMessage(c.raw)), "ValidationError", c.want...)
			if len(h.domains) != 0 {
				t.Fatal("connected despite invalid input")
			}
		})
	}
}

func TestTakeSnapshotMetadata(t *testing.T) {
	h := newHarness(t, baseEnv())
	raw := json.RawMessage(`{"metadata":{"ticket":"OPS-1","by":"alice"},"indices":["logs-*"]}`)
	if err := invokeTake(h, raw); err != nil {
		t.Fatal(err)
	}
	meta := h.ops.recorded("CreateSnapshot")[0].Create.Metadata
	if meta["ticket"] != "OPS-1" || meta["by"] != "alice" {
		t.Fatalf("user metadata lost: %+v", meta)
	}
	es := meta["essnap"].(map[string]any)
	if !reflect.DeepEqual(es["indices"], []string{"logs-*"}) || es["trigger"] != "console" {
		t.Fatalf("metadata.essnap %+v", es)
	}
}

func TestTakeSnapshotOutcomes(t *testing.T) {
	concurrent := esclient.ParseError("PUT", "/_snapshot/essnap/nightly-2026.11.24", 503,
		[]byte(`{"error":{"root_cause":[{"type":"concurrent_snapshot_execution_exception","reason":"[essnap:nightly-2026.11.24] a snapshot is already running"}],"type":"concurrent_snapshot_execution_exception","reason":"[essnap:nightly-2026.11.24] a snapshot is already running"},"status":503}`))
	cases := []struct {
		name    string
		result  engine.CreateResult
		err     error
		errType string // "" means success
		errHas  []string
		state   string
	}{
		{
			name:   "in progress",
			result: engine.CreateResult{Snapshot: model.Snapshot{Name: "nightly-2026.11.24", State: model.StateInProgress}},
			state:  model.StateInProgress,
		},
		{
			name:   "already exists",
			result: engine.CreateResult{Snapshot: model.Snapshot{Name: "nightly-2026.11.24", State: model.StateSuccess, Indices: []string{"logs-2026.11.23"}}, Existing: true},
			state:  model.StateSuccess,
		},
		{
			name: "partial",
			result: engine.CreateResult{Snapshot: withShards(model.Snapshot{
				Name: "nightly-2026.11.24", State: model.StatePartial,
				Failures: []model.ShardFailure{{Index: "logs-red", ShardID: 0, Reason: "primary shard is not allocated", Status: "INTERNAL_SERVER_ERROR"}},
			}, 5, 1)},
			errType: "SnapshotFailedError",
			errHas:  []string{"essnap/nightly-2026.11.24 ended PARTIAL", "1 of 5 shards failed", "index logs-red shard 0: primary shard is not allocated"},
			state:   model.StatePartial,
		},
		{
			name:    "failed",
			result:  engine.CreateResult{Snapshot: model.Snapshot{Name: "nightly-2026.11.24", State: model.StateFailed}},
			errType: "SnapshotFailedError",
			errHas:  []string{"ended FAILED"},
			state:   model.StateFailed,
		},
		{
			name:    "concurrent snapshot",
			err:     fmt.Errorf("snapshot essnap/nightly-2026.11.24: %w", concurrent),
			errType: "ConcurrentSnapshotError",
			errHas:  []string{"already running"},
		},
		{
			name:    "outcome unknown",
			err:     fmt.Errorf("snapshot essnap/nightly-2026.11.24: %w: the create failed (504) and no such snapshot exists; rerunning is safe", failure.ErrOutcomeUnknown),
			errType: "EngineUnavailableError",
			errHas:  []string{"rerunning is safe"},
		},
		{
			name:    "repository missing",
			err:     fmt.Errorf("snapshot essnap/nightly-2026.11.24: %w", esclient.ParseError("PUT", "/_snapshot/essnap/nightly-2026.11.24", 404, []byte(`{"error":{"type":"repository_missing_exception","reason":"[essnap] missing"},"status":404}`))),
			errType: "RepositoryMissingError",
			errHas:  []string{"register the repository first"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, baseEnv())
			h.ops.create = func(string, string, engine.CreateOptions) (engine.CreateResult, error) { return c.result, c.err }
			res, err := handler.TakeSnapshot{Deps: h.deps}.Invoke(ctx, nil)
			if c.errType == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				wantErr(t, err, c.errType, c.errHas...)
			}
			if res.State != c.state {
				t.Errorf("state %q, want %q", res.State, c.state)
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Errorf("cause lost")
			}
		})
	}
	t.Run("concurrent snapshot detail", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		h.ops.create = func(string, string, engine.CreateOptions) (engine.CreateResult, error) {
			return engine.CreateResult{}, fmt.Errorf("snapshot essnap/x: %w", concurrent)
		}
		_, err := handler.TakeSnapshot{Deps: h.deps}.Invoke(ctx, nil)
		var ce *failure.ConcurrentSnapshotError
		if !errors.As(err, &ce) || ce.Status != 503 || ce.Type != "concurrent_snapshot_execution_exception" {
			t.Fatalf("err %T %+v", err, err)
		}
		if !failure.Retryable(err) {
			t.Fatal("not retryable")
		}
	})
}

// withShards sets a snapshot's shard counts.
func withShards(i model.Snapshot, total, failed int) model.Snapshot {
	i.Shards.Total, i.Shards.Failed, i.Shards.Successful = total, failed, total-failed
	return i
}

func TestCheckProgress(t *testing.T) {
	progress := func(state string) func(string, string) (engine.Progress, error) {
		return func(_, name string) (engine.Progress, error) {
			p := engine.Progress{Snapshot: model.Snapshot{Name: name, State: state}, TotalBytes: 100, ProcessedBytes: 40, ShardsDone: 2, ShardsTotal: 5}
			if state == model.StateFailed || state == model.StatePartial {
				p.Failures = []model.ShardFailure{{Index: "logs-red", ShardID: 3, Reason: "IndexShardSnapshotFailedException[aborted]"}}
			}
			return p, nil
		}
	}
	t.Run("validation", func(t *testing.T) {
		cases := []struct {
			name, raw string
			want      []string
		}{
			{"neither", `{"repository":"essnap"}`, []string{"give either snapshot", "or indices"}},
			{"both", `{"snapshot":"s","indices":["logs"]}`, []string{"not both"}},
			{"bad snapshot name", `{"snapshot":"S"}`, []string{`snapshot "S" must be lowercase`}},
			{"empty snapshot name", `{"snapshot":""}`, []string{"snapshot is empty"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h := newHarness(t, baseEnv())
				wantErr(t, invokeProgress(h, json.RawMessage(c.raw)), "ValidationError", c.want...)
			})
		}
	})
	cases := []struct {
		state   string
		done    bool
		errType string
		errHas  []string
	}{
		{state: model.StateInProgress, done: false},
		{state: model.StateSuccess, done: true},
		{state: model.StateFailed, done: true, errType: "SnapshotFailedError", errHas: []string{"essnap/nightly-2026.11.24 ended FAILED", "index logs-red shard 3"}},
		{state: model.StatePartial, done: true, errType: "SnapshotFailedError", errHas: []string{"ended PARTIAL"}},
		{state: model.StateIncompatible, done: true, errType: "SnapshotFailedError", errHas: []string{"ended INCOMPATIBLE"}},
	}
	for _, c := range cases {
		t.Run(c.state, func(t *testing.T) {
			h := newHarness(t, baseEnv())
			h.ops.status = progress(c.state)
			res, err := handler.CheckProgress{Deps: h.deps}.Invoke(ctx, json.RawMessage(`{"snapshot":"nightly-2026.11.24"}`))
			if c.errType == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				wantErr(t, err, c.errType, c.errHas...)
			}
			if res.Done != c.done || res.Snapshot == nil || res.Snapshot.State != c.state || res.Restore != nil {
				t.Fatalf("result %+v", res)
			}
		})
	}
	t.Run("snapshot missing", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		h.ops.status = func(repo, name string) (engine.Progress, error) {
			return engine.Progress{}, fmt.Errorf("get snapshot %s/%s: %w", repo, name, esclient.ParseError("GET", "/_snapshot/essnap/x", 404,
				[]byte(`{"error":{"type":"snapshot_missing_exception","reason":"[essnap:x] is missing"},"status":404}`)))
		}
		wantErr(t, invokeProgress(h, json.RawMessage(`{"snapshot":"x"}`)), "SnapshotMissingError", "[essnap:x] is missing")
	})
	for _, done := range []bool{false, true} {
		t.Run(fmt.Sprintf("restore done=%v", done), func(t *testing.T) {
			h := newHarness(t, baseEnv())
			want := engine.RestoreProgress{Done: done, Shards: 2, Bytes: 10, Indices: []engine.IndexProgress{{Index: "logs-restored", Shards: 2, ShardsDone: 1}}}
			h.ops.restoreStatus = func([]string) (engine.RestoreProgress, error) { return want, nil }
			res, err := handler.CheckProgress{Deps: h.deps}.Invoke(ctx, json.RawMessage(`{"indices":["logs-restored","metrics-restored"]}`))
			if err != nil {
				t.Fatal(err)
			}
			if res.Done != done || res.Snapshot != nil || res.Restore == nil || !reflect.DeepEqual(*res.Restore, want) {
				t.Fatalf("result %+v", res)
			}
			if c := h.ops.recorded("RestoreStatus"); len(c) != 1 || !reflect.DeepEqual(c[0].Names, []string{"logs-restored", "metrics-restored"}) {
				t.Fatalf("calls %+v", c)
			}
			if len(h.ops.recorded("Status")) != 0 {
				t.Fatal("snapshot status read for a restore")
			}
		})
	}
	t.Run("restore index missing", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		h.ops.restoreStatus = func([]string) (engine.RestoreProgress, error) {
			return engine.RestoreProgress{}, fmt.Errorf("restore progress: %w: logs-restored", engine.ErrIndexMissing)
		}
		err := invokeProgress(h, json.RawMessage(`{"indices":["logs-restored"]}`))
		if !errors.Is(err, engine.ErrIndexMissing) || !failure.IsTyped(err) {
			t.Fatalf("err %T %v", err, err)
		}
	})
}

// TestGolden records the JSON take-snapshot and a dry-run restore return,
// which Step Functions states and operators read.
func TestGolden(t *testing.T) {
	t.Run("take-snapshot", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		h.ops.create = func(repo, name string, opt engine.CreateOptions) (engine.CreateResult, error) {
			return engine.CreateResult{Snapshot: withShards(model.Snapshot{
				Name: name, UUID: "dKb54xw6T6KZ3Hc0hVd6Uw", State: model.StateSuccess, Version: "2.11.0",
				Indices: []string{"logs-2026.11.23", "logs-2026.11.24"},
				Start:   fixedNow.Add(2 * time.Second), End: fixedNow.Add(95 * time.Second),
				Metadata: opt.Metadata,
			}, 10, 0)}, nil
		}
		res, err := handler.TakeSnapshot{Deps: h.deps}.Invoke(ctx, json.RawMessage(`{"trigger":"schedule","indices":["logs-*"]}`))
		if err != nil {
			t.Fatal(err)
		}
		c := h.ops.recorded("CreateSnapshot")[0]
		checkGolden(t, "take_snapshot.golden.json", map[string]any{
			"request": map[string]any{"repository": c.Repo, "snapshot": c.Name, "options": c.Create},
			"result":  res,
		})
	})
	t.Run("restore dry run", func(t *testing.T) {
		h := newHarness(t, baseEnv())
		res, err := handler.Restore{Deps: h.deps}.Invoke(ctx, json.RawMessage(`{"snapshot":"nightly-2026.11.24","rename_suffix":"-restored","dry_run":true}`))
		if err != nil {
			t.Fatal(err)
		}
		c := h.ops.recorded("Restore")[0]
		p, r := c.Restore.Rename.EngineFields()
		checkGolden(t, "restore_dry_run.golden.json", map[string]any{
			"request": map[string]any{"repository": c.Repo, "snapshot": c.Name, "rename_pattern": p, "rename_replacement": r, "dry_run": c.Restore.DryRun},
			"result":  res,
		})
	})
}
