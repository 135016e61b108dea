// Package testenv reads the real engines a test run was given, so every
// real-engine test package finds them, and fails on their absence, the
// same way: a skipped real-engine test is not a passing one.
package testenv

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

// Engine is one running peer.
type Engine struct{ Name, URL string }

// Engines reads variable (name=url,...), in order, and fails the test when
// it is unset, malformed, or names an engine that does not answer.
func Engines(t testing.TB, variable string) []Engine {
	t.Helper()
	spec := os.Getenv(variable)
	if spec == "" {
		t.Fatalf("%s is not set; run the tests through `make test` (scripts/test.sh starts the engines)", variable)
	}
	var out []Engine
	for _, kv := range strings.Split(spec, ",") {
		name, url, ok := strings.Cut(kv, "=")
		if !ok || name == "" || url == "" {
			t.Fatalf("%s entry %q is not name=url", variable, kv)
		}
		res, err := http.Get(url)
		if err != nil {
			t.Fatalf("engine %s at %s is not reachable: %v", name, url, err)
		}
		res.Body.Close()
		out = append(out, Engine{Name: name, URL: url})
	}
	return out
}

// URLs is Engines as a name -> URL map.
func URLs(t testing.TB, variable string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, e := range Engines(t, variable) {
		m[e.Name] = e.URL
	}
	return m
}
