package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/essnap/essnap/internal/golden"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/setup"
	"github.com/essnap/essnap/pkg/wiring"
)

const (
	snapshotRoleArn = "arn:aws:iam::123456789012:role/SnapshotRole"
	fnRoleArn       = "arn:aws:iam::123456789012:role/essnap-RegisterRepoRole-x"
	testDomainArn   = "arn:aws:es:eu-west-1:123456789012:domain/logs"
)

// goodTrust is the stack's SnapshotRole trust policy for testDomainArn.
var goodTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"},"Action":"sts:AssumeRole",` +
	`"Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":["` + testDomainArn + `","` + testDomainArn + `/*"]}}}]}`

// fakeIAM answers handler.IAM from tables and records every call.
type fakeIAM struct {
	mu       sync.Mutex
	calls    []string
	identity setup.Identity
	idErr    error
	roles    map[string]setup.Role
	roleErr  error
	// deny maps principal+" "+action to a decision other than allowed.
	deny   map[string]string
	simErr error
}

func newFakeIAM() *fakeIAM {
	return &fakeIAM{
		identity: setup.Identity{Account: "123456789012", ARN: "arn:aws:sts::123456789012:assumed-role/essnap-RegisterRepoRole-x/essnap-register-repo"},
		roles: map[string]setup.Role{
			"SnapshotRole":              {ARN: snapshotRoleArn, Name: "SnapshotRole", TrustPolicy: goodTrust},
			"essnap-RegisterRepoRole-x": {ARN: fnRoleArn, Name: "essnap-RegisterRepoRole-x", TrustPolicy: `{"Statement":[]}`},
		},
		deny: map[string]string{},
	}
}

func (f *fakeIAM) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeIAM) CallerIdentity(context.Context) (setup.Identity, error) {
	f.record("GetCallerIdentity")
	return f.identity, f.idErr
}

func (f *fakeIAM) GetRole(_ context.Context, name string) (setup.Role, error) {
	f.record("GetRole " + name)
	if f.roleErr != nil {
		return setup.Role{}, f.roleErr
	}
	r, ok := f.roles[name]
	if !ok {
		return setup.Role{}, fmt.Errorf("iam:GetRole %s: %w", name, setup.ErrNoSuchEntity)
	}
	return r, nil
}

func (f *fakeIAM) Simulate(_ context.Context, sim setup.Simulation) ([]setup.Evaluation, error) {
	f.record("Simulate " + sim.Principal + " " + strings.Join(sim.Actions, ","))
	if f.simErr != nil {
		return nil, f.simErr
	}
	var out []setup.Evaluation
	for _, a := range sim.Actions {
		for _, r := range sim.Resources {
			d := setup.Allowed
			if x, ok := f.deny[sim.Principal+" "+a]; ok {
				d = x
			}
			out = append(out, setup.Evaluation{Action: a, Resource: r, Decision: d})
		}
	}
	return out, nil
}

