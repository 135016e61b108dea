//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/essnap/essnap/internal/iamsim"
	"github.com/essnap/essnap/internal/testenv"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/setup"
	"github.com/essnap/essnap/pkg/wiring/awsiam"
)

const (
	motoAccount   = "123456789012"
	iamDomainArn  = "arn:aws:es:eu-west-1:123456789012:domain/logs"
	iamEndpoint   = "https://search-logs-abc.eu-west-1.es.amazonaws.com"
	callerRoleArn = "arn:aws:iam::123456789012:role/essnap/essnap-RegisterRepoRole"
)

// trustFor is a SnapshotRole trust policy for principal service svc,
// limited to domainArn.
func trustFor(svc, domainArn string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + svc + `"},"Action":"sts:AssumeRole",` +
		`"Condition":{"StringEquals":{"aws:SourceAccount":"` + motoAccount + `"},"ArnLike":{"aws:SourceArn":["` + domainArn + `","` + domainArn + `/*"]}}}]}`
}

func staticCreds(id, secret, token string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token}, nil
	})
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// iamLab is a moto server holding the test's roles, and an IAM client that
// calls as the register-repo function's role (an assumed-role session, as
// on Lambda) through iamsim, which answers SimulatePrincipalPolicy (moto
// does not) and passes everything else to moto.
type iamLab struct {
	moto   string
	admin  *awsiam.Client
	caller *awsiam.Client
	sim    *iamsim.Handler
}

