package template

import (
	"fmt"
	"testing"

	"github.com/essnap/essnap/pkg/handler"
)

// TestRetentionPolicyIDIsTheStackName: retention deletes only snapshots
// whose essnap_policy metadata equals the policy id, so each stack must
// have its own; with the Go default ("nightly") everywhere, two stacks
// sharing a bucket path would delete each other's snapshots.
func TestRetentionPolicyIDIsTheStackName(t *testing.T) {
	f := load(t)
	const key = "ESSNAP_RETENTION_POLICY_ID"

	res := mapOf(f.raw["Resources"])
	raw := mapOf(mapOf(mapOf(mapOf(res["TakeSnapshotFunction"])["Properties"])["Environment"])["Variables"])[key]
	if got := fmt.Sprint(raw); got != "map[Ref:AWS::StackName]" {
		t.Fatalf("TakeSnapshotFunction %s = %s, want !Ref AWS::StackName (one policy per stack)", key, got)
	}

	forEachStack(t, f, func(t *testing.T, s *stack) {
		for _, id := range resourcesOfType(s, "AWS::Serverless::Function") {
			v, set := mapOf(mapOf(props(s, id)["Environment"])["Variables"])[key]
			switch {
			case id == "TakeSnapshotFunction" && v != testStackName:
				t.Errorf("%s: %s = %v, want the stack name %q", id, key, v, testStackName)
			case id != "TakeSnapshotFunction" && set:
				t.Errorf("%s: %s is set, but only take-snapshot applies retention", id, key)
			}
		}

		// take-snapshot reads it as its policy id, for the schedules' inputs
		// and the console event; an event's own policy_id still wins.
		vars := mapOf(mapOf(props(s, "TakeSnapshotFunction")["Environment"])["Variables"])
		getenv := func(k string) string { v, _ := vars[k].(string); return v }
		events := []string{
			"{}",
			fmt.Sprint(mapOf(props(s, "NightlySchedule")["Target"])["Input"]),
			fmt.Sprint(mapOf(props(s, "RetentionSchedule")["Target"])["Input"]),
			fmt.Sprint(mapOf(s.outputs["ConsoleTestEvent"])["Value"]),
		}
		for _, ev := range events {
			if got := handler.LoadSnapshotConfig(getenv, []byte(ev)).Retention.PolicyID; got != testStackName {
				t.Errorf("%s: event %s: policy id %q, want the stack name %q", s.scenario, ev, got, testStackName)
			}
		}
		if got := handler.LoadSnapshotConfig(getenv, []byte(`{"retention":{"policy_id":"nightly"}}`)).Retention.PolicyID; got != "nightly" {
			t.Errorf("%s: an event's policy_id is overridden by the stack: %q", s.scenario, got)
		}
	})

	// Outside a stack (no variable) the default stays "nightly".
	if got := handler.LoadSnapshotConfig(func(string) string { return "" }, []byte(`{}`)).Retention.PolicyID; got != "nightly" {
		t.Errorf("default policy id %q, want nightly", got)
	}
}
