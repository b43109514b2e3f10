//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

var (
	avx512Kernels = &kernelSet{name: "avx512", mr: mr512, nr: nr512, masked: true, byRows: kernels512}
	avx2Kernels   = &kernelSet{name: "avx2", mr: mr256, nr: nr256, byRows: kernels256}
)

// kernelSets lists the kernels this machine can run, fastest first.
func kernelSets() []*kernelSet {
	var s []*kernelSet
	// AVX512F covers the zmm FMAs and opmask moves the kernel uses (KMOVW);
	// the OS must also save the zmm state, which x/sys/cpu checks.
	if cpu.X86.HasAVX512F {
		s = append(s, avx512Kernels)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		s = append(s, avx2Kernels)
	}
	return append(s, goKernels)
}

// peakFunc is the FMA throughput loop for the benchmarks, nil without AVX-512.
func peakFunc() func(int) {
	if cpu.X86.HasAVX512F {
		return fmaPeak512
	}
	return nil
}

// peak256Func is the same loop on ymm registers.
func peak256Func() func(int) { return fmaPeak256 }

// FMALoop returns the widest FP32 FMA throughput loop this CPU runs (12
// independent chains, 24 FMAs an iteration), the FP32 FLOPs of one
// iteration and the instruction set; a nil loop where there is none. The
// benchmarks measure the machine's peak with it, so a fraction of peak is
// the GEMM's loop against the same loop.
func FMALoop() (loop func(n int), flopsPerIter float64, isa string) {
	switch {
	case cpu.X86.HasAVX512F:
		return fmaPeak512, 24 * 16 * 2, "avx512"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return fmaPeak256, 24 * 8 * 2, "avx2+fma"
	}
	return nil, 0, ""
}
