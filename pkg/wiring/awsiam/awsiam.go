package awsiam

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/essnap/essnap/pkg/setup"
)

// Client asks IAM and STS with one AWS configuration.
type Client struct {
	IAM *iam.Client
	STS *sts.Client
	cfg aws.Config
}

// New builds the clients from cfg. IAM is a global service: without a
// region in cfg, us-east-1 signs its requests.
func New(cfg aws.Config) *Client {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return &Client{IAM: iam.NewFromConfig(cfg), STS: sts.NewFromConfig(cfg), cfg: cfg}
}

// CallerIdentity is STS GetCallerIdentity.
func (c *Client) CallerIdentity(ctx context.Context) (setup.Identity, error) {
	out, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return setup.Identity{}, classify("sts:GetCallerIdentity", err)
	}
	return setup.Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), UserID: aws.ToString(out.UserId)}, nil
}

// GetRole is IAM GetRole; the trust policy stays as IAM returns it
// (URL-encoded), for setup.ParseDocument.
func (c *Client) GetRole(ctx context.Context, name string) (setup.Role, error) {
	out, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return setup.Role{}, classify("iam:GetRole "+name, err)
	}
	if out.Role == nil {
		return setup.Role{}, fmt.Errorf("iam:GetRole %s: the answer holds no role", name)
	}
	return setup.Role{ARN: aws.ToString(out.Role.Arn), Name: aws.ToString(out.Role.RoleName), TrustPolicy: aws.ToString(out.Role.AssumeRolePolicyDocument)}, nil
}

// Simulate is IAM SimulatePrincipalPolicy, every page of its results.
func (c *Client) Simulate(ctx context.Context, sim setup.Simulation) ([]setup.Evaluation, error) {
	in := &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(sim.Principal),
		ActionNames:     sim.Actions,
		ResourceArns:    sim.Resources,
	}
	for _, e := range sim.Context {
		in.ContextEntries = append(in.ContextEntries, iamtypes.ContextEntry{
			ContextKeyName: aws.String(e.Key), ContextKeyType: iamtypes.ContextKeyTypeEnum(e.Type), ContextKeyValues: e.Values,
		})
	}
	var out []setup.Evaluation
	p := iam.NewSimulatePrincipalPolicyPaginator(c.IAM, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("iam:SimulatePrincipalPolicy "+sim.Principal, err)
		}
		for _, r := range page.EvaluationResults {
			e := setup.Evaluation{Action: aws.ToString(r.EvalActionName), Resource: aws.ToString(r.EvalResourceName),
				Decision: string(r.EvalDecision), MissingContext: r.MissingContextValues}
			for _, m := range r.MatchedStatements {
				if id := aws.ToString(m.SourcePolicyId); id != "" {
					e.Matched = append(e.Matched, id)
				}
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// classify wraps an SDK error with the operation, marking a missing entity
// and a refused call so the checks can tell them from other failures.
func classify(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchEntity", "NoSuchEntityException":
			return fmt.Errorf("%s: %w (%s)", op, setup.ErrNoSuchEntity, ae.ErrorMessage())
		case "AccessDenied", "AccessDeniedException":
			return fmt.Errorf("%s: %w (%s)", op, setup.ErrNotPermitted, ae.ErrorMessage())
		}
		return fmt.Errorf("%s: %s: %s", op, ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Errorf("%s: %w", op, err)
}

// FromEnvironment builds the clients as Lambda provides for them: creds
// (wiring.EnvCredentials), the region from AWS_REGION (or
// AWS_DEFAULT_REGION), and the standard endpoint overrides
// AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL (tests
// point them at a local moto server). It loads no shared configuration:
// see wiring.EnvCredentials for why.
func FromEnvironment(creds aws.CredentialsProvider, getenv func(string) string) *Client {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	cfg := aws.Config{Region: region, Credentials: creds}
	if u := getenv("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = aws.String(u)
	}
	c := New(cfg)
	if u := getenv("AWS_ENDPOINT_URL_IAM"); u != "" {
		c.IAM = iam.NewFromConfig(c.cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(u) })
	}
	if u := getenv("AWS_ENDPOINT_URL_STS"); u != "" {
		c.STS = sts.NewFromConfig(c.cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(u) })
	}
	return c
}
