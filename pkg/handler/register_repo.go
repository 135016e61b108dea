package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/setup"
	"github.com/essnap/essnap/pkg/snapshot"
)

// RegisterConfig is register-repo's configuration; each field is declared
// once (json: event field, env: ESSNAP_ variable). {} registers the stack's
// repository.
type RegisterConfig struct {
	Domain
	RepositoryConfig
	ServerSideEncryption bool `json:"server_side_encryption"`
	Replace              bool `json:"replace"`
	// MaxSnapshotBytesPerSec and MaxRestoreBytesPerSec are the repository's
	// per-node throttles (e.g. "40mb"; "0" = unthrottled); empty keeps the
	// engine's default (40 MB/s for snapshots). The migration workflow sets
	// "0": the default throttle, not the disk, bounded its snapshots.
	MaxSnapshotBytesPerSec string `json:"max_snapshot_bytes_per_sec" env:"MAX_SNAPSHOT_BYTES_PER_SEC"`
	MaxRestoreBytesPerSec  string `json:"max_restore_bytes_per_sec" env:"MAX_RESTORE_BYTES_PER_SEC"`
	errs                   problems
}

// RepositoryConfig is where a repository lives and who reaches it: the
// fields register-repo registers and the doctor checks, declared once.
type RepositoryConfig struct {
	Repository   string `json:"repository" env:"REPOSITORY"`
	Type         string `json:"type" env:"REPOSITORY_TYPE"`
	Bucket       string `json:"bucket" env:"BUCKET"`
	BasePath     string `json:"base_path" env:"BASE_PATH"`
	BucketRegion string `json:"bucket_region" env:"BUCKET_REGION"`
	RoleARN      string `json:"role_arn" env:"ROLE_ARN"`
	Location     string `json:"location" env:"FS_LOCATION"`
	Readonly     bool   `json:"readonly" env:"REPOSITORY_READONLY"`
	// Verify runs POST _snapshot/<repository>/_verify (after registering;
	// in the doctor, as a check).
	Verify bool `json:"verify"`
	// DomainARN and CheckRole drive the IAM checks (rolecheck.go).
	DomainARN string `json:"domain_arn" env:"DOMAIN_ARN"`
	CheckRole bool   `json:"check_role"`
}

// defaultRepository is the stack's repository before environment and event.
func defaultRepository() RepositoryConfig {
	return RepositoryConfig{Repository: "essnap", Type: "s3", Verify: true, CheckRole: true}
}

// forEndpoint drops the environment's domain_arn when the event names
// another endpoint without its own: the ARN belongs to the stack's domain,
// not to the one the event names (a migration's target).
func (r *RepositoryConfig) forEndpoint(l config.Loaded) {
	if l.Event["endpoint"] && !l.Event["domain_arn"] {
		r.DomainARN = ""
	}
}

// check is what register-repo and the doctor both require of the
// repository fields, whatever the type: a valid repository name, bounded
// free text, a domain ARN that fits the endpoint.
func (r RepositoryConfig) check(p *problems, d Domain) {
	if err := snapshot.ValidateRepositoryName("repository", r.Repository); err != nil {
		p.add("%v", err)
	}
	boundedText(p, "bucket", r.Bucket, maxBucketBytes)
	boundedText(p, "base_path", r.BasePath, snapshot.MaxLocationBytes)
	boundedText(p, "location", r.Location, snapshot.MaxLocationBytes)
	boundedText(p, "role_arn", r.RoleARN, maxRoleARNBytes)
	boundedText(p, "bucket_region", r.BucketRegion, 64)
	validateDomainARN(p, r.DomainARN, d)
}

var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)

// LoadRegisterConfig applies defaults, environment and event, in that order.
func LoadRegisterConfig(getenv func(string) string, raw []byte) RegisterConfig {
	c := RegisterConfig{RepositoryConfig: defaultRepository(), ServerSideEncryption: true}
	var l config.Loaded
	c.errs, l = load(&c, getenv, raw)
	c.forEndpoint(l)
	return c
}

