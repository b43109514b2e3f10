//go:build !amd64 || purego

package gemm

func kernelSets() []*kernelSet { return []*kernelSet{goKernels} }

func peakFunc() func(int) { return nil }

func peak256Func() func(int) { return func(int) {} }

// FMALoop is nil here: no peak is measured, and fractions of peak are left
// out rather than guessed.
func FMALoop() (loop func(n int), flopsPerIter float64, isa string) { return nil, 0, "" }
