//go:build integration

package lambda

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/essnap/essnap/internal/testenv"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var (
	root      string // repository root
	binDir    string // built bootstraps
	functions = []string{"register-repo", "take-snapshot", "restore", "check-progress", "doctor", "drill"}
)

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	root = filepath.Join(wd, "..", "..")
	dir, err := os.MkdirTemp("", "essnap-bootstrap-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	for _, fn := range functions {
		out := filepath.Join(dir, fn, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, "./functions/"+fn)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", fn, err, b)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func rieBinary(t *testing.T) string {
	p := os.Getenv("ESSNAP_RIE")
	if p == "" {
		p = filepath.Join(root, ".cache", "bin", "aws-lambda-rie")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("Lambda Runtime Interface Emulator not found at %s (scripts/peers.sh install): %v", p, err)
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatal("the AWS CLI is not installed (scripts/peers.sh install)")
	}
	return p
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// function is one bootstrap running under the emulator.
type function struct {
	name string
	port int
	log  *bytes.Buffer
}

// start runs fn's bootstrap under the emulator with env, on loopback only.
func start(t *testing.T, fn string, env map[string]string) *function {
	t.Helper()
	rie := rieBinary(t)
	port, apiPort := freePort(t), freePort(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort), filepath.Join(binDir, fn, "bootstrap"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_FUNCTION_TIMEOUT=120", "AWS_LAMBDA_FUNCTION_NAME=" + fn}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	f := &function{name: fn, port: port, log: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = f.log, f.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s emulator log:\n%s", fn, f.log.String())
		}
	})
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return f
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("emulator for %s did not listen", fn)
	return nil
}

// invoke calls the function with the AWS CLI, as an operator would, and
// returns the decoded answer and its errorType ("" on success).
func (f *function) invoke(t *testing.T, payload []byte) (map[string]any, string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "event.json")
	out := filepath.Join(t.TempDir(), "out.json")
	if err := os.WriteFile(in, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("aws", "lambda", "invoke", "--endpoint-url", fmt.Sprintf("http://127.0.0.1:%d", f.port),
		"--function-name", "function", "--no-sign-request", "--region", "us-east-1", "--payload", "file://"+in, out)
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws lambda invoke %s: %v\n%s", f.name, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s answered non-JSON %q", f.name, data)
	}
	et, _ := m["errorType"].(string)
	return m, et
}

func event(t *testing.T, name string, replace ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.NewReplacer(replace...).Replace(string(b)))
}

func engines(t *testing.T) map[string]string {
	return testenv.URLs(t, "ESSNAP_TEST_ENGINES")
}

func do(t *testing.T, method, url, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if strings.Contains(url, "_bulk") {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	if res.StatusCode > 299 && method != "DELETE" {
		t.Fatalf("%s %s: %d %v", method, url, res.StatusCode, m)
	}
	return m
}

func seed(t *testing.T, url, index string, n int) {
	do(t, "PUT", url+"/"+index, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "{\"index\":{\"_id\":\"%d\"}}\n{\"message\":\"m%d\"}\n", i, i)
	}
	do(t, "POST", url+"/"+index+"/_bulk?refresh=true", b.String())
}

func count(t *testing.T, url, index string) int {
	do(t, "POST", url+"/"+index+"/_refresh", "")
	return int(do(t, "GET", url+"/"+index+"/_count", "")["count"].(float64))
}

