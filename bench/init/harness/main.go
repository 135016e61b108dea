// Command harness measures Lambda init time under the AWS Lambda Runtime
// Interface Emulator (RIE): from the start of a function's process to the
// moment it asks for its first event (GET /2018-06-01/runtime/invocation/next).
// It is a benchmark, not a test; bench/init/run.sh builds and runs it.
//
// Every cold start uses a fresh aws-lambda-rie on free loopback ports. The RIE
// starts the runtime only on the first invoke, so the harness invokes once
// ({"essnap_bench":"init"}) and waits for the answer. Two methods, each with
// its own cold starts, interleaved:
//
//   - rie: the bootstrap runs under the emulator exactly as in make demo, and
//     the figure is the emulator's own "INIT REPORT(durationMs: X)" log line:
//     rapid's monotonic clock from the start of the init phase (it then
//     fork/execs the runtime) to the runtime's first /next (INIT RTDONE).
//   - exec: an independent check with no trust in the emulator's clocks. The
//     emulator runs "harness exec -- BOOTSTRAP...", a launcher that takes T0
//     (wall clock, ns) just before execve(2) of the bootstrap and points
//     AWS_LAMBDA_RUNTIME_API at a reverse proxy of the harness, which takes T1
//     when the first GET .../invocation/next reaches it and forwards all
//     traffic to the emulator unchanged. The figure is T1 - T0: the bootstrap's
//     exec, runtime start and initialisation up to its first request. The
//     launcher's own start is outside it; rie includes the emulator's spawn.
//
// Before invoking, the harness waits until the emulator's invoke endpoint and
// its Runtime API both accept connections (the emulator opens them
// independently; invoking before the Runtime API listens makes the runtime's
// first request fail and the invoke answer 502). A cold start that still
// fails the way a loaded machine makes it fail (refused or reset connection,
// 5xx answer, emulator not up, log lines late) is repeated with a fresh
// emulator, at most -attempts times; one that fails every attempt is
// reported and left out, and the run goes on. Only a failure another attempt
// cannot fix (the emulator cannot start, the subject refuses the event)
// stops the run. The load average is printed beside the figures.
//
// Also printed: the invoke's round trip (cold, so it includes the init) and
// the "Init Duration" of the emulator's REPORT line, which the emulator times
// around an asynchronous call (rapidcore.Server.Init returns at once), so it is
// not the init time: it shows about 0.03 ms for every runtime.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	envT0File = "ESSNAP_BENCH_T0_FILE" // where the launcher writes T0
	envProxy  = "ESSNAP_BENCH_PROXY"   // host:port of the harness's proxy
	nextPath  = "/2018-06-01/runtime/invocation/next"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "exec" {
		launch(os.Args[2:])
		return
	}
	os.Exit(run())
}

// launch is the launcher: record T0, redirect the Runtime API, exec the subject.
func launch(argv []string) {
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "harness exec: no command")
		os.Exit(2)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness exec:", err)
		os.Exit(2)
	}
	env := os.Environ()
	if p := os.Getenv(envProxy); p != "" {
		env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API=") })
		env = append(env, "AWS_LAMBDA_RUNTIME_API="+p)
	}
	// The T0 file is opened first, so that only one write(2) lies between T0
	// and the execve(2); Go opens it close-on-exec.
	var f *os.File
	if name := os.Getenv(envT0File); name != "" {
		if f, err = os.Create(name); err != nil {
			fmt.Fprintln(os.Stderr, "harness exec:", err)
			os.Exit(2)
		}
	}
	t0 := time.Now().UnixNano()
	if f != nil {
		if _, err := f.Write([]byte(strconv.FormatInt(t0, 10))); err != nil {
			fmt.Fprintln(os.Stderr, "harness exec:", err)
			os.Exit(2)
		}
	}
	err = syscall.Exec(path, argv, env)
	fmt.Fprintln(os.Stderr, "harness exec:", err)
	os.Exit(2)
}

type subject struct {
	name string
	argv []string
}

type sample struct {
	rie, exec, roundTrip, reportInit time.Duration
}

type subjects []subject

func (s *subjects) String() string { return fmt.Sprint(*s) }
func (s *subjects) Set(v string) error {
	name, cmd, ok := strings.Cut(v, "=")
	if !ok || name == "" || strings.TrimSpace(cmd) == "" {
		return fmt.Errorf("want NAME=COMMAND LINE, got %q", v)
	}
	*s = append(*s, subject{name: name, argv: strings.Fields(cmd)})
	return nil
}