func (f *fakeIAM) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// register-repo's IAM pre-check: failures stop before anything reaches the
// domain, with every missing statement in one AccessDeniedError; checks it
// may not run are warnings.
func TestRegisterRolePreCheck(t *testing.T) {
	cases := []struct {
		name  string
		event string
		env   map[string]string
		setup func(f *fakeIAM)
		// wantErr is the errorType ("" = registered); want are texts the
		// error or the warnings hold.
		wantErr string
		want    []string
		noIAM   bool
	}{
		{name: "all good", event: `{}`},
		{name: "wrong trust principal", event: `{}`, wantErr: "AccessDeniedError",
			setup: func(f *fakeIAM) {
				f.roles["SnapshotRole"] = setup.Role{ARN: snapshotRoleArn, Name: "SnapshotRole", TrustPolicy: strings.Replace(goodTrust, "es.amazonaws.com", "ec2.amazonaws.com", 1)}
			},
			want: []string{"[snapshot_role_trust]", "does not let es.amazonaws.com assume it", `{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"}`, "nothing was sent"}},
		{name: "source arn names another domain", event: `{}`, wantErr: "AccessDeniedError",
			setup: func(f *fakeIAM) {
				f.roles["SnapshotRole"] = setup.Role{ARN: snapshotRoleArn, Name: "SnapshotRole", TrustPolicy: strings.ReplaceAll(goodTrust, "domain/logs", "domain/other")}
			},
			want: []string{"only for another domain", testDomainArn + `/*"]}`}},
		{name: "missing role", event: `{}`, wantErr: "AccessDeniedError",
			setup: func(f *fakeIAM) { delete(f.roles, "SnapshotRole") },
			want:  []string{"does not exist", "Create role SnapshotRole"}},
		{name: "every problem at once", event: `{}`, wantErr: "AccessDeniedError",
			setup: func(f *fakeIAM) {
				f.deny[snapshotRoleArn+" s3:PutObject"] = setup.ImplicitDeny
				f.deny[fnRoleArn+" iam:PassRole"] = setup.ExplicitDeny
			},
			want: []string{"found 2 problems", "[snapshot_role_s3]", `"Action":"s3:PutObject"`, "[pass_role]", "explicitly denied"}},
		{name: "may not call IAM", event: `{}`,
			setup: func(f *fakeIAM) {
				f.roleErr = fmt.Errorf("iam:GetRole: %w", setup.ErrNotPermitted)
				f.simErr = fmt.Errorf("iam:SimulatePrincipalPolicy: %w", setup.ErrNotPermitted)
			},
			want: []string{"[snapshot_role_trust]", "not checked", "check_role false"}},
		{name: "check_role false", event: `{"check_role":false}`, noIAM: true},
		{name: "type fs", event: `{"type":"fs","location":"/repo","bucket":"","role_arn":""}`, noIAM: true},
		{name: "another endpoint drops the stack's domain_arn", event: `{"endpoint":"https://search-new-abc.eu-west-1.es.amazonaws.com"}`,
			want: []string{"[snapshot_role_trust]", "could not be checked", "domain_arn"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := baseEnv()
			env["ESSNAP_DOMAIN_ARN"] = testDomainArn
			for k, v := range c.env {
				env[k] = v
			}
			h := newHarness(t, env)
			iam := newFakeIAM()
			if c.setup != nil {
				c.setup(iam)
			}
			res, err := handler.RegisterRepo{Deps: h.deps, IAM: iam}.Invoke(ctx, json.RawMessage(c.event))
			if typeName(err) != c.wantErr && (c.wantErr != "" || err != nil) {
				t.Fatalf("error %s %v, want %q", typeName(err), err, c.wantErr)
			}
			text := strings.Join(res.Warnings, "\n")
			if err != nil {
				text = err.Error()
				if len(h.domains) != 0 || len(h.ops.recorded("RegisterRepository")) != 0 {
					t.Errorf("a failed pre-check connected to %v", h.domains)
				}
			} else if len(h.ops.recorded("RegisterRepository")) != 1 {
				t.Errorf("not registered")
			}
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q missing from:\n%s", w, text)
				}
			}
			if c.noIAM && iam.count() != 0 {
				t.Errorf("IAM called: %v", iam.calls)
			}
			if !c.noIAM && iam.count() == 0 {
				t.Error("IAM not called")
			}
		})
	}
}

// Without an IAM client (tests, old wiring) the pre-check is a warning.
func TestRegisterRolePreCheckWithoutIAM(t *testing.T) {
	h := newHarness(t, baseEnv())
	res, err := handler.RegisterRepo{Deps: h.deps}.Invoke(ctx, json.RawMessage(`{}`))
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "no IAM client") {
		t.Fatalf("%v %+v", err, res)
	}
}

