//go:build integration

package lambda

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/essnap/essnap/internal/iamsim"
	"github.com/essnap/essnap/internal/testenv"
	"github.com/essnap/essnap/pkg/wiring/awsiam"
)

// checks indexes a doctor answer by check name.
func checks(t *testing.T, res map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	list, _ := res["checks"].([]any)
	for _, c := range list {
		m := c.(map[string]any)
		out[m["check"].(string)] = m
	}
	if len(out) != 10 {
		t.Fatalf("%d checks, want 10: %v", len(out), res)
	}
	return out
}

// The doctor bootstrap answers its sample event (events/doctor.json) under
// the emulator, invoked with the AWS CLI, on every engine: with the
// environment a local stack would give it, STS and IAM from moto (its
// SimulatePrincipalPolicy from iamsim), through the bootstrap's own
// production wiring (wiring.EnvCredentials, awsiam.FromEnvironment).
func TestDoctorUnderEmulator(t *testing.T) {
	repoRoot := os.Getenv("ESSNAP_TEST_REPO_ROOT")
	if repoRoot == "" {
		t.Fatal("ESSNAP_TEST_REPO_ROOT is not set")
	}
	motoURL := testenv.Moto(t)
	admin := awsiam.FromEnvironment(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil
	}), func(k string) string {
		return map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": motoURL}[k]
	})
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"},"Action":"sts:AssumeRole",` +
		`"Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"arn:aws:es:us-east-1:123456789012:domain/logs"}}}]}`
	if _, err := admin.IAM.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String("SnapshotRole"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	// The bootstrap calls as the function's role: an assumed-role session,
	// as on Lambda.
	if _, err := admin.IAM.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String("essnap-fn"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	session, err := admin.STS.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/essnap-fn"), RoleSessionName: aws.String("doctor")})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(motoURL)
	sim := &iamsim.Handler{Next: httputil.NewSingleHostReverseProxy(u), Decide: iamsim.Table(map[string]string{
		"arn:aws:iam::123456789012:role/essnap-fn iam:PassRole": "implicitDeny",
	})}
	front := httptest.NewServer(sim)
	defer front.Close()

	for name, engineURL := range engines(t) {
		t.Run(name, func(t *testing.T) {
			repo := "rie-doctor"
			loc := filepath.Join(repoRoot, "rie", name, "doctor", fmt.Sprint(time.Now().UnixNano()))
			do(t, "PUT", engineURL+"/_snapshot/"+repo, `{"type":"fs","settings":{"location":"`+loc+`"}}`)
			t.Cleanup(func() { do(t, "DELETE", engineURL+"/_snapshot/"+repo, "") })
			do(t, "DELETE", engineURL+"/rie-doctor-*", "")
			t.Cleanup(func() { do(t, "DELETE", engineURL+"/rie-doctor-*", "") })
			seed(t, engineURL, "rie-doctor-1", 3)
			do(t, "PUT", engineURL+"/_snapshot/"+repo+"/nightly-doctor?wait_for_completion=true", `{"indices":"rie-doctor-1","include_global_state":false}`)

			env := map[string]string{
				"ESSNAP_ENDPOINT": engineURL, "ESSNAP_UNSIGNED": "true",
				"ESSNAP_REPOSITORY": repo, "ESSNAP_REPOSITORY_TYPE": "fs",
				"ESSNAP_SCHEDULE": "cron(0 3 * * ? *)", "ESSNAP_SCHEDULE_TIMEZONE": "Asia/Tokyo", "ESSNAP_ALARM_HOURS": "26",
				"AWS_ACCESS_KEY_ID": aws.ToString(session.Credentials.AccessKeyId), "AWS_SECRET_ACCESS_KEY": aws.ToString(session.Credentials.SecretAccessKey),
				"AWS_SESSION_TOKEN": aws.ToString(session.Credentials.SessionToken), "AWS_REGION": "us-east-1",
				"AWS_ENDPOINT_URL_STS": motoURL, "AWS_ENDPOINT_URL_IAM": front.URL,
			}
			fn := start(t, "doctor", env)
			res, et := fn.invoke(t, event(t, "doctor.json"))
			if et != "" || res["status"] != "ok" {
				t.Fatalf("doctor {}: %s %v", et, res)
			}
			by := checks(t, res)
			for _, c := range []string{"caller_identity", "domain", "repository", "newest_snapshot"} {
				if by[c]["status"] != "ok" {
					t.Errorf("%s: %v", c, by[c])
				}
			}
			if d := fmt.Sprint(by["caller_identity"]["detail"]); !strings.Contains(d, "assumed-role/essnap-fn/doctor") {
				t.Errorf("caller_identity %q", d)
			}

			// The same bootstrap on an S3 setup: the IAM checks run against
			// moto and iamsim; the caller may not pass the role.
			res, et = fn.invoke(t, []byte(`{"type":"s3","bucket":"essnap-snapshots","base_path":"essnap","role_arn":"arn:aws:iam::123456789012:role/SnapshotRole",`+
				`"domain_arn":"arn:aws:es:us-east-1:123456789012:domain/logs","verify":false}`))
			if et != "" || res["status"] != "fail" {
				t.Fatalf("doctor on s3: %s %v", et, res)
			}
			by = checks(t, res)
			if by["snapshot_role_trust"]["status"] != "ok" || by["snapshot_role_s3"]["status"] != "ok" || by["pass_role"]["status"] != "fail" {
				t.Errorf("IAM checks: trust %v, s3 %v, pass_role %v", by["snapshot_role_trust"], by["snapshot_role_s3"], by["pass_role"])
			}
			if fix := fmt.Sprint(by["pass_role"]["fix"]); !strings.Contains(fix, `"Action":"iam:PassRole"`) {
				t.Errorf("pass_role fix %q", fix)
			}
			if by["repository"]["status"] != "warn" { // registered as fs, configured as s3
				t.Errorf("repository: %v", by["repository"])
			}

			// A repository that is not registered; an unknown field.
			if res, et = fn.invoke(t, []byte(`{"repository":"rie-doctor-missing"}`)); et != "" || res["status"] != "fail" || checks(t, res)["repository"]["status"] != "fail" {
				t.Errorf("missing repository: %s %v", et, res)
			}
			if res, et = fn.invoke(t, []byte(`{"verfy":false}`)); et != "ValidationError" || !strings.Contains(fmt.Sprint(res["errorMessage"]), `"verfy" is unknown`) {
				t.Errorf("unknown field: %s %v", et, res)
			}
		})
	}
}
