package template

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/metrics"
)

// The drill function: built by its Makefile target, its own role (GET,
// HEAD, POST on the domain; DELETE only on essnap-drill-*), its log group,
// a weekly schedule that DISABLED turns off with its alarms, and an
// environment under which the schedule's input is a valid drill event of
// this stack's policy.
func TestDrillFunctionAndSchedule(t *testing.T) {
	f := load(t)
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if recipe := makeRecipe(string(makefile), "build-DrillFunction"); !strings.Contains(recipe, "drill") {
		t.Errorf("Makefile build-DrillFunction recipe %q does not build functions/drill", recipe)
	}
	if mapOf(mapOf(mapOf(f.raw["Resources"])["DrillFunction"])["Metadata"])["BuildMethod"] != "makefile" {
		t.Error("DrillFunction is not built with BuildMethod makefile")
	}
	domainArn := sampleDomainArn
	forEachStack(t, f, func(t *testing.T, s *stack) {
		p := props(s, "DrillFunction")
		if p == nil {
			t.Fatal("DrillFunction missing")
		}
		if want := fmt.Sprintf("arn:aws:iam::%s:role/%s", testAccount, physicalID("DrillRole")); p["Role"] != want {
			t.Errorf("DrillFunction Role = %v, want DrillRole", p["Role"])
		}
		if p["Timeout"] != 900 {
			t.Errorf("DrillFunction Timeout = %v, want 900 (Lambda's maximum: the drill waits for recovery)", p["Timeout"])
		}
		if lg := mapOf(p["LoggingConfig"])["LogGroup"]; lg != physicalID("DrillLogGroup") {
			t.Errorf("DrillFunction log group %v", lg)
		}
		for _, st := range roleStatements(s, "DrillRole") {
			for _, a := range strs(st["Action"]) {
				res := strs(st["Resource"])
				switch {
				case a == "es:ESHttpDelete":
					if !slices.Equal(res, []string{domainArn + "/essnap-drill-*"}) {
						t.Errorf("DrillRole DELETE on %v, want only the drill's indices", res)
					}
				case a == "es:ESHttpPut":
					t.Errorf("DrillRole has %s; the drill never PUTs", a)
				case strings.HasPrefix(a, "es:") && !slices.Contains([]string{"es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"}, a):
					t.Errorf("DrillRole has unexpected %s", a)
				case strings.HasPrefix(a, "logs:"):
					if !slices.Equal(res, logGroupArns(s, "DrillLogGroup")) {
						t.Errorf("DrillRole %s on %v, want its own log group", a, res)
					}
				case strings.HasPrefix(a, "iam:"), strings.HasPrefix(a, "s3:"):
					t.Errorf("DrillRole has %s", a)
				}
			}
		}

		sch := props(s, "DrillSchedule")
		target := mapOf(sch["Target"])
		if want := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", testRegion, testAccount, physicalID("DrillFunction")); target["Arn"] != want {
			t.Errorf("DrillSchedule target %v, want DrillFunction", target["Arn"])
		}
		for _, st := range roleStatements(s, "DrillSchedulerRole") {
			if slices.Contains(strs(st["Action"]), "lambda:InvokeFunction") && !slices.Equal(strs(st["Resource"]), []string{fmt.Sprint(target["Arn"])}) {
				t.Errorf("DrillSchedulerRole invokes %v, want only the drill", st["Resource"])
			}
		}
		if sch["State"] != "ENABLED" || !strings.HasPrefix(fmt.Sprint(sch["ScheduleExpression"]), "cron(") || !strings.Contains(fmt.Sprint(sch["ScheduleExpression"]), "SUN") {
			t.Errorf("default drill schedule %v %v, want a weekly cron, enabled", sch["ScheduleExpression"], sch["State"])
		}
		if _, err := time.LoadLocation(fmt.Sprint(sch["ScheduleExpressionTimezone"])); err != nil {
			t.Errorf("DrillSchedule time zone: %v", err)
		}

		// The schedule's input under the function's environment.
		vars := mapOf(mapOf(p["Environment"])["Variables"])
		getenv := func(k string) string { v, _ := vars[k].(string); return v }
		c := handler.LoadDrillConfig(getenv, []byte(fmt.Sprint(target["Input"])))
		if err := c.Validate(); err != nil {
			t.Errorf("schedule input %v: %v", target["Input"], err)
		}
		if c.PolicyID != testStackName {
			t.Errorf("drill policy id %q, want the stack name %q (take-snapshot's policy id)", c.PolicyID, testStackName)
		}
	})

	// DISABLED turns the schedule and the drill alarms off.
	sc := scenario{name: "drill-disabled", params: map[string]any{"DomainEndpoint": sampleEndpoint, "DomainArn": sampleDomainArn, "DrillScheduleExpression": "DISABLED"}}
	s := evaluate(t, mergeGlobals(t, f.raw), sc)
	if st := props(s, "DrillSchedule")["State"]; st != "DISABLED" {
		t.Errorf("DrillScheduleExpression=DISABLED: schedule State %v", st)
	}
	if expr := fmt.Sprint(props(s, "DrillSchedule")["ScheduleExpression"]); !strings.HasPrefix(expr, "cron(") {
		t.Errorf("DrillScheduleExpression=DISABLED: the schedule needs a valid expression still, got %s", expr)
	}
	for _, id := range []string{"DrillFailedAlarm", "NoSuccessfulDrillAlarm"} {
		if _, ok := s.resources[id]; ok {
			t.Errorf("DrillScheduleExpression=DISABLED: %s still deployed", id)
		}
	}
}

