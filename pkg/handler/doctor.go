package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/setup"
)

// DoctorConfig is the doctor's configuration; each field is declared once
// (json: event field, env: ESSNAP_ variable). {} checks the stack's setup
// with the stack's environment.
type DoctorConfig struct {
	Domain
	RepositoryConfig
	// AlarmHours is the stale-snapshot alarm's threshold (the stack's
	// StaleSnapshotAlarmHours).
	AlarmHours int `json:"alarm_hours" env:"ALARM_HOURS"`
	// Schedule and ScheduleTimezone are the nightly schedule (the stack's
	// ScheduleExpression and ScheduleTimezone).
	Schedule         string `json:"schedule" env:"SCHEDULE"`
	ScheduleTimezone string `json:"schedule_timezone" env:"SCHEDULE_TIMEZONE"`
	errs             problems
}

// maxScheduleBytes bounds a schedule expression (EventBridge allows 256).
const maxScheduleBytes = 256

var scheduleRE = regexp.MustCompile(`^(cron|rate|at)\(.+\)$`)

// LoadDoctorConfig applies defaults, environment and event, in that order.
// An event that names another endpoint without its own domain_arn drops
// the environment's domain_arn, which belongs to the stack's domain.
func LoadDoctorConfig(getenv func(string) string, raw []byte) DoctorConfig {
	c := DoctorConfig{RepositoryConfig: defaultRepository(), AlarmHours: 26, ScheduleTimezone: "UTC"}
	var l config.Loaded
	c.errs, l = load(&c, getenv, raw)
	c.forEndpoint(l)
	return c
}

// Validate reports every problem at once; nothing is sent before it passes.
func (c DoctorConfig) Validate() error {
	p := append(problems(nil), c.errs...)
	c.Domain.validate(&p)
	c.RepositoryConfig.check(&p, c.Domain)
	switch c.Type {
	case "s3", "fs":
	default:
		p.add("type %q is not supported; use s3 (AWS domains) or fs (local engines)", config.Short(c.Type))
	}
	if c.RoleARN != "" {
		if _, err := setup.ParseRoleARN(c.RoleARN); err != nil {
			p.add("role_arn %v", err)
		}
	}
	if strings.Contains(c.Bucket, "/") || strings.HasPrefix(c.Bucket, "s3:") {
		p.add("bucket %q must be a bucket name only (no s3:// and no path); put the path in base_path", config.Short(c.Bucket))
	}
	if c.AlarmHours < 1 || c.AlarmHours > 168 {
		p.add("alarm_hours %d is outside 1..168 (the stack's StaleSnapshotAlarmHours)", c.AlarmHours)
	}
	boundedText(&p, "schedule", c.Schedule, maxScheduleBytes)
	if c.Schedule != "" && len(c.Schedule) <= maxScheduleBytes && !scheduleRE.MatchString(c.Schedule) {
		p.add("schedule %q is not an EventBridge Scheduler expression such as cron(0 3 * * ? *)", config.Short(c.Schedule))
	}
	boundedText(&p, "schedule_timezone", c.ScheduleTimezone, 64)
	if _, err := time.LoadLocation(c.ScheduleTimezone); err != nil && len(c.ScheduleTimezone) <= 64 {
		p.add("schedule_timezone %q is not an IANA time zone such as Asia/Tokyo or UTC", config.Short(c.ScheduleTimezone))
	}
	if len(p) > 0 {
		return failure.Validation("doctor", p)
	}
	return nil
}

// DoctorOps are the domain reads the doctor makes; engine.Ops
// implements them. None changes the domain (VerifyRepository writes and
// deletes a test blob, as registration does).
type DoctorOps interface {
	EngineVersion(ctx context.Context) (engine.Version, error)
	Health(ctx context.Context) (engine.Health, error)
	SecurityInfo(ctx context.Context) (engine.SecurityInfo, error)
	Repositories(ctx context.Context) (map[string]engine.RepositoryInfo, error)
	VerifyRepository(ctx context.Context, name string) (int, error)
	ListSnapshots(ctx context.Context, repo string, metadataKeys ...string) ([]model.Snapshot, error)
}

// Doctor is the setup doctor: one invocation returns every check, so an
// operator sees all setup problems at once instead of one 403 per run. It
// never changes anything.
type Doctor struct {
	Deps
	// IAM runs the caller identity and role checks; nil reports them as
	// warnings.
	IAM IAM
}

