package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestFormatIsValidEMF(t *testing.T) {
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	b, err := Format("essnap", "logs", map[string]float64{SnapshotSucceeded: 1, SnapshotSizeBytes: 2048, "Custom": 3}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Custom":3,"Repository":"logs","SnapshotSizeBytes":2048,"SnapshotSucceeded":1,"_aws":{"CloudWatchMetrics":[{"Dimensions":[["Repository"]],"Metrics":[{"Name":"Custom","Unit":"None"},{"Name":"SnapshotSizeBytes","Unit":"Bytes"},{"Name":"SnapshotSucceeded","Unit":"Count"}],"Namespace":"essnap"}],"Timestamp":1795489200000}}`
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
}

func TestPublishWritesOneLinePerCall(t *testing.T) {
	var buf bytes.Buffer
	e := &EMF{W: &buf, Namespace: "ns", Now: time.Now}
	e.Publish("r", map[string]float64{RetentionDeletions: 4})
	e.Publish("r", nil)
	var nilEMF *EMF
	nilEMF.Publish("r", map[string]float64{RetentionDeletions: 1})
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("%d lines", len(lines))
	}
	var m map[string]any
	if err := json.Unmarshal(lines[0], &m); err != nil || m[RetentionDeletions] != 4.0 {
		t.Fatalf("%s %v", lines[0], err)
	}
}
