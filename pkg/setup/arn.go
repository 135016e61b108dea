package setup

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/essnap/essnap/pkg/config"
)

// RoleARN is an IAM role ARN taken apart: GetRole takes the name alone,
// S3 ARNs need the partition, and the trust check needs the account.
type RoleARN struct {
	ARN, Partition, Account, Path, Name string
}

var roleRE = regexp.MustCompile(`^arn:(aws[a-z-]*):iam::(\d{12}):role(/(?:[\x21-\x7e]*/)?)([\w+=,.@-]{1,64})$`)

// ParseRoleARN parses arn:PARTITION:iam::ACCOUNT:role[/PATH]/NAME.
func ParseRoleARN(s string) (RoleARN, error) {
	m := roleRE.FindStringSubmatch(s)
	if m == nil {
		return RoleARN{}, fmt.Errorf("%q is not an IAM role ARN; expected arn:aws:iam::123456789012:role/NAME", short(s))
	}
	return RoleARN{ARN: s, Partition: m[1], Account: m[2], Path: m[3], Name: m[4]}, nil
}

// DomainARN is an OpenSearch Service domain ARN: what the SnapshotRole's
// aws:SourceArn condition must name, and whose account aws:SourceAccount
// must be.
type DomainARN struct {
	ARN, Partition, Region, Account, Name string
}

var domainRE = regexp.MustCompile(`^arn:(aws[a-z-]*):es:([a-z0-9-]+):(\d{12}):domain/([a-z][a-z0-9-]{2,27})$`)

// ParseDomainARN parses arn:PARTITION:es:REGION:ACCOUNT:domain/NAME (the
// form the stack's DomainArn parameter takes).
func ParseDomainARN(s string) (DomainARN, error) {
	m := domainRE.FindStringSubmatch(s)
	if m == nil {
		return DomainARN{}, fmt.Errorf("%q is not an OpenSearch Service domain ARN; expected arn:aws:es:REGION:123456789012:domain/NAME", short(s))
	}
	return DomainARN{ARN: s, Partition: m[1], Region: m[2], Account: m[3], Name: m[4]}, nil
}

// Identity is what STS GetCallerIdentity says about the caller.
type Identity struct {
	Account string `json:"account"`
	ARN     string `json:"arn"`
	UserID  string `json:"user_id"`
}

// Principal says how to simulate the caller's own permissions: IAM
// simulates users and roles, not sessions, so an assumed-role session is
// simulated as its role (whose path the session ARN lacks: RoleName is
// looked up with GetRole for the full ARN).
type Principal struct {
	// ARN is the principal to simulate when known without a lookup (users),
	// or the role ARN without path (assumed roles; good when the role has
	// no path).
	ARN string
	// RoleName is set for assumed-role sessions.
	RoleName string
	// Root is the account's root user: it may do everything, nothing to simulate.
	Root bool
}

// CallerPrincipal maps a GetCallerIdentity ARN onto the principal whose
// policies apply: arn:aws:sts::A:assumed-role/NAME/SESSION is role NAME,
// arn:aws:iam::A:user/PATH/NAME is that user, arn:aws:iam::A:root is root.
// Federated users and anything else cannot be simulated.
func CallerPrincipal(arn string) (Principal, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return Principal{}, fmt.Errorf("caller %q is not an ARN", short(arn))
	}
	partition, service, account, res := parts[1], parts[2], parts[4], parts[5]
	switch {
	case service == "sts" && strings.HasPrefix(res, "assumed-role/"):
		name, _, _ := strings.Cut(strings.TrimPrefix(res, "assumed-role/"), "/")
		if name == "" {
			return Principal{}, fmt.Errorf("caller %q names no role", short(arn))
		}
		return Principal{ARN: fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, name), RoleName: name}, nil
	case service == "iam" && strings.HasPrefix(res, "user/"):
		return Principal{ARN: arn}, nil
	case service == "iam" && res == "root":
		return Principal{ARN: arn, Root: true}, nil
	case service == "iam" && strings.HasPrefix(res, "role/"):
		return Principal{ARN: arn}, nil
	}
	return Principal{}, fmt.Errorf("caller %q is neither an IAM user nor an assumed role; its permissions cannot be simulated", short(arn))
}

// short cuts a value quoted in a message (config.Short: a hostile event
// value never fills a message).
func short(s string) string { return config.Short(s) }