func run() int {
	var subs subjects
	rie := flag.String("rie", ".cache/bin/aws-lambda-rie", "path to aws-lambda-rie")
	n := flag.Int("n", 30, "measured cold starts per subject")
	warmup := flag.Int("warmup", 2, "cold starts per subject run first and not counted (page cache, .pyc files)")
	dir := flag.String("dir", ".", "working directory of the emulator and so of the runtime (the Python handler's directory)")
	event := flag.String("event", `{"essnap_bench":"init"}`, "the event of the one invoke per cold start")
	target := flag.Duration("target", 20*time.Millisecond, "median init target for subjects whose name starts with go")
	timeout := flag.Duration("timeout", 30*time.Second, "limit for one cold start")
	attempts := flag.Int("attempts", 3, "tries per cold start: one that fails the way a loaded machine makes it fail (refused connection, 502, emulator not up) is repeated with a fresh emulator")
	verbose := flag.Bool("v", false, "print every sample")
	flag.Var(&subs, "subject", "NAME=COMMAND LINE of a bootstrap (repeatable; split on spaces)")
	flag.Parse()
	if len(subs) == 0 || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: harness -rie PATH [-n N] -subject NAME=CMD [-subject ...]")
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rieAbs, err := filepath.Abs(*rie)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "essnap-bench-init-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)

	results := make([][]sample, len(subs))
	lost := make([]int, len(subs))    // measured cold starts that failed every attempt
	retried := make([]int, len(subs)) // extra attempts the machine's load cost
	load0 := loadAverage()
	// Interleave subjects and methods so that machine noise spreads over all.
	for i := -*warmup; i < *n; i++ {
		for si, s := range subs {
			var smp sample
			ok := true
			for _, instrumented := range []bool{false, true} {
				c, tries, err := withRetries(*attempts, 200*time.Millisecond, func() (sample, error) {
					return coldStart(rieAbs, self, *dir, tmp, s, *event, *timeout, instrumented)
				})
				retried[si] += tries - 1
				if err != nil {
					var p *permanentError
					if errors.As(err, &p) {
						fmt.Fprintf(os.Stderr, "%s: cold start %d: %v\n", s.name, i, err)
						return 1
					}
					// Load, not the subject: report it and go on.
					fmt.Fprintf(os.Stderr, "%s: cold start %d: gave up after %d attempts: %v\n", s.name, i, tries, err)
					ok = false
					break
				}
				if tries > 1 && *verbose {
					fmt.Fprintf(os.Stderr, "%s: cold start %d: took %d attempts\n", s.name, i, tries)
				}
				if instrumented {
					smp.exec = c.exec
				} else {
					smp.rie, smp.roundTrip, smp.reportInit = c.rie, c.roundTrip, c.reportInit
				}
			}
			if !ok {
				if i >= 0 {
					lost[si]++
				}
				continue
			}
			if *verbose {
				fmt.Printf("  %-24s run %3d  rie %8.3f ms  exec %8.3f ms  cold invoke %8.3f ms  REPORT Init Duration %.2f ms\n",
					s.name, i, ms(smp.rie), ms(smp.exec), ms(smp.roundTrip), ms(smp.reportInit))
			}
			if i >= 0 {
				results[si] = append(results[si], smp)
			}
		}
	}

	load1 := loadAverage()
	fmt.Printf("\nInit time under aws-lambda-rie, process start -> first GET %s\n", nextPath)
	fmt.Printf("N=%d cold starts per subject and method (after %d warm-up), a fresh emulator each; milliseconds\n", *n, *warmup)
	fmt.Printf("load average %s at the start, %s at the end, %d CPUs\n", load0, load1, runtime.NumCPU())
	fmt.Printf("rie: the emulator's INIT REPORT durationMs; exec: execve(2) of the bootstrap -> first /next at a proxy\n\n")
	fmt.Printf("%-22s %8s %8s %8s %8s | %8s %8s | %11s | %11s\n", "subject", "rie p50", "p90", "min", "max", "exec p50", "p90", "invoke p50", "REPORT Init")
	medians := map[string]time.Duration{}
	fail := false
	for si, s := range subs {
		if len(results[si]) == 0 {
			fmt.Printf("%-22s no cold start succeeded\n", s.name)
			continue
		}
		r := pick(results[si], func(x sample) time.Duration { return x.rie })
		e := pick(results[si], func(x sample) time.Duration { return x.exec })
		rt := pick(results[si], func(x sample) time.Duration { return x.roundTrip })
		ri := pick(results[si], func(x sample) time.Duration { return x.reportInit })
		medians[s.name] = quantile(r, 0.5)
		fmt.Printf("%-22s %8.2f %8.2f %8.2f %8.2f | %8.2f %8.2f | %11.2f | %11.2f\n", s.name,
			ms(quantile(r, 0.5)), ms(quantile(r, 0.9)), ms(r[0]), ms(r[len(r)-1]),
			ms(quantile(e, 0.5)), ms(quantile(e, 0.9)), ms(quantile(rt, 0.5)), ms(quantile(ri, 0.5)))
	}
	fmt.Println()
	for si, s := range subs {
		if lost[si] > 0 || retried[si] > 0 {
			fmt.Printf("under load: %s: %d of %d cold starts not measured (each failed %d attempts), %d extra attempts in all\n",
				s.name, lost[si], *n, *attempts, retried[si])
		}
	}
	var goMed, pyMed []time.Duration
	for si, s := range subs {
		if len(results[si]) == 0 {
			// Every cold start failed, even retried: nothing to judge, and
			// more than load can explain.
			fmt.Printf("NO DATA  %s: no cold start succeeded in %d tries each; see the errors above\n", s.name, *attempts)
			fail = true
			continue
		}
		switch {
		case strings.HasPrefix(s.name, "go"):
			goMed = append(goMed, medians[s.name])
			verdict := "PASS"
			if medians[s.name] > *target {
				verdict, fail = "FAIL", true
			}
			fmt.Printf("%s  %s: median init %.2f ms (target <= %.0f ms)\n", verdict, s.name, ms(medians[s.name]), ms(*target))
		case strings.HasPrefix(s.name, "python"):
			pyMed = append(pyMed, medians[s.name])
		}
	}
	if len(goMed) > 0 && len(pyMed) > 0 {
		g, p := slices.Max(goMed), slices.Min(pyMed)
		fmt.Printf("ratio (rie medians): Python %.2f ms / slowest Go %.2f ms = %.0fx\n", ms(p), ms(g), float64(p)/float64(g))
	}
	if fail {
		return 1
	}
	return 0
}