// logGroupArns is the ARN a role's logs statement names for a log group.
func logGroupArns(s *stack, id string) []string {
	return []string{fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", testRegion, testAccount, physicalID(id))}
}

// The drill alarms: any failed drill; no passed drill for DrillAlarmDays
// days, with missing data breaching (a drill that never runs alarms too),
// within CloudWatch's seven-day evaluation limit.
func TestDrillAlarms(t *testing.T) {
	f := load(t)
	forEachStack(t, f, func(t *testing.T, s *stack) {
		failed := props(s, "DrillFailedAlarm")
		if failed["MetricName"] != metrics.RestoreDrillFailed || failed["ComparisonOperator"] != "GreaterThanThreshold" || fmt.Sprint(failed["Threshold"]) != "0" {
			t.Errorf("DrillFailedAlarm %v", failed)
		}
		stale := props(s, "NoSuccessfulDrillAlarm")
		if stale["MetricName"] != metrics.RestoreDrillSucceeded || stale["TreatMissingData"] != "breaching" || stale["ComparisonOperator"] != "LessThanThreshold" {
			t.Errorf("NoSuccessfulDrillAlarm %v", stale)
		}
		period, _ := strconv.Atoi(fmt.Sprint(stale["Period"]))
		n, _ := strconv.Atoi(fmt.Sprint(stale["EvaluationPeriods"]))
		if days := fmt.Sprint(s.params["DrillAlarmDays"]); fmt.Sprint(n) != days || period != 86400 {
			t.Errorf("NoSuccessfulDrillAlarm evaluates %d periods of %d s, want DrillAlarmDays (%s) days", n, period, days)
		}
		if period*n > 7*86400 {
			t.Errorf("NoSuccessfulDrillAlarm evaluates %d s, more than CloudWatch's 7 days", period*n)
		}
		for _, id := range []string{"DrillFailedAlarm", "NoSuccessfulDrillAlarm"} {
			if d := listOf(props(s, id)["Dimensions"]); len(d) != 1 || mapOf(d[0])["Value"] != s.params["RepositoryName"] {
				t.Errorf("%s dimensions %v, want Repository = %v", id, d, s.params["RepositoryName"])
			}
		}
	})
	max := mapOf(mapOf(f.raw["Parameters"])["DrillAlarmDays"])["MaxValue"]
	if fmt.Sprint(max) != "7" {
		t.Errorf("DrillAlarmDays MaxValue %v, want 7", max)
	}
}

// publishedMetrics are the metric names the handlers publish: the keys of
// every map literal passed to publish in pkg/handler (string literals and
// pkg/metrics constants), read from the source so a renamed metric shows.
func publishedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	consts := map[string]string{
		"SnapshotSucceeded": metrics.SnapshotSucceeded, "SnapshotFailed": metrics.SnapshotFailed,
		"SnapshotDurationSeconds": metrics.SnapshotDurationSeconds, "SnapshotSizeBytes": metrics.SnapshotSizeBytes,
		"ShardsFailed": metrics.ShardsFailed, "LastSuccessAgeSeconds": metrics.LastSuccessAgeSeconds,
		"RetentionDeletions": metrics.RetentionDeletions, "RestoreDrillSucceeded": metrics.RestoreDrillSucceeded,
		"RestoreDrillFailed": metrics.RestoreDrillFailed, "RestoreDrillSeconds": metrics.RestoreDrillSeconds,
		"RestoreDrillBytesPerSecond": metrics.RestoreDrillBytesPerSecond,
		"MigrationIndicesDone":       metrics.MigrationIndicesDone, "MigrationIndicesTotal": metrics.MigrationIndicesTotal,
		"MigrationDocumentsCopied": metrics.MigrationDocumentsCopied, "MigrationDocsPerSecond": metrics.MigrationDocsPerSecond,
		"MigrationEtaSeconds": metrics.MigrationEtaSeconds, "MigrationIndicesVerified": metrics.MigrationIndicesVerified,
		"MigrationBytesCopied": metrics.MigrationBytesCopied,
	}
	out := map[string]bool{}
	dir := filepath.Join("..", "..", "pkg", "handler")
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Maps built first and filled by index (vals["X"] = ...).
		maps := map[string]bool{}
		ast.Inspect(file, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || len(as.Lhs) != len(as.Rhs) {
				return true
			}
			for i, r := range as.Rhs {
				if cl, ok := r.(*ast.CompositeLit); ok {
					if mt, ok := cl.Type.(*ast.MapType); ok && fmt.Sprint(mt.Value) == "float64" {
						maps[fmt.Sprint(as.Lhs[i])] = true
					}
				}
				if ix, ok := as.Lhs[i].(*ast.IndexExpr); ok && maps[fmt.Sprint(ix.X)] {
					switch k := ix.Index.(type) {
					case *ast.BasicLit:
						if s, err := strconv.Unquote(k.Value); err == nil {
							out[s] = true
						}
					case *ast.SelectorExpr:
						if v, ok := consts[k.Sel.Name]; ok && fmt.Sprint(k.X) == "metrics" {
							out[v] = true
						}
					}
				}
			}
			return true
		})
		ast.Inspect(file, func(n ast.Node) bool {
			// Composite literals of map[string]float64: publish's values,
			// inline or built first (vals := map[string]float64{...}).
			cl, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			mt, ok := cl.Type.(*ast.MapType)
			if !ok || fmt.Sprint(mt.Value) != "float64" {
				return true
			}
			for _, el := range cl.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				switch k := kv.Key.(type) {
				case *ast.BasicLit:
					if s, err := strconv.Unquote(k.Value); err == nil {
						out[s] = true
					}
				case *ast.SelectorExpr:
					if v, ok := consts[k.Sel.Name]; ok && fmt.Sprint(k.X) == "metrics" {
						out[v] = true
					}
				}
			}
			return true
		})
	}
	if len(out) < 5 {
		t.Fatalf("found only %v published in pkg/handler: the source scan is broken", out)
	}
	return out
}

