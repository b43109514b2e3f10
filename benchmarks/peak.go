package benchmarks

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crossrank/crossrank/internal/gemm"
)

// Peak is the FP32 FMA throughput measured on this machine now.
type Peak struct {
	GFLOPS  float64 `json:"gflops"`  // all threads together
	Threads int     `json:"threads"` // goroutines, each locked to an OS thread
	ISA     string  `json:"isa"`     // "avx512", "avx2+fma"; "" when none was measured
}

// MeasurePeak runs the FMA loop on threads goroutines at once for about d
// and returns what they reach together. The machine may be shared, so a
// fraction of peak is only meaningful against a peak measured in the same
// run; callers measure it next to what they compare. It returns a zero
// GFLOPS (and ISA "") on CPUs without AVX2+FMA: a peak estimated without
// the vector units would flatter every fraction.
func MeasurePeak(threads int, d time.Duration) Peak {
	loop, perIter, isa := gemm.FMALoop()
	if loop == nil || threads < 1 {
		return Peak{Threads: threads}
	}
	const iters = 1 << 12 // a few tens of microseconds per call
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var n int64
			for time.Since(start) < d {
				loop(iters)
				n += iters
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	return Peak{
		GFLOPS:  float64(total.Load()) * perIter / time.Since(start).Seconds() / 1e9,
		Threads: threads,
		ISA:     isa,
	}
}