// Validate reports every problem at once.
func (c RegisterConfig) Validate() error {
	p := append(problems(nil), c.errs...)
	c.Domain.validate(&p)
	c.RepositoryConfig.check(&p, c.Domain)
	validateRate(&p, "max_snapshot_bytes_per_sec", c.MaxSnapshotBytesPerSec)
	validateRate(&p, "max_restore_bytes_per_sec", c.MaxRestoreBytesPerSec)
	switch c.Type {
	case "s3":
		if c.Bucket == "" {
			p.add("bucket is empty; set event field \"bucket\" or ESSNAP_BUCKET to the snapshot bucket's name")
		} else if strings.Contains(c.Bucket, "/") || strings.HasPrefix(c.Bucket, "s3:") {
			p.add("bucket %q must be a bucket name only (no s3:// and no path); put the path in base_path", config.Short(c.Bucket))
		}
		if c.RoleARN == "" {
			p.add("role_arn is empty; set event field \"role_arn\" or ESSNAP_ROLE_ARN to the SnapshotRole ARN (the domain assumes it to reach S3)")
		} else if _, err := setup.ParseRoleARN(c.RoleARN); err != nil || !roleARN.MatchString(c.RoleARN) {
			p.add("role_arn %q is not an IAM role ARN; expected arn:aws:iam::123456789012:role/NAME", config.Short(c.RoleARN))
		}
		if strings.HasPrefix(c.BasePath, "/") || strings.HasSuffix(c.BasePath, "/") {
			p.add("base_path %q must not start or end with '/'; e.g. snapshots/logs-domain", config.Short(c.BasePath))
		}
		if c.Location != "" {
			p.add("location is for type fs; for type s3 use bucket and base_path")
		}
	case "fs":
		if c.Location == "" {
			p.add("location is empty; type fs needs a directory listed in the engine's path.repo")
		}
		if strings.HasPrefix(c.BasePath, "/") || strings.Contains(c.BasePath, "..") {
			p.add("base_path %q must be relative without '..'", config.Short(c.BasePath))
		}
	default:
		p.add("type %q is not supported; use s3 (AWS domains) or fs (local engines)", config.Short(c.Type))
	}
	if len(p) > 0 {
		return failure.Validation("register-repo", p)
	}
	return nil
}

// Limits of register-repo's free-text fields: S3 bucket names have at most
// 63 bytes, IAM role ARNs at most 2048.
const (
	maxBucketBytes  = 63
	maxRoleARNBytes = 2048
)

// Spec turns the config into the repository to register.
func (c RegisterConfig) Spec() engine.RepositorySpec {
	s := engine.RepositorySpec{Name: c.Repository, Type: c.Type, Verify: c.Verify, Replace: c.Replace, Settings: map[string]any{}}
	if c.Type == "s3" {
		s.Settings["bucket"] = c.Bucket
		if c.BasePath != "" {
			s.Settings["base_path"] = c.BasePath
		}
		if c.BucketRegion != "" {
			s.Settings["region"] = c.BucketRegion
		}
		s.Settings["role_arn"] = c.RoleARN
		s.Settings["server_side_encryption"] = c.ServerSideEncryption
	} else {
		// base_path works for fs too, so the same events serve S3 and local runs.
		s.Settings["location"] = strings.TrimRight(c.Location, "/")
		if c.BasePath != "" {
			s.Settings["location"] = s.Settings["location"].(string) + "/" + c.BasePath
		}
	}
	if c.MaxSnapshotBytesPerSec != "" {
		s.Settings["max_snapshot_bytes_per_sec"] = c.MaxSnapshotBytesPerSec
	}
	if c.MaxRestoreBytesPerSec != "" {
		s.Settings["max_restore_bytes_per_sec"] = c.MaxRestoreBytesPerSec
	}
	if c.Readonly {
		s.Settings["readonly"] = true
		// A readonly repository cannot be written, so node verification would fail.
		s.Verify = false
	}
	return s
}

// RegisterRepoOps is the one call register-repo makes: the handler sees
// the domain through it alone, and a test fake implements just this.
type RegisterRepoOps interface {
	RegisterRepository(ctx context.Context, spec engine.RepositorySpec) (engine.RegisterResult, error)
}

// RegisterRepo is the register-repo handler.
type RegisterRepo struct {
	Deps
	// IAM runs the role pre-check (check_role) for type s3; nil skips it
	// with a warning.
	IAM IAM
}

// RegisterResult is what register-repo returns.
type RegisterResult struct {
	engine.RegisterResult
	Type     string `json:"type"`
	Readonly bool   `json:"readonly"`
	// Warnings are the IAM pre-check's warnings (checks it could not run).
	Warnings []string `json:"warnings,omitempty"`
}