// The dashboard shows what the issue asks for, and every metric it graphs
// is one the functions' EMF output carries: a name the handlers publish,
// in the namespace and dimension the EMF document declares (metrics.Format,
// what the functions print), so no widget stays empty.
func TestDashboardMetricsExistInEMFOutput(t *testing.T) {
	f := load(t)
	published := publishedMetrics(t)
	want := []string{
		"SnapshotSucceeded", "SnapshotFailed", "SnapshotDurationSeconds", "SnapshotSizeBytes",
		"LastSuccessAgeSeconds", "RetentionDeletions", "RestoreDrillSeconds", "RestoreDrillBytesPerSecond",
		"RestoreDrillSucceeded", "RestoreDrillFailed",
		"MigrationIndicesDone", "MigrationIndicesVerified", "MigrationIndicesTotal", "MigrationDocumentsCopied",
		"MigrationDocsPerSecond", "MigrationEtaSeconds", "MigrationBytesCopied",
	}
	// A migration's metrics carry its name as the dimension Migration: the
	// dashboard finds every migration's with a SEARCH expression.
	search := regexp.MustCompile(`^SEARCH\('\{([^,]+),Migration\} MetricName="(\w+)"', '\w+', \d+\)$`)
	forEachStack(t, f, func(t *testing.T, s *stack) {
		body := fmt.Sprint(props(s, "Dashboard")["DashboardBody"])
		var dash struct {
			Widgets []struct {
				Properties struct {
					Title   string  `json:"title"`
					Region  string  `json:"region"`
					Metrics [][]any `json:"metrics"`
				} `json:"properties"`
			} `json:"widgets"`
		}
		if err := json.Unmarshal([]byte(body), &dash); err != nil {
			t.Fatalf("DashboardBody is not JSON: %v\n%s", err, body)
		}
		ns, repo := fmt.Sprint(s.params["MetricsNamespace"]), fmt.Sprint(s.params["RepositoryName"])
		shown := map[string]bool{}
		for _, w := range dash.Widgets {
			if w.Properties.Region != testRegion {
				t.Errorf("widget %q region %q", w.Properties.Title, w.Properties.Region)
			}
			for _, m := range w.Properties.Metrics {
				if e, ok := m[0].(map[string]any); ok && len(m) == 1 {
					sm := search.FindStringSubmatch(fmt.Sprint(e["expression"]))
					if sm == nil || sm[1] != ns || !published[sm[2]] || !strings.HasPrefix(sm[2], metrics.MigrationPrefix) {
						t.Errorf("widget %q expression %v: want SEARCH of a published Migration* metric in %s", w.Properties.Title, e["expression"], ns)
						continue
					}
					shown[sm[2]] = true
					line, _ := metrics.Format(ns, "m-1", map[string]float64{sm[2]: 1}, time.Unix(0, 0))
					if !strings.Contains(string(line), `"Dimensions":[["Migration"]]`) || !strings.Contains(string(line), `"Migration":"m-1"`) {
						t.Errorf("EMF output for %s lacks the Migration dimension: %s", sm[2], line)
					}
					continue
				}
				if len(m) < 4 {
					t.Errorf("widget %q metric %v: want namespace, name, Repository, value", w.Properties.Title, m)
					continue
				}
				name := fmt.Sprint(m[1])
				shown[name] = true
				if m[0] != ns || m[2] != "Repository" || m[3] != repo {
					t.Errorf("widget %q graphs %v, want namespace %s, dimension Repository=%s", w.Properties.Title, m[:4], ns, repo)
				}
				if !published[name] {
					t.Errorf("widget %q graphs %s, which no handler publishes (published: %v)", w.Properties.Title, name, published)
				}
				// What the function prints for it: an EMF document that
				// declares this metric in this namespace and dimension.
				line, err := metrics.Format(ns, repo, map[string]float64{name: 1}, time.Unix(0, 0))
				if err != nil {
					t.Fatal(err)
				}
				var emf struct {
					Repository string `json:"Repository"`
					AWS        struct {
						CloudWatchMetrics []struct {
							Namespace  string     `json:"Namespace"`
							Dimensions [][]string `json:"Dimensions"`
							Metrics    []struct{ Name, Unit string }
						}
					} `json:"_aws"`
				}
				if err := json.Unmarshal(line, &emf); err != nil {
					t.Fatal(err)
				}
				cw := emf.AWS.CloudWatchMetrics
				if len(cw) != 1 || cw[0].Namespace != ns || emf.Repository != repo || !slices.Equal(cw[0].Dimensions[0], []string{"Repository"}) || len(cw[0].Metrics) != 1 || cw[0].Metrics[0].Name != name || cw[0].Metrics[0].Unit == "None" {
					t.Errorf("EMF output for %s: %s", name, line)
				}
			}
		}
		for _, n := range want {
			if !shown[n] {
				t.Errorf("the dashboard does not show %s", n)
			}
		}
	})
}
