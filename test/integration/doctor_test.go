//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/essnap/essnap/internal/testenv"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/setup"
	"github.com/essnap/essnap/pkg/wiring/awsiam"
)

// doctorOn wires the doctor to a real engine (unsigned, as the other
// handler tests) and to moto's STS for the caller's identity.
func doctorOn(e peer, motoURL string, env map[string]string, now time.Time) handler.Doctor {
	iamc := awsiam.FromEnvironment(staticCreds("testing", "testing", ""), envOf(map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": motoURL}))
	return handler.Doctor{Deps: deps(e, env, now), IAM: iamc}
}

// runDoctor invokes the doctor with event and returns its answer by check.
func runDoctor(t *testing.T, d handler.Doctor, event string) (handler.DoctorResult, map[string]setup.Check) {
	t.Helper()
	res, err := d.Invoke(ctx(t), json.RawMessage(event))
	if err != nil {
		t.Fatalf("doctor %s: %v", event, err)
	}
	by := map[string]setup.Check{}
	for _, c := range res.Checks {
		by[c.Check] = c
	}
	if len(by) != 10 {
		t.Errorf("%d checks, want 10: %+v", len(by), res.Checks)
	}
	return res, by
}

// expect asserts check statuses, showing the whole report on a mismatch.
func expect(t *testing.T, res handler.DoctorResult, by map[string]setup.Check, want map[string]setup.Status) {
	t.Helper()
	for name, st := range want {
		if by[name].Status != st {
			b, _ := json.MarshalIndent(res, "", "  ")
			t.Fatalf("%s: %s, want %s\n%s", name, by[name].Status, st, b)
		}
		if st != setup.OK && by[name].Fix == "" {
			t.Errorf("%s is %s without a fix", name, st)
		}
	}
}

// The doctor's domain checks on every real engine (issue 13): a healthy
// setup, a stale snapshot, a missing repository, a repository whose
// location is gone, and a nightly schedule that meets an automated
// snapshot (an fs repository named cs-automated-*, as AWS names its own).
func TestDoctorOnRealEngines(t *testing.T) {
	motoURL := testenv.Moto(t)
	for _, e := range engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			deleteIndices(t, e, "doc-*")
			t.Cleanup(func() { deleteIndices(t, e, "doc-*") })
			seed(t, e, "doc-1", 3)
			fsRepo(t, e, "doc-ok")
			mustRaw(t, e, "PUT", "/_snapshot/doc-ok/nightly-doctor?wait_for_completion=true", `{"indices":"doc-1","include_global_state":false}`)
			now := time.Now()
			env := map[string]string{"ESSNAP_REPOSITORY": "doc-ok", "ESSNAP_REPOSITORY_TYPE": "fs"}

			t.Run("healthy", func(t *testing.T) {
				res, by := runDoctor(t, doctorOn(e, motoURL, env, now), `{}`)
				if res.Status != setup.OK {
					b, _ := json.MarshalIndent(res, "", "  ")
					t.Fatalf("status %s:\n%s", res.Status, b)
				}
				version := e.Name[strings.LastIndex(e.Name, "-")+1:] // "7.10", "2.19"
				if d := by["domain"].Detail; !strings.Contains(d, " "+version+".") || !strings.Contains(d, "is green") {
					t.Errorf("domain detail %q lacks version %s and health", d, version)
				}
				if d := by["repository"].Detail; !strings.Contains(d, "verified on 1 nodes") {
					t.Errorf("repository detail %q", d)
				}
				if d := by["newest_snapshot"].Detail; !strings.Contains(d, "nightly-doctor") {
					t.Errorf("newest_snapshot detail %q", d)
				}
				if d := by["fine_grained_access"].Detail; !strings.Contains(d, "no security plugin") {
					t.Errorf("fine_grained_access detail %q", d)
				}
				if d := by["caller_identity"].Detail; !strings.Contains(d, "arn:aws:sts::123456789012:user/moto") {
					t.Errorf("caller_identity detail %q", d)
				}
			})

			t.Run("stale snapshot", func(t *testing.T) {
				res, by := runDoctor(t, doctorOn(e, motoURL, env, now.Add(30*time.Hour)), `{}`)
				expect(t, res, by, map[string]setup.Status{"newest_snapshot": setup.Fail, "repository": setup.OK})
			})

			t.Run("repository missing", func(t *testing.T) {
				res, by := runDoctor(t, doctorOn(e, motoURL, env, now), `{"repository":"doc-missing"}`)
				expect(t, res, by, map[string]setup.Status{"domain": setup.OK, "repository": setup.Fail, "newest_snapshot": setup.Warn})
				if !strings.Contains(by["repository"].Fix, "register-repo") || !strings.Contains(by["repository"].Detail, "doc-ok") {
					t.Errorf("repository %+v", by["repository"])
				}
				if res.Status != setup.Fail {
					t.Errorf("status %s", res.Status)
				}
			})

			t.Run("location gone", func(t *testing.T) {
				loc := fsRepo(t, e, "doc-gone")
				// A directory that is merely deleted is created again by the
				// engines on the next write (observed on all four), so the
				// location is replaced by a file, as when a share is gone.
				if err := os.RemoveAll(loc); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Dir(loc), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(loc, []byte("not a directory"), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Remove(loc) })
				res, by := runDoctor(t, doctorOn(e, motoURL, env, now), `{"repository":"doc-gone"}`)
				expect(t, res, by, map[string]setup.Status{"repository": setup.Fail})
				if d := by["repository"].Detail; !strings.Contains(d, "verification failed") || !strings.Contains(d, "repository_verification_exception") {
					t.Errorf("repository detail %q", d)
				}
			})

			t.Run("automated snapshot collision", func(t *testing.T) {
				auto := "cs-automated-doctor"
				raw(t, e, "DELETE", "/_snapshot/"+auto, "")
				fsRepo(t, e, auto)
				mustRaw(t, e, "PUT", "/_snapshot/"+auto+"/auto-1?wait_for_completion=true", `{"indices":"doc-1","include_global_state":false}`)
				at := time.Now().UTC()
				cron := fmt.Sprintf("cron(%d %d * * ? *)", at.Minute(), at.Hour())
				res, by := runDoctor(t, doctorOn(e, motoURL, env, at.Add(time.Minute)), `{"schedule":"`+cron+`","schedule_timezone":"UTC"}`)
				expect(t, res, by, map[string]setup.Status{"automated_snapshot_hour": setup.Warn})
				if !strings.Contains(by["automated_snapshot_hour"].Fix, "cron(") {
					t.Errorf("fix %q", by["automated_snapshot_hour"].Fix)
				}
				// Twelve hours later the schedule is clear.
				later := at.Add(12 * time.Hour)
				cron = fmt.Sprintf("cron(%d %d * * ? *)", later.Minute(), later.Hour())
				res, by = runDoctor(t, doctorOn(e, motoURL, env, at.Add(time.Minute)), `{"schedule":"`+cron+`","schedule_timezone":"UTC"}`)
				expect(t, res, by, map[string]setup.Status{"automated_snapshot_hour": setup.OK})
			})
		})
	}
}
