package snapshot

import (
	"path/filepath"
	"testing"

	"github.com/essnap/essnap/internal/golden"
)

// checkGolden compares v, as indented JSON, with testdata/name; -update
// rewrites the file instead.
func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	golden.JSON(t, filepath.Join("testdata", name), v)
}
