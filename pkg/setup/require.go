package setup

import (
	"fmt"
	"sort"
	"strings"
)

// Role is what IAM GetRole says about a role.
type Role struct {
	ARN  string
	Name string
	// TrustPolicy is the AssumeRolePolicyDocument as IAM returns it
	// (URL-encoded JSON); ParseDocument reads it.
	TrustPolicy string
}

// ContextEntry is one condition key given to a simulation
// (iam:PassedToService, s3:prefix), since a condition on a key the
// simulation lacks evaluates as a deny.
type ContextEntry struct {
	Key    string
	Type   string // IAM ContextKeyType: "string", ...
	Values []string
}

// Simulation is one iam:SimulatePrincipalPolicy request: may Principal
// perform Actions on Resources, given Context?
type Simulation struct {
	Principal string
	Actions   []string
	Resources []string
	Context   []ContextEntry
}

// Decisions SimulatePrincipalPolicy returns (EvalDecision).
const (
	Allowed      = "allowed"
	ImplicitDeny = "implicitDeny"
	ExplicitDeny = "explicitDeny"
)

// Evaluation is one action/resource result of a simulation.
type Evaluation struct {
	Action   string
	Resource string
	Decision string
	// Matched are the policies whose statements decided (SourcePolicyId).
	Matched []string
	// MissingContext are condition keys the policies used that the
	// simulation was not given.
	MissingContext []string
}

// Requirement is one permission the setup needs, how to check it and what
// to paste when it is missing.
type Requirement struct {
	// Check is the verdict's name (CheckS3, CheckPassRole).
	Check string
	// What says in words what is needed, for details.
	What string
	// Simulation asks IAM whether the principal has it.
	Simulation Simulation
	// Statement grants exactly this permission.
	Statement Statement
	// Where the statement goes.
	Where string
}

// S3Requirements are the SnapshotRole's S3 permissions (field notes §5):
// s3:ListBucket on the bucket (for the base path's prefix), and
// s3:GetObject, s3:PutObject, s3:DeleteObject on base_path/* (only
// s3:GetObject for a readonly repository). Bucket policies and KMS keys are
// not simulated.
func S3Requirements(role RoleARN, bucket, basePath string, readonly bool) []Requirement {
	bucketARN := fmt.Sprintf("arn:%s:s3:::%s", role.Partition, bucket)
	objects := bucketARN + "/*"
	if basePath != "" {
		objects = bucketARN + "/" + basePath + "/*"
	}
	where := fmt.Sprintf("a permissions policy of role %s", role.Name)
	list := Requirement{
		Check: CheckS3, Where: where,
		What: fmt.Sprintf("s3:ListBucket on bucket %s", bucket),
		Simulation: Simulation{
			Principal: role.ARN, Actions: []string{"s3:ListBucket"}, Resources: []string{bucketARN},
		},
		Statement: Statement{Effect: "Allow", Action: StringList{"s3:ListBucket"}, Resource: StringList{bucketARN}},
	}
	if basePath != "" {
		// The engine lists below the base path; a statement limited by
		// s3:prefix is evaluated with that prefix.
		list.What += " below " + basePath + "/"
		list.Simulation.Context = []ContextEntry{{Key: "s3:prefix", Type: "string", Values: []string{basePath + "/"}}}
		list.Statement.Condition = map[string]map[string]StringList{"StringLike": {"s3:prefix": {basePath, basePath + "/*"}}}
	}
	actions := []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
	if readonly {
		actions = actions[:1]
	}
	obj := Requirement{
		Check: CheckS3, Where: where,
		What:       fmt.Sprintf("%s on %s", strings.Join(actions, ", "), objects),
		Simulation: Simulation{Principal: role.ARN, Actions: actions, Resources: []string{objects}},
		Statement:  Statement{Effect: "Allow", Action: actions, Resource: StringList{objects}},
	}
	return []Requirement{list, obj}
}

// PassRoleRequirement is the caller's iam:PassRole on the SnapshotRole to
// es.amazonaws.com, which registering an s3 repository needs.
func PassRoleRequirement(caller string, role RoleARN) Requirement {
	return Requirement{
		Check: CheckPassRole,
		What:  fmt.Sprintf("iam:PassRole on %s to %s for %s", role.ARN, EsService, caller),
		Where: fmt.Sprintf("a permissions policy of %s (the function's role)", caller),
		Simulation: Simulation{
			Principal: caller, Actions: []string{"iam:PassRole"}, Resources: []string{role.ARN},
			Context: []ContextEntry{{Key: "iam:PassedToService", Type: "string", Values: []string{EsService}}},
		},
		Statement: Statement{
			Effect: "Allow", Action: StringList{"iam:PassRole"}, Resource: StringList{role.ARN},
			Condition: map[string]map[string]StringList{"StringEquals": {"iam:PassedToService": {EsService}}},
		},
	}
}

// Verdict judges a requirement from its simulation results: ok when every
// action is allowed on every resource; fail otherwise, naming the missing
// actions with the statement to paste, or the policies that deny them
// explicitly (an Allow cannot override those).
func Verdict(req Requirement, evals []Evaluation) Check {
	c := Check{Check: req.Check}
	decided := map[string]bool{}
	var missing, denied []string
	var denying, missingCtx []string
	for _, e := range evals {
		decided[e.Action] = true
		switch e.Decision {
		case Allowed:
		case ExplicitDeny:
			denied = appendNew(denied, e.Action)
			for _, m := range e.Matched {
				denying = appendNew(denying, m)
			}
		default:
			missing = appendNew(missing, e.Action)
			for _, k := range e.MissingContext {
				missingCtx = appendNew(missingCtx, k)
			}
		}
	}
	for _, a := range req.Simulation.Actions {
		if !decided[a] {
			missing = appendNew(missing, a)
		}
	}
	switch {
	case len(denied) > 0:
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s: %s explicitly denied", req.What, strings.Join(denied, ", "))
		if len(denying) > 0 {
			c.Detail += " by " + strings.Join(denying, ", ")
		}
		c.Fix = fmt.Sprintf("Remove or narrow the Deny (an Allow cannot override it), then make sure %s holds: %s", req.Where, req.Statement.JSON())
	case len(missing) > 0:
		st := req.Statement
		if len(missing) < len(req.Simulation.Actions) {
			st.Action = StringList(inOrder(missing, req.Simulation.Actions))
		}
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s: %s not allowed (implicit deny)", req.What, strings.Join(inOrder(missing, req.Simulation.Actions), ", "))
		if len(missingCtx) > 0 {
			sort.Strings(missingCtx)
			c.Detail += "; the policies use condition keys the simulation lacked: " + strings.Join(missingCtx, ", ")
		}
		c.Fix = fmt.Sprintf("Add to %s: %s", req.Where, st.JSON())
	default:
		c.Status = OK
		c.Detail = req.What + ": allowed"
	}
	return c
}

func appendNew(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// inOrder returns the members of set in the order of order.
func inOrder(set, order []string) []string {
	var out []string
	for _, o := range order {
		for _, s := range set {
			if s == o {
				out = append(out, o)
			}
		}
	}
	return out
}

// Unchecked is the verdict of a check that could not run: a warning, since
// the setup may be right; the fix says how to let it run or to skip it.
func Unchecked(name, what string, err error, fix string) Check {
	return Check{Check: name, Status: Warn, Detail: fmt.Sprintf("%s not checked: %v", what, err), Fix: fix}
}
