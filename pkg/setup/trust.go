package setup

import (
	"fmt"
	"sort"
	"strings"
)

// EsService is the service principal that assumes the SnapshotRole when a
// domain reads or writes an S3 repository.
const EsService = "es.amazonaws.com"

// Check names of the IAM verdicts, shared by register-repo's pre-check and
// the doctor.
const (
	CheckTrust    = "snapshot_role_trust"
	CheckS3       = "snapshot_role_s3"
	CheckPassRole = "pass_role"
)

// TrustInput are the facts the trust verdict needs.
type TrustInput struct {
	Role RoleARN
	// Policy is the role's AssumeRolePolicyDocument as GetRole returns it.
	Policy string
	// Domain is the domain that assumes the role; nil when not configured.
	Domain *DomainARN
	// Account is the domain's account when Domain is nil (the caller's
	// account: the stack deploys into the domain's); "" when unknown.
	Account string
}

// context returns the condition keys the domain sends when it assumes the
// role, as far as they are known (lower-case keys).
func (in TrustInput) context() map[string]string {
	ctx := map[string]string{}
	switch {
	case in.Domain != nil:
		ctx["aws:sourcearn"] = in.Domain.ARN
		ctx["aws:sourceaccount"] = in.Domain.Account
	case in.Account != "":
		ctx["aws:sourceaccount"] = in.Account
	}
	return ctx
}

// TrustStatement is the statement that lets the domain (and only it, when
// known) assume the SnapshotRole, as AWS recommends it (field notes §5).
func TrustStatement(domain *DomainARN, account string) Statement {
	st := Statement{
		Effect:    "Allow",
		Principal: &PolicyPrincipal{ByID: map[string]StringList{"Service": {EsService}}},
		Action:    StringList{"sts:AssumeRole"},
	}
	if domain != nil {
		account = domain.Account
	}
	if account != "" {
		st.Condition = map[string]map[string]StringList{"StringEquals": {"aws:SourceAccount": {account}}}
	}
	if domain != nil {
		st.Condition["ArnLike"] = map[string]StringList{"aws:SourceArn": {domain.ARN, domain.ARN + "/*"}}
	}
	return st
}

// appliesToEs reports whether a trust statement concerns es.amazonaws.com
// assuming the role.
func appliesToEs(s Statement) bool {
	if s.Principal == nil || !s.covers("sts:AssumeRole") {
		return false
	}
	if s.Principal.Any {
		return true
	}
	for _, svc := range s.Principal.ByID["Service"] {
		if strings.EqualFold(svc, EsService) {
			return true
		}
	}
	return false
}

// name of a statement in messages: its Sid, else its position.
func stmtName(s Statement, i int) string {
	if s.Sid != "" {
		return fmt.Sprintf("statement %q", s.Sid)
	}
	return fmt.Sprintf("statement %d", i+1)
}

