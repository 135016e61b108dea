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

// RegisterConfig is register-repo's configuration; each field is declared
// once (json: event field, env: ESSNAP_ variable). {} registers the stack's
// repository.
type RegisterConfig struct {
	Domain
	Repository           string `json:"repository" env:"REPOSITORY"`
	Type                 string `json:"type" env:"REPOSITORY_TYPE"`
	Bucket               string `json:"bucket" env:"BUCKET"`
	BasePath             string `json:"base_path" env:"BASE_PATH"`
	BucketRegion         string `json:"bucket_region" env:"BUCKET_REGION"`
	RoleARN              string `json:"role_arn" env:"ROLE_ARN"`
	Location             string `json:"location" env:"FS_LOCATION"`
	Readonly             bool   `json:"readonly" env:"REPOSITORY_READONLY"`
	Verify               bool   `json:"verify"`
	ServerSideEncryption bool   `json:"server_side_encryption"`
	Replace              bool   `json:"replace"`
	errs                 problems
}

var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)

// LoadRegisterConfig applies defaults, environment and event, in that order.
func LoadRegisterConfig(getenv func(string) string, raw []byte) RegisterConfig {
	c := RegisterConfig{Repository: "essnap", Type: "s3", Verify: true, ServerSideEncryption: true}
	c.errs, _ = load(&c, getenv, raw)
	return c
}

// Validate reports every problem at once.
func (c RegisterConfig) Validate() error {
	p := append(problems(nil), c.errs...)
	c.Domain.validate(&p)
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
	c := LoadRegisterConfig(h.Getenv, raw)
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
