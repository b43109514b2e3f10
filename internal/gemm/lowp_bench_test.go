package gemm

import (
	"fmt"
	"math/rand"
	"runtime"
	"testing"
	"time"
)

// BenchmarkPeakLowp is the throughput of one core's multiply-add
// instructions, 12 independent chains each, per second of CPU time: fp32
// VFMADD231PS (16 MACs per zmm instruction), bf16 VDPBF16PS (32) and int8
// VPDPBUSD (64), as GFLOP/s (2 operations per MAC) and as a ratio to the
// fp32 figure measured alongside. It is the ceiling each GEMM aims at.
func BenchmarkPeakLowp(b *testing.B) {
	fp32 := peakFunc()
	bf, vnni := lowPeakFuncs()
	if fp32 == nil {
		b.Skip("no AVX-512 on this machine")
	}
	for _, c := range []struct {
		name string
		f    func(int)
		macs float64 // per instruction
	}{{"bf16", bf, 32}, {"int8", vnni, 64}} {
		if c.f == nil {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			const iters = 1 << 14
			var tf, tl time.Duration
			for i := 0; i < b.N; i++ {
				t0 := cpuTime()
				fp32(iters)
				t1 := cpuTime()
				c.f(iters)
				tl += cpuTime() - t1
				tf += t1 - t0
			}
			perIter := 24.0 * 2 * iters * float64(b.N) / 1e9
			gf, gl := perIter*16/tf.Seconds(), perIter*c.macs/tl.Seconds()
			b.ReportMetric(gl, "GFLOP/s")
			b.ReportMetric(gf, "fp32-GFLOP/s")
			b.ReportMetric(gl/gf, "x-fp32")
		})
	}
}

// BenchmarkLowp runs the fp32, bf16 and int8 products of the models' shapes
// (benchMs x benchKNs, as BenchmarkMatMul, and m = 1 and 16: a short
// sequence alone) in turn, one call of each per
// iteration, and reports each one's GFLOP/s per second of CPU time (what
// the kernels do while they run, whoever else holds the shared cores) and
// the ratios bf16/fp32 and int8/fp32 of those: the figures to compare, as
// they come from the same run. wall-x-* are the same ratios in wall time.
func BenchmarkLowp(b *testing.B) {
	for _, m := range append([]int{1, 16}, benchMs...) {
		for _, kn := range benchKNs {
			k, n := kn[0], kn[1]
			b.Run(fmt.Sprintf("m=%d/k=%d/n=%d", m, k, n), func(b *testing.B) {
				r := rand.New(rand.NewSource(1))
				a, w, bias := randSlice(r, m*k), randSlice(r, n*k), randSlice(r, n)
				c := make([]float32, m*n)
				pf, pb, pi := PackWeight(w, n, k), PackWeightBF16(w, n, k), PackWeightInt8(w, n, k)
				runs := []func(){
					func() { MatMul(c, a, m, pf, bias) },
					func() { MatMulBF16(c, a, m, pb, bias) },
					func() { MatMulInt8(c, a, m, pi, bias) },
				}
				for _, f := range runs {
					f()
				}
				var cpu, wall [3]time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for v, f := range runs {
						c0, w0 := cpuTime(), time.Now()
						f()
						wall[v] += time.Since(w0)
						cpu[v] += cpuTime() - c0
					}
				}
				b.StopTimer()
				flops := 2 * float64(m*k*n) * float64(b.N) / 1e9
				for v, name := range []string{"fp32", "bf16", "int8"} {
					b.ReportMetric(flops/cpu[v].Seconds(), name+"-GFLOP/s-cpu")
				}
				b.ReportMetric(cpu[0].Seconds()/cpu[1].Seconds(), "x-bf16")
				b.ReportMetric(cpu[0].Seconds()/cpu[2].Seconds(), "x-int8")
				b.ReportMetric(wall[0].Seconds()/wall[1].Seconds(), "wall-x-bf16")
				b.ReportMetric(wall[0].Seconds()/wall[2].Seconds(), "wall-x-int8")
			})
		}
	}
}