// The operator's path end to end: register, nightly snapshot (twice: a
// duplicate delivery), on-demand snapshot, progress, restore, collisions,
// bad input; every call is `aws lambda invoke` on a real bootstrap.
func TestFunctionsUnderEmulator(t *testing.T) {
	repoRoot := os.Getenv("ESSNAP_TEST_REPO_ROOT")
	if repoRoot == "" {
		t.Fatal("ESSNAP_TEST_REPO_ROOT is not set")
	}
	for name, url := range engines(t) {
		t.Run(name, func(t *testing.T) {
			do(t, "DELETE", url+"/logs-*?expand_wildcards=all", "")
			t.Cleanup(func() { do(t, "DELETE", url+"/logs-*?expand_wildcards=all", "") })
			seed(t, url, "logs-2026.11.22", 25)
			seed(t, url, "logs-2026.11.23", 15)
			seed(t, url, "logs-debug-1", 5)
			env := map[string]string{
				"ESSNAP_ENDPOINT": url, "ESSNAP_UNSIGNED": "true",
				"ESSNAP_REPOSITORY": "rie", "ESSNAP_REPOSITORY_TYPE": "fs",
				"ESSNAP_FS_LOCATION": filepath.Join(repoRoot, "rie", name, fmt.Sprint(time.Now().UnixNano())),
			}
			fns := map[string]*function{}
			for _, fn := range functions {
				fns[fn] = start(t, fn, env)
			}
			t.Cleanup(func() {
				do(t, "DELETE", url+"/_snapshot/rie", "")
				do(t, "DELETE", url+"/_snapshot/essnap-migration", "")
			})

			res, et := fns["register-repo"].invoke(t, event(t, "register-repo.json"))
			if et != "" || res["status"] != "created" || res["verified"] != true {
				t.Fatalf("register-repo: %v", res)
			}
			if res, et = fns["register-repo"].invoke(t, event(t, "register-repo.json")); et != "" || res["status"] != "unchanged" {
				t.Fatalf("register-repo again: %v", res)
			}

			nightly, et := fns["take-snapshot"].invoke(t, event(t, "take-snapshot-schedule.json"))
			today := time.Now().UTC().Format("2006.01.02")
			if et != "" || nightly["snapshot"] != "nightly-"+today || nightly["existing"] != false {
				t.Fatalf("take-snapshot: %v", nightly)
			}
			waitSnapshot(t, fns["check-progress"], "nightly-"+today)
			dup, et := fns["take-snapshot"].invoke(t, event(t, "take-snapshot-schedule.json"))
			if et != "" || dup["existing"] != true || dup["state"] != "SUCCESS" {
				t.Fatalf("duplicate delivery: %v", dup)
			}

			manual, et := fns["take-snapshot"].invoke(t, event(t, "take-snapshot.json"))
			if et != "" {
				t.Fatalf("take-snapshot manual: %v", manual)
			}
			done := waitSnapshot(t, fns["check-progress"], manual["snapshot"].(string))
			idx := fmt.Sprint(done["indices"])
			if strings.Contains(idx, "logs-debug-1") || !strings.Contains(idx, "logs-2026.11.23") {
				t.Fatalf("manual snapshot indices %s", idx)
			}

			// A dry run without rename finds the collisions and changes nothing.
			if res, et = fns["restore"].invoke(t, event(t, "restore-dry-run.json")); et != "IndexConflictError" || !strings.Contains(res["errorMessage"].(string), "logs-2026.11.22") {
				t.Fatalf("dry run: %s %v", et, res)
			}
			res, et = fns["restore"].invoke(t, event(t, "restore.json"))
			if et != "" || res["accepted"] != true || res["snapshot"] != manual["snapshot"] {
				t.Fatalf("restore: %s %v", et, res)
			}
			targets := []string{}
			for _, m := range res["indices"].([]any) {
				targets = append(targets, m.(map[string]any)["target"].(string))
			}
			if len(targets) != 2 {
				t.Fatalf("targets %v", targets)
			}
			payload, _ := json.Marshal(map[string]any{"indices": targets})
			for i := 0; ; i++ {
				p, et := fns["check-progress"].invoke(t, payload)
				if et != "" {
					t.Fatalf("check-progress restore: %v", p)
				}
				if p["done"] == true {
					break
				}
				if i > 100 {
					t.Fatalf("restore not done: %v", p)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if count(t, url, "logs-2026.11.22-restored") != 25 || count(t, url, "logs-2026.11.23-restored") != 15 {
				t.Fatal("restored document counts differ")
			}
			// The same restore again (same snapshot, same targets, spelled
			// as a pattern): its targets came from this snapshot, so it is
			// answered as the restore already done, never as a conflict.
			if res, et = fns["restore"].invoke(t, event(t, "restore-rename-pattern.json")); et != "" || res["existing"] != true || len(res["already_restored"].([]any)) != 2 {
				t.Fatalf("the same restore again: %s %v", et, res)
			}
			for _, bad := range []struct{ payload, want string }{
				{`{"snapshot":".."}`, "must not be '.' or '..'"},
				{`{"indices":["logs-*"],"rename_prefix":"."}`, "system or hidden index names"},
			} {
				if res, et := fns["restore"].invoke(t, []byte(bad.payload)); et != "ValidationError" || !strings.Contains(res["errorMessage"].(string), bad.want) {
					t.Fatalf("restore %s: %s %v", bad.payload, et, res)
				}
			}
			if res, et := fns["take-snapshot"].invoke(t, []byte(`{"snapshot":"empty-{now/d}","indices":["zzz-nothing-*"]}`)); et != "ValidationError" || !strings.Contains(res["errorMessage"].(string), "match no index") {
				t.Fatalf("empty selection: %s %v", et, res)
			}

			if res, et = fns["register-repo"].invoke(t, event(t, "register-repo-readonly.json")); et != "" || res["readonly"] != true {
				t.Fatalf("readonly: %s %v", et, res)
			}

			for _, bad := range []struct{ fn, payload, want string }{
				{"take-snapshot", `{"snapshto":"x"}`, `field "snapshto" is unknown`},
				{"take-snapshot", `{"snapshot":"Nightly {now/d}"}`, "lowercase"},
				{"restore", `{"rename_pattern":"*","rename_replacement":"$1-restored"}`, "Dangling"},
				{"register-repo", `{"repository":"cs-automated"}`, "cs-"},
				{"check-progress", `{}`, "either snapshot"},
			} {
				res, et := fns[bad.fn].invoke(t, []byte(bad.payload))
				if et != "ValidationError" || !strings.Contains(res["errorMessage"].(string), bad.want) {
					t.Fatalf("%s %s: %s %v", bad.fn, bad.payload, et, res)
				}
			}
		})
	}
}

func waitSnapshot(t *testing.T, f *function, name string) map[string]any {
	t.Helper()
	payload := event(t, "check-progress-snapshot.json", "nightly-2026.11.24", name)
	for i := 0; i < 100; i++ {
		p, et := f.invoke(t, payload)
		if et != "" {
			t.Fatalf("check-progress %s: %s %v", name, et, p)
		}
		if p["done"] == true {
			s := p["snapshot"].(map[string]any)
			if s["state"] != "SUCCESS" {
				t.Fatalf("snapshot %s ended %v", name, s["state"])
			}
			return s
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("snapshot %s not done", name)
	return nil
}
