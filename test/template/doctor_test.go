package template

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/essnap/essnap/pkg/handler"
)

// policyHolders maps each statement-bearing resource to the roles its
// statements apply to: a role's inline policies apply to it, an
// AWS::IAM::Policy to its Roles.
func policyHolders(s *stack, id string) []string {
	r := s.resources[id]
	switch r["Type"] {
	case "AWS::IAM::Role":
		return []string{physicalID(id)}
	case "AWS::IAM::Policy":
		return strs(props(s, id)["Roles"])
	}
	return nil
}

// Issue 13: the IAM checks get only iam:GetRole and
// iam:SimulatePrincipalPolicy on the SnapshotRole and the checking
// function's own role (register-repo's, which the doctor shares), and
// sts:GetCallerIdentity; no other role reads IAM, and no action has a *.
func TestRoleCheckPermissions(t *testing.T) {
	f := load(t)
	read := []string{"iam:GetRole", "iam:SimulatePrincipalPolicy"}
	forEachStack(t, f, func(t *testing.T, s *stack) {
		registerRole := physicalID("RegisterRepoRole")
		want := []string{snapshotRoleArn(s), fmt.Sprintf("arn:aws:iam::%s:role/%s", testAccount, registerRole)}
		var sawRead, sawIdentity bool
		for _, ps := range statements(s) {
			if strings.Contains(ps.where, "AssumeRolePolicyDocument") {
				continue // trust policies: sts:AssumeRole by services
			}
			for _, a := range strs(ps.stmt["Action"]) {
				isRead := slices.Contains(read, a)
				switch {
				case a == "iam:PassRole":
					continue // checked by the PassRole test
				case isRead || a == "sts:GetCallerIdentity":
				case strings.HasPrefix(a, "iam:") || strings.HasPrefix(a, "sts:"):
					t.Errorf("%s: unexpected %s", ps.where, a)
					continue
				default:
					continue
				}
				if ps.stmt["Effect"] != "Allow" {
					t.Errorf("%s: %s is not an Allow", ps.where, a)
				}
				if holders := policyHolders(s, ps.resource); !slices.Equal(holders, []string{registerRole}) {
					t.Errorf("%s: %s is granted to %v, want only RegisterRepoRole", ps.where, a, holders)
				}
				if isRead {
					sawRead = true
					if acts := strs(ps.stmt["Action"]); !sameSet(acts, read) {
						t.Errorf("%s: IAM read statement grants %v, want %v", ps.where, acts, read)
					}
					if res := strs(ps.stmt["Resource"]); !sameSet(res, want) {
						t.Errorf("%s: %s on %v, want only %v", ps.where, a, res, want)
					}
					if _, ok := ps.stmt["Condition"]; ok {
						t.Errorf("%s: unexpected condition", ps.where)
					}
				} else {
					sawIdentity = true
					if acts := strs(ps.stmt["Action"]); len(acts) != 1 {
						t.Errorf("%s: sts:GetCallerIdentity statement grants %v", ps.where, acts)
					}
				}
			}
		}
		if !sawRead || !sawIdentity {
			t.Errorf("IAM read statement present %v, sts:GetCallerIdentity present %v", sawRead, sawIdentity)
		}
	})
}

// The doctor's console event, with the stack's environment, is a valid
// doctor configuration that names the stack's domain, schedule and alarm;
// register-repo gets the domain ARN for its pre-check.
func TestDoctorConsoleEvent(t *testing.T) {
	f := load(t)
	forEachStack(t, f, func(t *testing.T, s *stack) {
		vars := mapOf(mapOf(props(s, "DoctorFunction")["Environment"])["Variables"])
		getenv := func(k string) string { v, _ := vars[k].(string); return v }
		event := fmt.Sprint(mapOf(s.outputs["DoctorConsoleEvent"])["Value"])
		c := handler.LoadDoctorConfig(getenv, []byte(event))
		if err := c.Validate(); err != nil {
			t.Fatalf("the doctor rejects DoctorConsoleEvent %s with the stack's environment: %v", event, err)
		}
		if c.DomainARN != sampleDomainArn || c.Schedule != fmt.Sprint(s.params["ScheduleExpression"]) ||
			c.ScheduleTimezone != fmt.Sprint(s.params["ScheduleTimezone"]) || fmt.Sprint(c.AlarmHours) != fmt.Sprint(s.params["StaleSnapshotAlarmHours"]) {
			t.Errorf("doctor config %+v does not carry the stack's domain, schedule and alarm", c)
		}
		if c.Readonly != s.conditions["IsReadonly"] || c.RoleARN != snapshotRoleArn(s) || c.Bucket != bucketName(s) || c.Type != "s3" {
			t.Errorf("doctor config %+v does not describe the stack's repository", c)
		}
		rvars := mapOf(mapOf(props(s, "RegisterRepoFunction")["Environment"])["Variables"])
		rc := handler.LoadRegisterConfig(func(k string) string { v, _ := rvars[k].(string); return v }, []byte(`{}`))
		if rc.DomainARN != sampleDomainArn || !rc.CheckRole {
			t.Errorf("register-repo: domain_arn %q, check_role %v", rc.DomainARN, rc.CheckRole)
		}
	})
}
