package gemm

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"sync"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// The shapes of the models' dense layers: (in, out) of the attention
// projections and feed-forward layers of hidden 384, 768 and 1024, for
// batches of 64, 512 and 4096 tokens.
var (
	benchMs  = []int{64, 512, 4096}
	benchKNs = [][2]int{{384, 1536}, {1536, 384}, {768, 3072}, {3072, 768}, {1024, 4096}}
)

// measurePeak runs the 12-chain FMA loop on `threads` goroutines at once
// for about d and returns the FP32 GFLOP/s they reach together: the machine's
// peak as measured now, so that a GEMM's speed can be given as a fraction of
// it from the same run (the machine is shared and absolute numbers drift).
func measurePeak(threads int, d time.Duration) float64 {
	peak := peakFunc()
	if peak == nil {
		return 0
	}
	const iters = 1 << 12 // 24 FMAs of 16 lanes each per iteration: ~30 us
	var wg sync.WaitGroup
	var total int64
	var mu sync.Mutex
	start := time.Now()
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var n int64
			for time.Since(start) < d {
				peak(iters)
				n += iters
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(total) * 24 * 16 * 2 / time.Since(start).Seconds() / 1e9
}

// measureCorePeak is one core's FMA GFLOP/s per second of CPU time it got.
func measureCorePeak() float64 {
	peak := peakFunc()
	if peak == nil {
		return 0
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const iters = 1 << 20
	best := 0.0
	for range 3 {
		t0 := cpuTime()
		peak(iters)
		if d := cpuTime() - t0; d > 0 {
			best = max(best, iters*24*16*2/d.Seconds()/1e9)
		}
	}
	return best
}

func BenchmarkPeakFMA(b *testing.B) {
	peak := peakFunc()
	if peak == nil {
		b.Skip("no AVX-512 on this machine")
	}
	for _, threads := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			var wg sync.WaitGroup
			for range threads {
				wg.Add(1)
				go func() {
					defer wg.Done()
					peak(b.N)
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)*float64(threads)*24*16*2/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
	// The same loop on ymm registers: on a core whose FMA units are 256
	// bits wide (AMD Zen 4) it reaches the zmm figure, and AVX-512 gains
	// registers and masks, not throughput.
	b.Run("ymm/threads=1", func(b *testing.B) {
		peak256Func()(b.N)
		b.ReportMetric(float64(b.N)*24*8*2/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

func BenchmarkMatMul(b *testing.B) {
	threads := runtime.GOMAXPROCS(0)
	for _, m := range benchMs {
		for _, kn := range benchKNs {
			k, n := kn[0], kn[1]
			b.Run(fmt.Sprintf("m=%d/k=%d/n=%d", m, k, n), func(b *testing.B) {
				r := rand.New(rand.NewSource(1))
				a, w, bias := randSlice(r, m*k), randSlice(r, n*k), randSlice(r, n)
				c := make([]float32, m*n)
				pw := PackWeight(w, n, k)
				MatMul(c, a, m, pw, bias)
				corePeak := measureCorePeak()
				// The machine is shared: after every product the FMA loop
				// runs on as many threads for as long, so that the product
				// and the peak it is compared with meet the same
				// neighbours (the benchmark takes twice its time).
				var gemmTime, peakTime time.Duration
				var peakFlops float64
				cpu0 := cpuTime()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					MatMul(c, a, m, pw, bias)
					d := time.Since(t0)
					gemmTime += d
					b.StopTimer()
					cpu0 -= cpuTime()
					gf := measurePeak(threads, d)
					cpu0 += cpuTime()
					peakFlops += gf * d.Seconds()
					peakTime += d
					b.StartTimer()
				}
				b.StopTimer()
				flops := 2 * float64(m*k*n) * float64(b.N)
				gf := flops / gemmTime.Seconds() / 1e9
				b.ReportMetric(gf, "GFLOP/s")
				if peakTime > 0 && peakFlops > 0 {
					b.ReportMetric(gf/(peakFlops/peakTime.Seconds()), "of-peak")
				}
				// Per second of CPU time the process got, against the
				// peak of one core: what the kernel does while it runs,
				// whoever else holds the cores.
				if cpu := cpuTime() - cpu0; cpu > 0 && corePeak > 0 {
					b.ReportMetric(flops/cpu.Seconds()/1e9/corePeak, "of-core-peak")
				}
			})
		}
	}
}

// BenchmarkGonum is the same product through gorgonia.org/tensor (gonum's
// sgemm), the path crossrank started from, against a weight transposed once
// as the bert package's first CPU backend holds it.
func BenchmarkGonum(b *testing.B) {
	for _, m := range benchMs {
		for _, kn := range benchKNs {
			k, n := kn[0], kn[1]
			b.Run(fmt.Sprintf("m=%d/k=%d/n=%d", m, k, n), func(b *testing.B) {
				r := rand.New(rand.NewSource(1))
				x := tensor.New(tensor.WithShape(m, k), tensor.WithBacking(randSlice(r, m*k)))
				wT := tensor.New(tensor.WithShape(k, n), tensor.WithBacking(randSlice(r, k*n)))
				out := tensor.New(tensor.WithShape(m, n), tensor.WithBacking(make([]float32, m*n)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := tensor.MatMul(x, wT, tensor.WithReuse(out)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkVsGonum alternates one gonum product and one of ours on the same
// shape and reports how many times faster ours is: on a shared machine the
// ratio of two interleaved timings means more than either timing alone.
// m=4096 is left to BenchmarkGonum: gonum takes seconds per product there.
func BenchmarkVsGonum(b *testing.B) {
	for _, m := range benchMs[:2] {
		for _, kn := range benchKNs {
			k, n := kn[0], kn[1]
			b.Run(fmt.Sprintf("m=%d/k=%d/n=%d", m, k, n), func(b *testing.B) {
				r := rand.New(rand.NewSource(1))
				a, w := randSlice(r, m*k), randSlice(r, n*k)
				wT := make([]float32, k*n)
				for i := 0; i < n; i++ {
					for j := 0; j < k; j++ {
						wT[j*n+i] = w[i*k+j]
					}
				}
				x := tensor.New(tensor.WithShape(m, k), tensor.WithBacking(a))
				wt := tensor.New(tensor.WithShape(k, n), tensor.WithBacking(wT))
				out := tensor.New(tensor.WithShape(m, n), tensor.WithBacking(make([]float32, m*n)))
				c := make([]float32, m*n)
				pw := PackWeight(w, n, k)
				MatMul(c, a, m, pw, nil)
				var ours, theirs time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					if _, err := tensor.MatMul(x, wt, tensor.WithReuse(out)); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					MatMul(c, a, m, pw, nil)
					theirs += t1.Sub(t0)
					ours += time.Since(t1)
				}
				b.StopTimer()
				flops := 2 * float64(m*k*n) * float64(b.N)
				b.ReportMetric(flops/ours.Seconds()/1e9, "ours-GFLOP/s")
				b.ReportMetric(flops/theirs.Seconds()/1e9, "gonum-GFLOP/s")
				b.ReportMetric(theirs.Seconds()/ours.Seconds(), "speedup")
				// Both must compute the same product.
				got := out.Data().([]float32)
				for i := range c {
					if d := math.Abs(float64(c[i] - got[i])); d > 1e-3*(1+math.Abs(float64(got[i]))) {
						b.Fatalf("cell %d: ours %g, gonum %g", i, c[i], got[i])
					}
				}
			})
		}
	}
}

// BenchmarkKernels runs one shape on every kernel set this machine has (the
// fallbacks are what other machines get), on all threads.
func BenchmarkKernels(b *testing.B) {
	const m, k, n = 512, 768, 3072
	for _, ks := range kernelSets() {
		b.Run(ks.name, func(b *testing.B) {
			r := rand.New(rand.NewSource(1))
			a, w := randSlice(r, m*k), randSlice(r, n*k)
			c := make([]float32, m*n)
			pw := packWeight(ks, w, n, k)
			Default().MatMul(c, a, m, pw, nil, nil)
			corePeak := measureCorePeak()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Default().MatMul(c, a, m, pw, nil, nil)
			}
			b.StopTimer()
			flops := 2 * float64(m*k*n) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			if cpu := cpuTime() - cpu0; cpu > 0 && corePeak > 0 {
				b.ReportMetric(flops/cpu.Seconds()/1e9/corePeak, "of-core-peak")
			}
		})
	}
}
