//go:build amd64 && !purego

package gemm

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkKernel is the AVX-512 micro-kernel alone on data in L1: the
// ceiling the blocking can approach.
func BenchmarkKernel(b *testing.B) {
	for _, kc := range []int{64, 128, 256} {
		b.Run(fmt.Sprintf("kc=%d", kc), func(b *testing.B) {
			r := rand.New(rand.NewSource(1))
			a := randSlice(r, mr512*(kc+16))
			bb := randSlice(r, kc*nr512)
			c := make([]float32, mr512*nr512)
			kern := kernels512[mr512-1]
			cp := measureCorePeak()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				kern(kc, &a[0], kc+16, &bb[0], &c[0], nr512, nil, initC, -1)
			}
			b.StopTimer()
			flops := 2 * float64(mr512*nr512*kc) * float64(b.N)
			b.ReportMetric(flops/(cpuTime()-cpu0).Seconds()/1e9/cp, "of-core-peak")
		})
	}
}

// BenchmarkSweep is the kernel over one block of A against several weight
// panels, as gemmBlock drives it, without the copy of A or the threads:
// panels=96 streams the weight from L3 as the large layers do.
func BenchmarkSweep(b *testing.B) {
	for _, kc := range []int{128, 192, 256, 384, 512} {
		for _, mc := range []int{168, 336} {
			for _, panels := range []int{1, 8, 96} {
				b.Run(fmt.Sprintf("kc=%d/mc=%d/panels=%d", kc, mc, panels), func(b *testing.B) {
					r := rand.New(rand.NewSource(1))
					lda := kc + 16
					a := randSlice(r, mc*lda)
					bb := randSlice(r, panels*kc*nr512)
					c := make([]float32, mc*panels*nr512)
					ldc := panels * nr512
					kern := kernels512[mr512-1]
					cp := measureCorePeak()
					cpu0 := cpuTime()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						for j := 0; j < panels; j++ {
							for ir := 0; ir < mc; ir += mr512 {
								kern(kc, &a[ir*lda], lda, &bb[j*kc*nr512], &c[ir*ldc+j*nr512], ldc, nil, initC, -1)
							}
						}
					}
					b.StopTimer()
					flops := 2 * float64(mc*nr512*kc*panels) * float64(b.N)
					b.ReportMetric(flops/(cpuTime()-cpu0).Seconds()/1e9/cp, "of-core-peak")
				})
			}
		}
	}
}
