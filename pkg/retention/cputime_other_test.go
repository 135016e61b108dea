//go:build !unix

package retention

import "time"

// processCPU is unavailable here; the benchmark then omits cpu-ms/op.
func processCPU() (time.Duration, bool) { return 0, false }
