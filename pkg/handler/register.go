package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/essnap/essnap/pkg/failure"
	"github.com/essnap/essnap/pkg/snapshot"
)

// RegisterEvent is register-repo's input. Every field is optional where the
// environment gives a default; {} registers the stack's repository.
type RegisterEvent struct {
	domainFields
	Repository           *string `json:"repository"`
	Type                 *string `json:"type"`
	Bucket               *string `json:"bucket"`
	BasePath             *string `json:"base_path"`
	BucketRegion         *string `json:"bucket_region"`
	RoleARN              *string `json:"role_arn"`
	Location             *string `json:"location"`
	Readonly             *bool   `json:"readonly"`
	Verify               *bool   `json:"verify"`
	ServerSideEncryption *bool   `json:"server_side_encryption"`
	Replace              *bool   `json:"replace"`
}

// RegisterConfig is the resolved register-repo configuration.
type RegisterConfig struct {
	domainConfig
	Repository, Type, Bucket, BasePath, BucketRegion, RoleARN, Location string
	Readonly, Verify, ServerSideEncryption, Replace                     bool
	errs                                                                problems
}

var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)

// NewRegisterConfig applies defaults, environment and event, in that order.
func NewRegisterConfig(getenv func(string) string, ev RegisterEvent) RegisterConfig {
	c := RegisterConfig{Repository: "essnap", Type: "s3", Verify: true, ServerSideEncryption: true}
	e := env{get: getenv, errs: &c.errs}
	c.fromEnv(e)
	e.str("ESSNAP_REPOSITORY", &c.Repository)
	e.str("ESSNAP_REPOSITORY_TYPE", &c.Type)
	e.str("ESSNAP_BUCKET", &c.Bucket)
	e.str("ESSNAP_BASE_PATH", &c.BasePath)
	e.str("ESSNAP_BUCKET_REGION", &c.BucketRegion)
	e.str("ESSNAP_ROLE_ARN", &c.RoleARN)
	e.str("ESSNAP_FS_LOCATION", &c.Location)
	e.boolean("ESSNAP_REPOSITORY_READONLY", &c.Readonly)
	c.fromEvent(ev.domainFields)
	set(&c.Repository, ev.Repository)
	set(&c.Type, ev.Type)
	set(&c.Bucket, ev.Bucket)
	set(&c.BasePath, ev.BasePath)
	set(&c.BucketRegion, ev.BucketRegion)
	set(&c.RoleARN, ev.RoleARN)
	set(&c.Location, ev.Location)
	set(&c.Readonly, ev.Readonly)
	set(&c.Verify, ev.Verify)
	set(&c.ServerSideEncryption, ev.ServerSideEncryption)
	set(&c.Replace, ev.Replace)
	return c
}

// Validate reports every problem at once.
func (c RegisterConfig) Validate() error {
	p := append(problems(nil), c.errs...)
	c.validate(&p)
	if err := snapshot.ValidateRepositoryName("repository", c.Repository); err != nil {
		p.add("%v", err)
	}
	switch c.Type {
	case "s3":
		if c.Bucket == "" {
			p.add("bucket is empty; set event field \"bucket\" or ESSNAP_BUCKET to the snapshot bucket's name")
		} else if strings.Contains(c.Bucket, "/") || strings.HasPrefix(c.Bucket, "s3:") {
			p.add("bucket %q must be a bucket name only (no s3:// and no path); put the path in base_path", c.Bucket)
		}
		if c.RoleARN == "" {
			p.add("role_arn is empty; set event field \"role_arn\" or ESSNAP_ROLE_ARN to the SnapshotRole ARN (the domain assumes it to reach S3)")
		} else if !roleARN.MatchString(c.RoleARN) {
			p.add("role_arn %q is not an IAM role ARN; expected arn:aws:iam::123456789012:role/NAME", c.RoleARN)
		}
		if strings.HasPrefix(c.BasePath, "/") || strings.HasSuffix(c.BasePath, "/") {
			p.add("base_path %q must not start or end with '/'; e.g. snapshots/logs-domain", c.BasePath)
		}
		if c.Location != "" {
			p.add("location is for type fs; for type s3 use bucket and base_path")
		}
	case "fs":
		if c.Location == "" {
			p.add("location is empty; type fs needs a directory listed in the engine's path.repo")
		}
		if strings.HasPrefix(c.BasePath, "/") || strings.Contains(c.BasePath, "..") {
			p.add("base_path %q must be relative without '..'", c.BasePath)
		}
	default:
		p.add("type %q is not supported; use s3 (AWS domains) or fs (local engines)", c.Type)
	}
	if len(p) > 0 {
		return failure.Validation("register-repo", p)
	}
	return nil
}

// Spec turns the config into the repository to register.
func (c RegisterConfig) Spec() snapshot.RepositorySpec {
	s := snapshot.RepositorySpec{Name: c.Repository, Type: c.Type, Verify: c.Verify, Replace: c.Replace, Settings: map[string]any{}}
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
	if c.Readonly {
		s.Settings["readonly"] = true
		// A readonly repository cannot be written, so node verification would fail.
		s.Verify = false
	}
	return s
}

// RegisterRepo is the register-repo handler.
type RegisterRepo struct{ Deps }

// RegisterResult is what register-repo returns.
type RegisterResult struct {
	snapshot.RegisterResult
	Type     string `json:"type"`
	Readonly bool   `json:"readonly"`
}

// Invoke registers the repository described by env and event.
func (h RegisterRepo) Invoke(ctx context.Context, raw json.RawMessage) (RegisterResult, error) {
	var ev RegisterEvent
	if err := decodeEvent(raw, &ev); err != nil {
		return RegisterResult{}, err
	}
	c := NewRegisterConfig(h.Getenv, ev)
	if err := c.Validate(); err != nil {
		return RegisterResult{}, err
	}
	ops, err := h.connect(ctx, c.Domain)
	if err != nil {
		return RegisterResult{}, err
	}
	res, err := ops.RegisterRepository(ctx, c.Spec())
	if err != nil {
		return RegisterResult{}, h.fail(ctx, "register-repo", err)
	}
	if c.Spec().Verify && !res.Verified {
		return RegisterResult{}, h.fail(ctx, "register-repo", fmt.Errorf("repository %s is registered but verification failed twice: %s; check the SnapshotRole's S3 permissions and the bucket policy, then run again", res.Repository, res.VerifyError))
	}
	h.Log.InfoContext(ctx, "repository registered", "repository", res.Repository, "status", res.Status, "verified", res.Verified, "verify_error", res.VerifyError)
	return RegisterResult{RegisterResult: res, Type: c.Type, Readonly: c.Readonly}, nil
}