// DoctorResult is the doctor's answer: the worst status and every check.
type DoctorResult struct {
	Status   setup.Status  `json:"status"`
	Endpoint string        `json:"endpoint"`
	Checks   []setup.Check `json:"checks"`
}

// Invoke runs every check. Only an invalid configuration is an error
// (ValidationError); failed checks are the answer, not errors.
func (h Doctor) Invoke(ctx context.Context, raw json.RawMessage) (DoctorResult, error) {
	c := LoadDoctorConfig(h.Getenv, raw)
	if err := c.Validate(); err != nil {
		return DoctorResult{}, err
	}
	now := h.Clock.Now()
	iam := h.iamChecks(ctx, c)
	dom := h.domainChecks(ctx, c, iam.Caller, now)

	// The report's order: who asks, the domain, then the role, then the
	// snapshots.
	var checks []setup.Check
	checks = append(checks, iam.Checks[0])
	checks = append(checks, dom[:4]...)
	checks = append(checks, iam.Checks[1:]...)
	checks = append(checks, dom[4:]...)
	res := DoctorResult{Status: setup.Worst(checks), Endpoint: esclient.RedactEndpoint(c.Endpoint), Checks: checks}
	for _, ch := range checks {
		h.Log.InfoContext(ctx, "doctor check", "check", ch.Check, "status", string(ch.Status), "detail", ch.Detail)
	}
	h.Log.InfoContext(ctx, "doctor done", "status", string(res.Status))
	return res, nil
}

// iamChecks returns caller_identity, snapshot_role_trust, snapshot_role_s3
// and pass_role, in that order, whatever could run.
func (h Doctor) iamChecks(ctx context.Context, c DoctorConfig) roleResult {
	names := []string{setup.CheckIdentity, setup.CheckTrust, setup.CheckS3, setup.CheckPassRole}
	all := func(status setup.Status, detail, fix string) roleResult {
		var r roleResult
		for _, n := range names {
			r.Checks = append(r.Checks, setup.Check{Check: n, Status: status, Detail: detail, Fix: fix})
		}
		return r
	}
	switch {
	case !c.CheckRole:
		return all(setup.OK, "not checked: check_role is false", "")
	case h.IAM == nil:
		return all(setup.Warn, "not checked: this function has no IAM client", "Run the doctor function of the stack (functions/doctor).")
	}
	ctx, cancel := context.WithTimeout(ctx, iamTimeout)
	defer cancel()
	if c.Type != "s3" {
		r := roleResult{}
		id, err := h.IAM.CallerIdentity(ctx)
		if err != nil {
			r.Checks = append(r.Checks, setup.Unchecked(setup.CheckIdentity, "the caller's identity", err, iamFix(err, "sts:GetCallerIdentity")))
		} else {
			r.Checks = append(r.Checks, setup.Check{Check: setup.CheckIdentity, Status: setup.OK, Detail: fmt.Sprintf("%s (account %s)", id.ARN, id.Account)})
			if p, err := setup.CallerPrincipal(id.ARN); err == nil {
				r.Caller = p.ARN
			}
		}
		for _, n := range names[1:] {
			r.Checks = append(r.Checks, setup.Check{Check: n, Status: setup.OK, Detail: "not applicable: a type " + c.Type + " repository has no SnapshotRole"})
		}
		return r
	}
	in := roleInput{Bucket: c.Bucket, BasePath: c.BasePath, Readonly: c.Readonly}
	var missing []string
	if c.RoleARN == "" {
		missing = append(missing, "role_arn (ESSNAP_ROLE_ARN)")
	}
	if c.Bucket == "" {
		missing = append(missing, "bucket (ESSNAP_BUCKET)")
	}
	if len(missing) > 0 {
		r := all(setup.Fail, "not checked: "+strings.Join(missing, " and ")+" not set", "Set "+strings.Join(missing, " and ")+" to the repository's SnapshotRole ARN and bucket (stack outputs SnapshotRoleArn, BucketName).")
		if id, err := h.IAM.CallerIdentity(ctx); err == nil {
			r.Checks[0] = setup.Check{Check: setup.CheckIdentity, Status: setup.OK, Detail: fmt.Sprintf("%s (account %s)", id.ARN, id.Account)}
		}
		return r
	}
	in.Role, _ = setup.ParseRoleARN(c.RoleARN) // validated
	if c.DomainARN != "" {
		d, _ := setup.ParseDomainARN(c.DomainARN) // validated
		in.Domain = &d
	}
	r := checkRole(ctx, h.IAM, in)
	// checkRole leaves snapshot_role_s3 out when the role is missing.
	if len(r.Checks) == 3 {
		r.Checks = append(r.Checks[:2], setup.Check{Check: setup.CheckS3, Status: setup.Fail, Detail: "not checked: the SnapshotRole does not exist", Fix: "Create the role (see snapshot_role_trust)."}, r.Checks[2])
	}
	return r
}