func newIAMLab(t *testing.T, decide iamsim.Decide) *iamLab {
	t.Helper()
	lab := &iamLab{moto: testenv.Moto(t)}
	lab.admin = awsiam.FromEnvironment(staticCreds("testing", "testing", ""), envOf(map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": lab.moto}))
	// The function's role, with a path: its simulation must use the full ARN.
	lab.createRole(t, "/essnap/", "essnap-RegisterRepoRole", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	out, err := lab.admin.STS.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(callerRoleArn), RoleSessionName: aws.String("essnap-register-repo")})
	if err != nil {
		t.Fatalf("assume the function's role in moto: %v", err)
	}
	u, _ := url.Parse(lab.moto)
	lab.sim = &iamsim.Handler{Decide: decide, Next: httputil.NewSingleHostReverseProxy(u)}
	front := httptest.NewServer(lab.sim)
	t.Cleanup(front.Close)
	c := out.Credentials
	lab.caller = awsiam.FromEnvironment(staticCreds(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)),
		envOf(map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": lab.moto, "AWS_ENDPOINT_URL_IAM": front.URL}))
	return lab
}

func (l *iamLab) createRole(t *testing.T, path, name, trust string) string {
	t.Helper()
	out, err := l.admin.IAM.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(name), Path: aws.String(path), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatalf("create role %s in moto: %v", name, err)
	}
	return aws.ToString(out.Role.Arn)
}

// errNotConnecting stops register-repo after its pre-check: these tests
// have no domain behind the AWS endpoint.
var errNotConnecting = errors.New("pre-check passed; this test does not connect")

// The IAM pre-check and the doctor's IAM checks against moto's IAM and STS
// (issue 13): a correct SnapshotRole, a wrong trust principal, a SourceArn
// naming another domain, a missing role, and SimulatePrincipalPolicy
// answers (through iamsim) allowed, implicitly denied and explicitly denied.
func TestRoleChecksAgainstMoto(t *testing.T) {
	roleARN := func(name string) string { return "arn:aws:iam::" + motoAccount + ":role/" + name }
	decide := func(q iamsim.Query) iamsim.Decision {
		switch {
		case strings.HasSuffix(q.Principal, "/SnapshotRole-no-delete") && q.Action == "s3:DeleteObject":
			return iamsim.Decision{Decision: setup.ImplicitDeny}
		case q.Action == "iam:PassRole" && strings.HasSuffix(q.Resource, "/SnapshotRole-no-pass"):
			return iamsim.Decision{Decision: setup.ExplicitDeny, Matched: []string{"deny-pass-snapshot-role"}}
		}
		return iamsim.Decision{Decision: setup.Allowed, Matched: []string{"allow"}}
	}
	lab := newIAMLab(t, decide)
	lab.createRole(t, "/", "SnapshotRole-correct", trustFor("es.amazonaws.com", iamDomainArn))
	lab.createRole(t, "/", "SnapshotRole-ec2", trustFor("ec2.amazonaws.com", iamDomainArn))
	lab.createRole(t, "/", "SnapshotRole-other-domain", trustFor("es.amazonaws.com", "arn:aws:es:eu-west-1:123456789012:domain/other"))
	lab.createRole(t, "/", "SnapshotRole-no-delete", trustFor("es.amazonaws.com", iamDomainArn))
	lab.createRole(t, "/", "SnapshotRole-no-pass", trustFor("es.amazonaws.com", iamDomainArn))

	cases := []struct {
		role string
		// register-repo: "" passes the pre-check; else the errorType and
		// texts its message holds.
		wantErr string
		want    []string
		// doctor: the status of each IAM check.
		trust, s3, pass setup.Status
	}{
		{role: "SnapshotRole-correct", trust: setup.OK, s3: setup.OK, pass: setup.OK},
		{role: "SnapshotRole-ec2", wantErr: "AccessDeniedError", trust: setup.Fail, s3: setup.OK, pass: setup.OK,
			want: []string{"does not let es.amazonaws.com assume it (it trusts Service ec2.amazonaws.com for sts:AssumeRole)", `"Principal":{"Service":"es.amazonaws.com"}`}},
		{role: "SnapshotRole-other-domain", wantErr: "AccessDeniedError", trust: setup.Fail, s3: setup.OK, pass: setup.OK,
			want: []string{"only for another domain", "domain/other", `"aws:SourceArn":["` + iamDomainArn + `"`}},
		{role: "SnapshotRole-missing", wantErr: "AccessDeniedError", trust: setup.Fail, s3: setup.Fail, pass: setup.OK,
			want: []string{"does not exist", "Create role SnapshotRole-missing"}},
		{role: "SnapshotRole-no-delete", wantErr: "AccessDeniedError", trust: setup.OK, s3: setup.Fail, pass: setup.OK,
			want: []string{"[snapshot_role_s3]", "s3:DeleteObject not allowed (implicit deny)", `{"Effect":"Allow","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::essnap-snapshots/essnap/*"}`}},
		{role: "SnapshotRole-no-pass", wantErr: "AccessDeniedError", trust: setup.OK, s3: setup.OK, pass: setup.Fail,
			want: []string{"[pass_role]", "explicitly denied by deny-pass-snapshot-role", `"Condition":{"StringEquals":{"iam:PassedToService":"es.amazonaws.com"}}`}},
	}
	for _, c := range cases {
		t.Run(c.role, func(t *testing.T) {
			env := map[string]string{
				"ESSNAP_ENDPOINT": iamEndpoint, "ESSNAP_BUCKET": "essnap-snapshots", "ESSNAP_BASE_PATH": "essnap",
				"ESSNAP_ROLE_ARN": roleARN(c.role), "ESSNAP_DOMAIN_ARN": iamDomainArn,
			}
			connected := false
			d := handler.Deps{
				Connect: func(context.Context, handler.Domain) (any, error) {
					connected = true
					return nil, errNotConnecting
				},
				Clock: fixedClock{time.Now()}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Getenv: envOf(env),
			}
			_, err := handler.RegisterRepo{Deps: d, IAM: lab.caller}.Invoke(ctx(t), json.RawMessage(`{}`))
			switch {
			case c.wantErr == "":
				if !connected || err == nil || !strings.Contains(err.Error(), errNotConnecting.Error()) {
					t.Fatalf("the pre-check should pass and connect: %v", err)
				}
			case err == nil || typeName(err) != c.wantErr:
				t.Fatalf("register-repo: %v, want %s", err, c.wantErr)
			case connected:
				t.Fatal("a failed pre-check connected to the domain")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q missing from %v", w, err)
				}
			}

			res, err := handler.Doctor{Deps: d, IAM: lab.caller}.Invoke(ctx(t), json.RawMessage(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]setup.Check{}
			for _, ch := range res.Checks {
				got[ch.Check] = ch
			}
			if id := got["caller_identity"]; id.Status != setup.OK || !strings.Contains(id.Detail, "assumed-role/essnap-RegisterRepoRole/essnap-register-repo") {
				t.Errorf("caller_identity %+v", id)
			}
			for name, want := range map[string]setup.Status{"snapshot_role_trust": c.trust, "snapshot_role_s3": c.s3, "pass_role": c.pass} {
				if got[name].Status != want {
					t.Errorf("%s: %s, want %s: %s", name, got[name].Status, want, got[name].Detail)
				}
				if want != setup.OK && got[name].Fix == "" {
					t.Errorf("%s fails without a fix", name)
				}
			}
		})
	}

	// The caller's PassRole was simulated for its role's full ARN (path
	// included, from GetRole) with iam:PassedToService, and the SnapshotRole's
	// ListBucket with the base path's s3:prefix.
	var pass, list bool
	for _, q := range lab.sim.Queries() {
		if q.Action == "iam:PassRole" {
			pass = true
			if q.Principal != callerRoleArn || strings.Join(q.Context["iam:PassedToService"], ",") != "es.amazonaws.com" {
				t.Errorf("PassRole simulated as %s with %v", q.Principal, q.Context)
			}
		}
		if q.Action == "s3:ListBucket" {
			list = true
			if q.Resource != "arn:aws:s3:::essnap-snapshots" || strings.Join(q.Context["s3:prefix"], ",") != "essnap/" {
				t.Errorf("ListBucket simulated on %s with %v", q.Resource, q.Context)
			}
		}
	}
	if !pass || !list {
		t.Errorf("simulations seen: PassRole %v, ListBucket %v", pass, list)
	}
}

// moto's own answer to SimulatePrincipalPolicy is an error (not
// implemented): the checks report it as "not checked", never as ok.
func TestRoleChecksWhenSimulationFails(t *testing.T) {
	motoURL := testenv.Moto(t)
	admin := awsiam.FromEnvironment(staticCreds("testing", "testing", ""), envOf(map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": motoURL}))
	if _, err := admin.IAM.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String("SnapshotRole"), AssumeRolePolicyDocument: aws.String(trustFor("es.amazonaws.com", iamDomainArn))}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"ESSNAP_ENDPOINT": iamEndpoint, "ESSNAP_BUCKET": "essnap-snapshots", "ESSNAP_ROLE_ARN": "arn:aws:iam::123456789012:role/SnapshotRole", "ESSNAP_DOMAIN_ARN": iamDomainArn,
	}
	d := handler.Deps{Clock: fixedClock{time.Now()}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Getenv: envOf(env),
		Connect: func(context.Context, handler.Domain) (any, error) { return nil, errNotConnecting }}
	res, err := handler.Doctor{Deps: d, IAM: admin}.Invoke(ctx(t), json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range res.Checks {
		switch ch.Check {
		case "snapshot_role_trust":
			if ch.Status != setup.OK {
				t.Errorf("trust: %+v", ch)
			}
		case "snapshot_role_s3", "pass_role":
			if ch.Status != setup.Warn || !strings.Contains(ch.Detail, "not checked") {
				t.Errorf("%s: %+v", ch.Check, ch)
			}
		}
	}
	// register-repo registers anyway, with warnings.
	_, err = handler.RegisterRepo{Deps: d, IAM: admin}.Invoke(ctx(t), json.RawMessage(`{}`))
	if err == nil || !strings.Contains(err.Error(), errNotConnecting.Error()) {
		t.Fatalf("register-repo should pass the pre-check with warnings: %v", err)
	}
}
