package awsiam

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/essnap/essnap/internal/iamsim"
	"github.com/essnap/essnap/pkg/setup"
)

// fakeAWS answers STS GetCallerIdentity and IAM GetRole in AWS's XML shapes
// (Query protocol), with the errors IAM gives for a missing role and a
// refused call.
func fakeAWS(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "text/xml")
	switch r.Form.Get("Action") {
	case "GetCallerIdentity":
		fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>arn:aws:sts::123456789012:assumed-role/fn/s</Arn><UserId>AROA:s</UserId><Account>123456789012</Account>`+
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	case "GetRole":
		switch r.Form.Get("RoleName") {
		case "SnapshotRole":
			fmt.Fprint(w, `<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role>`+
				`<Path>/</Path><Arn>arn:aws:iam::123456789012:role/SnapshotRole</Arn><RoleName>SnapshotRole</RoleName><RoleId>AROA1</RoleId>`+
				`<CreateDate>2026-11-01T00:00:00Z</CreateDate>`+
				`<AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D</AssumeRolePolicyDocument>`+
				`</Role></GetRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetRoleResponse>`)
		case "Secret":
			w.WriteHeader(403)
			fmt.Fprint(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>AccessDenied</Code>`+
				`<Message>User: arn:aws:sts::123456789012:assumed-role/fn/s is not authorized to perform: iam:GetRole on resource: role Secret</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
		default:
			w.WriteHeader(404)
			fmt.Fprintf(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>`+
				`<Message>The role with name %s cannot be found.</Message></Error><RequestId>r</RequestId></ErrorResponse>`, r.Form.Get("RoleName"))
		}
	default:
		w.WriteHeader(400)
	}
}

func client(t *testing.T, h http.Handler) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": srv.URL}
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
	})
	return FromEnvironment(creds, func(k string) string { return env[k] })
}

func TestCallerIdentityAndGetRole(t *testing.T) {
	c := client(t, http.HandlerFunc(fakeAWS))
	ctx := context.Background()
	id, err := c.CallerIdentity(ctx)
	if err != nil || id.Account != "123456789012" || id.ARN != "arn:aws:sts::123456789012:assumed-role/fn/s" {
		t.Fatalf("identity %+v %v", id, err)
	}
	r, err := c.GetRole(ctx, "SnapshotRole")
	if err != nil || r.ARN != "arn:aws:iam::123456789012:role/SnapshotRole" {
		t.Fatalf("role %+v %v", r, err)
	}
	if d, err := setup.ParseDocument(r.TrustPolicy); err != nil || d.Version != "2012-10-17" {
		t.Fatalf("trust policy %q: %v", r.TrustPolicy, err)
	}
	if _, err := c.GetRole(ctx, "Missing"); !errors.Is(err, setup.ErrNoSuchEntity) {
		t.Errorf("missing role: %v", err)
	}
	if _, err := c.GetRole(ctx, "Secret"); !errors.Is(err, setup.ErrNotPermitted) {
		t.Errorf("refused: %v", err)
	}
}

// SimulatePrincipalPolicy through the real SDK against AWS's XML shape:
// allowed, implicitly denied and explicitly denied results, context entries
// sent, every page read.
func TestSimulate(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/SnapshotRole"
	sim := &iamsim.Handler{PageSize: 1, Decide: iamsim.Table(map[string]string{
		role + " s3:PutObject":    "implicitDeny",
		role + " s3:DeleteObject": "explicitDeny",
	})}
	c := client(t, sim)
	evals, err := c.Simulate(context.Background(), setup.Simulation{
		Principal: role, Actions: []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, Resources: []string{"arn:aws:s3:::b/p/*"},
		Context: []setup.ContextEntry{{Key: "s3:prefix", Type: "string", Values: []string{"p/"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evals {
		got = append(got, e.Action+"="+e.Decision+fmt.Sprint(e.Matched))
		if e.Resource != "arn:aws:s3:::b/p/*" {
			t.Errorf("resource %q", e.Resource)
		}
	}
	want := []string{"s3:GetObject=allowed[allow]", "s3:PutObject=implicitDeny[]", "s3:DeleteObject=explicitDeny[deny-s3-DeleteObject]"}
	if !slices.Equal(got, want) {
		t.Errorf("evaluations %v, want %v", got, want)
	}
	for _, q := range sim.Queries() {
		if v := q.Context["s3:prefix"]; len(v) != 1 || v[0] != "p/" {
			t.Errorf("context %v", q.Context)
		}
	}
}
