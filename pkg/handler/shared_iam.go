package handler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/setup"
)

// IAM is what register-repo's role pre-check and the doctor ask AWS IAM and
// STS. It speaks pkg/setup's types, so handlers and their fakes never need
// the IAM SDK; pkg/wiring/awsiam implements it, and only the bootstraps that
// check roles link it. Errors wrap setup.ErrNoSuchEntity (the role does not
// exist) or setup.ErrNotPermitted (the caller may not ask).
type IAM interface {
	// CallerIdentity is STS GetCallerIdentity.
	CallerIdentity(ctx context.Context) (setup.Identity, error)
	// GetRole is IAM GetRole by role name (without path).
	GetRole(ctx context.Context, name string) (setup.Role, error)
	// Simulate is IAM SimulatePrincipalPolicy, every page of it.
	Simulate(ctx context.Context, sim setup.Simulation) ([]setup.Evaluation, error)
}

// iamTimeout bounds all IAM and STS calls of one pre-check: IAM answers in
// well under a second, and a slow IAM must not eat the Lambda deadline the
// registration itself needs.
const iamTimeout = 20 * time.Second

// roleInput is what the IAM checks need from a configuration.
type roleInput struct {
	Role     setup.RoleARN
	Bucket   string
	BasePath string
	Readonly bool
	// Domain is the domain's ARN when configured (domain_arn).
	Domain *setup.DomainARN
}

// roleResult is what the IAM checks found: the verdicts, in a fixed order
// (caller_identity, snapshot_role_trust, snapshot_role_s3, pass_role), and
// the caller's principal ARN for other checks' fixes ("" when unknown).
type roleResult struct {
	Checks []setup.Check
	Caller string
}

// iamFix says what to do when a call could not be made.
func iamFix(err error, action string) string {
	if errors.Is(err, setup.ErrNotPermitted) {
		return fmt.Sprintf("Allow the function's role %s (the stack grants iam:GetRole and iam:SimulatePrincipalPolicy on the SnapshotRole and on the function's own role, and sts:GetCallerIdentity), or set check_role false to skip the IAM checks.", action)
	}
	return "Run again; set check_role false to skip the IAM checks."
}

// checkRole runs the IAM checks of issue 13 in one pass: who the caller is
// (STS); whether the SnapshotRole exists and es.amazonaws.com may assume it
// for this domain (GetRole, trust policy); whether it has its S3
// permissions; whether the caller may pass it to es.amazonaws.com
// (SimulatePrincipalPolicy). It never changes anything. A call the caller
// may not make gives a warning, never a failure.
func checkRole(ctx context.Context, iam IAM, in roleInput) roleResult {
	ctx, cancel := context.WithTimeout(ctx, iamTimeout)
	defer cancel()
	var res roleResult
	add := func(c setup.Check) { res.Checks = append(res.Checks, c) }

	var ident *setup.Identity
	if id, err := iam.CallerIdentity(ctx); err != nil {
		add(setup.Unchecked(setup.CheckIdentity, "the caller's identity", err, iamFix(err, "sts:GetCallerIdentity")))
	} else {
		ident = &id
		add(setup.Check{Check: setup.CheckIdentity, Status: setup.OK, Detail: fmt.Sprintf("%s (account %s)", id.ARN, id.Account)})
	}
	account := ""
	if ident != nil {
		account = ident.Account
	}
	s3 := setup.S3Requirements(in.Role, in.Bucket, in.BasePath, in.Readonly)

	role, err := iam.GetRole(ctx, in.Role.Name)
	roleMissing := errors.Is(err, setup.ErrNoSuchEntity)
	switch {
	case roleMissing:
		add(setup.MissingRole(in.Role, in.Domain, account, s3))
	case err != nil:
		add(setup.Unchecked(setup.CheckTrust, "the SnapshotRole's trust policy", err, iamFix(err, "iam:GetRole on "+in.Role.ARN)))
	case role.ARN != "" && role.ARN != in.Role.ARN:
		add(setup.Check{Check: setup.CheckTrust, Status: setup.Fail,
			Detail: fmt.Sprintf("role_arn is %s, but role %s's ARN is %s (another path): the domain cannot assume a role by a wrong ARN", in.Role.ARN, in.Role.Name, role.ARN),
			Fix:    fmt.Sprintf("Set role_arn (ESSNAP_ROLE_ARN) to %s.", role.ARN)})
	default:
		add(setup.EvaluateTrust(setup.TrustInput{Role: in.Role, Policy: role.TrustPolicy, Domain: in.Domain, Account: account}))
	}

	if !roleMissing {
		var parts []setup.Check
		for _, req := range s3 {
			evals, err := iam.Simulate(ctx, req.Simulation)
			if err != nil {
				parts = append(parts, setup.Unchecked(setup.CheckS3, req.What, err, iamFix(err, "iam:SimulatePrincipalPolicy on "+in.Role.ARN)))
				continue
			}
			parts = append(parts, setup.Verdict(req, evals))
		}
		add(setup.Merge(setup.CheckS3, parts...))
	}

	add(checkPassRole(ctx, iam, ident, in.Role, &res))
	return res
}

