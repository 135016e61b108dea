package setup

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/essnap/essnap/pkg/model"
)

// Check names of the domain-side verdicts.
const (
	CheckIdentity       = "caller_identity"
	CheckDomain         = "domain"
	CheckDomainAccess   = "domain_access"
	CheckFineGrained    = "fine_grained_access"
	CheckRepository     = "repository"
	CheckNewestSnapshot = "newest_snapshot"
)

// DomainVerbs are the HTTP verbs essnap's functions send to a domain.
var DomainVerbs = []string{"es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPut", "es:ESHttpPost", "es:ESHttpDelete"}

// DomainAccessStatement is the statement of a domain access policy that
// lets principal use the domain's HTTP API.
func DomainAccessStatement(principal, domainARN string) Statement {
	res := "arn:aws:es:REGION:ACCOUNT:domain/NAME/*"
	if domainARN != "" {
		res = domainARN + "/*"
	}
	if principal == "" {
		principal = "arn:aws:iam::ACCOUNT:role/FUNCTION-ROLE"
	}
	return Statement{
		Effect:    "Allow",
		Principal: &PolicyPrincipal{ByID: map[string]StringList{"AWS": {principal}}},
		Action:    DomainVerbs,
		Resource:  StringList{res},
	}
}

// Access is what the domain's security plugin says about the caller, and
// whether a snapshot API refused it.
type Access struct {
	// Plugin is true when a security plugin answered (fine-grained access
	// control is on).
	Plugin       bool
	User         string
	BackendRoles []string
	Roles        []string
	// Denied is the reason of a 403 security_exception from a snapshot or
	// repository API ("no permissions for [cluster:admin/repository/get]"),
	// "" when none was refused.
	Denied string
}

// snapshotRoles are the built-in roles that may manage snapshots.
var snapshotRoles = []string{"manage_snapshots", "all_access"}

// FineGrained judges the fine-grained access control mapping of caller
// (its role ARN, the backend role AWS maps): a refused snapshot API fails;
// a mapping to manage_snapshots or all_access is ok; other roles may
// still grant the snapshot permissions, so that is a warning.
func FineGrained(a Access, caller string) Check {
	c := Check{Check: CheckFineGrained}
	fix := mappingFix(caller)
	switch {
	case a.Denied != "":
		c.Status, c.Fix = Fail, fix
		c.Detail = "fine-grained access control refused the caller a snapshot API: " + a.Denied
	case !a.Plugin:
		c.Status = OK
		c.Detail = "fine-grained access control is off (no security plugin answered)"
	case slices.ContainsFunc(a.Roles, func(r string) bool { return slices.Contains(snapshotRoles, r) }):
		c.Status = OK
		c.Detail = fmt.Sprintf("user %s is mapped to roles %s", a.User, strings.Join(a.Roles, ", "))
	default:
		c.Status, c.Fix = Warn, fix
		roles := "no role"
		if len(a.Roles) > 0 {
			roles = "roles " + strings.Join(a.Roles, ", ")
		}
		c.Detail = fmt.Sprintf("user %s (backend roles %s) has %s, none of them manage_snapshots or all_access; snapshots fail unless a custom role grants cluster:admin/snapshot/* and cluster:admin/repository/*",
			a.User, strings.Join(a.BackendRoles, ", "), roles)
	}
	return c
}

// mappingFix says how to map the caller to manage_snapshots.
func mappingFix(caller string) string {
	if caller == "" {
		caller = "arn:aws:iam::ACCOUNT:role/FUNCTION-ROLE"
	}
	return fmt.Sprintf("Map the function roles (stack output FunctionRoleArns; this one is %s) as backend roles of manage_snapshots: OpenSearch Dashboards > Security > Roles > manage_snapshots > Mapped users, or PUT _plugins/_security/api/rolesmapping/manage_snapshots (Elasticsearch 7.10: _opendistro/_security/api/rolesmapping/manage_snapshots) {\"backend_roles\":[\"%s\"]} keeping the backend roles already mapped.",
		caller, caller)
}

// SnapshotAge judges the newest SUCCESS snapshot of repo against the
// stale-snapshot alarm (alarmHours without a successful snapshot). A
// readonly repository (a migration target) takes no snapshots.
func SnapshotAge(snaps []model.Snapshot, repo string, now time.Time, alarmHours int, readonly bool) Check {
	c := Check{Check: CheckNewestSnapshot}
	newest, found := model.Newest(snaps, model.Succeeded)
	if readonly {
		c.Status = OK
		c.Detail = fmt.Sprintf("repository %s is readonly (a migration target): this domain takes no snapshots into it", repo)
		return c
	}
	takeFix := "Invoke take-snapshot with {} and read its log; check that the NightlySchedule is ENABLED and its dead-letter queue is empty."
	if !found {
		if latest, seen := model.Newest(snaps, nil); seen {
			c.Status, c.Fix = Fail, takeFix
			c.Detail = fmt.Sprintf("repository %s holds no SUCCESS snapshot; the newest, %s, is %s", repo, latest.Name, latest.State)
			return c
		}
		c.Status = Warn
		c.Detail = fmt.Sprintf("repository %s holds no snapshot yet", repo)
		c.Fix = "Invoke take-snapshot with {} (or wait for the nightly schedule); the stale-snapshot alarm fires after " + fmt.Sprint(alarmHours) + " hours without one."
		return c
	}
	at := newest.End
	if at.IsZero() {
		at = newest.Start
	}
	age := now.Sub(at)
	limit := time.Duration(alarmHours) * time.Hour
	c.Detail = fmt.Sprintf("the newest SUCCESS snapshot, %s, finished %s ago (the alarm fires after %d hours)", newest.Name, roundAge(age), alarmHours)
	if age >= limit {
		c.Status, c.Fix = Fail, takeFix
		return c
	}
	c.Status = OK
	return c
}

// roundAge prints an age in hours and minutes.
func roundAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Minute)
	h, m := int(d.Hours()), int(d.Minutes())%60
	if h == 0 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh%02dm", h, m)
}
