package template

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/handler"
)

const (
	sampleEndpoint  = "https://search-logs-abc123.ap-northeast-1.es.amazonaws.com"
	sampleDomainArn = "arn:aws:es:ap-northeast-1:123456789012:domain/logs"
	sampleKmsKey    = "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// The three functions, their source directories and the limits the issue sets.
var functions = []struct {
	id, dir, role string
	timeout       int
	deletes       bool // may send DELETE to the domain (retention)
	passRole      bool // may pass the SnapshotRole (repository registration)
}{
	{"RegisterRepoFunction", "register-repo", "RegisterRepoRole", 60, false, true},
	{"TakeSnapshotFunction", "take-snapshot", "TakeSnapshotRole", 300, true, false},
	{"RestoreFunction", "restore", "RestoreRole", 300, false, false},
	// The doctor runs with register-repo's role: it checks that identity.
	{"DoctorFunction", "doctor", "RegisterRepoRole", 60, false, true},
}

// consoleOnly are functions an operator invokes synchronously from the
// console: no async retries, destinations or error alarms.
var consoleOnly = map[string]bool{"DoctorFunction": true}

// logGroupsOf are the log groups of every function that runs with role.
func logGroupsOf(s *stack, role string) []string {
	var out []string
	for _, fn := range functions {
		if fn.role != role {
			continue
		}
		lg := fmt.Sprint(mapOf(props(s, fn.id)["LoggingConfig"])["LogGroup"])
		for _, id := range resourcesOfType(s, "AWS::Logs::LogGroup") {
			if fmt.Sprint(props(s, id)["LogGroupName"]) == lg || physicalID(id) == lg {
				out = append(out, fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", testRegion, testAccount, physicalID(id)))
			}
		}
	}
	return out
}

// scenarios covers every combination of the template's optional features:
// created vs existing bucket, SSE-S3 vs KMS, VPC or not, alarm e-mail,
// writable vs readonly repository.
func scenarios() []scenario {
	var out []scenario
	for mask := 0; mask < 32; mask++ {
		p := map[string]any{"DomainEndpoint": sampleEndpoint, "DomainArn": sampleDomainArn}
		var name []string
		if mask&1 != 0 {
			p["ExistingBucketName"] = "existing-snapshots"
			name = append(name, "existing-bucket")
		}
		if mask&2 != 0 {
			p["KmsKeyArn"] = sampleKmsKey
			name = append(name, "kms")
		}
		if mask&4 != 0 {
			p["SubnetIds"] = "subnet-0aaa,subnet-0bbb"
			p["SecurityGroupIds"] = "sg-0ccc"
			name = append(name, "vpc")
		}
		if mask&8 != 0 {
			p["AlarmEmail"] = "ops@example.com"
			name = append(name, "email")
		}
		if mask&16 != 0 {
			p["RepositoryReadonly"] = "true"
			name = append(name, "readonly")
		}
		if len(name) == 0 {
			name = []string{"defaults"}
		}
		out = append(out, scenario{name: strings.Join(name, "+"), params: p})
	}
	return out
}

// fixture is the raw template plus its evaluation in every scenario.
type fixture struct {
	raw    map[string]any
	stacks []*stack
}

func load(t *testing.T) fixture {
	t.Helper()
	raw := loadTemplate(t)
	withGlobals := mergeGlobals(t, raw)
	f := fixture{raw: raw}
	for _, sc := range scenarios() {
		f.stacks = append(f.stacks, evaluate(t, withGlobals, sc))
	}
	return f
}

// mergeGlobals returns a copy of the template where every
// AWS::Serverless::Function carries Globals.Function the way SAM applies it:
// function properties win, maps (Environment.Variables) are merged.
func mergeGlobals(t *testing.T, raw map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range raw {
		out[k] = v
	}
	global := mapOf(mapOf(raw["Globals"])["Function"])
	res := map[string]any{}
	for id, r := range mapOf(raw["Resources"]) {
		rm := mapOf(r)
		if rm["Type"] != "AWS::Serverless::Function" {
			res[id] = r
			continue
		}
		props := mergeMaps(global, mapOf(rm["Properties"]))
		copied := map[string]any{}
		for k, v := range rm {
			copied[k] = v
		}
		copied["Properties"] = props
		res[id] = copied
	}
	out["Resources"] = res
	return out
}

func mergeMaps(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bm, bIsMap := out[k].(map[string]any)
		om, oIsMap := v.(map[string]any)
		if bIsMap && oIsMap && !isIntrinsic(bm) && !isIntrinsic(om) {
			out[k] = mergeMaps(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

func isIntrinsic(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

func resourcesOfType(s *stack, typ string) []string {
	var ids []string
	for _, id := range sortedKeys(s.resources) {
		if s.resources[id]["Type"] == typ {
			ids = append(ids, id)
		}
	}
	return ids
}

func props(s *stack, id string) map[string]any { return mapOf(s.resources[id]["Properties"]) }

// policyStatement is one IAM statement with where it came from.
type policyStatement struct {
	where    string // resource ID and property path
	resource string // logical ID of the resource holding the policy
	stmt     map[string]any
}

// statements collects every statement of every policy document in the
// evaluated stack: role inline policies, trust policies, bucket policies...
func statements(s *stack) []policyStatement {
	var out []policyStatement
	for _, id := range sortedKeys(s.resources) {
		walk(id, s.resources[id], func(path string, v any) {
			m := mapOf(v)
			if m == nil {
				return
			}
			if _, isDoc := m["Statement"]; !isDoc {
				return
			}
			for i, st := range listOf(m["Statement"]) {
				out = append(out, policyStatement{where: fmt.Sprintf("%s.Statement[%d]", path, i), resource: id, stmt: mapOf(st)})
			}
		})
	}
	return out
}

// roleStatements returns the Allow statements of a role's inline policies.
func roleStatements(s *stack, role string) []map[string]any {
	var out []map[string]any
	for _, p := range listOf(props(s, role)["Policies"]) {
		for _, st := range listOf(mapOf(mapOf(p)["PolicyDocument"])["Statement"]) {
			out = append(out, mapOf(st))
		}
	}
	return out
}

func forEachStack(t *testing.T, f fixture, fn func(t *testing.T, s *stack)) {
	t.Helper()
	for _, s := range f.stacks {
		t.Run(s.scenario, func(t *testing.T) { fn(t, s) })
	}
}

func snapshotRoleArn(s *stack) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", testAccount, physicalID("SnapshotRole"))
}

func bucketName(s *stack) string {
	if b := fmt.Sprint(s.params["ExistingBucketName"]); b != "" {
		return b
	}
	return physicalID("SnapshotBucket")
}

func basePath(s *stack) string { return fmt.Sprint(s.params["BasePath"]) }

func TestTemplate(t *testing.T) {
	f := load(t)

	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"transform is SAM", func(t *testing.T) {
			if f.raw["Transform"] != "AWS::Serverless-2016-10-31" {
				t.Errorf("Transform = %v", f.raw["Transform"])
			}
		}},

		{"no Allow statement has a wildcard action", func(t *testing.T) {
			forEachStack(t, f, func(t *testing.T, s *stack) {
				for _, ps := range statements(s) {
					st := ps.stmt
					if _, ok := st["NotAction"]; ok {
						t.Errorf("%s: NotAction is not allowed", ps.where)
					}
					if st["Effect"] == "Allow" {
						if _, ok := st["NotResource"]; ok {
							t.Errorf("%s: Allow with NotResource", ps.where)
						}
						for _, a := range strs(st["Action"]) {
							if strings.Contains(a, "*") {
								t.Errorf("%s: Allow action %q contains *", ps.where, a)
							}
						}
						continue
					}
					// A Deny may use a wildcard only to enforce TLS on every S3 action.
					for _, a := range strs(st["Action"]) {
						if !strings.Contains(a, "*") {
							continue
						}
						cond := mapOf(mapOf(st["Condition"])["Bool"])
						if a != "s3:*" || fmt.Sprint(cond["aws:SecureTransport"]) != "false" {
							t.Errorf("%s: Deny action %q with * is only allowed as s3:* for aws:SecureTransport=false", ps.where, a)
						}
					}
				}
			})
		}},

		{"every policy document is versioned; every statement has an Effect and Action", func(t *testing.T) {
			forEachStack(t, f, func(t *testing.T, s *stack) {
				for _, id := range sortedKeys(s.resources) {
					walk(id, s.resources[id], func(path string, v any) {
						if m := mapOf(v); m != nil && m["Statement"] != nil && m["Version"] != "2012-10-17" {
							t.Errorf("%s: policy Version = %v, want 2012-10-17", path, m["Version"])
						}
					})
				}
				for _, ps := range statements(s) {
					if e := ps.stmt["Effect"]; e != "Allow" && e != "Deny" {
						t.Errorf("%s: Effect = %v", ps.where, e)
					}
					if len(strs(ps.stmt["Action"])) == 0 {
						t.Errorf("%s: no Action", ps.where)
					}
				}
			})
		}},

		{"domain access is scoped to the domain ARN", func(t *testing.T) {
			// The drill's DELETE is narrower still: its own indices (drill_test.go);
			// the migration steps' writes to the ledger are its paths only.
			allowed := []string{sampleDomainArn, sampleDomainArn + "/*", sampleDomainArn + "/essnap-drill-*", sampleDomainArn + "/.essnap-ledger", sampleDomainArn + "/.essnap-ledger/*"}
			verbs := []string{"es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPut", "es:ESHttpPost", "es:ESHttpDelete"}
			forEachStack(t, f, func(t *testing.T, s *stack) {
				for _, ps := range statements(s) {
					var es []string
					for _, a := range strs(ps.stmt["Action"]) {
						if strings.HasPrefix(a, "es:") {
							es = append(es, a)
						}
					}
					if len(es) == 0 {
						continue
					}
					for _, a := range es {
						if !slices.Contains(verbs, a) {
							t.Errorf("%s: unexpected domain action %s", ps.where, a)
						}
					}
					for _, r := range strs(ps.stmt["Resource"]) {
						if !slices.Contains(allowed, r) {
							t.Errorf("%s: domain action on %q, want only %v", ps.where, r, allowed)
						}
					}
				}
				for _, fn := range functions {
					var got []string
					for _, st := range roleStatements(s, fn.role) {
						for _, a := range strs(st["Action"]) {
							if strings.HasPrefix(a, "es:") {
								got = append(got, a)
							}
						}
					}
					if !slices.Contains(got, "es:ESHttpGet") {
						t.Errorf("%s: no es:ESHttpGet", fn.role)
					}
					if has := slices.Contains(got, "es:ESHttpDelete"); has != fn.deletes {
						t.Errorf("%s: es:ESHttpDelete granted = %v, want %v", fn.role, has, fn.deletes)
					}
				}
			})
		}},

		{"PassRole only for register-repo, only the SnapshotRole, only to es", func(t *testing.T) {
			forEachStack(t, f, func(t *testing.T, s *stack) {
				found := 0
				for _, ps := range statements(s) {
					if !slices.Contains(strs(ps.stmt["Action"]), "iam:PassRole") {
						continue
					}
					found++
					if ps.resource != "RegisterRepoRole" {
						t.Errorf("%s: iam:PassRole outside RegisterRepoRole", ps.where)
					}
					if len(strs(ps.stmt["Action"])) != 1 {
						t.Errorf("%s: PassRole statement grants more: %v", ps.where, ps.stmt["Action"])
					}
					if r := strs(ps.stmt["Resource"]); len(r) != 1 || r[0] != snapshotRoleArn(s) {
						t.Errorf("%s: PassRole resource %v, want only the SnapshotRole", ps.where, r)
					}
					svc := strs(mapOf(mapOf(ps.stmt["Condition"])["StringEquals"])["iam:PassedToService"])
					if len(svc) != 1 || svc[0] != "es.amazonaws.com" {
						t.Errorf("%s: iam:PassedToService condition = %v, want es.amazonaws.com", ps.where, svc)
					}
				}
				if found != 1 {
					t.Errorf("found %d iam:PassRole statements, want exactly 1", found)
				}
			})
		}},

		{"SnapshotRole trust: es.amazonaws.com with SourceAccount and SourceArn", func(t *testing.T) {
			forEachStack(t, f, func(t *testing.T, s *stack) {
				trust := listOf(mapOf(props(s, "SnapshotRole")["AssumeRolePolicyDocument"])["Statement"])
				if len(trust) != 1 {
					t.Fatalf("trust has %d statements, want 1", len(trust))
				}
				st := mapOf(trust[0])
				if got := strs(mapOf(st["Principal"])["Service"]); !slices.Equal(got, []string{"es.amazonaws.com"}) {
					t.Errorf("principal service = %v", got)
				}
				if got := strs(st["Action"]); !slices.Equal(got, []string{"sts:AssumeRole"}) {
					t.Errorf("trust action = %v", got)
				}
				cond := mapOf(st["Condition"])
				if got := strs(mapOf(cond["StringEquals"])["aws:SourceAccount"]); !slices.Equal(got, []string{testAccount}) {
					t.Errorf("aws:SourceAccount = %v", got)
				}
				arns := strs(mapOf(cond["ArnLike"])["aws:SourceArn"])
				arns = append(arns, strs(mapOf(cond["ArnEquals"])["aws:SourceArn"])...)
				if !slices.Contains(arns, sampleDomainArn) {
					t.Errorf("aws:SourceArn = %v, want the domain ARN", arns)
				}
				for _, a := range arns {
					if !strings.HasPrefix(a, sampleDomainArn) {
						t.Errorf("aws:SourceArn %q is not the domain", a)
					}
				}
			})
		}},

		{"SnapshotRole S3 and KMS permissions are scoped", func(t *testing.T) {
			forEachStack(t, f, func(t *testing.T, s *stack) {
				bucketArn := "arn:aws:s3:::" + bucketName(s)
				prefixArn := bucketArn + "/" + basePath(s) + "/*"
				readonly := s.conditions["IsReadonly"]
				var sawList, sawObjects, sawKms bool
				for _, st := range roleStatements(s, "SnapshotRole") {
					acts := strs(st["Action"])
					res := strs(st["Resource"])
					switch {
					case slices.Equal(acts, []string{"s3:ListBucket"}):
						sawList = true
						if !slices.Equal(res, []string{bucketArn}) {
							t.Errorf("ListBucket on %v, want %s", res, bucketArn)
						}
						checkPrefixCondition(t, st, basePath(s))
					case len(acts) > 0 && strings.HasPrefix(acts[0], "s3:"):
						sawObjects = true
						want := []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
						if readonly {
							want = []string{"s3:GetObject"}
						}
						if !sameSet(acts, want) {
							t.Errorf("object actions %v, want %v", acts, want)
						}
						if !slices.Equal(res, []string{prefixArn}) {
							t.Errorf("object actions on %v, want %s", res, prefixArn)
						}
					case len(acts) > 0 && strings.HasPrefix(acts[0], "kms:"):
						sawKms = true
						if !slices.Equal(res, []string{sampleKmsKey}) {
							t.Errorf("KMS on %v, want %s", res, sampleKmsKey)
						}
						for _, a := range acts {
							if !slices.Contains([]string{"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"}, a) {
								t.Errorf("unexpected KMS action %s", a)
							}
						}
						via := strs(mapOf(mapOf(st["Condition"])["StringEquals"])["kms:ViaService"])
						if !slices.Equal(via, []string{"s3." + testRegion + ".amazonaws.com"}) {
							t.Errorf("kms:ViaService = %v", via)
						}
					default:
						t.Errorf("unexpected SnapshotRole statement %v", st)
					}
				}
				if !sawList || !sawObjects {
					t.Errorf("SnapshotRole lacks ListBucket (%v) or object access (%v)", sawList, sawObjects)
				}
				if sawKms != s.conditions["UseKms"] {
					t.Errorf("KMS statement present = %v, KMS key given = %v", sawKms, s.conditions["UseKms"])
				}
			})
		}},

		{"bucket: created only without an existing one, retained, encrypted, private", func(t *testing.T) {
			for _, id := range []string{"SnapshotBucket", "SnapshotBucketPolicy"} {
				raw := mapOf(mapOf(f.raw["Resources"])[id])
				if raw["DeletionPolicy"] != "Retain" || raw["UpdateReplacePolicy"] != "Retain" {
					t.Errorf("%s DeletionPolicy/UpdateReplacePolicy = %v/%v, want Retain/Retain", id, raw["DeletionPolicy"], raw["UpdateReplacePolicy"])
				}
			}
			forEachStack(t, f, func(t *testing.T, s *stack) {
				buckets := resourcesOfType(s, "AWS::S3::Bucket")
				if s.params["ExistingBucketName"] != "" {
					if len(buckets) != 0 || len(resourcesOfType(s, "AWS::S3::BucketPolicy")) != 0 {
						t.Errorf("existing bucket given, yet the stack creates %v", buckets)
					}
					return
				}
				if !slices.Equal(buckets, []string{"SnapshotBucket"}) {
					t.Fatalf("buckets = %v, want [SnapshotBucket]", buckets)
				}
				p := props(s, "SnapshotBucket")
				rules := listOf(mapOf(p["BucketEncryption"])["ServerSideEncryptionConfiguration"])
				if len(rules) == 0 {
					t.Fatal("no BucketEncryption")
				}
				def := mapOf(mapOf(rules[0])["ServerSideEncryptionByDefault"])
				if s.conditions["UseKms"] {
					if def["SSEAlgorithm"] != "aws:kms" || def["KMSMasterKeyID"] != sampleKmsKey {
						t.Errorf("KMS given, encryption = %v", def)
					}
				} else if def["SSEAlgorithm"] != "AES256" {
					t.Errorf("encryption = %v, want AES256", def)
				}
				pab := mapOf(p["PublicAccessBlockConfiguration"])
				for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
					if pab[k] != true {
						t.Errorf("PublicAccessBlockConfiguration.%s = %v, want true", k, pab[k])
					}
				}
				for i, r := range listOf(mapOf(p["LifecycleConfiguration"])["Rules"]) {
					for _, k := range []string{"ExpirationInDays", "ExpirationDate", "ExpiredObjectDeleteMarker", "Transitions", "Transition", "NoncurrentVersionExpiration", "NoncurrentVersionExpirationInDays", "NoncurrentVersionTransitions", "NoncurrentVersionTransition"} {
						if _, bad := mapOf(r)[k]; bad {
							t.Errorf("lifecycle rule %d has %s: snapshot objects must never expire or transition", i, k)
						}
					}
				}
			})
		}},

		{"bucket policy: TLS only, SnapshotRole scoped to the base path", func(t *testing.T) {
			forEachStack(t, f, func(t *testing.T, s *stack) {
				if s.params["ExistingBucketName"] != "" {
					return
				}
				doc := mapOf(props(s, "SnapshotBucketPolicy")["PolicyDocument"])
				bucketArn := "arn:aws:s3:::" + bucketName(s)
				var denyTLS bool
				for _, x := range listOf(doc["Statement"]) {
					st := mapOf(x)
					if st["Effect"] == "Deny" {
						cond := mapOf(mapOf(st["Condition"])["Bool"])
						res := strs(st["Resource"])
						if fmt.Sprint(cond["aws:SecureTransport"]) == "false" && fmt.Sprint(st["Principal"]) == "*" &&
							slices.Contains(strs(st["Action"]), "s3:*") &&
							slices.Contains(res, bucketArn) && slices.Contains(res, bucketArn+"/*") {
							denyTLS = true
						}
						continue
					}
					if got := strs(mapOf(st["Principal"])["AWS"]); !slices.Equal(got, []string{snapshotRoleArn(s)}) {
						t.Errorf("bucket policy allows %v, want only the SnapshotRole", got)
					}
					acts := strs(st["Action"])
					res := strs(st["Resource"])
					if slices.Equal(acts, []string{"s3:ListBucket"}) {
						if !slices.Equal(res, []string{bucketArn}) {
							t.Errorf("ListBucket on %v", res)
						}
						checkPrefixCondition(t, st, basePath(s))
						continue
					}
					for _, a := range acts {
						if !slices.Contains([]string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, a) {
							t.Errorf("bucket policy grants %s", a)
						}
					}
					if !slices.Equal(res, []string{bucketArn + "/" + basePath(s) + "/*"}) {
						t.Errorf("object grant on %v, want the base path", res)
					}
				}
				if !denyTLS {
					t.Error("bucket policy does not deny aws:SecureTransport=false for the bucket and its objects")
				}
			})
		}},

		{"functions: provided.al2023, arm64, makefile builds, small and bounded", func(t *testing.T) {
			makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
			if err != nil {
				t.Fatalf("read Makefile: %v", err)
			}
			s := f.stacks[0]
			ids := resourcesOfType(s, "AWS::Serverless::Function")
			if len(ids) < len(functions) {
				t.Errorf("functions in template: %v", ids)
			}
			for _, id := range ids {
				r := s.resources[id]
				p := mapOf(r["Properties"])
				if p["Runtime"] != "provided.al2023" {
					t.Errorf("%s: Runtime = %v", id, p["Runtime"])
				}
				if got := strs(p["Architectures"]); !slices.Equal(got, []string{"arm64"}) {
					t.Errorf("%s: Architectures = %v", id, got)
				}
				if p["Handler"] != "bootstrap" {
					t.Errorf("%s: Handler = %v", id, p["Handler"])
				}
				if mapOf(r["Metadata"])["BuildMethod"] != "makefile" {
					t.Errorf("%s: Metadata.BuildMethod = %v", id, mapOf(r["Metadata"])["BuildMethod"])
				}
				if !regexp.MustCompile(`(?m)^build-` + id + `:`).Match(makefile) {
					t.Errorf("Makefile has no build-%s target (sam build calls it)", id)
				}
				if m, _ := p["MemorySize"].(int); m < 128 || m > 256 {
					t.Errorf("%s: MemorySize = %v, want 128..256", id, p["MemorySize"])
				}
				if _, ok := p["Policies"]; ok {
					t.Errorf("%s: uses SAM Policies; give it an explicit least-privilege Role", id)
				}
			}
			for _, fn := range functions {
				p := props(s, fn.id)
				if p == nil {
					t.Errorf("%s missing", fn.id)
					continue
				}
				if p["Timeout"] != fn.timeout {
					t.Errorf("%s: Timeout = %v, want %d", fn.id, p["Timeout"], fn.timeout)
				}
				if want := fmt.Sprintf("arn:aws:iam::%s:role/%s", testAccount, physicalID(fn.role)); p["Role"] != want {
					t.Errorf("%s: Role = %v, want %s's ARN", fn.id, p["Role"], fn.role)
				}
				if _, err := os.Stat(filepath.Join("..", "..", "functions", fn.dir)); err != nil {
					t.Errorf("%s: source directory functions/%s: %v", fn.id, fn.dir, err)
				}
				if recipe := makeRecipe(string(makefile), "build-"+fn.id); !regexp.MustCompile(`\b` + regexp.QuoteMeta(fn.dir) + `\b`).MatchString(recipe) {
					t.Errorf("Makefile build-%s recipe %q does not build functions/%s", fn.id, recipe, fn.dir)
				}
			}
		}},

		{"functions: environment contract", func(t *testing.T) {
			contract := []string{
				"ESSNAP_ENDPOINT", "ESSNAP_REGION", "ESSNAP_UNSIGNED",
				"ESSNAP_REPOSITORY", "ESSNAP_REPOSITORY_TYPE", "ESSNAP_REPOSITORY_READONLY", "ESSNAP_BUCKET",
				"ESSNAP_BASE_PATH", "ESSNAP_ROLE_ARN", "ESSNAP_BUCKET_REGION",
				"ESSNAP_INDICES", "ESSNAP_SNAPSHOT_NAME",
				"ESSNAP_RETENTION_EXPIRE_AFTER", "ESSNAP_RETENTION_MIN_COUNT", "ESSNAP_RETENTION_MAX_COUNT",
				"ESSNAP_RETENTION_KEEP_DAILY", "ESSNAP_RETENTION_KEEP_WEEKLY", "ESSNAP_RETENTION_KEEP_MONTHLY",
				"ESSNAP_METRICS_NAMESPACE",
			}
			// Variables only some functions read (retention_policy_test.go checks their values).
			own := map[string][]string{"TakeSnapshotFunction": {"ESSNAP_RETENTION_POLICY_ID"},
				"RegisterRepoFunction": {"ESSNAP_DOMAIN_ARN"},
				"DoctorFunction":       {"ESSNAP_DOMAIN_ARN", "ESSNAP_ALARM_HOURS", "ESSNAP_SCHEDULE", "ESSNAP_SCHEDULE_TIMEZONE"}}
			forEachStack(t, f, func(t *testing.T, s *stack) {
				for _, fn := range functions {
					vars := mapOf(mapOf(props(s, fn.id)["Environment"])["Variables"])
					for _, k := range contract {
						if _, ok := vars[k]; !ok {
							t.Errorf("%s: %s not set", fn.id, k)
						}
					}
					for _, k := range sortedKeys(vars) {
						if !slices.Contains(contract, k) && !slices.Contains(own[fn.id], k) {
							t.Errorf("%s: %s is not a variable the handlers read (typo?)", fn.id, k)
						}
						if _, isStr := vars[k].(string); !isStr {
							t.Errorf("%s: %s = %v (%T), want a string", fn.id, k, vars[k], vars[k])
						}
					}
					want := map[string]string{
						"ESSNAP_ENDPOINT":        sampleEndpoint,
						"ESSNAP_REGION":          testRegion,
						"ESSNAP_UNSIGNED":        "false",
						"ESSNAP_REPOSITORY_TYPE": "s3",
						"ESSNAP_BUCKET":          bucketName(s),
						"ESSNAP_BASE_PATH":       basePath(s),
						"ESSNAP_ROLE_ARN":        snapshotRoleArn(s),
						"ESSNAP_BUCKET_REGION":   testRegion,
					}
					for k, w := range want {
						if vars[k] != w {
							t.Errorf("%s: %s = %v, want %s", fn.id, k, vars[k], w)
						}
					}
				}
			})
		}},

		{"handlers accept the stack's environment, the schedule input and the console event", func(t *testing.T) {
			// Decoded the way the handlers decode events (unknown fields are
			// errors) and validated with the handlers' own configuration code.
			// pkg/handler's tests cover the handlers themselves.
			for _, s := range f.stacks {
				vars := mapOf(mapOf(props(s, "TakeSnapshotFunction")["Environment"])["Variables"])
				getenv := func(k string) string { v, _ := vars[k].(string); return v }
				input := fmt.Sprint(mapOf(props(s, "NightlySchedule")["Target"])["Input"])
				events := map[string]string{
					"{}":               "{}",
					"schedule input":   input,
					"ConsoleTestEvent": fmt.Sprint(s.outputs["ConsoleTestEvent"].(map[string]any)["Value"]),
				}
				for name, raw := range events {
					c := handler.LoadSnapshotConfig(getenv, []byte(raw))
					if _, err := c.Validate(func() (string, error) { return "nightly-2026.11.24", nil }); err != nil {
						t.Errorf("%s: take-snapshot rejects %s %s: %v", s.scenario, name, raw, err)
					}
				}
				rvars := mapOf(mapOf(props(s, "RegisterRepoFunction")["Environment"])["Variables"])
				rc := handler.LoadRegisterConfig(func(k string) string { v, _ := rvars[k].(string); return v }, []byte(`{}`))
				if err := rc.Validate(); err != nil {
					t.Errorf("%s: register-repo rejects {} with the stack's environment: %v", s.scenario, err)
				}
				if want := s.conditions["IsReadonly"]; rc.Readonly != want {
					t.Errorf("%s: register-repo readonly = %v, want %v", s.scenario, rc.Readonly, want)
				}
			}
		}},

		{"schedule: take-snapshot, documented input, time zone, retries, DLQ", func(t *testing.T) {
			raw := mapOf(mapOf(mapOf(f.raw["Resources"])["NightlySchedule"])["Properties"])
			if got := fmt.Sprint(mapOf(raw["Target"])["Arn"]); got != "map[Fn::GetAtt:[TakeSnapshotFunction Arn]]" {
				t.Errorf("schedule target = %s, want !GetAtt TakeSnapshotFunction.Arn", got)
			}
			forEachStack(t, f, func(t *testing.T, s *stack) {
				// The drill's schedule is checked in drill_test.go.
				ids := slices.DeleteFunc(resourcesOfType(s, "AWS::Scheduler::Schedule"), func(id string) bool { return id == "DrillSchedule" })
				slices.Sort(ids)
				if !slices.Equal(ids, []string{"NightlySchedule", "RetentionSchedule"}) {
					t.Fatalf("schedules = %v", ids)
				}
				for _, id := range ids {
					checkSchedule(t, s, id, map[string]string{"NightlySchedule": "snapshot", "RetentionSchedule": "retention"}[id])
				}
			})
		}},

		{"alarm: no successful snapshot for 26 hours", func(t *testing.T) {
			forEachStack(t, f, func(t *testing.T, s *stack) {
				var found bool
				for _, id := range resourcesOfType(s, "AWS::CloudWatch::Alarm") {
					p := props(s, id)
					if p["MetricName"] != "SnapshotSucceeded" {
						continue
					}
					found = true
					if p["Namespace"] != s.params["MetricsNamespace"] {
						t.Errorf("%s: Namespace = %v, want the MetricsNamespace parameter", id, p["Namespace"])
					}
					dims := fmt.Sprint(p["Dimensions"])
					if !strings.Contains(dims, "Name:Repository") || !strings.Contains(dims, "Value:"+fmt.Sprint(s.params["RepositoryName"])) {
						t.Errorf("%s: Dimensions = %s, want Repository=<RepositoryName>", id, dims)
					}
					if p["Statistic"] != "Sum" || p["ComparisonOperator"] != "LessThanThreshold" || fmt.Sprint(p["Threshold"]) != "1" {
						t.Errorf("%s: want Sum < 1, got %v %v %v", id, p["Statistic"], p["ComparisonOperator"], p["Threshold"])
					}
					if p["TreatMissingData"] != "breaching" {
						t.Errorf("%s: TreatMissingData = %v, want breaching (a schedule that never runs must alarm)", id, p["TreatMissingData"])
					}
					period := asInt(t, p["Period"])
					evals := asInt(t, p["EvaluationPeriods"])
					if dp, ok := p["DatapointsToAlarm"]; ok && asInt(t, dp) != evals {
						t.Errorf("%s: DatapointsToAlarm %v != EvaluationPeriods %d", id, dp, evals)
					}
					if window := period * evals; window != 26*3600 {
						t.Errorf("%s: window %ds, want 26h with the default parameters", id, window)
					}
					if period < 3600 || period*evals > 7*24*3600 {
						t.Errorf("%s: Period %d x %d outside CloudWatch limits", id, period, evals)
					}
					if len(strs(p["AlarmActions"])) == 0 {
						t.Errorf("%s: no AlarmActions", id)
					}
				}
				if writable := !s.conditions["IsReadonly"]; found != writable {
					t.Errorf("alarm on SnapshotSucceeded present = %v, want %v (only a writable repository takes snapshots)", found, writable)
				}
			})
		}},

		{"failure visibility: error alarms, SNS topic, e-mail, on-failure destinations", func(t *testing.T) {
			forEachStack(t, f, func(t *testing.T, s *stack) {
				topics := resourcesOfType(s, "AWS::SNS::Topic")
				if len(topics) != 1 {
					t.Fatalf("SNS topics = %v, want one", topics)
				}
				topicArn := fmt.Sprintf("arn:aws:sns:%s:%s:%s", testRegion, testAccount, physicalID(topics[0]))
				subs := resourcesOfType(s, "AWS::SNS::Subscription")
				if wantEmail := s.params["AlarmEmail"] != ""; wantEmail != (len(subs) == 1) {
					t.Errorf("AlarmEmail %q, subscriptions %v", s.params["AlarmEmail"], subs)
				}
				for _, id := range subs {
					p := props(s, id)
					if p["Protocol"] != "email" || p["Endpoint"] != s.params["AlarmEmail"] || p["TopicArn"] != topicArn {
						t.Errorf("%s = %v", id, p)
					}
				}
				for _, fn := range functions {
					if consoleOnly[fn.id] {
						continue
					}
					var alarmed bool
					for _, id := range resourcesOfType(s, "AWS::CloudWatch::Alarm") {
						p := props(s, id)
						if p["Namespace"] == "AWS/Lambda" && p["MetricName"] == "Errors" &&
							strings.Contains(fmt.Sprint(p["Dimensions"]), physicalID(fn.id)) {
							alarmed = true
							if !slices.Contains(strs(p["AlarmActions"]), topicArn) {
								t.Errorf("%s does not notify the topic", id)
							}
						}
					}
					if !alarmed {
						t.Errorf("%s: no Errors alarm", fn.id)
					}
					onFailure := mapOf(mapOf(mapOf(props(s, fn.id)["EventInvokeConfig"])["DestinationConfig"])["OnFailure"])
					if onFailure["Type"] != "SNS" && onFailure["Type"] != "SQS" {
						t.Errorf("%s: no on-failure destination for async invocations", fn.id)
					}
					dest := fmt.Sprint(onFailure["Destination"])
					var canSend bool
					for _, st := range roleStatements(s, fn.role) {
						if slices.Contains(strs(st["Resource"]), dest) && slices.ContainsFunc(strs(st["Action"]), func(a string) bool { return a == "sns:Publish" || a == "sqs:SendMessage" }) {
							canSend = true
						}
					}
					if !canSend {
						t.Errorf("%s: role %s cannot deliver to its on-failure destination %s", fn.id, fn.role, dest)
					}
				}
			})
		}},

		{"log groups with retention, one per function, written only by it", func(t *testing.T) {
			forEachStack(t, f, func(t *testing.T, s *stack) {
				for _, fn := range functions {
					lg := fmt.Sprint(mapOf(props(s, fn.id)["LoggingConfig"])["LogGroup"])
					var groupID string
					for _, id := range resourcesOfType(s, "AWS::Logs::LogGroup") {
						if fmt.Sprint(props(s, id)["LogGroupName"]) == lg || physicalID(id) == lg {
							groupID = id
						}
					}
					if groupID == "" {
						t.Errorf("%s: LoggingConfig.LogGroup %q is not a log group of this stack", fn.id, lg)
						continue
					}
					if r := props(s, groupID)["RetentionInDays"]; r == nil || fmt.Sprint(r) == "" {
						t.Errorf("%s: no RetentionInDays", groupID)
					}
					// A role shared by functions (register-repo and the doctor)
					// writes to their log groups, no other.
					groupArn := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", testRegion, testAccount, physicalID(groupID))
					for _, st := range roleStatements(s, fn.role) {
						for _, a := range strs(st["Action"]) {
							if !strings.HasPrefix(a, "logs:") {
								continue
							}
							if res := strs(st["Resource"]); !slices.Contains(res, groupArn) || !sameSet(res, logGroupsOf(s, fn.role)) {
								t.Errorf("%s: %s on %v, want only the log groups of its functions %v", fn.role, a, res, logGroupsOf(s, fn.role))
							}
						}
					}
				}
			})
		}},

		{"VPC placement only through the InVpc condition", func(t *testing.T) {
			forEachStack(t, f, func(t *testing.T, s *stack) {
				inVpc := s.conditions["InVpc"]
				for _, fn := range functions {
					vpc, has := props(s, fn.id)["VpcConfig"]
					if has != inVpc {
						t.Errorf("%s: VpcConfig present = %v, subnets given = %v", fn.id, has, inVpc)
					}
					if has && !slices.Equal(strs(mapOf(vpc)["SubnetIds"]), []string{"subnet-0aaa", "subnet-0bbb"}) {
						t.Errorf("%s: VpcConfig = %v", fn.id, vpc)
					}
					managed := strings.Join(strs(props(s, fn.role)["ManagedPolicyArns"]), ",")
					if strings.Contains(managed, "AWSLambdaVPCAccessExecutionRole") != inVpc {
						t.Errorf("%s: ManagedPolicyArns = %q with InVpc = %v", fn.role, managed, inVpc)
					}
				}
			})
		}},

		{"every parameter is used", func(t *testing.T) {
			used := map[string]bool{}
			for _, section := range []string{"Conditions", "Globals", "Resources", "Outputs"} {
				walk(section, f.raw[section], func(_ string, v any) {
					m := mapOf(v)
					if name, ok := m["Ref"].(string); ok {
						used[name] = true
					}
					if sub, ok := m["Fn::Sub"]; ok {
						args := listOf(sub)
						for _, match := range subVar.FindAllStringSubmatch(fmt.Sprint(args[0]), -1) {
							used[strings.SplitN(match[1], ".", 2)[0]] = true
						}
					}
				})
			}
			for _, name := range sortedKeys(mapOf(f.raw["Parameters"])) {
				if !used[name] {
					t.Errorf("parameter %s is never referenced", name)
				}
			}
		}},

		{"parameters: defaults are sane and every parameter is grouped", func(t *testing.T) {
			params := mapOf(f.raw["Parameters"])
			if d := fmt.Sprint(mapOf(params["RepositoryName"])["Default"]); strings.HasPrefix(d, "cs-") {
				t.Errorf("RepositoryName default %q starts with cs- (reserved on AWS)", d)
			}
			if d := fmt.Sprint(mapOf(params["ScheduleExpression"])["Default"]); d != "cron(0 3 * * ? *)" {
				t.Errorf("ScheduleExpression default = %q", d)
			}
			if d := fmt.Sprint(mapOf(params["StaleSnapshotAlarmHours"])["Default"]); d != "26" {
				t.Errorf("StaleSnapshotAlarmHours default = %q", d)
			}
			grouped := map[string]bool{}
			iface := mapOf(mapOf(f.raw["Metadata"])["AWS::CloudFormation::Interface"])
			for _, g := range listOf(iface["ParameterGroups"]) {
				for _, p := range strs(mapOf(g)["Parameters"]) {
					grouped[p] = true
				}
			}
			for _, name := range sortedKeys(params) {
				if !grouped[name] {
					t.Errorf("parameter %s is in no ParameterGroup", name)
				}
				for _, opt := range []string{"ExistingBucketName", "KmsKeyArn", "SubnetIds", "SecurityGroupIds", "AlarmEmail"} {
					if name == opt && fmt.Sprint(mapOf(params[name])["Default"]) != "" {
						t.Errorf("optional parameter %s must default to empty", name)
					}
				}
			}
		}},

		{"no hard-coded partition, account or region in resources and outputs", func(t *testing.T) {
			bad := regexp.MustCompile(`arn:aws:|\b\d{12}\b|\b(us|eu|ap|sa|ca|me|af|il|mx)-(east|west|north|south|central|northeast|southeast)-\d\b`)
			for _, section := range []string{"Globals", "Resources", "Outputs"} {
				walk(section, f.raw[section], func(path string, v any) {
					if s, ok := v.(string); ok && bad.MatchString(s) {
						t.Errorf("%s: %q hard-codes a partition, account or region", path, s)
					}
				})
			}
		}},

		{"outputs", func(t *testing.T) {
			s := f.stacks[0]
			for _, k := range []string{"SnapshotRoleArn", "BucketName", "RegisterRepoFunctionName", "TakeSnapshotFunctionName", "RestoreFunctionName", "FunctionRoleArns", "AlarmTopicArn", "ConsoleTestEvent", "DoctorFunctionName", "DoctorConsoleEvent"} {
				if _, ok := s.outputs[k]; !ok {
					t.Errorf("output %s missing", k)
				}
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(fmt.Sprint(mapOf(s.outputs["ConsoleTestEvent"])["Value"])), &ev); err != nil {
				t.Errorf("ConsoleTestEvent is not JSON: %v", err)
			}
			if got := fmt.Sprint(mapOf(s.outputs["SnapshotRoleArn"])["Value"]); got != snapshotRoleArn(s) {
				t.Errorf("SnapshotRoleArn output = %s", got)
			}
			if got := fmt.Sprint(mapOf(s.outputs["BucketName"])["Value"]); got != bucketName(s) {
				t.Errorf("BucketName output = %s", got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

// makeRecipe returns the recipe lines of a Makefile target.
func makeRecipe(makefile, target string) string {
	var out []string
	in := false
	for _, line := range strings.Split(makefile, "\n") {
		switch {
		case strings.HasPrefix(line, target+":"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			out = append(out, line)
		case in:
			return strings.Join(out, "\n")
		}
	}
	return strings.Join(out, "\n")
}

func checkPrefixCondition(t *testing.T, st map[string]any, base string) {
	t.Helper()
	prefixes := strs(mapOf(mapOf(st["Condition"])["StringLike"])["s3:prefix"])
	if len(prefixes) == 0 {
		t.Errorf("ListBucket without an s3:prefix condition: %v", st)
	}
	for _, p := range prefixes {
		if p != base && !strings.HasPrefix(p, base+"/") {
			t.Errorf("ListBucket s3:prefix %q is outside the base path %q", p, base)
		}
	}
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func asInt(t *testing.T, v any) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(fmt.Sprint(v), &n); err != nil {
		t.Errorf("%v is not an integer", v)
	}
	return n
}

// checkSchedule asserts one schedule: it invokes only take-snapshot with an
// input the handler accepts for action, in a real time zone, with retries,
// a dead-letter queue and a role that may do nothing else.
func checkSchedule(t *testing.T, s *stack, id, action string) {
	t.Helper()
	p := props(s, id)
	target := mapOf(p["Target"])

	var in map[string]any
	if err := json.Unmarshal([]byte(fmt.Sprint(target["Input"])), &in); err != nil {
		t.Fatalf("schedule Input %v is not a JSON object: %v", target["Input"], err)
	}
	if in["trigger"] != "schedule" {
		t.Errorf("schedule Input trigger = %v, want schedule", in["trigger"])
	}
	wantState := fmt.Sprint(s.params["ScheduleState"])
	if s.conditions["IsReadonly"] {
		wantState = "DISABLED"
	}
	if p["State"] != wantState {
		t.Errorf("schedule State = %v, want %s", p["State"], wantState)
	}
	tz := fmt.Sprint(p["ScheduleExpressionTimezone"])
	if tz == "" {
		t.Error("ScheduleExpressionTimezone not set")
	} else if _, err := time.LoadLocation(tz); err != nil {
		t.Errorf("ScheduleExpressionTimezone %q: %v", tz, err)
	}
	if !regexp.MustCompile(`^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$`).MatchString(fmt.Sprint(p["ScheduleExpression"])) {
		t.Errorf("default ScheduleExpression %v is not a 6-field cron()", p["ScheduleExpression"])
	}
	if mapOf(target["RetryPolicy"])["MaximumRetryAttempts"] == nil {
		t.Error("no RetryPolicy.MaximumRetryAttempts")
	}
	dlq := fmt.Sprint(mapOf(target["DeadLetterConfig"])["Arn"])
	if !strings.HasPrefix(dlq, "arn:aws:sqs:") {
		t.Errorf("DeadLetterConfig.Arn = %s, want an SQS queue", dlq)
	}
	fnArn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", testRegion, testAccount, physicalID("TakeSnapshotFunction"))
	if target["Arn"] != fnArn {
		t.Errorf("%s targets %v, want take-snapshot %s", id, target["Arn"], fnArn)
	}
	var role string
	for _, id := range resourcesOfType(s, "AWS::IAM::Role") {
		if fmt.Sprintf("arn:aws:iam::%s:role/%s", testAccount, physicalID(id)) == target["RoleArn"] {
			role = id
		}
	}
	if role == "" {
		t.Fatalf("schedule RoleArn %v is not a role of this stack", target["RoleArn"])
	}
	trust := fmt.Sprint(props(s, role)["AssumeRolePolicyDocument"])
	if !strings.Contains(trust, "scheduler.amazonaws.com") {
		t.Errorf("%s is not assumable by scheduler.amazonaws.com", role)
	}
	for _, st := range roleStatements(s, role) {
		for _, a := range strs(st["Action"]) {
			switch a {
			case "lambda:InvokeFunction":
				if r := strs(st["Resource"]); !slices.Equal(r, []string{fnArn}) {
					t.Errorf("%s may invoke %v, want only take-snapshot", role, r)
				}
			case "sqs:SendMessage":
				if r := strs(st["Resource"]); !slices.Equal(r, []string{dlq}) {
					t.Errorf("%s may send to %v, want only the DLQ", role, r)
				}
			default:
				t.Errorf("%s has unexpected action %s", role, a)
			}
		}
	}
	c := handler.SnapshotConfig{Action: "snapshot"}
	if l := config.Load(&c, func(string) string { return "" }, []byte(fmt.Sprint(target["Input"]))); len(l.Problems) > 0 {
		t.Fatalf("%s Input is not a take-snapshot event: %v", id, l.Problems)
	}
	if got := c.Action; got != action {
		t.Errorf("%s Input action = %s, want %s", id, got, action)
	}
}