// Invoke registers the repository described by env and event.
func (h RegisterRepo) Invoke(ctx context.Context, raw json.RawMessage) (RegisterResult, error) {
	c := LoadRegisterConfig(h.Getenv, raw)
	if err := c.Validate(); err != nil {
		return RegisterResult{}, err
	}
	warnings, err := h.preCheck(ctx, c)
	if err != nil {
		return RegisterResult{}, h.fail(ctx, "register-repo", err)
	}
	ops, err := connect[RegisterRepoOps](ctx, h.Deps, c.Domain)
	if err != nil {
		return RegisterResult{}, err
	}
	res, err := ops.RegisterRepository(ctx, c.Spec())
	if err != nil {
		return RegisterResult{}, h.fail(ctx, "register-repo", err)
	}
	if c.Spec().Verify && !res.Verified {
		return RegisterResult{}, h.fail(ctx, "register-repo", verifyFailed(c, res))
	}
	h.Log.InfoContext(ctx, "repository registered", "repository", res.Repository, "status", res.Status, "verified", res.Verified, "verify_error", res.VerifyError)
	return RegisterResult{RegisterResult: res, Type: c.Type, Readonly: c.Readonly, Warnings: warnings}, nil
}

// verifyFailed words a verification the engine ran and refused: how often
// it was tried (as the transport counted it), what the engine said, and
// the fix for this repository type. A verification that got no answer at
// all never comes here: RegisterRepository returns it as
// failure.ErrVerifyNotRun (EngineUnavailableError), which blames nothing.
func verifyFailed(c RegisterConfig, res engine.RegisterResult) error {
	tries := "verification failed"
	switch n := res.VerifyAttempts; {
	case n == 1:
		tries = "verification failed (1 attempt)"
	case n > 1:
		tries = fmt.Sprintf("verification failed (%d attempts)", n)
	}
	fix := "check that the location exists on every node and the engine may write there (a shared file system when there are several nodes), then run again"
	if c.Type == "s3" {
		fix = "check the SnapshotRole's S3 permissions (s3:ListBucket on the bucket; s3:GetObject, s3:PutObject, s3:DeleteObject on the base_path) and the bucket policy, then run again"
	}
	cause := res.VerifyCause
	if cause == nil {
		cause = errors.New(res.VerifyError)
	}
	return fmt.Errorf("repository %s is registered (%s) but %s; %s; the engine said: %w", res.Repository, res.Status, tries, fix, cause)
}

// byteRate is a byte size as the engines parse repository throttles:
// "0" (unthrottled), or a number with a unit (b, kb, mb, gb, tb, pb).
var byteRate = regexp.MustCompile(`^(0|[0-9]+(\.[0-9]+)?(b|kb|mb|gb|tb|pb))$`)

// validateRate checks a repository throttle before it is sent, so a typo
// is a ValidationError and not an engine refusal after the pre-check.
func validateRate(p *problems, field, v string) {
	if v != "" && !byteRate.MatchString(v) {
		p.add("%s %q is not a byte rate; use e.g. \"40mb\", \"1gb\", or \"0\" for unthrottled", field, config.Short(v))
	}
}

// preCheck is register-repo's IAM pre-check, run before anything is sent
// to the domain: failures are one AccessDeniedError naming every missing
// statement; warnings (checks that could not run) are logged and returned.
// Only s3 repositories have a role to check; check_role=false skips it.
func (h RegisterRepo) preCheck(ctx context.Context, c RegisterConfig) ([]string, error) {
	if c.Type != "s3" || !c.CheckRole {
		return nil, nil
	}
	if h.IAM == nil {
		w := "[role_check] the IAM pre-check did not run: this function has no IAM client"
		h.Log.WarnContext(ctx, "IAM pre-check skipped", "warning", w)
		return []string{w}, nil
	}
	in, err := c.roleInput()
	if err != nil {
		return nil, failure.Validation("register-repo", []string{err.Error()})
	}
	res := checkRole(ctx, h.IAM, in)
	fails, warns := roleProblems(res.Checks)
	for _, w := range warns {
		h.Log.WarnContext(ctx, "IAM pre-check warning", "warning", w)
	}
	if len(fails) > 0 {
		return warns, failure.AccessDenied(preCheckMessage(fails))
	}
	h.Log.InfoContext(ctx, "IAM pre-check passed", "role_arn", c.RoleARN, "warnings", len(warns))
	return warns, nil
}
