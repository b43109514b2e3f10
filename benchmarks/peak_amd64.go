//go:build amd64 && !purego

package benchmarks

import "golang.org/x/sys/cpu"

//go:noescape
func fmaLoop512(n int)

//go:noescape
func fmaLoop256(n int)

// fmaLoop returns the widest FMA loop this CPU runs and the FP32 FLOPs of
// one of its iterations (24 FMAs x lanes x 2).
func fmaLoop() (loop func(int), flopsPerIter float64, isa string) {
	switch {
	case cpu.X86.HasAVX512F:
		return fmaLoop512, 24 * 16 * 2, "avx512"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return fmaLoop256, 24 * 8 * 2, "avx2+fma"
	}
	return nil, 0, ""
}
