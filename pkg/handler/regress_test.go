package handler

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeErrorsNameTheEventField(t *testing.T) {
	cases := []struct{ name, raw, want string }{
		{"embedded bool", `{"unsigned":"yes"}`, `field "unsigned" must be a boolean`},
		{"embedded string", `{"endpoint":42}`, `field "endpoint" must be a string`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := LoadSnapshotConfig(func(string) string { return "" }, []byte(tc.raw)).errs
			if err == nil || !strings.Contains(strings.Join(err, "; "), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestUnsignedRefusedForEveryAWSEndpointForm(t *testing.T) {
	for _, ep := range []string{
		"https://search-logs-abc.eu-west-1.es.amazonaws.com",
		"https://search-logs-abc.aos.eu-central-1.on.aws",
		"https://search-logs-abc.cn-north-1.es.amazonaws.com.cn",
	} {
		t.Run(ep, func(t *testing.T) {
			h := TakeSnapshot{Deps: Deps{Getenv: func(string) string { return "" }, Clock: SystemClock{}}}
			_, err := h.Invoke(context.Background(), json.RawMessage(`{"endpoint":"`+ep+`","unsigned":true}`))
			if err == nil || !strings.Contains(err.Error(), "unsigned=true with AWS endpoint") {
				t.Fatalf("got %v", err)
			}
		})
	}
}
