package retention

import (
	"bytes"
	"github.com/essnap/essnap/pkg/model"
	"runtime"
	"testing"
	"time"
)

// retentionPass is what one scheduled retention run does between the listing
// request and the deletions.
func retentionPass(listing []byte, now time.Time) (Plan, [][]string, error) {
	snaps, err := model.DecodeListing(bytes.NewReader(listing))
	if err != nil {
		return Plan{}, nil, err
	}
	plan := Apply(benchPolicy, snaps, now)
	return plan, Batches(plan.DeleteNames(), 0, 0), nil
}

// BenchmarkRetention10k times DecodeListing+Apply+Batches over a generated
// 10,000-snapshot listing narrowed as the engines narrow it (filter_path,
// model.ListingFilter), decoded by encoding/json. Targets: <= 50 ms CPU and
// <= 64 MB heap per pass.
//
// Metrics: cpu-ms/op is process CPU time (user+system, all threads, GC
// included) per pass; wall-ms/op is elapsed time; alloc-MB/op is the bytes
// allocated by one pass, an upper bound on the heap it can add even if the
// collector never ran; peak-heap-MB is the highest heap sampled during a pass
// (runtime/metrics, no stop-the-world); live-MB is what the result keeps
// alive; requests counts 1 listing plus the DELETE batches.
func BenchmarkRetention10k(b *testing.B) {
	listing, last := genNarrowListing(10_000, 1)
	full, _ := genListing(10_000, 1)
	b.Logf("narrowed body %d bytes (full verbose body %d bytes)", len(listing), len(full))
	now := last.Add(time.Hour)
	plan, batches, err := retentionPass(listing, now)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("listing %d bytes: keep %d, delete %d, ignored %d, %d DELETE requests",
		len(listing), len(plan.Keep), len(plan.Delete), len(plan.Ignored), len(batches))

	mem := measurePass(b, func() any {
		p, bt, _ := retentionPass(listing, now)
		return []any{p, bt}
	})

	b.SetBytes(int64(len(listing)))
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := retentionPass(listing, now); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu1, _ := processCPU()
	if cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
	b.ReportMetric(float64(b.Elapsed())/float64(time.Millisecond)/float64(b.N), "wall-ms/op")
	b.ReportMetric(mem.allocMB, "alloc-MB/op")
	b.ReportMetric(mem.peakMB, "peak-heap-MB")
	b.ReportMetric(mem.liveMB, "live-MB")
	b.ReportMetric(float64(1+len(batches)), "requests")
}

type passMemory struct{ allocMB, peakMB, liveMB float64 }

// measurePass runs f once after a full collection and reports its memory.
func measurePass(tb testing.TB, f func() any) passMemory {
	tb.Helper()
	const mb = 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	stop := sampleHeapPeak()
	keep := f()
	peak := stop()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return passMemory{
		allocMB: float64(after.TotalAlloc-before.TotalAlloc) / mb,
		peakMB:  float64(peak) / mb,
		liveMB:  (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / mb,
	}
}

// TestRetention10kMemoryBudget keeps one pass over the 10k listing inside the
// 64 MB budget. It counts bytes allocated, which does not depend on when the
// collector runs, so unlike a timing target it cannot flake.
func TestRetention10kMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("large listing")
	}
	listing, last := genNarrowListing(10_000, 1)
	mem := measurePass(t, func() any {
		p, b, err := retentionPass(listing, last.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return []any{p, b}
	})
	runtime.KeepAlive(listing) // the input is not part of the pass
	t.Logf("allocated %.1f MB, peak heap %.1f MB, retained %.1f MB", mem.allocMB, mem.peakMB, mem.liveMB)
	if mem.allocMB > 64 {
		t.Errorf("one pass allocates %.1f MB, budget 64 MB", mem.allocMB)
	}
}