func pick(xs []sample, f func(sample) time.Duration) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	slices.Sort(out)
	return out
}

// quantile is the nearest-rank quantile of sorted values (the median of an
// even count is the mean of the two middle values).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	if q == 0.5 && len(sorted)%2 == 0 {
		return (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

var (
	reInitReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	reReportInit = regexp.MustCompile(`(?m)^REPORT .*Init Duration: ([0-9.]+) ms`)
)

// coldStart runs one fresh emulator, invokes it once and returns what it
// measured: rie, roundTrip and reportInit, or with instrumented, exec.
func coldStart(rie, self, dir, tmp string, s subject, event string, limit time.Duration, instrumented bool) (sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	apiAddr, err := freeAddr()
	if err != nil {
		return sample{}, err
	}
	invokeAddr, err := freeAddr()
	if err != nil {
		return sample{}, err
	}
	argv := []string{"--runtime-api-address", apiAddr, "--runtime-interface-emulator-address", invokeAddr}
	env := append(os.Environ(), "LAMBDA_TASK_ROOT="+dir, "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30")

	// exec method: the proxy in front of the emulator's Runtime API, and the launcher.
	var (
		mu     sync.Mutex
		t1     time.Time
		t0File string
	)
	if instrumented {
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return sample{}, err
		}
		rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: apiAddr})
		rp.FlushInterval = -1
		// After the answer the runtime asks for the next event while the
		// emulator is being stopped; that request's failure is expected.
		rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == nextPath {
				now := time.Now()
				mu.Lock()
				if t1.IsZero() {
					t1 = now
				}
				mu.Unlock()
			}
			rp.ServeHTTP(w, r)
		})}
		go srv.Serve(pl)
		defer srv.Close()
		t0File = filepath.Join(tmp, "t0")
		os.Remove(t0File)
		argv = append(argv, self, "exec", "--")
		env = append(env, envT0File+"="+t0File, envProxy+"="+pl.Addr().String())
	}
	argv = append(argv, s.argv...)

	cmd := exec.Command(rie, argv...)
	cmd.Dir = dir
	cmd.Env = env
	var out syncBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return sample{}, &permanentError{fmt.Errorf("start %s: %w", rie, err)}
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the emulator and the runtime it started
		<-done
	}()

	// Wait until the emulator is ready: its invoke endpoint AND its Runtime
	// API. The emulator opens the Runtime API in a goroutine of its own
	// (rapid's startRuntimeAPI) and the invoke endpoint right after, so on a
	// loaded machine an invoke could start the runtime before the Runtime API
	// listens: the runtime's first request is refused and the invoke answers
	// 502.
	if err := waitListening(ctx, done, invokeAddr, apiAddr); err != nil {
		return sample{}, fmt.Errorf("%w; emulator output: %s", err, tail(out.String()))
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+invokeAddr+"/2015-03-31/functions/function/invocations", strings.NewReader(event))
	if err != nil {
		return sample{}, err
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return sample{}, fmt.Errorf("invoke: %w; emulator output: %s", err, tail(out.String()))
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	smp := sample{roundTrip: time.Since(start)}
	if res.StatusCode != http.StatusOK {
		err := fmt.Errorf("invoke answered %s; emulator output: %s", res.Status, tail(out.String()))
		if res.StatusCode < 500 {
			return sample{}, &permanentError{err}
		}
		return sample{}, err
	}

	if instrumented {
		raw, err := os.ReadFile(t0File)
		if err != nil {
			return sample{}, fmt.Errorf("launcher wrote no T0: %w; emulator output: %s", err, tail(out.String()))
		}
		t0ns, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil {
			return sample{}, &permanentError{fmt.Errorf("launcher's T0 file: %w", err)}
		}
		mu.Lock()
		t1v := t1
		mu.Unlock()
		if t1v.IsZero() {
			return sample{}, errors.New("the runtime never asked for an event through the proxy")
		}
		smp.exec = time.Duration(t1v.UnixNano() - t0ns)
		return smp, nil
	}

	// INIT REPORT is logged before the invoke starts; the REPORT line right
	// after the answer is written, so give it a moment (more than a moment
	// on a loaded machine, never past the cold start's limit).
	var initOK, reportOK bool
	deadline := time.Now().Add(reportWait)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	for ; time.Now().Before(deadline) && !(initOK && reportOK); time.Sleep(2 * time.Millisecond) {
		o := out.String()
		if m := reInitReport.FindStringSubmatch(o); m != nil && !initOK {
			smp.rie, initOK = msDuration(m[1])
		}
		if m := reReportInit.FindStringSubmatch(o); m != nil && !reportOK {
			smp.reportInit, reportOK = msDuration(m[1])
		}
	}
	if !initOK || !reportOK {
		return sample{}, fmt.Errorf("no INIT REPORT or REPORT line in the emulator's output: %s", tail(out.String()))
	}
	return smp, nil
}