// domainChecks returns domain, domain_access, fine_grained_access,
// repository, newest_snapshot and automated_snapshot_hour, in that order.
func (h Doctor) domainChecks(ctx context.Context, c DoctorConfig, caller string, now time.Time) []setup.Check {
	out := []setup.Check{
		{Check: setup.CheckDomain}, {Check: setup.CheckDomainAccess}, {Check: setup.CheckFineGrained},
		{Check: setup.CheckRepository}, {Check: setup.CheckNewestSnapshot}, {Check: setup.CheckAutomated},
	}
	skip := func(from int, why string) []setup.Check {
		for i := from; i < len(out); i++ {
			out[i].Status, out[i].Detail, out[i].Fix = setup.Warn, "not checked: "+why, afterFix
		}
		return out
	}
	if h.Connect == nil {
		out[0] = setup.Check{Check: setup.CheckDomain, Status: setup.Fail, Detail: "this function cannot connect to domains"}
		return skip(1, "no domain connection")
	}
	ops, err := connect[DoctorOps](ctx, h.Deps, c.Domain)
	if err != nil {
		out[0] = setup.Check{Check: setup.CheckDomain, Status: setup.Fail, Detail: "cannot connect: " + err.Error(), Fix: "Fix endpoint (ESSNAP_ENDPOINT)."}
		return skip(1, "no domain connection")
	}
	v, err := ops.EngineVersion(ctx)
	if err != nil {
		var ae *esclient.APIError
		if errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusUnauthorized) {
			out[0] = setup.Check{Check: setup.CheckDomain, Status: setup.Warn, Detail: "the domain answered, but refused GET /: " + oneLine(err)}
			out[1] = accessVerdict(ae, caller, c.DomainARN)
			return skip(2, "the domain refused the caller")
		}
		out[0] = setup.Check{Check: setup.CheckDomain, Status: setup.Fail, Detail: "the domain does not answer: " + oneLine(err),
			Fix: "Check endpoint (ESSNAP_ENDPOINT); for a VPC domain (vpc-...) the function needs SubnetIds and a security group the domain's security group admits on 443."}
		return skip(1, "the domain does not answer")
	}
	out[0] = healthVerdict(ctx, ops, v)
	if c.Unsigned {
		out[1] = setup.Check{Check: setup.CheckDomainAccess, Status: setup.OK, Detail: "unsigned requests accepted (a local engine: no access policy)"}
	} else {
		out[1] = setup.Check{Check: setup.CheckDomainAccess, Status: setup.OK, Detail: "the domain accepts the caller's signed requests (GET /; the repository check sends POST)"}
	}

	access := setup.Access{}
	info, err := ops.SecurityInfo(ctx)
	fgacUnread := ""
	switch {
	case errors.Is(err, engine.ErrNoSecurityPlugin):
	case securityDenial(err) != "":
		access.Plugin, access.Denied = true, securityDenial(err)
	case err != nil:
		fgacUnread = oneLine(err)
	default:
		access = setup.Access{Plugin: true, User: info.User, BackendRoles: info.BackendRoles, Roles: info.Roles}
	}

	repo, registered, repos := h.repositoryCheck(ctx, ops, c, &access)
	out[3] = repo
	out[2] = setup.FineGrained(access, caller)
	if fgacUnread != "" && out[2].Status != setup.Fail {
		out[2] = setup.Check{Check: setup.CheckFineGrained, Status: setup.Warn, Detail: "the security plugin's authinfo could not be read: " + fgacUnread,
			Fix: "Run the doctor again; if it persists, check the mapping by hand (GET _plugins/_security/authinfo as the function's role)."}
	}
	if registered {
		snaps, err := ops.ListSnapshots(ctx, c.Repository)
		if err != nil {
			out[4] = setup.Check{Check: setup.CheckNewestSnapshot, Status: setup.Warn, Detail: "not checked: " + oneLine(err), Fix: afterFix}
		} else {
			out[4] = setup.SnapshotAge(snaps, c.Repository, now, c.AlarmHours, c.Readonly)
		}
	} else {
		out[4] = setup.Check{Check: setup.CheckNewestSnapshot, Status: setup.Warn, Detail: "not checked: repository " + c.Repository + " is not registered or not readable", Fix: afterFix}
	}
	out[5] = h.automatedCheck(ctx, ops, c, repos, now)
	return out
}

