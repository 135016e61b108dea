// Package golden compares test output with files under testdata/, one
// implementation for every package's golden tests. Run a package's tests
// with -update to rewrite its golden files, then review the diff.
package golden

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

// Update rewrites golden files instead of comparing with them.
var Update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// JSON compares v, encoded as indented JSON without HTML escaping, with the file at path.
func JSON(t testing.TB, path string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	Bytes(t, path, buf.Bytes())
}

// Bytes compares got with the file at path and shows the first differing line.
func Bytes(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update if the change is intended): %s", path, firstDiff(got, want))
	}
}

func firstDiff(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b []byte
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if !bytes.Equal(a, b) {
			return "line " + itoa(i+1) + ":\n  got  " + string(a) + "\n  want " + string(b)
		}
	}
	return "lengths differ"
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