// trusted lists the principals the policy's Allow statements name, for a
// message that shows what the role trusts instead.
func trusted(d Document) string {
	var out []string
	for _, s := range d.Statement {
		if s.Effect != "Allow" || s.Principal == nil {
			continue
		}
		if s.Principal.Any {
			out = append(out, "*")
			continue
		}
		acts := strings.Join(s.Action, ", ")
		if len(s.NotAction) > 0 {
			acts = "all but " + strings.Join(s.NotAction, ", ")
		}
		for kind, ids := range s.Principal.ByID {
			for _, id := range ids {
				out = append(out, kind+" "+id+" for "+acts)
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "no principal"
	}
	return strings.Join(out, ", ")
}

// EvaluateTrust judges whether es.amazonaws.com may assume the role for
// this domain: an Allow statement for the service and sts:AssumeRole whose
// aws:SourceAccount/aws:SourceArn conditions, when present, match the
// domain; no Deny that applies. Conditions it cannot evaluate (another
// key, an unknown domain ARN) make a warning, never an ok.
func EvaluateTrust(in TrustInput) Check {
	c := Check{Check: CheckTrust}
	where := fmt.Sprintf("the trust policy of role %s (IAM console: Roles > %s > Trust relationships)", in.Role.Name, in.Role.Name)
	stmt := TrustStatement(in.Domain, in.Account).JSON()
	doc, err := ParseDocument(in.Policy)
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("the trust policy of role %s cannot be read: %v", in.Role.Name, err)
		c.Fix = fmt.Sprintf("Set %s to {\"Version\":\"2012-10-17\",\"Statement\":[%s]}", where, stmt)
		return c
	}
	ctx := in.context()
	var allowOK, allowUnknown, allowFalse, denyUnknown, notes []string
	var conditioned bool
	for i, s := range doc.Statement {
		if len(s.NotPrincipal) > 0 {
			notes = append(notes, stmtName(s, i)+" uses NotPrincipal, which is not evaluated")
			continue
		}
		if !appliesToEs(s) {
			continue
		}
		r := evalConditions(s.Condition, ctx)
		switch {
		case s.Effect == "Deny" && r.known && r.ok:
			c.Status = Fail
			c.Detail = fmt.Sprintf("%s of role %s's trust policy denies %s sts:AssumeRole", stmtName(s, i), in.Role.Name, EsService)
			c.Fix = fmt.Sprintf("Remove or narrow that Deny statement in %s; the domain needs this Allow statement: %s", where, stmt)
			return c
		case s.Effect == "Deny" && !r.known:
			denyUnknown = append(denyUnknown, stmtName(s, i)+": "+r.why)
		case s.Effect != "Allow":
		case r.known && r.ok:
			allowOK = append(allowOK, stmtName(s, i))
			conditioned = conditioned || len(s.Condition) > 0
		case !r.known:
			allowUnknown = append(allowUnknown, stmtName(s, i)+": "+r.why)
		default:
			allowFalse = append(allowFalse, stmtName(s, i)+": "+r.why)
		}
	}
	switch {
	case len(allowOK) > 0 && len(denyUnknown) == 0:
		c.Status = OK
		c.Detail = fmt.Sprintf("%s may assume role %s (%s)", EsService, in.Role.Name, strings.Join(allowOK, ", "))
		if conditioned {
			c.Detail += "; its aws:SourceAccount/aws:SourceArn conditions match " + in.domainText()
		} else {
			c.Detail += "; the statement has no aws:SourceAccount/aws:SourceArn condition (AWS recommends both against the confused deputy problem)"
		}
	case len(allowOK) > 0:
		c.Status = Warn
		c.Detail = fmt.Sprintf("%s may assume role %s (%s), but a Deny could not be evaluated: %s", EsService, in.Role.Name, strings.Join(allowOK, ", "), strings.Join(denyUnknown, "; "))
		c.Fix = "Check that Deny statement by hand."
	case len(allowUnknown) > 0:
		c.Status = Warn
		c.Detail = fmt.Sprintf("%s may assume role %s only under conditions that could not be checked here: %s", EsService, in.Role.Name, strings.Join(allowUnknown, "; "))
		if in.Domain == nil {
			c.Fix = "Set domain_arn (ESSNAP_DOMAIN_ARN) to the domain's ARN so aws:SourceArn can be checked."
		} else {
			c.Fix = "Check those conditions by hand; the statement AWS recommends: " + stmt
		}
	case len(allowFalse) > 0:
		c.Status = Fail
		c.Detail = fmt.Sprintf("role %s trusts %s only for another domain or account: %s", in.Role.Name, EsService, strings.Join(allowFalse, "; "))
		c.Fix = fmt.Sprintf("Replace that statement in %s with: %s", where, stmt)
	default:
		c.Status = Fail
		c.Detail = fmt.Sprintf("role %s's trust policy does not let %s assume it (it trusts %s)", in.Role.Name, EsService, trusted(doc))
		c.Fix = fmt.Sprintf("Add to %s this statement: %s", where, stmt)
	}
	if len(notes) > 0 {
		c.Detail += "; " + strings.Join(notes, "; ")
	}
	return c
}

// domainText names the domain the conditions were compared with.
func (in TrustInput) domainText() string {
	switch {
	case in.Domain != nil:
		return "domain " + in.Domain.ARN
	case in.Account != "":
		return "account " + in.Account
	}
	return "this domain"
}

// MissingRole is the verdict for a role_arn that names no role: the role
// must be created with the trust statement and the S3 permissions.
func MissingRole(role RoleARN, domain *DomainARN, account string, s3 []Requirement) Check {
	var perms []string
	for _, r := range s3 {
		perms = append(perms, r.Statement.JSON())
	}
	return Check{
		Check:  CheckTrust,
		Status: Fail,
		Detail: fmt.Sprintf("role %s does not exist (iam:GetRole: NoSuchEntity)", role.ARN),
		Fix: fmt.Sprintf("Create role %s (or fix role_arn) with the trust statement %s and a permissions policy with the statements %s",
			role.Name, TrustStatement(domain, account).JSON(), strings.Join(perms, ", ")),
	}
}
