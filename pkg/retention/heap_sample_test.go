package retention

import (
	"runtime/metrics"
	"time"
)

// sampleHeapPeak samples the bytes held by heap objects (live and not yet
// collected) until the returned function is called, which reports the
// highest sample above the level at the start. runtime/metrics reads do not
// stop the world, so sampling barely disturbs the measured code.
func sampleHeapPeak() (stop func() uint64) {
	read := func(s []metrics.Sample) uint64 {
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[0].Value.Uint64()
	}
	newSample := func() []metrics.Sample {
		return []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	}
	base := read(newSample())
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		s := newSample()
		peak := base
		tick := time.NewTicker(50 * time.Microsecond)
		defer tick.Stop()
		for {
			if v := read(s); v > peak {
				peak = v
			}
			select {
			case <-done:
				if v := read(s); v > peak {
					peak = v
				}
				result <- peak - base
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-result
	}
}