// reportWait bounds the wait for the emulator's REPORT line after the answer.
const reportWait = 5 * time.Second

// permanentError is a cold-start failure that another attempt cannot fix
// (the emulator cannot be started, the subject refuses the event): the
// harness stops. Every other failure is taken for the machine's load and
// retried with a fresh emulator.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// withRetries runs try up to attempts times, pausing pause×attempt between
// tries, while its failure is not permanent. It returns the result, how many
// tries it took, and the last error.
func withRetries(attempts int, pause time.Duration, try func() (sample, error)) (sample, int, error) {
	var err error
	for n := 1; ; n++ {
		var smp sample
		if smp, err = try(); err == nil {
			return smp, n, nil
		}
		var p *permanentError
		if errors.As(err, &p) || n >= attempts {
			return sample{}, n, err
		}
		time.Sleep(pause * time.Duration(n))
	}
}

// waitListening returns once every address accepts a TCP connection, or an
// error when the emulator exits (done closes) or ctx ends first.
func waitListening(ctx context.Context, done <-chan struct{}, addrs ...string) error {
	for _, addr := range addrs {
		for {
			c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-done:
				return fmt.Errorf("emulator exited before %s listened", addr)
			case <-ctx.Done():
				return fmt.Errorf("emulator did not listen on %s: %w", addr, ctx.Err())
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	return nil
}

// loadAverage is the 1-minute load average (Linux), printed beside the
// figures because they move with the machine's load; "?" elsewhere.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func msDuration(s string) (time.Duration, bool) {
	v, err := strconv.ParseFloat(s, 64)
	return time.Duration(v * float64(time.Millisecond)), err == nil
}

// syncBuffer collects the emulator's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string) string {
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}