// Hostile input: each is a ValidationError naming the field, and nothing
// is sent (no IAM call, no connection).
func TestRoleCheckHostileInput(t *testing.T) {
	long := "arn:aws:iam::123456789012:role/" + strings.Repeat("n", 65)
	cases := []struct{ fn, event, field string }{
		{"register-repo", `{"role_arn":"SnapshotRole"}`, "role_arn"},
		{"register-repo", `{"role_arn":"arn:aws:iam::123456789012:user/SnapshotRole"}`, "role_arn"},
		{"register-repo", `{"role_arn":"arn:aws:iam::12345:role/SnapshotRole"}`, "role_arn"},
		{"register-repo", `{"role_arn":"arn:aws:iam::123456789012:role/"}`, "role_arn"},
		{"register-repo", `{"role_arn":"arn:aws:iam::123456789012:role/a/"}`, "role_arn"},
		{"register-repo", `{"role_arn":"` + long + `"}`, "role_arn"},
		{"register-repo", `{"role_arn":"arn:aws:iam::123456789012:role/a\nb"}`, "role_arn"},
		{"register-repo", `{"role_arn":"arn:aws:iam::123456789012:role/` + strings.Repeat("x/", 1100) + `r"}`, "role_arn"},
		{"register-repo", `{"endpoint":"https://search-logs-abc.eu-west-1.es.amazonaws.com/_snapshot/essnap"}`, "endpoint"},
		{"register-repo", `{"check_rol":false}`, `"check_rol" is unknown`},
		{"register-repo", `{"check_role":"no"}`, `"check_role" must be`},
		{"register-repo", `{"domain_arn":"logs"}`, "domain_arn"},
		{"register-repo", `{"domain_arn":"arn:aws:es:us-east-1:123456789012:domain/logs"}`, "domain_arn"},
		{"doctor", `{"role_arn":"arn:aws:iam::123456789012:group/x"}`, "role_arn"},
		{"doctor", `{"endpoint":"https://search-logs-abc.eu-west-1.es.amazonaws.com/x?y=1"}`, "endpoint"},
		{"doctor", `{"verfy":true}`, `"verfy" is unknown`},
		{"doctor", `{"Check_Role":true}`, `did you mean "check_role"`},
		{"doctor", `{"schedule":"every night"}`, "schedule"},
		{"doctor", `{"schedule_timezone":"Mars/Olympus"}`, "schedule_timezone"},
		{"doctor", `{"alarm_hours":0}`, "alarm_hours"},
		{"doctor", `{"type":"gcs"}`, "type"},
		{"doctor", `{"domain_arn":"arn:aws:es:eu-west-1:123456789012:domain/logs/*"}`, "domain_arn"},
	}
	for _, c := range cases {
		t.Run(c.fn+" "+config1(c.event), func(t *testing.T) {
			h := newHarness(t, baseEnv())
			iam := newFakeIAM()
			var err error
			opened := false
			if c.fn == "register-repo" {
				_, err = handler.RegisterRepo{Deps: h.deps, IAM: iam}.Invoke(ctx, json.RawMessage(c.event))
			} else {
				deps := h.deps
				deps.Connect = func(context.Context, handler.Domain) (any, error) {
					opened = true
					return nil, errors.New("must not connect")
				}
				d := handler.Doctor{Deps: deps, IAM: iam}
				_, err = d.Invoke(ctx, json.RawMessage(c.event))
			}
			if typeName(err) != "ValidationError" || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("%s: %s %v, want a ValidationError naming %s", c.event, typeName(err), err, c.field)
			}
			if iam.count() != 0 || len(h.domains) != 0 || opened {
				t.Errorf("sent: iam %v, domains %v, doctor connected %v", iam.calls, h.domains, opened)
			}
		})
	}
}

// config1 shortens an event for a subtest name.
func config1(ev string) string {
	if len(ev) > 40 {
		return ev[:40]
	}
	return ev
}

var _ handler.DoctorOps = (*fakeDoctorOps)(nil)

// fakeDoctorOps answers the doctor's reads, and nothing else.
type fakeDoctorOps struct {
	version  engine.Version
	health   engine.Health
	security *engine.SecurityInfo // nil = no plugin
	repos    map[string]engine.RepositoryInfo
	verify   error
	snaps    map[string][]model.Snapshot
}

func (f *fakeDoctorOps) EngineVersion(context.Context) (engine.Version, error) {
	return f.version, nil
}
func (f *fakeDoctorOps) Health(context.Context) (engine.Health, error) { return f.health, nil }
func (f *fakeDoctorOps) SecurityInfo(context.Context) (engine.SecurityInfo, error) {
	if f.security == nil {
		return engine.SecurityInfo{}, engine.ErrNoSecurityPlugin
	}
	return *f.security, nil
}
func (f *fakeDoctorOps) Repositories(context.Context) (map[string]engine.RepositoryInfo, error) {
	return f.repos, nil
}
func (f *fakeDoctorOps) VerifyRepository(_ context.Context, name string) (int, error) {
	return 3, f.verify
}
func (f *fakeDoctorOps) ListSnapshots(_ context.Context, repo string, _ ...string) ([]model.Snapshot, error) {
	return f.snaps[repo], nil
}

// stackEnv is the doctor's environment in the stack.
func stackEnv() map[string]string {
	env := baseEnv()
	env["ESSNAP_DOMAIN_ARN"] = testDomainArn
	env["ESSNAP_BASE_PATH"] = "essnap"
	env["ESSNAP_SCHEDULE"] = "cron(0 3 * * ? *)"
	env["ESSNAP_SCHEDULE_TIMEZONE"] = "Asia/Tokyo"
	env["ESSNAP_ALARM_HOURS"] = "26"
	return env
}

