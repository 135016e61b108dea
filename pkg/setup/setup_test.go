package setup

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/essnap/essnap/internal/golden"
	"github.com/essnap/essnap/pkg/model"
)

const (
	acct      = "123456789012"
	domainArn = "arn:aws:es:ap-northeast-1:123456789012:domain/logs"
	roleArn   = "arn:aws:iam::123456789012:role/essnap-SnapshotRole-abc"
)

func mustRole(t *testing.T, s string) RoleARN {
	t.Helper()
	r, err := ParseRoleARN(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustDomain(t *testing.T, s string) *DomainARN {
	t.Helper()
	d, err := ParseDomainARN(s)
	if err != nil {
		t.Fatal(err)
	}
	return &d
}

func TestParseRoleARN(t *testing.T) {
	ok := map[string]RoleARN{
		roleArn: {ARN: roleArn, Partition: "aws", Account: acct, Path: "/", Name: "essnap-SnapshotRole-abc"},
		"arn:aws-cn:iam::123456789012:role/service-role/snap/R+=,.@-x": {ARN: "arn:aws-cn:iam::123456789012:role/service-role/snap/R+=,.@-x",
			Partition: "aws-cn", Account: acct, Path: "/service-role/snap/", Name: "R+=,.@-x"},
	}
	for in, want := range ok {
		got, err := ParseRoleARN(in)
		if err != nil || got != want {
			t.Errorf("ParseRoleARN(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"", "SnapshotRole", "arn:aws:iam::123456789012:user/x", "arn:aws:iam::12345:role/x",
		"arn:aws:iam::123456789012:role/", "arn:aws:iam::123456789012:role/a/", "arn:aws:iam::123456789012:role/a b",
		"arn:aws:iam::123456789012:role/" + strings.Repeat("n", 65), "arn:aws:sts::123456789012:assumed-role/R/s",
		"arn:aws:iam:eu-west-1:123456789012:role/x", " arn:aws:iam::123456789012:role/x",
	} {
		if r, err := ParseRoleARN(bad); err == nil {
			t.Errorf("ParseRoleARN(%q) = %+v, want an error", bad, r)
		}
	}
}

func TestParseDomainARN(t *testing.T) {
	d, err := ParseDomainARN(domainArn)
	if err != nil || d.Region != "ap-northeast-1" || d.Account != acct || d.Name != "logs" || d.Partition != "aws" {
		t.Errorf("ParseDomainARN = %+v, %v", d, err)
	}
	for _, bad := range []string{"", "logs", "arn:aws:es:ap-northeast-1:123456789012:domain/Logs", "arn:aws:es:ap-northeast-1:123456789012:domain/logs/*",
		"arn:aws:es::123456789012:domain/logs", "arn:aws:iam::123456789012:role/logs"} {
		if _, err := ParseDomainARN(bad); err == nil {
			t.Errorf("ParseDomainARN(%q) accepted", bad)
		}
	}
}

func TestCallerPrincipal(t *testing.T) {
	for in, want := range map[string]Principal{
		"arn:aws:sts::123456789012:assumed-role/essnap-RegisterRepoRole-x/essnap-register": {ARN: "arn:aws:iam::123456789012:role/essnap-RegisterRepoRole-x", RoleName: "essnap-RegisterRepoRole-x"},
		"arn:aws:iam::123456789012:user/ops/alice":                                         {ARN: "arn:aws:iam::123456789012:user/ops/alice"},
		"arn:aws:iam::123456789012:root":                                                   {ARN: "arn:aws:iam::123456789012:root", Root: true},
	} {
		got, err := CallerPrincipal(in)
		if err != nil || got != want {
			t.Errorf("CallerPrincipal(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "arn:aws:sts::123456789012:federated-user/bob"} {
		if _, err := CallerPrincipal(bad); err == nil {
			t.Errorf("CallerPrincipal(%q) accepted", bad)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		p, v string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{domainArn + "/*", domainArn + "/x", true}, {domainArn + "/*", domainArn, false},
		{"arn:aws:es:*:123456789012:domain/*", domainArn, true}, {"*logs", domainArn, true}, {"*logz", domainArn, false},
		{"a*b*c", "aXbYbZc", true}, {"a*b*c", "aXbYbZ", false},
	} {
		if got := match(c.p, c.v, false); got != c.want {
			t.Errorf("match(%q, %q) = %v", c.p, c.v, got)
		}
	}
	if !match("STS:AssumeRole", "sts:assumerole", true) {
		t.Error("actions are case-insensitive")
	}
}

// trustDoc is a trust policy with one statement.
func trustDoc(statement string) string {
	return `{"Version":"2012-10-17","Statement":[` + statement + `]}`
}

// The trust cases of issue 13: the stack's own trust policy, the same
// URL-encoded as GetRole returns it, wrong principals, another domain or
// account, denies, and conditions that cannot be evaluated here.
func TestEvaluateTrust(t *testing.T) {
	good := `{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":["` + domainArn + `","` + domainArn + `/*"]}}}`
	cases := []struct {
		name    string
		policy  string
		domain  bool // domain ARN known
		account string
		want    Status
	}{
		{"stack trust policy", trustDoc(good), true, "", OK},
		{"url-encoded as GetRole returns it", url.QueryEscape(trustDoc(good)), true, "", OK},
		{"single statement object", `{"Version":"2012-10-17","Statement":` + good + `}`, true, "", OK},
		{"no conditions", trustDoc(`{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","es.amazonaws.com"]},"Action":["sts:AssumeRole"]}`), true, "", OK},
		{"sts:* action", trustDoc(`{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"},"Action":"sts:*"}`), true, "", OK},
		{"wrong principal", trustDoc(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`), true, "", Fail},
		{"opensearchservice principal", trustDoc(`{"Effect":"Allow","Principal":{"Service":"opensearchservice.amazonaws.com"},"Action":"sts:AssumeRole"}`), true, "", Fail},
		{"wrong action", trustDoc(`{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"},"Action":"sts:TagSession"}`), true, "", Fail},
		{"another domain", trustDoc(strings.ReplaceAll(good, "domain/logs", "domain/other")), true, "", Fail},
		{"another account", trustDoc(strings.Replace(good, `"aws:SourceAccount":"123456789012"`, `"aws:SourceAccount":"210987654321"`, 1)), true, "", Fail},
		{"ArnEquals exact", trustDoc(`{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"ArnEquals":{"aws:SourceArn":"` + domainArn + `"}}}`), true, "", OK},
		{"condition key case", trustDoc(`{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"AWS:SOURCEACCOUNT":"123456789012"}}}`), true, "", OK},
		{"explicit deny", trustDoc(good + `,{"Effect":"Deny","Principal":{"Service":"es.amazonaws.com"},"Action":"sts:AssumeRole"}`), true, "", Fail},
		{"deny for another domain only", trustDoc(good + `,{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:es:*:*:domain/other"}}}`), true, "", OK},
		{"unknown condition key", trustDoc(`{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceOrgID":"o-abc"}}}`), true, "", Warn},
		{"domain ARN unknown", trustDoc(good), false, acct, Warn},
		{"account only, domain unknown", trustDoc(`{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}}}`), false, acct, OK},
		{"any principal", trustDoc(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}`), true, "", OK},
		{"not JSON", "{not json", true, "", Fail},
		{"no statement", `{"Version":"2012-10-17"}`, true, "", Fail},
	}
	var all []Check
	for _, c := range cases {
		in := TrustInput{Role: mustRole(t, roleArn), Policy: c.policy, Account: c.account}
		if c.domain {
			in.Domain = mustDomain(t, domainArn)
		}
		got := EvaluateTrust(in)
		if got.Status != c.want {
			t.Errorf("%s: status %s, want %s: %s", c.name, got.Status, c.want, got.Detail)
		}
		if got.Status != OK && got.Fix == "" {
			t.Errorf("%s: %s without a fix", c.name, got.Status)
		}
		got.Check = c.name // the golden file is keyed by case
		all = append(all, got)
	}
	golden.JSON(t, "testdata/trust.golden.json", all)
}

// The fix of a failed trust check is a statement that passes the check.
func TestTrustFixPasses(t *testing.T) {
	d := mustDomain(t, domainArn)
	st := TrustStatement(d, "")
	got := EvaluateTrust(TrustInput{Role: mustRole(t, roleArn), Policy: trustDoc(st.JSON()), Domain: d})
	if got.Status != OK {
		t.Fatalf("the pasted statement %s gives %s: %s", st.JSON(), got.Status, got.Detail)
	}
	other := mustDomain(t, "arn:aws:es:ap-northeast-1:123456789012:domain/other")
	if got := EvaluateTrust(TrustInput{Role: mustRole(t, roleArn), Policy: trustDoc(st.JSON()), Domain: other}); got.Status != Fail {
		t.Fatalf("the statement for logs must not trust domain other: %s", got.Status)
	}
}

// The simulation inputs: what is asked, with which condition keys, and
// the statements to paste.
func TestRequirements(t *testing.T) {
	role := mustRole(t, roleArn)
	reqs := S3Requirements(role, "essnap-snapshots", "essnap/logs", false)
	reqs = append(reqs, S3Requirements(mustRole(t, "arn:aws-cn:iam::123456789012:role/R"), "b", "", true)...)
	reqs = append(reqs, PassRoleRequirement("arn:aws:iam::123456789012:role/essnap-RegisterRepoRole-x", role))
	type row struct {
		What       string
		Simulation Simulation
		Statement  string
	}
	var rows []row
	for _, r := range reqs {
		rows = append(rows, row{r.What, r.Simulation, r.Statement.JSON()})
	}
	golden.JSON(t, "testdata/requirements.golden.json", rows)
}

// Verdicts from SimulatePrincipalPolicy results: allowed, implicitly
// denied (some or all actions), explicitly denied, no result.
func TestVerdict(t *testing.T) {
	role := mustRole(t, roleArn)
	obj := S3Requirements(role, "essnap-snapshots", "essnap", false)[1]
	pass := PassRoleRequirement("arn:aws:iam::123456789012:role/fn", role)
	ev := func(a, d string, matched ...string) Evaluation {
		return Evaluation{Action: a, Decision: d, Matched: matched}
	}
	cases := []struct {
		name  string
		req   Requirement
		evals []Evaluation
		want  Status
	}{
		{"all allowed", obj, []Evaluation{ev("s3:GetObject", Allowed), ev("s3:PutObject", Allowed), ev("s3:DeleteObject", Allowed)}, OK},
		{"delete implicitly denied", obj, []Evaluation{ev("s3:GetObject", Allowed), ev("s3:PutObject", Allowed), ev("s3:DeleteObject", ImplicitDeny)}, Fail},
		{"no result for put", obj, []Evaluation{ev("s3:GetObject", Allowed), ev("s3:DeleteObject", Allowed)}, Fail},
		{"pass role implicit deny", pass, []Evaluation{{Action: "iam:PassRole", Decision: ImplicitDeny, MissingContext: []string{"iam:PassedToService"}}}, Fail},
		{"pass role explicit deny", pass, []Evaluation{ev("iam:PassRole", ExplicitDeny, "deny-passrole")}, Fail},
		{"pass role allowed", pass, []Evaluation{ev("iam:PassRole", Allowed, "register-repo")}, OK},
	}
	var all []Check
	for _, c := range cases {
		got := Verdict(c.req, c.evals)
		if got.Status != c.want {
			t.Errorf("%s: %s, want %s (%s)", c.name, got.Status, c.want, got.Detail)
		}
		got.Check = c.name
		all = append(all, got)
	}
	golden.JSON(t, "testdata/verdict.golden.json", all)
	if m := Merge(CheckS3, all[0], all[1]); m.Status != Fail || !strings.Contains(m.Fix, `"Action":"s3:DeleteObject"`) || strings.Contains(m.Detail, ": allowed") {
		t.Errorf("merge: %+v", m)
	}
}

func TestDailyTime(t *testing.T) {
	for expr, want := range map[string][2]int{"cron(0 3 * * ? *)": {3, 0}, "cron(45 23 ? * MON-FRI *)": {23, 45}} {
		h, m, ok := DailyTime(expr)
		if !ok || h != want[0] || m != want[1] {
			t.Errorf("DailyTime(%s) = %d:%d %v", expr, h, m, ok)
		}
	}
	for _, expr := range []string{"rate(1 day)", "at(2026-11-24T03:00:00)", "cron(0/15 3 * * ? *)", "cron(0 1,13 * * ? *)", "cron(0 24 * * ? *)", "cron(0 3 * *)"} {
		if _, _, ok := DailyTime(expr); ok {
			t.Errorf("DailyTime(%s) ok", expr)
		}
	}
}

// automated returns hourly (or, with every=24h, daily) automated snapshots
// of the last week starting at minute start past the hour (UTC) and
// running dur.
func automated(now time.Time, start int, dur, every time.Duration) []model.Snapshot {
	var out []model.Snapshot
	first := now.Add(-lookBack).Truncate(every).Add(time.Duration(start) * time.Minute)
	for t := first; t.Before(now); t = t.Add(every) {
		out = append(out, model.Snapshot{Name: "auto-" + t.Format("2006.01.02-15.04"), State: model.StateSuccess, Start: t, End: t.Add(dur)})
	}
	return out
}

func TestAutomatedCollision(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	now := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	hourly := automated(now, 2, 4*time.Minute, time.Hour)
	daily := automated(now, 0, 20*time.Minute, 24*time.Hour) // 00:00-00:20 UTC daily (from the truncated start)
	cases := []struct {
		name  string
		expr  string
		tz    *time.Location
		snaps []model.Snapshot
		want  Status
	}{
		{"hourly collision", "cron(0 3 * * ? *)", tokyo, hourly, Warn},
		{"hourly clear", "cron(30 3 * * ? *)", tokyo, hourly, OK},
		{"daily collision", "cron(10 9 * * ? *)", tokyo, daily, Warn}, // 09:10 JST = 00:10 UTC
		{"daily clear", "cron(0 3 * * ? *)", time.UTC, daily, OK},
		{"no automated snapshots", "cron(0 3 * * ? *)", tokyo, nil, OK},
		{"no schedule", "", tokyo, hourly, OK},
		{"rate schedule", "rate(1 day)", tokyo, hourly, OK},
		{"old snapshots ignored", "cron(0 3 * * ? *)", tokyo, automated(now.Add(-30*24*time.Hour), 2, 4*time.Minute, time.Hour), OK},
	}
	var all []Check
	for _, c := range cases {
		got := AutomatedCollision(c.expr, c.tz, now, c.snaps)
		if got.Status != c.want {
			t.Errorf("%s: %s, want %s: %s", c.name, got.Status, c.want, got.Detail)
		}
		if got.Status == Warn {
			// The suggested schedule is clear.
			i, j := strings.Index(got.Fix, "cron("), strings.Index(got.Fix, "* * ? *)")
			if i < 0 || j < 0 {
				t.Fatalf("%s: fix without a schedule: %s", c.name, got.Fix)
			}
			if again := AutomatedCollision(got.Fix[i:j+len("* * ? *)")], c.tz, now, c.snaps); again.Status != OK {
				t.Errorf("%s: the suggested %s still collides: %s", c.name, got.Fix[i:j+8], again.Detail)
			}
		}
		got.Check = c.name
		all = append(all, got)
	}
	golden.JSON(t, "testdata/automated.golden.json", all)
}

func TestSnapshotAge(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	snap := func(name, state string, ago time.Duration) model.Snapshot {
		return model.Snapshot{Name: name, State: state, Start: now.Add(-ago - time.Minute), End: now.Add(-ago)}
	}
	cases := []struct {
		name     string
		snaps    []model.Snapshot
		readonly bool
		want     Status
	}{
		{"fresh", []model.Snapshot{snap("nightly-a", model.StateSuccess, 30*time.Hour), snap("nightly-b", model.StateSuccess, 9*time.Hour)}, false, OK},
		{"stale", []model.Snapshot{snap("nightly-a", model.StateSuccess, 27*time.Hour)}, false, Fail},
		{"newer one failed", []model.Snapshot{snap("nightly-a", model.StateSuccess, 30*time.Hour), snap("nightly-b", model.StatePartial, time.Hour)}, false, Fail},
		{"only failed", []model.Snapshot{snap("nightly-b", model.StateFailed, time.Hour)}, false, Fail},
		{"empty", nil, false, Warn},
		{"readonly", nil, true, OK},
	}
	var all []Check
	for _, c := range cases {
		got := SnapshotAge(c.snaps, "essnap", now, 26, c.readonly)
		if got.Status != c.want {
			t.Errorf("%s: %s, want %s: %s", c.name, got.Status, c.want, got.Detail)
		}
		got.Check = c.name
		all = append(all, got)
	}
	golden.JSON(t, "testdata/snapshot_age.golden.json", all)
}

func TestFineGrained(t *testing.T) {
	caller := "arn:aws:iam::123456789012:role/essnap-RegisterRepoRole-x"
	cases := []struct {
		name string
		a    Access
		want Status
	}{
		{"off", Access{}, OK},
		{"mapped", Access{Plugin: true, User: caller, BackendRoles: []string{caller}, Roles: []string{"manage_snapshots", "own_index"}}, OK},
		{"all_access", Access{Plugin: true, User: caller, Roles: []string{"all_access"}}, OK},
		{"not mapped", Access{Plugin: true, User: caller, BackendRoles: []string{caller}, Roles: []string{"own_index"}}, Warn},
		{"refused", Access{Plugin: true, Denied: "no permissions for [cluster:admin/repository/get] and User [name=" + caller + ", backend_roles=[" + caller + "], requestedTenant=null]"}, Fail},
	}
	var all []Check
	for _, c := range cases {
		got := FineGrained(c.a, caller)
		if got.Status != c.want {
			t.Errorf("%s: %s, want %s", c.name, got.Status, c.want)
		}
		if got.Status != OK && !strings.Contains(got.Fix, "rolesmapping/manage_snapshots") {
			t.Errorf("%s: fix %q does not say how to map", c.name, got.Fix)
		}
		got.Check = c.name
		all = append(all, got)
	}
	golden.JSON(t, "testdata/fine_grained.golden.json", all)
}

func TestWorst(t *testing.T) {
	if Worst(nil) != OK || Worst([]Check{{Status: OK}, {Status: Warn}}) != Warn || Worst([]Check{{Status: Fail}, {Status: Warn}}) != Fail {
		t.Error("Worst")
	}
}
