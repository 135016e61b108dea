//go:build integration

package lambda

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The drill bootstrap answers its sample event (events/drill.json) under
// the emulator, invoked with the AWS CLI, on every engine: after the
// stack's nightly snapshot it restores the sample, verifies the recorded
// counts, deletes its indices and writes its EMF metrics.
func TestDrillUnderEmulator(t *testing.T) {
	repoRoot := os.Getenv("ESSNAP_TEST_REPO_ROOT")
	if repoRoot == "" {
		t.Fatal("ESSNAP_TEST_REPO_ROOT is not set")
	}
	for name, url := range engines(t) {
		t.Run(name, func(t *testing.T) {
			do(t, "DELETE", url+"/rd-*,essnap-drill-*?expand_wildcards=all", "")
			t.Cleanup(func() { do(t, "DELETE", url+"/rd-*,essnap-drill-*?expand_wildcards=all", "") })
			seed(t, url, "rd-a", 11)
			seed(t, url, "rd-b", 4)
			env := map[string]string{
				"ESSNAP_ENDPOINT": url, "ESSNAP_UNSIGNED": "true",
				"ESSNAP_REPOSITORY": "rie-drill", "ESSNAP_REPOSITORY_TYPE": "fs",
				"ESSNAP_FS_LOCATION": filepath.Join(repoRoot, "rie-drill", name, fmt.Sprint(time.Now().UnixNano())),
				"ESSNAP_INDICES":     "rd-*", "ESSNAP_DRILL_INDICES": "rd-*",
				"ESSNAP_METRICS_NAMESPACE": "essnap-test",
			}
			reg, take, dr := start(t, "register-repo", env), start(t, "take-snapshot", env), start(t, "drill", env)
			t.Cleanup(func() { do(t, "DELETE", url+"/_snapshot/rie-drill", "") })
			if res, et := reg.invoke(t, event(t, "register-repo.json")); et != "" {
				t.Fatalf("register-repo: %v", res)
			}
			if res, et := take.invoke(t, []byte(`{"trigger":"schedule","wait_for_completion":true}`)); et != "" || res["state"] != "SUCCESS" {
				t.Fatalf("take-snapshot: %v", res)
			}
			res, et := dr.invoke(t, event(t, "drill.json"))
			if et != "" || res["passed"] != true {
				t.Fatalf("drill: %s %v", et, res)
			}
			today := time.Now().UTC().Format("2006.01.02")
			got := map[string]string{}
			for _, ix := range res["indices"].([]any) {
				m := ix.(map[string]any)
				got[m["index"].(string)] = fmt.Sprintf("%v %v/%v %v", m["target"], m["restored_docs"], m["recorded_docs"], m["verdict"])
			}
			want := map[string]string{
				"rd-a": "essnap-drill-" + today + "-rd-a 11/11 ok",
				"rd-b": "essnap-drill-" + today + "-rd-b 4/4 ok",
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("drill indices %v, want %v", got, want)
			}
			if len(res["deleted"].([]any)) != 2 {
				t.Errorf("deleted %v", res["deleted"])
			}
			for _, ix := range []string{"rd-a", "rd-b"} {
				if r, err := http.Head(url + "/essnap-drill-" + today + "-" + ix); err != nil || r.StatusCode != http.StatusNotFound {
					t.Errorf("drill index of %s still there after the drill: %v %v", ix, r, err)
				}
			}
			if st := count(t, url, "rd-a"); st != 11 {
				t.Errorf("rd-a has %d documents after the drill", st)
			}
			for _, m := range []string{"RestoreDrillSucceeded", "RestoreDrillSeconds", "RestoreDrillBytesPerSecond"} {
				if !strings.Contains(dr.log.String(), `"`+m+`"`) {
					t.Errorf("no EMF metric %s in the drill's output:\n%s", m, dr.log.String())
				}
			}
		})
	}
}
