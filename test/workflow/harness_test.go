//go:build integration

package workflow

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/essnap/essnap/internal/testenv"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var root = func() string { wd, _ := os.Getwd(); return filepath.Join(wd, "..", "..") }()

// functions maps the definition's ${NameFunctionArn} names to functions/<dir>.
var functions = map[string]string{
	"RegisterRepo": "register-repo", "TakeSnapshot": "take-snapshot", "Restore": "restore",
	"CheckProgress": "check-progress", "Preflight": "preflight", "Verify": "verify", "MigrateMetadata": "migrate-metadata",
	"Reindex": "reindex",
}

// fnURLs is each function's emulator URL, set by TestMain.
var fnURLs = map[string]string{}

// emulator is one function's running emulator, kept so a test can kill
// and restart it (a Lambda environment that dies mid-invocation).
type emulator struct {
	bootstrap string
	port, api int
	cmd       *exec.Cmd
	log       *os.File
}

var (
	emuMu     sync.Mutex
	emulators = map[string]*emulator{}
)

// start runs the emulator on its ports and waits until it listens.
func (e *emulator) start(name string) error {
	c := exec.Command(rieBinary(), "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", e.port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", e.api), e.bootstrap)
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_FUNCTION_TIMEOUT=300", "AWS_LAMBDA_FUNCTION_NAME=" + functions[name]}
	c.Stdout, c.Stderr = e.log, e.log
	if err := c.Start(); err != nil {
		return err
	}
	e.cmd = c
	for i := 0; ; i++ {
		if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port)); err == nil {
			conn.Close()
			return nil
		}
		if i > 100 {
			return fmt.Errorf("emulator for %s did not listen", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killFunction kills a function's emulator (and the invocation it runs);
// restartFunction starts it again on the same port.
func killFunction(t *testing.T, name string) {
	emuMu.Lock()
	defer emuMu.Unlock()
	e := emulators[name]
	_ = e.cmd.Process.Kill()
	_ = e.cmd.Wait()
}

func restartFunction(t *testing.T, name string) {
	emuMu.Lock()
	defer emuMu.Unlock()
	if err := emulators[name].start(name); err != nil {
		t.Fatal(err)
	}
}

func rieBinary() string { return filepath.Join(root, ".cache", "bin", "aws-lambda-rie") }

func TestMain(m *testing.M) {
	stop, err := startFunctions()
	if err != nil {
		fmt.Fprintln(os.Stderr, "workflow tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// startFunctions builds every bootstrap and runs each under the emulator on
// its own loopback port.
func startFunctions() (func(), error) {
	rie := rieBinary()
	if _, err := os.Stat(rie); err != nil {
		return nil, fmt.Errorf("%s missing: run scripts/peers.sh install", rie)
	}
	if _, err := os.Stat(filepath.Join(root, "test", "workflow", "node_modules", "aws-local-stepfunctions")); err != nil {
		return nil, fmt.Errorf("aws-local-stepfunctions missing: run npm ci in test/workflow (scripts/peers.sh install does)")
	}
	bin, err := os.MkdirTemp("", "essnap-workflow-bin")
	if err != nil {
		return nil, err
	}
	stop := func() {
		emuMu.Lock()
		defer emuMu.Unlock()
		for _, e := range emulators {
			if e.cmd != nil {
				_ = e.cmd.Process.Kill()
				_ = e.cmd.Wait()
			}
		}
		os.RemoveAll(bin)
	}
	for name, dir := range functions {
		out := filepath.Join(bin, dir, "bootstrap")
		b := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, "./functions/"+dir)
		b.Dir, b.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := b.CombinedOutput(); err != nil {
			stop()
			return nil, fmt.Errorf("build %s: %v\n%s", dir, err, msg)
		}
		logf, _ := os.Create(filepath.Join(bin, dir+".log"))
		e := &emulator{bootstrap: out, port: freePort(), api: freePort(), log: logf}
		emulators[name] = e
		if err := e.start(name); err != nil {
			stop()
			return nil, err
		}
		fnURLs[name] = fmt.Sprintf("http://127.0.0.1:%d", e.port)
	}
	return stop, nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// engines reads ESSNAP_WORKFLOW_ENGINES (name=url,...); every named engine
// must answer.
func engines(t *testing.T, names ...string) map[string]string {
	t.Helper()
	all := testenv.URLs(t, "ESSNAP_WORKFLOW_ENGINES")
	for _, n := range names {
		if _, ok := all[n]; !ok {
			t.Fatalf("engine %s missing from ESSNAP_WORKFLOW_ENGINES=%s", n, os.Getenv("ESSNAP_WORKFLOW_ENGINES"))
		}
	}
	return all
}

func repoRoot(t *testing.T) string {
	r := os.Getenv("ESSNAP_TEST_REPO_ROOT")
	if r == "" {
		t.Fatal("ESSNAP_TEST_REPO_ROOT is not set (the engines' shared path.repo)")
	}
	return r
}

// event is one JSON line of run.mjs.
type event struct {
	Event     string          `json:"event"`
	State     string          `json:"state"`
	Status    string          `json:"status"`
	Error     string          `json:"error"`
	Cause     string          `json:"cause"`
	TaskToken string          `json:"task_token"`
	Output    json.RawMessage `json:"output"`
	Seconds   float64         `json:"seconds"`
	// InputBytes is the size of a state's input (state_entered).
	InputBytes int `json:"input_bytes"`
}

// execution is a finished run: its result line and every line before it.
type execution struct {
	Result event
	Events []event
	// Input is what the run started with; MaxState the largest state
	// input run.mjs saw, in bytes.
	Input    map[string]any
	MaxState int
}

// target is the run's target endpoint.
func (x execution) target() string {
	return x.Input["target"].(map[string]any)["endpoint"].(string)
}

func (x execution) entered(state string) bool {
	for _, e := range x.Events {
		if e.Event == "state_entered" && e.State == state {
			return true
		}
	}
	return false
}

func (x execution) retries(state string) int {
	n := 0
	for _, e := range x.Events {
		if e.Event == "state_retried" && e.State == state {
			n++
		}
	}
	return n
}

// runOptions tune one execution.
type runOptions struct {
	waitMs int
	// timeout ends the run (5 minutes unless set).
	timeout time.Duration
	// onEvent sees every line; for switch_requested it returns the answer
	// line (the stand-in for send-task-success/-failure).
	onEvent func(e event) any
}

// run executes the state machine with input and returns the result.
func run(t *testing.T, input map[string]any, o runOptions) execution {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "input.json")
	b, _ := json.Marshal(input)
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if o.waitMs == 0 {
		o.waitMs = 200
	}
	args := []string{filepath.Join(root, "test", "workflow", "run.mjs"), "--definition", filepath.Join(root, "statemachine", "migration.asl.json"),
		"--input", in, "--wait-ms", fmt.Sprint(o.waitMs), "--retry-ms", "200", "--execution", strings.ReplaceAll(t.Name(), "/", "-")}
	for name, u := range fnURLs {
		args = append(args, "--function", name+"="+u)
	}
	cmd := exec.Command("node", args...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	x := execution{Input: input}
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Errorf("run.mjs printed non-JSON: %s", sc.Text())
				continue
			}
			mu.Lock()
			x.Events = append(x.Events, e)
			x.MaxState = max(x.MaxState, e.InputBytes)
			mu.Unlock()
			if e.Event == "result" {
				x.Result = e
			}
			if o.onEvent != nil {
				if ans := o.onEvent(e); ans != nil {
					line, _ := json.Marshal(ans)
					_, _ = stdin.Write(append(line, '\n'))
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	if o.timeout == 0 {
		o.timeout = 5 * time.Minute
	}
	timer := time.AfterFunc(o.timeout, func() { _ = cmd.Process.Kill() })
	<-done
	err := cmd.Wait()
	timer.Stop()
	stdin.Close()
	if x.Result.Event == "" {
		t.Fatalf("run.mjs ended without a result (%v): %s", err, stderr.String())
	}
	t.Logf("execution %s in %.1fs: %s %s", x.Result.Status, x.Result.Seconds, x.Result.Error, truncate(x.Result.Cause, 400))
	return x
}

// peers runs scripts/peers.sh with the test's environment.
func peers(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts", "peers.sh")}, args...)...)
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("peers.sh %v: %v\n%s", args, err, out)
	}
}

// switchAndReplay is the pull cut-over as a poller makes it: at the
// switch request the writer moves to the target and replays from its
// checkpoint, then the switch is answered.
func switchAndReplay(w *writer, src, tgt string, checkpoint int) func(e event) any {
	return func(e event) any {
		if e.Event != "switch_requested" {
			return nil
		}
		w.Switch(tgt)
		w.Replay(src, tgt, checkpoint)
		return switched(e)
	}
}

// switched is the answer to a switch request: the poller is switched
// (the stand-in for send-task-success).
func switched(e event) any {
	return map[string]any{"task_token": e.TaskToken, "output": map[string]any{"switched": true}}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// input builds a state machine input for two local engines.
func input(t *testing.T, src, tgt, strategy string, indices ...string) map[string]any {
	return map[string]any{
		"source":     map[string]any{"endpoint": src, "unsigned": true},
		"target":     map[string]any{"endpoint": tgt, "unsigned": true},
		"repository": map[string]any{"repository": "wf", "type": "fs", "location": filepath.Join(repoRoot(t), "workflow", fmt.Sprintf("%s-%d", strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"), time.Now().UnixNano()))},
		"indices":    indices,
		"strategy":   strategy,
		"poll":       map[string]any{"initial_seconds": 1, "max_seconds": 4, "snapshot_deadline_seconds": 600, "restore_deadline_seconds": 600},
	}
}

// cleanup removes the test's indices and the repository from both engines
// after the test (the workflow itself never deletes anything).
func cleanup(t *testing.T, pattern string, urls ...string) {
	for _, u := range urls {
		req(t, "DELETE", u+"/"+pattern+"?expand_wildcards=all", "")
	}
	t.Cleanup(func() {
		for _, u := range urls {
			req(t, "DELETE", u+"/"+pattern+"?expand_wildcards=all", "")
			req(t, "DELETE", u+"/_snapshot/wf", "")
		}
	})
}

// req sends a request and returns status and decoded body.
func req(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	r, _ := http.NewRequest(method, url, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if strings.Contains(url, "_bulk") {
		r.Header.Set("Content-Type", "application/x-ndjson")
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func mustReq(t *testing.T, method, url, body string) map[string]any {
	t.Helper()
	st, m := req(t, method, url, body)
	if st > 299 {
		t.Fatalf("%s %s: %d %v", method, url, st, m)
	}
	return m
}

// ids returns every _id of index (scroll, ids only) as a multiset.
func ids(t *testing.T, url, index string) map[string]int {
	t.Helper()
	mustReq(t, "POST", url+"/"+index+"/_refresh", "")
	out := map[string]int{}
	m := mustReq(t, "POST", url+"/"+index+"/_search?scroll=1m", `{"size":5000,"_source":false,"sort":["_doc"]}`)
	for {
		hits := m["hits"].(map[string]any)["hits"].([]any)
		if len(hits) == 0 {
			break
		}
		for _, h := range hits {
			out[h.(map[string]any)["_id"].(string)]++
		}
		m = mustReq(t, "POST", url+"/_search/scroll", fmt.Sprintf(`{"scroll":"1m","scroll_id":%q}`, m["_scroll_id"]))
	}
	return out
}

func createIndex(t *testing.T, url, index string) {
	mustReq(t, "PUT", url+"/"+index, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)
}