// afterFix is the fix of a check that could not run because an earlier
// one failed.
const afterFix = "Fix the failed checks above, then run the doctor again."

// healthVerdict words the engine and its health: red is a warning, since
// a snapshot of red indices ends PARTIAL.
func healthVerdict(ctx context.Context, ops DoctorOps, v engine.Version) setup.Check {
	c := setup.Check{Check: setup.CheckDomain, Status: setup.OK}
	engine := fmt.Sprintf("%s %s", engineName(v.Distribution), v.Number)
	hl, err := ops.Health(ctx)
	if err != nil {
		c.Status, c.Detail = setup.Warn, engine+"; cluster health not readable: "+oneLine(err)
		c.Fix = "With fine-grained access control, map the function roles to a role with cluster_monitor (manage_snapshots lacks it) to see health."
		return c
	}
	c.Detail = fmt.Sprintf("%s, cluster %s is %s (%d nodes, %d unassigned shards)", engine, hl.Cluster, hl.Status, hl.Nodes, hl.Unassigned)
	if hl.Status == "red" {
		c.Status = setup.Warn
		c.Fix = "Snapshots of red indices end PARTIAL (alarmed, and retention stops): find the cause with GET _cluster/allocation/explain."
	}
	return c
}

func engineName(d string) string {
	if d == "opensearch" {
		return "OpenSearch"
	}
	return "Elasticsearch"
}

// accessVerdict words a 401/403 on GET /: an IAM denial means the domain
// access policy (or the role's policy) leaves the caller out; a signature
// problem has its own fix.
func accessVerdict(ae *esclient.APIError, caller, domainARN string) setup.Check {
	c := setup.Check{Check: setup.CheckDomainAccess, Status: setup.Fail, Detail: "GET / refused: " + oneLine(ae)}
	switch ae.Source {
	case esclient.SourceIAM:
		c.Fix = "Allow the caller in the domain access policy (OpenSearch Service console: Security configuration > Access policy) and give its role es:ESHttp* on the domain; the access policy statement: " +
			setup.DomainAccessStatement(caller, domainARN).JSON()
	case esclient.SourceEngine:
		c.Fix = "Fine-grained access control refused even GET /: map the function roles to a role (see fine_grained_access)."
	default:
		if h := ae.Hint(); h != "" {
			c.Fix = h
		} else {
			c.Fix = "Check the request signing (region, credentials) and the domain access policy."
		}
	}
	return c
}

// securityDenial returns the reason of a fine-grained access control
// refusal (403 security_exception), "" for any other error.
func securityDenial(err error) string {
	var ae *esclient.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusForbidden && (ae.Type == "security_exception" || strings.Contains(ae.Reason, "no permissions for")) {
		return ae.Reason
	}
	return ""
}