// checkPassRole simulates the caller's iam:PassRole on the SnapshotRole. An
// assumed-role session is simulated as its role, whose full ARN (with its
// path) GetRole gives.
func checkPassRole(ctx context.Context, iam IAM, ident *setup.Identity, role setup.RoleARN, res *roleResult) setup.Check {
	if ident == nil {
		return setup.Check{Check: setup.CheckPassRole, Status: setup.Warn,
			Detail: "iam:PassRole not checked: the caller's identity is unknown",
			Fix:    "Allow the function's role sts:GetCallerIdentity, or set check_role false to skip the IAM checks."}
	}
	p, err := setup.CallerPrincipal(ident.ARN)
	if err != nil {
		return setup.Unchecked(setup.CheckPassRole, "iam:PassRole", err, "Run the function with a role or an IAM user, or set check_role false.")
	}
	if p.Root {
		res.Caller = p.ARN
		return setup.Check{Check: setup.CheckPassRole, Status: setup.OK, Detail: "the caller is the account's root user, which may pass any role (use a role instead)"}
	}
	principal, note := p.ARN, ""
	if p.RoleName != "" {
		r, err := iam.GetRole(ctx, p.RoleName)
		switch {
		case err == nil && r.ARN != "":
			principal = r.ARN
		case err != nil:
			note = fmt.Sprintf(" (role path unknown: iam:GetRole on the caller's role failed: %v)", err)
		}
	}
	res.Caller = principal
	req := setup.PassRoleRequirement(principal, role)
	evals, err := iam.Simulate(ctx, req.Simulation)
	if err != nil {
		return setup.Unchecked(setup.CheckPassRole, req.What+note, err, iamFix(err, "iam:SimulatePrincipalPolicy on its own role "+principal))
	}
	c := setup.Verdict(req, evals)
	c.Detail += note
	return c
}

// roleProblems words the failed checks as one AccessDeniedError message
// body: each check, what was found, and the statement to paste.
func roleProblems(checks []setup.Check) (fails, warns []string) {
	for _, c := range checks {
		text := fmt.Sprintf("[%s] %s", c.Check, c.Detail)
		if c.Fix != "" {
			text += "; fix: " + c.Fix
		}
		switch c.Status {
		case setup.Fail:
			fails = append(fails, text)
		case setup.Warn:
			warns = append(warns, text)
		}
	}
	return fails, warns
}

// preCheckMessage is the AccessDeniedError text of a failed pre-check.
func preCheckMessage(fails []string) string {
	n := "1 problem"
	if len(fails) > 1 {
		n = fmt.Sprintf("%d problems", len(fails))
	}
	return fmt.Sprintf("register-repo: the IAM pre-check found %s; nothing was sent to the domain (check_role=false skips the check): %s", n, strings.Join(fails, " | "))
}

// roleInput is the pre-check's view of a validated configuration.
func (c RegisterConfig) roleInput() (roleInput, error) {
	role, err := setup.ParseRoleARN(c.RoleARN)
	if err != nil {
		return roleInput{}, fmt.Errorf("role_arn %v", err)
	}
	in := roleInput{Role: role, Bucket: c.Bucket, BasePath: c.BasePath, Readonly: c.Readonly}
	if c.DomainARN != "" {
		d, err := setup.ParseDomainARN(c.DomainARN)
		if err != nil {
			return roleInput{}, fmt.Errorf("domain_arn %v", err)
		}
		in.Domain = &d
	}
	return in, nil
}

// validateDomainARN checks domain_arn when set: its form, and that an AWS
// endpoint is in the ARN's region (a mismatch names another domain).
func validateDomainARN(p *problems, v string, d Domain) {
	if v == "" {
		return
	}
	boundedText(p, "domain_arn", v, 256)
	da, err := setup.ParseDomainARN(v)
	if err != nil {
		p.add("domain_arn %v", err)
		return
	}
	u, err := esclient.ValidateEndpoint(d.Endpoint)
	if err != nil {
		return
	}
	if r, err := esclient.RegionFromHost(u.Host); err == nil && r != da.Region {
		p.add("domain_arn %s is in region %s, but the endpoint %s is in %s; give the ARN of the domain the endpoint serves", config.Short(v), da.Region, u.Host, r)
	}
}
