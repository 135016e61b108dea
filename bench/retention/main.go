// Command retention benchmarks essnap's retention against Curator's
// delete_snapshots on a real Elasticsearch 7.10 (issue 5 target: essnap at
// least 5x faster wall time with the same age filter on >= 200 snapshots).
// It is a benchmark, not a test; bench/retention/run.sh starts the engine,
// installs Curator and runs it (make bench-retention).
//
// For each tool, in one run against the same engine, it:
//
//  1. registers a fresh fs repository and creates the same snapshots of a
//     small index: two foreign ones (no essnap metadata, another prefix),
//     -old "old" policy snapshots (nightly-old-NNN, metadata essnap_policy:
//     nightly, as take-snapshot writes it), then after -gap the -new "new"
//     ones (nightly-new-NNN);
//  2. picks a whole-second age cut-off X half-way between the newest old
//     and the oldest new snapshot, so "older than X seconds" selects exactly
//     the old ones for either tool even if it starts a few seconds later;
//  3. runs the tool as a separate process and times it (process wall time,
//     from exec to exit, plus the tool's own in-process time):
//     - essnap: this program re-executed as "essnap-pass", which invokes
//     handler.TakeSnapshot with {"action":"retention","retention":
//     {"expire_after":"Xs"}} through production-like Deps (esclient +
//     engine.Ops, unsigned, the system clock, JSON logs and EMF metrics
//     to stderr), counting every HTTP request at the innermost transport;
//     - Curator: "curator --config C A" with a delete_snapshots action
//     filtered by pattern prefix nightly- and age source creation_date,
//     direction older, unit seconds, unit_count X, run through
//     curator_shim.py, which counts its HTTP requests (see there);
//  4. lists what is left and checks that the tool deleted exactly the old
//     snapshots (so both deleted the same set) and kept the new and foreign
//     ones; then removes the repository.
//
// Rounds alternate the order (essnap first in odd rounds).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/essnap/essnap/pkg/engine"
	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/handler"
	"github.com/essnap/essnap/pkg/metrics"
	"github.com/essnap/essnap/pkg/model"
	"github.com/essnap/essnap/pkg/retention"
)

const (
	policyID = "nightly" // take-snapshot's default policy id
	prefix   = "nightly-"
	index    = "bench-retention-logs"
)

var foreign = []string{"manual-before-upgrade", "weekly-000"}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "essnap-pass" {
		if err := essnapPass(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "essnap-pass:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-retention:", err)
		os.Exit(1)
	}
}

// request is one HTTP exchange as a tool sent it.
type request struct {
	Method string  `json:"method"`
	Path   string  `json:"path"`
	Status int     `json:"status"`
	Ms     float64 `json:"ms"`
}

// passResult is what one tool's process reports (essnap-pass prints it as
// JSON; curator_shim.py writes the same fields).
type passResult struct {
	InProcessMs float64   `json:"in_process_ms"`
	Requests    []request `json:"requests"`
	Deleted     []string  `json:"deleted,omitempty"`
	Error       string    `json:"error,omitempty"`
}

// ---------------------------------------------------------------- essnap pass

type countingRT struct {
	next http.RoundTripper
	mu   *sync.Mutex
	log  *[]request
}

func (c countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	t0 := time.Now()
	resp, err := c.next.RoundTrip(r)
	rec := request{Method: r.Method, Path: r.URL.EscapedPath(), Ms: ms(time.Since(t0))}
	if resp != nil {
		rec.Status = resp.StatusCode
	}
	c.mu.Lock()
	*c.log = append(*c.log, rec)
	c.mu.Unlock()
	return resp, err
}