// repositoryCheck reads the repository's registration, compares it with
// the configuration and verifies it. A fine-grained access refusal is
// recorded in access. registered reports whether its snapshots can be
// listed; repos are every registered repository (nil when unreadable).
func (h Doctor) repositoryCheck(ctx context.Context, ops DoctorOps, c DoctorConfig, access *setup.Access) (_ setup.Check, registered bool, repos map[string]engine.RepositoryInfo) {
	out := setup.Check{Check: setup.CheckRepository}
	repos, err := ops.Repositories(ctx)
	if err != nil {
		if d := securityDenial(err); d != "" {
			access.Plugin, access.Denied = true, d
			out.Status, out.Detail = setup.Fail, "the repositories cannot be listed: "+oneLine(err)
			out.Fix = "Map the function roles to manage_snapshots (see fine_grained_access)."
			return out, false, nil
		}
		out.Status, out.Detail, out.Fix = setup.Warn, "the repositories cannot be listed: "+oneLine(err), "Run the doctor again; the engine's answer is above."
		return out, false, nil
	}
	r, ok := repos[c.Repository]
	if !ok {
		out.Status = setup.Fail
		out.Detail = fmt.Sprintf("repository %s is not registered (registered: %s)", c.Repository, repoNames(repos))
		out.Fix = "Invoke register-repo with {} (RegisterRepoFunction), then run the doctor again."
		return out, false, repos
	}
	desc := describeRepo(r)
	var mismatch []string
	if r.Type != c.Type {
		mismatch = append(mismatch, fmt.Sprintf("type %s, configured %s", r.Type, c.Type))
	}
	if c.Type == "s3" && r.Type == "s3" {
		if got := fmt.Sprint(r.Settings["bucket"]); c.Bucket != "" && got != c.Bucket {
			mismatch = append(mismatch, fmt.Sprintf("bucket %s, configured %s", got, c.Bucket))
		}
		if got := strings.Trim(fmt.Sprint(orEmpty(r.Settings["base_path"])), "/"); got != c.BasePath {
			mismatch = append(mismatch, fmt.Sprintf("base_path %q, configured %q", got, c.BasePath))
		}
	}
	if !c.Verify {
		out.Status, out.Detail = setup.OK, fmt.Sprintf("repository %s is registered (%s); not verified (verify is false)", c.Repository, desc)
	} else if n, err := ops.VerifyRepository(ctx, c.Repository); err != nil {
		if d := securityDenial(err); d != "" {
			access.Plugin, access.Denied = true, d
		}
		out.Status = setup.Fail
		out.Detail = fmt.Sprintf("repository %s is registered (%s) but verification failed: %s", c.Repository, desc, oneLine(err))
		out.Fix = "Check that the location exists on every node and the engine may write there, then run register-repo again."
		if r.Type == "s3" {
			out.Fix = "Check the SnapshotRole's S3 permissions (snapshot_role_s3) and the bucket policy, then run register-repo again."
		}
		if access.Denied != "" {
			out.Fix = "Map the function roles to manage_snapshots (see fine_grained_access)."
		}
	} else {
		out.Status, out.Detail = setup.OK, fmt.Sprintf("repository %s is registered (%s) and verified on %d nodes", c.Repository, desc, n)
	}
	if len(mismatch) > 0 && out.Status == setup.OK {
		out.Status = setup.Warn
		out.Detail += "; but it is registered with " + strings.Join(mismatch, ", ")
		out.Fix = "If the configuration is right, run register-repo with {\"replace\": true}; otherwise fix the environment."
	}
	return out, true, repos
}

// describeRepo summarises a repository's type and where its data lives.
func describeRepo(r engine.RepositoryInfo) string {
	parts := []string{"type " + r.Type}
	for _, k := range []string{"bucket", "base_path", "location", "readonly"} {
		if v, ok := r.Settings[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %v", k, v))
		}
	}
	return strings.Join(parts, ", ")
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

func repoNames(repos map[string]engine.RepositoryInfo) string {
	names := sortedNames(repos)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// automatedCheck lists the automated snapshots of AWS's cs-automated
// repositories (among repos, every registered one) and judges the nightly
// schedule against them.
func (h Doctor) automatedCheck(ctx context.Context, ops DoctorOps, c DoctorConfig, repos map[string]engine.RepositoryInfo, now time.Time) setup.Check {
	tz, _ := time.LoadLocation(c.ScheduleTimezone) // validated
	if repos == nil {
		return setup.Check{Check: setup.CheckAutomated, Status: setup.Warn, Detail: "not checked: the repositories cannot be listed", Fix: afterFix}
	}
	var auto []model.Snapshot
	for _, name := range sortedNames(repos) {
		if !strings.HasPrefix(name, "cs-automated") {
			continue
		}
		snaps, err := ops.ListSnapshots(ctx, name)
		if err != nil {
			return setup.Check{Check: setup.CheckAutomated, Status: setup.Warn, Detail: "not checked: " + oneLine(err), Fix: afterFix}
		}
		auto = append(auto, snaps...)
	}
	return setup.AutomatedCollision(c.Schedule, tz, now, auto)
}

func sortedNames(repos map[string]engine.RepositoryInfo) []string {
	names := make([]string, 0, len(repos))
	for n := range repos {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