func healthyDomain() *fakeDoctorOps {
	auto := []model.Snapshot{}
	for i := 0; i < 48; i++ {
		start := fixedNow.Add(-time.Duration(i+1) * time.Hour).Truncate(time.Hour).Add(40 * time.Minute)
		auto = append(auto, model.Snapshot{Name: fmt.Sprintf("auto-%d", i), State: model.StateSuccess, Start: start, End: start.Add(3 * time.Minute)})
	}
	return &fakeDoctorOps{
		version:  engine.Version{Distribution: "opensearch", Number: "2.19.1"},
		health:   engine.Health{Cluster: "123456789012:logs", Status: "green", Nodes: 3},
		security: &engine.SecurityInfo{User: fnRoleArn, BackendRoles: []string{fnRoleArn}, Roles: []string{"manage_snapshots"}},
		repos: map[string]engine.RepositoryInfo{
			"essnap":       {Type: "s3", Settings: map[string]any{"bucket": "essnap-snapshots", "base_path": "essnap", "role_arn": snapshotRoleArn}},
			"cs-automated": {Type: "s3", Settings: map[string]any{}},
		},
		snaps: map[string][]model.Snapshot{
			"essnap":       {{Name: "nightly-2026.11.23", State: model.StateSuccess, Start: fixedNow.Add(-24 * time.Hour), End: fixedNow.Add(-23 * time.Hour)}},
			"cs-automated": auto,
		},
	}
}