// essnapPass runs one retention pass the way the take-snapshot Lambda does,
// in this fresh process, and prints a passResult.
func essnapPass(args []string) error {
	fs := flag.NewFlagSet("essnap-pass", flag.ExitOnError)
	url := fs.String("url", "", "engine URL")
	repo := fs.String("repo", "", "repository")
	expire := fs.String("expire-after", "", "retention.expire_after")
	batch := fs.Int("batch", 0, "retention.batch_size (0: the stack default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var mu sync.Mutex
	var reqs []request
	base := http.DefaultTransport.(*http.Transport).Clone()
	// As wiring.SignedConnector builds it for an unsigned domain, with the
	// counting transport innermost.
	connect := func(_ context.Context, d handler.Domain) (any, error) {
		c, err := esclient.New(esclient.Config{Endpoint: d.Endpoint, Region: d.Region, Unsigned: d.Unsigned, Base: countingRT{base, &mu, &reqs}})
		if err != nil {
			return nil, err
		}
		return engine.Ops{C: c}, nil
	}
	env := map[string]string{"ESSNAP_ENDPOINT": *url, "ESSNAP_UNSIGNED": "true", "ESSNAP_REPOSITORY": *repo}
	deps := handler.Deps{
		Connect: connect,
		Clock:   handler.SystemClock{},
		Log:     slog.New(slog.NewJSONHandler(os.Stderr, nil)),
		Getenv:  func(k string) string { return env[k] },
		Metrics: &metrics.EMF{W: os.Stderr, Namespace: "essnap", Now: time.Now},
	}
	// expire_after is the only rule, as in Curator's action file.
	rf := map[string]any{"expire_after": *expire}
	if *batch > 0 {
		rf["batch_size"] = *batch
	}
	ev, _ := json.Marshal(map[string]any{"action": "retention", "retention": rf})

	t0 := time.Now()
	res, err := handler.TakeSnapshot{Deps: deps}.Invoke(context.Background(), ev)
	out := passResult{InProcessMs: ms(time.Since(t0)), Requests: reqs}
	if err != nil {
		out.Error = err.Error()
	}
	if res.Retention != nil {
		for _, d := range res.Retention.Deleted {
			out.Deleted = append(out.Deleted, d.Snapshot)
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// ---------------------------------------------------------------- orchestrator

type config struct {
	url, repoRoot, work string
	old, fresh, rounds  int
	gap                 time.Duration
	batch               int
	curator             []string
	plainCurator        string
	outJSON             string
	verbose             bool
}

// toolRun is one tool's measured pass.
type toolRun struct {
	Tool        string    `json:"tool"`
	Round       int       `json:"round"`
	Snapshots   int       `json:"snapshots"`
	CutoffS     int       `json:"cutoff_seconds"`
	WallMs      float64   `json:"wall_ms"`
	InProcessMs float64   `json:"in_process_ms"`
	Requests    []request `json:"requests"`
	Deleted     []string  `json:"deleted"`
	Remaining   []string  `json:"remaining"`
}

func run() error {
	var c config
	var curatorCmd string
	flag.StringVar(&c.url, "url", "http://127.0.0.1:9271", "Elasticsearch 7.10 URL (loopback)")
	flag.StringVar(&c.repoRoot, "repo-root", "", "a directory under the engine's path.repo (required)")
	flag.StringVar(&c.work, "work", os.TempDir(), "directory for Curator's config, action and log files")
	flag.IntVar(&c.old, "old", 150, "policy snapshots older than the cut-off (deleted)")
	flag.IntVar(&c.fresh, "new", 60, "policy snapshots newer than the cut-off (kept)")
	flag.DurationVar(&c.gap, "gap", 10*time.Second, "pause between the old and the new snapshots")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds; each runs both tools, alternating which goes first")
	flag.IntVar(&c.batch, "batch", 0, "essnap retention.batch_size (0: the stack default, 50)")
	flag.StringVar(&curatorCmd, "curator", "curator", "command that runs Curator (words split on spaces)")
	flag.StringVar(&c.plainCurator, "plain-curator", "", "also try this unmodified curator binary once (dry run) and report how it fares")
	flag.StringVar(&c.outJSON, "json", "", "write every measurement to this file")
	flag.BoolVar(&c.verbose, "v", false, "print every request of every tool")
	flag.Parse()
	c.curator = strings.Fields(curatorCmd)
	if c.repoRoot == "" || len(c.curator) == 0 || c.old < 1 || c.fresh < 1 || c.rounds < 1 {
		flag.Usage()
		return errors.New("need -repo-root, -curator, -old >= 1, -new >= 1, -rounds >= 1")
	}
	if !strings.HasPrefix(c.url, "http://127.0.0.1:") && !strings.HasPrefix(c.url, "http://localhost:") {
		return fmt.Errorf("-url %s: loopback engines only", c.url)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx := context.Background()
	cl, err := esclient.New(esclient.Config{Endpoint: c.url, Unsigned: true})
	if err != nil {
		return err
	}
	ops := engine.Ops{C: cl}
	v, err := ops.EngineVersion(ctx)
	if err != nil {
		return fmt.Errorf("engine at %s: %w", c.url, err)
	}
	fmt.Printf("engine: %s %s at %s\n", v.Distribution, v.Number, c.url)
	if err := seedIndex(ctx, cl); err != nil {
		return err
	}
	defer func() { _ = cl.Do(ctx, http.MethodDelete, esclient.Path(index), nil, nil, nil) }()

	if c.plainCurator != "" {
		plainCheck(ctx, c, ops)
	}

	var runs []toolRun
	for r := 1; r <= c.rounds; r++ {
		order := []string{"essnap", "curator"}
		if r%2 == 0 {
			slices.Reverse(order)
		}
		for _, tool := range order {
			tr, err := c.measure(ctx, ops, self, tool, r)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r, tool, err)
			}
			runs = append(runs, tr)
			fmt.Printf("round %d %-7s: %d snapshots, cut-off %ds, deleted %d, kept %d, wall %.0f ms (in process %.0f ms), %d HTTP requests %s\n",
				r, tool, tr.Snapshots, tr.CutoffS, len(tr.Deleted), len(tr.Remaining), tr.WallMs, tr.InProcessMs, len(tr.Requests), summarize(tr.Requests))
			if c.verbose {
				for _, q := range tr.Requests {
					fmt.Printf("    %s %s -> %d (%.1f ms)\n", q.Method, shorten(q.Path), q.Status, q.Ms)
				}
			}
		}
	}
	if err := report(c, runs); err != nil {
		return err
	}
	if c.outJSON != "" {
		b, _ := json.MarshalIndent(runs, "", "  ")
		if err := os.WriteFile(c.outJSON, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// seedIndex creates the small index every snapshot holds.
func seedIndex(ctx context.Context, cl *esclient.Client) error {
	_ = cl.Do(ctx, http.MethodDelete, esclient.Path(index), nil, nil, nil)
	if err := cl.Do(ctx, http.MethodPut, esclient.Path(index), nil,
		map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}, nil); err != nil {
		return fmt.Errorf("create %s: %w", index, err)
	}
	for i := range 20 {
		doc := map[string]any{"@timestamp": time.Now().UTC().Format(time.RFC3339Nano), "message": fmt.Sprintf("log line %d", i)}
		if err := cl.Do(ctx, http.MethodPut, esclient.Path(index, "_doc", fmt.Sprint(i)), nil, doc, nil); err != nil {
			return fmt.Errorf("index a document: %w", err)
		}
	}
	return cl.Do(ctx, http.MethodPost, esclient.Path(index, "_refresh"), nil, nil, nil)
}

// prepared is a repository filled for one tool.
type prepared struct {
	repo                  string
	oldNames, newNames    []string
	lastOldMs, firstNewMs int64
	total                 int
}

func (c config) prepare(ctx context.Context, ops engine.Ops, repo string) (prepared, error) {
	p := prepared{repo: repo}
	loc := filepath.Join(c.repoRoot, fmt.Sprintf("%s-%d", repo, time.Now().UnixNano()))
	if _, err := ops.RegisterRepository(ctx, engine.RepositorySpec{Name: repo, Type: "fs", Settings: map[string]any{"location": loc}}); err != nil {
		return p, err
	}
	create := func(name string, meta map[string]any) (int64, error) {
		r, err := ops.CreateSnapshot(ctx, repo, name, engine.CreateOptions{Indices: []string{index}, WaitForCompletion: true, Metadata: meta})
		if err != nil {
			return 0, err
		}
		if r.Snapshot.State != model.StateSuccess {
			return 0, fmt.Errorf("snapshot %s ended %s", name, r.Snapshot.State)
		}
		p.total++
		return r.Snapshot.Start.UnixMilli(), nil
	}
	t0 := time.Now()
	for _, name := range foreign {
		meta := map[string]any(nil)
		if strings.HasPrefix(name, "weekly-") {
			meta = map[string]any{retention.PolicyMetadataKey: "weekly"}
		}
		if _, err := create(name, meta); err != nil {
			return p, err
		}
	}
	policy := map[string]any{retention.PolicyMetadataKey: policyID, "essnap": map[string]any{"trigger": "schedule", "template": "nightly-{now/d}"}}
	for i := range c.old {
		name := fmt.Sprintf("%sold-%03d", prefix, i)
		ms, err := create(name, policy)
		if err != nil {
			return p, err
		}
		p.oldNames, p.lastOldMs = append(p.oldNames, name), ms
	}
	time.Sleep(c.gap)
	for i := range c.fresh {
		name := fmt.Sprintf("%snew-%03d", prefix, i)
		ms, err := create(name, policy)
		if err != nil {
			return p, err
		}
		if i == 0 {
			p.firstNewMs = ms
		}
		p.newNames = append(p.newNames, name)
	}
	fmt.Printf("  %s: created %d snapshots in %v (gap %v)\n", repo, p.total, time.Since(t0).Round(time.Millisecond), c.gap)
	return p, nil
}

// cutoff is a whole number of seconds X such that, from now until margin
// later, the newest old snapshot is older than X and the oldest new one is
// younger than X.
func cutoff(p prepared, now time.Time, margin time.Duration) (int, error) {
	ageOld := now.Sub(time.UnixMilli(p.lastOldMs)).Seconds()
	ageNew := now.Sub(time.UnixMilli(p.firstNewMs)).Seconds()
	x := int(math.Round((ageOld + ageNew) / 2))
	if float64(x) >= ageOld || float64(x) <= ageNew+margin.Seconds() {
		return 0, fmt.Errorf("no safe cut-off: newest old snapshot %.1fs old, oldest new %.1fs old; raise -gap", ageOld, ageNew)
	}
	return x, nil
}

func (c config) measure(ctx context.Context, ops engine.Ops, self, tool string, round int) (toolRun, error) {
	repo := fmt.Sprintf("bench-%s-%d", tool, round)
	defer func() {
		_ = ops.C.Do(ctx, http.MethodDelete, esclient.Path("_snapshot", repo, "*"), nil, nil, nil)
		_ = ops.C.Do(ctx, http.MethodDelete, esclient.Path("_snapshot", repo), nil, nil, nil)
	}()
	p, err := c.prepare(ctx, ops, repo)
	if err != nil {
		return toolRun{}, err
	}
	x, err := cutoff(p, time.Now(), c.gap/2-time.Second)
	if err != nil {
		return toolRun{}, err
	}
	tr := toolRun{Tool: tool, Round: round, Snapshots: p.total, CutoffS: x}
	var res passResult
	switch tool {
	case "essnap":
		args := []string{"essnap-pass", "-url", c.url, "-repo", repo, "-expire-after", fmt.Sprintf("%ds", x)}
		if c.batch > 0 {
			args = append(args, "-batch", fmt.Sprint(c.batch))
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(self, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		t0 := time.Now()
		err := cmd.Run()
		tr.WallMs = ms(time.Since(t0))
		if err != nil {
			return tr, fmt.Errorf("essnap pass: %v\n%s", err, stderr.String())
		}
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			return tr, fmt.Errorf("essnap pass output %q: %w", stdout.String(), err)
		}
		if res.Error != "" {
			return tr, fmt.Errorf("essnap pass: %s\n%s", res.Error, stderr.String())
		}
	case "curator":
		dir, err := os.MkdirTemp(c.work, "curator-")
		if err != nil {
			return tr, err
		}
		files, err := curatorFiles(dir, c.url, repo, x)
		if err != nil {
			return tr, err
		}
		stats := filepath.Join(dir, "stats.json")
		cmd := exec.Command(c.curator[0], append(c.curator[1:], "--config", files[0], files[1])...)
		cmd.Env = append(os.Environ(), "BENCH_CURATOR_STATS="+stats)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t0 := time.Now()
		err = cmd.Run()
		tr.WallMs = ms(time.Since(t0))
		if err != nil {
			log, _ := os.ReadFile(files[2])
			return tr, fmt.Errorf("curator: %v\n%s%s", err, out.String(), tail(string(log), 20))
		}
		b, err := os.ReadFile(stats)
		if err != nil {
			return tr, fmt.Errorf("curator wrote no statistics (is the command curator_shim.py?): %w", err)
		}
		if err := json.Unmarshal(b, &res); err != nil {
			return tr, err
		}
	default:
		return tr, fmt.Errorf("unknown tool %s", tool)
	}
	tr.InProcessMs, tr.Requests = res.InProcessMs, res.Requests

	left, err := ops.ListSnapshots(ctx, repo)
	if err != nil {
		return tr, err
	}
	names := map[string]bool{}
	for _, s := range left {
		names[s.Name] = true
		tr.Remaining = append(tr.Remaining, s.Name)
	}
	sort.Strings(tr.Remaining)
	for _, n := range append(append([]string{}, foreign...), append(p.oldNames, p.newNames...)...) {
		if !names[n] {
			tr.Deleted = append(tr.Deleted, n)
		}
	}
	sort.Strings(tr.Deleted)
	want := append(append([]string{}, p.newNames...), foreign...)
	sort.Strings(want)
	if !slices.Equal(tr.Deleted, p.oldNames) || !slices.Equal(tr.Remaining, want) {
		return tr, fmt.Errorf("%s deleted %d snapshots %v and left %d, want exactly the %d old ones deleted and the %d new + %d foreign ones left",
			tool, len(tr.Deleted), head(tr.Deleted), len(tr.Remaining), len(p.oldNames), len(p.newNames), len(foreign))
	}
	if tool == "essnap" {
		got := slices.Clone(res.Deleted)
		sort.Strings(got)
		if !slices.Equal(got, p.oldNames) {
			return tr, fmt.Errorf("essnap reported deleting %d snapshots, the repository lost %d", len(got), len(tr.Deleted))
		}
	}
	return tr, nil
}

// curatorFiles writes Curator's client config and a delete_snapshots action
// with the same filter as essnap's expire_after; it returns the config,
// action and log file paths.
func curatorFiles(dir, url, repo string, cutoffS int) ([3]string, error) {
	host, port, _ := strings.Cut(strings.TrimPrefix(url, "http://"), ":")
	files := [3]string{filepath.Join(dir, "curator.yml"), filepath.Join(dir, "action.yml"), filepath.Join(dir, "curator.log")}
	cfg := fmt.Sprintf(`client:
  hosts: [%q]
  port: %s
  timeout: 300
logging:
  loglevel: INFO
  logfile: %q
`, host, port, files[2])
	action := fmt.Sprintf(`actions:
  1:
    action: delete_snapshots
    description: delete nightly- snapshots older than %[2]d seconds (essnap's expire_after %[2]ds)
    options:
      repository: %[1]q
      retry_interval: 120
      retry_count: 3
      ignore_empty_list: false
      disable_action: false
    filters:
    - filtertype: pattern
      kind: prefix
      value: %[3]s
    - filtertype: age
      source: creation_date
      direction: older
      unit: seconds
      unit_count: %[2]d
`, repo, cutoffS, prefix)
	if err := os.WriteFile(files[0], []byte(cfg), 0o644); err != nil {
		return files, err
	}
	return files, os.WriteFile(files[1], []byte(action), 0o644)
}

// plainCheck runs the unmodified curator once, as a dry run on an empty
// repository, and reports whether it can talk to this engine at all.
func plainCheck(ctx context.Context, c config, ops engine.Ops) {
	const repo = "bench-curator-check"
	loc := filepath.Join(c.repoRoot, fmt.Sprintf("%s-%d", repo, time.Now().UnixNano()))
	if _, err := ops.RegisterRepository(ctx, engine.RepositorySpec{Name: repo, Type: "fs", Settings: map[string]any{"location": loc}}); err != nil {
		fmt.Printf("plain curator check: cannot register %s: %v\n", repo, err)
		return
	}
	defer func() { _ = ops.C.Do(ctx, http.MethodDelete, esclient.Path("_snapshot", repo), nil, nil, nil) }()
	dir, err := os.MkdirTemp(c.work, "curator-plain-")
	if err != nil {
		fmt.Printf("plain curator check: %v\n", err)
		return
	}
	files, err := curatorFiles(dir, c.url, repo, 60)
	if err != nil {
		fmt.Printf("plain curator check: %v\n", err)
		return
	}
	out, err := exec.Command(c.plainCurator, "--dry-run", "--config", files[0], files[1]).CombinedOutput()
	log, _ := os.ReadFile(files[2])
	all := string(out) + string(log)
	if err == nil {
		fmt.Printf("plain curator (%s --dry-run): works against this engine\n", c.plainCurator)
		return
	}
	line := ""
	for _, l := range strings.Split(all, "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "CRITICAL") {
			line = strings.TrimSpace(l)
			break
		}
	}
	fmt.Printf("plain curator (%s --dry-run) fails against this engine: %v\n  %s\n", c.plainCurator, err, line)
}

func report(c config, runs []toolRun) error {
	by := map[string][]toolRun{}
	for _, r := range runs {
		by[r.Tool] = append(by[r.Tool], r)
	}
	med := func(rs []toolRun, f func(toolRun) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		if n := len(v); n%2 == 1 {
			return v[n/2]
		} else {
			return (v[n/2-1] + v[n/2]) / 2
		}
	}
	wall := func(r toolRun) float64 { return r.WallMs }
	inproc := func(r toolRun) float64 { return r.InProcessMs }
	reqs := func(r toolRun) float64 { return float64(len(r.Requests)) }
	e, k := by["essnap"], by["curator"]
	for i := range e {
		if !slices.Equal(e[i].Deleted, k[i].Deleted) || !slices.Equal(e[i].Remaining, k[i].Remaining) {
			return fmt.Errorf("round %d: essnap and Curator deleted different sets", e[i].Round)
		}
	}
	batch := c.batch
	if batch == 0 {
		batch = retention.DefaultMaxPerRequest
	}
	want := 1 + (c.old+batch-1)/batch
	fmt.Println()
	fmt.Printf("same set deleted by both tools in every round: %d old snapshots of %d (%d new + %d foreign kept)\n", c.old, e[0].Snapshots, c.fresh, len(foreign))
	fmt.Printf("%-8s %12s %16s %10s   %s\n", "tool", "wall ms", "in-process ms", "requests", "(medians over "+fmt.Sprint(c.rounds)+" round(s))")
	for _, t := range []string{"essnap", "curator"} {
		fmt.Printf("%-8s %12.0f %16.0f %10.0f\n", t, med(by[t], wall), med(by[t], inproc), med(by[t], reqs))
	}
	sw := med(k, wall) / med(e, wall)
	si := med(k, inproc) / med(e, inproc)
	fmt.Printf("speed-up (Curator / essnap): %.1fx wall, %.1fx in process; target >= 5x wall: %s\n", sw, si, verdict(sw >= 5))
	retReqs := 0
	for _, q := range e[0].Requests {
		if q.Path != "/" {
			retReqs++
		}
	}
	fmt.Printf("essnap requests: %d = product check GET / + %d retention requests; expected 1 list + ceil(%d/%d) = %d: %s\n",
		len(e[0].Requests), retReqs, c.old, batch, want, verdict(retReqs == want))
	if sw < 5 || retReqs != want {
		return errors.New("target missed")
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// summarize counts requests by method and path shape.
func summarize(rs []request) string {
	counts := map[string]int{}
	var keys []string
	for _, q := range rs {
		k := q.Method + " " + shape(q.Path)
		if counts[k] == 0 {
			keys = append(keys, k)
		}
		counts[k]++
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%dx %s", counts[k], k)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// shape replaces snapshot names in a path with a placeholder.
func shape(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) == 4 && parts[1] == "_snapshot" && parts[3] != "_all" {
		n := strings.Count(parts[3], ",") + 1
		if n > 1 {
			parts[3] = fmt.Sprintf("{%d names}", n)
		} else {
			parts[3] = "{name}"
		}
	}
	return strings.Join(parts, "/")
}

func shorten(p string) string {
	if len(p) > 100 {
		return p[:97] + "..."
	}
	return p
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
