//go:build integration

package workflow

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// replicaReport is the replica step's part of the workflow output.
type replicaReport struct {
	Replicas struct {
		Done      bool    `json:"done"`
		Skipped   bool    `json:"skipped"`
		DataNodes int     `json:"data_nodes"`
		Seconds   float64 `json:"seconds"`
		Indices   []struct {
			Index    string `json:"index"`
			Replicas int    `json:"replicas"`
			Applied  int    `json:"applied"`
			Status   string `json:"status"`
			Expected string `json:"expected"`
		} `json:"indices"`
	} `json:"replicas"`
}

func (x execution) times(state string) int {
	n := 0
	for _, e := range x.Events {
		if e.Event == "state_entered" && e.State == state {
			n++
		}
	}
	return n
}

// settingOf reads one index setting (flat) from an engine.
func settingOf(t *testing.T, url, index, key string) any {
	m := mustReq(t, "GET", url+"/"+index+"/_settings/"+key+"?flat_settings=true", "")
	return m[index].(map[string]any)["settings"].(map[string]any)[key]
}

// TestReplicasAfterVerify: the workflow restores without replicas, verifies,
// then sets each index back to its source's number_of_replicas (0 and 1
// here) and waits for the health the target can reach (green; yellow for
// 1 replica on these single-node engines); the report carries the step's
// duration. The snapshot and restore polls each end inside their first
// check-progress invocation: no Wait state, no whole-second overshoot.
func TestReplicasAfterVerify(t *testing.T) {
	all := engines(t, matrix...)
	for _, pair := range snapshotPairs {
		t.Run(pair.name, func(t *testing.T) {
			src, tgt := all[pair.src], all[pair.tgt]
			cleanup(t, "wf-rep*", src, tgt)
			createIndex(t, src, "wf-rep-zero")
			mustReq(t, "PUT", src+"/wf-rep-one", `{"settings":{"number_of_shards":1,"number_of_replicas":1}}`)
			for _, ix := range []string{"wf-rep-zero", "wf-rep-one"} {
				var b strings.Builder
				for i := 0; i < 500; i++ {
					fmt.Fprintf(&b, "{\"index\":{\"_id\":\"d%d\"}}\n{\"m\":%d}\n", i, i)
				}
				mustReq(t, "POST", src+"/"+ix+"/_bulk?refresh=true", b.String())
			}
			in := input(t, src, tgt, "push", "wf-rep-*")
			in["check_seconds"] = 30
			x := run(t, in, runOptions{})
			succeeded(t, x)
			var out replicaReport
			if err := json.Unmarshal(x.Result.Output, &out); err != nil {
				t.Fatal(err)
			}
			r := out.Replicas
			if !r.Done || r.Seconds <= 0 {
				t.Fatalf("replica step: %s", x.Result.Output)
			}
			want := map[string]struct {
				n      int
				health string
			}{"wf-rep-zero-restored": {0, "green"}, "wf-rep-one-restored": {1, "yellow"}}
			for index, w := range want {
				if r.DataNodes > 1 {
					w.health = "green"
				}
				if got := settingOf(t, tgt, index, "index.number_of_replicas"); got != fmt.Sprint(w.n) {
					t.Fatalf("%s number_of_replicas on the target %v; want %d", index, got, w.n)
				}
				h := mustReq(t, "GET", tgt+"/_cluster/health/"+index, "")
				if h["status"] != w.health {
					t.Fatalf("%s health %v; want %s", index, h["status"], w.health)
				}
			}
			for _, s := range []string{"CheckSnapshot", "CheckRestore"} {
				if n := x.times(s); n != 1 {
					t.Errorf("%s ran %d times; want once (it polls inside the invocation)", s, n)
				}
			}
			for _, s := range []string{"WaitSnapshot", "WaitRestore", "WaitReplicas"} {
				if x.entered(s) {
					t.Errorf("entered %s: a whole-second Wait the in-invocation poll should have made unnecessary", s)
				}
			}
			t.Logf("replica step %.2fs", r.Seconds)
		})
	}
}

// TestReplicasWithRestore: replicas "with_restore" restores with the
// snapshot's replica counts; the replica step then finds them set (and
// records the migration complete); an unknown value stops before anything.
func TestReplicasWithRestore(t *testing.T) {
	all := engines(t, es710, os219)
	src, tgt := all[es710], all[os219]
	cleanup(t, "wf-repw*", src, tgt)
	mustReq(t, "PUT", src+"/wf-repw", `{"settings":{"number_of_shards":1,"number_of_replicas":1}}`)
	mustReq(t, "POST", src+"/wf-repw/_bulk?refresh=true", "{\"index\":{\"_id\":\"a\"}}\n{\"m\":1}\n")
	in := input(t, src, tgt, "push", "wf-repw")
	in["replicas"] = "with_restore"
	x := run(t, in, runOptions{})
	succeeded(t, x)
	var out replicaReport
	if err := json.Unmarshal(x.Result.Output, &out); err != nil {
		t.Fatal(err)
	}
	if !out.Replicas.Done || x.times("SetReplicas") != 1 {
		t.Fatalf("replica step after a restore with replicas: %s", x.Result.Output)
	}
	if got := settingOf(t, tgt, "wf-repw-restored", "index.number_of_replicas"); got != "1" {
		t.Fatalf("restored with number_of_replicas %v; want the snapshot's 1", got)
	}
	in = input(t, src, tgt, "push", "wf-repw")
	in["replicas"] = "later"
	x = run(t, in, runOptions{})
	if x.Result.Status != "FAILED" || x.Result.Error != "ValidationError" || x.entered("Preflight") {
		t.Fatalf("replicas \"later\": %s %s %s", x.Result.Status, x.Result.Error, x.Result.Cause)
	}
}