// The doctor's answer for a healthy and a broken stack: every check, in
// order, with its fix (golden files; docs/deploy.md shows them).
func TestDoctorReport(t *testing.T) {
	cases := []struct {
		name   string
		ops    func() *fakeDoctorOps
		iam    func(*fakeIAM)
		want   setup.Status
		failed []string
	}{
		{name: "healthy", ops: healthyDomain, want: setup.OK},
		{name: "broken", ops: func() *fakeDoctorOps {
			d := healthyDomain()
			d.security.Roles = []string{"own_index"}
			delete(d.repos, "essnap")
			// Automated snapshots at :58-:03, around the nightly run (03:00 JST = 18:00 UTC).
			for i := range d.snaps["cs-automated"] {
				s := &d.snaps["cs-automated"][i]
				s.Start = s.Start.Add(18 * time.Minute)
				s.End = s.Start.Add(5 * time.Minute)
			}
			return d
		}, iam: func(f *fakeIAM) {
			f.roles["SnapshotRole"] = setup.Role{ARN: snapshotRoleArn, Name: "SnapshotRole", TrustPolicy: strings.ReplaceAll(goodTrust, "domain/logs", "domain/old-logs")}
			f.deny[fnRoleArn+" iam:PassRole"] = setup.ImplicitDeny
		}, want: setup.Fail, failed: []string{"repository", "snapshot_role_trust", "pass_role"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, stackEnv())
			iam := newFakeIAM()
			if c.iam != nil {
				c.iam(iam)
			}
			ops := c.ops()
			deps := h.deps
			deps.Connect = func(context.Context, handler.Domain) (any, error) { return ops, nil }
			d := handler.Doctor{Deps: deps, IAM: iam}
			res, err := d.Invoke(ctx, json.RawMessage(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != c.want {
				t.Errorf("status %s, want %s", res.Status, c.want)
			}
			var names, failed []string
			for _, ch := range res.Checks {
				names = append(names, ch.Check)
				if ch.Status == setup.Fail {
					failed = append(failed, ch.Check)
				}
				if ch.Status != setup.OK && ch.Fix == "" {
					t.Errorf("%s is %s without a fix", ch.Check, ch.Status)
				}
			}
			want := "caller_identity domain domain_access fine_grained_access repository snapshot_role_trust snapshot_role_s3 pass_role newest_snapshot automated_snapshot_hour"
			if strings.Join(names, " ") != want {
				t.Errorf("checks %v", names)
			}
			if strings.Join(failed, " ") != strings.Join(c.failed, " ") {
				t.Errorf("failed %v, want %v", failed, c.failed)
			}
			golden.JSON(t, "testdata/doctor_"+c.name+".golden.json", res)
		})
	}
}

// Fine-grained access control and IAM denials, through the real client
// against a server answering with the 403 bodies of field notes §3.
func TestDoctorForbiddenBodies(t *testing.T) {
	fgac := func(action string) string {
		return `{"error":{"root_cause":[{"type":"security_exception","reason":"no permissions for [` + action + `] and User [name=` + fnRoleArn +
			`, backend_roles=[` + fnRoleArn + `], requestedTenant=null]"}],"type":"security_exception","reason":"no permissions for [` + action +
			`] and User [name=` + fnRoleArn + `, backend_roles=[` + fnRoleArn + `], requestedTenant=null]"},"status":403}`
	}
	const osRoot = `{"name":"n","cluster_name":"123456789012:logs","version":{"distribution":"opensearch","number":"2.19.1"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`
	cases := []struct {
		name   string
		routes map[string]struct {
			status int
			body   string
		}
		want map[string]setup.Status
		fix  map[string]string
	}{
		{name: "role not mapped", routes: map[string]struct {
			status int
			body   string
		}{
			"GET /":                            {200, osRoot},
			"GET /_cluster/health":             {403, fgac("cluster:monitor/health")},
			"GET /_plugins/_security/authinfo": {200, `{"user_name":"` + fnRoleArn + `","backend_roles":["` + fnRoleArn + `"],"roles":["own_index"]}`},
			"GET /_snapshot":                   {403, fgac("cluster:admin/repository/get")},
		}, want: map[string]setup.Status{"domain": setup.Warn, "domain_access": setup.OK, "fine_grained_access": setup.Fail, "repository": setup.Fail},
			fix: map[string]string{"fine_grained_access": "rolesmapping/manage_snapshots"}},
		{name: "verification refused", routes: map[string]struct {
			status int
			body   string
		}{
			"GET /":                               {200, osRoot},
			"GET /_cluster/health":                {200, `{"cluster_name":"c","status":"green","number_of_nodes":1}`},
			"GET /_opendistro/_security/authinfo": {200, `{"user_name":"` + fnRoleArn + `","backend_roles":["` + fnRoleArn + `"],"roles":["readall"]}`},
			"GET /_snapshot":                      {200, `{"essnap":{"type":"fs","settings":{"location":"/repo"}}}`},
			"POST /_snapshot/essnap/_verify":      {403, fgac("cluster:admin/repository/verify")},
			"GET /_snapshot/essnap/_all":          {200, `{"snapshots":[]}`},
		}, want: map[string]setup.Status{"fine_grained_access": setup.Fail, "repository": setup.Fail},
			fix: map[string]string{"repository": "manage_snapshots"}},
		{name: "domain access policy", routes: map[string]struct {
			status int
			body   string
		}{
			"GET /": {403, `{"Message":"User: arn:aws:sts::123456789012:assumed-role/essnap-RegisterRepoRole-x/s is not authorized to perform: es:ESHttpGet because no resource-based policy allows the es:ESHttpGet action"}`},
		}, want: map[string]setup.Status{"domain": setup.Warn, "domain_access": setup.Fail, "repository": setup.Warn},
			fix: map[string]string{"domain_access": `"Principal":{"AWS":"` + fnRoleArn + `"}`}},
		{name: "bad signature", routes: map[string]struct {
			status int
			body   string
		}{
			"GET /": {403, `{"message":"Credential should be scoped to a valid region, not 'us-east-1'. "}`},
		}, want: map[string]setup.Status{"domain_access": setup.Fail},
			fix: map[string]string{"domain_access": "region"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rt, ok := c.routes[r.Method+" "+r.URL.Path]
				if !ok {
					w.WriteHeader(400)
					fmt.Fprintf(w, `{"error":"no handler found for uri [%s] and method [%s]"}`, r.URL.Path, r.Method)
					return
				}
				if r.Method == "PUT" || r.Method == "DELETE" {
					t.Errorf("the doctor sent %s %s", r.Method, r.URL.Path)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(rt.status)
				io.WriteString(w, rt.body)
			}))
			defer srv.Close()
			env := map[string]string{"ESSNAP_ENDPOINT": srv.URL, "ESSNAP_UNSIGNED": "true", "ESSNAP_REPOSITORY_TYPE": "fs", "ESSNAP_DOMAIN_ARN": ""}
			d := handler.Doctor{
				Deps: handler.Deps{Connect: wiring.SignedConnector(nil), Clock: fixedClock{fixedNow}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Getenv: mapGetenv(env)},
				IAM:  newFakeIAM(),
			}
			res, err := d.Invoke(ctx, json.RawMessage(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]setup.Check{}
			for _, ch := range res.Checks {
				got[ch.Check] = ch
			}
			for name, st := range c.want {
				if got[name].Status != st {
					t.Errorf("%s: %s, want %s: %s", name, got[name].Status, st, got[name].Detail)
				}
			}
			for name, frag := range c.fix {
				if !strings.Contains(got[name].Fix, frag) {
					t.Errorf("%s fix %q lacks %q", name, got[name].Fix, frag)
				}
			}
		})
	}
}
