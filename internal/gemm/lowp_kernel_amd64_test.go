//go:build amd64 && !purego

package gemm

import (
	"math/rand"
	"runtime"
	"testing"
)

// BenchmarkLowpKernel is each reduced-precision micro-kernel alone on data
// in L1 (14 rows, one k block), per second of CPU time, beside the fp32
// kernel on the same k: the ceiling the blocking can approach.
func BenchmarkLowpKernel(b *testing.B) {
	bfk, i8k := bf16Sets()[0], int8Sets()[0]
	if bfk.name == "go" || i8k.name == "go" || peakFunc() == nil {
		b.Skip("no AVX512_BF16 / AVX512_VNNI kernels on this machine")
	}
	const kc = 256 // values of k per call
	r := rand.New(rand.NewSource(1))
	af := randSlice(r, lowMR*(kc+16))
	bf := randSlice(r, kc*lowNR)
	a32 := make([]uint32, lowMR*(kc+16))
	b32 := make([]uint32, kc*lowNR)
	for i := range a32 {
		a32[i] = r.Uint32()
	}
	for i := range b32 {
		b32[i] = r.Uint32() & 0x3fff3fff // finite bf16, and bytes of either sign
	}
	c := make([]float32, lowMR*lowNR)
	zero := make([]float32, lowNR)
	zi := make([]int32, lowNR)
	rs, rz := make([]float32, lowMR), make([]int32, lowMR)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, v := range []struct {
		name string
		f    func()
	}{
		{"fp32", func() { kernels512[mr512-1](kc, &af[0], kc+16, &bf[0], &c[0], nr512, nil, initC, -1) }},
		{"bf16", func() { bfk.byRows[lowMR-1](kc/2, &a32[0], kc/2+16, &b32[0], &c[0], lowNR, nil, initC, -1) }},
		{"int8", func() {
			i8k.byRows[lowMR-1](kc/4, &a32[0], kc/4+16, &b32[0], &c[0], lowNR, &zi[0], &zero[0], &zero[0], &rs[0], &rz[0], 0, -1)
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			t0 := cpuTime()
			for i := 0; i < b.N; i++ {
				v.f()
			}
			b.ReportMetric(2*float64(lowMR*lowNR*kc)*float64(b.N)/(cpuTime()-t0).Seconds()/1e9, "GFLOP/s-cpu")
		})
	}
}
